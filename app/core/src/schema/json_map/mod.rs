//! User-defined JSON topics (`[[source]]` in a scene manifest), for plants with a topic
//! design of their own: a topic pattern with named captures gives the twin id (and its
//! parent); JSON Pointers give properties (number with unit, scale and offset, on/off, text),
//! the time the values were taken, and alarms. Messages on no source's topics are counted as
//! unknown, as for any schema.

mod document;
mod pattern;
mod spec;

use std::ops::Range;
use std::sync::Arc;

use serde_json::Value;

pub use document::{Json, JsonPointer};
pub use pattern::{Template, TopicPattern};
pub use spec::{AlarmSpec, Property, PropertySpec, Source, SourceSpec, TimeFormat, ValueKind};

use super::{DecodeError, Decoded, TopicSchema};
use crate::time::Timestamp;
use crate::twin::{EntityKind, Interner, PropertyName, Severity, TwinId};
use crate::update::TwinUpdate;

/// Payloads above this are refused, as thin-edge's are.
pub const MAX_PAYLOAD: usize = crate::schema::thin_edge::DEFAULT_MAX_PAYLOAD;
/// What the schema remembers (twins registered, units sent, alarm states) is bounded: past
/// this many entries it forgets and starts over, which costs repeated registrations, not memory.
const MEMORY_LIMIT: usize = 200_000;

/// The JSON mapping schema: every source of a scene.
pub struct JsonMappingSchema {
    sources: Vec<Source>,
    /// Twins registered (their shared ids: the store compares pointers), and property names
    /// seen before, shared for the same reason.
    registered: foldhash::HashSet<TwinId>,
    names: Interner,
    scratch: String,
    /// Where the matching pattern's captures are in the topic (reused per message).
    spans: Vec<Range<usize>>,
    units_sent: foldhash::HashSet<(TwinId, PropertyName)>,
    alarms_active: foldhash::HashMap<(TwinId, Arc<str>), bool>,
}

impl JsonMappingSchema {
    /// Checks every source; the first mistake is the error.
    pub fn new(specs: &[SourceSpec]) -> Result<Self, String> {
        let sources = specs
            .iter()
            .enumerate()
            .map(|(i, s)| s.compile(i))
            .collect::<Result<_, _>>()?;
        Ok(JsonMappingSchema {
            sources,
            registered: Default::default(),
            names: Default::default(),
            scratch: String::new(),
            spans: Vec::new(),
            units_sent: Default::default(),
            alarms_active: Default::default(),
        })
    }

    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    fn forget_if_full(&mut self) {
        if self.registered.len()
            + self.names.len()
            + self.units_sent.len()
            + self.alarms_active.len()
            > MEMORY_LIMIT
        {
            self.registered.clear();
            self.names = Interner::default();
            self.units_sent.clear();
            self.alarms_active.clear();
        }
    }
}

/// A number from JSON: numbers, numeric text ("21.5"), true/false as 1/0.
fn number_of(value: &Json) -> Option<f64> {
    match value {
        Json::Number(n) => n.as_f64(),
        Json::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Json::String(s) => s.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
        _ => None,
    }
}

/// On or off: true, non-zero numbers, and the usual words.
fn on_off(value: &Json) -> Option<bool> {
    match value {
        Json::Bool(b) => Some(*b),
        Json::Number(n) => n.as_f64().map(|v| v != 0.0),
        Json::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "1" | "active" | "raised" | "alarm" | "yes" | "open" => Some(true),
            "off" | "false" | "0" | "inactive" | "cleared" | "ok" | "no" | "closed" | "normal" => {
                Some(false)
            }
            _ => None,
        },
        _ => None,
    }
}

fn time_of(value: &Json, format: TimeFormat) -> Option<Timestamp> {
    match (value, format) {
        (Json::String(text), TimeFormat::Auto | TimeFormat::Rfc3339) => {
            Timestamp::parse_rfc3339(text)
        }
        (Json::Number(n), TimeFormat::Auto) => n.as_f64().and_then(|v| {
            Timestamp::from_unix_seconds(if v.abs() > 1e11 { v / 1000.0 } else { v })
        }),
        (_, TimeFormat::UnixS) => number_of(value).and_then(Timestamp::from_unix_seconds),
        (_, TimeFormat::UnixMs) => {
            number_of(value).and_then(|ms| Timestamp::from_unix_seconds(ms / 1000.0))
        }
        _ => None,
    }
}

/// The update one value of a property gives (and, the first time, its unit).
fn property_update(
    twin: &TwinId,
    name: &PropertyName,
    value: &Json,
    property: &Property,
    time: Timestamp,
    units_sent: &mut foldhash::HashSet<(TwinId, PropertyName)>,
    out: &mut Vec<TwinUpdate>,
) {
    let update = match property.kind {
        ValueKind::Number => number_of(value).map(|v| TwinUpdate::Measurement {
            twin: twin.clone(),
            name: name.clone(),
            value: v * property.scale + property.offset,
            time,
        }),
        ValueKind::Bool => on_off(value).map(|on| TwinUpdate::Measurement {
            twin: twin.clone(),
            name: name.clone(),
            value: if on { 1.0 } else { 0.0 },
            time,
        }),
        ValueKind::String => Some(TwinUpdate::Fragment {
            twin: twin.clone(),
            name: name.to_arc(),
            value: Some(Value::String(match value {
                Json::String(text) => text.to_string(),
                other => other.to_json_text(),
            })),
        }),
    };
    let Some(update) = update else { return };
    if let Some(unit) = &property.unit
        && units_sent.insert((twin.clone(), name.clone()))
    {
        out.push(TwinUpdate::Unit {
            twin: twin.clone(),
            name: name.to_arc(),
            unit: unit.clone(),
        });
    }
    out.push(update);
}

/// The registration of a twin first seen: its parent and name from the topic's captures.
fn register(
    source: &Source,
    topic: &str,
    spans: &[Range<usize>],
    twin: &TwinId,
    out: &mut Vec<TwinUpdate>,
) {
    let fill = |template: &Template| {
        let mut text = String::new();
        template.fill_from_spans(topic, spans, &mut text);
        text
    };
    let parent = source
        .parent
        .as_ref()
        .map(fill)
        .filter(|p| !p.trim().is_empty());
    let display_name = source.display_name.as_ref().map(fill);
    out.push(TwinUpdate::Register {
        twin: twin.clone(),
        implicit: true,
        parent: parent.map(|p| TwinId::from(p.as_str())),
        kind: EntityKind::ChildDevice,
        display_name,
        entity_type: None,
    });
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

    /// Forgets which twins were registered, which units sent and which alarms are active;
    /// the compiled sources and interned names stay.
    fn restart(&mut self) {
        self.registered.clear();
        self.units_sent.clear();
        self.alarms_active.clear();
    }

    fn decode(
        &mut self,
        topic: &str,
        payload: &[u8],
        received: Timestamp,
        out: &mut Vec<TwinUpdate>,
    ) -> Result<Decoded, DecodeError> {
        self.forget_if_full();
        let spans = &mut self.spans;
        let Some(index) = self
            .sources
            .iter()
            .position(|s| s.pattern.match_spans(topic, spans))
        else {
            return Err(DecodeError::UnknownTopic { schema: "json" });
        };
        if payload.len() > MAX_PAYLOAD {
            return Err(DecodeError::Oversized {
                len: payload.len(),
                limit: MAX_PAYLOAD,
            });
        }
        let source = &self.sources[index];
        source
            .twin
            .fill_from_spans(topic, &self.spans, &mut self.scratch);
        if self.scratch.trim().is_empty() {
            return Err(DecodeError::invalid(format!(
                "{}: the topic's captures give an empty twin id",
                source.name
            )));
        }
        let document = match Json::parse(payload) {
            Ok(document) => document,
            // A bare value that is not JSON (ON, idle): its text.
            Err(_) if source.bare_value => {
                Json::String(String::from_utf8_lossy(payload).trim().to_owned().into())
            }
            Err(error) => {
                return Err(DecodeError::MalformedJson {
                    reason: error.to_string(),
                });
            }
        };
        let start = out.len();
        let twin = match self.registered.get(self.scratch.as_str()) {
            Some(twin) => twin.clone(),
            None => {
                let twin = TwinId::from(self.scratch.as_str());
                self.registered.insert(twin.clone());
                register(source, topic, &self.spans, &twin, out);
                twin
            }
        };
        let time = source
            .timestamp
            .as_ref()
            .and_then(|p| document.at(p))
            .and_then(|v| time_of(v, source.time_format))
            .unwrap_or(received);
        for property in &source.properties {
            let Some(found) = document.at(&property.pointer) else {
                continue;
            };
            match (property.members, found) {
                (true, Json::Object(members)) => {
                    for (key, value) in members {
                        let name = match &property.name {
                            Some(prefix) => {
                                self.scratch.clear();
                                self.scratch.push_str(prefix);
                                self.scratch.push('/');
                                self.scratch.push_str(key);
                                self.names.property_name(&self.scratch)
                            }
                            None => self.names.property_name(key),
                        };
                        property_update(
                            &twin,
                            &name,
                            value,
                            property,
                            time,
                            &mut self.units_sent,
                            out,
                        );
                    }
                }
                (true, _) => {}
                (false, value) => {
                    let name = self
                        .names
                        .property_name(property.name.as_deref().unwrap_or("value"));
                    property_update(
                        &twin,
                        &name,
                        value,
                        property,
                        time,
                        &mut self.units_sent,
                        out,
                    );
                }
            }
        }
        for alarm in &source.alarms {
            let Some(active) = document.at(&alarm.active).and_then(on_off) else {
                continue;
            };
            let key = (twin.clone(), alarm.alarm_type.clone());
            let was = self.alarms_active.insert(key, active).unwrap_or(false);
            if active == was {
                continue;
            }
            if active {
                let severity = match &alarm.severity {
                    spec::Reading::Fixed(severity) => *severity,
                    spec::Reading::Pointer(p) => document
                        .at(p)
                        .and_then(Json::as_str)
                        .and_then(Severity::parse)
                        .unwrap_or(Severity::Major),
                };
                let text = match &alarm.text {
                    Some(spec::Reading::Fixed(text)) => text.clone(),
                    Some(spec::Reading::Pointer(p)) => document
                        .at(p)
                        .map(|v| v.as_str().map_or_else(|| v.to_json_text(), str::to_owned))
                        .unwrap_or_default(),
                    None => alarm.alarm_type.to_string(),
                };
                out.push(TwinUpdate::AlarmRaised {
                    twin: twin.clone(),
                    alarm_type: alarm.alarm_type.clone(),
                    severity,
                    text,
                    time,
                });
            } else {
                out.push(TwinUpdate::AlarmCleared {
                    twin: twin.clone(),
                    alarm_type: alarm.alarm_type.clone(),
                    time,
                });
            }
        }
        Ok(Decoded::Updates(out.len() - start))
    }
}

#[cfg(test)]
pub(crate) mod tests;
