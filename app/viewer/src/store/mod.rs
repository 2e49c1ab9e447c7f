//! The twin store's one ordered path in: live update batches from the MQTT thread
//! ([`sync`]) and operator commands on alarms ([`alarm_actions`]). Everything else reads
//! the store.

pub mod alarm_actions;
pub mod sync;
