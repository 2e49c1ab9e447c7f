//! Topic schemas: how MQTT topics and payloads become [`TwinUpdate`]s.
//!
//! Each schema is one module behind [`TopicSchema`], so Sparkplug B or a user-defined JSON
//! mapping is a new module, not a rewrite of ingest.

pub mod combined;
pub mod json_map;
pub mod sparkplug;
pub mod thin_edge;

use crate::time::Timestamp;
use crate::update::TwinUpdate;

/// What became of a message that decoded without error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// It produced this many updates (zero for, e.g., an empty event).
    Updates(usize),
    /// A topic the schema knows but the viewer has no use for (commands, say).
    Ignored,
}

/// Why a message was rejected. The twin state is untouched by a rejected message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("topic is not part of the {schema} schema")]
    UnknownTopic { schema: &'static str },
    #[error("payload of {len} bytes is over the {limit}-byte limit")]
    Oversized { len: usize, limit: usize },
    #[error("payload is not valid JSON: {reason}")]
    MalformedJson { reason: String },
    #[error("payload is not what this topic carries: {reason}")]
    Invalid { reason: String },
}

impl DecodeError {
    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        DecodeError::Invalid {
            reason: reason.into(),
        }
    }

    /// A short name for counting errors by kind.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::UnknownTopic { .. } => "unknown topic",
            DecodeError::Oversized { .. } => "oversized",
            DecodeError::MalformedJson { .. } => "malformed json",
            DecodeError::Invalid { .. } => "invalid payload",
        }
    }
}

/// A decoder for one family of topics. It runs on the ingest thread and may keep state
/// (interned names, which entities it has seen) between messages.
pub trait TopicSchema: Send {
    /// A short name for logs and errors, e.g. `thin-edge`.
    fn name(&self) -> &'static str;

    /// The MQTT topic filters this schema needs.
    fn subscriptions(&self) -> Vec<String>;

    /// Decodes one message, appending its updates to `out`. On error nothing is appended.
    fn decode(
        &mut self,
        topic: &str,
        payload: &[u8],
        received: Timestamp,
        out: &mut Vec<TwinUpdate>,
    ) -> Result<Decoded, DecodeError>;

    /// [`decode`](Self::decode) for a message whose topic also carries a small number, `key`,
    /// that names that topic for the whole life of this schema (a recording's channel id). A
    /// schema may keep what it worked out from the topic under that number instead of parsing
    /// the topic again: replay and indexing read tens of thousands of topics over and over.
    fn decode_keyed(
        &mut self,
        _key: u16,
        topic: &str,
        payload: &[u8],
        received: Timestamp,
        out: &mut Vec<TwinUpdate>,
    ) -> Result<Decoded, DecodeError> {
        self.decode(topic, payload, received, out)
    }

    /// A hint that a message on `topic` is decoded soon, `stage` steps from now (see
    /// [`look_ahead`]). A schema whose decoding follows a chain of lookups (a Sparkplug topic
    /// → its route → its device → the device's aliases and twin) starts loading one link of
    /// the chain per stage, so the links of the messages ahead load side by side instead of
    /// one after another. Does nothing by default.
    fn look_ahead(&self, _topic: &str, _stage: LookAhead) {}

    /// Starts over on a new stream into a fresh store (a replay's seek): forgets everything
    /// learned from messages, so what follows decodes as it would from a new schema, but
    /// keeps what no message changes (interned names, what each keyed topic means). A seek
    /// into a plant of 20,000 entities otherwise builds and drops all of that every time.
    /// Required, so that no schema keeps message state by default.
    fn restart(&mut self);

    /// The will to register with the broker before each connection attempt (a Sparkplug
    /// host's STATE offline), if the schema speaks for itself on the broker.
    fn will(&mut self, _now: Timestamp) -> Option<SchemaPublish> {
        None
    }

    /// Connected and subscribed: a schema may queue publishes (a Sparkplug host's STATE).
    fn connected(&mut self, _now: Timestamp) {}

    /// The connection broke: twins whose liveness the schema tracks are offline until heard
    /// from again.
    fn connection_lost(&mut self, _now: Timestamp, _out: &mut Vec<TwinUpdate>) {}

    /// Called every batch interval, for timeouts (a Sparkplug sequence gap).
    fn tick(&mut self, _now: Timestamp, _out: &mut Vec<TwinUpdate>) {}

    /// The client is stopping cleanly: a schema may queue a last publish.
    fn stopping(&mut self, _now: Timestamp) {}

    /// What the schema asked to publish since the last call.
    fn take_publishes(&mut self) -> Vec<SchemaPublish> {
        Vec::new()
    }
}

/// How far a message is from being decoded, in [`TopicSchema::look_ahead`]'s stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookAhead {
    Far,
    Middle,
    Near,
}

impl LookAhead {
    /// How many [`LOOK_AHEAD_STEP`]s of messages the stage is from being decoded.
    pub const fn steps(self) -> usize {
        match self {
            LookAhead::Far => 3,
            LookAhead::Middle => 2,
            LookAhead::Near => 1,
        }
    }
}

/// Messages between one look-ahead stage and the next: enough that the memory a stage asked
/// for has arrived when the next one reads it.
pub const LOOK_AHEAD_STEP: usize = 2;

/// Gives the messages after the one about to be decoded their look-ahead hints: `ahead(k)`
/// is the topic of the `k`th message after it, if it is known yet, and `hint` passes one
/// on (to [`TopicSchema::look_ahead`]). Called once per message, each message ahead gets
/// every stage in turn, farthest first.
pub fn look_ahead<'a>(hint: impl Fn(&'a str, LookAhead), ahead: impl Fn(usize) -> Option<&'a str>) {
    for stage in [LookAhead::Far, LookAhead::Middle, LookAhead::Near] {
        if let Some(topic) = ahead(stage.steps() * LOOK_AHEAD_STEP) {
            hint(topic, stage);
        }
    }
}

/// A message a schema asks the MQTT client to publish: only a Sparkplug host's STATE and its
/// rebirth requests, which change nothing in the plant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaPublish {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
}
