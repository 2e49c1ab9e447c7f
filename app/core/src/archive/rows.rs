//! The rows the archive holds, as the writer buffers them and the reader returns them.

use std::sync::Arc;

/// How a sample came: live, or a value from the past (Sparkplug `is_historical`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Quality {
    Good = 0,
    Historical = 1,
}

impl Quality {
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Good => "good",
            Quality::Historical => "historical",
        }
    }

    pub fn parse(text: &[u8]) -> Quality {
        if text == b"historical" {
            Quality::Historical
        } else {
            Quality::Good
        }
    }
}

/// One numeric sample of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// UTC microseconds.
    pub time: i64,
    pub value: f64,
    pub quality: Quality,
}

/// What a series is: a twin's property, with the unit it had (a changed unit is a new series).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    pub twin: Arc<str>,
    pub property: Arc<str>,
    pub unit: Option<Arc<str>>,
}

/// A text value: an event, a twin fragment (its JSON), a health or online change.
#[derive(Debug, Clone, PartialEq)]
pub struct TextRow {
    pub time: i64,
    pub twin: Arc<str>,
    /// The event type, fragment name, `health` or `online`.
    pub property: Arc<str>,
    /// `event`, `fragment`, `health` or `online`.
    pub kind: &'static str,
    /// `None` when a fragment was removed.
    pub text: Option<String>,
}

/// An alarm transition.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmRow {
    pub time: i64,
    pub twin: Arc<str>,
    pub alarm_type: Arc<str>,
    /// `raised` or `cleared`.
    pub state: &'static str,
    /// Severity of a raised alarm (`warning`, `minor`, `major`, `critical`).
    pub severity: Option<&'static str>,
    pub text: Option<String>,
}

/// A twin as registered: where it sits in the plant.
#[derive(Debug, Clone, PartialEq)]
pub struct TwinRow {
    pub time: i64,
    pub twin: Arc<str>,
    pub parent: Option<Arc<str>>,
    /// The ids from the root down to this twin, joined by `/`.
    pub path: String,
    pub display_name: Option<String>,
    pub entity_type: Option<String>,
}

/// The aggregate of a series over one bucket of time: what rollups store and trends draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// The bucket's start, UTC microseconds.
    pub start: i64,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub count: u64,
    pub first: f64,
    pub last: f64,
}

impl Bucket {
    pub fn of(start: i64, value: f64) -> Bucket {
        Bucket {
            start,
            min: value,
            max: value,
            sum: value,
            count: 1,
            first: value,
            last: value,
        }
    }

    /// Adds a later sample.
    pub fn add(&mut self, value: f64) {
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.sum += value;
        self.count += 1;
        self.last = value;
    }

    /// Takes in a later bucket (buckets merge in time order).
    pub fn merge(&mut self, later: &Bucket) {
        self.min = self.min.min(later.min);
        self.max = self.max.max(later.max);
        self.sum += later.sum;
        self.count += later.count;
        self.last = later.last;
    }

    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.sum / self.count as f64
        }
    }
}

/// Sorted samples (by time) folded into buckets `width` µs wide, aligned to the epoch.
pub fn bucket_samples(samples: &[Sample], width: i64, out: &mut Vec<Bucket>) {
    let mut current: Option<Bucket> = None;
    for s in samples {
        if !s.value.is_finite() {
            continue;
        }
        let start = s.time.div_euclid(width) * width;
        match &mut current {
            Some(b) if b.start == start => b.add(s.value),
            _ => {
                if let Some(done) = current.take() {
                    out.push(done);
                }
                current = Some(Bucket::of(start, s.value));
            }
        }
    }
    out.extend(current);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_keep_extremes_first_last_and_count() {
        let s = |t: i64, v: f64| Sample {
            time: t,
            value: v,
            quality: Quality::Good,
        };
        let mut out = Vec::new();
        bucket_samples(
            &[
                s(0, 3.0),
                s(10, -1.0),
                s(59, 7.0),
                s(60, 2.0),
                s(61, f64::NAN),
            ],
            60,
            &mut out,
        );
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].min, out[0].max, out[0].count), (-1.0, 7.0, 3));
        assert_eq!((out[0].first, out[0].last, out[0].sum), (3.0, 7.0, 9.0));
        assert_eq!(
            (out[1].start, out[1].count),
            (60, 1),
            "NaN is not a value to aggregate"
        );
    }
}
