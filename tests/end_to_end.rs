//! End-to-end tests: the real `twinscope` binary, real brokers (the embedded rumqttd and
//! Debian's mosquitto as the reference peer) over real TCP, real glTF files.

mod support;

#[path = "end_to_end/archive.rs"]
mod archive;
#[path = "end_to_end/foreign_recordings.rs"]
mod foreign_recordings;
#[path = "end_to_end/json_sources.rs"]
mod json_sources;
#[path = "end_to_end/models.rs"]
mod models;
#[path = "end_to_end/network.rs"]
mod network;
#[path = "end_to_end/notes.rs"]
mod notes;
#[path = "end_to_end/operations.rs"]
mod operations;
#[path = "end_to_end/sessions.rs"]
mod sessions;
#[path = "end_to_end/shared_alarms.rs"]
mod shared_alarms;
#[path = "end_to_end/sparkplug.rs"]
mod sparkplug;
#[path = "end_to_end/tls.rs"]
mod tls;
#[path = "end_to_end/xr.rs"]
mod xr;

use std::time::{Duration, Instant};

use rumqttc::{Client, MqttOptions, QoS};
use support::{Mosquitto, eventually, run_twinscope};
use twinscope_core::BrokerAddress;
use twinscope_core::broker::start_embedded_broker;
use twinscope_core::ingest::{BatchReceiver, IngestConfig, IngestHandle, spawn_ingest};
use twinscope_core::rules::RuleSet;
use twinscope_core::schema::thin_edge::ThinEdgeSchema;
use twinscope_core::twin::{Severity, Status, StoreConfig, TwinStore};

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn ingest(broker: BrokerAddress) -> (IngestHandle, BatchReceiver) {
    spawn_ingest(
        IngestConfig::new(broker),
        Box::new(ThinEdgeSchema::default()),
    )
    .expect("ingest thread")
}

/// Ingest from `mosquitto`, connected and subscribed.
fn subscribed_ingest(mosquitto: &Mosquitto) -> (IngestHandle, BatchReceiver) {
    let (handle, batches) = ingest(mosquitto.url().parse().unwrap());
    assert!(eventually(Duration::from_secs(10), || handle
        .stats
        .snapshot()
        .connected));
    std::thread::sleep(Duration::from_millis(200)); // let the subscription land
    (handle, batches)
}

/// Applies whatever arrived to `store` until `check` holds (or the time runs out).
fn apply_until(
    store: &mut TwinStore,
    batches: &BatchReceiver,
    limit: Duration,
    mut check: impl FnMut(&TwinStore) -> bool,
) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(batch) = batches.recv_timeout(Duration::from_millis(20)) {
            batch.apply_to(store);
        }
        if check(store) {
            return true;
        }
    }
    false
}

fn publisher(broker: &BrokerAddress, name: &str) -> Client {
    let options = MqttOptions::new(
        format!("{name}-{}", std::process::id()),
        broker.host.clone(),
        broker.port,
    );
    let (client, mut connection) = Client::new(options, 100);
    std::thread::spawn(move || for _ in connection.iter() {});
    client
}

// ---- twinscope check ----------------------------------------------------------------------

#[test]
fn check_reports_how_the_demo_scene_binds() {
    let output = run_twinscope(
        &["check", "scenes/demo-plant.toml"],
        Duration::from_secs(30),
    );
    let text = stdout(&output);
    assert!(output.status.success(), "{text}\n{}", stderr(&output));
    assert!(text.contains("scene \"Demo plant\""), "{text}");
    assert!(text.contains("bound nodes (65: 65 by extras):"), "{text}");
    assert!(
        text.contains(
            "main/line1/line1-pump1/line1-pump1-bearing-de  ->  line1-pump1-bearing-de  [extras]"
        ),
        "{text}"
    );
    assert!(text.contains("twins with no node (0):"), "{text}");
    assert!(
        text.contains("nodes with a mesh that match no twin (0):"),
        "{text}"
    );
    let output = run_twinscope(
        &["check", "--strict", "scenes/demo-plant.toml"],
        Duration::from_secs(30),
    );
    assert!(
        output.status.success(),
        "the demo plant passes --strict: {}",
        stderr(&output)
    );

    // A scene whose model binds nothing: listed with mesh names, and --strict fails it.
    let dir = std::env::temp_dir().join(format!("twinscope-unbound-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scene = dir.join("unbound.toml");
    let model = support::repo_root().join("assets/demo-plant.glb");
    std::fs::write(
        &scene,
        format!(
            "[scene]\nmodel = \"{}\"\n[binding]\nextras_key = \"absent\"\n",
            model.display()
        ),
    )
    .unwrap();
    let output = run_twinscope(&["check", scene.to_str().unwrap()], Duration::from_secs(30));
    assert!(output.status.success(), "without --strict a note is enough");
    let text = stdout(&output);
    assert!(
        text.contains("bound nodes (0):")
            && text.contains("… and ")
            && text.contains("(mesh \"box-"),
        "{text}"
    );
    let output = run_twinscope(
        &["check", "--strict", scene.to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("strict: no node is bound to a twin"),
        "{}",
        stderr(&output)
    );

    let output = run_twinscope(
        &["check", "--json", "scenes/demo-plant.toml"],
        Duration::from_secs(30),
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("check --json prints JSON");
    assert_eq!(report["bound"].as_array().unwrap().len(), 65);
    assert_eq!(report["rules"], 5);
    assert_eq!(report["alarm_rules"], 3);
}

#[test]
fn check_refuses_broken_scenes_with_the_file_and_reason() {
    let dir = std::env::temp_dir().join(format!("twinscope-broken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let demo_model = std::fs::read(support::repo_root().join("assets/demo-plant.glb")).unwrap();
    std::fs::write(
        dir.join("truncated.glb"),
        &demo_model[..demo_model.len() / 2],
    )
    .unwrap();
    std::fs::write(dir.join("garbage.glb"), b"this is not a model").unwrap();
    let cases = [
        (
            "missing-model.toml",
            "[scene]\nmodel = \"nowhere.glb\"\n",
            "nowhere.glb",
        ),
        (
            "garbage.toml",
            "[scene]\nmodel = \"garbage.glb\"\n",
            "not a valid glTF",
        ),
        (
            "truncated.toml",
            "[scene]\nmodel = \"truncated.glb\"\n",
            "garbage",
        ),
        ("syntax.toml", "[scene\nmodel = 3\n", "line 1"),
        (
            "unknown-key.toml",
            "[scene]\nmodel = \"truncated.glb\"\nzoom = 2\n",
            "zoom",
        ),
        (
            "bad-rule.toml",
            "[scene]\nmodel = \"truncated.glb\"\n[[rule]]\nproperty = \"t\"\nrange = [{ min = 5.0, max = 1.0, status = \"ok\" }]\n",
            "min 5 is not below max 1",
        ),
        (
            "bad-alarm.toml",
            "[scene]\nmodel = \"truncated.glb\"\n[[alarm]]\ntype = \"hot\"\nproperty = \"t\"\nabove = 1\nbelow = 0\nseverity = \"major\"\n",
            "alarm \"hot\": give exactly one of `above`, `below` or `when`",
        ),
        (
            "bad-severity.toml",
            "[scene]\nmodel = \"truncated.glb\"\n[[alarm]]\ntype = \"hot\"\nproperty = \"t\"\nabove = 1\nseverity = \"urgent\"\n",
            "unknown severity \"urgent\"",
        ),
    ];
    for (file, text, expected) in cases {
        std::fs::write(dir.join(file), text).unwrap();
        let path = dir.join(file);
        let output = run_twinscope(&["check", path.to_str().unwrap()], Duration::from_secs(30));
        let message = stderr(&output);
        assert!(!output.status.success(), "{file} passed the check");
        assert!(
            message.contains(file),
            "{file}: the error should name the file: {message}"
        );
        if file != "truncated.toml" {
            assert!(
                message.contains(expected),
                "{file}: expected {expected:?} in {message}"
            );
        } else {
            assert!(
                message.contains("truncated") || message.contains("not a valid glTF"),
                "{file}: {message}"
            );
        }
    }
    let output = run_twinscope(
        &["check", dir.join("absent.toml").to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("cannot read the scene manifest"),
        "{}",
        stderr(&output)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cli_rejects_bad_arguments_clearly() {
    let output = run_twinscope(&["--broker", "ftp://example"], Duration::from_secs(30));
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("use mqtt://HOST:PORT, or mqtts://HOST:PORT for TLS"),
        "{}",
        stderr(&output)
    );
    let output = run_twinscope(&["state", "--for", "soon"], Duration::from_secs(30));
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("is not a duration"),
        "{}",
        stderr(&output)
    );
    // Values that once panicked the viewer are refused at the command line.
    for (flag, value) in [
        ("--dvr-minutes", "inf"),
        ("--dvr-minutes", "-1"),
        ("--dvr-minutes", "1e20"),
    ] {
        let output = run_twinscope(
            &[&format!("{flag}={value}"), "--exit-after", "1s"],
            Duration::from_secs(30),
        );
        assert!(!output.status.success(), "{flag} {value}");
        assert!(
            stderr(&output).contains("is not a number of minutes from 0 to 1440"),
            "{}",
            stderr(&output)
        );
    }
    let output = run_twinscope(
        &["--xr", "--snap-turn", "400", "--exit-after", "1s"],
        Duration::from_secs(30),
    );
    assert!(
        stderr(&output).contains("is not an angle from 5 to 180 degrees"),
        "{}",
        stderr(&output)
    );
    let output = run_twinscope(
        &["--tz", "Mars/Olympus_Mons", "--exit-after", "1s"],
        Duration::from_secs(30),
    );
    assert!(
        !output.status.success() && stderr(&output).contains("time zone \"Mars/Olympus_Mons\""),
        "{}",
        stderr(&output)
    );
    let output = run_twinscope(
        &["--sim-rate", "inf", "--exit-after", "1s"],
        Duration::from_secs(30),
    );
    assert!(
        !output.status.success() && stderr(&output).contains("is not a rate"),
        "{}",
        stderr(&output)
    );
}

// ---- ingest over real TCP ------------------------------------------------------------------

#[test]
fn ingest_over_the_embedded_broker_builds_twins_from_thin_edge_messages() {
    let broker = start_embedded_broker(None).expect("embedded broker");
    let (_ingest, batches) = ingest(broker.address.clone());
    let client = publisher(&broker.address, "embedded-test");
    let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
    // Publish until the subscription is in place (it races the first messages).
    let published = eventually(Duration::from_secs(10), || {
        client
            .publish(
                "te/device/pump7//",
                QoS::AtLeastOnce,
                true,
                r#"{"@type":"child-device","displayName":"Pump 7"}"#,
            )
            .unwrap();
        client
            .publish(
                "te/device/pump7///m/env",
                QoS::AtLeastOnce,
                false,
                r#"{"temperature": 41.5, "Climate": {"Humidity": 55}}"#,
            )
            .unwrap();
        apply_until(&mut store, &batches, Duration::from_millis(300), |s| {
            s.twin("pump7")
                .is_some_and(|t| t.property("temperature").is_some())
        })
    });
    assert!(
        published,
        "no measurement arrived through the embedded broker"
    );
    client
        .publish(
            "te/device/pump7///a/overheat",
            QoS::AtLeastOnce,
            true,
            r#"{"text":"Hot","severity":"critical"}"#,
        )
        .unwrap();
    assert!(apply_until(
        &mut store,
        &batches,
        Duration::from_secs(5),
        |s| s.twin("pump7").unwrap().status == Status::Alarm
    ));
    let pump = store.twin("pump7").unwrap();
    assert_eq!(pump.label(), "Pump 7");
    assert_eq!(pump.property("Climate.Humidity").unwrap().value, 55.0);
    assert_eq!(pump.alarms[0].severity, Severity::Critical);
    let parent = pump.parent.map(|p| store.get(p).id.to_string());
    assert_eq!(
        parent.as_deref(),
        Some("main"),
        "child devices hang under main by default"
    );
}

#[test]
fn ingest_from_mosquitto_counts_bad_input_and_keeps_good_state() {
    let mosquitto = Mosquitto::start();
    let (ingest_handle, batches) = subscribed_ingest(&mosquitto);
    mosquitto.publish(
        "te/device/main///m/battery/meta",
        r#"{"units": {"voltage": "V"}}"#,
        true,
    );
    mosquitto.publish("te/device/main///m/battery", r#"{"voltage": 12.5}"#, false);
    for (topic, payload) in [
        ("te/device/main///m/battery", "{not json"),
        ("te/device/main///m/battery", r#"{"voltage": NaN}"#),
        ("te/device/main///m/battery", r#"{"voltage": "high"}"#),
        ("te/device/main///a/x", r#"{"severity": "apocalyptic"}"#),
        (
            "te/device/main///status/health",
            r#"{"status": "sideways"}"#,
        ),
        ("te//no-device/m/x", "{}"),
    ] {
        mosquitto.publish(topic, payload, false);
    }
    mosquitto.publish("te/device/main///m/battery", r#"{"voltage": 12.25}"#, false);
    let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
    assert!(apply_until(
        &mut store,
        &batches,
        Duration::from_secs(10),
        |s| {
            s.twin("main")
                .and_then(|t| t.property("voltage"))
                .is_some_and(|p| p.value == 12.25)
        }
    ));
    assert!(eventually(Duration::from_secs(5), || ingest_handle
        .stats
        .snapshot()
        .decode_errors
        == 5));
    let stats = ingest_handle.stats.snapshot();
    assert_eq!(stats.unknown_topics, 1);
    let voltage = store.twin("main").unwrap().property("voltage").unwrap();
    assert_eq!(voltage.unit.as_deref(), Some("V"));
    assert_eq!(
        voltage.history.len(),
        2,
        "only the two valid values are in the history"
    );
    assert!(store.twin("main").unwrap().alarms.is_empty());
}

#[test]
fn ingest_reconnects_resubscribes_and_marks_stale_when_the_broker_goes_away() {
    let mut mosquitto = Mosquitto::start();
    let port = mosquitto.port;
    let (ingest_handle, batches) = subscribed_ingest(&mosquitto);
    let stats = ingest_handle.stats.clone();
    let config = StoreConfig {
        stale_after: Duration::from_secs(1),
        ..StoreConfig::default()
    };
    let mut store = TwinStore::new(config, RuleSet::default());
    mosquitto.publish("te/device/pump1///m/p", r#"{"flow": 1}"#, false);
    assert!(apply_until(
        &mut store,
        &batches,
        Duration::from_secs(5),
        |s| s.twin("pump1").is_some()
    ));
    assert_eq!(store.twin("pump1").unwrap().status, Status::Ok);

    mosquitto.stop();
    assert!(
        eventually(Duration::from_secs(10), || !stats.snapshot().connected),
        "the loss was not noticed"
    );
    std::thread::sleep(Duration::from_millis(1200));
    store.mark_stale(twinscope_core::Timestamp::now());
    assert_eq!(
        store.twin("pump1").unwrap().status,
        Status::Stale,
        "silence must read as stale, never as live"
    );

    let mosquitto = Mosquitto::start_on(port);
    assert!(
        eventually(Duration::from_secs(15), || stats.snapshot().connects >= 2),
        "no reconnect"
    );
    let arrived = eventually(Duration::from_secs(10), || {
        mosquitto.publish("te/device/pump1///m/p", r#"{"flow": 2}"#, false);
        apply_until(&mut store, &batches, Duration::from_millis(300), |s| {
            s.twin("pump1").unwrap().property("flow").unwrap().value == 2.0
        })
    });
    assert!(
        arrived,
        "after reconnecting the client must subscribe again"
    );
    assert_eq!(store.twin("pump1").unwrap().status, Status::Ok);
}

/// thin-edge clears an alarm by removing its retained message. A viewer that was away when
/// that happened never hears the clear; after reconnecting it must notice that the broker no
/// longer holds the alarm (here: mosquitto restarted holding only one of the two alarms).
#[test]
fn alarms_cleared_while_disconnected_are_cleared_after_reconnecting() {
    use twinscope_core::alarms::AlarmState;
    let mut mosquitto = Mosquitto::start();
    let port = mosquitto.port;
    let (ingest_handle, batches) = subscribed_ingest(&mosquitto);
    let stats = ingest_handle.stats.clone();
    mosquitto.publish(
        "te/device/pump1///a/still_there",
        r#"{"text":"Still there","severity":"major"}"#,
        true,
    );
    mosquitto.publish(
        "te/device/pump1///a/went_away",
        r#"{"text":"Went away","severity":"critical"}"#,
        true,
    );
    let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
    assert!(apply_until(
        &mut store,
        &batches,
        Duration::from_secs(5),
        |s| s.twin("pump1").is_some_and(|t| t.alarms.len() == 2)
    ));

    mosquitto.stop();
    assert!(eventually(Duration::from_secs(10), || !stats
        .snapshot()
        .connected));
    let mosquitto = Mosquitto::start_on(port);
    mosquitto.publish(
        "te/device/pump1///a/still_there",
        r#"{"text":"Still there","severity":"major"}"#,
        true,
    );
    assert!(
        eventually(Duration::from_secs(15), || stats.snapshot().connects >= 2),
        "no reconnect"
    );
    let pump = store.find("pump1").unwrap();
    let state_of = |store: &TwinStore, alarm_type: &str| {
        store
            .alarm_book()
            .get(pump, &alarm_type.into())
            .map(|a| a.state)
    };
    // Apply what arrives and tick the store (the viewer does once a second) until the window has passed.
    let deadline = Instant::now() + Duration::from_secs(15);
    while state_of(&store, "went_away") != Some(AlarmState::ReturnedUnacknowledged)
        && Instant::now() < deadline
    {
        apply_until(&mut store, &batches, Duration::from_millis(200), |_| false);
        store.tick_alarms(twinscope_core::Timestamp::now());
    }
    assert_eq!(
        state_of(&store, "went_away"),
        Some(AlarmState::ReturnedUnacknowledged),
        "the alarm the broker no longer holds is cleared"
    );
    assert_eq!(
        state_of(&store, "still_there"),
        Some(AlarmState::ActiveUnacknowledged),
        "the re-delivered one stays active"
    );
    let clear = store
        .alarm_book()
        .history()
        .iter()
        .find(|t| &*t.alarm_type == "went_away" && t.to == AlarmState::ReturnedUnacknowledged)
        .unwrap();
    assert!(
        clear.cause.contains("not retained by the broker"),
        "{}",
        clear.cause
    );
    assert_eq!(store.twin("pump1").unwrap().alarms.len(), 1);
}

// ---- twinscope sim + twinscope state ---------------------------------------------------------

#[test]
fn state_shows_the_simulated_plant_from_mosquitto() {
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    let mut sim = support::twinscope()
        .args([
            "sim",
            "--broker",
            &url,
            "--rate",
            "5",
            "--for",
            "30s",
            "--faults-every",
            "0",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let output = run_twinscope(
        &[
            "state",
            "--broker",
            &url,
            "--scene",
            "scenes/demo-plant.toml",
            "--for",
            "3s",
            "--json",
        ],
        Duration::from_secs(30),
    );
    let _ = sim.kill();
    let _ = sim.wait();
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("state --json prints JSON");
    assert_eq!(report["ingest"]["connected"], true);
    assert!(report["ingest"]["messages"].as_u64().unwrap() > 100);
    assert_eq!(report["ingest"]["decode_errors"], 0);
    let twins = report["twins"].as_array().unwrap();
    let find = |id: &str| {
        twins
            .iter()
            .find(|t| t["id"] == id)
            .unwrap_or_else(|| panic!("no twin {id}"))
    };
    let bearing = find("line1-pump1-bearing-de");
    assert_eq!(
        bearing["path"],
        serde_json::json!(["main", "line1", "line1-pump1", "line1-pump1-bearing-de"])
    );
    assert_eq!(bearing["status"], "ok");
    let temperature = bearing["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "temperature")
        .unwrap();
    assert_eq!(temperature["unit"], "°C");
    assert!((30.0..70.0).contains(&temperature["value"].as_f64().unwrap()));
    assert!(temperature["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        find("line1-pump1")["fragments"]["hardware"]["manufacturer"],
        "ACME Process"
    );
    assert_eq!(find("line1/plc")["health"], "up");
    assert_eq!(find("main")["name"], "Demo plant");
    assert_eq!(
        twins.len(),
        65 + 2,
        "the model's twins plus one PLC service per line"
    );

    let text = run_twinscope(
        &["state", "--broker", &url, "--for", "1s"],
        Duration::from_secs(30),
    );
    assert!(stdout(&text).contains("main [") && stdout(&text).lines().count() > 1);
}

#[test]
fn state_fails_clearly_without_a_broker() {
    let port = support::free_port();
    let output = run_twinscope(
        &[
            "state",
            "--broker",
            &format!("mqtt://127.0.0.1:{port}"),
            "--for",
            "1s",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("could not connect"),
        "{}",
        stderr(&output)
    );
}

// ---- rendered screenshot under Xvfb + Mesa lavapipe -----------------------------------------

/// How to give the viewer a display: the one we have, or a private Xvfb via `xvfb-run`.
fn display_wrapper() -> Option<Vec<String>> {
    if std::env::var_os("DISPLAY").is_some() {
        return Some(Vec::new());
    }
    let has_xvfb_run = std::process::Command::new("sh")
        .args(["-c", "command -v xvfb-run"])
        .output()
        .is_ok_and(|o| o.status.success());
    has_xvfb_run.then(|| {
        ["xvfb-run", "-a", "-s", "-screen 0 1280x720x24"]
            .map(String::from)
            .to_vec()
    })
}

/// A rendered frame and where each twin appeared in it (`FILE.png.twins.json`).
struct Shot {
    path: std::path::PathBuf,
    pixels: Vec<u8>,
    width: usize,
    channels: usize,
    placements: Vec<serde_json::Value>,
    log: String,
}

impl Shot {
    fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * self.channels;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }

    /// The mean colour of the 5×5 pixels around (x, y).
    fn average(&self, x: usize, y: usize) -> [u32; 3] {
        let mut sum = [0u32; 3];
        for dy in 0..5 {
            for dx in 0..5 {
                let p = self.pixel(x + dx - 2, y + dy - 2);
                for k in 0..3 {
                    sum[k] += p[k] as u32;
                }
            }
        }
        sum.map(|s| s / 25)
    }

    /// Where a twin's largest mesh appeared, and its status.
    fn at(&self, twin: &str) -> (usize, usize, String) {
        let p = self
            .placements
            .iter()
            .find(|p| p["twin"] == twin)
            .unwrap_or_else(|| panic!("{twin} not placed: {:?}", self.placements));
        (
            p["x"].as_f64().unwrap() as usize,
            p["y"].as_f64().unwrap() as usize,
            p["status"].as_str().unwrap().to_owned(),
        )
    }
}

/// Runs the viewer at 1280×720 under Xvfb and lavapipe with `args`, saves `name`.png in the
/// test output, and reads it back. `None` (after saying why) where no display can be had.
fn screenshot(name: &str, args: &[&str]) -> Option<Shot> {
    // `--offscreen` draws into an image: no display at all (as on a GPU server).
    let offscreen = args.contains(&"--offscreen");
    let Some(wrapper) =
        display_wrapper().map(|wrapper| if offscreen { Vec::new() } else { wrapper })
    else {
        assert!(
            std::env::var_os("TWINSCOPE_REQUIRE_SCREENSHOT").is_none(),
            "no DISPLAY and no xvfb-run, but a screenshot is required"
        );
        eprintln!("SKIPPED: no DISPLAY and no xvfb-run (apt-get install xvfb mesa-vulkan-drivers)");
        return None;
    };
    let out_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&out_dir).unwrap();
    let path = out_dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&path);
    let binary = env!("CARGO_BIN_EXE_twinscope");
    let mut command = std::process::Command::new(wrapper.first().map_or(binary, String::as_str));
    if !wrapper.is_empty() {
        command.args(&wrapper[1..]).arg(binary);
    }
    if offscreen {
        command.env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY");
    }
    let lavapipe = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json";
    if std::env::var_os("VK_DRIVER_FILES").is_none() && std::path::Path::new(lavapipe).exists() {
        command.env("VK_DRIVER_FILES", lavapipe);
    }
    let output = command
        .current_dir(support::repo_root())
        .args(args)
        .args(["--window-size", "1280x720", "--screenshot"])
        .arg(&path)
        .output()
        .unwrap();
    let log = format!("{}\n{}", stdout(&output), stderr(&output));
    assert!(output.status.success(), "viewer failed:\n{log}");
    let image = support::read_png(&path).unwrap_or_else(|| panic!("no screenshot written:\n{log}"));
    assert_eq!((image.width, image.height), (1280, 720));
    let placements =
        serde_json::from_slice(&std::fs::read(format!("{}.twins.json", path.display())).unwrap())
            .unwrap();
    let shot = Shot {
        path,
        pixels: image.pixels,
        width: image.width,
        channels: image.channels,
        placements,
        log,
    };
    // Not blank: many distinct colours.
    let mut colours = std::collections::HashSet::new();
    for y in (0..720).step_by(4) {
        for x in (0..1280).step_by(4) {
            colours.insert(shot.pixel(x, y));
        }
    }
    assert!(
        colours.len() > 200,
        "the screenshot looks blank ({} colours)\n{}",
        colours.len(),
        shot.log
    );
    Some(shot)
}

#[test]
fn screenshot_shows_a_part_in_alarm_with_the_alarm_list_open() {
    if display_wrapper().is_none() {
        let _ = screenshot("demo-plant-alarm", &[]); // says why, or fails where a screenshot is required
        return;
    }
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    // A part forced into alarm, as a device would raise it (retained).
    mosquitto.publish(
        "te/device/line1-tank1///a/leak",
        r#"{"text":"Tank leaking","severity":"critical"}"#,
        true,
    );
    let mut sim = support::twinscope()
        .args([
            "sim",
            "--broker",
            &url,
            "--rate",
            "2",
            "--faults-every",
            "0",
            "--for",
            "120s",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let shot = screenshot(
        "demo-plant-alarm",
        &[
            "--broker",
            &url,
            "--select",
            "line2-pump1",
            "--exit-after",
            "40s",
        ],
    );
    let _ = sim.kill();
    let _ = sim.wait();
    let shot = shot.expect("a display was found above");
    let path = shot.path.display();

    let (x, y, status) = shot.at("line1-tank1");
    assert_eq!(status, "alarm");
    let is_red = |[r, g, b]: [u32; 3]| r > 150 && r > g + 90 && r > b + 90;
    let colour = shot.average(x, y);
    assert!(
        is_red(colour),
        "line1-tank1 at ({x},{y}) should be alarm red, is {colour:?}; see {path}"
    );
    let (x, y, status) = shot.at("line1-tank2");
    assert_ne!(status, "alarm");
    let colour = shot.average(x, y);
    assert!(
        !is_red(colour),
        "line1-tank2 is not in alarm but looks red: {colour:?}"
    );

    // The alarm list is open and the always-visible counts show the critical alarm: the
    // critical colour fills the count chip in the status bar and the UNACK chip in the list
    // (both at the left edge, where no 3D is drawn).
    let critical =
        |[r, g, b]: [u8; 3]| r.abs_diff(235) <= 8 && g.abs_diff(20) <= 8 && b.abs_diff(20) <= 8;
    let rows: Vec<usize> = (360..720)
        .filter(|&y| (0..250).filter(|&x| critical(shot.pixel(x, y))).count() >= 15)
        .collect();
    let bands = rows.windows(2).filter(|w| w[1] - w[0] > 8).count() + usize::from(!rows.is_empty());
    assert!(
        bands >= 2,
        "expected the critical count chip and the alarm list's UNACK chip, found rows {rows:?}; see {path}"
    );
    assert!(
        rows.iter().any(|&y| y > 670),
        "the status bar's critical count is not coloured: rows {rows:?}"
    );
    eprintln!("screenshot checked (reference image): {path}");
}

/// X-ray around line 2: its parts keep the model's look, line 1 turns to faint glass (the
/// x-ray shader, compiled and run by the real renderer).
#[test]
fn screenshot_x_ray_keeps_the_focus_and_turns_the_rest_to_glass() {
    let Some(shot) = screenshot(
        "demo-plant-x-ray",
        &[
            "--select",
            "line2",
            "--focus",
            "xray",
            "--panels",
            "closed",
            "--exit-after",
            "20s",
        ],
    ) else {
        return;
    };
    let path = shot.path.display();
    let brightness = |[r, g, b]: [u32; 3]| r + g + b;
    let (x, y, _) = shot.at("line2-tank1");
    let focused = shot.average(x, y);
    let (x, y, _) = shot.at("line1-tank1");
    let glass = shot.average(x, y);
    assert!(
        brightness(focused) > 400,
        "line 2 keeps its light model colours: {focused:?}; see {path}"
    );
    assert!(
        brightness(glass) * 2 < brightness(focused),
        "line 1 is faint glass: {glass:?} against {focused:?}; see {path}"
    );
    assert!(
        glass[2] > glass[0],
        "glass is tinted blue: {glass:?}; see {path}"
    );
    eprintln!("screenshot checked: {path}");
}

/// With no display at all, `--offscreen` draws the plant and the panels into an image of the
/// window's size (the GPU-server soak runs this way).
#[test]
fn offscreen_draws_the_plant_and_the_panels_with_no_display() {
    let Some(shot) = screenshot(
        "demo-plant-offscreen",
        &[
            "--offscreen",
            "--select",
            "line2-pump1",
            "--exit-after",
            "20s",
        ],
    ) else {
        return;
    };
    let path = shot.path.display();
    let (x, y, _) = shot.at("line1-tank1");
    let tank = shot.average(x, y);
    assert!(
        tank.iter().sum::<u32>() > 300,
        "line1-tank1 at ({x},{y}) is drawn in the model's light colours: {tank:?}; see {path}"
    );
    // The status bar's text along the bottom: many colours where the 3D view alone would
    // leave the plain background.
    let status_bar: std::collections::HashSet<[u8; 3]> = (700..720)
        .flat_map(|y| (0..1280).map(move |x| (x, y)))
        .map(|(x, y)| shot.pixel(x, y))
        .collect();
    assert!(
        status_bar.len() > 20,
        "no status bar drawn ({} colours in the bottom rows); see {path}",
        status_bar.len()
    );
    eprintln!("screenshot checked: {path}");
}

// ---- recording and replay ------------------------------------------------------------------

fn python_has_mcap() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import mcap, zstandard"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Counts per topic as our reader sees them.
fn our_counts(path: &std::path::Path) -> std::collections::BTreeMap<String, u64> {
    let mut file = twinscope_core::mcap::McapFile::open(path).unwrap();
    let mut counts = std::collections::BTreeMap::new();
    for chunk in 0..file.chunks.len() {
        let records = file.chunk_records(chunk).unwrap();
        twinscope_core::mcap::for_each_message(&records, |_, m| {
            *counts
                .entry(file.channels[&m.channel].topic.clone())
                .or_insert(0) += 1;
        })
        .unwrap();
    }
    counts
}

#[test]
fn recordings_replay_exactly_and_open_in_an_independent_mcap_reader() {
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    mosquitto.publish(
        "te/device/line1-pump1///a/cavitation",
        r#"{"text":"Cavitation","severity":"major"}"#,
        true,
    );
    let mut sim = support::twinscope()
        .args([
            "sim",
            "--broker",
            &url,
            "--rate",
            "5",
            "--faults-every",
            "0",
            "--for",
            "60s",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("recordings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("plant.mcap");
    let output = run_twinscope(
        &[
            "record",
            "--broker",
            &url,
            "--out",
            path.to_str().unwrap(),
            "--for",
            "4s",
        ],
        Duration::from_secs(30),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("messages"),
        "a progress line: {}",
        stderr(&output)
    );

    // The independent reader sees the same topics and counts, through the summary.
    let ours = our_counts(&path);
    let total: u64 = ours.values().sum();
    assert!(total > 500, "only {total} messages recorded");
    if python_has_mcap() {
        let script = r#"
import json, sys
from mcap.reader import make_reader
with open(sys.argv[1], "rb") as f:
    reader = make_reader(f, validate_crcs=True)  # chunk, attachment and summary CRCs checked
    summary = reader.get_summary()
    counts = {}
    for schema, channel, message in reader.iter_messages():
        counts[channel.topic] = counts.get(channel.topic, 0) + 1
    # The seek index twinscope stores: an attachment other readers list (its CRC checked).
    attachments = [(a.name, a.media_type, len(a.data)) for a in reader.iter_attachments()]
    print(json.dumps({"counts": counts, "statistics": summary.statistics.message_count, "chunks": len(summary.chunk_indexes),
                      "attachments": attachments, "attachment_count": summary.statistics.attachment_count,
                      "attachment_indexes": len(summary.attachment_indexes)}))
"#;
        let python = std::process::Command::new("python3")
            .args(["-c", script])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            python.status.success(),
            "python mcap failed: {}",
            String::from_utf8_lossy(&python.stderr)
        );
        let theirs: serde_json::Value = serde_json::from_slice(&python.stdout).unwrap();
        assert_eq!(theirs["statistics"], total);
        assert!(
            theirs["chunks"].as_u64().unwrap() >= 3,
            "chunks are flushed about every second"
        );
        let their_counts: std::collections::BTreeMap<String, u64> =
            serde_json::from_value(theirs["counts"].clone()).unwrap();
        assert_eq!(their_counts, ours);
        let attachments = theirs["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), 1, "the stored seek index: {theirs}");
        assert_eq!(attachments[0][0], "twinscope.seek-index");
        assert!(attachments[0][2].as_u64().unwrap() > 100);
        assert_eq!(theirs["attachment_count"], 1);
        assert_eq!(theirs["attachment_indexes"], 1);
    } else {
        assert!(
            std::env::var_os("TWINSCOPE_REQUIRE_INTEROP").is_none(),
            "python3 -m pip install mcap zstandard"
        );
        eprintln!("SKIPPED interop part: python3 -m pip install mcap zstandard");
    }

    // State at the end of the recording, and near its start.
    let output = run_twinscope(
        &[
            "state",
            "--replay",
            path.to_str().unwrap(),
            "--scene",
            "scenes/demo-plant.toml",
            "--json",
        ],
        Duration::from_secs(30),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let twins = report["twins"].as_array().unwrap();
    let pump = twins.iter().find(|t| t["id"] == "line1-pump1").unwrap();
    assert_eq!(pump["status"], "alarm");
    assert_eq!(pump["alarms"][0]["type"], "cavitation");
    let bearing = twins
        .iter()
        .find(|t| t["id"] == "line1-pump1-bearing-de")
        .unwrap();
    assert!(
        bearing["properties"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "temperature" && p["unit"] == "°C")
    );
    let output = run_twinscope(
        &[
            "state",
            "--replay",
            path.to_str().unwrap(),
            "--at",
            "1s",
            "--json",
        ],
        Duration::from_secs(30),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let early: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(early["replay"]["at"].as_str().unwrap() < report["replay"]["at"].as_str().unwrap());

    // A recording killed mid-way keeps its complete chunks, replays, and repairs.
    let crashed = dir.join("crashed.mcap");
    let mut recorder = support::twinscope()
        .args([
            "record",
            "--broker",
            &url,
            "--out",
            crashed.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    recorder.kill().unwrap(); // SIGKILL: no chance to write the summary
    recorder.wait().unwrap();
    let _ = sim.kill();
    let _ = sim.wait();
    let before = our_counts(&crashed).values().sum::<u64>();
    assert!(
        before > 100,
        "a killed recording kept only {before} messages"
    );
    let output = run_twinscope(
        &["state", "--replay", crashed.to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("record --repair"),
        "{}",
        stderr(&output)
    );
    let output = run_twinscope(
        &["record", "--repair", crashed.to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        twinscope_core::mcap::McapFile::open(&crashed)
            .unwrap()
            .recovery
            .is_none()
    );
    assert_eq!(our_counts(&crashed).values().sum::<u64>(), before);

    // Files that are not recordings get a clear message, never a panic.
    for (name, bytes, expected) in [
        ("empty.mcap", &b""[..], "empty"),
        (
            "garbage.mcap",
            &b"hello world, not mcap"[..],
            "not an MCAP file",
        ),
    ] {
        let bad = dir.join(name);
        std::fs::write(&bad, bytes).unwrap();
        let output = run_twinscope(
            &["state", "--replay", bad.to_str().unwrap()],
            Duration::from_secs(30),
        );
        assert!(!output.status.success());
        assert!(
            stderr(&output).contains(expected),
            "{name}: {}",
            stderr(&output)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    // `twinscope check scenes/demo-plant.toml | head -1`: the reader goes away first.
    for args in [
        &["check", "scenes/demo-plant.toml"][..],
        &["bench", "--lines", "1", "--rounds", "1"][..],
    ] {
        let mut child = support::twinscope()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let message = stderr(&output);
        assert!(!message.contains("panicked"), "{args:?}: {message}");
        assert!(output.status.success(), "{args:?}: {message}");
    }
}

#[test]
fn recording_keeps_going_across_a_broker_restart_and_finishes_cleanly_on_sigterm() {
    let mut mosquitto = Mosquitto::start();
    let port = mosquitto.port;
    let url = mosquitto.url();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("restart.mcap");
    let recorder = support::twinscope()
        .args(["record", "--broker", &url, "--out", path.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    mosquitto.publish("te/device/pump1///m/p", r#"{"flow": 1}"#, false);
    mosquitto.stop();
    std::thread::sleep(Duration::from_millis(1500));
    let mosquitto = Mosquitto::start_on(port);
    let arrived = eventually(Duration::from_secs(15), || {
        mosquitto.publish("te/device/pump1///m/p", r#"{"flow": 2}"#, false);
        std::thread::sleep(Duration::from_millis(1200)); // a chunk is flushed every second
        twinscope_core::mcap::McapFile::open(&path).is_ok_and(|mut file| {
            (0..file.chunks.len()).any(|c| {
                let records = file.chunk_records(c).unwrap_or_default();
                let mut found = false;
                let _ = twinscope_core::mcap::for_each_message(&records, |_, m| {
                    found |= m.payload == br#"{"flow": 2}"#
                });
                found
            })
        })
    });
    assert!(
        arrived,
        "messages after the broker restart were not recorded"
    );
    // SIGTERM (as from a service manager) finishes the file with its summary.
    let pid = recorder.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let output = recorder.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let file = twinscope_core::mcap::McapFile::open(&path).unwrap();
    assert!(file.recovery.is_none(), "a clean stop writes the summary");
    let counts = our_counts(&path);
    assert!(counts["te/device/pump1///m/p"] >= 2, "{counts:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- alarm history ---------------------------------------------------------------------------

/// A night in a recording: a device alarm raised and cleared over thin-edge, and a bearing
/// that runs hot long enough for the scene's local rule (85 °C, 2 s on-delay, 3 °C deadband).
#[test]
fn alarm_history_of_a_recording_lists_device_and_rule_transitions_as_csv() {
    use twinscope_core::mcap::{Delivery, McapWriter};
    let dir = std::env::temp_dir().join(format!("twinscope-alarm-history-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let recording = dir.join("night.mcap");
    let second = 1_000_000_000u64;
    let t0 = 1_763_000_000 * second;
    let mut writer = McapWriter::create(&recording).unwrap();
    let retained = Delivery {
        qos: 1,
        retain: true,
    };
    let live = Delivery {
        qos: 0,
        retain: false,
    };
    let bearing = "te/device/line1-pump1-bearing-de///m/condition";
    for (s, temperature) in [
        (0, 80.0),
        (1, 90.0),
        (2, 86.0),
        (3, 95.0),
        (4, 84.0),
        (5, 83.0),
        (6, 81.5),
        (7, 80.0),
    ] {
        writer
            .write(
                bearing,
                live,
                format!(r#"{{"temperature": {temperature}}}"#).as_bytes(),
                t0 + s * second,
            )
            .unwrap();
        if s == 2 {
            writer
                .write(
                    "te/device/line1-tank1///a/leak",
                    retained,
                    br#"{"text":"Tank leaking","severity":"critical"}"#,
                    t0 + 2 * second + 5,
                )
                .unwrap();
        }
        if s == 5 {
            writer
                .write(
                    "te/device/line1-tank1///a/leak",
                    retained,
                    b"",
                    t0 + 5 * second + 5,
                )
                .unwrap();
        }
    }
    writer.finish().unwrap();

    let csv = dir.join("history.csv");
    let output = run_twinscope(
        &[
            "alarms",
            "--replay",
            recording.to_str().unwrap(),
            "--scene",
            "scenes/demo-plant.toml",
            "--csv",
            csv.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let summary: Vec<(&str, &str, &str, &str, &str)> = rows
        .iter()
        .map(|r| (r[1], r[2], r[4], r[6], r[7]))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "line1-tank1",
                "leak",
                "activate",
                "active-unacknowledged",
                "device"
            ),
            (
                "line1-pump1-bearing-de",
                "bearing-hot",
                "activate",
                "active-unacknowledged",
                "rule bearing-hot"
            ),
            (
                "line1-tank1",
                "leak",
                "clear",
                "returned-unacknowledged",
                "device"
            ),
            (
                "line1-pump1-bearing-de",
                "bearing-hot",
                "clear",
                "returned-unacknowledged",
                "rule bearing-hot"
            ),
        ],
        "{text}"
    );
    // The rule waited out its on-delay (over 85 from 1 s, held to 3 s) and its deadband (84 and
    // 83 °C keep it active; 81.5 clears it).
    assert!(
        rows[1][0].starts_with("2025-11-13T02:13:23"),
        "activated at 3 s: {}",
        rows[1][0]
    );
    assert!(
        rows[3][0].starts_with("2025-11-13T02:13:26"),
        "cleared at 6 s: {}",
        rows[3][0]
    );
    assert!(text.starts_with("time,twin,type,severity,action,from,to,cause,text\n"));

    // Without --csv: a table, and what is still in the list (both await acknowledgement).
    let output = run_twinscope(
        &[
            "alarms",
            "--replay",
            recording.to_str().unwrap(),
            "--scene",
            "scenes/demo-plant.toml",
        ],
        Duration::from_secs(30),
    );
    let table = stdout(&output);
    assert!(
        table.contains("4 transitions") && table.contains("# in the alarm list at the end: 2"),
        "{table}"
    );
    // A broken file is an error with a message, not a panic.
    std::fs::write(dir.join("broken.mcap"), b"not an mcap file").unwrap();
    let output = run_twinscope(
        &[
            "alarms",
            "--replay",
            dir.join("broken.mcap").to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("broken.mcap"),
        "{}",
        stderr(&output)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
