//! thin-edge command topics: `<root>/<entity: 4 segments>/cmd/<operation>` carries a
//! capability (retained), `<root>/<entity>/cmd/<operation>/<cmd-id>` one command's status.

use crate::schema::thin_edge::EntityTopicId;

/// Operation names and command ids longer than this are refused (thin-edge's are short).
pub const MAX_NAME: usize = 128;

/// A parsed command topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommandTopic {
    /// The entity's topic id, e.g. `device/pump1//` or `device/main/service/tedge-agent`.
    pub entity: String,
    /// The twin the entity is (as the thin-edge schema maps it: `pump1`, `main/tedge-agent`).
    pub twin: String,
    pub operation: String,
    /// `None` for a capability message.
    pub id: Option<String>,
}

impl CommandTopic {
    /// Parses `topic` under `root` (normally `te`); `None` for anything else.
    pub fn parse(topic: &str, root: &str) -> Option<CommandTopic> {
        let rest = topic.strip_prefix(root)?.strip_prefix('/')?;
        let parts: Vec<&str> = rest.splitn(8, '/').collect();
        if parts.len() < 6 || parts.len() > 7 || parts[4] != "cmd" {
            return None;
        }
        let entity = format!("{}/{}/{}/{}", parts[0], parts[1], parts[2], parts[3]);
        let twin = EntityTopicId::parse_reference(&entity, root)?.twin_id();
        let valid = |name: &str| {
            !name.is_empty() && name.len() <= MAX_NAME && !name.contains(['+', '#', '/'])
        };
        let operation = parts[5];
        let id = parts.get(6).copied();
        if !valid(operation) || id.is_some_and(|id| !valid(id)) {
            return None;
        }
        Some(CommandTopic {
            entity,
            twin,
            operation: operation.to_owned(),
            id: id.map(str::to_owned),
        })
    }

    /// The topic itself.
    pub fn topic(&self, root: &str) -> String {
        match &self.id {
            Some(id) => format!("{root}/{}/cmd/{}/{id}", self.entity, self.operation),
            None => format!("{root}/{}/cmd/{}", self.entity, self.operation),
        }
    }
}

/// The filter that hears every capability and command under `root`.
pub fn command_filter(root: &str) -> String {
    format!("{root}/+/+/+/+/cmd/#")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_topics_parse_and_print_back() {
        let topic = CommandTopic::parse("te/device/pump1///cmd/restart/twinscope-1", "te").unwrap();
        assert_eq!(
            (
                topic.entity.as_str(),
                topic.twin.as_str(),
                topic.operation.as_str(),
                topic.id.as_deref()
            ),
            ("device/pump1//", "pump1", "restart", Some("twinscope-1"))
        );
        assert_eq!(
            topic.topic("te"),
            "te/device/pump1///cmd/restart/twinscope-1"
        );
        let capability =
            CommandTopic::parse("te/device/main/service/tedge-agent/cmd/log_upload", "te").unwrap();
        assert_eq!(
            (capability.twin.as_str(), capability.id),
            ("main/tedge-agent", None)
        );
        for bad in [
            "te/device/pump1///m/temp",
            "te/device/pump1///cmd",
            "te/device/pump1///cmd//x",
            "other/device/pump1///cmd/restart",
            "te/device/pump1///cmd/restart/a/b",
        ] {
            assert_eq!(CommandTopic::parse(bad, "te"), None, "{bad}");
        }
        assert_eq!(
            CommandTopic::parse(&format!("te/device/p///cmd/{}", "x".repeat(200)), "te"),
            None,
            "too long a name"
        );
    }
}
