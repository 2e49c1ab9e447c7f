//! Visual rules, in the spirit of Azure Digital Twins 3D Scenes behaviours: a property's value
//! ranges map to a status and, optionally, a colour.
//!
//! Rules come from the scene manifest as [`RuleSpec`]s and are checked once into a [`RuleSet`];
//! each twin property resolves its rule once, when first seen, so evaluation per message is
//! a short scan of that rule's ranges.

use serde::Deserialize;

use crate::twin::Status;

/// An sRGB colour with alpha, 8 bits per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgba(pub [u8; 4]);

impl Rgba {
    /// Parses `#rrggbb` or `#rrggbbaa`.
    pub fn parse_hex(text: &str) -> Option<Self> {
        let hex = text.strip_prefix('#')?;
        if !(hex.len() == 6 || hex.len() == 8) || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        let alpha = if hex.len() == 8 { byte(6)? } else { 255 };
        Some(Rgba([byte(0)?, byte(2)?, byte(4)?, alpha]))
    }
}

/// A rule as written in a scene manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// A name for people and error messages.
    pub name: Option<String>,
    /// Which twins the rule applies to: a pattern with `*` and `?` over twin ids.
    #[serde(default = "match_all")]
    pub twins: String,
    /// The property the rule reads (for grouped measurements, `group.name`).
    pub property: String,
    /// Value ranges, checked in order; the first that contains the value wins.
    #[serde(rename = "range")]
    pub ranges: Vec<RangeSpec>,
}

fn match_all() -> String {
    "*".to_owned()
}

/// One value range of a rule: `min <= value < max`, either bound optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeSpec {
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// `ok`, `warning` or `alarm`.
    pub status: String,
    /// `#rrggbb` to colour the part with while in this range.
    pub color: Option<String>,
}

/// Why a rule was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    #[error("rule {rule}: range {range}: unknown status {status:?} (use ok, warning or alarm)")]
    UnknownStatus {
        rule: String,
        range: usize,
        status: String,
    },
    #[error("rule {rule}: range {range}: colour {color:?} is not #rrggbb or #rrggbbaa")]
    BadColor {
        rule: String,
        range: usize,
        color: String,
    },
    #[error("rule {rule}: range {range}: min {min} is not below max {max}")]
    EmptyRange {
        rule: String,
        range: usize,
        min: f64,
        max: f64,
    },
    #[error("rule {rule}: range {range}: bounds must be finite numbers")]
    NonFinite { rule: String, range: usize },
    #[error("rule {rule}: has no ranges")]
    NoRanges { rule: String },
}

#[derive(Debug, Clone)]
struct Range {
    min: f64,
    max: f64,
    status: Status,
    color: Option<Rgba>,
}

#[derive(Debug, Clone)]
struct Rule {
    twins: String,
    property: String,
    ranges: Vec<Range>,
}

/// Checked rules, ready to evaluate.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

impl RuleSet {
    /// Checks every rule; the first problem found is returned with the rule's name or position.
    pub fn compile(specs: &[RuleSpec]) -> Result<Self, RuleError> {
        let mut rules = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            let rule_name = spec
                .name
                .clone()
                .unwrap_or_else(|| format!("#{} ({})", i + 1, spec.property));
            if spec.ranges.is_empty() {
                return Err(RuleError::NoRanges { rule: rule_name });
            }
            let mut ranges = Vec::with_capacity(spec.ranges.len());
            for (j, range) in spec.ranges.iter().enumerate() {
                let at = j + 1;
                let status = match range.status.as_str() {
                    "ok" => Status::Ok,
                    "warning" => Status::Warning,
                    "alarm" => Status::Alarm,
                    other => {
                        return Err(RuleError::UnknownStatus {
                            rule: rule_name,
                            range: at,
                            status: other.to_owned(),
                        });
                    }
                };
                let color = match &range.color {
                    Some(text) => {
                        Some(Rgba::parse_hex(text).ok_or_else(|| RuleError::BadColor {
                            rule: rule_name.clone(),
                            range: at,
                            color: text.clone(),
                        })?)
                    }
                    None => None,
                };
                let min = range.min.unwrap_or(f64::NEG_INFINITY);
                let max = range.max.unwrap_or(f64::INFINITY);
                if range.min.is_some_and(|v| !v.is_finite())
                    || range.max.is_some_and(|v| !v.is_finite())
                {
                    return Err(RuleError::NonFinite {
                        rule: rule_name,
                        range: at,
                    });
                }
                if min >= max {
                    return Err(RuleError::EmptyRange {
                        rule: rule_name,
                        range: at,
                        min,
                        max,
                    });
                }
                ranges.push(Range {
                    min,
                    max,
                    status,
                    color,
                });
            }
            rules.push(Rule {
                twins: spec.twins.clone(),
                property: spec.property.clone(),
                ranges,
            });
        }
        Ok(RuleSet { rules })
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The first rule for this twin and property, if any.
    pub fn find(&self, twin: &str, property: &str) -> Option<usize> {
        self.rules
            .iter()
            .position(|r| r.property == property && glob_match(&r.twins, twin))
    }

    /// The status (and colour) rule `rule` gives `value`; values in no range are `Ok`.
    pub fn evaluate(&self, rule: usize, value: f64) -> (Status, Option<Rgba>) {
        let Some(rule) = self.rules.get(rule) else {
            return (Status::Ok, None);
        };
        rule.ranges
            .iter()
            .find(|r| value >= r.min && value < r.max)
            .map_or((Status::Ok, None), |r| (r.status, r.color))
    }

    /// The alarm-limit boundaries of a rule, for drawing on trend plots.
    pub fn limits(&self, rule: usize) -> Vec<(f64, Status)> {
        let Some(rule) = self.rules.get(rule) else {
            return Vec::new();
        };
        let mut limits = Vec::new();
        for range in &rule.ranges {
            if range.status > Status::Ok {
                for bound in [range.min, range.max] {
                    if bound.is_finite() {
                        limits.push((bound, range.status));
                    }
                }
            }
        }
        limits
    }
}

/// Matches `text` against a pattern of literal characters, `*` (any run) and `?` (any one).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(ranges: Vec<RangeSpec>) -> RuleSpec {
        RuleSpec {
            name: Some("temp".into()),
            twins: "*-bearing-*".into(),
            property: "temperature".into(),
            ranges,
        }
    }

    fn range(min: Option<f64>, max: Option<f64>, status: &str, color: Option<&str>) -> RangeSpec {
        RangeSpec {
            min,
            max,
            status: status.into(),
            color: color.map(str::to_owned),
        }
    }

    fn bearing_rules() -> RuleSet {
        RuleSet::compile(&[spec(vec![
            range(None, Some(70.0), "ok", None),
            range(Some(70.0), Some(85.0), "warning", None),
            range(Some(85.0), None, "alarm", Some("#ff0000")),
        ])])
        .unwrap()
    }

    #[test]
    fn ranges_map_values_to_status_and_colour() {
        let rules = bearing_rules();
        let rule = rules.find("line1-pump1-bearing-de", "temperature").unwrap();
        assert_eq!(rules.evaluate(rule, 20.0), (Status::Ok, None));
        assert_eq!(rules.evaluate(rule, 70.0), (Status::Warning, None));
        assert_eq!(
            rules.evaluate(rule, 90.0),
            (Status::Alarm, Some(Rgba([255, 0, 0, 255])))
        );
        assert_eq!(
            rules.limits(rule),
            vec![
                (70.0, Status::Warning),
                (85.0, Status::Warning),
                (85.0, Status::Alarm)
            ]
        );
    }

    #[test]
    fn rules_only_apply_to_matching_twins_and_properties() {
        let rules = bearing_rules();
        assert!(rules.find("line1-pump1", "temperature").is_none());
        assert!(rules.find("line1-pump1-bearing-de", "vibration").is_none());
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        let err = RuleSet::compile(&[spec(vec![range(None, None, "panic", None)])]).unwrap_err();
        assert!(
            err.to_string().contains("unknown status \"panic\""),
            "{err}"
        );
        let err =
            RuleSet::compile(&[spec(vec![range(Some(5.0), Some(1.0), "ok", None)])]).unwrap_err();
        assert!(matches!(err, RuleError::EmptyRange { .. }));
        let err =
            RuleSet::compile(&[spec(vec![range(None, None, "ok", Some("red"))])]).unwrap_err();
        assert!(matches!(err, RuleError::BadColor { .. }));
        let err =
            RuleSet::compile(&[spec(vec![range(Some(f64::NAN), None, "ok", None)])]).unwrap_err();
        assert!(matches!(err, RuleError::NonFinite { .. }));
        assert!(matches!(
            RuleSet::compile(&[spec(vec![])]).unwrap_err(),
            RuleError::NoRanges { .. }
        ));
    }

    #[test]
    fn glob_matching() {
        assert!(glob_match("*", ""));
        assert!(glob_match("line?-pump*", "line1-pump12"));
        assert!(!glob_match("line?-pump*", "line12-pump1"));
        assert!(glob_match("*-bearing-*", "a-bearing-de"));
        assert!(!glob_match("*-bearing-*", "a-bearing"));
    }

    #[test]
    fn hex_colours() {
        assert_eq!(Rgba::parse_hex("#10203040"), Some(Rgba([16, 32, 48, 64])));
        assert_eq!(Rgba::parse_hex("102030"), None);
        assert_eq!(Rgba::parse_hex("#10203g"), None);
    }
}
