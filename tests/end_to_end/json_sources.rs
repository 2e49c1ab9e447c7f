//! A plant with its own topic design: a scene's `[[source]]` maps its JSON to twins, for the
//! live viewer's data path (`state`), recordings and `check --sample`.

use std::time::Duration;

use crate::support::{Mosquitto, repo_root, run_twinscope};
use crate::{stderr, stdout};

/// A scene over the demo model whose twins come from a gateway's batches and a PLC's alarm flag.
fn scene() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("json-sources-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("plant.toml");
    let model = repo_root().join("assets/demo-plant.glb");
    std::fs::write(
        &path,
        format!(
            r#"
[scene]
name = "gateway plant"
model = "{}"

[[source]]
name = "gateway"
topic = "factory/{{line}}/{{machine}}/telemetry"
twin = "{{line}}-{{machine}}"
parent = "{{line}}"
timestamp = "/ts"
[[source.property]]
pointer = "/values/*"
[[source.property]]
pointer = "/units/temp"
name = "temp_unit"
type = "string"
[[source.alarm]]
type = "fault"
active = "/fault/active"
severity = "/fault/severity"
text = "/fault/text"
"#,
            model.display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn check_tests_a_source_against_a_sample() {
    let scene = scene();
    let output = run_twinscope(
        &[
            "check",
            scene.to_str().unwrap(),
            "--sample",
            "factory/l1/press2/telemetry",
            r#"{"ts": "2026-11-22T08:00:00Z", "values": {"force": 120.5}}"#,
        ],
        Duration::from_secs(30),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("gateway: factory/+/+/telemetry"), "{text}");
    assert!(
        text.contains("Measurement")
            && text.contains("l1-press2")
            && text.contains("force")
            && text.contains("120.5"),
        "{text}"
    );
    // A sample that is not JSON is rejected, with the reason, and check fails.
    let output = run_twinscope(
        &[
            "check",
            scene.to_str().unwrap(),
            "--sample",
            "factory/l1/press2/telemetry",
            "{oops",
        ],
        Duration::from_secs(30),
    );
    assert!(!output.status.success());
    assert!(
        stdout(&output).contains("rejected: payload is not valid JSON"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_gateway_s_json_becomes_twins_live_and_in_a_recording() {
    let scene = scene();
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    let batch = r#"{"ts": 1795000000000, "values": {"force": 120.5, "speed": 30}, "fault": {"active": true, "severity": "critical", "text": "Hydraulic pressure lost"}}"#;
    mosquitto.publish("factory/l1/press2/telemetry", batch, true);
    let output = run_twinscope(
        &[
            "state",
            "--scene",
            scene.to_str().unwrap(),
            "--broker",
            &url,
            "--for",
            "2s",
            "--json",
        ],
        Duration::from_secs(30),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let state: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let press = state["twins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "l1-press2")
        .unwrap_or_else(|| panic!("{state}"));
    assert_eq!(press["parent"], "l1");
    assert_eq!(press["status"], "alarm", "{press}");
    assert_eq!(press["alarms"][0]["text"], "Hydraulic pressure lost");
    let force = press["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "force")
        .unwrap();
    assert_eq!(force["value"], 120.5);

    // Recorded with the scene's topics (record --scene), and replayed through the same sources.
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("json-sources-{}.mcap", std::process::id()));
    let output = run_twinscope(
        &[
            "record",
            "--broker",
            &url,
            "--scene",
            scene.to_str().unwrap(),
            "--out",
            path.to_str().unwrap(),
            "--for",
            "2s",
        ],
        Duration::from_secs(30),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run_twinscope(
        &[
            "state",
            "--replay",
            path.to_str().unwrap(),
            "--scene",
            scene.to_str().unwrap(),
            "--json",
        ],
        Duration::from_secs(30),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let replayed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let press = replayed["twins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "l1-press2")
        .unwrap_or_else(|| panic!("{replayed}"));
    assert_eq!(press["status"], "alarm");
}
