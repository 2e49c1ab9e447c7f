//! Headset mode against a real OpenXR runtime: Monado with its null compositor and simulated
//! headset and controllers, on Mesa's software Vulkan (no GPU, no headset), in the Debian
//! trixie root that `tests/xr/monado-root.sh` makes.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::stderr;
use crate::support::{Mosquitto, repo_root, run_twinscope};

/// The Monado root, or `None` (the test is skipped, unless CI requires it).
fn monado_root() -> Option<PathBuf> {
    let root = std::env::var_os("TWINSCOPE_MONADO_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            dirs::cache_dir()
                .unwrap_or_default()
                .join("twinscope/monado-trixie")
        });
    if root.join(".twinscope-ready").exists() {
        return Some(root);
    }
    assert!(
        std::env::var_os("TWINSCOPE_REQUIRE_XR").is_none(),
        "no Monado root at {} (tests/xr/monado-root.sh makes it)",
        root.display()
    );
    eprintln!(
        "SKIPPED: no Monado root at {} (run tests/xr/monado-root.sh)",
        root.display()
    );
    None
}

#[test]
fn headset_mode_without_a_runtime_exits_with_one_clear_line() {
    let output = run_twinscope(&["--xr", "--exit-after", "5s"], Duration::from_secs(60));
    assert!(!output.status.success());
    let error = stderr(&output);
    let line = error
        .lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line: {error}"));
    assert!(
        line.contains("headset mode needs an OpenXR runtime"),
        "{line}"
    );
}

/// The demo plant in a headset session, fed by mosquitto holding a critical alarm on tank
/// 1.1: the runtime takes the session to FOCUSED, frames are rendered while it runs, and
/// `--exit-after` ends the session and exits 0. The left menu button ("take me to the part
/// in alarm", pressed by the test hook, as Monado's simulated buttons never are) stands the
/// user in front of the tank; there the simulated right controller's aim ray (fixed, along
/// −Z from about (0.2, 1.3, −0.5)) points at it, and its select button selects it (pointing
/// at nothing would go up one level). The left eye's image shows the tank in the alarm
/// colour. Bindings are suggested for every controller profile, and for bare hands, which
/// Monado offers (XR_EXT_hand_interaction).
#[test]
fn a_headset_session_reaches_focused_renders_and_exits_cleanly() {
    let Some(root) = monado_root() else { return };
    let mosquitto = mosquitto_with_tank_1_1_in_alarm();
    let log = std::env::temp_dir().join(format!("twinscope-monado-{}.log", std::process::id()));
    // The command runs inside the root: its /tmp is the root's.
    let eye = format!("/tmp/twinscope-eye-{}.png", std::process::id());
    let url = mosquitto.url();
    let args = [
        "twinscope",
        "--xr",
        "--broker",
        &url,
        "--screenshot",
        &eye,
        "--exit-after",
        "12s",
    ];
    let error = run_headset(
        &root,
        &["TWINSCOPE_XR_TEST_PRESS=menu-left@3s,right@5s"],
        &args,
        &log,
    );
    assert!(
        error.contains("Loaded OpenXR runtime: Monado"),
        "the runtime is named in the log: {error}"
    );
    let summary = error
        .lines()
        .find(|l| l.starts_with("xr: states"))
        .unwrap_or_else(|| panic!("no summary: {error}"));
    let frames: u64 = summary
        .split(';')
        .nth(1)
        .and_then(|part| part.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        summary.contains("> FOCUSED >"),
        "the session reached FOCUSED: {summary}"
    );
    assert!(frames >= 10, "frames rendered while running: {summary}");
    assert!(
        summary.contains("STOPPING") && summary.contains("EXITING"),
        "the session ended cleanly: {summary}"
    );
    assert!(
        error.contains("standing in front of line1-tank1"),
        "the menu button took the user to the alarm: {error}"
    );
    assert!(
        summary.ends_with("selected line1-tank1"),
        "the right aim ray selected the tank: {summary}"
    );
    let bindings = error
        .lines()
        .find(|l| l.contains("controller bindings suggested for"))
        .unwrap_or_else(|| panic!("no bindings line: {error}"));
    for profile in [
        "khr/simple_controller",
        "oculus/touch_controller",
        "valve/index_controller",
        "htc/vive_controller",
        "ext/hand_interaction_ext",
    ] {
        assert!(bindings.contains(profile), "{profile} in {bindings}");
    }
    assert!(
        !error.contains("Suggested Path Unsupported") && !error.contains("Invalid Path Suggested"),
        "every binding was accepted: {error}"
    );

    let path = root.join(eye.trim_start_matches('/'));
    let image = crate::support::read_png(&path)
        .unwrap_or_else(|| panic!("no eye image at {}", path.display()));
    let kept = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    let _ = std::fs::create_dir_all(&kept);
    let _ = std::fs::copy(&path, kept.join("xr-walkthrough-left-eye.png"));
    let _ = std::fs::remove_file(&path);
    let (width, height, channels, pixels) =
        (image.width, image.height, image.channels, image.pixels);
    let distinct: std::collections::HashSet<&[u8]> = pixels.chunks(channels).collect();
    assert!(
        distinct.len() > 100,
        "the eye image is not blank ({} colours)",
        distinct.len()
    );
    // The tank stands straight ahead: the middle of the image is mostly alarm red.
    let red =
        |p: &[u8]| p[0] > 150 && p[0] as i32 > p[1] as i32 + 80 && p[0] as i32 > p[2] as i32 + 80;
    let (mut middle, mut reds) = (0, 0);
    for y in height * 2 / 5..height * 3 / 5 {
        for x in width * 2 / 5..width * 3 / 5 {
            middle += 1;
            let at = (y * width + x) * channels;
            reds += usize::from(red(&pixels[at..at + 3]));
        }
    }
    assert!(
        reds * 2 > middle,
        "the tank in alarm is red in the eye image ({reds} of {middle} middle pixels)"
    );
}

/// Standing in front of a selected part, with the panel floating where it does (at the
/// user's left), the label over the part stays readable: in the left eye image the label's
/// rectangle and the panel's do not overlap (they did: only the label's right edge showed).
#[test]
fn the_label_over_the_selected_part_is_not_hidden_by_the_panel() {
    let Some(root) = monado_root() else { return };
    let mosquitto = mosquitto_with_tank_1_1_in_alarm();
    let log =
        std::env::temp_dir().join(format!("twinscope-monado-label-{}.log", std::process::id()));
    let eye = format!("/tmp/twinscope-label-eye-{}.png", std::process::id());
    let url = mosquitto.url();
    let args = [
        "twinscope",
        "--xr",
        "--broker",
        &url,
        "--start-at",
        "line1-motor2",
        "--select",
        "line1-motor2",
        "--screenshot",
        &eye,
        "--exit-after",
        "8s",
    ];
    let error = run_headset(&root, &[], &args, &log);
    let line = error
        .lines()
        .find(|l| l.starts_with("xr: in the eye image"))
        .unwrap_or_else(|| panic!("no eye-image layout: {error}"));
    let rect = |name: &str| -> [f32; 4] {
        let text = line
            .split(';')
            .find_map(|part| {
                part.trim()
                    .strip_prefix("xr: in the eye image,")
                    .unwrap_or(part.trim())
                    .trim()
                    .strip_prefix(name)
            })
            .unwrap_or_else(|| panic!("no {name} in {line}"));
        let numbers: Vec<f32> = text
            .trim()
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect();
        numbers
            .try_into()
            .unwrap_or_else(|_| panic!("{name} not shown: {line}"))
    };
    let (label, panel) = (rect("label"), rect("panel"));
    let path = root.join(eye.trim_start_matches('/'));
    let kept = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    let _ = std::fs::create_dir_all(&kept);
    let _ = std::fs::copy(&path, kept.join("xr-label-and-panel-left-eye.png"));
    let _ = std::fs::remove_file(&path);
    let side = 1024.0;
    assert!(
        label[0] < side && label[2] > 0.0 && label[1] < side && label[3] > 0.0,
        "the label is in view: {line}"
    );
    let apart = label[2] <= panel[0]
        || panel[2] <= label[0]
        || label[3] <= panel[1]
        || panel[3] <= label[1];
    assert!(
        apart,
        "the label and the panel do not overlap in the eye image: {line}"
    );
    let summary = error
        .lines()
        .find(|l| l.starts_with("xr: states"))
        .unwrap_or_else(|| panic!("no summary: {error}"));
    assert!(summary.ends_with("selected line1-motor2"), "{summary}");
    assert!(
        error.contains("xr: label over the selected part:"),
        "the label was shown: {error}"
    );
}

/// Three in one session: a headset user (Monado), a desktop viewer (offscreen) and a scripted
/// participant. The headset's menu button takes it to the tank in alarm and selects it, the
/// right controller's ray rests on it. The desktop, which selected the tank too, sees the
/// headset user with two hands, the tank selected and pointed at; an observer hears all
/// three; the headset shows the other two. Both eye and desktop images are kept to look at.
#[test]
fn a_headset_desktop_and_script_see_each_other_and_what_they_point_at() {
    let Some(root) = monado_root() else { return };
    let mosquitto = mosquitto_with_tank_1_1_in_alarm();
    let log = std::env::temp_dir().join(format!(
        "twinscope-monado-session-{}.log",
        std::process::id()
    ));
    let url = mosquitto.url();
    // The observer asks every 2 s (the headset takes a while to start in the Monado root)
    // until it hears the headset pointing at the tank, or the headset has long gone.
    let observer = std::thread::spawn({
        let url = url.clone();
        move || {
            let started = std::time::Instant::now();
            let mut last = serde_json::Value::Null;
            while started.elapsed() < Duration::from_secs(90) {
                let output = crate::support::run_twinscope(
                    &[
                        "state",
                        "--broker",
                        &url,
                        "--session",
                        "walk",
                        "--for",
                        "2s",
                        "--json",
                    ],
                    Duration::from_secs(30),
                );
                assert!(output.status.success(), "{}", stderr(&output));
                let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
                let everyone = report["participants"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if let Some(jonas) = everyone.iter().find(|p| p["user"] == "jonas") {
                    let done = jonas["pointing_at"] == "line1-tank1";
                    last = report.clone();
                    if done {
                        break;
                    }
                } else if !last.is_null() {
                    break; // the headset has left
                }
            }
            last
        }
    });
    // A note on the tank, pinned before anyone came: the headset shows it at the tank.
    let pinned = run_twinscope(
        &[
            "notes",
            "--broker",
            &url,
            "--session",
            "walk",
            "--user",
            "anna",
            "--add",
            "line1-tank1",
            "Leak at the lower flange",
        ],
        Duration::from_secs(30),
    );
    assert!(pinned.status.success(), "{}", stderr(&pinned));
    let mut script = crate::support::twinscope()
        .args([
            "sim",
            "--broker",
            &url,
            "--session",
            "walk",
            "--participants",
            "1",
            "--participant-prefix",
            "scripted-",
            "--for",
            "120s",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let kept = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    let _ = std::fs::create_dir_all(&kept);
    let desk_shot = kept.join("session-desktop-sees-headset.png");
    // The headset's eye image is taken 15 s into its session, the desktop leaves 25 s after
    // its start, the headset 40 s into its session: each still sees the other when it reports.
    let desktop = crate::support::offscreen_viewer(&[
        "--broker",
        &url,
        "--session",
        "walk",
        "--user",
        "anna",
        "--start-at",
        "line1-tank1",
        "--select",
        "line1-tank1",
        "--exit-after",
        "25s",
        "--window-size",
        "1280x720",
        "--screenshot",
        desk_shot.to_str().unwrap(),
    ]);
    let eye = format!("/tmp/twinscope-session-eye-{}.png", std::process::id());
    let args = [
        "twinscope",
        "--xr",
        "--broker",
        &url,
        "--session",
        "walk",
        "--user",
        "jonas",
        "--screenshot",
        &eye,
        "--screenshot-at",
        "15s",
        "--exit-after",
        "40s",
    ];
    let error = run_headset(
        &root,
        &["TWINSCOPE_XR_TEST_PRESS=menu-left@2s"],
        &args,
        &log,
    );
    let (status, desk_log) = desktop.finish(Duration::from_secs(60));
    let _ = script.kill();
    let _ = script.wait();
    let path = root.join(eye.trim_start_matches('/'));
    let _ = std::fs::copy(&path, kept.join("xr-session-left-eye.png"));
    let _ = std::fs::remove_file(&path);
    let report = observer.join().unwrap();
    assert!(
        !report.is_null(),
        "the headset was never heard in the session:\n{error}"
    );
    let everyone = report["participants"].as_array().unwrap();
    let jonas = everyone.iter().find(|p| p["user"] == "jonas").unwrap();
    assert_eq!(jonas["device"], "headset", "{jonas}");
    assert_eq!(jonas["hands"], 2, "both controllers' poses: {jonas}");
    assert_eq!(jonas["selected"], "line1-tank1", "{jonas}");
    assert_eq!(
        jonas["pointing_at"], "line1-tank1",
        "the right ray rests on the tank: {jonas}"
    );
    assert!(
        everyone.iter().any(|p| p["user"] == "anna"
            && p["device"] == "desktop"
            && p["selected"] == "line1-tank1"),
        "the desktop is in the session: {report:#}"
    );
    assert!(
        everyone.iter().any(|p| p["user"] == "scripted-1"),
        "{report:#}"
    );
    assert_eq!(status, Some(0), "desktop:\n{desk_log}");
    assert!(
        desk_log.contains(
            "session: jonas (headset, 2 hands) selected line1-tank1, pointing at line1-tank1"
        ),
        "the desktop sees the headset pointing at the tank:\n{desk_log}"
    );
    assert!(
        desk_log.contains("session: scripted-1 (desktop"),
        "{desk_log}"
    );
    // The eye image is taken while the desktop is still in the session (it leaves first).
    // (The headset stands at the tank looking at it; the desktop's camera is above, out of
    // view: the following and tabletop tests see desktop users' markers in the eye image.)
    let shows = |who: &str| {
        error
            .lines()
            .any(|l| l.starts_with("xr: in the eye image, ") && l.contains(who))
    };
    assert!(
        shows(": anna (desktop, 0 hands) selected line1-tank1"),
        "the headset shows the desktop's selection: {error}"
    );
    assert!(shows(": scripted-1 (desktop"), "{error}");
    assert!(
        error.contains("notes: 1 shown (1 open)")
            && error.contains("on line1-tank1 [open] by anna, last anna: Leak at the lower flange"),
        "the headset shows the note: {error}"
    );
}

/// Following a participant in the headset (--follow): no camera lock, but teleports behind
/// them (with a fade) whenever they have walked on; an observer hears the headset near the
/// scripted desktop user it follows, who walks around the plant.
#[test]
fn a_headset_follows_a_participant_by_teleporting_behind_them() {
    let Some(root) = monado_root() else { return };
    let mosquitto = Mosquitto::start();
    let log = std::env::temp_dir().join(format!(
        "twinscope-monado-follow-{}.log",
        std::process::id()
    ));
    let url = mosquitto.url();
    let mut lead = crate::support::twinscope()
        .args([
            "sim",
            "--broker",
            &url,
            "--session",
            "tour",
            "--participants",
            "1",
            "--participant-prefix",
            "lead-",
            "--for",
            "120s",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let observer = std::thread::spawn({
        let url = url.clone();
        move || {
            let started = std::time::Instant::now();
            let mut closest = f64::MAX;
            while started.elapsed() < Duration::from_secs(60) {
                let output = crate::support::run_twinscope(
                    &[
                        "state",
                        "--broker",
                        &url,
                        "--session",
                        "tour",
                        "--for",
                        "1s",
                        "--json",
                    ],
                    Duration::from_secs(30),
                );
                let report: serde_json::Value =
                    serde_json::from_slice(&output.stdout).unwrap_or_default();
                let at = |user: &str| {
                    report["participants"]
                        .as_array()
                        .and_then(|all| all.iter().find(|p| p["user"] == user))
                        .and_then(|p| p["at"].as_array().cloned())
                };
                match (at("jonas"), at("lead-1")) {
                    (Some(ours), Some(theirs)) => {
                        let d = |k: usize| {
                            ours[k].as_f64().unwrap_or(0.0) - theirs[k].as_f64().unwrap_or(0.0)
                        };
                        closest = closest.min((d(0) * d(0) + d(2) * d(2)).sqrt());
                    }
                    (None, _) if closest < f64::MAX => break, // the headset has left
                    _ => {}
                }
            }
            closest
        }
    });
    let eye = format!("/tmp/twinscope-follow-eye-{}.png", std::process::id());
    let args = [
        "twinscope",
        "--xr",
        "--broker",
        &url,
        "--session",
        "tour",
        "--user",
        "jonas",
        "--follow",
        "lead-1",
        "--screenshot",
        &eye,
        "--exit-after",
        "15s",
    ];
    // The panel on its Session tab, for the eye image people look at.
    let error = run_headset(&root, &["TWINSCOPE_XR_TEST_TAB=session"], &args, &log);
    let path = root.join(eye.trim_start_matches('/'));
    let kept = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    let _ = std::fs::create_dir_all(&kept);
    let _ = std::fs::copy(&path, kept.join("xr-following-left-eye.png"));
    let _ = std::fs::remove_file(&path);
    let closest = observer.join().unwrap();
    let _ = lead.kill();
    let _ = lead.wait();
    assert!(
        error.contains("following lead-1: teleporting behind them"),
        "{error}"
    );
    // (Whether their marker is in the eye image depends on how far they walked on since the
    // last teleport: the tabletop test asserts markers in view.)
    assert!(
        error.contains("xr: in the eye image, ") && error.contains(": lead-1 (desktop"),
        "{error}"
    );
    assert!(
        closest < 6.0,
        "the headset was heard within a few metres of the one it follows (closest {closest:.1} m)\n{error}"
    );
}

/// Hand-over from the desktop to the headset with nothing selected: the headset, joining as
/// the same user, takes the presence over and stands where the desktop's camera looked; the
/// desktop leaves the session.
#[test]
fn the_desktop_continues_in_the_headset_where_its_camera_looked() {
    let Some(root) = monado_root() else { return };
    let mosquitto = Mosquitto::start();
    let log = std::env::temp_dir().join(format!(
        "twinscope-monado-handover-{}.log",
        std::process::id()
    ));
    let url = mosquitto.url();
    let desktop = crate::support::offscreen_viewer(&[
        "--broker",
        &url,
        "--session",
        "night",
        "--user",
        "anna",
        "--exit-after",
        "25s",
        "--window-size",
        "480x270",
    ]);
    std::thread::sleep(Duration::from_secs(4));
    let args = [
        "twinscope",
        "--xr",
        "--broker",
        &url,
        "--session",
        "night",
        "--user",
        "anna",
        "--exit-after",
        "10s",
    ];
    let error = run_headset(&root, &[], &args, &log);
    let (_, desktop_log) = desktop.finish(Duration::from_secs(90));
    assert!(
        error.contains("standing where this user's desktop looked"),
        "{error}"
    );
    assert!(
        desktop_log.contains("this session continues on the Headset; this viewer has left it"),
        "{desktop_log}"
    );
}

/// mosquitto holding a retained critical alarm on tank 1.1 of the demo plant.
fn mosquitto_with_tank_1_1_in_alarm() -> Mosquitto {
    let mosquitto = Mosquitto::start();
    mosquitto.publish(
        "te/device/line1-tank1///a/leak",
        r#"{"text":"Tank leaking","severity":"critical"}"#,
        true,
    );
    mosquitto
}

/// `twinscope ARGS` in the Monado root with `env` set, monado-service's log in `log`; fails
/// the test, with both logs, unless it exits 0. Returns what the app wrote to stderr.
fn run_headset(
    root: &std::path::Path,
    env: &[&str],
    args: &[&str],
    log: &std::path::Path,
) -> String {
    let output = Command::new(repo_root().join("tests/xr/run-with-monado.sh"))
        .arg(root)
        .arg(repo_root())
        .arg("env")
        .args(env)
        .args(args)
        .env("TWINSCOPE_BIN", env!("CARGO_BIN_EXE_twinscope"))
        .env("MONADO_LOG", log)
        .output()
        .expect("run the headset session");
    let error = stderr(&output);
    let monado = std::fs::read_to_string(log).unwrap_or_default();
    let _ = std::fs::remove_file(log);
    assert!(
        output.status.success(),
        "exit {:?}\n{error}\nmonado:\n{monado}",
        output.status.code()
    );
    error
}

/// The inspector panel works with the controller ray like a mouse: with the panel hung where
/// the simulated right aim ray meets its "Ack (A)" button (test hook), the right select
/// button acknowledges the alarm of the part in alarm the menu button took the user to; in a
/// shared session, someone else in it sees the alarm acknowledged by the headset's user.
#[test]
fn a_panel_button_pressed_with_the_ray_acknowledges_the_alarm() {
    let Some(root) = monado_root() else { return };
    let mosquitto = mosquitto_with_tank_1_1_in_alarm();
    let log =
        std::env::temp_dir().join(format!("twinscope-monado-panel-{}.log", std::process::id()));
    let url = mosquitto.url();
    // The panel's centre such that the ray at (0.2, 1.3) meets the button at (162, 133.5) of
    // the panel's 512 × 512 points (0.6 m square).
    // With the device's timestamp (as thin-edge alarms carry it), so that someone joining
    // later knows which occurrence was acknowledged.
    let raised = twinscope_core::Timestamp::now().to_string();
    mosquitto.publish(
        "te/device/line1-tank1///a/leak",
        &format!(r#"{{"text":"Tank leaking","severity":"critical","time":"{raised}"}}"#),
        true,
    );
    let env = [
        "TWINSCOPE_XR_TEST_PANEL_AT=0.3102,1.1564,-0.9",
        "TWINSCOPE_XR_TEST_PRESS=menu-left@3s,right@6s",
    ];
    // In a shared session: the acknowledgement is told to the others, with the name.
    let error = run_headset(
        &root,
        &env,
        &[
            "twinscope",
            "--xr",
            "--broker",
            &url,
            "--session",
            "night",
            "--user",
            "jonas",
            "--exit-after",
            "10s",
        ],
        &log,
    );
    assert!(
        error.contains("headset panel: Acknowledge"),
        "the panel's Ack button was pressed: {error}"
    );
    let summary = error
        .lines()
        .find(|l| l.starts_with("xr: states"))
        .unwrap_or_else(|| panic!("no summary: {error}"));
    assert!(
        summary.contains("; 0 unacknowledged ;") && summary.ends_with("selected line1-tank1"),
        "{summary}"
    );
    let others = run_twinscope(
        &[
            "alarms",
            "--broker",
            &url,
            "--session",
            "night",
            "--for",
            "2s",
        ],
        Duration::from_secs(30),
    );
    let listed = crate::stdout(&others);
    assert!(
        listed.contains("(acknowledged by jonas)") && listed.contains("(operator jonas)"),
        "someone else in the session sees who acknowledged: {listed}"
    );
}

/// A note pinned in the headset, the way its user would: the menu button takes them to the
/// tank in alarm, the panel's Session tab shows the preset phrases, the right ray presses
/// "needs part". A desktop viewer in the session shows the note on the tank, by the headset
/// user; edited from the desktop's side, the headset shows the edit; an observer lists it
/// after both quit.
#[test]
fn a_note_pinned_in_the_headset_appears_on_the_desktop() {
    let Some(root) = monado_root() else { return };
    let mosquitto = mosquitto_with_tank_1_1_in_alarm();
    let log =
        std::env::temp_dir().join(format!("twinscope-monado-note-{}.log", std::process::id()));
    let url = mosquitto.url();
    let desktop = crate::support::offscreen_viewer(&[
        "--broker",
        &url,
        "--session",
        "repair",
        "--user",
        "anna",
        "--select",
        "line1-tank1",
        "--exit-after",
        "30s",
        "--window-size",
        "640x360",
    ]);
    // The panel's centre such that the ray at (0.2, 1.3) meets "needs part", which the
    // Session tab lays out at (155.9, 88.5) of the panel's 512 × 512 points (0.6 m square)
    // once a part is selected, with one other participant listed (the headset says where
    // with the tab's test hook).
    let env = [
        "TWINSCOPE_XR_TEST_TAB=session",
        "TWINSCOPE_XR_TEST_PANEL_AT=0.3173,1.1037,-0.9",
        "TWINSCOPE_XR_TEST_PRESS=menu-left@2s,right@5s",
    ];
    // The desktop's user edits the note as soon as it is there: the headset shows the edit.
    let editor = std::thread::spawn({
        let url = url.clone();
        move || {
            let started = std::time::Instant::now();
            while started.elapsed() < Duration::from_secs(60) {
                let output = run_twinscope(
                    &[
                        "notes",
                        "--broker",
                        &url,
                        "--session",
                        "repair",
                        "--json",
                        "--for",
                        "500ms",
                    ],
                    Duration::from_secs(30),
                );
                let report: serde_json::Value =
                    serde_json::from_slice(&output.stdout).unwrap_or_default();
                if let Some(id) = report["notes"]
                    .as_array()
                    .and_then(|n| n.first())
                    .and_then(|n| n["id"].as_str())
                    .map(str::to_owned)
                {
                    let edit = run_twinscope(
                        &[
                            "notes",
                            "--broker",
                            &url,
                            "--session",
                            "repair",
                            "--user",
                            "anna",
                            "--for",
                            "300ms",
                            "--edit",
                            &id,
                            "needs part: gasket DN80",
                        ],
                        Duration::from_secs(30),
                    );
                    return edit.status.success();
                }
                std::thread::sleep(Duration::from_millis(300));
            }
            false
        }
    });
    let args = [
        "twinscope",
        "--xr",
        "--broker",
        &url,
        "--session",
        "repair",
        "--user",
        "jonas",
        "--exit-after",
        "16s",
    ];
    let error = run_headset(&root, &env, &args, &log);
    assert!(editor.join().unwrap(), "the note was edited");
    assert!(
        error.contains("on line1-tank1 [open] by jonas, last anna: needs part: gasket DN80"),
        "the headset shows the desktop's edit: {error}"
    );
    let (status, desktop_log) = desktop.finish(Duration::from_secs(90));
    assert!(
        error.contains("xr: preset \"needs part\" at 155.9,"),
        "the layout the panel's position was computed for: {error}"
    );
    assert!(
        error.contains("headset panel: Pin { twin: \"line1-tank1\", text: \"needs part\" }"),
        "the ray pressed the preset: {error}"
    );
    assert_eq!(status, Some(0), "{desktop_log}");
    assert!(
        desktop_log.contains("on line1-tank1 [open] by jonas, last anna: needs part: gasket DN80"),
        "the desktop shows the headset's note, edited: {desktop_log}"
    );
    let listed = run_twinscope(
        &[
            "notes",
            "--broker",
            &url,
            "--session",
            "repair",
            "--for",
            "1s",
        ],
        Duration::from_secs(30),
    );
    assert!(
        crate::stdout(&listed).contains("line1-tank1  jonas")
            && crate::stdout(&listed).contains("needs part"),
        "{}",
        crate::stdout(&listed)
    );
}

/// The tabletop: the view button (a thumbstick click) puts the whole plant on a table in front
/// of the user, 1 m across, with the tank in alarm still selected, red, and labelled with its
/// alarm text; the left panel button puts the panel in the left hand; the view button again
/// stands the user, back at walkthrough scale, in front of the part selected on the table.
/// The eye image, taken on the table, shows the red tank below the horizon, and the others
/// in the session as markers and name tags that read at table scale.
#[test]
fn the_tabletop_shows_the_whole_plant_and_leads_back_to_the_selected_part() {
    let Some(root) = monado_root() else { return };
    let mosquitto = mosquitto_with_tank_1_1_in_alarm();
    let log =
        std::env::temp_dir().join(format!("twinscope-monado-table-{}.log", std::process::id()));
    let eye = format!("/tmp/twinscope-table-eye-{}.png", std::process::id());
    let url = mosquitto.url();
    // The eye image is taken at 9 s (3 s before the end), on the table.
    // A note on the tank in alarm, pinned before, to see its pin at table scale.
    let pinned = run_twinscope(
        &[
            "notes",
            "--broker",
            &url,
            "--session",
            "table",
            "--user",
            "anna",
            "--add",
            "line1-tank1",
            "Leak at the lower flange",
        ],
        Duration::from_secs(30),
    );
    assert!(pinned.status.success(), "{}", stderr(&pinned));
    // Two others in the session (a desktop and a headset user walking the plant), to see
    // their markers at table scale.
    let mut others = crate::support::twinscope()
        .args([
            "sim",
            "--broker",
            &url,
            "--session",
            "table",
            "--participants",
            "2",
            "--participant-prefix",
            "walker-",
            "--for",
            "120s",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let env = ["TWINSCOPE_XR_TEST_PRESS=menu-left@2s,view-right@4s,panel-left@5s,view-right@10s"];
    let args = [
        "twinscope",
        "--xr",
        "--snap-turn",
        "30",
        "--broker",
        &url,
        "--session",
        "table",
        "--user",
        "jonas",
        "--screenshot",
        &eye,
        "--exit-after",
        "12s",
    ];
    let error = run_headset(&root, &env, &args, &log);
    let _ = others.kill();
    let _ = others.wait();
    // They walk around the plant: where each is on the table at the moment of the image
    // varies, but both are shown, and one at least is in view.
    let shown: Vec<&str> = error
        .lines()
        .filter(|l| l.starts_with("xr: in the eye image, ") && l.contains(": walker-"))
        .collect();
    assert!(
        shown
            .iter()
            .any(|l| l.contains("walker-1 (desktop, 0 hands)"))
            && shown
                .iter()
                .any(|l| l.contains("walker-2 (headset, 2 hands)")),
        "{error}"
    );
    assert!(
        shown.iter().any(|l| l.contains(", in view: walker-")),
        "a walker's marker on the table is in view: {shown:?}"
    );
    assert!(
        error.contains("notes: 1 shown (1 open)"),
        "the note's pin stands on the table's tank: {error}"
    );
    assert!(
        error.contains("tabletop: the plant is 1.00 m across on the table"),
        "{error}"
    );
    assert!(error.contains("the panel is in the left hand"), "{error}");
    assert!(
        error.contains("walkthrough: standing in front of line1-tank1"),
        "back from the table in front of the selected part: {error}"
    );
    assert!(error.contains("xr: view Walkthrough"), "{error}");
    let label = error
        .lines()
        .find(|l| l.starts_with("xr: label over the selected part:"))
        .unwrap_or_else(|| panic!("no label: {error}"));
    assert!(
        label.contains("line1-tank1") && label.contains("CRITICAL: Tank leaking"),
        "{label}"
    );
    let cost = error
        .lines()
        .find(|l| l.starts_with("xr cost per frame"))
        .unwrap_or_else(|| panic!("no frame cost: {error}"));
    assert!(
        cost.contains("sync mean") && cost.contains("panels mean"),
        "{cost}"
    );

    let path = root.join(eye.trim_start_matches('/'));
    let image = crate::support::read_png(&path)
        .unwrap_or_else(|| panic!("no eye image at {}", path.display()));
    let kept = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    let _ = std::fs::create_dir_all(&kept);
    let _ = std::fs::copy(&path, kept.join("xr-tabletop-session-left-eye.png"));
    let _ = std::fs::remove_file(&path);
    let (width, height, channels, pixels) =
        (image.width, image.height, image.channels, image.pixels);
    // The tank stands on the table, below the middle of the view: alarm red there.
    let red =
        |p: &[u8]| p[0] > 150 && p[0] as i32 > p[1] as i32 + 80 && p[0] as i32 > p[2] as i32 + 80;
    let reds = (height * 3 / 5..height)
        .flat_map(|y| (0..width).map(move |x| (y * width + x) * channels))
        .filter(|&at| red(&pixels[at..at + 3]))
        .count();
    assert!(
        reds > width * height / 1000,
        "the tank in alarm is red on the table ({reds} red pixels in the lower part)"
    );
}

/// In the headset, Send on the panel's Ops tab takes a deliberate hold: a press let go at once
/// sends nothing; held for 2.5 s with the ray (test hook), the restart goes to the device, whose
/// agent (the thin-edge stand-in) runs it. The request is prepared by a test hook, as Review…
/// would (a headset test cannot type a reason); the panel hangs where the simulated right aim
/// ray meets "Hold to send" at (48.8, 406.5) of its 512 × 512 points (below the agent's seven
/// operations and the review).
#[test]
fn in_the_headset_send_is_held_to_confirm() {
    let Some(root) = monado_root() else { return };
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    let agent = crate::support::tedge_agent::TedgeAgent::start(mosquitto.port, "line1-pump1");
    let audit = std::env::temp_dir().join(format!(
        "twinscope-xr-ops-audit-{}.jsonl",
        std::process::id()
    ));
    let run = |press: &str| {
        let log =
            std::env::temp_dir().join(format!("twinscope-monado-ops-{}.log", std::process::id()));
        let press = format!("TWINSCOPE_XR_TEST_PRESS={press}");
        let env = [
            "TWINSCOPE_XR_TEST_TAB=operations",
            "TWINSCOPE_TEST_PREPARE_OPERATION=restart:drift",
            "TWINSCOPE_XR_TEST_PANEL_AT=0.4428,1.4764,-0.9",
            press.as_str(),
        ];
        let args = [
            "twinscope",
            "--xr",
            "--broker",
            &url,
            "--select",
            "line1-pump1",
            "--allow-operations",
            "--audit-log",
            audit.to_str().unwrap(),
            "--exit-after",
            "10s",
        ];
        run_headset(&root, &env, &args, &log)
    };
    let clicked = run("right@5s");
    assert!(
        clicked.contains("test: preparing restart on line1-pump1"),
        "{clicked}"
    );
    assert!(
        !clicked.contains("headset panel: Send"),
        "a click is not a hold: {clicked}"
    );
    assert!(
        agent.published.lock().unwrap().is_empty(),
        "nothing reached the device"
    );

    let held = run("right@5s~2500ms");
    assert!(held.contains("headset panel: Send"), "held 2.5 s: {held}");
    assert!(
        held.lines().any(
            |l| l.starts_with("operation: line1-pump1 restart twinscope-")
                && l.ends_with("successful (ours)")
        ),
        "{held}"
    );
    let published = agent.published.lock().unwrap().clone();
    assert_eq!(
        published
            .iter()
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>(),
        ["scheduled", "executing", "successful"]
    );
    // The headset ran inside Monado's root: its audit log is there.
    let audit_text = std::fs::read_to_string(root.join(audit.strip_prefix("/").unwrap())).unwrap();
    assert!(
        audit_text.contains(r#""event":"requested""#) && audit_text.contains(r#""reason":"drift""#),
        "{audit_text}"
    );
    let _ = std::fs::remove_file(root.join(audit.strip_prefix("/").unwrap()));
    agent.stop();
}
