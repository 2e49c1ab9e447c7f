//! The long-range archive: weeks and years of twin history as Apache Parquet in Hive-style
//! partitions, in the format data teams already read (DuckDB, Spark, Polars, pyarrow), with
//! rollups that let a trend zoom from a year to a second.
//!
//! ```text
//! DIR/raw/date=2026-12-07/hour=05/part-<generation>.parquet     numeric samples
//! DIR/text/…  DIR/alarms/…  DIR/twins/…                          same partitions
//! DIR/rollup_1m/date=2026-12-07/rollup.parquet                   1-minute buckets
//! DIR/rollup_1h/date=2026-12-07/rollup.parquet                   1-hour buckets
//! DIR/_journal/, DIR/_rollup_1m_by_hour/                         the writer's own
//! ```
//!
//! Rows are sorted by (twin, property, time); the sort order and the units are in each
//! file's metadata. A file is written under a `.writing` name and renamed when complete, so
//! no reader ever sees half a file; live rows are journaled until sealed (see [`journal`]).

pub mod alarm_periods;
pub mod buffer;
pub mod error;
pub mod from_recording;
pub mod journal;
pub mod layout;
pub mod live;
pub mod page_check;
pub mod read;
pub mod repair;
pub mod retention;
pub mod rollup;
pub mod rows;
pub mod schema;
pub mod seal;
pub mod table_writer;
pub mod trend;
pub mod writer;

pub use error::ArchiveError;
pub use from_recording::{Converted, archive_recording};
pub use live::{LiveArchive, start_live_archive};
pub use retention::Retention;
pub use trend::{
    Level, Trend, TrendCache, TrendQuery, load as load_trend, load_cached as load_trend_cached,
};
pub use writer::{ArchiveOptions, ArchiveStats, Archiver};

#[cfg(test)]
mod tests;
