//! Where each table's files live: Hive-style partitions that DuckDB, Spark and Polars read as
//! columns (`date=2026-12-07/hour=05`), and the names that keep a half-written file out of
//! every reader's glob.

use std::path::{Path, PathBuf};

use crate::time::civil_from_days;

/// Microseconds in an hour and in a day.
pub const HOUR_US: i64 = 3_600_000_000;
pub const DAY_US: i64 = 24 * HOUR_US;

/// The archive's tables, each a folder of its own under the archive's root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Numeric samples: time, twin, property, value, unit, quality.
    Raw,
    /// Text values: events, twin fragments (JSON), health and online changes.
    Text,
    /// Alarm transitions: raised and cleared.
    Alarms,
    /// The twins seen: parent, path, display name, type.
    Twins,
    /// One-minute buckets of the raw samples, one file per day.
    Rollup1m,
    /// One-hour buckets, one file per day.
    Rollup1h,
    /// One-minute buckets of one hour: what a day's minute rollup is put together from, so
    /// closing an hour reads that hour's raw data only. Not a table to query.
    MinuteStaging,
}

impl Table {
    pub const ALL: [Table; 7] = [
        Table::Raw,
        Table::Text,
        Table::Alarms,
        Table::Twins,
        Table::Rollup1m,
        Table::Rollup1h,
        Table::MinuteStaging,
    ];

    /// The table's folder name under the archive's root (what queries glob).
    pub fn folder(self) -> &'static str {
        match self {
            Table::Raw => "raw",
            Table::Text => "text",
            Table::Alarms => "alarms",
            Table::Twins => "twins",
            Table::Rollup1m => "rollup_1m",
            Table::Rollup1h => "rollup_1h",
            Table::MinuteStaging => "_rollup_1m_by_hour",
        }
    }

    /// Whether the table is derived from raw (rebuilt, never journaled).
    pub fn is_rollup(self) -> bool {
        matches!(
            self,
            Table::Rollup1m | Table::Rollup1h | Table::MinuteStaging
        )
    }
}

/// An hour since the epoch (UTC): the unit raw data is partitioned by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hour(pub i64);

impl Hour {
    pub fn of(time_us: i64) -> Hour {
        Hour(time_us.div_euclid(HOUR_US))
    }

    pub fn start_us(self) -> i64 {
        self.0.saturating_mul(HOUR_US)
    }

    pub fn day(self) -> Day {
        Day(self.0.div_euclid(24))
    }

    /// The hour of the day, 0 to 23.
    pub fn of_day(self) -> i64 {
        self.0.rem_euclid(24)
    }
}

/// A day since the epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Day(pub i64);

impl Day {
    pub fn of(time_us: i64) -> Day {
        Day(time_us.div_euclid(DAY_US))
    }

    pub fn start_us(self) -> i64 {
        self.0.saturating_mul(DAY_US)
    }

    pub fn hours(self) -> impl Iterator<Item = Hour> {
        (0..24).map(move |h| Hour(self.0 * 24 + h))
    }

    /// `YYYY-MM-DD`.
    pub fn date(self) -> String {
        let (y, m, d) = civil_from_days(self.0);
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Day> {
        let mut parts = text.splitn(3, '-');
        let y: i64 = parts.next()?.parse().ok()?;
        let m: i64 = parts.next()?.parse().ok()?;
        let d: i64 = parts.next()?.parse().ok()?;
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(0..=9999).contains(&y) {
            return None;
        }
        let day = Day(crate::time::days_from_civil(y, m, d));
        // 2026-02-31 is not a date.
        (day.date() == format!("{y:04}-{m:02}-{d:02}")).then_some(day)
    }
}

/// The folder holding a partition of `table`: per hour for the journaled tables and the
/// minute staging, per day for the rollups.
pub fn partition_dir(root: &Path, table: Table, hour: Hour) -> PathBuf {
    let day = day_dir(root, table, hour.day());
    match table {
        Table::Rollup1m | Table::Rollup1h => day,
        _ => day.join(format!("hour={:02}", hour.of_day())),
    }
}

/// The folder of a day's partitions of `table`.
pub fn day_dir(root: &Path, table: Table, day: Day) -> PathBuf {
    root.join(table.folder())
        .join(format!("date={}", day.date()))
}

/// The one file of a day's rollup.
pub fn rollup_path(root: &Path, table: Table, day: Day) -> PathBuf {
    day_dir(root, table, day).join(ROLLUP_FILE)
}

/// The name of a rollup's one file in its partition (replaced whole when rebuilt).
pub const ROLLUP_FILE: &str = "rollup.parquet";

/// Files being written end in this: no `*.parquet` glob reads them, and a crash leaves them
/// to be deleted.
pub const WRITING_SUFFIX: &str = ".writing";

/// The archive's own folder for journals of data not yet in Parquet (no query globs it).
pub const JOURNAL_DIR: &str = "_journal";

/// The Parquet files of a partition folder, in name order (files being written left out).
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet") && p.is_file())
        .collect();
    files.sort();
    files
}

/// The archive's first day: of its hour rollups (kept longest) or its raw data.
pub fn first_day(root: &Path) -> Option<Day> {
    days_in(root, Table::Rollup1h)
        .into_iter()
        .chain(days_in(root, Table::Raw))
        .min()
}

/// The days that have a partition folder in `table`, oldest first.
pub fn days_in(root: &Path, table: Table) -> Vec<Day> {
    let Ok(entries) = std::fs::read_dir(root.join(table.folder())) else {
        return Vec::new();
    };
    let mut days: Vec<Day> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name();
            Day::parse(name.to_str()?.strip_prefix("date=")?)
        })
        .collect();
    days.sort();
    days
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_named_as_hive_readers_expect() {
        let t = crate::time::Timestamp::parse_rfc3339("2026-12-07T05:30:00Z")
            .unwrap()
            .0;
        let root = Path::new("/a");
        assert_eq!(
            partition_dir(root, Table::Raw, Hour::of(t)),
            Path::new("/a/raw/date=2026-12-07/hour=05")
        );
        assert_eq!(
            partition_dir(root, Table::Rollup1h, Hour::of(t)),
            Path::new("/a/rollup_1h/date=2026-12-07")
        );
        assert_eq!(
            rollup_path(root, Table::Rollup1m, Hour::of(t).day()),
            Path::new("/a/rollup_1m/date=2026-12-07/rollup.parquet")
        );
        assert_eq!(Day::parse("2026-12-07"), Some(Hour::of(t).day()));
        assert_eq!(Day::parse("2026-02-31"), None);
        assert_eq!(Day::parse("x"), None);
        assert_eq!(Hour::of(-1), Hour(-1), "before the epoch is an hour too");
    }
}
