//! The notes a recording holds: a recording made during a session carries the session's
//! topics beside the plant's, notes among them. Read back in the order they were recorded,
//! they settle as they did live.

use std::path::Path;

use super::NoteBook;
use crate::mcap::{McapError, McapFile, for_each_message};
use crate::session::clock::HybridClock;

/// The notes of `session` (or of every session) under topic `root` in the recording at
/// `path`, as they stood at its end.
pub fn notes_in_recording(
    path: &Path,
    root: &str,
    session: Option<&str>,
) -> Result<NoteBook, McapError> {
    let mut file = McapFile::open(path)?;
    let mut book = NoteBook::default();
    let mut clock = HybridClock::default();
    let prefix = format!("{}/", root.trim_end_matches('/'));
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
            let Some((name, _)) = topic
                .strip_prefix(prefix.as_str())
                .and_then(|rest| rest.split_once('/'))
            else {
                return;
            };
            if session.is_some_and(|wanted| wanted != name) {
                return;
            }
            let Ok(topics) = crate::session::SessionTopics::new(root, name) else {
                return;
            };
            if let Some((user, id)) = topics.parse_note(topic) {
                // Stamps are checked against when the message was recorded, not today.
                let then = message.log_time / 1_000_000;
                book.receive(user, id, payload, &mut clock, then);
            }
        });
    }
    Ok(book)
}
