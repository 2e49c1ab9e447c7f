//! Taking part in a session: an MQTT client of its own (a helper beside the plant data's
//! client, on the same broker or another) that keeps the participant's retained presence on
//! the broker, with a last will that clears it, sends poses at most 20 times a second, and
//! fills a [`Roster`] with what the others say.
//!
//! An observer subscribes and publishes nothing, so a read-only connection can follow a
//! session. Leaving clears the presence; a lost connection or a killed process does too,
//! through the will, so nobody stays behind as a ghost.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::alarm_actions::{AlarmActionMessage, SharedAlarmAction, SharedAlarmActions, alarm_key};
use super::clock::{HybridClock, Stamp};
use super::message::{Pose, Presence};
use super::notes::{NoteBook, NoteError, NoteVersion};
use super::roster::{Roster, RosterChange};
use super::timeline::{SharedTimeline, TimelineMessage};
use super::topics::{SessionTopic, SessionTopics};
use crate::connection::ConnectionSettings;
use crate::ingest::{IngestConfig, IngestHandle, IngestStats, MessageHandler, spawn_mqtt_client};
use crate::schema::SchemaPublish;
use crate::time::Timestamp;

/// Shortest time between two poses sent (20 Hz).
pub const POSE_INTERVAL: Duration = Duration::from_millis(50);
/// Note versions published per client tick at most (10,000 a second).
const NOTES_PER_TICK: usize = 100;
/// Note versions published and not yet heard back, at most.
const NOTES_IN_FLIGHT: usize = 500;

/// Keep-alive of session connections: a silent dead peer is noticed (and its will sent)
/// within one and a half times this.
pub const SESSION_KEEP_ALIVE: Duration = Duration::from_secs(5);

/// What the participant's own side and its client thread share.
#[derive(Debug)]
pub struct SessionShared {
    pub roster: Roster,
    /// The presence to keep on the broker; `None` for an observer.
    presence: Option<Presence>,
    presence_due: bool,
    pose: Option<Pose>,
    /// The earliest a pose may go next: 50 ms after the last one's slot, not after it was
    /// actually sent, so a late tick does not push every later pose back (poses wait for the
    /// client's 10 ms tick, not for a whole interval).
    next_pose_slot: Option<Instant>,
    pub connected: bool,
    /// The clearing of our presence, when leaving.
    leaving: Option<SchemaPublish>,
    /// Our "bring everyone here", to send (the host's only).
    gathering: Option<super::message::Gather>,
    /// Who we are (user, instance, when we joined), also after a hand-over.
    me: Option<Presence>,
    /// The same user joined on another device after us: this instance has handed over and
    /// publishes nothing more (nor clears the presence, which is the other's now).
    pub taken_over_by: Option<super::message::Device>,
    /// The same user's earlier instance we took over from, with its last pose: where it stood
    /// and what it had selected, to continue there.
    pub predecessor: Option<(Presence, Option<Pose>)>,
    /// The last pose we sent, sent once more when handing over (poses are not retained, and
    /// the device taking over wants to know where we stood).
    last_pose: Option<Pose>,
    farewell_pose_due: bool,
    /// Poses sent and bytes of session traffic sent (topics and payloads).
    pub poses_sent: u64,
    pub bytes_sent: u64,
    /// What the last message changed, and when it arrived.
    pub last_change: Option<(RosterChange, Timestamp)>,
    /// The session's notes, as heard (ours included: they come back from the broker).
    pub notes: NoteBook,
    clock: HybridClock,
    /// Who writes our notes: the participant, or a writer that is no participant (a script
    /// pinning findings); `None` for an observer.
    writer: Option<String>,
    /// A writer that is no participant says it hosts the session (`notes --delete --host`).
    writer_host: bool,
    /// Our note versions to publish, and those published but not yet heard back.
    notes_due: Vec<NoteVersion>,
    notes_unconfirmed: Vec<(String, Stamp)>,
    /// Alarm actions heard (the viewer applies them to its store), and ours to publish.
    pub alarm_actions: SharedAlarmActions,
    alarm_actions_due: Vec<AlarmActionMessage>,
    /// Where we (the host) take the session's timeline, to send; and how many we sent.
    timeline_due: Option<TimelineMessage>,
    timeline_seq: u64,
}

/// A running session client. Dropping it leaves the session.
pub struct SessionLink {
    shared: Arc<Mutex<SessionShared>>,
    client: IngestHandle,
    user: String,
}

impl SessionLink {
    /// Joins the session on `connection` as `me` (or, with `None`, as an observer that
    /// publishes nothing).
    pub fn join(
        connection: &ConnectionSettings,
        topics: SessionTopics,
        me: Option<Presence>,
    ) -> std::io::Result<SessionLink> {
        let user = me.as_ref().map_or_else(String::new, |p| p.user.clone());
        let shared = Arc::new(Mutex::new(SessionShared {
            roster: Roster::new(topics),
            presence_due: me.is_some(),
            presence: me.clone(),
            pose: None,
            next_pose_slot: None,
            connected: false,
            leaving: None,
            gathering: None,
            me: me.clone(),
            taken_over_by: None,
            predecessor: None,
            last_pose: None,
            farewell_pose_due: false,
            poses_sent: 0,
            bytes_sent: 0,
            last_change: None,
            notes: NoteBook::default(),
            clock: HybridClock::default(),
            writer: me.as_ref().map(|p| p.user.clone()),
            writer_host: false,
            notes_due: Vec::new(),
            notes_unconfirmed: Vec::new(),
            alarm_actions: SharedAlarmActions::default(),
            alarm_actions_due: Vec::new(),
            timeline_due: None,
            timeline_seq: 0,
        }));
        let mut config = IngestConfig::helper(connection, "session");
        config.keep_alive = SESSION_KEEP_ALIVE;
        config.batch_interval = Duration::from_millis(10);
        let handler = SessionHandler {
            shared: shared.clone(),
        };
        let client = spawn_mqtt_client(config, handler, IngestStats::new(), "mqtt-session")?;
        Ok(SessionLink {
            shared,
            client,
            user,
        })
    }

    /// Joins the session to write notes as `user` without being a participant (no
    /// presence, no pose: `twinscope notes --add`, a maintenance system feeding findings in).
    pub fn join_as_writer(
        connection: &ConnectionSettings,
        topics: SessionTopics,
        user: &str,
    ) -> std::io::Result<SessionLink> {
        let link = SessionLink::join(connection, topics, None)?;
        link.lock().writer = Some(user.to_owned());
        Ok(SessionLink {
            user: user.to_owned(),
            ..link
        })
    }

    /// Our user name (empty for an observer).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Pins a note to `twin`; its id. Everyone in the session sees it, and whoever joins
    /// later: it is retained on the broker.
    pub fn pin_note(&self, twin: &str, text: &str) -> Result<String, NoteError> {
        self.write_note(|notes, me, host, clock, now| notes.pin(me, host, twin, text, clock, now))
            .map(|v| v.id)
    }

    /// Changes a note's text and/or whether it is resolved (anyone may).
    pub fn edit_note(
        &self,
        id: &str,
        text: Option<&str>,
        resolved: Option<bool>,
    ) -> Result<(), NoteError> {
        self.write_note(|notes, me, host, clock, now| {
            notes.edit(me, host, id, text, resolved, clock, now)
        })
        .map(drop)
    }

    /// Deletes a note (its author, or the session's host).
    pub fn delete_note(&self, id: &str) -> Result<(), NoteError> {
        self.write_note(|notes, me, host, clock, now| notes.delete(me, host, id, clock, now))
            .map(drop)
    }

    fn write_note(
        &self,
        write: impl FnOnce(
            &mut NoteBook,
            &str,
            bool,
            &mut HybridClock,
            u64,
        ) -> Result<NoteVersion, NoteError>,
    ) -> Result<NoteVersion, NoteError> {
        let mut guard = self.lock();
        let shared = &mut *guard;
        let Some(me) = shared.writer.clone() else {
            return Err(NoteError::Observer);
        };
        let host = shared.writer_host || shared.presence.as_ref().is_some_and(|p| p.host);
        let version = write(
            &mut shared.notes,
            &me,
            host,
            &mut shared.clock,
            HybridClock::wall_now(),
        )?;
        shared.notes_due.push(version.clone());
        Ok(version)
    }

    /// Tells the session we acknowledged, shelved or unshelved an alarm (`at`: µs since the
    /// Unix epoch). Nothing for an observer.
    /// `raised`: when the alarm's occurrence began, as we saw it.
    pub fn tell_alarm_action(
        &self,
        twin: &str,
        alarm: &str,
        action: SharedAlarmAction,
        at: i64,
        raised: i64,
    ) {
        let mut shared = self.lock();
        let Some(by) = shared.writer.clone() else {
            return;
        };
        shared.alarm_actions_due.push(AlarmActionMessage {
            twin: twin.to_owned(),
            alarm: alarm.to_owned(),
            action,
            at,
            by,
            raised: Some(raised),
        });
    }

    /// Whether our action on this alarm, dated `at`, came back from the broker.
    pub fn alarm_action_confirmed(&self, twin: &str, alarm: &str, at: i64) -> bool {
        let shared = self.lock();
        shared.alarm_actions_due.is_empty()
            && shared
                .writer
                .as_deref()
                .is_some_and(|me| shared.alarm_actions.heard(me, &alarm_key(twin, alarm), at))
    }

    /// The others' alarm actions heard since the last call (ours are left out).
    pub fn take_alarm_actions(&self) -> Vec<AlarmActionMessage> {
        let mut guard = self.lock();
        let shared = &mut *guard;
        let me = shared.writer.as_deref().unwrap_or_default();
        shared
            .alarm_actions
            .take_waiting()
            .into_iter()
            .filter(|a| a.by != me)
            .collect()
    }

    /// Whether every note we wrote has come back from the broker (it holds them).
    pub fn notes_confirmed(&self) -> bool {
        let shared = self.lock();
        shared.notes_due.is_empty() && shared.notes_unconfirmed.is_empty()
    }

    /// The shared state: the roster and what we publish. Held briefly (the client thread
    /// waits meanwhile).
    pub fn lock(&self) -> MutexGuard<'_, SessionShared> {
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Changes what our presence says (selection, timeline); republished if it changed.
    pub fn update_presence(&self, change: impl FnOnce(&mut Presence)) {
        let mut shared = self.lock();
        let Some(presence) = shared.presence.as_mut() else {
            return;
        };
        let before = presence.clone();
        change(presence);
        if *presence != before {
            shared.presence_due = true;
        }
    }

    /// The pose to send next (the latest wins; sent at most every [`POSE_INTERVAL`]).
    pub fn send_pose(&self, pose: Pose) {
        let mut shared = self.lock();
        if shared.presence.is_some() {
            shared.pose = Some(pose);
        }
    }

    /// Brings everyone to `to` (sent only by the session's host; others drop it from anyone
    /// else).
    pub fn gather(&self, to: super::message::Gather) {
        let mut shared = self.lock();
        if shared.presence.as_ref().is_some_and(|p| p.host) {
            shared.gathering = Some(to);
        }
    }

    /// Takes everyone in the session to `timeline` (the host's, or whom the host handed the
    /// timeline to; others are refused by everyone, so nothing is sent for them).
    pub fn lead_timeline(&self, timeline: SharedTimeline) {
        let mut shared = self.lock();
        let me = shared.presence.as_ref().map(|p| (p.user.clone(), p.host));
        let leads = me.is_some_and(|(user, host)| {
            host || shared.roster.timeline_lead() == Some(user.as_str())
        });
        if leads {
            // Counting on from the last one we sent before (a restart) keeps followers taking it.
            let seq = shared
                .timeline_seq
                .max(crate::Timestamp::now().0.max(0) as u64)
                + 1;
            shared.timeline_seq = seq;
            shared.timeline_due = Some(TimelineMessage { timeline, seq });
        }
    }

    /// The connection's counters (connected, failures).
    pub fn stats(&self) -> &IngestStats {
        &self.client.stats
    }

    /// Leaves the session: the presence is cleared on the broker, then the client stops.
    pub fn leave(mut self) {
        self.client.stop();
    }
}

impl SessionShared {
    /// Says whether a writer that is no participant hosts the session.
    pub fn set_writer_host(&mut self, host: bool) {
        self.writer_host = host;
    }
}

struct SessionHandler {
    shared: Arc<Mutex<SessionShared>>,
}

impl SessionHandler {
    fn lock(&self) -> MutexGuard<'_, SessionShared> {
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A message on our own user path: another instance of us (a hand-over), or the clearing of
/// our presence by an earlier instance's will.
fn hear_our_own_path(shared: &mut SessionShared, what: SessionTopic, payload: &[u8]) {
    let Some(me) = shared.me.clone() else { return };
    match what {
        SessionTopic::Presence if payload.is_empty() => {
            // Cleared (an earlier instance's will): present again, unless handed over.
            shared.presence_due = shared.presence.is_some();
        }
        SessionTopic::Presence => {
            let Ok(other) = Presence::decode(&me.user, payload) else {
                return;
            };
            if other.instance == me.instance || shared.taken_over_by.is_some() {
                return;
            }
            if me.is_succeeded_by(&other) {
                tracing::info!(device = ?other.device, "this session continues on another device; handing over");
                shared.taken_over_by = Some(other.device);
                shared.presence = None;
                shared.pose = None;
                shared.farewell_pose_due = shared.last_pose.is_some();
            } else {
                // An earlier instance: we take its place (and say so again, in case its
                // presence was retained after ours).
                if shared
                    .predecessor
                    .as_ref()
                    .is_none_or(|(known, _)| known.instance != other.instance)
                {
                    shared.predecessor = Some((other, None));
                }
                shared.presence_due = shared.presence.is_some();
            }
        }
        SessionTopic::Gather | SessionTopic::Timeline => {}
        SessionTopic::Pose => {
            let Ok(pose) = Pose::decode(payload) else {
                return;
            };
            if let Some((earlier, last_pose)) = shared.predecessor.as_mut()
                && pose.instance.as_deref() == Some(earlier.instance.as_str())
            {
                *last_pose = Some(pose);
            }
        }
    }
}

fn presence_clear(shared: &SessionShared, presence: &Presence) -> SchemaPublish {
    SchemaPublish {
        topic: shared
            .roster
            .topics()
            .topic(&presence.user, SessionTopic::Presence),
        payload: Vec::new(),
        qos: 1,
        retain: true,
    }
}

impl MessageHandler for SessionHandler {
    fn subscriptions(&self) -> Vec<String> {
        vec![self.lock().roster.topics().filter()]
    }

    /// At most once: the session's state is retained (presence, notes, alarm actions, the
    /// timeline) and comes again on a reconnect, and a broker queues only so many QoS 1
    /// messages per client (mosquitto: 1,000) before dropping the rest, which would cut a
    /// late joiner's 10,000 notes short. What we publish still goes at least once.
    fn qos(&self) -> rumqttc::QoS {
        rumqttc::QoS::AtMostOnce
    }

    fn handle(
        &mut self,
        topic: &str,
        payload: &[u8],
        _qos: u8,
        _retain: bool,
        received: Timestamp,
    ) {
        let mut guard = self.lock();
        let shared = &mut *guard;
        if let Some((user, id)) = shared.roster.topics().parse_note(topic) {
            shared.notes.receive(
                user,
                id,
                payload,
                &mut shared.clock,
                HybridClock::wall_now(),
            );
            if shared.writer.as_deref() == Some(user) {
                let heard = shared.notes.get(id).map(|n| n.latest.clock);
                shared
                    .notes_unconfirmed
                    .retain(|(mine, stamp)| !(mine == id && Some(*stamp) <= heard));
            }
            return;
        }
        if let Some((user, key)) = shared.roster.topics().parse_alarm_action(topic) {
            let _ = shared.alarm_actions.receive(user, key, payload);
            return;
        }
        let mut shared = guard;
        let change = shared.roster.receive(topic, payload, Instant::now());
        if !matches!(change, RosterChange::Ignored | RosterChange::Dropped(_)) {
            shared.last_change = Some((change, received));
        }
        let ours = shared
            .roster
            .topics()
            .parse(topic)
            .filter(|(user, _)| shared.me.as_ref().is_some_and(|me| me.user == *user))
            .map(|(_, what)| what);
        if let Some(what) = ours {
            hear_our_own_path(&mut shared, what, payload);
        }
    }

    fn connected(&mut self) {
        let mut shared = self.lock();
        shared.connected = true;
        // Present again: the broker may have sent our will while we were away.
        shared.presence_due = shared.presence.is_some();
    }

    fn connection_lost(&mut self) {
        self.lock().connected = false;
    }

    fn will(&mut self) -> Option<SchemaPublish> {
        let shared = self.lock();
        shared
            .presence
            .as_ref()
            .map(|presence| presence_clear(&shared, presence))
    }

    fn take_publishes(&mut self) -> Vec<SchemaPublish> {
        let mut shared = self.lock();
        if let Some(leave) = shared.leaving.take() {
            return vec![leave];
        }
        if !shared.connected {
            return Vec::new();
        }
        if shared.farewell_pose_due
            && let (Some(pose), Some(me)) = (shared.last_pose.clone(), &shared.me)
        {
            let topic = shared.roster.topics().topic(&me.user, SessionTopic::Pose);
            shared.farewell_pose_due = false;
            return vec![SchemaPublish {
                topic,
                payload: pose.encode(),
                qos: 1,
                retain: false,
            }];
        }
        let mut out = Vec::new();
        if let Some(writer) = shared.writer.clone() {
            for action in std::mem::take(&mut shared.alarm_actions_due) {
                let topic = shared
                    .roster
                    .topics()
                    .alarm_action(&writer, &alarm_key(&action.twin, &action.alarm));
                out.push(SchemaPublish {
                    topic,
                    payload: action.encode(),
                    qos: 1,
                    retain: true,
                });
            }
            // A bounded batch per tick (10 ms), and no more unconfirmed at once than the
            // window: a script pinning thousands of notes must not overrun the client's
            // request queue or the broker's, which would drop the rest. Our notes coming back
            // from the broker open the window again.
            let room = NOTES_IN_FLIGHT.saturating_sub(shared.notes_unconfirmed.len());
            let batch = shared.notes_due.len().min(NOTES_PER_TICK).min(room);
            let due: Vec<NoteVersion> = shared.notes_due.drain(..batch).collect();
            for note in due {
                shared.notes_unconfirmed.push((note.id.clone(), note.clock));
                out.push(SchemaPublish {
                    topic: shared.roster.topics().note(&writer, &note.id),
                    payload: note.encode(),
                    qos: 1,
                    retain: true,
                });
            }
        }
        if let (Some(timeline), Some(presence)) = (shared.timeline_due.take(), &shared.presence) {
            let topic = shared
                .roster
                .topics()
                .topic(&presence.user, SessionTopic::Timeline);
            out.push(SchemaPublish {
                topic,
                payload: timeline.encode(),
                qos: 1,
                retain: true,
            });
        }
        if let (Some(gather), Some(presence)) = (shared.gathering.take(), &shared.presence) {
            let topic = shared
                .roster
                .topics()
                .topic(&presence.user, SessionTopic::Gather);
            out.push(SchemaPublish {
                topic,
                payload: gather.encode(),
                qos: 1,
                retain: false,
            });
        }
        if shared.presence_due
            && let Some(presence) = &shared.presence
        {
            let topic = shared
                .roster
                .topics()
                .topic(&presence.user, SessionTopic::Presence);
            out.push(SchemaPublish {
                topic,
                payload: presence.encode(),
                qos: 1,
                retain: true,
            });
            shared.presence_due = false;
        }
        let now = Instant::now();
        let pose_due = shared.next_pose_slot.is_none_or(|slot| now >= slot);
        if pose_due && let (Some(mut pose), Some(presence)) = (shared.pose.take(), &shared.presence)
        {
            let topic = shared
                .roster
                .topics()
                .topic(&presence.user, SessionTopic::Pose);
            pose.instance = Some(presence.instance.clone());
            out.push(SchemaPublish {
                topic,
                payload: pose.encode(),
                qos: 0,
                retain: false,
            });
            shared.last_pose = Some(pose);
            // At most one interval of catching up after a stall: never a burst.
            let slot = shared.next_pose_slot.map_or(now, |slot| {
                slot.max(now.checked_sub(POSE_INTERVAL).unwrap_or(now))
            });
            shared.next_pose_slot = Some(slot + POSE_INTERVAL);
            shared.poses_sent += 1;
        }
        shared.bytes_sent += out
            .iter()
            .map(|p| (p.topic.len() + p.payload.len()) as u64)
            .sum::<u64>();
        out
    }

    fn finish(&mut self) {
        // Leaving: clear the retained presence (sent before the goodbye).
        let mut shared = self.lock();
        shared.pose = None;
        if let Some(presence) = shared.presence.take() {
            let clear = presence_clear(&shared, &presence);
            shared.leaving = Some(clear);
        }
    }
}
