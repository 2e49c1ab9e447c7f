//! Applying the session's alarm actions to this viewer's alarms: one rule for the viewer and
//! `twinscope alarms --session`. An action applies to the occurrence of the alarm it was taken
//! on, and is kept a while when its alarm is not here yet: someone joining a session hears
//! its retained actions and the plant's retained alarms in no fixed order.

use super::alarm_actions::{AlarmActionMessage, SharedAlarmAction};
use crate::Timestamp;
use crate::twin::TwinStore;

/// How much earlier than an alarm's activation (as this viewer saw it) an action may be
/// dated and still be meant for this occurrence (viewers' clocks and delivery differ).
const SAME_OCCURRENCE_SLACK_US: i64 = 2_000_000;
/// An alarm that became active (as this viewer saw it) this soon after it started watching
/// was probably already active before: without a device timestamp its activation is when we
/// first heard of it, so an action dated earlier may well be for this very occurrence.
const FIRST_LOOK_US: i64 = 10_000_000;
/// How long an action whose alarm is not here waits for it.
const PENDING_FOR_US: i64 = 30_000_000;
/// Actions waiting for their alarm, at most (the oldest go first).
const MAX_PENDING: usize = 1_000;
/// Waiting actions are tried again at most this often (each try searches the alarm list).
const RETRY_EVERY_US: i64 = 500_000;

/// Applies the others' alarm actions to a store, keeping those whose alarm has not arrived.
#[derive(Debug)]
pub struct AlarmActionApplier {
    /// When this viewer started hearing the plant's alarms.
    watching_since: Timestamp,
    /// Actions whose twin or alarm is not in the store yet, with when they were heard.
    pending: std::collections::VecDeque<(AlarmActionMessage, Timestamp)>,
    last_retry: Timestamp,
}

/// What became of one action.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Applied,
    /// It was for the alarm here, but changed nothing (already so) or another occurrence.
    Settled,
    /// Its alarm is not here (yet).
    NoAlarm,
}

impl AlarmActionApplier {
    pub fn new(watching_since: Timestamp) -> Self {
        AlarmActionApplier {
            watching_since,
            pending: std::collections::VecDeque::new(),
            last_retry: Timestamp(i64::MIN),
        }
    }

    /// Applies the actions just heard, and tries those waiting for their alarm again; the
    /// acknowledgements and shelving then show, with their names, in the alarm list and
    /// history. Two acknowledgements of one alarm are one, and every viewer keeps the earlier
    /// one's name. Returns how many changed something.
    pub fn apply(
        &mut self,
        store: &mut TwinStore,
        heard: Vec<AlarmActionMessage>,
        now: Timestamp,
    ) -> usize {
        let mut applied = 0;
        let retry = !self.pending.is_empty()
            && (!heard.is_empty() || now.0.saturating_sub(self.last_retry.0) >= RETRY_EVERY_US);
        if retry {
            self.last_retry = now;
            let waiting = std::mem::take(&mut self.pending);
            for (action, heard_at) in waiting {
                match self.apply_one(store, &action, now) {
                    Outcome::Applied => applied += 1,
                    Outcome::Settled => {}
                    Outcome::NoAlarm if now.0.saturating_sub(heard_at.0) < PENDING_FOR_US => {
                        self.pending.push_back((action, heard_at))
                    }
                    Outcome::NoAlarm => {}
                }
            }
        }
        for action in heard {
            match self.apply_one(store, &action, now) {
                Outcome::Applied => applied += 1,
                Outcome::Settled => {}
                Outcome::NoAlarm => {
                    if self.pending.len() == MAX_PENDING {
                        self.pending.pop_front();
                    }
                    self.pending.push_back((action, now));
                }
            }
        }
        applied
    }

    /// Actions waiting for their alarm.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn apply_one(
        &self,
        store: &mut TwinStore,
        action: &AlarmActionMessage,
        now: Timestamp,
    ) -> Outcome {
        let Some(twin) = store.find(&action.twin) else {
            return Outcome::NoAlarm;
        };
        let Some(alarm) = store
            .alarm_book()
            .alarms()
            .iter()
            .find(|a| a.twin == twin && *a.alarm_type == *action.alarm)
        else {
            return Outcome::NoAlarm;
        };
        if !self.same_occurrence(action, alarm.activated) {
            return Outcome::Settled;
        }
        let alarm_type = alarm.alarm_type.clone();
        let at = Timestamp(action.at);
        let changed = match action.action {
            SharedAlarmAction::Acknowledge => {
                store.acknowledge(twin, &alarm_type, &action.by, at)
                    || store.settle_acknowledgement(twin, &alarm_type, &action.by, at)
            }
            SharedAlarmAction::Shelve { until } => {
                until > now.0 && store.shelve(twin, &alarm_type, Timestamp(until), &action.by, at)
            }
            SharedAlarmAction::Unshelve => store.unshelve(twin, &alarm_type, &action.by, at),
        };
        if !changed {
            return Outcome::Settled;
        }
        tracing::info!(twin = %action.twin, alarm = %action.alarm, by = %action.by, action = ?action.action, "alarm action from the session");
        Outcome::Applied
    }

    /// Whether an action was taken on the occurrence that began at `activated` (as this
    /// viewer saw it): done after it began; or on an occurrence raised at the same time (the
    /// device's timestamp, when a late joiner saw it begin later); or, for an alarm that was
    /// already active when we started watching, done before we could see it begin. A
    /// retained action from before the alarm cleared and was raised again does not apply.
    fn same_occurrence(&self, action: &AlarmActionMessage, activated: Timestamp) -> bool {
        let after = action.at >= activated.0 - SAME_OCCURRENCE_SLACK_US;
        let raised_then = action
            .raised
            .is_some_and(|raised| (raised - activated.0).abs() <= SAME_OCCURRENCE_SLACK_US);
        let first_look = activated.0 >= self.watching_since.0 - SAME_OCCURRENCE_SLACK_US
            && activated.0 <= self.watching_since.0.saturating_add(FIRST_LOOK_US);
        after || raised_then || (first_look && action.raised.unwrap_or(action.at) <= activated.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TwinUpdate, twin::Severity};

    fn ack(by: &str, at: i64) -> AlarmActionMessage {
        AlarmActionMessage {
            twin: "line1-tank1".into(),
            alarm: "leak".into(),
            action: SharedAlarmAction::Acknowledge,
            at,
            by: by.into(),
            raised: None,
        }
    }

    fn raise(store: &mut TwinStore, time: i64, heard: i64) {
        let raise = TwinUpdate::AlarmRaised {
            twin: "line1-tank1".into(),
            alarm_type: "leak".into(),
            severity: Severity::Critical,
            text: "Tank leaking".into(),
            time: Timestamp(time),
        };
        store.apply(&raise, Timestamp(heard));
    }

    fn store_with_the_tank_in_alarm(raised: i64) -> TwinStore {
        let mut store = TwinStore::new(Default::default(), Default::default());
        raise(&mut store, raised, raised);
        store
    }

    /// A viewer that has been watching for a long while.
    fn watching_long() -> AlarmActionApplier {
        AlarmActionApplier::new(Timestamp(0))
    }

    fn unacknowledged(store: &TwinStore) -> bool {
        store.alarm_book().alarms()[0].state.is_unacknowledged()
    }

    #[test]
    fn two_acknowledgements_at_once_are_one_with_the_earlier_name_on_every_viewer() {
        let raised = 1_000_000_000;
        let (anna, carl) = (ack("anna", raised + 5_000), ack("carl", raised + 4_000));
        let mut one = store_with_the_tank_in_alarm(raised);
        let mut other = store_with_the_tank_in_alarm(raised);
        watching_long().apply(
            &mut one,
            vec![anna.clone(), carl.clone()],
            Timestamp(raised + 10_000),
        );
        watching_long().apply(&mut other, vec![carl, anna], Timestamp(raised + 10_000));
        for store in [&one, &other] {
            let book = store.alarm_book();
            assert_eq!(book.alarms()[0].acknowledged_by.as_deref(), Some("carl"));
            let acks: Vec<_> = book
                .history()
                .iter()
                .filter(|t| t.action == crate::alarms::AlarmAction::Acknowledge)
                .collect();
            assert_eq!(acks.len(), 1, "one acknowledgement");
            assert_eq!(acks[0].cause, "operator carl");
        }
    }

    #[test]
    fn an_acknowledgement_of_an_earlier_occurrence_does_not_apply() {
        let raised = 1_000_000_000_000;
        let mut store = store_with_the_tank_in_alarm(raised);
        let mut applier = watching_long();
        assert_eq!(
            applier.apply(
                &mut store,
                vec![ack("anna", raised - 60_000_000)],
                Timestamp(raised)
            ),
            0
        );
        assert!(unacknowledged(&store));
        // Done on an occurrence raised 10 s before this one: not this one either.
        let old = AlarmActionMessage {
            raised: Some(raised - 10_000_000),
            ..ack("anna", raised - 5_000_000)
        };
        assert_eq!(applier.apply(&mut store, vec![old], Timestamp(raised)), 0);
        assert_eq!(applier.pending(), 0, "settled, not waiting");
        // Done on this occurrence (the device's timestamp) before we heard of it: it applies.
        let same = AlarmActionMessage {
            raised: Some(raised),
            ..ack("anna", raised - 5_000_000)
        };
        assert_eq!(applier.apply(&mut store, vec![same], Timestamp(raised)), 1);
    }

    #[test]
    fn a_late_joiner_applies_an_acknowledgement_of_an_alarm_without_a_device_timestamp() {
        // Anna acknowledged at 100 s an alarm her viewer heard at 90 s (no device time);
        // we join at 500 s and hear it (retained) at 501 s: its activation is then 501 s.
        let second = 1_000_000;
        let anna = AlarmActionMessage {
            raised: Some(90 * second),
            ..ack("anna", 100 * second)
        };
        let mut store = TwinStore::new(Default::default(), Default::default());
        raise(&mut store, 501 * second, 501 * second);
        let mut applier = AlarmActionApplier::new(Timestamp(500 * second));
        assert_eq!(
            applier.apply(&mut store, vec![anna.clone()], Timestamp(502 * second)),
            1
        );
        assert_eq!(
            store.alarm_book().alarms()[0].acknowledged_by.as_deref(),
            Some("anna")
        );
        // One raised again an hour into our watching is another occurrence: an older
        // acknowledgement does not apply to it.
        let mut later = TwinStore::new(Default::default(), Default::default());
        raise(&mut later, 4_000 * second, 4_000 * second);
        assert_eq!(
            applier.apply(&mut later, vec![anna], Timestamp(4_001 * second)),
            0
        );
        assert!(unacknowledged(&later));
    }

    #[test]
    fn an_action_heard_before_its_alarm_waits_for_it_a_while() {
        let second = 1_000_000;
        let raised = 1_000 * second;
        let mut store = TwinStore::new(Default::default(), Default::default());
        let mut applier = AlarmActionApplier::new(Timestamp(raised - 60 * second));
        assert_eq!(
            applier.apply(
                &mut store,
                vec![ack("anna", raised + second)],
                Timestamp(raised + 2 * second)
            ),
            0
        );
        assert_eq!(applier.pending(), 1, "the alarm is not here yet");
        raise(&mut store, raised, raised + 3 * second);
        assert_eq!(
            applier.apply(&mut store, Vec::new(), Timestamp(raised + 3 * second)),
            1,
            "applied once its alarm came"
        );
        assert_eq!(applier.pending(), 0);
        // One whose alarm never comes is given up after a while, and the waiting are bounded.
        let stray = AlarmActionMessage {
            twin: "nowhere".into(),
            ..ack("anna", raised)
        };
        applier.apply(
            &mut store,
            vec![stray.clone(); MAX_PENDING + 5],
            Timestamp(raised + 4 * second),
        );
        assert_eq!(applier.pending(), MAX_PENDING);
        applier.apply(
            &mut store,
            Vec::new(),
            Timestamp(raised + 4 * second + PENDING_FOR_US),
        );
        assert_eq!(applier.pending(), 0);
    }
}
