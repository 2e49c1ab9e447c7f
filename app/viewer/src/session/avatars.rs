//! The others in the plant, drawn with gizmos in their colour: a headset user's head (a
//! sphere with a visor line) and hands, with the aim ray from the hand to what it points at;
//! a desktop user's camera as a small frustum; everyone's pointer as a dot with a line to it,
//! and everyone's selection outlined. Markers grow with their distance from our camera, so
//! they read at a hall's scale as at a part's.

use bevy::camera::primitives::Aabb;
use bevy::prelude::*;
use twinscope_core::session::Device;

use super::{NameTagsIn3d, Participants};
use crate::scene::binding::{TwinMeshes, meshes_of_twin, world_bounds};
use crate::store::sync::TwinEntities;

/// A marker's size in the plant, in plant metres (a head's sphere is half of it).
const MARKER: f32 = 0.4;

/// The least a marker spans as seen from our eye, in radians (about 2.3°, 26 px of a
/// 1024 px, 90° eye image): far ones, and ones on a plant shrunk onto a table, grow to it.
const MARKER_ANGLE: f32 = 0.04;

/// A name tag's letter height as seen from our eye, in radians (about 1.7°, 19 px of that
/// image): readable at any distance, never a wall of letters up close.
const TAG_ANGLE: f32 = 0.03;

/// A marker's size in the world: its size in the plant (`plant_scale`: 1 at walkthrough
/// scale, about 1:30 on a table), but never under [`MARKER_ANGLE`] seen from `distance`.
pub fn marker_size(plant_scale: f32, distance: f32) -> f32 {
    (MARKER * plant_scale).max(distance * MARKER_ANGLE)
}

#[allow(clippy::too_many_arguments)]
pub fn draw_participants(
    participants: Res<Participants>,
    mut gizmos: Gizmos,
    our_eye: Query<&GlobalTransform, With<Camera3d>>,
    entities: Option<Res<TwinEntities>>,
    twin_meshes: Query<&TwinMeshes>,
    boxes: Query<(&Aabb, &GlobalTransform)>,
    tags_in_3d: Option<Res<NameTagsIn3d>>,
    frame: super::PlantFrame,
) {
    let tags_in_3d = tags_in_3d.is_some_and(|t| t.0);
    if participants.others.is_empty() {
        return;
    }
    let eye = our_eye
        .iter()
        .next()
        .map_or(Vec3::ZERO, GlobalTransform::translation);
    let plant_scale = frame.frame().compute_transform().scale.x;
    let scale_at = |at: Vec3| marker_size(plant_scale, eye.distance(at));
    for participant in &participants.others {
        let colour = participant.colour;
        if let (Some(entities), Some((_, Some(twin)))) = (&entities, &participant.selected)
            && let Some((min, max)) =
                world_bounds(meshes_of_twin(entities, &twin_meshes, *twin), &boxes)
        {
            let pad = (max - min).length() * 0.04 + 0.02;
            let size = max - min + Vec3::splat(2.0 * pad);
            gizmos.cube(
                Transform::from_translation((min + max) / 2.0).with_scale(size),
                colour,
            );
        }
        let Some(head) = participant.head else {
            continue;
        };
        let size = scale_at(head.translation);
        if tags_in_3d {
            // Over the head, turned to face us about the vertical.
            let letters = eye.distance(head.translation) * TAG_ANGLE;
            let at = head.translation + Vec3::Y * (size * 0.6 + letters);
            let towards = Vec3::new(eye.x - at.x, 0.0, eye.z - at.z)
                .try_normalize()
                .unwrap_or(Vec3::Z);
            let facing = Quat::from_rotation_arc(Vec3::Z, towards);
            gizmos.text(
                Isometry3d::new(at, facing),
                &ascii(&participant.user),
                letters,
                Vec2::ZERO,
                colour,
            );
        }
        let pointer_from = match participant.device {
            Device::Headset => {
                gizmos.sphere(
                    Isometry3d::new(head.translation, head.rotation),
                    size * 0.5,
                    colour,
                );
                gizmos.line(
                    head.translation,
                    head.translation + head.forward() * size,
                    colour,
                );
                for hand in &participant.hands {
                    gizmos.sphere(
                        Isometry3d::new(hand.translation, hand.rotation),
                        size * 0.2,
                        colour,
                    );
                }
                participant
                    .hands
                    .last()
                    .map_or(head.translation, |hand| hand.translation)
            }
            Device::Desktop => {
                draw_frustum(
                    &mut gizmos,
                    head,
                    participant.fov.unwrap_or(0.8),
                    size * 3.0,
                    colour,
                );
                head.translation
            }
        };
        if let Some((_, at)) = participant.pointer {
            gizmos.line(pointer_from, at, colour);
            gizmos.sphere(
                Isometry3d::from_translation(at),
                scale_at(at) * 0.25,
                colour,
            );
        }
    }
}

/// A camera's view as a pyramid `length` long, its apex at the camera.
fn draw_frustum(gizmos: &mut Gizmos, camera: Transform, fov: f32, length: f32, colour: Color) {
    let half_height = (fov / 2.0).tan() * length;
    let half_width = half_height * 16.0 / 9.0;
    let corner = |x: f32, y: f32| {
        camera.transform_point(Vec3::new(x * half_width, y * half_height, -length))
    };
    let corners = [
        corner(-1.0, -1.0),
        corner(1.0, -1.0),
        corner(1.0, 1.0),
        corner(-1.0, 1.0),
    ];
    for (k, &c) in corners.iter().enumerate() {
        gizmos.line(camera.translation, c, colour);
        gizmos.line(c, corners[(k + 1) % 4], colour);
    }
    gizmos.sphere(
        Isometry3d::from_translation(camera.translation),
        length * 0.08,
        colour,
    );
}

/// The stroke font draws ASCII only: other letters become '?'.
fn ascii(text: &str) -> String {
    text.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_keep_their_size_near_by_and_grow_far_away_or_on_a_table() {
        assert_eq!(
            marker_size(1.0, 3.0),
            MARKER,
            "near, at walkthrough scale: a head's size"
        );
        assert!(
            (marker_size(1.0, 50.0) - 2.0).abs() < 1e-4,
            "50 m away: 2.3° wide"
        );
        // On a 1:30 table 0.7 m away: not 1.3 cm (the plant's scale) but 2.8 cm.
        assert!((marker_size(1.0 / 30.0, 0.7) - 0.028).abs() < 1e-4);
    }
}
