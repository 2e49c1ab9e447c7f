//! [`MessageSink`]: decode messages into batches and hand them to the consumer without ever
//! dropping one. When the channel is full the sink keeps a [`Backlog`] that merges repeated
//! values; only when transitions alone pile up past a limit does it wait for the consumer,
//! which slows the client and lets TCP hold back the broker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::backlog::Backlog;
use super::batch::{BatchSender, SendError, UpdateBatch};
use super::stats::IngestStats;
use super::warn_limiter::WarnLimiter;
use crate::schema::{DecodeError, Decoded, LookAhead, TopicSchema};
use crate::time::Timestamp;
use crate::update::TwinUpdate;

/// Transitions (registrations, alarm raises and clears) held before the sink waits for the
/// consumer instead of holding more: about 100 MB at worst.
pub const MAX_HELD_TRANSITIONS: usize = 500_000;

/// Decodes messages into the current batch and sends batches when due.
pub struct MessageSink {
    schema: Box<dyn TopicSchema>,
    sender: BatchSender,
    stats: Arc<IngestStats>,
    warnings: WarnLimiter,
    buffer: Vec<TwinUpdate>,
    opened: Option<Instant>,
    batch_interval: Duration,
    max_batch: usize,
    backlog: Backlog,
    /// Set when the client thread is asked to stop: waiting for the consumer ends.
    stopping: Arc<AtomicBool>,
}

impl MessageSink {
    pub fn new(
        schema: Box<dyn TopicSchema>,
        sender: BatchSender,
        stats: Arc<IngestStats>,
        batch_interval: Duration,
        max_batch: usize,
    ) -> Self {
        let buffer = sender.buffer();
        MessageSink {
            schema,
            sender,
            stats,
            warnings: WarnLimiter::new(Duration::from_secs(60)),
            buffer,
            opened: None,
            batch_interval,
            max_batch,
            backlog: Backlog::default(),
            stopping: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The flag that ends waiting for a consumer that is behind (the client thread's stop flag).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stopping.clone()
    }

    /// Decodes one message. Errors are counted and logged at most once per topic a minute.
    pub fn handle(&mut self, topic: &str, payload: &[u8], received: Timestamp) {
        self.stats.message(payload.len());
        match self
            .schema
            .decode(topic, payload, received, &mut self.buffer)
        {
            Ok(Decoded::Updates(count)) => {
                self.stats.updates(count);
                if count > 0 && self.opened.is_none() {
                    self.opened = Some(Instant::now());
                }
            }
            Ok(Decoded::Ignored) => self.stats.ignored(),
            Err(error) => {
                if matches!(error, DecodeError::UnknownTopic { .. }) {
                    self.stats.unknown_topic();
                } else {
                    self.stats.decode_error();
                }
                if self.warnings.allow(topic, Instant::now()) {
                    tracing::warn!(topic, %error, "message rejected (further ones on this topic are counted, not logged, for a minute)");
                }
            }
        }
        if self.buffer.len() >= self.max_batch {
            self.flush();
        }
    }

    /// A message on `topic` is handled soon: its schema may start loading what decoding it
    /// will read (see [`crate::schema::look_ahead`]).
    pub fn look_ahead(&self, topic: &str, stage: LookAhead) {
        self.schema.look_ahead(topic, stage);
    }

    /// Sends the current batch if it has waited `batch_interval`, and retries what the
    /// consumer had no room for.
    pub fn flush_if_due(&mut self) {
        if self
            .opened
            .is_some_and(|opened| opened.elapsed() >= self.batch_interval)
        {
            self.flush();
        } else if !self.backlog.is_empty() {
            self.send_backlog();
        }
    }

    /// Sends the current batch now, if it has anything.
    pub fn flush(&mut self) {
        self.opened = None;
        if self.buffer.is_empty() {
            self.send_backlog();
            return;
        }
        let updates = std::mem::replace(&mut self.buffer, self.sender.buffer());
        self.send(UpdateBatch::new(Timestamp::now(), updates));
    }

    /// Tells the consumer a session started, after whatever was pending.
    pub fn session_started(&mut self) {
        self.flush();
        let mut batch = UpdateBatch::new(Timestamp::now(), self.sender.buffer());
        batch.session_started = true;
        self.send(batch);
    }

    fn send(&mut self, batch: UpdateBatch) {
        if self.backlog.is_empty() {
            match self.sender.send(batch) {
                Ok(()) | Err(SendError::Disconnected) => return,
                Err(SendError::Full(batch)) => {
                    if self.warnings.allow("\0channel-full", Instant::now()) {
                        tracing::info!(
                            "the viewer is behind; holding updates (repeated values merge, none are lost)"
                        );
                    }
                    self.backlog.push(batch);
                }
            }
        } else {
            let merged = self.backlog.push(batch);
            self.stats.coalesced(merged);
        }
        self.send_backlog();
    }

    /// Sends held batches while there is room; waits for room when too many transitions
    /// are held.
    fn send_backlog(&mut self) {
        while let Some(batch) = self.backlog.pop() {
            let result = if self.backlog.transitions() >= MAX_HELD_TRANSITIONS {
                self.send_waiting(batch)
            } else {
                self.sender.send(batch)
            };
            match result {
                Ok(()) => {}
                Err(SendError::Full(batch)) => {
                    self.backlog.unpop(batch);
                    break;
                }
                Err(SendError::Disconnected) => {
                    while self.backlog.pop().is_some() {}
                    break;
                }
            }
        }
        self.stats.set_backlog(self.backlog.len());
    }

    /// Waits for room until the thread is asked to stop.
    fn send_waiting(&mut self, mut batch: UpdateBatch) -> Result<(), SendError> {
        loop {
            match self.sender.send_timeout(batch, Duration::from_millis(50)) {
                Err(SendError::Full(back)) if !self.stopping.load(Ordering::Relaxed) => {
                    batch = back
                }
                other => return other,
            }
        }
    }
}

impl super::MessageHandler for MessageSink {
    fn subscriptions(&self) -> Vec<String> {
        self.schema.subscriptions()
    }
    fn handle(
        &mut self,
        topic: &str,
        payload: &[u8],
        _qos: u8,
        _retain: bool,
        received: Timestamp,
    ) {
        MessageSink::handle(self, topic, payload, received);
    }
    fn look_ahead(&self, topic: &str, stage: LookAhead) {
        MessageSink::look_ahead(self, topic, stage);
    }
    fn connected(&mut self) {
        self.schema.connected(Timestamp::now());
        self.session_started();
    }
    fn tick(&mut self) {
        let before = self.buffer.len();
        self.schema.tick(Timestamp::now(), &mut self.buffer);
        if self.buffer.len() > before && self.opened.is_none() {
            self.opened = Some(Instant::now());
        }
        self.flush_if_due();
    }
    fn will(&mut self) -> Option<crate::schema::SchemaPublish> {
        self.schema.will(Timestamp::now())
    }
    fn connection_lost(&mut self) {
        self.schema
            .connection_lost(Timestamp::now(), &mut self.buffer);
        self.flush();
    }
    fn finish(&mut self) {
        self.schema.stopping(Timestamp::now());
    }
    fn take_publishes(&mut self) -> Vec<crate::schema::SchemaPublish> {
        self.schema.take_publishes()
    }
    fn idle(&mut self) {
        if self.opened.is_some() {
            self.flush();
        }
    }
    fn flush(&mut self) {
        MessageSink::flush(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::batch::batch_channel_with_capacity;
    use crate::schema::thin_edge::ThinEdgeSchema;

    #[test]
    fn a_quiet_moment_hands_over_the_batch_at_once() {
        use crate::ingest::MessageHandler;
        let (sender, receiver) = batch_channel_with_capacity(4);
        let mut sink = MessageSink::new(
            Box::new(ThinEdgeSchema::default()),
            sender,
            IngestStats::new(),
            Duration::from_secs(3600),
            8192,
        );
        MessageHandler::handle(
            &mut sink,
            "te/device/pump///m/environment",
            br#"{"rpm":1}"#,
            0,
            false,
            Timestamp(1),
        );
        assert!(
            receiver.recv_timeout(Duration::ZERO).is_none(),
            "held while more may follow"
        );
        sink.idle();
        let batch = receiver
            .recv_timeout(Duration::ZERO)
            .expect("sent when the link went quiet");
        assert!(
            batch
                .updates
                .iter()
                .any(|u| matches!(u, TwinUpdate::Measurement { .. }))
        );
    }

    #[test]
    fn a_consumer_that_is_behind_gets_every_transition_and_the_latest_values() {
        let (sender, receiver) = batch_channel_with_capacity(1);
        let stats = IngestStats::new();
        let mut sink = MessageSink::new(
            Box::new(ThinEdgeSchema::default()),
            sender,
            stats.clone(),
            Duration::ZERO,
            2,
        );
        for round in 0..1000 {
            sink.handle(
                "te/device/pump///m/environment",
                format!("{{\"rpm\":{round}}}").as_bytes(),
                Timestamp(round),
            );
            if round % 100 == 0 {
                sink.handle(
                    "te/device/pump///a/hot",
                    br#"{"text":"hot","severity":"major"}"#,
                    Timestamp(round),
                );
                sink.handle("te/device/pump///a/hot", b"", Timestamp(round));
            }
        }
        sink.flush();
        let mut updates = Vec::new();
        while let Some(batch) = receiver.recv_timeout(Duration::ZERO) {
            updates.extend(batch.updates);
            sink.flush_if_due();
        }
        let raises = updates
            .iter()
            .filter(|u| matches!(u, TwinUpdate::AlarmRaised { .. }))
            .count();
        let clears = updates
            .iter()
            .filter(|u| matches!(u, TwinUpdate::AlarmCleared { .. }))
            .count();
        assert_eq!((raises, clears), (10, 10));
        let last_rpm = updates.iter().rev().find_map(|u| match u {
            TwinUpdate::Measurement { value, .. } => Some(*value),
            _ => None,
        });
        assert_eq!(last_rpm, Some(999.0));
        assert!(stats.snapshot().coalesced > 900, "{:?}", stats.snapshot());
        assert_eq!(stats.snapshot().backlog, 0);
    }
}
