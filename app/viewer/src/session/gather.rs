//! "Bring everyone here": the session's host sends where it stands and what it looks at;
//! every other desktop flies there (over the host's shoulder, with the host's selection) and
//! every headset stands in front of that part (xr/session_pose.rs). Only the host's
//! gatherings are heard (the roster drops anyone else's), at most one a second.

use bevy::prelude::*;
use twinscope_core::session::Gather;

use super::{Participants, PlantFrame, SessionCommand, SharedSession};
use crate::scene::camera::OrbitCamera;
use crate::scene::selection::{SelectTwin, Selection};
use crate::store::sync::TwinState;

/// The panel's "Bring everyone here" (the host's): our camera and selection, to everyone.
pub fn gather_everyone_here(
    mut commands: MessageReader<SessionCommand>,
    session: Option<Res<SharedSession>>,
    cameras: Query<&Transform, With<OrbitCamera>>,
    selection: Res<Selection>,
    state: Res<TwinState>,
    frame: PlantFrame,
) {
    for command in commands.read() {
        let (SessionCommand::GatherHere, Some(session)) = (command, session.as_ref()) else {
            continue;
        };
        let Ok(camera) = cameras.single() else {
            continue;
        };
        let head = frame.to_plant(&GlobalTransform::from(*camera));
        let twin = selection
            .twin
            .filter(|t| (t.0 as usize) < state.store.len())
            .map(|t| state.store.get(t).id.to_string());
        session.0.gather(Gather {
            head: super::placement(&head),
            twin,
        });
        info!("bringing everyone here");
    }
}

/// A desktop answers the host's gathering: the camera over the host's shoulder, the host's
/// selection selected.
pub fn answer_gatherings(
    participants: Res<Participants>,
    mut answered: Local<u64>,
    mut select: MessageWriter<SelectTwin>,
    mut cameras: Query<&mut OrbitCamera>,
) {
    let Some(gathering) = &participants.gathering else {
        return;
    };
    if gathering.number <= *answered {
        return;
    }
    *answered = gathering.number;
    if let Some(twin) = gathering.twin {
        select.write(SelectTwin(Some(twin)));
    }
    for mut camera in &mut cameras {
        super::hear::look_from(&mut camera, gathering.head);
        camera.placed = true;
    }
    info!("{} brought everyone to where they stand", gathering.host);
}
