//! Where the plant stands in the headset: walkthrough scale (1:1), its floor on the user's
//! floor, centred across the user's view, its near edge a step in front of the user (who
//! faces −Z when a session starts), lit as on the desktop.

use bevy::camera::primitives::Aabb;
use bevy::prelude::*;

use crate::scene::{SceneModelRoot, world_bounds};

/// Places the plant for a walkthrough and lights it.
pub struct XrStagePlugin;

impl Plugin for XrStagePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, light_the_stage).add_systems(Update, place_the_plant);
    }
}

/// How far in front of the user the plant's near edge stands, in metres.
pub const STEP_AHEAD: f32 = 1.0;

/// The plant has been placed (once its meshes have bounds).
#[derive(Component)]
struct Placed;

fn light_the_stage(mut commands: Commands) {
    crate::camera::light_the_plant(&mut commands);
}

fn place_the_plant(
    mut commands: Commands,
    mut roots: Query<(Entity, &mut Transform), (With<SceneModelRoot>, Without<Placed>)>,
    children: Query<&Children>,
    meshes: Query<(), With<Mesh3d>>,
    boxes: Query<(&Aabb, &GlobalTransform)>,
) {
    for (root, mut transform) in &mut roots {
        // Wait until the model is spawned and every mesh has its bounds.
        let parts: Vec<Entity> = children.iter_descendants(root).filter(|e| meshes.contains(*e)).collect();
        if parts.is_empty() || parts.iter().any(|e| !boxes.contains(*e)) {
            continue;
        }
        let Some((min, max)) = world_bounds(parts, &boxes) else { continue };
        let centre_x = (min.x + max.x) / 2.0;
        transform.translation += Vec3::new(-centre_x, -min.y, -STEP_AHEAD - max.z);
        commands.entity(root).insert(Placed);
        info!("the plant stands {STEP_AHEAD} m ahead, {:.0} m wide and {:.0} m deep", max.x - min.x, max.z - min.z);
    }
}
