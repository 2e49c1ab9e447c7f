//! What the panels show, as plain data built from the twin store, and the commands they send
//! back. No egui here: the same views can later be drawn onto a texture in a headset.

use std::sync::Arc;

use twinscope_core::alarms::{AlarmCounts, AlarmSource, AlarmState};
use twinscope_core::ingest::StatsSnapshot;
use twinscope_core::time_zone::PlantClock;
use twinscope_core::twin::tree::Rollup;
use twinscope_core::twin::{Severity, Status, TwinIndex, TwinStore};

use crate::scene::focus::FocusMode;

/// A request from the UI; applied elsewhere, never by the drawing code.
#[derive(Debug, Clone, PartialEq)]
pub enum UiCommand {
    Select(Option<TwinIndex>),
    /// Select and fly the camera there (tree, alarm list, breadcrumb).
    SelectAndFrame(TwinIndex),
    Acknowledge(Vec<(TwinIndex, Arc<str>)>),
    Shelve {
        twin: TwinIndex,
        alarm_type: Arc<str>,
        minutes: u32,
    },
    Unshelve {
        twin: TwinIndex,
        alarm_type: Arc<str>,
    },
    ExportAlarmHistory,
    Focus(FocusMode),
    FrameSelection,
    ToggleHelp,
    ToggleAlarmList,
    ToggleTree,
    TogglePlay,
    SetSpeed(f64),
    /// Seconds from the start of the recording.
    SeekTo(f64),
    /// The handle dragged to these seconds from the start (built off the frame; the next
    /// position replaces one not yet built).
    Scrub(f64),
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
    /// Open a property in the Trends window (read from the archive).
    OpenTrend {
        twin: String,
        property: String,
    },
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
    /// What the recording holds that the replay leaves out (unreadable encodings, damaged chunks).
    pub skipped: Option<String>,
    /// Looking back at a live session: offer "Go live".
    pub dvr: bool,
    /// A file still being indexed (the replay runs on what is): how far it has got.
    pub indexing: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PropertyRow {
    pub name: String,
    pub value: String,
    pub unit: String,
    pub time: String,
    pub status: Status,
    /// (seconds before the latest sample, value), oldest first: the trend.
    pub trend: Vec<[f64; 2]>,
    /// Limits to draw on the trend: value, how bad beyond it, and what it is.
    pub limits: Vec<Limit>,
}

/// A horizontal line on a trend plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    pub value: f64,
    pub status: Status,
    pub label: String,
}

/// An alarm of the selected twin, as the inspector lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmRow {
    pub alarm_type: Arc<str>,
    pub severity: Severity,
    pub state: AlarmState,
    pub source: AlarmSource,
    pub shelved: bool,
    pub text: String,
    pub time: String,
}

/// A part of a product twin in the inspector's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct PartRow {
    pub index: TwinIndex,
    pub label: String,
    /// The worst status in the part's subtree, and its active alarms.
    pub worst: Status,
    pub alarms: u32,
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
    /// Tables among the twin's data (a Sparkplug DataSet): name, columns, rows of cells.
    pub tables: Vec<DataTable>,
    pub health: Option<bool>,
    /// Direct parts, worst first.
    pub children: Vec<PartRow>,
    /// Everything below, counted per status (indexed by `Status as usize`).
    pub descendants: [usize; 5],
    /// Health of services below this twin: (label, up).
    pub services: Vec<(TwinIndex, String, Option<bool>)>,
    pub comms_lost: bool,
    /// "offline since …" on the plant's clock, when the source said it went offline.
    pub offline_since: Option<String>,
    /// An archive is open (`--archive`): each property offers its long-range history.
    pub history: bool,
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

pub fn limits_of(store: &TwinStore, property: &twinscope_core::twin::Property) -> Vec<Limit> {
    let mut limits = Vec::new();
    if let Some(rule) = property.rule() {
        // A boundary between two bad ranges (warning below 85, alarm above) is drawn once,
        // in the colour of the worse side.
        for (value, status) in store.rules().limits(rule) {
            match limits.iter_mut().find(|l: &&mut Limit| l.value == value) {
                Some(existing) if existing.status < status => {
                    *existing = Limit {
                        value,
                        status,
                        label: format!("{} limit", status.as_str()),
                    }
                }
                Some(_) => {}
                None => limits.push(Limit {
                    value,
                    status,
                    label: format!("{} limit", status.as_str()),
                }),
            }
        }
    }
    for (rule, _) in property.limits() {
        let rule = store.alarm_rules().get(*rule);
        limits.push(Limit {
            value: rule.limit,
            status: rule.severity.status(),
            label: format!("{} ({})", rule.alarm_type, rule.severity.as_str()),
        });
        if rule.deadband > 0.0 {
            limits.push(Limit {
                value: rule.clear_at(),
                status: Status::Ok,
                label: format!("{} clears", rule.alarm_type),
            });
        }
    }
    limits
}

/// The selected twin's view; times shown on the plant's clock.
/// A table to show: `{"columns": [...], "rows": [[...], ...]}` (how a Sparkplug DataSet is kept).
#[derive(Debug, Clone, PartialEq)]
pub struct DataTable {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl DataTable {
    fn of(value: &serde_json::Value) -> Option<DataTable> {
        let columns = value
            .get("columns")?
            .as_array()?
            .iter()
            .map(shown)
            .collect();
        let rows = value
            .get("rows")?
            .as_array()?
            .iter()
            .map(|row| {
                row.as_array()
                    .map(|cells| cells.iter().map(shown).collect())
                    .unwrap_or_default()
            })
            .collect();
        Some(DataTable {
            name: String::new(),
            columns,
            rows,
        })
    }
}

/// A JSON value as text: strings without their quotes.
fn shown(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn inspector_view(
    store: &TwinStore,
    rollup: &Rollup,
    index: TwinIndex,
    clock: &PlantClock,
) -> InspectorView {
    let twin = store.get(index);
    let path = store
        .path_indices(index)
        .into_iter()
        .map(|i| (i, store.get(i).label().to_owned()))
        .collect();
    let properties = twin
        .properties
        .iter()
        .map(|p| {
            let latest = p.history.latest().map_or(p.time, |(t, _)| t);
            PropertyRow {
                name: p.name.to_string(),
                value: format_value(p.value),
                unit: p.unit.as_deref().unwrap_or("").to_owned(),
                time: clock.time_of_day(p.time, 12),
                status: p.rule_status,
                trend: p
                    .history
                    .iter()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(t, v)| [t.seconds_since(latest), *v])
                    .collect(),
                limits: limits_of(store, p),
            }
        })
        .collect();
    let book = store.alarm_book();
    let mut alarms: Vec<AlarmRow> = book
        .alarms()
        .iter()
        .filter(|a| a.twin == index)
        .map(|a| AlarmRow {
            alarm_type: a.alarm_type.clone(),
            severity: a.severity,
            state: a.state,
            source: a.source,
            shelved: a.is_shelved(),
            text: a.text.clone(),
            time: clock.format(a.activated),
        })
        .collect();
    alarms.sort_by(|a, b| b.state.cmp(&a.state).then(b.severity.cmp(&a.severity)));
    let mut children: Vec<PartRow> = twin
        .children
        .iter()
        .map(|c| PartRow {
            index: *c,
            label: store.get(*c).label().to_owned(),
            worst: rollup.worst(*c),
            alarms: rollup.alarms(*c),
        })
        .collect();
    children.sort_by(|a, b| {
        b.worst
            .cmp(&a.worst)
            .then(b.alarms.cmp(&a.alarms))
            .then_with(|| a.label.cmp(&b.label))
    });
    let mut descendants = [0usize; 5];
    let mut services = Vec::new();
    for below in twinscope_core::twin::tree::subtree(store, index)
        .into_iter()
        .skip(1)
    {
        let part = store.get(below);
        descendants[part.status as usize] += 1;
        if part.kind == twinscope_core::twin::EntityKind::Service || part.health.is_some() {
            services.push((below, part.label().to_owned(), part.health));
        }
    }
    InspectorView {
        index,
        id: twin.id.to_string(),
        label: twin.label().to_owned(),
        kind: twin
            .entity_type
            .clone()
            .unwrap_or_else(|| twin.kind.as_str().to_owned()),
        status: twin.status,
        path,
        properties,
        alarms,
        fragments: twin
            .fragments
            .iter()
            .filter(|(_, v)| DataTable::of(v).is_none())
            .map(|(k, v)| (k.to_string(), shown(v)))
            .collect(),
        tables: twin
            .fragments
            .iter()
            .filter_map(|(k, v)| {
                DataTable::of(v).map(|t| DataTable {
                    name: k.to_string(),
                    ..t
                })
            })
            .collect(),
        health: twin.health,
        children,
        descendants,
        services,
        comms_lost: twin.comms_lost,
        offline_since: twin.offline_since.map(|t| clock.format(t)),
        history: false,
    }
}

/// The always-visible status bar.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatusBarView {
    pub source: String,
    /// Replaying a recording: the feed is not live, whatever the connection.
    pub replay: bool,
    pub connection: ConnectionView,
    /// Connection counts and the last error with its time, for the hover text.
    pub connection_details: String,
    pub messages_per_second: f64,
    pub decode_errors: u64,
    pub unknown_topics: u64,
    /// Updates merged into a newer value while the viewer was behind (none are lost).
    pub coalesced: u64,
    pub reconnects: u64,
    /// Twins per status, indexed by `Status as usize`.
    pub counts: [usize; 5],
    /// What the store's caps refused (new twins, new properties), shown when any.
    pub refused: twinscope_core::twin::Refused,
    pub alarms: AlarmCounts,
    pub scene_error: Option<String>,
    pub focus: FocusMode,
    /// Acknowledgements go back to the plant (off unless enabled).
    pub publishes_acks: bool,
    /// Operations on devices may be requested (`--allow-operations`).
    pub operations_allowed: bool,
    /// In a shared session: whose timeline this viewer is on.
    pub timeline: Option<String>,
}

/// Where the connection to the broker stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ConnectionView {
    /// Not connected yet, and no attempt has failed.
    #[default]
    Connecting,
    Connected,
    /// Not connected: the last attempt failed, or the connection broke (one line why).
    Failed(String),
}

impl ConnectionView {
    pub fn of(stats: &StatsSnapshot) -> Self {
        match (stats.last_error.as_deref(), stats.connected) {
            (_, true) => ConnectionView::Connected,
            (Some((_, failure)), false) => ConnectionView::Failed(failure.message.clone()),
            (None, false) => ConnectionView::Connecting,
        }
    }
}

/// The connection's history for the status bar's hover text: counts and the last error.
pub fn connection_details(stats: &StatsSnapshot, clock: &PlantClock) -> String {
    let mut text = format!(
        "{} connection(s), {} lost, {} failed attempt(s)",
        stats.connects, stats.losses, stats.failed_attempts
    );
    if let Some((at, failure)) = stats.last_error.as_deref() {
        text.push_str(&format!("\nlast error at {}: {failure}", clock.format(*at)));
    }
    if stats.coalesced > 0 {
        text.push_str(&format!(
            "\n{} updates merged into newer values while the viewer was behind (none lost)",
            stats.coalesced
        ));
    }
    text
}

pub fn status_bar_view(
    store: &TwinStore,
    stats: &StatsSnapshot,
    messages_per_second: f64,
    source: &str,
    replay: bool,
    scene_error: Option<&str>,
) -> StatusBarView {
    let mut counts = [0usize; 5];
    for (_, twin) in store.twins() {
        counts[twin.status as usize] += 1;
    }
    StatusBarView {
        source: source.to_owned(),
        replay,
        connection: ConnectionView::of(stats),
        connection_details: connection_details(stats, &PlantClock::default()),
        messages_per_second,
        decode_errors: stats.decode_errors,
        unknown_topics: stats.unknown_topics,
        coalesced: stats.coalesced,
        reconnects: stats.connects.saturating_sub(1),
        counts,
        refused: store.refused(),
        alarms: store.alarm_book().counts(),
        scene_error: scene_error.map(str::to_owned),
        focus: FocusMode::Normal,
        publishes_acks: false,
        operations_allowed: false,
        timeline: None,
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
    fn a_data_set_shows_as_a_table_and_text_without_quotes() {
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
        let plc = store.declare("plc", None, Some("PLC"));
        let recipe = serde_json::json!({"columns": ["Ingredient", "Amount"], "rows": [["Flour", 1.5], ["Water", 0.75]]});
        store.apply(
            &TwinUpdate::Fragment {
                twin: "plc".into(),
                name: "Recipe".into(),
                value: Some(recipe),
            },
            Timestamp(0),
        );
        store.apply(
            &TwinUpdate::Fragment {
                twin: "plc".into(),
                name: "Mode".into(),
                value: Some(serde_json::json!("Auto")),
            },
            Timestamp(0),
        );
        let view = inspector_view(
            &store,
            &Rollup::compute(&store),
            plc,
            &PlantClock::default(),
        );
        assert_eq!(view.fragments, [("Mode".to_owned(), "Auto".to_owned())]);
        assert_eq!(
            view.tables,
            [DataTable {
                name: "Recipe".into(),
                columns: vec!["Ingredient".into(), "Amount".into()],
                rows: vec![
                    vec!["Flour".into(), "1.5".into()],
                    vec!["Water".into(), "0.75".into()]
                ]
            }]
        );
    }

    #[test]
    fn inspector_shows_path_values_and_worst_children_first() {
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
        store.declare("main", None, Some("Plant"));
        let pump = store.declare("pump", Some("main"), Some("Pump 1"));
        store.declare("seal", Some("pump"), Some("Seal"));
        store.declare("bearing", Some("pump"), Some("Bearing"));
        let now = Timestamp(1_700_000_000_000_000);
        store.apply(
            &TwinUpdate::Measurement {
                twin: "pump".into(),
                name: "flow".into(),
                value: 48.123,
                time: now,
            },
            now,
        );
        store.apply(
            &TwinUpdate::Unit {
                twin: "pump".into(),
                name: "flow".into(),
                unit: "m³/h".into(),
            },
            now,
        );
        let alarm = TwinUpdate::AlarmRaised {
            twin: "seal".into(),
            alarm_type: "leak".into(),
            severity: Severity::Major,
            text: "Leak".into(),
            time: now,
        };
        store.apply(&alarm, now);
        let view = inspector_view(
            &store,
            &Rollup::compute(&store),
            pump,
            &PlantClock::default(),
        );
        assert_eq!(
            view.path.iter().map(|p| p.1.as_str()).collect::<Vec<_>>(),
            ["Plant", "Pump 1"]
        );
        assert_eq!(view.properties[0].value, "48.1");
        assert_eq!(view.properties[0].unit, "m³/h");
        assert_eq!(view.children[0].label, "Seal", "alarmed part first");
        assert_eq!(
            (view.children[0].worst, view.children[0].alarms),
            (Status::Alarm, 1)
        );
        assert_eq!(view.descendants[Status::Alarm as usize], 1);
        let bar = status_bar_view(&store, &StatsSnapshot::default(), 0.0, "test", false, None);
        assert_eq!(bar.counts[Status::Alarm as usize], 1);
        assert_eq!(bar.alarms.active[Severity::Major as usize], 1);
        assert_eq!(bar.alarms.unacknowledged, 1);
    }

    #[test]
    fn trends_carry_history_and_every_limit() {
        use twinscope_core::alarms::{AlarmRuleSpec, AlarmRules};
        use twinscope_core::rules::RuleSpec;
        let rules: RuleSpec = toml::from_str(
            "property = \"t\"\nrange = [{ max = 70, status = \"ok\" }, { min = 70, max = 90, status = \"warning\" }, { min = 90, status = \"alarm\" }]",
        )
        .unwrap();
        let alarm: AlarmRuleSpec = toml::from_str(
            "type = \"hot\"\nproperty = \"t\"\nabove = 85\ndeadband = 5\nseverity = \"critical\"",
        )
        .unwrap();
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::compile(&[rules]).unwrap())
            .with_alarm_rules(AlarmRules::compile(&[alarm]).unwrap());
        for i in 0..5 {
            let t = Timestamp(1_700_000_000_000_000 + i * 1_000_000);
            store.apply(
                &TwinUpdate::Measurement {
                    twin: "p".into(),
                    name: "t".into(),
                    value: 60.0 + i as f64 * 10.0,
                    time: t,
                },
                t,
            );
        }
        let p = store.find("p").unwrap();
        let view = inspector_view(&store, &Rollup::compute(&store), p, &PlantClock::default());
        let row = &view.properties[0];
        assert_eq!(row.trend.first(), Some(&[-4.0, 60.0]));
        assert_eq!(row.trend.last(), Some(&[0.0, 100.0]));
        let limits: Vec<(f64, Status)> = row.limits.iter().map(|l| (l.value, l.status)).collect();
        assert_eq!(
            limits,
            [
                (70.0, Status::Warning),
                (90.0, Status::Alarm),
                (85.0, Status::Alarm),
                (80.0, Status::Ok)
            ],
            "90 once, as alarm"
        );
        assert_eq!(
            view.alarms.len(),
            1,
            "the rule alarm is listed with its state"
        );
        assert_eq!(view.alarms[0].state, AlarmState::ActiveUnacknowledged);
    }

    #[test]
    fn values_are_formatted_for_people() {
        assert_eq!(format_value(1480.4), "1480");
        assert_eq!(format_value(48.123), "48.1");
        assert_eq!(format_value(2.2345), "2.23");
        assert_eq!(format_value(f64::NAN), "—");
    }
}
