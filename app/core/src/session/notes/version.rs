//! One note as it travels: the whole note as its editor last saw it (a state, not an
//! operation), retained on the broker under the editor's own path. Checked before it is
//! believed: bounded size, the editor the one whose path it came on, the note's id one topic
//! level naming its author.

use serde::{Deserialize, Serialize};

use crate::session::clock::Stamp;
use crate::session::message::{Dropped, MAX_TWIN_ID};
use crate::session::topics::check_name;

/// The longest note text, in bytes.
pub const MAX_NOTE_TEXT: usize = 4096;
/// The largest note message read (a 4 KiB text JSON-escaped, and the rest).
pub const MAX_NOTE_PAYLOAD: usize = 16 * 1024;
/// The longest note id, in bytes (`<author>~<code>`).
pub const MAX_NOTE_ID: usize = 80;

/// A note, as one participant last wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteVersion {
    /// `<author>~<code>`: who pinned it, and a code unique to them.
    pub id: String,
    /// The twin it is pinned to, by id.
    pub twin: String,
    pub text: String,
    #[serde(default)]
    pub resolved: bool,
    /// Deleted by its author or the session's host; kept as a tombstone, so a late edit
    /// heard afterwards does not bring it back.
    #[serde(default)]
    pub deleted: bool,
    /// When it was pinned (ms since the Unix epoch).
    pub created: u64,
    /// When this version was written (hybrid logical clock): the latest wins.
    pub clock: Stamp,
    /// Who wrote this version (the user whose path it is on).
    pub by: String,
    /// The writer says it hosts the session (its deletions of others' notes count).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub host: bool,
}

impl NoteVersion {
    /// Who pinned the note: its id up to the last `~`.
    pub fn author(&self) -> &str {
        author_of(&self.id)
    }

    /// Orders two versions of one note the same way on every viewer.
    pub fn order_key(&self) -> (Stamp, &str) {
        (self.clock, self.by.as_str())
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A note version from `user`'s path for note `id`, checked.
    pub fn decode(user: &str, id: &str, payload: &[u8]) -> Result<NoteVersion, Dropped> {
        if payload.len() > MAX_NOTE_PAYLOAD {
            return Err(Dropped::Oversized);
        }
        let version: NoteVersion =
            serde_json::from_slice(payload).map_err(|_| Dropped::Malformed)?;
        if version.by != user || version.id != id {
            return Err(Dropped::Forged);
        }
        version.check().map_err(|_| Dropped::Malformed)?;
        if version.deleted && version.by != version.author() && !version.host {
            return Err(Dropped::NotHost);
        }
        Ok(version)
    }

    /// Whether the note can be written as it is: why not, in words.
    pub fn check(&self) -> Result<(), String> {
        check_id(&self.id)?;
        if self.twin.is_empty() || self.twin.len() > MAX_TWIN_ID {
            return Err(format!(
                "a note is pinned to a twin id of 1 to {MAX_TWIN_ID} bytes"
            ));
        }
        if self.text.len() > MAX_NOTE_TEXT {
            return Err(format!(
                "the note is {} bytes long; at most {MAX_NOTE_TEXT} are kept",
                self.text.len()
            ));
        }
        if self.text.trim().is_empty() && !self.deleted {
            return Err("the note is empty".to_owned());
        }
        check_name("user name", &self.by).map_err(|e| e.to_string())
    }
}

/// Who pinned note `id`.
pub fn author_of(id: &str) -> &str {
    id.rsplit_once('~').map_or("", |(author, _)| author)
}

fn check_id(id: &str) -> Result<(), String> {
    if id.len() > MAX_NOTE_ID {
        return Err(format!("a note id is at most {MAX_NOTE_ID} bytes"));
    }
    let Some((author, code)) = id.rsplit_once('~') else {
        return Err(format!("the note id {id:?} is not <author>~<code>"));
    };
    check_name("note's author", author).map_err(|e| e.to_string())?;
    check_name("note code", code).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn version(by: &str, text: &str, clock: u64) -> NoteVersion {
        NoteVersion {
            id: "anna~K7M2QX".into(),
            twin: "line1-tank1".into(),
            text: text.into(),
            resolved: false,
            deleted: false,
            created: 1000,
            clock: Stamp(clock, 0),
            by: by.into(),
            host: false,
        }
    }

    #[test]
    fn a_note_round_trips_and_names_its_author() {
        let note = version("bob", "seal weeps at the flange", 2000);
        assert_eq!(note.author(), "anna");
        assert_eq!(
            NoteVersion::decode("bob", "anna~K7M2QX", &note.encode()),
            Ok(note)
        );
    }

    #[test]
    fn forged_oversized_and_malformed_notes_are_refused_with_the_reason() {
        let note = version("bob", "ok", 2000);
        assert_eq!(
            NoteVersion::decode("eve", "anna~K7M2QX", &note.encode()),
            Err(Dropped::Forged),
            "bob's note on eve's path"
        );
        assert_eq!(
            NoteVersion::decode("bob", "anna~OTHER", &note.encode()),
            Err(Dropped::Forged),
            "under another note's topic"
        );
        assert_eq!(
            NoteVersion::decode("bob", "anna~K7M2QX", &vec![b' '; MAX_NOTE_PAYLOAD + 1]),
            Err(Dropped::Oversized)
        );
        assert_eq!(
            NoteVersion::decode("bob", "anna~K7M2QX", b"{\"id\":"),
            Err(Dropped::Malformed)
        );
        let long = version("bob", &"x".repeat(MAX_NOTE_TEXT + 1), 2000);
        assert_eq!(
            NoteVersion::decode("bob", "anna~K7M2QX", &long.encode()),
            Err(Dropped::Malformed)
        );
        let mut no_author = version("bob", "ok", 2000);
        no_author.id = "K7M2QX".into();
        assert!(no_author.check().is_err());
    }

    #[test]
    fn only_the_author_or_the_host_may_delete() {
        let mut deletion = version("bob", "ok", 2000);
        deletion.deleted = true;
        assert_eq!(
            NoteVersion::decode("bob", "anna~K7M2QX", &deletion.encode()),
            Err(Dropped::NotHost)
        );
        deletion.host = true;
        assert!(NoteVersion::decode("bob", "anna~K7M2QX", &deletion.encode()).is_ok());
        let mut own = version("anna", "ok", 2000);
        own.deleted = true;
        assert!(NoteVersion::decode("anna", "anna~K7M2QX", &own.encode()).is_ok());
    }
}
