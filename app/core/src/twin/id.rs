//! Twin ids and the interner that lets the decoder hand out ids without allocating.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

/// A stable twin id, e.g. `line1-pump1` or `line1-pump1-bearing-de`.
///
/// Cheap to clone (a reference count), compared and hashed by content.
#[derive(Clone, Eq, PartialOrd, Ord)]
pub struct TwinId(Arc<str>);

/// By content, like the equality below (equal ids have equal text).
impl std::hash::Hash for TwinId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

/// By content, but the same interned allocation is equal without reading it: the store's
/// index and the decoder share one `Arc` per id, so a lookup need not touch the key's text.
impl PartialEq for TwinId {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || *self.0 == *other.0
    }
}

impl TwinId {
    pub fn new(id: &str) -> Self {
        TwinId(Arc::from(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same interned id (one allocation): a cheap first check before comparing content.
    pub fn same_instance(&self, other: &TwinId) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Borrow<str> for TwinId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TwinId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

impl fmt::Display for TwinId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
        if self.strings.len() < MAX_INTERNED {
            self.strings.insert(shared.clone());
        }
        shared
    }

    pub fn twin_id(&mut self, text: &str) -> TwinId {
        TwinId(self.intern(text))
    }

    pub fn len(&self) -> usize {
        self.strings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
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
}
