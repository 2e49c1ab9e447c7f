//! Notes pinned to twins, shared by everyone in a session: what the team found and decided,
//! kept after its author leaves (retained on the broker), there for whoever joins later.
//!
//! Each participant publishes, retained under its own path, the whole note as it last wrote
//! it (`<root>/<session>/<user>/notes/<id>`). A viewer keeps, per note, the version with the
//! latest hybrid-clock stamp (ties: the writer's name), so concurrent edits settle the same
//! way on every viewer in whatever order they arrive; a deletion (by the author, or the
//! session's host) is final. At most [`MAX_NOTES`] notes per session; whatever else arrives
//! is counted and dropped.

pub mod export;
pub mod recorded;
pub mod version;

use std::collections::BTreeMap;

pub use version::{MAX_NOTE_TEXT, NoteVersion, author_of};

use super::clock::{HybridClock, Stamp};
use super::message::Dropped;

/// Most notes (deleted ones included) one session keeps.
pub const MAX_NOTES: usize = 10_000;

/// A note as this viewer holds it: the latest version heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub latest: NoteVersion,
    /// Who deleted it, if anyone (final).
    pub deleted_by: Option<String>,
}

impl Note {
    pub fn id(&self) -> &str {
        &self.latest.id
    }

    pub fn author(&self) -> &str {
        self.latest.author()
    }
}

/// What one note message changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteChange {
    Added(String),
    Edited(String),
    Deleted(String),
    /// Older than what we hold, or a cleared retained message.
    Unchanged,
    Dropped(Dropped),
}

/// A note that cannot be written, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("{0}")]
    Invalid(String),
    #[error("no note {0} in this session")]
    Unknown(String),
    #[error("only its author ({author}) or the session's host may delete note {id}")]
    NotAllowed { id: String, author: String },
    #[error("the session holds {MAX_NOTES} notes already")]
    Full,
    #[error("an observer cannot write notes (join with --user)")]
    Observer,
}

/// The notes of one session.
#[derive(Debug, Default)]
pub struct NoteBook {
    notes: BTreeMap<String, Note>,
    dropped: BTreeMap<Dropped, u64>,
    generation: u64,
}

impl NoteBook {
    /// Takes one note message from `user`'s path for note `id` (`now`: our wall clock, ms).
    pub fn receive(
        &mut self,
        user: &str,
        id: &str,
        payload: &[u8],
        clock: &mut HybridClock,
        now: u64,
    ) -> NoteChange {
        if payload.is_empty() {
            return NoteChange::Unchanged;
        }
        let change = match NoteVersion::decode(user, id, payload) {
            Ok(version) if !clock.observe(version.clock, now) => {
                NoteChange::Dropped(Dropped::Malformed)
            }
            Ok(version) => self.merge(version),
            Err(reason) => NoteChange::Dropped(reason),
        };
        match &change {
            NoteChange::Dropped(reason) => *self.dropped.entry(*reason).or_default() += 1,
            NoteChange::Unchanged => {}
            _ => self.generation += 1,
        }
        change
    }

    /// Keeps the later of what we hold and `version` (a deletion is final).
    fn merge(&mut self, version: NoteVersion) -> NoteChange {
        let full = self.notes.len() >= MAX_NOTES;
        let id = version.id.clone();
        match self.notes.get_mut(&id) {
            None if full => NoteChange::Dropped(Dropped::TooMany),
            None => {
                let deleted_by = version.deleted.then(|| version.by.clone());
                let change = if deleted_by.is_some() {
                    NoteChange::Deleted(id.clone())
                } else {
                    NoteChange::Added(id.clone())
                };
                self.notes.insert(
                    id,
                    Note {
                        latest: version,
                        deleted_by,
                    },
                );
                change
            }
            Some(note) if note.deleted_by.is_some() => NoteChange::Unchanged,
            Some(note) if version.deleted => {
                note.deleted_by = Some(version.by.clone());
                if version.order_key() > note.latest.order_key() {
                    note.latest = version;
                }
                NoteChange::Deleted(id)
            }
            Some(note) if version.order_key() > note.latest.order_key() => {
                // The whole note as its latest writer saw it: every viewer ends on the same.
                note.latest = version;
                NoteChange::Edited(id)
            }
            Some(_) => NoteChange::Unchanged,
        }
    }

    /// Pins a new note of `me` to `twin`: the version to publish (already held here).
    pub fn pin(
        &mut self,
        me: &str,
        host: bool,
        twin: &str,
        text: &str,
        clock: &mut HybridClock,
        now: u64,
    ) -> Result<NoteVersion, NoteError> {
        if self.notes.len() >= MAX_NOTES {
            return Err(NoteError::Full);
        }
        let stamp = clock.tick(now);
        let code = super::topics::join_code(
            now ^ (u64::from(stamp.1) << 48)
                ^ ((self.notes.len() as u64) << 32)
                ^ u64::from(std::process::id()),
        );
        let version = NoteVersion {
            id: format!("{me}~{code}"),
            twin: twin.to_owned(),
            text: text.trim_end().to_owned(),
            resolved: false,
            deleted: false,
            created: now,
            clock: stamp,
            by: me.to_owned(),
            host,
        };
        self.write(version)
    }

    /// Changes note `id`'s text and/or state as `me`: the version to publish.
    #[allow(clippy::too_many_arguments)]
    pub fn edit(
        &mut self,
        me: &str,
        host: bool,
        id: &str,
        text: Option<&str>,
        resolved: Option<bool>,
        clock: &mut HybridClock,
        now: u64,
    ) -> Result<NoteVersion, NoteError> {
        let note = self.live(id)?;
        let mut version = note.latest.clone();
        if let Some(text) = text {
            version.text = text.trim_end().to_owned();
        }
        if let Some(resolved) = resolved {
            version.resolved = resolved;
        }
        version.by = me.to_owned();
        version.host = host;
        version.clock = clock.tick(now);
        self.write(version)
    }

    /// Deletes note `id` as `me` (its author, or the host): the tombstone to publish.
    pub fn delete(
        &mut self,
        me: &str,
        host: bool,
        id: &str,
        clock: &mut HybridClock,
        now: u64,
    ) -> Result<NoteVersion, NoteError> {
        let note = self.live(id)?;
        if note.author() != me && !host {
            return Err(NoteError::NotAllowed {
                id: id.to_owned(),
                author: note.author().to_owned(),
            });
        }
        let mut version = note.latest.clone();
        version.deleted = true;
        version.by = me.to_owned();
        version.host = host;
        version.clock = clock.tick(now);
        self.write(version)
    }

    fn live(&self, id: &str) -> Result<&Note, NoteError> {
        self.notes
            .get(id)
            .filter(|n| n.deleted_by.is_none())
            .ok_or_else(|| NoteError::Unknown(id.to_owned()))
    }

    fn write(&mut self, version: NoteVersion) -> Result<NoteVersion, NoteError> {
        version.check().map_err(NoteError::Invalid)?;
        match self.merge(version.clone()) {
            NoteChange::Dropped(_) => Err(NoteError::Full),
            _ => {
                self.generation += 1;
                Ok(version)
            }
        }
    }

    /// The notes not deleted, oldest first.
    pub fn notes(&self) -> Vec<&Note> {
        let mut notes: Vec<&Note> = self
            .notes
            .values()
            .filter(|n| n.deleted_by.is_none())
            .collect();
        notes.sort_by_key(|n| (n.latest.created, n.id().to_owned()));
        notes
    }

    pub fn get(&self, id: &str) -> Option<&Note> {
        self.notes.get(id)
    }

    /// Notes held, deleted ones included.
    pub fn len(&self) -> usize {
        self.notes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.notes.is_empty()
    }

    /// Counts the changes: a view of the notes is built again only when it moved.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Note messages dropped, by reason.
    pub fn dropped(&self) -> impl Iterator<Item = (Dropped, u64)> + '_ {
        self.dropped.iter().map(|(reason, count)| (*reason, *count))
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    /// The latest clock stamp held (for tests and reports).
    pub fn latest_stamp(&self) -> Option<Stamp> {
        self.notes.values().map(|n| n.latest.clock).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receive_all(book: &mut NoteBook, versions: &[NoteVersion]) {
        let mut clock = HybridClock::default();
        for v in versions {
            book.receive(&v.by, &v.id, &v.encode(), &mut clock, 10_000_000);
        }
    }

    #[test]
    fn concurrent_edits_settle_the_same_way_in_any_order() {
        let (mut anna, mut bob) = (HybridClock::default(), HybridClock::default());
        let mut book = NoteBook::default();
        let pinned = book
            .pin("anna", false, "line1-tank1", "seal weeps", &mut anna, 1000)
            .unwrap();
        let mut theirs = NoteBook::default();
        receive_all(&mut theirs, std::slice::from_ref(&pinned));
        // Both edit at the same millisecond, without having heard each other.
        let a = book
            .edit(
                "anna",
                false,
                &pinned.id,
                Some("seal weeps, 2 drops/min"),
                None,
                &mut anna,
                2000,
            )
            .unwrap();
        let b = theirs
            .edit(
                "bob",
                false,
                &pinned.id,
                Some("seal weeps; replace"),
                Some(true),
                &mut bob,
                2000,
            )
            .unwrap();
        let mut one = NoteBook::default();
        let mut other = NoteBook::default();
        receive_all(&mut one, &[pinned.clone(), a.clone(), b.clone()]);
        receive_all(&mut other, &[b, pinned, a]);
        let (x, y) = (&one.notes()[0].latest, &other.notes()[0].latest);
        assert_eq!(x, y);
        assert_eq!(
            (x.text.as_str(), x.by.as_str(), x.resolved),
            ("seal weeps; replace", "bob", true),
            "same stamp: the later name wins"
        );
        assert_eq!((x.twin.as_str(), x.author()), ("line1-tank1", "anna"));
    }

    #[test]
    fn a_deletion_is_final_and_only_the_author_or_host_may_delete() {
        let mut clock = HybridClock::default();
        let mut book = NoteBook::default();
        let pinned = book
            .pin("anna", false, "line1-tank1", "check seal", &mut clock, 1000)
            .unwrap();
        assert!(matches!(
            book.delete("bob", false, &pinned.id, &mut clock, 1100),
            Err(NoteError::NotAllowed { .. })
        ));
        let tombstone = book
            .delete("hans", true, &pinned.id, &mut clock, 1200)
            .unwrap();
        assert!(book.notes().is_empty());
        // An edit made before the deletion but heard after it does not bring it back.
        let mut late = NoteBook::default();
        let mut other = HybridClock::default();
        receive_all(&mut late, std::slice::from_ref(&pinned));
        let edit = late
            .edit(
                "bob",
                false,
                &pinned.id,
                Some("later text"),
                None,
                &mut other,
                5000,
            )
            .unwrap();
        receive_all(&mut book, &[edit]);
        assert!(book.notes().is_empty());
        assert_eq!(
            book.get(&pinned.id).unwrap().deleted_by.as_deref(),
            Some("hans")
        );
        receive_all(&mut late, &[tombstone]);
        assert!(late.notes().is_empty());
    }

    #[test]
    fn a_session_holds_at_most_max_notes_and_counts_the_rest() {
        let mut book = NoteBook::default();
        let mut clock = HybridClock::default();
        for k in 0..MAX_NOTES {
            let v = NoteVersion {
                id: format!("bot~N{k}"),
                twin: "t".into(),
                text: "x".into(),
                resolved: false,
                deleted: false,
                created: 1,
                clock: Stamp(1, 0),
                by: "bot".into(),
                host: false,
            };
            assert!(matches!(
                book.receive("bot", &v.id, &v.encode(), &mut clock, 2),
                NoteChange::Added(_)
            ));
        }
        let extra = NoteVersion {
            id: "bot~X".into(),
            twin: "t".into(),
            text: "x".into(),
            resolved: false,
            deleted: false,
            created: 1,
            clock: Stamp(1, 0),
            by: "bot".into(),
            host: false,
        };
        assert_eq!(
            book.receive("bot", &extra.id, &extra.encode(), &mut clock, 2),
            NoteChange::Dropped(Dropped::TooMany)
        );
        assert_eq!(
            book.pin("anna", false, "t", "x", &mut clock, 3),
            Err(NoteError::Full)
        );
        assert_eq!((book.len(), book.dropped_total()), (MAX_NOTES, 1));
    }

    #[test]
    fn empty_and_too_long_notes_are_refused_before_they_are_sent() {
        let mut book = NoteBook::default();
        let mut clock = HybridClock::default();
        assert!(matches!(
            book.pin("anna", false, "t", "  ", &mut clock, 1),
            Err(NoteError::Invalid(_))
        ));
        assert!(matches!(
            book.pin(
                "anna",
                false,
                "t",
                &"x".repeat(MAX_NOTE_TEXT + 1),
                &mut clock,
                1
            ),
            Err(NoteError::Invalid(_))
        ));
        assert!(book.is_empty());
    }
}
