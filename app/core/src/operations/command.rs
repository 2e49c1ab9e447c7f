//! One thin-edge command: its id, the request twinscope publishes (`{"status":"init",...}`
//! retained on `te/<entity>/cmd/<operation>/<cmd-id>`), and the statuses the device agent
//! moves it through (`scheduled`, `executing`, states of a user-defined workflow, then
//! `successful` or `failed` with a `reason`).

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};

/// The prefix of every command id twinscope makes: thin-edge's requesters keep apart by their
/// prefixes (the Cumulocity mapper's are `c8y-mapper-…`).
pub const OUR_PREFIX: &str = "twinscope-";
/// Command payloads longer than this are refused (a status message is small; a software
/// list can be long).
pub const MAX_STATUS_PAYLOAD: usize = 1024 * 1024;
/// Prefixes other requesters use: an id of ours never contains one.
const OTHERS_PREFIXES: [&str; 3] = ["c8y-mapper", "az-mapper", "aws-mapper"];

/// Where a command stands.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CommandState {
    Init,
    Scheduled,
    Executing,
    Successful,
    Failed,
    /// A state of a user-defined workflow (`downloading`, `restarting`, …).
    Workflow(String),
}

impl CommandState {
    pub fn parse(status: &str) -> CommandState {
        match status {
            "init" => CommandState::Init,
            "scheduled" => CommandState::Scheduled,
            "executing" => CommandState::Executing,
            "successful" => CommandState::Successful,
            "failed" => CommandState::Failed,
            other => CommandState::Workflow(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            CommandState::Init => "init",
            CommandState::Scheduled => "scheduled",
            CommandState::Executing => "executing",
            CommandState::Successful => "successful",
            CommandState::Failed => "failed",
            CommandState::Workflow(name) => name,
        }
    }

    pub fn is_final(&self) -> bool {
        matches!(self, CommandState::Successful | CommandState::Failed)
    }
}

/// A command's status as published on its topic: the state, the failure's reason, and the
/// whole payload (the agent carries the request's fields forward and adds its own).
#[derive(Debug, Clone, PartialEq)]
pub struct CommandStatus {
    pub state: CommandState,
    pub reason: Option<String>,
    pub payload: Map<String, Value>,
}

/// Why a command status was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusRefused {
    Oversized,
    /// Not a JSON object with a string `status`.
    Malformed,
}

impl CommandStatus {
    pub fn parse(payload: &[u8]) -> Result<CommandStatus, StatusRefused> {
        if payload.len() > MAX_STATUS_PAYLOAD {
            return Err(StatusRefused::Oversized);
        }
        let Ok(Value::Object(payload)) = serde_json::from_slice::<Value>(payload) else {
            return Err(StatusRefused::Malformed);
        };
        let Some(status) = payload
            .get("status")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= super::topic::MAX_NAME)
        else {
            return Err(StatusRefused::Malformed);
        };
        let state = CommandState::parse(status);
        let reason = payload
            .get("reason")
            .and_then(Value::as_str)
            .map(|r| r.chars().take(1_000).collect());
        Ok(CommandStatus {
            state,
            reason,
            payload,
        })
    }
}

/// A new command id: our prefix, the time and a counter, unique across restarts and
/// processes (the time is in microseconds, the counter per process, the process id apart).
pub fn new_command_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let micros = crate::Timestamp::now().0.max(0) as u64;
    let id = format!("{OUR_PREFIX}{micros:x}-{:x}-{count}", std::process::id());
    debug_assert!(is_ours(&id));
    id
}

/// Whether a command id is one twinscope makes (and never one of another requester's).
pub fn is_ours(id: &str) -> bool {
    id.starts_with(OUR_PREFIX) && !OTHERS_PREFIXES.iter().any(|other| id.contains(other))
}

/// The request's payload: `{"status":"init"}` with the operation's fields (a JSON object
/// given by the user; its own `status` is overridden).
pub fn request_payload(fields: &Map<String, Value>) -> Vec<u8> {
    let mut payload = Map::new();
    payload.insert("status".into(), Value::String("init".into()));
    for (key, value) in fields {
        if key != "status" {
            payload.insert(key.clone(), value.clone());
        }
    }
    serde_json::to_vec(&Value::Object(payload)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_with_workflow_states_and_reasons() {
        let failed =
            CommandStatus::parse(br#"{"status":"failed","reason":"disk full","logType":"x"}"#)
                .unwrap();
        assert_eq!(
            (failed.state, failed.reason.as_deref()),
            (CommandState::Failed, Some("disk full"))
        );
        assert_eq!(
            failed.payload["logType"], "x",
            "the carried-forward fields are kept"
        );
        assert_eq!(
            CommandStatus::parse(br#"{"status":"calibrating"}"#)
                .unwrap()
                .state,
            CommandState::Workflow("calibrating".into())
        );
        for bad in [
            &b"{"[..],
            b"[]",
            br#"{"status":3}"#,
            br#"{"reason":"x"}"#,
            br#"{"status":""}"#,
        ] {
            assert_eq!(
                CommandStatus::parse(bad),
                Err(StatusRefused::Malformed),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            CommandStatus::parse(&vec![b' '; MAX_STATUS_PAYLOAD + 1]),
            Err(StatusRefused::Oversized)
        );
    }

    #[test]
    fn our_ids_are_unique_prefixed_and_never_another_requesters() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_command_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(
            ids.iter().all(|id| is_ours(id)
                && !id.contains('/')
                && !id.contains('+')
                && !id.contains('#'))
        );
        assert!(!is_ours("c8y-mapper-123"));
        assert!(
            !is_ours("twinscope-c8y-mapper-1"),
            "another's prefix inside"
        );
    }

    #[test]
    fn a_request_is_init_with_the_operations_fields() {
        let fields: Map<String, Value> =
            serde_json::from_str(r#"{"status":"successful","type":"tedge.toml"}"#).unwrap();
        let payload: Value = serde_json::from_slice(&request_payload(&fields)).unwrap();
        assert_eq!(
            payload,
            serde_json::json!({"status":"init","type":"tedge.toml"})
        );
    }
}
