//! Status visuals: bound parts are tinted by their twin's status within the frame the status
//! changes; the selected twin gets an outline.
//!
//! Materials are shared per status (a handful of handles for the whole plant), so ten
//! thousand parts in alarm still draw in a few batches.

use std::collections::HashMap;

use bevy::camera::primitives::Aabb;
use bevy::prelude::*;
use twinscope_core::rules::Rgba;
use twinscope_core::twin::Status;

use crate::scene::{BoundTwin, TwinMeshes, world_bounds};
use crate::selection::Selection;
use crate::sync::{TwinEntities, TwinVisualState};
use crate::{TwinscopeSystems, configure_twinscope_sets};

/// Restyles bound parts when their status changes and outlines the selection.
pub struct StatusVisualsPlugin;

impl Plugin for StatusVisualsPlugin {
    fn build(&self, app: &mut App) {
        configure_twinscope_sets(app);
        app.add_systems(Startup, create_status_palette)
            .add_systems(Update, (restyle_twin_meshes, outline_selected_twin).in_set(TwinscopeSystems::Visuals));
    }
}

/// The colours an operator learns: amber warning, red alarm, grey-blue stale.
pub mod colors {
    use bevy::prelude::Color;
    pub const WARNING: Color = Color::srgb(0.95, 0.62, 0.07);
    pub const ALARM: Color = Color::srgb(0.86, 0.08, 0.08);
    pub const STALE: Color = Color::srgb(0.42, 0.46, 0.55);
    pub const SELECTION: Color = Color::srgb(0.2, 0.85, 1.0);
}

/// Shared materials per status, and per custom rule colour.
#[derive(Resource)]
pub struct StatusPalette {
    warning: Handle<StandardMaterial>,
    alarm: Handle<StandardMaterial>,
    stale: Handle<StandardMaterial>,
    custom: HashMap<Rgba, Handle<StandardMaterial>>,
}

/// The material a mesh had in the model, restored when its twin is back to normal.
#[derive(Component)]
pub struct OriginalMaterial(pub Handle<StandardMaterial>);

fn status_material(color: Color, emissive: f32) -> StandardMaterial {
    StandardMaterial {
        base_color: color,
        emissive: color.to_linear() * emissive,
        perceptual_roughness: 0.6,
        ..default()
    }
}

fn create_status_palette(mut commands: Commands, mut materials: ResMut<Assets<StandardMaterial>>) {
    commands.insert_resource(StatusPalette {
        warning: materials.add(status_material(colors::WARNING, 0.35)),
        alarm: materials.add(status_material(colors::ALARM, 0.6)),
        stale: materials.add(status_material(colors::STALE, 0.0)),
        custom: HashMap::new(),
    });
}

#[allow(clippy::type_complexity)]
fn restyle_twin_meshes(
    mut commands: Commands,
    twins: Query<(&TwinVisualState, &TwinMeshes), Or<(Changed<TwinVisualState>, Added<TwinMeshes>)>>,
    mut meshes: Query<(&mut MeshMaterial3d<StandardMaterial>, Option<&OriginalMaterial>)>,
    mut palette: ResMut<StatusPalette>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    for (visual, twin_meshes) in &twins {
        let custom = visual.color.map(|rgba| {
            palette
                .custom
                .entry(rgba)
                .or_insert_with(|| {
                    let [r, g, b, a] = rgba.0;
                    materials.add(status_material(Color::srgba_u8(r, g, b, a), 0.3))
                })
                .clone()
        });
        for entity in &twin_meshes.0 {
            let Ok((mut material, original)) = meshes.get_mut(*entity) else { continue };
            let original = match original {
                Some(original) => original.0.clone(),
                None => {
                    commands.entity(*entity).insert(OriginalMaterial(material.0.clone()));
                    material.0.clone()
                }
            };
            let wanted = match (visual.status, &custom) {
                (Status::Stale, _) => palette.stale.clone(),
                (_, Some(custom)) => custom.clone(),
                (Status::Alarm, None) => palette.alarm.clone(),
                (Status::Warning, None) => palette.warning.clone(),
                (Status::Ok | Status::Unknown, None) => original,
            };
            if material.0 != wanted {
                material.0 = wanted;
            }
        }
    }
}

fn outline_selected_twin(
    selection: Res<Selection>,
    entities: Res<TwinEntities>,
    twins: Query<&TwinMeshes, With<BoundTwin>>,
    boxes: Query<(&Aabb, &GlobalTransform)>,
    mut gizmos: Gizmos,
) {
    let Some(selected) = selection.twin else { return };
    let Some(bound) = entities.by_twin.get(&selected) else { return };
    let meshes = bound.iter().filter_map(|e| twins.get(*e).ok()).flat_map(|m| m.0.iter().copied());
    if let Some((min, max)) = world_bounds(meshes, &boxes) {
        let size = (max - min) * 1.04 + Vec3::splat(0.02);
        gizmos.cube(Transform::from_translation((min + max) / 2.0).with_scale(size), colors::SELECTION);
    }
}
