//! Where the plant stands in the headset: walkthrough scale (1:1), its floor on the user's
//! floor, centred across the user's view, its near edge a step in front of the user (who
//! faces −Z when a session starts), lit as on the desktop. With [`StartAt`] (`--start-at`)
//! the user starts in front of one twin instead, facing it.

use bevy::camera::primitives::Aabb;
use bevy::prelude::*;

use bevy_mod_xr::session::XrTrackingRoot;

use crate::scene::binding::{SceneModelRoot, TwinMeshes, meshes_of_twin, world_bounds};
use crate::store::sync::{TwinEntities, TwinState};

/// Places the plant for a walkthrough and lights it.
pub struct XrStagePlugin;

impl Plugin for XrStagePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, light_the_stage)
            .add_systems(Update, place_the_plant);
    }
}

/// How far in front of the user the plant's near edge stands, in metres.
pub const STEP_AHEAD: f32 = 1.0;

/// Start the walkthrough in front of this twin (by id), facing it.
#[derive(Resource, Debug, Clone)]
pub struct StartAt(pub String);

/// Where the stage put the plant for the walkthrough: the model root's transform and the
/// plant's bounds there (the tabletop view starts from these).
#[derive(Resource, Debug, Clone, Copy)]
pub struct PlantPlacement {
    pub walkthrough: Transform,
    pub min: Vec3,
    pub max: Vec3,
}

/// The plant has been placed (once its meshes have bounds).
#[derive(Component)]
struct Placed;

fn light_the_stage(mut commands: Commands) {
    crate::scene::camera::light_the_plant(&mut commands);
}

/// The model's root while it waits to be placed (not the tracking root, also moved here).
type UnplacedModel = (
    With<SceneModelRoot>,
    Without<Placed>,
    Without<XrTrackingRoot>,
);

#[allow(clippy::too_many_arguments)]
fn place_the_plant(
    mut commands: Commands,
    mut roots: Query<(Entity, &mut Transform), UnplacedModel>,
    mut tracking_root: Query<&mut Transform, With<XrTrackingRoot>>,
    children: Query<&Children>,
    meshes: Query<(), With<Mesh3d>>,
    boxes: Query<(&Aabb, &GlobalTransform)>,
    start_at: Option<Res<StartAt>>,
    (state, entities, twin_meshes): (Res<TwinState>, Res<TwinEntities>, Query<&TwinMeshes>),
) {
    for (root, mut transform) in &mut roots {
        // Wait until the model is spawned and every mesh has its bounds.
        let parts: Vec<Entity> = children
            .iter_descendants(root)
            .filter(|e| meshes.contains(*e))
            .collect();
        if parts.is_empty() || parts.iter().any(|e| !boxes.contains(*e)) {
            continue;
        }
        let Some((min, max)) = world_bounds(parts, &boxes) else {
            continue;
        };
        // The twin to start at, once it is bound (its bounds before the plant moves).
        let start = match start_at.as_deref() {
            None => None,
            Some(StartAt(id)) => {
                let Some(index) = state.store.find(id) else {
                    continue;
                };
                let Some(bounds) =
                    world_bounds(meshes_of_twin(&entities, &twin_meshes, index), &boxes)
                else {
                    continue;
                };
                Some((id.clone(), bounds))
            }
        };
        let centre_x = (min.x + max.x) / 2.0;
        let offset = Vec3::new(-centre_x, -min.y, -STEP_AHEAD - max.z);
        transform.translation += offset;
        commands.entity(root).insert(Placed);
        commands.insert_resource(PlantPlacement {
            walkthrough: *transform,
            min: min + offset,
            max: max + offset,
        });
        info!(
            "the plant stands {STEP_AHEAD} m ahead, {:.0} m wide and {:.0} m deep",
            max.x - min.x,
            max.z - min.z
        );
        if let Some((id, (part_min, part_max))) = start
            && let Ok(mut user) = tracking_root.single_mut()
        {
            *user = super::locomotion::spot_in_front_of(part_min + offset, part_max + offset);
            info!("starting the walkthrough in front of {id}");
        }
    }
}
