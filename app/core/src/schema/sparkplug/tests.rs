//! The host application against the message flows of the Sparkplug 3.0 specification.

use super::*;
use crate::rules::RuleSet;
use crate::twin::{StoreConfig, TwinStore};

const T0: Timestamp = Timestamp(1_700_000_000_000_000);

fn metric(name: Option<&str>, alias: Option<u64>, datatype: u32, value: RawValue) -> Metric {
    Metric {
        name: name.map(str::to_owned),
        alias,
        datatype: Some(datatype),
        value,
        ..Default::default()
    }
}

fn nbirth(seq: u64, bd_seq: u64) -> Vec<u8> {
    Payload {
        timestamp: Some(1_700_000_000_000),
        seq: Some(seq),
        metrics: vec![
            metric(
                Some("bdSeq"),
                None,
                datatype::UINT64,
                RawValue::Long(bd_seq),
            ),
            metric(
                Some("Node Control/Rebirth"),
                Some(1),
                datatype::BOOLEAN,
                RawValue::Boolean(false),
            ),
        ],
    }
    .encode()
}

fn dbirth(seq: u64) -> Vec<u8> {
    let mut temperature = metric(
        Some("Temperature"),
        Some(101),
        datatype::DOUBLE,
        RawValue::Double(21.5),
    );
    temperature.properties = vec![
        ("engUnit".into(), RawValue::String("°C".into())),
        ("engHigh".into(), RawValue::Double(120.0)),
    ];
    Payload {
        timestamp: Some(1_700_000_000_000),
        seq: Some(seq),
        metrics: vec![
            temperature,
            metric(Some("Count"), Some(103), datatype::INT32, RawValue::Int(7)),
            metric(
                Some("Alarms/HighTemp"),
                Some(106),
                datatype::BOOLEAN,
                RawValue::Boolean(false),
            ),
            metric(
                Some("Mode"),
                Some(105),
                datatype::STRING,
                RawValue::String("auto".into()),
            ),
        ],
    }
    .encode()
}

fn ddata(seq: u64, metrics: Vec<Metric>) -> Vec<u8> {
    Payload {
        timestamp: Some(1_700_000_001_000),
        seq: Some(seq),
        metrics,
    }
    .encode()
}

fn death(bd_seq: u64) -> Vec<u8> {
    Payload {
        timestamp: None,
        seq: None,
        metrics: vec![metric(
            Some("bdSeq"),
            None,
            datatype::UINT64,
            RawValue::Long(bd_seq),
        )],
    }
    .encode()
}

/// A host and a store it feeds.
struct Host {
    schema: SparkplugSchema,
    store: TwinStore,
}

impl Host {
    fn new(passive: bool) -> Self {
        let config = SparkplugConfig {
            host_id: "test-host".into(),
            passive,
            reorder_timeout: Duration::from_secs(2),
        };
        Host {
            schema: SparkplugSchema::new(config),
            store: TwinStore::new(StoreConfig::default(), RuleSet::default()),
        }
    }

    fn send(&mut self, topic: &str, payload: &[u8], at: Timestamp) -> Result<Decoded, DecodeError> {
        let mut out = Vec::new();
        let result = self.schema.decode(topic, payload, at, &mut out);
        for update in &out {
            self.store.apply(update, at);
        }
        result
    }

    fn value(&self, twin: &str, name: &str) -> Option<f64> {
        self.store
            .find(twin)
            .and_then(|i| self.store.get(i).property(name).map(|p| p.value))
    }

    fn offline(&self, twin: &str) -> bool {
        self.store
            .find(twin)
            .is_some_and(|i| self.store.get(i).offline_since.is_some())
    }

    /// The rebirth requests published since the last call (their topics).
    fn rebirths(&mut self) -> Vec<String> {
        self.schema
            .take_publishes()
            .into_iter()
            .filter(|p| p.topic.contains("/NCMD/"))
            .map(|p| p.topic)
            .collect()
    }
}

#[test]
fn births_build_the_tree_and_data_updates_by_alias() {
    let mut host = Host::new(false);
    host.send("spBv1.0/Plant1/NBIRTH/Edge1", &nbirth(0, 3), T0)
        .unwrap();
    host.send("spBv1.0/Plant1/DBIRTH/Edge1/PLC", &dbirth(1), T0)
        .unwrap();
    let device = host
        .store
        .find("Plant1/Edge1/PLC")
        .expect("the device twin");
    let twin = host.store.get(device);
    assert_eq!(
        host.store.get(twin.parent.unwrap()).id.as_str(),
        "Plant1/Edge1"
    );
    assert_eq!(twin.label(), "PLC");
    assert_eq!(
        twin.property("Temperature").and_then(|p| p.unit.as_deref()),
        Some("°C")
    );
    assert_eq!(twin.fragments.get("Mode"), Some(&serde_json::json!("auto")));
    assert_eq!(
        twin.fragments.get("Temperature [engHigh]"),
        Some(&serde_json::json!(120.0)),
        "other metric properties are shown"
    );
    // DATA by alias only, a negative Int32 sign-extended, a Boolean as 0/1.
    let data = ddata(
        2,
        vec![
            Metric {
                alias: Some(101),
                value: RawValue::Double(80.25),
                ..Default::default()
            },
            Metric {
                alias: Some(103),
                value: RawValue::Int(-5i32 as u32),
                ..Default::default()
            },
            Metric {
                alias: Some(106),
                value: RawValue::Boolean(true),
                ..Default::default()
            },
        ],
    );
    assert_eq!(
        host.send("spBv1.0/Plant1/DDATA/Edge1/PLC", &data, T0),
        Ok(Decoded::Updates(3))
    );
    assert_eq!(host.value("Plant1/Edge1/PLC", "Temperature"), Some(80.25));
    assert_eq!(host.value("Plant1/Edge1/PLC", "Count"), Some(-5.0));
    assert_eq!(host.value("Plant1/Edge1/PLC", "Alarms/HighTemp"), Some(1.0));
    assert!(host.rebirths().is_empty(), "nothing to ask for");
}

#[test]
fn a_death_with_the_current_bd_seq_takes_the_node_and_its_devices_offline() {
    let mut host = Host::new(false);
    host.send("spBv1.0/G/NBIRTH/E", &nbirth(0, 4), T0).unwrap();
    host.send("spBv1.0/G/DBIRTH/E/D", &dbirth(1), T0).unwrap();
    // An older session's will arrives late: ignored.
    assert_eq!(
        host.send("spBv1.0/G/NDEATH/E", &death(3), T0),
        Ok(Decoded::Ignored)
    );
    assert!(!host.offline("G/E") && !host.offline("G/E/D"));
    host.send("spBv1.0/G/NDEATH/E", &death(4), Timestamp(T0.0 + 5_000_000))
        .unwrap();
    assert!(host.offline("G/E") && host.offline("G/E/D"));
    let device = host.store.get(host.store.find("G/E/D").unwrap());
    assert!(device.comms_lost, "shown stale");
    assert_eq!(device.offline_since, Some(Timestamp(T0.0 + 5_000_000)));
    // A duplicate death changes nothing; a new birth brings it back.
    assert_eq!(
        host.send("spBv1.0/G/NDEATH/E", &death(4), T0),
        Ok(Decoded::Ignored)
    );
    host.send("spBv1.0/G/NBIRTH/E", &nbirth(0, 5), T0).unwrap();
    host.send("spBv1.0/G/DBIRTH/E/D", &dbirth(1), T0).unwrap();
    assert!(!host.offline("G/E") && !host.offline("G/E/D"));
    // DDEATH takes one device offline.
    host.send("spBv1.0/G/DDEATH/E/D", &ddata(2, vec![]), T0)
        .unwrap();
    assert!(host.offline("G/E/D") && !host.offline("G/E"));
}

#[test]
fn silence_never_makes_a_sparkplug_twin_stale() {
    let mut host = Host::new(true);
    host.send("spBv1.0/G/NBIRTH/E", &nbirth(0, 1), T0).unwrap();
    host.send("spBv1.0/G/DBIRTH/E/D", &dbirth(1), T0).unwrap();
    host.store.mark_stale(Timestamp(T0.0 + 3_600_000_000));
    let device = host.store.get(host.store.find("G/E/D").unwrap());
    assert!(
        !device.comms_lost,
        "report by exception: an hour without change is not stale"
    );
}

#[test]
fn a_seq_gap_asks_for_a_rebirth_after_the_reorder_timeout() {
    let mut host = Host::new(false);
    host.send("spBv1.0/G/NBIRTH/E", &nbirth(0, 1), T0).unwrap();
    host.send("spBv1.0/G/DBIRTH/E/D", &dbirth(1), T0).unwrap();
    let temperature = |v| {
        vec![Metric {
            alias: Some(101),
            value: RawValue::Double(v),
            ..Default::default()
        }]
    };
    host.send("spBv1.0/G/DDATA/E/D", &ddata(2, temperature(1.0)), T0)
        .unwrap();
    // 3 goes missing: 4 is held while 3 may still come.
    host.send("spBv1.0/G/DDATA/E/D", &ddata(4, temperature(4.0)), T0)
        .unwrap();
    assert_eq!(host.value("G/E/D", "Temperature"), Some(1.0));
    host.schema
        .tick(Timestamp(T0.0 + 1_000_000), &mut Vec::new());
    assert!(
        host.rebirths().is_empty(),
        "still within the reorder timeout"
    );
    // The timeout passes: 4 is applied after all, and a rebirth asked for.
    let mut released = Vec::new();
    host.schema.tick(Timestamp(T0.0 + 2_500_000), &mut released);
    host.store.apply_all(&released, T0);
    assert_eq!(host.value("G/E/D", "Temperature"), Some(4.0));
    assert_eq!(host.rebirths(), ["spBv1.0/G/NCMD/E"]);
    // The request is a Node Control/Rebirth = true.
    host.send(
        "spBv1.0/G/DDATA/E/D",
        &ddata(6, temperature(6.0)),
        Timestamp(T0.0 + 3_000_000),
    )
    .unwrap();
    host.schema
        .tick(Timestamp(T0.0 + 6_000_000), &mut Vec::new());
    let requests = host.schema.take_publishes();
    assert!(requests.is_empty() || requests.iter().all(|p| p.topic.contains("NCMD")));
    // Wrapping 255 → 0 is no gap.
    let mut host = Host::new(false);
    host.send("spBv1.0/G/NBIRTH/E", &nbirth(254, 1), T0)
        .unwrap();
    host.send("spBv1.0/G/NDATA/E", &ddata(255, vec![]), T0)
        .unwrap();
    host.send("spBv1.0/G/NDATA/E", &ddata(0, vec![]), T0)
        .unwrap();
    host.schema
        .tick(Timestamp(T0.0 + 10_000_000), &mut Vec::new());
    assert!(host.rebirths().is_empty());
}

#[test]
fn a_late_message_fills_the_gap_and_frees_what_waited_in_order() {
    let mut host = Host::new(false);
    host.send("spBv1.0/G/NBIRTH/E", &nbirth(0, 1), T0).unwrap();
    host.send("spBv1.0/G/DBIRTH/E/D", &dbirth(1), T0).unwrap();
    let temperature = |v| {
        vec![Metric {
            alias: Some(101),
            value: RawValue::Double(v),
            ..Default::default()
        }]
    };
    host.send("spBv1.0/G/DDATA/E/D", &ddata(3, temperature(3.0)), T0)
        .unwrap();
    host.send("spBv1.0/G/DDATA/E/D", &ddata(4, temperature(4.0)), T0)
        .unwrap();
    assert_eq!(
        host.value("G/E/D", "Temperature"),
        Some(21.5),
        "3 and 4 wait for 2"
    );
    host.send("spBv1.0/G/DDATA/E/D", &ddata(2, temperature(2.0)), T0)
        .unwrap();
    let history: Vec<f64> = host
        .store
        .twin("G/E/D")
        .unwrap()
        .property("Temperature")
        .unwrap()
        .history
        .iter()
        .map(|s| s.1)
        .collect();
    assert_eq!(history, [21.5, 2.0, 3.0, 4.0], "applied in sequence order");
    host.schema
        .tick(Timestamp(T0.0 + 10_000_000), &mut Vec::new());
    assert!(
        host.rebirths().is_empty(),
        "the gap was filled: nothing to ask"
    );
    // A duplicate of an applied message is ignored.
    assert_eq!(
        host.send("spBv1.0/G/DDATA/E/D", &ddata(3, temperature(99.0)), T0),
        Ok(Decoded::Ignored)
    );
}

#[test]
fn the_rebirth_request_is_the_spec_s_node_control_metric() {
    let mut host = Host::new(false);
    host.send("spBv1.0/G/NDATA/E", &ddata(5, vec![]), T0)
        .unwrap();
    let requests = host.schema.take_publishes();
    assert_eq!(requests.len(), 1, "data before a birth asks at once");
    assert_eq!(
        (requests[0].topic.as_str(), requests[0].retain),
        ("spBv1.0/G/NCMD/E", false)
    );
    let payload = Payload::decode(&requests[0].payload).unwrap();
    assert_eq!(
        payload.metrics[0].name.as_deref(),
        Some("Node Control/Rebirth")
    );
    assert_eq!(
        (payload.metrics[0].datatype, &payload.metrics[0].value),
        (Some(datatype::BOOLEAN), &RawValue::Boolean(true))
    );
    // Not again within a few seconds, however much data comes.
    host.send("spBv1.0/G/NDATA/E", &ddata(6, vec![]), T0)
        .unwrap();
    assert!(host.rebirths().is_empty());
    // An unknown alias after a birth asks too (later).
    host.send("spBv1.0/G/NBIRTH/E", &nbirth(0, 1), T0).unwrap();
    let unknown = ddata(
        1,
        vec![Metric {
            alias: Some(999),
            value: RawValue::Double(1.0),
            ..Default::default()
        }],
    );
    host.send("spBv1.0/G/NDATA/E", &unknown, Timestamp(T0.0 + 10_000_000))
        .unwrap();
    assert_eq!(host.rebirths(), ["spBv1.0/G/NCMD/E"]);
}

#[test]
fn a_passive_host_publishes_nothing() {
    let mut host = Host::new(true);
    assert_eq!(host.schema.will(T0), None);
    host.schema.connected(T0);
    host.send("spBv1.0/G/NDATA/E", &ddata(5, vec![]), T0)
        .unwrap();
    assert!(host.schema.take_publishes().is_empty());
}

#[test]
fn state_birth_repeats_the_will_s_timestamp_and_stopping_says_offline() {
    let mut host = Host::new(false);
    let will = host.schema.will(T0).expect("a will");
    assert_eq!(will.topic, "spBv1.0/STATE/test-host");
    assert_eq!((will.qos, will.retain), (1, true));
    let will: serde_json::Value = serde_json::from_slice(&will.payload).unwrap();
    assert_eq!(
        will,
        serde_json::json!({"online": false, "timestamp": 1_700_000_000_000u64})
    );
    host.schema.connected(Timestamp(T0.0 + 250_000));
    let birth = host.schema.take_publishes();
    let birth: serde_json::Value = serde_json::from_slice(&birth[0].payload).unwrap();
    assert_eq!(
        birth,
        serde_json::json!({"online": true, "timestamp": 1_700_000_000_000u64})
    );
    host.schema.stopping(T0);
    let last: serde_json::Value =
        serde_json::from_slice(&host.schema.take_publishes()[0].payload).unwrap();
    assert_eq!(last["online"], false);
}

#[test]
fn losing_the_broker_takes_everything_offline_and_data_after_it_asks_for_births() {
    let mut host = Host::new(false);
    host.send("spBv1.0/G/NBIRTH/E", &nbirth(0, 1), T0).unwrap();
    host.send("spBv1.0/G/DBIRTH/E/D", &dbirth(1), T0).unwrap();
    let mut out = Vec::new();
    host.schema.connection_lost(T0, &mut out);
    for update in &out {
        host.store.apply(update, T0);
    }
    assert!(host.offline("G/E") && host.offline("G/E/D"));
    let data = ddata(
        2,
        vec![Metric {
            alias: Some(101),
            value: RawValue::Double(3.0),
            ..Default::default()
        }],
    );
    host.send("spBv1.0/G/DDATA/E/D", &data, T0).unwrap();
    assert_eq!(host.rebirths(), ["spBv1.0/G/NCMD/E"]);
}

#[test]
fn templates_nulls_historical_and_bad_input() {
    let mut host = Host::new(true);
    host.send("spBv1.0/G/NBIRTH/E", &nbirth(0, 1), T0).unwrap();
    let template = RawValue::Template(proto::Template {
        template_ref: Some("Motor".into()),
        is_definition: false,
        metrics: vec![
            metric(
                Some("Speed"),
                None,
                datatype::FLOAT,
                RawValue::Float(1450.0),
            ),
            metric(
                Some("Running"),
                None,
                datatype::BOOLEAN,
                RawValue::Boolean(true),
            ),
        ],
    });
    let mut historical = metric(
        Some("Level"),
        None,
        datatype::DOUBLE,
        RawValue::Double(99.0),
    );
    historical.is_historical = true;
    let mut null = metric(Some("Pressure"), None, datatype::DOUBLE, RawValue::None);
    null.is_null = true;
    let data = ddata(
        1,
        vec![
            metric(Some("Motor1"), None, datatype::TEMPLATE, template),
            historical,
            null,
        ],
    );
    host.send("spBv1.0/G/NDATA/E", &data, T0).unwrap();
    assert_eq!(host.value("G/E", "Motor1/Speed"), Some(1450.0));
    assert_eq!(host.value("G/E", "Motor1/Running"), Some(1.0));
    let level = host.store.twin("G/E").unwrap().property("Level").unwrap();
    assert!(
        level.value.is_nan(),
        "historical values are never the live value"
    );
    assert_eq!(
        level.history.latest(),
        Some((Timestamp(1_700_000_001_000_000), 99.0)),
        "but they are history"
    );
    assert!(
        host.value("G/E", "Pressure").is_some_and(f64::is_nan),
        "null is no value"
    );
    // Garbage, a wrong topic, commands from others, another host's STATE: no panic, no twin.
    let twins = host.store.len();
    assert!(matches!(
        host.send("spBv1.0/G/NDATA/E", b"\x0a\xff\xff", T0),
        Err(DecodeError::Invalid { .. })
    ));
    assert!(matches!(
        host.send("spBv1.0/G/NDATA/E/extra", b"", T0),
        Err(DecodeError::Invalid { .. })
    ));
    assert_eq!(
        host.send("spBv1.0/G/NCMD/E", &nbirth(0, 1), T0),
        Ok(Decoded::Ignored)
    );
    assert_eq!(
        host.send(
            "spBv1.0/STATE/other",
            br#"{"online":true,"timestamp":1}"#,
            T0
        ),
        Ok(Decoded::Ignored)
    );
    // A Boolean metric with a string value is skipped, not stored.
    let wrong = ddata(
        2,
        vec![metric(
            Some("Flag"),
            None,
            datatype::BOOLEAN,
            RawValue::String("yes".into()),
        )],
    );
    host.send("spBv1.0/G/NDATA/E", &wrong, T0).unwrap();
    assert_eq!(host.value("G/E", "Flag"), None);
    assert_eq!(host.store.len(), twins);
}

#[test]
fn a_plc_alarm_bit_that_turns_on_is_an_alarm_in_the_list() {
    use crate::alarms::{AlarmRuleSpec, AlarmRules};
    let rule: AlarmRuleSpec = toml::from_str("type = \"plc\"\ntwins = \"Plant1/*\"\nproperty = \"Alarms/*\"\nwhen = true\nseverity = \"critical\"\ntext = \"PLC alarm\"").unwrap();
    let mut host = Host::new(true);
    host.store = TwinStore::new(StoreConfig::default(), RuleSet::default())
        .with_alarm_rules(AlarmRules::compile(&[rule]).unwrap());
    host.send("spBv1.0/Plant1/NBIRTH/E", &nbirth(0, 1), T0)
        .unwrap();
    host.send("spBv1.0/Plant1/DBIRTH/E/D", &dbirth(1), T0)
        .unwrap();
    assert!(host.store.alarm_book().alarms().is_empty(), "born off");
    let on = ddata(
        2,
        vec![Metric {
            alias: Some(106),
            value: RawValue::Boolean(true),
            ..Default::default()
        }],
    );
    host.send("spBv1.0/Plant1/DDATA/E/D", &on, T0).unwrap();
    let alarm = &host.store.alarm_book().alarms()[0];
    assert_eq!(
        (alarm.alarm_type.as_ref(), alarm.text.as_str()),
        ("plc:Alarms/HighTemp", "PLC alarm")
    );
    assert!(alarm.state.is_active() && alarm.state.is_unacknowledged());
    let off = ddata(
        3,
        vec![Metric {
            alias: Some(106),
            value: RawValue::Boolean(false),
            ..Default::default()
        }],
    );
    host.send("spBv1.0/Plant1/DDATA/E/D", &off, T0).unwrap();
    assert!(
        !host.store.alarm_book().alarms()[0].state.is_active(),
        "cleared, awaiting acknowledgement"
    );
}

fn template(reference: Option<&str>, is_definition: bool, metrics: Vec<Metric>) -> RawValue {
    RawValue::Template(proto::Template {
        template_ref: reference.map(str::to_owned),
        is_definition,
        metrics,
    })
}

#[test]
fn template_definitions_give_member_datatypes_and_defaults() {
    let mut host = Host::new(true);
    // The node's birth defines Motor; a definition is not a value.
    let definition = template(
        None,
        true,
        vec![
            metric(Some("Speed"), None, datatype::INT16, RawValue::Int(0)),
            metric(
                Some("Running"),
                None,
                datatype::BOOLEAN,
                RawValue::Boolean(false),
            ),
            metric(
                Some("Mode"),
                None,
                datatype::STRING,
                RawValue::String("auto".into()),
            ),
        ],
    );
    let mut birth = Payload::decode(&nbirth(0, 1)).unwrap();
    birth
        .metrics
        .push(metric(Some("Motor"), None, datatype::TEMPLATE, definition));
    host.send("spBv1.0/G/NBIRTH/E", &birth.encode(), T0)
        .unwrap();
    assert!(
        host.store.twin("G/E").unwrap().property("Motor").is_none()
            && host
                .store
                .twin("G/E")
                .unwrap()
                .fragments
                .keys()
                .all(|k| !k.starts_with("Motor"))
    );
    // A device's instance leaves Mode out: the definition's default shows.
    let instance = template(
        Some("Motor"),
        false,
        vec![
            metric(Some("Speed"), None, datatype::INT16, RawValue::Int(1450)),
            metric(
                Some("Running"),
                None,
                datatype::BOOLEAN,
                RawValue::Boolean(true),
            ),
        ],
    );
    let dbirth = Payload {
        timestamp: Some(1_700_000_000_000),
        seq: Some(1),
        metrics: vec![metric(
            Some("Motor1"),
            Some(7),
            datatype::TEMPLATE,
            instance,
        )],
    };
    host.send("spBv1.0/G/DBIRTH/E/D", &dbirth.encode(), T0)
        .unwrap();
    let twin = host.store.twin("G/E/D").unwrap();
    assert_eq!(twin.property("Motor1/Speed").map(|p| p.value), Some(1450.0));
    assert_eq!(
        twin.fragments.get("Motor1/Mode"),
        Some(&serde_json::json!("auto"))
    );
    // DATA sends a member's value alone (no datatype): read as the Int16 it was born as, so
    // 0xFFFF is −1; a member the definition lacks is ignored.
    let update = template(
        Some("Motor"),
        false,
        vec![
            Metric {
                name: Some("Speed".into()),
                value: RawValue::Int(0xFFFF),
                ..Default::default()
            },
            Metric {
                name: Some("Bogus".into()),
                value: RawValue::Double(1.0),
                ..Default::default()
            },
        ],
    );
    let data = ddata(
        2,
        vec![Metric {
            alias: Some(7),
            value: update,
            ..Default::default()
        }],
    );
    assert_eq!(
        host.send("spBv1.0/G/DDATA/E/D", &data, T0),
        Ok(Decoded::Updates(1))
    );
    assert_eq!(host.value("G/E/D", "Motor1/Speed"), Some(-1.0));
    assert!(
        host.store
            .twin("G/E/D")
            .unwrap()
            .property("Motor1/Bogus")
            .is_none()
    );
}

#[test]
fn a_definition_that_refers_to_itself_ends_at_the_depth_limit() {
    let mut host = Host::new(true);
    // Loop's member is a Loop; an instance nested as deep as a payload may be.
    let definition = template(
        None,
        true,
        vec![metric(
            Some("Inner"),
            None,
            datatype::TEMPLATE,
            template(Some("Loop"), false, vec![]),
        )],
    );
    let mut birth = Payload::decode(&nbirth(0, 1)).unwrap();
    birth
        .metrics
        .push(metric(Some("Loop"), None, datatype::TEMPLATE, definition));
    let mut instance = template(
        Some("Loop"),
        false,
        vec![metric(
            Some("Level"),
            None,
            datatype::DOUBLE,
            RawValue::Double(1.0),
        )],
    );
    for _ in 0..proto::MAX_DEPTH - 2 {
        instance = template(
            Some("Loop"),
            false,
            vec![metric(Some("Inner"), None, datatype::TEMPLATE, instance)],
        );
    }
    birth
        .metrics
        .push(metric(Some("L"), None, datatype::TEMPLATE, instance));
    host.send("spBv1.0/G/NBIRTH/E", &birth.encode(), T0)
        .unwrap();
    assert!(
        host.store.twin("G/E").is_some(),
        "read without looping or panicking"
    );
}

#[test]
fn a_data_message_with_one_unreadable_metric_applies_none_of_it() {
    let mut host = Host::new(true);
    host.send("spBv1.0/Plant1/NBIRTH/Edge1", &nbirth(0, 3), T0)
        .unwrap();
    host.send("spBv1.0/Plant1/DBIRTH/Edge1/PLC", &dbirth(1), T0)
        .unwrap();
    // A good metric, then one whose alias varint is cut off (the payload's own framing is whole).
    let mut data = ddata(
        2,
        vec![Metric {
            alias: Some(101),
            value: RawValue::Double(99.0),
            ..Default::default()
        }],
    );
    data.extend_from_slice(&[0x12, 0x02, 0x10, 0x80]);
    assert!(matches!(
        host.send("spBv1.0/Plant1/DDATA/Edge1/PLC", &data, T0),
        Err(DecodeError::Invalid { .. })
    ));
    assert_eq!(
        host.value("Plant1/Edge1/PLC", "Temperature"),
        Some(21.5),
        "the good metric before it is not applied"
    );
    // The next message is read as usual.
    let next = ddata(
        3,
        vec![Metric {
            alias: Some(101),
            value: RawValue::Double(42.0),
            ..Default::default()
        }],
    );
    assert_eq!(
        host.send("spBv1.0/Plant1/DDATA/Edge1/PLC", &next, T0),
        Ok(Decoded::Updates(1))
    );
    assert_eq!(host.value("Plant1/Edge1/PLC", "Temperature"), Some(42.0));
}

/// A DATA payload of device `A` with seq `seq`, its fields in this order: "ts" (a
/// timestamp, a different one each time it comes), "seq", "m" (Temperature by alias, its
/// metric timestamp left out), "unknown m" (an alias never declared), "long-key m" (a
/// metric by a two-byte key) and "uuid".
fn laid_out(fields: &[&str], seq: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let metric = |alias| {
            proto::encode_metric(&Metric {
                alias: Some(alias),
                value: RawValue::Double(seq as f64 + i as f64 / 10.0),
                ..Default::default()
            })
        };
        match *field {
            "ts" => proto::put_varint_field(&mut out, 1, 1_700_000_002_000 + i as u64),
            "seq" => proto::put_varint_field(&mut out, 3, seq),
            "m" => proto::put_bytes_field(&mut out, 2, &metric(101)),
            "unknown m" => proto::put_bytes_field(&mut out, 2, &metric(999)),
            "long-key m" => {
                let m = metric(101);
                out.extend([0x92, 0x00, m.len() as u8]);
                out.extend(m);
            }
            "uuid" => proto::put_bytes_field(&mut out, 4, b"some-uuid"),
            other => unreachable!("{other}"),
        }
    }
    out
}

/// Topics remembered as routes (by topic live, by key in a replay) decode as the first
/// message on them did: data before its device's birth, a second device, deaths, rebirths,
/// a seq gap held and freed, garbage and a STATE; the same updates, errors and requests.
/// Routed or not, looked ahead at or not, keyed or not: every message decodes the same.
#[test]
fn routed_topics_decode_as_parsed_ones() {
    let data = |seq, value| {
        ddata(
            seq,
            vec![Metric {
                alias: Some(101),
                value: RawValue::Double(value),
                ..Default::default()
            }],
        )
    };
    let node_data = |seq| {
        ddata(
            seq,
            vec![Metric {
                alias: Some(1),
                value: RawValue::Boolean(true),
                ..Default::default()
            }],
        )
    };
    let messages: Vec<(u16, &str, Vec<u8>)> = vec![
        (0, "spBv1.0/G/DDATA/E/A", data(0, 1.0)),
        (1, "spBv1.0/G/NBIRTH/E", nbirth(0, 1)),
        (0, "spBv1.0/G/DDATA/E/A", data(1, 2.0)),
        (2, "spBv1.0/G/DBIRTH/E/A", dbirth(1)),
        (0, "spBv1.0/G/DDATA/E/A", data(2, 3.0)),
        (3, "spBv1.0/G/DBIRTH/E/B", dbirth(3)),
        (4, "spBv1.0/G/DDATA/E/B", data(4, 4.0)),
        (0, "spBv1.0/G/DDATA/E/A", b"\xff\xff".to_vec()),
        (5, "spBv1.0/G/NDATA/E", node_data(5)),
        (0, "spBv1.0/G/DDATA/E/A", data(7, 5.0)),
        (4, "spBv1.0/G/DDATA/E/B", data(6, 6.0)),
        (6, "spBv1.0/G/DDEATH/E/B", ddata(8, vec![])),
        (4, "spBv1.0/G/DDATA/E/B", data(9, 7.0)),
        (
            7,
            "spBv1.0/STATE/other",
            br#"{"online": true, "timestamp": 1}"#.to_vec(),
        ),
        (8, "spBv1.0/G/NDEATH/E", death(1)),
        (0, "spBv1.0/G/DDATA/E/A", data(10, 8.0)),
        (1, "spBv1.0/G/NBIRTH/E", nbirth(0, 2)),
        (2, "spBv1.0/G/DBIRTH/E/A", dbirth(1)),
        (0, "spBv1.0/G/DDATA/E/A", data(2, 9.0)),
        (5, "spBv1.0/G/NDATA/E", node_data(3)),
        // Laid out otherwise than encoders write it (DATA on a routed topic is read in one
        // pass where it can be, see `data_in_one_pass`), an unknown alias, and out of order.
        (
            0,
            "spBv1.0/G/DDATA/E/A",
            laid_out(&["ts", "m", "m", "seq"], 4),
        ),
        (
            0,
            "spBv1.0/G/DDATA/E/A",
            laid_out(&["seq", "ts", "m", "m"], 5),
        ),
        (
            0,
            "spBv1.0/G/DDATA/E/A",
            laid_out(&["m", "ts", "m", "seq"], 6),
        ),
        (
            0,
            "spBv1.0/G/DDATA/E/A",
            laid_out(&["ts", "m", "seq", "uuid"], 7),
        ),
        (
            0,
            "spBv1.0/G/DDATA/E/A",
            laid_out(&["ts", "m", "long-key m", "seq"], 8),
        ),
        (
            0,
            "spBv1.0/G/DDATA/E/A",
            laid_out(&["ts", "m", "m", "ts", "seq"], 9),
        ),
        (
            0,
            "spBv1.0/G/DDATA/E/A",
            laid_out(&["ts", "unknown m", "m", "seq"], 10),
        ),
        (
            0,
            "spBv1.0/G/DDATA/E/A",
            laid_out(&["ts", "m", "seq", "m"], 11),
        ),
        (0, "spBv1.0/G/DDATA/E/A", laid_out(&["ts", "m", "m"], 200)),
        (0, "spBv1.0/G/DDATA/E/A", laid_out(&["ts", "m", "seq"], 13)),
        (0, "spBv1.0/G/DDATA/E/A", laid_out(&["ts", "m", "seq"], 12)),
        (0, "spBv1.0/G/DDATA/E/A", laid_out(&["ts", "m", "seq"], 14)),
    ];
    let config = SparkplugConfig {
        host_id: "h".into(),
        passive: false,
        reorder_timeout: Duration::from_secs(2),
    };
    let (mut first_seen, mut plain, mut keyed) = (
        SparkplugSchema::new(config.clone()),
        SparkplugSchema::new(config.clone()),
        SparkplugSchema::new(config),
    );
    for (i, (key, topic, payload)) in messages.iter().enumerate() {
        let at = Timestamp(T0.0 + i as i64 * 1_000_000);
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        // A schema that sees every topic for the first time: no route is ever used.
        let reference = first_seen
            .decode(topic, payload, at, &mut a)
            .map_err(|e| e.kind());
        first_seen.routes.clear();
        // Hints of what comes next (and of topics that never come) change nothing.
        crate::schema::look_ahead(
            |topic, stage| plain.look_ahead(topic, stage),
            |k| messages.get(i + k).map(|m| m.1),
        );
        for stage in [LookAhead::Far, LookAhead::Middle, LookAhead::Near] {
            for topic in [
                "",
                "spBv1.0/G/DDATA/E/nobody",
                "spBv1.0/G/NCMD/E",
                &"x".repeat(300),
                "te/device/a///m/",
            ] {
                plain.look_ahead(topic, stage);
            }
        }
        assert_eq!(
            plain
                .decode(topic, payload, at, &mut b)
                .map_err(|e| e.kind()),
            reference,
            "{i}: {topic}"
        );
        assert_eq!(
            keyed
                .decode_keyed(*key, topic, payload, at, &mut c)
                .map_err(|e| e.kind()),
            reference,
            "{i}: {topic}"
        );
        assert_eq!((&a, &a), (&b, &c), "{i}: {topic}");
        for schema in [&mut plain, &mut keyed] {
            schema.tick(at, &mut b);
        }
        first_seen.tick(at, &mut a);
        assert_eq!(a, b, "{i}: ticks");
        let requests = |s: &mut SparkplugSchema| {
            s.take_publishes()
                .into_iter()
                .map(|p| p.topic)
                .collect::<Vec<_>>()
        };
        let expected = requests(&mut first_seen);
        assert_eq!(
            (requests(&mut plain), requests(&mut keyed)),
            (expected.clone(), expected),
            "{i}: requests"
        );
    }
    assert!(
        plain.routes.len() >= 3 && keyed.routes.len() >= 3,
        "data topics were routed"
    );
}

/// Past the cap on devices, births of new ones are refused with a reason (their data then
/// asks for a rebirth like any unborn device's); known devices go on. A topic too long to be
/// routed is still read.
#[test]
fn new_devices_past_the_cap_are_refused_and_long_topics_are_read_unrouted() {
    let config = SparkplugConfig {
        host_id: "h".into(),
        passive: true,
        reorder_timeout: Duration::ZERO,
    };
    let mut schema = SparkplugSchema::new(config).with_max_devices(2);
    let mut out = Vec::new();
    let long = format!("spBv1.0/G/DBIRTH/E/{}", "d".repeat(300));
    schema
        .decode("spBv1.0/G/NBIRTH/E", &nbirth(0, 1), T0, &mut out)
        .unwrap();
    schema
        .decode("spBv1.0/G/DBIRTH/E/A", &dbirth(1), T0, &mut out)
        .unwrap();
    schema.decode(&long, &dbirth(2), T0, &mut out).unwrap();
    let refused = schema.decode("spBv1.0/G/DBIRTH/E/C", &dbirth(3), T0, &mut out);
    assert!(
        matches!(&refused, Err(DecodeError::Invalid { reason }) if reason.contains("more than 2 Sparkplug devices")),
        "{refused:?}"
    );
    // A known device is born again past the cap.
    assert!(
        schema
            .decode("spBv1.0/G/DBIRTH/E/A", &dbirth(4), T0, &mut out)
            .is_ok()
    );
    let value = |seq| {
        ddata(
            seq,
            vec![Metric {
                alias: Some(101),
                value: RawValue::Double(1.5),
                ..Default::default()
            }],
        )
    };
    assert_eq!(
        schema.decode("spBv1.0/G/DDATA/E/C", &value(5), T0, &mut out),
        Ok(Decoded::Ignored)
    );
    let long_data = long.replace("DBIRTH", "DDATA");
    for seq in 6..8 {
        assert_eq!(
            schema.decode(&long_data, &value(seq), T0, &mut Vec::new()),
            Ok(Decoded::Updates(1))
        );
    }
    assert!(
        schema
            .routes
            .get(super::RouteKey::Topic(&long_data))
            .is_none(),
        "not routed"
    );
}
