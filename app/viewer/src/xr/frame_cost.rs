//! What twinscope's own systems cost per frame in the headset, against the headset's frame
//! budget (11.1 ms at 90 Hz for both eyes): **sync** (draining update batches into the store,
//! binding, pushing status onto entities), **visuals** (selection, looks, the headset's
//! pointing, moving, guide and label placement) and **panels** (building and laying out the
//! panel and the label). Measured only for runs that end by themselves (`--exit-after`), so
//! a session of a whole shift does not grow a list; printed at exit as one line per span
//! with percentiles (`xr cost: …`), next to the frame period the runtime paced.

use std::time::{Duration, Instant};

use bevy::prelude::*;

use crate::TwinscopeSystems;

/// Per-frame CPU time of twinscope's systems in the headset.
pub struct XrFrameCostPlugin;

/// The spans measured so far (seconds per frame).
#[derive(Resource, Default)]
pub struct XrFrameCost {
    sync: Vec<f32>,
    visuals: Vec<f32>,
    panels: Vec<f32>,
    period: Vec<f32>,
    /// Messages taken into the store (from the ingest counters) when each frame ended.
    messages: Vec<u64>,
    span_start: Option<Instant>,
    panels_this_frame: Duration,
}

impl XrFrameCost {
    /// Adds time spent drawing a headset panel this frame.
    pub fn add_panels(&mut self, spent: Duration) {
        self.panels_this_frame += spent;
    }

    fn lap(&mut self) -> f32 {
        let now = Instant::now();
        let spent = self
            .span_start
            .map_or(0.0, |start| (now - start).as_secs_f32());
        self.span_start = Some(now);
        spent
    }

    /// One line per span: `name mean … p50 … p95 … max … ms`.
    pub fn report(&self) -> String {
        // The first tenth is start-up (scene loading, first layouts): left out.
        let line = |name: &str, samples: &[f32]| {
            let mut sorted: Vec<f32> = samples.iter().skip(samples.len() / 10).copied().collect();
            if sorted.is_empty() {
                return format!("{name} -");
            }
            sorted.sort_by(f32::total_cmp);
            let pick = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize] * 1e3;
            let mean = sorted.iter().sum::<f32>() / sorted.len() as f32 * 1e3;
            format!(
                "{name} mean {mean:.2} p50 {:.2} p95 {:.2} max {:.2} ms",
                pick(0.5),
                pick(0.95),
                pick(1.0)
            )
        };
        // Sync per message, over the frames measured: comparable across frame rates.
        let skip = self.messages.len() / 10;
        let messages = self.messages.last().copied().unwrap_or(0).saturating_sub(
            self.messages
                .get(skip.saturating_sub(1))
                .copied()
                .unwrap_or(0),
        );
        let sync_total: f32 = self.sync.iter().skip(skip).sum();
        let per_message = if messages > 0 {
            format!(
                ", {:.2} µs per message",
                sync_total as f64 * 1e6 / messages as f64
            )
        } else {
            String::new()
        };
        format!(
            "xr cost per frame ({} frames, {} messages{per_message}): {} ; {} ; {} ; frame period {}",
            self.period.len() - skip,
            messages,
            line("sync", &self.sync),
            line("visuals", &self.visuals),
            line("panels", &self.panels),
            line("", &self.period).trim_start()
        )
    }
}

impl Plugin for XrFrameCostPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<XrFrameCost>().add_systems(
            Update,
            (
                start_sync.before(TwinscopeSystems::Ingest),
                end_sync
                    .after(TwinscopeSystems::Propagate)
                    .before(super::XrSystems::Input)
                    .before(TwinscopeSystems::Select),
                end_visuals
                    .after(TwinscopeSystems::Visuals)
                    .after(super::XrSystems::Show),
            ),
        );
        app.add_systems(Last, end_frame);
    }
}

fn start_sync(mut cost: ResMut<XrFrameCost>) {
    cost.lap();
}

fn end_sync(mut cost: ResMut<XrFrameCost>) {
    let spent = cost.lap();
    cost.sync.push(spent);
}

fn end_visuals(mut cost: ResMut<XrFrameCost>) {
    let spent = cost.lap();
    cost.visuals.push(spent);
    cost.span_start = None;
}

fn end_frame(
    mut cost: ResMut<XrFrameCost>,
    time: Res<Time<Real>>,
    rate: Option<Res<crate::store::sync::IngestRate>>,
) {
    cost.messages.push(rate.map_or(0, |r| r.snapshot.messages));
    let panels = std::mem::take(&mut cost.panels_this_frame).as_secs_f32();
    cost.panels.push(panels);
    cost.period.push(time.delta_secs());
}
