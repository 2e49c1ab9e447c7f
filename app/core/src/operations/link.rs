//! The operations connection: a helper MQTT client beside the plant data's that hears every
//! capability and command (`te/+/+/+/+/cmd/#`), and, only when the operator turned
//! operations on, publishes our requests and clears them once final. Every request, state
//! and clearing of ours goes to the audit log; each request is in the journal before it is
//! published, so a restart after a crash clears what the crashed run left.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::audit::{Actor, AuditEntry, AuditLog};
use super::book::{CommandEvent, OperationBook};
use super::capabilities::Capabilities;
use super::command::{new_command_id, request_payload};
use super::file_transfer::Fetches;
use super::journal::Journal;
use super::policy::{OperationPolicy, Refusal};
use super::request::prepare_fields;
use super::sparkplug::{GUARDED, SparkplugWrites, WriteState};
use super::topic::{CommandTopic, command_filter};
use crate::Timestamp;
use crate::connection::ConnectionSettings;
use crate::ingest::{IngestConfig, IngestHandle, IngestStats, MessageHandler, spawn_mqtt_client};
use crate::schema::SchemaPublish;

/// How long a leftover of a crashed run may stay unheard after connecting before it is
/// taken as already gone (the broker sends retained messages right after subscribing).
const LEFTOVER_GRACE: Duration = Duration::from_secs(3);

/// How operations run.
#[derive(Debug, Clone)]
pub struct OperationsConfig {
    /// thin-edge's topic root (`te`).
    pub root: String,
    pub policy: OperationPolicy,
    /// A command of ours still at `init` this long is shown as unanswered.
    pub no_response_after: Duration,
    pub audit_path: Option<PathBuf>,
    pub journal_path: Option<PathBuf>,
    pub actor: Actor,
    /// thin-edge's file-transfer service (`http://HOST:8000`), for logs and configurations.
    pub file_transfer: Option<String>,
    /// A Sparkplug write not seen in DATA this long is "no confirmation".
    pub write_confirm_within: Duration,
}

impl OperationsConfig {
    /// Read-only: hears capabilities and commands, never publishes.
    pub fn read_only(actor: Actor) -> Self {
        OperationsConfig {
            root: "te".into(),
            policy: OperationPolicy::default(),
            no_response_after: Duration::from_secs(30),
            audit_path: None,
            journal_path: None,
            actor,
            file_transfer: None,
            write_confirm_within: Duration::from_secs(10),
        }
    }
}

/// What the link and its client thread share (the viewer reads it each frame).
pub struct OperationsShared {
    pub capabilities: Capabilities,
    pub book: OperationBook,
    /// Sparkplug nodes and devices (what their births declare) and our writes to them.
    pub sparkplug: SparkplugWrites,
    acting: bool,
    pub connected: bool,
    connected_since: Option<Instant>,
    /// Logs and configurations fetched from the file-transfer service, by command topic.
    pub fetches: Fetches,
    /// Bumped on every change (the UI redraws its lists then).
    pub generation: u64,
    /// The last thing that went wrong writing the audit log or journal.
    pub problem: Option<String>,
    due: Vec<SchemaPublish>,
    journal: Option<Journal>,
    audit: Option<AuditLog>,
    root: String,
}

impl OperationsShared {
    fn audit(&mut self, entry: AuditEntry<'_>) {
        if let Some(audit) = &mut self.audit
            && let Err(error) = audit.write(&entry)
        {
            self.problem = Some(format!(
                "cannot write the audit log {}: {error}",
                audit.path().display()
            ));
        }
    }

    /// Audits how a Sparkplug write of ours ended.
    fn audit_write(&mut self, k: usize) {
        let Some(write) = self.sparkplug.writes.get(k).cloned() else {
            return;
        };
        let event = match &write.state {
            WriteState::Confirmed => "write-confirmed",
            WriteState::Different(_) => "write-different",
            WriteState::NoConfirmation => "write-no-confirmation",
            WriteState::Sent => return,
        };
        let detail = format!("{} = {}", write.metric, write.value);
        let state = match &write.state {
            WriteState::Different(value) => Some(value.clone()),
            _ => None,
        };
        self.audit(AuditEntry {
            event,
            twin: &write.twin,
            operation: &write.metric,
            topic: &write.topic,
            detail: Some(&detail),
            state: state.as_deref(),
            ..Default::default()
        });
    }

    /// Audits what happened to a command of ours.
    fn audit_event(&mut self, event: &CommandEvent) {
        let (topic, name, state) = match event {
            CommandEvent::State { topic, state } => {
                (topic, "state", Some(state.as_str().to_owned()))
            }
            CommandEvent::NoResponse { topic } => (topic, "no-response", None),
            CommandEvent::Cleared { topic } => (topic, "cleared", None),
        };
        let Some(command) = self.book.get(topic) else {
            return;
        };
        if !command.ours {
            return;
        }
        let (twin, operation, id, payload, reason) = (
            command.topic.twin.clone(),
            command.topic.operation.clone(),
            command.topic.id.clone().unwrap_or_default(),
            command.payload.clone(),
            command.reason.clone(),
        );
        let reason = reason.filter(|_| matches!(state.as_deref(), Some("failed")));
        self.audit(AuditEntry {
            event: name,
            twin: &twin,
            operation: &operation,
            topic,
            cmd_id: &id,
            state: state.as_deref(),
            payload: Some(&payload),
            detail: reason.as_deref(),
            ..Default::default()
        });
    }
}

/// A request checked and complete, not sent yet: what the confirmation shows.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedRequest {
    pub topic: CommandTopic,
    pub topic_text: String,
    pub payload: Map<String, Value>,
    pub reason: String,
}

/// A request as sent (or, in a dry run, as it would have been).
#[derive(Debug, Clone, PartialEq)]
pub struct SentRequest {
    pub topic: String,
    pub cmd_id: String,
    pub payload: Map<String, Value>,
    pub sent: bool,
}

/// A running operations client.
pub struct OperationsLink {
    shared: Arc<Mutex<OperationsShared>>,
    client: IngestHandle,
    config: OperationsConfig,
}

impl OperationsLink {
    /// Connects on `connection`. With operations on, the journal and audit log must open:
    /// nothing is done to the plant that is not written down.
    pub fn start(
        connection: &ConnectionSettings,
        config: OperationsConfig,
    ) -> std::io::Result<OperationsLink> {
        let acting = config.policy.enabled && !config.policy.replay;
        let open_or_fail = |path: &Option<PathBuf>, what: &str| match path {
            Some(path) => Ok(Some(path.clone())),
            None if acting => Err(std::io::Error::other(format!(
                "operations need a {what} (no user data folder)"
            ))),
            None => Ok(None),
        };
        let (audit_path, journal_path) = (
            open_or_fail(&config.audit_path, "audit log")?,
            open_or_fail(&config.journal_path, "journal")?,
        );
        let audit = audit_path
            .filter(|_| acting)
            .map(|p| AuditLog::open(&p, config.actor.clone()))
            .transpose()?;
        let journal = journal_path
            .filter(|_| acting)
            .map(|p| Journal::open(&p))
            .transpose()?;
        let mut book = OperationBook::new(&config.root, config.no_response_after);
        for topic in journal.iter().flat_map(Journal::outstanding) {
            book.adopt(topic);
        }
        let shared = Arc::new(Mutex::new(OperationsShared {
            capabilities: Capabilities::default(),
            sparkplug: SparkplugWrites::new(config.write_confirm_within),
            acting,
            book,
            connected: false,
            connected_since: None,
            fetches: Fetches::default(),
            generation: 0,
            problem: None,
            due: Vec::new(),
            journal,
            audit,
            root: config.root.clone(),
        }));
        let mut ingest = IngestConfig::helper(connection, "operations");
        ingest.batch_interval = Duration::from_millis(50);
        let client = spawn_mqtt_client(
            ingest,
            OperationsHandler {
                shared: shared.clone(),
                file_transfer: config.file_transfer.clone(),
            },
            IngestStats::new(),
            "mqtt-operations",
        )?;
        Ok(OperationsLink {
            shared,
            client,
            config,
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, OperationsShared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn config(&self) -> &OperationsConfig {
        &self.config
    }

    pub fn client(&self) -> &IngestHandle {
        &self.client
    }

    /// Requests `operation` on `twin` with the operation's `fields`, for `reason`: checked
    /// against the policy and what the device announced, written to the journal and audit
    /// log, then published retained (unless this is a dry run).
    pub fn request(
        &self,
        twin: &str,
        operation: &str,
        fields: Map<String, Value>,
        reason: &str,
    ) -> Result<SentRequest, Refusal> {
        let prepared = self.prepare(twin, operation, fields, reason)?;
        self.send(prepared)
    }

    /// What a request would send, exactly (its command id included), for the operator to
    /// confirm; nothing is sent. Refusals are audited.
    pub fn prepare(
        &self,
        twin: &str,
        operation: &str,
        fields: Map<String, Value>,
        reason: &str,
    ) -> Result<PreparedRequest, Refusal> {
        let mut shared = self.lock();
        let result = self.prepare_locked(&shared, twin, operation, fields, reason);
        if let Err(refusal) = &result {
            let detail = refusal.to_string();
            shared.audit(AuditEntry {
                event: "refused",
                twin,
                operation,
                reason: Some(reason),
                detail: Some(&detail),
                ..Default::default()
            });
        }
        result
    }

    fn prepare_locked(
        &self,
        shared: &OperationsShared,
        twin: &str,
        operation: &str,
        fields: Map<String, Value>,
        reason: &str,
    ) -> Result<PreparedRequest, Refusal> {
        self.config.policy.check(twin, operation)?;
        if reason.trim().is_empty() {
            return Err(Refusal::Malformed(
                "a reason is required (it goes into the audit log)".into(),
            ));
        }
        let Some(entity) = shared
            .capabilities
            .of(twin)
            .filter(|e| e.operations.contains_key(operation))
        else {
            return Err(Refusal::Unsupported {
                twin: twin.to_owned(),
                operation: operation.to_owned(),
            });
        };
        let cmd_id = new_command_id();
        let topic = CommandTopic {
            entity: entity.entity.clone(),
            twin: twin.to_owned(),
            operation: operation.to_owned(),
            id: Some(cmd_id.clone()),
        };
        let mut fields = prepare_fields(
            operation,
            fields,
            &entity.operations[operation],
            &cmd_id,
            twin,
            self.config.file_transfer.as_deref(),
            Timestamp::now(),
        )?;
        fields.insert("twinscope".into(), serde_json::json!({ "user": self.config.actor.user, "host": self.config.actor.host, "reason": reason }));
        let payload: Map<String, Value> =
            serde_json::from_slice(&request_payload(&fields)).unwrap_or_default();
        Ok(PreparedRequest {
            topic_text: topic.topic(&self.config.root),
            topic,
            payload,
            reason: reason.to_owned(),
        })
    }

    /// Sends a prepared request: the journal first, then the audit log, then the broker
    /// (retained, QoS 1). A dry run audits it and sends nothing.
    pub fn send(&self, prepared: PreparedRequest) -> Result<SentRequest, Refusal> {
        let mut shared = self.lock();
        let PreparedRequest {
            topic,
            topic_text,
            payload,
            reason,
        } = prepared;
        let (twin, operation, cmd_id) = (
            topic.twin.clone(),
            topic.operation.clone(),
            topic.id.clone().unwrap_or_default(),
        );
        // The policy again: a confirmation left open across a change of mind sends nothing.
        self.config.policy.check(&twin, &operation)?;
        let entry = |event| AuditEntry {
            event,
            twin: &twin,
            operation: &operation,
            topic: &topic_text,
            cmd_id: &cmd_id,
            reason: Some(&reason),
            payload: Some(&payload),
            ..Default::default()
        };
        if self.config.policy.dry_run {
            shared.audit(entry("dry-run"));
            return Ok(SentRequest {
                topic: topic_text,
                cmd_id,
                payload,
                sent: false,
            });
        }
        if let Some(journal) = &mut shared.journal
            && let Err(error) = journal.requested(&topic_text)
        {
            let why = format!(
                "cannot write the operations journal {}: {error}",
                journal.path().display()
            );
            shared.audit(AuditEntry {
                event: "refused",
                detail: Some(&why),
                ..entry("refused")
            });
            return Err(Refusal::Malformed(why));
        }
        shared.audit(entry("requested"));
        let bytes = serde_json::to_vec(&Value::Object(payload.clone())).unwrap_or_default();
        shared
            .book
            .request(topic, payload.clone(), Timestamp::now());
        shared.due.push(SchemaPublish {
            topic: topic_text.clone(),
            payload: bytes,
            qos: 1,
            retain: true,
        });
        shared.generation += 1;
        Ok(SentRequest {
            topic: topic_text,
            cmd_id,
            payload,
            sent: true,
        })
    }

    /// Writes `value` to a Sparkplug metric of `twin` (`group/node` or `group/node/device`)
    /// for `reason`: an NCMD/DCMD as the spec says, tracked until DATA confirms it. Returns
    /// the write's index in [`SparkplugWrites::writes`] (`None` in a dry run).
    pub fn write(
        &self,
        twin: &str,
        metric: &str,
        value: &str,
        reason: &str,
    ) -> Result<Option<usize>, Refusal> {
        let mut shared = self.lock();
        let detail = format!("{metric} = {value}");
        let checked = if GUARDED.contains(&metric) {
            self.config.policy.check_named(twin, metric)
        } else {
            self.config.policy.check(twin, "write")
        };
        let command = checked
            .and_then(|()| {
                if reason.trim().is_empty() {
                    Err(Refusal::Malformed(
                        "a reason is required (it goes into the audit log)".into(),
                    ))
                } else {
                    Ok(())
                }
            })
            .and_then(|()| {
                shared
                    .sparkplug
                    .command(twin, metric, value, Timestamp::now())
            });
        let (publish, expected) = match command {
            Ok(command) => command,
            Err(refusal) => {
                let why = refusal.to_string();
                shared.audit(AuditEntry {
                    event: "refused",
                    twin,
                    operation: metric,
                    reason: Some(reason),
                    detail: Some(&format!("{detail}: {why}")),
                    ..Default::default()
                });
                return Err(refusal);
            }
        };
        let topic = publish.topic.clone();
        let event = if self.config.policy.dry_run {
            "write-dry-run"
        } else {
            "write-requested"
        };
        shared.audit(AuditEntry {
            event,
            twin,
            operation: metric,
            topic: &topic,
            reason: Some(reason),
            detail: Some(&detail),
            ..Default::default()
        });
        if self.config.policy.dry_run {
            return Ok(None);
        }
        shared.due.push(publish);
        let k = shared
            .sparkplug
            .sent(twin, metric, value, &topic, expected, Timestamp::now());
        shared.generation += 1;
        Ok(Some(k))
    }

    /// Asks the edge node of `twin` to publish its births again (NCMD `Node Control/Rebirth`,
    /// which a Sparkplug host may always send): a host that connected after the births has
    /// not heard what is writable.
    pub fn ask_rebirth(&self, twin: &str) {
        let mut parts = twin.splitn(3, '/');
        let (Some(group), Some(node)) = (parts.next(), parts.next()) else {
            return;
        };
        let request = crate::schema::sparkplug::rebirth_request(group, node, Timestamp::now());
        self.lock().due.push(request);
    }

    pub fn stop(mut self) {
        self.client.stop();
    }
}

struct OperationsHandler {
    shared: Arc<Mutex<OperationsShared>>,
    file_transfer: Option<String>,
}

impl OperationsHandler {
    fn lock(&self) -> MutexGuard<'_, OperationsShared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl MessageHandler for OperationsHandler {
    fn subscriptions(&self) -> Vec<String> {
        let shared = self.lock();
        let mut filters = vec![command_filter(&shared.root)];
        // Sparkplug births and deaths say what is writable and online; DATA confirms writes
        // (heard only when writing is on: it is the plant's whole Sparkplug traffic).
        for kind in ["NBIRTH", "DBIRTH", "NDEATH", "DDEATH"] {
            filters.push(format!("spBv1.0/+/{kind}/#"));
        }
        if shared.acting {
            filters.extend([
                "spBv1.0/+/NDATA/#".to_owned(),
                "spBv1.0/+/DDATA/#".to_owned(),
            ]);
        }
        filters
    }

    /// Commands are retained and come again after a reconnect; what we publish goes at least
    /// once.
    fn qos(&self) -> rumqttc::QoS {
        rumqttc::QoS::AtLeastOnce
    }

    fn handle(
        &mut self,
        topic: &str,
        payload: &[u8],
        _qos: u8,
        _retain: bool,
        received: Timestamp,
    ) {
        let mut shared = self.lock();
        if topic.starts_with("spBv1.0/") {
            let settled = shared.sparkplug.receive(topic, payload);
            for k in settled {
                shared.audit_write(k);
            }
            shared.generation += 1;
            return;
        }
        let Some(parsed) = CommandTopic::parse(topic, &shared.root) else {
            return;
        };
        if parsed.id.is_none() {
            if shared
                .capabilities
                .receive(&parsed, payload)
                .unwrap_or(false)
            {
                shared.generation += 1;
            }
            return;
        }
        let Ok(Some(event)) = shared.book.receive(parsed, payload, received) else {
            shared.generation += 1;
            return;
        };
        shared.audit_event(&event);
        shared.generation += 1;
        // A log or configuration of ours uploaded by the agent: fetched in the background.
        if let CommandEvent::State { topic, state } = &event
            && state.is_final()
            && let Some(command) = shared
                .book
                .get(topic)
                .filter(|c| c.ours && *state == super::command::CommandState::Successful)
            && let Some(url) = super::file_transfer::uploaded_file(command)
        {
            let allowed = self
                .file_transfer
                .as_deref()
                .is_some_and(|base| url.starts_with(base));
            shared.fetches.start(topic.clone(), url, allowed);
        }
    }

    fn connected(&mut self) {
        let mut shared = self.lock();
        shared.connected = true;
        shared.connected_since = Some(Instant::now());
    }

    fn connection_lost(&mut self) {
        let mut shared = self.lock();
        shared.connected = false;
        shared.connected_since = None;
    }

    fn tick(&mut self) {
        let mut guard = self.lock();
        let shared = &mut *guard;
        let now = Timestamp::now();
        for event in shared.book.tick(now) {
            shared.audit_event(&event);
            shared.generation += 1;
        }
        for k in shared.sparkplug.tick(now) {
            shared.audit_write(k);
            shared.generation += 1;
        }
        for topic in shared.book.take_to_clear() {
            let text = topic.topic(&shared.root);
            shared.due.push(SchemaPublish {
                topic: text.clone(),
                payload: Vec::new(),
                qos: 1,
                retain: true,
            });
            if let Some(journal) = &mut shared.journal
                && let Err(error) = journal.cleared(&text)
            {
                shared.problem = Some(format!("cannot write the operations journal: {error}"));
            }
        }
        // Leftovers of a crashed run the broker no longer holds: nothing to clear.
        if shared
            .connected_since
            .is_some_and(|since| since.elapsed() >= LEFTOVER_GRACE)
        {
            for topic in shared.book.unheard_leftovers() {
                shared.book.forget_leftover(&topic);
                if let Some(journal) = &mut shared.journal {
                    let _ = journal.cleared(&topic);
                }
            }
        }
    }

    fn take_publishes(&mut self) -> Vec<SchemaPublish> {
        let mut shared = self.lock();
        if shared.due.is_empty() {
            Vec::new()
        } else {
            std::mem::take(&mut shared.due)
        }
    }
}
