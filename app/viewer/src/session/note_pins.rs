//! Notes stand at their parts in 3D for everyone in the session: a pin rising from the
//! part's top (amber while open, grey once resolved) with its first line beside the head; on
//! the desktop as a label, in the headset as stroke text facing the user. A part with
//! several notes has one pin, labelled with its newest note and how many more it has.
//! Labels are drawn for the nearest pins only, inside the 3D view, so a plant with a
//! thousand notes stays readable and cheap; pins are placed again only when something moved.

use bevy::camera::primitives::Aabb;
use bevy::prelude::*;
use bevy_egui::{EguiContexts, egui};
use twinscope_core::twin::TwinIndex;

use super::NameTagsIn3d;
use super::notes::SessionNotes;
use crate::scene::binding::{TwinMeshes, meshes_of_twin, world_bounds};
use crate::scene::camera::OrbitCamera;
use crate::store::sync::TwinEntities;

/// Labels drawn at most (the nearest pins): more would bury the plant.
pub const MAX_LABELS: usize = 12;

const OPEN: Color = Color::srgb(0.95, 0.75, 0.2);
const RESOLVED: Color = Color::srgb(0.55, 0.55, 0.55);

/// One pin per noted part, nearest to the eye first.
#[derive(Resource, Debug, Default)]
pub struct NotePins {
    pub heads: Vec<Pin>,
    /// Where the pins stand, placed again only when the notes, the twins' meshes or the
    /// plant's frame (a headset's table) changed: parts do not move between frames.
    placed: Vec<Pin>,
    placed_for: Option<(u64, usize, bevy::math::Affine3A)>,
    /// Some noted part had no bounds yet (its meshes still loading): placed again shortly.
    incomplete: bool,
    /// Our eye this frame (labels in 3D turn to face it).
    eye: Vec3,
    /// What placing and drawing the pins took each frame with pins (µs; the first
    /// [`COST_SAMPLES`] frames), reported at exit.
    pub cost: Vec<f32>,
    frame_cost: std::time::Duration,
}

/// A part's pin: its newest note (index in [`SessionNotes::notes`]), how many more it has,
/// whether any is open, where its head stands and how far from the eye.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pin {
    pub note: usize,
    pub more: usize,
    pub open: bool,
    pub head: Vec3,
    pub distance: f32,
}

/// Frames whose notes-layer cost is kept.
const COST_SAMPLES: usize = 20_000;

impl NotePins {
    fn add_cost(&mut self, took: std::time::Duration) {
        self.frame_cost += took;
    }

    /// Ends a frame's measurement (in the desktop's label pass or the headset's pin pass).
    fn close_frame(&mut self) {
        if !self.heads.is_empty() && self.cost.len() < COST_SAMPLES {
            let micros = self.frame_cost.as_secs_f32() * 1e6;
            self.cost.push(micros);
        }
        self.frame_cost = std::time::Duration::ZERO;
    }
}

/// Places the pins (when something changed) and orders them by distance from the eye.
#[allow(clippy::too_many_arguments)]
pub fn place_pins(
    notes: Res<SessionNotes>,
    mut pins: ResMut<NotePins>,
    entities: Option<Res<TwinEntities>>,
    twin_meshes: Query<&TwinMeshes>,
    boxes: Query<(&Aabb, &GlobalTransform)>,
    eyes: Query<&GlobalTransform, With<Camera3d>>,
    frame: super::PlantFrame,
    mut frames: Local<u32>,
) {
    let started = std::time::Instant::now();
    let Some(entities) = entities else { return };
    let plant = frame.frame();
    let key = (notes.generation, entities.by_twin.len(), plant.affine());
    // Also every 60 frames while a noted part's meshes were still loading.
    *frames = (*frames + 1) % 60;
    if pins.placed_for != Some(key) || (pins.incomplete && *frames == 0) {
        pins.placed_for = Some(key);
        (pins.placed, pins.incomplete) = place(&notes, &entities, &twin_meshes, &boxes, plant.compute_transform().scale.x);
    }
    let eye = eyes.iter().next().map_or(Vec3::ZERO, GlobalTransform::translation);
    let pins = &mut *pins;
    pins.eye = eye;
    pins.heads.clear();
    pins.heads.extend(pins.placed.iter().map(|pin| Pin { distance: eye.distance(pin.head), ..*pin }));
    pins.heads.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    pins.add_cost(started.elapsed());
}

/// One pin over each noted part's bounds, for its newest note; and whether a noted part
/// with meshes had no bounds yet.
fn place(notes: &SessionNotes, entities: &TwinEntities, twin_meshes: &Query<&TwinMeshes>, boxes: &Query<(&Aabb, &GlobalTransform)>, scale: f32) -> (Vec<Pin>, bool) {
    let mut by_twin: std::collections::HashMap<TwinIndex, Pin> = std::collections::HashMap::new();
    let mut incomplete = false;
    for (k, note) in notes.notes.iter().enumerate() {
        let Some(twin) = note.twin else { continue };
        match by_twin.get_mut(&twin) {
            Some(pin) => {
                // Notes are oldest first: the later one is the pin's label.
                pin.more += 1;
                pin.open |= !note.resolved;
                pin.note = k;
            }
            None => {
                let Some((min, max)) = world_bounds(meshes_of_twin(entities, twin_meshes, twin), boxes) else {
                    incomplete |= entities.by_twin.contains_key(&twin);
                    continue;
                };
                let head = Vec3::new((min.x + max.x) / 2.0, max.y + 0.6 * scale, (min.z + max.z) / 2.0);
                by_twin.insert(twin, Pin { note: k, more: 0, open: !note.resolved, head, distance: 0.0 });
            }
        }
    }
    (by_twin.into_values().collect(), incomplete)
}

/// A pin's label: its newest note's first line, and how many more the part has.
fn label(notes: &SessionNotes, pin: &Pin) -> String {
    let note = &notes.notes[pin.note];
    let first: String = note.first_line().chars().take(48).collect();
    let more = if pin.more > 0 { format!(" (+{} more)", pin.more) } else { String::new() };
    format!("{first} — {}{more}", note.author)
}

/// The pins as gizmos (both devices), and in the headset the nearest labels as stroke text.
pub fn draw_pins(notes: Res<SessionNotes>, mut pins: ResMut<NotePins>, mut gizmos: Gizmos, tags_in_3d: Option<Res<NameTagsIn3d>>, frame: super::PlantFrame) {
    let started = std::time::Instant::now();
    let in_3d = tags_in_3d.is_some_and(|t| t.0);
    draw(&notes, &pins, &mut gizmos, in_3d, frame.frame().compute_transform().scale.x);
    pins.add_cost(started.elapsed());
    if in_3d {
        pins.close_frame(); // the headset draws no labels in egui
    }
}

fn draw(notes: &SessionNotes, pins: &NotePins, gizmos: &mut Gizmos, in_3d: bool, scale: f32) {
    for (rank, pin) in pins.heads.iter().enumerate() {
        let colour = if pin.open { OPEN } else { RESOLVED };
        gizmos.line(pin.head - Vec3::Y * 0.6 * scale, pin.head, colour);
        // A coarse head (6 segments a circle, not 32): a thousand of them stay cheap.
        gizmos.sphere(Isometry3d::from_translation(pin.head), super::avatars::marker_size(scale, pin.distance) * 0.15, colour).resolution(6);
        if in_3d && rank < MAX_LABELS / 2 {
            let letters = (pin.distance * 0.025).max(0.01);
            let at = pin.head + Vec3::Y * letters * 1.5;
            // Turned to face us about the vertical, as name tags are.
            let towards = Vec3::new(pins.eye.x - at.x, 0.0, pins.eye.z - at.z).try_normalize().unwrap_or(Vec3::Z);
            gizmos.text(Isometry3d::new(at, Quat::from_rotation_arc(Vec3::Z, towards)), &label_ascii(&label(notes, pin)), letters, Vec2::ZERO, colour);
        }
    }
}

/// The desktop's labels at the nearest pin heads: the first line, the author.
pub fn draw_pin_labels(mut contexts: EguiContexts, notes: Res<SessionNotes>, mut pins: ResMut<NotePins>, cameras: Query<(&Camera, &GlobalTransform), With<OrbitCamera>>, panels: Option<Res<crate::ui::PanelState>>) -> Result {
    let started = std::time::Instant::now();
    let bottom_inset = panels.map_or(0.0, |p| p.bottom_inset);
    let result = labels(&mut contexts, &notes, &pins, &cameras, bottom_inset);
    pins.add_cost(started.elapsed());
    pins.close_frame();
    result
}

fn labels(contexts: &mut EguiContexts, notes: &SessionNotes, pins: &NotePins, cameras: &Query<(&Camera, &GlobalTransform), With<OrbitCamera>>, bottom_inset: f32) -> Result {
    if pins.heads.is_empty() {
        return Ok(());
    }
    let Ok((camera, eye)) = cameras.single() else { return Ok(()) };
    let ctx = contexts.ctx_mut()?;
    let painter = ctx.layer_painter(egui::LayerId::new(egui::Order::Middle, egui::Id::new("note-pins")));
    let Some(view) = camera.logical_viewport_rect() else { return Ok(()) };
    // The 3D view, above the bottom panels (an offscreen image's camera has no viewport).
    let bottom = view.max.y.min(ctx.viewport_rect().bottom() - bottom_inset);
    let view = egui::Rect::from_min_max(egui::pos2(view.min.x, view.min.y), egui::pos2(view.max.x, bottom));
    // Nearest first; a label that would cover one already placed moves down below it, and
    // one pushed out of the 3D view is left out.
    let mut placed: Vec<egui::Rect> = Vec::with_capacity(MAX_LABELS);
    for pin in pins.heads.iter().take(MAX_LABELS) {
        let Some((place, true)) = super::panel::screen_place(camera, eye, pin.head) else { continue };
        let text = label(notes, pin);
        let colour = if pin.open { egui::Color32::from_rgb(255, 214, 90) } else { egui::Color32::from_gray(150) };
        let galley = painter.layout_no_wrap(text, egui::FontId::proportional(12.0), colour);
        let mut rect = egui::Rect::from_min_size(egui::pos2(place.x + 6.0, place.y - galley.size().y / 2.0), galley.size() + egui::vec2(8.0, 4.0));
        while let Some(below) = placed.iter().filter(|r| r.intersects(rect)).map(|r| r.max.y).reduce(f32::max) {
            rect = rect.translate(egui::vec2(0.0, below + 2.0 - rect.min.y));
        }
        if !view.contains_rect(rect) {
            continue;
        }
        placed.push(rect);
        painter.rect_filled(rect, 3.0, egui::Color32::from_black_alpha(190));
        painter.galley(rect.min + egui::vec2(4.0, 2.0), galley, colour);
    }
    Ok(())
}

/// Stroke text draws ASCII only, and a label is one short line.
fn label_ascii(text: &str) -> String {
    text.chars().take(40).map(|c| if c == '—' { '-' } else if (' '..='~').contains(&c) { c } else { '?' }).collect()
}
