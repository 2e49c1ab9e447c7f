//! Publishing back to the plant, which twinscope only does when the user asked for it
//! (`--publish-acks`): one MQTT client on its own thread that reconnects by itself.
//! Messages published while the broker is away are queued by the client (up to its
//! capacity) and sent after it reconnects; beyond that, `publish` says they were refused.

use rumqttc::QoS;

use super::{IngestConfig, IngestHandle, IngestStats, PublishOnly, spawn_mqtt_client};
use crate::connection::ConnectionSettings;

/// A connected publisher; dropping it disconnects.
pub struct Publisher {
    client: IngestHandle,
}

impl Publisher {
    /// A publisher on the same broker as `connection`; `role` names its thread and, with a
    /// configured client id, its id's suffix.
    pub fn connect(
        connection: impl Into<ConnectionSettings>,
        role: &'static str,
    ) -> std::io::Result<Self> {
        let config = IngestConfig::helper(&connection.into(), role);
        let client = spawn_mqtt_client(config, PublishOnly, IngestStats::new(), role)?;
        Ok(Publisher { client })
    }

    pub fn is_connected(&self) -> bool {
        self.client.stats.is_connected()
    }

    /// Queues one message (QoS 1, not retained).
    pub fn publish(&self, topic: &str, payload: &str) -> Result<(), String> {
        self.client
            .client()
            .try_publish(topic, QoS::AtLeastOnce, false, payload.as_bytes())
            .map_err(|e| format!("cannot publish to {topic}: {e}"))
    }
}
