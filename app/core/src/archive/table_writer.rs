//! Writes one Parquet file of a table, row by row, a row group at a time, under a name no
//! reader globs until it is complete: a crash mid-file leaves a `.writing` file to delete,
//! never a broken `.parquet`.

use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::basic::Type as PhysicalType;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::writer::SerializedFileWriter;

use super::error::ArchiveError;
use super::layout::{Table, WRITING_SUFFIX};
use super::schema::{FileNotes, properties, row_group_rows, schema};

/// One cell of a row, in the table's column order.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Int(i64),
    Double(f64),
    Text(&'a ByteArray),
    Null,
}

/// A column's values for the row group being filled.
enum Column {
    Int(Vec<i64>),
    Double(Vec<f64>),
    /// Definition levels (optional columns only) and the present values.
    Text {
        optional: bool,
        levels: Vec<i16>,
        values: Vec<ByteArray>,
    },
}

/// A table file being written.
pub struct TableWriter {
    writer: SerializedFileWriter<File>,
    columns: Vec<Column>,
    rows_in_group: usize,
    group_rows: usize,
    pub rows: u64,
    writing: PathBuf,
    path: PathBuf,
}

impl TableWriter {
    /// Starts `path` (written as `path.writing` until [`finish`](Self::finish)).
    pub fn create(path: &Path, table: Table, notes: &FileNotes) -> Result<Self, ArchiveError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ArchiveError::io(dir, e))?;
        }
        let writing = PathBuf::from(format!("{}{WRITING_SUFFIX}", path.display()));
        let file = File::create(&writing).map_err(|e| ArchiveError::io(&writing, e))?;
        let schema = schema(table);
        let columns = schema
            .get_fields()
            .iter()
            .map(|field| match field.get_physical_type() {
                PhysicalType::INT64 => Column::Int(Vec::new()),
                PhysicalType::DOUBLE => Column::Double(Vec::new()),
                _ => Column::Text {
                    optional: field.is_optional(),
                    levels: Vec::new(),
                    values: Vec::new(),
                },
            })
            .collect();
        let writer =
            SerializedFileWriter::new(file, schema, std::sync::Arc::new(properties(table, notes)))
                .map_err(|e| ArchiveError::parquet(&writing, e))?;
        Ok(TableWriter {
            writer,
            columns,
            rows_in_group: 0,
            group_rows: row_group_rows(table),
            rows: 0,
            writing,
            path: path.to_owned(),
        })
    }

    /// Appends a row; its cells are in the schema's column order.
    pub fn push(&mut self, row: &[Cell<'_>]) -> Result<(), ArchiveError> {
        debug_assert_eq!(row.len(), self.columns.len());
        for (column, cell) in self.columns.iter_mut().zip(row) {
            match (column, cell) {
                (Column::Int(v), Cell::Int(x)) => v.push(*x),
                (Column::Double(v), Cell::Double(x)) => v.push(*x),
                (
                    Column::Text {
                        optional,
                        levels,
                        values,
                    },
                    Cell::Text(x),
                ) => {
                    if *optional {
                        levels.push(1);
                    }
                    values.push((*x).clone());
                }
                (
                    Column::Text {
                        optional: true,
                        levels,
                        ..
                    },
                    Cell::Null,
                ) => levels.push(0),
                _ => unreachable!("a cell of the wrong type for its column"),
            }
        }
        self.rows_in_group += 1;
        self.rows += 1;
        if self.rows_in_group >= self.group_rows {
            self.flush_group()?;
        }
        Ok(())
    }

    fn flush_group(&mut self) -> Result<(), ArchiveError> {
        if self.rows_in_group == 0 {
            return Ok(());
        }
        let writing = &self.writing;
        let err = |e| ArchiveError::parquet(writing, e);
        let mut group = self.writer.next_row_group().map_err(err)?;
        for column in &mut self.columns {
            let mut out = group
                .next_column()
                .map_err(err)?
                .expect("a writer per column");
            match column {
                Column::Int(v) => {
                    out.typed::<Int64Type>()
                        .write_batch(v, None, None)
                        .map_err(err)?;
                    v.clear();
                }
                Column::Double(v) => {
                    out.typed::<DoubleType>()
                        .write_batch(v, None, None)
                        .map_err(err)?;
                    v.clear();
                }
                Column::Text {
                    optional,
                    levels,
                    values,
                } => {
                    let levels_given = optional.then_some(levels.as_slice());
                    out.typed::<ByteArrayType>()
                        .write_batch(values, levels_given, None)
                        .map_err(err)?;
                    levels.clear();
                    values.clear();
                }
            }
            out.close().map_err(err)?;
        }
        group.close().map_err(err)?;
        self.rows_in_group = 0;
        Ok(())
    }

    /// Completes the file and gives it its name; returns its path and size in bytes.
    pub fn finish(mut self) -> Result<(PathBuf, u64), ArchiveError> {
        self.flush_group()?;
        let writing = self.writing.clone();
        let file = self
            .writer
            .into_inner()
            .map_err(|e| ArchiveError::parquet(&writing, e))?;
        drop(file);
        std::fs::rename(&writing, &self.path).map_err(|e| ArchiveError::io(&self.path, e))?;
        let bytes = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        Ok((self.path, bytes))
    }

    /// Gives up the file (an error while filling it): nothing is left behind.
    pub fn abandon(self) {
        let writing = self.writing.clone();
        drop(self);
        let _ = std::fs::remove_file(writing);
    }
}

/// A text cell for a string (one allocation; callers reuse it for every row of a series).
pub fn text(s: &str) -> ByteArray {
    ByteArray::from(s.as_bytes().to_vec())
}
