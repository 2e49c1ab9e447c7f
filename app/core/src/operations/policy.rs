//! Who may act on the plant: nobody, unless the operator turned operations on
//! (`--allow-operations`), and then only where an allow-list (if given) says, never from a
//! replay, and only for operations the device announced.

use std::fmt;

/// Operations allowed on twins matching a pattern: `TWIN:OPERATION`, each side `*`, a
/// prefix ending in `*`, or exact (`line1-*:restart`, `pump1:*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowRule {
    pub twin: String,
    pub operation: String,
}

impl AllowRule {
    pub fn parse(text: &str) -> Result<AllowRule, String> {
        let (twin, operation) = text.rsplit_once(':').ok_or_else(|| {
            format!(
                "{text:?}: an allowed operation is TWIN:OPERATION (either may be * or end in *)"
            )
        })?;
        if twin.is_empty() || operation.is_empty() {
            return Err(format!("{text:?}: TWIN and OPERATION must not be empty"));
        }
        Ok(AllowRule {
            twin: twin.to_owned(),
            operation: operation.to_owned(),
        })
    }

    fn allows(&self, twin: &str, operation: &str) -> bool {
        matches(&self.twin, twin) && matches(&self.operation, operation)
    }
}

fn matches(pattern: &str, text: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => text.starts_with(prefix),
        None => pattern == text,
    }
}

/// What the operator allowed.
#[derive(Debug, Clone, Default)]
pub struct OperationPolicy {
    /// `--allow-operations`: off by default.
    pub enabled: bool,
    /// `--dry-run-operations`: show what would be sent, send nothing.
    pub dry_run: bool,
    /// When not empty, only these.
    pub allow: Vec<AllowRule>,
    /// A replay never publishes.
    pub replay: bool,
}

/// Why a request was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Off,
    Replay,
    NotAllowed { twin: String, operation: String },
    Unsupported { twin: String, operation: String },
    Malformed(String),
    NeedsFileTransfer { operation: String },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Off => write!(
                f,
                "operations are off: start twinscope with --allow-operations to act on devices"
            ),
            Refusal::Replay => write!(f, "a replay never acts on the plant"),
            Refusal::NotAllowed { twin, operation } => write!(
                f,
                "{operation} on {twin} is not in the allowed operations (--allow)"
            ),
            Refusal::Unsupported { twin, operation } => write!(
                f,
                "{twin} does not announce {operation} (no te/<entity>/cmd/{operation} capability)"
            ),
            Refusal::Malformed(why) => write!(f, "{why}"),
            Refusal::NeedsFileTransfer { operation } => write!(
                f,
                "{operation} needs thin-edge's file-transfer service: give --file-transfer http://HOST:8000"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

impl OperationPolicy {
    /// Whether `operation` on `twin` may be requested, and only where a rule names it exactly
    /// (no wildcard: Sparkplug's `Node Control/Reboot`).
    pub fn check_named(&self, twin: &str, operation: &str) -> Result<(), Refusal> {
        self.check(twin, operation)?;
        if self
            .allow
            .iter()
            .any(|rule| rule.operation == operation && matches(&rule.twin, twin))
        {
            Ok(())
        } else {
            Err(Refusal::NotAllowed {
                twin: twin.to_owned(),
                operation: operation.to_owned(),
            })
        }
    }

    /// Whether `operation` on `twin` may be requested.
    pub fn check(&self, twin: &str, operation: &str) -> Result<(), Refusal> {
        if self.replay {
            return Err(Refusal::Replay);
        }
        if !self.enabled {
            return Err(Refusal::Off);
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|rule| rule.allows(twin, operation)) {
            return Err(Refusal::NotAllowed {
                twin: twin.to_owned(),
                operation: operation.to_owned(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_then_as_the_allow_list_says() {
        assert_eq!(
            OperationPolicy::default().check("pump1", "restart"),
            Err(Refusal::Off)
        );
        let on = OperationPolicy {
            enabled: true,
            ..Default::default()
        };
        assert_eq!(on.check("pump1", "restart"), Ok(()));
        let listed = OperationPolicy {
            enabled: true,
            allow: vec![
                AllowRule::parse("line1-*:restart").unwrap(),
                AllowRule::parse("pump1:*").unwrap(),
            ],
            ..Default::default()
        };
        assert_eq!(listed.check("line1-pump2", "restart"), Ok(()));
        assert_eq!(listed.check("pump1", "log_upload"), Ok(()));
        assert!(matches!(
            listed.check("line2-pump2", "restart"),
            Err(Refusal::NotAllowed { .. })
        ));
        let replay = OperationPolicy { replay: true, ..on };
        assert_eq!(replay.check("pump1", "restart"), Err(Refusal::Replay));
        assert!(AllowRule::parse("nocolon").is_err() && AllowRule::parse(":x").is_err());
    }
}
