//! Who is in the session, as heard from the broker: a participant appears with its retained
//! presence and goes when that is cleared (leaving, or the broker's last will when the
//! connection is lost or the process killed). Bounded whatever arrives: at most
//! [`MAX_PARTICIPANTS`], poses rate-limited per participant, every dropped message counted
//! by reason.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::message::{Dropped, Gather, Pose, Presence};
use super::timeline::TimelineMessage;
use super::topics::{SessionTopic, SessionTopics};

/// Most participants a session holds; further ones are not listed (and counted).
pub const MAX_PARTICIPANTS: usize = 64;
/// Poses a participant may send per second on average (20 Hz, with room for jitter) and in
/// one burst (after a network stall).
const POSES_PER_SECOND: f64 = 30.0;
const POSE_BURST: f64 = 10.0;

/// One participant as last heard.
#[derive(Debug, Clone, PartialEq)]
pub struct Participant {
    pub presence: Presence,
    pub pose: Option<Pose>,
    /// When its last pose arrived.
    pub pose_received: Option<Instant>,
    /// Poses it may still send now (a token bucket).
    pose_allowance: f64,
    /// When it last gathered everyone (at most once a second).
    gathered: Option<Instant>,
}

/// What one message changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RosterChange {
    Joined(String),
    Updated(String),
    Left(String),
    Moved(String),
    /// The host brings everyone to where it stands ([`Roster::last_gathering`]).
    Gathered(String),
    /// The host takes everyone to an instant ([`Roster::timeline`]).
    Timeline(String),
    Dropped(Dropped),
    /// Not a message of this session.
    Ignored,
}

/// The participants of one session.
#[derive(Debug)]
pub struct Roster {
    topics: SessionTopics,
    participants: BTreeMap<String, Participant>,
    dropped: BTreeMap<Dropped, u64>,
    /// Poses of participants whose presence has not arrived (yet): not shown, not counted
    /// as errors (the retained presence and the first pose can cross).
    pub poses_without_presence: u64,
    /// The last gathering heard: its number (counting from 1), who, where.
    last_gathering: Option<(u64, String, Gather)>,
    /// Counts the changes: a view built from the roster is built again only when it moved.
    generation: u64,
    /// The last timeline message of each participant that sent one (the host, or whom it
    /// handed the timeline to; at most one per participant).
    timelines: BTreeMap<String, TimelineMessage>,
}

impl Roster {
    pub fn new(topics: SessionTopics) -> Self {
        Roster {
            topics,
            participants: BTreeMap::new(),
            dropped: BTreeMap::new(),
            poses_without_presence: 0,
            last_gathering: None,
            generation: 0,
            timelines: BTreeMap::new(),
        }
    }

    pub fn topics(&self) -> &SessionTopics {
        &self.topics
    }

    /// Takes one message received on the session's filter.
    pub fn receive(&mut self, topic: &str, payload: &[u8], now: Instant) -> RosterChange {
        let change = self.apply(topic, payload, now);
        match change {
            RosterChange::Dropped(reason) => *self.dropped.entry(reason).or_default() += 1,
            RosterChange::Ignored => {}
            _ => self.generation += 1,
        }
        change
    }

    fn apply(&mut self, topic: &str, payload: &[u8], now: Instant) -> RosterChange {
        let Some((user, what)) = self.topics.parse(topic) else {
            let ours = topic.starts_with(self.topics.filter().trim_end_matches('#'));
            return if ours {
                RosterChange::Dropped(Dropped::UnknownTopic)
            } else {
                RosterChange::Ignored
            };
        };
        match what {
            SessionTopic::Presence if payload.is_empty() => match self.participants.remove(user) {
                Some(_) => RosterChange::Left(user.to_owned()),
                None => RosterChange::Ignored,
            },
            SessionTopic::Presence => {
                let presence = match Presence::decode(user, payload) {
                    Ok(presence) => presence,
                    Err(reason) => return RosterChange::Dropped(reason),
                };
                let full = self.participants.len() >= MAX_PARTICIPANTS;
                match self.participants.get_mut(user) {
                    Some(known) => {
                        known.presence = presence;
                        RosterChange::Updated(user.to_owned())
                    }
                    None if full => RosterChange::Dropped(Dropped::SessionFull),
                    None => {
                        let joined = Participant {
                            presence,
                            pose: None,
                            pose_received: None,
                            pose_allowance: POSE_BURST,
                            gathered: None,
                        };
                        self.participants.insert(user.to_owned(), joined);
                        RosterChange::Joined(user.to_owned())
                    }
                }
            }
            SessionTopic::Gather => {
                let Some(participant) = self.participants.get_mut(user) else {
                    return RosterChange::Dropped(Dropped::NotHost);
                };
                if !participant.presence.host {
                    return RosterChange::Dropped(Dropped::NotHost);
                }
                if participant.gathered.is_some_and(|last| {
                    now.saturating_duration_since(last) < Duration::from_secs(1)
                }) {
                    return RosterChange::Dropped(Dropped::TooFast);
                }
                let gather = match Gather::decode(payload) {
                    Ok(gather) => gather,
                    Err(reason) => return RosterChange::Dropped(reason),
                };
                participant.gathered = Some(now);
                let number = self.last_gathering.as_ref().map_or(1, |(n, _, _)| n + 1);
                self.last_gathering = Some((number, user.to_owned(), gather));
                RosterChange::Gathered(user.to_owned())
            }
            SessionTopic::Timeline if payload.is_empty() => RosterChange::Ignored,
            SessionTopic::Timeline => {
                // Retained: it may come before its sender's presence; kept, and believed only
                // while its sender leads the timeline (see `timeline`).
                let message = match TimelineMessage::decode(payload) {
                    Ok(message) => message,
                    Err(reason) => return RosterChange::Dropped(reason),
                };
                let leads = |p: &Participant| p.presence.host || self.timeline_lead() == Some(user);
                if self.participants.get(user).is_some_and(|p| !leads(p)) {
                    return RosterChange::Dropped(Dropped::NotHost);
                }
                if !self.timelines.contains_key(user) && self.timelines.len() >= MAX_PARTICIPANTS {
                    return RosterChange::Dropped(Dropped::SessionFull);
                }
                self.timelines.insert(user.to_owned(), message);
                RosterChange::Timeline(user.to_owned())
            }
            SessionTopic::Pose => {
                let Some(participant) = self.participants.get_mut(user) else {
                    // Checked for size even so: nothing unbounded is parsed for an unknown user.
                    if payload.len() > super::message::MAX_PAYLOAD {
                        return RosterChange::Dropped(Dropped::Oversized);
                    }
                    self.poses_without_presence += 1;
                    return RosterChange::Ignored;
                };
                let since = participant
                    .pose_received
                    .map_or(Duration::from_secs(1), |last| {
                        now.saturating_duration_since(last)
                    });
                let allowance = (participant.pose_allowance
                    + since.as_secs_f64() * POSES_PER_SECOND)
                    .min(POSE_BURST);
                if allowance < 1.0 {
                    participant.pose_allowance = allowance;
                    participant.pose_received = Some(now);
                    return RosterChange::Dropped(Dropped::TooFast);
                }
                let pose = match Pose::decode(payload) {
                    Ok(pose) => pose,
                    Err(reason) => return RosterChange::Dropped(reason),
                };
                participant.pose_allowance = allowance - 1.0;
                participant.pose_received = Some(now);
                participant.pose = Some(pose);
                RosterChange::Moved(user.to_owned())
            }
        }
    }

    /// Grows with every change to who is there, where and what they do (not with drops).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Who leads the session's timeline: whom the present host handed it to (if that one is
    /// present), else the host.
    pub fn timeline_lead(&self) -> Option<&str> {
        let (host, presence) = self
            .participants
            .iter()
            .find(|(_, p)| p.presence.host)
            .map(|(user, p)| (user.as_str(), &p.presence))?;
        match presence.timeline_lead.as_deref() {
            Some(lead) if self.participants.contains_key(lead) => Some(lead),
            _ => Some(host),
        }
    }

    /// Where whoever leads the timeline has taken the session, and who.
    pub fn timeline(&self) -> Option<(&str, &TimelineMessage)> {
        let lead = self.timeline_lead()?;
        self.timelines.get(lead).map(|message| (lead, message))
    }

    /// The last gathering heard: its number (counting from 1), the host, where to.
    pub fn last_gathering(&self) -> Option<&(u64, String, Gather)> {
        self.last_gathering.as_ref()
    }

    pub fn participants(&self) -> impl Iterator<Item = (&str, &Participant)> {
        self.participants.iter().map(|(user, p)| (user.as_str(), p))
    }

    pub fn get(&self, user: &str) -> Option<&Participant> {
        self.participants.get(user)
    }

    pub fn len(&self) -> usize {
        self.participants.len()
    }

    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    /// Dropped messages by reason.
    pub fn dropped(&self) -> impl Iterator<Item = (Dropped, u64)> + '_ {
        self.dropped.iter().map(|(reason, count)| (*reason, *count))
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::message::{Device, Placement, Timeline};
    use crate::session::topics::DEFAULT_ROOT;

    fn roster() -> Roster {
        Roster::new(SessionTopics::new(DEFAULT_ROOT, "s").unwrap())
    }

    fn presence(user: &str) -> Vec<u8> {
        Presence {
            user: user.into(),
            device: Device::Desktop,
            instance: "1".into(),
            selected: None,
            timeline: Timeline::Live,
            host: false,
            since: 0,
            timeline_lead: None,
        }
        .encode()
    }

    fn pose() -> Vec<u8> {
        Pose {
            head: Placement {
                at: [0.0, 1.6, 0.0],
                rotation: [0.0, 0.0, 0.0, 1.0],
            },
            hands: vec![],
            pointer: None,
            fov: Some(0.8),
            instance: None,
        }
        .encode()
    }

    #[test]
    fn participants_join_move_and_leave_with_their_retained_presence() {
        let mut roster = roster();
        let now = Instant::now();
        let at = "twinscope/v1/sessions/s/alice/presence";
        assert_eq!(
            roster.receive("twinscope/v1/sessions/s/alice/pose", &pose(), now),
            RosterChange::Ignored,
            "a pose before the presence"
        );
        assert_eq!(
            roster.receive(at, &presence("alice"), now),
            RosterChange::Joined("alice".into())
        );
        assert_eq!(
            roster.generation(),
            1,
            "a change counts; the ignored pose before it did not"
        );
        assert_eq!(
            roster.receive(at, &presence("alice"), now),
            RosterChange::Updated("alice".into())
        );
        assert_eq!(
            roster.receive("twinscope/v1/sessions/s/alice/pose", &pose(), now),
            RosterChange::Moved("alice".into())
        );
        assert!(roster.get("alice").unwrap().pose.is_some());
        assert_eq!(
            roster.receive(at, b"", now),
            RosterChange::Left("alice".into()),
            "the will clears the retained presence"
        );
        assert!(roster.is_empty());
        assert_eq!(
            roster.receive("te/device/pump///m/", b"{}", now),
            RosterChange::Ignored
        );
    }

    #[test]
    fn only_the_host_gathers_and_at_most_once_a_second() {
        let mut roster = roster();
        let now = Instant::now();
        let host = Presence {
            host: true,
            ..Presence::decode("boss", &presence("boss")).unwrap()
        };
        roster.receive("twinscope/v1/sessions/s/boss/presence", &host.encode(), now);
        roster.receive(
            "twinscope/v1/sessions/s/alice/presence",
            &presence("alice"),
            now,
        );
        let gather = Gather {
            head: Placement {
                at: [1.0, 1.7, 2.0],
                rotation: [0.0, 0.0, 0.0, 1.0],
            },
            twin: Some("line1-tank1".into()),
        }
        .encode();
        assert_eq!(
            roster.receive("twinscope/v1/sessions/s/alice/gather", &gather, now),
            RosterChange::Dropped(Dropped::NotHost)
        );
        assert_eq!(
            roster.receive("twinscope/v1/sessions/s/boss/gather", &gather, now),
            RosterChange::Gathered("boss".into())
        );
        assert_eq!(
            roster.receive("twinscope/v1/sessions/s/boss/gather", &gather, now),
            RosterChange::Dropped(Dropped::TooFast)
        );
        assert_eq!(
            roster.receive(
                "twinscope/v1/sessions/s/boss/gather",
                &gather,
                now + Duration::from_secs(2)
            ),
            RosterChange::Gathered("boss".into())
        );
        let (number, host, to) = roster.last_gathering().unwrap();
        assert_eq!(
            (*number, host.as_str(), to.twin.as_deref()),
            (2, "boss", Some("line1-tank1"))
        );
    }

    #[test]
    fn only_the_present_host_leads_the_timeline() {
        use crate::session::timeline::{SharedTimeline, TimelineMessage};
        let mut roster = roster();
        let now = Instant::now();
        let back = TimelineMessage {
            timeline: SharedTimeline::LookBack { at: 42 },
            seq: 1,
        }
        .encode();
        // Retained, it may come before the host's presence: kept, believed once the host is there.
        assert_eq!(
            roster.receive("twinscope/v1/sessions/s/boss/timeline", &back, now),
            RosterChange::Timeline("boss".into())
        );
        assert!(roster.timeline().is_none());
        let host = Presence {
            host: true,
            ..Presence::decode("boss", &presence("boss")).unwrap()
        };
        roster.receive("twinscope/v1/sessions/s/boss/presence", &host.encode(), now);
        assert_eq!(
            roster.timeline().map(|(who, m)| (who, m.timeline.clone())),
            Some(("boss", SharedTimeline::LookBack { at: 42 }))
        );
        roster.receive(
            "twinscope/v1/sessions/s/alice/presence",
            &presence("alice"),
            now,
        );
        assert_eq!(
            roster.receive("twinscope/v1/sessions/s/alice/timeline", &back, now),
            RosterChange::Dropped(Dropped::NotHost)
        );
        // The host hands the timeline to alice: hers leads now, and the host's no more.
        let handing = Presence {
            timeline_lead: Some("alice".into()),
            ..host.clone()
        };
        roster.receive(
            "twinscope/v1/sessions/s/boss/presence",
            &handing.encode(),
            now,
        );
        let ahead = TimelineMessage {
            timeline: SharedTimeline::LookBack { at: 99 },
            seq: 2,
        }
        .encode();
        assert_eq!(
            roster.receive("twinscope/v1/sessions/s/alice/timeline", &ahead, now),
            RosterChange::Timeline("alice".into())
        );
        assert_eq!(
            roster.timeline().map(|(who, m)| (who, m.timeline.clone())),
            Some(("alice", SharedTimeline::LookBack { at: 99 }))
        );
        roster.receive("twinscope/v1/sessions/s/boss/presence", b"", now);
        assert!(roster.timeline().is_none(), "the host left");
    }

    #[test]
    fn a_full_session_takes_no_more_participants() {
        let mut roster = roster();
        let now = Instant::now();
        for k in 0..MAX_PARTICIPANTS + 10 {
            let user = format!("u{k}");
            roster.receive(
                &format!("twinscope/v1/sessions/s/{user}/presence"),
                &presence(&user),
                now,
            );
        }
        assert_eq!(roster.len(), MAX_PARTICIPANTS);
        assert_eq!(
            roster.dropped().collect::<Vec<_>>(),
            [(Dropped::SessionFull, 10)]
        );
    }

    #[test]
    fn poses_faster_than_the_cap_are_dropped_and_a_steady_20_hz_is_not() {
        let mut roster = roster();
        let start = Instant::now();
        roster.receive(
            "twinscope/v1/sessions/s/alice/presence",
            &presence("alice"),
            start,
        );
        let topic = "twinscope/v1/sessions/s/alice/pose";
        // A flood: a thousand poses in the same instant; only the burst gets through.
        let moved = (0..1000)
            .filter(|_| {
                matches!(
                    roster.receive(topic, &pose(), start),
                    RosterChange::Moved(_)
                )
            })
            .count();
        assert_eq!(moved, POSE_BURST as usize);
        // Then 20 Hz for ten seconds: all of them.
        let steady = (1..=200)
            .filter(|k| {
                matches!(
                    roster.receive(topic, &pose(), start + Duration::from_millis(1000 + 50 * k)),
                    RosterChange::Moved(_)
                )
            })
            .count();
        assert_eq!(steady, 200);
    }

    #[test]
    fn garbage_forgeries_and_unknown_topics_are_counted_by_reason() {
        let mut roster = roster();
        let now = Instant::now();
        roster.receive(
            "twinscope/v1/sessions/s/alice/presence",
            &presence("mallory"),
            now,
        );
        roster.receive("twinscope/v1/sessions/s/alice/presence", b"garbage", now);
        roster.receive(
            "twinscope/v1/sessions/s/alice/presence",
            &vec![b'x'; 100_000],
            now,
        );
        roster.receive("twinscope/v1/sessions/s/alice/secrets", b"{}", now);
        roster.receive(
            "twinscope/v1/sessions/s/nobody/pose",
            &vec![b'x'; 100_000],
            now,
        );
        let counts: Vec<_> = roster.dropped().collect();
        assert_eq!(
            counts,
            [
                (Dropped::Oversized, 2),
                (Dropped::Malformed, 1),
                (Dropped::Forged, 1),
                (Dropped::UnknownTopic, 1)
            ]
        );
        assert!(roster.is_empty());
    }
}
