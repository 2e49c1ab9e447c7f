//! Local alarm rules from the scene manifest: a limit on a property, with a deadband so a
//! value hovering at the limit does not chatter, and an on-delay so a spike does not alarm.
//!
//! ```toml
//! [[alarm]]
//! type = "high-temperature"        # the alarm type; one alarm per twin and type
//! twins = "*-bearing-*"
//! property = "temperature"
//! above = 85                       # or `below = ...`
//! deadband = 3                     # clears below 82
//! on_delay_secs = 2                # must stay above 85 for 2 s (of measurement time)
//! severity = "major"
//! text = "Bearing temperature high"
//! ```

use std::sync::Arc;

use serde::Deserialize;

use crate::rules::glob_match;
use crate::time::Timestamp;
use crate::twin::Severity;

/// An alarm rule as written in a manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmRuleSpec {
    #[serde(rename = "type")]
    pub alarm_type: String,
    #[serde(default = "match_all")]
    pub twins: String,
    /// The property, or a pattern with `*` (`Alarms/*`): each matching property is its own
    /// alarm, typed `<type>:<property>`.
    pub property: String,
    pub above: Option<f64>,
    pub below: Option<f64>,
    /// For on/off tags (a PLC's alarm bits, Sparkplug Booleans): `true` raises the alarm
    /// while the tag is on, `false` while it is off.
    pub when: Option<bool>,
    #[serde(default)]
    pub deadband: f64,
    #[serde(default)]
    pub on_delay_secs: f64,
    pub severity: String,
    pub text: Option<String>,
}

fn match_all() -> String {
    "*".to_owned()
}

/// Why an alarm rule was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlarmRuleError {
    #[error("alarm {0:?}: give exactly one of `above`, `below` or `when`")]
    Direction(String),
    #[error("alarm {0:?}: the limit must be a finite number")]
    NonFinite(String),
    #[error("alarm {0:?}: deadband and on_delay_secs must be finite and not negative")]
    Negative(String),
    #[error("alarm {0:?}: unknown severity {1:?} (use critical, major, minor or warning)")]
    Severity(String, String),
    #[error("alarm rule #{0}: type must not be empty")]
    EmptyType(usize),
}

/// Which side of the limit is bad.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Direction {
    Above,
    Below,
}

/// A checked alarm rule.
#[derive(Debug, Clone)]
pub struct AlarmRule {
    pub alarm_type: Arc<str>,
    pub twins: String,
    pub property: String,
    pub direction: Direction,
    pub limit: f64,
    pub deadband: f64,
    /// Microseconds the condition must hold before the alarm activates.
    pub on_delay_us: i64,
    pub severity: Severity,
    pub text: String,
    /// An on/off rule (`when`): its text names no value.
    pub on_off: bool,
}

/// What one measurement did to a rule's condition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LimitChange {
    Activated,
    Cleared,
}

/// The condition of one rule on one property, kept between measurements.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LimitState {
    pub active: bool,
    /// When the value first went past the limit, while waiting out the on-delay.
    pub pending_since: Option<Timestamp>,
}

impl AlarmRule {
    fn compile(index: usize, spec: &AlarmRuleSpec) -> Result<Self, AlarmRuleError> {
        let name = spec.alarm_type.clone();
        if name.is_empty() {
            return Err(AlarmRuleError::EmptyType(index + 1));
        }
        // An on/off tag is 1 or 0: on is above one half, off below it.
        let (direction, limit) = match (spec.above, spec.below, spec.when) {
            (Some(limit), None, None) => (Direction::Above, limit),
            (None, Some(limit), None) => (Direction::Below, limit),
            (None, None, Some(true)) => (Direction::Above, 0.5),
            (None, None, Some(false)) => (Direction::Below, 0.5),
            _ => return Err(AlarmRuleError::Direction(name)),
        };
        if !limit.is_finite() {
            return Err(AlarmRuleError::NonFinite(name));
        }
        let non_negative = |v: f64| v.is_finite() && v >= 0.0;
        if !non_negative(spec.deadband) || !non_negative(spec.on_delay_secs) {
            return Err(AlarmRuleError::Negative(name));
        }
        let severity = Severity::parse(&spec.severity)
            .ok_or_else(|| AlarmRuleError::Severity(name.clone(), spec.severity.clone()))?;
        let text = spec.text.clone().unwrap_or_else(|| match spec.when {
            Some(on) => format!("{} is {}", spec.property, if on { "on" } else { "off" }),
            None => {
                let side = if direction == Direction::Above {
                    "above"
                } else {
                    "below"
                };
                format!("{} {side} {limit}", spec.property)
            }
        });
        Ok(AlarmRule {
            alarm_type: name.into(),
            twins: spec.twins.clone(),
            property: spec.property.clone(),
            direction,
            limit,
            deadband: spec.deadband,
            on_delay_us: (spec.on_delay_secs * 1e6) as i64,
            severity,
            text,
            on_off: spec.when.is_some(),
        })
    }

    /// The alarm type a property's alarm gets: the rule's, or with a pattern `<type>:<property>`.
    pub fn alarm_type_for(&self, property: &str) -> Arc<str> {
        if self.property.contains('*') {
            format!("{}:{property}", self.alarm_type).into()
        } else {
            self.alarm_type.clone()
        }
    }

    /// The value at which an active alarm clears.
    pub fn clear_at(&self) -> f64 {
        match self.direction {
            Direction::Above => self.limit - self.deadband,
            Direction::Below => self.limit + self.deadband,
        }
    }

    /// Advances the condition with one measurement taken at `time`. Values that are not
    /// numbers (NaN, infinite) say nothing about the condition and change nothing.
    pub fn step(&self, state: &mut LimitState, value: f64, time: Timestamp) -> Option<LimitChange> {
        if !value.is_finite() {
            return None;
        }
        let beyond_limit = match self.direction {
            Direction::Above => value > self.limit,
            Direction::Below => value < self.limit,
        };
        if state.active {
            let back_inside = match self.direction {
                Direction::Above => value < self.clear_at(),
                Direction::Below => value > self.clear_at(),
            };
            if back_inside {
                *state = LimitState::default();
                return Some(LimitChange::Cleared);
            }
            return None;
        }
        if !beyond_limit {
            state.pending_since = None;
            return None;
        }
        let since = *state.pending_since.get_or_insert(time);
        if time.0 - since.0 >= self.on_delay_us {
            *state = LimitState {
                active: true,
                pending_since: None,
            };
            Some(LimitChange::Activated)
        } else {
            None
        }
    }
}

/// The checked alarm rules of a scene.
#[derive(Debug, Clone, Default)]
pub struct AlarmRules {
    rules: Vec<AlarmRule>,
}

impl AlarmRules {
    pub fn compile(specs: &[AlarmRuleSpec]) -> Result<Self, AlarmRuleError> {
        let rules = specs
            .iter()
            .enumerate()
            .map(|(i, s)| AlarmRule::compile(i, s))
            .collect::<Result<_, _>>()?;
        Ok(AlarmRules { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn get(&self, rule: usize) -> &AlarmRule {
        &self.rules[rule]
    }

    /// Every rule for this twin and property.
    pub fn find(&self, twin: &str, property: &str) -> Vec<usize> {
        (0..self.rules.len())
            .filter(|&i| {
                glob_match(&self.rules[i].property, property)
                    && glob_match(&self.rules[i].twins, twin)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(on_delay_secs: f64, deadband: f64) -> AlarmRule {
        let spec = AlarmRuleSpec {
            alarm_type: "high-temperature".into(),
            twins: "*".into(),
            property: "temperature".into(),
            above: Some(85.0),
            below: None,
            when: None,
            deadband,
            on_delay_secs,
            severity: "major".into(),
            text: None,
        };
        AlarmRule::compile(0, &spec).unwrap()
    }

    fn feed(rule: &AlarmRule, samples: &[(f64, f64)]) -> Vec<(f64, LimitChange)> {
        let mut state = LimitState::default();
        samples
            .iter()
            .filter_map(|&(t, v)| {
                rule.step(&mut state, v, Timestamp((t * 1e6) as i64))
                    .map(|c| (t, c))
            })
            .collect()
    }

    #[test]
    fn deadband_stops_chatter_at_the_limit() {
        let noisy: Vec<(f64, f64)> = (0..20)
            .map(|i| (i as f64, if i % 2 == 0 { 85.5 } else { 84.5 }))
            .collect();
        assert_eq!(
            feed(&rule(0.0, 0.0), &noisy).len(),
            20,
            "without a deadband every sample flips the alarm"
        );
        assert_eq!(
            feed(&rule(0.0, 3.0), &noisy),
            vec![(0.0, LimitChange::Activated)],
            "with one it activates once"
        );
        let changes = feed(
            &rule(0.0, 3.0),
            &[(0.0, 90.0), (1.0, 83.0), (2.0, 82.0), (3.0, 81.9)],
        );
        assert_eq!(
            changes,
            vec![(0.0, LimitChange::Activated), (3.0, LimitChange::Cleared)],
            "clears only below limit - deadband"
        );
    }

    #[test]
    fn on_delay_ignores_spikes_and_raises_on_sustained_excursions() {
        let rule = rule(2.0, 0.0);
        assert!(
            feed(
                &rule,
                &[
                    (0.0, 90.0),
                    (1.0, 90.0),
                    (1.5, 80.0),
                    (2.5, 90.0),
                    (4.0, 90.0)
                ]
            )
            .is_empty(),
            "interrupted"
        );
        let changes = feed(&rule, &[(10.0, 90.0), (11.0, 91.0), (12.0, 92.0)]);
        assert_eq!(
            changes,
            vec![(12.0, LimitChange::Activated)],
            "raised once the condition held 2 s"
        );
    }

    #[test]
    fn not_a_number_changes_nothing() {
        let rule = rule(0.0, 1.0);
        let mut state = LimitState::default();
        assert_eq!(rule.step(&mut state, f64::NAN, Timestamp(0)), None);
        assert_eq!(
            rule.step(&mut state, 90.0, Timestamp(1)),
            Some(LimitChange::Activated)
        );
        assert_eq!(rule.step(&mut state, f64::NAN, Timestamp(2)), None);
        assert!(state.active);
    }

    #[test]
    fn low_limits_mirror_high_ones() {
        let spec = AlarmRuleSpec {
            alarm_type: "low-pressure".into(),
            twins: "*".into(),
            property: "pressure".into(),
            above: None,
            below: Some(1.0),
            when: None,
            deadband: 0.2,
            on_delay_secs: 0.0,
            severity: "critical".into(),
            text: None,
        };
        let rule = AlarmRule::compile(0, &spec).unwrap();
        let changes = feed(&rule, &[(0.0, 2.0), (1.0, 0.9), (2.0, 1.1), (3.0, 1.21)]);
        assert_eq!(
            changes,
            vec![(1.0, LimitChange::Activated), (3.0, LimitChange::Cleared)]
        );
        assert_eq!(rule.text, "pressure below 1");
    }

    #[test]
    fn bad_rules_are_refused() {
        let base = AlarmRuleSpec {
            alarm_type: "x".into(),
            twins: "*".into(),
            property: "p".into(),
            above: Some(1.0),
            below: Some(0.0),
            when: None,
            deadband: 0.0,
            on_delay_secs: 0.0,
            severity: "major".into(),
            text: None,
        };
        assert!(matches!(
            AlarmRules::compile(std::slice::from_ref(&base)),
            Err(AlarmRuleError::Direction(_))
        ));
        let spec = AlarmRuleSpec {
            below: None,
            severity: "urgent".into(),
            ..base.clone()
        };
        let err = AlarmRules::compile(&[spec]).unwrap_err();
        assert!(err.to_string().contains("urgent"), "{err}");
        let spec = AlarmRuleSpec {
            below: None,
            deadband: -1.0,
            ..base.clone()
        };
        assert!(matches!(
            AlarmRules::compile(&[spec]),
            Err(AlarmRuleError::Negative(_))
        ));
        let spec = AlarmRuleSpec {
            below: None,
            above: Some(f64::INFINITY),
            ..base
        };
        assert!(matches!(
            AlarmRules::compile(&[spec]),
            Err(AlarmRuleError::NonFinite(_))
        ));
    }

    #[test]
    fn on_off_rules_raise_while_a_tag_is_on_one_alarm_per_matching_property() {
        let spec: AlarmRuleSpec = toml::from_str(
            "type = \"plc\"\nproperty = \"Alarms/*\"\nwhen = true\nseverity = \"major\"",
        )
        .unwrap();
        let rules = AlarmRules::compile(&[spec]).unwrap();
        assert_eq!(rules.find("Plant1/Edge1/PLC1", "Alarms/HighTemp"), [0]);
        assert!(rules.find("Plant1/Edge1/PLC1", "Temperature").is_empty());
        let rule = rules.get(0);
        assert_eq!(
            rule.alarm_type_for("Alarms/HighTemp").as_ref(),
            "plc:Alarms/HighTemp"
        );
        assert_eq!(rule.text, "Alarms/* is on");
        let changes = feed(rule, &[(0.0, 0.0), (1.0, 1.0), (2.0, 1.0), (3.0, 0.0)]);
        assert_eq!(
            changes,
            vec![(1.0, LimitChange::Activated), (3.0, LimitChange::Cleared)]
        );
        let both: AlarmRuleSpec = toml::from_str(
            "type = \"x\"\nproperty = \"p\"\nwhen = true\nabove = 1.0\nseverity = \"major\"",
        )
        .unwrap();
        assert!(matches!(
            AlarmRules::compile(&[both]),
            Err(AlarmRuleError::Direction(_))
        ));
    }
}
