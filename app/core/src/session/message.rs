//! What participants say to each other: who they are ([`Presence`], retained) and where
//! they are and point ([`Pose`], up to 20 times a second). Ids, poses and names only: never
//! a copy of plant data, which every participant reads from the plant's broker itself.
//!
//! Every message from the wire is checked before it is believed: at most [`MAX_PAYLOAD`]
//! bytes, names and twin ids capped, numbers finite and within the plant's reach, the user
//! in the payload the one whose path it was published on.

use serde::{Deserialize, Serialize};

use super::topics::{MAX_NAME, check_name};

/// The largest session message read; a larger one is dropped unread.
pub const MAX_PAYLOAD: usize = 4096;
/// Longest twin id a message may name, in bytes.
pub const MAX_TWIN_ID: usize = 256;
/// Coordinates further out than this (metres) are not a place in any plant.
pub const MAX_COORDINATE: f32 = 1.0e6;

/// Which kind of device a participant uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    Desktop,
    Headset,
}

/// Whose time a participant looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Timeline {
    #[default]
    Live,
    /// The live session's DVR, looking back.
    LookingBack,
    /// A recording.
    Replay,
}

/// Who is in the session and what they have selected (retained on the broker, so a late
/// joiner sees everyone at once; the will clears it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Presence {
    pub user: String,
    pub device: Device,
    /// Tells two processes of one user apart (hand-over from one device to another).
    pub instance: String,
    #[serde(default)]
    pub selected: Option<String>,
    #[serde(default)]
    pub timeline: Timeline,
    /// Started the session (may gather everyone).
    #[serde(default)]
    pub host: bool,
    /// When this instance joined (µs since the Unix epoch): of two instances of one user, the
    /// later takes over (hand-over from one device to another).
    #[serde(default)]
    pub since: i64,
    /// The host has handed the session's timeline to this participant (it leads it now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline_lead: Option<String>,
}

impl Presence {
    /// Whether `other`, of the same user, joined after us (and so takes our place).
    pub fn is_succeeded_by(&self, other: &Presence) -> bool {
        other.instance != self.instance
            && (other.since, other.instance.as_str()) > (self.since, self.instance.as_str())
    }
}

/// A position and orientation in plant coordinates (metres; rotation as a unit quaternion
/// x, y, z, w).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    pub at: [f32; 3],
    pub rotation: [f32; 4],
}

/// What a participant points at: a twin (if the ray or mouse rests on one) and the point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pointer {
    #[serde(default)]
    pub twin: Option<String>,
    pub at: [f32; 3],
}

/// Where a participant is: the head (headset) or camera (desktop), the hands, the pointer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pose {
    pub head: Placement,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hands: Vec<Placement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<Pointer>,
    /// A desktop camera's vertical field of view, radians (its frustum is drawn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fov: Option<f32>,
    /// The instance that sent it (two instances of one user share a path during a hand-over).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

/// The host's "bring everyone here": where it stands and what it looks at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gather {
    pub head: Placement,
    #[serde(default)]
    pub twin: Option<String>,
}

impl Gather {
    /// A gathering from the wire, checked.
    pub fn decode(payload: &[u8]) -> Result<Gather, Dropped> {
        let gather: Gather = decode_bounded(payload)?;
        if gather.head.fits() && twin_fits(gather.twin.as_deref()) {
            Ok(gather)
        } else {
            Err(Dropped::Malformed)
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Why a session message was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dropped {
    /// Larger than [`MAX_PAYLOAD`].
    Oversized,
    /// Not the JSON of its kind, or a name, id or number out of bounds.
    Malformed,
    /// Its payload names another user than the path it was published on.
    Forged,
    /// A pose sooner than the participant's rate allows.
    TooFast,
    /// A new participant when the session is full.
    SessionFull,
    /// A gathering from a participant that is not the host.
    NotHost,
    /// A topic under the session that is no participant's presence or pose.
    UnknownTopic,
    /// A new note (or alarm action) when the session holds as many as it keeps.
    TooMany,
}

impl Dropped {
    pub const ALL: [Dropped; 8] = [
        Dropped::Oversized,
        Dropped::Malformed,
        Dropped::Forged,
        Dropped::TooFast,
        Dropped::SessionFull,
        Dropped::NotHost,
        Dropped::UnknownTopic,
        Dropped::TooMany,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dropped::Oversized => "oversized",
            Dropped::Malformed => "malformed",
            Dropped::Forged => "forged",
            Dropped::TooFast => "too_fast",
            Dropped::SessionFull => "session_full",
            Dropped::NotHost => "not_host",
            Dropped::UnknownTopic => "unknown_topic",
            Dropped::TooMany => "too_many",
        }
    }
}

impl Presence {
    /// The presence `user` published, checked.
    pub fn decode(user: &str, payload: &[u8]) -> Result<Presence, Dropped> {
        let presence: Presence = decode_bounded(payload)?;
        if presence.user != user {
            return Err(Dropped::Forged);
        }
        let names_fit = check_name("user name", &presence.user).is_ok()
            && !presence.instance.is_empty()
            && presence.instance.len() <= MAX_NAME;
        let lead_fits = presence
            .timeline_lead
            .as_deref()
            .is_none_or(|lead| check_name("user name", lead).is_ok());
        if !names_fit || !lead_fits || !twin_fits(presence.selected.as_deref()) {
            return Err(Dropped::Malformed);
        }
        Ok(presence)
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl Pose {
    /// A pose from the wire, checked.
    pub fn decode(payload: &[u8]) -> Result<Pose, Dropped> {
        let pose: Pose = decode_bounded(payload)?;
        let placements_fit = std::iter::once(&pose.head)
            .chain(&pose.hands)
            .all(Placement::fits)
            && pose.hands.len() <= 2;
        let pointer_fits = pose
            .pointer
            .as_ref()
            .is_none_or(|p| point_fits(p.at) && twin_fits(p.twin.as_deref()))
            && pose.instance.as_ref().is_none_or(|i| i.len() <= MAX_NAME);
        let fov_fits = pose
            .fov
            .is_none_or(|fov| fov.is_finite() && fov > 0.0 && fov < std::f32::consts::PI);
        if placements_fit && pointer_fits && fov_fits {
            Ok(pose)
        } else {
            Err(Dropped::Malformed)
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl Placement {
    fn fits(&self) -> bool {
        let length = self.rotation.iter().map(|c| c * c).sum::<f32>().sqrt();
        point_fits(self.at)
            && self.rotation.iter().all(|c| c.is_finite())
            && (0.5..=1.5).contains(&length)
    }
}

fn point_fits(at: [f32; 3]) -> bool {
    at.iter()
        .all(|c| c.is_finite() && c.abs() <= MAX_COORDINATE)
}

fn twin_fits(twin: Option<&str>) -> bool {
    twin.is_none_or(|id| !id.is_empty() && id.len() <= MAX_TWIN_ID)
}

fn decode_bounded<T: for<'de> Deserialize<'de>>(payload: &[u8]) -> Result<T, Dropped> {
    if payload.len() > MAX_PAYLOAD {
        return Err(Dropped::Oversized);
    }
    serde_json::from_slice(payload).map_err(|_| Dropped::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presence(user: &str) -> Presence {
        Presence {
            user: user.into(),
            device: Device::Headset,
            instance: "a1".into(),
            selected: Some("line1-tank1".into()),
            timeline: Timeline::Live,
            host: false,
            since: 1,
            timeline_lead: None,
        }
    }

    fn pose() -> Pose {
        let head = Placement {
            at: [1.0, 1.7, -3.0],
            rotation: [0.0, 0.0, 0.0, 1.0],
        };
        Pose {
            head,
            hands: vec![head, head],
            pointer: Some(Pointer {
                twin: Some("line1-tank1".into()),
                at: [0.0, 1.0, -5.0],
            }),
            fov: None,
            instance: None,
        }
    }

    #[test]
    fn presence_and_pose_read_back_as_written() {
        let alice = presence("alice");
        assert_eq!(
            Presence::decode("alice", &alice.encode()),
            Ok(alice.clone())
        );
        let text = String::from_utf8(alice.encode()).unwrap();
        assert!(
            text.contains(r#""device":"headset""#) && text.contains(r#""timeline":"live""#),
            "{text}"
        );
        assert_eq!(Pose::decode(&pose().encode()), Ok(pose()));
    }

    #[test]
    fn of_two_instances_of_one_user_the_later_takes_over() {
        let desktop = Presence {
            device: Device::Desktop,
            instance: "d".into(),
            since: 100,
            ..presence("anna")
        };
        let headset = Presence {
            device: Device::Headset,
            instance: "h".into(),
            since: 200,
            ..presence("anna")
        };
        assert!(desktop.is_succeeded_by(&headset));
        assert!(!headset.is_succeeded_by(&desktop));
        assert!(!desktop.is_succeeded_by(&desktop.clone()));
    }

    #[test]
    fn a_presence_on_another_users_path_is_forged() {
        assert_eq!(
            Presence::decode("bob", &presence("alice").encode()),
            Err(Dropped::Forged)
        );
    }

    #[test]
    fn out_of_bounds_messages_are_dropped_with_their_reason() {
        assert_eq!(
            Presence::decode("alice", &vec![b' '; MAX_PAYLOAD + 1]),
            Err(Dropped::Oversized)
        );
        assert_eq!(
            Presence::decode("alice", b"\xff\x00not json"),
            Err(Dropped::Malformed)
        );
        assert_eq!(Presence::decode("alice", b"{}"), Err(Dropped::Malformed));
        let mut long_twin = presence("alice");
        long_twin.selected = Some("t".repeat(MAX_TWIN_ID + 1));
        assert_eq!(
            Presence::decode("alice", &long_twin.encode()),
            Err(Dropped::Malformed)
        );

        let mut far = pose();
        far.head.at[0] = 1.0e9;
        let mut unnormal = pose();
        unnormal.head.rotation = [0.0; 4];
        let mut many_hands = pose();
        many_hands.hands = vec![many_hands.head; 3];
        let mut wide = pose();
        wide.fov = Some(4.0);
        for (case, bad) in [
            ("far", far),
            ("not a rotation", unnormal),
            ("three hands", many_hands),
            ("fov", wide),
        ] {
            assert_eq!(
                Pose::decode(&bad.encode()),
                Err(Dropped::Malformed),
                "{case}"
            );
        }
        assert_eq!(
            Pose::decode(br#"{"head":{"at":[1,2,NaN],"rotation":[0,0,0,1]}}"#),
            Err(Dropped::Malformed)
        );
    }
}
