//! What the ingest thread holds while the consumer is behind (a stalled frame, a replay seek,
//! a slow disk): the batches the channel had no room for, merged so that nothing that matters
//! is lost and memory stays bounded by the plant, not by the length of the stall.
//!
//! State updates (a measurement, a unit, a twin fragment, service health, the latest event of
//! a type) replace the pending update for the same property, where it stands in the queue:
//! the consumer gets the latest value, as the broker holds it. Registrations and alarm raises
//! and clears are transitions, never merged: they are kept, in order. Batches that start a
//! session stay separate, so the alarm resync they begin still sees only what came after.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::batch::UpdateBatch;
use crate::twin::TwinId;
use crate::update::TwinUpdate;

/// Which property an update sets, for those where only the latest value matters.
#[derive(Hash, PartialEq, Eq)]
enum Slot {
    Measurement(TwinId, crate::twin::PropertyName),
    Unit(TwinId, Arc<str>),
    Event(TwinId, Arc<str>),
    Fragment(TwinId, Arc<str>),
    Health(TwinId),
    Online(TwinId),
}

impl Slot {
    fn of(update: &TwinUpdate) -> Option<Slot> {
        match update {
            TwinUpdate::Measurement { twin, name, .. } => {
                Some(Slot::Measurement(twin.clone(), name.clone()))
            }
            TwinUpdate::Unit { twin, name, .. } => Some(Slot::Unit(twin.clone(), name.clone())),
            TwinUpdate::Event {
                twin, event_type, ..
            } => Some(Slot::Event(twin.clone(), event_type.clone())),
            TwinUpdate::Fragment { twin, name, .. } => {
                Some(Slot::Fragment(twin.clone(), name.clone()))
            }
            TwinUpdate::Health { twin, .. } => Some(Slot::Health(twin.clone())),
            TwinUpdate::Online { twin, .. } => Some(Slot::Online(twin.clone())),
            TwinUpdate::Register { .. }
            | TwinUpdate::AlarmRaised { .. }
            | TwinUpdate::AlarmCleared { .. }
            | TwinUpdate::Historical { .. } => None,
        }
    }
}

/// Batches waiting for room in the channel, oldest first; the newest is open for merging.
#[derive(Default)]
pub(crate) struct Backlog {
    batches: VecDeque<UpdateBatch>,
    /// Where each property's pending update stands in the newest batch.
    slots: HashMap<Slot, usize>,
    /// Updates held that can never be merged (transitions).
    transitions: usize,
}

impl Backlog {
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Updates held (what the consumer will get when it catches up).
    pub fn len(&self) -> usize {
        self.batches.iter().map(|b| b.updates.len()).sum()
    }

    /// Transitions held: these grow with the stall, so the sender waits past a limit.
    pub fn transitions(&self) -> usize {
        self.transitions
    }

    /// Adds a batch after everything held. Returns how many of its updates replaced a
    /// pending update for the same property.
    pub fn push(&mut self, batch: UpdateBatch) -> usize {
        let open = match self.batches.back_mut() {
            Some(open) if !batch.session_started => open,
            _ => {
                self.slots.clear();
                let mut fresh =
                    UpdateBatch::new(batch.received, Vec::with_capacity(batch.updates.len()));
                fresh.session_started = batch.session_started;
                self.batches.push_back(fresh);
                self.batches.back_mut().expect("just pushed")
            }
        };
        open.received = open.received.max(batch.received);
        let mut merged = 0;
        for update in batch.updates {
            match Slot::of(&update) {
                Some(slot) => match self.slots.get(&slot) {
                    Some(&at) => {
                        open.updates[at] = update;
                        merged += 1;
                    }
                    None => {
                        self.slots.insert(slot, open.updates.len());
                        open.updates.push(update);
                    }
                },
                None => {
                    self.transitions += 1;
                    open.updates.push(update);
                }
            }
        }
        merged
    }

    /// The oldest batch, to send.
    pub fn pop(&mut self) -> Option<UpdateBatch> {
        let batch = self.batches.pop_front()?;
        if self.batches.is_empty() {
            self.slots.clear();
        }
        self.transitions -= batch
            .updates
            .iter()
            .filter(|u| Slot::of(u).is_none())
            .count();
        Some(batch)
    }

    /// Puts back a batch that could not be sent after all.
    pub fn unpop(&mut self, batch: UpdateBatch) {
        self.transitions += batch
            .updates
            .iter()
            .filter(|u| Slot::of(u).is_none())
            .count();
        if self.batches.is_empty() {
            // It is the newest again: rebuild its index so merging continues.
            for (at, update) in batch.updates.iter().enumerate() {
                if let Some(slot) = Slot::of(update) {
                    self.slots.insert(slot, at);
                }
            }
        }
        self.batches.push_front(batch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;
    use crate::twin::Severity;

    fn measurement(twin: &str, name: &str, value: f64) -> TwinUpdate {
        TwinUpdate::Measurement {
            twin: TwinId::new(twin),
            name: name.into(),
            value,
            time: Timestamp(value as i64),
        }
    }

    fn raise(twin: &str) -> TwinUpdate {
        TwinUpdate::AlarmRaised {
            twin: TwinId::new(twin),
            alarm_type: "hot".into(),
            severity: Severity::Major,
            text: String::new(),
            time: Timestamp(0),
        }
    }

    fn clear(twin: &str) -> TwinUpdate {
        TwinUpdate::AlarmCleared {
            twin: TwinId::new(twin),
            alarm_type: "hot".into(),
            time: Timestamp(0),
        }
    }

    #[test]
    fn the_latest_value_wins_and_transitions_are_all_kept_in_order() {
        let mut backlog = Backlog::default();
        backlog.push(UpdateBatch::new(
            Timestamp(1),
            vec![
                measurement("a", "t", 1.0),
                raise("a"),
                measurement("b", "t", 1.0),
            ],
        ));
        let merged = backlog.push(UpdateBatch::new(
            Timestamp(2),
            vec![
                measurement("a", "t", 2.0),
                clear("a"),
                measurement("a", "t", 3.0),
            ],
        ));
        assert_eq!(merged, 2);
        assert_eq!(backlog.transitions(), 2);
        let batch = backlog.pop().unwrap();
        assert_eq!(batch.received, Timestamp(2));
        assert_eq!(
            batch.updates,
            vec![
                measurement("a", "t", 3.0),
                raise("a"),
                measurement("b", "t", 1.0),
                clear("a")
            ]
        );
        assert!(backlog.is_empty());
        assert_eq!(backlog.transitions(), 0);
    }

    #[test]
    fn a_new_session_is_not_merged_into_the_old_one() {
        let mut backlog = Backlog::default();
        backlog.push(UpdateBatch::new(
            Timestamp(1),
            vec![measurement("a", "t", 1.0)],
        ));
        let mut session = UpdateBatch::new(Timestamp(2), vec![]);
        session.session_started = true;
        backlog.push(session);
        backlog.push(UpdateBatch::new(
            Timestamp(3),
            vec![measurement("a", "t", 2.0)],
        ));
        let first = backlog.pop().unwrap();
        assert_eq!(first.updates, vec![measurement("a", "t", 1.0)]);
        let second = backlog.pop().unwrap();
        assert!(second.session_started);
        assert_eq!(second.updates, vec![measurement("a", "t", 2.0)]);
    }

    #[test]
    fn a_batch_put_back_keeps_merging() {
        let mut backlog = Backlog::default();
        backlog.push(UpdateBatch::new(
            Timestamp(1),
            vec![measurement("a", "t", 1.0)],
        ));
        let batch = backlog.pop().unwrap();
        backlog.unpop(batch);
        assert_eq!(
            backlog.push(UpdateBatch::new(
                Timestamp(2),
                vec![measurement("a", "t", 5.0)]
            )),
            1
        );
        assert_eq!(
            backlog.pop().unwrap().updates,
            vec![measurement("a", "t", 5.0)]
        );
    }
}
