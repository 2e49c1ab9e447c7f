//! Moving the user through the plant: the tracking space's origin (the user's spot on the
//! floor) is moved by moving bevy_mod_xr's tracking root, so the plant itself never moves
//! under the user's feet. [`XrMove`] commands come from the controllers.

use bevy::camera::primitives::Aabb;
use bevy::prelude::*;
use bevy_mod_xr::session::XrTrackingRoot;
use twinscope_core::twin::TwinIndex;

use crate::scene::binding::{TwinMeshes, meshes_of_twin, world_bounds};
use crate::scene::selection::SelectTwin;
use crate::store::sync::{TwinEntities, TwinState};

/// A request to move the user.
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub enum XrMove {
    /// Stand on this spot of the floor (keeping the direction faced).
    Teleport(Vec3),
    /// Turn on the spot by this angle (radians, counter-clockwise seen from above).
    Turn(f32),
    /// Stand in front of this twin, facing it.
    ToTwin(TwinIndex),
    /// Stand in front of the first part in the alarm list (unacknowledged and worst first),
    /// facing it, and select it.
    ToAlarm,
}

/// How far from a twin's near side the user stands, in metres.
pub const STAND_OFF: f32 = 1.5;

/// Where the user stands to face a part with these bounds: on the floor, centred on it,
/// [`STAND_OFF`] beyond its +Z side, facing −Z.
pub fn spot_in_front_of(min: Vec3, max: Vec3) -> Transform {
    Transform::from_xyz((min.x + max.x) / 2.0, 0.0, max.z + STAND_OFF)
}

/// Applies [`XrMove`]s to the tracking root.
pub struct XrLocomotionPlugin;

impl Plugin for XrLocomotionPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<XrMove>()
            .add_systems(Update, apply_moves.in_set(super::XrSystems::Move));
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn apply_moves(
    mut moves: MessageReader<XrMove>,
    mode: Res<super::XrViewMode>,
    mut root: Query<&mut Transform, With<XrTrackingRoot>>,
    state: Res<TwinState>,
    entities: Res<TwinEntities>,
    twin_meshes: Query<&TwinMeshes>,
    boxes: Query<(&Aabb, &GlobalTransform)>,
    mut select: MessageWriter<SelectTwin>,
) {
    let Ok(mut user) = root.single_mut() else {
        moves.clear();
        return;
    };
    for request in moves.read() {
        let twin = match *request {
            // On the table the plant moves, not the user; going to a part is selecting it.
            XrMove::Teleport(_) | XrMove::Turn(_) | XrMove::ToTwin(_)
                if *mode == super::XrViewMode::Tabletop =>
            {
                continue;
            }
            XrMove::Teleport(spot) => {
                user.translation = Vec3::new(spot.x, 0.0, spot.z);
                continue;
            }
            XrMove::Turn(angle) => {
                user.rotate_y(angle);
                continue;
            }
            XrMove::ToTwin(twin) => twin,
            XrMove::ToAlarm => {
                let book = state.store.alarm_book();
                let first = book
                    .sorted()
                    .into_iter()
                    .map(|i| &book.alarms()[i])
                    .find(|a| a.state.is_active() && !a.is_shelved());
                let Some(alarm) = first else {
                    info!("no part is in alarm");
                    continue;
                };
                select.write(SelectTwin(Some(alarm.twin)));
                if *mode == super::XrViewMode::Tabletop {
                    info!("selected {} on the table", state.store.get(alarm.twin).id);
                    continue;
                }
                alarm.twin
            }
        };
        match world_bounds(meshes_of_twin(&entities, &twin_meshes, twin), &boxes) {
            Some((min, max)) => {
                *user = spot_in_front_of(min, max);
                info!("standing in front of {}", state.store.get(twin).id);
            }
            None => info!(
                "{} has no geometry to stand in front of",
                state.store.get(twin).id
            ),
        }
    }
}
