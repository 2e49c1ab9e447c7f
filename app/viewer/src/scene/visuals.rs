//! Status visuals: every mesh of a bound part gets the look its twin's state calls for,
//! within the frame that state changes, and the selected twin gets an outline.
//!
//! | twin state                         | look                                              |
//! |------------------------------------|---------------------------------------------------|
//! | unacknowledged alarm               | severity colour, pulsing, bright rim (WGSL)       |
//! | acknowledged alarm                 | severity colour, steady (WGSL)                    |
//! | stale / comms lost                 | grey with dark stripes (WGSL), also over an alarm |
//! | visual rule warning / alarm / colour | flat status colour (standard material)          |
//! | normal                             | the model's own material                          |
//! | outside the focus in x-ray mode    | translucent glass (WGSL)                          |
//!
//! Materials are shared per look (a few dozen handles for the whole plant), so ten thousand
//! parts in alarm still draw in a few batches.

use std::collections::{HashMap, HashSet};

use bevy::camera::primitives::Aabb;
use bevy::prelude::*;
use twinscope_core::rules::Rgba;
use twinscope_core::twin::tree::is_within;
use twinscope_core::twin::{Severity, Status, TwinIndex};

use crate::scene::binding::{BoundTwin, TwinMeshes, world_bounds};
use crate::scene::focus::FocusMode;
use crate::scene::materials::{AlarmMaterial, XRayMaterial};
use crate::scene::selection::Selection;
use crate::store::sync::{TwinEntities, TwinState, TwinVisualState};
use crate::{TwinscopeSystems, configure_twinscope_sets};

/// Restyles bound parts when their state, the selection, the focus mode or what stands in
/// front of the selection ([`crate::scene::see_through`]) changes, and
/// outlines the selection. Needs `Assets` for [`StandardMaterial`], [`AlarmMaterial`] and
/// [`XRayMaterial`] (the renderer's material plugins, or `init_asset` in headless tests).
pub struct StatusVisualsPlugin;

impl Plugin for StatusVisualsPlugin {
    fn build(&self, app: &mut App) {
        configure_twinscope_sets(app);
        app.init_resource::<crate::scene::see_through::Occluders>()
            .add_systems(Startup, create_status_palette)
            .add_systems(
                Update,
                (
                    remember_original_materials,
                    crate::scene::see_through::find_occluders,
                    restyle_meshes,
                )
                    .chain()
                    .in_set(TwinscopeSystems::Visuals),
            );
        // Gizmos need the gizmo plugin (part of the default plugins, absent headless).
        if app.is_plugin_added::<bevy::gizmos::GizmoPlugin>() {
            app.add_systems(
                Update,
                outline_selected_twin.in_set(TwinscopeSystems::Visuals),
            );
        }
    }
}

/// The colours an operator learns.
pub mod colors {
    use bevy::prelude::Color;
    use twinscope_core::twin::Severity;
    pub const WARNING: Color = Color::srgb(0.95, 0.62, 0.07);
    pub const ALARM: Color = Color::srgb(0.86, 0.08, 0.08);
    pub const STALE: Color = Color::srgb(0.42, 0.46, 0.55);
    pub const SELECTION: Color = Color::srgb(0.2, 0.85, 1.0);
    pub const XRAY: Color = Color::srgba(0.55, 0.75, 1.0, 0.06);

    /// Alarm severities, as sRGB bytes so the UI can use the same ones.
    pub fn severity_srgb(severity: Severity) -> [u8; 3] {
        match severity {
            Severity::Critical => [235, 20, 20],
            Severity::Major => [255, 110, 0],
            Severity::Minor => [255, 196, 0],
            Severity::Warning => [210, 200, 90],
        }
    }

    pub fn severity(severity: Severity) -> Color {
        let [r, g, b] = severity_srgb(severity);
        Color::srgb_u8(r, g, b)
    }
}

/// Shared materials, one per look.
#[derive(Resource)]
pub struct StatusPalette {
    warning: Handle<StandardMaterial>,
    alarm: Handle<StandardMaterial>,
    custom: HashMap<Rgba, Handle<StandardMaterial>>,
    /// By severity, pulsing, hatched.
    alarm_looks: HashMap<(Severity, bool, bool), Handle<AlarmMaterial>>,
    stale: Handle<AlarmMaterial>,
    xray: Handle<XRayMaterial>,
}

/// The material a mesh had in the model, restored when its twin is back to normal.
#[derive(Component)]
pub struct OriginalMaterial(pub Handle<StandardMaterial>);

/// What a mesh should look like.
#[derive(Debug, Clone, PartialEq)]
pub enum Look {
    Standard(Handle<StandardMaterial>),
    Alarm(Handle<AlarmMaterial>),
    XRay,
}

fn status_material(color: Color, emissive: f32) -> StandardMaterial {
    StandardMaterial {
        base_color: color,
        emissive: color.to_linear() * emissive,
        perceptual_roughness: 0.6,
        ..default()
    }
}

fn create_status_palette(
    mut commands: Commands,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut alarm_materials: ResMut<Assets<AlarmMaterial>>,
    mut xray_materials: ResMut<Assets<XRayMaterial>>,
) {
    commands.insert_resource(StatusPalette {
        warning: materials.add(status_material(colors::WARNING, 0.35)),
        alarm: materials.add(status_material(colors::ALARM, 0.6)),
        custom: HashMap::new(),
        alarm_looks: HashMap::new(),
        stale: alarm_materials.add(AlarmMaterial::new(colors::STALE, false, true)),
        xray: xray_materials.add(XRayMaterial {
            color: colors::XRAY.to_linear(),
        }),
    });
}

impl StatusPalette {
    /// The look a twin's state calls for (`original` for a normal part).
    fn look(
        &mut self,
        visual: &TwinVisualState,
        original: &Handle<StandardMaterial>,
        materials: &mut Assets<StandardMaterial>,
        alarm_materials: &mut Assets<AlarmMaterial>,
    ) -> Look {
        if let Some(severity) = visual.alarm {
            let key = (severity, visual.unacknowledged, visual.comms_lost);
            let handle = self
                .alarm_looks
                .entry(key)
                .or_insert_with(|| {
                    alarm_materials.add(AlarmMaterial::new(
                        colors::severity(severity),
                        key.1,
                        key.2,
                    ))
                })
                .clone();
            return Look::Alarm(handle);
        }
        if visual.comms_lost {
            return Look::Alarm(self.stale.clone());
        }
        if let Some(rgba) = visual.color {
            let handle = self
                .custom
                .entry(rgba)
                .or_insert_with(|| {
                    let [r, g, b, a] = rgba.0;
                    materials.add(status_material(Color::srgba_u8(r, g, b, a), 0.3))
                })
                .clone();
            return Look::Standard(handle);
        }
        Look::Standard(match visual.status {
            Status::Alarm => self.alarm.clone(),
            Status::Warning => self.warning.clone(),
            _ => original.clone(),
        })
    }
}

type NewMeshes<'w, 's> = Query<
    'w,
    's,
    (Entity, &'static MeshMaterial3d<StandardMaterial>),
    (With<Mesh3d>, Without<OriginalMaterial>),
>;

fn remember_original_materials(mut commands: Commands, meshes: NewMeshes) {
    for (entity, material) in &meshes {
        commands
            .entity(entity)
            .insert(OriginalMaterial(material.0.clone()));
    }
}

type MeshLook<'a> = (
    &'a OriginalMaterial,
    Option<&'a MeshMaterial3d<StandardMaterial>>,
    Option<&'a MeshMaterial3d<AlarmMaterial>>,
    Option<&'a MeshMaterial3d<XRayMaterial>>,
    Option<&'a mut Visibility>,
);

/// Where the focus is: the root of the focused subtree, when a mode other than normal is on.
struct Focus {
    mode: FocusMode,
    root: Option<TwinIndex>,
}

impl Focus {
    fn includes(&self, state: &TwinState, twin: Option<TwinIndex>) -> bool {
        match (self.root, twin) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(root), Some(twin)) => is_within(&state.store, twin, root),
        }
    }
}

type BoundItem<'a> = (&'a BoundTwin, &'a TwinVisualState, &'a TwinMeshes);

#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn restyle_meshes(
    mut commands: Commands,
    changed: Query<
        (&BoundTwin, &TwinVisualState, &TwinMeshes),
        Or<(Changed<TwinVisualState>, Added<TwinMeshes>)>,
    >,
    all_twins: Query<(&BoundTwin, &TwinVisualState, &TwinMeshes)>,
    mut meshes: Query<MeshLook, With<Mesh3d>>,
    unbound: Query<Entity, (With<Mesh3d>, With<OriginalMaterial>)>,
    (mode, selection, state, occluders): (
        Res<FocusMode>,
        Res<Selection>,
        Res<TwinState>,
        Res<crate::scene::see_through::Occluders>,
    ),
    mut palette: ResMut<StatusPalette>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut alarm_materials: ResMut<Assets<AlarmMaterial>>,
) {
    let focus = Focus {
        mode: *mode,
        root: if *mode == FocusMode::Normal {
            None
        } else {
            selection.twin
        },
    };
    let everything = mode.is_changed() || selection.is_changed() || occluders.is_changed();
    let mut covered = HashSet::new();
    let twins: Box<dyn Iterator<Item = BoundItem>> = if everything {
        Box::new(all_twins.iter())
    } else {
        Box::new(changed.iter())
    };
    for (bound, visual, twin_meshes) in twins {
        let in_focus = focus.includes(&state, Some(bound.0));
        for &entity in &twin_meshes.0 {
            if everything {
                covered.insert(entity);
            }
            let Ok((original, standard, alarm, xray, visibility)) = meshes.get_mut(entity) else {
                continue;
            };
            let look = palette.look(visual, &original.0, &mut materials, &mut alarm_materials);
            let in_the_way = occluders.0.contains(&entity);
            apply_look(
                &mut commands,
                entity,
                (standard, alarm, xray),
                visibility,
                look,
                (in_focus, in_the_way),
                &focus,
                &palette.xray,
            );
        }
    }
    if everything {
        // Geometry bound to no twin (floors, frames) follows the focus too.
        let in_focus = focus.includes(&state, None);
        for entity in &unbound {
            if covered.contains(&entity) {
                continue;
            }
            let Ok((original, standard, alarm, xray, visibility)) = meshes.get_mut(entity) else {
                continue;
            };
            let look = Look::Standard(original.0.clone());
            let in_the_way = occluders.0.contains(&entity);
            apply_look(
                &mut commands,
                entity,
                (standard, alarm, xray),
                visibility,
                look,
                (in_focus, in_the_way),
                &focus,
                &palette.xray,
            );
        }
    }
}

type CurrentMaterials<'a> = (
    Option<&'a MeshMaterial3d<StandardMaterial>>,
    Option<&'a MeshMaterial3d<AlarmMaterial>>,
    Option<&'a MeshMaterial3d<XRayMaterial>>,
);

#[allow(clippy::too_many_arguments)]
fn apply_look(
    commands: &mut Commands,
    entity: Entity,
    (standard, alarm, xray): CurrentMaterials,
    visibility: Option<Mut<Visibility>>,
    look: Look,
    (in_focus, in_the_way): (bool, bool),
    focus: &Focus,
    xray_material: &Handle<XRayMaterial>,
) {
    // Outside an x-ray's focus, and in front of the selection, parts are glass.
    let look = if (!in_focus && focus.mode == FocusMode::XRay) || in_the_way {
        Look::XRay
    } else {
        look
    };
    let shown = if !in_focus && focus.mode == FocusMode::Isolate {
        Visibility::Hidden
    } else {
        Visibility::Inherited
    };
    let mut entity = commands.entity(entity);
    match visibility {
        Some(mut visibility) => {
            visibility.set_if_neq(shown);
        }
        None if shown == Visibility::Hidden => {
            entity.insert(shown);
        }
        None => {}
    }
    match look {
        Look::Standard(handle) => {
            if standard.is_none_or(|m| m.0 != handle) {
                entity.insert(MeshMaterial3d(handle));
            }
            if alarm.is_some() {
                entity.remove::<MeshMaterial3d<AlarmMaterial>>();
            }
            if xray.is_some() {
                entity.remove::<MeshMaterial3d<XRayMaterial>>();
            }
        }
        Look::Alarm(handle) => {
            if alarm.is_none_or(|m| m.0 != handle) {
                entity.insert(MeshMaterial3d(handle));
            }
            if standard.is_some() {
                entity.remove::<MeshMaterial3d<StandardMaterial>>();
            }
            if xray.is_some() {
                entity.remove::<MeshMaterial3d<XRayMaterial>>();
            }
        }
        Look::XRay => {
            if xray.is_none() {
                entity.insert(MeshMaterial3d(xray_material.clone()));
            }
            if standard.is_some() {
                entity.remove::<MeshMaterial3d<StandardMaterial>>();
            }
            if alarm.is_some() {
                entity.remove::<MeshMaterial3d<AlarmMaterial>>();
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
    let Some(selected) = selection.twin else {
        return;
    };
    if let Some((min, max)) = world_bounds(
        crate::scene::binding::meshes_of_twin(&entities, &twins, selected),
        &boxes,
    ) {
        // A margin relative to the part (a flat part still gets a box), whatever the scale.
        let size = (max - min) * 1.04 + Vec3::splat((max - min).max_element() * 0.02);
        gizmos.cube(
            Transform::from_translation((min + max) / 2.0).with_scale(size),
            colors::SELECTION,
        );
    }
}
