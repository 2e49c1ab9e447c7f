//! Twin ids and the interner that lets the decoder hand out ids without allocating.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A stable twin id, e.g. `line1-pump1` or `line1-pump1-bearing-de`.
///
/// Cheap to clone, compared, ordered and hashed by content. An id decoders hand out with
/// every message is [kept](TwinId::kept) for the life of the process, and cloning and
/// dropping it then changes no count: two atomic operations per value fewer, on a line the
/// decoding and the applying thread would otherwise both write.
#[derive(Clone)]
pub struct TwinId(Text);

#[derive(Clone)]
enum Text {
    /// Counted: an id made anywhere else (scenes, tests, ids past [`MAX_KEPT_IDS`]).
    Counted(Arc<IdText>),
    /// Never freed (see [`TwinId::kept`]).
    Kept(&'static IdText),
}

/// An id's text, and where the last store to look it up keeps its twin.
struct IdText {
    text: Box<str>,
    /// A [`StoreSlot`]: decoders hand the same interned id out with every message, so the
    /// store that applies them finds the twin here, without hashing the text or probing its
    /// index (tens of thousands of twins, one lookup per message).
    slot: AtomicU64,
}

/// Where a store keeps a twin, as remembered on its id: the store's tag and the twin's
/// position. A hint only: the store checks that the twin there has this id. A kept id is
/// the process's only one for its text, so two stores applying it in turn (a replay next to
/// live ingest) each find the other's slot and look the id up once per run of its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreSlot {
    pub(crate) store: u32,
    pub(crate) position: u32,
}

/// Ids [kept](TwinId::kept) at most, over the life of the process: as many as a store holds
/// twins, and [`MAX_KEPT_TEXT_BYTES`] of text. Past them a made-up name each message (a
/// flood) gets counted ids, freed when dropped, so what is never freed stays under about
/// 30 MB whatever arrives.
pub const MAX_KEPT_IDS: usize = super::store::DEFAULT_MAX_TWINS;
pub const MAX_KEPT_TEXT_BYTES: usize = 16 << 20;

/// The ids kept so far.
static KEPT: super::kept::Kept<IdText> = super::kept::Kept::new(MAX_KEPT_IDS, MAX_KEPT_TEXT_BYTES);

/// By content, like the equality below (equal ids have equal text).
impl std::hash::Hash for TwinId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

/// By content, but the same interned id is equal without reading it: the store's index and
/// the decoder share one per id, so a lookup need not touch the key's text.
impl PartialEq for TwinId {
    fn eq(&self, other: &Self) -> bool {
        self.same_instance(other) || self.as_str() == other.as_str()
    }
}

impl Eq for TwinId {}

impl PartialOrd for TwinId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TwinId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl TwinId {
    /// A counted id (freed with its last clone).
    pub fn new(id: &str) -> Self {
        TwinId(Text::Counted(Arc::new(IdText {
            text: id.into(),
            slot: AtomicU64::new(0),
        })))
    }

    /// The process's one kept id for this text, made the first time: never freed, so its
    /// clones count nothing. For the ids decoders hand out with every message (the
    /// [`Interner`]'s, a Sparkplug node's and device's). Past [`MAX_KEPT_IDS`] a counted one.
    pub fn kept(id: &str) -> Self {
        match KEPT.get_or_keep(
            id,
            |id| IdText {
                text: id.into(),
                slot: AtomicU64::new(0),
            },
            |kept| &kept.text,
        ) {
            Some(kept) => TwinId(Text::Kept(kept)),
            None => TwinId::new(id),
        }
    }

    fn text(&self) -> &IdText {
        match &self.0 {
            Text::Counted(text) => text,
            Text::Kept(text) => text,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text().text
    }

    /// The same interned id (one allocation): a cheap first check before comparing content.
    pub fn same_instance(&self, other: &TwinId) -> bool {
        std::ptr::eq(self.text(), other.text())
    }

    /// Starts loading the id's slot (and, for a counted id, its reference count, just before
    /// it), ahead of a clone (which writes the count) or a store's lookup (which reads the
    /// slot).
    pub(crate) fn prefetch(&self) {
        let data = self.text() as *const IdText as *const u8;
        if let Text::Counted(_) = self.0 {
            // The counts are two words before the data.
            crate::prefetch::line(data.wrapping_sub(2 * std::mem::size_of::<usize>()));
        }
        crate::prefetch::line(data.wrapping_add(std::mem::size_of::<IdText>() - 1));
    }

    /// Where the last store that looked this id up keeps its twin (see [`StoreSlot`]).
    pub(crate) fn store_slot(&self) -> StoreSlot {
        let packed = self.text().slot.load(Ordering::Relaxed);
        StoreSlot {
            store: (packed >> 32) as u32,
            position: packed as u32,
        }
    }

    /// Remembers where a store keeps this id's twin. Shared by every clone of the id; a
    /// store that reads another's slot finds its tag differs and looks the id up.
    pub(crate) fn remember_store_slot(&self, slot: StoreSlot) {
        self.text().slot.store(
            u64::from(slot.store) << 32 | u64::from(slot.position),
            Ordering::Relaxed,
        );
    }
}

impl Borrow<str> for TwinId {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for TwinId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for TwinId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for TwinId {
    fn from(id: &str) -> Self {
        TwinId::new(id)
    }
}

/// Strings an [`Interner`] keeps at most: names of a large plant's twins and properties, with room.
pub const MAX_INTERNED: usize = 500_000;

/// Hands out shared strings for names seen before, so steady-state decoding allocates nothing
/// for ids, property names and types (a plant repeats the same few thousand names forever).
#[derive(Default)]
pub struct Interner {
    strings: foldhash::HashSet<Arc<str>>,
    ids: foldhash::HashSet<TwinId>,
    names: foldhash::HashSet<super::PropertyName>,
}

impl Interner {
    /// Returns the shared copy of `text`, storing it the first time. Past [`MAX_INTERNED`]
    /// strings (a flood of made-up names) new ones are returned unshared and not kept, so
    /// the interner stops growing.
    pub fn intern(&mut self, text: &str) -> Arc<str> {
        if let Some(existing) = self.strings.get(text) {
            return existing.clone();
        }
        let shared: Arc<str> = Arc::from(text);
        if self.len() < MAX_INTERNED {
            self.strings.insert(shared.clone());
        }
        shared
    }

    /// The shared id for `text`, kept like [`intern`](Self::intern)'s strings (the two
    /// count together against [`MAX_INTERNED`]).
    pub fn twin_id(&mut self, text: &str) -> TwinId {
        if let Some(existing) = self.ids.get(text) {
            return existing.clone();
        }
        let id = TwinId::kept(text);
        if self.len() < MAX_INTERNED {
            self.ids.insert(id.clone());
        }
        id
    }

    /// The [kept](super::PropertyName::kept) name for `text`, found here without the
    /// process's lock after the first time (kept like [`intern`](Self::intern)'s strings,
    /// counting together against [`MAX_INTERNED`]).
    pub fn property_name(&mut self, text: &str) -> super::PropertyName {
        if let Some(existing) = self.names.get(text) {
            return existing.clone();
        }
        let name = super::PropertyName::kept(text);
        if self.len() < MAX_INTERNED {
            self.names.insert(name.clone());
        }
        name
    }

    pub fn len(&self) -> usize {
        self.strings.len() + self.ids.len() + self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_returns_the_same_allocation() {
        let mut interner = Interner::default();
        let a = interner.intern("temperature");
        let b = interner.intern("temperature");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(interner.len(), 1);
        assert_eq!(interner.twin_id("pump1"), TwinId::new("pump1"));
    }

    /// A kept id is one per text for the whole process, equal to a counted one of the same
    /// text, and each store's slot on it is its own to check.
    #[test]
    fn kept_ids_are_one_per_text() {
        let (a, b) = (
            TwinId::kept("kept-test-pump"),
            TwinId::kept("kept-test-pump"),
        );
        assert!(
            a.same_instance(&b)
                && a == TwinId::new("kept-test-pump")
                && a.clone().same_instance(&a)
        );
        assert!(!a.same_instance(&TwinId::kept("kept-test-motor")));
        a.remember_store_slot(StoreSlot {
            store: 7,
            position: 3,
        });
        assert_eq!(
            b.store_slot(),
            StoreSlot {
                store: 7,
                position: 3
            }
        );
        let counted = TwinId::new("kept-test-pump");
        assert!(!counted.same_instance(&a) && counted.store_slot().store == 0);
        // A text past the budget is not kept (a flood of huge names frees what it brought).
        let huge = "x".repeat(MAX_KEPT_TEXT_BYTES + 1);
        assert!(!TwinId::kept(&huge).same_instance(&TwinId::kept(&huge)));
    }
}
