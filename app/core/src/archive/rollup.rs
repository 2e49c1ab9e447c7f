//! Rollups beside the raw data, per series: one-minute and one-hour buckets with min, max,
//! sum, count, first and last, one file per day each, so a month of trend opens from thirty
//! small reads and a year from a few hundred.
//!
//! They are derived data, kept up to date by file times: closing an hour aggregates that
//! hour's raw parts into its staging file (`_rollup_1m_by_hour`), and a day's minute and hour
//! rollups are put together again from its staging files. A crash, a late part or a second
//! conversion into the same hour makes the staging file older than a raw part, and it is
//! rebuilt; nothing is ever patched in place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::error::ArchiveError;
use super::layout::{
    Day, HOUR_US, Hour, ROLLUP_FILE, Table, days_in, parquet_files, partition_dir, rollup_path,
};
use super::read::{TableFile, bucket_at};
use super::rows::{Bucket, SeriesKey};
use super::schema::FileNotes;
use super::seal::units_json;
use super::table_writer::{Cell, TableWriter, text};

pub const MINUTE_US: i64 = 60_000_000;

/// A bucket being built, with the times of its first and last value (parts of an hour may
/// arrive in any order, so first and last are decided by time, not by reading order).
#[derive(Clone, Copy)]
struct Building {
    bucket: Bucket,
    first_time: i64,
    last_time: i64,
}

/// A series' buckets, and its unit (the twin and property make the series: a value archived
/// before its unit was known is the same signal).
#[derive(Default)]
struct Series {
    unit: Option<Arc<str>>,
    buckets: BTreeMap<i64, Building>,
}

/// Keyed by twin and property (the key's unit is left out).
type Aggregates = BTreeMap<SeriesKey, Series>;

fn fold(aggregates: &mut Aggregates, key: &SeriesKey, width: i64, time: i64, b: &Bucket) {
    let start = time.div_euclid(width) * width;
    let series = match aggregates.get_mut(&SeriesKey {
        unit: None,
        ..key.clone()
    }) {
        Some(series) => series,
        None => aggregates
            .entry(SeriesKey {
                unit: None,
                ..key.clone()
            })
            .or_default(),
    };
    if key.unit.is_some() {
        series.unit = key.unit.clone();
    }
    let buckets = &mut series.buckets;
    match buckets.get_mut(&start) {
        Some(building) => {
            let into = &mut building.bucket;
            into.min = into.min.min(b.min);
            into.max = into.max.max(b.max);
            into.sum += b.sum;
            into.count += b.count;
            if time < building.first_time {
                building.first_time = time;
                into.first = b.first;
            }
            if time >= building.last_time {
                building.last_time = time;
                into.last = b.last;
            }
        }
        None => {
            buckets.insert(
                start,
                Building {
                    bucket: Bucket { start, ..*b },
                    first_time: time,
                    last_time: time,
                },
            );
        }
    }
}

/// Interns names read from files: a series' key is built once, not once per row (rows come
/// sorted by series, so the last key answers almost every lookup).
#[derive(Default)]
struct Keys {
    known: std::collections::HashMap<(Vec<u8>, Vec<u8>, Option<Vec<u8>>), SeriesKey>,
    last: Option<SeriesKey>,
}

impl Keys {
    fn key(&mut self, twin: &[u8], property: &[u8], unit: Option<&[u8]>) -> Option<SeriesKey> {
        if let Some(last) = &self.last
            && last.twin.as_bytes() == twin
            && last.property.as_bytes() == property
            && last.unit.as_deref().map(str::as_bytes) == unit
        {
            return Some(last.clone());
        }
        let probe = (twin.to_vec(), property.to_vec(), unit.map(<[u8]>::to_vec));
        let key = match self.known.get(&probe) {
            Some(key) => key.clone(),
            None => {
                let s = |b: &[u8]| std::str::from_utf8(b).ok().map(Arc::<str>::from);
                let key = SeriesKey {
                    twin: s(twin)?,
                    property: s(property)?,
                    unit: match unit {
                        Some(u) => Some(s(u)?),
                        None => None,
                    },
                };
                self.known.insert(probe, key.clone());
                key
            }
        };
        self.last = Some(key.clone());
        Some(key)
    }
}

/// Aggregates `hour`'s raw parts into its minute staging file. Unreadable parts are skipped
/// and named in the returned warnings.
pub fn rebuild_hour_staging(root: &Path, hour: Hour) -> Result<Vec<String>, ArchiveError> {
    let mut aggregates = Aggregates::new();
    let mut keys = Keys::default();
    let mut warnings = Vec::new();
    for part in parquet_files(&partition_dir(root, Table::Raw, hour)) {
        let scanned = TableFile::open(&part, Table::Raw).and_then(|file| {
            file.scan(|batch| {
                for r in 0..batch.rows {
                    let value = batch.doubles[3][r];
                    if !value.is_finite() {
                        continue;
                    }
                    let unit = (!batch.nulls[4][r]).then(|| batch.texts[4][r].data());
                    let Some(key) =
                        keys.key(batch.texts[1][r].data(), batch.texts[2][r].data(), unit)
                    else {
                        continue;
                    };
                    let key = &key;
                    let time = batch.ints[0][r];
                    fold(
                        &mut aggregates,
                        key,
                        MINUTE_US,
                        time,
                        &Bucket::of(time, value),
                    );
                }
            })
        });
        if let Err(error) = scanned {
            warnings.push(format!("skipped {error}"));
        }
    }
    let path = partition_dir(root, Table::MinuteStaging, hour).join(ROLLUP_FILE);
    write_rollup(&path, Table::MinuteStaging, &aggregates, None)?;
    Ok(warnings)
}

/// Puts a day's minute rollup (its staging files, hour after hour) and hour rollup together.
pub fn rebuild_day(root: &Path, day: Day) -> Result<Vec<String>, ArchiveError> {
    let mut warnings = Vec::new();
    let mut hours_held = Vec::new();
    let mut by_hour = Aggregates::new();
    let mut keys = Keys::default();
    let minutes_path = rollup_path(root, Table::Rollup1m, day);
    let mut minutes: Option<TableWriter> = None;
    let mut units = BTreeMap::new();
    let staged: Vec<(Hour, PathBuf)> = day
        .hours()
        .map(|h| {
            (
                h,
                partition_dir(root, Table::MinuteStaging, h).join(ROLLUP_FILE),
            )
        })
        .filter(|(_, p)| p.exists())
        .collect();
    // The day file's units: those of every staged hour.
    for (_, path) in &staged {
        if let Ok(file) = TableFile::open(path, Table::MinuteStaging)
            && let Some(json) = file.note(super::schema::UNITS_KEY)
            && let Ok(map) =
                serde_json::from_str::<BTreeMap<String, BTreeMap<String, String>>>(json)
        {
            for (twin, properties) in map {
                units
                    .entry(twin)
                    .or_insert_with(BTreeMap::new)
                    .extend(properties);
            }
        }
    }
    let held: String = staged
        .iter()
        .map(|(h, _)| h.of_day().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let notes = FileNotes {
        units: (!units.is_empty()).then(|| serde_json::to_string(&units).unwrap_or_default()),
        hours: Some(held),
    };
    for (hour, path) in &staged {
        let file = match TableFile::open(path, Table::MinuteStaging) {
            Ok(file) => file,
            Err(error) => {
                warnings.push(format!("skipped {error}"));
                continue;
            }
        };
        let writer = match &mut minutes {
            Some(writer) => writer,
            None => minutes.insert(TableWriter::create(&minutes_path, Table::Rollup1m, &notes)?),
        };
        let mut failed = None;
        let scanned = file.scan(|batch| {
            for r in 0..batch.rows {
                let unit = (!batch.nulls[3][r]).then(|| batch.texts[3][r].data());
                let b = bucket_at(batch, r);
                if failed.is_none() {
                    let row = [
                        Cell::Int(b.start),
                        Cell::Text(&batch.texts[1][r]),
                        Cell::Text(&batch.texts[2][r]),
                        if unit.is_some() {
                            Cell::Text(&batch.texts[3][r])
                        } else {
                            Cell::Null
                        },
                        Cell::Double(b.min),
                        Cell::Double(b.max),
                        Cell::Double(b.sum),
                        Cell::Int(b.count as i64),
                        Cell::Double(b.first),
                        Cell::Double(b.last),
                    ];
                    if let Err(error) = writer.push(&row) {
                        failed = Some(error);
                    }
                }
                if b.count > 0
                    && let Some(key) =
                        keys.key(batch.texts[1][r].data(), batch.texts[2][r].data(), unit)
                {
                    fold(&mut by_hour, &key, HOUR_US, b.start, &b);
                }
            }
        });
        if let Some(error) = failed {
            if let Some(writer) = minutes.take() {
                writer.abandon();
            }
            return Err(error);
        }
        match scanned {
            Ok(()) => hours_held.push(hour.of_day()),
            Err(error) => warnings.push(format!("skipped {error}")),
        }
    }
    match minutes {
        Some(writer) => {
            writer.finish()?;
        }
        None => {
            let _ = std::fs::remove_file(&minutes_path);
        }
    }
    let held = hours_held
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    write_rollup(
        &rollup_path(root, Table::Rollup1h, day),
        Table::Rollup1h,
        &by_hour,
        Some(held),
    )?;
    Ok(warnings)
}

fn write_rollup(
    path: &Path,
    table: Table,
    aggregates: &Aggregates,
    hours: Option<String>,
) -> Result<(), ArchiveError> {
    if aggregates.is_empty() {
        let _ = std::fs::remove_file(path);
        return Ok(());
    }
    let keys: Vec<SeriesKey> = aggregates
        .iter()
        .map(|(key, series)| SeriesKey {
            unit: series.unit.clone(),
            ..key.clone()
        })
        .collect();
    let notes = FileNotes {
        units: units_json(keys.iter()),
        hours,
    };
    let mut writer = TableWriter::create(path, table, &notes)?;
    let result = (|| {
        for (key, series) in aggregates {
            let (twin, property) = (text(&key.twin), text(&key.property));
            let unit = series.unit.as_deref().map(text);
            for building in series.buckets.values() {
                let b = &building.bucket;
                writer.push(&[
                    Cell::Int(b.start),
                    Cell::Text(&twin),
                    Cell::Text(&property),
                    unit.as_ref().map_or(Cell::Null, Cell::Text),
                    Cell::Double(b.min),
                    Cell::Double(b.max),
                    Cell::Double(b.sum),
                    Cell::Int(b.count as i64),
                    Cell::Double(b.first),
                    Cell::Double(b.last),
                ])?;
            }
        }
        Ok::<_, ArchiveError>(())
    })();
    match result {
        Ok(()) => writer.finish().map(|_| ()),
        Err(error) => {
            writer.abandon();
            Err(error)
        }
    }
}

pub(crate) fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Whether a derived file at `derived` is older than any of `sources` (or missing while
/// they exist, or there while they are gone).
pub(crate) fn is_stale(derived: &Path, sources: &[PathBuf]) -> bool {
    let newest = sources.iter().filter_map(|p| modified(p)).max();
    match (modified(derived), newest) {
        (_, None) => derived.exists(),
        (None, Some(_)) => true,
        // Equal times are stale: file times are coarse, and a rebuild costs only time.
        (Some(d), Some(n)) => d <= n,
    }
}

/// Brings every rollup up to date with the raw data (the start-up repair, and after a
/// conversion). Returns warnings.
pub fn refresh(root: &Path, open_hour: Option<Hour>) -> Result<Vec<String>, ArchiveError> {
    let mut warnings = Vec::new();
    for day in days_in(root, Table::Raw) {
        refresh_day(root, day, open_hour, &mut warnings)?;
    }
    Ok(warnings)
}

/// [`refresh`] for one day; `open_hour`, still being written, is left for later.
pub fn refresh_day(
    root: &Path,
    day: Day,
    open_hour: Option<Hour>,
    warnings: &mut Vec<String>,
) -> Result<(), ArchiveError> {
    let mut changed = false;
    let mut staged = Vec::new();
    for hour in day.hours() {
        let staging = partition_dir(root, Table::MinuteStaging, hour).join(ROLLUP_FILE);
        if Some(hour) != open_hour {
            let raw = parquet_files(&partition_dir(root, Table::Raw, hour));
            if is_stale(&staging, &raw) {
                warnings.extend(rebuild_hour_staging(root, hour)?);
                changed = true;
            }
        }
        if staging.exists() {
            staged.push(staging);
        }
    }
    let minutes = rollup_path(root, Table::Rollup1m, day);
    if changed || is_stale(&minutes, &staged) {
        warnings.extend(rebuild_day(root, day)?);
    }
    Ok(())
}
