//! Recording live MQTT traffic to MCAP: every message with its topic, payload bytes, QoS,
//! retain flag and receive time. Fed by the same reconnecting client threads as ingest ([`crate::record_sources`]), so a
//! recording keeps going across broker restarts.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rumqttc::QoS;

use crate::ingest::MessageHandler;
use crate::mcap::{Channels, ChunkInfo, Delivery, McapError, McapFile, McapWriter};
use crate::replay::{IndexBuilder, Recording, log_time_of};
use crate::schema::combined::SchemaChoice;
use crate::time::Timestamp;

pub use crate::mcap::seek_index_spill_path as spill_path;

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
    path: std::path::PathBuf,
    topics: Vec<String>,
    stats: Arc<RecordStats>,
    live: Option<LiveIndex>,
}

/// A seek index kept up to date beside a recording as it is written (each chunk indexed when
/// it reaches the disk), so looking back into it (the DVR) needs no pass over the file.
#[derive(Clone)]
pub struct LiveIndex(Arc<Mutex<LiveIndexState>>);

struct LiveIndexState {
    builder: IndexBuilder,
    chunks: Vec<ChunkInfo>,
    channels: Channels,
    /// What the index reads messages with (stored with it: an index is for its schemas).
    schemas: SchemaChoice,
}

impl LiveIndex {
    /// The index of the recording at `recording`: its finished checkpoints are kept in a file
    /// beside it ([`spill_path`]) until the recording is finished, not in memory.
    fn new(schemas: &SchemaChoice, recording: &Path) -> Self {
        let builder = IndexBuilder::new(
            crate::replay::DEFAULT_INTERVAL_NS,
            crate::replay::KEYFRAME_EVERY,
            schemas,
            None,
        );
        let spill = spill_path(recording);
        let builder = match builder.spill_to(&spill) {
            Ok(builder) => builder,
            Err(error) => {
                tracing::warn!(
                    "{}: the seek index stays in memory: {error}",
                    spill.display()
                );
                IndexBuilder::new(
                    crate::replay::DEFAULT_INTERVAL_NS,
                    crate::replay::KEYFRAME_EVERY,
                    schemas,
                    None,
                )
            }
        };
        LiveIndex(Arc::new(Mutex::new(LiveIndexState {
            builder,
            chunks: Vec::new(),
            channels: Channels::new(),
            schemas: schemas.clone(),
        })))
    }

    /// The spill file is no longer needed (the index is stored in the recording).
    fn remove_spill(&self) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .builder
            .remove_spill();
    }

    /// The index as it is stored in the finished recording.
    fn stored(&self) -> Option<Vec<u8>> {
        let state = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let fingerprint =
            crate::replay::stored::Fingerprint::of_chunks(&state.chunks, &state.schemas);
        crate::replay::stored::encode(&state.builder.snapshot(), fingerprint, &state.chunks)
    }

    /// The recording at `path` as far as it is on disk, with its index: ready for seeks.
    pub fn recording(&self, path: &Path, schemas: SchemaChoice) -> Result<Recording, McapError> {
        let state = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let file = McapFile::from_parts(path, state.chunks.clone(), state.channels.clone())?;
        Ok(Recording::from_parts(
            file,
            state.builder.snapshot(),
            schemas,
        ))
    }

    /// Indexes the chunks the writer put on disk since the last call.
    fn add(&self, writer: &mut McapWriter) {
        let flushed = writer.take_flushed();
        if flushed.is_empty() {
            return;
        }
        let channels = writer.channel_infos();
        let mut state = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (info, records) in flushed {
            let chunk = state.chunks.len() as u32;
            if let Err(error) = state.builder.chunk(chunk, &records, &channels) {
                state.builder.skipped.damaged_chunks.push((chunk, error.0));
            }
            state.chunks.push(info);
        }
        state.channels = channels;
    }
}

impl Recorder {
    pub fn create(path: &Path, topics: Vec<String>) -> std::io::Result<(Self, Arc<RecordStats>)> {
        let stats = Arc::new(RecordStats::default());
        let writer = McapWriter::create(path)?;
        Ok((
            Recorder {
                writer: Some(writer),
                path: path.to_owned(),
                topics,
                stats: stats.clone(),
                live: None,
            },
            stats,
        ))
    }

    /// Keeps a seek index beside the recording, read as `schemas` read it.
    pub fn with_live_index(mut self, schemas: &SchemaChoice) -> (Self, LiveIndex) {
        let live = LiveIndex::new(schemas, &self.path);
        if let Some(writer) = &mut self.writer {
            writer.keep_flushed = true;
        }
        self.live = Some(live.clone());
        (self, live)
    }

    fn index_flushed(&mut self) {
        if let (Some(live), Some(writer)) = (&self.live, &mut self.writer) {
            live.add(writer);
        }
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
        let Some(writer) = &mut self.writer else {
            return;
        };
        if let Err(error) = writer.write(
            topic,
            Delivery { qos, retain },
            payload,
            log_time_of(received),
        ) {
            return self.fail(error);
        }
        self.stats.messages.fetch_add(1, Ordering::Relaxed);
        let written = writer.stats();
        self.stats
            .bytes
            .store(written.bytes_written, Ordering::Relaxed);
        self.index_flushed();
    }

    fn tick(&mut self) {
        if let Some(writer) = &mut self.writer
            && let Err(error) = writer.flush_if_due()
        {
            self.fail(error);
        }
        self.index_flushed();
    }

    fn flush(&mut self) {
        if let Some(writer) = &mut self.writer
            && let Err(error) = writer.flush_chunk()
        {
            self.fail(error);
        }
        self.index_flushed();
    }

    fn finish(&mut self) {
        if let Some(mut writer) = self.writer.take() {
            // The last chunk is indexed too, so the finished file's index covers all of it;
            // then the index is stored in the file, so it opens without a pass over it.
            if let Some(live) = &self.live
                && writer.flush_chunk().is_ok()
            {
                live.add(&mut writer);
                if let Some(stored) = live.stored()
                    && let Err(error) = writer.attach(
                        crate::replay::stored::ATTACHMENT_NAME,
                        crate::replay::stored::MEDIA_TYPE,
                        &stored,
                    )
                {
                    return self.fail(error);
                }
                live.remove_spill();
            }
            match writer.finish() {
                Ok(stats) => self
                    .stats
                    .bytes
                    .store(stats.bytes_written, Ordering::Relaxed),
                Err(error) => self.fail(error),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::state_json;
    use crate::rules::RuleSet;
    use crate::twin::{StoreConfig, TwinStore};

    /// The index kept beside a recording as it is written gives, at any instant, the state
    /// that opening the file and indexing it gives: mid-recording (chunks on disk so far) and
    /// once finished.
    #[test]
    fn the_live_index_seeks_like_an_index_built_from_the_file() {
        let path =
            std::env::temp_dir().join(format!("twinscope-live-index-{}.mcap", std::process::id()));
        let schemas = SchemaChoice::replay();
        let (recorder, _stats) = Recorder::create(&path, vec!["#".into()]).unwrap();
        let (mut recorder, live) = recorder.with_live_index(&schemas);
        let t0 = Timestamp(1_700_000_000_000_000);
        let at = |s: i64| Timestamp(t0.0 + s * 1_000_000);
        let fresh = || TwinStore::new(StoreConfig::default(), RuleSet::default());
        for second in 0..120i64 {
            recorder.handle(
                "te/device/pump1///m/",
                format!(r#"{{"flow":{second}}}"#).as_bytes(),
                0,
                false,
                at(second),
            );
            if second == 30 {
                recorder.handle(
                    "te/device/pump1///a/dry",
                    br#"{"severity":"major"}"#,
                    1,
                    true,
                    at(second),
                );
            }
            if second % 7 == 0 {
                recorder.flush();
            }
            if second == 60 {
                // Looking back while it is written: what is on disk so far.
                let mut recording = live.recording(&path, schemas.clone()).unwrap();
                assert!(
                    recording.index.is_stored(),
                    "finished checkpoints wait beside the recording, not in memory"
                );
                assert!(spill_path(&path).exists());
                let (_, end) = recording.time_range().unwrap();
                assert!(end >= at(56), "chunks on disk are indexed: {end}");
                let mut store = fresh();
                recording.state_at(&mut store, at(45)).unwrap();
                assert_eq!(
                    store.twin("pump1").unwrap().property("flow").unwrap().value,
                    45.0
                );
                assert_eq!(store.twin("pump1").unwrap().alarms.len(), 1);
            }
        }
        recorder.finish();
        assert!(
            !spill_path(&path).exists(),
            "stored in the recording, the spill file goes"
        );
        let mut live_recording = live.recording(&path, schemas.clone()).unwrap();
        let mut opened = Recording::open(&path).unwrap();
        assert_eq!(
            live_recording.time_range(),
            opened.time_range(),
            "the last chunk is indexed when the file is finished"
        );
        for second in [0, 9, 31, 77, 119] {
            let (mut a, mut b) = (fresh(), fresh());
            live_recording.state_at(&mut a, at(second)).unwrap();
            opened.state_at(&mut b, at(second)).unwrap();
            assert_eq!(state_json(&a, None), state_json(&b, None), "at {second} s");
        }
        std::fs::remove_file(&path).unwrap();
    }
}
