//! Twin status and alarm severity, ordered so that "worse" compares greater.

use serde::{Deserialize, Serialize};

/// What an operator needs to know about a twin at a glance.
///
/// The order is the display priority: a twin shows the worst that applies. `Stale` ranks
/// above `Warning` because old data read as live is the more dangerous mistake.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// No data has been received for this twin yet.
    #[default]
    Unknown,
    Ok,
    Warning,
    /// Data was received once but nothing arrived within the stale timeout.
    Stale,
    Alarm,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Stale => "stale",
            Status::Alarm => "alarm",
        }
    }
}

/// Alarm severities as thin-edge (and ISA-18.2 practice) names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Minor,
    Major,
    Critical,
}

impl Severity {
    /// Parses thin-edge's severity strings; unknown ones are `None` so the caller can decide.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "critical" => Some(Severity::Critical),
            "major" => Some(Severity::Major),
            "minor" => Some(Severity::Minor),
            "warning" => Some(Severity::Warning),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Major => "major",
            Severity::Minor => "minor",
            Severity::Warning => "warning",
        }
    }

    /// Critical and major alarms put a twin in alarm; minor and warning ones in warning.
    pub fn status(self) -> Status {
        match self {
            Severity::Critical | Severity::Major => Status::Alarm,
            Severity::Minor | Severity::Warning => Status::Warning,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worse_compares_greater() {
        assert!(Status::Alarm > Status::Stale);
        assert!(Status::Stale > Status::Warning);
        assert!(Status::Warning > Status::Ok);
        assert!(Status::Ok > Status::Unknown);
        assert!(Severity::Critical > Severity::Warning);
    }

    #[test]
    fn severities_parse_case_insensitively() {
        assert_eq!(Severity::parse("MAJOR"), Some(Severity::Major));
        assert_eq!(Severity::parse("bogus"), None);
        assert_eq!(Severity::Minor.status(), Status::Warning);
    }
}
