//! The headset in a shared session: its head (between the eyes), both hands' aim poses and
//! what a hand's ray rests on, told to the others in plant coordinates, so a desktop sees
//! the engineer standing in the plant and pointing at the part, whatever the headset did to
//! the plant (walkthrough or tabletop).

use std::time::{Duration, Instant};

use bevy::camera::primitives::Aabb;
use bevy::prelude::*;
use bevy_mod_xr::camera::XrCamera;
use twinscope_core::session::{Pointer, Pose};

use super::controllers::{AimPose, Hand, XrPointing};
use crate::scene::binding::{TwinMeshes, meshes_of_twin, world_bounds};
use crate::session::{PlantFrame, SessionSystems, SharedSession, placement};
use crate::store::sync::{TwinEntities, TwinState};

/// Sends the headset's pose to the session.
pub struct XrSessionPosePlugin;

impl Plugin for XrSessionPosePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(
            Update,
            tell_where_the_headset_is
                .in_set(SessionSystems::Tell)
                .after(super::XrSystems::Show),
        )
        .add_systems(Update, answer_gatherings.in_set(super::XrSystems::Input));
    }
}

/// A pose that did not change is sent again this often.
const STILL_POSE_EVERY: Duration = Duration::from_secs(1);

#[allow(clippy::too_many_arguments)]
fn tell_where_the_headset_is(
    session: Option<Res<SharedSession>>,
    eyes: Query<&GlobalTransform, With<XrCamera>>,
    aims: Query<(&AimPose, &GlobalTransform)>,
    pointing: Option<Res<XrPointing>>,
    frame: PlantFrame,
    state: Res<TwinState>,
    (entities, twin_meshes, boxes): (
        Res<TwinEntities>,
        Query<&TwinMeshes>,
        Query<(&Aabb, &GlobalTransform)>,
    ),
    mut last: Local<Option<(Pose, Instant)>>,
) {
    let Some(session) = session else { return };
    let eyes: Vec<&GlobalTransform> = eyes.iter().collect();
    let Some(first) = eyes.first() else { return };
    let between = eyes.iter().map(|e| e.translation()).sum::<Vec3>() / eyes.len() as f32;
    let head = frame.to_plant(&GlobalTransform::from(
        first.compute_transform().with_translation(between),
    ));
    let mut hands: Vec<(Hand, Transform)> = aims
        .iter()
        .map(|(aim, pose)| (aim.0, frame.to_plant(pose)))
        .collect();
    hands.sort_by_key(|(hand, _)| *hand == Hand::Right);
    // The right hand's target if it has one, else the left's; the point is the part's middle.
    let pointer = pointing
        .and_then(|p| p.twin[1].or(p.twin[0]))
        .filter(|t| (t.0 as usize) < state.store.len())
        .and_then(|twin| {
            let (min, max) = world_bounds(meshes_of_twin(&entities, &twin_meshes, twin), &boxes)?;
            Some(Pointer {
                twin: Some(state.store.get(twin).id.to_string()),
                at: frame.point_to_plant((min + max) / 2.0).to_array(),
            })
        });
    let pose = Pose {
        head: placement(&head),
        hands: hands.iter().map(|(_, t)| placement(t)).collect(),
        pointer,
        fov: None,
        instance: None,
    };
    let due = last
        .as_ref()
        .is_none_or(|(sent, when)| *sent != pose || when.elapsed() >= STILL_POSE_EVERY);
    if due {
        session.0.send_pose(pose.clone());
        *last = Some((pose, Instant::now()));
    }
}

/// The host's "bring everyone here" in the headset: stand in front of the part the host
/// looks at (or on the floor where the host stands), facing it, with it selected.
fn answer_gatherings(
    participants: Res<crate::session::Participants>,
    mut answered: Local<u64>,
    mut moves: MessageWriter<super::XrMove>,
    mut select: MessageWriter<crate::scene::selection::SelectTwin>,
) {
    let Some(gathering) = &participants.gathering else {
        return;
    };
    if gathering.number <= *answered {
        return;
    }
    *answered = gathering.number;
    match gathering.twin {
        Some(twin) => {
            select.write(crate::scene::selection::SelectTwin(Some(twin)));
            moves.write(super::XrMove::ToTwin(twin));
        }
        None => {
            moves.write(super::XrMove::Teleport(Vec3::new(
                gathering.head.translation.x,
                0.0,
                gathering.head.translation.z,
            )));
        }
    }
    info!("{} brought everyone to where they stand", gathering.host);
}
