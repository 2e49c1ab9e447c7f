//! A bounded per-signal history, for trends, that never grows past its capacity.

use crate::time::Timestamp;

/// Samples a history makes room for at its first: half a minute at 1 Hz, 512 bytes. A live
/// property grows past it in its first minute; a seek's hold a few samples each.
const FIRST_ROOM: usize = 32;

/// One sample: when, and the value.
type Sample = (Timestamp, f64);

/// A ring's memory, its samples no longer counted.
pub(crate) struct Room(Box<[Sample]>);

/// The last `capacity` samples of one numeric signal, oldest first.
///
/// A ring of its own rather than a `VecDeque`: 24 bytes of bookkeeping instead of 40, so
/// that a [`Property`](super::Property) keeps all that applying a value touches in one
/// cache line.
#[derive(Debug, Clone)]
pub struct History {
    /// The room made so far (never more than `capacity`); the oldest sample is at `head`.
    samples: Box<[Sample]>,
    head: u32,
    len: u32,
    capacity: u32,
}

impl History {
    /// Room is made as samples come, [`FIRST_ROOM`] at first: a seek builds tens of thousands
    /// of histories holding a few samples each. With room for 64 made at once, a 20,000-signal
    /// seek spent about a third of its work in page faults and the allocator (median about 30
    /// ms; now about 20).
    pub fn with_capacity(capacity: usize) -> Self {
        History {
            samples: Box::default(),
            head: 0,
            len: 0,
            capacity: capacity.clamp(1, u32::MAX as usize) as u32,
        }
    }

    /// [`with_capacity`](Self::with_capacity), in the memory of a ring that is gone (a store
    /// built in an old one's room: see the store's `Room`). Its old samples are not kept.
    pub(crate) fn with_room(capacity: usize, room: Option<Room>) -> Self {
        let mut history = Self::with_capacity(capacity);
        if let Some(Room(samples)) = room
            && samples.len() <= history.capacity as usize
        {
            history.samples = samples;
        }
        history
    }

    /// This ring's memory for another (`None`: it had made none).
    pub(crate) fn into_room(self) -> Option<Room> {
        (!self.samples.is_empty()).then_some(Room(self.samples))
    }

    /// Appends a sample, dropping the oldest one when full.
    pub fn push(&mut self, time: Timestamp, value: f64) {
        if self.len == self.capacity {
            // Full (and then all the room there will be is made): the newest takes the
            // oldest's place.
            let head = self.head as usize;
            self.samples[head] = (time, value);
            self.head = if head + 1 == self.samples.len() {
                0
            } else {
                self.head + 1
            };
            return;
        }
        if self.len as usize == self.samples.len() {
            self.grow();
        }
        let at = self.slot(self.len);
        self.samples[at] = (time, value);
        self.len += 1;
    }

    /// Where the next sample is written (for a prefetch: when the ring grows it is
    /// elsewhere, and a prefetch of the wrong place costs nothing but the hint).
    pub(crate) fn next_slot(&self) -> *const u8 {
        let at = if self.len == self.capacity {
            self.head as usize
        } else {
            self.slot(self.len)
        };
        self.samples.as_ptr().wrapping_add(at) as *const u8
    }

    /// Where the `nth` sample from the oldest is kept (`nth` may be one past the last, while
    /// there is room for it).
    fn slot(&self, nth: u32) -> usize {
        let at = self.head as usize + nth as usize;
        if at >= self.samples.len() {
            at - self.samples.len()
        } else {
            at
        }
    }

    /// Room for more samples: doubling (from [`FIRST_ROOM`]), but never past the history's
    /// capacity (doubling alone takes 600 samples to room for 1,024, and a plant has tens of
    /// thousands of these). The samples move to the start of the new room, oldest first.
    fn grow(&mut self) {
        let len = self.len as usize;
        let room = (len.max(FIRST_ROOM / 2) * 2).min(self.capacity as usize);
        let mut samples = vec![(Timestamp(0), 0.0); room].into_boxed_slice();
        for (to, from) in samples.iter_mut().zip(self.iter()) {
            *to = *from;
        }
        self.samples = samples;
        self.head = 0;
    }

    /// Inserts a sample from the past (a Sparkplug historical value) where its time puts it;
    /// when full, one older than everything kept is not kept.
    pub fn insert_past(&mut self, time: Timestamp, value: f64) {
        let at = self.partition_point(time);
        if self.len == self.capacity {
            if at == 0 {
                return;
            }
            // The oldest goes; those older than the new one move one towards it.
            for nth in 1..at {
                let (from, to) = (self.slot(nth), self.slot(nth - 1));
                self.samples[to] = self.samples[from];
            }
            let slot = self.slot(at - 1);
            self.samples[slot] = (time, value);
            return;
        }
        if self.len as usize == self.samples.len() {
            self.grow();
        }
        // Those newer than the new one move one towards the end.
        for nth in (at..self.len).rev() {
            let (from, to) = (self.slot(nth), self.slot(nth + 1));
            self.samples[to] = self.samples[from];
        }
        let slot = self.slot(at);
        self.samples[slot] = (time, value);
        self.len += 1;
    }

    /// How many samples are at or before `time`.
    fn partition_point(&self, time: Timestamp) -> u32 {
        let (mut low, mut high) = (0, self.len);
        while low < high {
            let middle = low + (high - low) / 2;
            if self.samples[self.slot(middle)].0 <= time {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Sample> + ExactSizeIterator {
        (0..self.len).map(|nth| &self.samples[self.slot(nth)])
    }

    pub fn latest(&self) -> Option<Sample> {
        self.len
            .checked_sub(1)
            .map(|last| self.samples[self.slot(last)])
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
        assert!(
            history.samples.len() < 700,
            "room for {} samples",
            history.samples.len()
        );
    }

    #[test]
    fn a_history_takes_memory_only_as_samples_come() {
        let mut history = History::with_capacity(600);
        assert_eq!(
            history.samples.len(),
            0,
            "nothing set aside before the first sample"
        );
        history.push(Timestamp(1), 1.0);
        assert!(
            history.samples.len() <= FIRST_ROOM,
            "room for {} samples after one",
            history.samples.len()
        );
        let mut small = History::with_capacity(2);
        for t in 0..5 {
            small.push(Timestamp(t), t as f64);
        }
        assert_eq!(
            (small.len(), small.samples.len()),
            (2, 2),
            "never room past the capacity"
        );
    }

    #[test]
    fn past_samples_go_where_their_time_puts_them() {
        let mut history = History::with_capacity(3);
        for t in [10, 30] {
            history.push(Timestamp(t), t as f64);
        }
        history.insert_past(Timestamp(20), 20.0);
        assert_eq!(
            history.iter().map(|s| s.0.0).collect::<Vec<_>>(),
            [10, 20, 30]
        );
        history.insert_past(Timestamp(5), 5.0);
        assert_eq!(
            history.iter().map(|s| s.0.0).collect::<Vec<_>>(),
            [10, 20, 30],
            "older than all kept when full"
        );
        history.insert_past(Timestamp(25), 25.0);
        assert_eq!(
            history.iter().map(|s| s.0.0).collect::<Vec<_>>(),
            [20, 25, 30]
        );
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

    /// The ring against the plain deque it replaced, through growing, wrapping and
    /// inserting past samples, at capacities below, at and past its first room.
    #[test]
    fn the_ring_keeps_what_a_deque_would() {
        use std::collections::VecDeque;
        for capacity in [1, 2, 3, 31, 32, 33, 70] {
            let mut ring = History::with_capacity(capacity);
            let mut deque: VecDeque<Sample> = VecDeque::new();
            let mut seed = 7u64 + capacity as u64;
            for step in 0..400i64 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let time = Timestamp(step * 10);
                if seed >> 62 == 0 {
                    // A past sample, somewhere among (or before) those kept.
                    let time = Timestamp(step * 10 - ((seed >> 20) % 200) as i64);
                    ring.insert_past(time, -(step as f64));
                    let at = deque.partition_point(|(t, _)| *t <= time);
                    if deque.len() == capacity {
                        if at > 0 {
                            deque.pop_front();
                            deque.insert(at - 1, (time, -(step as f64)));
                        }
                    } else {
                        deque.insert(at, (time, -(step as f64)));
                    }
                } else {
                    ring.push(time, step as f64);
                    if deque.len() == capacity {
                        deque.pop_front();
                    }
                    deque.push_back((time, step as f64));
                }
                assert!(
                    ring.iter().eq(deque.iter()),
                    "capacity {capacity}, step {step}"
                );
                assert_eq!(
                    (ring.len(), ring.latest()),
                    (deque.len(), deque.back().copied())
                );
                assert!(ring.iter().rev().eq(deque.iter().rev()));
                assert!(ring.samples.len() <= capacity.max(1));
            }
        }
    }

    #[test]
    fn zero_capacity_still_holds_the_latest() {
        let mut history = History::with_capacity(0);
        history.push(Timestamp(1), 1.0);
        history.push(Timestamp(2), 2.0);
        assert_eq!(history.len(), 1);
    }
}
