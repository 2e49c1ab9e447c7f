//! `[[source]]` in a scene manifest, as written, and checked into a [`Source`].

use std::sync::Arc;

use serde::Deserialize;

use super::document::JsonPointer;
use super::pattern::{Template, TopicPattern};
use crate::twin::Severity;

/// One source of JSON messages on topics of the plant's own design.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// A name for messages and `check`.
    pub name: Option<String>,
    /// The topic pattern: levels, `{captures}`, `+`, and `#` last.
    pub topic: String,
    /// The twin id, from the captures (`{line}-{machine}`).
    pub twin: String,
    /// Its parent's id, from the captures.
    pub parent: Option<String>,
    /// The name to show, from the captures.
    pub display_name: Option<String>,
    /// JSON Pointer (RFC 6901) to the time the values were taken; receive time without it.
    pub timestamp: Option<String>,
    #[serde(default)]
    pub time_format: TimeFormat,
    #[serde(default, rename = "property")]
    pub properties: Vec<PropertySpec>,
    #[serde(default, rename = "alarm")]
    pub alarms: Vec<AlarmSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// Text as RFC 3339; numbers as Unix seconds, or milliseconds when above 10^11.
    #[default]
    Auto,
    Rfc3339,
    UnixS,
    UnixMs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    #[default]
    Number,
    Bool,
    String,
}

/// One property: where it is in the payload and how to read it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertySpec {
    /// JSON Pointer to the value; `""` is the whole payload (a bare value, as Home Assistant
    /// state topics send); ending in `/*`, every member of that object, each its own property.
    pub pointer: String,
    /// The property's name [default: the pointer's last token, or each member's key].
    pub name: Option<String>,
    pub unit: Option<String>,
    /// value × scale + offset.
    #[serde(default = "one")]
    pub scale: f64,
    #[serde(default)]
    pub offset: f64,
    #[serde(default, rename = "type")]
    pub kind: ValueKind,
}

fn one() -> f64 {
    1.0
}

/// An alarm read from the payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmSpec {
    #[serde(rename = "type")]
    pub alarm_type: String,
    /// JSON Pointer to the flag: true, a number other than 0, or "on", "active", "true",
    /// "raised", "alarm" is active.
    pub active: String,
    /// A severity (critical, major, minor, warning), or a JSON Pointer to one.
    #[serde(default = "major")]
    pub severity: String,
    /// The alarm's text, or a JSON Pointer to it.
    pub text: Option<String>,
}

fn major() -> String {
    "major".into()
}

/// A checked source.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub pattern: TopicPattern,
    pub twin: Template,
    pub parent: Option<Template>,
    pub display_name: Option<Template>,
    pub timestamp: Option<JsonPointer>,
    pub time_format: TimeFormat,
    pub properties: Vec<Property>,
    pub alarms: Vec<Alarm>,
    /// Some property reads the whole payload: a payload that is not JSON is its text.
    pub bare_value: bool,
}

#[derive(Debug, Clone)]
pub struct Property {
    pub pointer: JsonPointer,
    /// Every member of the object at `pointer` (it ended in `/*`).
    pub members: bool,
    /// `None` with `members`: each member's key.
    pub name: Option<Arc<str>>,
    pub unit: Option<Arc<str>>,
    pub scale: f64,
    pub offset: f64,
    pub kind: ValueKind,
}

#[derive(Debug, Clone)]
pub struct Alarm {
    pub alarm_type: Arc<str>,
    pub active: JsonPointer,
    pub severity: Reading<Severity>,
    pub text: Option<Reading<String>>,
}

/// A fixed value, or one read from the payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading<T> {
    Fixed(T),
    Pointer(JsonPointer),
}

fn pointer(text: &str, what: &str) -> Result<JsonPointer, String> {
    JsonPointer::parse(text).ok_or_else(|| format!("{what} {text:?} is not a JSON Pointer (it starts with /, or is empty for the whole payload)"))
}

impl SourceSpec {
    pub fn compile(&self, index: usize) -> Result<Source, String> {
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| format!("source #{}", index + 1));
        let fail = |reason: String| format!("{name}: {reason}");
        let pattern = TopicPattern::parse(&self.topic).map_err(fail)?;
        let captures = pattern.captures();
        let template = |text: &str| Template::parse(text, &captures).map_err(fail);
        let twin = template(&self.twin)?;
        if self.twin.trim().is_empty() {
            return Err(fail("the twin id template is empty".into()));
        }
        let parent = self.parent.as_deref().map(template).transpose()?;
        let display_name = self.display_name.as_deref().map(template).transpose()?;
        let timestamp = self
            .timestamp
            .as_deref()
            .map(|p| pointer(p, "timestamp"))
            .transpose()
            .map_err(fail)?;
        let mut properties = Vec::new();
        for spec in &self.properties {
            let (path, members) = match spec.pointer.strip_suffix("/*") {
                Some(object) => (object, true),
                None => (spec.pointer.as_str(), false),
            };
            let path = pointer(path, "property pointer").map_err(fail)?;
            if !spec.scale.is_finite() || !spec.offset.is_finite() {
                return Err(fail(format!(
                    "property {:?}: scale and offset must be finite",
                    spec.pointer
                )));
            }
            let name = match (&spec.name, members) {
                (Some(name), _) => Some(name.as_str().into()),
                (None, true) => None,
                (None, false) => Some(
                    path.last_token()
                        .filter(|n| !n.is_empty())
                        .unwrap_or("value")
                        .into(),
                ),
            };
            properties.push(Property {
                pointer: path,
                members,
                name,
                unit: spec.unit.as_deref().map(Arc::from),
                scale: spec.scale,
                offset: spec.offset,
                kind: spec.kind,
            });
        }
        let mut alarms = Vec::new();
        for spec in &self.alarms {
            if spec.alarm_type.is_empty() {
                return Err(fail("an alarm without a type".into()));
            }
            let active = pointer(&spec.active, "alarm flag").map_err(fail)?;
            let severity = if spec.severity.starts_with('/') {
                Reading::Pointer(pointer(&spec.severity, "alarm severity").map_err(fail)?)
            } else {
                Reading::Fixed(Severity::parse(&spec.severity).ok_or_else(|| {
                    fail(format!(
                        "unknown severity {:?} (critical, major, minor, warning)",
                        spec.severity
                    ))
                })?)
            };
            let text = match &spec.text {
                Some(t) if t.starts_with('/') => {
                    Some(Reading::Pointer(pointer(t, "alarm text").map_err(fail)?))
                }
                Some(t) => Some(Reading::Fixed(t.clone())),
                None => None,
            };
            alarms.push(Alarm {
                alarm_type: spec.alarm_type.as_str().into(),
                active,
                severity,
                text,
            });
        }
        if properties.is_empty() && alarms.is_empty() {
            return Err(fail("no property and no alarm: nothing to read".into()));
        }
        let bare_value = properties.iter().any(|p| p.pointer.is_root() && !p.members);
        Ok(Source {
            name,
            pattern,
            twin,
            parent,
            display_name,
            timestamp,
            time_format: self.time_format,
            properties,
            alarms,
            bare_value,
        })
    }
}
