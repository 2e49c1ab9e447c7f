//! Shared sessions against mosquitto: several twinscope processes in one session (scripted
//! participants from `twinscope sim --participants`, a desktop viewer drawing offscreen, and
//! `twinscope state --session` as the observer that reports who is there), a killed one
//! going away through its will, a broker ACL that stops impersonation, and a hostile peer.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use rumqttc::{Client, MqttOptions, QoS};

use crate::support::{Mosquitto, run_twinscope, twinscope};
use crate::{stderr, stdout};

/// `state --session NAME --for SECONDS --json`, parsed.
fn session_state(url: &str, session: &str, seconds: u32, extra: &[&str]) -> serde_json::Value {
    let listen_for = format!("{seconds}s");
    let mut args = vec![
        "state",
        "--broker",
        url,
        "--session",
        session,
        "--for",
        listen_for.as_str(),
        "--json",
    ];
    args.extend(extra);
    let output = run_twinscope(&args, Duration::from_secs(u64::from(seconds) + 20));
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&output)))
}

fn users(report: &serde_json::Value) -> Vec<String> {
    report["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["user"].as_str().unwrap().to_owned())
        .collect()
}

fn participants(url: &str, session: &str, count: usize, prefix: &str) -> Child {
    twinscope()
        .args([
            "sim",
            "--broker",
            url,
            "--session",
            session,
            "--participants",
            &count.to_string(),
            "--participant-prefix",
            prefix,
            "--for",
            "120s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the scripted participants")
}

/// Three processes in one session: scripted participants (a desktop and a headset user) and
/// an observer. The observer sees both within 2 s with device, selection, position and what
/// they point at; `kill -9` of the participants' process takes them out through their wills
/// within the keep-alive plus 5 s, leaving no ghost in the retained presence.
#[test]
fn participants_appear_to_each_other_and_a_killed_one_disappears() {
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    let mut sim = participants(&url, "pump-3", 2, "tech-");
    let started = Instant::now();
    let report = session_state(&url, "pump-3", 2, &[]);
    assert_eq!(users(&report), ["tech-1", "tech-2"], "{report:#}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "seen within the 2 s listened (plus start-up)"
    );
    let headset = &report["participants"][1];
    assert_eq!(headset["device"], "headset", "{report:#}");
    assert_eq!(headset["hands"], 2, "{report:#}");
    assert!(
        headset["selected"]
            .as_str()
            .is_some_and(|s| s.starts_with("line")),
        "{report:#}"
    );
    assert!(headset["pointing_at"].as_str().is_some(), "{report:#}");
    assert!(
        headset["at"].as_array().is_some_and(|at| at.len() == 3),
        "{report:#}"
    );
    assert_eq!(report["participants"][0]["device"], "desktop");
    assert_eq!(report["dropped"]["forged"], 0);

    let _ = sim.kill(); // SIGKILL: no goodbye, only the broker's will
    let _ = sim.wait();
    let killed = Instant::now();
    let mut left = false;
    while killed.elapsed() < Duration::from_secs(5 + 5) {
        if users(&session_state(&url, "pump-3", 1, &[])).is_empty() {
            left = true;
            break;
        }
    }
    assert!(
        left,
        "the killed participants were still listed {:?} after the kill",
        killed.elapsed()
    );
}

/// A desktop viewer in the session (offscreen, a real renderer): the observer sees it as a
/// desktop participant with its selection and its camera's position; the viewer, following a
/// scripted headset user, moved its camera to where that user stands; and its screenshot
/// (kept for people to look at) shows the others' avatars.
#[test]
fn a_desktop_viewer_takes_part_and_follows_a_headset_user() {
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    mosquitto.publish(
        "te/device/line1-tank1///a/leak",
        r#"{"text":"Tank leaking","severity":"critical"}"#,
        true,
    );
    let mut sim = participants(&url, "night-shift", 2, "field-");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&out).unwrap();
    let shot = out.join("session-desktop-sees-participants.png");
    let viewer = crate::support::offscreen_viewer(&[
        "--broker",
        &url,
        "--session",
        "night-shift",
        "--user",
        "control-room",
        "--select",
        "line1-tank1",
        "--follow",
        "field-2",
        "--exit-after",
        "15s",
        "--window-size",
        "1280x720",
        "--screenshot",
        shot.to_str().unwrap(),
    ]);
    std::thread::sleep(Duration::from_secs(6));
    let report = session_state(&url, "night-shift", 2, &[]);
    let (status, log) = viewer.finish(Duration::from_secs(60));
    let _ = sim.kill();
    let _ = sim.wait();
    assert_eq!(status, Some(0), "viewer failed:\n{log}");

    let followed = report["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["user"] == "field-2")
        .unwrap_or_else(|| panic!("{report:#}"));
    let desk = report["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["user"] == "control-room")
        .unwrap_or_else(|| panic!("the viewer is not in the session: {report:#}"));
    assert_eq!(desk["device"], "desktop");
    assert_eq!(desk["selected"], "line1-tank1");
    assert_eq!(desk["timeline"], "live");
    // Following field-2, the viewer's camera stands over field-2's shoulder, 0.8 m above the
    // head (at 1.7 m) and 2.5 m behind it, on its walk around the plant (a frame or two
    // behind on a slow software renderer, so the distance is loose).
    let at: Vec<f64> = desk["at"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_f64().unwrap())
        .collect();
    let head: Vec<f64> = followed["at"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_f64().unwrap())
        .collect();
    let apart = ((at[0] - head[0]).powi(2) + (at[2] - head[2]).powi(2)).sqrt();
    assert!(
        (at[1] - 2.5).abs() < 0.1 && apart < 5.0,
        "the follower's camera is over the followed user's shoulder: {desk} vs {followed}"
    );
    assert!(
        log.contains("session: 2 other participant(s) shown"),
        "{log}"
    );
    assert!(
        crate::support::read_png(&shot).is_some(),
        "screenshot written"
    );
}

/// Hand-over between devices of one user. A headset user (scripted) continues on the desktop:
/// the desktop viewer joining as the same user takes over the presence and starts with the
/// headset's selection, its camera over the shoulder of where the headset stood; the headset
/// goes quiet. Then another headset instance of that user joins: the desktop hands over and
/// leaves the session, so the observer lists the user once, on the headset.
#[test]
fn the_same_user_on_another_device_takes_over_and_continues_there() {
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    let mut headset = anna_on_a_headset(&url);
    let before = session_state(&url, "shift", 2, &[]);
    let anna = before["participants"][0].clone();
    assert_eq!(
        (anna["user"].as_str(), anna["device"].as_str()),
        (Some("anna"), Some("headset")),
        "{before:#}"
    );

    let viewer = crate::support::offscreen_viewer(&[
        "--broker",
        &url,
        "--session",
        "shift",
        "--user",
        "anna",
        "--exit-after",
        "25s",
        "--window-size",
        "640x360",
    ]);
    std::thread::sleep(Duration::from_secs(8));
    let on_desktop = session_state(&url, "shift", 2, &[]);
    assert_eq!(users(&on_desktop), ["anna"], "one anna: {on_desktop:#}");
    let desk = &on_desktop["participants"][0];
    assert_eq!(
        desk["device"], "desktop",
        "the desktop took over: {on_desktop:#}"
    );
    assert_eq!(
        desk["selected"], anna["selected"],
        "with the headset's selection: {on_desktop:#}"
    );
    let at: Vec<f64> = desk["at"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_f64().unwrap())
        .collect();
    assert!(
        (at[1] - 2.5).abs() < 0.2,
        "over the shoulder of the headset (head at 1.7 m): {desk}"
    );

    // The headset again, a new instance: the desktop hands over and leaves.
    let _ = headset.kill();
    let _ = headset.wait();
    let mut again = anna_on_a_headset(&url);
    std::thread::sleep(Duration::from_secs(4));
    let on_headset = session_state(&url, "shift", 2, &[]);
    let (status, log) = viewer.finish(Duration::from_secs(90));
    let _ = again.kill();
    let _ = again.wait();
    assert_eq!(status, Some(0), "{log}");
    assert_eq!(users(&on_headset), ["anna"], "{on_headset:#}");
    assert_eq!(
        on_headset["participants"][0]["device"], "headset",
        "the headset took over again: {on_headset:#}"
    );
    assert!(
        log.contains("continuing where this user's other device left off"),
        "{log}"
    );
    assert!(
        log.contains("this session continues on the Headset; this viewer has left it"),
        "{log}"
    );
}

/// "Bring everyone here": the session's host (scripted, gathering every 5 s) brings a desktop
/// viewer's camera over its shoulder, with its selection; a participant that is not the host
/// cannot (the roster drops it as not_host).
#[test]
fn the_host_brings_everyone_to_where_it_stands() {
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    let viewer = crate::support::offscreen_viewer(&[
        "--broker",
        &url,
        "--session",
        "briefing",
        "--user",
        "operator",
        "--exit-after",
        "20s",
        "--window-size",
        "640x360",
    ]);
    std::thread::sleep(Duration::from_secs(2));
    let mut host = twinscope()
        .args([
            "sim",
            "--broker",
            &url,
            "--session",
            "briefing",
            "--participants",
            "1",
            "--participant-prefix",
            "boss",
            "--gather",
            "--for",
            "60s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(8));
    // Someone else tries to gather: dropped.
    mosquitto.publish(
        "twinscope/v1/sessions/briefing/operator/gather",
        r#"{"head":{"at":[0,1.7,0],"rotation":[0,0,0,1]}}"#,
        false,
    );
    let report = session_state(&url, "briefing", 2, &[]);
    let (status, log) = viewer.finish(Duration::from_secs(60));
    let _ = host.kill();
    let _ = host.wait();
    assert_eq!(status, Some(0), "{log}");
    let find = |user: &str| {
        report["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["user"] == user)
            .cloned()
            .unwrap_or_else(|| panic!("{user}: {report:#}"))
    };
    let (operator, boss) = (find("operator"), find("boss1"));
    assert_eq!(boss["host"], true, "{boss}");
    assert_eq!(
        operator["selected"], boss["selected"],
        "the host's selection: {report:#}"
    );
    assert!(
        (operator["at"][1].as_f64().unwrap() - 2.5).abs() < 0.2,
        "over the host's shoulder (head at 1.7 m): {operator}"
    );
    assert!(
        log.contains("boss1 brought everyone to where they stand"),
        "{log}"
    );
}

/// An engineer replaying last night joins the team's session on its own broker
/// (--session-broker: a replay has none of its own): the others see them with their
/// selection, on the replay timeline. Without a session broker a replay says what it needs.
#[test]
fn a_replay_joins_a_session_on_the_session_broker() {
    use twinscope_core::mcap::{Delivery, McapWriter};
    let dir = std::env::temp_dir().join(format!("twinscope-session-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let recording = dir.join("night.mcap");
    let mut writer = McapWriter::create(&recording).unwrap();
    let t0 = 1_763_000_000u64 * 1_000_000_000;
    for s in 0..30u64 {
        writer
            .write(
                "te/device/line1-pump1///m/",
                Delivery {
                    qos: 0,
                    retain: false,
                },
                format!(r#"{{"flow": {s}}}"#).as_bytes(),
                t0 + s * 1_000_000_000,
            )
            .unwrap();
    }
    writer.finish().unwrap();
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    let file = recording.to_str().unwrap();

    let refused = run_twinscope(
        &[
            "--replay",
            file,
            "--session",
            "review",
            "--exit-after",
            "5s",
        ],
        Duration::from_secs(30),
    );
    assert!(!refused.status.success());
    // Without a session broker it would show the session the recording holds: it has none.
    assert!(
        stderr(&refused).contains("holds nothing of session review")
            && stderr(&refused).contains("joins a live one on --session-broker"),
        "{}",
        stderr(&refused)
    );

    let viewer = crate::support::offscreen_viewer(&[
        "--replay",
        file,
        "--session",
        "review",
        "--session-broker",
        &url,
        "--user",
        "night-engineer",
        "--select",
        "line1-pump1",
        "--exit-after",
        "15s",
        "--window-size",
        "640x360",
    ]);
    std::thread::sleep(Duration::from_secs(6));
    let report = session_state(&url, "review", 2, &[]);
    let (status, log) = viewer.finish(Duration::from_secs(60));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status, Some(0), "{log}");
    let engineer = &report["participants"][0];
    assert_eq!(engineer["user"], "night-engineer", "{report:#}");
    assert_eq!(engineer["timeline"], "replay", "{report:#}");
    assert_eq!(engineer["selected"], "line1-pump1", "{report:#}");
}

/// A scripted headset user anna in the session "shift".
fn anna_on_a_headset(url: &str) -> Child {
    twinscope()
        .args([
            "sim",
            "--broker",
            url,
            "--session",
            "shift",
            "--participants",
            "1",
            "--user",
            "anna",
            "--for",
            "120s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// mosquitto with a password file and the ACL the README documents: each participant may
/// write only under its own user path, an observer (no user name) may only read. Bob's
/// process speaking as carol, and an observer speaking at all, reach nobody.
#[test]
fn a_broker_acl_stops_impersonation_and_keeps_observers_read_only() {
    let dir = std::env::temp_dir().join(format!("twinscope-session-acl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let passwords = dir.join("passwords");
    for (k, user) in ["alice", "bob"].iter().enumerate() {
        let mut command = std::process::Command::new("mosquitto_passwd");
        if k == 0 {
            command.arg("-c");
        }
        assert!(
            command
                .args(["-b", passwords.to_str().unwrap(), user, "secret"])
                .status()
                .unwrap()
                .success()
        );
    }
    std::fs::write(dir.join("password"), "secret\n").unwrap();
    let acl = dir.join("acl");
    std::fs::write(&acl, include_str!("../sessions/mosquitto-session.acl")).unwrap();
    for file in [&passwords, &acl] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let config = format!(
        "allow_anonymous true\npassword_file {}\nacl_file {}",
        passwords.display(),
        acl.display()
    );
    let mosquitto = Mosquitto::start_configured(&config);
    let url = mosquitto.url();
    let password = dir.join("password").display().to_string();
    let join = |login: Option<&str>, speaks_as: &str| -> Child {
        let mut command = twinscope();
        command.args([
            "sim",
            "--broker",
            &url,
            "--session",
            "s",
            "--participants",
            "1",
            "--user",
            speaks_as,
            "--for",
            "30s",
        ]);
        if let Some(login) = login {
            command.args(["--username", login, "--password-file", &password]);
        }
        command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut joined = [
        join(Some("alice"), "alice"),
        join(Some("bob"), "carol"),
        join(None, "observer"),
    ];
    let report = session_state(&url, "s", 3, &[]);
    for child in &mut joined {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(
        users(&report),
        ["alice"],
        "only alice's own presence got through: {report:#}"
    );
    assert!(
        report["participants"][0]["at"].is_array(),
        "alice's poses got through too: {report:#}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A hostile peer floods the session with garbage, oversized, forged and too-fast messages
/// and a thousand would-be participants while a viewer (offscreen) and an observer are in
/// it: the observer lists at most 64 participants and counts every kind of drop, the viewer
/// stays up and keeps showing live plant data.
#[test]
fn a_flood_of_hostile_session_messages_is_counted_and_dropped() {
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    let observer = std::thread::spawn({
        let url = url.clone();
        move || session_state(&url, "s", 6, &[])
    });
    std::thread::sleep(Duration::from_millis(1500));
    let port: u16 = mosquitto.port;
    let mut options =
        MqttOptions::new(format!("hostile-{}", std::process::id()), "127.0.0.1", port);
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut connection) = Client::new(options, 100_000);
    std::thread::spawn(move || {
        for event in connection.iter() {
            if event.is_err() {
                break;
            }
        }
    });
    let topic = |user: &str, what: &str| format!("twinscope/v1/sessions/s/{user}/{what}");
    for k in 0..1000 {
        let user = format!("bot{k}");
        let presence = format!(r#"{{"user":"{user}","device":"headset","instance":"{k}"}}"#);
        client
            .publish(
                topic(&user, "presence"),
                QoS::AtMostOnce,
                false,
                presence.into_bytes(),
            )
            .unwrap();
    }
    let pose = br#"{"head":{"at":[0,1.7,0],"rotation":[0,0,0,1]}}"#.to_vec();
    for _ in 0..2000 {
        client
            .publish(topic("bot1", "pose"), QoS::AtMostOnce, false, pose.clone())
            .unwrap();
    }
    for k in 0..200 {
        client
            .publish(
                topic("bot2", "presence"),
                QoS::AtMostOnce,
                false,
                vec![b'{'; 8 + k],
            )
            .unwrap();
        client
            .publish(
                topic("bot3", "presence"),
                QoS::AtMostOnce,
                false,
                vec![b'x'; 100_000],
            )
            .unwrap();
        client
            .publish(
                topic("bot4", "presence"),
                QoS::AtMostOnce,
                false,
                br#"{"user":"bot5","device":"desktop","instance":"1"}"#.to_vec(),
            )
            .unwrap();
        client
            .publish(
                topic("bot6", "secrets"),
                QoS::AtMostOnce,
                false,
                b"{}".to_vec(),
            )
            .unwrap();
    }
    for k in 0..3 {
        client
            .publish(
                topic(&format!("bot{k}"), "gather"),
                QoS::AtMostOnce,
                false,
                pose.clone(),
            )
            .unwrap();
    }
    let report = observer.join().unwrap();
    let _ = client.disconnect();
    let listed = report["participants"].as_array().unwrap().len();
    assert_eq!(listed, 64, "bounded: {listed}");
    for reason in [
        "session_full",
        "too_fast",
        "malformed",
        "oversized",
        "forged",
        "not_host",
        "unknown_topic",
    ] {
        assert!(
            report["dropped"][reason].as_u64().unwrap() > 0,
            "{reason} counted: {report:#}"
        );
    }
}

/// One timeline: the host takes the session back to an instant on everyone's DVR, and then
/// live again; the followers' viewers go there (to the same instant), and say whose timeline
/// they are on.
#[test]
fn the_host_takes_everyone_back_to_an_instant_and_live_again() {
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    let mut plant = twinscope()
        .args(["sim", "--broker", &url, "--for", "40s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // A recording of the same plant, made beside the viewers: the state at the host's instant.
    let dir = std::env::temp_dir().join(format!("twinscope-timeline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let recording = dir.join("plant.mcap");
    let shown = dir.join("shown.json");
    let mut recorder = twinscope()
        .args([
            "record",
            "--broker",
            &url,
            "--out",
            recording.to_str().unwrap(),
            "--for",
            "16s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ends_back = crate::support::offscreen_viewer(&[
        "--broker",
        &url,
        "--session",
        "review",
        "--user",
        "bob",
        "--exit-after",
        "12s",
        "--window-size",
        "640x360",
        "--state-out",
        shown.to_str().unwrap(),
    ]);
    let ends_live = crate::support::offscreen_viewer(&[
        "--broker",
        &url,
        "--session",
        "review",
        "--user",
        "carl",
        "--exit-after",
        "20s",
        "--window-size",
        "640x360",
    ]);
    std::thread::sleep(Duration::from_secs(6));
    let at = twinscope_core::Timestamp(
        twinscope_core::Timestamp::now().0 / 1_000_000 * 1_000_000 - 3_000_000,
    );
    let back = run_twinscope(
        &[
            "timeline",
            "--broker",
            &url,
            "--session",
            "review",
            "--user",
            "anna",
            "--host",
            "--look-back",
            &at.to_string(),
            "--stay",
            "4s",
        ],
        Duration::from_secs(30),
    );
    assert!(back.status.success(), "{}", stderr(&back));
    std::thread::sleep(Duration::from_secs(3));
    let live = twinscope()
        .args([
            "timeline",
            "--broker",
            &url,
            "--session",
            "review",
            "--user",
            "anna",
            "--host",
            "--live",
            "--stay",
            "10s",
        ])
        .output()
        .unwrap();
    assert!(live.status.success(), "{}", stderr(&live));
    let (status, back_log) = ends_back.finish(Duration::from_secs(60));
    assert_eq!(status, Some(0), "{back_log}");
    let line = back_log
        .lines()
        .find(|l| l.starts_with("timeline: on anna's timeline"))
        .unwrap_or_else(|| panic!("{back_log}"));
    assert!(
        line.ends_with(&format!(", looking back at {at}")),
        "the follower looked back to the host's instant: {line}"
    );
    let (status, live_log) = ends_live.finish(Duration::from_secs(60));
    let _ = plant.kill();
    let _ = plant.wait();
    assert_eq!(status, Some(0), "{live_log}");
    assert!(
        live_log.contains(&format!(
            "timeline: following anna to LookBack {{ at: {} }}",
            at.0
        )),
        "{live_log}"
    );
    assert!(
        live_log.contains("timeline: on anna's timeline, live"),
        "back live with the host: {live_log}"
    );

    // What the follower showed equals the plant's state at that instant. Each side timed the
    // messages by its own arrival: a value written within a second of the instant may be on
    // one side of it for one and on the other for the other.
    assert!(recorder.wait().unwrap().success());
    let expected = run_twinscope(
        &[
            "state",
            "--replay",
            recording.to_str().unwrap(),
            "--at",
            &at.to_string(),
            "--json",
        ],
        Duration::from_secs(30),
    );
    assert!(expected.status.success(), "{}", stderr(&expected));
    let values = |json: &serde_json::Value| -> std::collections::BTreeMap<
        (String, String),
        (serde_json::Value, Option<String>),
    > {
        json["twins"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|twin| {
                let id = twin["id"].as_str().unwrap_or_default().to_owned();
                twin["properties"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |p| {
                        (
                            (
                                id.clone(),
                                p["name"].as_str().unwrap_or_default().to_owned(),
                            ),
                            (p["value"].clone(), p["time"].as_str().map(str::to_owned)),
                        )
                    })
            })
            .collect()
    };
    let expected = values(&serde_json::from_slice(&expected.stdout).unwrap());
    let shown = values(&serde_json::from_str(&std::fs::read_to_string(&shown).unwrap()).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    let near = |time: &Option<String>| {
        time.as_deref()
            .and_then(twinscope_core::Timestamp::parse_rfc3339)
            .is_some_and(|t| (t.0 - at.0).abs() <= 1_000_000)
    };
    let mut same = 0;
    for (key, (value, time)) in &expected {
        match shown.get(key) {
            Some((v, t)) if v == value && t == time => same += 1,
            Some((_, t)) => assert!(
                near(time) || near(t),
                "{key:?}: the plant had {value} at {time:?}, the follower showed {:?}",
                shown.get(key)
            ),
            None => assert!(
                near(time),
                "{key:?}: the follower does not show it ({value} at {time:?})"
            ),
        }
    }
    eprintln!(
        "the follower showed {same} of {} values exactly as the recording had them at the instant",
        expected.len()
    );
    assert!(
        expected.len() > 50 && same * 10 >= expected.len() * 8,
        "{same} of {} values the same",
        expected.len()
    );
}

/// One timeline through a recording: the host replays night.mcap; a follower replaying the
/// same recording under another name (known by its content) is taken to the host's position;
/// one replaying another recording is told which file it needs.
#[test]
fn the_host_takes_everyone_to_a_position_in_a_recording_they_have() {
    use twinscope_core::mcap::{Delivery, McapWriter};
    let dir =
        std::env::temp_dir().join(format!("twinscope-session-timeline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, offset: u64| {
        let path = dir.join(name);
        let mut writer = McapWriter::create(&path).unwrap();
        let t0 = 1_763_000_000u64 * 1_000_000_000;
        for s in 0..120u64 {
            writer
                .write(
                    "te/device/line1-pump1///m/",
                    Delivery {
                        qos: 0,
                        retain: false,
                    },
                    format!(r#"{{"flow": {}}}"#, s + offset).as_bytes(),
                    t0 + s * 1_000_000_000,
                )
                .unwrap();
        }
        writer.finish().unwrap();
        path
    };
    let night = write("night.mcap", 0);
    let copy = dir.join("copy-of-night.mcap");
    std::fs::copy(&night, &copy).unwrap();
    let other = write("other.mcap", 1000);
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    let viewer = |file: &std::path::Path, user: &str, host: bool, seconds: &str| {
        let mut args = vec![
            "--replay",
            file.to_str().unwrap(),
            "--session",
            "review",
            "--session-broker",
            &url,
            "--user",
            user,
            "--exit-after",
            seconds,
            "--window-size",
            "480x270",
        ];
        if host {
            args.push("--host");
        }
        crate::support::offscreen_viewer(&args)
    };
    let host = viewer(&night, "anna", true, "16s");
    std::thread::sleep(Duration::from_secs(4));
    let follower = viewer(&copy, "bob", false, "9s");
    let stranger = viewer(&other, "carl", false, "9s");
    let (status, follower_log) = follower.finish(Duration::from_secs(60));
    assert_eq!(status, Some(0), "{follower_log}");
    let (_, stranger_log) = stranger.finish(Duration::from_secs(60));
    let (status, host_log) = host.finish(Duration::from_secs(60));
    assert_eq!(status, Some(0), "{host_log}");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        host_log.contains("timeline: leading the session's timeline, replaying at"),
        "{host_log}"
    );
    assert!(
        follower_log.contains("timeline: following anna to Replay")
            && follower_log.contains("name: \"night.mcap\""),
        "the copy is known by its content: {follower_log}"
    );
    let line = follower_log
        .lines()
        .find(|l| l.starts_with("timeline: on anna's timeline, replaying at"))
        .unwrap_or_else(|| panic!("{follower_log}"));
    assert!(!line.contains("open that recording"), "{line}");
    assert!(
        stranger_log
            .contains("anna plays night.mcap: open that recording here (--replay) to follow"),
        "{stranger_log}"
    );
}

/// The host hands the timeline to another participant: that one leads everyone now; a third
/// who was handed nothing cannot.
#[test]
fn the_host_hands_the_timeline_to_another_who_then_leads_it() {
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    let mut plant = twinscope()
        .args(["sim", "--broker", &url, "--for", "30s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let follower = crate::support::offscreen_viewer(&[
        "--broker",
        &url,
        "--session",
        "handed",
        "--user",
        "carl",
        "--exit-after",
        "14s",
        "--window-size",
        "480x270",
    ]);
    let mut host = twinscope()
        .args([
            "timeline",
            "--broker",
            &url,
            "--session",
            "handed",
            "--user",
            "anna",
            "--host",
            "--hand-to",
            "bob",
            "--stay",
            "20s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(6));
    let refused = run_twinscope(
        &[
            "timeline",
            "--broker",
            &url,
            "--session",
            "handed",
            "--user",
            "dave",
            "--live",
            "--stay",
            "1s",
        ],
        Duration::from_secs(30),
    );
    assert!(
        !refused.status.success()
            && stderr(&refused).contains("dave does not lead this session's timeline"),
        "{}",
        stderr(&refused)
    );
    let at = twinscope_core::Timestamp(
        twinscope_core::Timestamp::now().0 / 1_000_000 * 1_000_000 - 3_000_000,
    );
    let led = run_twinscope(
        &[
            "timeline",
            "--broker",
            &url,
            "--session",
            "handed",
            "--user",
            "bob",
            "--look-back",
            &at.to_string(),
            "--stay",
            "8s",
        ],
        Duration::from_secs(30),
    );
    assert!(led.status.success(), "{}", stderr(&led));
    let (status, log) = follower.finish(Duration::from_secs(60));
    let _ = host.kill();
    let _ = host.wait();
    let _ = plant.kill();
    let _ = plant.wait();
    assert_eq!(status, Some(0), "{log}");
    let line = log
        .lines()
        .find(|l| l.starts_with("timeline: on bob's timeline"))
        .unwrap_or_else(|| panic!("the follower follows bob: {log}"));
    assert!(line.ends_with(&format!(", looking back at {at}")), "{line}");
}
