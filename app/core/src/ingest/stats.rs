//! Counters the ingest thread writes and the UI reads, without locks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Shared, lock-free ingest counters. Clone the `Arc` to read from another thread.
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
    dropped_batches: AtomicU64,
}

/// A consistent-enough copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
    pub dropped_batches: u64,
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
            dropped_batches: self.dropped_batches.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn set_connected(&self, connected: bool) {
        if connected {
            self.connects.fetch_add(1, Ordering::Relaxed);
        }
        self.connected.store(connected, Ordering::Relaxed);
    }

    /// Records a disconnection (or a failed attempt) without counting a connect.
    pub(crate) fn set_connected_quiet(&self, connected: bool) {
        self.connected.store(connected, Ordering::Relaxed);
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

    pub(crate) fn dropped_batch(&self) {
        self.dropped_batches.fetch_add(1, Ordering::Relaxed);
    }
}
