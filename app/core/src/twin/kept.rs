//! Values kept for the life of the process, one per text: what decoders hand out with every
//! message (twin ids, metric names), so that passing one on changes no reference count. Both
//! caps bound what is never freed whatever arrives; past them the caller makes a counted
//! value instead.

use std::sync::{LazyLock, Mutex, PoisonError};

/// A process-wide set of values by their text, never freed.
pub(super) struct Kept<T: 'static> {
    values: LazyLock<Mutex<(foldhash::HashMap<&'static str, &'static T>, usize)>>,
    max_values: usize,
    max_text_bytes: usize,
}

impl<T: Send + Sync> Kept<T> {
    pub(super) const fn new(max_values: usize, max_text_bytes: usize) -> Self {
        Kept {
            values: LazyLock::new(Default::default),
            max_values,
            max_text_bytes,
        }
    }

    /// The value kept for `text`, made by `make` the first time (and its text, inside it, by
    /// `text_of`); `None` past either cap.
    pub(super) fn get_or_keep(
        &self,
        text: &str,
        make: impl FnOnce(&str) -> T,
        text_of: impl FnOnce(&'static T) -> &'static str,
    ) -> Option<&'static T> {
        let mut kept = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        let (values, text_bytes) = &mut *kept;
        if let Some(existing) = values.get(text) {
            return Some(existing);
        }
        if values.len() >= self.max_values || *text_bytes + text.len() > self.max_text_bytes {
            return None;
        }
        let value: &'static T = Box::leak(Box::new(make(text)));
        values.insert(text_of(value), value);
        *text_bytes += text.len();
        Some(value)
    }
}
