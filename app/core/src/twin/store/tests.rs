//! The twin store's tests: hierarchy, values, status, staleness, and alarms end to end.

use super::*;
use crate::rules::RuleSet;

fn store() -> TwinStore {
    TwinStore::new(
        StoreConfig {
            history_len: 4,
            stale_after: Duration::from_secs(10),
            ..Default::default()
        },
        RuleSet::default(),
    )
}

fn measurement(twin: &str, name: &str, value: f64, t: i64) -> TwinUpdate {
    TwinUpdate::Measurement {
        twin: twin.into(),
        name: name.into(),
        value,
        time: Timestamp(t),
    }
}

fn register(twin: &str, parent: Option<&str>) -> TwinUpdate {
    TwinUpdate::Register {
        twin: twin.into(),
        implicit: false,
        parent: parent.map(TwinId::from),
        kind: EntityKind::ChildDevice,
        display_name: None,
        entity_type: None,
    }
}

#[test]
fn builds_a_hierarchy_of_any_depth_from_registrations() {
    let mut store = store();
    let now = Timestamp(0);
    for (twin, parent) in [
        ("plant", None),
        ("line1", Some("plant")),
        ("pump1", Some("line1")),
        ("bearing", Some("pump1")),
    ] {
        store.apply(&register(twin, parent), now);
    }
    let bearing = store.find("bearing").unwrap();
    let path: Vec<&str> = store.path(bearing).iter().map(|id| id.as_str()).collect();
    assert_eq!(path, ["plant", "line1", "pump1", "bearing"]);
    assert_eq!(store.roots().count(), 1);
}

#[test]
fn registration_before_parent_exists_and_reparenting_work() {
    let mut store = store();
    store.apply(&register("pump1", Some("line1")), Timestamp(0));
    store.apply(&register("pump1", Some("line2")), Timestamp(0));
    let line1 = store.find("line1").unwrap();
    let line2 = store.find("line2").unwrap();
    assert!(store.get(line1).children.is_empty());
    assert_eq!(store.get(line2).children.len(), 1);
}

#[test]
fn refuses_cycles() {
    let mut store = store();
    store.apply(&register("b", Some("a")), Timestamp(0));
    store.apply(&register("a", Some("b")), Timestamp(0));
    let a = store.find("a").unwrap();
    assert_eq!(store.get(a).parent, None);
    assert_eq!(store.path(store.find("b").unwrap()).len(), 2);
}

#[test]
fn measurements_update_value_time_and_bounded_history() {
    let mut store = store();
    for i in 0..10 {
        store.apply(
            &measurement("pump1", "temperature", i as f64, i),
            Timestamp(i),
        );
    }
    let twin = store.twin("pump1").unwrap();
    let property = twin.property("temperature").unwrap();
    assert_eq!(property.value, 9.0);
    assert_eq!(property.time, Timestamp(9));
    assert_eq!(property.history.len(), 4);
    assert_eq!(twin.status, Status::Ok);
}

#[test]
fn units_arriving_first_are_kept() {
    let mut store = store();
    store.apply(
        &TwinUpdate::Unit {
            twin: "p".into(),
            name: "temperature".into(),
            unit: "°C".into(),
        },
        Timestamp(0),
    );
    store.apply(&measurement("p", "temperature", 20.0, 1), Timestamp(1));
    let property = store.twin("p").unwrap().property("temperature").unwrap();
    assert_eq!(property.unit.as_deref(), Some("°C"));
    assert_eq!(property.value, 20.0);
}

#[test]
fn alarms_raise_and_clear_status() {
    let mut store = store();
    store.apply(&measurement("p", "t", 1.0, 0), Timestamp(0));
    store.take_changed();
    let raise = TwinUpdate::AlarmRaised {
        twin: "p".into(),
        alarm_type: "overheat".into(),
        severity: Severity::Major,
        text: "too hot".into(),
        time: Timestamp(1),
    };
    store.apply(&raise, Timestamp(1));
    assert_eq!(store.twin("p").unwrap().status, Status::Alarm);
    assert_eq!(store.take_changed(), vec![store.find("p").unwrap()]);
    store.apply(
        &TwinUpdate::AlarmCleared {
            twin: "p".into(),
            alarm_type: "overheat".into(),
            time: Timestamp(2),
        },
        Timestamp(2),
    );
    assert_eq!(store.twin("p").unwrap().status, Status::Ok);
    assert!(store.twin("p").unwrap().alarms.is_empty());
}

#[test]
fn silence_makes_a_twin_stale_and_data_revives_it() {
    let mut store = store();
    store.apply(&measurement("p", "t", 1.0, 0), Timestamp(0));
    store.mark_stale(Timestamp(5_000_000));
    assert_eq!(store.twin("p").unwrap().status, Status::Ok);
    store.mark_stale(Timestamp(11_000_000));
    assert_eq!(store.twin("p").unwrap().status, Status::Stale);
    store.apply(
        &measurement("p", "t", 1.0, 12_000_000),
        Timestamp(12_000_000),
    );
    assert_eq!(store.twin("p").unwrap().status, Status::Ok);
}

#[test]
fn twins_without_data_are_unknown_and_never_stale() {
    let mut store = store();
    store.declare("idle", None, Some("Idle pump"));
    store.mark_stale(Timestamp(100_000_000));
    let twin = store.twin("idle").unwrap();
    assert_eq!(twin.status, Status::Unknown);
    assert_eq!(twin.label(), "Idle pump");
}

#[test]
fn service_down_reads_as_comms_lost() {
    let mut store = store();
    store.apply(
        &TwinUpdate::Health {
            twin: "svc".into(),
            up: false,
            time: Timestamp(0),
        },
        Timestamp(0),
    );
    assert_eq!(store.twin("svc").unwrap().status, Status::Stale);
}

#[test]
fn health_and_events_are_sent_on_change_and_never_go_stale() {
    let mut store = store();
    store.apply(
        &TwinUpdate::Health {
            twin: "svc".into(),
            up: true,
            time: Timestamp(0),
        },
        Timestamp(0),
    );
    let event = TwinUpdate::Event {
        twin: "door".into(),
        event_type: "opened".into(),
        text: "Door opened".into(),
        time: Timestamp(0),
    };
    store.apply(&event, Timestamp(0));
    store.mark_stale(Timestamp(3_600_000_000));
    assert_eq!(store.twin("svc").unwrap().status, Status::Ok);
    assert_eq!(store.twin("door").unwrap().status, Status::Ok);
}

#[test]
fn fragments_set_and_remove() {
    let mut store = store();
    let set = TwinUpdate::Fragment {
        twin: "p".into(),
        name: "maker".into(),
        value: Some(serde_json::json!({"name": "ACME"})),
    };
    store.apply(&set, Timestamp(0));
    assert_eq!(store.twin("p").unwrap().fragments.len(), 1);
    store.apply(
        &TwinUpdate::Fragment {
            twin: "p".into(),
            name: "maker".into(),
            value: None,
        },
        Timestamp(0),
    );
    assert!(store.twin("p").unwrap().fragments.is_empty());
}

fn alarm_rules() -> AlarmRules {
    let spec: crate::alarms::AlarmRuleSpec = toml::from_str(
        "type = \"overheat\"\nproperty = \"temperature\"\nabove = 80\ndeadband = 5\non_delay_secs = 1\nseverity = \"major\"",
    )
    .unwrap();
    AlarmRules::compile(&[spec]).unwrap()
}

#[test]
fn device_and_rule_alarms_share_one_list_with_isa_states() {
    use crate::alarms::AlarmState;
    let mut store = store().with_alarm_rules(alarm_rules());
    let second = 1_000_000;
    for (t, value) in [(0, 90.0), (1, 91.0)] {
        store.apply(
            &measurement("pump", "temperature", value, t * second),
            Timestamp(t * second),
        );
    }
    let raise = TwinUpdate::AlarmRaised {
        twin: "pump".into(),
        alarm_type: "cavitation".into(),
        severity: Severity::Critical,
        text: "c".into(),
        time: Timestamp(2 * second),
    };
    store.apply(&raise, Timestamp(2 * second));
    let pump = store.find("pump").unwrap();
    let book = store.alarm_book();
    let listed: Vec<(&str, AlarmSource)> = book
        .sorted()
        .into_iter()
        .map(|i| (&*book.alarms()[i].alarm_type, book.alarms()[i].source))
        .collect();
    assert_eq!(
        listed,
        [
            ("cavitation", AlarmSource::Device),
            ("overheat", AlarmSource::Rule)
        ],
        "critical first"
    );
    let twin = store.get(pump);
    assert_eq!(
        (
            twin.status,
            twin.alarm_severity,
            twin.unacknowledged,
            twin.active_alarms
        ),
        (Status::Alarm, Some(Severity::Critical), true, 2)
    );

    // Acknowledge both: still in alarm, no longer unacknowledged (it stops pulsing).
    store.take_changed();
    assert!(store.acknowledge(pump, &"cavitation".into(), "op", Timestamp(3 * second)));
    assert!(store.acknowledge(pump, &"overheat".into(), "op", Timestamp(3 * second)));
    assert_eq!(
        store.take_changed(),
        vec![pump],
        "acknowledging restyles the part"
    );
    assert!(!store.get(pump).unacknowledged);
    assert_eq!(store.get(pump).status, Status::Alarm);

    // thin-edge clears (empty retained payload): acknowledged, so back to normal.
    store.apply(
        &TwinUpdate::AlarmCleared {
            twin: "pump".into(),
            alarm_type: "cavitation".into(),
            time: Timestamp(4 * second),
        },
        Timestamp(4 * second),
    );
    assert!(store.alarm_book().get(pump, &"cavitation".into()).is_none());
    // The rule alarm clears only below 80 - 5.
    store.apply(
        &measurement("pump", "temperature", 77.0, 5 * second),
        Timestamp(5 * second),
    );
    assert_eq!(
        store
            .alarm_book()
            .get(pump, &"overheat".into())
            .unwrap()
            .state,
        AlarmState::ActiveAcknowledged
    );
    store.apply(
        &measurement("pump", "temperature", 74.0, 6 * second),
        Timestamp(6 * second),
    );
    assert!(store.alarm_book().alarms().is_empty());
    assert_eq!(store.get(pump).status, Status::Ok);
    let causes: Vec<&str> = store
        .alarm_book()
        .history()
        .iter()
        .map(|t| t.cause.as_str())
        .collect();
    assert_eq!(
        causes,
        [
            "rule overheat",
            "device",
            "operator op",
            "operator op",
            "device",
            "rule overheat"
        ]
    );
}

#[test]
fn unacknowledged_clear_stays_listed_and_shelving_expires() {
    use crate::alarms::AlarmState;
    let mut store = store();
    let raise = TwinUpdate::AlarmRaised {
        twin: "p".into(),
        alarm_type: "leak".into(),
        severity: Severity::Minor,
        text: "l".into(),
        time: Timestamp(0),
    };
    store.apply(&raise, Timestamp(0));
    let p = store.find("p").unwrap();
    assert!(store.shelve(p, &"leak".into(), Timestamp(100), "op", Timestamp(0)));
    assert_eq!(
        store.get(p).status,
        Status::Ok,
        "shelved alarms do not colour the twin"
    );
    assert_eq!(store.get(p).active_alarms, 0);
    store.expire_shelving(Timestamp(100));
    assert_eq!(
        store.get(p).status,
        Status::Warning,
        "back when the shelving ran out"
    );
    store.apply(
        &TwinUpdate::AlarmCleared {
            twin: "p".into(),
            alarm_type: "leak".into(),
            time: Timestamp(5),
        },
        Timestamp(5),
    );
    assert_eq!(
        store.alarm_book().get(p, &"leak".into()).unwrap().state,
        AlarmState::ReturnedUnacknowledged
    );
    assert!(
        store.get(p).status < Status::Warning,
        "the condition is gone"
    );
    assert!(store.acknowledge(p, &"leak".into(), "op", Timestamp(6)));
    assert!(store.alarm_book().alarms().is_empty());
}

#[test]
fn alarms_cleared_while_disconnected_are_cleared_after_the_resync_window() {
    use crate::alarms::AlarmState;
    let mut store = store().with_alarm_rules(alarm_rules());
    let second = 1_000_000;
    let raise = |twin: &str, alarm_type: &str| TwinUpdate::AlarmRaised {
        twin: twin.into(),
        alarm_type: alarm_type.into(),
        severity: Severity::Major,
        text: String::new(),
        time: Timestamp(0),
    };
    store.apply(&raise("pump", "kept"), Timestamp(0));
    store.apply(&raise("pump", "gone"), Timestamp(0));
    store.apply(&measurement("pump", "temperature", 95.0, 0), Timestamp(0));
    store.apply(
        &measurement("pump", "temperature", 95.0, 2 * second),
        Timestamp(2 * second),
    ); // the rule alarm
    let pump = store.find("pump").unwrap();
    assert_eq!(store.get(pump).active_alarms, 3);

    // Reconnect at 10 s: the broker re-delivers only "kept" (retained).
    store.begin_alarm_resync(Timestamp(10 * second));
    store.apply(&raise("pump", "kept"), Timestamp(10 * second));
    store.tick_alarms(Timestamp(14 * second));
    assert_eq!(
        store.get(pump).active_alarms,
        3,
        "nothing happens inside the window"
    );
    store.tick_alarms(Timestamp(15 * second));
    let book = store.alarm_book();
    assert_eq!(
        book.get(pump, &"gone".into()).unwrap().state,
        AlarmState::ReturnedUnacknowledged,
        "cleared, still to acknowledge"
    );
    assert!(
        book.history()
            .back()
            .unwrap()
            .cause
            .contains("not retained by the broker")
    );
    assert_eq!(
        book.get(pump, &"kept".into()).unwrap().state,
        AlarmState::ActiveUnacknowledged
    );
    assert_eq!(
        book.get(pump, &"overheat".into()).unwrap().state,
        AlarmState::ActiveUnacknowledged,
        "local rule alarms are not the broker's"
    );
    assert_eq!(store.get(pump).active_alarms, 2);
    store.tick_alarms(Timestamp(30 * second));
    assert_eq!(store.get(pump).active_alarms, 2, "a resync finishes once");
}

/// A twin with thousands of properties (one payload of 20,000 keys) finds each by hash: every
/// value lands on its own property, set again in place, never duplicated.
#[test]
fn many_properties_are_found_by_name_and_never_duplicated() {
    // Above the default cap of properties per twin: a gateway device with this many tags.
    let mut store = TwinStore::new(
        StoreConfig {
            max_entries_per_twin: 20_000,
            ..Default::default()
        },
        RuleSet::default(),
    );
    let now = Timestamp(1_700_000_000_000_000);
    let names: Vec<std::sync::Arc<str>> =
        (0..20_000).map(|i| format!("signal{i}").into()).collect();
    let big = crate::twin::TwinId::from("big");
    for round in 0..2 {
        let updates: Vec<TwinUpdate> = names
            .iter()
            .enumerate()
            .map(|(i, name)| TwinUpdate::Measurement {
                twin: big.clone(),
                name: name.into(),
                value: (i + round) as f64,
                time: now,
            })
            .collect();
        store.apply_all(&updates, now);
    }
    // Names as new strings (not the decoder's shared ones) still find their property.
    store.apply(
        &TwinUpdate::Unit {
            twin: "big".into(),
            name: "signal19999".into(),
            unit: "bar".into(),
        },
        now,
    );
    let twin = store.twin("big").unwrap();
    assert_eq!(twin.properties.len(), 20_000);
    assert_eq!(twin.property("signal0").unwrap().value, 1.0);
    assert_eq!(twin.property("signal12345").unwrap().value, 12_346.0);
    assert_eq!(
        twin.property("signal19999").unwrap().unit.as_deref(),
        Some("bar")
    );
    assert!(twin.property("signal20000").is_none());
}

/// A batch long enough for the look-ahead (which finds each value's twin and property
/// ahead of it) puts every value where applying them one at a time does: twins with one to
/// twenty properties (past the few whose names a twin keeps in itself, and past the index),
/// shared names and new strings, properties made mid-batch.
#[test]
fn a_batch_lands_where_values_one_at_a_time_do() {
    let names: Vec<PropertyName> = (0..20)
        .map(|i| PropertyName::kept(&format!("signal{i}")))
        .collect();
    let ids: Vec<TwinId> = (0..30)
        .map(|i| TwinId::kept(&format!("batch-twin{i}")))
        .collect();
    let mut updates = Vec::new();
    for round in 0..6 {
        for (t, id) in ids.iter().enumerate() {
            for (n, name) in names.iter().enumerate().take(1 + t % 20).skip(round % 2) {
                let name = if (t + n + round) % 7 == 0 {
                    PropertyName::from(&**name)
                } else {
                    name.clone()
                };
                updates.push(TwinUpdate::Measurement {
                    twin: id.clone(),
                    name,
                    value: (round * 1000 + t * 20 + n) as f64,
                    time: Timestamp(round as i64),
                });
            }
        }
    }
    let (mut batched, mut single) = (store(), store());
    for chunk in updates.chunks(97) {
        batched.apply_all(chunk, Timestamp(0));
    }
    for update in &updates {
        single.apply(update, Timestamp(0));
    }
    for id in &ids {
        let (a, b) = (
            batched.twin(id.as_str()).unwrap(),
            single.twin(id.as_str()).unwrap(),
        );
        assert_eq!(a.properties.len(), b.properties.len());
        for (p, q) in a.properties.iter().zip(&b.properties) {
            assert_eq!((&p.name, p.value, p.time), (&q.name, q.value, q.time));
            assert!(p.history.iter().eq(q.history.iter()), "{id} {}", p.name);
        }
    }
}

/// A twin finds a property by its name's very string without reading the property, so a
/// shorter name that starts at the same address (a prefix of it) is another name.
#[test]
fn a_prefix_of_a_shared_name_is_another_name() {
    let mut store = store();
    let name = PropertyName::kept("temperature-outlet");
    store.apply(
        &TwinUpdate::Measurement {
            twin: "p".into(),
            name: name.clone(),
            value: 1.0,
            time: Timestamp(0),
        },
        Timestamp(0),
    );
    let twin = store.twin("p").unwrap();
    assert_eq!(twin.property(&name).map(|p| p.value), Some(1.0));
    assert!(twin.property(&name[..11]).is_none());
}

/// A name's tag only says where it probably is: a property found by another name's tag is
/// checked, never taken for it, and no second property of a name is made.
#[test]
fn a_tag_shared_by_two_names_finds_each_its_own_property() {
    let mut store = store();
    let (a, b) = (
        PropertyName::kept("tagged-a"),
        PropertyName::kept("tagged-b"),
    );
    // One id, as a decoder hands it out: the store finds its twin by where the id says.
    let p = TwinId::from("p");
    let value = |name: &PropertyName, value: f64, t: i64| TwinUpdate::Measurement {
        twin: p.clone(),
        name: name.clone(),
        value,
        time: Timestamp(t),
    };
    store.apply_all(&[value(&a, 1.0, 0), value(&b, 2.0, 0)], Timestamp(0));
    // Every slot claims to hold `b`: looking `b` up first finds `a`'s property.
    let index = store.find_id(&p).unwrap();
    store.twins[index.0 as usize].name_tags = [name_tag(&b); NAME_TAGS];
    // Far enough into a batch that the look-ahead finds them (it looks 32 updates ahead).
    let mut batch: Vec<TwinUpdate> = (0..40)
        .map(|k| measurement("q", "x", k as f64, 1))
        .collect();
    batch.extend([value(&b, 3.0, 1), value(&a, 4.0, 1)]);
    store.apply_all(&batch, Timestamp(1));
    store.apply(&value(&b, 5.0, 2), Timestamp(2));
    let twin = store.twin("p").unwrap();
    assert_eq!(twin.properties.len(), 2);
    assert_eq!(
        (
            twin.property(&a).map(|p| p.value),
            twin.property(&b).map(|p| p.value)
        ),
        (Some(4.0), Some(5.0))
    );
    assert_eq!(twin.property(&b).unwrap().history.len(), 3);
}

/// Values that leave everything the status is derived from as it was do not restyle the
/// part; a first value, a rule's verdict changing, and data after silence do.
#[test]
fn only_values_that_change_the_status_inputs_mark_a_twin_changed() {
    let specs: Vec<crate::rules::RuleSpec> = toml::from_str::<toml::Table>(
        "[[rule]]\nproperty = \"temperature\"\nrange = [{ max = 80.0, status = \"ok\" }, { min = 80.0, status = \"alarm\", color = \"#ff0000\" }]",
    )
    .unwrap()["rule"]
        .clone()
        .try_into()
        .unwrap();
    let mut store = TwinStore::new(
        StoreConfig {
            history_len: 4,
            stale_after: Duration::from_secs(10),
            ..Default::default()
        },
        RuleSet::compile(&specs).unwrap(),
    );
    let changed = |store: &mut TwinStore| store.take_changed().len();
    store.apply_all(
        &[
            measurement("p", "temperature", 50.0, 0),
            measurement("p", "flow", 3.0, 0),
        ],
        Timestamp(0),
    );
    assert_eq!(changed(&mut store), 1, "first heard from: unknown to ok");
    store.apply_all(
        &[
            measurement("p", "temperature", 60.0, 1),
            measurement("p", "flow", 4.0, 1),
        ],
        Timestamp(1),
    );
    assert_eq!(
        changed(&mut store),
        0,
        "the rule's verdict stands, no rule on flow"
    );
    store.apply_all(&[measurement("p", "temperature", 90.0, 2)], Timestamp(2));
    assert_eq!(changed(&mut store), 1, "into the alarm range");
    assert_eq!(store.twin("p").unwrap().status, Status::Alarm);
    store.apply(&measurement("p", "flow", 5.0, 3), Timestamp(3));
    assert_eq!(changed(&mut store), 0);
    store.mark_stale(Timestamp::from_unix_seconds(60.0).unwrap());
    assert_eq!(changed(&mut store), 1, "silence: stale");
    store.apply(
        &measurement("p", "flow", 5.0, 4),
        Timestamp::from_unix_seconds(61.0).unwrap(),
    );
    assert_eq!(changed(&mut store), 1, "data after silence: fresh again");
    assert!(
        !store.twin("p").unwrap().comms_lost && store.twin("p").unwrap().status == Status::Alarm
    );
}

/// One decoder's shared ids applied to several stores in turn (a live store and a replay's,
/// or one seek's store after another): each id remembers where only the last store keeps its
/// twin, and every store still finds its own twins, wherever they sit in it.
#[test]
fn shared_ids_find_their_twin_in_every_store() {
    let ids: Vec<TwinId> = (0..50).map(|i| TwinId::new(&format!("pump{i}"))).collect();
    let (mut a, mut b) = (store(), store());
    // b holds the twins in the opposite order, after one declared with its own id.
    b.declare("pump7", None, None);
    for (round, value) in [1.0, 2.0, 3.0].into_iter().enumerate() {
        for (i, id) in ids.iter().enumerate() {
            let update = |value| TwinUpdate::Measurement {
                twin: id.clone(),
                name: "flow".into(),
                value,
                time: Timestamp(round as i64),
            };
            a.apply(&update(value + i as f64), Timestamp(0));
            let mirrored = &ids[ids.len() - 1 - i];
            b.apply(
                &TwinUpdate::Measurement {
                    twin: mirrored.clone(),
                    name: "flow".into(),
                    value: -value - i as f64,
                    time: Timestamp(round as i64),
                },
                Timestamp(0),
            );
        }
    }
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            a.twin(id.as_str()).unwrap().property("flow").unwrap().value,
            3.0 + i as f64
        );
        assert_eq!(
            b.twin(id.as_str()).unwrap().property("flow").unwrap().value,
            -3.0 - (ids.len() - 1 - i) as f64
        );
        assert_eq!(a.get(a.find(id.as_str()).unwrap()).id, *id);
    }
    assert_eq!((a.len(), b.len()), (50, 50), "no twin made twice");
}

#[test]
fn room_made_at_once_holds_the_twins_without_moving_them() {
    let mut store = TwinStore::new(
        StoreConfig {
            max_twins: 1_000,
            ..Default::default()
        },
        RuleSet::default(),
    );
    store.reserve(5_000);
    assert!(
        store.twins.capacity() >= 1_000 && store.twins.capacity() < 5_000,
        "room for the cap, not past it: {}",
        store.twins.capacity()
    );
    let table = store.twins.as_ptr();
    for i in 0..1_000 {
        store.declare(&format!("pump{i}"), None, None);
    }
    assert!(
        std::ptr::eq(table, store.twins.as_ptr()),
        "no twin moved while the store filled"
    );
}
