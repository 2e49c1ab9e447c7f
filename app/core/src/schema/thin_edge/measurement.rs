//! Streaming decode of thin-edge measurement payloads.
//!
//! `{"temperature": 23.4, "Climate": {"Humidity": 90}, "time": "2024-05-01T12:00:00Z"}`:
//! top-level numbers are measurements, objects are groups of measurements (named
//! `group.name`), and `time` is RFC 3339 or Unix seconds. The payload is walked once with
//! serde's visitor API, names are interned, and nothing is allocated in steady state.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

use crate::time::Timestamp;
use crate::twin::{Interner, PropertyName};

/// Reusable buffers for decoding measurements.
#[derive(Default)]
pub struct MeasurementScratch {
    pub values: Vec<(PropertyName, f64)>,
    name: String,
}

/// Decodes `payload` into `scratch.values`; returns the payload's time, if it had one.
pub fn decode_measurements(
    payload: &[u8],
    interner: &mut Interner,
    scratch: &mut MeasurementScratch,
) -> Result<Option<Timestamp>, String> {
    scratch.values.clear();
    let mut deserializer = serde_json::Deserializer::from_slice(payload);
    let mut time = None;
    let seed = TopLevel {
        interner,
        scratch: &mut *scratch,
        time: &mut time,
    };
    seed.deserialize(&mut deserializer)
        .map_err(|e| e.to_string())?;
    deserializer.end().map_err(|e| e.to_string())?;
    Ok(time)
}

/// A map key, borrowed from the payload when it has no escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_owned()))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct TopLevel<'a> {
    interner: &'a mut Interner,
    scratch: &'a mut MeasurementScratch,
    time: &'a mut Option<Timestamp>,
}

impl<'de> DeserializeSeed<'de> for TopLevel<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of measurements")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let key = key.as_str();
            if key == "time" {
                *self.time = Some(map.next_value_seed(TimeSeed)?);
            } else if key == "type" {
                // Some publishers repeat the measurement type in the payload; it is not a value.
                map.next_value::<IgnoredAny>()?;
            } else {
                map.next_value_seed(Entry {
                    key,
                    state: &mut self,
                })?;
            }
        }
        Ok(())
    }
}

/// One top-level value: a number, or a group of numbers.
struct Entry<'k, 'a, 'b> {
    key: &'k str,
    state: &'b mut TopLevel<'a>,
}

impl<'de> DeserializeSeed<'de> for Entry<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Entry<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a number or an object of numbers for {:?}", self.key)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        push(self.state, self.key, None, v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        push(self.state, self.key, None, v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        push(self.state, self.key, None, v as f64)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(name) = map.next_key::<Key<'de>>()? {
            let value = map.next_value_seed(GroupValue {
                group: self.key,
                name: name.as_str(),
            })?;
            push(self.state, self.key, Some(name.as_str()), value)?;
        }
        Ok(())
    }
}

fn push<E: de::Error>(
    state: &mut TopLevel<'_>,
    group_or_name: &str,
    name: Option<&str>,
    value: f64,
) -> Result<(), E> {
    if !value.is_finite() {
        return Err(E::custom(format_args!(
            "{group_or_name:?} is not a finite number"
        )));
    }
    let interned = match name {
        None => state.interner.property_name(group_or_name),
        Some(name) => {
            let buffer = &mut state.scratch.name;
            buffer.clear();
            buffer.push_str(group_or_name);
            buffer.push('.');
            buffer.push_str(name);
            state.interner.property_name(buffer)
        }
    };
    state.scratch.values.push((interned, value));
    Ok(())
}

/// A value inside a group: only numbers are allowed.
struct GroupValue<'k> {
    group: &'k str,
    name: &'k str,
}

impl<'de> DeserializeSeed<'de> for GroupValue<'_> {
    type Value = f64;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<f64, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for GroupValue<'_> {
    type Value = f64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a number for {}.{}", self.group, self.name)
    }
    fn visit_f64<E>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
    fn visit_i64<E>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_u64<E>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
}

/// thin-edge's `time`: RFC 3339 text or (fractional) Unix seconds.
pub struct TimeSeed;

impl<'de> DeserializeSeed<'de> for TimeSeed {
    type Value = Timestamp;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Timestamp, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TimeSeed {
    type Value = Timestamp;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an RFC 3339 time or Unix seconds")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
        Timestamp::parse_rfc3339(v)
            .ok_or_else(|| E::custom(format_args!("time {v:?} is not RFC 3339")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
        Timestamp::from_unix_seconds(v)
            .ok_or_else(|| E::custom(format_args!("time {v} is out of range")))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
        self.visit_f64(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
        self.visit_f64(v as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Decoded = (Vec<(String, f64)>, Option<Timestamp>);

    fn decode(payload: &str) -> Result<Decoded, String> {
        let mut interner = Interner::default();
        let mut scratch = MeasurementScratch::default();
        let time = decode_measurements(payload.as_bytes(), &mut interner, &mut scratch)?;
        Ok((
            scratch
                .values
                .iter()
                .map(|(n, v)| (n.to_string(), *v))
                .collect(),
            time,
        ))
    }

    #[test]
    fn flat_and_grouped_values() {
        let (values, time) = decode(
            r#"{"temperature": 23.4, "Climate": {"Humidity": 90, "Pressure": 1013.5}, "count": 3}"#,
        )
        .unwrap();
        assert_eq!(
            values,
            [
                ("temperature".into(), 23.4),
                ("Climate.Humidity".into(), 90.0),
                ("Climate.Pressure".into(), 1013.5),
                ("count".into(), 3.0)
            ]
        );
        assert_eq!(time, None);
    }

    #[test]
    fn time_as_text_or_seconds() {
        let (_, time) = decode(r#"{"t": 1, "time": "2020-10-15T05:30:47+00:00"}"#).unwrap();
        assert_eq!(time, Timestamp::parse_rfc3339("2020-10-15T05:30:47Z"));
        let (_, time) = decode(r#"{"time": 1674739912.5, "t": 1}"#).unwrap();
        assert_eq!(time, Some(Timestamp(1_674_739_912_500_000)));
    }

    #[test]
    fn escaped_keys_are_decoded() {
        let (values, _) = decode(r#"{"temp\u00e9rature": 1}"#).unwrap();
        assert_eq!(values[0].0, "température");
    }

    #[test]
    fn rejects_what_is_not_a_measurement() {
        for bad in [
            r#"{"temperature": "hot"}"#,
            r#"{"temperature": true}"#,
            r#"{"temperature": null}"#,
            r#"{"g": {"x": "y"}}"#,
            r#"{"g": {"x": {"deeper": 1}}}"#,
            r#"{"temperature": NaN}"#,
            r#"{"temperature": 1e400}"#,
            r#"{"time": "yesterday", "t": 1}"#,
            r#"[1, 2]"#,
            r#"{"t": 1} trailing"#,
            r#"{"t": 1"#,
            "",
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }
}
