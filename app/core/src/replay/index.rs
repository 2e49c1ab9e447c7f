//! The seek index: checkpoints of the messages that determine the twin state.

use std::collections::HashMap;
use std::sync::Arc;

use crate::TwinUpdate;
use crate::mcap::{McapError, McapFile, for_each_message};
use crate::schema::{Decoded, TopicSchema};
use crate::schema::combined::SchemaChoice;

/// Checkpoints every 10 s of log time: a seek replays at most that much traffic.
pub const DEFAULT_INTERVAL_NS: u64 = 10_000_000_000;

/// A message's place: chunk number and offset in the chunk's uncompressed records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageRef {
    pub chunk: u32,
    pub offset: u32,
}

/// The state at `time`, as the messages that make it.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub time: u64,
    /// In file order.
    pub refs: Vec<MessageRef>,
    /// The first message after the checkpoint.
    pub next: MessageRef,
}

pub struct SeekIndex {
    pub checkpoints: Vec<Checkpoint>,
    pub interval: u64,
    pub messages: u64,
    /// Every alarm raise (`true`) and clear (`false`), by log time: timeline markers.
    pub alarm_transitions: Vec<(u64, bool)>,
    /// What could not be read and was skipped (the rest of the file replays).
    pub skipped: Skipped,
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
            let channels: Vec<String> = self.unreadable_channels.iter().take(3).map(|(topic, encoding)| format!("{topic} ({encoding})")).collect();
            let more = if self.unreadable_channels.len() > 3 { ", …" } else { "" };
            parts.push(format!("{} messages in encodings twinscope does not read were skipped: {}{more}", self.unreadable_messages, channels.join(", ")));
        }
        if let Some((chunk, why)) = self.damaged_chunks.first() {
            let others = match self.damaged_chunks.len() - 1 {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            parts.push(format!("chunk {chunk}{others} could not be read and were left out ({why})"));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// Unreadable channels listed by name (the count covers all of them).
const LISTED_CHANNELS: usize = 20;

impl SeekIndex {
    /// One pass over the file, decoding every message as replay will.
    pub fn build(file: &mut McapFile, interval: u64, schemas: &SchemaChoice) -> Result<Self, McapError> {
        let mut schema = schemas.build();
        let mut updates = Vec::new();
        // What decides the state: per channel, and per property on measurement channels.
        let mut last: HashMap<(u16, Option<Arc<str>>), MessageRef> = HashMap::new();
        let mut checkpoints = Vec::new();
        let mut messages = 0u64;
        let mut alarm_transitions = Vec::new();
        let mut skipped = Skipped::default();
        let mut next_checkpoint = file.time_range().map_or(u64::MAX, |(start, _)| start.saturating_add(interval));
        let timestamp = super::timestamp_of;
        for chunk in 0..file.chunks.len() {
            // One damaged chunk loses its own messages, not the recording.
            let records = match file.chunk_records(chunk) {
                Ok(records) => records,
                Err(error) => {
                    skipped.damaged_chunks.push((chunk as u32, error.to_string()));
                    continue;
                }
            };
            let channels = &file.channels;
            for_each_message(&records, |offset, message| {
                let here = MessageRef { chunk: chunk as u32, offset: offset as u32 };
                while message.log_time > next_checkpoint {
                    let mut refs: Vec<MessageRef> = last.values().copied().collect();
                    refs.sort_unstable();
                    refs.dedup();
                    checkpoints.push(Checkpoint { time: next_checkpoint, refs, next: here });
                    next_checkpoint = next_checkpoint.saturating_add(interval);
                }
                messages += 1;
                let Some(channel) = channels.get(&message.channel) else { return };
                if !channel.readable() {
                    skipped.unreadable_messages += 1;
                    let listed = (channel.topic.clone(), channel.encoding.clone());
                    if skipped.unreadable_channels.len() < LISTED_CHANNELS && !skipped.unreadable_channels.contains(&listed) {
                        skipped.unreadable_channels.push(listed);
                    }
                    return;
                }
                updates.clear();
                match schema.decode(&channel.topic, message.payload, timestamp(message.log_time), &mut updates) {
                    Ok(Decoded::Updates(_)) => {
                        let mut measured = false;
                        for update in &updates {
                            match update {
                                // A message that sets several properties (a Sparkplug DATA)
                                // decides each of them until a later one sets it again.
                                TwinUpdate::Measurement { name, .. } | TwinUpdate::Fragment { name, .. } | TwinUpdate::Unit { name, .. } => {
                                    measured = true;
                                    last.insert((message.channel, Some(name.clone())), here);
                                }
                                // An alarm's last transition decides it (in a JSON source it
                                // shares its message with values).
                                TwinUpdate::AlarmRaised { alarm_type, .. } | TwinUpdate::AlarmCleared { alarm_type, .. } => {
                                    alarm_transitions.push((message.log_time, matches!(update, TwinUpdate::AlarmRaised { .. })));
                                    measured = true;
                                    last.insert((message.channel, Some(format!("\0alarm {alarm_type}").into())), here);
                                }
                                _ => {}
                            }
                        }
                        if !measured {
                            last.insert((message.channel, None), here);
                        }
                    }
                    // Ignored and rejected messages change nothing, so they decide nothing.
                    Ok(Decoded::Ignored) | Err(_) => {}
                }
            })
            .map_err(|e| McapError::Corrupt { file: file.path().to_owned(), offset: file.chunks[chunk].offset, reason: e.0 })?;
        }
        Ok(SeekIndex { checkpoints, interval, messages, alarm_transitions, skipped })
    }

    /// Whether chunk `chunk` could not be read when the index was built.
    pub fn is_damaged(&self, chunk: u32) -> bool {
        self.skipped.damaged_chunks.iter().any(|(c, _)| *c == chunk)
    }

    /// The last checkpoint at or before `time`.
    pub fn checkpoint_before(&self, time: u64) -> Option<&Checkpoint> {
        let after = self.checkpoints.partition_point(|c| c.time <= time);
        after.checked_sub(1).map(|i| &self.checkpoints[i])
    }
}
