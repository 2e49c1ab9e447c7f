//! A bounded per-signal history, for trends, that never grows past its capacity.

use std::collections::VecDeque;

use crate::time::Timestamp;

/// The last `capacity` samples of one numeric signal, oldest first.
#[derive(Debug, Clone)]
pub struct History {
    samples: VecDeque<(Timestamp, f64)>,
    capacity: usize,
}

impl History {
    pub fn with_capacity(capacity: usize) -> Self {
        History { samples: VecDeque::with_capacity(capacity.min(64)), capacity: capacity.max(1) }
    }

    /// Appends a sample, dropping the oldest one when full.
    pub fn push(&mut self, time: Timestamp, value: f64) {
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back((time, value));
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &(Timestamp, f64)> + ExactSizeIterator {
        self.samples.iter()
    }

    pub fn latest(&self) -> Option<(Timestamp, f64)> {
        self.samples.back().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_newest_samples() {
        let mut history = History::with_capacity(3);
        for i in 0..10 {
            history.push(Timestamp(i), i as f64);
        }
        assert_eq!(history.len(), 3);
        let values: Vec<f64> = history.iter().map(|s| s.1).collect();
        assert_eq!(values, [7.0, 8.0, 9.0]);
        assert_eq!(history.latest(), Some((Timestamp(9), 9.0)));
    }

    #[test]
    fn zero_capacity_still_holds_the_latest() {
        let mut history = History::with_capacity(0);
        history.push(Timestamp(1), 1.0);
        history.push(Timestamp(2), 2.0);
        assert_eq!(history.len(), 1);
    }
}
