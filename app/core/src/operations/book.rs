//! Every command heard, ours and others', with the states it went through and when. Ours
//! (requested here, or left over from a run that crashed) are cleared once final; others'
//! (the cloud mapper's, another operator's) are only shown. A command of ours that does not
//! move past `init` in time is marked as unanswered: thin-edge's agent stays silent about an
//! operation it has no workflow for.

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::{Map, Value};

use super::command::{CommandState, CommandStatus, StatusRefused, is_ours};
use super::topic::CommandTopic;
use crate::Timestamp;

/// Commands kept at most (the oldest finished go first).
pub const MAX_COMMANDS: usize = 10_000;
/// States kept per command at most (a workflow looping forever is cut short).
const MAX_STATES: usize = 64;

/// One command and its course.
#[derive(Debug, Clone)]
pub struct TrackedCommand {
    pub topic: CommandTopic,
    /// Requested here (or by an earlier run of ours): we clear it once it is final.
    pub ours: bool,
    /// When we requested it.
    pub requested: Option<Timestamp>,
    /// Each state it was seen in, with when.
    pub states: Vec<(CommandState, Timestamp)>,
    pub reason: Option<String>,
    /// The latest status payload (the agent's fields: a log's URL, a software list).
    pub payload: Map<String, Value>,
    /// Its retained message is gone (cleared by its requester).
    pub cleared: bool,
    /// Ours and still at `init` after the timeout.
    pub no_response: bool,
    /// Something about it is not as thin-edge's rules say (shown beside it).
    pub trouble: Option<String>,
    clear_sent: bool,
}

impl TrackedCommand {
    pub fn state(&self) -> &CommandState {
        self.states
            .last()
            .map_or(&CommandState::Init, |(state, _)| state)
    }

    pub fn is_final(&self) -> bool {
        self.state().is_final()
    }

    /// One line for a person: "successful", "failed: disk full", "no response from the
    /// device agent".
    pub fn describe(&self) -> String {
        match (self.state(), &self.reason) {
            (CommandState::Init, _) if self.no_response => {
                "no response from the device agent".into()
            }
            (CommandState::Failed, Some(reason)) => format!("failed: {reason}"),
            (state, _) => state.as_str().to_owned(),
        }
    }
}

/// What changed a command.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandEvent {
    State { topic: String, state: CommandState },
    NoResponse { topic: String },
    Cleared { topic: String },
}

/// The commands heard.
#[derive(Debug)]
pub struct OperationBook {
    commands: HashMap<String, TrackedCommand>,
    /// Topics in the order first seen (for eviction).
    order: VecDeque<String>,
    /// Topics of ours not heard yet (a journal's leftovers).
    ours: HashSet<String>,
    root: String,
    no_response_after_us: i64,
    pub refused: HashMap<StatusRefused, u64>,
}

impl OperationBook {
    pub fn new(root: &str, no_response_after: std::time::Duration) -> Self {
        OperationBook {
            commands: HashMap::new(),
            order: VecDeque::new(),
            ours: HashSet::new(),
            root: root.to_owned(),
            no_response_after_us: no_response_after.as_micros() as i64,
            refused: HashMap::new(),
        }
    }

    /// A command we request now.
    pub fn request(&mut self, topic: CommandTopic, payload: Map<String, Value>, now: Timestamp) {
        let key = topic.topic(&self.root);
        self.ours.insert(key.clone());
        self.insert(
            key,
            TrackedCommand {
                topic,
                ours: true,
                requested: Some(now),
                states: vec![(CommandState::Init, now)],
                reason: None,
                payload,
                cleared: false,
                no_response: false,
                trouble: None,
                clear_sent: false,
            },
        );
    }

    /// A command of ours from an earlier run (the journal): cleared once heard final.
    pub fn adopt(&mut self, topic: &str) {
        self.ours.insert(topic.to_owned());
        if let Some(command) = self.commands.get_mut(topic) {
            command.ours = true;
        }
    }

    /// Takes a message on a command topic; what it changed.
    pub fn receive(
        &mut self,
        topic: CommandTopic,
        payload: &[u8],
        now: Timestamp,
    ) -> Result<Option<CommandEvent>, StatusRefused> {
        let key = topic.topic(&self.root);
        if payload.is_empty() {
            let Some(command) = self.commands.get_mut(&key) else {
                self.ours.remove(&key);
                return Ok(None);
            };
            if command.cleared {
                return Ok(None);
            }
            command.cleared = true;
            return Ok(Some(CommandEvent::Cleared { topic: key }));
        }
        let status = match CommandStatus::parse(payload) {
            Ok(status) => status,
            Err(reason) => {
                *self.refused.entry(reason).or_default() += 1;
                if let Some(command) = self.commands.get_mut(&key) {
                    command.trouble =
                        Some(format!("a status message could not be read ({reason:?})"));
                }
                return Err(reason);
            }
        };
        let ours = self.ours.contains(&key);
        if !self.commands.contains_key(&key) {
            let id = topic.id.clone().unwrap_or_default();
            // Another twinscope says so in its request; anything else under our prefix is odd.
            let from_twinscope = status
                .payload
                .get("twinscope")
                .is_some_and(Value::is_object);
            let trouble = (!ours && is_ours(&id) && !from_twinscope)
                .then(|| "uses twinscope's command id prefix without saying who asked".to_owned());
            self.insert(
                key.clone(),
                TrackedCommand {
                    topic,
                    ours,
                    requested: None,
                    states: Vec::new(),
                    reason: None,
                    payload: Map::new(),
                    cleared: false,
                    no_response: false,
                    trouble,
                    clear_sent: false,
                },
            );
        }
        let Some(command) = self.commands.get_mut(&key) else {
            return Ok(None);
        };
        command.cleared = false;
        let moved_on = command
            .states
            .iter()
            .any(|(state, _)| *state != CommandState::Init);
        if status.state == CommandState::Init && moved_on {
            // thin-edge's rule: a command id is used once; a new request under it clashes.
            command.trouble =
                Some("a new request reused this command id after it had moved on".into());
        }
        command.payload = status.payload;
        if status.reason.is_some() {
            command.reason = status.reason;
        }
        if command.state() == &status.state && !command.states.is_empty() {
            return Ok(None);
        }
        if command.states.len() >= MAX_STATES {
            command.trouble = Some(format!(
                "more than {MAX_STATES} states: the rest are not kept"
            ));
            return Ok(None);
        }
        command.states.push((status.state.clone(), now));
        command.no_response &= status.state == CommandState::Init;
        Ok(Some(CommandEvent::State {
            topic: key,
            state: status.state,
        }))
    }

    /// Marks ours still at `init` after the timeout as unanswered.
    pub fn tick(&mut self, now: Timestamp) -> Vec<CommandEvent> {
        let mut events = Vec::new();
        for (key, command) in &mut self.commands {
            let waited = command
                .requested
                .is_some_and(|at| now.0 - at.0 >= self.no_response_after_us);
            if command.ours
                && !command.no_response
                && waited
                && *command.state() == CommandState::Init
            {
                command.no_response = true;
                events.push(CommandEvent::NoResponse { topic: key.clone() });
            }
        }
        events
    }

    /// Ours that are final and still retained: to clear now (each is given once).
    pub fn take_to_clear(&mut self) -> Vec<CommandTopic> {
        let mut due = Vec::new();
        for command in self.commands.values_mut() {
            if command.ours && command.is_final() && !command.cleared && !command.clear_sent {
                command.clear_sent = true;
                due.push(command.topic.clone());
            }
        }
        due
    }

    /// Journal leftovers never heard of (their retained message is already gone).
    pub fn unheard_leftovers(&self) -> Vec<String> {
        self.ours
            .iter()
            .filter(|key| !self.commands.contains_key(*key))
            .cloned()
            .collect()
    }

    pub fn forget_leftover(&mut self, topic: &str) {
        if !self.commands.contains_key(topic) {
            self.ours.remove(topic);
        }
    }

    pub fn get(&self, topic: &str) -> Option<&TrackedCommand> {
        self.commands.get(topic)
    }

    /// A twin's commands, oldest first.
    pub fn of_twin<'a>(&'a self, twin: &'a str) -> impl Iterator<Item = &'a TrackedCommand> + 'a {
        self.order
            .iter()
            .filter_map(|key| self.commands.get(key))
            .filter(move |c| c.topic.twin == twin)
    }

    /// Every command, oldest first.
    pub fn all(&self) -> impl Iterator<Item = &TrackedCommand> {
        self.order.iter().filter_map(|key| self.commands.get(key))
    }

    fn insert(&mut self, key: String, command: TrackedCommand) {
        if self.commands.len() >= MAX_COMMANDS {
            self.evict();
        }
        if self.commands.insert(key.clone(), command).is_none() {
            self.order.push_back(key);
        }
    }

    /// Drops the oldest finished command (or, when none is, the oldest of someone else's).
    fn evict(&mut self) {
        let done = |c: &TrackedCommand| (c.is_final() && (c.cleared || !c.ours)) || c.no_response;
        let position = self
            .order
            .iter()
            .position(|k| self.commands.get(k).is_some_and(done))
            .or_else(|| {
                self.order
                    .iter()
                    .position(|k| self.commands.get(k).is_some_and(|c| !c.ours))
            });
        if let Some(key) = position.and_then(|p| self.order.remove(p)) {
            self.commands.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn topic(id: &str) -> CommandTopic {
        CommandTopic::parse(&format!("te/device/pump1///cmd/restart/{id}"), "te").unwrap()
    }

    fn at(s: i64) -> Timestamp {
        Timestamp(s * 1_000_000)
    }

    #[test]
    fn our_command_is_followed_to_its_end_and_cleared_once() {
        let mut book = OperationBook::new("te", Duration::from_secs(10));
        book.request(topic("twinscope-1"), Map::new(), at(0));
        assert_eq!(
            book.receive(topic("twinscope-1"), br#"{"status":"init"}"#, at(0))
                .unwrap(),
            None,
            "our own request heard back"
        );
        for (s, status) in [
            (1, "scheduled"),
            (2, "executing"),
            (3, "restarting"),
            (9, "successful"),
        ] {
            let event = book
                .receive(
                    topic("twinscope-1"),
                    format!(r#"{{"status":"{status}"}}"#).as_bytes(),
                    at(s),
                )
                .unwrap();
            assert_eq!(
                event,
                Some(CommandEvent::State {
                    topic: "te/device/pump1///cmd/restart/twinscope-1".into(),
                    state: CommandState::parse(status)
                })
            );
        }
        let command = book
            .get("te/device/pump1///cmd/restart/twinscope-1")
            .unwrap();
        let states: Vec<&str> = command.states.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            states,
            ["init", "scheduled", "executing", "restarting", "successful"]
        );
        assert_eq!(book.take_to_clear().len(), 1);
        assert!(book.take_to_clear().is_empty(), "asked once");
        assert!(matches!(
            book.receive(topic("twinscope-1"), b"", at(10)).unwrap(),
            Some(CommandEvent::Cleared { .. })
        ));
    }

    #[test]
    fn others_commands_are_shown_never_cleared() {
        let mut book = OperationBook::new("te", Duration::from_secs(10));
        book.receive(
            topic("c8y-mapper-7"),
            br#"{"status":"failed","reason":"no space"}"#,
            at(1),
        )
        .unwrap();
        let command = book
            .get("te/device/pump1///cmd/restart/c8y-mapper-7")
            .unwrap();
        assert!(!command.ours);
        assert_eq!(command.describe(), "failed: no space");
        assert!(book.take_to_clear().is_empty());
        book.receive(topic("twinscope-99"), br#"{"status":"executing"}"#, at(1))
            .unwrap();
        assert!(
            book.get("te/device/pump1///cmd/restart/twinscope-99")
                .unwrap()
                .trouble
                .is_some(),
            "our prefix, not ours"
        );
    }

    #[test]
    fn an_unanswered_command_says_so_and_a_reused_id_is_flagged() {
        let mut book = OperationBook::new("te", Duration::from_secs(10));
        book.request(topic("twinscope-2"), Map::new(), at(0));
        assert!(book.tick(at(5)).is_empty());
        assert_eq!(book.tick(at(10)).len(), 1);
        assert!(book.tick(at(20)).is_empty(), "said once");
        assert_eq!(
            book.get("te/device/pump1///cmd/restart/twinscope-2")
                .unwrap()
                .describe(),
            "no response from the device agent"
        );
        book.receive(topic("twinscope-2"), br#"{"status":"executing"}"#, at(21))
            .unwrap();
        book.receive(topic("twinscope-2"), br#"{"status":"init"}"#, at(22))
            .unwrap();
        assert!(
            book.get("te/device/pump1///cmd/restart/twinscope-2")
                .unwrap()
                .trouble
                .as_deref()
                .unwrap()
                .contains("reused")
        );
    }

    #[test]
    fn leftovers_of_a_crashed_run_are_cleared_once_heard_final() {
        let mut book = OperationBook::new("te", Duration::from_secs(10));
        book.adopt("te/device/pump1///cmd/restart/twinscope-3");
        book.adopt("te/device/pump1///cmd/restart/twinscope-4");
        book.receive(topic("twinscope-3"), br#"{"status":"successful"}"#, at(1))
            .unwrap();
        assert_eq!(book.take_to_clear(), vec![topic("twinscope-3")]);
        assert_eq!(
            book.unheard_leftovers(),
            vec!["te/device/pump1///cmd/restart/twinscope-4".to_owned()]
        );
    }

    #[test]
    fn the_book_is_bounded_and_bad_statuses_are_counted() {
        let mut book = OperationBook::new("te", Duration::from_secs(10));
        for k in 0..MAX_COMMANDS + 10 {
            book.receive(
                topic(&format!("c8y-mapper-{k}")),
                br#"{"status":"successful"}"#,
                at(1),
            )
            .unwrap();
        }
        assert_eq!(book.all().count(), MAX_COMMANDS);
        assert!(book.receive(topic("x"), b"{oops", at(1)).is_err());
        assert_eq!(book.refused.values().sum::<u64>(), 1);
    }
}
