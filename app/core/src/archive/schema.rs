//! Each table's Parquet schema and writer settings, and the metadata a data team reads from
//! the file itself: the sort order, the units, what wrote it.

use std::sync::Arc;

use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::{ColumnPath, Type};

use super::layout::Table;

/// The hours of the day a day's rollup holds (`0,1,2`): hours it does not hold yet (the
/// hour being archived) are read from raw.
pub const HOURS_KEY: &str = "twinscope.hours";
/// The metadata key naming the table (`raw`, `rollup_1m`, …): a file of another table, or
/// another tool's file, is told apart before its columns are read.
pub const TABLE_KEY: &str = "twinscope.table";
/// The sort order, as column names (also in Parquet's own `sorting_columns`).
pub const SORT_KEY: &str = "twinscope.sort";
/// The units of the properties in the file, as JSON `{twin: {property: unit}}`.
pub const UNITS_KEY: &str = "twinscope.units";
/// The archive format's version.
pub const VERSION_KEY: &str = "twinscope.archive_version";
pub const VERSION: &str = "1";

/// Rows per row group: small enough that a reader skips most of a big file by the twin
/// column's statistics, big enough that pages compress well. Rollups are read a series at a
/// time from files of every series, so theirs are smaller.
pub fn row_group_rows(table: Table) -> usize {
    if table.is_rollup() {
        16 * 1024
    } else {
        128 * 1024
    }
}

/// The columns of each table, as Parquet's schema language says them.
pub fn message_type(table: Table) -> &'static str {
    match table {
        Table::Raw => {
            "message raw {
                REQUIRED INT64 time (TIMESTAMP(MICROS,true));
                REQUIRED BYTE_ARRAY twin (STRING);
                REQUIRED BYTE_ARRAY property (STRING);
                REQUIRED DOUBLE value;
                OPTIONAL BYTE_ARRAY unit (STRING);
                REQUIRED BYTE_ARRAY quality (STRING);
            }"
        }
        Table::Text => {
            "message text {
                REQUIRED INT64 time (TIMESTAMP(MICROS,true));
                REQUIRED BYTE_ARRAY twin (STRING);
                REQUIRED BYTE_ARRAY property (STRING);
                REQUIRED BYTE_ARRAY kind (STRING);
                OPTIONAL BYTE_ARRAY text (STRING);
            }"
        }
        Table::Alarms => {
            "message alarms {
                REQUIRED INT64 time (TIMESTAMP(MICROS,true));
                REQUIRED BYTE_ARRAY twin (STRING);
                REQUIRED BYTE_ARRAY alarm_type (STRING);
                REQUIRED BYTE_ARRAY state (STRING);
                OPTIONAL BYTE_ARRAY severity (STRING);
                OPTIONAL BYTE_ARRAY text (STRING);
            }"
        }
        Table::Twins => {
            "message twins {
                REQUIRED INT64 time (TIMESTAMP(MICROS,true));
                REQUIRED BYTE_ARRAY twin (STRING);
                OPTIONAL BYTE_ARRAY parent (STRING);
                REQUIRED BYTE_ARRAY path (STRING);
                OPTIONAL BYTE_ARRAY display_name (STRING);
                OPTIONAL BYTE_ARRAY entity_type (STRING);
            }"
        }
        Table::Rollup1m | Table::Rollup1h | Table::MinuteStaging => {
            "message rollup {
                REQUIRED INT64 bucket (TIMESTAMP(MICROS,true));
                REQUIRED BYTE_ARRAY twin (STRING);
                REQUIRED BYTE_ARRAY property (STRING);
                OPTIONAL BYTE_ARRAY unit (STRING);
                REQUIRED DOUBLE min;
                REQUIRED DOUBLE max;
                REQUIRED DOUBLE sum;
                REQUIRED INT64 count;
                REQUIRED DOUBLE first;
                REQUIRED DOUBLE last;
            }"
        }
    }
}

/// The parsed schema of a table.
pub fn schema(table: Table) -> Arc<Type> {
    Arc::new(parse_message_type(message_type(table)).expect("the archive's schemas parse"))
}

/// The columns rows are sorted by, in order (names and indexes into the schema).
pub fn sort_columns(table: Table) -> &'static [(&'static str, i32)] {
    match table {
        Table::Raw | Table::Text => &[("twin", 1), ("property", 2), ("time", 0)],
        Table::Alarms => &[("twin", 1), ("alarm_type", 2), ("time", 0)],
        Table::Twins => &[("twin", 1), ("time", 0)],
        Table::Rollup1m | Table::Rollup1h | Table::MinuteStaging => {
            &[("twin", 1), ("property", 2), ("bucket", 0)]
        }
    }
}

/// What a file's metadata says beside its table and sort order.
#[derive(Debug, Default, Clone)]
pub struct FileNotes {
    /// The units, as JSON `{twin: {property: unit}}`.
    pub units: Option<String>,
    /// A day rollup's hours, comma separated.
    pub hours: Option<String>,
}

/// Writer settings: zstd pages; time as deltas (regular sampling costs almost nothing);
/// values dictionary-encoded while a row group's distinct values fit, then split by byte
/// (floats' sign and exponent bytes compress well apart from their mantissas).
pub fn properties(table: Table, notes: &FileNotes) -> WriterProperties {
    let sort = sort_columns(table);
    let mut metadata = vec![
        KeyValue::new(TABLE_KEY.into(), table.folder().to_string()),
        KeyValue::new(
            SORT_KEY.into(),
            sort.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(","),
        ),
        KeyValue::new(VERSION_KEY.into(), VERSION.to_string()),
    ];
    if let Some(units) = &notes.units {
        metadata.push(KeyValue::new(UNITS_KEY.into(), units.clone()));
    }
    if let Some(hours) = &notes.hours {
        metadata.push(KeyValue::new(HOURS_KEY.into(), hours.clone()));
    }
    let time_column = if table.is_rollup() { "bucket" } else { "time" };
    let mut builder = WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_created_by(format!("twinscope {}", env!("CARGO_PKG_VERSION")))
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("zstd level 3"),
        ))
        .set_max_row_group_row_count(Some(row_group_rows(table)))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_key_value_metadata(Some(metadata))
        .set_sorting_columns(Some(
            sort.iter()
                .map(|(_, index)| SortingColumn {
                    column_idx: *index,
                    descending: false,
                    nulls_first: false,
                })
                .collect(),
        ))
        .set_column_dictionary_enabled(ColumnPath::from(time_column), false)
        .set_column_encoding(ColumnPath::from(time_column), Encoding::DELTA_BINARY_PACKED);
    for double in ["value", "min", "max", "sum", "first", "last"] {
        builder =
            builder.set_column_encoding(ColumnPath::from(double), Encoding::BYTE_STREAM_SPLIT);
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_a_schema_and_its_sort_columns_name_its_columns() {
        for table in Table::ALL {
            let schema = schema(table);
            let fields = schema.get_fields();
            for (name, index) in sort_columns(table) {
                assert_eq!(fields[*index as usize].name(), *name, "{table:?}");
            }
        }
    }
}
