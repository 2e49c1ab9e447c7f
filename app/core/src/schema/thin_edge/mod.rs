//! The thin-edge.io MQTT schema (`te/...`): measurements, events, alarms, twin fragments,
//! entity registration and service health, decoded as thin-edge's MQTT API reference says.

mod acknowledgement;
mod measurement;
mod topic;

use serde_json::Value;

pub use acknowledgement::{acknowledgement_event, entity_topic_id};
pub use measurement::{MeasurementScratch, decode_measurements};
pub use topic::{Channel, EntityTopicId, ThinEdgeTopic, TopicError, parse_topic};

use super::{DecodeError, Decoded, TopicSchema};
use crate::time::Timestamp;
use crate::twin::{EntityKind, Interner, Severity, TwinId};
use crate::update::TwinUpdate;

/// Payloads above this size are refused before parsing (thin-edge messages are small).
pub const DEFAULT_MAX_PAYLOAD: usize = 256 * 1024;

/// Decodes thin-edge topics under one root (normally `te`).
pub struct ThinEdgeSchema {
    root: String,
    max_payload: usize,
    interner: Interner,
    scratch: MeasurementScratch,
    id_buffer: String,
    /// Entities already announced, so auto-registration is emitted once per entity.
    known: foldhash::HashSet<TwinId>,
    /// By topic key ([`TopicSchema::decode_keyed`]): what a measurement topic was worked out
    /// to be, so its next messages skip parsing the topic and looking the twin up.
    measured_by_key: Vec<Option<MeasuredTopic>>,
    /// Counts [`restart`](TopicSchema::restart)s: a keyed topic announced in an earlier run
    /// announces its entity again (a replay's seek fills a fresh store).
    run: u64,
}

/// A measurement topic known by key: its entity's twin and how that entity announces itself.
struct MeasuredTopic {
    twin: TwinId,
    kind: EntityKind,
    parent: Option<TwinId>,
    /// The run in which the entity was last announced (or found announced).
    announced_in: u64,
}

impl Default for ThinEdgeSchema {
    fn default() -> Self {
        Self::new("te")
    }
}

impl ThinEdgeSchema {
    pub fn new(root: &str) -> Self {
        ThinEdgeSchema {
            root: root.to_owned(),
            max_payload: DEFAULT_MAX_PAYLOAD,
            interner: Interner::default(),
            scratch: MeasurementScratch::default(),
            id_buffer: String::new(),
            known: foldhash::HashSet::default(),
            measured_by_key: Vec::new(),
            run: 0,
        }
    }

    pub fn with_max_payload(mut self, bytes: usize) -> Self {
        self.max_payload = bytes;
        self
    }

    /// Notes an announced entity. Past as many as a store holds twins the set stops growing:
    /// a flood of made-up entities is then announced with each message, which the store
    /// ignores for twins it has and refuses past its own cap.
    fn remember(&mut self, twin: &TwinId) {
        if self.known.len() < crate::twin::DEFAULT_MAX_TWINS {
            self.known.insert(twin.clone());
        }
    }

    fn twin_id(&mut self, entity: &EntityTopicId<'_>) -> TwinId {
        entity.twin_id_into(&mut self.id_buffer);
        self.interner.twin_id(&self.id_buffer)
    }

    /// The twin a message is about, and whether it was announced already: an entity heard
    /// from before is found with one lookup (the set of announced ones holds the shared id).
    fn message_twin(&mut self, entity: &EntityTopicId<'_>) -> (TwinId, bool) {
        entity.twin_id_into(&mut self.id_buffer);
        match self.known.get(self.id_buffer.as_str()) {
            Some(twin) => (twin.clone(), true),
            None => (self.interner.twin_id(&self.id_buffer), false),
        }
    }

    /// thin-edge auto-registration: the first data from `device/<d>//` or
    /// `device/<d>/service/<s>` announces that entity, as a child of `main` or of `<d>`.
    fn announce(&mut self, entity: &EntityTopicId<'_>, twin: &TwinId, out: &mut Vec<TwinUpdate>) {
        if self.known.contains(twin) {
            return;
        }
        let (kind, parent) = self.implicit_registration(entity, twin);
        self.announce_as(twin, kind, parent, out);
    }

    /// Where an entity that announces itself by its data goes: a service under its device,
    /// a default device's child under `main`.
    fn implicit_registration(
        &mut self,
        entity: &EntityTopicId<'_>,
        twin: &TwinId,
    ) -> (EntityKind, Option<TwinId>) {
        if let Some(device) = entity.service_device() {
            (EntityKind::Service, Some(self.twin_id(&device)))
        } else if entity.is_default_device() && twin.as_str() == "main" {
            (EntityKind::Device, None)
        } else if entity.is_default_device() {
            (EntityKind::ChildDevice, Some(self.interner.twin_id("main")))
        } else {
            (EntityKind::ChildDevice, None)
        }
    }

    fn announce_as(
        &mut self,
        twin: &TwinId,
        kind: EntityKind,
        parent: Option<TwinId>,
        out: &mut Vec<TwinUpdate>,
    ) {
        self.remember(twin);
        out.push(TwinUpdate::Register {
            twin: twin.clone(),
            implicit: true,
            parent,
            kind,
            display_name: None,
            entity_type: None,
        });
    }

    fn registration(
        &mut self,
        entity: &EntityTopicId<'_>,
        twin: TwinId,
        payload: &[u8],
        out: &mut Vec<TwinUpdate>,
    ) -> Result<Decoded, DecodeError> {
        if payload.is_empty() {
            // Deregistration: the twin stays in the scene; its data simply stops.
            return Ok(Decoded::Ignored);
        }
        let object = parse_object(payload)?;
        let kind = match object.get("@type") {
            Some(Value::String(kind)) => EntityKind::parse(kind).ok_or_else(|| {
                DecodeError::invalid(format!(
                    "@type {kind:?} is not device, child-device or service"
                ))
            })?,
            Some(_) => return Err(DecodeError::invalid("@type is not a string")),
            None => return Err(DecodeError::invalid("registration without @type")),
        };
        let parent = match object.get("@parent") {
            Some(Value::String(reference)) => {
                let parent =
                    EntityTopicId::parse_reference(reference, &self.root).ok_or_else(|| {
                        DecodeError::invalid(format!(
                            "@parent {reference:?} is not an entity topic id"
                        ))
                    })?;
                Some(self.twin_id(&parent))
            }
            Some(_) => return Err(DecodeError::invalid("@parent is not a string")),
            None => match kind {
                EntityKind::Device => None,
                EntityKind::ChildDevice => Some(self.interner.twin_id("main")),
                EntityKind::Service => entity.service_device().map(|device| self.twin_id(&device)),
            },
        };
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        let display_name = text("displayName").or_else(|| text("name"));
        self.remember(&twin);
        out.push(TwinUpdate::Register {
            twin,
            implicit: false,
            parent,
            kind,
            display_name,
            entity_type: text("type"),
        });
        Ok(Decoded::Updates(1))
    }
}

impl TopicSchema for ThinEdgeSchema {
    fn name(&self) -> &'static str {
        "thin-edge"
    }

    fn subscriptions(&self) -> Vec<String> {
        vec![format!("{}/#", self.root)]
    }

    fn decode(
        &mut self,
        topic: &str,
        payload: &[u8],
        received: Timestamp,
        out: &mut Vec<TwinUpdate>,
    ) -> Result<Decoded, DecodeError> {
        let parsed = parse_topic(topic, &self.root).map_err(|_| DecodeError::UnknownTopic {
            schema: "thin-edge",
        })?;
        self.decode_parsed(parsed, payload, received, out)
    }

    fn decode_keyed(
        &mut self,
        key: u16,
        topic: &str,
        payload: &[u8],
        received: Timestamp,
        out: &mut Vec<TwinUpdate>,
    ) -> Result<Decoded, DecodeError> {
        let k = key as usize;
        // Taken out while it is used, and put back.
        if let Some(mut measured) = self.measured_by_key.get_mut(k).and_then(Option::take) {
            let result = self.decode_measured(&mut measured, payload, received, out);
            self.measured_by_key[k] = Some(measured);
            return result;
        }
        let parsed = parse_topic(topic, &self.root).map_err(|_| DecodeError::UnknownTopic {
            schema: "thin-edge",
        })?;
        let decoded = self.decode_parsed(parsed, payload, received, out)?;
        if let Channel::Measurement { .. } = parsed.channel {
            // Kept once the entity is announced (past the cap on announced entities, never).
            parsed.entity.twin_id_into(&mut self.id_buffer);
            if let Some(twin) = self.known.get(self.id_buffer.as_str()).cloned() {
                if k >= self.measured_by_key.len() {
                    self.measured_by_key.resize_with(k + 1, || None);
                }
                let (kind, parent) = self.implicit_registration(&parsed.entity, &twin);
                self.measured_by_key[k] = Some(MeasuredTopic {
                    twin,
                    kind,
                    parent,
                    announced_in: self.run,
                });
            }
        }
        Ok(decoded)
    }

    /// Forgets which entities were announced; the interned ids and names, and what each
    /// keyed topic is, stay (its entity is announced again with its next message).
    fn restart(&mut self) {
        self.known.clear();
        self.run += 1;
    }
}

impl ThinEdgeSchema {
    /// A message on a measurement topic known by key: its entity announced once per run.
    fn decode_measured(
        &mut self,
        measured: &mut MeasuredTopic,
        payload: &[u8],
        received: Timestamp,
        out: &mut Vec<TwinUpdate>,
    ) -> Result<Decoded, DecodeError> {
        self.check_size(payload)?;
        let time = self.measurement_time(payload, received)?;
        let start = out.len();
        if measured.announced_in != self.run {
            measured.announced_in = self.run;
            if !self.known.contains(&measured.twin) {
                self.announce_as(&measured.twin, measured.kind, measured.parent.clone(), out);
            }
        }
        self.push_measurements(&measured.twin, time, out);
        Ok(Decoded::Updates(out.len() - start))
    }

    fn decode_parsed(
        &mut self,
        parsed: ThinEdgeTopic<'_>,
        payload: &[u8],
        received: Timestamp,
        out: &mut Vec<TwinUpdate>,
    ) -> Result<Decoded, DecodeError> {
        self.check_size(payload)?;
        let entity = parsed.entity;
        let (twin, announced) = self.message_twin(&entity);
        let start = out.len();
        let result = match parsed.channel {
            Channel::Registration => return self.registration(&entity, twin, payload, out),
            Channel::Command | Channel::Other { .. } => return Ok(Decoded::Ignored),
            Channel::Measurement { .. } => {
                let time = self.measurement_time(payload, received)?;
                if !announced {
                    self.announce(&entity, &twin, out);
                }
                self.push_measurements(&twin, time, out);
                Ok(())
            }
            Channel::MeasurementMeta { .. } => {
                if payload.is_empty() {
                    return Ok(Decoded::Ignored);
                }
                let object = parse_object(payload)?;
                let Some(units) = object.get("units") else {
                    return Ok(Decoded::Ignored);
                };
                let Value::Object(units) = units else {
                    return Err(DecodeError::invalid("units is not an object"));
                };
                for (name, unit) in units {
                    match unit {
                        Value::String(unit) => out.push(TwinUpdate::Unit {
                            twin: twin.clone(),
                            name: self.interner.intern(name),
                            unit: self.interner.intern(unit),
                        }),
                        // Grouped units: {"Climate": {"Humidity": "%"}}
                        Value::Object(group) => {
                            for (inner, unit) in group {
                                let Value::String(unit) = unit else { continue };
                                out.push(TwinUpdate::Unit {
                                    twin: twin.clone(),
                                    name: self.interner.intern(&format!("{name}.{inner}")),
                                    unit: self.interner.intern(unit),
                                });
                            }
                        }
                        _ => {}
                    }
                }
                Ok(())
            }
            Channel::Event { event_type } => {
                if payload.is_empty() {
                    return Ok(Decoded::Ignored);
                }
                let object = parse_object(payload)?;
                let time = optional_time(&object)?.unwrap_or(received);
                let text = object
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or(event_type)
                    .to_owned();
                if !announced {
                    self.announce(&entity, &twin, out);
                }
                out.push(TwinUpdate::Event {
                    twin,
                    event_type: self.interner.intern(event_type),
                    text,
                    time,
                });
                Ok(())
            }
            Channel::Alarm { alarm_type } => {
                let alarm_type = self.interner.intern(alarm_type);
                if payload.is_empty() {
                    out.push(TwinUpdate::AlarmCleared {
                        twin,
                        alarm_type,
                        time: received,
                    });
                } else {
                    let object = parse_object(payload)?;
                    let severity = match object.get("severity") {
                        None => Severity::Major,
                        Some(Value::String(text)) => Severity::parse(text).ok_or_else(|| {
                            DecodeError::invalid(format!(
                                "severity {text:?} is not critical, major, minor or warning"
                            ))
                        })?,
                        Some(_) => return Err(DecodeError::invalid("severity is not a string")),
                    };
                    let time = optional_time(&object)?.unwrap_or(received);
                    let text = object
                        .get("text")
                        .and_then(Value::as_str)
                        .unwrap_or(&alarm_type)
                        .to_owned();
                    if !announced {
                        self.announce(&entity, &twin, out);
                    }
                    out.push(TwinUpdate::AlarmRaised {
                        twin,
                        alarm_type,
                        severity,
                        text,
                        time,
                    });
                }
                Ok(())
            }
            Channel::Twin { fragment } => {
                let value = if payload.is_empty() {
                    None
                } else {
                    Some(serde_json::from_slice::<Value>(payload).map_err(|e| {
                        DecodeError::MalformedJson {
                            reason: e.to_string(),
                        }
                    })?)
                };
                out.push(TwinUpdate::Fragment {
                    twin,
                    name: self.interner.intern(fragment),
                    value,
                });
                Ok(())
            }
            Channel::Health => {
                let up = match payload {
                    b"" => return Ok(Decoded::Ignored),
                    b"1" | b"up" => true,
                    b"0" | b"down" => false,
                    _ => {
                        let object = parse_object(payload)?;
                        match object.get("status").and_then(Value::as_str) {
                            Some("up") => true,
                            Some("down") => false,
                            Some(other) => {
                                return Err(DecodeError::invalid(format!(
                                    "health status {other:?} is not up or down"
                                )));
                            }
                            None => return Err(DecodeError::invalid("health without status")),
                        }
                    }
                };
                if !announced {
                    self.announce(&entity, &twin, out);
                }
                out.push(TwinUpdate::Health {
                    twin,
                    up,
                    time: received,
                });
                Ok(())
            }
        };
        result
            .map(|()| Decoded::Updates(out.len() - start))
            .inspect_err(|_| out.truncate(start))
    }

    fn check_size(&self, payload: &[u8]) -> Result<(), DecodeError> {
        if payload.len() > self.max_payload {
            return Err(DecodeError::Oversized {
                len: payload.len(),
                limit: self.max_payload,
            });
        }
        Ok(())
    }

    /// Reads a measurement payload into the scratch values; its time, or `received`.
    fn measurement_time(
        &mut self,
        payload: &[u8],
        received: Timestamp,
    ) -> Result<Timestamp, DecodeError> {
        let time = decode_measurements(payload, &mut self.interner, &mut self.scratch)
            .map_err(|reason| DecodeError::MalformedJson { reason })?;
        Ok(time.unwrap_or(received))
    }

    /// The values [`measurement_time`](Self::measurement_time) read, as updates of `twin`.
    fn push_measurements(
        &mut self,
        twin: &TwinId,
        time: Timestamp,
        out: &mut Vec<TwinUpdate>,
    ) -> usize {
        let count = self.scratch.values.len();
        for (name, value) in self.scratch.values.drain(..) {
            out.push(TwinUpdate::Measurement {
                twin: twin.clone(),
                name,
                value,
                time,
            });
        }
        count
    }
}

fn parse_object(payload: &[u8]) -> Result<serde_json::Map<String, Value>, DecodeError> {
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(DecodeError::invalid("payload is not a JSON object")),
        Err(e) => Err(DecodeError::MalformedJson {
            reason: e.to_string(),
        }),
    }
}

fn optional_time(
    object: &serde_json::Map<String, Value>,
) -> Result<Option<Timestamp>, DecodeError> {
    match object.get("time") {
        None => Ok(None),
        Some(Value::String(text)) => Timestamp::parse_rfc3339(text)
            .map(Some)
            .ok_or_else(|| DecodeError::invalid(format!("time {text:?} is not RFC 3339"))),
        Some(Value::Number(n)) => n
            .as_f64()
            .and_then(Timestamp::from_unix_seconds)
            .map(Some)
            .ok_or_else(|| DecodeError::invalid("time is out of range")),
        Some(_) => Err(DecodeError::invalid("time is neither text nor a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_000_000);

    fn decode(
        schema: &mut ThinEdgeSchema,
        topic: &str,
        payload: &str,
    ) -> Result<Vec<TwinUpdate>, DecodeError> {
        let mut out = Vec::new();
        schema.decode(topic, payload.as_bytes(), NOW, &mut out)?;
        Ok(out)
    }

    #[test]
    fn measurements_announce_the_entity_once() {
        let mut schema = ThinEdgeSchema::default();
        let updates = decode(
            &mut schema,
            "te/device/pump1///m/env",
            r#"{"temperature": 21.5}"#,
        )
        .unwrap();
        assert_eq!(updates.len(), 2);
        assert!(
            matches!(&updates[0], TwinUpdate::Register { implicit: true, parent: Some(p), .. } if p.as_str() == "main")
        );
        assert_eq!(
            updates[1],
            TwinUpdate::Measurement {
                twin: "pump1".into(),
                name: "temperature".into(),
                value: 21.5,
                time: NOW
            }
        );
        let again = decode(
            &mut schema,
            "te/device/pump1///m/env",
            r#"{"temperature": 22}"#,
        )
        .unwrap();
        assert_eq!(again.len(), 1);
    }

    #[test]
    fn keyed_topics_decode_as_plain_ones() {
        // (key, topic, payload): a recording's channels, some messages bad, a registration
        // arriving after a topic of its entity was cached.
        let messages = [
            (0, "te/device/pump1///m/env", r#"{"temperature": 21.5}"#),
            (
                0,
                "te/device/pump1///m/env",
                r#"{"temperature": 22, "pressure": {"in": 1.5}}"#,
            ),
            (1, "te/device/pump2///m/", r#"{"flow": 3}"#),
            (0, "te/device/pump1///m/env", r#"{"temperature": "#),
            (0, "te/device/pump1///m/env", "[1]"),
            (
                2,
                "te/device/pump2//",
                r#"{"@type": "child-device", "name": "Pump 2"}"#,
            ),
            (
                1,
                "te/device/pump2///m/",
                r#"{"flow": 4, "time": 1700000000}"#,
            ),
            (3, "te/device/pump1///a/high", r#"{"text": "hot"}"#),
            (0, "te/device/pump1///m/env", r#"{"temperature": 23}"#),
            (4, "te/device/main/service/x/status/health", "up"),
        ];
        let oversized = format!(r#"{{"t": "{}"}}"#, "x".repeat(80));
        let (mut plain, mut keyed) = (
            ThinEdgeSchema::default().with_max_payload(64),
            ThinEdgeSchema::default().with_max_payload(64),
        );
        for (key, topic, payload) in
            messages
                .iter()
                .copied()
                .chain([(0, "te/device/pump1///m/env", oversized.as_str())])
        {
            // Updates already in the buffer stay as they are, whatever happens.
            let mut a = vec![TwinUpdate::Health {
                twin: "before".into(),
                up: true,
                time: NOW,
            }];
            let mut b = a.clone();
            let from_plain = plain
                .decode(topic, payload.as_bytes(), NOW, &mut a)
                .map_err(|e| e.kind());
            let from_keyed = keyed
                .decode_keyed(key, topic, payload.as_bytes(), NOW, &mut b)
                .map_err(|e| e.kind());
            assert_eq!(from_plain.is_ok(), from_keyed.is_ok(), "{topic} {payload}");
            assert_eq!(from_plain.err(), from_keyed.err(), "{topic} {payload}");
            assert_eq!(a, b, "{topic} {payload}");
        }
        // The measurement topics were remembered by key, so later messages skip the topic.
        assert!(keyed.measured_by_key[0].is_some() && keyed.measured_by_key[1].is_some());
    }

    #[test]
    fn services_are_announced_under_their_device() {
        let mut schema = ThinEdgeSchema::default();
        let updates = decode(
            &mut schema,
            "te/device/pump1/service/modbus/status/health",
            r#"{"status":"down"}"#,
        )
        .unwrap();
        assert!(
            matches!(&updates[0], TwinUpdate::Register { kind: EntityKind::Service, parent: Some(p), .. } if p.as_str() == "pump1")
        );
        assert_eq!(
            updates[1],
            TwinUpdate::Health {
                twin: "pump1/modbus".into(),
                up: false,
                time: NOW
            }
        );
        let plain = decode(
            &mut schema,
            "te/device/pump1/service/modbus/status/health",
            "1",
        )
        .unwrap();
        assert_eq!(
            plain,
            [TwinUpdate::Health {
                twin: "pump1/modbus".into(),
                up: true,
                time: NOW
            }]
        );
    }

    #[test]
    fn units_from_meta() {
        let mut schema = ThinEdgeSchema::default();
        let updates = decode(
            &mut schema,
            "te/device/main///m/battery/meta",
            r#"{"units": {"voltage": "V", "Climate": {"Humidity": "%"}}}"#,
        )
        .unwrap();
        assert_eq!(
            updates,
            [
                TwinUpdate::Unit {
                    twin: "main".into(),
                    name: "Climate.Humidity".into(),
                    unit: "%".into()
                },
                TwinUpdate::Unit {
                    twin: "main".into(),
                    name: "voltage".into(),
                    unit: "V".into()
                },
            ]
        );
    }

    #[test]
    fn alarms_raise_with_severity_and_clear_on_empty_payload() {
        let mut schema = ThinEdgeSchema::default();
        let updates = decode(
            &mut schema,
            "te/device/pump1///a/overheat",
            r#"{"text":"Too hot","severity":"critical","time":"2024-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let TwinUpdate::AlarmRaised {
            severity,
            text,
            time,
            ..
        } = &updates[1]
        else {
            panic!("{updates:?}")
        };
        assert_eq!((*severity, text.as_str()), (Severity::Critical, "Too hot"));
        assert_eq!(
            *time,
            Timestamp::parse_rfc3339("2024-01-01T00:00:00Z").unwrap()
        );
        let cleared = decode(&mut schema, "te/device/pump1///a/overheat", "").unwrap();
        assert_eq!(
            cleared,
            [TwinUpdate::AlarmCleared {
                twin: "pump1".into(),
                alarm_type: "overheat".into(),
                time: NOW
            }]
        );
        assert!(
            decode(
                &mut schema,
                "te/device/pump1///a/overheat",
                r#"{"severity":"apocalyptic"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn events_fragments_and_commands() {
        let mut schema = ThinEdgeSchema::default();
        let events = decode(
            &mut schema,
            "te/device/main///e/door",
            r#"{"text":"Door opened"}"#,
        )
        .unwrap();
        assert!(matches!(&events[1], TwinUpdate::Event { text, .. } if text == "Door opened"));
        let fragment = decode(
            &mut schema,
            "te/device/main///twin/maker",
            r#"{"name":"ACME"}"#,
        )
        .unwrap();
        assert_eq!(
            fragment,
            [TwinUpdate::Fragment {
                twin: "main".into(),
                name: "maker".into(),
                value: Some(serde_json::json!({"name":"ACME"}))
            }]
        );
        let removed = decode(&mut schema, "te/device/main///twin/maker", "").unwrap();
        assert_eq!(
            removed,
            [TwinUpdate::Fragment {
                twin: "main".into(),
                name: "maker".into(),
                value: None
            }]
        );
        let mut out = Vec::new();
        assert_eq!(
            schema.decode("te/device/main///cmd/restart/1", b"{}", NOW, &mut out),
            Ok(Decoded::Ignored)
        );
        assert!(out.is_empty());
    }

    #[test]
    fn registrations_build_the_hierarchy() {
        let mut schema = ThinEdgeSchema::default();
        let child = decode(
            &mut schema,
            "te/device/nested",
            r#"{"@type":"child-device","@parent":"te/device/child01","displayName":"Nested"}"#,
        )
        .unwrap();
        assert_eq!(
            child,
            [TwinUpdate::Register {
                twin: "nested".into(),
                implicit: false,
                parent: Some("child01".into()),
                kind: EntityKind::ChildDevice,
                display_name: Some("Nested".into()),
                entity_type: None,
            }]
        );
        let default_parent = decode(
            &mut schema,
            "te/device/child01//",
            r#"{"@type":"child-device"}"#,
        )
        .unwrap();
        assert!(
            matches!(&default_parent[0], TwinUpdate::Register { parent: Some(p), .. } if p.as_str() == "main")
        );
        let service = decode(
            &mut schema,
            "te/device/child01/service/nodered",
            r#"{"@type":"service","type":"systemd"}"#,
        )
        .unwrap();
        assert!(
            matches!(&service[0], TwinUpdate::Register { parent: Some(p), kind: EntityKind::Service, .. } if p.as_str() == "child01")
        );
        assert!(decode(&mut schema, "te/device/x", r#"{"name":"no type"}"#).is_err());
        assert!(decode(&mut schema, "te/device/x", r#"{"@type":"robot"}"#).is_err());
        assert_eq!(decode(&mut schema, "te/device/x", "").unwrap(), []);
    }

    #[test]
    fn bad_input_is_an_error_and_leaves_nothing_behind() {
        let mut schema = ThinEdgeSchema::default().with_max_payload(64);
        let mut out = Vec::new();
        let cases: [(&str, &[u8]); 7] = [
            ("sensors/temp", b"{}"),
            ("te/device/main///m/env", b"{not json"),
            ("te/device/main///m/env", b"{\"t\": NaN}"),
            ("te/device/main///m/env", b"{\"a\": 1, \"b\": \"x\"}"),
            ("te/device/main///m/env", &[b'{'; 65]),
            ("te/device/main///m/env", &[0xff, 0xfe]),
            ("te/device/main///twin/x", b"{"),
        ];
        for (topic, payload) in cases {
            assert!(
                schema.decode(topic, payload, NOW, &mut out).is_err(),
                "{topic} {payload:?}"
            );
            assert!(out.is_empty(), "{topic} left {out:?}");
        }
        assert_eq!(
            schema
                .decode("sensors/temp", b"{}", NOW, &mut out)
                .unwrap_err()
                .kind(),
            "unknown topic"
        );
    }
}
