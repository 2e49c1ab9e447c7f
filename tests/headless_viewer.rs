//! The viewer's plugins headless: `MinimalPlugins` plus twinscope's sync, binding and selection
//! plugins, no renderer. Entities stand in for a spawned glTF scene: under the model's root,
//! tagged with their glTF node index as the loader hook tags them.

use std::time::Duration;

use bevy::camera::NormalizedRenderTarget;
use bevy::picking::backend::HitData;
use bevy::picking::events::{Click, Pointer};
use bevy::picking::pointer::{Location, PointerButton, PointerId};
use bevy::prelude::*;
use twinscope::prelude::*;
use twinscope::scene::binding::SceneBindingPlugin;
use twinscope::scene::binding::{GltfNodeIndex, SceneModelRoot};
use twinscope::scene::selection::SelectionPlugin;
use twinscope::store::sync::TwinSyncPlugin;
use twinscope_core::Timestamp;
use twinscope_core::TwinUpdate;
use twinscope_core::ingest::{BatchSender, IngestStats, UpdateBatch, batch_channel};
use twinscope_core::rules::RuleSet;
use twinscope_core::twin::{Severity, Status, StoreConfig, TwinStore};

#[path = "headless_viewer/store_order.rs"]
mod store_order;

struct Scene {
    app: App,
    sender: BatchSender,
    pump: Entity,
    pump_mesh: Entity,
    seal: Entity,
    seal_mesh: Entity,
}

/// The glTF nodes the core bound: 0 the plant, 1 the pump, 2 its seal, 3 a tank.
fn test_scene_source() -> SceneSource {
    let bound = [
        (0, "main"),
        (1, "line1-pump1"),
        (2, "line1-pump1-seal"),
        (3, "line1-tank1"),
    ];
    SceneSource {
        model_asset: String::new(),
        scene_index: 0,
        node_twins: bound
            .into_iter()
            .map(|(node, twin)| (node, twin.to_owned()))
            .collect(),
        model_file: "test.glb".into(),
        metres_per_unit: 1.0,
        model_bytes: 0,
    }
}

fn scene() -> Scene {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins).add_plugins((
        TwinSyncPlugin,
        SceneBindingPlugin,
        SelectionPlugin,
    ));
    let (sender, batches) = batch_channel();
    let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
    store.declare("main", None, None);
    store.declare("line1-pump1", Some("main"), Some("Pump 1"));
    app.insert_resource(TwinState { store })
        .insert_resource(IngestLink {
            batches,
            stats: IngestStats::new(),
        })
        .insert_resource(test_scene_source());
    let world = app.world_mut();
    let pump_mesh = world
        .spawn((GltfNodeIndex(10), Mesh3d(Handle::default())))
        .id();
    let seal_mesh = world
        .spawn((GltfNodeIndex(11), Mesh3d(Handle::default())))
        .id();
    let seal = world.spawn(GltfNodeIndex(2)).add_child(seal_mesh).id();
    let pump = world
        .spawn(GltfNodeIndex(1))
        .add_children(&[pump_mesh, seal])
        .id();
    let plant = world.spawn(GltfNodeIndex(0)).add_child(pump).id();
    world.spawn(SceneModelRoot).add_child(plant);
    // Another glTF's node 3 (a controller model, say) is not the tank.
    world.spawn(GltfNodeIndex(3));
    app.update();
    Scene {
        app,
        sender,
        pump,
        pump_mesh,
        seal,
        seal_mesh,
    }
}

fn send(sender: &BatchSender, updates: Vec<TwinUpdate>) {
    sender
        .send(UpdateBatch::new(Timestamp::now(), updates))
        .unwrap();
}

#[test]
fn nodes_bind_by_the_core_s_node_indices_with_their_own_meshes() {
    let mut scene = scene();
    let world = scene.app.world_mut();
    let pump_twin = world.get::<BoundTwin>(scene.pump).expect("pump bound").0;
    let seal_twin = world.get::<BoundTwin>(scene.seal).expect("seal bound").0;
    let outside = world
        .query_filtered::<Entity, With<BoundTwin>>()
        .iter(world)
        .count();
    assert_eq!(
        outside, 3,
        "plant, pump and seal; not the other glTF's node"
    );
    let state = world.resource::<TwinState>();
    assert_eq!(state.store.get(pump_twin).id.as_str(), "line1-pump1");
    assert_eq!(state.store.get(seal_twin).id.as_str(), "line1-pump1-seal");
    assert_eq!(
        world.get::<TwinMeshes>(scene.pump).unwrap().0,
        vec![scene.pump_mesh],
        "the seal's mesh is the seal's, not the pump's"
    );
    assert_eq!(
        world.get::<TwinMeshes>(scene.seal).unwrap().0,
        vec![scene.seal_mesh]
    );
}

/// A whole plant changing at once (first contact, everything stale) is restyled over a few
/// frames, at most `RESTYLED_PER_FRAME` twins each, in the order the changes came and each twin
/// once however often it changed while it waited; a lone change after that shows at once.
#[test]
fn a_whole_plant_changing_at_once_is_restyled_over_a_few_frames() {
    use twinscope::store::sync::{RESTYLED_PER_FRAME, TwinEntities};
    const TWINS: usize = 5_000;
    let mut app = App::new();
    app.add_plugins(MinimalPlugins).add_plugins(TwinSyncPlugin);
    let (sender, batches) = batch_channel();
    let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
    let ids: Vec<String> = (0..TWINS).map(|n| format!("twin{n}")).collect();
    let indices: Vec<_> = ids.iter().map(|id| store.declare(id, None, None)).collect();
    app.insert_resource(TwinState { store })
        .insert_resource(IngestLink {
            batches,
            stats: IngestStats::new(),
        });
    let parts: Vec<Entity> = indices
        .iter()
        .map(|_| app.world_mut().spawn(TwinVisualState::default()).id())
        .collect();
    app.world_mut()
        .resource_mut::<TwinEntities>()
        .by_twin
        .extend(
            indices
                .iter()
                .zip(&parts)
                .map(|(index, part)| (*index, vec![*part])),
        );
    app.update();
    let shown_ok = |app: &App| {
        parts
            .iter()
            .filter(|p| app.world().get::<TwinVisualState>(**p).unwrap().status == Status::Ok)
            .count()
    };
    assert_eq!(shown_ok(&app), 0);
    let measure = |value: f64| {
        ids.iter()
            .map(|id| TwinUpdate::Measurement {
                twin: id.as_str().into(),
                name: "flow".into(),
                value,
                time: Timestamp::now(),
            })
            .collect()
    };
    send(&sender, measure(1.0));
    app.update();
    assert_eq!(
        shown_ok(&app),
        RESTYLED_PER_FRAME,
        "one frame restyles at most its share"
    );
    assert!(
        parts[..RESTYLED_PER_FRAME].iter().all(|p| app
            .world()
            .get::<TwinVisualState>(*p)
            .unwrap()
            .status
            == Status::Ok),
        "in the order they changed"
    );
    // A twin still waiting goes into alarm: restyled once, in its place, to its latest look.
    // One already shown does too: it waits behind the others.
    let alarm = |id: &str| TwinUpdate::AlarmRaised {
        twin: id.into(),
        alarm_type: "leak".into(),
        severity: Severity::Critical,
        text: "Leak".into(),
        time: Timestamp::now(),
    };
    send(&sender, vec![alarm("twin4000"), alarm("twin10")]);
    app.update();
    assert_eq!(
        shown_ok(&app),
        2 * RESTYLED_PER_FRAME,
        "twin10 keeps its look until its turn"
    );
    app.update();
    assert_eq!(
        shown_ok(&app),
        TWINS - 2,
        "every twin shown after {} frames",
        TWINS.div_ceil(RESTYLED_PER_FRAME)
    );
    for part in [parts[4000], parts[10]] {
        assert_eq!(
            app.world().get::<TwinVisualState>(part).unwrap().status,
            Status::Alarm
        );
    }
    app.update();
    send(&sender, vec![alarm("twin4999")]);
    app.update();
    assert_eq!(
        app.world()
            .get::<TwinVisualState>(parts[TWINS - 1])
            .unwrap()
            .status,
        Status::Alarm,
        "a lone change shows at once"
    );
}

#[test]
fn updates_reach_the_bound_entities_within_one_frame() {
    let mut scene = scene();
    assert_eq!(
        scene
            .app
            .world()
            .get::<TwinVisualState>(scene.pump)
            .unwrap()
            .status,
        Status::Unknown
    );
    let now = Timestamp::now();
    send(
        &scene.sender,
        vec![TwinUpdate::Measurement {
            twin: "line1-pump1".into(),
            name: "flow".into(),
            value: 48.0,
            time: now,
        }],
    );
    scene.app.update();
    assert_eq!(
        scene
            .app
            .world()
            .get::<TwinVisualState>(scene.pump)
            .unwrap()
            .status,
        Status::Ok
    );
    let alarm = TwinUpdate::AlarmRaised {
        twin: "line1-pump1-seal".into(),
        alarm_type: "leak".into(),
        severity: Severity::Major,
        text: "Seal leaking".into(),
        time: now,
    };
    send(&scene.sender, vec![alarm]);
    scene.app.update();
    let world = scene.app.world();
    assert_eq!(
        world.get::<TwinVisualState>(scene.seal).unwrap().status,
        Status::Alarm
    );
    assert_eq!(
        world.get::<TwinVisualState>(scene.pump).unwrap().status,
        Status::Ok,
        "only the seal is in alarm"
    );
    let store = &world.resource::<TwinState>().store;
    assert_eq!(
        store
            .twin("line1-pump1")
            .unwrap()
            .property("flow")
            .unwrap()
            .value,
        48.0
    );
}

#[test]
fn selection_follows_commands_and_picks_on_parts() {
    let mut scene = scene();
    let seal_twin = scene.app.world().get::<BoundTwin>(scene.seal).unwrap().0;
    let pump_twin = scene.app.world().get::<BoundTwin>(scene.pump).unwrap().0;
    scene
        .app
        .world_mut()
        .write_message(SelectTwin(Some(pump_twin)));
    scene.app.update();
    assert_eq!(
        scene.app.world().resource::<Selection>().twin,
        Some(pump_twin)
    );

    // A click on the seal's mesh selects the seal (the nearest bound ancestor), as in 3D.
    let camera = scene.app.world_mut().spawn_empty().id();
    let location = Location {
        target: NormalizedRenderTarget::None {
            width: 1,
            height: 1,
        },
        position: Vec2::ZERO,
    };
    let click = Click {
        button: PointerButton::Primary,
        hit: HitData::new(camera, 1.0, None, None),
        duration: Duration::ZERO,
        count: 1,
    };
    scene.app.world_mut().write_message(Pointer::new(
        PointerId::Mouse,
        location,
        click,
        scene.seal_mesh,
    ));
    scene.app.update();
    assert_eq!(
        scene.app.world().resource::<Selection>().twin,
        Some(seal_twin)
    );

    scene.app.world_mut().write_message(SelectTwin(None));
    scene.app.update();
    assert_eq!(scene.app.world().resource::<Selection>().twin, None);
}

// ---- replay ------------------------------------------------------------------------------------

mod replay {
    use super::*;
    use twinscope::history::replay::{ReplayCommand, ReplayPlugin, ReplaySession};
    use twinscope_core::mcap::{Delivery, McapWriter};
    use twinscope_core::replay::Recording;

    const SECOND: u64 = 1_000_000_000;
    const T0: u64 = 1_700_000_000 * SECOND;

    /// 60 s of one pump at 1 Hz; an alarm from 20 s to 40 s.
    fn recording() -> Recording {
        let path = recording_file();
        let recording = Recording::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        recording
    }

    fn recording_file() -> std::path::PathBuf {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "twinscope-headless-replay-{}-{n}.mcap",
            std::process::id()
        ));
        let mut writer = McapWriter::create(&path).unwrap();
        let live = Delivery {
            qos: 0,
            retain: false,
        };
        for s in 0..=60u64 {
            writer
                .write(
                    "te/device/line1-pump1///m/p",
                    live,
                    format!(r#"{{"flow": {s}}}"#).as_bytes(),
                    T0 + s * SECOND,
                )
                .unwrap();
            if s == 20 {
                writer
                    .write(
                        "te/device/line1-pump1///a/dry",
                        live,
                        br#"{"severity":"critical"}"#,
                        T0 + s * SECOND + 1,
                    )
                    .unwrap();
            }
            if s == 40 {
                writer
                    .write(
                        "te/device/line1-pump1///a/dry",
                        live,
                        b"",
                        T0 + s * SECOND + 1,
                    )
                    .unwrap();
            }
        }
        writer.finish().unwrap();
        path
    }

    /// `--replay FILE`: the file is opened and indexed on a thread while frames go on, with
    /// its progress counted; the replay starts when it is ready. A file that cannot be read
    /// becomes an error to show, not a panic.
    #[test]
    fn a_recording_opens_on_a_thread_and_then_plays() {
        use twinscope::history::opening::{OpenFor, OpeningRecording, RecordingError};
        let fresh = || TwinStore::new(StoreConfig::default(), RuleSet::default());
        let open = |path: &std::path::Path| {
            let mut app = App::new();
            app.add_plugins(MinimalPlugins)
                .add_plugins((TwinSyncPlugin, ReplayPlugin));
            app.insert_resource(TwinState { store: fresh() });
            // Frames already running when the recording is ready (as on a busy machine): the
            // frame the replay starts in comes some time after the one before.
            app.update();
            let opening = OpeningRecording::start(
                path,
                twinscope_core::schema::combined::SchemaChoice::replay(),
                OpenFor::Replay,
                std::sync::Arc::new(fresh),
                Default::default(),
            );
            let progress = opening.progress.clone();
            app.insert_resource(opening);
            std::thread::sleep(Duration::from_millis(30));
            let end = std::time::Instant::now() + Duration::from_secs(20);
            while app.world().get_resource::<OpeningRecording>().is_some()
                && std::time::Instant::now() < end
            {
                app.update();
                std::thread::sleep(Duration::from_millis(5));
            }
            (app, progress)
        };
        let path = recording_file();
        let (app, progress) = open(&path);
        let session = app
            .world()
            .get_resource::<ReplaySession>()
            .expect("the replay started");
        assert!(
            session.playing && session.position == at(0),
            "the first frame shows the start: {}",
            session.position
        );
        let chunks = progress.chunks.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            chunks > 0
                && progress
                    .chunks_done
                    .load(std::sync::atomic::Ordering::Relaxed)
                    == chunks,
            "every chunk counted"
        );
        assert_eq!(flow(&app), 0.0, "the state at the start");
        std::fs::remove_file(&path).unwrap();

        let (app, _) = open(std::path::Path::new("/nonexistent/twinscope.mcap"));
        assert!(app.world().get_resource::<ReplaySession>().is_none());
        let error = app
            .world()
            .get_resource::<RecordingError>()
            .expect("the error is kept to show");
        assert!(
            error.0.contains("/nonexistent/twinscope.mcap"),
            "{}",
            error.0
        );
    }

    fn at(seconds: u64) -> Timestamp {
        twinscope_core::replay::timestamp_of(T0 + seconds * SECOND)
    }

    fn replay_app() -> App {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .add_plugins((TwinSyncPlugin, ReplayPlugin));
        let fresh = || TwinStore::new(StoreConfig::default(), RuleSet::default());
        let mut store = fresh();
        let mut recording = recording();
        recording.state_at(&mut store, at(0)).unwrap();
        app.insert_resource(TwinState { store })
            .insert_resource(ReplaySession::new(
                recording,
                (at(0), at(60)),
                at(0),
                twinscope_core::time_zone::PlantClock::Fixed(3600),
                std::sync::Arc::new(fresh),
            ));
        app.update();
        app
    }

    fn flow(app: &App) -> f64 {
        app.world()
            .resource::<TwinState>()
            .store
            .twin("line1-pump1")
            .unwrap()
            .property("flow")
            .unwrap()
            .value
    }

    fn status(app: &App) -> Status {
        app.world()
            .resource::<TwinState>()
            .store
            .twin("line1-pump1")
            .unwrap()
            .status
    }

    #[test]
    fn seek_step_and_alarm_jumps_drive_the_twin_state() {
        let mut app = replay_app();
        assert_eq!(flow(&app), 0.0);
        app.world_mut().write_message(ReplayCommand::SeekTo(at(30)));
        app.update();
        assert_eq!((flow(&app), status(&app)), (30.0, Status::Alarm));
        app.world_mut().write_message(ReplayCommand::Step(15.0));
        app.update();
        assert_eq!(
            (flow(&app), status(&app)),
            (45.0, Status::Ok),
            "stepping forward plays through the clear"
        );
        app.world_mut().write_message(ReplayCommand::Step(-35.0));
        app.update();
        assert_eq!(
            (flow(&app), status(&app)),
            (10.0, Status::Ok),
            "stepping back seeks"
        );
        app.world_mut().write_message(ReplayCommand::NextAlarm);
        app.update();
        assert_eq!(status(&app), Status::Alarm);
        let position = app.world().resource::<ReplaySession>().position;
        assert!(
            position > at(20) && position.0 <= at(20).0 + 1,
            "jumped to {position}"
        );
        app.world_mut().write_message(ReplayCommand::NextAlarm);
        app.update();
        assert_eq!(
            status(&app),
            Status::Ok,
            "the next transition is the clear at 40 s"
        );
        app.world_mut().write_message(ReplayCommand::PreviousAlarm);
        app.update();
        assert_eq!(status(&app), Status::Alarm);
        let session = app.world().resource::<ReplaySession>();
        assert_eq!(session.clock(at(0)), "2023-11-14 23:13:20.000+01:00");
    }

    /// Dragging the handle: each position's state is built off the frame, the newest position
    /// replaces one not yet built, the timeline shows the handle where the hand is meanwhile,
    /// and the store ends as a seek to the last position makes it. A click seeks at once and
    /// a scrub's late state never replaces it.
    #[test]
    fn scrubbing_builds_states_off_the_frame_and_ends_where_the_handle_is() {
        let mut app = replay_app();
        let twins_before: Vec<_> = {
            let store = &app.world().resource::<TwinState>().store;
            store.twins().map(|(_, t)| t.id.to_string()).collect()
        };
        for seconds in [2, 9, 17, 25, 33] {
            app.world_mut()
                .write_message(ReplayCommand::Scrub(at(seconds)));
            app.update();
            assert_eq!(
                app.world().resource::<ReplaySession>().handle(),
                at(seconds),
                "the handle is where the hand is"
            );
        }
        assert!(
            support_eventually(&mut app, |app| {
                let session = app.world().resource::<ReplaySession>();
                session.scrub.is_none() && session.position == at(33)
            }),
            "the last position's state arrives"
        );
        assert_eq!((flow(&app), status(&app)), (33.0, Status::Alarm));
        let store = &app.world().resource::<TwinState>().store;
        for (i, id) in twins_before.iter().enumerate() {
            assert_eq!(
                store.find(id).map(|index| index.0 as usize),
                Some(i),
                "{id} keeps its index (entities are bound by index)"
            );
        }
        // A scrub, then a click before its state is shown: the click's state stays.
        app.world_mut().write_message(ReplayCommand::Scrub(at(50)));
        app.world_mut().write_message(ReplayCommand::SeekTo(at(12)));
        app.update();
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(10));
            app.update();
            assert_eq!(
                (flow(&app), app.world().resource::<ReplaySession>().position),
                (12.0, at(12)),
                "a scrub's late state never replaces a seek made after it"
            );
        }
    }

    /// A replay across the night the clocks go forward, in the plant's named zone: the clock
    /// shows the local time the operators saw on each side of the change.
    #[test]
    fn the_replay_clock_follows_daylight_saving_in_the_plant_s_zone() {
        use twinscope_core::time_zone::{PlantClock, TimeZone};
        let Ok(berlin) = TimeZone::named("Europe/Berlin") else {
            eprintln!("SKIPPED: no Europe/Berlin in the tz database (apt-get install tzdata)");
            return;
        };
        let mut app = replay_app();
        app.world_mut().resource_mut::<ReplaySession>().plant_clock =
            PlantClock::Zone(std::sync::Arc::new(berlin));
        let session = app.world().resource::<ReplaySession>();
        let utc = |text: &str| Timestamp::parse_rfc3339(text).unwrap();
        assert_eq!(
            session.clock(utc("2026-03-29T00:59:00Z")),
            "2026-03-29 01:59:00.000+01:00"
        );
        assert_eq!(
            session.clock(utc("2026-03-29T01:01:00Z")),
            "2026-03-29 03:01:00.000+02:00"
        );
        assert_eq!(
            session.clock(utc("2026-10-25T00:30:00Z")),
            "2026-10-25 02:30:00.000+02:00"
        );
        assert_eq!(
            session.clock(utc("2026-10-25T01:30:00Z")),
            "2026-10-25 02:30:00.000+01:00",
            "the repeated hour, told apart by its offset"
        );
    }

    #[test]
    fn playing_moves_the_position_by_speed_and_loops_a_range() {
        let mut app = replay_app();
        app.world_mut().write_message(ReplayCommand::SeekTo(at(5)));
        app.world_mut().write_message(ReplayCommand::MarkLoop);
        app.update();
        app.world_mut().write_message(ReplayCommand::SeekTo(at(7)));
        app.world_mut().write_message(ReplayCommand::MarkLoop);
        app.world_mut()
            .write_message(ReplayCommand::SetSpeed(1000.0));
        app.world_mut().write_message(ReplayCommand::TogglePlay);
        app.update();
        assert_eq!(
            app.world().resource::<ReplaySession>().loop_range,
            Some((at(5), at(7)))
        );
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(2));
            app.update();
            let position = app.world().resource::<ReplaySession>().position;
            assert!(
                position >= at(5) && position <= at(7),
                "left the loop: {position}"
            );
        }
        assert!(app.world().resource::<ReplaySession>().playing);
    }
}

// ---- recording the live session -----------------------------------------------------------

#[test]
fn the_record_button_records_the_live_session_to_mcap() {
    use twinscope::history::recording::{LiveRecorder, LiveRecordingPlugin, RecordCommand};
    let broker = twinscope_core::broker::start_embedded_broker(None).unwrap();
    let dir = std::env::temp_dir().join(format!("twinscope-live-recording-{}", std::process::id()));
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins(LiveRecordingPlugin);
    app.insert_resource(LiveRecorder::new(broker.address.clone(), dir.clone()));
    app.world_mut().write_message(RecordCommand::Start);
    app.update();
    assert!(
        app.world().resource::<LiveRecorder>().progress().is_some(),
        "recording after Start"
    );

    let options = rumqttc::MqttOptions::new(
        "headless-recording-test",
        broker.address.host.clone(),
        broker.address.port,
    );
    let (client, mut connection) = rumqttc::Client::new(options, 100);
    std::thread::spawn(move || for _ in connection.iter() {});
    let recorded = |app: &App| {
        app.world()
            .resource::<LiveRecorder>()
            .active
            .as_ref()
            .map_or(0, |a| {
                a.stats.messages.load(std::sync::atomic::Ordering::Relaxed)
            })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while recorded(&app) < 5 && std::time::Instant::now() < deadline {
        client
            .publish(
                "te/device/pump1///m/p",
                rumqttc::QoS::AtLeastOnce,
                false,
                r#"{"flow": 1}"#,
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        app.update();
    }
    assert!(
        recorded(&app) >= 5,
        "the recorder received {} messages",
        recorded(&app)
    );
    app.world_mut().write_message(RecordCommand::Stop);
    app.update();
    let recorder = app.world().resource::<LiveRecorder>();
    assert!(recorder.active.is_none());
    assert!(
        recorder
            .last_message
            .as_deref()
            .unwrap_or("")
            .starts_with("finishing"),
        "the file is finished off the main thread: {:?}",
        recorder.last_message
    );
    let message = |app: &App| {
        app.world()
            .resource::<LiveRecorder>()
            .last_message
            .clone()
            .unwrap_or_default()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !message(&app).starts_with("recorded") && std::time::Instant::now() < deadline {
        app.update();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(message(&app).starts_with("recorded"), "{:?}", message(&app));
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let recording = twinscope_core::mcap::McapFile::open(&file).unwrap();
    assert!(
        recording.recovery.is_none(),
        "stopping finishes the file with its summary"
    );
    assert!(
        recording
            .channels
            .values()
            .any(|c| c.topic == "te/device/pump1///m/p")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- live DVR ------------------------------------------------------------------------------

#[test]
fn the_dvr_looks_back_while_live_data_keeps_arriving_and_goes_live_again() {
    use twinscope::history::dvr::{Dvr, DvrCommand, DvrPlugin};
    use twinscope::history::replay::{ReplayPlugin, ReplaySession};
    use twinscope::store::sync::{LiveStash, StoreTemplate};
    use twinscope_core::ingest::{IngestConfig, spawn_ingest};
    use twinscope_core::schema::thin_edge::ThinEdgeSchema;

    let broker = twinscope_core::broker::start_embedded_broker(None).unwrap();
    let (ingest, batches) = spawn_ingest(
        IngestConfig::new(broker.address.clone()),
        Box::new(ThinEdgeSchema::default()),
    )
    .unwrap();
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins((TwinSyncPlugin, ReplayPlugin, DvrPlugin));
    let fresh = || TwinStore::new(StoreConfig::default(), RuleSet::default());
    app.insert_resource(TwinState { store: fresh() })
        .insert_resource(StoreTemplate(std::sync::Arc::new(fresh)))
        .insert_resource(IngestLink {
            batches,
            stats: ingest.stats.clone(),
        })
        .insert_resource(Dvr::new(
            broker.address.clone(),
            Duration::from_secs(600),
            Default::default(),
        ));

    let options = rumqttc::MqttOptions::new(
        "headless-dvr-test",
        broker.address.host.clone(),
        broker.address.port,
    );
    let (client, mut connection) = rumqttc::Client::new(options, 100);
    std::thread::spawn(move || for _ in connection.iter() {});
    let flow = |store: &TwinStore| {
        store
            .twin("pump1")
            .and_then(|t| t.property("flow"))
            .map(|p| p.value)
    };
    let pump = |value: u32| {
        client
            .publish(
                "te/device/pump1///m/p",
                rumqttc::QoS::AtLeastOnce,
                false,
                format!(r#"{{"flow": {value}}}"#),
            )
            .unwrap()
    };
    let run_for = |app: &mut App, duration: Duration| {
        let end = std::time::Instant::now() + duration;
        while std::time::Instant::now() < end {
            app.update();
            std::thread::sleep(Duration::from_millis(20));
        }
    };

    run_for(&mut app, Duration::from_millis(800)); // the DVR and ingest clients connect
    pump(1);
    run_for(&mut app, Duration::from_millis(600));
    let while_one = Timestamp::now();
    assert_eq!(flow(&app.world().resource::<TwinState>().store), Some(1.0));
    run_for(&mut app, Duration::from_millis(600));
    pump(2);
    run_for(&mut app, Duration::from_millis(1800)); // the DVR flushes a chunk at least every second

    app.world_mut()
        .write_message(DvrCommand::LookBack(while_one));
    app.update();
    // Instant: the segment's index was kept while it was written; nothing is opened again.
    assert!(
        app.world().get_resource::<ReplaySession>().is_some(),
        "looking back shows the DVR as a replay in the same frame"
    );
    assert!(
        app.world()
            .get_resource::<twinscope::history::opening::OpeningRecording>()
            .is_none()
    );
    assert_eq!(
        flow(&app.world().resource::<TwinState>().store),
        Some(1.0),
        "the state as it was"
    );

    pump(3);
    let arrived = support_eventually(&mut app, |app| {
        app.world()
            .resource::<LiveStash>()
            .0
            .as_ref()
            .and_then(flow)
            == Some(3.0)
    });
    assert!(arrived, "live data keeps arriving while looking back");
    assert_eq!(
        flow(&app.world().resource::<TwinState>().store),
        Some(1.0),
        "the view stays in the past"
    );

    app.world_mut().write_message(DvrCommand::GoLive);
    run_for(&mut app, Duration::from_millis(100));
    assert!(app.world().get_resource::<ReplaySession>().is_none());
    assert!(app.world().resource::<LiveStash>().0.is_none());
    assert_eq!(
        flow(&app.world().resource::<TwinState>().store),
        Some(3.0),
        "back to live"
    );
}

fn support_eventually(app: &mut App, check: impl Fn(&App) -> bool) -> bool {
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < end {
        app.update();
        if check(app) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

// ---- focus modes, alarm looks, selection from panels --------------------------------------

mod focus_and_alarms {
    use super::*;
    use bevy::camera::primitives::Aabb;
    use twinscope::scene::camera::{OrbitCamera, OrbitCameraPlugin};
    use twinscope::scene::focus::{FocusCommand, FocusMode, FocusPlugin};
    use twinscope::scene::materials::{AlarmMaterial, XRayMaterial};
    use twinscope::scene::selection::FrameTwin;
    use twinscope::scene::visuals::StatusVisualsPlugin;
    use twinscope::store::alarm_actions::{AlarmActionsPlugin, AlarmCommand};

    struct Plant {
        app: App,
        sender: BatchSender,
        original: Handle<StandardMaterial>,
        pump_mesh: Entity,
        seal_mesh: Entity,
        tank_mesh: Entity,
    }

    /// plant (main) > pump (line1-pump1) > seal; plant > tank (line1-tank1). Each with a mesh
    /// that has the model's material, a box and a place.
    fn plant() -> Plant {
        let mut app = twinscope::headless::headless_app();
        app.add_plugins((
            TwinSyncPlugin,
            SceneBindingPlugin,
            SelectionPlugin,
            FocusPlugin,
            AlarmActionsPlugin,
            StatusVisualsPlugin,
            OrbitCameraPlugin,
        ));
        let (sender, batches) = batch_channel();
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
        store.declare("main", None, None);
        store.declare("line1-pump1", Some("main"), None);
        store.declare("line1-pump1-seal", Some("line1-pump1"), None);
        store.declare("line1-tank1", Some("main"), None);
        app.insert_resource(TwinState { store })
            .insert_resource(IngestLink {
                batches,
                stats: IngestStats::new(),
            })
            .insert_resource(test_scene_source());
        let original = app
            .world_mut()
            .resource_mut::<Assets<StandardMaterial>>()
            .add(StandardMaterial::default());
        let world = app.world_mut();
        let mut mesh = |name: &str, x: f32| {
            let aabb = Aabb::from_min_max(Vec3::splat(-0.5), Vec3::splat(0.5));
            world
                .spawn((
                    Name::new(name.to_owned()),
                    Mesh3d(Handle::default()),
                    MeshMaterial3d(original.clone()),
                    aabb,
                    Transform::from_xyz(x, 0.0, 0.0),
                ))
                .id()
        };
        let (pump_mesh, seal_mesh, tank_mesh) = (
            mesh("pump.mesh", 10.0),
            mesh("seal.mesh", 11.0),
            mesh("tank.mesh", -10.0),
        );
        let node = Transform::default();
        let seal = world
            .spawn((GltfNodeIndex(2), node))
            .add_child(seal_mesh)
            .id();
        let pump = world
            .spawn((GltfNodeIndex(1), node))
            .add_children(&[pump_mesh, seal])
            .id();
        let tank = world
            .spawn((GltfNodeIndex(3), node))
            .add_child(tank_mesh)
            .id();
        let plant = world
            .spawn((GltfNodeIndex(0), node))
            .add_children(&[pump, tank])
            .id();
        world.spawn((SceneModelRoot, node)).add_child(plant);
        app.update();
        app.update();
        Plant {
            app,
            sender,
            original,
            pump_mesh,
            seal_mesh,
            tank_mesh,
        }
    }

    fn twin(app: &App, id: &str) -> twinscope_core::twin::TwinIndex {
        app.world().resource::<TwinState>().store.find(id).unwrap()
    }

    fn frames(app: &mut App, n: usize) {
        for _ in 0..n {
            app.update();
        }
    }

    fn standard(app: &App, entity: Entity) -> Option<Handle<StandardMaterial>> {
        app.world()
            .get::<MeshMaterial3d<StandardMaterial>>(entity)
            .map(|m| m.0.clone())
    }

    fn alarm_look(app: &App, entity: Entity) -> Option<AlarmMaterial> {
        let handle = app.world().get::<MeshMaterial3d<AlarmMaterial>>(entity)?;
        app.world()
            .resource::<Assets<AlarmMaterial>>()
            .get(&handle.0)
            .cloned()
    }

    fn xrayed(app: &App, entity: Entity) -> bool {
        app.world()
            .get::<MeshMaterial3d<XRayMaterial>>(entity)
            .is_some()
    }

    fn visibility(app: &App, entity: Entity) -> Visibility {
        app.world()
            .get::<Visibility>(entity)
            .copied()
            .unwrap_or_default()
    }

    #[test]
    fn x_ray_and_isolate_change_everything_outside_the_selected_subtree() {
        let Plant {
            mut app,
            original,
            pump_mesh,
            seal_mesh,
            tank_mesh,
            ..
        } = plant();
        let pump = twin(&app, "line1-pump1");
        app.world_mut().write_message(SelectTwin(Some(pump)));
        app.world_mut().write_message(FocusCommand(FocusMode::XRay));
        frames(&mut app, 2);
        assert_eq!(*app.world().resource::<FocusMode>(), FocusMode::XRay);
        for inside in [pump_mesh, seal_mesh] {
            assert_eq!(
                standard(&app, inside),
                Some(original.clone()),
                "the pump and its seal keep their look"
            );
            assert!(!xrayed(&app, inside));
        }
        assert!(
            xrayed(&app, tank_mesh) && standard(&app, tank_mesh).is_none(),
            "the tank turns to glass"
        );

        app.world_mut().write_message(FocusCommand(FocusMode::XRay)); // the same key again: normal
        frames(&mut app, 2);
        assert_eq!(*app.world().resource::<FocusMode>(), FocusMode::Normal);
        assert!(!xrayed(&app, tank_mesh) && standard(&app, tank_mesh) == Some(original.clone()));

        app.world_mut()
            .write_message(FocusCommand(FocusMode::Isolate));
        frames(&mut app, 2);
        assert_eq!(visibility(&app, tank_mesh), Visibility::Hidden);
        assert_eq!(visibility(&app, seal_mesh), Visibility::Inherited);
        // Selecting the seal narrows the isolation to it.
        let seal = twin(&app, "line1-pump1-seal");
        app.world_mut().write_message(SelectTwin(Some(seal)));
        frames(&mut app, 2);
        assert_eq!(visibility(&app, pump_mesh), Visibility::Hidden);
        assert_eq!(visibility(&app, seal_mesh), Visibility::Inherited);
        app.world_mut()
            .write_message(FocusCommand(FocusMode::Normal));
        frames(&mut app, 2);
        assert!(
            [pump_mesh, seal_mesh, tank_mesh]
                .iter()
                .all(|m| visibility(&app, *m) == Visibility::Inherited)
        );
    }

    /// Puts the orbit camera on the X axis at `eye_x`, looking at `focus_x`.
    fn look_along_x(app: &mut App, focus_x: f32, eye_x: f32) {
        let mut cameras = app.world_mut().query::<&mut OrbitCamera>();
        let mut orbit = cameras.single_mut(app.world_mut()).unwrap();
        orbit.focus = Vec3::new(focus_x, 0.0, 0.0);
        orbit.distance = (eye_x - focus_x).abs();
        orbit.yaw = if eye_x > focus_x {
            std::f32::consts::FRAC_PI_2
        } else {
            -std::f32::consts::FRAC_PI_2
        };
        orbit.pitch = 0.0;
        orbit.flight = None;
    }

    #[test]
    fn parts_in_front_of_the_selection_turn_to_glass_until_the_view_clears() {
        let Plant {
            mut app,
            original,
            pump_mesh,
            seal_mesh,
            tank_mesh,
            ..
        } = plant();
        let tank = twin(&app, "line1-tank1");
        app.world_mut().write_message(SelectTwin(Some(tank)));
        // The tank (x −10) seen from x 30: the pump (x 10) and its seal (x 11) are in the way.
        look_along_x(&mut app, -10.0, 30.0);
        frames(&mut app, 3);
        assert!(
            xrayed(&app, pump_mesh) && xrayed(&app, seal_mesh),
            "what hides the tank is glass"
        );
        assert!(
            !xrayed(&app, tank_mesh) && standard(&app, tank_mesh) == Some(original.clone()),
            "the tank keeps its look"
        );
        // From the other side nothing is in the way.
        look_along_x(&mut app, -10.0, -50.0);
        frames(&mut app, 3);
        assert!(!xrayed(&app, pump_mesh) && standard(&app, pump_mesh) == Some(original.clone()));
        // Back behind the pump, then the selection cleared: nothing is glass.
        look_along_x(&mut app, -10.0, 30.0);
        frames(&mut app, 3);
        assert!(xrayed(&app, pump_mesh));
        app.world_mut().write_message(SelectTwin(None));
        frames(&mut app, 3);
        assert!(!xrayed(&app, pump_mesh) && !xrayed(&app, seal_mesh));
    }

    #[test]
    fn unacknowledged_alarms_pulse_acknowledged_stay_and_stale_is_hatched() {
        let Plant {
            mut app,
            sender,
            original,
            pump_mesh,
            seal_mesh,
            ..
        } = plant();
        let now = Timestamp::now();
        let raise = TwinUpdate::AlarmRaised {
            twin: "line1-pump1-seal".into(),
            alarm_type: "leak".into(),
            severity: Severity::Major,
            text: "Seal leaking".into(),
            time: now,
        };
        send(&sender, vec![raise]);
        frames(&mut app, 2);
        let look = alarm_look(&app, seal_mesh).expect("the seal in alarm uses the alarm shader");
        assert_eq!(
            (look.pulse, look.hatch),
            (1.0, 0.0),
            "unacknowledged: pulsing"
        );
        assert!(standard(&app, seal_mesh).is_none());

        let seal = twin(&app, "line1-pump1-seal");
        app.world_mut()
            .write_message(AlarmCommand::Acknowledge(vec![(seal, "leak".into())]));
        frames(&mut app, 2);
        let look = alarm_look(&app, seal_mesh).unwrap();
        assert_eq!(
            (look.pulse, look.hatch),
            (0.0, 0.0),
            "acknowledged: steady, still coloured"
        );
        let book = app
            .world()
            .resource::<TwinState>()
            .store
            .alarm_book()
            .history()
            .clone();
        assert!(
            book.back().unwrap().cause.starts_with("operator "),
            "who acknowledged is in the history"
        );

        send(
            &sender,
            vec![TwinUpdate::Health {
                twin: "line1-pump1".into(),
                up: false,
                time: now,
            }],
        );
        frames(&mut app, 2);
        let look = alarm_look(&app, pump_mesh).expect("comms lost uses the alarm shader's hatch");
        assert_eq!((look.pulse, look.hatch), (0.0, 1.0));

        send(
            &sender,
            vec![TwinUpdate::AlarmCleared {
                twin: "line1-pump1-seal".into(),
                alarm_type: "leak".into(),
                time: now,
            }],
        );
        frames(&mut app, 2);
        assert_eq!(
            standard(&app, seal_mesh),
            Some(original),
            "back to the model's material"
        );
        assert!(alarm_look(&app, seal_mesh).is_none());
    }

    #[test]
    fn shelving_hides_an_alarm_and_the_history_exports_as_csv() {
        use twinscope::store::alarm_actions::AlarmExport;
        let Plant {
            mut app,
            sender,
            seal_mesh,
            ..
        } = plant();
        let raise = TwinUpdate::AlarmRaised {
            twin: "line1-pump1-seal".into(),
            alarm_type: "leak".into(),
            severity: Severity::Minor,
            text: "drip".into(),
            time: Timestamp::now(),
        };
        send(&sender, vec![raise]);
        frames(&mut app, 2);
        let seal = twin(&app, "line1-pump1-seal");
        app.world_mut().write_message(AlarmCommand::Shelve {
            twin: seal,
            alarm_type: "leak".into(),
            minutes: 30,
        });
        frames(&mut app, 2);
        assert!(
            alarm_look(&app, seal_mesh).is_none(),
            "a shelved alarm stops colouring its part"
        );
        assert_eq!(
            app.world()
                .resource::<TwinState>()
                .store
                .alarm_book()
                .counts()
                .shelved,
            1
        );

        let folder = std::env::temp_dir().join(format!("twinscope-export-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        app.insert_resource(AlarmExport {
            folder: folder.clone(),
            last: None,
        });
        app.world_mut().write_message(AlarmCommand::ExportHistory);
        app.update();
        let written = app
            .world()
            .resource::<AlarmExport>()
            .last
            .clone()
            .expect("exported")
            .expect("written");
        let csv = std::fs::read_to_string(&written).unwrap();
        let actions: Vec<&str> = csv
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(4).unwrap())
            .collect();
        assert_eq!(actions, ["activate", "shelve"], "{csv}");
        std::fs::remove_dir_all(&folder).unwrap();
    }

    #[test]
    fn choosing_a_twin_in_a_panel_selects_it_and_flies_there_and_escape_goes_up() {
        let Plant { mut app, .. } = plant();
        app.init_resource::<ButtonInput<KeyCode>>();
        let pump = twin(&app, "line1-pump1");
        // What the tree, the alarm list and the breadcrumb send.
        app.world_mut().write_message(SelectTwin(Some(pump)));
        app.world_mut().write_message(FrameTwin(pump));
        app.update();
        assert_eq!(app.world().resource::<Selection>().twin, Some(pump));
        let mut cameras = app.world_mut().query::<&OrbitCamera>();
        let orbit = *cameras.single(app.world()).unwrap();
        let (focus, _) = orbit.flight.expect("a flight to the pump started");
        assert!(
            (focus.x - 10.5).abs() < 0.01,
            "aimed at the pump and its seal: {focus}"
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while cameras.single(app.world()).unwrap().flight.is_some()
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
            app.update();
        }
        let orbit = *cameras.single(app.world()).unwrap();
        assert!(
            orbit.flight.is_none() && (orbit.focus.x - 10.5).abs() < 0.01,
            "arrived: {}",
            orbit.focus
        );

        app.world_mut()
            .resource_mut::<ButtonInput<KeyCode>>()
            .press(KeyCode::Escape);
        app.update();
        assert_eq!(
            app.world().resource::<Selection>().twin,
            Some(twin(&app, "main")),
            "Esc goes up one level"
        );
    }
}

// ---- acknowledgements: local by default, published only when enabled ----------------------

#[test]
fn acknowledgements_stay_local_unless_publishing_is_enabled() {
    use twinscope::store::alarm_actions::{AckPublisher, AlarmActionsPlugin, AlarmCommand};
    let broker = twinscope_core::broker::start_embedded_broker(None).unwrap();
    let options = rumqttc::MqttOptions::new(
        "headless-ack-listener",
        broker.address.host.clone(),
        broker.address.port,
    );
    let (client, mut connection) = rumqttc::Client::new(options, 100);
    client.subscribe("te/#", rumqttc::QoS::AtLeastOnce).unwrap();
    let (seen_tx, seen) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for event in connection.iter() {
            if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) = event {
                let _ = seen_tx.send((
                    p.topic.to_string(),
                    String::from_utf8_lossy(&p.payload).into_owned(),
                ));
            }
        }
    });
    let app_with_alarm = || {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .add_plugins((TwinSyncPlugin, AlarmActionsPlugin));
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
        let raise = TwinUpdate::AlarmRaised {
            twin: "line1-pump1".into(),
            alarm_type: "overheat".into(),
            severity: Severity::Major,
            text: "hot".into(),
            time: Timestamp::now(),
        };
        store.apply(&raise, Timestamp::now());
        let pump = store.find("line1-pump1").unwrap();
        app.insert_resource(TwinState { store });
        (app, pump)
    };
    std::thread::sleep(Duration::from_millis(300)); // the listener subscribes

    let (mut app, pump) = app_with_alarm();
    app.world_mut()
        .write_message(AlarmCommand::Acknowledge(vec![(pump, "overheat".into())]));
    app.update();
    assert!(
        !app.world()
            .resource::<TwinState>()
            .store
            .get(pump)
            .unacknowledged,
        "acknowledged locally"
    );
    assert!(
        seen.recv_timeout(Duration::from_millis(800)).is_err(),
        "nothing goes to the plant by default"
    );

    let (mut app, pump) = app_with_alarm();
    let publisher =
        twinscope_core::ingest::Publisher::connect(broker.address.clone(), "headless-acks")
            .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !publisher.is_connected() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    app.insert_resource(AckPublisher {
        publisher,
        root: "te".into(),
    });
    app.world_mut()
        .write_message(AlarmCommand::Acknowledge(vec![(pump, "overheat".into())]));
    app.update();
    let (topic, payload) = seen
        .recv_timeout(Duration::from_secs(5))
        .expect("the acknowledgement was published");
    assert_eq!(topic, "te/device/line1-pump1///e/alarm_acknowledged");
    assert!(payload.contains("\"alarmType\":\"overheat\""), "{payload}");
}
