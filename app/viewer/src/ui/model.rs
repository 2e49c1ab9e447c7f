//! What the panels show, as plain data built from the twin store, and the commands they send
//! back. No egui here: the same views can later be drawn onto a texture in a headset.

use twinscope_core::ingest::StatsSnapshot;
use twinscope_core::twin::{Status, TwinIndex, TwinStore};

/// A request from the UI; applied elsewhere, never by the drawing code.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UiCommand {
    Select(Option<TwinIndex>),
    TogglePlay,
    SetSpeed(f64),
    /// Seconds from the start of the recording.
    SeekTo(f64),
    Step(f64),
    PreviousAlarm,
    NextAlarm,
    MarkLoop,
    ClearLoop,
    StartRecording,
    StopRecording,
    /// Look back this many seconds from now (DVR).
    LookBack(f64),
    GoLive,
}

/// The DVR bar shown while live: how far back one can look.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DvrBarView {
    pub available_seconds: f64,
    pub error: Option<String>,
}

/// The record button: whether it can record, and the recording in progress.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordView {
    pub available: bool,
    /// Seconds and bytes so far, while recording.
    pub progress: Option<(f64, u64)>,
    pub message: Option<String>,
}

/// The replay timeline, in seconds from the start of the recording.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimelineView {
    pub playing: bool,
    pub speed: f64,
    pub position: f64,
    pub length: f64,
    /// Wall-clock time at the position, in the plant's time zone.
    pub clock: String,
    /// Alarm raises (`true`) and clears.
    pub markers: Vec<(f64, bool)>,
    pub loop_range: Option<(f64, f64)>,
    pub loop_mark: Option<f64>,
    pub error: Option<String>,
    /// Looking back at a live session: offer "Go live".
    pub dvr: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PropertyRow {
    pub name: String,
    pub value: String,
    pub unit: String,
    pub time: String,
    pub status: Status,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlarmRow {
    pub alarm_type: String,
    pub severity: String,
    pub text: String,
    pub time: String,
}

/// The selected twin, ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectorView {
    pub index: TwinIndex,
    pub id: String,
    pub label: String,
    pub kind: String,
    pub status: Status,
    /// From the root down to the twin, for the breadcrumb.
    pub path: Vec<(TwinIndex, String)>,
    pub properties: Vec<PropertyRow>,
    pub alarms: Vec<AlarmRow>,
    pub fragments: Vec<(String, String)>,
    pub health: Option<bool>,
    pub children: Vec<(TwinIndex, String, Status)>,
}

/// Formats a value with sensible precision for an operator (no 17-digit floats).
pub fn format_value(value: f64) -> String {
    if !value.is_finite() {
        return "—".to_owned();
    }
    let magnitude = value.abs();
    if magnitude >= 1000.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

pub fn inspector_view(store: &TwinStore, index: TwinIndex) -> InspectorView {
    let twin = store.get(index);
    let path = {
        let mut path = vec![index];
        let mut cursor = twin.parent;
        while let Some(parent) = cursor {
            if path.len() > store.len() {
                break;
            }
            path.push(parent);
            cursor = store.get(parent).parent;
        }
        path.reverse();
        path.into_iter().map(|i| (i, store.get(i).label().to_owned())).collect()
    };
    let properties = twin
        .properties
        .iter()
        .map(|p| PropertyRow {
            name: p.name.to_string(),
            value: format_value(p.value),
            unit: p.unit.as_deref().unwrap_or("").to_owned(),
            time: if p.time.0 == 0 { String::new() } else { p.time.to_string()[11..23].to_owned() },
            status: p.rule_status,
        })
        .collect();
    let alarms = twin
        .alarms
        .iter()
        .map(|a| AlarmRow { alarm_type: a.alarm_type.to_string(), severity: a.severity.as_str().to_owned(), text: a.text.clone(), time: a.time.to_string() })
        .collect();
    let mut children: Vec<(TwinIndex, String, Status)> =
        twin.children.iter().map(|c| (*c, store.get(*c).label().to_owned(), store.get(*c).status)).collect();
    children.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
    InspectorView {
        index,
        id: twin.id.to_string(),
        label: twin.label().to_owned(),
        kind: twin.entity_type.clone().unwrap_or_else(|| twin.kind.as_str().to_owned()),
        status: twin.status,
        path,
        properties,
        alarms,
        fragments: twin.fragments.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        health: twin.health,
        children,
    }
}

/// The always-visible status bar.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatusBarView {
    pub source: String,
    /// Replaying a recording: the feed is not live, whatever the connection.
    pub replay: bool,
    pub connected: bool,
    pub messages_per_second: f64,
    pub decode_errors: u64,
    pub unknown_topics: u64,
    pub dropped_batches: u64,
    pub reconnects: u64,
    /// Twins per status, indexed by `Status as usize`.
    pub counts: [usize; 5],
    pub active_alarms: usize,
    pub scene_error: Option<String>,
}

pub fn status_bar_view(store: &TwinStore, stats: &StatsSnapshot, messages_per_second: f64, source: &str, replay: bool, scene_error: Option<&str>) -> StatusBarView {
    let mut counts = [0usize; 5];
    let mut active_alarms = 0;
    for (_, twin) in store.twins() {
        counts[twin.status as usize] += 1;
        active_alarms += twin.alarms.len();
    }
    StatusBarView {
        source: source.to_owned(),
        replay,
        connected: stats.connected,
        messages_per_second,
        decode_errors: stats.decode_errors,
        unknown_topics: stats.unknown_topics,
        dropped_batches: stats.dropped_batches,
        reconnects: stats.connects.saturating_sub(1),
        counts,
        active_alarms,
        scene_error: scene_error.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use twinscope_core::Timestamp;
    use twinscope_core::TwinUpdate;
    use twinscope_core::rules::RuleSet;
    use twinscope_core::twin::{Severity, StoreConfig};

    #[test]
    fn inspector_shows_path_values_and_worst_children_first() {
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
        store.declare("main", None, Some("Plant"));
        let pump = store.declare("pump", Some("main"), Some("Pump 1"));
        store.declare("seal", Some("pump"), Some("Seal"));
        store.declare("bearing", Some("pump"), Some("Bearing"));
        let now = Timestamp(1_700_000_000_000_000);
        store.apply(&TwinUpdate::Measurement { twin: "pump".into(), name: "flow".into(), value: 48.123, time: now }, now);
        store.apply(&TwinUpdate::Unit { twin: "pump".into(), name: "flow".into(), unit: "m³/h".into() }, now);
        let alarm = TwinUpdate::AlarmRaised { twin: "seal".into(), alarm_type: "leak".into(), severity: Severity::Major, text: "Leak".into(), time: now };
        store.apply(&alarm, now);
        let view = inspector_view(&store, pump);
        assert_eq!(view.path.iter().map(|p| p.1.as_str()).collect::<Vec<_>>(), ["Plant", "Pump 1"]);
        assert_eq!(view.properties[0].value, "48.1");
        assert_eq!(view.properties[0].unit, "m³/h");
        assert_eq!(view.children[0].1, "Seal", "alarmed child first");
        let bar = status_bar_view(&store, &StatsSnapshot::default(), 0.0, "test", false, None);
        assert_eq!(bar.counts[Status::Alarm as usize], 1);
        assert_eq!(bar.active_alarms, 1);
    }

    #[test]
    fn values_are_formatted_for_people() {
        assert_eq!(format_value(1480.4), "1480");
        assert_eq!(format_value(48.123), "48.1");
        assert_eq!(format_value(2.2345), "2.23");
        assert_eq!(format_value(f64::NAN), "—");
    }
}
