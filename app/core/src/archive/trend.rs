//! Trends that zoom from a year to a second: the coarsest data that still gives at least one
//! bucket per pixel column (hour rollups, minute rollups, or raw samples), folded into
//! columns that are exact unions of buckets, so each column's min and max are the raw data's
//! (M4: a spike is never lost when zoomed out). Hours a day's rollup does not hold yet (the
//! hour being archived) are read from raw, and a live tail joins on after the newest archived
//! sample.

use std::path::Path;

use super::layout::{
    DAY_US, Day, HOUR_US, Hour, Table, days_in, parquet_files, partition_dir, rollup_path,
};
use super::read::TableFile;
use super::rollup::MINUTE_US;
use super::rows::{Bucket, Sample, bucket_samples};

/// What a trend is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Raw,
    Minute,
    Hour,
}

impl Level {
    /// The bucket width, µs (raw: none).
    pub fn width(self) -> Option<i64> {
        match self {
            Level::Raw => None,
            Level::Minute => Some(MINUTE_US),
            Level::Hour => Some(HOUR_US),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Raw => "raw samples",
            Level::Minute => "1-minute rollups",
            Level::Hour => "1-hour rollups",
        }
    }
}

/// A trend to load: one property of one twin, over a span, for a plot so many columns wide.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendQuery {
    pub twin: String,
    pub property: String,
    /// UTC µs, inclusive.
    pub from: i64,
    pub to: i64,
    /// Pixel columns of the plot.
    pub columns: usize,
}

/// A loaded trend.
#[derive(Debug, Clone, Default)]
pub struct Trend {
    pub level: Option<Level>,
    /// The first column's start (µs) and every column's width.
    pub start: i64,
    pub width: i64,
    /// The columns that hold data, in time order; each `start` is its column's start.
    pub columns: Vec<Bucket>,
    /// The raw samples, when zoomed in so far that there are at most two per column.
    pub samples: Vec<Sample>,
    /// The newest sample time the archive gave (the live tail joins after it).
    pub newest: Option<i64>,
    pub files_read: usize,
    /// Files skipped (damaged, foreign), each named.
    pub warnings: Vec<String>,
}

/// The level for a span drawn over `columns` columns: the coarsest with one bucket or more
/// per column.
pub fn level_for(from: i64, to: i64, columns: usize) -> Level {
    let per_column = (to.saturating_sub(from)).max(1) / columns.max(1) as i64;
    if per_column >= HOUR_US {
        Level::Hour
    } else if per_column >= MINUTE_US {
        Level::Minute
    } else {
        Level::Raw
    }
}

/// Loads a trend from the archive at `root`.
pub fn load(root: &Path, query: &TrendQuery) -> Trend {
    let (from, to) = (query.from.min(query.to), query.from.max(query.to));
    let columns = query.columns.clamp(1, 100_000);
    let level = level_for(from, to, columns);
    // At most `columns` columns, each a whole number of buckets starting on a bucket boundary.
    let per_column = ((to - from).max(1) + columns as i64 - 1) / columns as i64;
    let (start, width) = match level.width() {
        Some(bucket) => (
            from.div_euclid(bucket) * bucket,
            ((per_column + bucket - 1) / bucket).max(1) * bucket,
        ),
        None => (from, per_column.max(1)),
    };
    let mut trend = Trend {
        level: Some(level),
        start,
        width,
        ..Trend::default()
    };
    let mut buckets = Vec::new();
    let mut samples = Vec::new();
    let (twin, property) = (query.twin.as_str(), query.property.as_str());
    let mut days: Vec<Day> = days_in(root, Table::Raw);
    if level != Level::Raw {
        days.extend(days_in(root, level_table(level)));
        days.sort();
        days.dedup();
    }
    for day in days
        .into_iter()
        .filter(|d| d.start_us() <= to && d.start_us() + DAY_US > from)
    {
        let mut held = Vec::new();
        if level != Level::Raw {
            let path = rollup_path(root, level_table(level), day);
            if path.exists() {
                match TableFile::open(&path, level_table(level)) {
                    Ok(file) => {
                        trend.files_read += 1;
                        held = file.hours_held();
                        if let Err(error) =
                            file.read_buckets(twin, property, from.min(start), to, &mut buckets)
                        {
                            trend.warnings.push(format!("skipped {error}"));
                            held.clear();
                        }
                    }
                    Err(error) => trend.warnings.push(format!("skipped {error}")),
                }
            }
        }
        for hour in day.hours() {
            let (h0, h1) = (hour.start_us(), hour.start_us() + HOUR_US - 1);
            if h1 < from || h0 > to || held.contains(&hour.of_day()) {
                continue;
            }
            let before = samples.len();
            read_raw_hour(
                root,
                hour,
                twin,
                property,
                start,
                to,
                &mut samples,
                &mut trend,
            );
            if let Some(bucket) = level.width() {
                let hour_samples = &mut samples[before..];
                hour_samples.sort_by_key(|s| s.time);
                bucket_samples(hour_samples, bucket, &mut buckets);
                samples.truncate(before);
            }
        }
    }
    buckets.sort_by_key(|b| b.start);
    samples.sort_by_key(|s| s.time);
    trend.newest = samples
        .last()
        .map(|s| s.time)
        .max(buckets.last().map(|b| b.start));
    if level == Level::Raw {
        let mut raw_buckets = Vec::new();
        bucket_samples(&samples, 1, &mut raw_buckets);
        buckets = raw_buckets;
    }
    trend.columns = fold_columns(&buckets, start, width);
    if level == Level::Raw && samples.len() <= 2 * columns {
        trend.samples = samples;
    }
    trend
}

fn level_table(level: Level) -> Table {
    match level {
        Level::Hour => Table::Rollup1h,
        _ => Table::Rollup1m,
    }
}

#[allow(clippy::too_many_arguments)]
fn read_raw_hour(
    root: &Path,
    hour: Hour,
    twin: &str,
    property: &str,
    from: i64,
    to: i64,
    out: &mut Vec<Sample>,
    trend: &mut Trend,
) {
    for part in parquet_files(&partition_dir(root, Table::Raw, hour)) {
        let read = TableFile::open(&part, Table::Raw)
            .and_then(|file| file.read_series(twin, property, from, to, out));
        trend.files_read += 1;
        if let Err(error) = read {
            trend.warnings.push(format!("skipped {error}"));
        }
    }
}

/// Buckets (time order) folded into columns `width` wide from `start`.
pub fn fold_columns(buckets: &[Bucket], start: i64, width: i64) -> Vec<Bucket> {
    let mut columns: Vec<Bucket> = Vec::new();
    for b in buckets {
        if b.start < start {
            continue;
        }
        let column_start = start + (b.start - start) / width * width;
        match columns.last_mut() {
            Some(last) if last.start == column_start => last.merge(b),
            _ => columns.push(Bucket {
                start: column_start,
                ..*b
            }),
        }
    }
    columns
}

impl Trend {
    /// Joins a live tail on (samples newer than the archive's newest, in time order).
    pub fn join_tail(&mut self, tail: impl IntoIterator<Item = (i64, f64)>) {
        let newest = self.newest.unwrap_or(i64::MIN);
        let width = self.width.max(1);
        for (time, value) in tail {
            if time <= newest || time < self.start || !value.is_finite() {
                continue;
            }
            let column_start = self.start + (time - self.start) / width * width;
            match self.columns.last_mut() {
                Some(last) if last.start == column_start => last.add(value),
                Some(last) if last.start > column_start => continue,
                _ => self.columns.push(Bucket::of(column_start, value)),
            }
            if self.level == Some(Level::Raw) && !self.samples.is_empty() {
                self.samples.push(Sample {
                    time,
                    value,
                    quality: super::rows::Quality::Good,
                });
            }
        }
    }
}
