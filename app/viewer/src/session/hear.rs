//! What the others are doing, read from the session's roster once a frame into plain data
//! in plant coordinates (twin ids resolved to this viewer's twins), and the panel's
//! commands: go to a participant, follow one.

use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll};
use bevy::prelude::*;
use twinscope_core::session::{Device, Timeline, colour_of};
use twinscope_core::twin::TwinIndex;

use super::{Following, SessionCommand, SharedSession, transform};
use crate::scene::camera::OrbitCamera;
use crate::scene::selection::FrameTwin;
use crate::store::sync::TwinState;

/// Another participant, as this frame shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct Participant {
    pub user: String,
    pub colour: Color,
    pub device: Device,
    pub timeline: Timeline,
    pub host: bool,
    /// Their selection: its id, and our twin of that id if we have one.
    pub selected: Option<(String, Option<TwinIndex>)>,
    /// Their head (headset) or camera (desktop), looking along its -Z, in the world.
    pub head: Option<Transform>,
    pub hands: Vec<Transform>,
    /// What they point at: the twin, if on one, and the point.
    pub pointer: Option<(Option<TwinIndex>, Vec3)>,
    pub fov: Option<f32>,
}

/// The host's last "bring everyone here", in this viewer's world.
#[derive(Debug, Clone, PartialEq)]
pub struct Gathering {
    /// Counts from 1 in the order heard.
    pub number: u64,
    pub host: String,
    pub head: Transform,
    pub twin: Option<TwinIndex>,
}

/// Everyone else in the session, this frame.
#[derive(Resource, Debug, Default)]
pub struct Participants {
    pub others: Vec<Participant>,
    /// Our user name ("" for an observer).
    pub me: String,
    pub connected: bool,
    /// Session messages dropped (malformed, forged, too fast...), all reasons.
    pub dropped: u64,
    /// The session's name (its join code).
    pub session: String,
    /// This user joined on another device, which took over.
    pub handed_over_to: Option<Device>,
    /// This user's earlier device's selection and head (in plant coordinates: a headset places
    /// the plant only later), to continue there (taken once).
    pub continue_from: Option<(Option<String>, Option<Transform>)>,
    /// We started the session (may bring everyone here).
    pub host: bool,
    /// The host's last gathering (someone else's: our own is not answered).
    pub gathering: Option<Gathering>,
    /// Who leads the session's timeline (the host, or whom it handed it to).
    pub timeline_lead: Option<String>,
}

impl Participants {
    /// Whether we lead the session's timeline.
    pub fn lead_the_timeline(&self) -> bool {
        !self.me.is_empty() && self.timeline_lead.as_deref() == Some(self.me.as_str())
    }
}

impl Participants {
    pub fn get(&self, user: &str) -> Option<&Participant> {
        self.others.iter().find(|p| p.user == user)
    }
}

/// The roster's participants other than `me`, as this viewer shows them: twin ids resolved
/// to its twins, poses placed in the world by the plant's `frame`.
pub fn others_in(
    roster: &twinscope_core::session::Roster,
    me: &str,
    store: &twinscope_core::twin::TwinStore,
    frame: &GlobalTransform,
) -> Vec<Participant> {
    let to_world = |plant: Transform| frame.mul_transform(plant).compute_transform();
    roster
        .participants()
        .filter(|(user, _)| *user != me)
        .map(|(user, p)| {
            let [r, g, b] = colour_of(user);
            let pose = p.pose.as_ref();
            Participant {
                user: user.to_owned(),
                colour: Color::srgb_u8(r, g, b),
                device: p.presence.device,
                timeline: p.presence.timeline,
                host: p.presence.host,
                selected: p
                    .presence
                    .selected
                    .as_ref()
                    .map(|id| (id.clone(), store.find(id))),
                head: pose.map(|pose| to_world(transform(&pose.head))),
                hands: pose
                    .map(|pose| {
                        pose.hands
                            .iter()
                            .map(|hand| to_world(transform(hand)))
                            .collect()
                    })
                    .unwrap_or_default(),
                pointer: pose.and_then(|pose| pose.pointer.as_ref()).map(|p| {
                    (
                        p.twin.as_deref().and_then(|id| store.find(id)),
                        frame.transform_point(Vec3::from_array(p.at)),
                    )
                }),
                fov: pose.and_then(|pose| pose.fov),
            }
        })
        .collect()
}

/// Copies the roster into [`Participants`] (without us). The view is built again only when
/// the roster changed, the plant moved (a headset's table) or twins were added; otherwise
/// only the connection state and counters are refreshed.
#[allow(clippy::too_many_arguments)]
pub fn hear_the_session(
    session: Option<Res<SharedSession>>,
    state: Res<TwinState>,
    frame: super::PlantFrame,
    mut participants: ResMut<Participants>,
    mut continued_from: Local<Option<String>>,
    mut waiting_since: Local<Option<std::time::Instant>>,
    mut built_for: Local<Option<(u64, bevy::math::Affine3A, usize)>>,
    recorded: Option<Res<super::recorded::RecordedSessionView>>,
) {
    if recorded.is_some() {
        return; // a replay's recorded session fills the participants
    }
    let Some(session) = session else {
        participants.others.clear();
        *built_for = None;
        return;
    };
    let shared = session.0.lock();
    let plant = frame.frame();
    let key = (
        shared.roster.generation(),
        plant.affine(),
        state.store.len(),
    );
    if *built_for != Some(key) {
        *built_for = Some(key);
        let me = session.0.user();
        participants.others = others_in(&shared.roster, me, &state.store, &plant);
        participants.host = shared.roster.get(me).is_some_and(|p| p.presence.host);
        participants.timeline_lead = shared.roster.timeline_lead().map(str::to_owned);
        participants.gathering = shared
            .roster
            .last_gathering()
            .filter(|(_, host, _)| host != me)
            .map(|(number, host, to)| Gathering {
                number: *number,
                host: host.clone(),
                head: frame.to_world(transform(&to.head)),
                twin: to.twin.as_deref().and_then(|id| state.store.find(id)),
            });
        if participants.me != me {
            participants.me = me.to_owned();
        }
        if participants.session != shared.roster.topics().name() {
            participants.session = shared.roster.topics().name().to_owned();
        }
    }
    // The earlier device of ours, once its last pose is known (it sends it once more when it
    // hands over), or after two seconds without one.
    if let Some((earlier, pose)) = &shared.predecessor
        && continued_from.as_deref() != Some(earlier.instance.as_str())
        && (pose.is_some()
            || waiting_since
                .get_or_insert_with(std::time::Instant::now)
                .elapsed()
                .as_secs_f32()
                > 2.0)
    {
        *continued_from = Some(earlier.instance.clone());
        *waiting_since = None;
        participants.continue_from = Some((
            earlier.selected.clone(),
            pose.as_ref().map(|pose| transform(&pose.head)),
        ));
    }
    participants.connected = shared.connected;
    participants.dropped = shared.roster.dropped_total();
    participants.handed_over_to = shared.taken_over_by;
}

/// Go to and follow, from the participants panel.
pub fn apply_session_commands(
    mut commands: MessageReader<SessionCommand>,
    participants: Res<Participants>,
    mut following: ResMut<Following>,
    mut frame: MessageWriter<FrameTwin>,
    mut cameras: Query<&mut OrbitCamera>,
    session: Option<Res<SharedSession>>,
) {
    for command in commands.read() {
        match command {
            SessionCommand::GoTo(user) => {
                let Some(participant) = participants.get(user) else {
                    continue;
                };
                match (&participant.selected, participant.head) {
                    (Some((_, Some(twin))), _) => {
                        frame.write(FrameTwin(*twin));
                    }
                    (_, Some(head)) => {
                        for mut camera in &mut cameras {
                            look_from(&mut camera, head);
                        }
                    }
                    _ => {}
                }
            }
            SessionCommand::Follow(user) => following.0 = Some(user.clone()),
            SessionCommand::StopFollowing => following.0 = None,
            SessionCommand::HandTimeline(user) => {
                if let Some(session) = &session {
                    session
                        .0
                        .update_presence(|me| me.timeline_lead = user.clone());
                }
            }
            SessionCommand::ContinueOn(_)
            | SessionCommand::GatherHere
            | SessionCommand::Start
            | SessionCommand::StepOut
            | SessionCommand::Rejoin => {} // hand_over.rs, gather.rs, start.rs, timeline.rs
        }
    }
}

/// The desktop camera flies with the followed participant's head; any own camera input (a
/// drag, the wheel, a key) stops following. While the participant is not (or no longer) in
/// the session the camera stays where it is, and follows again when they are back.
pub fn follow_a_participant(
    mut following: ResMut<Following>,
    participants: Res<Participants>,
    mut cameras: Query<&mut OrbitCamera>,
    inputs: (
        Option<Res<ButtonInput<MouseButton>>>,
        Option<Res<ButtonInput<KeyCode>>>,
        Option<Res<AccumulatedMouseScroll>>,
        Option<Res<AccumulatedMouseMotion>>,
    ),
) {
    let Some(user) = following.0.clone() else {
        return;
    };
    let (buttons, keys, scroll, motion) = inputs;
    let dragged = buttons.is_some_and(|b| b.get_pressed().next().is_some())
        && motion.is_some_and(|m| m.delta != Vec2::ZERO);
    let own_input = dragged
        || keys.is_some_and(|k| k.get_just_pressed().next().is_some())
        || scroll.is_some_and(|s| s.delta != Vec2::ZERO);
    if own_input {
        info!("no longer following {user}");
        following.0 = None;
        return;
    }
    let Some(head) = participants.get(&user).and_then(|p| p.head) else {
        return;
    };
    for mut camera in &mut cameras {
        look_from(&mut camera, head);
    }
}

/// How far behind and above the followed head the camera stands: over their shoulder, so
/// their avatar and ray are in view with what they look at.
const BEHIND: f32 = 2.5;
const ABOVE: f32 = 0.8;

/// Puts the orbit camera over the shoulder of `head`, looking where it looks.
pub(super) fn look_from(camera: &mut OrbitCamera, head: Transform) {
    let forward = head.forward().as_vec3();
    let level = Vec3::new(forward.x, 0.0, forward.z)
        .try_normalize()
        .unwrap_or(Vec3::NEG_Z);
    let eye = head.translation - level * BEHIND + Vec3::Y * ABOVE;
    let distance = 4.0;
    camera.focus = eye + forward * distance;
    camera.distance = distance;
    // The orbit offset points from the focus back to the eye: -forward.
    camera.yaw = (-forward.x).atan2(-forward.z);
    camera.pitch = (-forward.y).clamp(-1.0, 1.0).asin().clamp(-1.5, 1.5);
    camera.flight = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looking_from_a_head_puts_the_camera_over_its_shoulder_facing_the_same_way() {
        let head =
            Transform::from_xyz(3.0, 1.7, -2.0).looking_to(Vec3::new(1.0, -0.3, -1.0), Vec3::Y);
        let mut camera = OrbitCamera::default();
        look_from(&mut camera, head);
        let placed = camera.transform();
        let behind = Vec3::new(-1.0, 0.0, 1.0).normalize() * BEHIND + Vec3::Y * ABOVE;
        assert!(
            placed.translation.distance(head.translation + behind) < 1e-3,
            "{placed:?}"
        );
        assert!(
            placed.forward().dot(head.forward().as_vec3()) > 0.999,
            "{placed:?}"
        );
    }
}
