//! Live archiving (`--archive DIR` on the viewer, `record` and the DVR): a connection of its
//! own to the plant's broker, decoding on its own thread into an [`Archiver`]. Nothing of it
//! runs on the viewer's frame or its ingest path; its memory is the archiver's bound.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::QoS;

use super::error::ArchiveError;
use super::writer::{ArchiveOptions, ArchiveStats, Archiver};
use crate::ingest::{IngestConfig, IngestHandle, IngestStats, MessageHandler, spawn_mqtt_client};
use crate::schema::TopicSchema;
use crate::schema::combined::{CombinedSchema, SchemaChoice};
use crate::time::Timestamp;
use crate::update::TwinUpdate;

/// The running archive: its connection, and what it has written.
pub struct LiveArchive {
    client: IngestHandle,
    pub stats: Arc<ArchiveStats>,
}

impl LiveArchive {
    /// Stops the connection; the archiver seals what it holds and writes its rollups.
    pub fn stop(&mut self) {
        self.client.stop();
    }

    pub fn connected_once(&self) -> bool {
        self.client.stats.snapshot().connects > 0
    }
}

struct ArchiveHandler {
    archiver: Option<Archiver>,
    schema: CombinedSchema,
    subscriptions: Vec<String>,
    updates: Vec<TwinUpdate>,
    last_tick: Instant,
}

impl MessageHandler for ArchiveHandler {
    fn subscriptions(&self) -> Vec<String> {
        self.subscriptions.clone()
    }

    fn qos(&self) -> QoS {
        QoS::AtLeastOnce
    }

    fn handle(
        &mut self,
        topic: &str,
        payload: &[u8],
        _qos: u8,
        _retain: bool,
        received: Timestamp,
    ) {
        let start = self.updates.len();
        if self
            .schema
            .decode(topic, payload, received, &mut self.updates)
            .is_err()
        {
            self.updates.truncate(start);
        }
        if self.updates.len() >= 4096 {
            self.push(received);
        }
    }

    fn tick(&mut self) {
        if self.last_tick.elapsed() < Duration::from_millis(900) {
            return;
        }
        self.last_tick = Instant::now();
        self.push(Timestamp::now());
        if let Some(archiver) = &mut self.archiver
            && let Err(error) = archiver.tick()
        {
            tracing::warn!("archive: {error}");
        }
    }

    fn idle(&mut self) {
        self.push(Timestamp::now());
    }

    fn flush(&mut self) {
        self.push(Timestamp::now());
    }

    fn finish(&mut self) {
        self.push(Timestamp::now());
        if let Some(archiver) = self.archiver.take()
            && let Err(error) = archiver.finish()
        {
            tracing::warn!("archive: {error}");
        }
    }
}

impl ArchiveHandler {
    fn push(&mut self, now: Timestamp) {
        if self.updates.is_empty() {
            return;
        }
        if let Some(archiver) = &mut self.archiver
            && let Err(error) = archiver.push(&self.updates, now)
        {
            tracing::warn!("archive: {error}");
        }
        self.updates.clear();
    }
}

/// Starts archiving what `config`'s broker carries (the topics `schemas` read) into `root`.
/// Opening repairs what an earlier run left (see [`Archiver::open`]).
pub fn start_live_archive(
    config: IngestConfig,
    root: &Path,
    schemas: &SchemaChoice,
    options: ArchiveOptions,
) -> Result<LiveArchive, ArchiveError> {
    let archiver = Archiver::open(root, options)?;
    let stats = archiver.stats.clone();
    let handler = ArchiveHandler {
        archiver: Some(archiver),
        schema: schemas.build(),
        subscriptions: schemas.subscriptions(),
        updates: Vec::new(),
        last_tick: Instant::now(),
    };
    let client = spawn_mqtt_client(config, handler, IngestStats::new(), "mqtt-archive")
        .map_err(|e| ArchiveError::io(root, e))?;
    Ok(LiveArchive { client, stats })
}
