//! A metric's value read by its declared datatype: integers sign-extended from their width
//! (an Int8 of −1 may arrive as 0xFF or as 0xFFFFFFFF; both are −1), Booleans as 0 or 1 so
//! limits and alarm rules apply to them, text and times as text, arrays (packed in
//! `bytes_value`) and data sets as JSON for the inspector.

use serde_json::{Value, json};

use super::proto::{DataSet, RawValue};
use super::scalar::Scalar;
use crate::time::Timestamp;

/// Sparkplug 3.0 datatypes (the numbers in `Metric.datatype`).
pub mod datatype {
    pub const INT8: u32 = 1;
    pub const INT16: u32 = 2;
    pub const INT32: u32 = 3;
    pub const INT64: u32 = 4;
    pub const UINT8: u32 = 5;
    pub const UINT16: u32 = 6;
    pub const UINT32: u32 = 7;
    pub const UINT64: u32 = 8;
    pub const FLOAT: u32 = 9;
    pub const DOUBLE: u32 = 10;
    pub const BOOLEAN: u32 = 11;
    pub const STRING: u32 = 12;
    pub const DATETIME: u32 = 13;
    pub const TEXT: u32 = 14;
    pub const UUID: u32 = 15;
    pub const DATASET: u32 = 16;
    pub const BYTES: u32 = 17;
    pub const FILE: u32 = 18;
    pub const TEMPLATE: u32 = 19;
    pub const INT8_ARRAY: u32 = 22;
    pub const DATETIME_ARRAY: u32 = 34;
}

/// What a metric's value becomes in the twin.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    /// A number (Booleans are 0 and 1): a property with history, limits and alarm rules.
    Number(f64),
    /// Text, times, arrays, data sets: shown in the inspector as they are.
    Shown(Value),
}

/// Reads `raw` as `datatype`. A value of another kind than the datatype says is an error.
pub fn interpret(datatype: u32, raw: &RawValue) -> Result<MetricValue, String> {
    use datatype::*;
    match (datatype, raw) {
        (_, raw) if let Some(scalar) = raw.scalar() => interpret_scalar(datatype, scalar),
        (STRING | TEXT | UUID, RawValue::String(v)) => {
            Ok(MetricValue::Shown(Value::String(v.clone())))
        }
        (DATASET, RawValue::DataSet(set)) => Ok(MetricValue::Shown(data_set(set))),
        (BYTES | FILE, RawValue::Bytes(bytes)) => Ok(MetricValue::Shown(Value::String(format!(
            "{} bytes",
            bytes.len()
        )))),
        (INT8_ARRAY..=DATETIME_ARRAY, RawValue::Bytes(bytes)) => {
            array(datatype, bytes).map(MetricValue::Shown)
        }
        _ => Err(format!("a value of the wrong kind for datatype {datatype}")),
    }
}

/// [`interpret`] for a number, a Boolean or no value (what DATA nearly always carries).
pub fn interpret_scalar(datatype: u32, raw: Scalar) -> Result<MetricValue, String> {
    if let Some(number) = scalar_number(datatype, raw) {
        return Ok(MetricValue::Number(number));
    }
    match (datatype, raw) {
        (datatype::DATETIME, Scalar::Long(ms)) => {
            Ok(MetricValue::Shown(Value::String(date_time(ms))))
        }
        (_, Scalar::None) => Err(format!("no value for datatype {datatype}")),
        _ => Err(format!("a value of the wrong kind for datatype {datatype}")),
    }
}

/// A scalar as the number its numeric datatype (integers, floats, Boolean) says it is
/// (signed integers sign-extended from their width); `None` for any other datatype, or a
/// value of another kind. Nothing to build or drop: the steady DATA path.
#[inline]
pub fn scalar_number(datatype: u32, raw: Scalar) -> Option<f64> {
    use datatype::*;
    Some(match (datatype, raw) {
        (INT8, Scalar::Int(v)) => f64::from(v as u8 as i8),
        (INT16, Scalar::Int(v)) => f64::from(v as u16 as i16),
        (INT32, Scalar::Int(v)) => f64::from(v as i32),
        (UINT8, Scalar::Int(v)) => f64::from(v as u8),
        (UINT16, Scalar::Int(v)) => f64::from(v as u16),
        (UINT32, Scalar::Int(v)) => f64::from(v),
        // Some writers put 32-bit types in long_value, 64-bit ones in int_value.
        (INT8 | INT16 | INT32 | UINT8 | UINT16 | UINT32, Scalar::Long(v)) => {
            return scalar_number(datatype, Scalar::Int(v as u32));
        }
        (INT64, Scalar::Long(v)) => v as i64 as f64,
        (INT64, Scalar::Int(v)) => f64::from(v as i32),
        (UINT64, Scalar::Long(v)) => v as f64,
        (UINT64, Scalar::Int(v)) => f64::from(v),
        (FLOAT, Scalar::Float(v)) => f64::from(v),
        (DOUBLE, Scalar::Double(v)) => v,
        (FLOAT, Scalar::Double(v)) => v,
        (DOUBLE, Scalar::Float(v)) => f64::from(v),
        (BOOLEAN, Scalar::Boolean(v)) => {
            if v {
                1.0
            } else {
                0.0
            }
        }
        _ => return None,
    })
}

/// The datatype a value carries when the metric declares none (a DATA metric whose alias
/// was never born still has a value).
pub fn guessed_datatype(raw: &RawValue) -> u32 {
    match raw {
        RawValue::String(_) => datatype::STRING,
        RawValue::Bytes(_) => datatype::BYTES,
        RawValue::DataSet(_) => datatype::DATASET,
        RawValue::Template(_) => datatype::TEMPLATE,
        scalar => scalar_datatype(scalar.scalar().unwrap_or(Scalar::None)),
    }
}

/// [`guessed_datatype`] of a scalar.
pub fn scalar_datatype(raw: Scalar) -> u32 {
    match raw {
        Scalar::Int(_) => datatype::INT32,
        Scalar::Long(_) => datatype::INT64,
        Scalar::Float(_) => datatype::FLOAT,
        Scalar::Double(_) => datatype::DOUBLE,
        Scalar::Boolean(_) => datatype::BOOLEAN,
        Scalar::None => 0,
    }
}

fn date_time(ms: u64) -> String {
    Timestamp((ms as i64).saturating_mul(1000)).to_string()
}

fn cell(value: &RawValue) -> Value {
    match value {
        RawValue::Int(v) => json!(v),
        RawValue::Long(v) => json!(v),
        RawValue::Float(v) => json!(v),
        RawValue::Double(v) => json!(v),
        RawValue::Boolean(v) => json!(v),
        RawValue::String(v) => json!(v),
        _ => Value::Null,
    }
}

fn data_set(set: &DataSet) -> Value {
    let rows: Vec<Value> = set
        .rows
        .iter()
        .map(|row| {
            // Cells read by their column's type, so signed columns show their sign.
            let cells = row.iter().enumerate().map(|(i, raw)| {
                match set.types.get(i).map(|t| interpret(*t, raw)) {
                    Some(Ok(MetricValue::Number(v))) => json!(v),
                    _ => cell(raw),
                }
            });
            Value::Array(cells.collect())
        })
        .collect();
    json!({ "columns": set.columns, "rows": rows })
}

/// Arrays are packed little-endian in `bytes_value`; strings are NUL-terminated; Booleans
/// are a 4-byte count, then bits, the first in the top bit of the first byte.
fn array(datatype: u32, bytes: &[u8]) -> Result<Value, String> {
    let width = match datatype {
        22 | 26 => 1,
        23 | 27 => 2,
        24 | 28 | 30 => 4,
        25 | 29 | 31 | 34 => 8,
        32 => {
            let (count, bits) = bytes
                .split_first_chunk::<4>()
                .ok_or("a Boolean array without its count")?;
            let count = u32::from_le_bytes(*count) as usize;
            if count > bits.len() * 8 {
                return Err(format!(
                    "a Boolean array of {count} in {} bytes",
                    bits.len()
                ));
            }
            return Ok(Value::Array(
                (0..count)
                    .map(|i| Value::Bool(bits[i / 8] >> (7 - i % 8) & 1 == 1))
                    .collect(),
            ));
        }
        33 => {
            let text = bytes.strip_suffix(&[0]).unwrap_or(bytes);
            let strings = text
                .split(|b| *b == 0)
                .map(|s| Value::String(String::from_utf8_lossy(s).into_owned()));
            return Ok(Value::Array(if bytes.is_empty() {
                Vec::new()
            } else {
                strings.collect()
            }));
        }
        _ => return Err(format!("datatype {datatype} is not an array type")),
    };
    if !bytes.len().is_multiple_of(width) {
        return Err(format!(
            "an array of {width}-byte elements in {} bytes",
            bytes.len()
        ));
    }
    let element = |chunk: &[u8]| -> Value {
        let mut b = [0u8; 8];
        b[..width].copy_from_slice(chunk);
        let unsigned = u64::from_le_bytes(b);
        match datatype {
            22 => json!(unsigned as u8 as i8),
            23 => json!(unsigned as u16 as i16),
            24 => json!(unsigned as u32 as i32),
            25 => json!(unsigned as i64),
            30 => json!(f32::from_bits(unsigned as u32)),
            31 => json!(f64::from_bits(unsigned)),
            34 => json!(date_time(unsigned)),
            _ => json!(unsigned),
        }
    };
    Ok(Value::Array(
        bytes.chunks_exact(width).map(element).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::datatype::*;
    use super::*;

    #[test]
    fn signed_integers_are_sign_extended_by_their_width() {
        assert_eq!(
            interpret(INT8, &RawValue::Int(0xFF)),
            Ok(MetricValue::Number(-1.0))
        );
        assert_eq!(
            interpret(INT8, &RawValue::Int(u32::MAX)),
            Ok(MetricValue::Number(-1.0))
        );
        assert_eq!(
            interpret(INT16, &RawValue::Int(0xFFFE)),
            Ok(MetricValue::Number(-2.0))
        );
        assert_eq!(
            interpret(INT32, &RawValue::Int(-40i32 as u32)),
            Ok(MetricValue::Number(-40.0))
        );
        assert_eq!(
            interpret(INT64, &RawValue::Long(-7i64 as u64)),
            Ok(MetricValue::Number(-7.0))
        );
        assert_eq!(
            interpret(UINT8, &RawValue::Int(0xFF)),
            Ok(MetricValue::Number(255.0))
        );
        assert_eq!(
            interpret(UINT32, &RawValue::Int(u32::MAX)),
            Ok(MetricValue::Number(4_294_967_295.0))
        );
        assert_eq!(
            interpret(INT32, &RawValue::Long(-3i32 as u32 as u64)),
            Ok(MetricValue::Number(-3.0))
        );
    }

    #[test]
    fn booleans_text_times_and_mismatches() {
        assert_eq!(
            interpret(BOOLEAN, &RawValue::Boolean(true)),
            Ok(MetricValue::Number(1.0))
        );
        assert_eq!(
            interpret(STRING, &RawValue::String("auto".into())),
            Ok(MetricValue::Shown(json!("auto")))
        );
        assert_eq!(
            interpret(DATETIME, &RawValue::Long(1_700_000_000_000)),
            Ok(MetricValue::Shown(json!("2023-11-14T22:13:20.000Z")))
        );
        assert!(interpret(BOOLEAN, &RawValue::String("yes".into())).is_err());
        assert!(interpret(DOUBLE, &RawValue::None).is_err());
    }

    #[test]
    fn arrays_unpack_from_bytes() {
        assert_eq!(
            interpret(22, &RawValue::Bytes(vec![0xFF, 0x01])),
            Ok(MetricValue::Shown(json!([-1, 1])))
        );
        assert_eq!(
            interpret(31, &RawValue::Bytes(1.5f64.to_le_bytes().to_vec())),
            Ok(MetricValue::Shown(json!([1.5])))
        );
        assert_eq!(
            interpret(32, &RawValue::Bytes(vec![3, 0, 0, 0, 0b1010_0000])),
            Ok(MetricValue::Shown(json!([true, false, true])))
        );
        assert_eq!(
            interpret(33, &RawValue::Bytes(b"ab\0c\0".to_vec())),
            Ok(MetricValue::Shown(json!(["ab", "c"])))
        );
        assert!(
            interpret(24, &RawValue::Bytes(vec![1, 2, 3])).is_err(),
            "not a whole number of elements"
        );
        assert!(
            interpret(32, &RawValue::Bytes(vec![200, 0, 0, 0, 1])).is_err(),
            "more Booleans than bits"
        );
    }

    #[test]
    fn a_data_set_becomes_columns_and_rows() {
        let set = DataSet {
            columns: vec!["step".into(), "delta".into()],
            types: vec![UINT32, INT32],
            rows: vec![vec![RawValue::Int(1), RawValue::Int(-2i32 as u32)]],
        };
        assert_eq!(
            interpret(DATASET, &RawValue::DataSet(set)),
            Ok(MetricValue::Shown(
                json!({"columns": ["step", "delta"], "rows": [[1.0, -2.0]]})
            ))
        );
    }
}
