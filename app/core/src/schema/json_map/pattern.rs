//! Topic patterns with named captures (`plant/{line}/{machine}/telemetry`) and the id
//! templates they fill (`{line}-{machine}`).

use std::ops::Range;

/// One level of a topic pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Level {
    Literal(String),
    /// `{name}`: any one level, remembered under its name.
    Capture(String),
    /// `+`: any one level.
    Any,
    /// `#`: the rest (last level only).
    Rest,
}

/// A compiled topic pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPattern {
    levels: Vec<Level>,
}

impl TopicPattern {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("the topic pattern is empty".into());
        }
        let parts: Vec<&str> = text.split('/').collect();
        let mut levels = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let level = if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}'))
            {
                if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    return Err(format!(
                        "{{{name}}} is not a capture name (letters, digits, _)"
                    ));
                }
                if names.contains(&name) {
                    return Err(format!("{{{name}}} is captured twice"));
                }
                names.push(name);
                Level::Capture(name.to_owned())
            } else if *part == "+" {
                Level::Any
            } else if *part == "#" {
                if i + 1 != parts.len() {
                    return Err("# may only be the last level".into());
                }
                Level::Rest
            } else if part.contains(['{', '}', '+', '#']) {
                return Err(format!("{part:?}: a capture, + or # must be a whole level"));
            } else {
                Level::Literal((*part).to_owned())
            };
            levels.push(level);
        }
        Ok(TopicPattern { levels })
    }

    /// The MQTT subscription filter for this pattern.
    pub fn filter(&self) -> String {
        let levels: Vec<&str> = self
            .levels
            .iter()
            .map(|l| match l {
                Level::Literal(text) => text.as_str(),
                Level::Capture(_) | Level::Any => "+",
                Level::Rest => "#",
            })
            .collect();
        levels.join("/")
    }

    /// The capture names, in order.
    pub fn captures(&self) -> Vec<&str> {
        self.levels
            .iter()
            .filter_map(|l| {
                if let Level::Capture(name) = l {
                    Some(name.as_str())
                } else {
                    None
                }
            })
            .collect()
    }

    /// The captured values if `topic` matches.
    pub fn matches<'t>(&self, topic: &'t str) -> Option<Vec<(&str, &'t str)>> {
        let mut spans = Vec::new();
        self.match_spans(topic, &mut spans).then(|| {
            self.captures()
                .into_iter()
                .zip(spans.iter().map(|s| &topic[s.clone()]))
                .collect()
        })
    }

    /// Whether `topic` matches, with where each capture is in it, in order (into a buffer the
    /// caller reuses: matching allocates nothing per message).
    pub fn match_spans(&self, topic: &str, spans: &mut Vec<Range<usize>>) -> bool {
        spans.clear();
        let mut start = 0;
        let mut parts = topic.split('/');
        for level in &self.levels {
            let part = parts.next();
            match (level, part) {
                (Level::Rest, _) => return true,
                (Level::Literal(text), Some(part)) if text == part => {}
                (Level::Any, Some(_)) => {}
                (Level::Capture(_), Some(part)) => spans.push(start..start + part.len()),
                _ => return false,
            }
            start += part.map_or(0, |p| p.len() + 1);
        }
        parts.next().is_none()
    }
}

/// A template like `{line}-{machine}`, filled from captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Literal text, and captures by their position in the pattern.
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Capture(usize),
}

impl Template {
    /// Checks that every `{name}` in `text` is one of `captures`.
    pub fn parse(text: &str, captures: &[&str]) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| format!("{text:?}: a {{ without its }}"))?;
            let name = &rest[open + 1..open + close];
            let position = captures.iter().position(|c| *c == name).ok_or_else(|| format!("{text:?}: {{{name}}} is not captured by the topic pattern (it captures {captures:?})"))?;
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            parts.push(Part::Capture(position));
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// The template with `captured` (in the pattern's order) put in, into `out`.
    pub fn fill_into(&self, captured: &[(&str, &str)], out: &mut String) {
        self.fill_with(|i| captured.get(i).map_or("", |c| c.1), out);
    }

    pub fn fill(&self, captured: &[(&str, &str)]) -> String {
        let mut out = String::new();
        self.fill_into(captured, &mut out);
        out
    }

    /// The template with the captures at `spans` of `topic` (from
    /// [`TopicPattern::match_spans`]) put in, into `out`.
    pub fn fill_from_spans(&self, topic: &str, spans: &[Range<usize>], out: &mut String) {
        self.fill_with(
            |i| {
                spans
                    .get(i)
                    .and_then(|s| topic.get(s.clone()))
                    .unwrap_or("")
            },
            out,
        );
    }

    fn fill_with<'a>(&self, capture: impl Fn(usize) -> &'a str, out: &mut String) {
        out.clear();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Capture(i) => out.push_str(capture(*i)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_fill_templates() {
        let pattern = TopicPattern::parse("plant/{line}/{machine}/telemetry").unwrap();
        assert_eq!(pattern.filter(), "plant/+/+/telemetry");
        let captured = pattern.matches("plant/l1/pump3/telemetry").unwrap();
        assert_eq!(captured, [("line", "l1"), ("machine", "pump3")]);
        assert_eq!(
            Template::parse("{line}-{machine}", &pattern.captures())
                .unwrap()
                .fill(&captured),
            "l1-pump3"
        );
        assert_eq!(pattern.matches("plant/l1/pump3/status"), None);
        assert_eq!(pattern.matches("plant/l1/pump3/telemetry/extra"), None);
        let rest = TopicPattern::parse("telegraf/{host}/#").unwrap();
        assert_eq!(
            rest.matches("telegraf/h1/cpu/total"),
            Some(vec![("host", "h1")])
        );
        // Left over from an earlier match: replaced, not added to.
        let mut spans: Vec<std::ops::Range<usize>> = std::iter::once(0..1).collect();
        assert!(rest.match_spans("telegraf/h1/cpu/total", &mut spans));
        let mut id = String::from("left over");
        Template::parse("host-{host}", &rest.captures())
            .unwrap()
            .fill_from_spans("telegraf/h1/cpu/total", &spans, &mut id);
        assert_eq!(id, "host-h1");
        assert!(!pattern.match_spans("plant//pump3", &mut spans));
        assert!(
            pattern.match_spans("plant//pump3/telemetry", &mut spans),
            "an empty level is a level"
        );
        Template::parse("{line}|{machine}", &pattern.captures())
            .unwrap()
            .fill_from_spans("plant//pump3/telemetry", &spans, &mut id);
        assert_eq!(id, "|pump3");
    }

    #[test]
    fn bad_patterns_and_templates_are_refused() {
        for bad in ["", "a/{x}/{x}", "a/#/b", "a/x{y}", "a/{}", "a/{x y}"] {
            assert!(TopicPattern::parse(bad).is_err(), "{bad}");
        }
        assert!(
            Template::parse("{machine}", &["line"])
                .unwrap_err()
                .contains("not captured")
        );
        assert!(Template::parse("{line", &["line"]).is_err());
    }
}
