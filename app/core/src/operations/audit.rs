//! The audit log: one JSON line per thing done to the plant or refused (a request, each
//! state it went through, its outcome, its clearing), appended and flushed as it happens,
//! never rewritten. Payload fields that look like secrets are written as `***`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

/// Field names whose values are never written (matched without case, as parts of names).
const SECRET_WORDS: [&str; 6] = [
    "password",
    "secret",
    "token",
    "credential",
    "private",
    "apikey",
];

/// Where the audit log goes by default: the user's data folder.
pub fn default_audit_path() -> Option<PathBuf> {
    dirs::data_local_dir().map(|dir| dir.join("twinscope").join("operations-audit.jsonl"))
}

/// Who acts, from where.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: String,
    pub host: String,
}

impl Actor {
    /// The operating system's user and host names.
    pub fn local(user: Option<&str>) -> Actor {
        let user = user
            .map(str::to_owned)
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("USERNAME").ok())
            .unwrap_or_else(|| "unknown".into());
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "unknown".into());
        Actor { user, host }
    }
}

/// One entry.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry<'a> {
    /// `requested`, `dry-run`, `refused`, `state`, `no-response`, `cleared`, `fetched`, …
    pub event: &'a str,
    pub twin: &'a str,
    pub operation: &'a str,
    pub topic: &'a str,
    pub cmd_id: &'a str,
    pub reason: Option<&'a str>,
    pub state: Option<&'a str>,
    pub payload: Option<&'a Map<String, Value>>,
    pub detail: Option<&'a str>,
}

/// The append-only log.
pub struct AuditLog {
    file: File,
    path: PathBuf,
    actor: Actor,
}

impl AuditLog {
    /// Opens (creating) the log at `path` for appending.
    pub fn open(path: &Path, actor: Actor) -> std::io::Result<AuditLog> {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(AuditLog {
            file,
            path: path.to_owned(),
            actor,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Appends one entry (and flushes it to the file).
    pub fn write(&mut self, entry: &AuditEntry<'_>) -> std::io::Result<()> {
        let mut line = json!({
            "time": crate::Timestamp::now().to_string(),
            "user": self.actor.user,
            "host": self.actor.host,
            "event": entry.event,
            "twin": entry.twin,
            "operation": entry.operation,
            "topic": entry.topic,
            "cmd_id": entry.cmd_id,
        });
        let object = line.as_object_mut().expect("an object");
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                object.insert(key.into(), value);
            }
        };
        put("reason", entry.reason.map(Value::from));
        put("state", entry.state.map(Value::from));
        put(
            "payload",
            entry.payload.map(|p| redact(&Value::Object(p.clone()))),
        );
        put("detail", entry.detail.map(Value::from));
        let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
        bytes.push(b'\n');
        self.file.write_all(&bytes)?;
        self.file.flush()
    }
}

/// `value` with every field whose name holds a secret word replaced by `***`.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(key, value)| {
                    let lower = key.to_ascii_lowercase().replace(['_', '-'], "");
                    let secret = SECRET_WORDS.iter().any(|word| lower.contains(word));
                    (
                        key.clone(),
                        if secret {
                            Value::String("***".into())
                        } else {
                            redact(value)
                        },
                    )
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_appended_as_json_lines_without_secrets() {
        let path =
            std::env::temp_dir().join(format!("twinscope-audit-{}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let payload: Map<String, Value> = serde_json::from_str(r#"{"status":"init","url":"http://x","auth":{"api_key":"k","Password":"p"},"access_token":"t"}"#).unwrap();
        for event in ["requested", "state"] {
            let mut log = AuditLog::open(
                &path,
                Actor {
                    user: "anna".into(),
                    host: "ops-1".into(),
                },
            )
            .unwrap();
            log.write(&AuditEntry {
                event,
                twin: "pump1",
                operation: "restart",
                topic: "te/device/pump1///cmd/restart/twinscope-1",
                cmd_id: "twinscope-1",
                reason: Some("seal check"),
                payload: Some(&payload),
                ..Default::default()
            })
            .unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "appended, not rewritten");
        assert_eq!(lines[0]["user"], "anna");
        assert_eq!(lines[0]["reason"], "seal check");
        assert_eq!(lines[1]["event"], "state");
        assert_eq!(lines[0]["payload"]["url"], "http://x");
        assert!(
            !text.contains("\"k\"") && !text.contains("\"p\"") && !text.contains("\"t\""),
            "{text}"
        );
        let _ = std::fs::remove_file(&path);
    }
}
