//! Alarm handling shared by a session: an acknowledgement or shelving by one participant is
//! told to the others (who did it, when), so every viewer's alarm list and history show it.
//! Each participant keeps its latest action per alarm retained under its own path
//! (`<session>/<user>/alarms/<key>`), so someone joining later sees what was done. An action
//! applies to the alarm's occurrence it was taken on: one raised again later is not
//! acknowledged by an old message.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::message::{Dropped, MAX_PAYLOAD, MAX_TWIN_ID};
use super::topics::check_name;

/// Alarm actions remembered per session (a flood beyond is counted and dropped).
pub const MAX_ALARM_ACTIONS: usize = 10_000;
/// Actions waiting for the viewer to apply them; older ones are dropped first.
const MAX_WAITING: usize = 1_000;

/// What was done to an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum SharedAlarmAction {
    Acknowledge,
    /// Shelved until this time (µs since the Unix epoch).
    Shelve {
        until: i64,
    },
    Unshelve,
}

/// One participant's action on one alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmActionMessage {
    pub twin: String,
    pub alarm: String,
    #[serde(flatten)]
    pub action: SharedAlarmAction,
    /// When it was done (µs since the Unix epoch).
    pub at: i64,
    pub by: String,
    /// When the alarm's occurrence it was done on began, as the actor's viewer saw it (µs):
    /// a viewer that joined later knows the occurrence by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raised: Option<i64>,
}

impl AlarmActionMessage {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// An action from `user`'s path under `key`, checked.
    pub fn decode(user: &str, key: &str, payload: &[u8]) -> Result<AlarmActionMessage, Dropped> {
        if payload.len() > MAX_PAYLOAD {
            return Err(Dropped::Oversized);
        }
        let message: AlarmActionMessage =
            serde_json::from_slice(payload).map_err(|_| Dropped::Malformed)?;
        if message.by != user {
            return Err(Dropped::Forged);
        }
        let fits = |text: &str| !text.is_empty() && text.len() <= MAX_TWIN_ID;
        if !fits(&message.twin)
            || !fits(&message.alarm)
            || check_name("user name", &message.by).is_err()
        {
            return Err(Dropped::Malformed);
        }
        if alarm_key(&message.twin, &message.alarm) != key {
            return Err(Dropped::Forged);
        }
        Ok(message)
    }
}

/// The topic level naming one alarm: a hash of twin and alarm type (both may hold characters
/// a topic level cannot).
pub fn alarm_key(twin: &str, alarm: &str) -> String {
    // FNV-1a, 64 bits: stable across versions and machines, unlike the std hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in twin.bytes().chain([0]).chain(alarm.bytes()) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Alarm actions heard in a session: the latest per participant and alarm, and those not yet
/// applied by the viewer.
#[derive(Debug, Default)]
pub struct SharedAlarmActions {
    latest: HashMap<(String, String), i64>,
    waiting: VecDeque<AlarmActionMessage>,
    dropped: HashMap<Dropped, u64>,
}

impl SharedAlarmActions {
    /// Takes one message; whether it is new (and now waits to be applied).
    pub fn receive(&mut self, user: &str, key: &str, payload: &[u8]) -> Result<bool, Dropped> {
        if payload.is_empty() {
            return Ok(false);
        }
        let result = self.take(user, key, payload);
        if let Err(reason) = result {
            *self.dropped.entry(reason).or_default() += 1;
        }
        result
    }

    fn take(&mut self, user: &str, key: &str, payload: &[u8]) -> Result<bool, Dropped> {
        let message = AlarmActionMessage::decode(user, key, payload)?;
        let slot = (user.to_owned(), key.to_owned());
        match self.latest.get(&slot) {
            Some(&at) if at >= message.at => return Ok(false),
            None if self.latest.len() >= MAX_ALARM_ACTIONS => return Err(Dropped::TooMany),
            _ => {}
        }
        self.latest.insert(slot, message.at);
        if self.waiting.len() == MAX_WAITING {
            self.waiting.pop_front();
        }
        self.waiting.push_back(message);
        Ok(true)
    }

    /// Whether `user`'s action on the alarm of `key` dated `at` (or a later one) was heard.
    pub fn heard(&self, user: &str, key: &str, at: i64) -> bool {
        self.latest
            .get(&(user.to_owned(), key.to_owned()))
            .is_some_and(|&latest| latest >= at)
    }

    /// The actions heard since the last call, in the order heard (nothing allocated when
    /// there are none: the viewer asks every frame).
    pub fn take_waiting(&mut self) -> Vec<AlarmActionMessage> {
        if self.waiting.is_empty() {
            Vec::new()
        } else {
            self.waiting.drain(..).collect()
        }
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn an_action_round_trips_and_is_taken_once() {
        let key = alarm_key("line1-tank1", "leak");
        let mut heard = SharedAlarmActions::default();
        assert_eq!(
            heard.receive("anna", &key, &ack("anna", 5).encode()),
            Ok(true)
        );
        assert_eq!(
            heard.receive("anna", &key, &ack("anna", 5).encode()),
            Ok(false),
            "the same again (a reconnect's retained copy)"
        );
        assert_eq!(heard.take_waiting(), vec![ack("anna", 5)]);
        let shelve = AlarmActionMessage {
            action: SharedAlarmAction::Shelve { until: 99 },
            ..ack("anna", 6)
        };
        assert_eq!(
            AlarmActionMessage::decode("anna", &key, &shelve.encode()),
            Ok(shelve)
        );
    }

    #[test]
    fn forged_and_malformed_actions_are_dropped() {
        let key = alarm_key("line1-tank1", "leak");
        let mut heard = SharedAlarmActions::default();
        assert_eq!(
            heard.receive("eve", &key, &ack("anna", 5).encode()),
            Err(Dropped::Forged)
        );
        assert_eq!(
            heard.receive("anna", "0000000000000000", &ack("anna", 5).encode()),
            Err(Dropped::Forged),
            "under another alarm's key"
        );
        assert_eq!(heard.receive("anna", &key, b"{"), Err(Dropped::Malformed));
        assert_eq!(heard.dropped_total(), 3);
        assert!(heard.take_waiting().is_empty());
    }
}
