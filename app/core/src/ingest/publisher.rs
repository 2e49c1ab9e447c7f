//! Publishing back to the plant, which twinscope only does when the user asked for it
//! (`--publish-acks`): one MQTT client on its own thread that reconnects by itself.
//! Messages published while the broker is away are queued by the client (up to its
//! capacity) and sent after it reconnects; beyond that, `publish` says they were refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rumqttc::{Client, MqttOptions, QoS};

use super::unique_client_id;
use crate::BrokerAddress;
use crate::background::BackgroundThread;

/// A connected publisher; dropping it disconnects.
pub struct Publisher {
    client: Client,
    connected: Arc<AtomicBool>,
    _thread: BackgroundThread,
}

impl Publisher {
    pub fn connect(broker: &BrokerAddress, name: &str) -> std::io::Result<Self> {
        let mut options = MqttOptions::new(unique_client_id(name), broker.host.clone(), broker.port);
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut connection) = Client::new(options, 256);
        let connected = Arc::new(AtomicBool::new(false));
        let thread = {
            let (connected, broker) = (connected.clone(), broker.clone());
            BackgroundThread::spawn(name, move |stop| {
                while !stop.load(Ordering::Relaxed) {
                    match connection.recv_timeout(Duration::from_millis(100)) {
                        Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_)))) => connected.store(true, Ordering::Relaxed),
                        Ok(Ok(_)) | Err(rumqttc::RecvTimeoutError::Timeout) => {}
                        Ok(Err(error)) => {
                            if connected.swap(false, Ordering::Relaxed) {
                                tracing::warn!(%broker, %error, "publisher lost the broker; reconnecting");
                            }
                            std::thread::sleep(Duration::from_millis(250));
                        }
                        Err(rumqttc::RecvTimeoutError::Disconnected) => break,
                    }
                }
            })?
        };
        Ok(Publisher { client, connected, _thread: thread })
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Queues one message (QoS 1, not retained).
    pub fn publish(&self, topic: &str, payload: &str) -> Result<(), String> {
        self.client.try_publish(topic, QoS::AtLeastOnce, false, payload.as_bytes()).map_err(|e| format!("cannot publish to {topic}: {e}"))
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.client.try_disconnect();
    }
}
