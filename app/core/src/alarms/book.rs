//! The alarm book: every alarm an operator must see or acknowledge, with its ISA-18.2 state
//! and shelving, and the history of every transition.
//!
//! Device alarms (thin-edge `a/<type>`) and local limit alarms (manifest `[[alarm]]` rules)
//! arrive here the same way, so one list and one history serve both.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;

use super::state::{AlarmEvent, AlarmState};
use crate::time::Timestamp;
use crate::twin::{Severity, TwinId, TwinIndex};

/// Where an alarm comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlarmSource {
    /// Raised by the device over MQTT (thin-edge `a/<type>`).
    Device,
    /// Raised by a local limit rule of the scene manifest.
    Rule,
}

impl AlarmSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmSource::Device => "device",
            AlarmSource::Rule => "rule",
        }
    }
}

/// An alarm in the list: active, or awaiting acknowledgement.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    pub twin: TwinIndex,
    pub twin_id: TwinId,
    pub alarm_type: Arc<str>,
    pub severity: Severity,
    pub text: String,
    pub source: AlarmSource,
    pub state: AlarmState,
    /// When the condition last became active.
    pub activated: Timestamp,
    /// When the state last changed.
    pub changed: Timestamp,
    /// Hidden from the list and from status until then.
    pub shelved_until: Option<Timestamp>,
    pub acknowledged_by: Option<String>,
}

impl Alarm {
    pub fn is_shelved(&self) -> bool {
        self.shelved_until.is_some()
    }
}

/// What happened to an alarm, for the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmAction {
    Activate,
    Escalate,
    Clear,
    Acknowledge,
    Shelve,
    Unshelve,
}

impl AlarmAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmAction::Activate => "activate",
            AlarmAction::Escalate => "escalate",
            AlarmAction::Clear => "clear",
            AlarmAction::Acknowledge => "acknowledge",
            AlarmAction::Shelve => "shelve",
            AlarmAction::Unshelve => "unshelve",
        }
    }
}

/// One entry of the alarm history.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmTransition {
    pub time: Timestamp,
    pub twin: TwinId,
    pub alarm_type: Arc<str>,
    pub severity: Severity,
    pub action: AlarmAction,
    pub from: AlarmState,
    pub to: AlarmState,
    /// Who or what caused it: `device`, `rule <type>`, `operator <name>`, `shelving expired`.
    pub cause: String,
    pub text: String,
}

/// Alarms in the list per severity, for the always-visible counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlarmCounts {
    /// Active, unshelved alarms, indexed by `Severity as usize`.
    pub active: [usize; 4],
    /// Active or returned alarms nobody has acknowledged (unshelved).
    pub unacknowledged: usize,
    pub shelved: usize,
}

/// Transitions kept in memory; older ones are dropped (and counted) first.
pub const HISTORY_LIMIT: usize = 200_000;

/// How long after a (re)connect the broker's retained alarms are collected before device
/// alarms it did not re-deliver are cleared (thin-edge's Cumulocity mapper syncs alarms the
/// same way, with the same 5 s window).
pub const RESYNC_WINDOW_US: i64 = 5_000_000;

/// The alarm list and its history.
#[derive(Debug, Clone)]
pub struct AlarmBook {
    alarms: Vec<Alarm>,
    index: foldhash::HashMap<(TwinIndex, Arc<str>), usize>,
    history: VecDeque<AlarmTransition>,
    dropped_history: u64,
    generation: u64,
    resync: Option<Resync>,
}

impl Default for AlarmBook {
    fn default() -> Self {
        // Every book counts from its own range, so a view caching by generation can never
        // mistake a replaced book (after a replay seek) for the one it cached.
        static NEXT_BOOK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let generation = NEXT_BOOK.fetch_add(1, std::sync::atomic::Ordering::Relaxed) << 32;
        AlarmBook {
            alarms: Vec::new(),
            index: Default::default(),
            history: VecDeque::new(),
            dropped_history: 0,
            generation,
            resync: None,
        }
    }
}

/// Device alarms re-delivered since a (re)connect.
#[derive(Debug, Clone)]
struct Resync {
    started: Timestamp,
    confirmed: foldhash::HashSet<(TwinIndex, Arc<str>)>,
}

/// What an activation carries.
#[derive(Debug, Clone)]
pub struct Activation<'a> {
    pub twin: TwinIndex,
    pub twin_id: &'a TwinId,
    pub alarm_type: &'a Arc<str>,
    pub severity: Severity,
    pub text: &'a str,
    pub source: AlarmSource,
    pub time: Timestamp,
}

impl AlarmBook {
    /// Alarms in the list, in no particular order (see [`sorted`](Self::sorted)).
    pub fn alarms(&self) -> &[Alarm] {
        &self.alarms
    }

    pub fn get(&self, twin: TwinIndex, alarm_type: &Arc<str>) -> Option<&Alarm> {
        self.index
            .get(&(twin, alarm_type.clone()))
            .map(|&i| &self.alarms[i])
    }

    /// Grows with every change: views rebuild their lists only when it moved.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn history(&self) -> &VecDeque<AlarmTransition> {
        &self.history
    }

    /// Transitions dropped from the front of the history to keep it bounded.
    pub fn dropped_history(&self) -> u64 {
        self.dropped_history
    }

    /// Indices into [`alarms`](Self::alarms), sorted as the list shows them: state
    /// (unacknowledged active first), then severity, then newest first.
    pub fn sorted(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.alarms.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&self.alarms[a], &self.alarms[b]);
            b.state
                .cmp(&a.state)
                .then(b.severity.cmp(&a.severity))
                .then(b.changed.cmp(&a.changed))
                .then(a.twin_id.cmp(&b.twin_id))
        });
        order
    }

    pub fn counts(&self) -> AlarmCounts {
        let mut counts = AlarmCounts::default();
        for alarm in &self.alarms {
            if alarm.is_shelved() {
                counts.shelved += 1;
                continue;
            }
            if alarm.state.is_active() {
                counts.active[alarm.severity as usize] += 1;
            }
            if alarm.state.is_unacknowledged() {
                counts.unacknowledged += 1;
            }
        }
        counts
    }

    /// The client (re)connected at `now`: device alarms must be re-delivered (retained) within
    /// [`RESYNC_WINDOW_US`] or [`finish_resync`](Self::finish_resync) names them.
    pub fn begin_resync(&mut self, now: Timestamp) {
        self.resync = Some(Resync {
            started: now,
            confirmed: Default::default(),
        });
    }

    /// Once the window has passed: the active device alarms the broker did not re-deliver,
    /// which were cleared while the client was away. Empty while the window is open.
    pub fn finish_resync(&mut self, now: Timestamp) -> Vec<(TwinIndex, Arc<str>)> {
        let Some(resync) = self
            .resync
            .take_if(|r| now.0 - r.started.0 >= RESYNC_WINDOW_US)
        else {
            return Vec::new();
        };
        self.alarms
            .iter()
            .filter(|a| a.source == AlarmSource::Device && a.state.is_active())
            .map(|a| (a.twin, a.alarm_type.clone()))
            .filter(|key| !resync.confirmed.contains(key))
            .collect()
    }

    /// A condition became active, or an active one was raised again (new text or severity).
    pub fn activate(&mut self, activation: Activation<'_>, cause: &str) {
        let key = (activation.twin, activation.alarm_type.clone());
        if let Some(resync) = &mut self.resync {
            resync.confirmed.insert(key.clone());
        }
        match self.index.get(&key).copied() {
            Some(i) => {
                let alarm = &mut self.alarms[i];
                let event = if alarm.state.is_active() && activation.severity > alarm.severity {
                    AlarmEvent::Escalate
                } else {
                    AlarmEvent::Activate
                };
                alarm.text = activation.text.to_owned();
                let escalated = event == AlarmEvent::Escalate;
                alarm.severity = activation.severity;
                if let Some(to) = alarm.state.next(event) {
                    if !escalated {
                        alarm.activated = activation.time;
                    }
                    let action = if escalated {
                        AlarmAction::Escalate
                    } else {
                        AlarmAction::Activate
                    };
                    self.transition(i, to, action, activation.time, cause);
                } else {
                    self.generation += 1;
                }
            }
            None => {
                let alarm = Alarm {
                    twin: activation.twin,
                    twin_id: activation.twin_id.clone(),
                    alarm_type: activation.alarm_type.clone(),
                    severity: activation.severity,
                    text: activation.text.to_owned(),
                    source: activation.source,
                    state: AlarmState::Normal,
                    activated: activation.time,
                    changed: activation.time,
                    shelved_until: None,
                    acknowledged_by: None,
                };
                self.alarms.push(alarm);
                self.index.insert(key, self.alarms.len() - 1);
                self.transition(
                    self.alarms.len() - 1,
                    AlarmState::ActiveUnacknowledged,
                    AlarmAction::Activate,
                    activation.time,
                    cause,
                );
            }
        }
    }

    /// The condition cleared. Returns false when there was no such active alarm.
    pub fn clear(
        &mut self,
        twin: TwinIndex,
        alarm_type: &Arc<str>,
        time: Timestamp,
        cause: &str,
    ) -> bool {
        self.apply_event(
            twin,
            alarm_type,
            AlarmEvent::Clear,
            AlarmAction::Clear,
            time,
            cause,
        )
    }

    /// An operator acknowledged it. Returns false when there was nothing to acknowledge.
    pub fn acknowledge(
        &mut self,
        twin: TwinIndex,
        alarm_type: &Arc<str>,
        who: &str,
        time: Timestamp,
    ) -> bool {
        let cause = format!("operator {who}");
        let Some(&i) = self.index.get(&(twin, alarm_type.clone())) else {
            return false;
        };
        if self.alarms[i].state.next(AlarmEvent::Acknowledge).is_none() {
            return false;
        }
        self.alarms[i].acknowledged_by = Some(who.to_owned());
        self.apply_event(
            twin,
            alarm_type,
            AlarmEvent::Acknowledge,
            AlarmAction::Acknowledge,
            time,
            &cause,
        )
    }

    /// Another operator acknowledged the same alarm at about the same time (a shared
    /// session): every viewer keeps the earlier acknowledgement (on a tie, the name first in
    /// order), so all agree on who it was. Returns whether the record changed.
    pub fn settle_acknowledgement(
        &mut self,
        twin: TwinIndex,
        alarm_type: &Arc<str>,
        who: &str,
        time: Timestamp,
    ) -> bool {
        let Some(&i) = self.index.get(&(twin, alarm_type.clone())) else {
            return false;
        };
        let alarm = &self.alarms[i];
        let Some(current) = alarm.acknowledged_by.clone() else {
            return false;
        };
        let (twin_id, kind) = (alarm.twin_id.clone(), alarm.alarm_type.clone());
        let Some(entry) = self.history.iter_mut().rev().find(|t| {
            t.action == AlarmAction::Acknowledge && t.twin == twin_id && t.alarm_type == kind
        }) else {
            return false;
        };
        if (time, who) >= (entry.time, current.as_str()) {
            return false;
        }
        entry.time = time;
        entry.cause = format!("operator {who}");
        self.alarms[i].acknowledged_by = Some(who.to_owned());
        self.generation += 1;
        true
    }

    /// Hides an alarm from the list and from status until `until`.
    pub fn shelve(
        &mut self,
        twin: TwinIndex,
        alarm_type: &Arc<str>,
        until: Timestamp,
        who: &str,
        time: Timestamp,
    ) -> bool {
        let Some(&i) = self.index.get(&(twin, alarm_type.clone())) else {
            return false;
        };
        if until <= time {
            return false;
        }
        self.alarms[i].shelved_until = Some(until);
        let state = self.alarms[i].state;
        self.record(
            i,
            state,
            AlarmAction::Shelve,
            time,
            &format!("operator {who}"),
        );
        true
    }

    /// Puts a shelved alarm back in the list.
    pub fn unshelve(
        &mut self,
        twin: TwinIndex,
        alarm_type: &Arc<str>,
        time: Timestamp,
        cause: &str,
    ) -> bool {
        let Some(&i) = self.index.get(&(twin, alarm_type.clone())) else {
            return false;
        };
        if self.alarms[i].shelved_until.take().is_none() {
            return false;
        }
        let state = self.alarms[i].state;
        self.record(i, state, AlarmAction::Unshelve, time, cause);
        true
    }

    /// Unshelves every alarm whose shelving ran out by `now`; returns their twins.
    pub fn expire_shelving(&mut self, now: Timestamp) -> Vec<TwinIndex> {
        let expired: Vec<(TwinIndex, Arc<str>)> = self
            .alarms
            .iter()
            .filter(|a| a.shelved_until.is_some_and(|until| until <= now))
            .map(|a| (a.twin, a.alarm_type.clone()))
            .collect();
        for (twin, alarm_type) in &expired {
            self.unshelve(*twin, alarm_type, now, "shelving expired");
        }
        expired.into_iter().map(|(twin, _)| twin).collect()
    }

    /// Writes the history as CSV (RFC 4180), oldest first.
    pub fn write_history_csv(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(out, "time,twin,type,severity,action,from,to,cause,text")?;
        for t in &self.history {
            writeln!(
                out,
                "{},{},{},{},{},{},{},{},{}",
                t.time,
                csv_field(t.twin.as_str()),
                csv_field(&t.alarm_type),
                t.severity.as_str(),
                t.action.as_str(),
                t.from.as_str(),
                t.to.as_str(),
                csv_field(&t.cause),
                csv_field(&t.text)
            )?;
        }
        Ok(())
    }

    fn apply_event(
        &mut self,
        twin: TwinIndex,
        alarm_type: &Arc<str>,
        event: AlarmEvent,
        action: AlarmAction,
        time: Timestamp,
        cause: &str,
    ) -> bool {
        let Some(&i) = self.index.get(&(twin, alarm_type.clone())) else {
            return false;
        };
        match self.alarms[i].state.next(event) {
            Some(to) => {
                self.transition(i, to, action, time, cause);
                true
            }
            None => false,
        }
    }

    fn transition(
        &mut self,
        i: usize,
        to: AlarmState,
        action: AlarmAction,
        time: Timestamp,
        cause: &str,
    ) {
        self.record(i, to, action, time, cause);
        let alarm = &mut self.alarms[i];
        alarm.state = to;
        alarm.changed = time;
        if to == AlarmState::ActiveUnacknowledged {
            alarm.acknowledged_by = None;
        }
        if to == AlarmState::Normal {
            let removed = self.alarms.swap_remove(i);
            self.index.remove(&(removed.twin, removed.alarm_type));
            if let Some(moved) = self.alarms.get(i) {
                self.index.insert((moved.twin, moved.alarm_type.clone()), i);
            }
        }
    }

    fn record(
        &mut self,
        i: usize,
        to: AlarmState,
        action: AlarmAction,
        time: Timestamp,
        cause: &str,
    ) {
        let alarm = &self.alarms[i];
        if self.history.len() == HISTORY_LIMIT {
            self.history.pop_front();
            self.dropped_history += 1;
        }
        self.history.push_back(AlarmTransition {
            time,
            twin: alarm.twin_id.clone(),
            alarm_type: alarm.alarm_type.clone(),
            severity: alarm.severity,
            action,
            from: alarm.state,
            to,
            cause: cause.to_owned(),
            text: alarm.text.clone(),
        });
        self.generation += 1;
    }
}

/// Quotes a CSV field when it holds a separator, quote or line break.
/// One CSV cell. Text from devices that a spreadsheet would run as a formula (starting with
/// `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, so it shows as text.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUMP: TwinIndex = TwinIndex(3);

    fn activate(book: &mut AlarmBook, severity: Severity, t: i64) {
        let id = TwinId::from("pump1");
        let alarm_type: Arc<str> = "overheat".into();
        let activation = Activation {
            twin: PUMP,
            twin_id: &id,
            alarm_type: &alarm_type,
            severity,
            text: "too hot, \"really\"",
            source: AlarmSource::Device,
            time: Timestamp(t),
        };
        book.activate(activation, "device");
    }

    fn state(book: &AlarmBook) -> Option<AlarmState> {
        book.get(PUMP, &"overheat".into()).map(|a| a.state)
    }

    #[test]
    fn lifecycle_through_the_book_with_history() {
        let mut book = AlarmBook::default();
        let overheat: Arc<str> = "overheat".into();
        activate(&mut book, Severity::Major, 1);
        assert_eq!(state(&book), Some(AlarmState::ActiveUnacknowledged));
        activate(&mut book, Severity::Major, 2);
        assert_eq!(
            book.history().len(),
            1,
            "a repeated raise is not a transition"
        );
        assert!(book.acknowledge(PUMP, &overheat, "alice", Timestamp(3)));
        assert!(
            !book.acknowledge(PUMP, &overheat, "alice", Timestamp(3)),
            "nothing left to acknowledge"
        );
        assert_eq!(
            book.get(PUMP, &overheat)
                .unwrap()
                .acknowledged_by
                .as_deref(),
            Some("alice")
        );
        activate(&mut book, Severity::Critical, 4);
        assert_eq!(
            state(&book),
            Some(AlarmState::ActiveUnacknowledged),
            "escalation annunciates again"
        );
        assert!(book.clear(PUMP, &overheat, Timestamp(5), "device"));
        assert_eq!(
            state(&book),
            Some(AlarmState::ReturnedUnacknowledged),
            "stays listed until acknowledged"
        );
        assert!(book.acknowledge(PUMP, &overheat, "bob", Timestamp(6)));
        assert_eq!(state(&book), None, "normal alarms leave the list");
        let actions: Vec<&str> = book.history().iter().map(|t| t.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "activate",
                "acknowledge",
                "escalate",
                "clear",
                "acknowledge"
            ]
        );
        let mut csv = Vec::new();
        book.write_history_csv(&mut csv).unwrap();
        let csv = String::from_utf8(csv).unwrap();
        assert_eq!(csv.lines().count(), 6);
        assert!(csv.lines().nth(2).unwrap().contains(",acknowledge,active-unacknowledged,active-acknowledged,operator alice,\"too hot, \"\"really\"\"\""), "{csv}");
    }

    #[test]
    fn shelving_hides_until_expiry() {
        let mut book = AlarmBook::default();
        let overheat: Arc<str> = "overheat".into();
        activate(&mut book, Severity::Minor, 0);
        assert_eq!(book.counts().active[Severity::Minor as usize], 1);
        assert!(
            !book.shelve(PUMP, &overheat, Timestamp(0), "alice", Timestamp(0)),
            "expiry must be in the future"
        );
        assert!(book.shelve(PUMP, &overheat, Timestamp(60), "alice", Timestamp(0)));
        assert_eq!(
            book.counts(),
            AlarmCounts {
                active: [0; 4],
                unacknowledged: 0,
                shelved: 1
            }
        );
        assert!(book.expire_shelving(Timestamp(59)).is_empty());
        assert_eq!(book.expire_shelving(Timestamp(60)), vec![PUMP]);
        assert_eq!(
            book.counts().unacknowledged,
            1,
            "back, still unacknowledged"
        );
        let last = book.history().back().unwrap();
        assert_eq!(
            (last.action, last.cause.as_str()),
            (AlarmAction::Unshelve, "shelving expired")
        );
    }

    #[test]
    fn list_order_is_state_then_severity_then_newest() {
        let mut book = AlarmBook::default();
        let id = TwinId::from("t");
        for (twin, alarm_type, severity, t) in [
            (0, "a", Severity::Warning, 1),
            (1, "b", Severity::Critical, 2),
            (2, "c", Severity::Warning, 3),
            (3, "d", Severity::Critical, 4),
        ] {
            let alarm_type: Arc<str> = alarm_type.into();
            book.activate(
                Activation {
                    twin: TwinIndex(twin),
                    twin_id: &id,
                    alarm_type: &alarm_type,
                    severity,
                    text: "",
                    source: AlarmSource::Rule,
                    time: Timestamp(t),
                },
                "rule",
            );
        }
        book.acknowledge(TwinIndex(3), &"d".into(), "op", Timestamp(5));
        let order: Vec<&str> = book
            .sorted()
            .into_iter()
            .map(|i| &*book.alarms()[i].alarm_type)
            .collect();
        assert_eq!(order, ["b", "c", "a", "d"]);
    }

    #[test]
    fn csv_cells_never_run_as_spreadsheet_formulas() {
        assert_eq!(
            csv_field("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        for formula in ["+1+1", "-2", "@SUM(A1)", "\tx"] {
            assert!(
                csv_field(formula).trim_start_matches('"').starts_with('\''),
                "{formula:?}"
            );
        }
        assert_eq!(
            csv_field("Pump hot, check seal"),
            "\"Pump hot, check seal\""
        );
        assert_eq!(csv_field("plain"), "plain");
    }
}
