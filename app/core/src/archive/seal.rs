//! Turns a buffer into Parquet parts: one file per table and hour, rows sorted by (twin,
//! property, time), named by the buffer's generation so that sealing it twice (a crash between
//! two renames, then the journal's replay) writes only what is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::buffer::Buffer;
use super::error::ArchiveError;
use super::layout::{Hour, Table, partition_dir};
use super::rows::{Sample, SeriesKey};
use super::schema::FileNotes;
use super::table_writer::{Cell, TableWriter, text};

/// What a seal wrote.
#[derive(Debug, Default, Clone)]
pub struct Sealed {
    pub files: Vec<PathBuf>,
    pub bytes: u64,
    pub rows: u64,
    /// The hours whose raw data changed: their rollups are rebuilt.
    pub raw_hours: BTreeSet<Hour>,
}

impl Sealed {
    pub fn absorb(&mut self, other: Sealed) {
        self.files.extend(other.files);
        self.bytes += other.bytes;
        self.rows += other.rows;
        self.raw_hours.extend(other.raw_hours);
    }
}

/// The part file of generation `id` in a partition.
pub fn part_path(root: &Path, table: Table, hour: Hour, id: &str) -> PathBuf {
    partition_dir(root, table, hour).join(format!("part-{id}.parquet"))
}

/// Writes every row of `buffer` into parts under `root`.
pub fn seal(root: &Path, mut buffer: Buffer) -> Result<Sealed, ArchiveError> {
    let mut sealed = Sealed::default();
    seal_raw(root, &mut buffer, &mut sealed)?;
    seal_rows(
        root,
        Table::Text,
        &buffer.id,
        &mut buffer.text,
        &mut sealed,
        |r| (r.time, r.twin.clone(), r.property.clone()),
        |w, r| {
            let (twin, property, kind) = (text(&r.twin), text(&r.property), text(r.kind));
            let body = r.text.as_deref().map(text);
            w.push(&[
                Cell::Int(r.time),
                Cell::Text(&twin),
                Cell::Text(&property),
                Cell::Text(&kind),
                opt(&body),
            ])
        },
    )?;
    seal_rows(
        root,
        Table::Alarms,
        &buffer.id,
        &mut buffer.alarms,
        &mut sealed,
        |r| (r.time, r.twin.clone(), r.alarm_type.clone()),
        |w, r| {
            let (twin, alarm, state) = (text(&r.twin), text(&r.alarm_type), text(r.state));
            let severity = r.severity.map(text);
            let body = r.text.as_deref().map(text);
            w.push(&[
                Cell::Int(r.time),
                Cell::Text(&twin),
                Cell::Text(&alarm),
                Cell::Text(&state),
                opt(&severity),
                opt(&body),
            ])
        },
    )?;
    seal_rows(
        root,
        Table::Twins,
        &buffer.id,
        &mut buffer.twins,
        &mut sealed,
        |r| (r.time, r.twin.clone(), Arc::from("")),
        |w, r| {
            let (twin, path) = (text(&r.twin), text(&r.path));
            let parent = r.parent.as_deref().map(text);
            let name = r.display_name.as_deref().map(text);
            let kind = r.entity_type.as_deref().map(text);
            w.push(&[
                Cell::Int(r.time),
                Cell::Text(&twin),
                opt(&parent),
                Cell::Text(&path),
                opt(&name),
                opt(&kind),
            ])
        },
    )?;
    Ok(sealed)
}

fn opt(value: &Option<parquet::data_type::ByteArray>) -> Cell<'_> {
    value.as_ref().map_or(Cell::Null, Cell::Text)
}

/// The raw samples: each series sorted by time and cut at hour boundaries; each hour's
/// pieces written in (twin, property, unit) order.
fn seal_raw(root: &Path, buffer: &mut Buffer, sealed: &mut Sealed) -> Result<(), ArchiveError> {
    let mut by_hour: BTreeMap<Hour, Vec<(usize, std::ops::Range<usize>)>> = BTreeMap::new();
    for (index, (_, samples)) in buffer.series.iter_mut().enumerate() {
        if !samples.is_sorted_by_key(|s| s.time) {
            samples.sort_by_key(|s| s.time);
        }
        let mut start = 0;
        while start < samples.len() {
            let hour = Hour::of(samples[start].time);
            let end_time = hour.start_us().saturating_add(super::layout::HOUR_US);
            let end = start + samples[start..].partition_point(|s| s.time < end_time);
            by_hour.entry(hour).or_default().push((index, start..end));
            start = end;
        }
    }
    for (hour, mut pieces) in by_hour {
        let path = part_path(root, Table::Raw, hour, &buffer.id);
        if path.exists() {
            continue;
        }
        pieces.sort_by(|a, b| buffer.series[a.0].0.cmp(&buffer.series[b.0].0));
        let units = units_json(pieces.iter().map(|(i, _)| &buffer.series[*i].0));
        let notes = FileNotes { units, hours: None };
        let mut writer = TableWriter::create(&path, Table::Raw, &notes)?;
        let (good, historical) = (text("good"), text("historical"));
        let result = (|| {
            for (index, range) in &pieces {
                let (key, samples) = &buffer.series[*index];
                write_series(
                    &mut writer,
                    key,
                    &samples[range.clone()],
                    &good,
                    &historical,
                )?;
            }
            Ok::<_, ArchiveError>(())
        })();
        if let Err(error) = result {
            writer.abandon();
            return Err(error);
        }
        let rows = writer.rows;
        let (path, bytes) = writer.finish()?;
        sealed.files.push(path);
        sealed.bytes += bytes;
        sealed.rows += rows;
        sealed.raw_hours.insert(hour);
    }
    Ok(())
}

/// One series' samples as raw rows (its names encoded once, shared by every row).
pub fn write_series(
    writer: &mut TableWriter,
    key: &SeriesKey,
    samples: &[Sample],
    good: &parquet::data_type::ByteArray,
    historical: &parquet::data_type::ByteArray,
) -> Result<(), ArchiveError> {
    let (twin, property) = (text(&key.twin), text(&key.property));
    let unit = key.unit.as_deref().map(text);
    for s in samples {
        let quality = match s.quality {
            super::rows::Quality::Good => good,
            super::rows::Quality::Historical => historical,
        };
        writer.push(&[
            Cell::Int(s.time),
            Cell::Text(&twin),
            Cell::Text(&property),
            Cell::Double(s.value),
            opt(&unit),
            Cell::Text(quality),
        ])?;
    }
    Ok(())
}

/// The units of the series in a file, as `{twin: {property: unit}}`.
pub fn units_json<'a>(keys: impl Iterator<Item = &'a SeriesKey>) -> Option<String> {
    let mut units: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    for key in keys {
        if let Some(unit) = &key.unit {
            units
                .entry(&key.twin)
                .or_default()
                .insert(&key.property, unit);
        }
    }
    (!units.is_empty()).then(|| serde_json::to_string(&units).unwrap_or_default())
}

/// A table of plain rows: grouped by hour, each hour sorted by `(twin, name, time)`.
fn seal_rows<R>(
    root: &Path,
    table: Table,
    id: &str,
    rows: &mut [R],
    sealed: &mut Sealed,
    key: impl Fn(&R) -> (i64, Arc<str>, Arc<str>),
    mut write: impl FnMut(&mut TableWriter, &R) -> Result<(), ArchiveError>,
) -> Result<(), ArchiveError> {
    rows.sort_by_cached_key(|r| {
        let (time, twin, name) = key(r);
        (Hour::of(time), twin, name, time)
    });
    let mut start = 0;
    while start < rows.len() {
        let hour = Hour::of(key(&rows[start]).0);
        let end = start + rows[start..].partition_point(|r| Hour::of(key(r).0) == hour);
        let path = part_path(root, table, hour, id);
        if !path.exists() {
            let mut writer = TableWriter::create(&path, table, &FileNotes::default())?;
            for row in &rows[start..end] {
                if let Err(error) = write(&mut writer, row) {
                    writer.abandon();
                    return Err(error);
                }
            }
            let count = writer.rows;
            let (path, bytes) = writer.finish()?;
            sealed.files.push(path);
            sealed.bytes += bytes;
            sealed.rows += count;
        }
        start = end;
    }
    Ok(())
}
