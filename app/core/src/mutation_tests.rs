//! Every decoder of outside data, fed damaged copies of valid input (see [`crate::mutate`]):
//! MQTT payloads and topics of every schema, scene manifests, glTF models and recordings.
//! None may panic, and what they accept must leave the twin store usable.

use std::path::Path;

use crate::mutate::{Mutator, cases};
use crate::rules::RuleSet;
use crate::schema::TopicSchema;
use crate::schema::combined::SchemaChoice;
use crate::time::Timestamp;
use crate::twin::{StoreConfig, TwinStore};

const NOW: Timestamp = Timestamp(1_800_000_000_000_000);

fn store() -> TwinStore {
    TwinStore::new(StoreConfig::default(), RuleSet::default())
}

/// Feeds `samples` (topic, payload), damaged, through the schemas into a store; every few
/// cases the topic is damaged too.
fn feed_damaged(choice: &SchemaChoice, samples: &[(String, Vec<u8>)], seed: u64, count: usize) {
    let mut mutator = Mutator::new(seed);
    let mut schema = choice.build();
    let mut store = store();
    let mut updates = Vec::new();
    // The valid samples first, so damaged data lands on known twins and aliases.
    for (topic, payload) in samples {
        updates.clear();
        let _ = schema.decode(topic, payload, NOW, &mut updates);
        store.apply_all(&updates, NOW);
    }
    for case in 0..count {
        let (topic, payload) = &samples[mutator.below(samples.len())];
        let payload = mutator.mutate(payload);
        let topic = if case % 5 == 0 {
            mutator.mutate_text(topic)
        } else {
            topic.clone()
        };
        updates.clear();
        let _ = schema.decode(&topic, &payload, NOW, &mut updates);
        store.apply_all(&updates, NOW);
    }
    // Still a working store: it reports, and takes valid data.
    let _ = crate::report::state_json(&store, None);
    for (topic, payload) in samples {
        updates.clear();
        let _ = schema.decode(topic, payload, NOW, &mut updates);
        store.apply_all(&updates, NOW);
    }
}

fn text_samples(samples: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    samples
        .iter()
        .map(|(t, p)| (t.to_string(), p.as_bytes().to_vec()))
        .collect()
}

#[test]
fn thin_edge_messages_damaged_never_panic() {
    let samples = text_samples(&[
        (
            "te/device/main//",
            r#"{"@type":"device","displayName":"Plant"}"#,
        ),
        (
            "te/device/pump1//",
            r#"{"@type":"child-device","@parent":"te/device/main","name":"Pump 1"}"#,
        ),
        (
            "te/device/pump1///m/env",
            r#"{"temperature": 41.5, "vibration": {"x": 0.2, "y": 0.3}, "time": "2026-11-22T03:00:00Z"}"#,
        ),
        (
            "te/device/pump1///m/env/meta",
            r#"{"units":{"temperature":"°C"}}"#,
        ),
        (
            "te/device/pump1///a/hot",
            r#"{"severity":"critical","text":"Hot","time":1700000000.5}"#,
        ),
        ("te/device/pump1///e/started", r#"{"text":"started"}"#),
        (
            "te/device/main/service/plc/status/health",
            r#"{"status":"down"}"#,
        ),
        (
            "te/device/pump1///twin/maintenance",
            r#"{"due":"2027-01-01","hours":[1,2,3]}"#,
        ),
    ]);
    feed_damaged(&SchemaChoice::replay(), &samples, 1, cases(20_000));
}

#[test]
fn sparkplug_payloads_damaged_never_panic() {
    use crate::schema::sparkplug::{Metric, Payload, RawValue, datatype};
    let named = |name: &str, alias: u64, dt: u32, value: RawValue| Metric {
        name: Some(name.into()),
        alias: Some(alias),
        datatype: Some(dt),
        value,
        ..Default::default()
    };
    let by_alias = |alias: u64, value: RawValue| Metric {
        alias: Some(alias),
        value,
        ..Default::default()
    };
    let payload = |seq: Option<u64>, metrics: Vec<Metric>| {
        Payload {
            timestamp: Some(1_700_000_000_000),
            seq,
            metrics,
        }
        .encode()
    };
    let samples = vec![
        (
            "spBv1.0/G/NBIRTH/E".to_owned(),
            payload(
                Some(0),
                vec![
                    named("bdSeq", 0, datatype::UINT64, RawValue::Long(3)),
                    named(
                        "Node Control/Rebirth",
                        1,
                        datatype::BOOLEAN,
                        RawValue::Boolean(false),
                    ),
                ],
            ),
        ),
        (
            "spBv1.0/G/DBIRTH/E/D".to_owned(),
            payload(
                Some(1),
                vec![
                    named("Temperature", 10, datatype::DOUBLE, RawValue::Double(20.5)),
                    named("Count", 11, datatype::INT16, RawValue::Int(0xFFFF)),
                    named(
                        "Mode",
                        12,
                        datatype::STRING,
                        RawValue::String("auto".into()),
                    ),
                    named("Alarm/Hot", 13, datatype::BOOLEAN, RawValue::Boolean(false)),
                ],
            ),
        ),
        (
            "spBv1.0/G/DDATA/E/D".to_owned(),
            payload(
                Some(2),
                vec![
                    by_alias(10, RawValue::Double(21.0)),
                    by_alias(11, RawValue::Int(7)),
                    by_alias(13, RawValue::Boolean(true)),
                ],
            ),
        ),
        (
            "spBv1.0/G/NDATA/E".to_owned(),
            payload(Some(3), vec![by_alias(1, RawValue::Boolean(true))]),
        ),
        ("spBv1.0/G/DDEATH/E/D".to_owned(), payload(Some(4), vec![])),
        (
            "spBv1.0/G/NDEATH/E".to_owned(),
            payload(
                None,
                vec![named("bdSeq", 0, datatype::UINT64, RawValue::Long(3))],
            ),
        ),
        (
            "spBv1.0/STATE/other-host".to_owned(),
            br#"{"online":true,"timestamp":1700000000000}"#.to_vec(),
        ),
    ];
    feed_damaged(&SchemaChoice::replay(), &samples, 2, cases(20_000));
}

#[test]
fn json_source_messages_damaged_never_panic() {
    let specs = crate::schema::json_map::tests::specs(crate::schema::json_map::tests::GATEWAY);
    let choice = SchemaChoice {
        json_sources: specs,
        ..SchemaChoice::replay()
    };
    let samples = text_samples(&[
        (
            "plant/l1/pump3/telemetry",
            r#"{"ts": 1700000000500, "values": {"temp": 853, "running": "ON"}, "alarms": {"overheat": true, "severity": "critical"}}"#,
        ),
        (
            "plant/l2/fan1/telemetry",
            r#"{"ts": 1700000000900, "values": {"temp": -12, "running": false}, "alarms": {"overheat": false}}"#,
        ),
    ]);
    feed_damaged(&choice, &samples, 3, cases(20_000));
}

#[test]
fn scene_manifests_damaged_never_panic() {
    let manifest = include_str!("../../../scenes/demo-plant.toml");
    let mut mutator = Mutator::new(5);
    for _ in 0..cases(3_000) {
        let text = mutator.mutate_text(manifest);
        if let Err(error) = crate::manifest::parse_manifest(&text, Path::new("damaged.toml")) {
            assert!(
                error.to_string().contains("damaged.toml"),
                "errors name the file: {error}"
            );
        }
    }
}

#[test]
fn gltf_models_damaged_never_panic() {
    let model = crate::demo::plant_glb(&crate::demo::PlantLayout::new(1));
    let dir = std::env::temp_dir().join(format!("twinscope-mutated-gltf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("damaged.glb");
    let mut mutator = Mutator::new(6);
    let mut refused = 0;
    for _ in 0..cases(600) {
        std::fs::write(&path, mutator.mutate(&model)).unwrap();
        if crate::manifest::read_model(&path).is_err() {
            refused += 1;
        }
    }
    assert!(refused > 0, "damage is noticed");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A broker carrying 100,000 made-up topics and a 20,000-key payload: the store stops at its
/// caps and counts what it refused, and the plant's real twins keep updating.
#[test]
fn a_flood_of_made_up_topics_and_keys_stays_within_the_caps() {
    let config = StoreConfig {
        max_twins: 2_000,
        max_entries_per_twin: 500,
        ..Default::default()
    };
    let mut store = TwinStore::new(config, RuleSet::default());
    store.declare("pump1", None, None);
    let mut schema = SchemaChoice::replay().build();
    let mut updates = Vec::new();
    let mut feed = |store: &mut TwinStore, topic: &str, payload: &[u8]| {
        updates.clear();
        let _ = schema.decode(topic, payload, NOW, &mut updates);
        store.apply_all(&updates, NOW);
    };
    let mut mutator = Mutator::new(11);
    for n in 0..100_000u64 {
        let random = mutator.below(usize::MAX);
        match n % 4 {
            0 => feed(
                &mut store,
                &format!("te/device/r{random:x}///m/"),
                br#"{"x":1}"#,
            ),
            1 => feed(
                &mut store,
                &format!("te/device/r{random:x}///a/t{n}"),
                br#"{"severity":"major","text":"x"}"#,
            ),
            2 => feed(
                &mut store,
                &format!("spBv1.0/G{random:x}/NDATA/E{n}"),
                b"\x08\x01",
            ),
            _ => feed(
                &mut store,
                &format!("plant/{random:x}/telemetry"),
                br#"{"v":1}"#,
            ),
        }
    }
    let wide: String = format!(
        "{{{}}}",
        (0..20_000)
            .map(|k| format!("\"k{k}\":1"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let started = std::time::Instant::now();
    feed(&mut store, "te/device/pump1///m/", wide.as_bytes());
    eprintln!(
        "a 20,000-key payload ({} KB) decoded and applied in {:.1} ms",
        wide.len() / 1024,
        started.elapsed().as_secs_f64() * 1e3
    );
    assert!(store.len() <= 2_000, "{} twins", store.len());
    let refused = store.refused();
    assert!(refused.twins > 90_000, "{refused:?}");
    let pump = store.twin("pump1").unwrap();
    assert_eq!(
        pump.properties.len(),
        500,
        "a twin holds at most its cap of properties"
    );
    assert!(refused.entries >= 19_500, "{refused:?}");
    // The plant's real twin still updates, on a property it had and on one it has not.
    feed(&mut store, "te/device/pump1///m/", br#"{"k7": 42}"#);
    assert_eq!(
        store.twin("pump1").unwrap().property("k7").unwrap().value,
        42.0
    );
}
