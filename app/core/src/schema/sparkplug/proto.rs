//! Sparkplug B payloads (Eclipse Tahu's `sparkplug_b.proto`, proto2) read and written by hand:
//! the protobuf wire format is small, the message is one file, and a hand-written reader
//! checks every length against the bytes that are there, so a hostile payload costs no more
//! memory than its own size and nests no deeper than [`MAX_DEPTH`].

use std::fmt;

use super::scalar::{MetricIn, read_scalar_metric};

/// Templates inside templates (and data sets inside them) nest at most this deep.
pub const MAX_DEPTH: usize = 16;

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoError(pub String);

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cold]
fn error<T>(what: impl Into<String>) -> Result<T, ProtoError> {
    Err(ProtoError(what.into()))
}

/// One field as it is on the wire.
#[derive(Debug, Clone, Copy)]
enum Field<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

impl<'a> Field<'a> {
    #[inline(always)]
    fn varint(self) -> Result<u64, ProtoError> {
        match self {
            Field::Varint(v) => Ok(v),
            _ => error("expected a varint"),
        }
    }
    #[inline(always)]
    fn bytes(self) -> Result<&'a [u8], ProtoError> {
        match self {
            Field::Bytes(b) => Ok(b),
            _ => error("expected a length-delimited field"),
        }
    }
    fn string(self) -> Result<String, ProtoError> {
        String::from_utf8(self.bytes()?.to_vec()).or_else(|_| error("a string is not UTF-8"))
    }
    #[inline(always)]
    fn float(self) -> Result<f32, ProtoError> {
        match self {
            Field::Fixed32(v) => Ok(f32::from_bits(v)),
            _ => error("expected a 32-bit float"),
        }
    }
    #[inline(always)]
    fn double(self) -> Result<f64, ProtoError> {
        match self {
            Field::Fixed64(v) => Ok(f64::from_bits(v)),
            _ => error("expected a 64-bit double"),
        }
    }
}

/// Walks the fields of one message.
pub(super) struct Fields<'a> {
    pub(super) rest: &'a [u8],
}

impl<'a> Fields<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Fields { rest: bytes }
    }

    #[inline(always)]
    pub(super) fn read_varint(&mut self) -> Result<u64, ProtoError> {
        // Keys, aliases and small numbers are one byte.
        if let Some((&byte, rest)) = self.rest.split_first()
            && byte < 0x80
        {
            self.rest = rest;
            return Ok(u64::from(byte));
        }
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let Some((&byte, rest)) = self.rest.split_first() else {
                return error("a varint runs past the end");
            };
            self.rest = rest;
            if shift == 63 && byte > 1 {
                return error("a varint is longer than 64 bits");
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        error("a varint is longer than 10 bytes")
    }

    #[inline(always)]
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], ProtoError> {
        if n > self.rest.len() {
            return error(format!(
                "a field of {n} bytes runs past the end ({} left)",
                self.rest.len()
            ));
        }
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(taken)
    }

    /// A length-delimited field's bytes (its key read).
    #[inline(always)]
    fn bytes(&mut self) -> Result<&'a [u8], ProtoError> {
        let len = self.read_varint()?;
        self.take(usize::try_from(len).unwrap_or(usize::MAX))
    }

    #[inline(always)]
    fn skip_bytes(&mut self) -> Result<(), ProtoError> {
        self.bytes().map(|_| ())
    }

    #[inline(always)]
    fn next_field(&mut self) -> Result<Option<(u32, Field<'a>)>, ProtoError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let key = self.read_varint()?;
        let number =
            u32::try_from(key >> 3).or_else(|_| error("a field number is out of range"))?;
        let field = match key & 7 {
            0 => Field::Varint(self.read_varint()?),
            1 => Field::Fixed64(u64::from_le_bytes(
                self.take(8)?.try_into().expect("8 bytes"),
            )),
            2 => Field::Bytes(self.bytes()?),
            5 => Field::Fixed32(u32::from_le_bytes(
                self.take(4)?.try_into().expect("4 bytes"),
            )),
            other => return error(format!("wire type {other} is not supported")),
        };
        Ok(Some((number, field)))
    }
}

/// A metric's value as sent (which one is set depends on the datatype).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum RawValue {
    #[default]
    None,
    Int(u32),
    Long(u64),
    Float(f32),
    Double(f64),
    Boolean(bool),
    String(String),
    Bytes(Vec<u8>),
    DataSet(DataSet),
    Template(Template),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metric {
    pub name: Option<String>,
    pub alias: Option<u64>,
    pub timestamp: Option<u64>,
    pub datatype: Option<u32>,
    pub is_historical: bool,
    pub is_transient: bool,
    pub is_null: bool,
    pub properties: Vec<(String, RawValue)>,
    pub value: RawValue,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataSet {
    pub columns: Vec<String>,
    pub types: Vec<u32>,
    pub rows: Vec<Vec<RawValue>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    pub template_ref: Option<String>,
    pub is_definition: bool,
    pub metrics: Vec<Metric>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Payload {
    pub timestamp: Option<u64>,
    pub metrics: Vec<Metric>,
    pub seq: Option<u64>,
}

impl Payload {
    pub fn decode(bytes: &[u8]) -> Result<Payload, ProtoError> {
        let mut payload = Payload::default();
        let mut fields = Fields::new(bytes);
        while let Some((number, field)) = fields.next_field()? {
            match number {
                1 => payload.timestamp = Some(field.varint()?),
                2 => payload.metrics.push(decode_metric(field.bytes()?, 0)?),
                3 => payload.seq = Some(field.varint()?),
                _ => {} // uuid, body, extensions
            }
        }
        Ok(payload)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(t) = self.timestamp {
            put_varint_field(&mut out, 1, t);
        }
        for metric in &self.metrics {
            put_bytes_field(&mut out, 2, &encode_metric(metric));
        }
        if let Some(seq) = self.seq {
            put_varint_field(&mut out, 3, seq);
        }
        out
    }
}

fn decode_metric(bytes: &[u8], depth: usize) -> Result<Metric, ProtoError> {
    let mut metric = Metric::default();
    if let Some(name) = decode_metric_into(bytes, depth, &mut metric)? {
        metric.name = Some(name.to_owned());
    }
    Ok(metric)
}

/// Reads one metric into `metric` (every field reset first), its name left in the bytes and
/// returned: a DATA message's scalar metrics are read without allocating.
pub(super) fn decode_metric_into<'a>(
    bytes: &'a [u8],
    depth: usize,
    metric: &mut Metric,
) -> Result<Option<&'a str>, ProtoError> {
    if depth > MAX_DEPTH {
        return error(format!("templates nest deeper than {MAX_DEPTH}"));
    }
    metric.name = None;
    metric.alias = None;
    metric.timestamp = None;
    metric.datatype = None;
    metric.is_historical = false;
    metric.is_transient = false;
    metric.is_null = false;
    metric.properties.clear();
    metric.value = RawValue::None;
    let mut name = None;
    let mut fields = Fields::new(bytes);
    while let Some((number, field)) = fields.next_field()? {
        match number {
            1 => {
                name = Some(
                    std::str::from_utf8(field.bytes()?)
                        .or_else(|_| error("a string is not UTF-8"))?,
                )
            }
            2 => metric.alias = Some(field.varint()?),
            3 => metric.timestamp = Some(field.varint()?),
            4 => metric.datatype = Some(field.varint()? as u32),
            5 => metric.is_historical = field.varint()? != 0,
            6 => metric.is_transient = field.varint()? != 0,
            7 => metric.is_null = field.varint()? != 0,
            9 => metric.properties = decode_property_set(field.bytes()?, depth + 1)?,
            10 => metric.value = RawValue::Int(field.varint()? as u32),
            11 => metric.value = RawValue::Long(field.varint()?),
            12 => metric.value = RawValue::Float(field.float()?),
            13 => metric.value = RawValue::Double(field.double()?),
            14 => metric.value = RawValue::Boolean(field.varint()? != 0),
            15 => metric.value = RawValue::String(field.string()?),
            16 => metric.value = RawValue::Bytes(field.bytes()?.to_vec()),
            17 => metric.value = RawValue::DataSet(decode_data_set(field.bytes()?)?),
            18 => metric.value = RawValue::Template(decode_template(field.bytes()?, depth + 1)?),
            _ => {} // metadata, extensions
        }
    }
    Ok(name)
}

/// A payload's timestamp and seq, read without its metrics (which are only skipped over).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    pub timestamp: Option<u64>,
    pub seq: Option<u64>,
}

impl Header {
    pub fn read(bytes: &[u8]) -> Result<Header, ProtoError> {
        let mut header = Header::default();
        let mut fields = Fields::new(bytes);
        loop {
            // What a payload nearly always is, by its one-byte keys; anything else as any
            // field is read.
            match fields.rest.first() {
                None => return Ok(header),
                Some(0x08) => {
                    fields.rest = &fields.rest[1..];
                    header.timestamp = Some(fields.read_varint()?);
                }
                Some(0x12) => {
                    fields.rest = &fields.rest[1..];
                    fields.skip_bytes()?;
                }
                Some(0x18) => {
                    fields.rest = &fields.rest[1..];
                    header.seq = Some(fields.read_varint()?);
                }
                Some(_) => match fields.next_field()? {
                    Some((1, field)) => header.timestamp = Some(field.varint()?),
                    Some((3, field)) => header.seq = Some(field.varint()?),
                    _ => {}
                },
            }
        }
    }
}

/// Reads a payload's metrics one at a time and hands each to `visit` with its name borrowed
/// from the bytes: the steady DATA path, with no message built (a scalar metric is read in
/// place, any other into one metric reused).
pub fn for_each_metric<'a>(
    bytes: &'a [u8],
    mut visit: impl FnMut(Option<&'a str>, MetricIn<'_>),
) -> Result<(), ProtoError> {
    // Made only for a metric that is not all scalars (then reused).
    let mut whole: Option<Metric> = None;
    let mut fields = Fields::new(bytes);
    loop {
        // Metrics by their one-byte key; anything else as any field is read.
        let bytes = match fields.rest.first() {
            None => return Ok(()),
            Some(0x12) => {
                fields.rest = &fields.rest[1..];
                fields.bytes()?
            }
            Some(_) => match fields.next_field()? {
                Some((2, field)) => field.bytes()?,
                _ => continue,
            },
        };
        read_metric(bytes, &mut whole, &mut visit)?;
    }
}

/// One metric field's bytes, handed to `visit` (a scalar metric read in place, any other
/// into `whole`, made the first time and reused).
#[inline(always)]
fn read_metric<'a>(
    bytes: &'a [u8],
    whole: &mut Option<Metric>,
    visit: &mut impl FnMut(Option<&'a str>, MetricIn<'_>),
) -> Result<(), ProtoError> {
    match read_scalar_metric(bytes) {
        Some((name, scalar)) => visit(name, MetricIn::Scalar(scalar)),
        None => {
            let metric = whole.get_or_insert_with(Metric::default);
            let name = decode_metric_into(bytes, 0, metric)?;
            visit(name, MetricIn::Full(metric));
        }
    }
    Ok(())
}

/// Reads a payload laid out as encoders write it (the timestamp, the metrics, then the seq)
/// in one pass: each metric goes to `visit` with the payload's timestamp, and the header
/// comes back at the end, instead of reading the header first and the metrics after it.
/// `None`, with `visit` perhaps called for some metrics, for any other layout (a timestamp
/// after a metric, any other field, a field by a key of more than one byte) or anything
/// unreadable: such a payload is then read as usual, header first.
pub fn read_in_order<'a>(
    bytes: &'a [u8],
    mut visit: impl FnMut(Option<u64>, Option<&'a str>, MetricIn<'_>),
) -> Option<Header> {
    let mut whole: Option<Metric> = None;
    let mut header = Header::default();
    let mut fields = Fields::new(bytes);
    let mut metrics_seen = false;
    while let Some((&key, rest)) = fields.rest.split_first() {
        fields.rest = rest;
        match key {
            0x08 if !metrics_seen => header.timestamp = Some(fields.read_varint().ok()?),
            0x12 => {
                metrics_seen = true;
                let timestamp = header.timestamp;
                read_metric(fields.bytes().ok()?, &mut whole, &mut |name, metric| {
                    visit(timestamp, name, metric)
                })
                .ok()?;
            }
            0x18 => header.seq = Some(fields.read_varint().ok()?),
            _ => return None,
        }
    }
    Some(header)
}

fn decode_property_set(bytes: &[u8], depth: usize) -> Result<Vec<(String, RawValue)>, ProtoError> {
    if depth > MAX_DEPTH {
        return error(format!("property sets nest deeper than {MAX_DEPTH}"));
    }
    let (mut keys, mut values) = (Vec::new(), Vec::new());
    let mut fields = Fields::new(bytes);
    while let Some((number, field)) = fields.next_field()? {
        match number {
            1 => keys.push(field.string()?),
            // PropertyValue: type, is_null, then the scalars from 3 (nested sets: not shown).
            2 => values.push(decode_scalar(field.bytes()?, 3)?),
            _ => {}
        }
    }
    Ok(keys.into_iter().zip(values).collect())
}

/// A message whose scalar value (int, long, float, double, boolean, string) is in the six
/// fields from `base` on, as PropertyValue and DataSetValue have it ([`encode_value`]'s order).
fn decode_scalar(bytes: &[u8], base: u32) -> Result<RawValue, ProtoError> {
    let mut value = RawValue::None;
    let mut fields = Fields::new(bytes);
    while let Some((number, field)) = fields.next_field()? {
        match number.checked_sub(base) {
            Some(0) => value = RawValue::Int(field.varint()? as u32),
            Some(1) => value = RawValue::Long(field.varint()?),
            Some(2) => value = RawValue::Float(field.float()?),
            Some(3) => value = RawValue::Double(field.double()?),
            Some(4) => value = RawValue::Boolean(field.varint()? != 0),
            Some(5) => value = RawValue::String(field.string()?),
            _ => {}
        }
    }
    Ok(value)
}

fn decode_data_set(bytes: &[u8]) -> Result<DataSet, ProtoError> {
    let mut set = DataSet::default();
    let mut fields = Fields::new(bytes);
    while let Some((number, field)) = fields.next_field()? {
        match number {
            2 => set.columns.push(field.string()?),
            3 => match field {
                // Packed or not, both are allowed by proto2 readers.
                Field::Bytes(packed) => {
                    let mut inner = Fields::new(packed);
                    while !inner.rest.is_empty() {
                        set.types.push(inner.read_varint()? as u32);
                    }
                }
                other => set.types.push(other.varint()? as u32),
            },
            4 => {
                let mut row = Vec::new();
                let mut elements = Fields::new(field.bytes()?);
                while let Some((number, field)) = elements.next_field()? {
                    if number != 1 {
                        continue;
                    }
                    // DataSetValue: the scalars from 1.
                    row.push(decode_scalar(field.bytes()?, 1)?);
                }
                set.rows.push(row);
            }
            _ => {}
        }
    }
    Ok(set)
}

fn decode_template(bytes: &[u8], depth: usize) -> Result<Template, ProtoError> {
    let mut template = Template::default();
    let mut fields = Fields::new(bytes);
    while let Some((number, field)) = fields.next_field()? {
        match number {
            2 => template.metrics.push(decode_metric(field.bytes()?, depth)?),
            4 => template.template_ref = Some(field.string()?),
            5 => template.is_definition = field.varint()? != 0,
            _ => {}
        }
    }
    Ok(template)
}

pub(super) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_key(out: &mut Vec<u8>, number: u32, wire: u8) {
    put_varint(out, (u64::from(number) << 3) | u64::from(wire));
}

pub(super) fn put_varint_field(out: &mut Vec<u8>, number: u32, value: u64) {
    put_key(out, number, 0);
    put_varint(out, value);
}

pub(super) fn put_bytes_field(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    put_key(out, number, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn encode_value(out: &mut Vec<u8>, base: u32, value: &RawValue) {
    match value {
        RawValue::None => {}
        RawValue::Int(v) => put_varint_field(out, base, u64::from(*v)),
        RawValue::Long(v) => put_varint_field(out, base + 1, *v),
        RawValue::Float(v) => {
            put_key(out, base + 2, 5);
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        RawValue::Double(v) => {
            put_key(out, base + 3, 1);
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        RawValue::Boolean(v) => put_varint_field(out, base + 4, u64::from(*v)),
        RawValue::String(v) => put_bytes_field(out, base + 5, v.as_bytes()),
        RawValue::Bytes(v) => put_bytes_field(out, base + 6, v),
        RawValue::Template(template) => {
            let mut bytes = Vec::new();
            for metric in &template.metrics {
                put_bytes_field(&mut bytes, 2, &encode_metric(metric));
            }
            if let Some(reference) = &template.template_ref {
                put_bytes_field(&mut bytes, 4, reference.as_bytes());
            }
            if template.is_definition {
                put_varint_field(&mut bytes, 5, 1);
            }
            put_bytes_field(out, base + 8, &bytes);
        }
        RawValue::DataSet(_) => {} // never written here
    }
}

pub(super) fn encode_metric(metric: &Metric) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(name) = &metric.name {
        put_bytes_field(&mut out, 1, name.as_bytes());
    }
    if let Some(alias) = metric.alias {
        put_varint_field(&mut out, 2, alias);
    }
    if let Some(t) = metric.timestamp {
        put_varint_field(&mut out, 3, t);
    }
    if let Some(datatype) = metric.datatype {
        put_varint_field(&mut out, 4, u64::from(datatype));
    }
    for (number, flag) in [
        (5, metric.is_historical),
        (6, metric.is_transient),
        (7, metric.is_null),
    ] {
        if flag {
            put_varint_field(&mut out, number, 1);
        }
    }
    if !metric.properties.is_empty() {
        let mut set = Vec::new();
        for (key, _) in &metric.properties {
            put_bytes_field(&mut set, 1, key.as_bytes());
        }
        for (_, value) in &metric.properties {
            let mut property = Vec::new();
            encode_value(&mut property, 3, value);
            put_bytes_field(&mut set, 2, &property);
        }
        put_bytes_field(&mut out, 9, &set);
    }
    encode_value(&mut out, 10, &metric.value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_survives_encoding_and_decoding() {
        let payload = Payload {
            timestamp: Some(1_700_000_000_000),
            seq: Some(7),
            metrics: vec![
                Metric {
                    name: Some("Temperature".into()),
                    alias: Some(3),
                    datatype: Some(10),
                    value: RawValue::Double(21.5),
                    properties: vec![("engUnit".into(), RawValue::String("°C".into()))],
                    ..Default::default()
                },
                Metric {
                    alias: Some(4),
                    datatype: Some(3),
                    value: RawValue::Int(-5i32 as u32),
                    ..Default::default()
                },
                Metric {
                    name: Some("Node Control/Rebirth".into()),
                    datatype: Some(11),
                    value: RawValue::Boolean(true),
                    ..Default::default()
                },
                Metric {
                    name: Some("gone".into()),
                    is_null: true,
                    ..Default::default()
                },
            ],
        };
        assert_eq!(Payload::decode(&payload.encode()), Ok(payload));
    }

    #[test]
    fn truncated_and_hostile_payloads_are_refused_without_allocating() {
        let good = Payload {
            seq: Some(1),
            metrics: vec![Metric {
                name: Some("x".into()),
                value: RawValue::Double(1.0),
                ..Default::default()
            }],
            ..Default::default()
        }
        .encode();
        for cut in 0..good.len() {
            let _ = Payload::decode(&good[..cut]); // an error or a shorter payload, never a panic
        }
        // A length of 2^62 in a tiny payload.
        let huge = [0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f];
        assert!(Payload::decode(&huge).is_err());
        // An 11-byte varint.
        assert!(
            Payload::decode(&[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ])
            .is_err()
        );
        // Wire types 3, 4 (groups), 6 and 7 do not exist here.
        assert!(Payload::decode(&[0x0b]).is_err());
        // Templates nested past the limit.
        let mut metric = encode_metric(&Metric {
            name: Some("leaf".into()),
            ..Default::default()
        });
        for _ in 0..=MAX_DEPTH + 1 {
            let mut template = Vec::new();
            put_bytes_field(&mut template, 2, &metric);
            metric = Vec::new();
            put_bytes_field(&mut metric, 18, &template);
        }
        let mut payload = Vec::new();
        put_bytes_field(&mut payload, 2, &metric);
        assert!(Payload::decode(&payload).unwrap_err().0.contains("deeper"));
    }

    #[test]
    fn a_data_set_reads_packed_and_unpacked_types() {
        let mut set = Vec::new();
        put_varint_field(&mut set, 1, 2);
        put_bytes_field(&mut set, 2, b"step");
        put_bytes_field(&mut set, 2, b"temp");
        put_bytes_field(&mut set, 3, &[7, 10]); // packed: UInt32, Double
        let mut row = Vec::new();
        let mut element = Vec::new();
        put_varint_field(&mut element, 1, 1);
        put_bytes_field(&mut row, 1, &element);
        // DataSetValue numbers its values as a metric does, from 1 instead of 10.
        let mut element = Vec::new();
        encode_value(&mut element, 1, &RawValue::Double(80.0));
        put_bytes_field(&mut row, 1, &element);
        put_bytes_field(&mut set, 4, &row);
        let decoded = decode_data_set(&set).unwrap();
        assert_eq!(decoded.columns, ["step", "temp"]);
        assert_eq!(decoded.types, [7, 10]);
        assert_eq!(
            decoded.rows,
            vec![vec![RawValue::Int(1), RawValue::Double(80.0)]]
        );
    }
}
