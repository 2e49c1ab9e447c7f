//! Writing to Sparkplug B edge nodes and devices, as the Sparkplug 3.0 specification says a
//! host application does: an NCMD or DCMD (QoS 0, not retained) naming the metric by the
//! alias its current birth gave it (else by name), with the birth's datatype, a payload
//! timestamp and no `seq`. Only metrics of the current birth are writable, and nothing is sent
//! to a node or device that is offline. A write is confirmed when DATA brings the value back,
//! "different value" when DATA brings another, or "no confirmation" after a while.
//! `Node Control/Reboot` and `Node Control/Next Server` are written only when listed by name.

use std::collections::HashMap;

use super::policy::Refusal;
use crate::Timestamp;
use crate::schema::SchemaPublish;
use crate::schema::sparkplug::{
    MessageType, Metric, NAMESPACE, Payload, RawValue, Topic, datatype, parse_topic,
};

/// Metrics kept per node or device at most, and nodes/devices kept (a flood is cut).
const MAX_METRICS: usize = 10_000;
const MAX_EDGES: usize = 100_000;
/// Writes tracked at most (the oldest settled go first).
const MAX_WRITES: usize = 1_000;

/// Metrics only written when the allow-list names them exactly.
pub const GUARDED: [&str; 2] = ["Node Control/Reboot", "Node Control/Next Server"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritableMetric {
    pub alias: Option<u64>,
    pub datatype: u32,
}

/// A node (`group/node`) or device (`group/node/device`) as its last birth declared it.
#[derive(Debug, Default)]
struct Edge {
    metrics: HashMap<String, WritableMetric>,
    by_alias: HashMap<u64, String>,
    online: bool,
}

/// Where a write stands.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteState {
    Sent,
    Confirmed,
    Different(String),
    NoConfirmation,
}

/// One write and its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackedWrite {
    pub twin: String,
    pub metric: String,
    pub value: String,
    pub topic: String,
    pub sent: Timestamp,
    pub state: WriteState,
    expected: RawValue,
}

impl TrackedWrite {
    pub fn describe(&self, confirm_within: std::time::Duration) -> String {
        match &self.state {
            WriteState::Sent => "sent, waiting for the value in DATA".into(),
            WriteState::Confirmed => "confirmed".into(),
            WriteState::Different(value) => format!("different value: the edge reports {value}"),
            WriteState::NoConfirmation => {
                format!("no confirmation within {} s", confirm_within.as_secs())
            }
        }
    }
}

/// What the writer knows of Sparkplug edges, and its writes.
#[derive(Debug)]
pub struct SparkplugWrites {
    edges: HashMap<String, Edge>,
    pub writes: Vec<TrackedWrite>,
    confirm_within_us: i64,
}

impl SparkplugWrites {
    pub fn new(confirm_within: std::time::Duration) -> Self {
        SparkplugWrites {
            edges: HashMap::new(),
            writes: Vec::new(),
            confirm_within_us: confirm_within.as_micros() as i64,
        }
    }

    /// Takes a Sparkplug message: births declare what is writable, deaths take nodes and
    /// devices offline, DATA confirms writes. Returns the writes it settled.
    pub fn receive(&mut self, topic: &str, payload: &[u8]) -> Vec<usize> {
        let Ok(Topic::Edge {
            group,
            kind,
            node,
            device,
        }) = parse_topic(topic)
        else {
            return Vec::new();
        };
        // DATA matters only while a write waits for it: the plant's Sparkplug traffic passes
        // here, and most of it is not ours to confirm.
        let data = matches!(kind, MessageType::NData | MessageType::DData);
        if data && !self.writes.iter().any(|w| w.state == WriteState::Sent) {
            return Vec::new();
        }
        let twin = match device {
            Some(device) => format!("{group}/{node}/{device}"),
            None => format!("{group}/{node}"),
        };
        match kind {
            MessageType::NBirth | MessageType::DBirth => {
                let Ok(payload) = Payload::decode(payload) else {
                    return Vec::new();
                };
                if !self.edges.contains_key(&twin) && self.edges.len() >= MAX_EDGES {
                    return Vec::new();
                }
                let edge = self.edges.entry(twin).or_default();
                edge.metrics.clear();
                edge.by_alias.clear();
                edge.online = true;
                for metric in payload.metrics.into_iter().take(MAX_METRICS) {
                    let (Some(name), Some(datatype)) = (metric.name, metric.datatype) else {
                        continue;
                    };
                    if let Some(alias) = metric.alias {
                        edge.by_alias.insert(alias, name.clone());
                    }
                    edge.metrics.insert(
                        name,
                        WritableMetric {
                            alias: metric.alias,
                            datatype,
                        },
                    );
                }
                Vec::new()
            }
            MessageType::NDeath => {
                let prefix = format!("{twin}/");
                for (id, edge) in &mut self.edges {
                    if *id == twin || id.starts_with(&prefix) {
                        edge.online = false;
                    }
                }
                Vec::new()
            }
            MessageType::DDeath => {
                if let Some(edge) = self.edges.get_mut(&twin) {
                    edge.online = false;
                }
                Vec::new()
            }
            MessageType::NData | MessageType::DData => {
                let Ok(payload) = Payload::decode(payload) else {
                    return Vec::new();
                };
                self.confirm(&twin, &payload.metrics)
            }
            MessageType::NCmd | MessageType::DCmd => Vec::new(),
        }
    }

    fn confirm(&mut self, twin: &str, metrics: &[Metric]) -> Vec<usize> {
        let Some(edge) = self.edges.get(twin) else {
            return Vec::new();
        };
        let mut settled = Vec::new();
        for metric in metrics {
            let name = metric
                .name
                .clone()
                .or_else(|| metric.alias.and_then(|a| edge.by_alias.get(&a).cloned()));
            let Some(name) = name else { continue };
            for (k, write) in self.writes.iter_mut().enumerate() {
                if write.twin == twin && write.metric == name && write.state == WriteState::Sent {
                    write.state = if metric.value == write.expected {
                        WriteState::Confirmed
                    } else {
                        WriteState::Different(show(&metric.value))
                    };
                    settled.push(k);
                }
            }
        }
        settled
    }

    /// Writes not confirmed in time; their indices.
    pub fn tick(&mut self, now: Timestamp) -> Vec<usize> {
        let mut settled = Vec::new();
        for (k, write) in self.writes.iter_mut().enumerate() {
            if write.state == WriteState::Sent && now.0 - write.sent.0 >= self.confirm_within_us {
                write.state = WriteState::NoConfirmation;
                settled.push(k);
            }
        }
        settled
    }

    /// The writable metrics of `twin` (name, datatype name), and whether it is online.
    pub fn writable(&self, twin: &str) -> Option<(Vec<(String, &'static str)>, bool)> {
        let edge = self.edges.get(twin)?;
        let mut metrics: Vec<(String, &'static str)> = edge
            .metrics
            .iter()
            .filter(|(_, m)| writable_type(m.datatype).is_some())
            .map(|(name, m)| (name.clone(), writable_type(m.datatype).unwrap_or("?")))
            .collect();
        metrics.sort();
        Some((metrics, edge.online))
    }

    /// The command that writes `value` (text, read as the metric's datatype) to `metric` of
    /// `twin`, or why not.
    pub fn command(
        &self,
        twin: &str,
        metric: &str,
        value: &str,
        now: Timestamp,
    ) -> Result<(SchemaPublish, RawValue), Refusal> {
        let edge = self.edges.get(twin).ok_or_else(|| {
            Refusal::Malformed(format!(
                "{twin} is no Sparkplug node or device born since we connected"
            ))
        })?;
        if !edge.online {
            return Err(Refusal::Malformed(format!(
                "{twin} is offline: nothing is written to it"
            )));
        }
        let declared = edge.metrics.get(metric).ok_or_else(|| {
            Refusal::Malformed(format!("{twin}'s current birth has no metric {metric:?}"))
        })?;
        let raw = parse_value(declared.datatype, value).map_err(Refusal::Malformed)?;
        let parts: Vec<&str> = twin.splitn(3, '/').collect();
        let topic = match parts.as_slice() {
            [group, node] => format!("{NAMESPACE}/{group}/NCMD/{node}"),
            [group, node, device] => format!("{NAMESPACE}/{group}/DCMD/{node}/{device}"),
            _ => {
                return Err(Refusal::Malformed(format!(
                    "{twin} is not group/node or group/node/device"
                )));
            }
        };
        let ms = (now.0 / 1000).max(0) as u64;
        // By alias when the birth gave one (the spec's rule), else by name.
        let metric_out = Metric {
            name: declared.alias.is_none().then(|| metric.to_owned()),
            alias: declared.alias,
            timestamp: Some(ms),
            datatype: Some(declared.datatype),
            value: raw.clone(),
            ..Default::default()
        };
        let payload = Payload {
            timestamp: Some(ms),
            metrics: vec![metric_out],
            seq: None,
        };
        Ok((
            SchemaPublish {
                topic,
                payload: payload.encode(),
                qos: 0,
                retain: false,
            },
            raw,
        ))
    }

    /// A write sent now (tracked until DATA confirms it or the time runs out).
    pub fn sent(
        &mut self,
        twin: &str,
        metric: &str,
        value: &str,
        topic: &str,
        expected: RawValue,
        now: Timestamp,
    ) -> usize {
        if self.writes.len() >= MAX_WRITES
            && let Some(settled) = self.writes.iter().position(|w| w.state != WriteState::Sent)
        {
            self.writes.remove(settled);
        }
        self.writes.push(TrackedWrite {
            twin: twin.to_owned(),
            metric: metric.to_owned(),
            value: value.to_owned(),
            topic: topic.to_owned(),
            sent: now,
            state: WriteState::Sent,
            expected,
        });
        self.writes.len() - 1
    }
}

/// The datatypes a value typed by a person can be written as.
fn writable_type(datatype: u32) -> Option<&'static str> {
    Some(match datatype {
        datatype::INT8 => "Int8",
        datatype::INT16 => "Int16",
        datatype::INT32 => "Int32",
        datatype::INT64 => "Int64",
        datatype::UINT8 => "UInt8",
        datatype::UINT16 => "UInt16",
        datatype::UINT32 => "UInt32",
        datatype::UINT64 => "UInt64",
        datatype::FLOAT => "Float",
        datatype::DOUBLE => "Double",
        datatype::BOOLEAN => "Boolean",
        datatype::STRING | datatype::TEXT => "String",
        _ => return None,
    })
}

/// `text` as a value of `datatype`, in the protobuf field that datatype uses (Int8–UInt32
/// in `int_value`, 64-bit integers in `long_value`, two's complement for negatives).
fn parse_value(datatype: u32, text: &str) -> Result<RawValue, String> {
    let text = text.trim();
    let name = writable_type(datatype)
        .ok_or_else(|| format!("datatype {datatype} cannot be written from twinscope"))?;
    let bad = || format!("{text:?} is not a {name}");
    let int = |low: i64, high: i64| -> Result<i64, String> {
        text.parse::<i64>()
            .ok()
            .filter(|v| (low..=high).contains(v))
            .ok_or_else(bad)
    };
    Ok(match datatype {
        datatype::INT8 => RawValue::Int(int(i8::MIN.into(), i8::MAX.into())? as i8 as u8 as u32),
        datatype::INT16 => {
            RawValue::Int(int(i16::MIN.into(), i16::MAX.into())? as i16 as u16 as u32)
        }
        datatype::INT32 => RawValue::Int(int(i32::MIN.into(), i32::MAX.into())? as i32 as u32),
        datatype::UINT8 => RawValue::Int(int(0, u8::MAX.into())? as u32),
        datatype::UINT16 => RawValue::Int(int(0, u16::MAX.into())? as u32),
        datatype::UINT32 => RawValue::Int(int(0, u32::MAX.into())? as u32),
        datatype::INT64 => RawValue::Long(text.parse::<i64>().map_err(|_| bad())? as u64),
        datatype::UINT64 => RawValue::Long(text.parse::<u64>().map_err(|_| bad())?),
        datatype::FLOAT => RawValue::Float(
            text.parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(bad)?,
        ),
        datatype::DOUBLE => RawValue::Double(
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(bad)?,
        ),
        datatype::BOOLEAN => RawValue::Boolean(match text {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(bad()),
        }),
        _ => RawValue::String(text.to_owned()),
    })
}

fn show(value: &RawValue) -> String {
    match value {
        RawValue::Int(v) => v.to_string(),
        RawValue::Long(v) => v.to_string(),
        RawValue::Float(v) => v.to_string(),
        RawValue::Double(v) => v.to_string(),
        RawValue::Boolean(v) => v.to_string(),
        RawValue::String(v) => format!("{v:?}"),
        RawValue::None => "null".into(),
        other => format!("{other:?}").chars().take(80).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn birth() -> Vec<u8> {
        let metric = |name: &str, alias, datatype| Metric {
            name: Some(name.into()),
            alias: Some(alias),
            datatype: Some(datatype),
            ..Default::default()
        };
        Payload {
            timestamp: Some(1),
            metrics: vec![
                metric("Setpoint", 7, datatype::DOUBLE),
                metric("Mode", 8, datatype::STRING),
                metric("Count", 9, datatype::INT32),
            ],
            seq: Some(0),
        }
        .encode()
    }

    fn data(alias: u64, value: RawValue) -> Vec<u8> {
        Payload {
            timestamp: Some(2),
            metrics: vec![Metric {
                alias: Some(alias),
                value,
                ..Default::default()
            }],
            seq: Some(1),
        }
        .encode()
    }

    #[test]
    fn a_write_goes_by_alias_with_the_births_datatype_and_is_confirmed_by_data() {
        let mut writes = SparkplugWrites::new(std::time::Duration::from_secs(5));
        writes.receive("spBv1.0/G/DBIRTH/N/D", &birth());
        let (publish, expected) = writes
            .command("G/N/D", "Setpoint", "42.5", Timestamp(3_000_000))
            .unwrap();
        assert_eq!(
            (publish.topic.as_str(), publish.qos, publish.retain),
            ("spBv1.0/G/DCMD/N/D", 0, false)
        );
        let sent = Payload::decode(&publish.payload).unwrap();
        assert_eq!(
            (sent.timestamp, sent.seq),
            (Some(3_000), None),
            "a payload timestamp, no seq"
        );
        assert_eq!(
            (
                sent.metrics[0].alias,
                sent.metrics[0].name.as_deref(),
                sent.metrics[0].datatype
            ),
            (Some(7), None, Some(datatype::DOUBLE))
        );
        let k = writes.sent(
            "G/N/D",
            "Setpoint",
            "42.5",
            &publish.topic,
            expected,
            Timestamp(3_000_000),
        );
        assert_eq!(
            writes.receive("spBv1.0/G/DDATA/N/D", &data(7, RawValue::Double(42.5))),
            vec![k]
        );
        assert_eq!(writes.writes[k].state, WriteState::Confirmed);
    }

    #[test]
    fn other_values_silence_offline_and_bad_values_each_say_so() {
        let mut writes = SparkplugWrites::new(std::time::Duration::from_secs(5));
        writes.receive("spBv1.0/G/DBIRTH/N/D", &birth());
        let (publish, expected) = writes
            .command("G/N/D", "Count", "-3", Timestamp(0))
            .unwrap();
        assert_eq!(
            expected,
            RawValue::Int((-3i32) as u32),
            "two's complement in int_value"
        );
        let k = writes.sent(
            "G/N/D",
            "Count",
            "-3",
            &publish.topic,
            expected,
            Timestamp(0),
        );
        writes.receive("spBv1.0/G/DDATA/N/D", &data(9, RawValue::Int(5)));
        assert_eq!(writes.writes[k].state, WriteState::Different("5".into()));
        let (publish, expected) = writes
            .command("G/N/D", "Mode", "Manual", Timestamp(0))
            .unwrap();
        let k = writes.sent(
            "G/N/D",
            "Mode",
            "Manual",
            &publish.topic,
            expected,
            Timestamp(0),
        );
        assert_eq!(writes.tick(Timestamp(5_000_000)), vec![k]);
        assert_eq!(
            writes.writes[k].describe(std::time::Duration::from_secs(5)),
            "no confirmation within 5 s"
        );
        assert!(
            writes
                .command("G/N/D", "Count", "3000000000", Timestamp(0))
                .unwrap_err()
                .to_string()
                .contains("not a Int32")
        );
        assert!(writes.command("G/N/D", "Nope", "1", Timestamp(0)).is_err());
        writes.receive("spBv1.0/G/NDEATH/N", &Payload::default().encode());
        assert!(
            writes
                .command("G/N/D", "Setpoint", "1", Timestamp(0))
                .unwrap_err()
                .to_string()
                .contains("offline"),
            "the node's death takes its devices offline"
        );
    }
}
