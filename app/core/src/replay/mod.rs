//! Replaying recordings through the same decode path as live data, with seeks whose cost does
//! not grow with the length of the file.
//!
//! The [`SeekIndex`] holds checkpoints every few seconds of log time. A checkpoint lists the
//! messages that determine the whole twin state at that instant: the last message of every
//! topic (registrations, units, alarms and their clears, twin fragments, health, events), and
//! for measurement topics the last message carrying each property. Seeking to `t` replays that
//! set (in file order), then the few seconds of messages from the checkpoint to `t`. The cost
//! is the size of the plant plus the checkpoint interval, wherever `t` is in the file.

mod blob_store;
mod index;
pub mod index_cache;
mod keys;
mod pipeline;
pub mod seeker;
pub mod stored;

use std::collections::HashMap;
use std::path::Path;

pub use index::{
    Checkpoint, DEFAULT_INTERVAL_NS, IndexBuilder, IndexProgress, KEYFRAME_EVERY, MessageNumber,
    MessageRef, SeekIndex, Skipped,
};

use crate::mcap::{McapError, McapFile, for_each_message};
use crate::schema::TopicSchema;
use crate::schema::combined::{CombinedSchema, SchemaChoice};
use crate::time::Timestamp;
use crate::twin::TwinStore;
use pipeline::Decoding;

/// Nanoseconds since the epoch (MCAP log time) to a [`Timestamp`].
pub fn timestamp_of(log_time: u64) -> Timestamp {
    Timestamp((log_time / 1_000) as i64)
}

/// Decodes a recorded message, keyed by its channel (what a channel's topic means is worked
/// out once), or on a shared channel by the topic it carries: those topics have no channel id
/// to key them by.
pub(crate) fn decode_recorded(
    schema: &mut CombinedSchema,
    channel: crate::mcap::ChannelRef<'_>,
    (topic, payload): (&str, &[u8]),
    time: Timestamp,
    out: &mut Vec<crate::TwinUpdate>,
) -> Result<crate::schema::Decoded, crate::schema::DecodeError> {
    if channel.shared {
        schema.decode(topic, payload, time, out)
    } else {
        schema.decode_keyed(channel.info.id, topic, payload, time, out)
    }
}

/// Why a recording's stored seek index was passed over, as `index_note` says it.
fn stored_not_used(reason: &str) -> String {
    format!("the stored seek index is not used: {reason}")
}

/// A [`Timestamp`] to MCAP log time.
pub fn log_time_of(time: Timestamp) -> u64 {
    (time.0.max(0) as u64).saturating_mul(1_000)
}

/// Where a recording's seek index came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexSource {
    /// Stored in the recording by twinscope as it finished it: read its table only.
    Stored,
    /// The index cache (a file from elsewhere, indexed before): read its table only.
    Cached,
    /// Built by reading the whole file (then kept in the cache for next time).
    Built,
    /// Kept beside a recording being written (the DVR).
    Live,
}

/// A recording opened for replay: the file and its seek index.
pub struct Recording {
    pub file: McapFile,
    pub index: SeekIndex,
    pub index_source: IndexSource,
    /// Why a stored or cached index was not used, if one was found.
    pub index_note: Option<String>,
    /// The schemas the index was built with (a damaged stored index is rebuilt with them).
    schemas: SchemaChoice,
    chunk_cache: HashMap<u32, std::sync::Arc<Vec<u8>>>,
    /// The decoder of forward play (entities it has announced carry over between steps); a
    /// seek starts it over. It reads messages with the schemas the recording was opened with
    /// (the scene's JSON sources too).
    playing_schema: CombinedSchema,
    /// Chunks read and decompressed so far (not served from the cache): seek work, measured.
    pub chunks_read: u64,
    /// Chunks below this were already asked of the disk ([`McapFile::prefetch`]): play asks
    /// for each once, not on every frame's step.
    prefetched_until: usize,
    /// Twins in the last state a seek built: the next seek's store makes room for as many at
    /// once (seeks in one recording build plants of about one size).
    twins_last_built: usize,
}

impl Recording {
    /// Opens a recording and builds its seek index (one pass over the file).
    pub fn open(path: &Path) -> Result<Self, McapError> {
        Self::open_with(path, SchemaChoice::replay())
    }

    /// Opens a recording read with these schemas (a scene's JSON sources among them).
    pub fn open_with(path: &Path, schemas: SchemaChoice) -> Result<Self, McapError> {
        Self::open_reporting(path, schemas, &IndexProgress::default())
    }

    /// [`open_with`](Self::open_with), counting indexed chunks into `progress`.
    pub fn open_reporting(
        path: &Path,
        schemas: SchemaChoice,
        progress: &IndexProgress,
    ) -> Result<Self, McapError> {
        Self::open_in_steps(path, schemas, progress, None)
    }

    /// [`open_reporting`](Self::open_reporting), handing a file that must be indexed by
    /// reading it to `partial` as far as it is indexed, every so often.
    pub fn open_in_steps(
        path: &Path,
        schemas: SchemaChoice,
        progress: &IndexProgress,
        partial: Option<(std::time::Duration, &mut dyn FnMut(Recording))>,
    ) -> Result<Self, McapError> {
        // A file twinscope wrote opens from its stored index alone: its channels, its
        // attachment and the index's own chunk table, never the summary's chunk indexes (which
        // grow with the file).
        let mut note = None;
        if let Some(mut file) = McapFile::open_without_chunk_indexes(path)?
            && let Some(opened) = stored::open_attached(&file, None, stored::schemas_hash(&schemas))
        {
            match opened {
                Ok((index, chunks)) => {
                    file.chunks = chunks;
                    return Ok(Self::with_stored_index(file, index, schemas));
                }
                Err(reason) => note = Some(stored_not_used(&reason)),
            }
        }
        let file = McapFile::open(path)?;
        let mut recording = Self::open_cached_in_steps(
            path,
            schemas,
            progress,
            index_cache::IndexCache::default_place().as_ref(),
            file,
            partial,
        )?;
        if recording.index_note.is_none() {
            recording.index_note = note;
        }
        Ok(recording)
    }

    /// Opens `file` (at `path`) with its stored index, else the index in `cache`, else one
    /// built by reading it (then kept in `cache`).
    pub fn open_cached(
        path: &Path,
        schemas: SchemaChoice,
        progress: &IndexProgress,
        cache: Option<&index_cache::IndexCache>,
        file: McapFile,
    ) -> Result<Self, McapError> {
        Self::open_cached_in_steps(path, schemas, progress, cache, file, None)
    }

    /// [`open_cached`](Self::open_cached); while an index is built by reading the file, the
    /// recording as far as it is indexed is handed to `partial` every `every` (a replay can
    /// start on it: the timeline usable as far as indexed).
    pub fn open_cached_in_steps(
        path: &Path,
        schemas: SchemaChoice,
        progress: &IndexProgress,
        cache: Option<&index_cache::IndexCache>,
        mut file: McapFile,
        mut partial: Option<(std::time::Duration, &mut dyn FnMut(Recording))>,
    ) -> Result<Self, McapError> {
        let fingerprint = stored::Fingerprint::of(&file, &schemas);
        let mut note = None;
        // The index twinscope stored in the file as it finished it.
        if let Some(opened) =
            stored::open_attached(&file, Some(fingerprint.chunks), fingerprint.schemas)
        {
            match opened {
                Ok((index, _)) => return Ok(Self::with_stored_index(file, index, schemas)),
                Err(reason) => note = Some(stored_not_used(&reason)),
            }
        }
        // A file indexed before (from elsewhere, or one whose stored index was not usable).
        if let Some(cache) = cache {
            match cache.open(path, &file, fingerprint) {
                Ok(Some(index)) => {
                    return Ok(Self::with_index(
                        file,
                        index,
                        IndexSource::Cached,
                        note,
                        schemas,
                    ));
                }
                Ok(None) => {}
                Err(reason) => note = Some(format!("the cached seek index is not used: {reason}")),
            }
        }
        let mut last_partial = std::time::Instant::now();
        let mut handed = 0;
        let spill = index_cache::spill_path();
        let index = SeekIndex::build_in_steps(
            &mut file,
            index::DEFAULT_INTERVAL_NS,
            index::KEYFRAME_EVERY,
            &schemas,
            progress,
            Some(&spill),
            |builder, file, indexed| {
                let Some((every, hand)) = &mut partial else {
                    return;
                };
                if indexed <= handed
                    || indexed == file.chunks.len()
                    || last_partial.elapsed() < *every
                {
                    return;
                }
                let chunks = file.chunks[..indexed].to_vec();
                if let Ok(so_far) = McapFile::from_parts(path, chunks, file.channels.clone()) {
                    hand(Recording::from_parts(
                        so_far,
                        builder.snapshot(),
                        schemas.clone(),
                    ));
                    handed = indexed;
                    last_partial = std::time::Instant::now();
                }
            },
        )?;
        if let Some(cache) = cache
            && let Err(error) = cache.keep(path, &file, &index, fingerprint)
        {
            tracing::warn!(
                "{}: the seek index could not be cached: {error}",
                path.display()
            );
        }
        Ok(Self::with_index(
            file,
            index,
            IndexSource::Built,
            note,
            schemas,
        ))
    }

    fn with_stored_index(file: McapFile, index: SeekIndex, schemas: SchemaChoice) -> Self {
        Self::with_index(file, index, IndexSource::Stored, None, schemas)
    }

    fn with_index(
        file: McapFile,
        index: SeekIndex,
        index_source: IndexSource,
        index_note: Option<String>,
        schemas: SchemaChoice,
    ) -> Self {
        Recording {
            file,
            index,
            index_source,
            index_note,
            chunk_cache: HashMap::new(),
            playing_schema: schemas.build(),
            schemas,
            chunks_read: 0,
            prefetched_until: 0,
            twins_last_built: 0,
        }
    }

    /// A second handle on the same recording for a thread of its own (the [`seeker`]): its
    /// own file handle, caches and decoder, the same index.
    pub fn try_clone(&self) -> Result<Recording, McapError> {
        let file = McapFile::from_parts(
            self.file.path(),
            self.file.chunks.clone(),
            self.file.channels.clone(),
        )?;
        let mut second = Self::with_index(
            file,
            self.index.clone(),
            self.index_source,
            self.index_note.clone(),
            self.schemas.clone(),
        );
        second.twins_last_built = self.twins_last_built;
        Ok(second)
    }

    /// A recording from a file and an index built beside it (the DVR's segment being
    /// written): nothing is read until a seek.
    pub fn from_parts(file: McapFile, index: SeekIndex, schemas: SchemaChoice) -> Self {
        Self::with_index(file, index, IndexSource::Live, None, schemas)
    }

    /// A stored index found damaged at a seek: the file is indexed by reading it, and the
    /// stored one never used again.
    fn rebuild_index(&mut self, reason: &str) -> Result<(), McapError> {
        tracing::warn!(
            "{}: the stored seek index is damaged ({reason}); indexing the file instead",
            self.file.path().display()
        );
        self.index = SeekIndex::build(&mut self.file, index::DEFAULT_INTERVAL_NS, &self.schemas)?;
        self.index_source = IndexSource::Built;
        self.index_note = Some(format!("the stored seek index was damaged: {reason}"));
        Ok(())
    }

    /// Log times of the first and last message.
    pub fn time_range(&self) -> Option<(Timestamp, Timestamp)> {
        self.file
            .time_range()
            .map(|(a, b)| (timestamp_of(a), timestamp_of(b)))
    }

    /// Forgets decompressed chunks (benchmarks measure cold seeks with it).
    pub fn clear_cache(&mut self) {
        self.chunk_cache.clear();
    }

    fn chunk(&mut self, chunk: u32) -> Result<std::sync::Arc<Vec<u8>>, McapError> {
        if let Some(records) = self.chunk_cache.get(&chunk) {
            return Ok(records.clone());
        }
        // A chunk the index could not read is left out of the replay (and reported).
        if self.index.is_damaged(chunk) {
            return Ok(std::sync::Arc::new(Vec::new()));
        }
        let records = std::sync::Arc::new(self.file.chunk_records(chunk as usize)?);
        self.chunks_read += 1;
        // A handful of chunks: the early ones (registrations) and the ones around the seek.
        if self.chunk_cache.len() >= 16 {
            self.chunk_cache.clear();
        }
        self.chunk_cache.insert(chunk, records.clone());
        Ok(records)
    }

    /// Plays forward: applies the messages after `from` up to and including `to` to a store
    /// that holds the state at `from` (after [`state_at`](Self::state_at) or an earlier step).
    /// A step of a second or more (fast play) reads on a second thread while this one applies.
    pub fn advance(
        &mut self,
        store: &mut TwinStore,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<usize, McapError> {
        let threaded = to.0.saturating_sub(from.0) >= THREADED_STEP_MICROS;
        let (from, to) = (log_time_of(from), log_time_of(to));
        let applied = pipeline::play(self, store, threaded, |this, decoding| {
            let mut schema = std::mem::take(&mut this.playing_schema);
            let result = this.read_between(from, to, &mut schema, decoding);
            this.playing_schema = schema;
            result
        })?;
        store.mark_stale(timestamp_of(to));
        Ok(applied)
    }

    /// The messages after `from` up to and including `to`, in file order.
    fn read_between(
        &mut self,
        from: u64,
        to: u64,
        schema: &mut CombinedSchema,
        decoding: &mut Decoding,
    ) -> Result<(), McapError> {
        let first = self.file.chunks.partition_point(|c| c.end_time <= from);
        // This step's chunks and the next few (play goes on from here), those not asked yet.
        let ahead = (self.file.chunks.partition_point(|c| c.start_time <= to) + PREFETCH_AHEAD)
            .min(self.file.chunks.len());
        if ahead > self.prefetched_until {
            self.file.prefetch(first.max(self.prefetched_until)..ahead);
            self.prefetched_until = ahead;
        }
        for chunk in first..self.file.chunks.len() {
            if self.file.chunks[chunk].start_time > to {
                break;
            }
            let records = self.chunk(chunk as u32)?;
            let channels = &self.file.channels;
            for_each_message(&records, |_, message| {
                if message.log_time > from && message.log_time <= to {
                    decoding.push(
                        channels,
                        schema,
                        message.channel,
                        message.payload,
                        message.log_time,
                    );
                }
            })
            .map_err(|e| self.corrupt(chunk as u32, e.0))?;
        }
        Ok(())
    }

    /// The times of alarm raises (`true`) and clears, for timeline markers and jumps. Rounded
    /// up to the microsecond, so seeking to one includes the transition itself.
    pub fn alarm_transitions(&self) -> impl Iterator<Item = (Timestamp, bool)> + '_ {
        self.index
            .alarm_transitions
            .iter()
            .map(|(t, raised)| (Timestamp(t.div_ceil(1_000) as i64), *raised))
    }

    /// The twin state at `at`: `store` should be fresh (as the scene makes it).
    /// Returns how many messages were applied. Reading and decoding run on a second thread
    /// while this one applies.
    pub fn state_at(&mut self, store: &mut TwinStore, at: Timestamp) -> Result<usize, McapError> {
        store.reserve(self.twins_last_built.saturating_sub(store.len()));
        let applied = pipeline::play(self, store, true, |this, decoding| {
            // The decoder of the last seek or play, started over: what its topics mean and
            // the names it interned are not built again for every entity.
            let mut schema = std::mem::take(&mut this.playing_schema);
            schema.restart();
            let result = this.read_state_at(log_time_of(at), &mut schema, decoding);
            // Forward play continues from here with the decoder that built this state.
            this.playing_schema = schema;
            result
        })?;
        store.mark_stale(at);
        self.twins_last_built = store.len();
        Ok(applied)
    }

    /// The checkpoint's messages, then the file from there to `target`, in file order.
    fn read_state_at(
        &mut self,
        target: u64,
        schema: &mut CombinedSchema,
        decoding: &mut Decoding,
    ) -> Result<(), McapError> {
        let mut checkpoint = self.index.checkpoint_before(target);
        let refs = match checkpoint
            .map(|index| self.index.refs_at(index))
            .transpose()
        {
            Ok(refs) => refs.unwrap_or_default(),
            // Never a wrong state: a stored checkpoint that does not check out is replaced
            // by an index built from the file.
            Err(reason) => {
                self.rebuild_index(&reason)?;
                checkpoint = self.index.checkpoint_before(target);
                checkpoint
                    .map(|index| self.index.refs_at(index))
                    .transpose()
                    .map_err(|reason| self.corrupt(0, reason))?
                    .unwrap_or_default()
            }
        };
        let (from_chunk, from_offset) = checkpoint.map_or((0, 0), |index| {
            let next = self.index.checkpoints[index].next;
            (next.chunk, next.offset)
        });
        // Every chunk this seek reads, asked for at once (refs are in file order).
        let traffic_end = self.file.chunks.partition_point(|c| c.start_time <= target);
        self.file.prefetch(
            self.index
                .chunks_holding(&refs)
                .into_iter()
                .chain(from_chunk as usize..traffic_end),
        );
        self.prefetched_until = traffic_end;
        self.read_messages(&refs, schema, decoding)?;
        for chunk in from_chunk as usize..self.file.chunks.len() {
            if self.file.chunks[chunk].start_time > target {
                break;
            }
            let records = self.chunk(chunk as u32)?;
            let mut done = false;
            let channels = &self.file.channels;
            for_each_message(&records, |offset, message| {
                if done || (chunk as u32 == from_chunk && (offset as u32) < from_offset) {
                    return;
                }
                if message.log_time > target {
                    done = true;
                    return;
                }
                decoding.push(
                    channels,
                    schema,
                    message.channel,
                    message.payload,
                    message.log_time,
                );
            })
            .map_err(|e| self.corrupt(chunk as u32, e.0))?;
            if done {
                break;
            }
        }
        Ok(())
    }

    /// The messages with these numbers (ascending), walking the chunks that hold them.
    fn read_messages(
        &mut self,
        numbers: &[MessageNumber],
        schema: &mut CombinedSchema,
        decoding: &mut Decoding,
    ) -> Result<(), McapError> {
        let mut wanted = numbers.iter().copied().peekable();
        while let Some(number) = wanted.peek().copied() {
            let Some((chunk, first)) = self.index.chunk_of(number) else {
                wanted.next();
                continue;
            };
            let records = self.chunk(chunk)?;
            let channels = &self.file.channels;
            let mut here = first;
            for_each_message(&records, |_, message| {
                if wanted.peek() == Some(&here) {
                    wanted.next();
                    decoding.push(
                        channels,
                        schema,
                        message.channel,
                        message.payload,
                        message.log_time,
                    );
                }
                here += 1;
            })
            .map_err(|e| self.corrupt(chunk, e.0))?;
            // Numbers this chunk did not hold (it read empty: damaged) are left out.
            let end = self.index.chunk_end(chunk);
            while wanted.next_if(|n| *n < end).is_some() {}
        }
        Ok(())
    }

    fn corrupt(&self, chunk: u32, reason: String) -> McapError {
        McapError::Corrupt {
            file: self.file.path().to_owned(),
            offset: self.file.chunks[chunk as usize].offset,
            reason,
        }
    }
}

/// Chunks past a step of play that are asked of the disk ahead of time.
const PREFETCH_AHEAD: usize = 2;

/// Steps of forward play at least this long (fast play: a second of the plant per frame and
/// more) read on a second thread while the calling one applies.
const THREADED_STEP_MICROS: i64 = 1_000_000;

/// The state at `at` by applying every message from the start: the reference seeks are
/// checked against, and what a replay without an index would cost.
pub fn state_by_full_replay(
    file: &mut McapFile,
    store: &mut TwinStore,
    at: Timestamp,
) -> Result<usize, McapError> {
    state_by_full_replay_with(file, store, at, &SchemaChoice::replay())
}

/// [`state_by_full_replay`], reading messages with these schemas (a scene's JSON sources).
pub fn state_by_full_replay_with(
    file: &mut McapFile,
    store: &mut TwinStore,
    at: Timestamp,
    schemas: &SchemaChoice,
) -> Result<usize, McapError> {
    let target = log_time_of(at);
    let mut schema = schemas.build();
    // On this thread: the reference is the plainest way to the state.
    let applied = pipeline::play(file, store, false, |file, decoding| {
        for chunk in 0..file.chunks.len() {
            if file.chunks[chunk].start_time > target {
                break;
            }
            // Damaged chunks are left out, as the seek index leaves them out.
            let Ok(records) = file.chunk_records(chunk) else {
                continue;
            };
            let channels = &file.channels;
            for_each_message(&records, |_, message| {
                if message.log_time <= target {
                    decoding.push(
                        channels,
                        &mut schema,
                        message.channel,
                        message.payload,
                        message.log_time,
                    );
                }
            })
            .map_err(|e| McapError::Corrupt {
                file: file.path().to_owned(),
                offset: file.chunks[chunk].offset,
                reason: e.0,
            })?;
        }
        Ok(())
    })?;
    store.mark_stale(at);
    Ok(applied)
}

#[cfg(test)]
mod seeker_tests;
#[cfg(test)]
mod stored_tests;
#[cfg(test)]
mod tests;
