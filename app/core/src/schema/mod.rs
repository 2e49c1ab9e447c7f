//! Topic schemas: how MQTT topics and payloads become [`TwinUpdate`]s.
//!
//! Each schema is one module behind [`TopicSchema`], so Sparkplug B or a user-defined JSON
//! mapping is a new module, not a rewrite of ingest.

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
        DecodeError::Invalid { reason: reason.into() }
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
}
