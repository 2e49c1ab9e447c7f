//! A hybrid logical clock (Kulkarni et al., 2014): wall-clock milliseconds that never go
//! backwards and move past every clock heard from others. Two edits of one note, made on two
//! viewers at the same moment, are ordered the same way on every viewer by (clock, user),
//! whatever order their messages arrive in, and an edit made after hearing another always
//! orders after it, even when the two machines' clocks disagree.

use serde::{Deserialize, Serialize};

/// One instant of the clock: wall milliseconds since the Unix epoch, and a counter for events
/// within one millisecond (or while the wall clock lags a clock heard).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Stamp(pub u64, pub u32);

impl Stamp {
    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> u64 {
        self.0
    }
}

/// How far ahead of our own wall clock a heard stamp may be before it is not believed (a
/// peer's clock an hour fast would otherwise drag every later edit along).
pub const MAX_DRIFT_MS: u64 = 60_000;

/// The clock of one participant.
#[derive(Debug, Clone, Default)]
pub struct HybridClock {
    last: Stamp,
}

impl HybridClock {
    /// The stamp for an event of ours now (`wall`: our wall clock, ms since the epoch).
    pub fn tick(&mut self, wall: u64) -> Stamp {
        self.last = if wall > self.last.0 {
            Stamp(wall, 0)
        } else {
            Stamp(self.last.0, self.last.1.saturating_add(1))
        };
        self.last
    }

    /// Takes in a stamp heard from another participant; `false` (and not taken) when it is
    /// further ahead of `wall` than [`MAX_DRIFT_MS`].
    pub fn observe(&mut self, heard: Stamp, wall: u64) -> bool {
        if heard.0 > wall.saturating_add(MAX_DRIFT_MS) {
            return false;
        }
        if heard > self.last {
            self.last = heard;
        }
        true
    }

    /// Our wall clock, in ms since the Unix epoch.
    pub fn wall_now() -> u64 {
        (crate::time::Timestamp::now().0 / 1000).max(0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_follow_the_wall_clock_and_never_go_back() {
        let mut clock = HybridClock::default();
        assert_eq!(clock.tick(1000), Stamp(1000, 0));
        assert_eq!(
            clock.tick(1000),
            Stamp(1000, 1),
            "two events in one millisecond"
        );
        assert_eq!(
            clock.tick(999),
            Stamp(1000, 2),
            "the wall clock stepped back: the stamp did not"
        );
        assert_eq!(clock.tick(1005), Stamp(1005, 0));
    }

    #[test]
    fn an_edit_after_hearing_one_orders_after_it_even_with_a_slow_clock() {
        let (mut fast, mut slow) = (HybridClock::default(), HybridClock::default());
        let theirs = fast.tick(10_000);
        assert!(slow.observe(theirs, 7_000), "3 s ahead of us is believed");
        let ours = slow.tick(7_001);
        assert!(ours > theirs, "{ours:?} after {theirs:?}");
    }

    #[test]
    fn a_stamp_far_in_the_future_is_not_believed() {
        let mut clock = HybridClock::default();
        assert!(!clock.observe(Stamp(10_000 + MAX_DRIFT_MS + 1, 0), 10_000));
        assert_eq!(clock.tick(10_000), Stamp(10_000, 0));
    }
}
