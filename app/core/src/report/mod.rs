//! Reports of the twin state for people (an indented tree) and scripts (JSON): what
//! `twinscope state` prints, and what end-to-end tests read.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::ingest::StatsSnapshot;
use crate::twin::{Twin, TwinIndex, TwinStore};

/// Twins depth-first from the roots, children sorted by id, with their depth.
fn walk(store: &TwinStore) -> Vec<(TwinIndex, usize)> {
    let mut order = Vec::with_capacity(store.len());
    let mut roots: Vec<TwinIndex> = store.roots().collect();
    roots.sort_by(|a, b| store.get(*a).id.cmp(&store.get(*b).id));
    let mut stack: Vec<(TwinIndex, usize)> = roots.into_iter().rev().map(|r| (r, 0)).collect();
    while let Some((index, depth)) = stack.pop() {
        order.push((index, depth));
        let mut children = store.get(index).children.clone();
        children.sort_by(|a, b| store.get(*b).id.cmp(&store.get(*a).id));
        stack.extend(children.into_iter().map(|c| (c, depth + 1)));
    }
    order
}

fn twin_json(store: &TwinStore, index: TwinIndex) -> Value {
    let twin: &Twin = store.get(index);
    let properties: Vec<Value> = twin
        .properties
        .iter()
        .map(|p| {
            json!({
                "name": &*p.name,
                "value": if p.value.is_finite() { json!(p.value) } else { Value::Null },
                "unit": p.unit.as_deref(),
                "time": (p.time.0 != 0).then(|| p.time.to_string()),
                "status": p.rule_status.as_str(),
            })
        })
        .collect();
    let alarms: Vec<Value> = twin
        .alarms
        .iter()
        .map(|a| json!({ "type": &*a.alarm_type, "severity": a.severity.as_str(), "text": a.text, "time": a.time.to_string() }))
        .collect();
    let events: Vec<Value> = twin
        .events
        .iter()
        .map(|e| json!({ "type": &*e.event_type, "text": e.text, "time": e.time.to_string() }))
        .collect();
    let fragments: serde_json::Map<String, Value> = twin
        .fragments
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    json!({
        "id": twin.id.as_str(),
        "name": twin.display_name,
        "kind": twin.kind.as_str(),
        "type": twin.entity_type,
        "parent": twin.parent.map(|p| store.get(p).id.as_str()),
        "path": store.path(index).iter().map(|id| id.as_str()).collect::<Vec<_>>(),
        "status": twin.status.as_str(),
        "health": twin.health.map(|up| if up { "up" } else { "down" }),
        "last_seen": twin.last_seen().map(|t| t.to_string()),
        "properties": properties,
        "alarms": alarms,
        "events": events,
        "fragments": fragments,
    })
}

/// The whole state as JSON: `{"twins": [...], "ingest": {...}}`, twins in tree order.
pub fn state_json(store: &TwinStore, stats: Option<&StatsSnapshot>) -> Value {
    let twins: Vec<Value> = walk(store)
        .into_iter()
        .map(|(index, _)| twin_json(store, index))
        .collect();
    let mut report = json!({ "twins": twins });
    let refused = store.refused();
    if refused != Default::default() {
        report["refused"] = json!({ "twins": refused.twins, "properties": refused.entries });
    }
    if let Some(stats) = stats {
        report["ingest"] = json!({
            "connected": stats.connected,
            "messages": stats.messages,
            "updates": stats.updates,
            "decode_errors": stats.decode_errors,
            "unknown_topics": stats.unknown_topics,
            "connects": stats.connects,
            "losses": stats.losses,
            "failed_attempts": stats.failed_attempts,
            "coalesced": stats.coalesced,
            "last_error": stats.last_error.as_deref().map(|(at, failure)| json!({
                "at": at.to_string(),
                "message": failure.message,
                "kind": format!("{:?}", failure.kind),
            })),
        });
    }
    report
}

/// The whole state as an indented tree for people.
pub fn state_text(store: &TwinStore, stats: Option<&StatsSnapshot>) -> String {
    let mut out = String::new();
    if let Some(stats) = stats {
        let _ = writeln!(
            out,
            "# {} — {} messages, {} updates, {} decode errors, {} unknown topics",
            if stats.connected {
                "connected"
            } else {
                "disconnected"
            },
            stats.messages,
            stats.updates,
            stats.decode_errors,
            stats.unknown_topics
        );
        if let Some((at, failure)) = stats.last_error.as_deref() {
            let _ = writeln!(out, "# last connection error at {at}: {failure}");
        }
    }
    for (index, depth) in walk(store) {
        let twin = store.get(index);
        let indent = "  ".repeat(depth);
        let _ = write!(out, "{indent}{} [{}]", twin.id, twin.status.as_str());
        if let Some(name) = &twin.display_name {
            let _ = write!(out, " \"{name}\"");
        }
        if let Some(up) = twin.health {
            let _ = write!(out, " health={}", if up { "up" } else { "down" });
        }
        out.push('\n');
        for property in &twin.properties {
            let unit = property
                .unit
                .as_deref()
                .map(|u| format!(" {u}"))
                .unwrap_or_default();
            if property.value.is_finite() {
                let _ = writeln!(
                    out,
                    "{indent}    {} = {}{unit} @ {}",
                    property.name, property.value, property.time
                );
            } else {
                let _ = writeln!(out, "{indent}    {} = (no value yet){unit}", property.name);
            }
        }
        for alarm in &twin.alarms {
            let _ = writeln!(
                out,
                "{indent}    ALARM {} ({}): {} @ {}",
                alarm.alarm_type,
                alarm.severity.as_str(),
                alarm.text,
                alarm.time
            );
        }
        for (name, value) in &twin.fragments {
            let _ = writeln!(out, "{indent}    twin/{name} = {value}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;
    use crate::time::Timestamp;
    use crate::twin::{Severity, StoreConfig};
    use crate::update::TwinUpdate;

    #[test]
    fn tree_order_and_content() {
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
        store.declare("main", None, Some("Plant"));
        store.declare("b-pump", Some("main"), None);
        store.declare("a-tank", Some("main"), None);
        let now = Timestamp(1_000_000);
        store.apply(
            &TwinUpdate::Unit {
                twin: "b-pump".into(),
                name: "flow".into(),
                unit: "m3/h".into(),
            },
            now,
        );
        store.apply(
            &TwinUpdate::Measurement {
                twin: "b-pump".into(),
                name: "flow".into(),
                value: 4.5,
                time: now,
            },
            now,
        );
        let alarm = TwinUpdate::AlarmRaised {
            twin: "b-pump".into(),
            alarm_type: "dry".into(),
            severity: Severity::Critical,
            text: "Running dry".into(),
            time: now,
        };
        store.apply(&alarm, now);
        let text = state_text(&store, None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "main [unknown] \"Plant\"");
        assert_eq!(lines[1], "  a-tank [unknown]");
        assert_eq!(lines[2], "  b-pump [alarm]");
        assert_eq!(lines[3], "      flow = 4.5 m3/h @ 1970-01-01T00:00:01.000Z");
        assert_eq!(
            lines[4],
            "      ALARM dry (critical): Running dry @ 1970-01-01T00:00:01.000Z"
        );
        let json = state_json(&store, None);
        let pump = &json["twins"][2];
        assert_eq!(pump["path"], json!(["main", "b-pump"]));
        assert_eq!(pump["properties"][0]["unit"], "m3/h");
        assert_eq!(pump["alarms"][0]["severity"], "critical");
    }
}
