//! What we tell the session: where our camera is and how wide it sees, what the mouse rests
//! on (the twin and the point), what we have selected and whose timeline we are on. Poses go
//! out when they change (and once a second while still, so others know we are there), at
//! most 20 times a second; the link drops the stale ones.

use std::time::{Duration, Instant};

use bevy::picking::hover::HoverMap;
use bevy::picking::pointer::PointerId;
use bevy::prelude::*;
use twinscope_core::session::{Pointer, Pose, Timeline};
use twinscope_core::twin::TwinIndex;

use super::SharedSession;
use crate::history::replay::ReplaySession;
use crate::scene::binding::BoundTwin;
use crate::scene::camera::OrbitCamera;
use crate::scene::selection::{Selection, bound_twin_of};
use crate::store::sync::{LiveStash, TwinState};

/// A still pose is sent again this often.
const STILL_POSE_EVERY: Duration = Duration::from_secs(1);

#[allow(clippy::too_many_arguments)]
pub fn tell_where_we_are(
    session: Option<Res<SharedSession>>,
    cameras: Query<(&Transform, &Projection), With<OrbitCamera>>,
    selection: Res<Selection>,
    state: Res<TwinState>,
    (replay, stash): (Option<Res<ReplaySession>>, Option<Res<LiveStash>>),
    hover: Option<Res<HoverMap>>,
    (parents, bound, frame): (Query<&ChildOf>, Query<&BoundTwin>, super::PlantFrame),
    (mut last, mut told): (
        Local<Option<(Pose, Instant)>>,
        Local<Option<(Option<TwinIndex>, Timeline)>>,
    ),
) {
    let Some(session) = session else { return };
    let selected = selection
        .twin
        .filter(|t| (t.0 as usize) < state.store.len());
    let timeline = match (replay.is_some(), stash.is_some_and(|s| s.0.is_some())) {
        (false, _) => Timeline::Live,
        (true, true) => Timeline::LookingBack,
        (true, false) => Timeline::Replay,
    };
    // The presence changes rarely: the selected twin's id is looked up only when it does.
    if *told != Some((selected, timeline)) {
        *told = Some((selected, timeline));
        let selected = selected.map(|t| state.store.get(t).id.to_string());
        session.0.update_presence(|presence| {
            presence.selected = selected;
            presence.timeline = timeline;
        });
    }
    let Ok((camera, projection)) = cameras.single() else {
        return;
    };
    // The camera's transform as this frame's orbit left it (its global one follows only
    // after this frame's propagation); the camera has no parent.
    let head = frame.to_plant(&GlobalTransform::from(*camera));
    let fov = match projection {
        Projection::Perspective(perspective) => Some(perspective.fov),
        _ => None,
    };
    let pointer = hover
        .as_ref()
        .and_then(|hover| hover.get(&PointerId::Mouse))
        .and_then(|hits| {
            let (entity, hit) = hits.iter().min_by(|a, b| a.1.depth.total_cmp(&b.1.depth))?;
            let twin = bound_twin_of(*entity, &parents, &bound)
                .filter(|t| (t.0 as usize) < state.store.len());
            Some(Pointer {
                twin: twin.map(|t| state.store.get(t).id.to_string()),
                at: frame.point_to_plant(hit.position?).to_array(),
            })
        });
    let pose = Pose {
        head: super::placement(&head),
        hands: Vec::new(),
        pointer,
        fov,
        instance: None,
    };
    let due = match &*last {
        Some((sent, when)) => *sent != pose || when.elapsed() >= STILL_POSE_EVERY,
        None => true,
    };
    if due {
        session.0.send_pose(pose.clone());
        *last = Some((pose, Instant::now()));
    }
}
