//! The MQTT client thread that every live path shares (viewer ingest, `state`, `record`, the
//! DVR, the acknowledgement publisher and the simulator).
//!
//! rumqttc does its whole connection setup (TCP, TLS, CONNECT/CONNACK) inside one call of
//! `EventLoop::poll`, so that future must never be dropped half-way: a client that polled
//! with a timeout shorter than the round trip started over forever and never reached a
//! broker a few milliseconds away. Here the event loop runs on a current-thread runtime,
//! polled by one future that lives as long as the thread, and time-based work (sending a
//! batch every few milliseconds) runs beside it as a second future on the same thread.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rumqttc::{Client, Event, EventLoop, NetworkOptions, Packet, QoS, SubscribeFilter};

use super::batch::{BatchReceiver, batch_channel_with_capacity};
use super::sink::MessageSink;
use super::stats::IngestStats;
use crate::background::BackgroundThread;
use crate::connection::{ConnectFailure, ConnectionSettings};
use crate::schema::{SchemaPublish, TopicSchema};
use crate::time::Timestamp;

/// How a client connects and batches.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub connection: ConnectionSettings,
    /// `None` for a command's main client (it gets the configured client id itself); a role
    /// such as `dvr` for helper clients, whose ids get it as a suffix.
    pub helper_role: Option<&'static str>,
    /// A batch is sent at the latest this long after its first message; also how often
    /// handlers are ticked.
    pub batch_interval: Duration,
    /// A batch is sent as soon as it holds this many updates.
    pub max_batch: usize,
    /// Longest wait between reconnection attempts.
    pub max_backoff: Duration,
    /// Longest a connection attempt (TCP, TLS, CONNECT/CONNACK) may take.
    pub connect_timeout: Duration,
    pub keep_alive: Duration,
    /// Batches the channel to the consumer holds before the sink holds them itself.
    pub channel_capacity: usize,
}

impl IngestConfig {
    pub fn new(connection: impl Into<ConnectionSettings>) -> Self {
        IngestConfig {
            connection: connection.into(),
            helper_role: None,
            batch_interval: Duration::from_millis(8),
            max_batch: super::batch::MAX_BATCH_UPDATES,
            max_backoff: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            keep_alive: Duration::from_secs(10),
            channel_capacity: super::CHANNEL_CAPACITY,
        }
    }

    /// The same connection for a helper client (`dvr`, `record`, `acks`).
    pub fn helper(connection: &ConnectionSettings, role: &'static str) -> Self {
        IngestConfig {
            helper_role: Some(role),
            ..IngestConfig::new(connection.clone())
        }
    }
}

impl From<crate::BrokerAddress> for ConnectionSettings {
    fn from(broker: crate::BrokerAddress) -> Self {
        ConnectionSettings::plain(broker)
    }
}

/// A client id no other client of this process uses: a broker disconnects the older of two
/// clients with the same id, and tests run several clients in one process.
pub fn unique_client_id(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// What an MQTT client thread does with what it receives: decode for the viewer
/// ([`MessageSink`]) or write to a recording ([`crate::record::Recorder`]).
pub trait MessageHandler: 'static {
    /// The topic filters to subscribe to (again after every reconnect).
    fn subscriptions(&self) -> Vec<String>;
    /// The QoS to subscribe with.
    fn qos(&self) -> QoS {
        QoS::AtMostOnce
    }
    fn handle(&mut self, topic: &str, payload: &[u8], qos: u8, retain: bool, received: Timestamp);
    /// A message on `topic` is handled soon (see [`crate::schema::look_ahead`]): a handler
    /// that decodes may start loading what decoding it will read.
    fn look_ahead(&self, _topic: &str, _stage: crate::schema::LookAhead) {}
    /// Connected (again) and subscribed: retained messages follow.
    fn connected(&mut self) {}
    /// Called every `batch_interval`, for time-based flushing.
    fn tick(&mut self) {}
    /// Everything received so far has been handled and nothing more is buffered: a quiet
    /// moment to hand over what is pending (low latency under light load, big batches under
    /// heavy load).
    fn idle(&mut self) {}
    /// The connection was lost or the thread is stopping: push out what is pending.
    fn flush(&mut self) {}
    /// The thread is stopping for good.
    fn finish(&mut self) {}
    /// The will to register before the next connection attempt (a Sparkplug host's STATE).
    fn will(&mut self) -> Option<SchemaPublish> {
        None
    }
    /// An established connection broke.
    fn connection_lost(&mut self) {}
    /// What the handler asks to publish now (a Sparkplug host's STATE, rebirth requests).
    fn take_publishes(&mut self) -> Vec<SchemaPublish> {
        Vec::new()
    }
}

/// The topic of the `k`th message (counting from 1) among the events the event loop has read
/// but not handed out yet.
fn queued_topic(events: &std::collections::VecDeque<Event>, k: usize) -> Option<&str> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Incoming(Packet::Publish(publish)) => Some(publish.topic.as_str()),
            _ => None,
        })
        .nth(k.checked_sub(1)?)
}

fn qos_of(level: u8) -> QoS {
    match level {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// Publishes what the handler asked for (never blocking the client thread).
fn publish_requested<H: MessageHandler>(handler: &mut H, client: &Client) {
    for publish in handler.take_publishes() {
        if let Err(error) = client.try_publish(
            publish.topic.as_str(),
            qos_of(publish.qos),
            publish.retain,
            publish.payload,
        ) {
            tracing::warn!(%error, topic = publish.topic, "could not publish");
        }
    }
}

/// A handler for clients that only publish.
pub struct PublishOnly;

impl MessageHandler for PublishOnly {
    fn subscriptions(&self) -> Vec<String> {
        Vec::new()
    }
    fn handle(&mut self, _: &str, _: &[u8], _: u8, _: bool, _: Timestamp) {}
}

/// A running MQTT client thread. Dropping it stops the thread.
pub struct IngestHandle {
    pub stats: Arc<IngestStats>,
    client: Client,
    thread: BackgroundThread,
}

impl IngestHandle {
    pub fn stop(&mut self) {
        self.thread.stop();
    }

    /// For publishing on this connection (queued while the broker is away).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// Starts the MQTT client thread. It connects, subscribes to the schema's topics, and on
/// any connection loss retries with exponential backoff and subscribes again. Returns the
/// thread's handle and the receiving end of its batches.
pub fn spawn_ingest(
    config: IngestConfig,
    schema: Box<dyn TopicSchema>,
) -> std::io::Result<(IngestHandle, BatchReceiver)> {
    let (sender, batches) = batch_channel_with_capacity(config.channel_capacity);
    let stats = IngestStats::new();
    let sink = MessageSink::new(
        schema,
        sender,
        stats.clone(),
        config.batch_interval,
        config.max_batch,
    );
    let stop = sink.stop_flag();
    let handle = spawn_client(config, move || sink, stats, "mqtt-ingest", stop)?;
    Ok((handle, batches))
}

/// Starts an MQTT client thread that feeds `handler`, reconnecting with backoff and
/// subscribing again after every reconnect. `stats` gets the connection state.
pub fn spawn_mqtt_client<H: MessageHandler + Send>(
    config: IngestConfig,
    handler: H,
    stats: Arc<IngestStats>,
    name: &str,
) -> std::io::Result<IngestHandle> {
    spawn_client(
        config,
        move || handler,
        stats,
        name,
        Arc::new(AtomicBool::new(false)),
    )
}

fn spawn_client<H: MessageHandler>(
    config: IngestConfig,
    make_handler: impl FnOnce() -> H + Send + 'static,
    stats: Arc<IngestStats>,
    name: &str,
    stop: Arc<AtomicBool>,
) -> std::io::Result<IngestHandle> {
    let client_id = config.connection.client_id_for(config.helper_role);
    let mut options = config.connection.mqtt_options(client_id, config.keep_alive);
    options.set_clean_session(true);
    // Oversized messages are refused by the schema with a clear count, not by dropping the link.
    options.set_max_packet_size(64 * 1024 * 1024, 4 * 1024 * 1024);
    let (client, connection) = Client::new(options, 4096);
    // The event loop is driven here, on this module's own runtime (see the module docs).
    let mut eventloop = connection.eventloop;
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    network.set_connection_timeout(config.connect_timeout.as_secs().max(1));
    eventloop.set_network_options(network);
    let thread = {
        let (stats, client) = (stats.clone(), client.clone());
        BackgroundThread::spawn_with_flag(name, stop, move |stop| {
            drive(config, make_handler(), client, eventloop, &stats, stop)
        })?
    };
    Ok(IngestHandle {
        stats,
        client,
        thread,
    })
}

const FIRST_RETRY: Duration = Duration::from_millis(100);
/// A connection that broke sooner than this after it was made does not reset the backoff:
/// a broker that accepts and then drops us (two clients with one client id, an ACL that
/// refuses the subscription) is not hammered with reconnects.
const STABLE_CONNECTION: Duration = Duration::from_secs(10);

fn drive<H: MessageHandler>(
    config: IngestConfig,
    handler: H,
    client: Client,
    mut eventloop: EventLoop,
    stats: &IngestStats,
    stop: &AtomicBool,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the MQTT client's runtime");
            return;
        }
    };
    let handler = RefCell::new(handler);
    let (filters, qos) = {
        let handler = handler.borrow();
        (handler.subscriptions(), handler.qos())
    };
    let broker = config.connection.describe();
    let mut connected = false;
    runtime.block_on(async {
        // Polls the event loop for as long as the thread runs: never cancelled mid-connect.
        let network = async {
            let mut backoff = FIRST_RETRY;
            let mut connected_at = std::time::Instant::now();
            loop {
                // Each poll while disconnected is a new attempt: its will is set first (a
                // Sparkplug host's STATE carries the timestamp of the connect it goes with).
                if !connected && let Some(will) = handler.borrow_mut().will() {
                    eventloop.mqtt_options.set_last_will(rumqttc::LastWill::new(
                        will.topic,
                        will.payload,
                        qos_of(will.qos),
                        will.retain,
                    ));
                }
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let mut handler = handler.borrow_mut();
                        // The messages read with this one wait in the event loop's queue:
                        // what decoding them reads starts loading now.
                        crate::schema::look_ahead(
                            |topic, stage| handler.look_ahead(topic, stage),
                            |k| queued_topic(&eventloop.state.events, k),
                        );
                        handler.handle(
                            &publish.topic,
                            &publish.payload,
                            publish.qos as u8,
                            publish.retain,
                            Timestamp::now(),
                        );
                        if eventloop.state.events.is_empty() {
                            handler.idle();
                        }
                        publish_requested(&mut *handler, &client);
                    }
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        tracing::info!(%broker, "connected");
                        stats.connected();
                        connected = true;
                        connected_at = std::time::Instant::now();
                        if !filters.is_empty() {
                            let subscriptions =
                                filters.iter().map(|f| SubscribeFilter::new(f.clone(), qos));
                            if let Err(error) = client.try_subscribe_many(subscriptions) {
                                tracing::warn!(%error, "could not subscribe");
                            }
                        }
                        let mut handler = handler.borrow_mut();
                        handler.connected();
                        publish_requested(&mut *handler, &client);
                    }
                    Ok(_) => {}
                    Err(error) => {
                        if connected {
                            handler.borrow_mut().connection_lost();
                        }
                        handler.borrow_mut().flush();
                        let failure = ConnectFailure::explain(
                            &error,
                            &config.connection,
                            connected,
                            config.connect_timeout,
                        );
                        let repeated = stats.last_error().is_some_and(|last| last.1 == failure);
                        if connected {
                            tracing::warn!("{failure}; reconnecting");
                        } else if !repeated {
                            tracing::warn!("cannot connect: {failure}; retrying");
                        } else {
                            tracing::debug!("cannot connect: {failure}; retrying");
                        }
                        stats.failed(failure, connected);
                        if connected && connected_at.elapsed() >= STABLE_CONNECTION {
                            backoff = FIRST_RETRY;
                        }
                        connected = false;
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(config.max_backoff);
                    }
                }
            }
        };
        let ticker = async {
            let mut interval =
                tokio::time::interval(config.batch_interval.max(Duration::from_millis(1)));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let mut handler = handler.borrow_mut();
                handler.tick();
                publish_requested(&mut *handler, &client);
            }
        };
        tokio::select! {
            biased;
            () = ticker => {}
            never = network => never,
        }
    });
    let mut handler = handler.into_inner();
    handler.flush();
    handler.finish();
    if connected {
        // A last word (a Sparkplug host's STATE offline), sent before the goodbye.
        publish_requested(&mut handler, &client);
        // Say goodbye, so the broker frees the client id and sends no will. The socket stays
        // open until the broker closes it: closed as soon as the DISCONNECT is written, the
        // broker may still be answering the last PUBLISH, fail that write and drop us as
        // broken before it reads the DISCONNECT (mosquitto then sends the will, and logs
        // "out of memory").
        let _ = client.try_disconnect();
        let _ = runtime.block_on(async {
            tokio::time::timeout(Duration::from_millis(500), async {
                while eventloop.poll().await.is_ok() {}
            })
            .await
        });
    }
    stats.disconnected();
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::Outgoing;

    /// Looking ahead counts messages only: acknowledgements and pings between them are not.
    #[test]
    fn the_messages_queued_ahead_are_counted_past_other_events() {
        let publish = |topic: &str| {
            Event::Incoming(Packet::Publish(rumqttc::Publish::new(
                topic,
                QoS::AtMostOnce,
                b"1".to_vec(),
            )))
        };
        let events: std::collections::VecDeque<Event> = [
            publish("a"),
            Event::Outgoing(Outgoing::PingReq),
            publish("b"),
            Event::Incoming(Packet::PingResp),
            publish("c"),
        ]
        .into();
        let found: Vec<_> = (0..5).map(|k| queued_topic(&events, k)).collect();
        assert_eq!(found, [None, Some("a"), Some("b"), Some("c"), None]);
    }
}
