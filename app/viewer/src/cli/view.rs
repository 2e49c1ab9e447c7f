//! The viewer: by default an embedded broker and simulator feed the demo plant; with
//! `--broker` a real broker does.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use bevy::asset::AssetMetaCheck;
use bevy::log::LogPlugin;
use bevy::picking::mesh_picking::MeshPickingPlugin;
use bevy::prelude::*;
use bevy::window::{ExitCondition, WindowResolution};
use twinscope::history::dvr::Dvr;
use twinscope::history::opening::{OpenFor, OpeningRecording};
use twinscope::history::recording::LiveRecorder;
use twinscope::prelude::*;
use twinscope::scene::binding::SceneStatus;
use twinscope::scene::capture::CaptureRequest;
use twinscope::scene::selection::InitialSelection;
use twinscope::store::sync::StoreTemplate;
use twinscope_core::broker::start_embedded_broker;
use twinscope_core::connection::ConnectionSettings;
use twinscope_core::ingest::{IngestConfig, IngestHandle, spawn_ingest};
use twinscope_core::manifest::{LoadedScene, load_scene};
use twinscope_core::rules::RuleSet;
use twinscope_core::sim::{SimConfig, SimHandle, spawn_simulator};
use twinscope_core::time_zone::PlantClock;
use twinscope_core::twin::{StoreConfig, TwinStore};

use twinscope::store::alarm_actions::{AckPublisher, AlarmExport};
use twinscope::ui::{PanelState, UiCost};
use twinscope_core::ingest::Publisher;

use super::{FocusAtStart, PanelsAtStart, ViewArgs};

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
    let fresh_store = {
        let scene = scene.clone();
        move || {
            scene
                .as_ref()
                .map(LoadedScene::new_store)
                .unwrap_or_else(|| TwinStore::new(StoreConfig::default(), RuleSet::default()))
        }
    };
    let store = fresh_store();
    if let Some(path) = &args.replay {
        return run_replay(
            args.clone(),
            path,
            scene,
            scene_error,
            store,
            Box::new(fresh_store),
        );
    }

    let (connection, embedded, simulator) = if args.connect.names_a_broker() {
        (args.connect.resolve(None)?, false, None)
    } else {
        let embedded = start_embedded_broker(None).context("starting the embedded MQTT broker")?;
        let mut config = SimConfig::new(embedded.address.clone());
        config.rate_hz = args.sim_rate;
        let simulator = spawn_simulator(config).context("starting the plant simulator")?;
        (
            ConnectionSettings::plain(embedded.address),
            true,
            Some(simulator),
        )
    };
    let mut schemas = args.schemas.choice();
    schemas.json_sources = scene
        .as_ref()
        .map(|s| s.manifest.sources.clone())
        .unwrap_or_default();
    let (ingest, batches) = spawn_ingest(
        IngestConfig::new(connection.clone()),
        Box::new(schemas.build()),
    )?;
    let stats = ingest.stats.clone();

    let template = StoreTemplate(std::sync::Arc::new(fresh_store));
    let mut app = viewer_app(&args, scene.as_ref(), scene_error, store)?;
    // A session on the plant's broker is recorded with the plant (the record button and the
    // DVR): a replay shows who stood where, pointed at what, wrote which note.
    let same_broker =
        args.session.session_broker.is_none() && args.session.session_profile.is_none();
    let session_topics: Vec<String> = args
        .session
        .topics()?
        .filter(|_| same_broker)
        .map(|t| t.filter())
        .into_iter()
        .collect();
    if args.dvr_minutes > 0.0 && !args.xr {
        let window = std::time::Duration::from_secs_f64(args.dvr_minutes * 60.0);
        let mut dvr = Dvr::new(connection.clone(), window, plant_clock(&args));
        dvr.schemas = schemas.for_replay();
        dvr.extra_topics = session_topics.clone();
        app.insert_resource(dvr);
    }
    if args.publish_acks {
        let publisher = Publisher::connect(connection.clone(), "acks")
            .context("starting the acknowledgement publisher")?;
        app.insert_resource(AckPublisher {
            publisher,
            root: "te".into(),
        });
        tracing::info!(broker = %connection.describe(), "acknowledgements will be published as thin-edge events");
    }
    let session_connection = args
        .session
        .connection(&args.connect, Some(&connection))?
        .unwrap_or_else(|| connection.clone());
    // A session on a broker of its own goes into the DVR's segments over a second connection.
    if !same_broker
        && let Some(topics) = args.session.topics()?
        && let Some(mut dvr) = app.world_mut().get_resource_mut::<Dvr>()
    {
        dvr.session = Some((session_connection.clone(), vec![topics.filter()]));
    }
    start_operations(&mut app, &args, &connection, scene.as_ref())?;
    // The archive: a connection and thread of its own, never on the frame or ingest path.
    if let Some(dir) = &args.archive.archive {
        let live = twinscope_core::archive::start_live_archive(
            IngestConfig::new(connection.clone()),
            dir,
            &schemas.for_replay(),
            args.archive.options()?,
        )
        .map_err(|e| anyhow::anyhow!("--archive: {e}"))?;
        tracing::info!(archive = %dir.display(), "archiving live data");
        app.insert_resource(twinscope::archive::LiveArchiving(live));
    }
    if !args.xr {
        let mut recorder = LiveRecorder::new(connection.clone(), args.record_dir.clone());
        recorder.topics = schemas.subscriptions();
        recorder.schemas = schemas.for_replay();
        recorder.topics.extend(session_topics);
        // A session on a broker of its own is recorded into the same file, over a second connection.
        if !same_broker && let Some(topics) = args.session.topics()? {
            recorder.session = Some((session_connection.clone(), vec![topics.filter()]));
        }
        app.insert_resource(recorder);
    }
    take_part_in_sessions(&mut app, &args, &session_connection)?;
    app.insert_resource(template)
        .insert_resource(IngestLink { batches, stats })
        .insert_resource(ConnectionInfo {
            broker: connection.describe(),
            embedded,
            speaks: schemas.describe(),
        })
        .insert_resource(BackgroundThreads {
            _ingest: ingest,
            _simulator: simulator,
        });
    Ok(exit_code(app.run()))
}

/// The operations link (capabilities and commands are shown read-only unless
/// --allow-operations).
fn start_operations(
    app: &mut App,
    args: &ViewArgs,
    connection: &ConnectionSettings,
    scene: Option<&LoadedScene>,
) -> anyhow::Result<()> {
    use twinscope_core::operations::audit::{Actor, default_audit_path};
    use twinscope_core::operations::{
        AllowRule, OperationPolicy, OperationsConfig, OperationsLink,
    };
    // The command line's and the scene's (`[operations] allow`) together.
    let mut from_scene = scene
        .map(|s| s.manifest.operations.allow.clone())
        .unwrap_or_default();
    // And the connection profile's `allow_operations`.
    from_scene.extend(args.connect.profile_allowed_operations()?);
    let allow = args
        .allow_operation
        .iter()
        .chain(&from_scene)
        .map(|a| AllowRule::parse(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let audit_path = args.audit_log.clone().or_else(default_audit_path);
    let config = OperationsConfig {
        root: "te".into(),
        policy: OperationPolicy {
            enabled: args.allow_operations,
            dry_run: args.dry_run_operations,
            allow,
            replay: false,
        },
        no_response_after: args.operation_timeout,
        journal_path: audit_path
            .as_ref()
            .map(|p| p.with_file_name("operations-journal.jsonl")),
        audit_path,
        actor: Actor::local(args.session.user.as_deref()),
        file_transfer: args
            .file_transfer
            .as_ref()
            .map(|u| u.trim_end_matches('/').to_owned()),
        write_confirm_within: std::time::Duration::from_secs(10),
    };
    let link =
        OperationsLink::start(connection, config).context("starting the operations connection")?;
    if args.allow_operations {
        tracing::info!(audit = ?args.audit_log, "operations on devices are allowed (each confirmed and audited)");
    }
    app.insert_resource(twinscope::operations::PlantOperations(link));
    app.insert_resource(twinscope::operations::OperationsUi {
        save_dir: args.record_dir.clone(),
        ..Default::default()
    });
    Ok(())
}

/// Joins the session `--session` names (on the session's connection), or, without one, lets
/// the UI start one; either way the hand-over command is this process's.
fn take_part_in_sessions(
    app: &mut App,
    args: &ViewArgs,
    connection: &ConnectionSettings,
) -> anyhow::Result<()> {
    let device = if args.xr {
        twinscope_core::session::Device::Headset
    } else {
        twinscope_core::session::Device::Desktop
    };
    let program = std::env::current_exe().unwrap_or_else(|_| "twinscope".into());
    app.insert_resource(twinscope::session::HandOverCommand::from_command_line(
        program,
        std::env::args().skip(1),
    ));
    let Some(topics) = args.session.topics()? else {
        if let Ok(Some(me)) = args.session.presence(device) {
            app.insert_resource(twinscope::session::SessionStarter {
                connection: connection.clone(),
                root: args.session.session_root.clone(),
                me,
            });
        }
        return Ok(());
    };
    let me = args.session.presence(device)?;
    let link = twinscope_core::session::SessionLink::join(connection, topics, me)
        .context("joining the session")?;
    tracing::info!(user = link.user(), broker = %connection.describe(), "joined the session");
    app.insert_resource(twinscope::session::SharedSession(link));
    if let Some(user) = &args.session.follow {
        app.insert_resource(twinscope::session::Following(Some(user.clone())));
    }
    Ok(())
}

/// The viewer fed by a recording on a timeline.
fn run_replay(
    args: ViewArgs,
    path: &Path,
    scene: Option<LoadedScene>,
    scene_error: Option<String>,
    store: TwinStore,
    fresh_store: Box<dyn Fn() -> TwinStore + Send + Sync>,
) -> anyhow::Result<ExitCode> {
    let mut schemas = args.schemas.choice().for_replay();
    schemas.json_sources = scene
        .as_ref()
        .map(|s| s.manifest.sources.clone())
        .unwrap_or_default();
    // A file that is not there or not MCAP fails at once; the rest (reading, indexing) runs
    // on a thread while the window shows its progress.
    if let Err(error) = twinscope_core::mcap::McapFile::check_magic(path) {
        eprintln!("error: {error}");
        return Ok(ExitCode::FAILURE);
    }
    let opening = OpeningRecording::start(
        path,
        schemas,
        OpenFor::Replay,
        std::sync::Arc::from(fresh_store),
        plant_clock(&args),
    );
    // A replay has no broker of its own: it joins a live session on --session-broker or
    // --session-profile; with neither, --session NAME shows the session the recording holds.
    let session_connection = args.session.connection(&args.connect, None)?;
    let recorded = match (&session_connection, args.session.topics()?) {
        (None, Some(topics)) => {
            let name = topics.name().to_owned();
            let recorded = twinscope_core::session::recorded::RecordedSession::load(path, topics)?;
            anyhow::ensure!(
                !recorded.is_empty(),
                "{} holds nothing of session {name}: a replay shows a session recorded with the plant, or joins a live one on --session-broker URL (or --session-profile NAME)",
                path.display()
            );
            tracing::info!(session = %name, messages = recorded.len(), "showing the session recorded with the plant");
            Some(twinscope::session::recorded::RecordedSessionView::new(
                recorded,
            ))
        }
        _ => None,
    };
    let mut app = viewer_app(&args, scene.as_ref(), scene_error, store)?;
    if let Some(recorded) = recorded {
        app.insert_resource(recorded);
    }
    app.insert_resource(opening)
        .insert_resource(ConnectionInfo {
            broker: format!("replay of {}", path.display()),
            embedded: false,
            speaks: String::new(),
        });
    if let Some(connection) = session_connection {
        take_part_in_sessions(&mut app, &args, &connection)?;
    }
    Ok(exit_code(app.run()))
}

/// The plant's clock: `--utc-offset` (fixed), else `--tz`, else this machine's zone (with
/// daylight saving; UTC where it has none).
fn plant_clock(args: &ViewArgs) -> PlantClock {
    match (&args.utc_offset, &args.tz) {
        (Some(offset), _) => PlantClock::Fixed(*offset),
        (None, Some(zone)) => PlantClock::Zone(zone.clone()),
        (None, None) => PlantClock::Zone(std::sync::Arc::new(
            twinscope_core::time_zone::TimeZone::local(),
        )),
    }
}

fn exit_code(exit: AppExit) -> ExitCode {
    match exit {
        AppExit::Success => ExitCode::SUCCESS,
        AppExit::Error(code) => ExitCode::from(code.get()),
    }
}

/// The Bevy app with twinscope's plugins and the scene, without a data source: the desktop
/// viewer, or with `--xr` the headset app (an error when no OpenXR runtime can be used).
/// With `--archive`: the Trends window reads it, and `--trend` opens properties in it.
fn open_archive(app: &mut App, args: &ViewArgs) {
    let Some(dir) = &args.archive.archive else {
        return;
    };
    app.insert_resource(twinscope::archive::ArchiveSource { root: dir.clone() })
        .insert_resource(twinscope::archive::TrendSpanAtStart(
            args.trend_span.as_micros().min(i64::MAX as u128) as i64,
        ));
    for trend in &args.trend {
        let (twin, property) = trend.rsplit_once(':').unwrap_or((trend.as_str(), ""));
        app.world_mut()
            .write_message(twinscope::archive::OpenTrend {
                twin: twin.to_owned(),
                property: property.to_owned(),
            });
    }
}

fn viewer_app(
    args: &ViewArgs,
    scene: Option<&LoadedScene>,
    scene_error: Option<String>,
    store: TwinStore,
) -> anyhow::Result<App> {
    let title = format!(
        "twinscope — {}",
        scene.map_or("no scene", LoadedScene::name)
    );
    let asset_root = scene.map_or_else(
        || Path::new(".").to_owned(),
        |s| twinscope::scene::binding::asset_root(&s.model_path),
    );
    let plugins = DefaultPlugins
        .set(AssetPlugin {
            file_path: asset_root.display().to_string(),
            meta_check: AssetMetaCheck::Never,
            ..default()
        })
        .set(LogPlugin {
            filter: "info,wgpu=error,naga=warn,rumqttd=off,rumqttc=warn,bevy_render=warn,bevy_winit=warn".into(),
            ..default()
        });

    let mut app = App::new();
    // Before `AssetPlugin`: the progress bar counts the bytes the file reader hands out.
    twinscope::scene::model_load::count_bytes_read(&mut app, &asset_root);
    if args.xr {
        add_headset_plugins(&mut app, plugins, args)?;
    } else {
        if args.offscreen {
            app.add_plugins(
                plugins
                    .set(WindowPlugin {
                        primary_window: None,
                        exit_condition: ExitCondition::DontExit,
                        close_when_requested: false,
                        ..default()
                    })
                    .disable::<bevy::winit::WinitPlugin>(),
            )
            .add_plugins(bevy::app::ScheduleRunnerPlugin::run_loop(
                std::time::Duration::ZERO,
            ))
            .add_plugins(twinscope::scene::offscreen::OffscreenPlugin {
                size: UVec2::new(args.window_size.0, args.window_size.1),
            });
        } else {
            app.add_plugins(plugins.set(WindowPlugin {
                primary_window: Some(Window {
                    title,
                    resolution: WindowResolution::new(args.window_size.0, args.window_size.1),
                    ..default()
                }),
                ..default()
            }));
        }
        app.add_plugins((MeshPickingPlugin, TwinscopePlugins))
            .insert_resource(CaptureRequest {
                screenshot: args.screenshot.clone(),
                exit_after: args.exit_after,
                state_out: args.state_out.clone(),
            });
    }
    app.insert_resource(TwinState { store });
    if let Some(scene) = scene {
        app.insert_resource(SceneSource {
            model_asset: scene
                .model_path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            scene_index: scene.model.scene_index,
            node_twins: scene.binding.by_gltf_node(&scene.model),
            model_file: scene.model_path.clone(),
            metres_per_unit: scene.manifest.scene.units.metres(),
            model_bytes: scene.model.file_bytes,
        });
    }
    if let Some(error) = scene_error {
        app.insert_resource(SceneStatus::failed(error));
    }
    if let Some(twin) = &args.select {
        app.insert_resource(InitialSelection(twin.clone()));
    }
    let mut panels = match args.panels {
        PanelsAtStart::Open => PanelState::default(),
        PanelsAtStart::Closed => PanelState::closed(),
    };
    panels.expand_tree_on_start = args.expand_tree;
    panels.clock = plant_clock(args);
    app.insert_resource(panels).insert_resource(AlarmExport {
        folder: args.alarm_export_dir.clone(),
        last: None,
    });
    if args.exit_after.is_some() {
        app.init_resource::<UiCost>();
    }
    match args.focus {
        Some(FocusAtStart::Isolate) => app.insert_resource(FocusMode::Isolate),
        Some(FocusAtStart::Xray) => app.insert_resource(FocusMode::XRay),
        None => &mut app,
    };
    open_archive(&mut app, args);
    Ok(app)
}

/// Bevy's plugins on the OpenXR-created device, no window (the headset is the display),
/// frames paced by the runtime, and twinscope's headset plugins. bevy_mod_openxr falls back
/// to a desktop renderer when no runtime can be used; headset mode refuses that with one
/// line saying why.
fn add_headset_plugins(
    app: &mut App,
    plugins: bevy::app::PluginGroupBuilder,
    args: &ViewArgs,
) -> anyhow::Result<()> {
    use bevy_mod_xr::session::XrState;
    let plugins = plugins
        .set(WindowPlugin {
            primary_window: None,
            exit_condition: ExitCondition::DontExit,
            close_when_requested: false,
            ..default()
        })
        .disable::<bevy::winit::WinitPlugin>();
    // When a session ends, the render world can still queue a command for the eye cameras
    // the session just took away; that must be a warning, not a crash at exit.
    app.set_error_handler(bevy::ecs::error::warn);
    let xr_plugins =
        bevy_mod_openxr::add_xr_plugins(plugins).set(bevy_mod_openxr::init::OxrInitPlugin {
            exts: twinscope::xr::wanted_extensions(),
            ..default()
        });
    app.add_plugins(xr_plugins)
        .add_plugins(bevy::app::ScheduleRunnerPlugin::run_loop(
            std::time::Duration::ZERO,
        ))
        .add_plugins(twinscope::xr::XrViewerPlugins {
            exit_after: args.exit_after,
            start_timeout: std::time::Duration::from_secs(60),
            snap_turn: twinscope::xr::SnapTurn(args.snap_turn.to_radians()),
        });
    if let Some(twin) = &args.start_at {
        app.insert_resource(twinscope::xr::StartAt(twin.clone()));
    }
    if let Some(path) = &args.screenshot {
        // At --screenshot-at, or 3 s before --exit-after (required with --screenshot), at
        // least 2 s in.
        let before_exit = args
            .exit_after
            .unwrap_or_default()
            .saturating_sub(std::time::Duration::from_secs(3));
        let at = args
            .screenshot_at
            .unwrap_or(before_exit)
            .max(std::time::Duration::from_secs(2));
        app.add_plugins(twinscope::xr::XrEyeImagePlugin {
            path: path.clone(),
            at,
        });
    }
    if app
        .world()
        .get_resource::<XrState>()
        .is_none_or(|state| *state == XrState::Unavailable)
    {
        anyhow::bail!(
            "headset mode needs an OpenXR runtime, and none could be used (the log line above says why): start your headset's runtime (Monado, SteamVR, WiVRn…) or point XR_RUNTIME_JSON at it"
        );
    }
    Ok(())
}
