//! `twinscope bench --archive`: bytes per value for smooth, noisy and step signals, writing
//! speed, and trend loads at 30 days and a year, next to DuckDB bucketing the same 30 days.

use std::process::ExitCode;
use std::time::Duration;

use twinscope_core::archive::layout::DAY_US;
use twinscope_core::bench::archive::{SignalKind, archive_kind, zoom};

use super::BenchArgs;

pub fn run(args: &BenchArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    let base = std::env::temp_dir().join(format!("twinscope-bench-archive-{}", std::process::id()));
    let seconds = args.length.as_secs().max(60);
    let per_kind = (args.signals as u64 / 3).max(1);
    crate::outln!(
        out,
        "size: {} signals at 1 Hz for {} s, a third each smooth, noisy and step (values rounded to 0.01)",
        per_kind * 3,
        seconds
    );
    let (mut values, mut bytes, mut wall, mut cpu) = (0u64, 0u64, 0.0, 0.0);
    for kind in SignalKind::ALL {
        let result = archive_kind(
            &base.join(kind.as_str()),
            kind,
            per_kind,
            seconds,
            1_796_083_200_000_000,
        );
        crate::outln!(
            out,
            "  {:6} {:>11} values, {:>8.1} MB, {:.2} bytes a value; written at {:.2} M rows/s ({:.2} M rows per CPU second)",
            kind.as_str(),
            result.values,
            result.bytes as f64 / 1e6,
            result.bytes_per_value(),
            result.values as f64 / result.seconds / 1e6,
            result.values as f64 / result.cpu_seconds.max(1e-9) / 1e6
        );
        values += result.values;
        bytes += result.bytes;
        wall += result.seconds;
        cpu += result.cpu_seconds;
        super::print_out(&std::mem::take(out));
        let _ = std::fs::remove_dir_all(base.join(kind.as_str()));
    }
    let per_value = bytes as f64 / values.max(1) as f64;
    crate::outln!(
        out,
        "  all    {per_value:.2} bytes a value; 20,000 signals for a day (1.73 billion values) would take {:.2} GB (goal 2.5 GB)",
        per_value * 1.728e9 / 1e9
    );
    crate::outln!(
        out,
        "writing: {:.2} M rows/s ({:.2} M rows per CPU second); an hour of 20,000 signals (72 M rows) in {:.0} s (goal 72 s)",
        values as f64 / wall / 1e6,
        values as f64 / cpu.max(1e-9) / 1e6,
        72e6 / (values as f64 / wall)
    );
    super::print_out(&std::mem::take(out));

    let days = args.days.max(31);
    let end = twinscope_core::Timestamp::now().0 / DAY_US * DAY_US;
    let result = zoom(&base.join("zoom"), days, end);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let stats = |v: &[Duration]| {
        let mut v = v.to_vec();
        v.sort();
        (
            ms(v[v.len() / 2]),
            ms(v[v.len() * 95 / 100]),
            ms(*v.last().unwrap_or(&Duration::ZERO)),
        )
    };
    crate::outln!(
        out,
        "zoom: one signal at 1 Hz for {days} days ({} samples, archived in {:.1} s)",
        result.samples,
        result.write_seconds
    );
    crate::outln!(
        out,
        "  30 days over 1,000 columns, cold: {:.1} ms from {} ({} columns; goal 50 ms)",
        ms(result.month_cold),
        result.month_level,
        result.month_columns
    );
    let (pan_median, pan_p95, pan_max) = stats(&result.pans);
    let (zoom_median, zoom_p95, zoom_max) = stats(&result.zooms);
    crate::outln!(
        out,
        "  reads while dragging (30 steps of 1%, the loader's cache warm): median {pan_median:.1} ms, p95 {pan_p95:.1} ms, max {pan_max:.1} ms; zooming in (10 steps): median {zoom_median:.1} ms, p95 {zoom_p95:.1} ms, max {zoom_max:.1} ms; all off the frame"
    );
    crate::outln!(
        out,
        "  {days} days, cold: {:.1} ms from {}, {} files (goal 100 ms)",
        ms(result.year_cold),
        result.year_level,
        result.year_files
    );
    let (frame_median, frame_p95, frame_max) =
        stats(&window_frames(&result.root, result.from, result.to));
    crate::outln!(
        out,
        "  the Trends window's frame while dragging (egui layout and tessellation, 1,000 columns, 60 frames): median {frame_median:.2} ms, p95 {frame_p95:.2} ms, max {frame_max:.2} ms (goal 8 ms)"
    );
    super::print_out(&std::mem::take(out));
    // DuckDB bucketing the same 30 days of raw rows into 1,000 columns.
    let script = r#"
import sys, time, datetime, duckdb
root, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
con = duckdb.connect()
width = (end - start) // 1000
day = lambda us: datetime.datetime.fromtimestamp(us / 1e6, datetime.timezone.utc).date().isoformat()
# The date partitions filtered too, so DuckDB opens only the month's files.
query = f"""SELECT (epoch_us(time) - {start}) // {width} AS col, min(value), max(value), avg(value), count(*)
    FROM read_parquet('{root}/raw/**/*.parquet', hive_partitioning = true)
    WHERE date BETWEEN DATE '{day(start)}' AND DATE '{day(end)}'
      AND twin = 'pump-1' AND property = 'temperature' AND epoch_us(time) BETWEEN {start} AND {end}
    GROUP BY col ORDER BY col"""
t = time.perf_counter(); rows = con.execute(query).fetchall(); cold = time.perf_counter() - t
t = time.perf_counter(); con.execute(query).fetchall(); warm = time.perf_counter() - t
print(f"{cold * 1e3:.1f} {warm * 1e3:.1f} {len(rows)}")
"#;
    match std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&result.root)
        .arg(result.from.to_string())
        .arg(result.to.to_string())
        .output()
    {
        Ok(output) if output.status.success() => {
            let text = String::from_utf8_lossy(&output.stdout);
            let parts: Vec<&str> = text.split_whitespace().collect();
            if let [cold, warm, rows] = parts[..] {
                let cold_ms: f64 = cold.parse().unwrap_or(f64::NAN);
                crate::outln!(
                    out,
                    "  DuckDB bucketing the same 30 days of raw rows into {rows} columns: {cold} ms first, {warm} ms again; twinscope's cold read is {:.1}x faster",
                    cold_ms / ms(result.month_cold)
                );
            }
        }
        _ => crate::outln!(
            out,
            "  (DuckDB not available: python3 -m pip install duckdb)"
        ),
    }
    let _ = std::fs::remove_dir_all(&base);
    Ok(ExitCode::SUCCESS)
}

/// The CPU time of the Trends window's frames while the axis is dragged across the month
/// (data loaded between frames, as the loader thread delivers it; not timed).
fn window_frames(root: &std::path::Path, from: i64, to: i64) -> Vec<Duration> {
    use bevy_egui::egui;
    use twinscope::archive::loader::Loaded;
    use twinscope::archive::window::{TrendWindow, trend_contents};
    use twinscope_core::archive::{TrendCache, load_trend_cached};
    let ctx = egui::Context::default();
    let mut window = TrendWindow::default();
    window.add("pump-1", "temperature", "°C");
    window.from = from;
    window.to = to;
    window.follow_live = false;
    let mut cache = TrendCache::default();
    let clock = twinscope_core::time_zone::PlantClock::Fixed(0);
    let mut frames = Vec::new();
    for frame in 0..80 {
        // A drag moves the axis by a pixel column or two a frame.
        let shift = (to - from) / 1000 * frame;
        window.from = from - shift;
        window.to = to - shift;
        window.reset_axis = true;
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(1040.0, 420.0),
            )),
            ..Default::default()
        };
        let started = std::time::Instant::now();
        let mut output = ctx.run_ui(input, |ui| trend_contents(ui, &mut window, &[], &clock, to));
        let shapes = std::mem::take(&mut output.shapes);
        let _ = ctx.tessellate(shapes, output.pixels_per_point);
        let took = started.elapsed();
        output.textures_delta.clear();
        if frame >= 20 {
            frames.push(took);
        }
        for (series, query) in window.requests() {
            let started = std::time::Instant::now();
            let trend = load_trend_cached(root, &query, &mut cache);
            window.take(Loaded {
                series,
                query,
                trend,
                alarms: None,
                took: started.elapsed(),
            });
        }
    }
    frames
}
