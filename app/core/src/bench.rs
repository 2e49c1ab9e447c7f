//! The ingest benchmark behind `twinscope bench`: decode + apply of thin-edge measurements
//! against a bare `serde_json` parse of the same payloads. It lives in the core so both sides
//! are compiled with the same optimisation.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::demo::PlantLayout;
use crate::rules::RuleSet;
use crate::schema::TopicSchema;
use crate::schema::thin_edge::ThinEdgeSchema;
use crate::time::Timestamp;
use crate::twin::{StoreConfig, TwinStore};

/// Figures from one run.
#[derive(Debug, Clone)]
pub struct IngestBenchResult {
    pub messages: usize,
    pub values: usize,
    pub bytes: usize,
    pub bare_parse: Duration,
    pub decode_only: Duration,
    pub decode_apply: Duration,
}

impl IngestBenchResult {
    pub fn rate(&self, elapsed: Duration) -> f64 {
        self.messages as f64 / elapsed.as_secs_f64()
    }
}

/// Messages like the simulator's, for a plant of `lines` lines, `rounds` per twin.
pub fn sample_messages(lines: usize, rounds: usize) -> Vec<(String, Vec<u8>)> {
    let layout = PlantLayout::new(lines);
    let mut messages = Vec::with_capacity(layout.twins.len() * rounds);
    for round in 0..rounds {
        for twin in &layout.twins {
            let mut payload = String::from("{");
            for (s, signal) in twin.kind.signals().iter().enumerate() {
                let value = signal.nominal + signal.drift * ((round + s) as f64 * 0.37).sin();
                let _ = write!(payload, "\"{}\":{:.3},", signal.name, value);
            }
            let _ = write!(payload, "\"time\":{:.3}}}", 1_700_000_000.0 + round as f64 * 0.1);
            messages.push((format!("te/device/{}///m/{}", twin.id, twin.kind.measurement_type()), payload.into_bytes()));
        }
    }
    messages
}

/// Runs the three measurements over the same messages.
pub fn run_ingest_benchmark(lines: usize, rounds: usize) -> IngestBenchResult {
    let messages = sample_messages(lines, rounds);
    let bytes = messages.iter().map(|(_, p)| p.len()).sum();

    let started = Instant::now();
    for (_, payload) in &messages {
        let value: serde_json::Value = serde_json::from_slice(payload).expect("benchmark payloads are valid");
        black_box(value);
    }
    let bare_parse = started.elapsed();

    let mut schema = ThinEdgeSchema::default();
    let mut out = Vec::with_capacity(4096);
    let now = Timestamp(1_700_000_000_000_000);
    // Warm the interner and entity set so steady state is measured, as in a long session.
    for (topic, payload) in messages.iter().take(PlantLayout::new(lines).twins.len()) {
        let _ = schema.decode(topic, payload, now, &mut out);
    }
    out.clear();
    let started = Instant::now();
    let mut values = 0;
    for (topic, payload) in &messages {
        let _ = schema.decode(topic, payload, now, &mut out);
        values += out.len();
        out.clear();
    }
    let decode_only = started.elapsed();

    let mut schema = ThinEdgeSchema::default();
    let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
    let started = Instant::now();
    for chunk in messages.chunks(1024) {
        for (topic, payload) in chunk {
            let _ = schema.decode(topic, payload, now, &mut out);
        }
        store.apply_all(&out, now);
        out.clear();
        black_box(store.take_changed());
    }
    let decode_apply = started.elapsed();
    IngestBenchResult { messages: messages.len(), values, bytes, bare_parse, decode_only, decode_apply }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_benchmark_runs_on_a_small_plant() {
        let result = run_ingest_benchmark(1, 2);
        assert_eq!(result.messages, 2 * 33);
        assert!(result.values >= result.messages);
    }
}
