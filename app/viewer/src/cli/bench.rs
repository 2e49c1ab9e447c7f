//! `twinscope bench`: ingest throughput, reported next to bare JSON parsing of the same data.

use std::process::ExitCode;

use twinscope_core::bench::run_ingest_benchmark;

use super::BenchArgs;

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let result = run_ingest_benchmark(args.lines, args.rounds);
    let mib = result.bytes as f64 / (1024.0 * 1024.0);
    println!("{} thin-edge measurement messages ({} values, {mib:.1} MiB), plant of {} lines", result.messages, result.values, args.lines);
    let line = |name: &str, elapsed: std::time::Duration| {
        println!(
            "  {name:<28} {:>10.0} msg/s  {:>8.1} MiB/s  {:>7.1} ms",
            result.rate(elapsed),
            mib / elapsed.as_secs_f64(),
            elapsed.as_secs_f64() * 1e3
        );
    };
    line("bare serde_json::Value parse", result.bare_parse);
    line("thin-edge decode", result.decode_only);
    line("thin-edge decode + apply", result.decode_apply);
    println!(
        "  ratio decode+apply / bare parse: {:.2}× the throughput",
        result.bare_parse.as_secs_f64() / result.decode_apply.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
