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

/// The stem's height and radius at plant scale (metres).
const STEM_HEIGHT: f32 = 0.6;
const STEM_RADIUS: f32 = 0.025;
/// A head's size as a share of a participant's marker (which never looks too small).
const HEAD_SHARE: f32 = 0.15;
/// A head is resized only when its wanted size drifted by more than this share: moving the
/// eye then touches a few transforms a frame, not a thousand.
const RESIZE_STEP: f32 = 0.1;

/// One pin per noted part. Pins are meshes (one shared mesh and two shared materials, so
/// the renderer draws them all in one batch), placed again only when something moved; each
/// frame costs only the distances and, now and then, a head's size.
#[derive(Resource, Debug, Default)]
pub struct NotePins {
    /// The nearest [`MAX_LABELS`] pins, nearest first (labels are drawn for them).
    pub heads: Vec<Pin>,
    /// Where the pins stand, placed again only when the notes, the twins' meshes or the
    /// plant's frame (a headset's table) changed: parts do not move between frames.
    placed: Vec<Pin>,
    /// The pins' entities, one per entry of `placed`, reused when placed again.
    pool: Vec<PinEntities>,
    placed_for: Option<(u64, usize, bevy::math::Affine3A)>,
    /// Some noted part had no bounds yet (its meshes still loading): placed again shortly.
    incomplete: bool,
    /// Our eye this frame (labels in 3D turn to face it).
    eye: Vec3,
    /// What placing and drawing the pins took each frame with pins (µs; the first
    /// [`COST_SAMPLES`] frames), reported at exit.
    pub cost: Vec<f32>,
    /// The same for the frames that placed the pins again (a note changed, a part loaded).
    pub placing_cost: Vec<f32>,
    frame_cost: std::time::Duration,
    placed_this_frame: bool,
}

/// A pin's entities and the head size last given to its transform.
#[derive(Debug, Clone, Copy)]
struct PinEntities {
    head: Entity,
    stem: Entity,
    size: f32,
}

/// The shared mesh and materials of the pins (made once, when the first pin is placed).
#[derive(Resource)]
pub struct PinLook {
    head: Handle<Mesh>,
    stem: Handle<Mesh>,
    open: Handle<StandardMaterial>,
    resolved: Handle<StandardMaterial>,
}

/// A pin's entity: the part it stands on (a click on it selects the part).
#[derive(Component, Debug, Clone, Copy)]
pub struct PinOf(pub TwinIndex);

/// A part's pin: its newest note (index in [`SessionNotes::notes`]), how many more it has,
/// whether any is open, where its head stands and how far from the eye.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pin {
    pub twin: TwinIndex,
    pub note: usize,
    pub more: usize,
    pub open: bool,
    pub head: Vec3,
    pub distance: f32,
}

/// Frames whose notes-layer cost is kept.
const COST_SAMPLES: usize = 20_000;

impl NotePins {
    /// How many pins stand (one per noted part with bounds).
    pub fn count(&self) -> usize {
        self.placed.len()
    }

    fn add_cost(&mut self, took: std::time::Duration) {
        self.frame_cost += took;
    }

    /// Ends a frame's measurement (in the desktop's label pass or the headset's pin pass).
    fn close_frame(&mut self) {
        let costs = if self.placed_this_frame {
            &mut self.placing_cost
        } else {
            &mut self.cost
        };
        if !self.placed.is_empty() && costs.len() < COST_SAMPLES {
            costs.push(self.frame_cost.as_secs_f32() * 1e6);
        }
        self.frame_cost = std::time::Duration::ZERO;
        self.placed_this_frame = false;
    }
}

/// Where the pins' mesh and materials are made (absent in a headless app).
type PinAssets<'w> = Option<(
    ResMut<'w, Assets<Mesh>>,
    ResMut<'w, Assets<StandardMaterial>>,
)>;

/// Places the pins (when something changed), keeps their heads a visible size from the eye
/// and picks the nearest for labels.
#[allow(clippy::too_many_arguments)]
pub fn place_pins(
    notes: Res<SessionNotes>,
    mut pins: ResMut<NotePins>,
    entities: Option<Res<TwinEntities>>,
    twin_meshes: Query<&TwinMeshes>,
    boxes: Query<(&Aabb, &GlobalTransform)>,
    eyes: Query<&GlobalTransform, With<Camera3d>>,
    frame: super::PlantFrame,
    mut transforms: Query<&mut Transform, With<PinOf>>,
    (mut commands, look, assets): (Commands, Option<Res<PinLook>>, PinAssets),
    mut frames: Local<u32>,
) {
    let started = std::time::Instant::now();
    let Some(entities) = entities else { return };
    let plant = frame.frame();
    let scale = plant.compute_transform().scale.x;
    let key = (notes.generation, entities.by_twin.len(), plant.affine());
    // Also every 60 frames while a noted part's meshes were still loading.
    *frames = (*frames + 1) % 60;
    let pins = &mut *pins;
    if pins.placed_for != Some(key) || (pins.incomplete && *frames == 0) {
        pins.placed_for = Some(key);
        pins.placed_this_frame = true;
        (pins.placed, pins.incomplete) = place(&notes, &entities, &twin_meshes, &boxes, scale);
        match (look, assets) {
            (Some(look), _) => stand(pins, &mut commands, &look, scale),
            (None, Some((mut meshes, mut materials))) if !pins.placed.is_empty() => {
                let look = PinLook::new(&mut meshes, &mut materials);
                stand(pins, &mut commands, &look, scale);
                commands.insert_resource(look);
            }
            _ => {}
        }
    }
    let eye = eyes
        .iter()
        .next()
        .map_or(Vec3::ZERO, GlobalTransform::translation);
    pins.eye = eye;
    for (pin, entities) in pins.placed.iter_mut().zip(&mut pins.pool) {
        pin.distance = eye.distance(pin.head);
        let size = super::avatars::marker_size(scale, pin.distance) * HEAD_SHARE;
        if (size - entities.size).abs() > entities.size * RESIZE_STEP
            && let Ok(mut transform) = transforms.get_mut(entities.head)
        {
            transform.scale = Vec3::splat(size);
            entities.size = size;
        }
    }
    nearest(&pins.placed, &mut pins.heads);
    pins.add_cost(started.elapsed());
}

/// The nearest [`MAX_LABELS`] pins, nearest first, without sorting them all.
fn nearest(placed: &[Pin], heads: &mut Vec<Pin>) {
    heads.clear();
    heads.extend_from_slice(placed);
    if heads.len() > MAX_LABELS {
        heads.select_nth_unstable_by(MAX_LABELS - 1, |a, b| a.distance.total_cmp(&b.distance));
        heads.truncate(MAX_LABELS);
    }
    heads.sort_by(|a, b| a.distance.total_cmp(&b.distance));
}

impl PinLook {
    fn new(meshes: &mut Assets<Mesh>, materials: &mut Assets<StandardMaterial>) -> Self {
        // A coarse head (an icosphere of 80 faces) and a six-sided stem: a thousand pins
        // stay cheap to draw.
        let head = Sphere::new(1.0)
            .mesh()
            .ico(1)
            .unwrap_or_else(|_| Sphere::new(1.0).mesh().uv(8, 6));
        let stem = Cylinder::new(1.0, 1.0).mesh().resolution(6).build();
        let unlit = |colour: Color| StandardMaterial {
            base_color: colour,
            unlit: true,
            ..default()
        };
        PinLook {
            head: meshes.add(head),
            stem: meshes.add(stem),
            open: materials.add(unlit(OPEN)),
            resolved: materials.add(unlit(RESOLVED)),
        }
    }
}

/// Gives each placed pin its entities: reuses those it had, spawns what is missing and
/// despawns what is left over.
fn stand(pins: &mut NotePins, commands: &mut Commands, look: &PinLook, scale: f32) {
    while pins.pool.len() > pins.placed.len() {
        let spare = pins.pool.pop().expect("longer than placed");
        commands.entity(spare.head).despawn();
        commands.entity(spare.stem).despawn();
    }
    // A head's size is set each frame from the eye; until then, its size at plant scale.
    let size = super::avatars::marker_size(scale, 0.0) * HEAD_SHARE;
    for (k, pin) in pins.placed.iter().enumerate() {
        let material = MeshMaterial3d(if pin.open {
            look.open.clone()
        } else {
            look.resolved.clone()
        });
        let head = Transform::from_translation(pin.head).with_scale(Vec3::splat(size));
        let stem = Transform::from_translation(pin.head - Vec3::Y * STEM_HEIGHT * scale / 2.0)
            .with_scale(Vec3::new(
                STEM_RADIUS * scale,
                STEM_HEIGHT * scale,
                STEM_RADIUS * scale,
            ));
        let common = || {
            (
                PinOf(pin.twin),
                crate::xr::NotPointable,
                bevy::light::NotShadowCaster,
            )
        };
        match pins.pool.get_mut(k) {
            Some(entities) => {
                commands
                    .entity(entities.head)
                    .insert((head, material.clone(), common()));
                commands
                    .entity(entities.stem)
                    .insert((stem, material, common()));
                entities.size = size;
            }
            None => {
                let head = commands
                    .spawn((
                        Mesh3d(look.head.clone()),
                        material.clone(),
                        head,
                        common(),
                        Name::new("note-pin-head"),
                    ))
                    .id();
                let stem = commands
                    .spawn((
                        Mesh3d(look.stem.clone()),
                        material,
                        stem,
                        common(),
                        Name::new("note-pin-stem"),
                    ))
                    .id();
                pins.pool.push(PinEntities { head, stem, size });
            }
        }
    }
}

/// A click on a pin selects its part (whose notes the Notes window then shows).
pub fn select_clicked_pin(
    mut clicks: MessageReader<bevy::picking::events::Pointer<bevy::picking::events::Click>>,
    pins: Query<&PinOf>,
    mut select: MessageWriter<crate::scene::selection::SelectTwin>,
) {
    for click in clicks.read() {
        if let Ok(PinOf(twin)) = pins.get(click.entity) {
            select.write(crate::scene::selection::SelectTwin(Some(*twin)));
        }
    }
}

/// One pin over each noted part's bounds, for its newest note; and whether a noted part
/// with meshes had no bounds yet.
fn place(
    notes: &SessionNotes,
    entities: &TwinEntities,
    twin_meshes: &Query<&TwinMeshes>,
    boxes: &Query<(&Aabb, &GlobalTransform)>,
    scale: f32,
) -> (Vec<Pin>, bool) {
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
                let Some((min, max)) =
                    world_bounds(meshes_of_twin(entities, twin_meshes, twin), boxes)
                else {
                    incomplete |= entities.by_twin.contains_key(&twin);
                    continue;
                };
                let head = Vec3::new(
                    (min.x + max.x) / 2.0,
                    max.y + 0.6 * scale,
                    (min.z + max.z) / 2.0,
                );
                by_twin.insert(
                    twin,
                    Pin {
                        twin,
                        note: k,
                        more: 0,
                        open: !note.resolved,
                        head,
                        distance: 0.0,
                    },
                );
            }
        }
    }
    (by_twin.into_values().collect(), incomplete)
}

/// A pin's label: its newest note's first line, and how many more the part has.
fn label(notes: &SessionNotes, pin: &Pin) -> String {
    let note = &notes.notes[pin.note];
    let first: String = note.first_line().chars().take(48).collect();
    let more = if pin.more > 0 {
        format!(" (+{} more)", pin.more)
    } else {
        String::new()
    };
    format!("{first} — {}{more}", note.author)
}

/// In the headset, the nearest pins' labels as stroke text facing the eye.
pub fn draw_pins(
    notes: Res<SessionNotes>,
    mut pins: ResMut<NotePins>,
    mut gizmos: Gizmos,
    tags_in_3d: Option<Res<NameTagsIn3d>>,
) {
    if !tags_in_3d.is_some_and(|t| t.0) {
        return;
    }
    let started = std::time::Instant::now();
    draw_labels_in_3d(&notes, &pins, &mut gizmos);
    pins.add_cost(started.elapsed());
    pins.close_frame(); // the headset draws no labels in egui
}

fn draw_labels_in_3d(notes: &SessionNotes, pins: &NotePins, gizmos: &mut Gizmos) {
    for pin in pins.heads.iter().take(MAX_LABELS / 2) {
        let colour = if pin.open { OPEN } else { RESOLVED };
        let letters = (pin.distance * 0.025).max(0.01);
        let at = pin.head + Vec3::Y * letters * 1.5;
        // Turned to face us about the vertical, as name tags are.
        let towards = Vec3::new(pins.eye.x - at.x, 0.0, pins.eye.z - at.z)
            .try_normalize()
            .unwrap_or(Vec3::Z);
        gizmos.text(
            Isometry3d::new(at, Quat::from_rotation_arc(Vec3::Z, towards)),
            &label_ascii(&label(notes, pin)),
            letters,
            Vec2::ZERO,
            colour,
        );
    }
}

/// The desktop's labels at the nearest pin heads: the first line, the author.
pub fn draw_pin_labels(
    mut contexts: EguiContexts,
    notes: Res<SessionNotes>,
    mut pins: ResMut<NotePins>,
    cameras: Query<(&Camera, &GlobalTransform), With<OrbitCamera>>,
    panels: Option<Res<crate::ui::PanelState>>,
) -> Result {
    let started = std::time::Instant::now();
    let bottom_inset = panels.map_or(0.0, |p| p.bottom_inset);
    let result = labels(&mut contexts, &notes, &pins, &cameras, bottom_inset);
    pins.add_cost(started.elapsed());
    pins.close_frame();
    result
}

fn labels(
    contexts: &mut EguiContexts,
    notes: &SessionNotes,
    pins: &NotePins,
    cameras: &Query<(&Camera, &GlobalTransform), With<OrbitCamera>>,
    bottom_inset: f32,
) -> Result {
    if pins.heads.is_empty() {
        return Ok(());
    }
    let Ok((camera, eye)) = cameras.single() else {
        return Ok(());
    };
    let ctx = contexts.ctx_mut()?;
    let painter = ctx.layer_painter(egui::LayerId::new(
        egui::Order::Middle,
        egui::Id::new("note-pins"),
    ));
    let Some(view) = camera.logical_viewport_rect() else {
        return Ok(());
    };
    // The 3D view, above the bottom panels (an offscreen image's camera has no viewport).
    let bottom = view.max.y.min(ctx.viewport_rect().bottom() - bottom_inset);
    let view = egui::Rect::from_min_max(
        egui::pos2(view.min.x, view.min.y),
        egui::pos2(view.max.x, bottom),
    );
    // Nearest first; a label that would cover one already placed moves down below it, and
    // one pushed out of the 3D view is left out.
    let mut placed: Vec<egui::Rect> = Vec::with_capacity(MAX_LABELS);
    for pin in pins.heads.iter().take(MAX_LABELS) {
        let Some((place, true)) = super::panel::screen_place(camera, eye, pin.head) else {
            continue;
        };
        let text = label(notes, pin);
        let colour = if pin.open {
            egui::Color32::from_rgb(255, 214, 90)
        } else {
            egui::Color32::from_gray(150)
        };
        let galley = painter.layout_no_wrap(text, egui::FontId::proportional(12.0), colour);
        let mut rect = egui::Rect::from_min_size(
            egui::pos2(place.x + 6.0, place.y - galley.size().y / 2.0),
            galley.size() + egui::vec2(8.0, 4.0),
        );
        while let Some(below) = placed
            .iter()
            .filter(|r| r.intersects(rect))
            .map(|r| r.max.y)
            .reduce(f32::max)
        {
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
    text.chars()
        .take(40)
        .map(|c| {
            if c == '—' {
                '-'
            } else if (' '..='~').contains(&c) {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin_at(distance: f32) -> Pin {
        Pin {
            twin: TwinIndex(0),
            note: 0,
            more: 0,
            open: true,
            head: Vec3::ZERO,
            distance,
        }
    }

    #[test]
    fn the_nearest_pins_are_picked_for_labels_nearest_first() {
        let placed: Vec<Pin> = (0..1000)
            .map(|k| pin_at(((k * 7919) % 1000) as f32))
            .collect();
        let mut heads = Vec::new();
        nearest(&placed, &mut heads);
        let distances: Vec<f32> = heads.iter().map(|p| p.distance).collect();
        assert_eq!(
            distances,
            (0..MAX_LABELS).map(|k| k as f32).collect::<Vec<_>>()
        );
        nearest(&placed[..3], &mut heads);
        assert_eq!(heads.len(), 3, "fewer pins than labels: all of them");
        assert!(heads.windows(2).all(|w| w[0].distance <= w[1].distance));
    }
}
