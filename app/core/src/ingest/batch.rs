//! Batches of updates and the channel that carries them, with buffers sent back for reuse so
//! that steady-state ingest does not allocate a new `Vec` per batch.
//!
//! Buffers go back as the consumer leaves them, and the producer empties one when it takes
//! it again: dropping the updates (a reference count let go for every id and name in them)
//! is then the MQTT thread's work, not the viewer's main thread's, and the shared names'
//! counts, which the producer raises for every value, are lowered on the same thread rather
//! than on another core. Replay's reading thread does the same.
//!
//! Only a few buffers of a batch's usual size are kept. A consumer that fell behind drains up to
//! the whole channel at once, and a backlog's merged batch can grow far past a batch's size:
//! keeping every such buffer would hold the memory of the session's longest stall until it
//! ends (a 10-minute soak's resident memory crept up that way after every stall).

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::time::Timestamp;
use crate::twin::TwinStore;
use crate::update::TwinUpdate;

/// Updates decoded from messages received close together.
#[derive(Debug, Default)]
pub struct UpdateBatch {
    /// When the batch was closed (local time): the store uses it as "now".
    pub received: Timestamp,
    pub updates: Vec<TwinUpdate>,
    /// The client has just (re)connected and subscribed: the broker is about to re-deliver
    /// its retained state, and alarms cleared while disconnected will not be among it.
    pub session_started: bool,
}

impl UpdateBatch {
    pub fn new(received: Timestamp, updates: Vec<TwinUpdate>) -> Self {
        UpdateBatch {
            received,
            updates,
            session_started: false,
        }
    }

    /// Applies the batch: its updates in order, and after a (re)connect the start of an alarm
    /// resync (see [`TwinStore::begin_alarm_resync`]).
    pub fn apply_to(&self, store: &mut TwinStore) {
        if self.session_started {
            store.begin_alarm_resync(self.received);
        }
        store.apply_all(&self.updates, self.received);
    }
}

/// The consumer's end: drains batches and hands emptied ones back.
pub struct BatchReceiver {
    batches: Receiver<UpdateBatch>,
    recycle: Sender<Vec<TwinUpdate>>,
}

/// The producer's end.
pub struct BatchSender {
    batches: Sender<UpdateBatch>,
    recycle: Receiver<Vec<TwinUpdate>>,
}

/// Batches in flight before the producer starts coalescing (the consumer is behind).
pub const CHANNEL_CAPACITY: usize = 1024;

/// Buffers kept for reuse: enough for the batches of a few slow frames.
pub const RECYCLED_BUFFERS: usize = 32;

/// Updates at which the live client closes a batch (its default `max_batch`).
pub const MAX_BATCH_UPDATES: usize = 8192;

/// A buffer with room for more updates than a batch closes at (a backlog's merged batch grows
/// past it) is let go rather than kept.
pub const RECYCLED_MAX_UPDATES: usize = MAX_BATCH_UPDATES;

pub fn batch_channel() -> (BatchSender, BatchReceiver) {
    batch_channel_with_capacity(CHANNEL_CAPACITY)
}

/// A channel that holds `capacity` batches (tests use a tiny one to provoke a full channel).
pub fn batch_channel_with_capacity(capacity: usize) -> (BatchSender, BatchReceiver) {
    let capacity = capacity.max(1);
    let (batches_tx, batches_rx) = crossbeam_channel::bounded(capacity);
    let (recycle_tx, recycle_rx) = crossbeam_channel::bounded(capacity.min(RECYCLED_BUFFERS));
    (
        BatchSender {
            batches: batches_tx,
            recycle: recycle_rx,
        },
        BatchReceiver {
            batches: batches_rx,
            recycle: recycle_tx,
        },
    )
}

/// Why a batch could not be sent.
#[derive(Debug)]
pub enum SendError {
    /// The consumer is behind; the batch comes back to the sender, which keeps it.
    Full(UpdateBatch),
    /// The consumer is gone.
    Disconnected,
}

impl BatchSender {
    /// An empty buffer to fill, reused from the consumer when one is available (emptied
    /// here: see the module's doc).
    pub fn buffer(&self) -> Vec<TwinUpdate> {
        match self.recycle.try_recv() {
            Ok(mut used) => {
                used.clear();
                used
            }
            Err(_) => Vec::with_capacity(256),
        }
    }

    /// Sends without waiting; a full channel hands the batch back.
    pub fn send(&self, batch: UpdateBatch) -> Result<(), SendError> {
        self.batches.try_send(batch).map_err(|e| match e {
            crossbeam_channel::TrySendError::Full(batch) => SendError::Full(batch),
            crossbeam_channel::TrySendError::Disconnected(_) => SendError::Disconnected,
        })
    }

    /// Sends, waiting up to `timeout` for room.
    pub fn send_timeout(
        &self,
        batch: UpdateBatch,
        timeout: std::time::Duration,
    ) -> Result<(), SendError> {
        self.batches
            .send_timeout(batch, timeout)
            .map_err(|e| match e {
                crossbeam_channel::SendTimeoutError::Timeout(batch) => SendError::Full(batch),
                crossbeam_channel::SendTimeoutError::Disconnected(_) => SendError::Disconnected,
            })
    }
}

impl BatchReceiver {
    /// Calls `apply` for every batch waiting now, without blocking. Returns how many.
    pub fn drain(&self, mut apply: impl FnMut(&UpdateBatch)) -> usize {
        let mut count = 0;
        loop {
            match self.batches.try_recv() {
                Ok(batch) => {
                    apply(&batch);
                    count += 1;
                    self.recycle(batch.updates);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return count,
            }
        }
    }

    /// Waits up to `timeout` for one batch (for headless consumers such as `state`).
    pub fn recv_timeout(&self, timeout: std::time::Duration) -> Option<UpdateBatch> {
        self.batches.recv_timeout(timeout).ok()
    }

    /// Hands a consumed buffer back to the producer, unless enough are waiting there or it
    /// grew too large to keep (then it is dropped here).
    pub fn recycle(&self, updates: Vec<TwinUpdate>) {
        if updates.capacity() <= RECYCLED_MAX_UPDATES {
            let _ = self.recycle.try_send(updates);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_for_reuse() {
        let (tx, rx) = batch_channel();
        let mut buffer = tx.buffer();
        buffer.push(TwinUpdate::Health {
            twin: "a".into(),
            up: true,
            time: Timestamp(0),
        });
        let capacity = buffer.capacity();
        let pointer = buffer.as_ptr();
        tx.send(UpdateBatch::new(Timestamp(1), buffer)).unwrap();
        let mut seen = 0;
        assert_eq!(rx.drain(|batch| seen += batch.updates.len()), 1);
        assert_eq!(seen, 1);
        let reused = tx.buffer();
        assert!(reused.is_empty());
        assert_eq!((reused.capacity(), reused.as_ptr()), (capacity, pointer));
    }

    fn health() -> TwinUpdate {
        TwinUpdate::Health {
            twin: "a".into(),
            up: true,
            time: Timestamp(0),
        }
    }

    /// After a stall the consumer drains a full channel: only a few of those buffers are
    /// kept, and none that grew past a batch's size.
    #[test]
    fn a_few_buffers_of_a_batch_size_are_kept_and_no_more() {
        let (tx, rx) = batch_channel();
        for _ in 0..CHANNEL_CAPACITY {
            let mut buffer = Vec::with_capacity(1000);
            buffer.push(health());
            tx.send(UpdateBatch::new(Timestamp(1), buffer)).unwrap();
        }
        assert_eq!(rx.drain(|_| {}), CHANNEL_CAPACITY);
        let kept = (0..CHANNEL_CAPACITY)
            .map(|_| tx.buffer())
            .filter(|b| b.capacity() >= 1000)
            .count();
        assert_eq!(kept, RECYCLED_BUFFERS);

        let mut merged = Vec::with_capacity(RECYCLED_MAX_UPDATES + 1);
        merged.push(health());
        tx.send(UpdateBatch::new(Timestamp(2), merged)).unwrap();
        assert_eq!(rx.drain(|_| {}), 1);
        assert!(
            tx.buffer().capacity() <= RECYCLED_MAX_UPDATES,
            "an oversized buffer is not kept"
        );
    }

    #[test]
    fn a_full_channel_hands_the_batch_back_instead_of_blocking() {
        let (tx, _rx) = batch_channel();
        for _ in 0..CHANNEL_CAPACITY {
            tx.send(UpdateBatch::default()).unwrap();
        }
        let batch = UpdateBatch {
            session_started: true,
            ..Default::default()
        };
        match tx.send(batch) {
            Err(SendError::Full(returned)) => assert!(returned.session_started),
            other => panic!("expected a full channel, got {other:?}"),
        }
    }
}
