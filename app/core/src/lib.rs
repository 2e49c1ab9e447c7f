//! # twinscope-core
//!
//! Everything twinscope knows without a window: the twin model and hierarchy, topic schemas
//! (thin-edge.io today), MQTT ingest, visual rules, scene manifests and glTF binding, the demo
//! plant and its simulator, and state reports. The Bevy viewer reads this crate's state and
//! draws it; nothing here depends on Bevy, so it builds in seconds and tests headless.
//!
//! Data flows one way: [`ingest`] decodes MQTT messages with a [`schema::TopicSchema`] into
//! batches of [`TwinUpdate`]s and sends them over a channel; the owner of a
//! [`twin::TwinStore`] drains the channel and applies them; views read the store.

pub mod alarms;
pub mod archive;
pub mod background;
pub mod bench;
pub mod broker;
pub mod broker_address;
pub mod connection;
pub mod demo;
pub mod fault_proxy;
pub mod ingest;
pub mod manifest;
pub mod mcap;
#[cfg(test)]
pub(crate) mod mutate;
#[cfg(test)]
mod mutation_tests;
pub mod operations;
mod prefetch;
pub mod record;
pub mod record_sources;
pub mod replay;
pub mod report;
pub mod rules;
pub mod schema;
pub mod session;
pub mod sim;
pub mod time;
pub mod time_zone;
pub mod twin;
pub mod update;

pub use broker_address::BrokerAddress;
pub use time::Timestamp;
pub use update::TwinUpdate;
