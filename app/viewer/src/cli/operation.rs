//! `twinscope operation`: request a thin-edge operation on a twin from a script or a
//! maintenance system, under the same guards as the viewer (the allow-list, a reason, the
//! audit log, the journal), follow it to its end printing each state, and exit 0 on success,
//! 1 on failure, 3 when the device agent never answered. `--list` shows what twins accept and
//! the commands on the broker; `--clear-leftovers` clears what a crashed run left.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Map, Value};
use twinscope_core::operations::audit::{Actor, default_audit_path};
use twinscope_core::operations::file_transfer::{FetchState, upload_file};
use twinscope_core::operations::journal::default_journal_path;
use twinscope_core::operations::{
    AllowRule, CommandState, OperationPolicy, OperationsConfig, OperationsLink,
};

use super::ConnectArgs;

#[derive(Args, Debug)]
pub struct OperationArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The twin to act on (as the viewer names it: `pump1`, `main/tedge-agent`).
    #[arg(required_unless_present_any = ["list", "clear_leftovers", "replay"])]
    pub twin: Option<String>,
    /// The operation: restart, log_upload, config_snapshot, config_update, software_list,
    /// software_update, firmware_update, device_profile, or a custom one the device announces.
    #[arg(required_unless_present_any = ["list", "clear_leftovers", "write", "replay"])]
    pub operation: Option<String>,
    /// Instead of a thin-edge operation: write a Sparkplug metric of TWIN (group/node or
    /// group/node/device), METRIC=VALUE, read as the metric's datatype in the current birth.
    #[arg(long, value_name = "METRIC=VALUE", conflicts_with = "operation")]
    pub write: Option<String>,
    /// The operation's fields, a JSON object (e.g. '{"type":"mosquitto","searchText":"ERROR"}').
    #[arg(long, value_name = "JSON")]
    pub payload: Option<String>,
    /// config_update: the new configuration, uploaded to the file-transfer service first.
    #[arg(long, value_name = "FILE", requires = "file_transfer")]
    pub file: Option<PathBuf>,
    /// Why (required; it goes into the audit log and the command).
    #[arg(long, required_unless_present_any = ["list", "clear_leftovers", "replay"])]
    pub reason: Option<String>,
    /// Only these operations: TWIN:OPERATION, either may be * or end in * (repeat the flag).
    #[arg(long, value_name = "TWIN:OPERATION")]
    pub allow: Vec<String>,
    /// Print what would be sent, send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// thin-edge's file-transfer service, e.g. http://HOST:8000 (logs and configurations).
    #[arg(long, value_name = "URL")]
    pub file_transfer: Option<String>,
    /// Save a fetched log or configuration here (otherwise it is printed).
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    /// Who asks (the audit log's user) [default: the operating system's user name].
    #[arg(long)]
    pub user: Option<String>,
    /// A command still at init this long is "no response from the device agent".
    #[arg(long, default_value = "30s", value_parser = twinscope_core::time::parse_duration)]
    pub timeout: Duration,
    /// Give up following after this long (the command keeps running on the device).
    #[arg(long, default_value = "10m", value_parser = twinscope_core::time::parse_duration)]
    pub wait: Duration,
    /// The audit log [default: operations-audit.jsonl in the user's data folder].
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// The journal of our commands [default: operations-journal.jsonl beside the audit log].
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// thin-edge's topic root.
    #[arg(long, default_value = "te")]
    pub root: String,
    /// List what the twins accept (or one twin) and the commands on the broker, then exit.
    #[arg(long)]
    pub list: bool,
    /// Clear the commands a crashed run of ours left (once final), then exit.
    #[arg(long)]
    pub clear_leftovers: bool,
    /// List a recording's operations instead: what twins accepted and the commands it holds,
    /// with their states (as they stood at --at).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["broker", "list", "clear_leftovers", "write"])]
    pub replay: Option<PathBuf>,
    /// With --replay: an RFC 3339 time, or a time from the recording's start (90s).
    #[arg(long, requires = "replay")]
    pub at: Option<String>,
}

/// Waits this long after connecting for retained capabilities and commands.
const SETTLE: Duration = Duration::from_secs(2);

pub fn run(args: OperationArgs) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.replay {
        let Some(until) = super::state::instant_in(path, args.at.as_deref()) else {
            return Ok(ExitCode::FAILURE);
        };
        let (capabilities, book) = twinscope_core::operations::recorded::operations_in_recording(
            path,
            &args.root,
            Some(until),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        print!("{}", list_of(&capabilities, &book, args.twin.as_deref()));
        return Ok(ExitCode::SUCCESS);
    }
    let settings = args
        .connect
        .resolve(Some(twinscope_core::BrokerAddress::loopback(1883)))?;
    let acting = !args.list;
    let policy = OperationPolicy {
        enabled: acting,
        dry_run: args.dry_run,
        allow: args
            .allow
            .iter()
            .chain(&args.connect.profile_allowed_operations()?)
            .map(|a| AllowRule::parse(a))
            .collect::<Result<_, _>>()
            .map_err(anyhow::Error::msg)?,
        replay: false,
    };
    let audit_path = args.audit_log.clone().or_else(default_audit_path);
    let journal_path = args
        .journal
        .clone()
        .or_else(|| {
            audit_path
                .as_ref()
                .map(|p| p.with_file_name("operations-journal.jsonl"))
        })
        .or_else(default_journal_path);
    let config = OperationsConfig {
        root: args.root.clone(),
        policy,
        no_response_after: args.timeout,
        audit_path,
        journal_path,
        actor: Actor::local(args.user.as_deref()),
        file_transfer: args
            .file_transfer
            .as_ref()
            .map(|u| u.trim_end_matches('/').to_owned()),
        write_confirm_within: args.timeout.min(Duration::from_secs(10)),
    };
    let link = OperationsLink::start(&settings, config)
        .map_err(|e| anyhow::anyhow!("cannot start operations: {e}"))?;
    let connected = Instant::now();
    while !link.lock().connected {
        if connected.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "error: could not connect to {} within 10 s",
                settings.broker
            );
            return Ok(ExitCode::from(2));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Retained capabilities and commands come right after subscribing; a list waits for all.
    std::thread::sleep(if args.list {
        SETTLE
    } else {
        Duration::from_millis(700)
    });
    if args.list {
        print!("{}", list(&link, args.twin.as_deref()));
        return Ok(ExitCode::SUCCESS);
    }
    if args.clear_leftovers {
        return Ok(clear_leftovers(&link));
    }
    if let (Some(write), Some(twin), Some(reason)) = (&args.write, &args.twin, &args.reason) {
        return Ok(write_sparkplug(&link, twin, write, reason));
    }
    let (Some(twin), Some(operation), Some(reason)) = (
        args.twin.as_deref(),
        args.operation.as_deref(),
        args.reason.as_deref(),
    ) else {
        anyhow::bail!("name the twin, the operation and --reason")
    };
    // Capabilities arrive retained right after subscribing; give a slow broker a moment more.
    let deadline = Instant::now() + SETTLE;
    while link.lock().capabilities.of(twin).is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut fields: Map<String, Value> = match &args.payload {
        Some(json) => serde_json::from_str(json)
            .map_err(|e| anyhow::anyhow!("--payload is not a JSON object: {e}"))?,
        None => Map::new(),
    };
    if let (Some(file), Some(base)) = (&args.file, &args.file_transfer) {
        upload_file(base, twin, operation, &mut fields, file, !args.dry_run)
            .map_err(anyhow::Error::msg)?;
    }
    let sent = match link.request(twin, operation, fields, reason) {
        Ok(sent) => sent,
        Err(refusal) => {
            eprintln!("refused: {refusal}");
            return Ok(ExitCode::from(2));
        }
    };
    let payload = serde_json::to_string(&Value::Object(sent.payload.clone())).unwrap_or_default();
    if !sent.sent {
        println!(
            "dry run: would publish retained to {}\n{payload}",
            sent.topic
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("requested {operation} on {twin}: {} {payload}", sent.topic);
    let _ = std::io::stdout().flush();
    Ok(follow(&link, &sent.topic, &args))
}

/// Writes a Sparkplug metric and waits for DATA to confirm it: exit 0 confirmed, 1 a
/// different value, 2 refused, 3 no confirmation.
fn write_sparkplug(link: &OperationsLink, twin: &str, write: &str, reason: &str) -> ExitCode {
    let Some((metric, value)) = write.split_once('=') else {
        eprintln!("refused: --write is METRIC=VALUE");
        return ExitCode::from(2);
    };
    if link.lock().sparkplug.writable(twin).is_none() {
        link.ask_rebirth(twin);
        let deadline = Instant::now() + Duration::from_secs(5);
        while link.lock().sparkplug.writable(twin).is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let k = match link.write(twin, metric, value, reason) {
        Ok(Some(k)) => k,
        Ok(None) => {
            println!("dry run: would write {metric} = {value} to {twin}");
            return ExitCode::SUCCESS;
        }
        Err(refusal) => {
            eprintln!("refused: {refusal}");
            return ExitCode::from(2);
        }
    };
    let within = link.config().write_confirm_within;
    let topic = link
        .lock()
        .sparkplug
        .writes
        .get(k)
        .map(|w| w.topic.clone())
        .unwrap_or_default();
    println!("sent {metric} = {value} to {twin} on {topic}");
    loop {
        let state = link
            .lock()
            .sparkplug
            .writes
            .get(k)
            .map(|w| (w.state.clone(), w.describe(within)));
        match state {
            Some((twinscope_core::operations::sparkplug::WriteState::Sent, _)) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Some((state, text)) => {
                println!("{text}");
                return match state {
                    twinscope_core::operations::sparkplug::WriteState::Confirmed => {
                        ExitCode::SUCCESS
                    }
                    twinscope_core::operations::sparkplug::WriteState::Different(_) => {
                        ExitCode::FAILURE
                    }
                    _ => ExitCode::from(3),
                };
            }
            None => return ExitCode::FAILURE,
        }
    }
}

/// Prints each state as it comes, until the end (and the file, for a log or configuration).
fn follow(link: &OperationsLink, topic: &str, args: &OperationArgs) -> ExitCode {
    let started = Instant::now();
    let mut shown = 0;
    loop {
        let (states, no_response, final_state, trouble) = {
            let shared = link.lock();
            let Some(command) = shared.book.get(topic) else {
                return ExitCode::FAILURE;
            };
            (
                command.states.clone(),
                command.no_response,
                command.is_final().then(|| command.describe()),
                command.trouble.clone(),
            )
        };
        for (state, at) in states.iter().skip(shown) {
            println!("{at}  {}", state.as_str());
            let _ = std::io::stdout().flush();
        }
        shown = states.len();
        if let Some(trouble) = trouble {
            eprintln!("note: {trouble}");
        }
        if no_response {
            println!(
                "no response from the device agent within {:?} (the command stays on the broker; a later run clears it once it ends)",
                args.timeout
            );
            return ExitCode::from(3);
        }
        if let Some(outcome) = final_state {
            let succeeded = states
                .last()
                .is_some_and(|(s, _)| *s == CommandState::Successful);
            if succeeded {
                show_fetched(link, topic, args);
            } else {
                println!("{outcome}");
            }
            wait_cleared(link, topic);
            return if succeeded {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
        if started.elapsed() > args.wait {
            println!(
                "still {} after {:?}: no longer following (the command goes on)",
                states.last().map_or("init", |(s, _)| s.as_str()),
                args.wait
            );
            return ExitCode::from(3);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A log or configuration the agent uploaded: fetched, then printed or saved.
fn show_fetched(link: &OperationsLink, topic: &str, args: &OperationArgs) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match link.lock().fetches.state(topic) {
            None => return,
            Some(FetchState::Fetching) if Instant::now() < deadline => {}
            Some(FetchState::Fetching) => return eprintln!("the file was not fetched within 15 s"),
            Some(FetchState::Failed(why)) => return eprintln!("{why}"),
            Some(FetchState::Fetched(file)) => {
                match &args.save {
                    Some(path) => match std::fs::write(path, &file.bytes) {
                        Ok(()) => println!(
                            "saved {} bytes from {} to {}",
                            file.bytes.len(),
                            file.url,
                            path.display()
                        ),
                        Err(error) => eprintln!("cannot write {}: {error}", path.display()),
                    },
                    None => println!(
                        "--- {} ({} bytes)\n{}",
                        file.url,
                        file.bytes.len(),
                        file.text()
                    ),
                }
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Our clearing heard back from the broker (so nothing of ours is left retained).
fn wait_cleared(link: &OperationsLink, topic: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if link.lock().book.get(topic).is_none_or(|c| c.cleared) {
            println!("cleared {topic}");
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("warning: the clearing of {topic} was not heard back within 5 s");
}

fn clear_leftovers(link: &OperationsLink) -> ExitCode {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let waiting = link
            .lock()
            .book
            .all()
            .any(|c| c.ours && c.is_final() && !c.cleared);
        if !waiting || Instant::now() > deadline {
            let shared = link.lock();
            for command in shared.book.all().filter(|c| c.ours) {
                let topic = command.topic.topic(&link.config().root);
                if command.cleared {
                    println!("cleared {topic} ({})", command.describe());
                } else {
                    println!(
                        "left {topic} ({}): cleared by a later run once it ends",
                        command.describe()
                    );
                }
            }
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What the twins accept, and the commands on the broker (ours marked).
fn list(link: &OperationsLink, only: Option<&str>) -> String {
    let shared = link.lock();
    list_of(&shared.capabilities, &shared.book, only)
}

fn list_of(
    capabilities: &twinscope_core::operations::Capabilities,
    book: &twinscope_core::operations::OperationBook,
    only: Option<&str>,
) -> String {
    let mut out = String::new();
    let mut twins: Vec<_> = capabilities
        .all()
        .filter(|(twin, _)| only.is_none_or(|o| o == twin.as_str()))
        .collect();
    twins.sort_by(|a, b| a.0.cmp(b.0));
    for (twin, caps) in twins {
        let operations: Vec<String> = caps
            .operations
            .iter()
            .map(|(op, types)| {
                if types.is_empty() {
                    op.clone()
                } else {
                    format!("{op} [{}]", types.join(", "))
                }
            })
            .collect();
        out.push_str(&format!(
            "{twin} ({}): {}\n",
            caps.entity,
            operations.join(", ")
        ));
    }
    for command in book
        .all()
        .filter(|c| only.is_none_or(|o| o == c.topic.twin))
    {
        let whose = if command.ours { "ours" } else { "read-only" };
        out.push_str(&format!(
            "  {} {} {}: {} ({whose})\n",
            command.topic.twin,
            command.topic.operation,
            command.topic.id.as_deref().unwrap_or(""),
            command.describe()
        ));
    }
    out
}
