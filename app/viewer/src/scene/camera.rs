//! An orbit camera for looking at a plant: left-drag orbits, right- or middle-drag pans,
//! the wheel zooms, `F` frames the selection (or the whole plant), `Home` frames everything.
//! Framing is a short, smooth flight, so the operator keeps their bearings; a [`FrameTwin`]
//! message (sent when a twin is chosen in a panel) frames it and everything below it.
//!
//! Bevy 0.19 ships a fly camera (`free_camera`) and a 2D pan camera, but no 3D orbit
//! controller, and orbiting around equipment is what operators do at a desk.

use bevy::camera::primitives::Aabb;
use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll, MouseScrollUnit};
use bevy::prelude::*;
use bevy_egui::input::EguiWantsInput;

use twinscope_core::twin::TwinIndex;
use twinscope_core::twin::tree::subtree;

use crate::scene::binding::{TwinMeshes, world_bounds};
use crate::scene::selection::{FrameTwin, Selection};
use crate::store::sync::{TwinEntities, TwinState};
use crate::{TwinscopeSystems, configure_twinscope_sets};

/// Spawns the 3D camera and lights, and drives the orbit camera.
pub struct OrbitCameraPlugin;

impl Plugin for OrbitCameraPlugin {
    fn build(&self, app: &mut App) {
        configure_twinscope_sets(app);
        app.add_systems(Startup, spawn_camera_and_lights)
            .add_systems(
                Update,
                (
                    frame_plant_once_bound,
                    frame_on_key,
                    frame_requested_twins,
                    orbit_from_mouse,
                    apply_orbit,
                )
                    .chain()
                    .in_set(TwinscopeSystems::Visuals),
            );
    }
}

/// Where the camera looks and from how far.
#[derive(Component, Debug, Clone, Copy)]
pub struct OrbitCamera {
    pub focus: Vec3,
    pub distance: f32,
    /// Radians around the vertical axis.
    pub yaw: f32,
    /// Radians above the horizon.
    pub pitch: f32,
    /// Where a flight in progress is heading: focus and distance.
    pub flight: Option<(Vec3, f32)>,
    /// The plant's radius, in metres: zoom limits and clipping planes follow it, so a 5 cm
    /// part and a 2 km site both open framed and unclipped.
    pub plant_radius: f32,
    /// Put somewhere on purpose before the plant was shown (continuing a shared session where
    /// this user's other device stood): the plant is then not framed at start.
    pub placed: bool,
}

impl Default for OrbitCamera {
    fn default() -> Self {
        OrbitCamera {
            focus: Vec3::ZERO,
            distance: 30.0,
            yaw: 0.6,
            pitch: 0.6,
            flight: None,
            plant_radius: 15.0,
            placed: false,
        }
    }
}

impl OrbitCamera {
    pub fn transform(&self) -> Transform {
        let offset = Vec3::new(
            self.yaw.sin() * self.pitch.cos(),
            self.pitch.sin(),
            self.yaw.cos() * self.pitch.cos(),
        ) * self.distance;
        Transform::from_translation(self.focus + offset).looking_at(self.focus, Vec3::Y)
    }

    /// Centres on a box and backs off until it fits a 45° field of view, at once.
    pub fn frame(&mut self, min: Vec3, max: Vec3) {
        let (focus, distance) = Self::framing(min, max);
        self.focus = focus;
        self.distance = distance;
        self.flight = None;
    }

    /// Like [`frame`](Self::frame), as a smooth flight over the next frames.
    pub fn fly_to(&mut self, min: Vec3, max: Vec3) {
        self.flight = Some(Self::framing(min, max));
    }

    fn framing(min: Vec3, max: Vec3) -> (Vec3, f32) {
        let radius = ((max - min).length() / 2.0).max(1e-3);
        (
            (min + max) / 2.0,
            radius / (std::f32::consts::FRAC_PI_8).sin() * 1.05,
        )
    }

    /// How close and how far the camera may zoom: from a hundredth of the plant to fifty times it.
    pub fn zoom_limits(&self) -> (f32, f32) {
        (self.plant_radius * 0.01, self.plant_radius * 50.0)
    }

    /// The clipping planes for a plant of this radius: near enough for its smallest parts
    /// seen up close, far enough for all of it from the farthest zoom.
    pub fn clipping(&self) -> (f32, f32) {
        let (closest, farthest) = self.zoom_limits();
        (
            (closest * 0.1).max(1e-5),
            farthest + self.plant_radius * 4.0,
        )
    }

    /// Moves a flight on by `seconds`; most of the way in about half a second.
    pub fn advance_flight(&mut self, seconds: f32) {
        let Some((focus, distance)) = self.flight else {
            return;
        };
        let blend = 1.0 - (-seconds * 7.0).exp();
        self.focus = self.focus.lerp(focus, blend);
        self.distance += (distance - self.distance) * blend;
        if self.focus.distance(focus) < 0.01 * distance
            && (self.distance - distance).abs() < 0.01 * distance
        {
            self.focus = focus;
            self.distance = distance;
            self.flight = None;
        }
    }
}

/// The meshes of a twin and everything below it; for a twin without geometry, its nearest
/// ancestor's.
pub fn subtree_meshes(
    state: &TwinState,
    entities: &TwinEntities,
    meshes: &Query<&TwinMeshes>,
    twin: TwinIndex,
) -> Vec<Entity> {
    let mut cursor = Some(twin);
    while let Some(index) = cursor {
        let found: Vec<Entity> = subtree(&state.store, index)
            .into_iter()
            .flat_map(|t| crate::scene::binding::meshes_of_twin(entities, meshes, t))
            .collect();
        if !found.is_empty() {
            return found;
        }
        cursor = state.store.get(index).parent;
    }
    Vec::new()
}

fn spawn_camera_and_lights(mut commands: Commands) {
    let orbit = OrbitCamera::default();
    commands.spawn((
        Camera3d::default(),
        orbit.transform(),
        orbit,
        Name::new("orbit-camera"),
    ));
    light_the_plant(&mut commands);
}

/// The plant's light: one sun without shadows and ambient light, the same on the desktop and
/// in the headset.
pub fn light_the_plant(commands: &mut Commands) {
    commands.spawn((
        DirectionalLight {
            illuminance: 9_000.0,
            shadow_maps_enabled: false,
            ..default()
        },
        Transform::from_xyz(8.0, 20.0, 12.0).looking_at(Vec3::ZERO, Vec3::Y),
    ));
    commands.insert_resource(GlobalAmbientLight {
        brightness: 900.0,
        ..default()
    });
    commands.insert_resource(ClearColor(Color::srgb(0.11, 0.12, 0.14)));
}

fn frame_plant_once_bound(
    mut framed: Local<bool>,
    meshes: Query<&TwinMeshes>,
    boxes: Query<(&Aabb, &GlobalTransform)>,
    mut cameras: Query<(&mut OrbitCamera, &mut Projection)>,
) {
    if *framed {
        return;
    }
    if let Some((min, max)) = world_bounds(meshes.iter().flat_map(|m| m.0.iter().copied()), &boxes)
    {
        for (mut orbit, mut projection) in &mut cameras {
            if !orbit.placed {
                orbit.frame(min, max);
                orbit.distance *= 0.8; // a plant is wide and flat: the bounding sphere is generous
            }
            orbit.plant_radius = ((max - min).length() / 2.0).max(1e-3);
            if let Projection::Perspective(perspective) = projection.as_mut() {
                (perspective.near, perspective.far) = orbit.clipping();
            }
        }
        *framed = true;
    }
}

#[allow(clippy::too_many_arguments)]
fn frame_on_key(
    keys: Option<Res<ButtonInput<KeyCode>>>,
    selection: Res<Selection>,
    state: Res<TwinState>,
    entities: Res<TwinEntities>,
    meshes: Query<&TwinMeshes>,
    boxes: Query<(&Aabb, &GlobalTransform)>,
    mut cameras: Query<&mut OrbitCamera>,
    egui_input: Option<Res<EguiWantsInput>>,
) {
    let Some(keys) = keys else { return };
    if egui_input.is_some_and(|input| input.wants_keyboard_input()) {
        return;
    }
    let selected = selection
        .twin
        .filter(|t| (t.0 as usize) < state.store.len());
    let targets: Vec<Entity> = match selected {
        Some(twin) if keys.just_pressed(KeyCode::KeyF) => {
            subtree_meshes(&state, &entities, &meshes, twin)
        }
        _ if keys.just_pressed(KeyCode::Home) || keys.just_pressed(KeyCode::KeyF) => {
            meshes.iter().flat_map(|m| m.0.iter().copied()).collect()
        }
        _ => return,
    };
    if let Some((min, max)) = world_bounds(targets, &boxes) {
        for mut orbit in &mut cameras {
            orbit.fly_to(min, max);
        }
    }
}

fn frame_requested_twins(
    mut requests: MessageReader<FrameTwin>,
    state: Res<TwinState>,
    entities: Res<TwinEntities>,
    meshes: Query<&TwinMeshes>,
    boxes: Query<(&Aabb, &GlobalTransform)>,
    mut cameras: Query<&mut OrbitCamera>,
) {
    let Some(FrameTwin(twin)) = requests.read().last().copied() else {
        return;
    };
    if twin.0 as usize >= state.store.len() {
        return;
    }
    if let Some((min, max)) = world_bounds(subtree_meshes(&state, &entities, &meshes, twin), &boxes)
    {
        for mut orbit in &mut cameras {
            orbit.fly_to(min, max);
        }
    }
}

fn orbit_from_mouse(
    buttons: Option<Res<ButtonInput<MouseButton>>>,
    motion: Option<Res<AccumulatedMouseMotion>>,
    scroll: Option<Res<AccumulatedMouseScroll>>,
    egui_input: Option<Res<EguiWantsInput>>,
    mut cameras: Query<&mut OrbitCamera>,
) {
    let (Some(buttons), Some(motion), Some(scroll)) = (buttons, motion, scroll) else {
        return;
    };
    if egui_input.is_some_and(|input| input.wants_pointer_input()) {
        return;
    }
    for mut orbit in &mut cameras {
        let delta = motion.delta;
        if buttons.pressed(MouseButton::Left) {
            orbit.yaw -= delta.x * 0.005;
            orbit.pitch = (orbit.pitch + delta.y * 0.005).clamp(0.05, 1.5);
        } else if buttons.pressed(MouseButton::Right) || buttons.pressed(MouseButton::Middle) {
            let transform = orbit.transform();
            let scale = orbit.distance * 0.0015;
            let pan = (transform.right() * -delta.x + transform.up() * delta.y) * scale;
            orbit.focus += pan;
        }
        let lines = match scroll.unit {
            MouseScrollUnit::Line => scroll.delta.y,
            MouseScrollUnit::Pixel => scroll.delta.y / 40.0,
        };
        if lines != 0.0 {
            let (closest, farthest) = orbit.zoom_limits();
            orbit.distance = (orbit.distance * 0.9f32.powf(lines)).clamp(closest, farthest);
        }
    }
}

fn apply_orbit(time: Res<Time<Real>>, mut cameras: Query<(&mut OrbitCamera, &mut Transform)>) {
    for (mut orbit, mut transform) in &mut cameras {
        if orbit.flight.is_some() {
            orbit.advance_flight(time.delta_secs().min(0.1));
        }
        if orbit.is_changed() {
            *transform = orbit.transform();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_centres_and_backs_off() {
        let mut orbit = OrbitCamera::default();
        orbit.frame(Vec3::new(-10.0, 0.0, -2.0), Vec3::new(10.0, 2.0, 2.0));
        assert_eq!(orbit.focus, Vec3::new(0.0, 1.0, 0.0));
        let eye = orbit.transform().translation;
        assert!(eye.distance(orbit.focus) > 10.0);
    }

    #[test]
    fn a_five_centimetre_part_and_a_two_kilometre_site_both_frame_unclipped() {
        for (size, label) in [(0.05f32, "part"), (2_000.0, "site")] {
            let mut orbit = OrbitCamera::default();
            let (min, max) = (Vec3::splat(-size / 2.0), Vec3::splat(size / 2.0));
            orbit.frame(min, max);
            orbit.plant_radius = (max - min).length() / 2.0;
            let (near, far) = orbit.clipping();
            let (closest, farthest) = orbit.zoom_limits();
            assert!(
                orbit.distance > orbit.plant_radius && orbit.distance < 5.0 * orbit.plant_radius,
                "{label}: framed at {}",
                orbit.distance
            );
            assert!(
                near < closest && near < orbit.distance - orbit.plant_radius,
                "{label}: near plane {near} cuts the model"
            );
            assert!(
                far > farthest + orbit.plant_radius,
                "{label}: far plane {far} cuts the model at the farthest zoom"
            );
        }
    }

    #[test]
    fn flights_arrive_smoothly() {
        let mut orbit = OrbitCamera::default();
        orbit.fly_to(Vec3::new(9.0, 0.0, 9.0), Vec3::new(11.0, 2.0, 11.0));
        orbit.advance_flight(1.0 / 60.0);
        assert!(
            orbit.focus.x > 0.0 && orbit.focus.x < 5.0,
            "part of the way after one frame: {}",
            orbit.focus
        );
        for _ in 0..120 {
            orbit.advance_flight(1.0 / 60.0);
        }
        assert_eq!(orbit.flight, None);
        assert_eq!(orbit.focus, Vec3::new(10.0, 1.0, 10.0));
    }
}
