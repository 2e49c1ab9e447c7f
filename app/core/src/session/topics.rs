//! Where a shared session's messages live on the broker.
//!
//! Everything of one session is under one root, `<root>/<session>/`, and each participant
//! writes only under its own user path, `<root>/<session>/<user>/…`, so a broker ACL with
//! `%u` (the MQTT user name) stops one participant from speaking for another:
//!
//! ```text
//! twinscope/v1/sessions/<session>/<user>/presence   retained: who, which device, selection
//! twinscope/v1/sessions/<session>/<user>/pose       20 Hz at most: head, hands, pointer
//! twinscope/v1/sessions/<session>/<user>/gather     the host: everyone to where I stand
//! twinscope/v1/sessions/<session>/<user>/timeline   retained, the host: everyone to this instant
//! twinscope/v1/sessions/<session>/<user>/notes/<id> retained: a note as this user last wrote it
//! twinscope/v1/sessions/<session>/<user>/alarms/<key> retained: this user's last action on an alarm
//! ```

use thiserror::Error;

/// The topic root every session lives under unless configured otherwise.
pub const DEFAULT_ROOT: &str = "twinscope/v1/sessions";
/// Longest session or user name, in bytes.
pub const MAX_NAME: usize = 64;

/// What a participant publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionTopic {
    Presence,
    Pose,
    /// The host brings everyone to where it stands.
    Gather,
    /// The host takes everyone to an instant (live, the DVR, a recording).
    Timeline,
}

impl SessionTopic {
    fn level(self) -> &'static str {
        match self {
            SessionTopic::Presence => "presence",
            SessionTopic::Pose => "pose",
            SessionTopic::Gather => "gather",
            SessionTopic::Timeline => "timeline",
        }
    }
}

/// A session name or user name that cannot be one topic level.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error("the {what} is empty")]
    Empty { what: &'static str },
    #[error("the {what} {name:?} is longer than {MAX_NAME} bytes")]
    TooLong { what: &'static str, name: String },
    #[error(
        "the {what} {name:?} holds '/', '+', '#' or a control character; use letters, digits, '-', '_' or '.'"
    )]
    NotOneLevel { what: &'static str, name: String },
}

/// Checks that `name` can stand as one topic level of a session's topics.
pub fn check_name(what: &'static str, name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty { what });
    }
    if name.len() > MAX_NAME {
        return Err(NameError::TooLong {
            what,
            name: name.chars().take(MAX_NAME).collect(),
        });
    }
    if name
        .chars()
        .any(|c| matches!(c, '/' | '+' | '#') || c.is_control())
        || name.starts_with('$')
    {
        return Err(NameError::NotOneLevel {
            what,
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// A short session name to read out or type on a headset's keyboard: six characters without
/// the ones people confuse (0/O, 1/I/L), from `seed` (the time and process make one).
pub fn join_code(seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    // splitmix64: neighbouring seeds give unrelated codes.
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (0..6)
        .map(|k| ALPHABET[((z >> (k * 8)) % ALPHABET.len() as u64) as usize] as char)
        .collect()
}

/// The topics of one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTopics {
    prefix: String,
    name: String,
}

impl SessionTopics {
    pub fn new(root: &str, session: &str) -> Result<Self, NameError> {
        check_name("session name", session)?;
        let root = root.trim_end_matches('/');
        Ok(SessionTopics {
            prefix: format!("{root}/{session}/"),
            name: session.to_owned(),
        })
    }

    /// The session's name (its join code).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the session lives: `<root>/<session>`.
    pub fn path(&self) -> &str {
        self.prefix.trim_end_matches('/')
    }

    /// The filter that receives everything of the session.
    pub fn filter(&self) -> String {
        format!("{}#", self.prefix)
    }

    /// Where `user` publishes `what`.
    pub fn topic(&self, user: &str, what: SessionTopic) -> String {
        format!("{}{user}/{}", self.prefix, what.level())
    }

    /// Where `user` publishes its version of note `id`.
    pub fn note(&self, user: &str, id: &str) -> String {
        format!("{}{user}/notes/{id}", self.prefix)
    }

    /// Whose note version this is, and of which note; `None` for any other topic.
    pub fn parse_note<'a>(&self, topic: &'a str) -> Option<(&'a str, &'a str)> {
        self.parse_keyed(topic, "notes/")
    }

    /// `<prefix><user>/<level><key>`: the user and the key (one topic level).
    fn parse_keyed<'a>(&self, topic: &'a str, level: &str) -> Option<(&'a str, &'a str)> {
        let rest = topic.strip_prefix(self.prefix.as_str())?;
        let (user, rest) = rest.split_once('/')?;
        let key = rest.strip_prefix(level)?;
        (check_name("user name", user).is_ok() && !key.is_empty() && !key.contains('/'))
            .then_some((user, key))
    }

    /// Where `user` publishes its latest action on the alarm of `key`.
    pub fn alarm_action(&self, user: &str, key: &str) -> String {
        format!("{}{user}/alarms/{key}", self.prefix)
    }

    /// Whose alarm action this is, and the alarm's key; `None` for any other topic.
    pub fn parse_alarm_action<'a>(&self, topic: &'a str) -> Option<(&'a str, &'a str)> {
        self.parse_keyed(topic, "alarms/")
    }

    /// Whose message this is and what it is; `None` for a topic of the session that is no
    /// participant's presence or pose (or one outside it).
    pub fn parse<'a>(&self, topic: &'a str) -> Option<(&'a str, SessionTopic)> {
        let rest = topic.strip_prefix(self.prefix.as_str())?;
        let (user, what) = rest.split_once('/')?;
        check_name("user name", user).ok()?;
        let what = match what {
            "presence" => SessionTopic::Presence,
            "pose" => SessionTopic::Pose,
            "gather" => SessionTopic::Gather,
            "timeline" => SessionTopic::Timeline,
            _ => return None,
        };
        Some((user, what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_participant_has_its_own_path_under_the_session() {
        let topics = SessionTopics::new(DEFAULT_ROOT, "pump-3-leak").unwrap();
        assert_eq!(topics.filter(), "twinscope/v1/sessions/pump-3-leak/#");
        assert_eq!(
            (topics.name(), topics.path()),
            ("pump-3-leak", "twinscope/v1/sessions/pump-3-leak")
        );
        let presence = topics.topic("alice", SessionTopic::Presence);
        assert_eq!(presence, "twinscope/v1/sessions/pump-3-leak/alice/presence");
        assert_eq!(
            topics.parse(&presence),
            Some(("alice", SessionTopic::Presence))
        );
        assert_eq!(
            topics.parse("twinscope/v1/sessions/pump-3-leak/bob/pose"),
            Some(("bob", SessionTopic::Pose))
        );
        let note = topics.note("bob", "anna~K7M2QX");
        assert_eq!(
            note,
            "twinscope/v1/sessions/pump-3-leak/bob/notes/anna~K7M2QX"
        );
        assert_eq!(topics.parse_note(&note), Some(("bob", "anna~K7M2QX")));
        assert_eq!(topics.parse(&note), None);
        assert_eq!(
            topics.parse_note("twinscope/v1/sessions/pump-3-leak/bob/notes/a/b"),
            None
        );
        for foreign in [
            "twinscope/v1/sessions/other/bob/pose",
            "twinscope/v1/sessions/pump-3-leak/bob/pose/x",
            "twinscope/v1/sessions/pump-3-leak/bob",
            "te/device/pump///m/",
        ] {
            assert_eq!(topics.parse(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn join_codes_are_short_unambiguous_session_names() {
        let codes: std::collections::HashSet<String> = (0..1000).map(join_code).collect();
        assert!(codes.len() > 990, "{} distinct of 1000", codes.len());
        for code in &codes {
            assert_eq!(code.len(), 6);
            assert!(check_name("session name", code).is_ok());
            assert!(!code.contains(['0', 'O', '1', 'I', 'L']), "{code}");
        }
    }

    #[test]
    fn names_that_are_not_one_topic_level_are_refused_with_the_reason() {
        assert!(check_name("user name", "Anna-Lena_2.b").is_ok());
        assert!(check_name("user name", "Jörg").is_ok());
        assert!(matches!(
            check_name("user name", ""),
            Err(NameError::Empty { .. })
        ));
        assert!(matches!(
            check_name("user name", &"x".repeat(65)),
            Err(NameError::TooLong { .. })
        ));
        for bad in ["a/b", "a+", "#", "$SYS", "tab\there"] {
            assert!(
                matches!(
                    check_name("user name", bad),
                    Err(NameError::NotOneLevel { .. })
                ),
                "{bad}"
            );
        }
        assert!(SessionTopics::new(DEFAULT_ROOT, "a/b").is_err());
    }
}
