//! `--screenshot FILE --exit-after SECONDS`: render, save a PNG, exit. People use it for
//! reports and docs; the screenshot test uses it.
//!
//! Beside `FILE` it writes `FILE.twins.json`: where each bound twin appears in the image
//! (pixel centre of its largest part, the glTF node it is bound through) and its status, so reports can annotate the picture and
//! tests can check colours at the right place. At exit it prints a one-line frame-time summary.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bevy::camera::primitives::Aabb;
use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::window::PrimaryWindow;

use crate::scene::binding::{BoundTwin, GltfNodeIndex, TwinMeshes};
use crate::store::sync::{IngestRate, TwinState};

/// Takes the requested screenshot and ends the app when asked to.
pub struct CapturePlugin;

impl Plugin for CapturePlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<CaptureRequest>()
            .init_resource::<FrameTimes>()
            .add_systems(
                Last,
                (record_frame_time, capture_and_exit)
                    .chain()
                    .in_set(CaptureExit),
            );
    }
}

/// What to capture and when to stop (both optional).
#[derive(Resource, Default, Debug, Clone)]
pub struct CaptureRequest {
    pub screenshot: Option<PathBuf>,
    pub exit_after: Option<Duration>,
    /// Where to write the twin state as `twinscope state --json` does, at exit (what a
    /// viewer showed, to compare with another's or with a recording's).
    pub state_out: Option<PathBuf>,
}

/// Frame durations after the first seconds (start-up and shader compilation excluded), and
/// the process's resident memory every few seconds (a long run's memory must stay flat).
#[derive(Resource, Default)]
pub struct FrameTimes {
    pub seconds: Vec<f32>,
    /// (seconds since start, resident bytes).
    pub resident: Vec<(f64, u64)>,
}

/// Resident memory is sampled this often during a run that ends by itself.
const RESIDENT_EVERY_SECONDS: f64 = 5.0;

#[derive(Default)]
enum CapturePhase {
    #[default]
    Waiting,
    Requested {
        since: f64,
    },
    Done,
}

/// Set by the screenshot observer when the file is written (or failed to be).
#[derive(Resource)]
struct ScreenshotWritten;

const WARM_UP_SECONDS: f64 = 3.0;

/// How long past `--exit-after` a screenshot waits for the model to finish loading.
const MODEL_LOAD_WAIT_SECONDS: f64 = 120.0;

/// Only for a run that ends by itself (`--exit-after`): a live session must not grow a list
/// every frame for a whole shift.
fn record_frame_time(
    time: Res<Time<Real>>,
    request: Res<CaptureRequest>,
    mut frames: ResMut<FrameTimes>,
) {
    let now = time.elapsed_secs_f64();
    if request.exit_after.is_some() && now > WARM_UP_SECONDS {
        frames.seconds.push(time.delta_secs());
        if frames
            .resident
            .last()
            .is_none_or(|(at, _)| now - at >= RESIDENT_EVERY_SECONDS)
            && let Some(bytes) = resident_bytes()
        {
            frames.resident.push((now, bytes));
        }
    }
}

/// This process's resident memory, from `/proc/self/statm` (Linux).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    statm
        .split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|pages| pages * 4096)
}

/// Where `--exit-after` ends the app (in `Last`): what reports at exit runs after it.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct CaptureExit;

#[allow(clippy::too_many_arguments)]
fn capture_and_exit(
    mut commands: Commands,
    time: Res<Time<Real>>,
    request: Res<CaptureRequest>,
    written: Option<Res<ScreenshotWritten>>,
    frames: Res<FrameTimes>,
    rate: Option<Res<IngestRate>>,
    ui_cost: Option<Res<crate::ui::UiCost>>,
    placement: TwinPlacement,
    load: Option<Res<crate::scene::model_load::ModelLoad>>,
    opening: Option<Res<crate::history::opening::OpeningRecording>>,
    mut phase: Local<CapturePhase>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(exit_after) = request.exit_after else {
        return;
    };
    let now = time.elapsed_secs_f64();
    if now < exit_after.as_secs_f64() {
        return;
    }
    let finish = |code: AppExit, exit: &mut MessageWriter<AppExit>| {
        print_summary(&frames, rate.as_deref(), now);
        if let Some(state) = &placement.state {
            print_history_fill(&state.store);
            if let Some(path) = &request.state_out {
                let json = serde_json::to_string_pretty(&twinscope_core::report::state_json(
                    &state.store,
                    None,
                ))
                .unwrap_or_default();
                if let Err(error) = std::fs::write(path, json) {
                    eprintln!(
                        "error: cannot write the state to {}: {error}",
                        path.display()
                    );
                }
            }
        }
        if let Some(cost) = &ui_cost {
            print_ui_cost(cost);
        }
        exit.write(code);
    };
    // A picture of the plant, not of its progress bar: a model still loading (or a
    // recording still being indexed) gets up to two more minutes.
    let loading = load.is_some_and(|load| load.in_progress()) || opening.is_some();
    if loading
        && matches!(*phase, CapturePhase::Waiting)
        && now < exit_after.as_secs_f64() + MODEL_LOAD_WAIT_SECONDS
    {
        return;
    }
    match *phase {
        CapturePhase::Waiting => match &request.screenshot {
            Some(path) => {
                write_placements(&placement, path);
                let path = path.clone();
                let screenshot = match &placement.offscreen {
                    Some(target) => Screenshot::image(target.image.clone()),
                    None => Screenshot::primary_window(),
                };
                commands.spawn(screenshot).observe(
                    move |captured: On<ScreenshotCaptured>, mut commands: Commands| {
                        save_png(&captured.image, &path);
                        commands.insert_resource(ScreenshotWritten);
                    },
                );
                *phase = CapturePhase::Requested { since: now };
            }
            None => {
                *phase = CapturePhase::Done;
                finish(AppExit::Success, &mut exit);
            }
        },
        CapturePhase::Requested { since } => {
            if written.is_some() {
                *phase = CapturePhase::Done;
                finish(AppExit::Success, &mut exit);
            } else if now - since > 30.0 {
                error!("the screenshot was not captured within 30 s; exiting without it");
                *phase = CapturePhase::Done;
                finish(AppExit::from_code(3), &mut exit);
            }
        }
        CapturePhase::Done => {}
    }
}

fn print_summary(frames: &FrameTimes, rate: Option<&IngestRate>, elapsed: f64) {
    let mut sorted: Vec<f32> = frames.seconds.clone();
    sorted.sort_by(f32::total_cmp);
    let pick = |q: f64| {
        sorted
            .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
            * 1e3
    };
    let mean = if sorted.is_empty() {
        0.0
    } else {
        sorted.iter().sum::<f32>() / sorted.len() as f32 * 1e3
    };
    let (messages, updates) = rate.map_or((0, 0), |r| (r.snapshot.messages, r.snapshot.updates));
    println!(
        "summary: {:.1} s, {} frames after warm-up, frame time mean {mean:.2} ms p50 {:.2} ms p95 {:.2} ms p99 {:.2} ms max {:.2} ms, {messages} messages ({:.0}/s), {updates} updates",
        elapsed,
        sorted.len(),
        pick(0.5),
        pick(0.95),
        pick(0.99),
        pick(1.0),
        messages as f64 / elapsed.max(1e-3)
    );
    if !frames.resident.is_empty() {
        // Every tenth of the run, so a slow climb shows apart from a step at the start.
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        let last = frames.resident.len() - 1;
        let mut points: Vec<usize> = (0..=10).map(|tenth| tenth * last / 10).collect();
        points.dedup();
        let samples: Vec<String> = points
            .iter()
            .map(|&i| {
                format!(
                    "{:.0} MiB at {:.0} s",
                    mib(frames.resident[i].1),
                    frames.resident[i].0
                )
            })
            .collect();
        let max = frames.resident.iter().map(|(_, b)| *b).max().unwrap_or(0);
        println!(
            "memory: resident {} (max {:.0} MiB)",
            samples.join(", "),
            mib(max)
        );
    }
}

/// How full the trend histories are: they are most of a live session's memory, and it levels
/// off once they are full (values merged while the viewer is behind fill them more slowly).
fn print_history_fill(store: &twinscope_core::twin::TwinStore) {
    let (mut properties, mut held, mut room) = (0usize, 0usize, 0usize);
    for property in store.twins().flat_map(|(_, twin)| &twin.properties) {
        properties += 1;
        held += property.history.len();
        room += property.history.capacity();
    }
    let full = if room == 0 {
        100.0
    } else {
        held as f64 * 100.0 / room as f64
    };
    println!("histories: {properties} properties hold {held} samples of {room} ({full:.0}% full)");
}

fn print_ui_cost(cost: &crate::ui::UiCost) {
    // Skip the first tenth: scene loading and first layouts.
    let mut sorted: Vec<f32> = cost
        .seconds
        .iter()
        .skip(cost.seconds.len() / 10)
        .copied()
        .collect();
    if sorted.is_empty() {
        return;
    }
    sorted.sort_by(f32::total_cmp);
    let pick = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize] * 1e3;
    let mean = sorted.iter().sum::<f32>() / sorted.len() as f32 * 1e3;
    println!(
        "ui: panels built and laid out in mean {mean:.2} ms p50 {:.2} ms p95 {:.2} ms per frame ({} frames)",
        pick(0.5),
        pick(0.95),
        sorted.len()
    );
}

/// What is needed to find where twins appear on screen.
#[derive(bevy::ecs::system::SystemParam)]
struct TwinPlacement<'w, 's> {
    cameras: Query<'w, 's, (&'static Camera, &'static GlobalTransform), With<Camera3d>>,
    window: Query<'w, 's, &'static Window, With<PrimaryWindow>>,
    twins: Query<
        'w,
        's,
        (
            &'static BoundTwin,
            &'static TwinMeshes,
            Option<&'static GltfNodeIndex>,
        ),
    >,
    boxes: Query<'w, 's, (&'static Aabb, &'static GlobalTransform)>,
    state: Option<Res<'w, TwinState>>,
    offscreen: Option<Res<'w, crate::scene::offscreen::OffscreenTarget>>,
}

fn write_placements(placement: &TwinPlacement, screenshot: &Path) {
    let (Ok((camera, camera_transform)), Some(state)) =
        (placement.cameras.single(), placement.state.as_ref())
    else {
        return;
    };
    let scale = placement.window.single().map_or(1.0, |w| w.scale_factor());
    let mut entries = Vec::new();
    for (bound, meshes, node) in &placement.twins {
        // The largest part of the twin is the one most likely to be visible.
        let largest = meshes
            .0
            .iter()
            .filter_map(|m| placement.boxes.get(*m).ok())
            .map(|(aabb, transform)| {
                let half =
                    Vec3::from(aabb.half_extents) * transform.compute_transform().scale.abs();
                (
                    half.x * half.y * half.z,
                    transform.transform_point(Vec3::from(aabb.center)),
                )
            })
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let Some((_, centre)) = largest else { continue };
        let Ok(pixel) = camera.world_to_viewport(camera_transform, centre) else {
            continue;
        };
        let twin = state.store.get(bound.0);
        entries.push(serde_json::json!({
            "twin": twin.id.as_str(),
            "gltf_node": node.map(|n| n.0),
            "status": twin.status.as_str(),
            "x": (pixel.x * scale).round(),
            "y": (pixel.y * scale).round(),
        }));
    }
    let path = PathBuf::from(format!("{}.twins.json", screenshot.display()));
    match serde_json::to_vec_pretty(&entries).map(|bytes| std::fs::write(&path, bytes)) {
        Ok(Ok(())) => {}
        Ok(Err(error)) => error!("cannot write {}: {error}", path.display()),
        Err(error) => error!("cannot encode twin placements: {error}"),
    }
}

/// Writes a captured image as PNG (RGB: the alpha channel carries no meaning in a capture).
pub fn save_png(image: &Image, path: &Path) {
    match image.clone().try_into_dynamic() {
        // The alpha channel carries no meaning in a window capture; drop it.
        Ok(dynamic) => match dynamic.to_rgb8().save(path) {
            Ok(()) => info!("screenshot saved to {}", path.display()),
            Err(error) => error!("cannot save the screenshot to {}: {error}", path.display()),
        },
        Err(error) => error!("cannot convert the screenshot: {error}"),
    }
}
