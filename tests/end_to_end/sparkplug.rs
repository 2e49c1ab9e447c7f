//! Sparkplug B against a real edge node: Eclipse Tahu's JavaScript client (npm
//! `sparkplug-client`, driven by `tests/sparkplug/edge.js`) publishing to mosquitto, and
//! `twinscope state` as the host application.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::{Mosquitto, repo_root, twinscope};
use crate::{stderr, stdout};

/// The edge node peer, or `None` (skipped unless CI requires it) without node and its package.
struct Edge {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

fn peer_installed() -> bool {
    let installed = repo_root()
        .join("tests/sparkplug/node_modules/sparkplug-client")
        .exists()
        && Command::new("node").arg("--version").output().is_ok();
    if !installed {
        assert!(
            std::env::var_os("TWINSCOPE_REQUIRE_INTEROP").is_none(),
            "the Tahu peer is not installed (npm ci --prefix tests/sparkplug)"
        );
        eprintln!(
            "SKIPPED: the Tahu Sparkplug peer is not installed (npm ci --prefix tests/sparkplug)"
        );
    }
    installed
}

impl Edge {
    fn start(broker: &str, bd_seq: u8) -> Edge {
        Self::start_with(broker, bd_seq, &[])
    }

    fn start_with(broker: &str, bd_seq: u8, more: &[&str]) -> Edge {
        let mut child = Command::new("node")
            .arg(repo_root().join("tests/sparkplug/edge.js"))
            .args([
                "--broker",
                broker,
                "--group",
                "Plant1",
                "--node",
                "Edge1",
                "--device",
                "PLC1",
                "--bdseq",
                &bd_seq.to_string(),
            ])
            .args(more)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the Tahu edge peer");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        let mut edge = Edge {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        };
        edge.wait_for("connected");
        edge
    }

    /// Waits for a line starting with `prefix` (up to 15 s).
    fn wait_for(&mut self, prefix: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.starts_with(prefix);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "the edge peer never said {prefix:?}; it said {:?}",
            self.seen
        );
    }

    fn command(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to the edge peer");
        self.wait_for(&format!("ok {line}"));
    }

    fn said(&mut self, text: &str) -> usize {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen.iter().filter(|l| l.as_str() == text).count()
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_state(broker: &str, seconds: u32) -> Child {
    twinscope()
        .args([
            "state",
            "--broker",
            broker,
            "--for",
            &format!("{seconds}s"),
            "--json",
            "--sparkplug-host-id",
            "twinscope-test",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start twinscope state")
}

fn finish(child: Child) -> (serde_json::Value, String) {
    let output = child.wait_with_output().expect("twinscope state");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    let json = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    (json, stderr)
}

fn twin<'a>(state: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    state["twins"]
        .as_array()
        .and_then(|twins| twins.iter().find(|t| t["id"] == id))
        .unwrap_or_else(|| panic!("no twin {id} in {state}"))
}

fn property(twin: &serde_json::Value, name: &str) -> serde_json::Value {
    twin["properties"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("no {name} in {twin}"))
}

/// A host that joins after the births asks for them (and gets them from the real client),
/// reads values by alias with their datatypes, asks again after a `seq` gap once the reorder
/// timeout passes, and shows the node and its device offline when the edge process dies
/// and the broker sends its NDEATH will. The edge coming back with a new bdSeq is online
/// again. The host's STATE is retained on the broker, online while it runs.
#[test]
fn a_late_host_gets_births_follows_data_and_sees_the_edge_die_and_return() {
    if !peer_installed() {
        return;
    }
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    let mut edge = Edge::start(&url, 1);
    // The host joins after the births: the first data asks for them.
    let host = start_state(&url, 13);
    std::thread::sleep(Duration::from_secs(2));
    edge.command("data Temperature 81.5");
    edge.wait_for("ncmd rebirth");
    edge.command("data Count -5");
    // A gap, 7 s after the first request (one request per node per 5 s at most).
    std::thread::sleep(Duration::from_secs(4));
    edge.command("gap");
    edge.command("data Pressure 2.5");
    edge.wait_for("ncmd rebirth");
    edge.command("kill");
    let (state, log) = finish(host);
    assert_eq!(
        edge.said("ncmd rebirth"),
        2,
        "births asked for when joining late and after the gap: {:?}\n{log}",
        edge.seen
    );
    assert!(log.contains("a message went missing (seq gap)"), "{log}");
    let device = twin(&state, "Plant1/Edge1/PLC1");
    assert_eq!(property(device, "Temperature")["value"], 81.5);
    assert_eq!(property(device, "Temperature")["unit"], "°C");
    assert_eq!(
        property(device, "Count")["value"],
        -5.0,
        "an Int32 sign-extended"
    );
    assert_eq!(property(device, "Pressure")["value"], 2.5);
    assert_eq!(property(device, "Running")["value"], 1.0, "a Boolean as 1");
    assert_eq!(
        device["fragments"]["Recipe"]["columns"],
        serde_json::json!(["Ingredient", "Amount"]),
        "a data set"
    );
    assert_eq!(twin(&state, "Plant1/Edge1")["parent"], "Plant1");
    assert_eq!(
        device["status"], "stale",
        "the NDEATH will took the device offline: {device}"
    );
    assert_eq!(twin(&state, "Plant1/Edge1")["status"], "stale");

    // Back with a new bdSeq, while a host listens: online again, with its new data.
    let host = start_state(&url, 6);
    std::thread::sleep(Duration::from_secs(1));
    let mut edge = Edge::start(&url, 2);
    edge.command("data Temperature 90");
    let (state, _) = finish(host);
    let device = twin(&state, "Plant1/Edge1/PLC1");
    assert_eq!(property(device, "Temperature")["value"], 90.0);
    assert_ne!(device["status"], "stale", "{device}");
    assert_eq!(
        edge.said("ncmd rebirth"),
        0,
        "births seen live need no rebirth"
    );

    // The host's STATE was published retained, and said offline when it stopped.
    let retained = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &mosquitto.port.to_string(),
            "-t",
            "spBv1.0/STATE/twinscope-test",
            "-C",
            "1",
            "-W",
            "3",
        ])
        .output()
        .expect("mosquitto_sub");
    let state: serde_json::Value =
        serde_json::from_slice(&retained.stdout).unwrap_or_else(|e| panic!("{e}: {:?}", retained));
    assert_eq!(state["online"], false, "{state}");
    assert!(
        state["timestamp"]
            .as_u64()
            .is_some_and(|t| t > 1_700_000_000_000),
        "{state}"
    );
}

/// A host that stops says goodbye: its STATE offline, then a DISCONNECT the broker reads, so
/// the broker does not also send its will (a second offline STATE, as for a host that died).
/// Closing the socket right after writing the DISCONNECT had mosquitto fail to acknowledge
/// the last PUBLISH and drop the host as broken, will and all.
#[test]
fn a_host_that_stops_says_goodbye_and_no_will_follows() {
    let mosquitto = Mosquitto::start();
    let topic = "spBv1.0/STATE/twinscope-goodbye";
    let watcher = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &mosquitto.port.to_string(),
            "-t",
            topic,
            "-C",
            "3",
            "-W",
            "5",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub");
    // Subscribed before the host starts (a late watcher would get only the retained offline).
    std::thread::sleep(Duration::from_millis(1000));
    let host = twinscope()
        .args([
            "state",
            "--broker",
            &mosquitto.url(),
            "--for",
            "1s",
            "--sparkplug-host-id",
            "twinscope-goodbye",
        ])
        .output()
        .expect("twinscope state");
    assert!(
        host.status.success(),
        "{}",
        String::from_utf8_lossy(&host.stderr)
    );
    let seen = watcher.wait_with_output().expect("mosquitto_sub");
    let states: Vec<serde_json::Value> = String::from_utf8_lossy(&seen.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let online: Vec<_> = states.iter().map(|s| s["online"].clone()).collect();
    assert_eq!(
        online,
        [true, false],
        "online, then offline once: {states:?}"
    );
}

/// Sparkplug traffic recorded: the channels carry the payload's protobuf schema, so an
/// independent reader (Foxglove's Python `mcap` with its protobuf decoder) decodes every
/// message; replaying the recording gives the values the edge published.
#[test]
fn sparkplug_recordings_carry_their_schema_and_replay() {
    if !peer_installed() {
        return;
    }
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sparkplug-{}.mcap", std::process::id()));
    let recorder = twinscope()
        .args([
            "record",
            "--broker",
            &url,
            "--out",
            path.to_str().unwrap(),
            "--for",
            "6s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start twinscope record");
    std::thread::sleep(Duration::from_millis(1500));
    let mut edge = Edge::start(&url, 7);
    edge.command("data Temperature 64.25");
    edge.command("data Count -12");
    let output = recorder.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let script = r#"
import json, sys
from mcap.reader import make_reader
from mcap_protobuf.decoder import DecoderFactory
out = []
with open(sys.argv[1], "rb") as f:
    for schema, channel, message, decoded in make_reader(f, decoder_factories=[DecoderFactory()]).iter_decoded_messages(topics=None):
        if channel.message_encoding == "protobuf":
            out.append({"topic": channel.topic, "schema": schema.name, "metrics": [[m.name, m.alias] for m in decoded.metrics]})
print(json.dumps(out))
"#;
    let python = Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .output()
        .expect("python3");
    if !python.status.success()
        && String::from_utf8_lossy(&python.stderr).contains("ModuleNotFoundError")
    {
        assert!(
            std::env::var_os("TWINSCOPE_REQUIRE_INTEROP").is_none(),
            "python3 -m pip install mcap mcap-protobuf-support"
        );
        eprintln!("SKIPPED interop part: python3 -m pip install mcap mcap-protobuf-support");
    } else {
        assert!(
            python.status.success(),
            "{}",
            String::from_utf8_lossy(&python.stderr)
        );
        let decoded: Vec<serde_json::Value> = serde_json::from_slice(&python.stdout).unwrap();
        let birth = decoded
            .iter()
            .find(|m| m["topic"] == "spBv1.0/Plant1/DBIRTH/Edge1/PLC1")
            .unwrap_or_else(|| panic!("{decoded:?}"));
        assert_eq!(birth["schema"], "org.eclipse.tahu.protobuf.Payload");
        assert!(
            birth["metrics"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m[0] == "Temperature" && m[1] == 101),
            "{birth}"
        );
        assert!(
            decoded
                .iter()
                .filter(|m| m["topic"] == "spBv1.0/Plant1/DDATA/Edge1/PLC1")
                .count()
                >= 2
        );
    }

    let output = crate::support::run_twinscope(
        &["state", "--replay", path.to_str().unwrap(), "--json"],
        Duration::from_secs(30),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let state: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let device = twin(&state, "Plant1/Edge1/PLC1");
    assert_eq!(property(device, "Temperature")["value"], 64.25);
    assert_eq!(property(device, "Count")["value"], -12.0);
}

/// The Tahu client publishing as fast as it can: every DDATA reaches the host and the last
/// value is the one in the store (the rates are reported by the benchmark, not asserted).
#[test]
fn a_flood_from_the_edge_is_taken_in_full() {
    if !peer_installed() {
        return;
    }
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    let host = start_state(&url, 10);
    std::thread::sleep(Duration::from_millis(1500));
    let mut edge = Edge::start(&url, 3);
    let flood_began = twinscope_core::Timestamp::now();
    writeln!(edge.stdin, "flood 20000").unwrap();
    edge.wait_for("ok flood 20000");
    // `ok flood N <seconds> <msg/s>`: how fast the Tahu client published.
    let published = edge
        .seen
        .last()
        .and_then(|line| line.split(' ').nth(4))
        .and_then(|rate| rate.parse::<f64>().ok())
        .expect("the peer's publish rate");
    let (state, log) = finish(host);
    let messages = state["ingest"]["messages"]
        .as_u64()
        .unwrap_or_else(|| panic!("no message count: {state}"));
    assert!(
        messages >= 20_002,
        "births and 20,000 DDATA: {messages}\n{log}"
    );
    let device = twin(&state, "Plant1/Edge1/PLC1");
    assert_eq!(
        property(device, "Temperature")["value"],
        119.9,
        "the last value published is the one shown"
    );
    // The host received the last one when it last heard from the device: its rate, from
    // the flood's start, is what it kept up with.
    let last_heard = device["last_seen"]
        .as_str()
        .and_then(twinscope_core::Timestamp::parse_rfc3339)
        .expect("the device was heard from");
    let taken_in = last_heard.seconds_since(flood_began);
    eprintln!(
        "flood: Tahu published 20,000 DDATA at {published:.0} msg/s; the host had all of them {taken_in:.3} s after the flood began ({:.0} msg/s)",
        20_000.0 / taken_in
    );
}

/// Sparkplug writes against Eclipse Tahu's edge node: a DCMD the edge applies and reports back
/// in DDATA is confirmed; one it ignores gets no confirmation; a device that went offline is
/// refused before anything is sent; without writing allowed nothing is sent at all.
#[test]
fn a_dcmd_write_is_confirmed_ignored_or_refused_for_an_offline_device() {
    if !peer_installed() {
        return;
    }
    let mosquitto = crate::support::Mosquitto::start();
    let url = mosquitto.url();
    let mut edge = Edge::start_with(&url, 0, &["--ignore-writes", "Mode"]);
    let audit =
        std::env::temp_dir().join(format!("twinscope-spb-audit-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&audit);
    let write = |metric_value: &str, more: &[&str]| {
        let mut args = vec![
            "operation",
            "--broker",
            &url,
            "--audit-log",
            audit.to_str().unwrap(),
            "--user",
            "anna",
            "Plant1/Edge1/PLC1",
            "--write",
            metric_value,
            "--reason",
            "tuning",
            "--timeout",
            "3s",
        ];
        args.extend_from_slice(more);
        crate::support::run_twinscope(&args, Duration::from_secs(60))
    };
    // The births came before we connected: twinscope asks for a rebirth, then writes by alias.
    let applied = write("Temperature=42.5", &[]);
    assert!(
        applied.status.success(),
        "{}\n{}",
        stdout(&applied),
        stderr(&applied)
    );
    assert!(
        stdout(&applied).contains(
            "sent Temperature = 42.5 to Plant1/Edge1/PLC1 on spBv1.0/Plant1/DCMD/Edge1/PLC1"
        ) && stdout(&applied).contains("confirmed"),
        "{}",
        stdout(&applied)
    );
    edge.wait_for("applied Temperature=42.5");
    let dcmd = edge
        .seen
        .iter()
        .find(|l| l.starts_with("dcmd PLC1"))
        .unwrap()
        .clone();
    let sent: serde_json::Value =
        serde_json::from_str(dcmd.trim_start_matches("dcmd PLC1 ")).unwrap();
    assert_eq!(
        sent["metrics"][0]["alias"], "101",
        "by the birth's alias: {dcmd}"
    );
    assert!(
        sent["metrics"][0].get("name").is_none_or(|n| n.is_null()),
        "{dcmd}"
    );
    assert_eq!(
        sent["metrics"][0]["type"], "Double",
        "the birth's datatype: {dcmd}"
    );
    assert!(
        sent["timestamp"].is_string() || sent["timestamp"].is_number(),
        "a payload timestamp: {dcmd}"
    );
    assert!(
        sent.get("seq").is_none_or(|s| s.is_null()),
        "no seq: {dcmd}"
    );

    let ignored = write("Mode=Manual", &[]);
    assert_eq!(ignored.status.code(), Some(3), "{}", stdout(&ignored));
    assert!(
        stdout(&ignored).contains("no confirmation within 3 s"),
        "{}",
        stdout(&ignored)
    );
    let bad = write("Count=many", &[]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("is not a Int32"), "{}", stderr(&bad));

    // The edge dies (its will is the NDEATH): the device is offline and nothing is sent to
    // it (a client watching DCMD on the broker sees none).
    writeln!(edge.stdin, "kill").unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let watcher = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &mosquitto.port.to_string(),
            "-t",
            "spBv1.0/Plant1/DCMD/#",
            "-W",
            "6",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let offline = write("Temperature=1", &[]);
    assert_eq!(offline.status.code(), Some(2), "{}", stdout(&offline));
    assert!(
        stderr(&offline).contains("offline") || stderr(&offline).contains("no Sparkplug node"),
        "{}",
        stderr(&offline)
    );
    assert!(
        watcher.wait_with_output().unwrap().stdout.is_empty(),
        "no DCMD was sent to the offline device"
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert!(
        events.contains(&"write-requested")
            && events.contains(&"write-confirmed")
            && events.contains(&"write-no-confirmation")
            && events.contains(&"refused"),
        "{events:?}"
    );
}
