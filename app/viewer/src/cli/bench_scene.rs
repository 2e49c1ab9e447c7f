//! `twinscope bench --scene FILE`: what a model costs.
//!
//! - Loading: reading and binding its node tree with the core's reader (as `check` and the
//!   viewer do before a window opens), the time and the resident memory it takes.
//! - Per frame: the viewer's sync and visuals plugins, headless, over a world shaped like the
//!   model (an entity per node, a mesh entity under each node that has one, bound by glTF node
//!   index as the viewer binds): frames with no change, then with 1,000 twins changing status
//!   each frame. The cost should follow the changes, not the model's size.
//! - The whole plant changing status at once (first contact, the broker lost): the frames until
//!   every part shows it, restyled at most `RESTYLED_PER_FRAME` twins a frame, and the longest.
//!
//! No renderer: GPU upload and draw time are not in these figures (on a GPU machine, the
//! viewer's `--exit-after` frame-time summary has them).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use bevy::camera::primitives::Aabb;
use bevy::prelude::*;
use twinscope_core::Timestamp;
use twinscope_core::TwinUpdate;
use twinscope_core::bench::median_of;
use twinscope_core::ingest::{IngestStats, UpdateBatch, batch_channel};
use twinscope_core::manifest::load_scene;
use twinscope_core::twin::Severity;

use twinscope::scene::binding::BoundTwin;
use twinscope::scene::binding::{GltfNodeIndex, SceneBindingPlugin, SceneModelRoot, SceneSource};
use twinscope::scene::focus::FocusPlugin;
use twinscope::scene::selection::SelectionPlugin;
use twinscope::scene::visuals::StatusVisualsPlugin;
use twinscope::store::sync::{
    IngestLink, RESTYLED_PER_FRAME, TwinState, TwinSyncPlugin, TwinVisualState,
};

/// Frames timed for each figure (their median is reported).
const FRAMES: usize = 15;

pub fn run(path: &Path, out: &mut String) -> anyhow::Result<ExitCode> {
    let before = resident_bytes();
    let started = Instant::now();
    let scene = match load_scene(path) {
        Ok(scene) => scene,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let read = started.elapsed();
    let after_read = resident_bytes();
    let model = &scene.model;
    let twins: Vec<String> = scene
        .binding
        .twin_ids()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let meshes = model.nodes.iter().filter(|n| n.has_mesh).count();
    crate::outln!(
        out,
        "model {}: {} nodes ({meshes} with a mesh), {} bound to {} twins",
        scene.model_path.display(),
        model.nodes.len(),
        scene.binding.bound.len(),
        twins.len()
    );
    crate::outln!(
        out,
        "  read and bound (the core's reader, as check): {:.0} ms, {:+.1} MiB resident",
        read.as_secs_f64() * 1e3,
        mib(after_read, before)
    );

    let started = Instant::now();
    let (mut app, sender) = headless_viewer(&scene);
    let built = started.elapsed();
    let entities = app.world_mut().query::<Entity>().iter(app.world()).count();
    crate::outln!(
        out,
        "  headless viewer world: {entities} entities, spawned and bound in {:.0} ms, {:+.1} MiB resident",
        built.as_secs_f64() * 1e3,
        mib(resident_bytes(), after_read)
    );

    let frame = |app: &mut App, updates: Vec<TwinUpdate>| {
        if !updates.is_empty() {
            let _ = sender.send(UpdateBatch::new(Timestamp::now(), updates));
        }
        let started = Instant::now();
        app.update();
        started.elapsed()
    };
    let idle = median_of((0..FRAMES).map(|_| frame(&mut app, Vec::new())).collect());
    let mut rows = vec![("no change", 0, idle)];
    for changes in [1_000usize] {
        let n = changes.min(twins.len());
        if n == 0 {
            break;
        }
        let times = (0..FRAMES)
            .map(|i| {
                // Every other frame the same twins go into alarm and out of it: each frame
                // changes the status of n twins.
                let now = Timestamp::now();
                let updates = twins
                    .iter()
                    .cycle()
                    .skip(i / 2 * n)
                    .take(n)
                    .map(|id| status_change(id, i % 2 == 0, now))
                    .collect();
                frame(&mut app, updates)
            })
            .collect();
        rows.push(if n == changes {
            ("status changes", n, median_of(times))
        } else {
            ("status changes (every twin)", n, median_of(times))
        });
    }
    let mut seconds_per_change = 0.0;
    for (what, n, time) in &rows {
        if *n > 0 {
            seconds_per_change = (time.as_secs_f64() - idle.as_secs_f64()).max(0.0) / *n as f64;
        }
        let per_change = if *n > 0 {
            format!(", {:.2} µs per change", seconds_per_change * 1e6)
        } else {
            String::new()
        };
        crate::outln!(
            out,
            "  per frame, {n:>6} {what}: {:.2} ms{per_change}",
            time.as_secs_f64() * 1e3
        );
    }
    // Every twin into alarm in one batch: frames until every bound part shows its twin's look.
    let mut shown = app.world_mut().query::<(&BoundTwin, &TwinVisualState)>();
    let mut all_shown = |app: &App| {
        let state = app.world().resource::<TwinState>();
        shown
            .iter(app.world())
            .all(|(bound, look)| *look == TwinVisualState::of(state.store.get(bound.0)))
    };
    let now = Timestamp::now();
    let mut whole_plant = Some(
        twins
            .iter()
            .map(|id| status_change(id, true, now))
            .collect::<Vec<_>>(),
    );
    let mut times = Vec::new();
    while times.len() < 10_000 {
        times.push(frame(&mut app, whole_plant.take().unwrap_or_default()));
        if all_shown(&app) {
            break;
        }
    }
    let longest = times.iter().max().copied().unwrap_or_default();
    crate::outln!(
        out,
        "  the whole plant ({} twins) changing at once: shown after {} frames of at most {RESTYLED_PER_FRAME} twins restyled, the longest {:.1} ms (in one frame: about {:.0} ms)",
        twins.len(),
        times.len(),
        longest.as_secs_f64() * 1e3,
        seconds_per_change * twins.len() as f64 * 1e3
    );
    // Looks are shared: a status gives every part in it the same few materials, so their
    // number follows the looks in use, not the parts changed.
    let world = app.world();
    let standard = world
        .get_resource::<Assets<StandardMaterial>>()
        .map_or(0, |m| m.len());
    let alarm = world
        .get_resource::<Assets<twinscope::scene::materials::AlarmMaterial>>()
        .map_or(0, |m| m.len());
    crate::outln!(
        out,
        "  materials after the status changes: {standard} standard, {alarm} alarm looks (shared by look, not made per part)"
    );
    Ok(ExitCode::SUCCESS)
}

fn status_change(id: &str, raise: bool, time: Timestamp) -> TwinUpdate {
    if raise {
        TwinUpdate::AlarmRaised {
            twin: id.into(),
            alarm_type: "bench".into(),
            severity: Severity::Major,
            text: "benchmark".into(),
            time,
        }
    } else {
        TwinUpdate::AlarmCleared {
            twin: id.into(),
            alarm_type: "bench".into(),
            time,
        }
    }
}

/// The viewer's data and look plugins without a window, over entities shaped like the model.
fn headless_viewer(
    scene: &twinscope_core::manifest::LoadedScene,
) -> (App, twinscope_core::ingest::BatchSender) {
    let mut app = twinscope::headless::headless_app();
    app.add_plugins((
        TwinSyncPlugin,
        SceneBindingPlugin,
        SelectionPlugin,
        FocusPlugin,
        StatusVisualsPlugin,
    ));
    let (sender, batches) = batch_channel();
    app.insert_resource(TwinState {
        store: scene.new_store(),
    })
    .insert_resource(IngestLink {
        batches,
        stats: IngestStats::new(),
    })
    .insert_resource(SceneSource {
        model_asset: String::new(),
        scene_index: scene.model.scene_index,
        node_twins: scene.binding.by_gltf_node(&scene.model),
        model_file: scene.model_path.clone(),
        metres_per_unit: 1.0,
        model_bytes: 0,
    });
    let material = app
        .world_mut()
        .resource_mut::<Assets<StandardMaterial>>()
        .add(StandardMaterial::default());
    let world = app.world_mut();
    let root = world.spawn((SceneModelRoot, Transform::default())).id();
    let mut spawned: Vec<Entity> = Vec::with_capacity(scene.model.nodes.len());
    for node in &scene.model.nodes {
        let parent = node.parent.map_or(root, |p| spawned[p]);
        let entity = world
            .spawn((
                GltfNodeIndex(node.index),
                Transform::default(),
                ChildOf(parent),
            ))
            .id();
        if node.has_mesh {
            let aabb = Aabb::from_min_max(Vec3::splat(-0.5), Vec3::splat(0.5));
            world.spawn((
                Mesh3d(Handle::default()),
                MeshMaterial3d(material.clone()),
                aabb,
                Transform::default(),
                ChildOf(entity),
            ));
        }
        spawned.push(entity);
    }
    for _ in 0..3 {
        app.update();
    }
    (app, sender)
}

/// Resident memory now, from `/proc/self/statm` (0 where there is none).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn mib(now: u64, before: u64) -> f64 {
    (now as f64 - before as f64) / (1024.0 * 1024.0)
}
