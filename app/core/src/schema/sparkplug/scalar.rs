//! A DATA metric that holds only scalar fields (alias, timestamp, datatype, flags, and a
//! number or Boolean), read in place by its one-byte keys into a copyable view: nearly every
//! DATA metric is this, and the general reader's resetting of a reused [`Metric`] (dropping
//! a value of any kind, clearing properties) and its per-field bookkeeping cost more than the
//! reading. Anything else is read whole by [`proto`](super::proto), as before.

use super::proto::{Fields, Metric, RawValue};

/// A metric's value when it is a number or a Boolean (or absent): what nearly every DATA
/// metric carries, copied without any of [`RawValue`]'s owned kinds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Scalar {
    #[default]
    None,
    Int(u32),
    Long(u64),
    Float(f32),
    Double(f64),
    Boolean(bool),
}

impl RawValue {
    /// The value as a [`Scalar`], unless it is text, bytes, a data set or a template.
    pub fn scalar(&self) -> Option<Scalar> {
        Some(match *self {
            RawValue::None => Scalar::None,
            RawValue::Int(v) => Scalar::Int(v),
            RawValue::Long(v) => Scalar::Long(v),
            RawValue::Float(v) => Scalar::Float(v),
            RawValue::Double(v) => Scalar::Double(v),
            RawValue::Boolean(v) => Scalar::Boolean(v),
            RawValue::String(_)
            | RawValue::Bytes(_)
            | RawValue::DataSet(_)
            | RawValue::Template(_) => return None,
        })
    }
}

/// A metric of scalar fields only: everything of a [`Metric`] but its name (left in the
/// payload), properties (it has none) and a value other than a [`Scalar`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ScalarMetric {
    pub alias: Option<u64>,
    pub timestamp: Option<u64>,
    pub datatype: Option<u32>,
    pub is_historical: bool,
    pub is_transient: bool,
    pub is_null: bool,
    pub value: Scalar,
}

/// One metric as DATA hands it on: a scalar one as read in place (nothing to drop), any
/// other whole.
#[derive(Debug, Clone, Copy)]
pub enum MetricIn<'m> {
    Scalar(ScalarMetric),
    Full(&'m Metric),
}

impl MetricIn<'_> {
    pub fn alias(self) -> Option<u64> {
        match self {
            MetricIn::Scalar(m) => m.alias,
            MetricIn::Full(m) => m.alias,
        }
    }
    pub fn timestamp(self) -> Option<u64> {
        match self {
            MetricIn::Scalar(m) => m.timestamp,
            MetricIn::Full(m) => m.timestamp,
        }
    }
    pub fn datatype(self) -> Option<u32> {
        match self {
            MetricIn::Scalar(m) => m.datatype,
            MetricIn::Full(m) => m.datatype,
        }
    }
    /// `is_null`, `is_transient`, `is_historical`.
    pub fn flags(self) -> (bool, bool, bool) {
        match self {
            MetricIn::Scalar(m) => (m.is_null, m.is_transient, m.is_historical),
            MetricIn::Full(m) => (m.is_null, m.is_transient, m.is_historical),
        }
    }
    /// The value, as a scalar or whole.
    pub fn value(&self) -> Result<Scalar, &RawValue> {
        match self {
            MetricIn::Scalar(m) => Ok(m.value),
            MetricIn::Full(m) => m.value.scalar().ok_or(&m.value),
        }
    }
}

/// A metric of scalar fields only (name, alias, timestamp, datatype, flags, and a number or
/// Boolean value), read by its one-byte keys: nearly every DATA metric is this, and the
/// general reader's resetting of a reused metric (dropping a value of any kind, clearing
/// properties) and its per-field bookkeeping cost more than the reading (about 200
/// instructions a metric). `None` for anything else (text, bytes, a data set, a template,
/// properties, metadata, a field past 15, a wrong wire type, anything malformed), which the
/// general reader then reads or refuses as before.
#[inline(always)]
pub(super) fn read_scalar_metric(bytes: &[u8]) -> Option<(Option<&str>, ScalarMetric)> {
    let mut metric = ScalarMetric::default();
    let mut name = None;
    let mut fields = Fields::new(bytes);
    while let Some((&key, rest)) = fields.rest.split_first() {
        fields.rest = rest;
        let mut varint = || fields.read_varint().ok();
        match key {
            0x0a => {
                let len = usize::try_from(varint()?).ok()?;
                name = Some(std::str::from_utf8(fields.take(len).ok()?).ok()?);
            }
            0x10 => metric.alias = Some(varint()?),
            0x18 => metric.timestamp = Some(varint()?),
            0x20 => metric.datatype = Some(varint()? as u32),
            0x28 => metric.is_historical = varint()? != 0,
            0x30 => metric.is_transient = varint()? != 0,
            0x38 => metric.is_null = varint()? != 0,
            0x50 => metric.value = Scalar::Int(varint()? as u32),
            0x58 => metric.value = Scalar::Long(varint()?),
            0x65 => {
                metric.value =
                    Scalar::Float(f32::from_le_bytes(fields.take(4).ok()?.try_into().ok()?))
            }
            0x69 => {
                metric.value =
                    Scalar::Double(f64::from_le_bytes(fields.take(8).ok()?.try_into().ok()?))
            }
            0x70 => metric.value = Scalar::Boolean(varint()? != 0),
            _ => return None,
        }
    }
    Some((name, metric))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::sparkplug::proto::{Template, decode_metric_into, encode_metric};

    fn as_scalar(m: &Metric) -> Option<ScalarMetric> {
        let value = m.value.scalar()?;
        m.properties.is_empty().then_some(ScalarMetric {
            alias: m.alias,
            timestamp: m.timestamp,
            datatype: m.datatype,
            is_historical: m.is_historical,
            is_transient: m.is_transient,
            is_null: m.is_null,
            value,
        })
    }

    /// The scalar reader reads what the general one reads, and leaves it everything else.
    #[test]
    fn scalar_metrics_read_as_the_general_reader_reads_them() {
        let metrics = [
            Metric {
                alias: Some(3),
                value: RawValue::Double(-21.5),
                ..Default::default()
            },
            Metric {
                name: Some("Line/Speed".into()),
                alias: Some(1 << 40),
                timestamp: Some(1_700_000_000_123),
                datatype: Some(9),
                value: RawValue::Float(2.5),
                ..Default::default()
            },
            Metric {
                alias: Some(4),
                datatype: Some(3),
                value: RawValue::Int(-5i32 as u32),
                is_historical: true,
                is_transient: true,
                ..Default::default()
            },
            Metric {
                alias: Some(5),
                datatype: Some(8),
                value: RawValue::Long(u64::MAX),
                ..Default::default()
            },
            Metric {
                name: Some("Alarm".into()),
                datatype: Some(11),
                value: RawValue::Boolean(true),
                ..Default::default()
            },
            Metric {
                name: Some("gone".into()),
                is_null: true,
                ..Default::default()
            },
            Metric::default(),
        ];
        for metric in &metrics {
            let bytes = encode_metric(metric);
            let (name, scalar) = read_scalar_metric(&bytes).expect("scalar");
            let mut general = Metric {
                value: RawValue::String("left over".into()),
                properties: vec![("k".into(), RawValue::Int(1))],
                ..Default::default()
            };
            assert_eq!(decode_metric_into(&bytes, 0, &mut general), Ok(name));
            assert_eq!(Some(scalar), as_scalar(&general));
            // Cut short: refused by both, or read alike.
            for cut in 0..bytes.len() {
                let (fast, slow) = (
                    read_scalar_metric(&bytes[..cut]),
                    decode_metric_into(&bytes[..cut], 0, &mut general),
                );
                if let Some((name, scalar)) = fast {
                    assert_eq!((Ok(name), Some(scalar)), (slow, as_scalar(&general)));
                }
            }
        }
        let not_scalar = [
            Metric {
                alias: Some(1),
                value: RawValue::String("auto".into()),
                ..Default::default()
            },
            Metric {
                alias: Some(1),
                value: RawValue::Bytes(vec![1, 2]),
                ..Default::default()
            },
            Metric {
                alias: Some(1),
                value: RawValue::Double(1.0),
                properties: vec![("engUnit".into(), RawValue::String("°C".into()))],
                ..Default::default()
            },
            Metric {
                alias: Some(1),
                value: RawValue::Template(Template::default()),
                ..Default::default()
            },
        ];
        for metric in &not_scalar {
            assert!(
                read_scalar_metric(&encode_metric(metric)).is_none(),
                "{metric:?}"
            );
        }
        // A name that is not UTF-8, a field past 15, a known field with the wrong wire type.
        for bytes in [
            &[0x0a, 0x01, 0xff][..],
            &[0x80, 0x01, 0x00],
            &[0x11, 0, 0, 0, 0, 0, 0, 0, 0],
        ] {
            assert!(read_scalar_metric(bytes).is_none());
        }
    }
}
