//! The `twinscope` command line: the viewer by default, and subcommands for the simulator,
//! scene checks, headless state dumps and generating the demo plant.

mod alarms;
mod archive;
mod bench;
mod bench_archive;
mod bench_notes;
mod bench_scene;
mod bench_session;
mod check;
mod connect;
mod gen_plant;
mod listen;
mod notes;
mod operation;
mod record;
mod schemas;
mod session;
mod sim;
mod state;
mod timeline;
mod view;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
pub use connect::ConnectArgs;
pub use schemas::SchemaArgs;
use twinscope::command_line::{
    parse_dvr_minutes, parse_rate, parse_size, parse_snap_turn, parse_time_zone, parse_utc_offset,
};
use twinscope_core::time::parse_duration;

#[derive(Parser, Debug)]
#[command(
    name = "twinscope",
    version,
    about = "A live 3D view of a plant's digital twins, fed over MQTT."
)]
#[command(
    after_help = "With no arguments, twinscope starts an embedded MQTT broker and a plant simulator and shows the demo plant."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub view: ViewArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the plant simulator against a broker (publishes thin-edge telemetry).
    Sim(SimArgs),
    /// Load a scene and its glTF without a window and report how nodes bind to twins.
    Check(CheckArgs),
    /// Listen to a broker for a while and print the twin hierarchy and its state.
    State(StateArgs),
    /// Record MQTT traffic to an MCAP file (or repair a recording cut short).
    Record(RecordArgs),
    /// List a recording's alarm history (every transition) or export it as CSV.
    Alarms(AlarmsArgs),
    /// Write the demo plant model (.glb) and, optionally, a scene manifest for it.
    GenPlant(GenPlantArgs),
    /// Measure ingest throughput (decode + apply vs bare JSON parsing).
    Bench(BenchArgs),
    /// A shared session's notes: list them, pin one (--add TWIN TEXT), edit, resolve or
    /// delete one; or list a recording's (--replay FILE).
    Notes(notes::NotesArgs),
    /// Take a shared session to an instant (--look-back WHEN, --live), as its host.
    Timeline(timeline::TimelineArgs),
    /// Request a thin-edge operation on a twin (restart, log_upload, config_update, ...) and
    /// follow it to its end; --list shows what twins accept and the commands on the broker.
    Operation(operation::OperationArgs),
    /// Convert recordings into the long-range Parquet archive (DuckDB, Spark and Polars read
    /// it), apply retention (--keep 90d), or print a trend from it (--trend TWIN PROPERTY).
    Archive(archive::ArchiveArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ViewArgs {
    /// Where live data comes from (without --broker or --profile: the embedded broker and
    /// simulator).
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(flatten)]
    pub schemas: SchemaArgs,
    #[command(flatten)]
    pub session: session::SessionArgs,
    /// Replay this recording (MCAP) on a timeline instead of showing live data (connection
    /// options are then not needed, and ignored).
    #[arg(long, conflicts_with = "broker")]
    pub replay: Option<PathBuf>,
    /// The plant's UTC offset for times shown in the panels and on the replay clock, e.g. +01:00,
    /// fixed all year (see --tz). Exports stay in UTC.
    #[arg(long, value_parser = parse_utc_offset, allow_hyphen_values = true, conflicts_with = "tz")]
    pub utc_offset: Option<i64>,
    /// The plant's time zone for times shown in the panels and on the replay clock, e.g.
    /// Europe/Berlin, with daylight saving [default: this machine's]. Exports stay in UTC.
    #[arg(long, value_parser = parse_time_zone)]
    pub tz: Option<std::sync::Arc<twinscope_core::time_zone::TimeZone>>,
    /// The scene manifest to show [default: scenes/demo-plant.toml].
    #[arg(long)]
    pub scene: Option<PathBuf>,
    /// Save a screenshot (PNG) when --exit-after elapses.
    #[arg(long, requires = "exit_after")]
    pub screenshot: Option<PathBuf>,
    /// Exit after this long, e.g. 10s (with --screenshot: capture, then exit).
    #[arg(long, value_parser = parse_duration)]
    pub exit_after: Option<Duration>,
    /// At --exit-after, write the twin state shown, as `twinscope state --json` prints it.
    #[arg(long, requires = "exit_after", value_name = "FILE")]
    pub state_out: Option<PathBuf>,
    /// Headset mode: take the --screenshot this long after the session started running
    /// (e.g. 15s), not 3 s before --exit-after (to catch a moment with others in view).
    #[arg(long, value_parser = parse_duration, requires = "screenshot", requires = "xr")]
    pub screenshot_at: Option<Duration>,
    /// Select this twin at start (by id).
    #[arg(long)]
    pub select: Option<String>,
    /// Messages per twin per second from the embedded simulator.
    #[arg(long, default_value_t = 2.0, value_parser = parse_rate)]
    pub sim_rate: f64,
    /// Minutes of a live session the DVR keeps for looking back (between one and two times
    /// this, at most a day); 0 turns the DVR off.
    #[arg(long, default_value_t = 10.0, value_parser = parse_dvr_minutes)]
    pub dvr_minutes: f64,
    /// Where the record button writes live recordings.
    #[arg(long, default_value = "recordings")]
    pub record_dir: PathBuf,
    /// Window size as WIDTHxHEIGHT.
    #[arg(long, default_value = "1600x900", value_parser = parse_size)]
    pub window_size: (u32, u32),
    /// Start with the panels open or closed (T, L and H toggle them).
    #[arg(long, value_enum, default_value_t = PanelsAtStart::Open)]
    pub panels: PanelsAtStart,
    /// Expand the whole plant tree at start.
    #[arg(long)]
    pub expand_tree: bool,
    /// Start in a focus mode for the selection (with --select).
    #[arg(long, value_enum)]
    pub focus: Option<FocusAtStart>,
    /// Where "Export history (CSV)" writes alarm histories.
    #[arg(long, default_value = ".")]
    pub alarm_export_dir: PathBuf,
    /// Headset mode: show the plant in an OpenXR session (needs an OpenXR runtime such as
    /// Monado, SteamVR or the headset's own; exits with an error when none starts a session).
    #[arg(long)]
    pub xr: bool,
    /// Draw into an offscreen image of --window-size instead of a window, as fast as the
    /// machine allows: for a GPU with no display (the soak benchmark); --screenshot saves it.
    #[arg(long, conflicts_with = "xr")]
    pub offscreen: bool,
    /// With --xr: start the walkthrough standing in front of this twin (by id), facing it.
    #[arg(long, requires = "xr", value_name = "TWIN")]
    pub start_at: Option<String>,
    /// With --xr: the angle of one snap turn of the thumbstick, in degrees (30 or 45 are usual).
    #[arg(long, requires = "xr", value_name = "DEGREES", default_value_t = 45.0, value_parser = parse_snap_turn)]
    pub snap_turn: f32,
    /// Publish each acknowledgement to the broker as a thin-edge event
    /// (`te/<entity>/e/alarm_acknowledged`). Off by default: the viewer is read-only.
    #[arg(long, conflicts_with = "replay")]
    pub publish_acks: bool,
    /// Let this viewer request operations on devices (thin-edge commands): off by default,
    /// every request is confirmed, needs a reason and goes to the audit log.
    #[arg(long, conflicts_with = "replay")]
    pub allow_operations: bool,
    /// With --allow-operations: only these, TWIN:OPERATION, either may be * or end in *
    /// (repeat the flag).
    #[arg(long, value_name = "TWIN:OPERATION", requires = "allow_operations")]
    pub allow_operation: Vec<String>,
    /// Show and audit what a request would send, send nothing.
    #[arg(long)]
    pub dry_run_operations: bool,
    /// thin-edge's file-transfer service, e.g. http://HOST:8000: logs and configurations the
    /// agent uploads are fetched from there.
    #[arg(long, value_name = "URL")]
    pub file_transfer: Option<String>,
    /// A command still at init this long shows "no response from the device agent".
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub operation_timeout: Duration,
    /// The operations audit log [default: operations-audit.jsonl in the user's data folder].
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    #[command(flatten)]
    pub archive: archive::ArchiveFlags,
    /// Open this property in the Trends window at start, as TWIN:PROPERTY (repeat the flag);
    /// with --archive.
    #[arg(long, value_name = "TWIN:PROPERTY", requires = "archive")]
    pub trend: Vec<String>,
    /// With --trend: the span the Trends window shows at first, ending now, e.g. 30d.
    #[arg(long, default_value = "1d", value_parser = parse_duration)]
    pub trend_span: Duration,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelsAtStart {
    Open,
    Closed,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FocusAtStart {
    Isolate,
    Xray,
}

#[derive(Args, Debug)]
pub struct SimArgs {
    /// The broker to publish to: required, because the simulator publishes retained
    /// registrations and alarms (on a thin-edge device, port 1883 is its real broker).
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Production lines to simulate (the demo plant has 2; each adds 32 twins).
    #[arg(long, default_value_t = 2)]
    pub lines: usize,
    /// Messages per twin per second.
    #[arg(long, default_value_t = 2.0, value_parser = parse_rate)]
    pub rate: f64,
    /// Mean time between simulated faults, e.g. 25s; 0 disables faults.
    #[arg(long, default_value = "25s", value_parser = parse_duration)]
    pub faults_every: Duration,
    /// Stop after this long (default: run until interrupted).
    #[arg(long = "for", value_parser = parse_duration)]
    pub run_for: Option<Duration>,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Raise this many retained alarms at start, spread over the plant, and keep them.
    #[arg(long, default_value_t = 0)]
    pub standing_alarms: usize,
    /// Instead of the plant: this many scripted participants in --session, walking the demo
    /// plant at 20 Hz, pointing at and selecting twins (users PREFIX1, PREFIX2, ...).
    #[arg(long, default_value_t = 0, requires = "session")]
    pub participants: usize,
    /// With --participants: their user names' prefix.
    #[arg(long, default_value = "sim-")]
    pub participant_prefix: String,
    /// With --participants: the first of them is the host and brings everyone to where it
    /// stands every 5 s.
    #[arg(long, requires = "participants")]
    pub gather: bool,
    /// Instead of the plant: pin this many notes in --session, spread over the demo plant's
    /// twins (load for the notes layer), then exit.
    #[arg(long, default_value_t = 0, requires = "session")]
    pub notes: usize,
    #[command(flatten)]
    pub session: session::SessionArgs,
}

#[derive(Args, Debug)]
pub struct AlarmsArgs {
    /// The recording (MCAP) to read.
    #[arg(long, required_unless_present_any = ["broker", "profile"], conflicts_with = "broker")]
    pub replay: Option<PathBuf>,
    /// Instead of a recording, listen to a broker for a while (--for) and list its alarms.
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(flatten)]
    pub schemas: SchemaArgs,
    /// With a broker: how long to listen, e.g. 5s.
    #[arg(long = "for", default_value = "5s", value_parser = parse_duration)]
    pub listen_for: Duration,
    /// A scene manifest: its local alarm rules run too, as in the viewer.
    #[arg(long)]
    pub scene: Option<PathBuf>,
    /// Write the history as CSV to this file (`-` for standard output).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// With a broker: also hear this shared session's alarm handling (who acknowledged or
    /// shelved what), as a viewer in it would show it.
    #[command(flatten)]
    pub session: session::SessionArgs,
    /// Acknowledge this alarm in the session (as --user): everyone in it sees who did.
    #[arg(long, num_args = 2, value_names = ["TWIN", "ALARM"], requires = "session")]
    pub ack: Option<Vec<String>>,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The scene manifest to check.
    pub scene: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit non-zero when nothing binds, a declared twin has no node, or there is any warning
    /// (for CI pipelines that check scenes).
    #[arg(long)]
    pub strict: bool,
    /// Test the scene's JSON sources against a sample message: prints the updates it yields.
    #[arg(long, num_args = 2, value_names = ["TOPIC", "PAYLOAD"])]
    pub sample: Vec<String>,
    /// Test them against a file of samples, one per line: the topic, a space, the payload.
    #[arg(long, value_name = "FILE")]
    pub samples: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// The broker to record from [default: mqtt://127.0.0.1:1883]. Connection options are
    /// never written into the recording.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Topic filters to record (repeat the flag for several) [default: te/# and spBv1.0/#].
    #[arg(long = "topics", default_values = ["te/#", "spBv1.0/#"])]
    pub topics: Vec<String>,
    /// Also record the topics of this scene's JSON sources (`[[source]]`).
    #[arg(long)]
    pub scene: Option<PathBuf>,
    /// Also record this shared session (presence, pointing, selections, notes, alarm
    /// handling): a replay shows them over the plant's data.
    #[arg(long, value_name = "NAME")]
    pub session: Option<String>,
    /// The topic root sessions live under.
    #[arg(long, default_value = twinscope_core::session::DEFAULT_ROOT, value_name = "TOPIC")]
    pub session_root: String,
    /// With --session: the session is on this broker, not the plant's (mqtt:// or mqtts://;
    /// the plant connection's TLS files and credentials apply). One file holds both.
    #[arg(long, value_name = "URL", requires = "session")]
    pub session_broker: Option<twinscope_core::BrokerAddress>,
    /// The MCAP file to write.
    #[arg(long, required_unless_present_any = ["repair", "archive"])]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub archive: archive::ArchiveFlags,
    /// Stop after this long (default: until Ctrl-C).
    #[arg(long = "for", value_parser = parse_duration)]
    pub run_for: Option<Duration>,
    /// Instead of recording, repair this recording (one cut by a crash or kill -9).
    #[arg(long, conflicts_with_all = ["out", "run_for"])]
    pub repair: Option<PathBuf>,
    /// Give up when no connection is made within this long (a broker that is down or
    /// unreachable), exiting non-zero; once connected, a recording rides out broker restarts.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
}

#[derive(Args, Debug)]
pub struct StateArgs {
    /// The broker to listen to [default: mqtt://127.0.0.1:1883].
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(flatten)]
    pub schemas: SchemaArgs,
    /// With --session: list who is in that session instead of the plant's state.
    #[command(flatten)]
    pub session: session::SessionArgs,
    /// Print the state from a recording instead of a broker.
    #[arg(long, conflicts_with = "broker")]
    pub replay: Option<PathBuf>,
    /// With --replay: the instant, as RFC 3339 or as time from the recording's start (90s, 2m).
    #[arg(long, requires = "replay")]
    pub at: Option<String>,
    /// A scene manifest: its twins and rules apply (statuses match the viewer's).
    #[arg(long)]
    pub scene: Option<PathBuf>,
    /// How long to listen, e.g. 5s.
    #[arg(long = "for", default_value = "5s", value_parser = parse_duration)]
    pub listen_for: Duration,
    /// Print JSON instead of an indented tree.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct GenPlantArgs {
    /// Production lines (the demo plant has 2).
    #[arg(long, default_value_t = 2)]
    pub lines: usize,
    /// Where to write the model.
    #[arg(long, default_value = "assets/demo-plant.glb")]
    pub out: PathBuf,
    /// Also write a scene manifest for the model here.
    #[arg(long)]
    pub scene: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Production lines in the benchmark plant.
    #[arg(long, default_value_t = 300)]
    pub lines: usize,
    /// Rounds of one message per twin.
    #[arg(long, default_value_t = 20)]
    pub rounds: usize,
    /// Instead: the replay benchmark (seek latency in a 1-hour and a 10-hour recording).
    #[arg(long)]
    pub seek: bool,
    /// Instead: shared sessions against a broker on this machine (--broker): --participants
    /// at 20 Hz, pose → heard latency near and through a proxy adding --rtt, bytes per second
    /// per participant, and the per-frame cost of the others' presence at 16 and 64.
    #[arg(long = "session", conflicts_with_all = ["seek", "tree", "latency"], requires = "broker")]
    pub session_bench: bool,
    /// Instead: notes in a session against a broker on this machine (--broker): pinned →
    /// seen by another participant, near and through a proxy adding --rtt; a late joiner
    /// getting 10,000 notes; the viewer's cost of building what 1,000 pins show.
    #[arg(long = "notes", conflicts_with_all = ["seek", "tree", "latency", "session_bench"], requires = "broker")]
    pub notes_bench: bool,
    /// With --session: participants sending poses.
    #[arg(long, default_value_t = 16)]
    pub participants: usize,
    /// Instead: what the plant tree and alarm list compute per frame (roll-up, visible rows,
    /// search, sorting the alarm list), on a plant of --lines lines with --alarms alarms.
    #[arg(long, conflicts_with = "seek")]
    pub tree: bool,
    /// With --tree: active alarms spread over the plant.
    #[arg(long, default_value_t = 1000)]
    pub alarms: usize,
    /// With --seek: signals at 1 Hz in the generated recordings.
    #[arg(long, default_value_t = 1000)]
    pub signals: usize,
    /// Instead: network latency against a broker on this machine (--broker): time to the
    /// first message (twinscope next to mosquitto_sub) and publish → applied-in-store
    /// latency, directly and through a proxy that adds --rtt of round trip.
    #[arg(long, conflicts_with_all = ["seek", "tree"], requires = "broker")]
    pub latency: bool,
    /// With --latency: the broker (on loopback), e.g. mosquitto's mqtt://127.0.0.1:1883.
    #[arg(long)]
    pub broker: Option<twinscope_core::BrokerAddress>,
    /// With --latency: the round trip the proxy adds.
    #[arg(long, default_value = "50ms", value_parser = parse_duration)]
    pub rtt: Duration,
    /// With --latency: publish → apply samples per link.
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    /// Instead: the archive: bytes per value for smooth, noisy and step signals (--signals
    /// at 1 Hz for --length), writing speed, and trend loads at 30 days and --days.
    #[arg(long, conflicts_with_all = ["seek", "tree", "latency"])]
    pub archive: bool,
    /// With --archive: days of one signal for the zoom figures (a year by default).
    #[arg(long, default_value_t = 365)]
    pub days: u64,
    /// With --seek: length of the shorter recording (the longer is 10 times this).
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub length: Duration,
    /// Instead: what a scene's model costs: reading and binding it (time, resident memory),
    /// and per frame, 1,000 and 10,000 twin status changes applied to it (headless viewer).
    #[arg(long, conflicts_with_all = ["seek", "tree", "latency"])]
    pub scene: Option<std::path::PathBuf>,
}

pub fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    match cli.command {
        None => view::run(cli.view),
        Some(Command::Sim(args)) => sim::run(args),
        Some(Command::Check(args)) => printed(|out| check::run(args, out)),
        Some(Command::State(args)) => printed(|out| state::run(args, out)),
        Some(Command::Record(args)) => printed(|out| record::run(args, out)),
        Some(Command::Alarms(args)) => printed(|out| alarms::run(args, out)),
        Some(Command::GenPlant(args)) => printed(|out| gen_plant::run(args, out)),
        Some(Command::Bench(args)) => printed(|out| bench::run(args, out)),
        Some(Command::Notes(args)) => printed(|out| notes::run(args, out)),
        Some(Command::Timeline(args)) => printed(|out| timeline::run(args, out)),
        Some(Command::Operation(args)) => operation::run(args),
        Some(Command::Archive(args)) => printed(|out| archive::run(args, out)),
    }
}

/// Runs a command that writes its report into a buffer, then prints the buffer.
fn printed(
    command: impl FnOnce(&mut String) -> anyhow::Result<std::process::ExitCode>,
) -> anyhow::Result<std::process::ExitCode> {
    let mut out = String::new();
    let result = command(&mut out);
    print_out(&out);
    result
}

/// The demo scene: in the working directory (a checkout), else next to the sources.
pub fn default_scene() -> PathBuf {
    let local = Path::new("scenes/demo-plant.toml");
    if local.exists() {
        return local.to_owned();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenes/demo-plant.toml")
}

/// Writes a command's output to stdout. A closed pipe (`twinscope check … | head`) ends the
/// output quietly instead of failing.
pub fn print_out(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(error) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && error.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: cannot write the output: {error}");
    }
}

/// Appends a line to an output buffer (writing to a String cannot fail).
#[macro_export]
macro_rules! outln {
    ($out:expr) => { $out.push('\n') };
    ($out:expr, $($arg:tt)*) => {{ use std::fmt::Write as _; let _ = writeln!($out, $($arg)*); }};
}

/// Logging for the commands without a window (the viewer uses Bevy's log plugin).
/// A store as the scene at `path` declares it (empty without one); `None` after printing
/// why the scene could not be loaded.
/// A scene's store and its JSON sources (`[[source]]`); none without a scene. `None` after
/// printing why the scene cannot be used.
pub fn scene_store_and_sources(
    path: Option<&Path>,
) -> Option<(
    twinscope_core::twin::TwinStore,
    Vec<twinscope_core::schema::json_map::SourceSpec>,
)> {
    use twinscope_core::twin::{StoreConfig, TwinStore};
    match path {
        Some(path) => match twinscope_core::manifest::load_scene(path) {
            Ok(scene) => Some((scene.new_store(), scene.manifest.sources.clone())),
            Err(error) => {
                eprintln!("error: {error}");
                None
            }
        },
        None => Some((
            TwinStore::new(
                StoreConfig::default(),
                twinscope_core::rules::RuleSet::default(),
            ),
            Vec::new(),
        )),
    }
}

/// A recording with its time range, opened for replay; `None` after printing why not (a file
/// cut short is read up to its last complete chunk, with a warning).
pub fn open_recording(
    path: &Path,
    schemas: twinscope_core::schema::combined::SchemaChoice,
) -> Option<(
    twinscope_core::replay::Recording,
    twinscope_core::Timestamp,
    twinscope_core::Timestamp,
)> {
    let recording = match twinscope_core::replay::Recording::open_with(path, schemas) {
        Ok(recording) => recording,
        Err(error) => {
            eprintln!("error: {error}");
            return None;
        }
    };
    if let Some(recovery) = &recording.file.recovery {
        eprintln!(
            "warning: {}: {}; read the {} complete bytes of {} (repair with: twinscope record --repair {})",
            path.display(),
            recovery.reason,
            recovery.valid_bytes,
            recovery.file_bytes,
            path.display()
        );
    }
    if let Some(skipped) = recording.index.skipped.summary() {
        eprintln!("warning: {}: {skipped}", path.display());
    }
    let Some((start, end)) = recording.time_range() else {
        eprintln!("error: {}: the recording holds no messages", path.display());
        return None;
    };
    Some((recording, start, end))
}

pub fn init_cli_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rumqttd=warn,rumqttc=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
