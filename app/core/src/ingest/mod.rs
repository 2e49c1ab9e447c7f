//! MQTT ingest: a client thread that subscribes, decodes with a [`TopicSchema`] and sends
//! batched [`UpdateBatch`]es over a channel. The consumer (the viewer's sync system, or the
//! headless `state` command) drains the channel; it never blocks on the network, and a
//! consumer that falls behind loses nothing (see [`MessageSink`]).
//!
//! [`TopicSchema`]: crate::schema::TopicSchema

mod backlog;
mod batch;
mod mqtt;
mod publisher;
mod sink;
mod stats;
mod warn_limiter;

pub use batch::{
    BatchReceiver, BatchSender, CHANNEL_CAPACITY, SendError, UpdateBatch, batch_channel,
    batch_channel_with_capacity,
};
pub use mqtt::{
    IngestConfig, IngestHandle, MessageHandler, PublishOnly, spawn_ingest, spawn_mqtt_client,
    unique_client_id,
};
pub use publisher::Publisher;
pub use sink::{MAX_HELD_TRANSITIONS, MessageSink};
pub use stats::{IngestStats, StatsSnapshot};
pub use warn_limiter::WarnLimiter;
