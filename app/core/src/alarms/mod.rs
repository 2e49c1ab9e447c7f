//! Alarms after ISA-18.2: one model for device alarms (thin-edge `a/<type>`) and local limit
//! rules (manifest `[[alarm]]`), with acknowledgement, shelving and a transition history.
//!
//! - [`state`]: the state machine (active/returned × acknowledged/unacknowledged), pure.
//! - [`limit`]: limit rules with deadband and on-delay, evaluated per measurement.
//! - [`book`]: the alarm list the twin store keeps, and its history (exportable as CSV).
//!
//! Acknowledging and shelving are local: nothing here talks back to the plant.

pub mod book;
pub mod limit;
pub mod state;

pub use book::{
    Activation, Alarm, AlarmAction, AlarmBook, AlarmCounts, AlarmSource, AlarmTransition,
};
pub use limit::{AlarmRule, AlarmRuleError, AlarmRuleSpec, AlarmRules, LimitChange, LimitState};
pub use state::{AlarmEvent, AlarmState};
