//! The twin store's side of alarms: raising and clearing conditions (from thin-edge and from
//! local limit rules), operator actions, and the resync after a reconnect. The alarm states
//! themselves live in the [`AlarmBook`](crate::alarms::AlarmBook).

use std::sync::Arc;

use super::{ActiveAlarm, TwinIndex, TwinStore};
use crate::alarms::{Activation, AlarmSource, LimitChange};
use crate::time::Timestamp;

impl TwinStore {
    /// Acknowledges an alarm locally (`who` goes into the history). False if there was
    /// nothing to acknowledge.
    pub fn acknowledge(
        &mut self,
        twin: TwinIndex,
        alarm_type: &Arc<str>,
        who: &str,
        now: Timestamp,
    ) -> bool {
        let done = self.alarm_book.acknowledge(twin, alarm_type, who, now);
        if done {
            self.refresh_status(twin);
        }
        done
    }

    /// Keeps the earlier of two acknowledgements of one alarm (see
    /// [`AlarmBook::settle_acknowledgement`](crate::alarms::AlarmBook::settle_acknowledgement)).
    pub fn settle_acknowledgement(
        &mut self,
        twin: TwinIndex,
        alarm_type: &Arc<str>,
        who: &str,
        time: Timestamp,
    ) -> bool {
        self.alarm_book
            .settle_acknowledgement(twin, alarm_type, who, time)
    }

    /// Shelves an alarm until `until`: out of the list, the counts and the twin's status.
    pub fn shelve(
        &mut self,
        twin: TwinIndex,
        alarm_type: &Arc<str>,
        until: Timestamp,
        who: &str,
        now: Timestamp,
    ) -> bool {
        let done = self.alarm_book.shelve(twin, alarm_type, until, who, now);
        if done {
            self.refresh_status(twin);
        }
        done
    }

    pub fn unshelve(
        &mut self,
        twin: TwinIndex,
        alarm_type: &Arc<str>,
        who: &str,
        now: Timestamp,
    ) -> bool {
        let done = self
            .alarm_book
            .unshelve(twin, alarm_type, now, &format!("operator {who}"));
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
            self.clear_alarm(
                twin,
                &alarm_type,
                now,
                "not retained by the broker after reconnecting (cleared while disconnected)",
            );
            self.refresh_status(twin);
        }
    }

    pub(super) fn raise_alarm(&mut self, index: TwinIndex, alarm: ActiveAlarm, cause: &str) {
        let twin = &mut self.twins[index.0 as usize];
        // A new alarm type on a twin that holds as many as it may is refused (counted).
        if twin.alarms.len() >= self.config.max_entries_per_twin
            && !twin.alarms.iter().any(|a| a.alarm_type == alarm.alarm_type)
        {
            self.refused.entries += 1;
            return;
        }
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
        match twin
            .alarms
            .iter_mut()
            .find(|a| a.alarm_type == alarm.alarm_type)
        {
            Some(existing) => *existing = alarm,
            None => twin.alarms.push(alarm),
        }
    }

    pub(super) fn clear_alarm(
        &mut self,
        index: TwinIndex,
        alarm_type: &Arc<str>,
        time: Timestamp,
        cause: &str,
    ) {
        self.alarm_book.clear(index, alarm_type, time, cause);
        self.twins[index.0 as usize]
            .alarms
            .retain(|a| a.alarm_type != *alarm_type);
    }

    pub(super) fn apply_limit_change(
        &mut self,
        index: TwinIndex,
        property: &str,
        rule: usize,
        change: LimitChange,
        value: f64,
        time: Timestamp,
    ) {
        let rule = self.alarm_rules.get(rule);
        let alarm_type = rule.alarm_type_for(property);
        let cause = format!("rule {alarm_type}");
        match change {
            LimitChange::Activated => {
                let text = if rule.on_off {
                    rule.text.clone()
                } else {
                    format!("{} (value {value:.2})", rule.text)
                };
                let alarm = ActiveAlarm {
                    alarm_type,
                    severity: rule.severity,
                    text,
                    time,
                    source: AlarmSource::Rule,
                };
                self.raise_alarm(index, alarm, &cause);
            }
            LimitChange::Cleared => self.clear_alarm(index, &alarm_type, time, &cause),
        }
    }
}
