//! Shared sessions in the viewer: the others in the session drawn in the plant (a headset
//! user as head, hands and aim ray; a desktop user as a camera with its view frustum; each
//! with a name tag, an arrow at the screen's edge when out of view, their selection outlined
//! and what they point at marked, all in their colour), a participants panel with "go to"
//! and "follow", and our own presence and pose told to them. Notes pinned to twins stand
//! at their parts and are listed in a Notes window.
//!
//! The protocol and the roster are the core's ([`twinscope_core::session`]); this room only
//! reads the roster once a frame into [`Participants`], draws, and sends what we do. It
//! never touches the twin store.
//!
//! ```text
//! SessionSystems::Hear (roster → Participants, follow)  before the selection is applied
//! SessionSystems::Tell (camera, selection, pointer → link)  after the camera moved
//! SessionSystems::Show (gizmos: avatars, note pins)      after the camera moved
//! ```

pub mod avatars;
pub mod gather;
pub mod hand_over;
pub mod hear;
pub mod note_pins;
pub mod notes;
pub mod notes_panel;
pub mod panel;
pub mod recorded;
pub mod start;
pub mod tell;
pub mod timeline;

use bevy::prelude::*;
use bevy_egui::EguiPrimaryContextPass;
use twinscope_core::session::SessionLink;

use crate::{TwinscopeSystems, configure_twinscope_sets};

pub use hand_over::{ContinueFrom, HandOverCommand};
pub use hear::{Gathering, Participant, Participants};
pub use start::SessionStarter;

/// Takes part in the session the [`SharedSession`] resource joined (the plugin does nothing
/// without it). On the desktop the others' name tags and the participants panel are egui;
/// in the headset (`desktop: false`) name tags are drawn in 3D and the pose comes from the
/// headset's own plugin.
pub struct SessionPlugin {
    pub desktop: bool,
}

/// Whether name tags are drawn in 3D (the headset: no window to draw them in).
#[derive(Resource, Debug, Clone, Copy, Default)]
pub struct NameTagsIn3d(pub bool);

/// The joined session.
#[derive(Resource)]
pub struct SharedSession(pub SessionLink);

/// Whom the desktop camera follows, if anyone (any own camera input stops it).
#[derive(Resource, Debug, Clone, Default, PartialEq, Eq)]
pub struct Following(pub Option<String>);

/// A request from the participants panel.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub enum SessionCommand {
    /// Fly to where this participant is looking (their selection, or their position).
    GoTo(String),
    Follow(String),
    StopFollowing,
    /// Start this session's twinscope on the other kind of device (hand-over).
    ContinueOn(twinscope_core::session::Device),
    /// The host's "bring everyone here".
    GatherHere,
    /// Start a new session as its host (when in none).
    Start,
    /// Leave the host's timeline to look on one's own.
    StepOut,
    /// Back to the host's timeline.
    Rejoin,
    /// The host hands the session's timeline to this participant (`None`: takes it back).
    HandTimeline(Option<String>),
}

/// The plant's frame: where the scene's model root stands. Session poses are in it, so a
/// desktop (the plant where the model put it) and a headset (the plant moved to stand around
/// the user, or shrunk onto a table) agree on where a participant is and what they point at.
#[derive(bevy::ecs::system::SystemParam)]
pub struct PlantFrame<'w, 's> {
    roots: Query<'w, 's, &'static GlobalTransform, With<crate::scene::binding::SceneModelRoot>>,
}

impl PlantFrame<'_, '_> {
    pub(crate) fn frame(&self) -> GlobalTransform {
        self.roots
            .iter()
            .next()
            .copied()
            .unwrap_or(GlobalTransform::IDENTITY)
    }

    /// A world pose in plant coordinates.
    pub fn to_plant(&self, world: &GlobalTransform) -> Transform {
        world.reparented_to(&self.frame())
    }

    /// A plant pose in the world.
    pub fn to_world(&self, plant: Transform) -> Transform {
        self.frame().mul_transform(plant).compute_transform()
    }

    pub fn point_to_plant(&self, world: Vec3) -> Vec3 {
        self.frame().affine().inverse().transform_point3(world)
    }

    pub fn point_to_world(&self, plant: Vec3) -> Vec3 {
        self.frame().transform_point(plant)
    }
}

/// A session placement as a transform (rotation normalised: the wire's is only near unit).
pub(crate) fn transform(placement: &twinscope_core::session::Placement) -> Transform {
    let [x, y, z, w] = placement.rotation;
    Transform::from_translation(Vec3::from_array(placement.at))
        .with_rotation(Quat::from_xyzw(x, y, z, w).normalize())
}

/// A transform as a session placement.
pub(crate) fn placement(transform: &Transform) -> twinscope_core::session::Placement {
    twinscope_core::session::Placement {
        at: transform.translation.to_array(),
        rotation: transform.rotation.normalize().to_array(),
    }
}

/// The order of the session's work within a frame.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum SessionSystems {
    Hear,
    Tell,
    Show,
}

impl Plugin for SessionPlugin {
    fn build(&self, app: &mut App) {
        configure_twinscope_sets(app);
        app.configure_sets(
            Update,
            SessionSystems::Hear
                .after(TwinscopeSystems::Ingest)
                .before(TwinscopeSystems::Select),
        )
        .configure_sets(
            Update,
            (SessionSystems::Tell, SessionSystems::Show).after(TwinscopeSystems::Visuals),
        );
        app.init_resource::<Participants>()
            .init_resource::<Following>()
            .init_resource::<notes::SessionNotes>()
            .init_resource::<notes_panel::NotesDraft>()
            .init_resource::<note_pins::NotePins>()
            .init_resource::<timeline::TimelineStatus>()
            .init_resource::<timeline::TimelineFollowing>()
            .add_message::<notes::NoteCommand>()
            .insert_resource(NameTagsIn3d(!self.desktop))
            .add_message::<SessionCommand>()
            .add_message::<hand_over::ContinueFrom>()
            .add_systems(
                Update,
                (
                    hear::hear_the_session,
                    hand_over::continue_where_the_other_left_off,
                    gather::answer_gatherings,
                    hear::apply_session_commands,
                    hand_over::start_the_other_device,
                    start::start_a_session,
                    hear::follow_a_participant,
                    notes::apply_note_commands,
                    notes::hear_notes,
                    recorded::play_the_recorded_session,
                    timeline::notice_stepping_out,
                    timeline::lead_the_timeline,
                    timeline::follow_the_hosts_timeline,
                )
                    .chain()
                    .in_set(SessionSystems::Hear),
            )
            .add_systems(
                Update,
                (tell::tell_where_we_are, gather::gather_everyone_here)
                    .in_set(SessionSystems::Tell),
            )
            .add_systems(
                Update,
                (
                    avatars::draw_participants,
                    (note_pins::place_pins, note_pins::draw_pins).chain(),
                )
                    .in_set(SessionSystems::Show),
            )
            .add_systems(
                Last,
                (
                    report_on_exit,
                    notes::report_notes_on_exit,
                    timeline::report_timeline_on_exit,
                )
                    .after(crate::scene::capture::CaptureExit),
            );
        if self.desktop {
            app.add_systems(
                Update,
                note_pins::select_clicked_pin.in_set(SessionSystems::Hear),
            );
            app.add_systems(
                EguiPrimaryContextPass,
                (
                    panel::draw_name_tags,
                    note_pins::draw_pin_labels,
                    panel::draw_participants_panel,
                    notes_panel::draw_notes_window,
                )
                    .after(crate::ui::PanelsDrawn),
            );
        }
    }
}

/// At exit, one line on the session and one per participant shown (scripts and tests read
/// them).
fn report_on_exit(
    mut exits: MessageReader<AppExit>,
    session: Option<Res<SharedSession>>,
    recorded: Option<Res<recorded::RecordedSessionView>>,
    participants: Res<Participants>,
    state: Res<crate::store::sync::TwinState>,
) {
    if exits.read().count() > 0 && (session.is_some() || recorded.is_some()) {
        eprintln!(
            "session: {} other participant(s) shown, {} session message(s) dropped",
            participants.others.len(),
            participants.dropped
        );
        for participant in &participants.others {
            eprintln!("session: {}", shown(participant, &state.store));
        }
    }
}

/// How a participant is shown, in words: "jonas (headset, 2 hands) selected line1-tank1,
/// pointing at line1-tank1".
pub fn shown(participant: &Participant, store: &twinscope_core::twin::TwinStore) -> String {
    let device = match participant.device {
        twinscope_core::session::Device::Desktop => "desktop",
        twinscope_core::session::Device::Headset => "headset",
    };
    let selected = participant
        .selected
        .as_ref()
        .map_or("nothing", |(id, _)| id.as_str());
    let pointing = match &participant.pointer {
        Some((Some(twin), _)) => store.get(*twin).id.as_str().to_owned(),
        Some((None, _)) => "no part".to_owned(),
        None => "nothing".to_owned(),
    };
    format!(
        "{} ({device}, {} hands) selected {selected}, pointing at {pointing}",
        participant.user,
        participant.hands.len()
    )
}
