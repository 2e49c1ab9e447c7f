//! The Sparkplug B and JSON-mapping rows of `twinscope bench`: decode + apply of the demo
//! plant's signals in each encoding, next to a bare decode of the same payloads (the protobuf
//! payload read into its message, resp. a `serde_json::Value` parse), medians of 5 runs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::demo::PlantLayout;
use crate::rules::RuleSet;
use crate::schema::json_map::{JsonMappingSchema, SourceSpec};
use crate::schema::sparkplug::{
    Metric, Payload, RawValue, SparkplugConfig, SparkplugSchema, datatype,
};
use crate::schema::{TopicSchema, look_ahead};
use crate::time::Timestamp;
use crate::twin::{StoreConfig, TwinStore};

/// One encoding's figures.
#[derive(Debug, Clone)]
pub struct SchemaBenchRow {
    pub name: &'static str,
    pub messages: usize,
    pub bytes: usize,
    pub bare: Duration,
    /// Decoding into updates alone (what the MQTT thread does live).
    pub decode_only: Duration,
    pub decode_apply: Duration,
    /// The live path: decoding on one thread, applying on another.
    pub pipelined: Duration,
    /// Repeated values merged on the live path (the most of any run).
    pub merged: u64,
}

impl SchemaBenchRow {
    /// decode + apply throughput as a share of the bare decode's.
    pub fn ratio(&self) -> f64 {
        self.bare.as_secs_f64() / self.decode_apply.as_secs_f64()
    }

    /// The live path's throughput as a share of the bare decode's.
    pub fn pipelined_ratio(&self) -> f64 {
        self.bare.as_secs_f64() / self.pipelined.as_secs_f64()
    }
}

/// Topics and payloads.
type Messages = Vec<(String, Vec<u8>)>;

const NOW: Timestamp = Timestamp(1_700_000_000_000_000);

/// Births (one edge node per line, one device per twin) and `rounds` DDATA per device, by alias.
fn sparkplug_messages(lines: usize, rounds: usize) -> (Messages, Messages) {
    let layout = PlantLayout::new(lines);
    let mut births = Vec::new();
    let mut data = Vec::new();
    let node_of = |id: &str| id.split('-').next().unwrap_or("plant").to_owned();
    let mut nodes: Vec<String> = layout.twins.iter().map(|t| node_of(&t.id)).collect();
    nodes.dedup();
    for node in &nodes {
        let birth = Payload {
            timestamp: Some(0),
            seq: Some(0),
            metrics: vec![Metric {
                name: Some("bdSeq".into()),
                datatype: Some(datatype::UINT64),
                value: RawValue::Long(1),
                ..Default::default()
            }],
        };
        births.push((format!("spBv1.0/bench/NBIRTH/{node}"), birth.encode()));
    }
    let mut seq = std::collections::HashMap::new();
    let mut next_seq = |node: &str| {
        let s = seq.entry(node.to_owned()).or_insert(0u64);
        *s = (*s + 1) % 256;
        *s
    };
    for twin in &layout.twins {
        let node = node_of(&twin.id);
        let metrics = twin
            .kind
            .signals()
            .iter()
            .enumerate()
            .map(|(i, s)| Metric {
                name: Some(s.name.into()),
                alias: Some(i as u64),
                datatype: Some(datatype::DOUBLE),
                value: RawValue::Double(s.nominal),
                ..Default::default()
            })
            .collect();
        let payload = Payload {
            timestamp: Some(0),
            seq: Some(next_seq(&node)),
            metrics,
        };
        births.push((
            format!("spBv1.0/bench/DBIRTH/{node}/{}", twin.id),
            payload.encode(),
        ));
    }
    for round in 0..rounds {
        for twin in &layout.twins {
            let node = node_of(&twin.id);
            let metrics = twin
                .kind
                .signals()
                .iter()
                .enumerate()
                .map(|(i, s)| Metric {
                    alias: Some(i as u64),
                    value: RawValue::Double(
                        s.nominal + s.drift * ((round + i) as f64 * 0.37).sin(),
                    ),
                    ..Default::default()
                })
                .collect();
            let payload = Payload {
                timestamp: Some(1_700_000_000_000 + round as u64 * 100),
                seq: Some(next_seq(&node)),
                metrics,
            };
            data.push((
                format!("spBv1.0/bench/DDATA/{node}/{}", twin.id),
                payload.encode(),
            ));
        }
    }
    (births, data)
}

/// A gateway's batches: `{"ts": …, "values": {signal: value, …}}` per twin.
fn json_messages(lines: usize, rounds: usize) -> Vec<(String, Vec<u8>)> {
    let layout = PlantLayout::new(lines);
    let mut messages = Vec::new();
    for round in 0..rounds {
        for twin in &layout.twins {
            let values: serde_json::Map<String, serde_json::Value> = twin
                .kind
                .signals()
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    (
                        s.name.to_owned(),
                        serde_json::json!(
                            ((s.nominal + s.drift * ((round + i) as f64 * 0.37).sin()) * 1000.0)
                                .round()
                                / 1000.0
                        ),
                    )
                })
                .collect();
            let payload = serde_json::json!({ "ts": 1_700_000_000_000u64 + round as u64 * 100, "values": values });
            messages.push((
                format!("gateway/{}/telemetry", twin.id),
                payload.to_string().into_bytes(),
            ));
        }
    }
    messages
}

fn decode_only(
    schema: &mut dyn TopicSchema,
    warm_up: &[(String, Vec<u8>)],
    messages: &[(String, Vec<u8>)],
) -> Duration {
    let mut out = Vec::with_capacity(4096);
    for (topic, payload) in warm_up {
        let _ = schema.decode(topic, payload, NOW, &mut out);
    }
    out.clear();
    let started = Instant::now();
    for (i, (topic, payload)) in messages.iter().enumerate() {
        look_ahead(
            |topic, stage| schema.look_ahead(topic, stage),
            super::topics_after(messages, i),
        );
        let _ = schema.decode(topic, payload, NOW, &mut out);
        out.clear();
    }
    started.elapsed()
}

/// Decoding and applying on one thread, 1024 messages at a time, after `warm_up` (each twin's
/// first message, and Sparkplug's births) is applied unmeasured.
pub(super) fn decode_apply(
    schema: &mut dyn TopicSchema,
    warm_up: &[(String, Vec<u8>)],
    messages: &[(String, Vec<u8>)],
    now: Timestamp,
) -> Duration {
    let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
    let mut out = Vec::with_capacity(4096);
    for (topic, payload) in warm_up {
        let _ = schema.decode(topic, payload, now, &mut out);
    }
    store.apply_all(&out, now);
    out.clear();
    // Taken into a buffer used again, as the viewer takes them each frame.
    let mut changed = Vec::new();
    let started = Instant::now();
    for (c, chunk) in messages.chunks(1024).enumerate() {
        for (i, (topic, payload)) in chunk.iter().enumerate() {
            look_ahead(
                |topic, stage| schema.look_ahead(topic, stage),
                super::topics_after(messages, c * 1024 + i),
            );
            let _ = schema.decode(topic, payload, now, &mut out);
        }
        store.apply_all(&out, now);
        out.clear();
        store.take_changed_into(&mut changed);
        black_box(&changed);
    }
    started.elapsed()
}

/// Both rows, for a plant of `lines` lines and `rounds` messages per twin.
pub fn run_schema_benchmark(lines: usize, rounds: usize) -> Vec<SchemaBenchRow> {
    const REPEATS: usize = 5;
    let (births, data) = sparkplug_messages(lines, rounds);
    let json = json_messages(lines, rounds);
    // Each twin's first message creates it: applied before the clock starts (steady state,
    // as a long session runs), as the thin-edge row does. For Sparkplug that is the births
    // and each device's first DATA (which works out where its topic goes).
    let twins = PlantLayout::new(lines).twins.len().min(json.len());
    let warm_up: Vec<(String, Vec<u8>)> = births
        .iter()
        .chain(&data[..twins.min(data.len())])
        .cloned()
        .collect();
    let source: SourceSpec = toml::from_str("topic = \"gateway/{twin}/telemetry\"\ntwin = \"{twin}\"\ntimestamp = \"/ts\"\n[[property]]\npointer = \"/values/*\"").expect("the benchmark's source");
    let (mut spb_bare, mut spb, mut json_bare, mut json_apply) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut spb_decode, mut json_decode) = (Vec::new(), Vec::new());
    let (mut spb_live, mut json_live) = (Vec::new(), Vec::new());
    let (mut spb_merged, mut json_merged) = (0, 0);
    for _ in 0..REPEATS {
        let started = Instant::now();
        for (_, payload) in &data {
            black_box(Payload::decode(payload).expect("benchmark payloads are valid"));
        }
        spb_bare.push(started.elapsed());
        let mut schema = SparkplugSchema::new(SparkplugConfig::replay());
        spb_decode.push(decode_only(&mut schema, &warm_up, &data));
        let mut schema = SparkplugSchema::new(SparkplugConfig::replay());
        spb.push(decode_apply(&mut schema, &warm_up, &data, NOW));
        let (elapsed, merged) = super::pipelined_ingest(
            Box::new(SparkplugSchema::new(SparkplugConfig::replay())),
            &births,
            &data,
            NOW,
        );
        spb_live.push(elapsed);
        spb_merged = spb_merged.max(merged);
        let started = Instant::now();
        for (_, payload) in &json {
            black_box(
                serde_json::from_slice::<serde_json::Value>(payload)
                    .expect("benchmark payloads are valid"),
            );
        }
        json_bare.push(started.elapsed());
        let mut schema =
            JsonMappingSchema::new(std::slice::from_ref(&source)).expect("the benchmark's source");
        json_decode.push(decode_only(&mut schema, &json[..twins], &json));
        let mut schema =
            JsonMappingSchema::new(std::slice::from_ref(&source)).expect("the benchmark's source");
        json_apply.push(decode_apply(&mut schema, &json[..twins], &json, NOW));
        let schema =
            JsonMappingSchema::new(std::slice::from_ref(&source)).expect("the benchmark's source");
        let (elapsed, merged) = super::pipelined_ingest(Box::new(schema), &[], &json, NOW);
        json_live.push(elapsed);
        json_merged = json_merged.max(merged);
    }
    vec![
        SchemaBenchRow {
            name: "Sparkplug B",
            messages: data.len(),
            bytes: data.iter().map(|m| m.1.len()).sum(),
            bare: super::median_of(spb_bare),
            decode_only: super::median_of(spb_decode),
            decode_apply: super::median_of(spb),
            pipelined: super::median_of(spb_live),
            merged: spb_merged,
        },
        SchemaBenchRow {
            name: "JSON mapping",
            messages: json.len(),
            bytes: json.iter().map(|m| m.1.len()).sum(),
            bare: super::median_of(json_bare),
            decode_only: super::median_of(json_decode),
            decode_apply: super::median_of(json_apply),
            pipelined: super::median_of(json_live),
            merged: json_merged,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_benchmark_message_becomes_values() {
        let (births, data) = sparkplug_messages(1, 2);
        let mut schema = SparkplugSchema::new(SparkplugConfig::replay());
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
        let mut out = Vec::new();
        for (topic, payload) in births.iter().chain(&data) {
            schema.decode(topic, payload, NOW, &mut out).unwrap();
        }
        store.apply_all(&out, NOW);
        assert!(
            store.len() > 30 && schema.take_publishes().is_empty(),
            "every device born, no rebirth asked"
        );
        let rows = run_schema_benchmark(1, 2);
        assert!(rows.iter().all(|r| r.messages > 0
            && r.decode_apply > Duration::ZERO
            && r.pipelined > Duration::ZERO));
    }
}
