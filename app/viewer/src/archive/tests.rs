//! The Trends window drawn headless (egui without a window) over 30 days of archived data at
//! 1 Hz: what it draws per pixel column has the raw data's min and max, zoomed out and in.

use std::time::Duration;

use bevy_egui::egui;
use twinscope_core::archive::{ArchiveOptions, Archiver};
use twinscope_core::time::Timestamp;
use twinscope_core::time_zone::PlantClock;
use twinscope_core::twin::{PropertyName, TwinId};
use twinscope_core::update::TwinUpdate;

use super::loader::TrendLoader;
use super::window::{TrendWindow, drawn_columns, trend_contents};

const DAY: i64 = 86_400_000_000;
/// 2026-12-01T00:00Z.
const END: i64 = 1_796_083_200_000_000;

fn value_at(s: i64) -> f64 {
    let v = 50.0 + 20.0 * (s as f64 / 5_000.0).sin() + 3.0 * (s as f64 / 37.0).cos();
    if s % 100_003 == 0 {
        v + 40.0
    } else {
        (v * 100.0).round() / 100.0
    }
}

fn frame(ctx: &egui::Context, window: &mut TrendWindow, now: i64) {
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1100.0, 500.0),
        )),
        ..Default::default()
    };
    let mut output = ctx.run_ui(input, |ui| {
        trend_contents(ui, window, &[], &PlantClock::Fixed(0), now);
    });
    output.textures_delta.clear(); // no renderer here to upload font textures to
}

/// Draws frames, sending the window's requests, until it has what it asked for.
fn settle(ctx: &egui::Context, window: &mut TrendWindow, loader: &TrendLoader, now: i64) {
    for _ in 0..20 {
        frame(ctx, window, now);
        for (series, query) in window.requests() {
            loader.request(series, query);
        }
        if window.loading() {
            let loaded = loader
                .answers
                .recv_timeout(Duration::from_secs(30))
                .expect("the loader answers");
            window.take(loaded);
        } else if window.series[0].loaded.is_some() {
            return;
        }
    }
    panic!("the window never settled");
}

#[test]
fn the_trend_window_draws_each_columns_raw_min_and_max_from_a_month_to_minutes() {
    let root = std::env::temp_dir().join(format!("twinscope-trend-window-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let start = END - 30 * DAY;
    let mut archiver = Archiver::open(&root, ArchiveOptions::conversion()).unwrap();
    let (twin, property) = (TwinId::new("pump-1"), PropertyName::kept("temperature"));
    let mut batch = Vec::with_capacity(86_400);
    let seconds = 30 * 86_400;
    for s in 0..seconds {
        batch.push(TwinUpdate::Measurement {
            twin: twin.clone(),
            name: property.clone(),
            value: value_at(s),
            time: Timestamp(start + s * 1_000_000),
        });
        if batch.len() == 86_400 {
            archiver.push(&batch, Timestamp(start)).unwrap();
            batch.clear();
        }
    }
    archiver.finish().unwrap();

    let loader = TrendLoader::start(root.clone());
    let ctx = egui::Context::default();
    let mut window = TrendWindow::default();
    window.add("pump-1", "temperature", "°C");
    window.show_last(30 * DAY, END);
    settle(&ctx, &mut window, &loader, END);
    for zoomed in [false, true] {
        let loaded = window.series[0].loaded.clone().unwrap();
        assert!(
            loaded.trend.warnings.is_empty(),
            "{:?}",
            loaded.trend.warnings
        );
        assert_eq!(
            loaded.query.columns, window.columns,
            "one column of data per pixel column"
        );
        assert!(
            window.columns > 500,
            "the plot is as wide as the window: {}",
            window.columns
        );
        let drawn = drawn_columns(&loaded, &[]);
        let (first, width) = (loaded.trend.start, loaded.trend.width);
        assert!(
            drawn.len() + 2 >= ((loaded.query.to - first) / width) as usize,
            "every column drawn"
        );
        for (k, column) in loaded.trend.columns.iter().enumerate() {
            // The samples at whole seconds inside the column.
            let second_at_or_after = |t: i64| (t - start + 999_999).div_euclid(1_000_000);
            let (s0, s1) = (
                second_at_or_after(column.start),
                second_at_or_after(column.start + width),
            );
            let raw: Vec<f64> = (s0.max(0)..s1.min(seconds)).map(value_at).collect();
            let (min, max) = raw
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
            assert_eq!(
                (drawn[k].1, drawn[k].2),
                (min, max),
                "column {k} ({}), zoomed {zoomed}",
                Timestamp(column.start)
            );
        }
        if !zoomed {
            assert!(
                loaded.trend.columns.iter().any(|c| c.max > 100.0),
                "the spikes survive at a month"
            );
            // Zoom in to three hours: one-minute buckets or raw samples.
            window.follow_live = false;
            window.from = END - 10 * DAY;
            window.to = window.from + 3 * 3_600_000_000;
            window.reset_axis = true;
            settle(&ctx, &mut window, &loader, END);
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}
