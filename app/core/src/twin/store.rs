//! The twin store: every twin, its place in the hierarchy and its live state.
//!
//! Updates arrive in batches from one producer (live ingest or replay) and are applied in
//! order by one owner. The store remembers which twins changed status so that the viewer
//! restyles only those, not the whole plant, each frame.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::{History, Severity, Status, TwinId};
use crate::alarms::{Activation, AlarmBook, AlarmRules, AlarmSource, LimitChange, LimitState};
use crate::rules::{Rgba, RuleSet};
use crate::time::Timestamp;
use crate::update::TwinUpdate;

/// Position of a twin in [`TwinStore::twins`]; stable for the life of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TwinIndex(pub u32);

/// What kind of entity a twin stands for, after thin-edge's entity types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EntityKind {
    /// The main device: in a plant, the whole site or system.
    Device,
    /// A child device: a line, a machine, a part.
    #[default]
    ChildDevice,
    /// A service running on a device.
    Service,
}

impl EntityKind {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "device" => Some(EntityKind::Device),
            "child-device" => Some(EntityKind::ChildDevice),
            "service" => Some(EntityKind::Service),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Device => "device",
            EntityKind::ChildDevice => "child-device",
            EntityKind::Service => "service",
        }
    }
}

/// One numeric property of a twin with its unit, latest time and trend history.
#[derive(Debug, Clone)]
pub struct Property {
    pub name: Arc<str>,
    pub value: f64,
    pub unit: Option<Arc<str>>,
    /// The time the source gave for this value (or the receive time when it gave none).
    pub time: Timestamp,
    pub history: History,
    /// The status the scene's rules give this value.
    pub rule_status: Status,
    pub rule_color: Option<Rgba>,
    /// The visual rule (index into the store's [`RuleSet`]).
    pub rule: Option<usize>,
    /// The alarm rules on this property (indices into the store's [`AlarmRules`]) and the
    /// state of each one's condition.
    pub limits: Vec<(usize, LimitState)>,
}

impl Property {
    /// A property seen for the first time, with the scene rules that apply to it.
    fn new(name: Arc<str>, rule: Option<usize>, limits: Vec<usize>, history_len: usize) -> Self {
        Property {
            name,
            value: f64::NAN,
            unit: None,
            time: Timestamp(0),
            history: History::with_capacity(history_len),
            rule_status: Status::Unknown,
            rule_color: None,
            rule,
            limits: limits.into_iter().map(|l| (l, LimitState::default())).collect(),
        }
    }
}

/// An alarm condition currently active on a twin. Its acknowledgement and shelving live in
/// the store's [`AlarmBook`].
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveAlarm {
    pub alarm_type: Arc<str>,
    pub severity: Severity,
    pub text: String,
    pub time: Timestamp,
    pub source: AlarmSource,
}

/// The latest event of one type.
#[derive(Debug, Clone, PartialEq)]
pub struct LastEvent {
    pub event_type: Arc<str>,
    pub text: String,
    pub time: Timestamp,
}

/// A twin: a plant, line, machine or part, and everything known about it now.
#[derive(Debug, Clone)]
pub struct Twin {
    pub id: TwinId,
    pub display_name: Option<String>,
    pub kind: EntityKind,
    pub entity_type: Option<String>,
    pub parent: Option<TwinIndex>,
    pub children: Vec<TwinIndex>,
    pub properties: Vec<Property>,
    pub alarms: Vec<ActiveAlarm>,
    pub events: Vec<LastEvent>,
    pub fragments: BTreeMap<Arc<str>, serde_json::Value>,
    /// Service health: `Some(true)` up, `Some(false)` down.
    pub health: Option<bool>,
    /// Local receive time of the latest measurement: telemetry is periodic, so its silence
    /// means stale. Events and health are sent on change and never make a twin stale.
    pub last_seen: Option<Timestamp>,
    pub status: Status,
    /// The colour of the worst rule range that applies, if the scene gives one.
    pub rule_color: Option<Rgba>,
    /// The worst severity among active, unshelved alarms.
    pub alarm_severity: Option<Severity>,
    /// Some active, unshelved alarm awaits acknowledgement (the part pulses).
    pub unacknowledged: bool,
    /// Active, unshelved alarms on this twin.
    pub active_alarms: u32,
    /// Data stopped (stale) or the service is down: whatever it shows is old. Kept apart from
    /// `status` because a twin in alarm can also have lost comms.
    pub comms_lost: bool,
    stale: bool,
}

impl Twin {
    fn new(id: TwinId) -> Self {
        Twin {
            id,
            display_name: None,
            kind: EntityKind::default(),
            entity_type: None,
            parent: None,
            children: Vec::new(),
            properties: Vec::new(),
            alarms: Vec::new(),
            events: Vec::new(),
            fragments: BTreeMap::new(),
            health: None,
            last_seen: None,
            status: Status::Unknown,
            rule_color: None,
            alarm_severity: None,
            unacknowledged: false,
            active_alarms: 0,
            comms_lost: false,
            stale: false,
        }
    }

    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| &*p.name == name)
    }

    /// The name to show: the registered display name, else the id.
    pub fn label(&self) -> &str {
        self.display_name.as_deref().unwrap_or(self.id.as_str())
    }

    fn derive_status(&self, index: TwinIndex, book: &AlarmBook) -> DerivedStatus {
        let heard_from = self.last_seen.is_some() || self.health.is_some() || !self.alarms.is_empty() || !self.events.is_empty();
        let mut status = if heard_from { Status::Ok } else { Status::Unknown };
        let mut color = None;
        let mut color_status = Status::Unknown;
        for property in &self.properties {
            status = status.max(property.rule_status);
            if property.rule_color.is_some() && property.rule_status >= color_status {
                color_status = property.rule_status;
                color = property.rule_color;
            }
        }
        let comms_lost = self.stale || self.health == Some(false);
        if comms_lost {
            status = status.max(Status::Stale);
        }
        let mut alarm_severity = None;
        let mut unacknowledged = false;
        let mut active_alarms = 0;
        for alarm in &self.alarms {
            let listed = book.get(index, &alarm.alarm_type);
            if listed.is_some_and(|a| a.is_shelved()) {
                continue; // shelved: the operator chose not to be reminded until it expires
            }
            status = status.max(alarm.severity.status());
            alarm_severity = alarm_severity.max(Some(alarm.severity));
            unacknowledged |= listed.is_some_and(|a| a.state.is_unacknowledged());
            active_alarms += 1;
        }
        // A rule colour only speaks for the twin while the rule's status is what it shows.
        let color = if color_status == status { color } else { None };
        DerivedStatus { status, color, alarm_severity, unacknowledged, active_alarms, comms_lost }
    }
}

#[derive(PartialEq)]
struct DerivedStatus {
    status: Status,
    color: Option<Rgba>,
    alarm_severity: Option<Severity>,
    unacknowledged: bool,
    active_alarms: u32,
    comms_lost: bool,
}

impl Twin {
    fn shown(&self) -> DerivedStatus {
        DerivedStatus {
            status: self.status,
            color: self.rule_color,
            alarm_severity: self.alarm_severity,
            unacknowledged: self.unacknowledged,
            active_alarms: self.active_alarms,
            comms_lost: self.comms_lost,
        }
    }
}

/// Settings that shape the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Samples kept per numeric property for trends.
    pub history_len: usize,
    /// A twin that received data but nothing for this long is stale.
    pub stale_after: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { history_len: 600, stale_after: Duration::from_secs(15) }
    }
}

/// Every twin and the hierarchy between them.
pub struct TwinStore {
    twins: Vec<Twin>,
    index: foldhash::HashMap<TwinId, TwinIndex>,
    rules: RuleSet,
    alarm_rules: AlarmRules,
    alarm_book: AlarmBook,
    config: StoreConfig,
    changed: Vec<TwinIndex>,
    changed_flag: Vec<bool>,
}

impl TwinStore {
    pub fn new(config: StoreConfig, rules: RuleSet) -> Self {
        TwinStore {
            twins: Vec::new(),
            index: foldhash::HashMap::default(),
            rules,
            alarm_rules: AlarmRules::default(),
            alarm_book: AlarmBook::default(),
            config,
            changed: Vec::new(),
            changed_flag: Vec::new(),
        }
    }

    /// Adds the scene's local alarm rules (before any data arrives).
    pub fn with_alarm_rules(mut self, alarm_rules: AlarmRules) -> Self {
        self.alarm_rules = alarm_rules;
        self
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    pub fn alarm_rules(&self) -> &AlarmRules {
        &self.alarm_rules
    }

    /// The alarm list and its history.
    pub fn alarm_book(&self) -> &AlarmBook {
        &self.alarm_book
    }

    /// Acknowledges an alarm locally (`who` goes into the history). False if there was
    /// nothing to acknowledge.
    pub fn acknowledge(&mut self, twin: TwinIndex, alarm_type: &Arc<str>, who: &str, now: Timestamp) -> bool {
        let done = self.alarm_book.acknowledge(twin, alarm_type, who, now);
        if done {
            self.refresh_status(twin);
        }
        done
    }

    /// Shelves an alarm until `until`: out of the list, the counts and the twin's status.
    pub fn shelve(&mut self, twin: TwinIndex, alarm_type: &Arc<str>, until: Timestamp, who: &str, now: Timestamp) -> bool {
        let done = self.alarm_book.shelve(twin, alarm_type, until, who, now);
        if done {
            self.refresh_status(twin);
        }
        done
    }

    pub fn unshelve(&mut self, twin: TwinIndex, alarm_type: &Arc<str>, who: &str, now: Timestamp) -> bool {
        let done = self.alarm_book.unshelve(twin, alarm_type, now, &format!("operator {who}"));
        if done {
            self.refresh_status(twin);
        }
        done
    }

    /// Brings back shelved alarms whose time is up.
    pub fn expire_shelving(&mut self, now: Timestamp) {
        for twin in self.alarm_book.expire_shelving(now) {
            self.refresh_status(twin);
        }
    }

    /// The MQTT client (re)connected: thin-edge alarms are retained, so the broker re-delivers
    /// every active one; those it does not were cleared (their retained message removed) while
    /// the client was away, and [`tick_alarms`](Self::tick_alarms) clears them after a window.
    pub fn begin_alarm_resync(&mut self, now: Timestamp) {
        self.alarm_book.begin_resync(now);
    }

    /// Time-based alarm work: shelving expiry and finishing a resync. Call it regularly (the
    /// viewer does once a second).
    pub fn tick_alarms(&mut self, now: Timestamp) {
        self.expire_shelving(now);
        for (twin, alarm_type) in self.alarm_book.finish_resync(now) {
            tracing::info!(twin = %self.twins[twin.0 as usize].id, %alarm_type, "alarm cleared while disconnected: not re-delivered after reconnecting");
            self.clear_alarm(twin, &alarm_type, now, "not retained by the broker after reconnecting (cleared while disconnected)");
            self.refresh_status(twin);
        }
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    pub fn len(&self) -> usize {
        self.twins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.twins.is_empty()
    }

    pub fn twins(&self) -> impl ExactSizeIterator<Item = (TwinIndex, &Twin)> {
        self.twins.iter().enumerate().map(|(i, t)| (TwinIndex(i as u32), t))
    }

    pub fn get(&self, index: TwinIndex) -> &Twin {
        &self.twins[index.0 as usize]
    }

    pub fn find(&self, id: &str) -> Option<TwinIndex> {
        self.index.get(id).copied()
    }

    pub fn twin(&self, id: &str) -> Option<&Twin> {
        self.find(id).map(|i| self.get(i))
    }

    /// Twins without a parent, in order of appearance.
    pub fn roots(&self) -> impl Iterator<Item = TwinIndex> + '_ {
        self.twins().filter(|(_, t)| t.parent.is_none()).map(|(i, _)| i)
    }

    /// The ids from the root down to `index`, inclusive.
    pub fn path(&self, index: TwinIndex) -> Vec<&TwinId> {
        let mut path = vec![&self.get(index).id];
        let mut cursor = self.get(index).parent;
        while let Some(parent) = cursor {
            path.push(&self.get(parent).id);
            cursor = self.get(parent).parent;
            if path.len() > self.twins.len() {
                break; // defensive: cycles are refused on insert, never loop forever
            }
        }
        path.reverse();
        path
    }

    /// Declares a twin known before any data arrives (from the scene's model or manifest).
    pub fn declare(&mut self, id: &str, parent: Option<&str>, display_name: Option<&str>) -> TwinIndex {
        let index = self.ensure(&TwinId::new(id));
        if let Some(parent) = parent {
            let parent_index = self.ensure(&TwinId::new(parent));
            self.set_parent(index, parent_index);
        }
        if let Some(name) = display_name {
            self.twins[index.0 as usize].display_name = Some(name.to_owned());
        }
        index
    }

    /// Twins whose status or colour changed since the last call, each once.
    pub fn take_changed(&mut self) -> Vec<TwinIndex> {
        let mut changed = Vec::new();
        self.take_changed_into(&mut changed);
        changed
    }

    /// Like [`take_changed`](Self::take_changed), into a buffer the caller reuses every frame.
    pub fn take_changed_into(&mut self, out: &mut Vec<TwinIndex>) {
        out.clear();
        for index in &self.changed {
            self.changed_flag[index.0 as usize] = false;
        }
        std::mem::swap(out, &mut self.changed);
    }

    /// Marks every twin changed, so views restyle all of them (after the store is replaced).
    pub fn mark_all_changed(&mut self) {
        self.changed.clear();
        for i in 0..self.twins.len() {
            self.changed_flag[i] = true;
            self.changed.push(TwinIndex(i as u32));
        }
    }

    /// Applies updates in order; `now` is when they were received (live) or replayed.
    pub fn apply_all(&mut self, updates: &[TwinUpdate], now: Timestamp) {
        for update in updates {
            self.apply(update, now);
        }
    }

    /// Applies one update. Never fails: anything a decoder let through is valid state.
    pub fn apply(&mut self, update: &TwinUpdate, now: Timestamp) {
        if let TwinUpdate::Register { implicit: true, twin, .. } = update
            && self.index.contains_key(twin)
        {
            return;
        }
        let index = self.ensure(update.twin());
        match update {
            TwinUpdate::Register { parent, kind, display_name, entity_type, .. } => {
                if let Some(parent) = parent {
                    let parent_index = self.ensure(parent);
                    self.set_parent(index, parent_index);
                }
                let twin = &mut self.twins[index.0 as usize];
                twin.kind = *kind;
                if display_name.is_some() {
                    twin.display_name.clone_from(display_name);
                }
                if entity_type.is_some() {
                    twin.entity_type.clone_from(entity_type);
                }
            }
            TwinUpdate::Measurement { name, value, time, .. } => {
                let history_len = self.config.history_len;
                let twin = &mut self.twins[index.0 as usize];
                let position = match twin.properties.iter().position(|p| Arc::ptr_eq(&p.name, name) || p.name == *name) {
                    Some(position) => position,
                    None => {
                        let rule = self.rules.find(twin.id.as_str(), name);
                        let limits = self.alarm_rules.find(twin.id.as_str(), name);
                        twin.properties.push(Property::new(name.clone(), rule, limits, history_len));
                        twin.properties.len() - 1
                    }
                };
                let property = &mut twin.properties[position];
                property.value = *value;
                property.time = *time;
                property.history.push(*time, *value);
                if let Some(rule) = property.rule {
                    let (status, color) = self.rules.evaluate(rule, *value);
                    property.rule_status = status;
                    property.rule_color = color;
                }
                let mut changes = Vec::new();
                for (rule, state) in &mut property.limits {
                    if let Some(change) = self.alarm_rules.get(*rule).step(state, *value, *time) {
                        changes.push((*rule, change));
                    }
                }
                for (rule, change) in changes {
                    self.apply_limit_change(index, rule, change, *value, *time);
                }
                self.mark_seen(index, now);
            }
            TwinUpdate::Unit { name, unit, .. } => {
                let twin = &mut self.twins[index.0 as usize];
                if let Some(property) = twin.properties.iter_mut().find(|p| p.name == *name) {
                    property.unit = Some(unit.clone());
                } else {
                    // Units may arrive (retained) before the first value: keep a placeholder.
                    let rule = self.rules.find(twin.id.as_str(), name);
                    let limits = self.alarm_rules.find(twin.id.as_str(), name);
                    let mut property = Property::new(name.clone(), rule, limits, self.config.history_len);
                    property.unit = Some(unit.clone());
                    twin.properties.push(property);
                }
            }
            TwinUpdate::Event { event_type, text, time, .. } => {
                let twin = &mut self.twins[index.0 as usize];
                let event = LastEvent { event_type: event_type.clone(), text: text.clone(), time: *time };
                match twin.events.iter_mut().find(|e| e.event_type == *event_type) {
                    Some(existing) => *existing = event,
                    None => twin.events.push(event),
                }
            }
            TwinUpdate::AlarmRaised { alarm_type, severity, text, time, .. } => {
                self.raise_alarm(index, ActiveAlarm { alarm_type: alarm_type.clone(), severity: *severity, text: text.clone(), time: *time, source: AlarmSource::Device }, "device");
            }
            TwinUpdate::AlarmCleared { alarm_type, time, .. } => {
                self.clear_alarm(index, alarm_type, *time, "device");
            }
            TwinUpdate::Fragment { name, value, .. } => {
                let twin = &mut self.twins[index.0 as usize];
                match value {
                    Some(value) => {
                        twin.fragments.insert(name.clone(), value.clone());
                    }
                    None => {
                        twin.fragments.remove(name);
                    }
                }
            }
            TwinUpdate::Health { up, .. } => {
                self.twins[index.0 as usize].health = Some(*up);
            }
        }
        self.refresh_status(index);
    }

    /// Marks twins stale that received data once but nothing for `stale_after`.
    /// Call it regularly (the viewer does once a second); it is O(twins).
    pub fn mark_stale(&mut self, now: Timestamp) {
        let limit = self.config.stale_after.as_secs_f64();
        for i in 0..self.twins.len() {
            let twin = &mut self.twins[i];
            let stale = twin.last_seen.is_some_and(|seen| now.seconds_since(seen) > limit);
            if stale != twin.stale {
                twin.stale = stale;
                self.refresh_status(TwinIndex(i as u32));
            }
        }
    }

    fn mark_seen(&mut self, index: TwinIndex, now: Timestamp) {
        let twin = &mut self.twins[index.0 as usize];
        twin.last_seen = Some(twin.last_seen.map_or(now, |seen| seen.max(now)));
        twin.stale = false;
    }

    fn raise_alarm(&mut self, index: TwinIndex, alarm: ActiveAlarm, cause: &str) {
        let twin = &mut self.twins[index.0 as usize];
        let activation = Activation {
            twin: index,
            twin_id: &twin.id,
            alarm_type: &alarm.alarm_type,
            severity: alarm.severity,
            text: &alarm.text,
            source: alarm.source,
            time: alarm.time,
        };
        self.alarm_book.activate(activation, cause);
        match twin.alarms.iter_mut().find(|a| a.alarm_type == alarm.alarm_type) {
            Some(existing) => *existing = alarm,
            None => twin.alarms.push(alarm),
        }
    }

    fn clear_alarm(&mut self, index: TwinIndex, alarm_type: &Arc<str>, time: Timestamp, cause: &str) {
        self.alarm_book.clear(index, alarm_type, time, cause);
        self.twins[index.0 as usize].alarms.retain(|a| a.alarm_type != *alarm_type);
    }

    fn apply_limit_change(&mut self, index: TwinIndex, rule: usize, change: LimitChange, value: f64, time: Timestamp) {
        let rule = self.alarm_rules.get(rule);
        let (alarm_type, cause) = (rule.alarm_type.clone(), format!("rule {}", rule.alarm_type));
        match change {
            LimitChange::Activated => {
                let text = format!("{} (value {value:.2})", rule.text);
                let alarm = ActiveAlarm { alarm_type, severity: rule.severity, text, time, source: AlarmSource::Rule };
                self.raise_alarm(index, alarm, &cause);
            }
            LimitChange::Cleared => self.clear_alarm(index, &alarm_type, time, &cause),
        }
    }

    fn refresh_status(&mut self, index: TwinIndex) {
        let twin = &mut self.twins[index.0 as usize];
        let derived = twin.derive_status(index, &self.alarm_book);
        if derived != twin.shown() {
            let DerivedStatus { status, color, alarm_severity, unacknowledged, active_alarms, comms_lost } = derived;
            twin.comms_lost = comms_lost;
            twin.status = status;
            twin.rule_color = color;
            twin.alarm_severity = alarm_severity;
            twin.unacknowledged = unacknowledged;
            twin.active_alarms = active_alarms;
            if !self.changed_flag[index.0 as usize] {
                self.changed_flag[index.0 as usize] = true;
                self.changed.push(index);
            }
        }
    }

    fn ensure(&mut self, id: &TwinId) -> TwinIndex {
        if let Some(index) = self.index.get(id) {
            return *index;
        }
        let index = TwinIndex(self.twins.len() as u32);
        self.twins.push(Twin::new(id.clone()));
        self.changed_flag.push(false);
        self.index.insert(id.clone(), index);
        index
    }

    /// Moves `child` under `parent`, unless that would make a cycle (then it is ignored).
    fn set_parent(&mut self, child: TwinIndex, parent: TwinIndex) {
        if self.twins[child.0 as usize].parent == Some(parent) {
            return;
        }
        let mut cursor = Some(parent);
        while let Some(ancestor) = cursor {
            if ancestor == child {
                tracing::warn!(
                    child = %self.twins[child.0 as usize].id,
                    parent = %self.twins[parent.0 as usize].id,
                    "ignored a parent that would make the twin hierarchy a cycle"
                );
                return;
            }
            cursor = self.twins[ancestor.0 as usize].parent;
        }
        if let Some(old) = self.twins[child.0 as usize].parent {
            self.twins[old.0 as usize].children.retain(|c| *c != child);
        }
        self.twins[child.0 as usize].parent = Some(parent);
        self.twins[parent.0 as usize].children.push(child);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;

    fn store() -> TwinStore {
        TwinStore::new(StoreConfig { history_len: 4, stale_after: Duration::from_secs(10) }, RuleSet::default())
    }

    fn measurement(twin: &str, name: &str, value: f64, t: i64) -> TwinUpdate {
        TwinUpdate::Measurement { twin: twin.into(), name: name.into(), value, time: Timestamp(t) }
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
        for (twin, parent) in [("plant", None), ("line1", Some("plant")), ("pump1", Some("line1")), ("bearing", Some("pump1"))] {
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
            store.apply(&measurement("pump1", "temperature", i as f64, i), Timestamp(i));
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
        store.apply(&TwinUpdate::Unit { twin: "p".into(), name: "temperature".into(), unit: "°C".into() }, Timestamp(0));
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
        store.apply(&TwinUpdate::AlarmCleared { twin: "p".into(), alarm_type: "overheat".into(), time: Timestamp(2) }, Timestamp(2));
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
        store.apply(&measurement("p", "t", 1.0, 12_000_000), Timestamp(12_000_000));
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
        store.apply(&TwinUpdate::Health { twin: "svc".into(), up: false, time: Timestamp(0) }, Timestamp(0));
        assert_eq!(store.twin("svc").unwrap().status, Status::Stale);
    }

    #[test]
    fn health_and_events_are_sent_on_change_and_never_go_stale() {
        let mut store = store();
        store.apply(&TwinUpdate::Health { twin: "svc".into(), up: true, time: Timestamp(0) }, Timestamp(0));
        let event = TwinUpdate::Event { twin: "door".into(), event_type: "opened".into(), text: "Door opened".into(), time: Timestamp(0) };
        store.apply(&event, Timestamp(0));
        store.mark_stale(Timestamp(3_600_000_000));
        assert_eq!(store.twin("svc").unwrap().status, Status::Ok);
        assert_eq!(store.twin("door").unwrap().status, Status::Ok);
    }

    #[test]
    fn fragments_set_and_remove() {
        let mut store = store();
        let set = TwinUpdate::Fragment { twin: "p".into(), name: "maker".into(), value: Some(serde_json::json!({"name": "ACME"})) };
        store.apply(&set, Timestamp(0));
        assert_eq!(store.twin("p").unwrap().fragments.len(), 1);
        store.apply(&TwinUpdate::Fragment { twin: "p".into(), name: "maker".into(), value: None }, Timestamp(0));
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
            store.apply(&measurement("pump", "temperature", value, t * second), Timestamp(t * second));
        }
        let raise = TwinUpdate::AlarmRaised { twin: "pump".into(), alarm_type: "cavitation".into(), severity: Severity::Critical, text: "c".into(), time: Timestamp(2 * second) };
        store.apply(&raise, Timestamp(2 * second));
        let pump = store.find("pump").unwrap();
        let book = store.alarm_book();
        let listed: Vec<(&str, AlarmSource)> = book.sorted().into_iter().map(|i| (&*book.alarms()[i].alarm_type, book.alarms()[i].source)).collect();
        assert_eq!(listed, [("cavitation", AlarmSource::Device), ("overheat", AlarmSource::Rule)], "critical first");
        let twin = store.get(pump);
        assert_eq!((twin.status, twin.alarm_severity, twin.unacknowledged, twin.active_alarms), (Status::Alarm, Some(Severity::Critical), true, 2));

        // Acknowledge both: still in alarm, no longer unacknowledged (it stops pulsing).
        store.take_changed();
        assert!(store.acknowledge(pump, &"cavitation".into(), "op", Timestamp(3 * second)));
        assert!(store.acknowledge(pump, &"overheat".into(), "op", Timestamp(3 * second)));
        assert_eq!(store.take_changed(), vec![pump], "acknowledging restyles the part");
        assert!(!store.get(pump).unacknowledged);
        assert_eq!(store.get(pump).status, Status::Alarm);

        // thin-edge clears (empty retained payload): acknowledged, so back to normal.
        store.apply(&TwinUpdate::AlarmCleared { twin: "pump".into(), alarm_type: "cavitation".into(), time: Timestamp(4 * second) }, Timestamp(4 * second));
        assert!(store.alarm_book().get(pump, &"cavitation".into()).is_none());
        // The rule alarm clears only below 80 - 5.
        store.apply(&measurement("pump", "temperature", 77.0, 5 * second), Timestamp(5 * second));
        assert_eq!(store.alarm_book().get(pump, &"overheat".into()).unwrap().state, AlarmState::ActiveAcknowledged);
        store.apply(&measurement("pump", "temperature", 74.0, 6 * second), Timestamp(6 * second));
        assert!(store.alarm_book().alarms().is_empty());
        assert_eq!(store.get(pump).status, Status::Ok);
        let causes: Vec<&str> = store.alarm_book().history().iter().map(|t| t.cause.as_str()).collect();
        assert_eq!(causes, ["rule overheat", "device", "operator op", "operator op", "device", "rule overheat"]);
    }

    #[test]
    fn unacknowledged_clear_stays_listed_and_shelving_expires() {
        use crate::alarms::AlarmState;
        let mut store = store();
        let raise = TwinUpdate::AlarmRaised { twin: "p".into(), alarm_type: "leak".into(), severity: Severity::Minor, text: "l".into(), time: Timestamp(0) };
        store.apply(&raise, Timestamp(0));
        let p = store.find("p").unwrap();
        assert!(store.shelve(p, &"leak".into(), Timestamp(100), "op", Timestamp(0)));
        assert_eq!(store.get(p).status, Status::Ok, "shelved alarms do not colour the twin");
        assert_eq!(store.get(p).active_alarms, 0);
        store.expire_shelving(Timestamp(100));
        assert_eq!(store.get(p).status, Status::Warning, "back when the shelving ran out");
        store.apply(&TwinUpdate::AlarmCleared { twin: "p".into(), alarm_type: "leak".into(), time: Timestamp(5) }, Timestamp(5));
        assert_eq!(store.alarm_book().get(p, &"leak".into()).unwrap().state, AlarmState::ReturnedUnacknowledged);
        assert!(store.get(p).status < Status::Warning, "the condition is gone");
        assert!(store.acknowledge(p, &"leak".into(), "op", Timestamp(6)));
        assert!(store.alarm_book().alarms().is_empty());
    }

    #[test]
    fn alarms_cleared_while_disconnected_are_cleared_after_the_resync_window() {
        use crate::alarms::AlarmState;
        let mut store = store().with_alarm_rules(alarm_rules());
        let second = 1_000_000;
        let raise = |twin: &str, alarm_type: &str| TwinUpdate::AlarmRaised { twin: twin.into(), alarm_type: alarm_type.into(), severity: Severity::Major, text: String::new(), time: Timestamp(0) };
        store.apply(&raise("pump", "kept"), Timestamp(0));
        store.apply(&raise("pump", "gone"), Timestamp(0));
        store.apply(&measurement("pump", "temperature", 95.0, 0), Timestamp(0));
        store.apply(&measurement("pump", "temperature", 95.0, 2 * second), Timestamp(2 * second)); // the rule alarm
        let pump = store.find("pump").unwrap();
        assert_eq!(store.get(pump).active_alarms, 3);

        // Reconnect at 10 s: the broker re-delivers only "kept" (retained).
        store.begin_alarm_resync(Timestamp(10 * second));
        store.apply(&raise("pump", "kept"), Timestamp(10 * second));
        store.tick_alarms(Timestamp(14 * second));
        assert_eq!(store.get(pump).active_alarms, 3, "nothing happens inside the window");
        store.tick_alarms(Timestamp(15 * second));
        let book = store.alarm_book();
        assert_eq!(book.get(pump, &"gone".into()).unwrap().state, AlarmState::ReturnedUnacknowledged, "cleared, still to acknowledge");
        assert!(book.history().back().unwrap().cause.contains("not retained by the broker"));
        assert_eq!(book.get(pump, &"kept".into()).unwrap().state, AlarmState::ActiveUnacknowledged);
        assert_eq!(book.get(pump, &"overheat".into()).unwrap().state, AlarmState::ActiveUnacknowledged, "local rule alarms are not the broker's");
        assert_eq!(store.get(pump).active_alarms, 2);
        store.tick_alarms(Timestamp(30 * second));
        assert_eq!(store.get(pump).active_alarms, 2, "a resync finishes once");
    }
}
