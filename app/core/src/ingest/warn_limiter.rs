//! At most one warning per key (topic) per window, so a misbehaving publisher cannot flood
//! the log, while every failure is still counted.

use std::collections::HashMap;
use std::time::{Duration, Instant};

pub struct WarnLimiter {
    window: Duration,
    last: HashMap<String, Instant>,
}

/// Keys kept before old ones are forgotten (a flood of unique topics must not grow memory).
const MAX_KEYS: usize = 10_000;

impl WarnLimiter {
    pub fn new(window: Duration) -> Self {
        WarnLimiter {
            window,
            last: HashMap::new(),
        }
    }

    /// True if a warning for `key` may be logged now.
    pub fn allow(&mut self, key: &str, now: Instant) -> bool {
        if let Some(last) = self.last.get_mut(key) {
            if now.duration_since(*last) < self.window {
                return false;
            }
            *last = now;
            return true;
        }
        if self.last.len() >= MAX_KEYS {
            let window = self.window;
            self.last
                .retain(|_, last| now.duration_since(*last) < window);
            if self.last.len() >= MAX_KEYS {
                return false;
            }
        }
        self.last.insert(key.to_owned(), now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_key_per_window() {
        let mut limiter = WarnLimiter::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(limiter.allow("a", t0));
        assert!(!limiter.allow("a", t0 + Duration::from_secs(59)));
        assert!(limiter.allow("b", t0));
        assert!(limiter.allow("a", t0 + Duration::from_secs(61)));
    }
}
