//! The seek index: checkpoints of the messages that determine the twin state.

use std::sync::Arc;

use crate::TwinUpdate;
use crate::mcap::{McapError, McapFile, for_each_message};
use crate::schema::Decoded;
use crate::schema::combined::SchemaChoice;

use super::blob_store::{Blob, Reader, Store};
use super::keys::Keys;

/// Checkpoints every 5 s of log time, or sooner (see [`MAX_INTERVAL_MESSAGES`]): a seek
/// replays at most that much traffic.
pub const DEFAULT_INTERVAL_NS: u64 = 5_000_000_000;

/// Past this many messages in one interval a checkpoint is made early, so what a seek replays
/// past its checkpoint is bounded by messages, not by how busy the plant is. A seek replays
/// the plant's state at its checkpoint, then the traffic since: at 20,000 signals a second
/// and 65,536 messages (a checkpoint every 3.3 s) that traffic was most of a seek, and a seek
/// took two frames. At 8,192 (every 0.4 s) a seek replays about 24,000 messages instead of
/// 52,000, and scrubbing keeps up with the display (`twinscope bench --seek`). The stored
/// index grows to about 5% of the recording; a checkpoint's changes name their messages by
/// number counted from the checkpoint before, in two bytes each.
const MAX_INTERVAL_MESSAGES: u64 = 1 << 13;

/// Every this many checkpoints, one holds the whole state; the others hold what changed
/// since the previous checkpoint. A seek merges at most this many changes onto a full state.
pub const KEYFRAME_EVERY: usize = 32;

/// A message's place: chunk number and offset in the chunk's uncompressed records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageRef {
    pub chunk: u32,
    pub offset: u32,
}

/// A message's number in the recording: messages counted in file order from 0, every
/// message record of every readable chunk (a chunk the index could not read counts none).
pub type MessageNumber = u64;

/// A key (a channel, or one property of a measurement channel) with no message yet.
const NO_MESSAGE: MessageNumber = MessageNumber::MAX;

/// A point in the recording a seek can start from.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub time: u64,
    /// The first message after the checkpoint.
    pub next: MessageRef,
    /// The number of the first message after the previous checkpoint: where the numbers in
    /// its changes count from.
    pub(super) first: MessageNumber,
    /// What changed since the previous checkpoint: in memory, or in the recording's stored
    /// index (read when a seek needs it).
    pub(super) changes: Changes,
    /// How many keys were known by then.
    pub(super) keys: u32,
}

/// A checkpoint's changes: the keys whose deciding message changed since the previous
/// checkpoint, ascending, and their messages in the same order, by number after `first` (an
/// interval holds at most [`MAX_INTERVAL_MESSAGES`]).
#[derive(Debug, Clone)]
pub(super) enum Changes {
    Held {
        changed: ChangedKeys,
        refs: Vec<u16>,
    },
    Stored(Blob),
}

/// A keyframe: in memory, or in the stored index.
#[derive(Debug, Clone)]
pub(super) enum Keyframe {
    Held(Vec<MessageNumber>),
    Stored(Blob),
}

/// A set of keys: a list where few changed, a bitmap where many did (a busy plant changes
/// every key every interval; a bitmap then costs one bit per key, not four bytes).
#[derive(Debug, Clone)]
pub(super) enum ChangedKeys {
    List(Vec<u32>),
    Bitmap(Vec<u64>),
}

impl ChangedKeys {
    pub(super) fn of(sorted: &[u32], keys: usize) -> Self {
        if sorted.len() * 32 > keys {
            let mut words = vec![0u64; keys.div_ceil(64)];
            for key in sorted {
                words[*key as usize / 64] |= 1 << (key % 64);
            }
            ChangedKeys::Bitmap(words)
        } else {
            ChangedKeys::List(sorted.to_vec())
        }
    }

    pub(super) fn iter(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        match self {
            ChangedKeys::List(keys) => Box::new(keys.iter().copied()),
            ChangedKeys::Bitmap(words) => {
                Box::new(words.iter().enumerate().flat_map(|(w, word)| {
                    let mut bits = *word;
                    std::iter::from_fn(move || {
                        (bits != 0).then(|| {
                            let bit = bits.trailing_zeros();
                            bits &= bits - 1;
                            w as u32 * 64 + bit
                        })
                    })
                }))
            }
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            ChangedKeys::List(keys) => keys.len(),
            ChangedKeys::Bitmap(words) => words.iter().map(|w| w.count_ones() as usize).sum(),
        }
    }

    pub(super) fn bytes(&self) -> usize {
        match self {
            ChangedKeys::List(keys) => keys.capacity() * 4,
            ChangedKeys::Bitmap(words) => words.capacity() * 8,
        }
    }
}

#[derive(Clone)]
pub struct SeekIndex {
    pub checkpoints: Vec<Checkpoint>,
    /// The whole state (each key's deciding message) at checkpoints 0, K, 2K, … (K =
    /// [`KEYFRAME_EVERY`]), for the keys known by then.
    pub(super) keyframes: Vec<Keyframe>,
    /// The number of each chunk's first message, by chunk: where a message number is.
    pub(super) chunk_first: Vec<MessageNumber>,
    pub(super) keyframe_every: usize,
    /// Where stored changes and keyframes are read from (an index opened from a recording's
    /// attachment or the index cache); `None` when all is in memory.
    pub(super) store: Option<Arc<Store>>,
    pub interval: u64,
    pub messages: u64,
    /// Every alarm raise (`true`) and clear (`false`), by log time: timeline markers.
    pub alarm_transitions: Vec<(u64, bool)>,
    /// What could not be read and was skipped (the rest of the file replays).
    pub skipped: Skipped,
}

/// The deciding message of every key, and which changed since the last checkpoint.
#[derive(Default)]
struct Latest {
    by_key: Vec<MessageNumber>,
    changed: Vec<u32>,
    is_changed: Vec<bool>,
}

impl Latest {
    fn set(&mut self, key: u32, at: MessageNumber) {
        let k = key as usize;
        if k >= self.by_key.len() {
            self.by_key.resize(k + 1, NO_MESSAGE);
            self.is_changed.resize(k + 1, false);
        }
        self.by_key[k] = at;
        if !self.is_changed[k] {
            self.is_changed[k] = true;
            self.changed.push(key);
        }
    }
}

/// How far indexing has got: chunks done of all chunks (written by the indexing thread).
#[derive(Debug, Default)]
pub struct IndexProgress {
    pub chunks: std::sync::atomic::AtomicUsize,
    pub chunks_done: std::sync::atomic::AtomicUsize,
}

/// Parts of a recording a replay leaves out, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Messages on channels whose encoding twinscope does not read (ROS, CDR, …).
    pub unreadable_messages: u64,
    /// Their topics and encodings (the first few).
    pub unreadable_channels: Vec<(String, String)>,
    /// Chunks that could not be read (damaged, or compressed in an unknown way), with why.
    pub damaged_chunks: Vec<(u32, String)>,
}

impl Skipped {
    /// One line for the user, when anything was left out.
    pub fn summary(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.unreadable_messages > 0 {
            let channels: Vec<String> = self
                .unreadable_channels
                .iter()
                .take(3)
                .map(|(topic, encoding)| format!("{topic} ({encoding})"))
                .collect();
            let more = if self.unreadable_channels.len() > 3 {
                ", …"
            } else {
                ""
            };
            parts.push(format!(
                "{} messages in encodings twinscope does not read were skipped: {}{more}",
                self.unreadable_messages,
                channels.join(", ")
            ));
        }
        if let Some((chunk, why)) = self.damaged_chunks.first() {
            let others = match self.damaged_chunks.len() - 1 {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            parts.push(format!(
                "chunk {chunk}{others} could not be read and were left out ({why})"
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// Unreadable channels listed by name (the count covers all of them).
const LISTED_CHANNELS: usize = 20;

impl SeekIndex {
    /// One pass over the file, decoding every message as replay will.
    pub fn build(
        file: &mut McapFile,
        interval: u64,
        schemas: &SchemaChoice,
    ) -> Result<Self, McapError> {
        Self::build_spaced(file, interval, KEYFRAME_EVERY, schemas)
    }

    /// [`build`](Self::build) with a full state every `keyframe_every` checkpoints.
    pub fn build_spaced(
        file: &mut McapFile,
        interval: u64,
        keyframe_every: usize,
        schemas: &SchemaChoice,
    ) -> Result<Self, McapError> {
        Self::build_reporting(
            file,
            interval,
            keyframe_every,
            schemas,
            &IndexProgress::default(),
        )
    }

    /// [`build_spaced`](Self::build_spaced), counting the chunks done into `progress` (for a
    /// progress bar while a long recording is indexed on another thread).
    pub fn build_reporting(
        file: &mut McapFile,
        interval: u64,
        keyframe_every: usize,
        schemas: &SchemaChoice,
        progress: &IndexProgress,
    ) -> Result<Self, McapError> {
        Self::build_in_steps(
            file,
            interval,
            keyframe_every,
            schemas,
            progress,
            None,
            |_, _, _| {},
        )
    }

    /// [`build_reporting`](Self::build_reporting), showing `step` the builder after each
    /// chunk (with the file and the chunks indexed so far): a replay can start on what is
    /// indexed while the rest is read.
    pub fn build_in_steps(
        file: &mut McapFile,
        interval: u64,
        keyframe_every: usize,
        schemas: &SchemaChoice,
        progress: &IndexProgress,
        spill: Option<&std::path::Path>,
        mut step: impl FnMut(&IndexBuilder, &McapFile, usize),
    ) -> Result<Self, McapError> {
        use std::sync::atomic::Ordering;
        progress.chunks.store(file.chunks.len(), Ordering::Relaxed);
        let mut builder = IndexBuilder::new(
            interval,
            keyframe_every,
            schemas,
            file.time_range().map(|(start, _)| start),
        );
        // A long file's checkpoints wait on disk, as a recorder's do (about 200 MiB an hour
        // at 20,000 signals held in memory): where the disk refuses, they are held.
        if let Some(path) = spill
            && let Err(error) = builder.spill_into(path)
        {
            tracing::warn!("{}: seek index held in memory: {error}", path.display());
        }
        for chunk in 0..file.chunks.len() {
            progress.chunks_done.store(chunk, Ordering::Relaxed);
            // One damaged chunk loses its own messages, not the recording.
            match file.chunk_records(chunk) {
                Ok(records) => builder
                    .chunk(chunk as u32, &records, &file.channels)
                    .map_err(|e| McapError::Corrupt {
                        file: file.path().to_owned(),
                        offset: file.chunks[chunk].offset,
                        reason: e.0,
                    })?,
                Err(error) => builder
                    .skipped
                    .damaged_chunks
                    .push((chunk as u32, error.to_string())),
            }
            step(&builder, file, chunk + 1);
        }
        progress
            .chunks_done
            .store(file.chunks.len(), Ordering::Relaxed);
        // The spill file's name goes now; the index reads it through its open handle.
        builder.remove_spill();
        Ok(builder.finish())
    }

    /// The messages that make the state at checkpoint `index`, in file order: its keyframe's
    /// state with the changes of the checkpoints since merged in.
    ///
    /// The changes are read from the newest back, a key's first found being its latest, and
    /// the walk stops once every key is decided: in a plant where every signal changes in
    /// every interval that is after one checkpoint, not up to [`KEYFRAME_EVERY`].
    ///
    /// Stored changes are read (and checked) here; an error means the stored index is damaged
    /// and must not be trusted.
    pub fn refs_at(&self, index: usize) -> Result<Vec<MessageNumber>, String> {
        let keyframe = index / self.keyframe_every;
        let stored_base;
        let base: &[MessageNumber] = match self.keyframes.get(keyframe) {
            Some(Keyframe::Held(base)) => base,
            Some(Keyframe::Stored(blob)) => {
                stored_base = stored_keyframe(self.store()?, blob)?;
                &stored_base
            }
            None => &[],
        };
        let known = self
            .checkpoints
            .get(index)
            .ok_or("no such checkpoint")?
            .keys as usize;
        let mut state: Vec<MessageNumber> = Vec::new();
        let mut decided = 0;
        for checkpoint in self.checkpoints[keyframe * self.keyframe_every + 1..=index]
            .iter()
            .rev()
        {
            let stored;
            let (changed, refs) = match &checkpoint.changes {
                Changes::Held { changed, refs } => (changed, refs),
                Changes::Stored(blob) => {
                    stored = stored_changes(self.store()?, blob)?;
                    (&stored.0, &stored.1)
                }
            };
            for (key, at) in changed.iter().zip(refs) {
                let k = key as usize;
                if k >= known {
                    return Err(format!("a change names key {k} of {known}"));
                }
                if k >= state.len() {
                    state.resize(k + 1, NO_MESSAGE);
                }
                if state[k] == NO_MESSAGE {
                    state[k] = checkpoint.first + u64::from(*at);
                    decided += 1;
                }
            }
            // Every key known at `index` decided (an older checkpoint or the keyframe knows no
            // other, keys being numbered as they first appear): nothing older counts.
            if decided == known {
                break;
            }
        }
        if state.len() < base.len() {
            state.resize(base.len(), NO_MESSAGE);
        }
        for (latest, kept) in state.iter_mut().zip(base) {
            if *latest == NO_MESSAGE {
                *latest = *kept;
            }
        }
        state.retain(|r| *r != NO_MESSAGE);
        state.sort_unstable();
        state.dedup();
        if state.last().is_some_and(|last| *last >= self.messages) {
            return Err("a checkpoint names a message past the recording's last".into());
        }
        Ok(state)
    }

    fn store(&self) -> Result<&Store, String> {
        self.store
            .as_deref()
            .ok_or_else(|| "a stored checkpoint without its store".to_owned())
    }

    /// Whether changes or keyframes are read from storage (not all held in memory).
    pub fn is_stored(&self) -> bool {
        self.store.is_some()
    }

    /// The index's own memory, in bytes: keyframes, changes and checkpoints.
    pub fn memory_bytes(&self) -> usize {
        let keyframes: usize = self
            .keyframes
            .iter()
            .map(|k| match k {
                Keyframe::Held(k) => k.capacity() * std::mem::size_of::<MessageNumber>(),
                Keyframe::Stored(_) => 0,
            })
            .sum::<usize>()
            + self.keyframes.capacity() * std::mem::size_of::<Keyframe>();
        let changes: usize = self
            .checkpoints
            .iter()
            .map(|c| match &c.changes {
                Changes::Held { changed, refs } => {
                    changed.bytes() + refs.capacity() * std::mem::size_of::<u16>()
                }
                Changes::Stored(_) => 0,
            })
            .sum();
        keyframes
            + changes
            + self.checkpoints.capacity() * std::mem::size_of::<Checkpoint>()
            + self.chunk_first.capacity() * std::mem::size_of::<MessageNumber>()
            + self.alarm_transitions.capacity() * 16
    }

    /// The chunks holding these messages (numbers ascending), each once, in file order.
    pub fn chunks_holding(&self, numbers: &[MessageNumber]) -> Vec<usize> {
        let mut chunks = Vec::new();
        // Numbers below this are in the last chunk found: no search for them.
        let mut chunk_end = 0;
        for number in numbers {
            if *number >= chunk_end
                && let Some((chunk, _)) = self.chunk_of(*number)
            {
                chunks.push(chunk as usize);
                chunk_end = self.chunk_end(chunk);
            }
        }
        chunks
    }

    /// The number past chunk `chunk`'s last message (its next chunk's first).
    pub fn chunk_end(&self, chunk: u32) -> MessageNumber {
        self.chunk_first
            .get(chunk as usize + 1)
            .copied()
            .unwrap_or(MessageNumber::MAX)
    }

    /// The chunk holding message `number`, and the number of that chunk's first message.
    pub fn chunk_of(&self, number: MessageNumber) -> Option<(u32, MessageNumber)> {
        let chunk = self
            .chunk_first
            .partition_point(|first| *first <= number)
            .checked_sub(1)?;
        Some((chunk as u32, self.chunk_first[chunk]))
    }

    /// Whether chunk `chunk` could not be read when the index was built.
    pub fn is_damaged(&self, chunk: u32) -> bool {
        self.skipped.damaged_chunks.iter().any(|(c, _)| *c == chunk)
    }

    /// The last checkpoint at or before `time`, by index.
    pub fn checkpoint_before(&self, time: u64) -> Option<usize> {
        let after = self.checkpoints.partition_point(|c| c.time <= time);
        after.checked_sub(1)
    }
}

/// Builds a [`SeekIndex`] one chunk at a time, in file order: from a file being opened, or
/// beside a recording as it is written (the DVR's index is then ready when the operator looks
/// back, without reading the file again).
pub struct IndexBuilder {
    schema: crate::schema::combined::CombinedSchema,
    updates: Vec<TwinUpdate>,
    /// What decides the state: per channel, and per property on measurement channels.
    keys: Keys,
    latest: Latest,
    checkpoints: Vec<Checkpoint>,
    keyframes: Vec<Keyframe>,
    chunk_first: Vec<MessageNumber>,
    /// The number of the first message after the last checkpoint.
    interval_first: MessageNumber,
    /// Messages in one interval past which a checkpoint is made early.
    max_interval_messages: u64,
    keyframe_every: usize,
    interval: u64,
    /// `None` until the first message sets it (a recording being written).
    next_checkpoint: Option<u64>,
    messages: u64,
    alarm_transitions: Vec<(u64, bool)>,
    pub skipped: Skipped,
    /// Where finished checkpoints' changes and keyframes go instead of memory (a recorder's
    /// index: about 49 MiB an hour at 20,000 signals otherwise).
    spill: Option<Spill>,
    /// The spill file's store once its name is gone: snapshots still read it (an open file
    /// outlives its name).
    spilled: Option<std::sync::Arc<Store>>,
}

/// A file beside a recording that a recorder's index spills its blobs into.
struct Spill {
    file: std::fs::File,
    path: std::path::PathBuf,
    written: u64,
}

impl Spill {
    /// Appends a blob (body and CRC); `None` when the disk refuses (it is then held).
    fn put(&mut self, body: &[u8]) -> Option<Blob> {
        use std::io::Write;
        let offset = self.written;
        let crc = crc32fast::hash(body).to_le_bytes();
        self.file
            .write_all(body)
            .and_then(|()| self.file.write_all(&crc))
            .ok()?;
        self.written += body.len() as u64 + 4;
        Some(Blob {
            offset,
            len: (body.len() + 4) as u32,
        })
    }
}

impl IndexBuilder {
    /// Keeps finished checkpoints' changes and keyframes in the file at `path` instead of in
    /// memory (made now, removed with [`remove_spill`](Self::remove_spill)).
    pub fn spill_to(mut self, path: &std::path::Path) -> std::io::Result<Self> {
        self.spill_into(path)?;
        Ok(self)
    }

    /// [`spill_to`](Self::spill_to) on a builder kept whatever the disk says (where it
    /// refuses, the builder holds its checkpoints in memory).
    fn spill_into(&mut self, path: &std::path::Path) -> std::io::Result<()> {
        let file = std::fs::File::create(path)?;
        self.spill = Some(Spill {
            file,
            path: path.to_owned(),
            written: 0,
        });
        Ok(())
    }

    /// Removes the spill file (the index was stored in the finished recording). Snapshots
    /// taken before keep reading it (an open file outlives its name).
    pub fn remove_spill(&mut self) {
        self.spilled = self.spill_store();
        if let Some(spill) = self.spill.take() {
            let _ = std::fs::remove_file(&spill.path);
        }
    }

    /// The store snapshots read spilled blobs from.
    fn spill_store(&self) -> Option<std::sync::Arc<Store>> {
        let Some(spill) = self.spill.as_ref() else {
            return self.spilled.clone();
        };
        let file = std::fs::File::open(&spill.path).ok()?;
        Some(std::sync::Arc::new(Store::new(file, 0, spill.written)))
    }

    /// `start`: the recording's first log time where known.
    pub fn new(
        interval: u64,
        keyframe_every: usize,
        schemas: &SchemaChoice,
        start: Option<u64>,
    ) -> Self {
        IndexBuilder {
            schema: schemas.build(),
            updates: Vec::new(),
            keys: Keys::default(),
            latest: Latest::default(),
            checkpoints: Vec::new(),
            keyframes: Vec::new(),
            chunk_first: Vec::new(),
            interval_first: 0,
            max_interval_messages: MAX_INTERVAL_MESSAGES,
            keyframe_every: keyframe_every.max(1),
            interval,
            next_checkpoint: start.map(|start| start.saturating_add(interval)),
            messages: 0,
            alarm_transitions: Vec::new(),
            skipped: Skipped::default(),
            spill: None,
            spilled: None,
        }
    }

    /// Makes checkpoints early past `messages` in one interval (tests: fewer than the real
    /// limit, which numbering in two bytes needs).
    #[cfg(test)]
    pub(crate) fn with_max_interval_messages(mut self, messages: u64) -> Self {
        self.max_interval_messages = messages.min(MAX_INTERVAL_MESSAGES);
        self
    }

    /// Indexes chunk number `chunk` from its uncompressed records.
    pub fn chunk(
        &mut self,
        chunk: u32,
        records: &[u8],
        channels: &crate::mcap::Channels,
    ) -> Result<(), crate::mcap::FormatError> {
        // Chunks skipped before this one (unreadable) hold no messages: they start where it does.
        self.chunk_first.truncate(chunk as usize);
        self.chunk_first.resize(chunk as usize + 1, self.messages);
        for_each_message(records, |offset, message| {
            let here = MessageRef {
                chunk,
                offset: offset as u32,
            };
            self.message(
                here,
                channels.lookup(message.channel),
                message.channel,
                message.log_time,
                message.payload,
            );
        })
    }

    fn message(
        &mut self,
        here: MessageRef,
        channel: Option<crate::mcap::ChannelRef<'_>>,
        channel_id: u16,
        log_time: u64,
        payload: &[u8],
    ) {
        let interval = self.interval;
        let next_checkpoint = *self
            .next_checkpoint
            .get_or_insert(log_time.saturating_add(interval));
        let due = log_time > next_checkpoint;
        let crowded = !due && self.messages - self.interval_first >= self.max_interval_messages;
        if due || crowded {
            // Made early, the checkpoint stands at this message's time (the ones before it
            // are no later, in a recording's order).
            let time = if due {
                next_checkpoint
            } else {
                log_time.max(self.checkpoints.last().map_or(0, |c| c.time))
            };
            // One checkpoint however long the quiet before this message was: their number
            // follows the messages, so a far-future log time costs one.
            let latest = &mut self.latest;
            let mut changed = std::mem::take(&mut latest.changed);
            changed.sort_unstable();
            for key in &changed {
                latest.is_changed[*key as usize] = false;
            }
            let first = self.interval_first;
            let (changed, refs) = if self.checkpoints.len().is_multiple_of(self.keyframe_every) {
                let spilled = self
                    .spill
                    .as_mut()
                    .and_then(|spill| spill.put(&encode_keyframe(&latest.by_key)));
                self.keyframes.push(match spilled {
                    Some(blob) => Keyframe::Stored(blob),
                    None => Keyframe::Held(latest.by_key.clone()),
                });
                (ChangedKeys::List(Vec::new()), Vec::new())
            } else {
                // Changed since the last checkpoint: numbered after its first message (fewer
                // than `MAX_INTERVAL_MESSAGES` after it, so in two bytes).
                let refs = changed
                    .iter()
                    .map(|k| (latest.by_key[*k as usize] - first) as u16)
                    .collect();
                (ChangedKeys::of(&changed, latest.by_key.len()), refs)
            };
            let keys = latest.by_key.len() as u32;
            let changes = match self
                .spill
                .as_mut()
                .and_then(|spill| spill.put(&encode_changes(&changed, &refs)))
            {
                Some(blob) => Changes::Stored(blob),
                None => Changes::Held { changed, refs },
            };
            self.checkpoints.push(Checkpoint {
                time,
                next: here,
                first,
                changes,
                keys,
            });
            self.interval_first = self.messages;
            if due {
                let skipped_intervals = (log_time - next_checkpoint) / interval.max(1);
                self.next_checkpoint = Some(
                    next_checkpoint.saturating_add(interval.saturating_mul(skipped_intervals + 1)),
                );
            } else {
                // A full interval from here: else a busy plant gets a checkpoint by count and
                // one soon after by time, each a full set of changes.
                self.next_checkpoint = Some(time.saturating_add(interval));
            }
        }
        let number = self.messages;
        self.messages += 1;
        let Some(channel) = channel else { return };
        // A shared channel's message too short for the topic it announces is unreadable too.
        let Some((topic, payload)) = channel.message(payload).filter(|_| channel.readable) else {
            self.skipped.unreadable_messages += 1;
            let listed = (channel.info.topic.clone(), channel.info.encoding.clone());
            if self.skipped.unreadable_channels.len() < LISTED_CHANNELS
                && !self.skipped.unreadable_channels.contains(&listed)
            {
                self.skipped.unreadable_channels.push(listed);
            }
            return;
        };
        self.updates.clear();
        let shared = channel.shared;
        let (keys, latest) = (&mut self.keys, &mut self.latest);
        // A shared channel's topic is looked up once for all the keys its message decides.
        let mut slot = None;
        let mut decides = |property: Option<&Arc<str>>| {
            let key = if shared {
                let slot = *slot.get_or_insert_with(|| keys.topic_slot(topic));
                keys.key_of_topic(slot, property)
            } else {
                keys.key(channel_id, property)
            };
            latest.set(key, number)
        };
        match super::decode_recorded(
            &mut self.schema,
            channel,
            (topic, payload),
            super::timestamp_of(log_time),
            &mut self.updates,
        ) {
            Ok(Decoded::Updates(_)) => {
                let mut measured = false;
                for update in &self.updates {
                    match update {
                        // A message that sets several properties (a Sparkplug DATA) decides
                        // each of them until a later one sets it again.
                        TwinUpdate::Measurement { name, .. } => {
                            measured = true;
                            decides(Some(&name.to_arc()));
                        }
                        TwinUpdate::Fragment { name, .. } | TwinUpdate::Unit { name, .. } => {
                            measured = true;
                            decides(Some(name));
                        }
                        // An alarm's last transition decides it (in a JSON source it shares
                        // its message with values).
                        TwinUpdate::AlarmRaised { alarm_type, .. }
                        | TwinUpdate::AlarmCleared { alarm_type, .. } => {
                            self.alarm_transitions
                                .push((log_time, matches!(update, TwinUpdate::AlarmRaised { .. })));
                            measured = true;
                            decides(Some(&format!("\0alarm {alarm_type}").into()));
                        }
                        _ => {}
                    }
                }
                if !measured {
                    decides(None);
                }
            }
            // Ignored and rejected messages change nothing, so they decide nothing.
            Ok(Decoded::Ignored) | Err(_) => {}
        }
    }

    /// The index so far (the builder goes on): what a look-back into a recording being
    /// written uses.
    pub fn snapshot(&self) -> SeekIndex {
        SeekIndex {
            checkpoints: self.checkpoints.clone(),
            keyframes: self.keyframes.clone(),
            chunk_first: self.chunk_first.clone(),
            keyframe_every: self.keyframe_every,
            interval: self.interval,
            messages: self.messages,
            alarm_transitions: self.alarm_transitions.clone(),
            skipped: self.skipped.clone(),
            store: self.spill_store(),
        }
    }

    pub fn finish(self) -> SeekIndex {
        let store = self.spill_store();
        SeekIndex {
            checkpoints: self.checkpoints,
            keyframes: self.keyframes,
            chunk_first: self.chunk_first,
            keyframe_every: self.keyframe_every,
            interval: self.interval,
            messages: self.messages,
            alarm_transitions: self.alarm_transitions,
            skipped: self.skipped,
            store,
        }
    }
}

/// A checkpoint's changes as a stored blob's body (its CRC is added where it is written).
pub(super) fn encode_changes(changed: &ChangedKeys, refs: &[u16]) -> Vec<u8> {
    let mut body = Vec::with_capacity(16 + refs.len() * 6);
    match changed {
        ChangedKeys::List(keys) => {
            body.push(0);
            body.extend_from_slice(&(keys.len() as u32).to_le_bytes());
            keys.iter()
                .for_each(|k| body.extend_from_slice(&k.to_le_bytes()));
        }
        ChangedKeys::Bitmap(words) => {
            body.push(1);
            body.extend_from_slice(&(words.len() as u32).to_le_bytes());
            words
                .iter()
                .for_each(|w| body.extend_from_slice(&w.to_le_bytes()));
        }
    }
    body.extend_from_slice(&(refs.len() as u32).to_le_bytes());
    refs.iter()
        .for_each(|r| body.extend_from_slice(&r.to_le_bytes()));
    body
}

/// A keyframe as a stored blob's body.
pub(super) fn encode_keyframe(numbers: &[MessageNumber]) -> Vec<u8> {
    let mut body = Vec::with_capacity(4 + numbers.len() * 8);
    body.extend_from_slice(&(numbers.len() as u32).to_le_bytes());
    numbers
        .iter()
        .for_each(|n| body.extend_from_slice(&n.to_le_bytes()));
    body
}

/// A stored checkpoint's changes, read and checked.
fn stored_changes(store: &Store, blob: &Blob) -> Result<(ChangedKeys, Vec<u16>), String> {
    let bytes = store.blob(blob)?;
    let mut r = Reader::new(&bytes);
    let kind = r.u8()?;
    let count = r.u32()? as usize;
    let changed = match kind {
        0 => ChangedKeys::List(
            (0..r.bounded(count, 4)?)
                .map(|_| r.u32())
                .collect::<Result<_, _>>()?,
        ),
        1 => ChangedKeys::Bitmap(
            (0..r.bounded(count, 8)?)
                .map(|_| r.u64())
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err("a stored change of an unknown kind".into()),
    };
    let refs_count = r.u32()? as usize;
    let refs: Vec<u16> = (0..r.bounded(refs_count, 2)?)
        .map(|_| r.u16())
        .collect::<Result<_, _>>()?;
    if refs.len() != changed.len() {
        return Err("a stored change with as many messages as keys it does not have".into());
    }
    Ok((changed, refs))
}

/// A stored keyframe, read and checked.
fn stored_keyframe(store: &Store, blob: &Blob) -> Result<Vec<u64>, String> {
    let bytes = store.blob(blob)?;
    let mut r = Reader::new(&bytes);
    let count = r.u32()? as usize;
    (0..r.bounded(count, 8)?).map(|_| r.u64()).collect()
}
