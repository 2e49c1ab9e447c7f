//! Alarm handling shared by a session, against mosquitto: an acknowledgement by one
//! participant shows in a desktop viewer's alarm list and history with the name of who did
//! it; two acknowledging at once are one acknowledgement, with the same name everywhere; a
//! late joiner sees it too (retained), also for an alarm without a device timestamp.

use std::time::Duration;

use crate::support::{Mosquitto, run_twinscope, twinscope};
use crate::{stderr, stdout};

#[test]
fn an_ack_in_one_viewer_shows_with_the_name_in_the_others_list_and_history() {
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    // With the device's timestamp, as thin-edge alarms carry it: a viewer that joins later
    // knows which occurrence was acknowledged.
    let raised = chrono_free_now();
    mosquitto.publish(
        "te/device/line1-tank1///a/leak",
        &format!(r#"{{"text":"Tank leaking","severity":"critical","time":"{raised}"}}"#),
        true,
    );
    let viewer = crate::support::offscreen_viewer(&[
        "--broker",
        &url,
        "--session",
        "ops",
        "--user",
        "bob",
        "--exit-after",
        "14s",
        "--window-size",
        "640x360",
    ]);
    std::thread::sleep(Duration::from_secs(5));
    // Anna and carl acknowledge the same alarm at the same moment, each from their own process.
    let ack = |user: &str| {
        twinscope()
            .args([
                "alarms",
                "--broker",
                &url,
                "--session",
                "ops",
                "--user",
                user,
                "--for",
                "2s",
                "--ack",
                "line1-tank1",
                "leak",
            ])
            .output()
            .unwrap()
    };
    let (anna, carl) = std::thread::scope(|s| {
        let a = s.spawn(|| ack("anna"));
        let c = s.spawn(|| ack("carl"));
        (a.join().unwrap(), c.join().unwrap())
    });
    assert!(
        anna.status.success() && carl.status.success(),
        "{}\n{}",
        stderr(&anna),
        stderr(&carl)
    );
    let (status, log) = viewer.finish(Duration::from_secs(90));
    assert_eq!(status, Some(0), "{log}");
    let line = log
        .lines()
        .find(|l| l.starts_with("alarm: line1-tank1 leak"))
        .unwrap_or_else(|| panic!("{log}"));
    let by = line
        .strip_prefix("alarm: line1-tank1 leak acknowledged by ")
        .unwrap_or_else(|| panic!("acknowledged in the viewer: {line}"));
    assert!(by == "anna" || by == "carl", "{line}");
    assert!(
        log.contains("alarms: 1 listed, 1 acknowledgement(s) in the history"),
        "two at once are one: {log}"
    );

    // An alarm without a device timestamp (each viewer dates it when it first hears it):
    // acknowledged by anna, and someone who comes later still knows it was this occurrence.
    mosquitto.publish(
        "te/device/line1-tank2///a/overflow",
        r#"{"text":"Tank overflowing","severity":"major"}"#,
        true,
    );
    let anna = twinscope()
        .args([
            "alarms",
            "--broker",
            &url,
            "--session",
            "ops",
            "--user",
            "anna",
            "--for",
            "2s",
            "--ack",
            "line1-tank2",
            "overflow",
        ])
        .output()
        .unwrap();
    assert!(anna.status.success(), "{}", stderr(&anna));
    // Later than the slack allowed between viewers' clocks: the late joiner dates the alarm
    // well after anna's acknowledgement.
    std::thread::sleep(Duration::from_secs(3));

    // Someone who comes later hears the same: one acknowledgement, by the same person.
    let later = run_twinscope(
        &[
            "alarms",
            "--broker",
            &url,
            "--session",
            "ops",
            "--for",
            "2s",
        ],
        Duration::from_secs(30),
    );
    assert!(later.status.success(), "{}", stderr(&later));
    let text = stdout(&later);
    assert!(text.contains(&format!("(acknowledged by {by})")), "{text}");
    let acks: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" acknowledge ") && l.contains("line1-tank1"))
        .collect();
    assert_eq!(acks.len(), 1, "{text}");
    assert!(
        acks.iter()
            .any(|l| l.contains("line1-tank1") && l.ends_with(&format!("(operator {by})"))),
        "{text}"
    );
    let overflow = text
        .lines()
        .find(|l| l.starts_with("active") && l.contains("overflow"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        overflow.contains("(acknowledged by anna)"),
        "the alarm without a device time: {text}"
    );
}

/// Now as RFC 3339 (what thin-edge puts in an alarm's "time").
fn chrono_free_now() -> String {
    twinscope_core::Timestamp::now().to_string()
}
