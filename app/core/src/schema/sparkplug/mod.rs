//! Eclipse Sparkplug B 3.0, as a host application: groups, edge nodes and devices become
//! twins (`group`, `group/node`, `group/node/device`), their metrics properties.
//!
//! - NBIRTH and DBIRTH name each metric, give its alias and datatype (and its engineering
//!   unit, from the `engUnit` property); NDATA and DDATA update by alias. Aliases are rebuilt
//!   from every birth. Values are read by datatype ([`value`]); a template instance's members
//!   become properties under its name (`Motor/Speed`), as metric folders do.
//! - NDEATH whose `bdSeq` matches the node's current birth takes the node and its devices
//!   offline; a stale or duplicate NDEATH (an older session's will) is ignored; DDEATH takes
//!   one device offline. Losing the broker takes everything offline. Offline twins show as
//!   stale with "offline since"; a Sparkplug twin is never made stale by silence, because
//!   Sparkplug reports by exception.
//! - `seq` (0–255, wrapping) is checked per edge node: after a gap the host holds what
//!   follows for the reorder timeout; the missing message frees them in order, otherwise
//!   they are applied and the node is asked for a rebirth (NCMD `Node Control/Rebirth` =
//!   true). Duplicates are ignored. DATA from a node or device that has not been born (a
//!   viewer that joined late) asks for a rebirth at once, as does an unknown alias.
//! - The host publishes its STATE (`spBv1.0/STATE/<host id>`, retained, QoS 1) online after
//!   each connect, with a will saying offline set before each connect and carrying the same
//!   timestamp. STATE and rebirth requests are the only things it publishes; `passive` turns
//!   both off, and the host then waits for births.

mod aliases;
pub mod descriptor;
mod metrics;
mod node;
mod proto;
mod routes;
mod scalar;
mod topic;
mod value;

use std::time::Duration;

pub use proto::{Header, Metric, Payload, ProtoError, RawValue};
pub use topic::{MessageType, NAMESPACE, Topic, parse as parse_topic};
pub use value::{MetricValue, datatype};

use super::{DecodeError, Decoded, LookAhead, SchemaPublish, TopicSchema};
use crate::time::Timestamp;
use crate::twin::{EntityKind, TwinId};
use crate::update::TwinUpdate;
use metrics::{Body, Declared, Templates, birth_metrics, data_metrics, template_definitions};
use node::{DeviceRef, EdgeNode, Held, MAX_HELD, Route};
use routes::{RouteKey, Routes};

/// The NCMD asking edge node `group/node` to publish its births again (`Node Control/Rebirth`
/// = true, QoS 0, not retained), as a host application may at any time.
pub fn rebirth_request(group: &str, node: &str, now: Timestamp) -> SchemaPublish {
    let ms = (now.0 / 1000).max(0) as u64;
    let request = Payload {
        timestamp: Some(ms),
        metrics: vec![Metric {
            name: Some("Node Control/Rebirth".into()),
            timestamp: Some(ms),
            datatype: Some(datatype::BOOLEAN),
            value: RawValue::Boolean(true),
            ..Default::default()
        }],
        seq: None,
    };
    SchemaPublish {
        topic: format!("{NAMESPACE}/{group}/NCMD/{node}"),
        payload: request.encode(),
        qos: 0,
        retain: false,
    }
}

/// How the host application behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparkplugConfig {
    /// The host id in `spBv1.0/STATE/<host id>`: unique per viewer unless set.
    pub host_id: String,
    /// Publish nothing (no STATE, no rebirth requests): wait for births.
    pub passive: bool,
    /// After a `seq` gap, how long to wait for the missing message (holding what comes after
    /// it) before asking for a rebirth. Zero applies everything as it comes (a replay, which
    /// shows what was received, in that order).
    pub reorder_timeout: Duration,
}

impl SparkplugConfig {
    pub fn new(host_id: Option<String>, passive: bool) -> Self {
        let host_id = host_id.unwrap_or_else(|| crate::ingest::unique_client_id("twinscope"));
        SparkplugConfig {
            host_id,
            passive,
            reorder_timeout: Duration::from_secs(2),
        }
    }

    /// A passive host, for replaying a recording (nothing to publish to).
    pub fn replay() -> Self {
        SparkplugConfig {
            host_id: "replay".into(),
            passive: true,
            reorder_timeout: Duration::ZERO,
        }
    }
}

/// A rebirth is asked of one node at most this often.
const REBIRTH_INTERVAL: Duration = Duration::from_secs(5);

/// The Sparkplug B host application schema.
pub struct SparkplugSchema {
    config: SparkplugConfig,
    /// Edge nodes in order of appearance; a message looks its node up once, by `group/node`.
    nodes: Vec<EdgeNode>,
    node_index: foldhash::HashMap<String, usize>,
    publishes: Vec<SchemaPublish>,
    /// The timestamp of the will registered for this connection (the STATE birth repeats it).
    state_timestamp: Option<u64>,
    /// Where each message's node key (`group/node`) is built: no allocation per message.
    key_buffer: String,
    /// DATA topics' routes, by topic (live) and by key (replay).
    routes: Routes,
    /// Devices followed, over all nodes, and how many may be: past as many as a store holds
    /// twins, births of new ones (a flood of made-up device names) make no more state.
    devices: usize,
    max_devices: usize,
}

impl SparkplugSchema {
    pub fn new(config: SparkplugConfig) -> Self {
        SparkplugSchema {
            config,
            nodes: Vec::new(),
            node_index: foldhash::HashMap::default(),
            publishes: Vec::new(),
            state_timestamp: None,
            key_buffer: String::new(),
            routes: Routes::default(),
            devices: 0,
            max_devices: crate::twin::DEFAULT_MAX_TWINS,
        }
    }

    /// A schema that follows at most `max` devices (tests of the cap).
    #[cfg(test)]
    fn with_max_devices(mut self, max: usize) -> Self {
        self.max_devices = max;
        self
    }

    pub fn config(&self) -> &SparkplugConfig {
        &self.config
    }

    fn state_publish(&self, online: bool, timestamp: u64) -> SchemaPublish {
        SchemaPublish {
            topic: format!("{NAMESPACE}/STATE/{}", self.config.host_id),
            payload: serde_json::json!({ "online": online, "timestamp": timestamp })
                .to_string()
                .into_bytes(),
            qos: 1,
            retain: true,
        }
    }

    /// Asks a node for a rebirth, unless passive or asked recently.
    fn ask_rebirth(&mut self, n: usize, now: Timestamp, why: &str) {
        if self.config.passive {
            return;
        }
        let state = &mut self.nodes[n];
        if state
            .rebirth_asked
            .is_some_and(|asked| now.seconds_since(asked) < REBIRTH_INTERVAL.as_secs_f64())
        {
            return;
        }
        state.rebirth_asked = Some(now);
        let (group, node) = state.group_and_node();
        tracing::info!("asking Sparkplug edge node {group}/{node} for a rebirth ({why})");
        self.publishes.push(rebirth_request(group, node, now));
    }

    /// One message: in sequence it is applied (and any held ones it frees); after a gap it is
    /// held; from before the last applied one (a duplicate) it is ignored.
    #[allow(clippy::too_many_arguments)]
    fn edge(
        &mut self,
        n: usize,
        kind: MessageType,
        device: DeviceRef,
        bytes: &[u8],
        header: Header,
        received: Timestamp,
        out: &mut Vec<TwinUpdate>,
    ) -> Result<Decoded, DecodeError> {
        let Some(seq) = header
            .seq
            .filter(|_| kind != MessageType::NDeath)
            .map(|s| (s % 256) as u8)
        else {
            return self.apply_edge(
                n,
                kind,
                device,
                Body::Raw(bytes),
                header.timestamp,
                received,
                out,
            );
        };
        let state = &mut self.nodes[n];
        if self.config.reorder_timeout.is_zero() {
            state.next_seq = Some(seq.wrapping_add(1));
            return self.apply_edge(
                n,
                kind,
                device,
                Body::Raw(bytes),
                header.timestamp,
                received,
                out,
            );
        }
        match (kind, state.next_seq) {
            (MessageType::NBirth, _) | (_, None) => {
                // A birth starts the sequence again: what was held is superseded by it.
                state.held.clear();
                state.gap = None;
            }
            (_, Some(expected)) if seq == expected => {}
            (_, Some(expected)) => {
                let ahead = seq.wrapping_sub(expected);
                if ahead < 128 && state.held.len() < MAX_HELD {
                    tracing::debug!(
                        "Sparkplug edge node {}: seq {seq} where {expected} was due; holding it",
                        state.key
                    );
                    let payload = Payload::decode(bytes).map_err(not_sparkplug)?;
                    state.gap.get_or_insert(received);
                    let device = state.device_name(device);
                    state.held.push(Held {
                        seq,
                        kind,
                        device,
                        payload,
                        received,
                    });
                    return Ok(Decoded::Updates(0));
                } else if ahead < 128 {
                    // Too many held: stop waiting, as a timeout would.
                    self.release_held(n, out);
                    return self.edge(n, kind, device, bytes, header, received, out);
                } else {
                    tracing::debug!(
                        "Sparkplug edge node {}: seq {seq} is older than {expected}; ignored",
                        state.key
                    );
                    return Ok(Decoded::Ignored);
                }
            }
        }
        state.next_seq = Some(seq.wrapping_add(1));
        let start = out.len();
        self.apply_edge(
            n,
            kind,
            device,
            Body::Raw(bytes),
            header.timestamp,
            received,
            out,
        )?;
        // The missing one came: what waited behind it follows, in order.
        loop {
            let state = &mut self.nodes[n];
            let Some(next) = state.next_seq else { break };
            let Some(position) = state.held.iter().position(|h| h.seq == next) else {
                break;
            };
            let held = state.held.remove(position);
            state.next_seq = Some(next.wrapping_add(1));
            self.apply_held(n, &held, out);
        }
        let state = &mut self.nodes[n];
        if state.held.is_empty() {
            state.gap = None;
        }
        Ok(Decoded::Updates(out.len() - start))
    }

    /// The node's position, its state made if it is new (its key is built in a reused buffer:
    /// a known node costs one lookup and no allocation). Past as many nodes as a store holds
    /// twins, a flood of made-up node names makes no more state.
    fn node_of(&mut self, group: &str, node: &str) -> Option<usize> {
        let mut key = std::mem::take(&mut self.key_buffer);
        key.clear();
        key.push_str(group);
        key.push('/');
        key.push_str(node);
        let n = match self.node_index.get(key.as_str()) {
            Some(n) => *n,
            None if self.nodes.len() >= crate::twin::DEFAULT_MAX_TWINS => {
                self.key_buffer = key;
                return None;
            }
            None => {
                let n = self.nodes.len();
                self.nodes.push(EdgeNode {
                    key: key.clone(),
                    twin: TwinId::kept(&key),
                    born: false,
                    bd_seq: None,
                    next_seq: None,
                    gap: None,
                    held: Vec::new(),
                    rebirth_asked: None,
                    metrics: Declared::default(),
                    templates: Templates::default(),
                    devices: Vec::new(),
                    device_index: foldhash::HashMap::default(),
                });
                self.node_index.insert(key.clone(), n);
                n
            }
        };
        self.key_buffer = key;
        Some(n)
    }

    fn apply_held(&mut self, n: usize, held: &Held, out: &mut Vec<TwinUpdate>) {
        let start = out.len();
        if let Err(reason) = self.apply_edge(
            n,
            held.kind,
            DeviceRef::named(held.device.as_deref()),
            Body::Decoded(&held.payload),
            held.payload.timestamp,
            held.received,
            out,
        ) {
            out.truncate(start);
            tracing::debug!(
                "Sparkplug edge node {}: a held message could not be read: {reason}",
                self.nodes[n].key
            );
        }
    }

    /// Applies what a node held, in sequence order from the seq that went missing, and goes on
    /// from the last of them.
    fn release_held(&mut self, n: usize, out: &mut Vec<TwinUpdate>) {
        let state = &mut self.nodes[n];
        let from = state.next_seq.unwrap_or(0);
        let mut held = std::mem::take(&mut state.held);
        held.sort_by_key(|h| h.seq.wrapping_sub(from));
        state.gap = None;
        if let Some(last) = held.last() {
            state.next_seq = Some(last.seq.wrapping_add(1));
        }
        for message in &held {
            self.apply_held(n, message, out);
        }
    }

    /// What one message does, in sequence. A message whose metrics turn out unreadable adds
    /// nothing to `out` (see [`data_metrics`]).
    #[allow(clippy::too_many_arguments)]
    fn apply_edge(
        &mut self,
        n: usize,
        kind: MessageType,
        device: DeviceRef,
        body: Body,
        timestamp: Option<u64>,
        received: Timestamp,
        out: &mut Vec<TwinUpdate>,
    ) -> Result<Decoded, DecodeError> {
        let start = out.len();
        let decoded;
        // Births and deaths are read whole (DATA is read in place, by `data_metrics`).
        let payload = match (kind, body) {
            (
                MessageType::NBirth | MessageType::DBirth | MessageType::NDeath,
                Body::Decoded(payload),
            ) => Some(payload),
            (MessageType::NBirth | MessageType::DBirth | MessageType::NDeath, Body::Raw(bytes)) => {
                decoded = Payload::decode(bytes).map_err(not_sparkplug)?;
                Some(&decoded)
            }
            _ => None,
        };
        let node_state = &mut self.nodes[n];
        let time = timestamp.map_or(received, |ms| Timestamp((ms as i64).saturating_mul(1000)));
        let mut ask = None;
        let result = match kind {
            MessageType::NBirth => {
                let payload = payload.expect("a birth is decoded");
                node_state.born = true;
                node_state.bd_seq = bd_seq_of(payload);
                node_state.rebirth_asked = None;
                for device in &mut node_state.devices {
                    device.born = false;
                }
                let (group, node) = node_state.group_and_node();
                let group_twin = TwinId::from(group);
                out.push(register(
                    group_twin.clone(),
                    None,
                    EntityKind::Device,
                    group,
                    "Sparkplug group",
                ));
                out.push(register(
                    node_state.twin.clone(),
                    Some(group_twin),
                    EntityKind::ChildDevice,
                    node,
                    "Sparkplug edge node",
                ));
                out.push(TwinUpdate::Online {
                    twin: node_state.twin.clone(),
                    online: true,
                    time,
                });
                node_state.metrics = Declared::default();
                node_state.templates = template_definitions(&payload.metrics);
                birth_metrics(
                    &node_state.twin,
                    &mut node_state.metrics,
                    &node_state.templates,
                    &payload.metrics,
                    time,
                    out,
                );
                Ok(Decoded::Updates(out.len() - start))
            }
            MessageType::NDeath => {
                let bd_seq = bd_seq_of(payload.expect("a death is decoded"));
                if !node_state.born || bd_seq.is_none() || bd_seq != node_state.bd_seq {
                    tracing::debug!(
                        "Sparkplug edge node {}: NDEATH with bdSeq {bd_seq:?} ignored (current {:?})",
                        node_state.key,
                        node_state.bd_seq
                    );
                    return Ok(Decoded::Ignored);
                }
                node_state.born = false;
                node_state.gap = None;
                node_state.held.clear();
                out.push(TwinUpdate::Online {
                    twin: node_state.twin.clone(),
                    online: false,
                    time: received,
                });
                for device in &mut node_state.devices {
                    device.born = false;
                    out.push(TwinUpdate::Online {
                        twin: device.twin.clone(),
                        online: false,
                        time: received,
                    });
                }
                Ok(Decoded::Updates(out.len() - start))
            }
            MessageType::DBirth => {
                let payload = payload.expect("a birth is decoded");
                let new = node_state.device_at(device).is_none();
                if new && self.devices >= self.max_devices {
                    return Err(DecodeError::invalid(format!(
                        "more than {} Sparkplug devices: a new one of {} is not followed",
                        self.max_devices, node_state.key
                    )));
                }
                if !node_state.born {
                    ask = Some("a device birth before its node's birth");
                }
                let d = node_state.device_for_birth(device);
                self.devices += usize::from(new);
                let device = &mut node_state.devices[d];
                device.born = true;
                out.push(register(
                    device.twin.clone(),
                    Some(node_state.twin.clone()),
                    EntityKind::ChildDevice,
                    &device.name,
                    "Sparkplug device",
                ));
                out.push(TwinUpdate::Online {
                    twin: device.twin.clone(),
                    online: true,
                    time,
                });
                device.metrics = Declared::default();
                birth_metrics(
                    &device.twin,
                    &mut device.metrics,
                    &node_state.templates,
                    &payload.metrics,
                    time,
                    out,
                );
                Ok(Decoded::Updates(out.len() - start))
            }
            MessageType::DDeath => match node_state
                .device_at(device)
                .map(|d| &mut node_state.devices[d])
            {
                Some(device) if device.born => {
                    device.born = false;
                    out.push(TwinUpdate::Online {
                        twin: device.twin.clone(),
                        online: false,
                        time: received,
                    });
                    Ok(Decoded::Updates(1))
                }
                _ => Ok(Decoded::Ignored),
            },
            MessageType::NData | MessageType::DData => match node_state.data_target(kind, device) {
                Some((twin, declared, born)) => {
                    let unknown =
                        data_metrics(twin, declared, &node_state.templates, body, time, out)
                            .map_err(not_sparkplug)?;
                    ask = node::data_rebirth_reason(kind, born, unknown);
                    Ok(Decoded::Updates(out.len() - start))
                }
                None => {
                    ask = Some("data from a device never born");
                    Ok(Decoded::Ignored)
                }
            },
            MessageType::NCmd | MessageType::DCmd => Ok(Decoded::Ignored),
        };
        if let Some(why) = ask {
            self.ask_rebirth(n, received, why);
        }
        result
    }
}

impl SparkplugSchema {
    /// A message on a topic not routed yet: parsed, and for DATA of a known node or device,
    /// its route.
    fn decode_topic(
        &mut self,
        topic: &str,
        payload: &[u8],
        received: Timestamp,
        out: &mut Vec<TwinUpdate>,
    ) -> (Result<Decoded, DecodeError>, Option<Route>) {
        let parsed = match topic::parse(topic) {
            Ok(parsed) => parsed,
            Err(_) if !topic.starts_with(NAMESPACE) => {
                return (
                    Err(DecodeError::UnknownTopic {
                        schema: "sparkplug",
                    }),
                    None,
                );
            }
            Err(reason) => return (Err(DecodeError::invalid(reason)), None),
        };
        match parsed {
            // Another host's STATE, or our own coming back: nothing to show.
            Topic::State { .. } => (Ok(Decoded::Ignored), None),
            Topic::Edge {
                kind: MessageType::NCmd | MessageType::DCmd,
                ..
            } => (Ok(Decoded::Ignored), None),
            Topic::Edge {
                group,
                kind,
                node,
                device,
            } => {
                let header = match Header::read(payload) {
                    Ok(header) => header,
                    Err(e) => return (Err(not_sparkplug(e)), None),
                };
                let Some(n) = self.node_of(group, node) else {
                    return (
                        Err(DecodeError::invalid(format!(
                            "more than {} edge nodes: {group}/{node} is not followed",
                            crate::twin::DEFAULT_MAX_TWINS
                        ))),
                        None,
                    );
                };
                let device = DeviceRef::named(device);
                let result = self.edge(n, kind, device, payload, header, received, out);
                let route = match (kind, device) {
                    (MessageType::NData, _) => Some(Route {
                        node: n as u32,
                        device: None,
                        kind,
                    }),
                    (MessageType::DData, _) => self.nodes[n].device_at(device).map(|d| Route {
                        node: n as u32,
                        device: Some(d as u32),
                        kind,
                    }),
                    _ => None,
                };
                (result, route)
            }
        }
    }

    /// A message by its known route, else read from its topic (and routed from then on).
    fn decode_by(
        &mut self,
        key: RouteKey,
        topic: &str,
        payload: &[u8],
        received: Timestamp,
        out: &mut Vec<TwinUpdate>,
    ) -> Result<Decoded, DecodeError> {
        if let Some(route) = self.routes.get(key) {
            return self.routed(route, payload, received, out);
        }
        let (result, route) = self.decode_topic(topic, payload, received, out);
        if let Some(route) = route {
            self.routes.insert(key, route);
        }
        result
    }

    /// The device a DATA topic looked ahead at, `steps` look-ahead steps from being decoded,
    /// goes to (a hint: see [`Routes::peek`]).
    fn device_ahead(&self, topic: &str, steps: usize) -> Option<&node::Device> {
        let route = self.routes.peek(topic, steps)?;
        self.nodes
            .get(route.node as usize)?
            .devices
            .get(route.device? as usize)
    }

    /// A message on a routed topic: no parsing, no lookups.
    fn routed(
        &mut self,
        route: Route,
        payload: &[u8],
        received: Timestamp,
        out: &mut Vec<TwinUpdate>,
    ) -> Result<Decoded, DecodeError> {
        let device = route.device.map_or(DeviceRef::Node, DeviceRef::At);
        if let Some(decoded) = self.data_in_one_pass(
            route.node as usize,
            route.kind,
            device,
            payload,
            received,
            out,
        ) {
            return Ok(decoded);
        }
        let header = Header::read(payload).map_err(not_sparkplug)?;
        self.edge(
            route.node as usize,
            route.kind,
            device,
            payload,
            header,
            received,
            out,
        )
    }

    /// DATA read in one pass with its header, where that does what [`edge`](Self::edge)
    /// does with it: nothing held for the node, the payload laid out as encoders write it
    /// and readable, a device that was born, and a seq that is due (or none). Reading the
    /// header first means stepping over every metric twice. `None`, with `out` and the node
    /// as they were, for everything else, which `edge` then does.
    fn data_in_one_pass(
        &mut self,
        n: usize,
        kind: MessageType,
        device: DeviceRef,
        payload: &[u8],
        received: Timestamp,
        out: &mut Vec<TwinUpdate>,
    ) -> Option<Decoded> {
        if !matches!(kind, MessageType::NData | MessageType::DData) {
            return None;
        }
        let node_state = &self.nodes[n];
        if !node_state.held.is_empty() || node_state.gap.is_some() {
            return None;
        }
        let (twin, declared, born) = node_state.data_target(kind, device)?;
        let start = out.len();
        let (header, unknown) = metrics::data_metrics_in_order(
            twin,
            declared,
            &node_state.templates,
            payload,
            received,
            out,
        )?;
        if let Some(seq) = header.seq.map(|s| (s % 256) as u8) {
            let state = &mut self.nodes[n];
            if !(self.config.reorder_timeout.is_zero()
                || state.next_seq.is_none_or(|due| due == seq))
            {
                out.truncate(start);
                return None;
            }
            state.next_seq = Some(seq.wrapping_add(1));
        }
        if let Some(why) = node::data_rebirth_reason(kind, born, unknown) {
            self.ask_rebirth(n, received, why);
        }
        Some(Decoded::Updates(out.len() - start))
    }
}

fn not_sparkplug(error: ProtoError) -> DecodeError {
    DecodeError::invalid(format!("not a Sparkplug B payload: {error}"))
}

/// A birth declares where a node or device stands (explicitly: a replay that skips to a
/// later birth must place it as playing from the start did); a group is only created.
fn register(
    twin: TwinId,
    parent: Option<TwinId>,
    kind: EntityKind,
    name: &str,
    entity_type: &str,
) -> TwinUpdate {
    TwinUpdate::Register {
        twin,
        implicit: parent.is_none(),
        parent,
        kind,
        display_name: Some(name.to_owned()),
        entity_type: Some(entity_type.to_owned()),
    }
}

/// The `bdSeq` metric of a birth or death.
fn bd_seq_of(payload: &Payload) -> Option<u64> {
    payload
        .metrics
        .iter()
        .find(|m| m.name.as_deref() == Some("bdSeq"))
        .and_then(|m| match m.value {
            RawValue::Long(v) => Some(v),
            RawValue::Int(v) => Some(u64::from(v)),
            _ => None,
        })
}

impl TopicSchema for SparkplugSchema {
    fn name(&self) -> &'static str {
        "sparkplug"
    }

    fn subscriptions(&self) -> Vec<String> {
        vec![format!("{NAMESPACE}/#")]
    }

    fn decode(
        &mut self,
        topic: &str,
        payload: &[u8],
        received: Timestamp,
        out: &mut Vec<TwinUpdate>,
    ) -> Result<Decoded, DecodeError> {
        self.decode_by(RouteKey::Topic(topic), topic, payload, received, out)
    }

    /// Far: the topic's route entry; middle: its device's first cache line (what DATA
    /// reads of it); near: the device's aliases and twin id (see [`super::look_ahead`]).
    fn look_ahead(&self, topic: &str, stage: LookAhead) {
        match stage {
            LookAhead::Far => self.routes.prefetch(topic),
            LookAhead::Middle => {
                if let Some(device) = self.device_ahead(topic, stage.steps()) {
                    crate::prefetch::line((device as *const node::Device).cast());
                }
            }
            LookAhead::Near => {
                if let Some(device) = self.device_ahead(topic, stage.steps()) {
                    device.twin.prefetch();
                    device.metrics.prefetch_aliases();
                }
            }
        }
    }

    fn decode_keyed(
        &mut self,
        key: u16,
        topic: &str,
        payload: &[u8],
        received: Timestamp,
        out: &mut Vec<TwinUpdate>,
    ) -> Result<Decoded, DecodeError> {
        self.decode_by(RouteKey::Channel(key), topic, payload, received, out)
    }

    /// Every node's births, aliases and sequence go (metric names are kept by the process:
    /// see [`PropertyName::kept`](crate::twin::PropertyName::kept)).
    fn restart(&mut self) {
        *self = SparkplugSchema::new(self.config.clone());
    }

    fn will(&mut self, now: Timestamp) -> Option<SchemaPublish> {
        if self.config.passive {
            return None;
        }
        let timestamp = (now.0 / 1000).max(0) as u64;
        self.state_timestamp = Some(timestamp);
        Some(self.state_publish(false, timestamp))
    }

    fn connected(&mut self, now: Timestamp) {
        if self.config.passive {
            return;
        }
        let timestamp = *self
            .state_timestamp
            .get_or_insert((now.0 / 1000).max(0) as u64);
        self.publishes.push(self.state_publish(true, timestamp));
    }

    fn connection_lost(&mut self, now: Timestamp, out: &mut Vec<TwinUpdate>) {
        for node in &mut self.nodes {
            if node.born {
                out.push(TwinUpdate::Online {
                    twin: node.twin.clone(),
                    online: false,
                    time: now,
                });
            }
            node.born = false;
            node.gap = None;
            node.held.clear();
            node.next_seq = None;
            for device in &mut node.devices {
                if device.born {
                    out.push(TwinUpdate::Online {
                        twin: device.twin.clone(),
                        online: false,
                        time: now,
                    });
                }
                device.born = false;
            }
        }
    }

    fn tick(&mut self, now: Timestamp, out: &mut Vec<TwinUpdate>) {
        let timeout = self.config.reorder_timeout.as_secs_f64();
        for n in 0..self.nodes.len() {
            if self.nodes[n]
                .gap
                .is_some_and(|since| now.seconds_since(since) >= timeout)
            {
                // The missing message is not coming: what waited is applied, and the node is
                // asked for its state again.
                self.release_held(n, out);
                self.ask_rebirth(n, now, "a message went missing (seq gap)");
            }
        }
    }

    fn stopping(&mut self, _now: Timestamp) {
        if let Some(timestamp) = self.state_timestamp.filter(|_| !self.config.passive) {
            self.publishes.push(self.state_publish(false, timestamp));
        }
    }

    fn take_publishes(&mut self) -> Vec<SchemaPublish> {
        std::mem::take(&mut self.publishes)
    }
}

#[cfg(test)]
mod tests;
