//! Operations on devices against mosquitto and an agent that behaves as thin-edge's
//! `tedge-agent` documents (the stand-in in `support/tedge_agent.rs`, with its file-transfer
//! service over real HTTP): `twinscope operation` requests, follows each command through the
//! agent's states, fetches uploaded files, clears only its own commands, audits everything,
//! and a later run clears what a killed one left.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::tedge_agent::{CONFIG, FileTransfer, TedgeAgent};
use crate::support::{Mosquitto, run_twinscope, twinscope};
use crate::{stderr, stdout};

/// A test's own audit log and journal.
struct Trail {
    audit: PathBuf,
    journal: PathBuf,
}

impl Trail {
    fn new(name: &str) -> Trail {
        let dir = std::env::temp_dir().join(format!("twinscope-ops-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Trail {
            audit: dir.join("audit.jsonl"),
            journal: dir.join("journal.jsonl"),
        }
    }

    fn audit_lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// `twinscope operation` on `url` with the test's audit log and journal, as anna.
fn operation_args(url: &str, trail: &Trail) -> Vec<String> {
    let (audit, journal) = (
        trail.audit.to_str().unwrap(),
        trail.journal.to_str().unwrap(),
    );
    [
        "operation",
        "--broker",
        url,
        "--audit-log",
        audit,
        "--journal",
        journal,
        "--user",
        "anna",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn operation(url: &str, trail: &Trail, args: &[&str]) -> Output {
    let mut all = operation_args(url, trail);
    all.extend(args.iter().map(|a| a.to_string()));
    run_twinscope(
        &all.iter().map(String::as_str).collect::<Vec<_>>(),
        Duration::from_secs(60),
    )
}

/// mosquitto, the agent of `device` on it, and a test's audit log and journal.
fn plant_with_agent(device: &str, test: &str) -> (Mosquitto, String, TedgeAgent, Trail) {
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    let agent = TedgeAgent::start(mosquitto.port, device);
    (mosquitto, url, agent, Trail::new(test))
}

/// The retained message on `topic` (mosquitto_sub, an independent client), if any.
fn retained(port: u16, topic: &str) -> Option<String> {
    let output = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            topic,
            "-C",
            "1",
            "-W",
            "1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// The command topic `twinscope operation` printed when it requested.
fn requested_topic(out: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.starts_with("requested "))
        .unwrap_or_else(|| panic!("{out}"));
    line.split_whitespace()
        .find(|w| w.starts_with("te/"))
        .unwrap()
        .to_owned()
}

#[test]
fn a_restart_and_a_custom_workflow_are_followed_to_their_end_cleared_and_audited() {
    let (mosquitto, url, agent, trail) = plant_with_agent("pump1", "restart");
    let recording = trail.audit.with_file_name("plant.mcap");
    let mut recorder = twinscope()
        .args([
            "record",
            "--broker",
            &url,
            "--out",
            recording.to_str().unwrap(),
            "--for",
            "8s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));

    let restart = operation(
        &url,
        &trail,
        &["pump1", "restart", "--reason", "seal check after leak"],
    );
    let out = stdout(&restart);
    assert!(restart.status.success(), "{out}\n{}", stderr(&restart));
    let topic = requested_topic(&out);
    assert!(
        topic.starts_with("te/device/pump1///cmd/restart/twinscope-"),
        "{topic}"
    );
    let states: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1).filter(|_| l.starts_with("20")))
        .collect();
    assert_eq!(
        states,
        ["init", "scheduled", "executing", "successful"],
        "{out}"
    );
    assert!(out.contains(&format!("cleared {topic}")), "{out}");
    assert_eq!(
        retained(mosquitto.port, &topic),
        None,
        "our command is cleared on the broker"
    );

    let custom = operation(&url, &trail, &["pump1", "calibrate", "--reason", "drift"]);
    let out = stdout(&custom);
    assert!(custom.status.success(), "{out}");
    for state in ["scheduled", "calibrating", "verifying", "successful"] {
        assert!(
            out.lines().any(|l| l.ends_with(&format!("  {state}"))),
            "the workflow's {state}: {out}"
        );
    }
    let id = requested_topic(&out).rsplit('/').next().unwrap().to_owned();
    assert_eq!(
        agent.states_of(&id),
        ["scheduled", "calibrating", "verifying", "successful"]
    );

    let audit = trail.audit_lines();
    let requested: Vec<_> = audit.iter().filter(|l| l["event"] == "requested").collect();
    assert_eq!(requested.len(), 2);
    assert_eq!(
        (
            requested[0]["user"].as_str(),
            requested[0]["reason"].as_str(),
            requested[0]["operation"].as_str()
        ),
        (Some("anna"), Some("seal check after leak"), Some("restart"))
    );
    assert_eq!(requested[0]["payload"]["status"], "init");
    let course: Vec<&str> = audit
        .iter()
        .filter(|l| l["topic"] == topic.as_str() && l["event"] == "state")
        .map(|l| l["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        course,
        ["scheduled", "executing", "successful"],
        "every state in the audit log"
    );
    assert!(
        audit
            .iter()
            .any(|l| l["topic"] == topic.as_str() && l["event"] == "cleared")
    );

    // The recording holds the commands: who asked, each state, as they stood at an instant.
    assert!(recorder.wait().unwrap().success());
    let replayed = run_twinscope(
        &[
            "operation",
            "--replay",
            recording.to_str().unwrap(),
            "pump1",
        ],
        Duration::from_secs(30),
    );
    let text = stdout(&replayed);
    assert!(replayed.status.success(), "{}", stderr(&replayed));
    assert!(
        text.contains("pump1 (device/pump1//): calibrate, config_snapshot [tedge.toml]"),
        "{text}"
    );
    assert!(
        text.lines().any(
            |l| l.contains("pump1 restart twinscope-") && l.ends_with("successful (read-only)")
        ),
        "{text}"
    );
    let early = run_twinscope(
        &[
            "operation",
            "--replay",
            recording.to_str().unwrap(),
            "--at",
            "500ms",
            "pump1",
        ],
        Duration::from_secs(30),
    );
    assert!(
        !stdout(&early).contains("restart twinscope-"),
        "not requested yet half a second in: {}",
        stdout(&early)
    );
    agent.stop();
}

#[test]
fn a_log_is_fetched_and_deleted_a_configuration_saved_and_one_pushed() {
    let (_mosquitto, url, agent, trail) = plant_with_agent("pump1", "files");
    let service = FileTransfer::start();
    let fts = service.url();

    let log = operation(
        &url,
        &trail,
        &[
            "pump1",
            "log_upload",
            "--payload",
            r#"{"searchText":"ERROR"}"#,
            "--reason",
            "why did it stop",
            "--file-transfer",
            &fts,
        ],
    );
    let out = stdout(&log);
    assert!(log.status.success(), "{out}\n{}", stderr(&log));
    assert!(
        out.contains("ERROR cannot reach c8y")
            && out.contains("ERROR pump1 seal pressure low")
            && !out.contains("INFO"),
        "the filtered log, shown: {out}"
    );
    assert!(
        service.paths().is_empty(),
        "fetched, then deleted from the service: {:?}",
        service.paths()
    );

    let saved = trail.audit.with_file_name("tedge.toml");
    let snapshot = operation(
        &url,
        &trail,
        &[
            "pump1",
            "config_snapshot",
            "--reason",
            "compare",
            "--file-transfer",
            &fts,
            "--save",
            saved.to_str().unwrap(),
        ],
    );
    assert!(snapshot.status.success(), "{}", stdout(&snapshot));
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), CONFIG);

    let new_config = trail.audit.with_file_name("new.toml");
    std::fs::write(&new_config, "[mqtt]\nbind.port = 8883\n").unwrap();
    let update = operation(
        &url,
        &trail,
        &[
            "pump1",
            "config_update",
            "--payload",
            r#"{"type":"tedge.toml"}"#,
            "--file",
            new_config.to_str().unwrap(),
            "--reason",
            "TLS port",
            "--file-transfer",
            &fts,
        ],
    );
    assert!(
        update.status.success(),
        "{}\n{}",
        stdout(&update),
        stderr(&update)
    );
    assert_eq!(
        agent.configurations.lock().unwrap().as_slice(),
        [b"[mqtt]\nbind.port = 8883\n".to_vec()],
        "the agent downloaded what we uploaded"
    );

    let without = operation(&url, &trail, &["pump1", "log_upload", "--reason", "x"]);
    assert_eq!(without.status.code(), Some(2));
    assert!(
        stderr(&without).contains("needs thin-edge's file-transfer service"),
        "{}",
        stderr(&without)
    );
    agent.stop();
}

#[test]
fn a_failing_an_unanswered_and_an_unsupported_operation_each_say_so() {
    let (mosquitto, url, agent, trail) = plant_with_agent("pump1", "fail");

    let failing = operation(
        &url,
        &trail,
        &["pump1", "software_list", "--reason", "inventory"],
    );
    assert_eq!(failing.status.code(), Some(1), "{}", stdout(&failing));
    assert!(
        stdout(&failing).contains("failed: apt is not installed"),
        "{}",
        stdout(&failing)
    );

    let silent = operation(
        &url,
        &trail,
        &[
            "pump1",
            "device_profile",
            "--payload",
            r#"{"name":"prod"}"#,
            "--reason",
            "rollout",
            "--timeout",
            "2s",
        ],
    );
    assert_eq!(silent.status.code(), Some(3), "{}", stdout(&silent));
    assert!(
        stdout(&silent).contains("no response from the device agent"),
        "{}",
        stdout(&silent)
    );
    let topic = requested_topic(&stdout(&silent));
    assert!(
        retained(mosquitto.port, &topic).is_some_and(|p| p.contains("\"init\"")),
        "an unanswered command stays (it is not final)"
    );

    let unsupported = operation(&url, &trail, &["pump1", "firmware_update", "--reason", "x"]);
    assert_eq!(unsupported.status.code(), Some(2));
    assert!(
        stderr(&unsupported).contains("does not announce firmware_update"),
        "{}",
        stderr(&unsupported)
    );
    let not_listed = operation(
        &url,
        &trail,
        &[
            "pump1",
            "restart",
            "--reason",
            "x",
            "--allow",
            "line1-*:restart",
        ],
    );
    assert_eq!(not_listed.status.code(), Some(2));
    assert!(
        stderr(&not_listed).contains("not in the allowed operations"),
        "{}",
        stderr(&not_listed)
    );
    let audit = trail.audit_lines();
    assert_eq!(
        audit.iter().filter(|l| l["event"] == "refused").count(),
        2,
        "refusals are audited too"
    );
    assert!(audit.iter().any(|l| l["event"] == "no-response"));

    let listed = run_twinscope(
        &["operation", "--broker", &url, "--list", "pump1"],
        Duration::from_secs(30),
    );
    let text = stdout(&listed);
    assert!(
        text.contains("pump1 (device/pump1//): calibrate, config_snapshot [tedge.toml]"),
        "{text}"
    );
    assert!(
        text.contains("device_profile") && text.contains("no response") || text.contains("init"),
        "{text}"
    );
    agent.stop();
}

#[test]
fn a_run_killed_mid_operation_leaves_a_command_the_next_run_clears() {
    let (mosquitto, url, agent, trail) = plant_with_agent("pump1", "crash");
    let mut child = twinscope()
        .args(operation_args(&url, &trail))
        .args(["pump1", "calibrate", "--reason", "drift"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let topic = requested_topic(&first);
    let id = topic.rsplit('/').next().unwrap().to_owned();
    // kill -9 once the agent is at it, before its workflow ends (it takes 600 ms).
    assert!(crate::support::eventually(Duration::from_secs(10), || {
        !agent.states_of(&id).is_empty()
    }));
    child.kill().unwrap();
    let _ = child.wait();
    assert!(crate::support::eventually(Duration::from_secs(10), || {
        agent
            .states_of(&id)
            .last()
            .is_some_and(|s| s == "successful")
    }));
    assert!(
        retained(mosquitto.port, &topic).is_some_and(|p| p.contains("successful")),
        "left on the broker by the killed run"
    );

    let next = operation(&url, &trail, &["--clear-leftovers"]);
    assert!(next.status.success(), "{}", stderr(&next));
    assert!(
        stdout(&next).contains(&format!("cleared {topic} (successful)")),
        "{}",
        stdout(&next)
    );
    assert_eq!(retained(mosquitto.port, &topic), None);
    // Someone else's command is never cleared.
    mosquitto.publish(
        "te/device/pump1///cmd/restart/c8y-mapper-17",
        r#"{"status":"successful"}"#,
        true,
    );
    let again = operation(&url, &trail, &["--clear-leftovers"]);
    assert!(again.status.success());
    assert!(
        retained(
            mosquitto.port,
            "te/device/pump1///cmd/restart/c8y-mapper-17"
        )
        .is_some(),
        "the mapper's own"
    );
    agent.stop();
}

#[test]
fn without_allow_operations_or_in_a_dry_run_nothing_is_published() {
    let (mosquitto, url, agent, trail) = plant_with_agent("pump1", "readonly");
    // Watches every command topic on the broker while a viewer runs without the flag and a
    // dry run shows what it would send.
    let watcher = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &mosquitto.port.to_string(),
            "-t",
            "te/+/+/+/+/cmd/+/+",
            "-v",
            "-W",
            "14",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let dry = operation(
        &url,
        &trail,
        &["pump1", "restart", "--reason", "try", "--dry-run"],
    );
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(
        stdout(&dry).contains(
            "dry run: would publish retained to te/device/pump1///cmd/restart/twinscope-"
        ),
        "{}",
        stdout(&dry)
    );
    assert!(stdout(&dry).contains(r#""status":"init""#));
    let viewer = crate::support::offscreen_viewer(&[
        "--broker",
        &url,
        "--select",
        "pump1",
        "--exit-after",
        "8s",
        "--window-size",
        "640x360",
    ]);
    let (status, log) = viewer.finish(Duration::from_secs(90));
    assert_eq!(status, Some(0), "{log}");
    let seen = watcher.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&seen.stdout),
        "",
        "no command was published"
    );
    assert!(trail.audit_lines().iter().any(|l| l["event"] == "dry-run"));
    agent.stop();
}

/// The viewer shows a twin's operations (read-only here: no --allow-operations would be
/// needed to see them) and the commands on it, one finished and one running, requested by
/// someone else; the screenshot is looked at.
#[test]
fn the_viewer_shows_a_twins_operations_with_a_running_and_a_finished_command() {
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    let agent = TedgeAgent::start(mosquitto.port, "line1-pump1");
    let sim = twinscope()
        .args(["sim", "--broker", &url, "--for", "40s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let trail = Trail::new("viewer");
    // The viewer is up before the commands: a finished command of ours is cleared at once,
    // and the viewer keeps what it saw.
    let viewer_args = [
        "--offscreen",
        "--broker",
        &url,
        "--select",
        "line1-pump1",
        "--exit-after",
        "14s",
        "--allow-operations",
        "--audit-log",
        trail.audit.to_str().unwrap(),
    ];
    let (shot, mut running) = std::thread::scope(|s| {
        let viewer = s.spawn(|| crate::screenshot("operations-window", &viewer_args));
        std::thread::sleep(Duration::from_secs(5));
        let restart = operation(
            &url,
            &trail,
            &["line1-pump1", "restart", "--reason", "stuck valve"],
        );
        assert!(restart.status.success(), "{}", stdout(&restart));
        let running = twinscope()
            .args(operation_args(&url, &trail))
            .args([
                "line1-pump1",
                "calibrate",
                "--payload",
                r#"{"hold_s":60}"#,
                "--reason",
                "drift",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        (viewer.join().unwrap(), running)
    });
    let _ = running.kill();
    let mut sim = sim;
    let _ = sim.kill();
    let Some(shot) = shot else { return };
    let log = &shot.log;
    assert!(
        log.contains("operations: 1 twin(s) announce operations"),
        "{log}"
    );
    assert!(
        log.lines().any(
            |l| l.starts_with("operation: line1-pump1 restart twinscope-")
                && l.ends_with("successful (read-only)")
        ),
        "{log}"
    );
    assert!(
        log.lines().any(
            |l| l.starts_with("operation: line1-pump1 calibrate twinscope-")
                && l.ends_with("calibrating (read-only)")
        ),
        "{log}"
    );
    eprintln!("reference screenshot: {}", shot.path.display());
    agent.stop();
}
