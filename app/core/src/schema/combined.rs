//! Several schemas on one connection (thin-edge `te/` and Sparkplug B by default): each
//! message goes to the schema whose subscription matches its topic.

use super::{DecodeError, Decoded, SchemaPublish, TopicSchema};
use crate::schema::json_map::{JsonMappingSchema, SourceSpec};
use crate::schema::sparkplug::{SparkplugConfig, SparkplugSchema};
use crate::schema::thin_edge::ThinEdgeSchema;
use crate::time::Timestamp;
use crate::update::TwinUpdate;

/// The schemas a user can name (`--schema te,sparkplug`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaKind {
    ThinEdge,
    Sparkplug,
}

impl SchemaKind {
    pub const ALL: [SchemaKind; 2] = [SchemaKind::ThinEdge, SchemaKind::Sparkplug];

    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "te" | "thin-edge" => Ok(SchemaKind::ThinEdge),
            "sparkplug" | "spb" | "sparkplug-b" => Ok(SchemaKind::Sparkplug),
            other => Err(format!("{other:?} is not a schema (te, sparkplug)")),
        }
    }
}

/// Which schemas to speak, and how the Sparkplug host behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaChoice {
    pub kinds: Vec<SchemaKind>,
    pub sparkplug: SparkplugConfig,
    /// The scene's JSON sources (`[[source]]`): read first, before the standard schemas.
    pub json_sources: Vec<SourceSpec>,
}

impl SchemaChoice {
    /// Every schema; the Sparkplug host with a unique id, publishing its STATE.
    pub fn all() -> Self {
        SchemaChoice {
            kinds: SchemaKind::ALL.to_vec(),
            sparkplug: SparkplugConfig::new(None, false),
            json_sources: Vec::new(),
        }
    }

    /// For reading a recording: every schema, nothing published.
    pub fn replay() -> Self {
        SchemaChoice {
            kinds: SchemaKind::ALL.to_vec(),
            sparkplug: SparkplugConfig::replay(),
            json_sources: Vec::new(),
        }
    }

    /// What is spoken, for the status bar: `te + Sparkplug host twinscope-…` or
    /// `Sparkplug (passive)`.
    pub fn describe(&self) -> String {
        let names: Vec<String> = self
            .kinds
            .iter()
            .map(|kind| match kind {
                SchemaKind::ThinEdge => "te".to_owned(),
                SchemaKind::Sparkplug if self.sparkplug.passive => "Sparkplug (passive)".to_owned(),
                SchemaKind::Sparkplug => format!("Sparkplug host {}", self.sparkplug.host_id),
            })
            .collect();
        let mut names = names.join(" + ");
        if !self.json_sources.is_empty() {
            names += &format!(
                " + {} JSON source{}",
                self.json_sources.len(),
                if self.json_sources.len() == 1 {
                    ""
                } else {
                    "s"
                }
            );
        }
        names
    }

    /// The same schemas, publishing nothing (to read a recording of them).
    pub fn for_replay(&self) -> SchemaChoice {
        SchemaChoice {
            sparkplug: SparkplugConfig::replay(),
            ..self.clone()
        }
    }

    /// The topic filters these schemas subscribe to (what a recording of them must take).
    pub fn subscriptions(&self) -> Vec<String> {
        self.for_replay().build().subscriptions()
    }

    pub fn build(&self) -> CombinedSchema {
        let mut schemas: Vec<Box<dyn TopicSchema + Sync>> = Vec::new();
        if !self.json_sources.is_empty() {
            // Checked when the scene was read; a mistake here is reported, not fatal.
            match JsonMappingSchema::new(&self.json_sources) {
                Ok(schema) => schemas.push(Box::new(schema)),
                Err(error) => tracing::error!("the scene's JSON sources are not used: {error}"),
            }
        }
        for kind in &self.kinds {
            schemas.push(match kind {
                SchemaKind::ThinEdge => Box::new(ThinEdgeSchema::default()),
                SchemaKind::Sparkplug => Box::new(SparkplugSchema::new(self.sparkplug.clone())),
            });
        }
        CombinedSchema::new(schemas)
    }
}

/// Routes each message to the first schema whose subscriptions match its topic. The default
/// has no schema (a placeholder while one is borrowed).
#[derive(Default)]
pub struct CombinedSchema {
    schemas: Vec<(Vec<String>, Box<dyn TopicSchema + Sync>)>,
    /// Which schema each keyed topic went to ([`UNROUTED`] until its first message).
    routes: Vec<u8>,
}

/// A keyed topic not routed yet.
const UNROUTED: u8 = u8::MAX;
/// A keyed topic no schema subscribes to.
const NO_SCHEMA: u8 = u8::MAX - 1;

impl CombinedSchema {
    /// `Sync`, so a replay that holds one can be shared by the viewer's systems.
    pub fn new(schemas: Vec<Box<dyn TopicSchema + Sync>>) -> Self {
        CombinedSchema {
            schemas: schemas
                .into_iter()
                .map(|s| (s.subscriptions(), s))
                .collect(),
            routes: Vec::new(),
        }
    }
}

impl CombinedSchema {
    /// The first schema whose subscriptions match `topic`.
    fn route(&self, topic: &str) -> Option<usize> {
        self.schemas
            .iter()
            .position(|(filters, _)| filters.iter().any(|f| filter_matches(f, topic)))
    }
}

/// Does an MQTT topic filter (with `+` and `#`) match `topic`?
pub fn filter_matches(filter: &str, topic: &str) -> bool {
    let mut topic_levels = topic.split('/');
    for level in filter.split('/') {
        match (level, topic_levels.next()) {
            ("#", _) => return true,
            ("+", Some(_)) => {}
            (level, Some(actual)) if level == actual => {}
            _ => return false,
        }
    }
    topic_levels.next().is_none()
}

impl TopicSchema for CombinedSchema {
    fn name(&self) -> &'static str {
        "combined"
    }

    fn subscriptions(&self) -> Vec<String> {
        self.schemas
            .iter()
            .flat_map(|(filters, _)| filters.iter().cloned())
            .collect()
    }

    fn decode(
        &mut self,
        topic: &str,
        payload: &[u8],
        received: Timestamp,
        out: &mut Vec<TwinUpdate>,
    ) -> Result<Decoded, DecodeError> {
        match self.route(topic) {
            Some(schema) => self.schemas[schema].1.decode(topic, payload, received, out),
            None => Err(DecodeError::UnknownTopic { schema: "any" }),
        }
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
        if k >= self.routes.len() {
            self.routes.resize(k + 1, UNROUTED);
        }
        if self.routes[k] == UNROUTED {
            // Fewer than 254 schemas: the index always fits below the two markers.
            self.routes[k] = self.route(topic).map_or(NO_SCHEMA, |schema| schema as u8);
        }
        match self.routes[k] {
            NO_SCHEMA => Err(DecodeError::UnknownTopic { schema: "any" }),
            schema => self.schemas[schema as usize]
                .1
                .decode_keyed(key, topic, payload, received, out),
        }
    }

    /// Each schema starts over; which schema a keyed topic goes to depends on its topic
    /// alone, and is kept.
    fn restart(&mut self) {
        self.schemas.iter_mut().for_each(|(_, s)| s.restart());
    }

    fn will(&mut self, now: Timestamp) -> Option<SchemaPublish> {
        // MQTT has one will per connection: the first schema that wants one gets it.
        self.schemas.iter_mut().find_map(|(_, s)| s.will(now))
    }

    fn connected(&mut self, now: Timestamp) {
        self.schemas.iter_mut().for_each(|(_, s)| s.connected(now));
    }

    fn connection_lost(&mut self, now: Timestamp, out: &mut Vec<TwinUpdate>) {
        self.schemas
            .iter_mut()
            .for_each(|(_, s)| s.connection_lost(now, out));
    }

    fn tick(&mut self, now: Timestamp, out: &mut Vec<TwinUpdate>) {
        self.schemas.iter_mut().for_each(|(_, s)| s.tick(now, out));
    }

    fn stopping(&mut self, now: Timestamp) {
        self.schemas.iter_mut().for_each(|(_, s)| s.stopping(now));
    }

    fn take_publishes(&mut self) -> Vec<SchemaPublish> {
        self.schemas
            .iter_mut()
            .flat_map(|(_, s)| s.take_publishes())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_topics_go_to_the_schema_their_topic_names() {
        let mut schema = SchemaChoice::replay().build();
        let mut out = Vec::new();
        let now = Timestamp(1_000_000);
        assert!(
            schema
                .decode_keyed(7, "te/device/p///m/", br#"{"v": 1}"#, now, &mut out)
                .is_ok()
        );
        assert!(
            out.iter()
                .any(|u| matches!(u, TwinUpdate::Measurement { value, .. } if *value == 1.0))
        );
        // Unknown topics stay unknown, by key too, and other keys route on their own.
        for _ in 0..2 {
            assert!(matches!(
                schema.decode_keyed(9, "other/topic", b"{}", now, &mut out),
                Err(DecodeError::UnknownTopic { .. })
            ));
        }
        let _ = schema.decode_keyed(3, "spBv1.0/G/DDATA/E/D", b"\xff", now, &mut out);
        assert_eq!(
            schema.routes[3], 1,
            "Sparkplug is the second schema of a replay"
        );
        assert_eq!(schema.routes[9], NO_SCHEMA);
    }

    /// After `restart`, every schema decodes as a new one would: announcements, births,
    /// aliases, units and alarms start over, by key and by topic alike.
    #[test]
    fn a_restarted_schema_decodes_as_a_new_one() {
        use crate::schema::sparkplug::{Metric, Payload, RawValue, datatype};
        let spb = |seq, metrics: Vec<Metric>| {
            Payload {
                timestamp: Some(1_000),
                seq: Some(seq),
                metrics,
            }
            .encode()
        };
        let birth = spb(
            0,
            vec![Metric {
                name: Some("bdSeq".into()),
                datatype: Some(datatype::UINT64),
                value: RawValue::Long(3),
                ..Default::default()
            }],
        );
        let device_birth = spb(
            1,
            vec![Metric {
                name: Some("speed".into()),
                alias: Some(5),
                datatype: Some(datatype::INT8),
                value: RawValue::Int(0xff),
                ..Default::default()
            }],
        );
        let device_data = spb(
            2,
            vec![Metric {
                alias: Some(5),
                value: RawValue::Int(0x7f),
                ..Default::default()
            }],
        );
        let messages: Vec<(u16, &str, &[u8])> = vec![
            (0, "te/device/pump1///m/env", br#"{"temperature": 21.5}"#),
            (
                1,
                "te/device/pump1//",
                br#"{"@type": "child-device", "name": "Pump 1"}"#,
            ),
            (2, "te/device/pump1///a/hot", br#"{"text": "hot"}"#),
            (3, "spBv1.0/G/NBIRTH/E", &birth),
            (4, "spBv1.0/G/DBIRTH/E/D", &device_birth),
            (5, "spBv1.0/G/DDATA/E/D", &device_data),
            (
                6,
                "gw/line1/data",
                br#"{"temp": 7, "unit": "C", "alarm": true}"#,
            ),
            (0, "te/device/pump1///m/env", br#"{"temperature": 22}"#),
        ];
        let source: SourceSpec = toml::from_str(
            "topic = \"gw/{line}/data\"\ntwin = \"{line}\"\n[[property]]\npointer = \"/temp\"\nunit = \"C\"\n[[alarm]]\ntype = \"overheat\"\nactive = \"/alarm\"",
        )
        .unwrap();
        let choice = SchemaChoice {
            json_sources: vec![source],
            ..SchemaChoice::replay()
        };
        let decode_all = |schema: &mut CombinedSchema,
                          keyed: bool|
         -> Vec<(Result<(), &'static str>, Vec<TwinUpdate>)> {
            messages
                .iter()
                .map(|(key, topic, payload)| {
                    let mut out = Vec::new();
                    let now = Timestamp(5_000_000);
                    let result = if keyed {
                        schema.decode_keyed(*key, topic, payload, now, &mut out)
                    } else {
                        schema.decode(topic, payload, now, &mut out)
                    };
                    (result.map(|_| ()).map_err(|e| e.kind()), out)
                })
                .collect()
        };
        for keyed in [true, false] {
            let mut used = choice.build();
            let first = decode_all(&mut used, keyed);
            assert!(first.iter().all(|(result, _)| result.is_ok()), "{first:?}");
            used.restart();
            assert_eq!(decode_all(&mut used, keyed), first, "keyed: {keyed}");
        }
    }

    #[test]
    fn topic_filters_match_as_mqtt_does() {
        assert!(filter_matches("te/#", "te/device/main///m/"));
        assert!(filter_matches("spBv1.0/#", "spBv1.0/G/NDATA/E"));
        assert!(filter_matches("a/+/c", "a/b/c"));
        assert!(!filter_matches("a/+/c", "a/b/d"));
        assert!(!filter_matches("te/#", "tedge/x"));
        assert!(!filter_matches("a/b", "a/b/c"));
        assert!(filter_matches("#", "anything/at/all"));
    }

    #[test]
    fn messages_go_to_their_schema() {
        let mut schema = SchemaChoice::replay().build();
        assert_eq!(schema.subscriptions(), ["te/#", "spBv1.0/#"]);
        let mut out = Vec::new();
        let te = schema.decode(
            "te/device/pump1///m/",
            br#"{"flow": 3}"#,
            Timestamp(0),
            &mut out,
        );
        assert!(matches!(te, Ok(Decoded::Updates(_))), "{te:?}");
        assert!(matches!(
            schema.decode("spBv1.0/G/NDATA/E", b"\xff", Timestamp(0), &mut Vec::new()),
            Err(DecodeError::Invalid { .. })
        ));
        assert!(matches!(
            schema.decode("other/topic", b"{}", Timestamp(0), &mut Vec::new()),
            Err(DecodeError::UnknownTopic { .. })
        ));
        // Passive: no will, no STATE.
        assert_eq!(schema.will(Timestamp(0)), None);
    }
}
