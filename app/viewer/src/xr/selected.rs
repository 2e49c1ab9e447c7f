//! The selected part as the headset's guide and label see it: which twin, where its meshes
//! are in the world, and where the user's eye is.

use bevy::camera::primitives::Aabb;
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_mod_xr::camera::XrCamera;
use twinscope_core::twin::TwinIndex;

use crate::scene::binding::{TwinMeshes, meshes_of_twin, world_bounds};
use crate::scene::selection::Selection;
use crate::store::sync::{TwinEntities, TwinState};

#[derive(SystemParam)]
pub(super) struct SelectedPart<'w, 's> {
    selection: Res<'w, Selection>,
    pub state: Res<'w, TwinState>,
    entities: Res<'w, TwinEntities>,
    twin_meshes: Query<'w, 's, &'static TwinMeshes>,
    boxes: Query<'w, 's, (&'static Aabb, &'static GlobalTransform)>,
    eyes: Query<'w, 's, &'static GlobalTransform, With<XrCamera>>,
}

impl SelectedPart<'_, '_> {
    /// The selected twin, if it is in the store.
    pub fn twin(&self) -> Option<TwinIndex> {
        self.selection
            .twin
            .filter(|t| (t.0 as usize) < self.state.store.len())
    }

    /// The world bounds of the selected twin's meshes.
    pub fn bounds(&self) -> Option<(Vec3, Vec3)> {
        self.twin().and_then(|t| {
            world_bounds(
                meshes_of_twin(&self.entities, &self.twin_meshes, t),
                &self.boxes,
            )
        })
    }

    /// Where the (first) eye is.
    pub fn eye(&self) -> Option<Vec3> {
        self.eyes.iter().next().map(GlobalTransform::translation)
    }
}
