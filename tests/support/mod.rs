//! Helpers for end-to-end tests: real brokers on free loopback ports, and the real binary.

#![allow(dead_code)]

use std::io::Write;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The repository root (the tests live in `tests/`, the crate in `app/viewer`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

pub fn twinscope() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_twinscope"));
    command.current_dir(repo_root());
    command
}

/// Runs `twinscope ARGS` to completion, with a time limit.
pub fn run_twinscope(args: &[&str], limit: Duration) -> Output {
    let mut child = twinscope()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start twinscope");
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!(
                "twinscope {args:?} ran past {limit:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A loopback port nothing listens on now, and never the same twice in this process: tests
/// run in parallel, and two that were handed one port started two brokers on it (one failed
/// to bind, and its test talked to the other's broker, or to nothing once that one stopped).
pub fn free_port() -> u16 {
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut handed_out = HANDED_OUT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !handed_out.contains(&port) {
            handed_out.push(port);
            return port;
        }
    }
}

pub fn wait_for_port(port: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Debian's mosquitto on a loopback port, killed on drop.
pub struct Mosquitto {
    pub port: u16,
    child: Child,
    config: PathBuf,
}

impl Mosquitto {
    pub fn start() -> Mosquitto {
        Self::start_configured("allow_anonymous true")
    }

    /// mosquitto on a free port with more configuration lines for its listener (TLS files, a
    /// password file, an ACL). Another process can take the port between our choosing it and
    /// mosquitto binding it (an outgoing connection's ephemeral port): then another is tried.
    pub fn start_configured(listener_config: &str) -> Mosquitto {
        for _ in 0..5 {
            if let Some(mosquitto) = Self::try_start(free_port(), listener_config) {
                return mosquitto;
            }
        }
        panic!("mosquitto did not start on any of five free ports");
    }

    pub fn start_on(port: u16) -> Mosquitto {
        Self::start_with(port, "allow_anonymous true")
    }

    /// mosquitto on `port` with more configuration lines for its one listener (TLS files,
    /// a password file).
    pub fn start_with(port: u16, listener_config: &str) -> Mosquitto {
        Self::try_start(port, listener_config)
            .unwrap_or_else(|| panic!("mosquitto did not listen on {port}"))
    }

    /// `None` when mosquitto did not listen or exited (its port was taken). A connect alone
    /// can be fooled: to a port in the ephemeral range with no listener, Linux can connect a
    /// socket to itself.
    fn try_start(port: u16, listener_config: &str) -> Option<Mosquitto> {
        let config = std::env::temp_dir().join(format!(
            "twinscope-mosquitto-{}-{port}.conf",
            std::process::id()
        ));
        let mut file = std::fs::File::create(&config).unwrap();
        writeln!(file, "listener {port} 127.0.0.1\n{listener_config}\npersistence false\nmax_queued_messages 100000").unwrap();
        let child = Command::new(mosquitto_binary())
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto is installed (apt-get install mosquitto mosquitto-clients)");
        let mut mosquitto = Mosquitto {
            port,
            child,
            config,
        };
        let listening = wait_for_port(port, Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(50));
        let alive = mosquitto
            .child
            .try_wait()
            .is_ok_and(|exited| exited.is_none());
        // Dropped when it did not start: killed, its configuration removed.
        (listening && alive).then_some(mosquitto)
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Publishes one message with Debian's `mosquitto_pub` (an independent client).
    pub fn publish(&self, topic: &str, payload: &str, retain: bool) {
        let mut command = Command::new("mosquitto_pub");
        command.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-q",
            "1",
            "-t",
            topic,
            "-m",
            payload,
        ]);
        if retain {
            command.arg("-r");
        }
        let status = command.status().expect("mosquitto_pub is installed");
        assert!(status.success(), "mosquitto_pub {topic}");
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.config);
    }
}

fn mosquitto_binary() -> &'static str {
    if Path::new("/usr/sbin/mosquitto").exists() {
        "/usr/sbin/mosquitto"
    } else {
        "mosquitto"
    }
}

pub mod tedge_agent;
pub mod tls;

/// The viewer drawing offscreen (no display: Mesa's lavapipe where there is no GPU), run in
/// the background with its output in a file.
pub struct OffscreenViewer {
    child: Child,
    log: PathBuf,
}

pub fn offscreen_viewer(args: &[&str]) -> OffscreenViewer {
    let log = std::env::temp_dir().join(format!(
        "twinscope-offscreen-{}-{}.log",
        std::process::id(),
        free_port()
    ));
    let file = std::fs::File::create(&log).unwrap();
    let mut command = twinscope();
    command
        .arg("--offscreen")
        .args(args)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY");
    let lavapipe = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json";
    if std::env::var_os("VK_DRIVER_FILES").is_none() && Path::new(lavapipe).exists() {
        command.env("VK_DRIVER_FILES", lavapipe);
    }
    let child = command
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("start the viewer");
    OffscreenViewer { child, log }
}

impl OffscreenViewer {
    /// Waits for the viewer to exit (at most `limit`, then kills it); its exit and its log.
    pub fn finish(mut self, limit: Duration) -> (Option<i32>, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log);
        (status, log)
    }
}

/// Polls `check` until it holds or `limit` passes.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    check()
}

/// A decoded PNG: its size, samples per pixel and bytes.
pub struct PngImage {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    pub pixels: Vec<u8>,
}

/// Reads a PNG, or `None` when the file does not exist or is not one.
pub fn read_png(path: &Path) -> Option<PngImage> {
    let file = std::fs::File::open(path).ok()?;
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .ok()?;
    let mut pixels = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut pixels).ok()?;
    pixels.truncate(info.buffer_size());
    Some(PngImage {
        width: info.width as usize,
        height: info.height as usize,
        channels: info.color_type.samples(),
        pixels,
    })
}
