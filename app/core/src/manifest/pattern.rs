//! Patterns that bind model nodes by name or by path.
//!
//! A name pattern is literal text with `*` wildcards (any run of characters) and at most one
//! `{twin}` placeholder that captures the twin id: `TW_{twin}`, `Ifc*_*_{twin}`. Wildcards
//! before the placeholder take as much as they can and the placeholder then as little, so
//! `Ifc*_*_{twin}` captures what follows the last `_` (an IFC export's GlobalId) and
//! `{twin}_*` what precedes the first.
//!
//! A path pattern is name patterns joined by `/`, matched against a node's path from the
//! root; a `**` segment stands for any number of levels: `Engine/*/Piston*`,
//! `Site/**/Ifc*_*_{twin}`. Its `{twin}` may only be in the last segment (the node's own name).
//!
//! Matching is linear in the name's length for each pattern token (no backtracking), so a
//! hostile name costs what its length justifies.

use std::fmt;

/// A name longer than this never matches a pattern (glTF names are short; a huge one is
/// refused rather than scanned).
pub const MAX_NAME: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    Star,
}

/// Literals and stars, matched against a whole text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Glob(Vec<Token>);

impl Glob {
    fn parse(text: &str) -> Glob {
        let mut tokens = Vec::new();
        for (i, part) in text.split('*').enumerate() {
            if i > 0 && tokens.last() != Some(&Token::Star) {
                tokens.push(Token::Star);
            }
            if !part.is_empty() {
                tokens.push(Token::Literal(part.to_owned()));
            }
        }
        Glob(tokens)
    }

    fn reversed(&self) -> Glob {
        Glob(
            self.0
                .iter()
                .rev()
                .map(|t| match t {
                    Token::Literal(s) => Token::Literal(s.chars().rev().collect()),
                    Token::Star => Token::Star,
                })
                .collect(),
        )
    }

    /// `ends[i]` is true when the glob matches exactly `text[..i]` (one pass per token).
    fn match_ends(&self, text: &[u8]) -> Vec<bool> {
        let mut reach = vec![false; text.len() + 1];
        reach[0] = true;
        for token in &self.0 {
            let mut next = vec![false; text.len() + 1];
            match token {
                Token::Star => reach_onwards(&reach, &mut next),
                Token::Literal(literal) => {
                    let literal = literal.as_bytes();
                    for i in 0..=text.len() {
                        if reach[i] && text[i..].starts_with(literal) {
                            next[i + literal.len()] = true;
                        }
                    }
                }
            }
            reach = next;
        }
        reach
    }

    fn matches(&self, text: &str) -> bool {
        text.len() <= MAX_NAME && self.match_ends(text.as_bytes())[text.len()]
    }

    fn is_literal(&self) -> bool {
        self.0.iter().all(|t| matches!(t, Token::Literal(_)))
    }
}

/// A wildcard (`*` in a name, `**` in a path): from the first position reached, every later
/// position is reached too.
fn reach_onwards(reach: &[bool], next: &mut [bool]) {
    let mut on = false;
    for (reached, out) in reach.iter().zip(next.iter_mut()) {
        on |= *reached;
        *out = on;
    }
}

/// A node-name pattern: `*` wildcards and at most one `{twin}` placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern {
    text: String,
    before: Glob,
    /// With the placeholder: what follows it, reversed (it is matched from the name's end).
    after_reversed: Option<Glob>,
}

impl NamePattern {
    /// A pattern that must capture the twin id (`name_patterns`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let pattern = Self::parse_glob(text)?;
        if pattern.after_reversed.is_none() {
            return Err(format!("pattern {text:?} has no {{twin}} placeholder"));
        }
        Ok(pattern)
    }

    /// A pattern with or without the placeholder (a `[[bind]]` node that names its twin).
    pub fn parse_glob(text: &str) -> Result<Self, String> {
        if text.contains("**") {
            return Err(format!(
                "pattern {text:?}: `**` is only a whole path segment"
            ));
        }
        let (before, after) = match text.split_once("{twin}") {
            Some((before, after)) => {
                if after.contains("{twin}") {
                    return Err(format!(
                        "pattern {text:?} has more than one {{twin}} placeholder"
                    ));
                }
                (before, Some(after))
            }
            None => (text, None),
        };
        if before.contains(['{', '}']) || after.is_some_and(|a| a.contains(['{', '}'])) {
            return Err(format!(
                "pattern {text:?}: the only placeholder is {{twin}}"
            ));
        }
        Ok(NamePattern {
            text: text.to_owned(),
            before: Glob::parse(before),
            after_reversed: after.map(|a| Glob::parse(a).reversed()),
        })
    }

    pub fn captures(&self) -> bool {
        self.after_reversed.is_some()
    }

    /// The twin id this name names, if it matches (never empty).
    pub fn twin_of<'a>(&self, name: &'a str) -> Option<&'a str> {
        let after_reversed = self.after_reversed.as_ref()?;
        if name.len() > MAX_NAME {
            return None;
        }
        let bytes = name.as_bytes();
        let ends = self.before.match_ends(bytes);
        // `starts[j]`: what follows matches exactly `name[j..]` (the reversed glob on the
        // reversed name).
        let reversed: Vec<u8> = bytes.iter().rev().copied().collect();
        let tail_ends = after_reversed.match_ends(&reversed);
        let starts = |j: usize| tail_ends[bytes.len() - j];
        let last_start = (1..=bytes.len())
            .rev()
            .find(|&j| starts(j) && name.is_char_boundary(j))?;
        let from = (0..last_start)
            .rev()
            .find(|&i| ends[i] && name.is_char_boundary(i))?;
        let to = (from + 1..=last_start).find(|&j| starts(j) && name.is_char_boundary(j))?;
        Some(&name[from..to])
    }

    /// Whether the name matches: `None` if not, else the id it captures (with a placeholder).
    pub fn match_name<'a>(&self, name: &'a str) -> Option<Option<&'a str>> {
        if self.captures() {
            self.twin_of(name).map(Some)
        } else {
            self.before.matches(name).then_some(None)
        }
    }

    pub fn matches(&self, name: &str) -> bool {
        self.match_name(name).is_some()
    }
}

impl fmt::Display for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Name(NamePattern),
    AnyDepth,
}

/// A node-path pattern: name patterns joined by `/`, `**` for any number of levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    text: String,
    /// The ancestors' segments (root first); the last segment is `last`.
    ancestors: Vec<Segment>,
    last: NamePattern,
}

impl PathPattern {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut segments: Vec<&str> = text.split('/').collect();
        let last = segments.pop().unwrap_or_default();
        if last.is_empty() || last == "**" {
            return Err(format!(
                "path pattern {text:?} must end with a node name pattern"
            ));
        }
        let last =
            NamePattern::parse_glob(last).map_err(|e| format!("path pattern {text:?}: {e}"))?;
        let mut ancestors = Vec::new();
        for segment in segments {
            if segment == "**" {
                if ancestors.last() != Some(&Segment::AnyDepth) {
                    ancestors.push(Segment::AnyDepth);
                }
                continue;
            }
            if segment.is_empty() {
                return Err(format!("path pattern {text:?} has an empty segment"));
            }
            let pattern = NamePattern::parse_glob(segment)
                .map_err(|e| format!("path pattern {text:?}: {e}"))?;
            if pattern.captures() {
                return Err(format!(
                    "path pattern {text:?}: {{twin}} may only be in the last segment"
                ));
            }
            ancestors.push(Segment::Name(pattern));
        }
        Ok(PathPattern {
            text: text.to_owned(),
            ancestors,
            last,
        })
    }

    /// A path with no wildcard: looked up directly instead of matched against every node.
    pub fn literal(&self) -> Option<&str> {
        let all_literal = self.last.before.is_literal()
            && !self.last.captures()
            && self
                .ancestors
                .iter()
                .all(|s| matches!(s, Segment::Name(p) if p.before.is_literal()));
        all_literal.then_some(self.text.as_str())
    }

    pub fn captures(&self) -> bool {
        self.last.captures()
    }

    /// Whether `path` (root first, the node's own name last) matches; with a placeholder,
    /// the twin id it captures from the node's name.
    pub fn match_path<'a>(&self, path: &[&'a str]) -> Option<Option<&'a str>> {
        let (own, ancestors) = path.split_last()?;
        if !self.ancestors_match(ancestors) {
            return None;
        }
        self.last.match_name(own)
    }

    /// Segments against ancestors, `**` taking any number: one pass per segment.
    fn ancestors_match(&self, ancestors: &[&str]) -> bool {
        let mut reach = vec![false; ancestors.len() + 1];
        reach[0] = true;
        for segment in &self.ancestors {
            let mut next = vec![false; ancestors.len() + 1];
            match segment {
                Segment::AnyDepth => reach_onwards(&reach, &mut next),
                Segment::Name(pattern) => {
                    for i in 0..ancestors.len() {
                        if reach[i] && pattern.matches(ancestors[i]) {
                            next[i + 1] = true;
                        }
                    }
                }
            }
            reach = next;
        }
        reach[ancestors.len()]
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_patterns_capture_the_twin_between_literals_and_wildcards() {
        let pattern = NamePattern::parse("TW_{twin}_mesh").unwrap();
        assert_eq!(pattern.twin_of("TW_pump1_mesh"), Some("pump1"));
        assert_eq!(pattern.twin_of("TW__mesh"), None, "never an empty id");
        assert_eq!(pattern.twin_of("pump1"), None);
        // An IFC export's names: type, name, then the GlobalId after the last `_`.
        let ifc = NamePattern::parse("Ifc*_*_{twin}").unwrap();
        assert_eq!(
            ifc.twin_of("IfcWallStandardCase_Basic_Wall_2O2Fr$t4X7Zf8NOew3FLOH"),
            Some("2O2Fr$t4X7Zf8NOew3FLOH")
        );
        assert_eq!(
            ifc.twin_of("IfcPump_P-101_3vB2YO$MX4xv5uCqZZG05x"),
            Some("3vB2YO$MX4xv5uCqZZG05x")
        );
        assert_eq!(ifc.twin_of("Wall_Basic_x"), None);
        // The placeholder takes as little as it can.
        let cad = NamePattern::parse("{twin}_*_Parts_*").unwrap();
        assert_eq!(cad.twin_of("Piston_123-844_0_Parts_1"), Some("Piston"));
        assert_eq!(
            NamePattern::parse("{twin}").unwrap().twin_of("ünïcødé"),
            Some("ünïcødé")
        );
        assert_eq!(
            NamePattern::parse("*ü{twin}").unwrap().twin_of("aüb"),
            Some("b")
        );
        for bad in ["no placeholder", "{twin}{twin}", "a{id}{twin}", "a**{twin}"] {
            assert!(NamePattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wildcards_match_without_backtracking_on_hostile_names() {
        let pattern = NamePattern::parse("*a*a*a*a*a*b{twin}").unwrap();
        let name = "a".repeat(MAX_NAME);
        let started = std::time::Instant::now();
        assert_eq!(pattern.twin_of(&name), None);
        assert!(pattern.twin_of(&"a".repeat(MAX_NAME + 1)).is_none());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "linear per token, not exponential"
        );
    }

    #[test]
    fn path_patterns_match_levels_and_any_depth() {
        let pistons = PathPattern::parse("Engine/*/Piston*").unwrap();
        assert_eq!(
            pistons.match_path(&["Engine", "Block", "Piston_1"]),
            Some(None)
        );
        assert_eq!(
            pistons.match_path(&["Engine", "Piston_1"]),
            None,
            "`*` is one level"
        );
        assert_eq!(pistons.match_path(&["Engine", "A", "B", "Piston_1"]), None);
        let deep = PathPattern::parse("Site/**/Ifc*_*_{twin}").unwrap();
        assert_eq!(
            deep.match_path(&["Site", "IfcPump_P1_abc"]),
            Some(Some("abc")),
            "`**` may be no level"
        );
        assert_eq!(
            deep.match_path(&["Site", "B1", "L2", "IfcPump_P1_abc"]),
            Some(Some("abc"))
        );
        assert_eq!(deep.match_path(&["Other", "IfcPump_P1_abc"]), None);
        assert_eq!(
            PathPattern::parse("**/Valve_{twin}")
                .unwrap()
                .match_path(&["a", "b", "Valve_7"]),
            Some(Some("7"))
        );
        assert_eq!(
            PathPattern::parse("plant/pump").unwrap().literal(),
            Some("plant/pump")
        );
        assert_eq!(PathPattern::parse("plant/*").unwrap().literal(), None);
        for bad in ["a/{twin}/b", "a//b", "a/**", "", "a/b**c"] {
            assert!(PathPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
