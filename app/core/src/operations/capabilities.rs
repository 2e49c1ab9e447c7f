//! What each device accepts: thin-edge announces an operation an entity supports with a
//! retained `te/<entity>/cmd/<operation>` message, `{}` or `{"types":[...]}` (the log and
//! configuration types of `log_upload`, `config_snapshot`, `config_update`); an empty
//! retained payload withdraws it. A flood of them is bounded and counted, never grown without
//! limit.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::topic::{CommandTopic, MAX_NAME};

/// Entities with capabilities kept at most.
pub const MAX_ENTITIES: usize = 100_000;
/// Operations kept per entity at most.
pub const MAX_OPERATIONS: usize = 64;
/// Types kept per operation at most.
pub const MAX_TYPES: usize = 256;
/// Capability payloads longer than this are refused.
const MAX_PAYLOAD: usize = 64 * 1024;

/// One entity's operations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityCapabilities {
    /// The entity's topic id (`device/pump1//`), to address commands to.
    pub entity: String,
    /// Operation → the types it offers (empty for operations without types).
    pub operations: BTreeMap<String, Vec<String>>,
}

/// Why a capability message was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapabilityRefused {
    Malformed,
    Oversized,
    TooMany,
}

/// Capabilities heard, by twin.
#[derive(Debug, Default)]
pub struct Capabilities {
    by_twin: HashMap<String, EntityCapabilities>,
    refused: HashMap<CapabilityRefused, u64>,
}

impl Capabilities {
    /// Takes one retained capability message; whether anything changed.
    pub fn receive(
        &mut self,
        topic: &CommandTopic,
        payload: &[u8],
    ) -> Result<bool, CapabilityRefused> {
        let result = self.take(topic, payload);
        if let Err(reason) = result {
            *self.refused.entry(reason).or_default() += 1;
        }
        result
    }

    fn take(&mut self, topic: &CommandTopic, payload: &[u8]) -> Result<bool, CapabilityRefused> {
        if payload.is_empty() {
            let Some(entity) = self.by_twin.get_mut(&topic.twin) else {
                return Ok(false);
            };
            let removed = entity.operations.remove(&topic.operation).is_some();
            if entity.operations.is_empty() {
                self.by_twin.remove(&topic.twin);
            }
            return Ok(removed);
        }
        if payload.len() > MAX_PAYLOAD {
            return Err(CapabilityRefused::Oversized);
        }
        let types = parse_types(payload)?;
        if !self.by_twin.contains_key(&topic.twin) && self.by_twin.len() >= MAX_ENTITIES {
            return Err(CapabilityRefused::TooMany);
        }
        let entity = self
            .by_twin
            .entry(topic.twin.clone())
            .or_insert_with(|| EntityCapabilities {
                entity: topic.entity.clone(),
                operations: BTreeMap::new(),
            });
        if !entity.operations.contains_key(&topic.operation)
            && entity.operations.len() >= MAX_OPERATIONS
        {
            return Err(CapabilityRefused::TooMany);
        }
        entity.entity.clone_from(&topic.entity);
        let before = entity
            .operations
            .insert(topic.operation.clone(), types.clone());
        Ok(before.as_ref() != Some(&types))
    }

    /// What `twin` accepts (`None`: it announced nothing).
    pub fn of(&self, twin: &str) -> Option<&EntityCapabilities> {
        self.by_twin.get(twin)
    }

    /// Every entity with capabilities.
    pub fn all(&self) -> impl Iterator<Item = (&String, &EntityCapabilities)> {
        self.by_twin.iter()
    }

    /// Capability messages refused, by reason.
    pub fn refused(&self) -> &HashMap<CapabilityRefused, u64> {
        &self.refused
    }
}

/// `{}` or `{"types":[...]}`; other fields are allowed (thin-edge may add some) and ignored.
fn parse_types(payload: &[u8]) -> Result<Vec<String>, CapabilityRefused> {
    let value: Value = serde_json::from_slice(payload).map_err(|_| CapabilityRefused::Malformed)?;
    let Value::Object(object) = value else {
        return Err(CapabilityRefused::Malformed);
    };
    let Some(types) = object.get("types") else {
        return Ok(Vec::new());
    };
    let Value::Array(types) = types else {
        return Err(CapabilityRefused::Malformed);
    };
    if types.len() > MAX_TYPES {
        return Err(CapabilityRefused::TooMany);
    }
    types
        .iter()
        .map(|t| {
            t.as_str()
                .filter(|t| !t.is_empty() && t.len() <= MAX_NAME)
                .map(str::to_owned)
                .ok_or(CapabilityRefused::Malformed)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(twin: &str, operation: &str) -> CommandTopic {
        CommandTopic::parse(&format!("te/device/{twin}///cmd/{operation}"), "te").unwrap()
    }

    #[test]
    fn capabilities_are_announced_with_types_and_withdrawn_by_an_empty_message() {
        let mut caps = Capabilities::default();
        assert_eq!(caps.receive(&topic("pump1", "restart"), b"{}"), Ok(true));
        assert_eq!(
            caps.receive(
                &topic("pump1", "log_upload"),
                br#"{"types":["tedge-agent","mosquitto"]}"#
            ),
            Ok(true)
        );
        assert_eq!(
            caps.receive(&topic("pump1", "restart"), b"{}"),
            Ok(false),
            "the same again (a reconnect)"
        );
        let pump = caps.of("pump1").unwrap();
        assert_eq!(pump.entity, "device/pump1//");
        assert_eq!(pump.operations["log_upload"], ["tedge-agent", "mosquitto"]);
        assert_eq!(caps.receive(&topic("pump1", "restart"), b""), Ok(true));
        assert!(!caps.of("pump1").unwrap().operations.contains_key("restart"));
        assert_eq!(caps.receive(&topic("pump1", "log_upload"), b""), Ok(true));
        assert!(caps.of("pump1").is_none(), "nothing left");
    }

    #[test]
    fn bad_and_flooding_capabilities_are_refused_and_counted() {
        let mut caps = Capabilities::default();
        assert_eq!(
            caps.receive(&topic("p", "restart"), b"{not json"),
            Err(CapabilityRefused::Malformed)
        );
        assert_eq!(
            caps.receive(&topic("p", "log_upload"), br#"{"types":"all"}"#),
            Err(CapabilityRefused::Malformed)
        );
        assert_eq!(
            caps.receive(&topic("p", "log_upload"), br#"{"types":[1]}"#),
            Err(CapabilityRefused::Malformed)
        );
        let many = format!(
            r#"{{"types":[{}]}}"#,
            vec![r#""t""#; MAX_TYPES + 1].join(",")
        );
        assert_eq!(
            caps.receive(&topic("p", "log_upload"), many.as_bytes()),
            Err(CapabilityRefused::TooMany)
        );
        for k in 0..MAX_OPERATIONS {
            caps.receive(&topic("p", &format!("op{k}")), b"{}").unwrap();
        }
        assert_eq!(
            caps.receive(&topic("p", "one_more"), b"{}"),
            Err(CapabilityRefused::TooMany)
        );
        assert_eq!(caps.refused().values().sum::<u64>(), 5);
    }
}
