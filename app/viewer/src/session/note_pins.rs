//! Notes stand at their parts in 3D for everyone in the session: a pin rising from the
//! part's top (amber while open, grey once resolved) with its first line beside the head; on
//! the desktop as a label, in the headset as stroke text facing the user. Several notes on
//! one part stand side by side. Labels are drawn for the nearest pins only, so a plant
//! with a thousand notes stays readable and cheap.

use bevy::camera::primitives::Aabb;
use bevy::prelude::*;
use bevy_egui::{EguiContexts, egui};
use twinscope_core::twin::TwinIndex;

use super::NameTagsIn3d;
use super::notes::SessionNotes;
use crate::scene::binding::{TwinMeshes, meshes_of_twin, world_bounds};
use crate::scene::camera::OrbitCamera;
use crate::store::sync::TwinEntities;

/// Labels drawn at most (the nearest pins).
pub const MAX_LABELS: usize = 40;

const OPEN: Color = Color::srgb(0.95, 0.75, 0.2);
const RESOLVED: Color = Color::srgb(0.55, 0.55, 0.55);

/// Where each shown note's pin head stands this frame, nearest to the eye first.
#[derive(Resource, Debug, Default)]
pub struct NotePins {
    /// (note index in [`SessionNotes::notes`], pin head in the world, distance to the eye).
    pub heads: Vec<(usize, Vec3, f32)>,
}

/// Places the pins: above each noted part's bounds, one step aside per note on that part.
#[allow(clippy::too_many_arguments)]
pub fn place_pins(
    notes: Res<SessionNotes>,
    mut pins: ResMut<NotePins>,
    entities: Option<Res<TwinEntities>>,
    twin_meshes: Query<&TwinMeshes>,
    boxes: Query<(&Aabb, &GlobalTransform)>,
    eyes: Query<&GlobalTransform, With<Camera3d>>,
    frame: super::PlantFrame,
    mut tops: Local<Vec<(TwinIndex, Vec3, f32, usize)>>,
) {
    pins.heads.clear();
    let Some(entities) = entities else { return };
    if notes.notes.is_empty() {
        return;
    }
    let eye = eyes.iter().next().map_or(Vec3::ZERO, GlobalTransform::translation);
    let scale = frame.frame().compute_transform().scale.x;
    tops.clear();
    for (k, note) in notes.notes.iter().enumerate() {
        let Some(twin) = note.twin else { continue };
        // One bounds lookup per noted part.
        let (top, step, count) = match tops.iter_mut().find(|(t, ..)| *t == twin) {
            Some((_, top, step, count)) => {
                *count += 1;
                (*top, *step, *count - 1)
            }
            None => {
                let Some((min, max)) = world_bounds(meshes_of_twin(&entities, &twin_meshes, twin), &boxes) else { continue };
                let top = Vec3::new((min.x + max.x) / 2.0, max.y, (min.z + max.z) / 2.0);
                let step = ((max - min).xz().max_element() * 0.3).max(0.15 * scale);
                tops.push((twin, top, step, 1));
                (top, step, 0)
            }
        };
        let height = 0.6 * scale;
        let head = top + Vec3::new(step * count as f32, height, 0.0);
        pins.heads.push((k, head, eye.distance(head)));
    }
    pins.heads.sort_by(|a, b| a.2.total_cmp(&b.2));
}

/// The pins as gizmos (both devices), and in the headset the nearest labels as stroke text.
pub fn draw_pins(notes: Res<SessionNotes>, pins: Res<NotePins>, mut gizmos: Gizmos, tags_in_3d: Option<Res<NameTagsIn3d>>, frame: super::PlantFrame) {
    let scale = frame.frame().compute_transform().scale.x;
    let in_3d = tags_in_3d.is_some_and(|t| t.0);
    let eye_height = |distance: f32| (distance * 0.025).max(0.01);
    for (rank, &(k, head, distance)) in pins.heads.iter().enumerate() {
        let note = &notes.notes[k];
        let colour = if note.resolved { RESOLVED } else { OPEN };
        let foot = head - Vec3::Y * 0.6 * scale;
        gizmos.line(foot, head, colour);
        gizmos.sphere(Isometry3d::from_translation(head), super::avatars::marker_size(scale, distance) * 0.15, colour);
        if in_3d && rank < MAX_LABELS / 2 {
            let letters = eye_height(distance);
            let at = head + Vec3::Y * letters * 1.5;
            gizmos.text(Isometry3d::new(at, Quat::IDENTITY), &label_ascii(note.first_line()), letters, Vec2::ZERO, colour);
        }
    }
}

/// The desktop's labels at the nearest pin heads: the first line, the author.
pub fn draw_pin_labels(mut contexts: EguiContexts, notes: Res<SessionNotes>, pins: Res<NotePins>, cameras: Query<(&Camera, &GlobalTransform), With<OrbitCamera>>) -> Result {
    if pins.heads.is_empty() {
        return Ok(());
    }
    let Ok((camera, eye)) = cameras.single() else { return Ok(()) };
    let ctx = contexts.ctx_mut()?;
    let painter = ctx.layer_painter(egui::LayerId::new(egui::Order::Middle, egui::Id::new("note-pins")));
    // Nearest first; a label that would cover one already placed moves down below it.
    let mut placed: Vec<egui::Rect> = Vec::with_capacity(MAX_LABELS);
    for &(k, head, _) in pins.heads.iter().take(MAX_LABELS) {
        let Some((place, true)) = super::panel::screen_place(camera, eye, head) else { continue };
        let note = &notes.notes[k];
        let first: String = note.first_line().chars().take(48).collect();
        let text = format!("{first} — {}", note.author);
        let colour = if note.resolved { egui::Color32::from_gray(150) } else { egui::Color32::from_rgb(255, 214, 90) };
        let galley = painter.layout_no_wrap(text, egui::FontId::proportional(12.0), colour);
        let mut rect = egui::Rect::from_min_size(egui::pos2(place.x + 6.0, place.y - galley.size().y / 2.0), galley.size() + egui::vec2(8.0, 4.0));
        while let Some(below) = placed.iter().filter(|r| r.intersects(rect)).map(|r| r.max.y).reduce(f32::max) {
            rect = rect.translate(egui::vec2(0.0, below + 2.0 - rect.min.y));
        }
        placed.push(rect);
        painter.rect_filled(rect, 3.0, egui::Color32::from_black_alpha(190));
        painter.galley(rect.min + egui::vec2(4.0, 2.0), galley, colour);
    }
    Ok(())
}

/// Stroke text draws ASCII only, and a label is one short line.
fn label_ascii(text: &str) -> String {
    text.chars().take(32).map(|c| if (' '..='~').contains(&c) { c } else { '?' }).collect()
}
