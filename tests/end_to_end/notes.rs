//! Notes pinned to twins in a shared session, against mosquitto: a note pinned by one
//! process appears at the part in a desktop viewer, an edit made elsewhere reaches it, the
//! note outlives everyone who was there (retained), concurrent edits from two processes settle
//! on the same text everywhere, and hostile note messages are counted and dropped.

use std::time::{Duration, Instant};

use crate::support::{Mosquitto, run_twinscope, twinscope};
use crate::{stderr, stdout};

/// `notes --session NAME ARGS`, which must succeed; its stdout.
fn notes(url: &str, session: &str, args: &[&str]) -> String {
    let mut all = vec!["notes", "--broker", url, "--session", session];
    all.extend(args);
    let output = run_twinscope(&all, Duration::from_secs(30));
    assert!(
        output.status.success(),
        "notes {args:?}: {}",
        stderr(&output)
    );
    stdout(&output)
}

fn listed(url: &str, session: &str) -> Vec<serde_json::Value> {
    let text = notes(url, session, &["--json", "--for", "1s"]);
    let report: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    report["notes"].as_array().cloned().unwrap_or_default()
}

/// A note pinned from the command line (as a headset's preset would) is in a desktop viewer
/// at the part; edited from another process while the viewer runs, the viewer shows the
/// edit; after the viewer quit, a later listing still has it, resolved, and a note on a twin
/// the plant lacks is listed as such.
#[test]
fn a_pinned_note_reaches_the_desktop_is_edited_and_outlives_everyone() {
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    mosquitto.publish(
        "te/device/line1-tank1///a/leak",
        r#"{"text":"Tank leaking","severity":"critical"}"#,
        true,
    );
    let pinned = notes(
        &url,
        "night",
        &[
            "--user",
            "jonas",
            "--add",
            "line1-tank1",
            "Leak at the lower flange\nneeds gasket DN80",
        ],
    );
    let id = pinned
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("{pinned}"))
        .to_owned();
    assert!(id.starts_with("jonas~"), "{pinned}");
    notes(
        &url,
        "night",
        &[
            "--user",
            "jonas",
            "--add",
            "ghost-pump",
            "removed last week?",
        ],
    );
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&out).unwrap();
    let shot = out.join("session-notes-on-the-tank.png");
    let viewer = crate::support::offscreen_viewer(&[
        "--broker",
        &url,
        "--session",
        "night",
        "--user",
        "anna",
        "--select",
        "line1-tank1",
        "--start-at",
        "line1-tank1",
        "--exit-after",
        "12s",
        "--window-size",
        "1280x720",
        "--screenshot",
        shot.to_str().unwrap(),
    ]);
    std::thread::sleep(Duration::from_secs(4));
    notes(
        &url,
        "night",
        &[
            "--user",
            "hans",
            "--edit",
            &id,
            "Leak at the lower flange, 2 drops/min\nneeds gasket DN80",
        ],
    );
    notes(&url, "night", &["--user", "hans", "--resolve", &id]);
    let (status, log) = viewer.finish(Duration::from_secs(90));
    assert_eq!(status, Some(0), "{log}");
    assert!(log.contains("notes: 2 shown (1 open)"), "{log}");
    assert!(log.contains(&format!("note: {id} on line1-tank1 [resolved] by jonas, last hans: Leak at the lower flange, 2 drops/min")), "the viewer shows the edit: {log}");
    assert!(
        log.contains("on ghost-pump (no longer in the plant) [open] by jonas"),
        "{log}"
    );
    assert!(
        crate::support::read_png(&shot).is_some(),
        "screenshot written"
    );

    // Everyone has gone: the notes are still there for the next one.
    let later = listed(&url, "night");
    let tank = later
        .iter()
        .find(|n| n["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{later:?}"));
    assert_eq!(
        (
            tank["resolved"].as_bool(),
            tank["author"].as_str(),
            tank["last_by"].as_str()
        ),
        (Some(true), Some("jonas"), Some("hans"))
    );
    assert_eq!(later.len(), 2);
    // Only its author or the host deletes it.
    let refused = run_twinscope(
        &[
            "notes",
            "--broker",
            &url,
            "--session",
            "night",
            "--user",
            "hans",
            "--delete",
            &id,
        ],
        Duration::from_secs(30),
    );
    assert!(
        !refused.status.success()
            && stderr(&refused)
                .contains("only its author (jonas) or the session's host may delete"),
        "{}",
        stderr(&refused)
    );
    notes(&url, "night", &["--user", "jonas", "--delete", &id]);
    assert_eq!(listed(&url, "night").len(), 1);
}

/// Two processes edit one note at the same moment, without hearing each other first: every
/// reader ends with the same text, whichever edit each heard first.
#[test]
fn concurrent_edits_from_two_processes_settle_on_the_same_text() {
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    let pinned = notes(
        &url,
        "race",
        &["--user", "anna", "--add", "line1-pump1", "bearing noisy"],
    );
    let id = pinned.split_whitespace().nth(1).unwrap().to_owned();
    for round in 0..3 {
        let edit = |user: &str, text: String| {
            twinscope()
                .args([
                    "notes",
                    "--broker",
                    &url,
                    "--session",
                    "race",
                    "--user",
                    user,
                    "--for",
                    "300ms",
                    "--edit",
                    &id,
                    &text,
                ])
                .output()
                .unwrap()
        };
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| edit("anna", format!("anna's text {round}")));
            let b = s.spawn(|| edit("bob", format!("bob's text {round}")));
            (a.join().unwrap(), b.join().unwrap())
        });
        assert!(
            a.status.success() && b.status.success(),
            "{} {}",
            stderr(&a),
            stderr(&b)
        );
        let (one, two) = (listed(&url, "race"), listed(&url, "race"));
        assert_eq!(one, two);
        let text = one[0]["text"].as_str().unwrap();
        assert!(
            text == format!("anna's text {round}") || text == format!("bob's text {round}"),
            "{text}"
        );
    }
}

/// A hostile peer floods a session with forged, oversized, malformed and surplus notes: the
/// lister stays up and counts them; the honest note is intact.
#[test]
fn hostile_note_messages_are_counted_and_dropped() {
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    notes(
        &url,
        "flood",
        &["--user", "anna", "--add", "line1-tank1", "honest note"],
    );
    let root = "twinscope/v1/sessions/flood";
    // Forged: bob's path, eve as writer. Oversized. Malformed. A deletion of anna's note by
    // someone who is neither its author nor the host.
    mosquitto.publish(
        &format!("{root}/bob/notes/anna~X"),
        r#"{"id":"anna~X","twin":"t","text":"x","created":1,"clock":[1,0],"by":"eve"}"#,
        true,
    );
    mosquitto.publish(
        &format!("{root}/bob/notes/bob~BIG"),
        &format!(
            r#"{{"id":"bob~BIG","twin":"t","text":"{}","created":1,"clock":[1,0],"by":"bob"}}"#,
            "x".repeat(20_000)
        ),
        true,
    );
    mosquitto.publish(&format!("{root}/bob/notes/bob~BAD"), "{not json", true);
    let started = Instant::now();
    let output = run_twinscope(
        &[
            "notes",
            "--broker",
            &url,
            "--session",
            "flood",
            "--json",
            "--for",
            "1s",
        ],
        Duration::from_secs(30),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let list = report["notes"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{report}");
    assert_eq!(list[0]["text"], "honest note");
    let dropped = stderr(&output);
    assert!(
        dropped.contains("notes dropped:")
            && dropped.contains("forged 1")
            && dropped.contains("oversized 1")
            && dropped.contains("malformed 1"),
        "{dropped}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// `twinscope record --session` records the session with the plant, here a session on a
/// broker of its own (`--session-broker`: one file, two connections): the recording says who
/// was there and pointed at what while they were, and which notes stood when; `notes
/// --replay` lists its notes.
#[test]
fn a_recording_made_during_a_session_replays_its_participants_and_notes_at_the_right_times() {
    let (plant, session_broker) = (Mosquitto::start(), Mosquitto::start());
    let url = session_broker.url();
    let file = std::env::temp_dir().join(format!(
        "twinscope-session-recording-{}.mcap",
        std::process::id()
    ));
    let mut recorder = twinscope()
        .args([
            "record",
            "--broker",
            &plant.url(),
            "--session",
            "shift",
            "--session-broker",
            &url,
            "--out",
            file.to_str().unwrap(),
            "--for",
            "9s",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    plant.publish("te/device/pump1///m/", r#"{"flow":42.5}"#, false);
    // Two scripted participants walk for 3 s; a note is pinned after they left.
    let walkers = twinscope()
        .args([
            "sim",
            "--broker",
            &url,
            "--session",
            "shift",
            "--participants",
            "2",
            "--participant-prefix",
            "w-",
            "--for",
            "3s",
        ])
        .output()
        .unwrap();
    assert!(walkers.status.success(), "{}", stderr(&walkers));
    std::thread::sleep(Duration::from_secs(1));
    notes(
        &url,
        "shift",
        &["--user", "anna", "--add", "line1-tank1", "seal replaced"],
    );
    assert!(recorder.wait().unwrap().success());

    let at = |offset: &str| {
        let output = run_twinscope(
            &[
                "state",
                "--replay",
                file.to_str().unwrap(),
                "--session",
                "shift",
                "--at",
                offset,
            ],
            Duration::from_secs(30),
        );
        assert!(output.status.success(), "{}", stderr(&output));
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let walking = at("2500ms");
    let participants = walking["participants"].as_array().unwrap();
    assert_eq!(participants.len(), 2, "{walking:#}");
    assert!(
        participants
            .iter()
            .all(|p| p["at"].is_array() && p["pointing_at"].is_string()),
        "where they stood and pointed: {walking:#}"
    );
    assert_eq!(
        walking["notes"].as_array().unwrap().len(),
        0,
        "the note came later: {walking:#}"
    );
    let end = at("9s");
    assert_eq!(
        end["participants"].as_array().unwrap().len(),
        0,
        "they had left: {end:#}"
    );
    assert_eq!(end["notes"][0]["text"], "seal replaced", "{end:#}");
    let plant_state = run_twinscope(
        &["state", "--replay", file.to_str().unwrap(), "--json"],
        Duration::from_secs(30),
    );
    assert!(
        stdout(&plant_state).contains("42.5"),
        "the plant's data is in the same file: {}",
        stdout(&plant_state)
    );
    let listed = run_twinscope(
        &["notes", "--replay", file.to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert!(
        stdout(&listed).contains("line1-tank1  anna") && stdout(&listed).contains("seal replaced"),
        "{}",
        stdout(&listed)
    );
    // The viewer replaying the recording shows the recorded session (read-only): at its end,
    // the note at the tank and nobody there any more.
    let replay = crate::support::offscreen_viewer(&[
        "--replay",
        file.to_str().unwrap(),
        "--session",
        "shift",
        "--exit-after",
        "11s",
        "--window-size",
        "640x360",
    ]);
    let (status, log) = replay.finish(Duration::from_secs(90));
    assert_eq!(status, Some(0), "{log}");
    assert!(
        log.contains("notes: 1 shown (1 open)")
            && log.contains("on line1-tank1 [open] by anna, last anna: seal replaced"),
        "{log}"
    );
    let _ = std::fs::remove_file(&file);
}
