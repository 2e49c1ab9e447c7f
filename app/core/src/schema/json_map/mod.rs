//! User-defined JSON topics (`[[source]]` in a scene manifest), for plants with a topic
//! design of their own: a topic pattern with named captures gives the twin id (and its
//! parent); JSON Pointers give properties (number with unit, scale and offset, on/off, text),
//! the time the values were taken, and alarms. Messages on no source's topics are counted as
//! unknown, as for any schema.

mod pattern;
mod spec;

use std::sync::Arc;

use serde_json::Value;

pub use pattern::{Template, TopicPattern};
pub use spec::{AlarmSpec, PropertySpec, Source, SourceSpec, TimeFormat, ValueKind};

use super::{DecodeError, Decoded, TopicSchema};
use crate::time::Timestamp;
use crate::twin::{EntityKind, Severity, TwinId};
use crate::update::TwinUpdate;

/// Payloads above this are refused, as thin-edge's are.
pub const MAX_PAYLOAD: usize = crate::schema::thin_edge::DEFAULT_MAX_PAYLOAD;
/// What the schema remembers (twins registered, units sent, alarm states) is bounded: past
/// this many entries it forgets and starts over, which costs repeated registrations, not memory.
const MEMORY_LIMIT: usize = 200_000;

/// The JSON mapping schema: every source of a scene.
pub struct JsonMappingSchema {
    sources: Vec<Source>,
    /// Twin ids and property names seen before, shared so the store compares pointers.
    ids: foldhash::HashMap<String, TwinId>,
    names: foldhash::HashMap<String, Arc<str>>,
    scratch: String,
    registered: foldhash::HashSet<TwinId>,
    units_sent: foldhash::HashSet<(TwinId, Arc<str>)>,
    alarms_active: foldhash::HashMap<(TwinId, Arc<str>), bool>,
}

impl JsonMappingSchema {
    /// Checks every source; the first mistake is the error.
    pub fn new(specs: &[SourceSpec]) -> Result<Self, String> {
        let sources = specs.iter().enumerate().map(|(i, s)| s.compile(i)).collect::<Result<_, _>>()?;
        Ok(JsonMappingSchema {
            sources,
            ids: Default::default(),
            names: Default::default(),
            scratch: String::new(),
            registered: Default::default(),
            units_sent: Default::default(),
            alarms_active: Default::default(),
        })
    }

    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    fn forget_if_full(&mut self) {
        if self.ids.len() + self.names.len() + self.registered.len() + self.units_sent.len() + self.alarms_active.len() > MEMORY_LIMIT {
            self.ids.clear();
            self.names.clear();
            self.registered.clear();
            self.units_sent.clear();
            self.alarms_active.clear();
        }
    }
}

/// A number from JSON: numbers, numeric text ("21.5"), true/false as 1/0.
fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
        _ => None,
    }
}

/// On or off: true, non-zero numbers, and the usual words.
fn on_off(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|v| v != 0.0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "1" | "active" | "raised" | "alarm" | "yes" | "open" => Some(true),
            "off" | "false" | "0" | "inactive" | "cleared" | "ok" | "no" | "closed" | "normal" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn time_of(value: &Value, format: TimeFormat) -> Option<Timestamp> {
    match (value, format) {
        (Value::String(text), TimeFormat::Auto | TimeFormat::Rfc3339) => Timestamp::parse_rfc3339(text),
        (Value::Number(n), TimeFormat::Auto) => n.as_f64().and_then(|v| Timestamp::from_unix_seconds(if v.abs() > 1e11 { v / 1000.0 } else { v })),
        (_, TimeFormat::UnixS) => number_of(value).and_then(Timestamp::from_unix_seconds),
        (_, TimeFormat::UnixMs) => number_of(value).and_then(|ms| Timestamp::from_unix_seconds(ms / 1000.0)),
        _ => None,
    }
}

impl TopicSchema for JsonMappingSchema {
    fn name(&self) -> &'static str {
        "json"
    }

    fn subscriptions(&self) -> Vec<String> {
        let mut filters: Vec<String> = self.sources.iter().map(|s| s.pattern.filter()).collect();
        filters.dedup();
        filters
    }

    fn decode(&mut self, topic: &str, payload: &[u8], received: Timestamp, out: &mut Vec<TwinUpdate>) -> Result<Decoded, DecodeError> {
        self.forget_if_full();
        let Some((index, captured)) = self.sources.iter().enumerate().find_map(|(i, s)| s.pattern.matches(topic).map(|c| (i, c))) else {
            return Err(DecodeError::UnknownTopic { schema: "json" });
        };
        if payload.len() > MAX_PAYLOAD {
            return Err(DecodeError::Oversized { len: payload.len(), limit: MAX_PAYLOAD });
        }
        let source = &self.sources[index];
        source.twin.fill_into(&captured, &mut self.scratch);
        if self.scratch.trim().is_empty() {
            return Err(DecodeError::invalid(format!("{}: the topic's captures give an empty twin id", source.name)));
        }
        let document: Value = match serde_json::from_slice(payload) {
            Ok(document) => document,
            // A bare value that is not JSON (ON, idle): its text.
            Err(_) if source.bare_value => Value::String(String::from_utf8_lossy(payload).trim().to_owned()),
            Err(error) => return Err(DecodeError::MalformedJson { reason: error.to_string() }),
        };
        let twin = match self.ids.get(self.scratch.as_str()) {
            Some(twin) => twin.clone(),
            None => {
                let twin = TwinId::from(self.scratch.as_str());
                self.ids.insert(self.scratch.clone(), twin.clone());
                twin
            }
        };
        let names = &mut self.names;
        let mut intern = |name: &str| -> Arc<str> {
            match names.get(name) {
                Some(shared) => shared.clone(),
                None => {
                    let shared: Arc<str> = name.into();
                    names.insert(name.to_owned(), shared.clone());
                    shared
                }
            }
        };
        let start = out.len();
        if !self.registered.contains(&twin) {
            let parent = source.parent.as_ref().map(|p| p.fill(&captured)).filter(|p| !p.trim().is_empty());
            let display_name = source.display_name.as_ref().map(|d| d.fill(&captured));
            out.push(TwinUpdate::Register {
                twin: twin.clone(),
                implicit: true,
                parent: parent.map(|p| TwinId::from(p.as_str())),
                kind: EntityKind::ChildDevice,
                display_name,
                entity_type: None,
            });
            self.registered.insert(twin.clone());
        }
        let time = source.timestamp.as_deref().and_then(|p| document.pointer(p)).and_then(|v| time_of(v, source.time_format)).unwrap_or(received);
        for property in &source.properties {
            let Some(found) = document.pointer(&property.pointer) else { continue };
            let members: Vec<(Arc<str>, &Value)> = match (property.members, found) {
                (true, Value::Object(map)) => map
                    .iter()
                    .map(|(k, v)| {
                        let name = match &property.name {
                            Some(prefix) => intern(&format!("{prefix}/{k}")),
                            None => intern(k),
                        };
                        (name, v)
                    })
                    .collect(),
                (true, _) => continue,
                (false, value) => vec![(property.name.clone().unwrap_or_else(|| "value".into()), value)],
            };
            for (name, value) in members {
                let update = match property.kind {
                    ValueKind::Number => number_of(value).map(|v| TwinUpdate::Measurement { twin: twin.clone(), name: name.clone(), value: v * property.scale + property.offset, time }),
                    ValueKind::Bool => on_off(value).map(|on| TwinUpdate::Measurement { twin: twin.clone(), name: name.clone(), value: if on { 1.0 } else { 0.0 }, time }),
                    ValueKind::String => Some(TwinUpdate::Fragment {
                        twin: twin.clone(),
                        name: name.clone(),
                        value: Some(match value {
                            Value::String(_) => value.clone(),
                            other => Value::String(other.to_string()),
                        }),
                    }),
                };
                let Some(update) = update else { continue };
                if let Some(unit) = &property.unit
                    && self.units_sent.insert((twin.clone(), name.clone()))
                {
                    out.push(TwinUpdate::Unit { twin: twin.clone(), name: name.clone(), unit: unit.clone() });
                }
                out.push(update);
            }
        }
        for alarm in &source.alarms {
            let Some(active) = document.pointer(&alarm.active).and_then(on_off) else { continue };
            let key = (twin.clone(), alarm.alarm_type.clone());
            let was = self.alarms_active.insert(key, active).unwrap_or(false);
            if active == was {
                continue;
            }
            if active {
                let severity = match &alarm.severity {
                    spec::Reading::Fixed(severity) => *severity,
                    spec::Reading::Pointer(p) => document.pointer(p).and_then(Value::as_str).and_then(Severity::parse).unwrap_or(Severity::Major),
                };
                let text = match &alarm.text {
                    Some(spec::Reading::Fixed(text)) => text.clone(),
                    Some(spec::Reading::Pointer(p)) => document.pointer(p).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).unwrap_or_default(),
                    None => alarm.alarm_type.to_string(),
                };
                out.push(TwinUpdate::AlarmRaised { twin: twin.clone(), alarm_type: alarm.alarm_type.clone(), severity, text, time });
            } else {
                out.push(TwinUpdate::AlarmCleared { twin: twin.clone(), alarm_type: alarm.alarm_type.clone(), time });
            }
        }
        Ok(Decoded::Updates(out.len() - start))
    }
}

#[cfg(test)]
pub(crate) mod tests;
