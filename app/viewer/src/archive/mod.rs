//! The long-range archive in the viewer: archiving live data (`--archive DIR`, on the core's
//! connection and thread of its own) and the Trends window that zooms through it. The core
//! (`twinscope_core::archive`) writes and reads the Parquet files; this room only asks for
//! trends off the frame and draws them.

pub mod loader;
pub mod window;

use std::path::PathBuf;

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass};
use twinscope_core::archive::LiveArchive;
use twinscope_core::archive::layout::first_day;

use crate::store::sync::TwinState;
use crate::ui::PanelState;
use loader::TrendLoader;
use window::{SeriesLive, TrendWindow, trend_window};

/// Zoomable trends from the archive, and the live archive's lifetime.
pub struct ArchivePlugin;

/// The archive trends are read from (`--archive DIR`).
#[derive(Resource, Debug, Clone)]
pub struct ArchiveSource {
    pub root: PathBuf,
}

/// The live archive; dropped (at exit) it seals what it holds and writes its rollups.
#[derive(Resource)]
pub struct LiveArchiving(pub LiveArchive);

impl Drop for LiveArchiving {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Open a property in the Trends window (the inspector's “History” button, `--trend`).
#[derive(Message, Debug, Clone, PartialEq)]
pub struct OpenTrend {
    pub twin: String,
    pub property: String,
}

/// The Trends window and its loading thread.
#[derive(Resource, Default)]
pub struct Trends {
    pub window: TrendWindow,
    loader: Option<TrendLoader>,
}

/// `--trend-span`: what the window shows at first (µs), following live.
#[derive(Resource, Debug, Clone, Copy)]
pub struct TrendSpanAtStart(pub i64);

impl Plugin for ArchivePlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Trends>()
            .add_message::<OpenTrend>()
            .add_systems(Update, (open_trends, exchange_with_loader).chain())
            .add_systems(
                EguiPrimaryContextPass,
                draw_trends.after(crate::ui::PanelsDrawn),
            );
    }
}

fn open_trends(
    mut opened: MessageReader<OpenTrend>,
    mut trends: ResMut<Trends>,
    source: Option<Res<ArchiveSource>>,
    span: Option<Res<TrendSpanAtStart>>,
    state: Res<TwinState>,
) {
    let Some(source) = source else {
        opened.clear();
        return;
    };
    for open in opened.read() {
        if trends.loader.is_none() {
            trends.loader = Some(TrendLoader::start(source.root.clone()));
            trends.window.archive_start = first_day(&source.root).map(|d| d.start_us());
            if let Some(span) = &span {
                trends
                    .window
                    .show_last(span.0, twinscope_core::Timestamp::now().0);
            }
        }
        let unit = state
            .store
            .find(&open.twin)
            .and_then(|i| {
                state
                    .store
                    .get(i)
                    .properties
                    .iter()
                    .find(|p| &*p.name == open.property.as_str())
                    .and_then(|p| p.unit.as_deref().map(str::to_owned))
            })
            .unwrap_or_default();
        trends.window.add(&open.twin, &open.property, &unit);
    }
}

/// Takes in the loader's answers and sends the window's new requests.
fn exchange_with_loader(mut trends: ResMut<Trends>) {
    let trends = &mut *trends;
    let Some(loader) = &trends.loader else { return };
    while let Ok(loaded) = loader.answers.try_recv() {
        let trend = &loaded.trend;
        info!(
            "trend {} {}: {}, {} columns, {} files, {:.1} ms{}",
            loaded.query.twin,
            loaded.query.property,
            trend.level.map_or("nothing", |l| l.as_str()),
            trend.columns.len(),
            trend.files_read,
            loaded.took.as_secs_f64() * 1e3,
            if trend.warnings.is_empty() {
                String::new()
            } else {
                format!("; skipped: {}", trend.warnings.join("; "))
            }
        );
        trends.window.take(loaded);
    }
    if trends.window.open {
        for (series, query) in trends.window.requests() {
            loader.request(series, query);
        }
    }
}

fn draw_trends(
    mut contexts: EguiContexts,
    mut trends: ResMut<Trends>,
    state: Res<TwinState>,
    panels: Res<PanelState>,
) -> Result {
    if !trends.window.open {
        return Ok(());
    }
    let store = &state.store;
    let live: Vec<SeriesLive> = trends
        .window
        .series
        .iter()
        .map(|series| {
            let Some(property) = store.find(&series.twin).and_then(|i| {
                store
                    .get(i)
                    .properties
                    .iter()
                    .find(|p| &*p.name == series.property.as_str())
            }) else {
                return SeriesLive::default();
            };
            SeriesLive {
                tail: property.history.iter().map(|(t, v)| (t.0, *v)).collect(),
                limits: crate::ui::model::limits_of(store, property)
                    .into_iter()
                    .map(|l| (l.value, l.status, l.label))
                    .collect(),
            }
        })
        .collect();
    let ctx = contexts.ctx_mut()?;
    trend_window(
        ctx,
        &mut trends.window,
        &live,
        &panels.clock,
        twinscope_core::Timestamp::now().0,
    );
    Ok(())
}

#[cfg(test)]
mod tests;
