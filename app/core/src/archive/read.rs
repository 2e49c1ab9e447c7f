//! Reading an archive file back: checked to be one of ours and of the expected table before
//! its columns are read, row groups skipped by their statistics, and columns read in fixed
//! batches (a row count in a file's metadata never sizes an allocation).

use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::basic::Type as PhysicalType;
use parquet::column::reader::{ColumnReader, get_typed_column_reader};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::reader::{FileReader, RowGroupReader, SerializedFileReader};
use parquet::file::statistics::Statistics;

use super::error::ArchiveError;
use super::layout::Table;
use super::rows::{Bucket, Quality, Sample};
use super::schema::{TABLE_KEY, schema};

/// Rows read at a time from each column.
const BATCH: usize = 8 * 1024;

/// An archive file opened and checked.
pub struct TableFile {
    reader: SerializedFileReader<File>,
    /// A second handle for checking page headers before the reader decodes them.
    raw: File,
    len: u64,
    pub path: PathBuf,
    pub table: Table,
}

impl TableFile {
    /// Opens `path` as a file of `table`: a damaged, truncated or foreign file is an error
    /// naming it.
    pub fn open(path: &Path, table: Table) -> Result<TableFile, ArchiveError> {
        let file = File::open(path).map_err(|e| ArchiveError::io(path, e))?;
        // Its own handle: a shared one would move the reader's file position.
        let raw = File::open(path).map_err(|e| ArchiveError::io(path, e))?;
        let len = file
            .metadata()
            .map_err(|e| ArchiveError::io(path, e))?
            .len();
        let reader = SerializedFileReader::new(file).map_err(|e| ArchiveError::parquet(path, e))?;
        let metadata = reader.metadata().file_metadata();
        let named = metadata
            .key_value_metadata()
            .and_then(|kv| kv.iter().find(|kv| kv.key == TABLE_KEY))
            .and_then(|kv| kv.value.as_deref());
        if named != Some(table.folder()) {
            return Err(ArchiveError::foreign(
                path,
                match named {
                    Some(other) => format!("a file of table {other}, not {}", table.folder()),
                    None => format!(
                        "no {TABLE_KEY} in its metadata (written by {})",
                        metadata.created_by().unwrap_or("an unknown writer")
                    ),
                },
            ));
        }
        let expected = schema(table);
        let columns = metadata.schema_descr().columns();
        let fields = expected.get_fields();
        let same = columns.len() == fields.len()
            && columns.iter().zip(fields).all(|(c, f)| {
                c.name() == f.name()
                    && c.physical_type() == f.get_physical_type()
                    && c.max_def_level() == i16::from(f.is_optional())
                    && c.max_rep_level() == 0
            });
        if !same {
            return Err(ArchiveError::foreign(
                path,
                "its columns are not the table's",
            ));
        }
        Ok(TableFile {
            reader,
            raw,
            len,
            path: path.to_owned(),
            table,
        })
    }

    /// A value of the file's own metadata.
    pub fn note(&self, key: &str) -> Option<&str> {
        self.reader
            .metadata()
            .file_metadata()
            .key_value_metadata()?
            .iter()
            .find(|kv| kv.key == key)?
            .value
            .as_deref()
    }

    /// The hours of the day a day rollup holds (all 24 when it does not say).
    pub fn hours_held(&self) -> Vec<i64> {
        match self.note(super::schema::HOURS_KEY) {
            Some(text) => text
                .split(',')
                .filter_map(|h| h.trim().parse().ok())
                .filter(|h| (0..24).contains(h))
                .collect(),
            None => (0..24).collect(),
        }
    }

    /// The row groups that may hold `twin`'s `property` between `from` and `to` (µs,
    /// inclusive), by the statistics of the twin, property and time columns.
    fn groups_for(&self, twin: &str, property: &str, from: i64, to: i64) -> Vec<usize> {
        let meta = self.reader.metadata();
        (0..meta.num_row_groups())
            .filter(|&g| {
                let group = meta.row_group(g);
                let (t_min, t_max) = bytes_range(group.column(1).statistics());
                let twin_ok = t_min.is_none_or(|m| m <= twin.as_bytes())
                    && t_max.is_none_or(|m| m >= twin.as_bytes());
                let single_twin = t_min.is_some() && t_min == t_max;
                let (p_min, p_max) = bytes_range(group.column(2).statistics());
                let property_ok = !single_twin
                    || (p_min.is_none_or(|m| m <= property.as_bytes())
                        && p_max.is_none_or(|m| m >= property.as_bytes()));
                let time_ok = match group.column(0).statistics() {
                    Some(Statistics::Int64(s)) => {
                        s.min_opt().is_none_or(|m| *m <= to)
                            && s.max_opt().is_none_or(|m| *m >= from)
                    }
                    _ => true,
                };
                twin_ok && property_ok && time_ok
            })
            .collect()
    }

    /// Appends `twin`'s `property` samples between `from` and `to` (a raw file).
    pub fn read_series(
        &self,
        twin: &str,
        property: &str,
        from: i64,
        to: i64,
        out: &mut Vec<Sample>,
    ) -> Result<(), ArchiveError> {
        for group in self.groups_for(twin, property, from, to) {
            self.scan_group(group, |batch| {
                for r in 0..batch.rows {
                    let time = batch.ints[0][r];
                    if time >= from
                        && time <= to
                        && batch.texts[1][r].data() == twin.as_bytes()
                        && batch.texts[2][r].data() == property.as_bytes()
                    {
                        out.push(Sample {
                            time,
                            value: batch.doubles[3][r],
                            quality: Quality::parse(batch.texts[5][r].data()),
                        });
                    }
                }
            })?;
        }
        Ok(())
    }

    /// Appends `twin`'s `property` buckets starting between `from` and `to` (a rollup file).
    pub fn read_buckets(
        &self,
        twin: &str,
        property: &str,
        from: i64,
        to: i64,
        out: &mut Vec<Bucket>,
    ) -> Result<(), ArchiveError> {
        for group in self.groups_for(twin, property, from, to) {
            self.scan_group(group, |batch| {
                for r in 0..batch.rows {
                    let start = batch.ints[0][r];
                    if start >= from
                        && start <= to
                        && batch.texts[1][r].data() == twin.as_bytes()
                        && batch.texts[2][r].data() == property.as_bytes()
                    {
                        out.push(bucket_at(batch, r));
                    }
                }
            })?;
        }
        Ok(())
    }

    /// Visits every row, a batch at a time.
    pub fn scan(&self, mut visit: impl FnMut(&Batch)) -> Result<(), ArchiveError> {
        for group in 0..self.reader.metadata().num_row_groups() {
            self.scan_group(group, &mut visit)?;
        }
        Ok(())
    }

    fn scan_group(&self, group: usize, mut visit: impl FnMut(&Batch)) -> Result<(), ArchiveError> {
        let err = |e| ArchiveError::parquet(&self.path, e);
        let meta = self.reader.metadata().row_group(group);
        for c in 0..meta.num_columns() {
            let (start, len) = meta.column(c).byte_range();
            super::page_check::check_chunk(&self.raw, self.len, start, len).map_err(|reason| {
                ArchiveError::damaged(
                    &self.path,
                    format!("row group {group}, column {c}: {reason}"),
                )
            })?;
        }
        let reader = self.reader.get_row_group(group).map_err(err)?;
        let columns = reader.num_columns();
        let mut readers: Vec<Typed> = (0..columns)
            .map(|c| typed(reader.as_ref(), c))
            .collect::<Result<_, _>>()
            .map_err(err)?;
        let mut batch = Batch::new(columns);
        loop {
            batch.clear();
            let mut rows = None;
            for (c, column) in readers.iter_mut().enumerate() {
                let read = column.read(&mut batch, c).map_err(err)?;
                if *rows.get_or_insert(read) != read {
                    return Err(ArchiveError::damaged(
                        &self.path,
                        format!("row group {group}: its columns hold different numbers of rows"),
                    ));
                }
            }
            let rows = rows.unwrap_or(0);
            if rows == 0 {
                return Ok(());
            }
            batch.rows = rows;
            visit(&batch);
        }
    }
}

/// The bucket in row `r` of a rollup batch.
pub fn bucket_at(batch: &Batch, r: usize) -> Bucket {
    Bucket {
        start: batch.ints[0][r],
        min: batch.doubles[4][r],
        max: batch.doubles[5][r],
        sum: batch.doubles[6][r],
        count: batch.ints[7][r].max(0) as u64,
        first: batch.doubles[8][r],
        last: batch.doubles[9][r],
    }
}

fn bytes_range(stats: Option<&Statistics>) -> (Option<&[u8]>, Option<&[u8]>) {
    match stats {
        Some(s @ Statistics::ByteArray(_)) => (s.min_bytes_opt(), s.max_bytes_opt()),
        _ => (None, None),
    }
}

/// Rows of a row group, column by column (index = the column's place in the schema; the
/// vectors of other types at that index stay empty).
pub struct Batch {
    pub rows: usize,
    pub ints: Vec<Vec<i64>>,
    pub doubles: Vec<Vec<f64>>,
    /// Text columns, one entry per row (a null is empty, and marked in `nulls`).
    pub texts: Vec<Vec<ByteArray>>,
    pub nulls: Vec<Vec<bool>>,
    levels: Vec<i16>,
    present: Vec<ByteArray>,
}

impl Batch {
    fn new(columns: usize) -> Batch {
        Batch {
            rows: 0,
            ints: vec![Vec::new(); columns],
            doubles: vec![Vec::new(); columns],
            texts: vec![Vec::new(); columns],
            nulls: vec![Vec::new(); columns],
            levels: Vec::new(),
            present: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.rows = 0;
        for c in 0..self.ints.len() {
            self.ints[c].clear();
            self.doubles[c].clear();
            self.texts[c].clear();
            self.nulls[c].clear();
        }
    }

    /// The text in column `c`, row `r`, if not null.
    pub fn text(&self, c: usize, r: usize) -> Option<&str> {
        if self.nulls[c].get(r).copied().unwrap_or(false) {
            return None;
        }
        std::str::from_utf8(self.texts[c].get(r)?.data()).ok()
    }
}

enum Typed {
    Int(parquet::column::reader::ColumnReaderImpl<Int64Type>),
    Double(parquet::column::reader::ColumnReaderImpl<DoubleType>),
    Text(
        parquet::column::reader::ColumnReaderImpl<ByteArrayType>,
        bool,
    ),
}

fn typed(group: &dyn RowGroupReader, c: usize) -> parquet::errors::Result<Typed> {
    let optional = group.metadata().column(c).column_descr().max_def_level() > 0;
    let reader = group.get_column_reader(c)?;
    Ok(match (group.metadata().column(c).column_type(), reader) {
        (PhysicalType::INT64, r @ ColumnReader::Int64ColumnReader(_)) => {
            Typed::Int(get_typed_column_reader(r))
        }
        (PhysicalType::DOUBLE, r @ ColumnReader::DoubleColumnReader(_)) => {
            Typed::Double(get_typed_column_reader(r))
        }
        (PhysicalType::BYTE_ARRAY, r @ ColumnReader::ByteArrayColumnReader(_)) => {
            Typed::Text(get_typed_column_reader(r), optional)
        }
        _ => {
            return Err(parquet::errors::ParquetError::General(
                "unexpected column type".into(),
            ));
        }
    })
}

impl Typed {
    /// Reads up to a batch of rows into column `c` of `batch`; returns the rows read.
    fn read(&mut self, batch: &mut Batch, c: usize) -> parquet::errors::Result<usize> {
        match self {
            Typed::Int(r) => Ok(r.read_records(BATCH, None, None, &mut batch.ints[c])?.0),
            Typed::Double(r) => Ok(r.read_records(BATCH, None, None, &mut batch.doubles[c])?.0),
            Typed::Text(r, false) => Ok(r.read_records(BATCH, None, None, &mut batch.texts[c])?.0),
            Typed::Text(r, true) => {
                batch.levels.clear();
                batch.present.clear();
                let (rows, values, _) =
                    r.read_records(BATCH, Some(&mut batch.levels), None, &mut batch.present)?;
                if values > rows || batch.levels.len() != rows {
                    return Err(parquet::errors::ParquetError::General(
                        "bad definition levels".into(),
                    ));
                }
                let mut present = batch.present.drain(..);
                for level in &batch.levels {
                    if *level > 0 {
                        batch.texts[c].push(present.next().unwrap_or_default());
                        batch.nulls[c].push(false);
                    } else {
                        batch.texts[c].push(ByteArray::new());
                        batch.nulls[c].push(true);
                    }
                }
                Ok(rows)
            }
        }
    }
}
