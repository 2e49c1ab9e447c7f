//! The plant simulator: publishes plausible thin-edge telemetry for the demo plant
//! (registrations, units, twin fragments, service health, measurements with noise and slow
//! drift) and now and then a fault: a bearing, winding or gearbox overheats, raises a retained
//! alarm, cools down and clears it. It runs against any MQTT broker.

mod fault;
pub(crate) mod rng;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rumqttc::{Client, QoS};

use crate::background::BackgroundThread;
use crate::connection::ConnectionSettings;
use crate::demo::{AssetKind, PlantLayout};
use crate::time::Timestamp;
use fault::FaultSchedule;
pub use fault::{ALARM_CLEAR_AT, ALARM_RAISE_AT};
use rng::Rng;

/// The simulator's deterministic generator, for benchmarks that want repeatable randomness.
pub type SeekRng = Rng;

/// How the simulator runs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub connection: ConnectionSettings,
    /// Number of production lines (the demo plant has 2).
    pub lines: usize,
    /// Measurement messages per twin per second.
    pub rate_hz: f64,
    /// Mean time between faults; `None` disables them.
    pub fault_every: Option<Duration>,
    pub seed: u64,
    /// Stop after this long (`None`: until stopped).
    pub run_for: Option<Duration>,
    /// Alarms raised at start and never cleared, spread over the plant (for benchmarks and
    /// trying the alarm list at scale).
    pub standing_alarms: usize,
}

impl SimConfig {
    pub fn new(connection: impl Into<ConnectionSettings>) -> Self {
        SimConfig {
            connection: connection.into(),
            lines: 2,
            rate_hz: 2.0,
            fault_every: Some(Duration::from_secs(25)),
            seed: 7,
            run_for: None,
            standing_alarms: 0,
        }
    }
}

/// Counters the simulator keeps.
#[derive(Debug, Default)]
pub struct SimStats {
    pub published: AtomicU64,
    pub faults: AtomicU64,
}

/// A simulator running on its own thread. Dropping it stops it.
pub struct SimHandle {
    pub stats: Arc<SimStats>,
    thread: BackgroundThread,
}

impl SimHandle {
    pub fn stop(&mut self) {
        self.thread.stop();
    }

    /// Waits until the simulator ends by itself (`run_for`) or is stopped.
    pub fn join(mut self) {
        self.thread.join();
    }
}

/// Starts the simulator thread.
pub fn spawn_simulator(config: SimConfig) -> std::io::Result<SimHandle> {
    let stats = Arc::new(SimStats::default());
    let thread = {
        let stats = stats.clone();
        BackgroundThread::spawn("plant-sim", move |stop| run(config, &stats, stop))?
    };
    Ok(SimHandle { stats, thread })
}

fn run(config: SimConfig, stats: &SimStats, stop: &AtomicBool) {
    let layout = PlantLayout::new(config.lines);
    // A helper of whoever runs it: with a profile's client id it gets its own (`<id>-sim`).
    let mut client_config = crate::ingest::IngestConfig::helper(&config.connection, "sim");
    client_config.batch_interval = Duration::from_millis(50);
    let connection = match crate::ingest::spawn_mqtt_client(
        client_config,
        crate::ingest::PublishOnly,
        crate::ingest::IngestStats::new(),
        "plant-sim-mqtt",
    ) {
        Ok(connection) => connection,
        Err(error) => {
            tracing::error!(%error, "could not start the simulator's MQTT thread");
            return;
        }
    };
    let client = connection.client().clone();
    let mut rng = Rng::new(config.seed);
    let phases: Vec<f64> = layout
        .twins
        .iter()
        .map(|_| rng.next_f64() * std::f64::consts::TAU)
        .collect();
    let mut faults = FaultSchedule::new(&layout, config.fault_every, config.seed);
    let started = Instant::now();
    let period = Duration::from_secs_f64(1.0 / config.rate_hz.max(0.01));
    let mut next_tick = Instant::now();
    let mut announced = false;
    let mut payload = String::with_capacity(256);
    let mut topic = String::with_capacity(96);
    while !stop.load(Ordering::Relaxed)
        && config.run_for.is_none_or(|limit| started.elapsed() < limit)
    {
        if !connection.stats.is_connected() {
            announced = false;
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        if !announced {
            // Retained messages make a broker that restarted empty whole again.
            announce(&client, &layout, stats);
            raise_standing_alarms(&client, &layout, config.standing_alarms, stats);
            faults.republish_active(&client, stats);
            announced = true;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let now = Timestamp::now();
        faults.advance(elapsed, &client, stats);
        for (i, twin) in layout.twins.iter().enumerate() {
            payload.clear();
            payload.push('{');
            for (s, signal) in twin.kind.signals().iter().enumerate() {
                let drift =
                    signal.drift * (elapsed / (40.0 + 7.0 * s as f64) + phases[i] + s as f64).sin();
                let noise = signal.noise * (rng.next_f64() + rng.next_f64() - 1.0);
                let mut value = signal.nominal + drift + noise;
                if signal.name == "temperature" {
                    value += faults.extra_heat(i, elapsed);
                }
                let _ = write!(payload, "\"{}\":{:.3},", signal.name, value);
            }
            let _ = write!(payload, "\"time\":{:.3}}}", now.as_unix_seconds());
            topic.clear();
            let _ = write!(
                topic,
                "te/device/{}///m/{}",
                twin.id,
                twin.kind.measurement_type()
            );
            if client
                .try_publish(topic.as_str(), QoS::AtMostOnce, false, payload.as_bytes())
                .is_ok()
            {
                stats.published.fetch_add(1, Ordering::Relaxed);
            }
        }
        next_tick += period;
        let now = Instant::now();
        if next_tick > now {
            std::thread::sleep(next_tick - now);
        } else if now - next_tick > Duration::from_secs(1) {
            next_tick = now; // fell behind: skip rather than burst
        }
    }
    // Dropping the connection lets it send what is queued and disconnect.
    drop(connection);
}

/// Registrations, units, twin fragments and service health, all retained.
fn announce(client: &Client, layout: &PlantLayout, stats: &SimStats) {
    let publish = |topic: String, payload: String| {
        if client
            .publish(topic, QoS::AtLeastOnce, true, payload)
            .is_ok()
        {
            stats.published.fetch_add(1, Ordering::Relaxed);
        }
    };
    for twin in &layout.twins {
        let registration = match twin.parent {
            None => {
                serde_json::json!({ "@type": "device", "displayName": twin.name, "type": "plant" })
            }
            Some(parent) => serde_json::json!({
                "@type": "child-device",
                "@parent": format!("te/device/{}", layout.twins[parent].id),
                "displayName": twin.name,
                "type": kind_name(twin.kind),
            }),
        };
        publish(format!("te/device/{}//", twin.id), registration.to_string());
        let units: serde_json::Map<String, serde_json::Value> = twin
            .kind
            .signals()
            .iter()
            .map(|s| (s.name.to_owned(), s.unit.into()))
            .collect();
        publish(
            format!(
                "te/device/{}///m/{}/meta",
                twin.id,
                twin.kind.measurement_type()
            ),
            serde_json::json!({ "units": units }).to_string(),
        );
        if !matches!(twin.kind, AssetKind::Part(_)) {
            let maker = serde_json::json!({ "manufacturer": "ACME Process", "model": kind_name(twin.kind), "serialNumber": format!("SN-{}", twin.id) });
            publish(
                format!("te/device/{}///twin/hardware", twin.id),
                maker.to_string(),
            );
        }
        if twin.kind == AssetKind::Line {
            let service = format!("te/device/{}/service/plc", twin.id);
            publish(service.clone(), serde_json::json!({ "@type": "service", "@parent": format!("te/device/{}", twin.id), "displayName": "Line PLC" }).to_string());
            publish(
                format!("{service}/status/health"),
                serde_json::json!({ "status": "up" }).to_string(),
            );
        }
    }
}

/// `count` retained alarms on twins spread evenly over the plant, severities in turn.
fn raise_standing_alarms(client: &Client, layout: &PlantLayout, count: usize, stats: &SimStats) {
    if count == 0 || layout.twins.is_empty() {
        return;
    }
    let severities = ["critical", "major", "minor", "warning"];
    let twins = layout.twins.len();
    for n in 0..count {
        // Spread evenly; past one per twin, further alarm types go round again.
        let (twin, alarm_type) = if count <= twins {
            (n * twins / count, "standing".to_owned())
        } else {
            (n % twins, format!("standing{}", n / twins))
        };
        let twin = &layout.twins[twin];
        let payload = serde_json::json!({ "text": format!("Standing alarm {n} (simulated)"), "severity": severities[n % 4] });
        if client
            .publish(
                format!("te/device/{}///a/{alarm_type}", twin.id),
                QoS::AtLeastOnce,
                true,
                payload.to_string(),
            )
            .is_ok()
        {
            stats.published.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn kind_name(kind: AssetKind) -> &'static str {
    match kind {
        AssetKind::Plant => "plant",
        AssetKind::Line => "line",
        AssetKind::Tank => "tank",
        AssetKind::Pump => "pump",
        AssetKind::Motor => "motor",
        AssetKind::Conveyor => "conveyor",
        AssetKind::Part(_) => "part",
    }
}
