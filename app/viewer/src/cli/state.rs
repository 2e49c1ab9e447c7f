//! `twinscope state`: listen to a broker for a while, then print the twin hierarchy and state
//! exactly as the viewer would hold it. For support engineers, scripts and our tests.

use std::process::ExitCode;
use twinscope_core::Timestamp;
use twinscope_core::report::{state_json, state_text};
use twinscope_core::time::parse_duration;
use twinscope_core::twin::TwinStore;

use super::StateArgs;

pub fn run(args: StateArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    super::init_cli_logging();
    let Some((mut store, sources)) = super::scene_store_and_sources(args.scene.as_deref()) else {
        return Ok(ExitCode::FAILURE);
    };
    let mut schemas = args.schemas.choice();
    schemas.json_sources = sources;
    if let Some(path) = &args.replay {
        if let Some(topics) = args.session.topics()? {
            let Some(instant) = instant_in(path, args.at.as_deref()) else {
                return Ok(ExitCode::FAILURE);
            };
            return super::session::recorded_session_state(path, topics, instant, out);
        }
        return replay_state(store, path, schemas, args.at.as_deref(), args.json, out);
    }
    let settings = args
        .connect
        .resolve(Some(twinscope_core::BrokerAddress::loopback(1883)))?;
    if let Some(topics) = args.session.topics()? {
        let session = args
            .session
            .connection(&args.connect, Some(&settings))?
            .unwrap_or(settings);
        return super::session::session_state(&session, topics, args.listen_for, args.json, out);
    }
    let stats = super::listen::listen(&settings, &schemas, &mut store, args.listen_for)?;
    store.mark_stale(Timestamp::now());
    if args.json {
        crate::outln!(
            out,
            "{}",
            serde_json::to_string_pretty(&state_json(&store, Some(&stats)))?
        );
    } else {
        out.push_str(&state_text(&store, Some(&stats)));
    }
    Ok(
        super::listen::never_connected(&settings, &stats, args.listen_for)
            .unwrap_or(ExitCode::SUCCESS),
    )
}

/// `--at` in a recording: an RFC 3339 time or a time from its start (its end without one).
pub(super) fn instant_in(path: &std::path::Path, at: Option<&str>) -> Option<Timestamp> {
    let file = twinscope_core::mcap::McapFile::open(path)
        .map_err(|e| eprintln!("error: {e}"))
        .ok()?;
    let (start, end) = file
        .time_range()
        .map(|(s, e)| (Timestamp((s / 1000) as i64), Timestamp((e / 1000) as i64)))?;
    instant_between(at, start, end)
}

/// `--at` between a recording's `start` and `end` (the end without one); says why not.
fn instant_between(at: Option<&str>, start: Timestamp, end: Timestamp) -> Option<Timestamp> {
    let Some(text) = at else { return Some(end) };
    let offset = || {
        parse_duration(text.trim_start_matches('+'))
            .ok()
            .map(|offset| Timestamp(start.0 + offset.as_micros() as i64))
    };
    let instant = Timestamp::parse_rfc3339(text).or_else(offset);
    if instant.is_none() {
        eprintln!(
            "error: --at {text:?} is neither an RFC 3339 time nor a duration from the start (90s, 2m)"
        );
    }
    instant
}

/// The state at one instant of a recording (the end when no instant is given).
fn replay_state(
    mut store: TwinStore,
    path: &std::path::Path,
    schemas: twinscope_core::schema::combined::SchemaChoice,
    at: Option<&str>,
    json: bool,
    out: &mut String,
) -> anyhow::Result<ExitCode> {
    let Some((mut recording, start, end)) = super::open_recording(path, schemas) else {
        return Ok(ExitCode::FAILURE);
    };
    let Some(instant) = instant_between(at, start, end) else {
        return Ok(ExitCode::FAILURE);
    };
    if let Err(error) = recording.state_at(&mut store, instant) {
        eprintln!("error: {error}");
        return Ok(ExitCode::FAILURE);
    }
    if json {
        let mut report = state_json(&store, None);
        report["replay"] = serde_json::json!({
            "file": path,
            "at": instant.to_string(),
            "start": start.to_string(),
            "end": end.to_string(),
            "recovered": recording.file.recovery.is_some(),
            "messages": recording.index.messages,
            // Where the seek index came from: stored in the file, the index cache, or built
            // by reading the file; and why a stored or cached one was not used.
            "index": match recording.index_source {
                twinscope_core::replay::IndexSource::Stored => "stored",
                twinscope_core::replay::IndexSource::Cached => "cached",
                twinscope_core::replay::IndexSource::Built => "built",
                twinscope_core::replay::IndexSource::Live => "live",
            },
            "index_note": recording.index_note,
            "skipped": {
                "unreadable_messages": recording.index.skipped.unreadable_messages,
                "unreadable_channels": recording.index.skipped.unreadable_channels.iter().map(|(topic, encoding)| serde_json::json!({ "topic": topic, "encoding": encoding })).collect::<Vec<_>>(),
                "damaged_chunks": recording.index.skipped.damaged_chunks.len(),
            },
        });
        crate::outln!(out, "{}", serde_json::to_string_pretty(&report)?);
    } else {
        crate::outln!(
            out,
            "# replay of {} at {instant} (recording {start} to {end})",
            path.display()
        );
        out.push_str(&state_text(&store, None));
    }
    Ok(ExitCode::SUCCESS)
}
