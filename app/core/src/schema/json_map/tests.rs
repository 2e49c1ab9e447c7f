//! Sources against the payload shapes real tools emit.

use super::*;
use crate::rules::RuleSet;
use crate::twin::{StoreConfig, TwinStore};

const NOW: Timestamp = Timestamp(1_800_000_000_000_000);

/// A gateway's batch topic: captures, pointers, unit, scale, time, an alarm (the other tests
/// of decoders read it too).
pub(crate) const GATEWAY: &str = r#"
        [[source]]
        name = "gateway"
        topic = "plant/{line}/{machine}/telemetry"
        twin = "{line}-{machine}"
        parent = "{line}"
        timestamp = "/ts"
        time_format = "unix_ms"
        [[source.property]]
        pointer = "/values/temp"
        name = "temperature"
        unit = "°C"
        scale = 0.1
        [[source.property]]
        pointer = "/values/running"
        type = "bool"
        [[source.property]]
        pointer = "/state/mode"
        type = "string"
        [[source.alarm]]
        type = "overheat"
        active = "/alarms/overheat"
        severity = "/alarms/severity"
        text = "/alarms/message"
        "#;

/// The `[[source]]` tables of a manifest text.
pub(crate) fn specs(toml_text: &str) -> Vec<SourceSpec> {
    #[derive(serde::Deserialize)]
    struct Sources {
        source: Vec<SourceSpec>,
    }
    toml::from_str::<Sources>(toml_text).unwrap().source
}

fn schema(toml_text: &str) -> JsonMappingSchema {
    JsonMappingSchema::new(&specs(toml_text)).unwrap()
}

fn apply(
    schema: &mut JsonMappingSchema,
    store: &mut TwinStore,
    topic: &str,
    payload: &str,
) -> Result<Decoded, DecodeError> {
    let mut out = Vec::new();
    let result = schema.decode(topic, payload.as_bytes(), NOW, &mut out);
    store.apply_all(&out, NOW);
    result
}

fn store() -> TwinStore {
    TwinStore::new(StoreConfig::default(), RuleSet::default())
}

#[test]
fn a_gateway_batch_with_captures_pointers_units_scale_and_time() {
    let mut schema = schema(GATEWAY);
    assert_eq!(schema.subscriptions(), ["plant/+/+/telemetry"]);
    let mut store = store();
    let payload = r#"{"ts": 1700000000500, "values": {"temp": 853, "running": "ON"}, "state": {"mode": "auto"}, "alarms": {"overheat": true, "severity": "critical", "message": "Motor too hot"}}"#;
    assert!(matches!(
        apply(&mut schema, &mut store, "plant/l1/pump3/telemetry", payload),
        Ok(Decoded::Updates(_))
    ));
    let pump = store.twin("l1-pump3").expect("the twin from the captures");
    assert_eq!(store.get(pump.parent.unwrap()).id.as_str(), "l1");
    let temperature = pump.property("temperature").unwrap();
    assert!((temperature.value - 85.3).abs() < 1e-9);
    assert_eq!(temperature.unit.as_deref(), Some("°C"));
    assert_eq!(
        temperature.time,
        Timestamp(1_700_000_000_500_000),
        "the payload's time, in ms"
    );
    assert_eq!(pump.property("running").unwrap().value, 1.0);
    assert_eq!(pump.fragments.get("mode"), Some(&serde_json::json!("auto")));
    assert_eq!(pump.alarms[0].severity, Severity::Critical);
    assert_eq!(pump.alarms[0].text, "Motor too hot");
    // The flag goes off: cleared.
    let payload =
        r#"{"ts": 1700000001500, "values": {"temp": 700}, "alarms": {"overheat": false}}"#;
    apply(&mut schema, &mut store, "plant/l1/pump3/telemetry", payload).unwrap();
    assert!(store.twin("l1-pump3").unwrap().alarms.is_empty());
}

#[test]
fn telegraf_lines_and_every_member_of_an_object() {
    let mut schema = schema(
        r#"
        [[source]]
        topic = "telegraf/{host}/{measurement}"
        twin = "{host}/{measurement}"
        timestamp = "/timestamp"
        [[source.property]]
        pointer = "/fields/*"
        "#,
    );
    let mut store = store();
    let line = r#"{"fields":{"usage_idle":97.5,"usage_user":1.25,"note":"x"},"name":"cpu","tags":{"cpu":"cpu-total","host":"h1"},"timestamp":1700000000}"#;
    apply(&mut schema, &mut store, "telegraf/h1/cpu", line).unwrap();
    let cpu = store.twin("h1/cpu").unwrap();
    assert_eq!(cpu.property("usage_idle").unwrap().value, 97.5);
    assert_eq!(
        cpu.property("usage_user").unwrap().time,
        Timestamp(1_700_000_000_000_000),
        "Unix seconds"
    );
    assert!(cpu.property("note").is_none(), "text is not a number");
}

#[test]
fn home_assistant_state_topics_carry_bare_values() {
    let mut schema = schema(
        r#"
        [[source]]
        topic = "homeassistant/sensor/{entity}/state"
        twin = "{entity}"
        [[source.property]]
        pointer = ""
        name = "state"
        [[source]]
        topic = "homeassistant/switch/{entity}/state"
        twin = "{entity}"
        [[source.property]]
        pointer = ""
        name = "on"
        type = "bool"
        "#,
    );
    let mut store = store();
    apply(
        &mut schema,
        &mut store,
        "homeassistant/sensor/kitchen_temp/state",
        "21.5",
    )
    .unwrap();
    apply(
        &mut schema,
        &mut store,
        "homeassistant/switch/pump/state",
        "ON",
    )
    .unwrap();
    assert_eq!(
        store
            .twin("kitchen_temp")
            .unwrap()
            .property("state")
            .unwrap()
            .value,
        21.5
    );
    assert_eq!(
        store.twin("pump").unwrap().property("on").unwrap().value,
        1.0
    );
}

#[test]
fn bad_input_is_refused_and_counted_never_a_panic() {
    let mut schema = schema(
        r#"
        [[source]]
        topic = "plant/{line}/{machine}"
        twin = "{line}{machine}"
        [[source.property]]
        pointer = "/v"
        "#,
    );
    let mut store = store();
    assert!(matches!(
        apply(&mut schema, &mut store, "other/x/y", "{}"),
        Err(DecodeError::UnknownTopic { .. })
    ));
    assert!(
        matches!(
            apply(&mut schema, &mut store, "plant//", r#"{"v":1}"#),
            Err(DecodeError::Invalid { .. })
        ),
        "an empty id"
    );
    assert!(matches!(
        apply(&mut schema, &mut store, "plant/a/b", "{not json"),
        Err(DecodeError::MalformedJson { .. })
    ));
    let huge = format!("{{\"v\": \"{}\"}}", "x".repeat(MAX_PAYLOAD));
    assert!(matches!(
        apply(&mut schema, &mut store, "plant/a/b", &huge),
        Err(DecodeError::Oversized { .. })
    ));
    assert_eq!(
        apply(
            &mut schema,
            &mut store,
            "plant/a/b",
            r#"{"v": "not a number", "w": 3}"#
        ),
        Ok(Decoded::Updates(1)),
        "only the registration"
    );
    assert_eq!(store.len(), 1);
}

#[test]
fn sources_are_checked() {
    let check = |text: &str| -> String {
        JsonMappingSchema::new(&specs(text))
            .err()
            .unwrap_or_default()
    };
    assert!(
        check(
            "[[source]]\ntopic = \"a/{x}\"\ntwin = \"{y}\"\n[[source.property]]\npointer = \"/v\""
        )
        .contains("not captured")
    );
    assert!(
        check(
            "[[source]]\ntopic = \"a/{x}\"\ntwin = \"{x}\"\n[[source.property]]\npointer = \"v\""
        )
        .contains("JSON Pointer")
    );
    assert!(check("[[source]]\ntopic = \"a/{x}\"\ntwin = \"{x}\"").contains("nothing to read"));
    assert!(check("[[source]]\ntopic = \"a/{x}\"\ntwin = \"{x}\"\n[[source.alarm]]\ntype = \"t\"\nactive = \"/a\"\nseverity = \"awful\"").contains("unknown severity"));
}
