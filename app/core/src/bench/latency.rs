//! The network benchmark behind `twinscope bench --latency`: how long until the first
//! retained message arrives through a fresh connection, and how long from a publish to the
//! update being applied in the store, near the broker or a round trip away (through the
//! [`FaultProxy`](crate::fault_proxy::FaultProxy)).

use std::time::{Duration, Instant};

use rumqttc::QoS;

use crate::BrokerAddress;
use crate::ingest::{IngestConfig, IngestStats, PublishOnly, spawn_ingest, spawn_mqtt_client};
use crate::rules::RuleSet;
use crate::schema::thin_edge::ThinEdgeSchema;
use crate::time::Timestamp;
use crate::twin::{StoreConfig, TwinStore};
use crate::update::TwinUpdate;

const PROBE_TOPIC: &str = "te/device/bench-latency///m/probe";
const LATENCY_TOPIC: &str = "te/device/bench-latency///m/latency";

/// A publisher connected to `broker` (the benchmark's side near the broker).
fn publisher(broker: &BrokerAddress) -> std::io::Result<crate::ingest::IngestHandle> {
    let handle = spawn_mqtt_client(
        IngestConfig::new(broker.clone()),
        PublishOnly,
        IngestStats::new(),
        "bench-publisher",
    )?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !handle.stats.is_connected() {
        if Instant::now() > deadline {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("cannot connect to {broker}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(handle)
}

/// Publishes the retained probe that [`time_to_first_message`] waits for.
pub fn publish_probe(broker: &BrokerAddress) -> std::io::Result<()> {
    let handle = publisher(broker)?;
    handle
        .client()
        .publish(PROBE_TOPIC, QoS::AtLeastOnce, true, r#"{"probe":1}"#)
        .map_err(std::io::Error::other)?;
    std::thread::sleep(Duration::from_millis(200)); // delivered before the client disconnects
    Ok(())
}

/// The topic `mosquitto_sub -C 1` waits on for the same measurement.
pub fn probe_topic() -> &'static str {
    PROBE_TOPIC
}

/// From starting a client on `via` to the retained probe applied in a store (connect,
/// subscribe, delivery, batch).
pub fn time_to_first_message(via: &BrokerAddress) -> std::io::Result<Duration> {
    let started = Instant::now();
    let (_ingest, batches) = spawn_ingest(
        IngestConfig::new(via.clone()),
        Box::new(ThinEdgeSchema::default()),
    )?;
    let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
    while started.elapsed() < Duration::from_secs(30) {
        if let Some(batch) = batches.recv_timeout(Duration::from_millis(50)) {
            batch.apply_to(&mut store);
            if store
                .twin("bench-latency")
                .and_then(|t| t.property("probe"))
                .is_some()
            {
                return Ok(started.elapsed());
            }
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no probe through {via} within 30 s"),
    ))
}

/// Publish (near the broker, on `direct`) → applied in the store of a client on `via`, for
/// `samples` messages at `rate_hz`. Sorted.
pub fn publish_to_apply(
    direct: &BrokerAddress,
    via: &BrokerAddress,
    samples: usize,
    rate_hz: f64,
) -> std::io::Result<Vec<Duration>> {
    let (ingest, batches) = spawn_ingest(
        IngestConfig::new(via.clone()),
        Box::new(ThinEdgeSchema::default()),
    )?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ingest.stats.is_connected() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(500)); // the subscription lands, across the link too
    let source = publisher(direct)?;
    let client = source.client().clone();
    let period = Duration::from_secs_f64(1.0 / rate_hz.max(1.0));
    let sender = std::thread::spawn(move || {
        for seq in 0..samples {
            let payload = format!(
                r#"{{"seq":{seq},"time":{:.6}}}"#,
                Timestamp::now().as_unix_seconds()
            );
            if client
                .publish(LATENCY_TOPIC, QoS::AtMostOnce, false, payload)
                .is_err()
            {
                break;
            }
            std::thread::sleep(period);
        }
    });
    let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
    let mut latencies = Vec::with_capacity(samples);
    let end = Instant::now() + period * samples as u32 + Duration::from_secs(10);
    while latencies.len() < samples && Instant::now() < end {
        let Some(batch) = batches.recv_timeout(Duration::from_millis(50)) else {
            continue;
        };
        batch.apply_to(&mut store);
        let applied = Timestamp::now();
        for update in &batch.updates {
            if let TwinUpdate::Measurement { name, time, .. } = update
                && &**name == "seq"
            {
                latencies.push(Duration::from_micros(
                    applied.0.saturating_sub(time.0).max(0) as u64,
                ));
            }
        }
        batches.recycle(batch.updates);
    }
    let _ = sender.join();
    latencies.sort();
    Ok(latencies)
}

/// The `p`-th percentile (0–100) of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let at = ((sorted.len() - 1) as f64 * p / 100.0).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}
