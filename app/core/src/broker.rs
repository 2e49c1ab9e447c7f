//! The embedded MQTT broker (rumqttd) that makes `twinscope` with no arguments self-contained.
//! It listens on loopback only: it is a demo convenience, not a plant broker.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::broker_address::BrokerAddress;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("could not find a free loopback port for the embedded broker: {0}")]
    NoPort(std::io::Error),
    #[error("embedded broker configuration was refused: {0}")]
    Config(String),
    #[error("embedded broker did not start listening on {0} within 5 s")]
    NotListening(SocketAddr),
}

/// A running embedded broker. It lives until the process exits.
#[derive(Debug, Clone)]
pub struct EmbeddedBroker {
    pub address: BrokerAddress,
}

/// Starts rumqttd on `127.0.0.1:port` (a free port if `None`) and waits until it accepts.
pub fn start_embedded_broker(port: Option<u16>) -> Result<EmbeddedBroker, BrokerError> {
    let port = match port {
        Some(port) => port,
        None => free_loopback_port().map_err(BrokerError::NoPort)?,
    };
    let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let config_text = format!(
        r#"
id = 0
[router]
id = 0
max_connections = 1000
max_outgoing_packet_count = 1000
max_segment_size = 16777216
max_segment_count = 10

[v4.1]
name = "twinscope-embedded"
listen = "{listen}"
next_connection_delay_ms = 0
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 1048576
    max_inflight_count = 500
    dynamic_filters = true
"#
    );
    let config: rumqttd::Config =
        toml::from_str(&config_text).map_err(|e| BrokerError::Config(e.to_string()))?;
    std::thread::Builder::new()
        .name("embedded-broker".into())
        .spawn(move || {
            let mut broker = rumqttd::Broker::new(config);
            if let Err(error) = broker.start() {
                tracing::error!(%error, "embedded MQTT broker stopped");
            }
        })
        .map_err(|e| BrokerError::Config(e.to_string()))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&listen, Duration::from_millis(200)).is_ok() {
            tracing::info!(%listen, "embedded MQTT broker listening");
            return Ok(EmbeddedBroker {
                address: BrokerAddress::loopback(port),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(BrokerError::NotListening(listen))
}

/// A loopback port that was free a moment ago.
pub fn free_loopback_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}
