//! Recording live MQTT traffic to MCAP: every message with its topic, payload bytes, QoS,
//! retain flag and receive time. Runs on the same reconnecting client thread as ingest, so a
//! recording keeps going across broker restarts.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rumqttc::QoS;

use crate::ingest::{IngestConfig, IngestHandle, IngestStats, MessageHandler, spawn_mqtt_client};
use crate::mcap::{Delivery, McapWriter};
use crate::replay::log_time_of;
use crate::time::Timestamp;

/// Counters a progress line reads.
#[derive(Debug, Default)]
pub struct RecordStats {
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
    /// Set when writing failed (disk full, say); the message says why.
    pub failed: AtomicBool,
}

/// Writes what the client thread receives.
pub struct Recorder {
    writer: Option<McapWriter>,
    topics: Vec<String>,
    stats: Arc<RecordStats>,
}

impl Recorder {
    pub fn create(path: &Path, topics: Vec<String>) -> std::io::Result<(Self, Arc<RecordStats>)> {
        let stats = Arc::new(RecordStats::default());
        let writer = McapWriter::create(path)?;
        Ok((Recorder { writer: Some(writer), topics, stats: stats.clone() }, stats))
    }

    fn fail(&mut self, error: std::io::Error) {
        tracing::error!(%error, "recording stopped: cannot write the file");
        self.stats.failed.store(true, Ordering::Relaxed);
        self.writer = None;
    }
}

impl MessageHandler for Recorder {
    fn subscriptions(&self) -> Vec<String> {
        self.topics.clone()
    }

    /// At-least-once, so a busy broker does not drop what is being recorded.
    fn qos(&self) -> QoS {
        QoS::AtLeastOnce
    }

    fn handle(&mut self, topic: &str, payload: &[u8], qos: u8, retain: bool, received: Timestamp) {
        let Some(writer) = &mut self.writer else { return };
        if let Err(error) = writer.write(topic, Delivery { qos, retain }, payload, log_time_of(received)) {
            return self.fail(error);
        }
        self.stats.messages.fetch_add(1, Ordering::Relaxed);
        self.stats.bytes.store(writer.stats().bytes_written, Ordering::Relaxed);
    }

    fn tick(&mut self) {
        if let Some(writer) = &mut self.writer
            && let Err(error) = writer.flush_if_due()
        {
            self.fail(error);
        }
    }

    fn flush(&mut self) {
        if let Some(writer) = &mut self.writer
            && let Err(error) = writer.flush_chunk()
        {
            self.fail(error);
        }
    }

    fn finish(&mut self) {
        if let Some(writer) = self.writer.take() {
            match writer.finish() {
                Ok(stats) => self.stats.bytes.store(stats.bytes_written, Ordering::Relaxed),
                Err(error) => self.fail(error),
            }
        }
    }
}

/// Starts recording `topics` from the broker in `config` into `path`.
pub fn start_recording(config: IngestConfig, path: &Path, topics: Vec<String>) -> std::io::Result<(IngestHandle, Arc<RecordStats>)> {
    let (recorder, stats) = Recorder::create(path, topics)?;
    let handle = spawn_mqtt_client(config, recorder, IngestStats::new(), "mqtt-record")?;
    Ok((handle, stats))
}
