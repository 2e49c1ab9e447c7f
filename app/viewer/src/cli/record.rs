//! `twinscope record`: MQTT traffic into an MCAP file, with a live progress line.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use twinscope_core::archive::{LiveArchive, start_live_archive};
use twinscope_core::ingest::IngestConfig;
use twinscope_core::mcap::repair;
use twinscope_core::record_sources::{RecordSource, start_recording_from};

use super::RecordArgs;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
fn stop_on_ctrl_c() {
    extern "C" fn on_signal(_: libc::c_int) {
        INTERRUPTED.store(true, Ordering::Relaxed);
    }
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

#[cfg(not(unix))]
fn stop_on_ctrl_c() {}

pub fn run(args: RecordArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    super::init_cli_logging();
    if let Some(path) = &args.repair {
        return match repair(path) {
            Ok(report) => {
                match &report.recovery {
                    None => crate::outln!(
                        out,
                        "{} is complete ({} chunks); nothing to repair",
                        path.display(),
                        report.chunks
                    ),
                    Some(recovery) => crate::outln!(
                        out,
                        "repaired {}: kept {} messages in {} chunks ({} of {} bytes were complete: {})",
                        path.display(),
                        report.messages,
                        report.chunks,
                        recovery.valid_bytes,
                        recovery.file_bytes,
                        recovery.reason
                    ),
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(error) => {
                eprintln!("error: {error}");
                Ok(ExitCode::FAILURE)
            }
        };
    }
    stop_on_ctrl_c();
    let settings = args
        .connect
        .resolve(Some(twinscope_core::BrokerAddress::loopback(1883)))?;
    // A scene's JSON sources are recorded too.
    let mut topics = args.topics.clone();
    let mut json_sources = Vec::new();
    let mut index_sources = Vec::new();
    if let Some(scene) = &args.scene {
        let Some((_, sources)) = super::scene_store_and_sources(Some(scene)) else {
            return Ok(ExitCode::FAILURE);
        };
        json_sources = sources.clone();
        index_sources = sources.clone();
        let schemas = twinscope_core::schema::combined::SchemaChoice {
            kinds: Vec::new(),
            json_sources: sources,
            ..twinscope_core::schema::combined::SchemaChoice::replay()
        };
        for filter in schemas.subscriptions() {
            if !topics.contains(&filter) {
                topics.push(filter);
            }
        }
    }
    // The archive has a connection of its own: recording and archiving never wait on
    // each other.
    let mut archive = match &args.archive.archive {
        Some(dir) => {
            let schemas = twinscope_core::schema::combined::SchemaChoice {
                json_sources,
                ..twinscope_core::schema::combined::SchemaChoice::replay()
            };
            eprintln!("archiving into {}", dir.display());
            Some(
                start_live_archive(
                    IngestConfig::new(settings.clone()),
                    dir,
                    &schemas,
                    args.archive.options()?,
                )
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            )
        }
        None => None,
    };
    let Some(out) = args.out else {
        return archive_only(archive.as_mut().expect("--out or --archive"), args.run_for);
    };
    let mut sources = vec![RecordSource {
        config: IngestConfig::new(settings.clone()),
        topics: topics.clone(),
    }];
    if let Some(session) = &args.session {
        let filter =
            twinscope_core::session::SessionTopics::new(&args.session_root, session)?.filter();
        match &args.session_broker {
            Some(broker) => {
                let session_settings = super::ConnectArgs {
                    broker: Some(broker.clone()),
                    profile: None,
                    ..args.connect.clone()
                }
                .resolve(None)?;
                eprintln!("recording {filter} from {}", session_settings.describe());
                sources.push(RecordSource {
                    config: IngestConfig::new(session_settings),
                    topics: vec![filter],
                });
            }
            None => sources[0].topics.push(filter),
        }
    }
    eprintln!(
        "recording {} from {} into {} (Ctrl-C to stop)",
        sources[0].topics.join(" "),
        settings.describe(),
        out.display()
    );
    // The seek index stored in the file reads messages as replay will.
    let replay_schemas = twinscope_core::schema::combined::SchemaChoice {
        json_sources: index_sources,
        ..twinscope_core::schema::combined::SchemaChoice::replay()
    };
    let (mut clients, stats) = start_recording_from(sources, &out, &replay_schemas)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
    let started = Instant::now();
    // Until the first connection: give up on a failure retrying cannot fix, or after the
    // connect timeout, rather than write an empty recording forever.
    while !clients.all_connected_once() && !INTERRUPTED.load(Ordering::Relaxed) {
        let failure = clients
            .clients()
            .iter()
            .find_map(|c| c.stats.last_error().map(|last| last.1.clone()));
        if failure.as_ref().is_some_and(|f| f.is_permanent())
            || started.elapsed() >= args.connect_timeout
        {
            clients.stop();
            let _ = std::fs::remove_file(&out);
            match failure {
                Some(failure) => {
                    eprintln!("error: could not connect to {}: {failure}", settings.broker)
                }
                None => eprintln!(
                    "error: could not connect to {} within {:?}",
                    settings.broker, args.connect_timeout
                ),
            }
            return Ok(ExitCode::from(2));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut last = (started, 0u64);
    while !INTERRUPTED.load(Ordering::Relaxed)
        && args.run_for.is_none_or(|limit| started.elapsed() < limit)
    {
        std::thread::sleep(Duration::from_millis(200));
        if last.0.elapsed() >= Duration::from_secs(1) {
            let messages = stats.messages.load(Ordering::Relaxed);
            let rate = (messages - last.1) as f64 / last.0.elapsed().as_secs_f64();
            let connected = if clients.clients().iter().all(|c| c.stats.is_connected()) {
                String::new()
            } else {
                let why = clients
                    .clients()
                    .iter()
                    .find_map(|c| c.stats.last_error())
                    .map(|last| last.1.message.clone())
                    .unwrap_or_default();
                format!("  [broker unreachable, retrying: {why}]")
            };
            eprint!(
                "\r{messages} messages, {:.1} MB, {rate:.0} msg/s, {:.0} s{connected}    ",
                stats.bytes.load(Ordering::Relaxed) as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
            let _ = std::io::stderr().flush();
            last = (Instant::now(), messages);
        }
        if stats.failed.load(Ordering::Relaxed) {
            break;
        }
    }
    clients.stop();
    if let Some(archive) = &mut archive {
        archive.stop();
    }
    let messages = stats.messages.load(Ordering::Relaxed);
    eprintln!(
        "\nwrote {messages} messages, {:.1} MB to {}",
        stats.bytes.load(Ordering::Relaxed) as f64 / 1e6,
        out.display()
    );
    Ok(if stats.failed.load(Ordering::Relaxed) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `record --archive DIR` without `--out`: archive until Ctrl-C or `--for`, with a progress line.
fn archive_only(archive: &mut LiveArchive, run_for: Option<Duration>) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    while !INTERRUPTED.load(Ordering::Relaxed)
        && run_for.is_none_or(|limit| started.elapsed() < limit)
    {
        std::thread::sleep(Duration::from_millis(500));
        let stats = &archive.stats;
        eprint!(
            "\r{} rows buffered, {} sealed into {} files ({:.1} MB), {:.0} s    ",
            stats.rows_buffered.load(Ordering::Relaxed),
            stats.rows_sealed.load(Ordering::Relaxed),
            stats.files.load(Ordering::Relaxed),
            stats.bytes.load(Ordering::Relaxed) as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
        let _ = std::io::stderr().flush();
    }
    archive.stop();
    eprintln!(
        "\narchived {} rows into {} files",
        archive.stats.rows_sealed.load(Ordering::Relaxed),
        archive.stats.files.load(Ordering::Relaxed)
    );
    Ok(ExitCode::SUCCESS)
}
