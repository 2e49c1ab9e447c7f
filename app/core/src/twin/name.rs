//! The name of a measured property as a value update carries it: shared text, like every name,
//! but one a decoder hands out with every message is kept for the life of the process, so
//! passing it on counts nothing.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

/// A property's name in a [`TwinUpdate::Measurement`](crate::TwinUpdate::Measurement).
///
/// Compared, ordered and hashed by content; cheap to clone. A [kept](PropertyName::kept) one
/// clones and drops without an atomic count change: a Sparkplug metric's name ("temperature"
/// of thousands of devices) is one string every value of every such device passes through,
/// counted up on the decoding thread and down on the applying one.
#[derive(Clone)]
pub struct PropertyName(Text);

#[derive(Clone)]
enum Text {
    Counted(Arc<str>),
    /// Never freed (see [`PropertyName::kept`]).
    Kept(&'static Arc<str>),
}

/// Names [kept](PropertyName::kept) at most over the life of the process, and bytes of
/// their text: past them, names are counted (freed when dropped) and what is never freed
/// stays under a few megabytes whatever arrives.
pub const MAX_KEPT_NAMES: usize = 100_000;
pub const MAX_KEPT_NAME_BYTES: usize = 4 << 20;

/// The names kept so far.
static KEPT: super::kept::Kept<Arc<str>> =
    super::kept::Kept::new(MAX_KEPT_NAMES, MAX_KEPT_NAME_BYTES);

impl PropertyName {
    /// The process's one kept name with this text, made the first time: never freed, so
    /// its clones count nothing. For the names decoders hand out with every message (a
    /// Sparkplug birth's metric names, an [`Interner`](super::Interner)'s property names).
    /// Past [`MAX_KEPT_NAMES`] a counted one.
    pub fn kept(text: &str) -> Self {
        match KEPT.get_or_keep(text, |text| Arc::from(text), |kept| kept) {
            Some(kept) => PropertyName(Text::Kept(kept)),
            None => PropertyName(Text::Counted(text.into())),
        }
    }

    fn shared(&self) -> &Arc<str> {
        match &self.0 {
            Text::Counted(text) => text,
            Text::Kept(text) => text,
        }
    }

    pub fn as_str(&self) -> &str {
        self.shared()
    }

    /// The name as the shared string a property keeps (no copy of the text: a kept name
    /// holds one).
    pub fn to_arc(&self) -> Arc<str> {
        self.shared().clone()
    }
}

impl std::ops::Deref for PropertyName {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for PropertyName {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

/// By content; the same shared string is equal without reading it.
impl PartialEq for PropertyName {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(self.shared(), other.shared()) || self.as_str() == other.as_str()
    }
}

impl Eq for PropertyName {}

impl std::hash::Hash for PropertyName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for PropertyName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PropertyName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Debug for PropertyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for PropertyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Arc<str>> for PropertyName {
    fn from(text: Arc<str>) -> Self {
        PropertyName(Text::Counted(text))
    }
}

impl From<&Arc<str>> for PropertyName {
    fn from(text: &Arc<str>) -> Self {
        PropertyName(Text::Counted(text.clone()))
    }
}

impl From<&str> for PropertyName {
    fn from(text: &str) -> Self {
        PropertyName(Text::Counted(text.into()))
    }
}

impl From<String> for PropertyName {
    fn from(text: String) -> Self {
        PropertyName(Text::Counted(text.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kept name is one shared string per text for the whole process, equal to a counted
    /// one of the same text, and what a property keeps of it is that very string.
    #[test]
    fn kept_names_are_one_per_text() {
        let (a, b) = (
            PropertyName::kept("kept-test-flow"),
            PropertyName::kept("kept-test-flow"),
        );
        assert!(Arc::ptr_eq(&a.to_arc(), &b.to_arc()) && a == PropertyName::from("kept-test-flow"));
        assert_eq!(
            a.to_arc().as_ptr(),
            a.as_ptr(),
            "a property finds it by address"
        );
        assert_ne!(a, PropertyName::kept("kept-test-speed"));
        let huge = "x".repeat(MAX_KEPT_NAME_BYTES + 1);
        assert!(
            !Arc::ptr_eq(
                &PropertyName::kept(&huge).to_arc(),
                &PropertyName::kept(&huge).to_arc()
            ),
            "past the budget: counted"
        );
    }
}
