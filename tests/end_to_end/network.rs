//! Brokers that are far away, hang, or vanish: the same clients as every live path, through
//! the fault-injecting proxy, against mosquitto.

use std::time::{Duration, Instant};

use crate::support::{Mosquitto, eventually, run_twinscope};
use crate::{apply_until, stderr};
use twinscope_core::connection::FailureKind;
use twinscope_core::fault_proxy::FaultProxy;
use twinscope_core::ingest::{IngestConfig, spawn_ingest};
use twinscope_core::rules::RuleSet;
use twinscope_core::schema::thin_edge::ThinEdgeSchema;
use twinscope_core::twin::{StoreConfig, TwinStore};

fn retained_pump(mosquitto: &Mosquitto) {
    mosquitto.publish(
        "te/device/far-pump//",
        r#"{"@type":"child-device","displayName":"Far pump"}"#,
        true,
    );
    mosquitto.publish("te/device/far-pump///m/p", r#"{"flow": 1}"#, true);
}

/// A broker 50 ms and 250 ms of round trip away (a VPN, another site, a cloud region):
/// connection setup takes many batch intervals and must still complete, once.
#[test]
fn ingest_reaches_a_broker_250_ms_away_and_keeps_receiving() {
    let mosquitto = Mosquitto::start();
    for round_trip in [Duration::from_millis(50), Duration::from_millis(250)] {
        retained_pump(&mosquitto);
        let proxy = FaultProxy::start(mosquitto.port, round_trip / 2).unwrap();
        let started = Instant::now();
        let (handle, batches) = spawn_ingest(
            IngestConfig::new(
                proxy
                    .url()
                    .parse::<twinscope_core::BrokerAddress>()
                    .unwrap(),
            ),
            Box::new(ThinEdgeSchema::default()),
        )
        .unwrap();
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
        let flow = |s: &TwinStore| {
            s.twin("far-pump")
                .and_then(|t| t.property("flow"))
                .map(|p| p.value)
        };
        let arrived = apply_until(&mut store, &batches, Duration::from_secs(15), |s| {
            flow(s) == Some(1.0)
        });
        assert!(
            arrived,
            "no retained state at {round_trip:?} RTT: {:?}",
            handle.stats.snapshot()
        );
        eprintln!(
            "first message at {round_trip:?} RTT after {:?}",
            started.elapsed()
        );
        mosquitto.publish("te/device/far-pump///m/p", r#"{"flow": 2}"#, true);
        assert!(
            apply_until(&mut store, &batches, Duration::from_secs(10), |s| flow(s)
                == Some(2.0)),
            "no live update at {round_trip:?} RTT"
        );
        let stats = handle.stats.snapshot();
        assert_eq!(
            (stats.connects, stats.failed_attempts),
            (1, 0),
            "one connection attempt, never cut short: {stats:?}"
        );
    }
}

#[test]
fn state_connects_through_250_ms_of_round_trip() {
    let mosquitto = Mosquitto::start();
    retained_pump(&mosquitto);
    let proxy = FaultProxy::start(mosquitto.port, Duration::from_millis(125)).unwrap();
    let output = run_twinscope(
        &["state", "--broker", &proxy.url(), "--for", "4s", "--json"],
        Duration::from_secs(30),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ingest"]["connects"], 1);
    assert!(
        report["twins"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == "far-pump" && t["name"] == "Far pump"),
        "{report}"
    );
}

/// A listener that accepts TCP but never answers CONNECT: the attempt times out with that
/// reason, and is retried.
#[test]
fn a_broker_that_never_answers_times_out_with_its_reason() {
    let silent = FaultProxy::silent().unwrap();
    let mut config = IngestConfig::new(
        silent
            .url()
            .parse::<twinscope_core::BrokerAddress>()
            .unwrap(),
    );
    config.connect_timeout = Duration::from_secs(1);
    let (handle, _batches) = spawn_ingest(config, Box::new(ThinEdgeSchema::default())).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || handle
            .stats
            .snapshot()
            .failed_attempts
            >= 2),
        "the attempt is retried"
    );
    let last = handle.stats.last_error().expect("the failure is kept");
    let failure = &last.1;
    assert_eq!(failure.kind, FailureKind::Timeout);
    assert!(
        failure
            .message
            .contains("did not complete the connection within 1 s"),
        "{failure}"
    );

    let output = run_twinscope(
        &["state", "--broker", &silent.url(), "--for", "11s"],
        Duration::from_secs(40),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("timeout"), "{}", stderr(&output));

    let file = std::env::temp_dir().join(format!("twinscope-silent-{}.mcap", std::process::id()));
    let output = run_twinscope(
        &[
            "record",
            "--broker",
            &silent.url(),
            "--out",
            file.to_str().unwrap(),
            "--connect-timeout",
            "2s",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(
        output.status.code(),
        Some(2),
        "record gives up: {}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("could not connect"),
        "{}",
        stderr(&output)
    );
    assert!(!file.exists(), "no empty recording is left behind");
}

/// The network drops mid-stream (the proxy closes every link): the loss is noticed and
/// explained, the client reconnects by itself, and data flows again.
#[test]
fn ingest_survives_the_link_being_cut_mid_stream() {
    let mosquitto = Mosquitto::start();
    let proxy = FaultProxy::start(mosquitto.port, Duration::from_millis(25)).unwrap();
    let (handle, batches) = spawn_ingest(
        IngestConfig::new(
            proxy
                .url()
                .parse::<twinscope_core::BrokerAddress>()
                .unwrap(),
        ),
        Box::new(ThinEdgeSchema::default()),
    )
    .unwrap();
    assert!(eventually(Duration::from_secs(10), || handle
        .stats
        .is_connected()));
    std::thread::sleep(Duration::from_millis(300));
    let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
    let flow = |s: &TwinStore| {
        s.twin("pump1")
            .and_then(|t| t.property("flow"))
            .map(|p| p.value)
    };
    mosquitto.publish("te/device/pump1///m/p", r#"{"flow": 1}"#, false);
    assert!(apply_until(
        &mut store,
        &batches,
        Duration::from_secs(5),
        |s| flow(s) == Some(1.0)
    ));

    proxy.cut();
    assert!(
        eventually(Duration::from_secs(10), || handle.stats.snapshot().connects
            >= 2),
        "reconnects after the cut"
    );
    let stats = handle.stats.snapshot();
    assert_eq!(stats.losses, 1, "{stats:?}");
    let failure = stats
        .last_error
        .as_ref()
        .expect("the loss is recorded")
        .1
        .clone();
    assert_eq!(failure.kind, FailureKind::Lost, "{failure}");
    let arrived = eventually(Duration::from_secs(10), || {
        mosquitto.publish("te/device/pump1///m/p", r#"{"flow": 2}"#, false);
        apply_until(&mut store, &batches, Duration::from_millis(300), |s| {
            flow(s) == Some(2.0)
        })
    });
    assert!(arrived, "data flows again after reconnecting");
}

#[test]
fn an_unknown_host_and_a_closed_port_are_named_as_such() {
    let output = run_twinscope(
        &[
            "state",
            "--broker",
            "mqtt://no-such-broker.invalid:1883",
            "--for",
            "3s",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("host not found: \"no-such-broker.invalid\""),
        "{}",
        stderr(&output)
    );

    let port = crate::support::free_port();
    let output = run_twinscope(
        &[
            "state",
            "--broker",
            &format!("mqtt://127.0.0.1:{port}"),
            "--for",
            "2s",
            "--json",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(&format!("connection refused by 127.0.0.1:{port}")),
        "{}",
        stderr(&output)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        report["ingest"]["last_error"]["message"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{report}"
    );
    assert_eq!(report["ingest"]["connects"], 0);
}

/// Two clients with one fixed client id (two tools started with the same profile): the
/// broker keeps one and drops the other, over and over. Each loss names the likely cause,
/// and reconnects back off instead of taking the id back every 100 ms.
#[test]
fn two_clients_with_one_client_id_are_told_and_back_off() {
    let mosquitto = Mosquitto::start();
    let settings = || {
        let mut settings =
            twinscope_core::connection::ConnectionSettings::plain(mosquitto.url().parse().unwrap());
        settings.client_id = Some("control-room-1".into());
        settings
    };
    let (first, _a) = spawn_ingest(
        IngestConfig::new(settings()),
        Box::new(ThinEdgeSchema::default()),
    )
    .unwrap();
    let (second, _b) = spawn_ingest(
        IngestConfig::new(settings()),
        Box::new(ThinEdgeSchema::default()),
    )
    .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let (a, b) = (first.stats.snapshot(), second.stats.snapshot());
    assert!(
        a.losses + b.losses >= 1,
        "the broker drops one of them: {a:?} {b:?}"
    );
    assert!(
        a.connects + b.connects <= 14,
        "backed off, not a reconnect storm: {} connects in 4 s",
        a.connects + b.connects
    );
    let failure = [a.last_error, b.last_error]
        .into_iter()
        .flatten()
        .next()
        .unwrap();
    assert!(
        failure
            .1
            .message
            .contains("another client using the client id \"control-room-1\""),
        "{}",
        failure.1
    );
}
