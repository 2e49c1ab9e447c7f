//! A session as a recording holds it: a recording made during a session carries the
//! session's topics beside the plant's (presence, poses, gatherings, notes, alarm actions).
//! Played back through the same roster and note book as live, it says who stood where, what
//! each pointed at and which notes stood at any instant of the recording.

use std::path::Path;
use std::time::{Duration, Instant};

use super::clock::HybridClock;
use super::notes::NoteBook;
use super::roster::Roster;
use super::topics::SessionTopics;
use crate::mcap::{McapError, McapFile, for_each_message};

/// Session messages kept from one recording (poses of 16 participants at 20 Hz for about
/// two hours); later ones are left out and counted.
pub const MAX_RECORDED_MESSAGES: usize = 2_000_000;
/// Bytes of session messages kept from one recording.
pub const MAX_RECORDED_BYTES: usize = 512 << 20;

/// One session's messages from a recording, in the order recorded.
#[derive(Debug)]
pub struct RecordedSession {
    topics: SessionTopics,
    /// (log time in ns since the Unix epoch, topic, payload).
    messages: Vec<(u64, String, Vec<u8>)>,
    /// Messages left out past the limits.
    pub left_out: u64,
}

/// A session's state at one instant of a recording.
#[derive(Debug)]
pub struct SessionAt {
    pub roster: Roster,
    pub notes: NoteBook,
}

impl RecordedSession {
    /// The messages of session `topics` in the recording at `path`.
    pub fn load(path: &Path, topics: SessionTopics) -> Result<RecordedSession, McapError> {
        let mut file = McapFile::open(path)?;
        let mut messages = Vec::new();
        let (mut bytes, mut left_out) = (0usize, 0u64);
        let prefix = topics.filter();
        let prefix = prefix.trim_end_matches('#');
        for chunk in 0..file.chunks.len() {
            // A damaged chunk is left out, as replay leaves it out.
            let Ok(records) = file.chunk_records(chunk) else {
                continue;
            };
            let channels = &file.channels;
            let _ = for_each_message(&records, |_, message| {
                let Some((topic, payload)) = channels
                    .get(&message.channel)
                    .and_then(|c| c.message(message.payload))
                else {
                    return;
                };
                if !topic.starts_with(prefix) {
                    return;
                }
                if messages.len() >= MAX_RECORDED_MESSAGES
                    || bytes + payload.len() > MAX_RECORDED_BYTES
                {
                    left_out += 1;
                    return;
                }
                bytes += payload.len() + topic.len();
                messages.push((message.log_time, topic.to_owned(), payload.to_vec()));
            });
        }
        // Chunks may overlap in time: the order recorded is the order of log times.
        messages.sort_by_key(|(time, ..)| *time);
        Ok(RecordedSession {
            topics,
            messages,
            left_out,
        })
    }

    /// Whether the recording holds anything of the session.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// The session as it stood at `at` (ns since the Unix epoch): every message up to then
    /// through a fresh roster and note book.
    pub fn at(&self, at: u64) -> SessionAt {
        let mut state = SessionAt {
            roster: Roster::new(self.topics.clone()),
            notes: NoteBook::default(),
        };
        self.play(&mut state, 0, at);
        state
    }

    /// Plays the messages after `from` up to `to` (ns) into `state` (moving forward in time);
    /// returns how many.
    pub fn play(&self, state: &mut SessionAt, from: u64, to: u64) -> usize {
        let start = self.messages.partition_point(|(time, ..)| *time <= from);
        let end = self.messages.partition_point(|(time, ..)| *time <= to);
        let base = Instant::now();
        let first = self.messages.first().map_or(0, |(time, ..)| *time);
        let mut clock = HybridClock::default();
        for (time, topic, payload) in &self.messages[start.min(end)..end] {
            // The roster's rate limits run on the recording's clock, not the replay's.
            let when = base + Duration::from_nanos(time.saturating_sub(first));
            if let Some((user, id)) = self.topics.parse_note(topic) {
                state
                    .notes
                    .receive(user, id, payload, &mut clock, time / 1_000_000);
            } else {
                state.roster.receive(topic, payload, when);
            }
        }
        end.saturating_sub(start)
    }
}
