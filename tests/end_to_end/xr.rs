//! Headset mode against a real OpenXR runtime: Monado with its null compositor and simulated
//! headset and controllers, on Mesa's software Vulkan (no GPU, no headset), in the Debian
//! trixie root that `tests/xr/monado-root.sh` makes.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::support::{repo_root, run_twinscope};
use crate::stderr;

/// The Monado root, or `None` (the test is skipped, unless CI requires it).
fn monado_root() -> Option<PathBuf> {
    let root = std::env::var_os("TWINSCOPE_MONADO_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| dirs::cache_dir().unwrap_or_default().join("twinscope/monado-trixie"));
    if root.join(".twinscope-ready").exists() {
        return Some(root);
    }
    assert!(std::env::var_os("TWINSCOPE_REQUIRE_XR").is_none(), "no Monado root at {} (tests/xr/monado-root.sh makes it)", root.display());
    eprintln!("SKIPPED: no Monado root at {} (run tests/xr/monado-root.sh)", root.display());
    None
}

#[test]
fn headset_mode_without_a_runtime_exits_with_one_clear_line() {
    let output = run_twinscope(&["--xr", "--exit-after", "5s"], Duration::from_secs(60));
    assert!(!output.status.success());
    let error = stderr(&output);
    let line = error.lines().rev().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("no error line: {error}"));
    assert!(line.contains("headset mode needs an OpenXR runtime"), "{line}");
}

/// The demo plant in a headset session: the runtime takes it to FOCUSED, frames are rendered
/// while it runs, and `--exit-after` ends the session and exits 0. Standing in front of tank
/// 1.1 (`--start-at`), the simulated right controller's aim ray (fixed, along −Z from about
/// (0.2, 1.3, −0.5)) points at the tank, and its select button (pressed by the test hook, as
/// Monado's simulated buttons never are) selects it.
#[test]
fn a_headset_session_reaches_focused_renders_and_exits_cleanly() {
    let Some(root) = monado_root() else { return };
    let log = std::env::temp_dir().join(format!("twinscope-monado-{}.log", std::process::id()));
    let output = Command::new(repo_root().join("tests/xr/run-with-monado.sh"))
        .arg(&root)
        .arg(repo_root())
        .args(["env", "TWINSCOPE_XR_TEST_PRESS=right@4s"])
        .args(["twinscope", "--xr", "--start-at", "line1-tank1", "--exit-after", "12s"])
        .env("TWINSCOPE_BIN", env!("CARGO_BIN_EXE_twinscope"))
        .env("MONADO_LOG", &log)
        .output()
        .expect("run the headset session");
    let error = stderr(&output);
    let monado = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(output.status.success(), "exit {:?}\n{error}\nmonado:\n{monado}", output.status.code());
    assert!(error.contains("Loaded OpenXR runtime: Monado"), "the runtime is named in the log: {error}");
    let summary = error.lines().find(|l| l.starts_with("xr: states")).unwrap_or_else(|| panic!("no summary: {error}"));
    let frames: u64 = summary.split(';').nth(1).and_then(|part| part.split_whitespace().next()).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(summary.contains("> FOCUSED >"), "the session reached FOCUSED: {summary}");
    assert!(frames >= 10, "frames rendered while running: {summary}");
    assert!(summary.contains("STOPPING") && summary.contains("EXITING"), "the session ended cleanly: {summary}");
    assert!(summary.ends_with("selected line1-tank1"), "the right aim ray selected the tank: {summary}");
    let _ = std::fs::remove_file(log);
}
