//! The MQTT client thread, and [`MessageSink`], the decode-and-batch step any source of
//! messages (live MQTT now, recordings later) goes through.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, MqttOptions, Packet, QoS, RecvTimeoutError};

use crate::background::BackgroundThread;
use super::batch::{BatchReceiver, BatchSender, SendError, UpdateBatch, batch_channel};
use super::stats::IngestStats;
use super::warn_limiter::WarnLimiter;
use crate::broker_address::BrokerAddress;
use crate::schema::{DecodeError, Decoded, TopicSchema};
use crate::time::Timestamp;
use crate::update::TwinUpdate;

/// How ingest connects and batches.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub broker: BrokerAddress,
    pub client_id: String,
    /// A batch is sent at the latest this long after its first message.
    pub batch_interval: Duration,
    /// A batch is sent as soon as it holds this many updates.
    pub max_batch: usize,
    /// Longest wait between reconnection attempts.
    pub max_backoff: Duration,
}

impl IngestConfig {
    pub fn new(broker: BrokerAddress) -> Self {
        IngestConfig {
            broker,
            client_id: unique_client_id("twinscope"),
            batch_interval: Duration::from_millis(8),
            max_batch: 8192,
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// A client id no other client of this process uses: a broker disconnects the older of two
/// clients with the same id, and tests run several clients in one process.
pub fn unique_client_id(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    format!("{prefix}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// What an MQTT client thread does with what it receives: decode for the viewer
/// ([`MessageSink`]) or write to a recording ([`crate::record::Recorder`]).
pub trait MessageHandler: Send + 'static {
    /// The topic filters to subscribe to (again after every reconnect).
    fn subscriptions(&self) -> Vec<String>;
    /// The QoS to subscribe with.
    fn qos(&self) -> QoS {
        QoS::AtMostOnce
    }
    fn handle(&mut self, topic: &str, payload: &[u8], qos: u8, retain: bool, received: Timestamp);
    /// Connected (again) and subscribed: retained messages follow.
    fn connected(&mut self) {}
    /// Called at least every few milliseconds, for time-based flushing.
    fn tick(&mut self) {}
    /// The connection was lost or the thread is stopping: push out what is pending.
    fn flush(&mut self) {}
    /// The thread is stopping for good.
    fn finish(&mut self) {}
}

/// Decodes messages into the current batch and sends batches when due.
pub struct MessageSink {
    schema: Box<dyn TopicSchema>,
    sender: BatchSender,
    stats: Arc<IngestStats>,
    warnings: WarnLimiter,
    buffer: Vec<TwinUpdate>,
    opened: Option<Instant>,
    batch_interval: Duration,
    max_batch: usize,
}

impl MessageSink {
    pub fn new(schema: Box<dyn TopicSchema>, sender: BatchSender, stats: Arc<IngestStats>, batch_interval: Duration, max_batch: usize) -> Self {
        let buffer = sender.buffer();
        MessageSink {
            schema,
            sender,
            stats,
            warnings: WarnLimiter::new(Duration::from_secs(60)),
            buffer,
            opened: None,
            batch_interval,
            max_batch,
        }
    }

    /// Decodes one message. Errors are counted and logged at most once per topic a minute.
    pub fn handle(&mut self, topic: &str, payload: &[u8], received: Timestamp) {
        self.stats.message(payload.len());
        match self.schema.decode(topic, payload, received, &mut self.buffer) {
            Ok(Decoded::Updates(count)) => {
                self.stats.updates(count);
                if count > 0 && self.opened.is_none() {
                    self.opened = Some(Instant::now());
                }
            }
            Ok(Decoded::Ignored) => self.stats.ignored(),
            Err(error) => {
                if matches!(error, DecodeError::UnknownTopic { .. }) {
                    self.stats.unknown_topic();
                } else {
                    self.stats.decode_error();
                }
                if self.warnings.allow(topic, Instant::now()) {
                    tracing::warn!(topic, %error, "message rejected (further ones on this topic are counted, not logged, for a minute)");
                }
            }
        }
        if self.buffer.len() >= self.max_batch {
            self.flush();
        }
    }

    /// Sends the current batch if it has waited `batch_interval`.
    pub fn flush_if_due(&mut self) {
        if self.opened.is_some_and(|opened| opened.elapsed() >= self.batch_interval) {
            self.flush();
        }
    }

    /// Sends the current batch now, if it has anything.
    pub fn flush(&mut self) {
        self.opened = None;
        if self.buffer.is_empty() {
            return;
        }
        let updates = std::mem::replace(&mut self.buffer, self.sender.buffer());
        self.send(UpdateBatch::new(Timestamp::now(), updates));
    }

    /// Tells the consumer a session started, after whatever was pending.
    pub fn session_started(&mut self) {
        self.flush();
        let mut batch = UpdateBatch::new(Timestamp::now(), self.sender.buffer());
        batch.session_started = true;
        self.send(batch);
    }

    fn send(&mut self, batch: UpdateBatch) {
        match self.sender.send(batch) {
            Ok(()) => {}
            Err(SendError::Full) => {
                self.stats.dropped_batch();
                if self.warnings.allow("\0channel-full", Instant::now()) {
                    tracing::warn!("the viewer is not keeping up; dropped a batch of updates");
                }
            }
            Err(SendError::Disconnected) => {}
        }
    }
}

impl MessageHandler for MessageSink {
    fn subscriptions(&self) -> Vec<String> {
        self.schema.subscriptions()
    }
    fn handle(&mut self, topic: &str, payload: &[u8], _qos: u8, _retain: bool, received: Timestamp) {
        MessageSink::handle(self, topic, payload, received);
    }
    fn connected(&mut self) {
        self.session_started();
    }
    fn tick(&mut self) {
        self.flush_if_due();
    }
    fn flush(&mut self) {
        MessageSink::flush(self);
    }
}

/// A running MQTT client thread. Dropping it stops the thread.
pub struct IngestHandle {
    pub stats: Arc<IngestStats>,
    thread: BackgroundThread,
}

impl IngestHandle {
    pub fn stop(&mut self) {
        self.thread.stop();
    }
}

/// Starts the MQTT client thread. It connects, subscribes to the schema's topics, and on
/// any connection loss retries with exponential backoff and subscribes again. Returns the
/// thread's handle and the receiving end of its batches.
pub fn spawn_ingest(config: IngestConfig, schema: Box<dyn TopicSchema>) -> std::io::Result<(IngestHandle, BatchReceiver)> {
    let (sender, batches) = batch_channel();
    let stats = IngestStats::new();
    let sink = MessageSink::new(schema, sender, stats.clone(), config.batch_interval, config.max_batch);
    let handle = spawn_mqtt_client(config, sink, stats, "mqtt-ingest")?;
    Ok((handle, batches))
}

/// Starts an MQTT client thread that feeds `handler`, reconnecting with backoff and
/// subscribing again after every reconnect. `stats` gets the connection state.
pub fn spawn_mqtt_client<H: MessageHandler>(config: IngestConfig, handler: H, stats: Arc<IngestStats>, name: &str) -> std::io::Result<IngestHandle> {
    let thread = {
        let stats = stats.clone();
        BackgroundThread::spawn(name, move |stop| run(config, handler, &stats, stop))?
    };
    Ok(IngestHandle { stats, thread })
}

fn run<H: MessageHandler>(config: IngestConfig, mut sink: H, stats: &IngestStats, stop: &AtomicBool) {
    let mut options = MqttOptions::new(config.client_id.clone(), config.broker.host.clone(), config.broker.port);
    options.set_keep_alive(Duration::from_secs(5));
    options.set_clean_session(true);
    // Oversized messages are refused by the schema with a clear count, not by dropping the link.
    options.set_max_packet_size(64 * 1024 * 1024, 64 * 1024);
    let (client, mut connection) = Client::new(options, 64);
    let subscriptions = sink.subscriptions();
    let mut backoff = Duration::from_millis(100);
    let mut was_connected = false;
    while !stop.load(Ordering::Relaxed) {
        match connection.recv_timeout(config.batch_interval) {
            Ok(Ok(Event::Incoming(Packet::Publish(publish)))) => {
                sink.handle(&publish.topic, &publish.payload, publish.qos as u8, publish.retain, Timestamp::now());
            }
            Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                tracing::info!(broker = %config.broker, "connected");
                stats.set_connected(true);
                was_connected = true;
                backoff = Duration::from_millis(100);
                for filter in &subscriptions {
                    if let Err(error) = client.try_subscribe(filter.clone(), sink.qos()) {
                        tracing::warn!(filter, %error, "could not subscribe");
                    }
                }
                sink.connected();
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                sink.flush();
                stats.set_connected_quiet(false);
                if was_connected {
                    tracing::warn!(broker = %config.broker, %error, "lost the broker; reconnecting");
                    was_connected = false;
                } else {
                    tracing::debug!(broker = %config.broker, %error, "broker not reachable; retrying");
                }
                sleep_unless_stopped(backoff, stop);
                backoff = (backoff * 2).min(config.max_backoff);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        sink.tick();
    }
    sink.flush();
    sink.finish();
    let _ = client.try_disconnect();
    stats.set_connected_quiet(false);
}

fn sleep_unless_stopped(duration: Duration, stop: &AtomicBool) {
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20).min(deadline.saturating_duration_since(Instant::now())));
    }
}
