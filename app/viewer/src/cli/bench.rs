//! `twinscope bench`: ingest throughput, reported next to bare JSON parsing of the same data.

use std::process::ExitCode;

use twinscope_core::bench::run_ingest_benchmark;

use super::BenchArgs;

pub fn run(args: BenchArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    if args.seek {
        return seek(&args, out);
    }
    if args.archive {
        return super::bench_archive::run(&args, out);
    }
    if args.tree {
        return tree(&args, out);
    }
    if args.latency {
        return latency(&args, out);
    }
    if args.notes_bench {
        return super::bench_notes::run(&args, out);
    }
    if args.session_bench {
        return super::bench_session::run(&args, out);
    }
    if let Some(scene) = &args.scene {
        return super::bench_scene::run(scene, out);
    }
    let result = run_ingest_benchmark(args.lines, args.rounds);
    let mib = result.bytes as f64 / (1024.0 * 1024.0);
    crate::outln!(
        out,
        "{} thin-edge measurement messages ({} values, {mib:.1} MiB), plant of {} lines",
        result.messages,
        result.values,
        args.lines
    );
    for (name, elapsed) in [
        ("bare serde_json::Value parse", result.bare_parse),
        ("thin-edge decode", result.decode_only),
        ("thin-edge decode + apply", result.decode_apply),
        ("live path, 2 threads", result.pipelined),
    ] {
        crate::outln!(
            out,
            "  {name:<28} {:>10.0} msg/s  {:>8.1} MiB/s  {:>7.1} ms",
            result.rate(elapsed),
            mib / elapsed.as_secs_f64(),
            elapsed.as_secs_f64() * 1e3
        );
    }
    crate::outln!(
        out,
        "  ratio decode+apply / bare parse: {:.2}× the throughput on one thread, {:.2}× as live ingest runs (decoding on the MQTT thread, applying on the main thread)",
        result.bare_parse.as_secs_f64() / result.decode_apply.as_secs_f64(),
        result.bare_parse.as_secs_f64() / result.pipelined.as_secs_f64()
    );
    crate::outln!(
        out,
        "  live path: {} repeated values merged because the applying thread fell behind (most of any run)",
        result.merged
    );
    crate::outln!(
        out,
        "other schemas, the same plant's signals (decode + apply next to a bare decode of the same payloads):"
    );
    for row in twinscope_core::bench::schemas::run_schema_benchmark(args.lines, args.rounds) {
        let rate = |d: std::time::Duration| row.messages as f64 / d.as_secs_f64();
        crate::outln!(
            out,
            "  {:<13} {} messages, {:.1} MiB: bare decode {:>9.0} msg/s, decode {:>9.0} msg/s, decode + apply {:>9.0} msg/s, ratio {:.2}× (decode alone {:.2}×); live path, 2 threads {:>9.0} msg/s, ratio {:.2}× ({} values merged)",
            row.name,
            row.messages,
            row.bytes as f64 / (1024.0 * 1024.0),
            rate(row.bare),
            rate(row.decode_only),
            rate(row.decode_apply),
            row.ratio(),
            row.bare.as_secs_f64() / row.decode_only.as_secs_f64(),
            rate(row.pipelined),
            row.pipelined_ratio(),
            row.merged
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn seek(args: &BenchArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    let dir = std::env::temp_dir();
    let mut medians = Vec::new();
    for scale in [1u64, 10] {
        let seconds = args.length.as_secs().max(1) * scale;
        let result = twinscope_core::bench::run_seek_benchmark(&dir, args.signals, seconds, 50)?;
        let mut seeks = result.seeks.clone();
        seeks.sort();
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        let median = seeks[seeks.len() / 2];
        medians.push(median);
        crate::outln!(
            out,
            "{} signals at 1 Hz for {} s: {} messages, {:.0} MB; recorded in {:.1} s ({:.0} msg/s, its seek index kept as written); indexing it by reading it all: {:.1} s",
            args.signals,
            seconds,
            result.messages,
            result.file_bytes as f64 / 1e6,
            result.write.as_secs_f64(),
            result.messages as f64 / result.write.as_secs_f64(),
            result.open_and_index.as_secs_f64()
        );
        crate::outln!(
            out,
            "  opened from its stored index in {:.1} ms, first frame's state {:.1} ms after opening began; {:.2} MiB of index in memory (the whole index: {:.1} MiB, read a checkpoint at a time, and kept in a temporary file while a file from elsewhere is indexed; the recorder's in memory at the end: {:.2} MiB)",
            result.open_stored.as_secs_f64() * 1e3,
            result.first_frame.as_secs_f64() * 1e3,
            result.stored_index_bytes as f64 / (1024.0 * 1024.0),
            result.index_bytes as f64 / (1024.0 * 1024.0),
            result.recorder_index_bytes as f64 / (1024.0 * 1024.0)
        );
        crate::outln!(
            out,
            "  seek index: {:.1} MiB for {} checkpoints ({:.1} bytes per signal per checkpoint: every signal changes in every interval here, the busiest case)",
            result.index_bytes as f64 / (1024.0 * 1024.0),
            result.checkpoints,
            result.index_bytes as f64 / (args.signals.max(1) * result.checkpoints.max(1)) as f64
        );
        crate::outln!(
            out,
            "  seek to a random instant: median {:.1} ms, p95 {:.1} ms, max {:.1} ms ({} seeks)",
            ms(median),
            ms(seeks[seeks.len() * 95 / 100]),
            ms(*seeks.last().unwrap_or(&median)),
            seeks.len()
        );
        let frame = twinscope_core::bench::scrub::FRAME;
        let lagging = seeks.iter().filter(|s| **s > frame).count();
        crate::outln!(
            out,
            "  {lagging} of {} seeks ({:.0}%) took longer than a 60 Hz frame (16.7 ms)",
            seeks.len(),
            100.0 * lagging as f64 / seeks.len().max(1) as f64
        );
        // The handle dragged start to end at 60 positions a second, seeks on the seeker's
        // thread (the newest position replaces one not started), as the timeline does.
        let scrub = &result.scrub;
        let mut scrub_seeks = scrub.seeks.clone();
        scrub_seeks.sort();
        let pick = |q: usize| {
            scrub_seeks
                .get((scrub_seeks.len() * q / 100).min(scrub_seeks.len().saturating_sub(1)))
                .map_or(0.0, |d| ms(*d))
        };
        crate::outln!(
            out,
            "  scrubbing end to end at 60 positions a second ({} frames, {:.0} s of the recording a frame): {} frames ({:.0}%) drew the handle's position, the rest at most {} frame(s) behind; request to state p50 {:.1} ms, p95 {:.1} ms",
            scrub.frames,
            seconds as f64 / scrub.frames.max(1) as f64,
            scrub.on_time,
            100.0 * scrub.on_time as f64 / scrub.frames.max(1) as f64,
            scrub.most_behind,
            pick(50),
            pick(95)
        );
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        crate::outln!(
            out,
            "  work per seek: {:.0} messages applied, {:.1} chunks read (mean)",
            mean(
                &result
                    .seek_messages
                    .iter()
                    .map(|m| *m as f64)
                    .collect::<Vec<_>>()
            ),
            mean(
                &result
                    .seek_chunks
                    .iter()
                    .map(|c| *c as f64)
                    .collect::<Vec<_>>()
            )
        );
        crate::outln!(
            out,
            "  playing forward from the start ({} s at most) in steps of {} s: {:.0} messages applied/s; 100x real time needs {} msg/s ({:.1}x headroom)",
            twinscope_core::bench::PLAYED.as_secs(),
            twinscope_core::bench::PLAY_STEP.as_secs(),
            result.replay_rate,
            args.signals * 100,
            result.replay_rate / (args.signals as f64 * 100.0)
        );
        // Each recording takes a while: show its figures as soon as they are in.
        super::print_out(&std::mem::take(out));
    }
    crate::outln!(
        out,
        "seek median, 10x longer recording / shorter: {:.2}",
        medians.last().unwrap().as_secs_f64() / medians[0].as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn tree(args: &BenchArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    let result =
        twinscope_core::bench::run_tree_benchmark(args.lines, args.alarms, args.rounds.max(5));
    crate::outln!(
        out,
        "plant tree and alarm list: {} twins, {} active alarms (medians of {} runs)",
        result.twins,
        result.alarms,
        args.rounds.max(5)
    );
    let frame = std::time::Duration::from_micros(16_667);
    for (name, elapsed) in [
        ("status roll-up (whole tree)", result.rollup),
        ("visible rows, all expanded", result.rows_expanded),
        ("visible rows, collapsed", result.rows_collapsed),
        ("search + filtered rows", result.search),
        ("alarm list sort", result.alarm_list),
        ("alarm counts per severity", result.alarm_counts),
    ] {
        crate::outln!(
            out,
            "  {name:<30} {:>8.1} µs  {:>5.1}% of a 60 Hz frame",
            elapsed.as_secs_f64() * 1e6,
            elapsed.as_secs_f64() / frame.as_secs_f64() * 100.0
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn latency(args: &BenchArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    use std::time::{Duration, Instant};
    use twinscope_core::bench::latency::{
        percentile, probe_topic, publish_probe, publish_to_apply, time_to_first_message,
    };
    use twinscope_core::fault_proxy::FaultProxy;
    let Some(broker) = args.broker.clone() else {
        anyhow::bail!("--latency needs --broker mqtt://127.0.0.1:PORT")
    };
    if broker.tls {
        anyhow::bail!(
            "--latency measures plain MQTT on loopback (the proxy forwards TCP): use mqtt://"
        );
    }
    publish_probe(&broker)?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let median = |mut runs: Vec<Duration>| {
        runs.sort();
        runs[runs.len() / 2]
    };
    for round_trip in [Duration::ZERO, args.rtt] {
        let proxy = if round_trip.is_zero() {
            None
        } else {
            Some(FaultProxy::start(broker.port, round_trip / 2)?)
        };
        let via = match &proxy {
            Some(proxy) => twinscope_core::BrokerAddress::loopback(proxy.port),
            None => broker.clone(),
        };
        let link = if round_trip.is_zero() {
            "loopback".to_owned()
        } else {
            format!("{:.0} ms round trip", ms(round_trip))
        };
        let ours = median(
            (0..5)
                .map(|_| time_to_first_message(&via))
                .collect::<Result<Vec<_>, _>>()?,
        );
        let theirs = (0..5)
            .map(|_| {
                let started = Instant::now();
                let status = std::process::Command::new("mosquitto_sub")
                    .args([
                        "-h",
                        &via.host,
                        "-p",
                        &via.port.to_string(),
                        "-t",
                        probe_topic(),
                        "-C",
                        "1",
                        "-W",
                        "30",
                    ])
                    .stdout(std::process::Stdio::null())
                    .status();
                status
                    .ok()
                    .filter(|s| s.success())
                    .map(|_| started.elapsed())
            })
            .collect::<Option<Vec<_>>>();
        match theirs {
            Some(theirs) => {
                let theirs = median(theirs);
                crate::outln!(
                    out,
                    "{link}: first message: twinscope {:.1} ms, mosquitto_sub {:.1} ms ({:.2}×), medians of 5",
                    ms(ours),
                    ms(theirs),
                    ms(ours) / ms(theirs)
                );
            }
            None => crate::outln!(
                out,
                "{link}: first message: twinscope {:.1} ms (mosquitto_sub not available)",
                ms(ours)
            ),
        }
        let latencies = publish_to_apply(&broker, &via, args.samples, 200.0)?;
        crate::outln!(
            out,
            "{link}: publish → applied in store: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} of {} samples)",
            ms(percentile(&latencies, 50.0)),
            ms(percentile(&latencies, 99.0)),
            ms(latencies.last().copied().unwrap_or_default()),
            latencies.len(),
            args.samples
        );
    }
    Ok(ExitCode::SUCCESS)
}
