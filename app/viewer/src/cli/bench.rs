//! `twinscope bench`: ingest throughput, reported next to bare JSON parsing of the same data.

use std::process::ExitCode;

use twinscope_core::bench::run_ingest_benchmark;

use super::BenchArgs;

pub fn run(args: BenchArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    if args.seek {
        return seek(&args, out);
    }
    if args.tree {
        return tree(&args, out);
    }
    let result = run_ingest_benchmark(args.lines, args.rounds);
    let mib = result.bytes as f64 / (1024.0 * 1024.0);
    crate::outln!(out, "{} thin-edge measurement messages ({} values, {mib:.1} MiB), plant of {} lines", result.messages, result.values, args.lines);
    for (name, elapsed) in [
        ("bare serde_json::Value parse", result.bare_parse),
        ("thin-edge decode", result.decode_only),
        ("thin-edge decode + apply", result.decode_apply),
    ] {
        crate::outln!(
            out,
            "  {name:<28} {:>10.0} msg/s  {:>8.1} MiB/s  {:>7.1} ms",
            result.rate(elapsed),
            mib / elapsed.as_secs_f64(),
            elapsed.as_secs_f64() * 1e3
        );
    }
    crate::outln!(out, 
        "  ratio decode+apply / bare parse: {:.2}× the throughput",
        result.bare_parse.as_secs_f64() / result.decode_apply.as_secs_f64()
    );
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
        crate::outln!(out, 
            "{} signals at 1 Hz for {} s: {} messages, {:.0} MB; wrote in {:.1} s ({:.0} msg/s), opened and indexed in {:.1} s",
            args.signals,
            seconds,
            result.messages,
            result.file_bytes as f64 / 1e6,
            result.write.as_secs_f64(),
            result.messages as f64 / result.write.as_secs_f64(),
            result.open_and_index.as_secs_f64()
        );
        crate::outln!(out, 
            "  seek to a random instant: median {:.1} ms, p95 {:.1} ms, max {:.1} ms ({} seeks)",
            ms(median),
            ms(seeks[seeks.len() * 95 / 100]),
            ms(*seeks.last().unwrap_or(&median)),
            seeks.len()
        );
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        crate::outln!(out, 
            "  work per seek: {:.0} messages applied, {:.1} chunks read (mean)",
            mean(&result.seek_messages.iter().map(|m| *m as f64).collect::<Vec<_>>()),
            mean(&result.seek_chunks.iter().map(|c| *c as f64).collect::<Vec<_>>())
        );
        crate::outln!(out, 
            "  replay from the start: {:.0} messages applied/s; 100x real time needs {} msg/s ({:.1}x headroom)",
            result.replay_rate,
            args.signals * 100,
            result.replay_rate / (args.signals as f64 * 100.0)
        );
        // Each recording takes a while: show its figures as soon as they are in.
        super::print_out(&std::mem::take(out));
    }
    crate::outln!(out, "seek median, 10x longer recording / shorter: {:.2}", medians[1].as_secs_f64() / medians[0].as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

fn tree(args: &BenchArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    let result = twinscope_core::bench::run_tree_benchmark(args.lines, args.alarms, args.rounds.max(5));
    crate::outln!(out, "plant tree and alarm list: {} twins, {} active alarms (medians of {} runs)", result.twins, result.alarms, args.rounds.max(5));
    let frame = std::time::Duration::from_micros(16_667);
    for (name, elapsed) in [
        ("status roll-up (whole tree)", result.rollup),
        ("visible rows, all expanded", result.rows_expanded),
        ("visible rows, collapsed", result.rows_collapsed),
        ("search + filtered rows", result.search),
        ("alarm list sort", result.alarm_list),
        ("alarm counts per severity", result.alarm_counts),
    ] {
        crate::outln!(out, "  {name:<30} {:>8.1} µs  {:>5.1}% of a 60 Hz frame", elapsed.as_secs_f64() * 1e6, elapsed.as_secs_f64() / frame.as_secs_f64() * 100.0);
    }
    Ok(ExitCode::SUCCESS)
}
