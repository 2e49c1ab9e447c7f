//! Listening to a broker for a while without a window (`state`, `alarms`): the same client
//! thread and batches as the viewer, applied to a store here.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use twinscope_core::connection::ConnectionSettings;
use twinscope_core::ingest::{IngestConfig, StatsSnapshot, spawn_ingest};
use twinscope_core::schema::combined::SchemaChoice;
use twinscope_core::twin::TwinStore;

/// Applies what the broker sends for `duration` to `store`. Ends early when the connection
/// fails for a reason retrying cannot fix (TLS, credentials). Returns the client's counters
/// as they stood while listening.
pub fn listen(
    settings: &ConnectionSettings,
    schemas: &SchemaChoice,
    store: &mut TwinStore,
    duration: Duration,
) -> anyhow::Result<StatsSnapshot> {
    let (mut ingest, batches) = spawn_ingest(
        IngestConfig::new(settings.clone()),
        Box::new(schemas.build()),
    )?;
    let deadline = Instant::now() + duration;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Some(batch) = batches.recv_timeout(left.min(Duration::from_millis(50))) {
            batch.apply_to(store);
            batches.recycle(batch.updates);
        }
        let stats = &ingest.stats;
        if !stats.is_connected()
            && stats.snapshot().connects == 0
            && stats.last_error().is_some_and(|last| last.1.is_permanent())
        {
            break;
        }
    }
    // The counters as they stood while listening (stopping disconnects).
    let stats = ingest.stats.snapshot();
    ingest.stop();
    while let Some(batch) = batches.recv_timeout(Duration::ZERO) {
        batch.apply_to(store);
    }
    Ok(stats)
}

/// `Some(exit code 2)` after printing why, when the client never connected.
pub fn never_connected(
    settings: &ConnectionSettings,
    stats: &StatsSnapshot,
    waited: Duration,
) -> Option<ExitCode> {
    if stats.connects > 0 {
        return None;
    }
    match stats.last_error.as_deref() {
        Some((_, failure)) => {
            eprintln!("error: could not connect to {}: {failure}", settings.broker)
        }
        None => eprintln!(
            "error: could not connect to {} within {waited:?}",
            settings.broker
        ),
    }
    Some(ExitCode::from(2))
}
