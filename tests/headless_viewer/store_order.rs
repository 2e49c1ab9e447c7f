//! One ordered path into the twin store, and nothing lost on the way: a flood while the
//! main thread is stalled, the DVR swapping stores under live load, and an operator command
//! meeting the batch that explains it in the same frame.

use std::time::{Duration, Instant};

use bevy::prelude::*;
use rumqttc::QoS;
use twinscope::prelude::*;
use twinscope::store::alarm_actions::{AlarmActionsPlugin, AlarmCommand};
use twinscope::store::sync::TwinSyncPlugin;
use twinscope_core::TwinUpdate;
use twinscope_core::alarms::AlarmState;
use twinscope_core::ingest::{
    IngestConfig, IngestStats, PublishOnly, UpdateBatch, batch_channel, spawn_ingest,
    spawn_mqtt_client,
};
use twinscope_core::rules::RuleSet;
use twinscope_core::schema::thin_edge::ThinEdgeSchema;
use twinscope_core::twin::{Severity, StoreConfig, TwinStore};
use twinscope_core::{BrokerAddress, Timestamp};

fn fresh_store() -> TwinStore {
    TwinStore::new(StoreConfig::default(), RuleSet::default())
}

/// A publisher on `broker`, connected.
fn publisher(broker: &BrokerAddress) -> twinscope_core::ingest::IngestHandle {
    let handle = spawn_mqtt_client(
        IngestConfig::new(broker.clone()),
        PublishOnly,
        IngestStats::new(),
        "test-publisher",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !handle.stats.is_connected() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(handle.stats.is_connected());
    handle
}

/// The viewer's main thread stalls for 2 s while the broker floods it, with a channel that
/// fills at once. Dropping a batch would lose values and alarm transitions; the final state
/// must be exactly what was published last, for every property and every alarm.
#[test]
fn a_flood_while_the_main_thread_is_stalled_loses_nothing() {
    let broker = twinscope_core::broker::start_embedded_broker(None).unwrap();
    let mut config = IngestConfig::new(broker.address.clone());
    config.channel_capacity = 2;
    let (ingest, batches) = spawn_ingest(config, Box::new(ThinEdgeSchema::default())).unwrap();
    let stats = ingest.stats.clone();
    let mut app = App::new();
    app.add_plugins(MinimalPlugins).add_plugins(TwinSyncPlugin);
    app.insert_resource(TwinState {
        store: fresh_store(),
    })
    .insert_resource(IngestLink {
        batches,
        stats: stats.clone(),
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stats.is_connected() && Instant::now() < deadline {
        app.update();
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300)); // the subscription lands

    const PUMPS: usize = 200;
    const ROUNDS: usize = 100;
    let source = publisher(&broker.address);
    let client = source.client().clone();
    let flood = std::thread::spawn(move || {
        for round in 0..ROUNDS {
            for pump in 0..PUMPS {
                let payload = format!(r#"{{"flow":{round},"pressure":{}}}"#, round * 2 + pump);
                client
                    .publish(
                        format!("te/device/pump{pump}///m/p"),
                        QoS::AtLeastOnce,
                        false,
                        payload,
                    )
                    .unwrap();
            }
            // Every tenth pump raises an alarm each round and clears it every other round.
            for pump in (0..PUMPS).step_by(10) {
                let topic = format!("te/device/pump{pump}///a/hot");
                let payload = if round % 2 == 0 {
                    format!(r#"{{"text":"hot {round}","severity":"major"}}"#)
                } else {
                    String::new()
                };
                client
                    .publish(topic, QoS::AtLeastOnce, true, payload)
                    .unwrap();
            }
        }
    });
    app.update();
    std::thread::sleep(Duration::from_secs(2)); // the stalled frame
    flood.join().unwrap();

    let last_round = ROUNDS - 1;
    let expected = |store: &TwinStore| {
        (0..PUMPS).all(|pump| {
            let Some(twin) = store.twin(&format!("pump{pump}")) else {
                return false;
            };
            let value = |name: &str| twin.property(name).map(|p| p.value);
            value("flow") == Some(last_round as f64)
                && value("pressure") == Some((last_round * 2 + pump) as f64)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !expected(&app.world().resource::<TwinState>().store) && Instant::now() < deadline {
        app.update();
        std::thread::sleep(Duration::from_millis(5));
    }
    let store = &app.world().resource::<TwinState>().store;
    assert!(
        expected(store),
        "every property ends at the last value published"
    );
    // The last round cleared every alarm: each went through all its raises and clears.
    for pump in (0..PUMPS).step_by(10) {
        let index = store.find(&format!("pump{pump}")).unwrap();
        let alarm = store
            .alarm_book()
            .get(index, &"hot".into())
            .expect("the alarm is in the list");
        assert_eq!(
            alarm.state,
            AlarmState::ReturnedUnacknowledged,
            "pump{pump}"
        );
        let raises = store
            .alarm_book()
            .history()
            .iter()
            .filter(|t| {
                t.twin.as_str() == format!("pump{pump}") && t.to == AlarmState::ActiveUnacknowledged
            })
            .count();
        assert_eq!(
            raises,
            ROUNDS / 2,
            "pump{pump}: every raise reached the store"
        );
    }
    let stats = stats.snapshot();
    assert!(
        stats.coalesced > 0,
        "the stall was real: values were merged ({stats:?})"
    );
    assert_eq!(stats.backlog, 0);
    eprintln!(
        "flood: {} messages, {} updates merged while stalled",
        stats.messages, stats.coalesced
    );
}

/// Looking back swaps the shown store for a past one and stashes the live one; under live
/// load no batch may land in the past store, not even in the frame of the swap.
#[test]
fn dvr_look_back_and_go_live_under_live_load_keep_live_batches_in_the_live_store() {
    use twinscope::history::dvr::{Dvr, DvrCommand, DvrPlugin};
    use twinscope::history::replay::ReplayPlugin;
    use twinscope::store::sync::{LiveStash, StoreTemplate};

    let broker = twinscope_core::broker::start_embedded_broker(None).unwrap();
    let (ingest, batches) = spawn_ingest(
        IngestConfig::new(broker.address.clone()),
        Box::new(ThinEdgeSchema::default()),
    )
    .unwrap();
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins((TwinSyncPlugin, ReplayPlugin, DvrPlugin));
    app.insert_resource(TwinState {
        store: fresh_store(),
    })
    .insert_resource(StoreTemplate(std::sync::Arc::new(fresh_store)))
    .insert_resource(IngestLink {
        batches,
        stats: ingest.stats.clone(),
    })
    .insert_resource(Dvr::new(
        broker.address.clone(),
        Duration::from_secs(600),
        Default::default(),
    ));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        app.update(); // the first segment starts
        let dvr = app.world().resource::<Dvr>();
        assert!(
            dvr.directory().starts_with(dirs::cache_dir().unwrap()),
            "{}",
            dvr.directory().display()
        );
        let mode = std::fs::metadata(dvr.directory())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700, "DVR segments are the user's alone");
    }

    let source = publisher(&broker.address);
    let client = source.client().clone();
    let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let load = {
        let running = running.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while running.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                client
                    .publish(
                        "te/device/counter///m/c",
                        QoS::AtLeastOnce,
                        false,
                        format!(r#"{{"n":{n}}}"#),
                    )
                    .unwrap();
                std::thread::sleep(Duration::from_millis(2));
            }
            n
        })
    };
    let counter = |store: &TwinStore| {
        store
            .twin("counter")
            .and_then(|t| t.property("n"))
            .map(|p| p.value)
    };
    let run_for = |app: &mut App, duration: Duration| {
        let end = Instant::now() + duration;
        while Instant::now() < end {
            app.update();
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    run_for(&mut app, Duration::from_millis(1500));
    let back_then = Timestamp::now();
    run_for(&mut app, Duration::from_millis(2500)); // the DVR flushes a chunk at least every second

    app.world_mut()
        .write_message(DvrCommand::LookBack(back_then));
    // The segment is opened on a thread: frames go on showing live data until it is ready,
    // then the past is shown and the live store stashed in one frame.
    let deadline = Instant::now() + Duration::from_secs(10);
    while app
        .world()
        .get_resource::<twinscope::history::replay::ReplaySession>()
        .is_none()
        && Instant::now() < deadline
    {
        assert!(
            app.world().resource::<LiveStash>().0.is_none(),
            "nothing is stashed before the past is shown"
        );
        app.update();
        std::thread::sleep(Duration::from_millis(2));
    }
    let past = counter(&app.world().resource::<TwinState>().store)
        .expect("the past store shows the counter");
    let live_at_swap = app
        .world()
        .resource::<LiveStash>()
        .0
        .as_ref()
        .and_then(counter)
        .expect("the live store is stashed in the same frame");
    assert!(
        past < live_at_swap,
        "the shown store is the past ({past}) while live is at {live_at_swap}"
    );
    for _ in 0..50 {
        app.update();
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(
            counter(&app.world().resource::<TwinState>().store),
            Some(past),
            "no live batch lands in the past store"
        );
    }
    let live_later = app
        .world()
        .resource::<LiveStash>()
        .0
        .as_ref()
        .and_then(counter)
        .unwrap();
    assert!(
        live_later > live_at_swap,
        "live data keeps arriving while looking back"
    );

    app.world_mut().write_message(DvrCommand::GoLive);
    app.update();
    assert!(app.world().resource::<LiveStash>().0.is_none());
    let live = counter(&app.world().resource::<TwinState>().store).unwrap();
    assert!(
        live >= live_later,
        "back to the live store ({live} < {live_later})"
    );

    running.store(false, std::sync::atomic::Ordering::Relaxed);
    let last = load.join().unwrap() as f64;
    let deadline = Instant::now() + Duration::from_secs(10);
    while counter(&app.world().resource::<TwinState>().store) != Some(last)
        && Instant::now() < deadline
    {
        app.update();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        counter(&app.world().resource::<TwinState>().store),
        Some(last),
        "the live store got every batch"
    );
}

/// An acknowledgement sent the frame an alarm's raise arrives applies to that alarm: batches
/// land before operator commands, and shelving expiry and stale marking come last.
#[test]
fn operator_commands_apply_after_the_same_frames_batches() {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins((TwinSyncPlugin, AlarmActionsPlugin));
    let (sender, batches) = batch_channel();
    let mut store = fresh_store();
    let pump = store.declare("pump1", None, None);
    app.insert_resource(TwinState { store })
        .insert_resource(IngestLink {
            batches,
            stats: IngestStats::new(),
        });
    app.update();
    let raise = TwinUpdate::AlarmRaised {
        twin: "pump1".into(),
        alarm_type: "hot".into(),
        severity: Severity::Major,
        text: "hot".into(),
        time: Timestamp::now(),
    };
    sender
        .send(UpdateBatch::new(Timestamp::now(), vec![raise]))
        .unwrap();
    app.world_mut()
        .write_message(AlarmCommand::Acknowledge(vec![(pump, "hot".into())]));
    app.update();
    let store = &app.world().resource::<TwinState>().store;
    assert_eq!(
        store.alarm_book().get(pump, &"hot".into()).map(|a| a.state),
        Some(AlarmState::ActiveAcknowledged)
    );
}
