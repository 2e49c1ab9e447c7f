//! A bounded per-signal history, for trends, that never grows past its capacity.

use std::collections::VecDeque;

use crate::time::Timestamp;

/// Samples a history makes room for at its first: half a minute at 1 Hz, 512 bytes. A live
/// property grows past it in its first minute; a seek's hold a few samples each.
const FIRST_ROOM: usize = 32;

/// The last `capacity` samples of one numeric signal, oldest first.
#[derive(Debug, Clone)]
pub struct History {
    samples: VecDeque<(Timestamp, f64)>,
    capacity: usize,
}

impl History {
    /// Room is made as samples come, [`FIRST_ROOM`] at first: a seek builds tens of thousands
    /// of histories holding a few samples each. With room for 64 made at once, a 20,000-signal
    /// seek spent about a third of its work in page faults and the allocator (median about 30
    /// ms; now about 20).
    pub fn with_capacity(capacity: usize) -> Self {
        History { samples: VecDeque::new(), capacity: capacity.max(1) }
    }

    /// Appends a sample, dropping the oldest one when full.
    pub fn push(&mut self, time: Timestamp, value: f64) {
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.grow_for_one();
        self.samples.push_back((time, value));
    }

    /// Where the next sample is written (roughly, for a prefetch: when the ring wraps or
    /// grows it is elsewhere, and a prefetch of the wrong place costs nothing but the hint).
    pub(crate) fn next_slot(&self) -> *const u8 {
        let (front, back) = self.samples.as_slices();
        let last = if back.is_empty() { front } else { back };
        last.as_ptr().wrapping_add(last.len()) as *const u8
    }

    /// Room for one more sample: doubling as a deque does (from [`FIRST_ROOM`]), but never
    /// past the history's capacity (doubling alone takes 600 samples to room for 1,024, and
    /// a plant has tens of thousands of these).
    fn grow_for_one(&mut self) {
        let len = self.samples.len();
        if len == self.samples.capacity() && len < self.capacity {
            self.samples.reserve_exact(len.max(FIRST_ROOM).min(self.capacity - len));
        }
    }

    /// Inserts a sample from the past (a Sparkplug historical value) where its time puts it;
    /// when full, one older than everything kept is not kept.
    pub fn insert_past(&mut self, time: Timestamp, value: f64) {
        let at = self.samples.partition_point(|(t, _)| *t <= time);
        if self.samples.len() == self.capacity {
            if at == 0 {
                return;
            }
            self.samples.pop_front();
            self.samples.insert(at - 1, (time, value));
        } else {
            self.grow_for_one();
            self.samples.insert(at, (time, value));
        }
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
    fn a_full_history_holds_no_more_room_than_its_capacity() {
        let mut history = History::with_capacity(600);
        for t in 0..2_000 {
            history.push(Timestamp(t), t as f64);
        }
        assert_eq!(history.len(), 600);
        assert!(history.samples.capacity() < 700, "room for {} samples", history.samples.capacity());
    }

    #[test]
    fn a_history_takes_memory_only_as_samples_come() {
        let mut history = History::with_capacity(600);
        assert_eq!(history.samples.capacity(), 0, "nothing set aside before the first sample");
        history.push(Timestamp(1), 1.0);
        assert!(history.samples.capacity() <= FIRST_ROOM, "room for {} samples after one", history.samples.capacity());
        let mut small = History::with_capacity(2);
        for t in 0..5 {
            small.push(Timestamp(t), t as f64);
        }
        assert_eq!((small.len(), small.samples.capacity()), (2, 2), "never room past the capacity");
    }

    #[test]
    fn past_samples_go_where_their_time_puts_them() {
        let mut history = History::with_capacity(3);
        for t in [10, 30] {
            history.push(Timestamp(t), t as f64);
        }
        history.insert_past(Timestamp(20), 20.0);
        assert_eq!(history.iter().map(|s| s.0.0).collect::<Vec<_>>(), [10, 20, 30]);
        history.insert_past(Timestamp(5), 5.0);
        assert_eq!(history.iter().map(|s| s.0.0).collect::<Vec<_>>(), [10, 20, 30], "older than all kept when full");
        history.insert_past(Timestamp(25), 25.0);
        assert_eq!(history.iter().map(|s| s.0.0).collect::<Vec<_>>(), [20, 25, 30]);
        assert_eq!(history.latest(), Some((Timestamp(30), 30.0)));
    }

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
