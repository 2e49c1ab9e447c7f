//! The ISA-18.2 alarm state machine, as a pure function of state and event.
//!
//! An alarm has two independent facts: whether its condition is active, and whether an
//! operator has acknowledged it. The four states combine them; shelving is a separate,
//! time-limited suppression that [`super::AlarmBook`] keeps beside the state.

use serde::Serialize;

/// Where an alarm stands (ISA-18.2 figure 5, without suppression and out-of-service).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlarmState {
    /// The condition is clear and nothing awaits acknowledgement: not in the alarm list.
    Normal,
    /// The condition cleared before anyone acknowledged it: it stays listed until acknowledged.
    ReturnedUnacknowledged,
    /// An operator has seen it; the condition is still there.
    ActiveAcknowledged,
    /// New and unseen: the state that demands attention (and pulses in 3D).
    ActiveUnacknowledged,
}

/// What can happen to an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmEvent {
    /// The condition became active (a thin-edge raise, a limit crossed for its on-delay).
    Activate,
    /// An active condition was raised again with a higher severity: annunciate again.
    Escalate,
    /// The condition cleared (thin-edge empty payload, value back inside the deadband).
    Clear,
    /// An operator acknowledged it.
    Acknowledge,
}

impl AlarmState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Normal => "normal",
            AlarmState::ReturnedUnacknowledged => "returned-unacknowledged",
            AlarmState::ActiveAcknowledged => "active-acknowledged",
            AlarmState::ActiveUnacknowledged => "active-unacknowledged",
        }
    }

    /// A short label for a narrow table column.
    pub fn short(self) -> &'static str {
        match self {
            AlarmState::Normal => "NORM",
            AlarmState::ReturnedUnacknowledged => "RTN UNACK",
            AlarmState::ActiveAcknowledged => "ACK",
            AlarmState::ActiveUnacknowledged => "UNACK",
        }
    }

    pub fn is_active(self) -> bool {
        matches!(
            self,
            AlarmState::ActiveAcknowledged | AlarmState::ActiveUnacknowledged
        )
    }

    pub fn is_unacknowledged(self) -> bool {
        matches!(
            self,
            AlarmState::ActiveUnacknowledged | AlarmState::ReturnedUnacknowledged
        )
    }

    /// The state after `event`, or `None` when the event does not apply in this state
    /// (acknowledging an acknowledged alarm, clearing a clear one): nothing changes then.
    pub fn next(self, event: AlarmEvent) -> Option<AlarmState> {
        use AlarmEvent::*;
        use AlarmState::*;
        match (self, event) {
            (Normal | ReturnedUnacknowledged, Activate | Escalate) => Some(ActiveUnacknowledged),
            (ActiveAcknowledged, Escalate) => Some(ActiveUnacknowledged),
            (ActiveUnacknowledged, Clear) => Some(ReturnedUnacknowledged),
            (ActiveAcknowledged, Clear) => Some(Normal),
            (ActiveUnacknowledged, Acknowledge) => Some(ActiveAcknowledged),
            (ReturnedUnacknowledged, Acknowledge) => Some(Normal),
            (ActiveUnacknowledged | ActiveAcknowledged, Activate)
            | (ActiveUnacknowledged, Escalate)
            | (Normal | ReturnedUnacknowledged, Clear)
            | (Normal | ActiveAcknowledged, Acknowledge) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AlarmEvent::*;
    use super::AlarmState::*;

    /// Every (state, event) pair, against the ISA-18.2 diagram.
    #[test]
    fn every_transition() {
        let table = [
            (Normal, Activate, Some(ActiveUnacknowledged)),
            (Normal, Escalate, Some(ActiveUnacknowledged)),
            (Normal, Clear, None),
            (Normal, Acknowledge, None),
            (ActiveUnacknowledged, Activate, None),
            (ActiveUnacknowledged, Escalate, None),
            (ActiveUnacknowledged, Clear, Some(ReturnedUnacknowledged)),
            (ActiveUnacknowledged, Acknowledge, Some(ActiveAcknowledged)),
            (ActiveAcknowledged, Activate, None),
            (ActiveAcknowledged, Escalate, Some(ActiveUnacknowledged)),
            (ActiveAcknowledged, Clear, Some(Normal)),
            (ActiveAcknowledged, Acknowledge, None),
            (ReturnedUnacknowledged, Activate, Some(ActiveUnacknowledged)),
            (ReturnedUnacknowledged, Escalate, Some(ActiveUnacknowledged)),
            (ReturnedUnacknowledged, Clear, None),
            (ReturnedUnacknowledged, Acknowledge, Some(Normal)),
        ];
        for (state, event, expected) in table {
            assert_eq!(state.next(event), expected, "{state:?} on {event:?}");
        }
    }

    #[test]
    fn unacknowledged_states_sort_first() {
        let mut states = vec![
            Normal,
            ActiveAcknowledged,
            ReturnedUnacknowledged,
            ActiveUnacknowledged,
        ];
        states.sort_by(|a, b| b.cmp(a));
        assert_eq!(
            states,
            [
                ActiveUnacknowledged,
                ActiveAcknowledged,
                ReturnedUnacknowledged,
                Normal
            ]
        );
        assert!(ReturnedUnacknowledged.is_unacknowledged() && !ReturnedUnacknowledged.is_active());
    }
}
