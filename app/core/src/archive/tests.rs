//! The archive end to end inside the core: updates in, Parquet out, read back through rollups
//! and trends, and the crash paths.

use std::path::PathBuf;

use super::layout::{DAY_US, HOUR_US, Hour, Table, parquet_files, partition_dir, rollup_path};
use super::read::TableFile;
use super::rollup::MINUTE_US;
use super::rows::{Bucket, Sample, bucket_samples};
use super::trend::{Level, TrendQuery, fold_columns, load};
use super::writer::{ArchiveOptions, Archiver};
use crate::time::Timestamp;
use crate::twin::{PropertyName, TwinId};
use crate::update::TwinUpdate;

fn temp_root(name: &str) -> PathBuf {
    let root =
        std::env::temp_dir().join(format!("twinscope-archive-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    root
}

fn measurement(twin: &str, property: &str, value: f64, time: i64) -> TwinUpdate {
    TwinUpdate::Measurement {
        twin: TwinId::new(twin),
        name: PropertyName::kept(property),
        value,
        time: Timestamp(time),
    }
}

/// A value that wanders, with a spike now and then (what M4 must keep).
fn value_at(k: i64) -> f64 {
    let base = ((k as f64) / 600.0).sin() * 10.0 + 50.0;
    if k % 7_919 == 0 {
        base + 40.0
    } else {
        (base * 100.0).round() / 100.0
    }
}

/// 2026-12-01T00:00Z.
const T0: i64 = 1_796_083_200_000_000;

fn archive_signal(
    root: &std::path::Path,
    seconds: i64,
    step: i64,
    options: ArchiveOptions,
) -> Vec<Sample> {
    let mut archiver = Archiver::open(root, options).unwrap();
    archiver
        .push(
            &[TwinUpdate::Unit {
                twin: TwinId::new("pump-1"),
                name: "temperature".into(),
                unit: "°C".into(),
            }],
            Timestamp(T0),
        )
        .unwrap();
    let mut samples = Vec::new();
    let mut batch = Vec::new();
    for k in (0..seconds).step_by(step as usize) {
        let time = T0 + k * 1_000_000;
        batch.push(measurement("pump-1", "temperature", value_at(k), time));
        batch.push(measurement("pump-2", "temperature", -value_at(k), time));
        samples.push(Sample {
            time,
            value: value_at(k),
            quality: super::rows::Quality::Good,
        });
        if batch.len() >= 1000 {
            archiver.push(&batch, Timestamp(time)).unwrap();
            batch.clear();
        }
    }
    archiver.push(&batch, Timestamp(T0)).unwrap();
    let stats = archiver.finish().unwrap();
    assert!(
        stats.warnings.lock().unwrap().is_empty(),
        "{:?}",
        stats.warnings
    );
    samples
}

#[test]
fn raw_parts_hold_every_sample_sorted_with_units_and_hive_partitions() {
    let root = temp_root("raw");
    let samples = archive_signal(&root, 2 * 3600 + 30, 1, ArchiveOptions::conversion());
    let first = Hour::of(T0);
    let parts = parquet_files(&partition_dir(&root, Table::Raw, first));
    assert!(!parts.is_empty());
    assert!(
        parts[0]
            .to_string_lossy()
            .contains("raw/date=2026-12-01/hour=00/part-")
    );
    let file = TableFile::open(&parts[0], Table::Raw).unwrap();
    assert_eq!(
        file.note(super::schema::SORT_KEY),
        Some("twin,property,time")
    );
    assert_eq!(
        file.note(super::schema::UNITS_KEY),
        Some(r#"{"pump-1":{"temperature":"°C"}}"#)
    );
    let mut back = Vec::new();
    for hour in 0..3 {
        for part in parquet_files(&partition_dir(&root, Table::Raw, Hour(first.0 + hour))) {
            TableFile::open(&part, Table::Raw)
                .unwrap()
                .read_series("pump-1", "temperature", i64::MIN, i64::MAX, &mut back)
                .unwrap();
        }
    }
    assert_eq!(back, samples, "every sample back, in order");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn rollups_equal_the_raw_data_bucket_by_bucket() {
    let root = temp_root("rollups");
    let samples = archive_signal(&root, 3 * 3600, 1, ArchiveOptions::conversion());
    for (table, width) in [(Table::Rollup1m, MINUTE_US), (Table::Rollup1h, HOUR_US)] {
        let file = TableFile::open(&rollup_path(&root, table, Hour::of(T0).day()), table).unwrap();
        let mut stored = Vec::new();
        file.read_buckets("pump-1", "temperature", i64::MIN, i64::MAX, &mut stored)
            .unwrap();
        let mut expected = Vec::new();
        bucket_samples(&samples, width, &mut expected);
        assert_eq!(stored.len(), expected.len(), "{table:?}");
        for (s, e) in stored.iter().zip(&expected) {
            assert_eq!(
                (s.start, s.min, s.max, s.count, s.first, s.last),
                (e.start, e.min, e.max, e.count, e.first, e.last)
            );
            assert!((s.sum - e.sum).abs() < 1e-6 * e.sum.abs().max(1.0));
        }
        assert_eq!(file.hours_held(), vec![0, 1, 2]);
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// The zoomed-out trend's min and max per column are the raw data's, at every level.
#[test]
fn trend_columns_keep_the_raw_extremes_at_every_level() {
    let root = temp_root("trend");
    let samples = archive_signal(
        &root,
        2 * DAY_US / 1_000_000,
        10,
        ArchiveOptions::conversion(),
    );
    for (span, columns, level) in [
        (2 * DAY_US, 40, Level::Hour),
        (2 * DAY_US, 800, Level::Minute),
        (HOUR_US / 2, 600, Level::Raw),
        (20 * MINUTE_US, 100, Level::Raw),
    ] {
        let query = TrendQuery {
            twin: "pump-1".into(),
            property: "temperature".into(),
            from: T0 + 5 * MINUTE_US,
            to: T0 + 5 * MINUTE_US + span,
            columns,
        };
        let trend = load(&root, &query);
        assert_eq!(trend.level, Some(level));
        assert!(trend.warnings.is_empty());
        let in_range: Vec<Sample> = samples
            .iter()
            .filter(|s| s.time >= trend.start && s.time <= query.to)
            .copied()
            .collect();
        let mut raw = Vec::new();
        bucket_samples(&in_range, 1, &mut raw);
        let expected = fold_columns(&raw, trend.start, trend.width);
        assert_eq!(trend.columns.len(), expected.len(), "{level:?}");
        assert!(trend.columns.len() <= columns + 1);
        for (got, want) in trend.columns.iter().zip(&expected) {
            assert_eq!(
                (got.start, got.min, got.max, got.count),
                (want.start, want.min, want.max, want.count),
                "{level:?}"
            );
        }
        if level == Level::Raw && in_range.len() <= 2 * columns {
            assert_eq!(trend.samples, in_range);
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// A process killed mid-hour: its journal is sealed at the next start, nothing lost, and a
/// half-written file is never read as Parquet.
#[test]
fn a_killed_writer_loses_nothing_it_journaled() {
    let root = temp_root("killed");
    let mut archiver = Archiver::open(&root, ArchiveOptions::live()).unwrap();
    let batch: Vec<_> = (0..500)
        .map(|k| measurement("pump-1", "flow", k as f64, T0 + k * 1_000_000))
        .collect();
    archiver.push(&batch, Timestamp(T0)).unwrap();
    archiver.tick().unwrap();
    // What a kill leaves: the journal on disk, no seal, and a stray half-written file.
    let stray = partition_dir(&root, Table::Raw, Hour::of(T0)).join("part-x.parquet.writing");
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::write(&stray, b"PAR1 half").unwrap();
    std::mem::forget(archiver);
    // The forgotten writer still holds its journal's lock in this process: a second process
    // would see it held. Release it the way process exit does.
    let journal_dir = root.join(super::layout::JOURNAL_DIR);
    let journals: Vec<_> = std::fs::read_dir(&journal_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(journals.len(), 1);
    let copy = journal_dir.join("copied.journal");
    std::fs::copy(&journals[0], &copy).unwrap();
    std::fs::remove_file(&journals[0]).unwrap();
    let reopened = Archiver::open(&root, ArchiveOptions::live()).unwrap();
    reopened.finish().unwrap();
    let trend = load(
        &root,
        &TrendQuery {
            twin: "pump-1".into(),
            property: "flow".into(),
            from: T0,
            to: T0 + 600_000_000,
            columns: 1000,
        },
    );
    assert_eq!(trend.samples.len(), 500, "every journaled sample archived");
    assert!(!copy.exists(), "the journal is gone once sealed");
    let _ = std::fs::remove_dir_all(&root);
}

/// Damaged, truncated and foreign files are skipped with their names; nothing panics.
#[test]
fn damaged_and_foreign_files_are_skipped_by_name() {
    let root = temp_root("damaged");
    archive_signal(&root, 600, 1, ArchiveOptions::conversion());
    let dir = partition_dir(&root, Table::Raw, Hour::of(T0));
    let good = parquet_files(&dir)[0].clone();
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(
        dir.join("part-truncated.parquet"),
        &bytes[..bytes.len() / 2],
    )
    .unwrap();
    let mut flipped = bytes.clone();
    for k in (100..flipped.len() - 100).step_by(97) {
        flipped[k] ^= 0x5a;
    }
    std::fs::write(dir.join("part-flipped.parquet"), &flipped).unwrap();
    // Another table's file where raw parts belong: a foreign file.
    let rollup = std::fs::read(rollup_path(&root, Table::Rollup1m, Hour::of(T0).day())).unwrap();
    std::fs::write(dir.join("part-foreign.parquet"), rollup).unwrap();
    std::fs::write(dir.join("part-text.parquet"), b"not parquet at all").unwrap();
    let trend = load(
        &root,
        &TrendQuery {
            twin: "pump-1".into(),
            property: "temperature".into(),
            from: T0,
            to: T0 + 600_000_000,
            columns: 2000,
        },
    );
    assert_eq!(trend.samples.len(), 600, "the good part still read");
    assert_eq!(trend.warnings.len(), 4, "{:#?}", trend.warnings);
    for name in ["part-truncated", "part-foreign", "part-text"] {
        assert!(
            trend.warnings.iter().any(|w| w.contains(name)),
            "{name} named: {:#?}",
            trend.warnings
        );
    }
    // Rollups rebuilt over the damaged hour skip the same files, with the same names.
    let warnings = super::rollup::rebuild_hour_staging(&root, Hour::of(T0)).unwrap();
    assert_eq!(warnings.len(), 4);
    let _ = std::fs::remove_dir_all(&root);
}

/// A second conversion into the same hours makes their rollups stale; they are rebuilt to
/// hold both.
#[test]
fn a_second_conversion_into_the_same_hours_rebuilds_their_rollups() {
    let root = temp_root("twice");
    archive_signal(&root, 1800, 1, ArchiveOptions::conversion());
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut archiver = Archiver::open(&root, ArchiveOptions::conversion()).unwrap();
    archiver
        .push(
            &[measurement("pump-1", "temperature", 1000.0, T0 + 1_000)],
            Timestamp(T0),
        )
        .unwrap();
    archiver.finish().unwrap();
    let file = TableFile::open(
        &rollup_path(&root, Table::Rollup1h, Hour::of(T0).day()),
        Table::Rollup1h,
    )
    .unwrap();
    let mut buckets: Vec<Bucket> = Vec::new();
    file.read_buckets("pump-1", "temperature", i64::MIN, i64::MAX, &mut buckets)
        .unwrap();
    assert_eq!((buckets[0].count, buckets[0].max), (1801, 1000.0));
    let _ = std::fs::remove_dir_all(&root);
}
