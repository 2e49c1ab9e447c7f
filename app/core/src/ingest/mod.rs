//! MQTT ingest: a client thread that subscribes, decodes with a [`TopicSchema`] and sends
//! batched [`UpdateBatch`]es over a channel. The consumer (the viewer's sync system, or the
//! headless `state` command) drains the channel; it never blocks on the network.
//!
//! [`TopicSchema`]: crate::schema::TopicSchema

mod batch;
mod mqtt;
mod publisher;
mod stats;
mod warn_limiter;

pub use batch::{BatchReceiver, BatchSender, CHANNEL_CAPACITY, SendError, UpdateBatch, batch_channel};
pub use mqtt::{IngestConfig, IngestHandle, MessageHandler, MessageSink, spawn_ingest, spawn_mqtt_client, unique_client_id};
pub use publisher::Publisher;
pub use stats::{IngestStats, StatsSnapshot};
pub use warn_limiter::WarnLimiter;
