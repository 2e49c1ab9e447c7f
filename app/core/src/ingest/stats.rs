//! Counters the ingest thread writes and the UI reads, without locks (the last connection
//! error, rare, behind a mutex).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::connection::ConnectFailure;
use crate::time::Timestamp;

/// Shared ingest counters. Clone the `Arc` to read from another thread.
#[derive(Debug, Default)]
pub struct IngestStats {
    connected: AtomicBool,
    messages: AtomicU64,
    bytes: AtomicU64,
    updates: AtomicU64,
    decode_errors: AtomicU64,
    unknown_topics: AtomicU64,
    ignored: AtomicU64,
    connects: AtomicU64,
    losses: AtomicU64,
    failed_attempts: AtomicU64,
    coalesced: AtomicU64,
    backlog: AtomicU64,
    last_error: Mutex<Option<Arc<(Timestamp, ConnectFailure)>>>,
}

/// A consistent-enough copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub connected: bool,
    pub messages: u64,
    pub bytes: u64,
    pub updates: u64,
    pub decode_errors: u64,
    pub unknown_topics: u64,
    pub ignored: u64,
    /// Successful connections so far; above 1 means the client reconnected.
    pub connects: u64,
    /// Established connections that broke.
    pub losses: u64,
    /// Connection attempts that failed.
    pub failed_attempts: u64,
    /// Updates replaced by a newer value of the same property while the consumer was
    /// behind (nothing is dropped: the consumer gets the latest value).
    pub coalesced: u64,
    /// Updates held for the consumer right now.
    pub backlog: u64,
    /// The last connection failure and when it happened (kept after a reconnect, for the
    /// record). Shared, so a snapshot every frame does not copy it.
    pub last_error: Option<Arc<(Timestamp, ConnectFailure)>>,
}

impl IngestStats {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            connected: self.connected.load(Ordering::Relaxed),
            messages: self.messages.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            updates: self.updates.load(Ordering::Relaxed),
            decode_errors: self.decode_errors.load(Ordering::Relaxed),
            unknown_topics: self.unknown_topics.load(Ordering::Relaxed),
            ignored: self.ignored.load(Ordering::Relaxed),
            connects: self.connects.load(Ordering::Relaxed),
            losses: self.losses.load(Ordering::Relaxed),
            failed_attempts: self.failed_attempts.load(Ordering::Relaxed),
            coalesced: self.coalesced.load(Ordering::Relaxed),
            backlog: self.backlog.load(Ordering::Relaxed),
            last_error: self.last_error(),
        }
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub fn last_error(&self) -> Option<Arc<(Timestamp, ConnectFailure)>> {
        self.last_error.lock().map(|e| e.clone()).unwrap_or(None)
    }

    pub(crate) fn connected(&self) {
        self.connects.fetch_add(1, Ordering::Relaxed);
        self.connected.store(true, Ordering::Relaxed);
    }

    /// A connection attempt failed or an established connection broke.
    pub(crate) fn failed(&self, failure: ConnectFailure, was_connected: bool) {
        if was_connected {
            self.losses.fetch_add(1, Ordering::Relaxed);
        } else {
            self.failed_attempts.fetch_add(1, Ordering::Relaxed);
        }
        self.connected.store(false, Ordering::Relaxed);
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(Arc::new((Timestamp::now(), failure)));
        }
    }

    /// The client stopped.
    pub(crate) fn disconnected(&self) {
        self.connected.store(false, Ordering::Relaxed);
    }

    pub(crate) fn message(&self, bytes: usize) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn updates(&self, count: usize) {
        self.updates.fetch_add(count as u64, Ordering::Relaxed);
    }

    pub(crate) fn decode_error(&self) {
        self.decode_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn unknown_topic(&self) {
        self.unknown_topics.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn ignored(&self) {
        self.ignored.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn coalesced(&self, count: usize) {
        self.coalesced.fetch_add(count as u64, Ordering::Relaxed);
    }

    pub(crate) fn set_backlog(&self, held: usize) {
        self.backlog.store(held as u64, Ordering::Relaxed);
    }
}
