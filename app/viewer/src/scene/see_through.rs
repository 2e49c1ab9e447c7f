//! Parts in front of the selection turn to glass, so a selected part deep inside a plant is
//! seen wherever the camera is (the x-ray look, for just what is in the way).
//!
//! A part is in the way when its box crosses a line of sight from the camera to the selected
//! twin's geometry (its centre and eight points inside its box). Computed when the camera or
//! the selection moves, not every frame; the looks change in [`crate::scene::visuals`].

use std::collections::HashSet;

use bevy::camera::primitives::Aabb;
use bevy::prelude::*;
use twinscope_core::twin::TwinIndex;

use crate::scene::binding::{TwinMeshes, box_corners, world_bounds, world_box};
use crate::scene::camera::{OrbitCamera, subtree_meshes};
use crate::scene::focus::FocusMode;
use crate::scene::selection::Selection;
use crate::store::sync::{TwinEntities, TwinState};

/// Mesh entities between the desktop camera and the selected twin.
#[derive(Resource, Debug, Default, PartialEq)]
pub struct Occluders(pub HashSet<Entity>);

/// Where the camera and selection were when [`Occluders`] was last computed.
#[derive(Default)]
pub(crate) struct LastView {
    camera: Option<Vec3>,
    selection: Option<TwinIndex>,
}

/// Lines of sight end this far inside the selection's box (a line to its very corner would
/// graze the floor it stands on).
const INSIDE: f32 = 0.6;

#[allow(clippy::too_many_arguments)]
pub(crate) fn find_occluders(
    cameras: Query<&GlobalTransform, With<OrbitCamera>>,
    selection: Res<Selection>,
    mode: Res<FocusMode>,
    state: Res<TwinState>,
    entities: Res<TwinEntities>,
    twin_meshes: Query<&TwinMeshes>,
    boxes: Query<(Entity, &Aabb, &GlobalTransform), With<Mesh3d>>,
    bounds: Query<(&Aabb, &GlobalTransform)>,
    mut occluders: ResMut<Occluders>,
    mut last: Local<LastView>,
) {
    let camera = cameras.single().ok().map(|t| t.translation());
    let selected = selection.twin.filter(|_| *mode == FocusMode::Normal);
    // Nothing per frame while the view stands still (new parts bind: the entities change).
    let view = (camera.map(|c| (c * 1000.0).round()), selected);
    if (last.camera.map(|c| (c * 1000.0).round()), last.selection) == view && !entities.is_changed()
    {
        return;
    }
    *last = LastView {
        camera,
        selection: selected,
    };
    let found = match (camera, selected) {
        (Some(eye), Some(twin)) => {
            let selected = subtree_meshes(&state, &entities, &twin_meshes, twin);
            match world_bounds(selected.iter().copied(), &bounds) {
                Some(selection_box) => in_the_way(eye, &selected, selection_box, &boxes),
                None => HashSet::new(),
            }
        }
        _ => HashSet::new(),
    };
    if occluders.0 != found {
        occluders.0 = found;
    }
}

/// The meshes (other than the selection's) whose boxes cross a line from `eye` into the
/// selection's box.
fn in_the_way(
    eye: Vec3,
    selected: &[Entity],
    (min, max): (Vec3, Vec3),
    boxes: &Query<(Entity, &Aabb, &GlobalTransform), With<Mesh3d>>,
) -> HashSet<Entity> {
    let selected: HashSet<Entity> = selected.iter().copied().collect();
    let (centre, half) = ((min + max) / 2.0, (max - min) / 2.0 * INSIDE);
    let targets: Vec<Vec3> = std::iter::once(centre)
        .chain(box_corners(centre, half))
        .collect();
    boxes
        .iter()
        .filter(|(entity, _, _)| !selected.contains(entity))
        .filter(|(_, aabb, transform)| {
            let (box_min, box_max) = world_box(aabb, transform);
            targets
                .iter()
                .any(|target| segment_hits_box(eye, *target, box_min, box_max))
        })
        .map(|(entity, _, _)| entity)
        .collect()
}

/// Whether the segment from `from` to `to` passes through the box (the slab test).
fn segment_hits_box(from: Vec3, to: Vec3, min: Vec3, max: Vec3) -> bool {
    let direction = to - from;
    let (mut enter, mut exit) = (0.0f32, 1.0f32);
    for axis in 0..3 {
        let (start, step) = (from[axis], direction[axis]);
        if step.abs() < f32::EPSILON {
            if start < min[axis] || start > max[axis] {
                return false;
            }
            continue;
        }
        let (a, b) = ((min[axis] - start) / step, (max[axis] - start) / step);
        enter = enter.max(a.min(b));
        exit = exit.min(a.max(b));
        if enter > exit {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_between_the_eye_and_the_target_is_in_the_way() {
        let (min, max) = (Vec3::new(-1.0, -1.0, 4.0), Vec3::new(1.0, 1.0, 5.0));
        assert!(segment_hits_box(
            Vec3::ZERO,
            Vec3::new(0.0, 0.0, 10.0),
            min,
            max
        ));
        assert!(
            !segment_hits_box(Vec3::ZERO, Vec3::new(0.0, 0.0, 3.0), min, max),
            "the target is in front of the box"
        );
        assert!(
            !segment_hits_box(Vec3::ZERO, Vec3::new(5.0, 0.0, 10.0), min, max),
            "the line passes beside it"
        );
        assert!(
            segment_hits_box(
                Vec3::new(0.0, 0.0, 4.5),
                Vec3::new(0.0, 0.0, 10.0),
                min,
                max
            ),
            "the eye inside a shell"
        );
    }
}
