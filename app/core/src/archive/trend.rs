//! Trends that zoom from a year to a second: the coarsest data that still gives at least one
//! bucket per pixel column (hour rollups, minute rollups, or raw samples), folded into
//! columns that are exact unions of buckets, so each column's min and max are the raw data's
//! (M4: a spike is never lost when zoomed out). Hours a day's rollup does not hold yet (the
//! hour being archived) are read from raw, and a live tail joins on after the newest archived
//! sample.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::layout::{
    DAY_US, Day, HOUR_US, Table, days_in, parquet_files, partition_dir, rollup_path,
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
    /// Files whose series came from the cache (unchanged since they were read).
    pub files_cached: usize,
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

/// Loads a trend from the archive at `root`, reading every file it needs.
pub fn load(root: &Path, query: &TrendQuery) -> Trend {
    load_cached(root, query, &mut TrendCache::default())
}

/// [`load`], keeping what each file held for the series in `cache`: a pan or zoom reads only
/// the files it did not read before (a file changed since is read again).
pub fn load_cached(root: &Path, query: &TrendQuery, cache: &mut TrendCache) -> Trend {
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
    let mut samples: Vec<Sample> = Vec::new();
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
            if let Some(read) = cache.read(&path, twin, property, &mut trend, |path| {
                let file = TableFile::open(path, level_table(level))?;
                let mut buckets = Vec::new();
                file.read_buckets(twin, property, i64::MIN, i64::MAX, &mut buckets)?;
                Ok(Cached::Rollup {
                    held: file.hours_held(),
                    buckets,
                })
            }) && let Cached::Rollup {
                held: hours,
                buckets: all,
            } = &*read
            {
                held = hours.clone();
                buckets.extend(all.iter().filter(|b| b.start >= start && b.start <= to));
            }
        }
        for hour in day.hours() {
            let (h0, h1) = (hour.start_us(), hour.start_us() + HOUR_US - 1);
            if h1 < from || h0 > to || held.contains(&hour.of_day()) {
                continue;
            }
            let before = samples.len();
            for part in parquet_files(&partition_dir(root, Table::Raw, hour)) {
                if let Some(read) = cache.read(&part, twin, property, &mut trend, |path| {
                    let mut samples = Vec::new();
                    TableFile::open(path, Table::Raw)?.read_series(
                        twin,
                        property,
                        i64::MIN,
                        i64::MAX,
                        &mut samples,
                    )?;
                    Ok(Cached::Raw(samples))
                }) && let Cached::Raw(all) = &*read
                {
                    samples.extend(all.iter().filter(|s| s.time >= start && s.time <= to));
                }
            }
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

/// What a file held for one series.
#[derive(Debug)]
pub enum Cached {
    Rollup {
        held: Vec<i64>,
        buckets: Vec<Bucket>,
    },
    Raw(Vec<Sample>),
}

impl Cached {
    fn items(&self) -> usize {
        match self {
            Cached::Rollup { buckets, .. } => buckets.len() + 1,
            Cached::Raw(samples) => samples.len() + 1,
        }
    }
}

type CacheKey = (PathBuf, String, String);

/// What files held for the series trends were loaded for, checked against each file's size
/// and modification time before use; at most [`TrendCache::MAX_ITEMS`] samples and buckets,
/// the oldest read dropped first.
#[derive(Default)]
pub struct TrendCache {
    entries: HashMap<CacheKey, ((u64, Option<SystemTime>), Arc<Cached>)>,
    order: VecDeque<CacheKey>,
    items: usize,
}

impl TrendCache {
    /// About 100 MB of samples and buckets.
    pub const MAX_ITEMS: usize = 2_000_000;

    /// The series in `path`, from the cache when the file is unchanged, else read (and a
    /// failure noted in the trend's warnings).
    fn read(
        &mut self,
        path: &Path,
        twin: &str,
        property: &str,
        trend: &mut Trend,
        read: impl FnOnce(&Path) -> Result<Cached, super::ArchiveError>,
    ) -> Option<Arc<Cached>> {
        let meta = std::fs::metadata(path).ok()?;
        let stamp = (meta.len(), meta.modified().ok());
        let key = (path.to_owned(), twin.to_owned(), property.to_owned());
        if let Some((seen, cached)) = self.entries.get(&key)
            && *seen == stamp
        {
            trend.files_cached += 1;
            return Some(cached.clone());
        }
        trend.files_read += 1;
        match read(path) {
            Ok(cached) => {
                let cached = Arc::new(cached);
                self.items += cached.items();
                if let Some((_, old)) = self.entries.insert(key.clone(), (stamp, cached.clone())) {
                    self.items -= old.items();
                } else {
                    self.order.push_back(key);
                }
                while self.items > Self::MAX_ITEMS {
                    let Some(oldest) = self.order.pop_front() else {
                        break;
                    };
                    if let Some((_, old)) = self.entries.remove(&oldest) {
                        self.items -= old.items();
                    }
                }
                Some(cached)
            }
            Err(error) => {
                trend.warnings.push(format!("skipped {error}"));
                None
            }
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
    /// The columns with a live tail joined on (samples newer than the archive's newest, in
    /// time order): what a frame draws, the loaded trend left as it is.
    pub fn columns_with_tail(&self, tail: impl IntoIterator<Item = (i64, f64)>) -> Vec<Bucket> {
        let mut columns = self.columns.clone();
        let newest = self.newest.unwrap_or(i64::MIN);
        let width = self.width.max(1);
        for (time, value) in tail {
            if time <= newest || time < self.start || !value.is_finite() {
                continue;
            }
            let column_start = self.start + (time - self.start) / width * width;
            match columns.last_mut() {
                Some(last) if last.start == column_start => last.add(value),
                Some(last) if last.start > column_start => continue,
                _ => columns.push(Bucket::of(column_start, value)),
            }
        }
        columns
    }
}
