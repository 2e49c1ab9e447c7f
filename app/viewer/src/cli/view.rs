//! The viewer: by default an embedded broker and simulator feed the demo plant; with
//! `--broker` a real broker does.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use bevy::asset::AssetMetaCheck;
use bevy::log::LogPlugin;
use bevy::picking::mesh_picking::MeshPickingPlugin;
use bevy::prelude::*;
use bevy::window::WindowResolution;
use twinscope::capture::CaptureRequest;
use twinscope::prelude::*;
use twinscope::scene::SceneStatus;
use twinscope::selection::InitialSelection;
use twinscope_core::broker::start_embedded_broker;
use twinscope_core::ingest::{IngestConfig, IngestHandle, spawn_ingest};
use twinscope_core::manifest::{LoadedScene, NamePattern, load_scene};
use twinscope_core::rules::RuleSet;
use twinscope_core::schema::thin_edge::ThinEdgeSchema;
use twinscope_core::sim::{SimConfig, SimHandle, spawn_simulator};
use twinscope_core::twin::{StoreConfig, TwinStore};

use super::ViewArgs;

/// Keeps the ingest thread (and the embedded simulator) alive as long as the app.
#[derive(Resource)]
struct BackgroundThreads {
    _ingest: IngestHandle,
    _simulator: Option<SimHandle>,
}

pub fn run(args: ViewArgs) -> anyhow::Result<ExitCode> {
    let scene_path = args.scene.clone().unwrap_or_else(super::default_scene);
    let (scene, scene_error) = match load_scene(&scene_path) {
        Ok(scene) => (Some(scene), None),
        Err(error) => (None, Some(error.to_string())),
    };
    if let Some(error) = &scene_error {
        eprintln!("error: {error}");
    }
    let store = scene
        .as_ref()
        .map(LoadedScene::new_store)
        .unwrap_or_else(|| TwinStore::new(StoreConfig::default(), RuleSet::default()));

    let (broker, embedded, simulator) = match &args.broker {
        Some(broker) => (broker.clone(), false, None),
        None => {
            let embedded = start_embedded_broker(None).context("starting the embedded MQTT broker")?;
            let mut config = SimConfig::new(embedded.address.clone());
            config.rate_hz = args.sim_rate;
            let simulator = spawn_simulator(config).context("starting the plant simulator")?;
            (embedded.address, true, Some(simulator))
        }
    };
    let (ingest, batches) = spawn_ingest(IngestConfig::new(broker.clone()), Box::new(ThinEdgeSchema::default()))?;
    let stats = ingest.stats.clone();

    let title = format!("twinscope — {}", scene.as_ref().map_or("no scene", LoadedScene::name));
    let asset_root = scene
        .as_ref()
        .and_then(|s| s.model_path.parent())
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_owned()))
        .unwrap_or_else(|| Path::new(".").to_owned());

    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title,
                    resolution: WindowResolution::new(args.window_size.0, args.window_size.1),
                    ..default()
                }),
                ..default()
            })
            .set(AssetPlugin {
                file_path: asset_root.display().to_string(),
                meta_check: AssetMetaCheck::Never,
                ..default()
            })
            .set(LogPlugin {
                filter: "info,wgpu=error,naga=warn,rumqttd=off,rumqttc=warn,bevy_render=warn,bevy_winit=warn".into(),
                ..default()
            }),
    )
    .add_plugins((MeshPickingPlugin, TwinscopePlugins))
    .insert_resource(TwinState { store })
    .insert_resource(IngestLink { batches, stats })
    .insert_resource(ConnectionInfo { broker: broker.to_string(), embedded })
    .insert_resource(BackgroundThreads { _ingest: ingest, _simulator: simulator })
    .insert_resource(CaptureRequest { screenshot: args.screenshot.clone(), exit_after: args.exit_after });
    if let Some(scene) = &scene {
        app.insert_resource(SceneSource {
            model_asset: scene.model_path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
            scene_index: scene.model.scene_index,
            extras_key: scene.manifest.binding.extras_key.clone(),
            name_patterns: scene.manifest.binding.name_patterns.iter().filter_map(|p| NamePattern::parse(p).ok()).collect(),
            model_file: scene.model_path.clone(),
        });
    }
    if let Some(error) = scene_error {
        app.insert_resource(SceneStatus::failed(error));
    }
    if let Some(twin) = &args.select {
        app.insert_resource(InitialSelection(twin.clone()));
    }
    let exit = app.run();
    Ok(match exit {
        AppExit::Success => ExitCode::SUCCESS,
        AppExit::Error(code) => ExitCode::from(code.get()),
    })
}
