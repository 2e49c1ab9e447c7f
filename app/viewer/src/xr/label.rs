//! The label over the selected part: its name, its first values with units and, when it is in
//! alarm, the alarm's text in its severity colour, on a small egui quad that hangs over the
//! part's top and turns to face the user. It grows with distance, so it reads the same from
//! across the hall as from beside the part; together with the guide's arrows and beacon it
//! leads an engineer who does not know the plant to the part and tells them what is wrong.

use bevy::ecs::schedule::ScheduleLabel;
use bevy::prelude::*;
use bevy_egui::{EguiContext, egui};
use twinscope_core::twin::{TwinIndex, TwinStore};

use crate::scene::selection::Selection;
use crate::store::sync::TwinState;

/// Hangs the label over the selected part.
pub struct XrPartLabelPlugin;

/// The egui pass that draws the label.
#[derive(ScheduleLabel, Clone, Debug, PartialEq, Eq, Hash)]
pub struct XrLabelPass;

/// The label's texture in pixels, its size in metres seen from [`READING_DISTANCE`], and
/// egui's zoom on it.
const PIXELS: UVec2 = UVec2::new(640, 200);
const METRES: Vec2 = Vec2::new(0.48, 0.15);
const ZOOM: f32 = 2.0;
/// At this distance the label has its own size; nearer it shrinks, further it grows.
const READING_DISTANCE: f32 = 1.2;

/// The label: its egui context and quad.
#[derive(Resource, Debug, Clone, Copy)]
pub(super) struct PartLabel {
    context: Entity,
    pub surface: Entity,
}

impl PartLabel {
    /// The label quad's corners in the world, where `pose` is its surface's.
    pub fn corners(pose: &GlobalTransform) -> [Vec3; 4] {
        super::clearance::quad_corners(pose, METRES)
    }
}

#[derive(Component)]
struct LabelContext;

/// What the label says now (the session summary prints it; tests read it).
#[derive(Resource, Debug, Clone, Default, PartialEq)]
pub struct XrLabelText(pub Option<String>);

/// What a label shows for one twin.
#[derive(Debug, Clone, PartialEq)]
struct LabelContent {
    title: String,
    values: Vec<String>,
    /// Severity colour and text of its worst active alarm.
    alarm: Option<(egui::Color32, String)>,
}

impl LabelContent {
    fn of(store: &TwinStore, twin: TwinIndex) -> Self {
        let part = store.get(twin);
        let values = part
            .properties
            .iter()
            .take(3)
            .map(|p| {
                format!(
                    "{} {} {}",
                    p.name,
                    crate::ui::model::format_value(p.value),
                    p.unit.as_deref().unwrap_or("")
                )
                .trim_end()
                .to_owned()
            })
            .collect();
        let book = store.alarm_book();
        let alarm = book
            .alarms()
            .iter()
            .filter(|a| a.twin == twin && a.state.is_active())
            .max_by_key(|a| (a.severity, a.state.is_unacknowledged()))
            .map(|a| {
                let acked = if a.state.is_unacknowledged() {
                    ""
                } else {
                    " (acknowledged)"
                };
                (
                    crate::ui::alarm_panel::severity_color(a.severity),
                    format!("{}: {}{acked}", a.severity.as_str().to_uppercase(), a.text),
                )
            });
        LabelContent {
            title: part.label().to_owned(),
            values,
            alarm,
        }
    }

    fn one_line(&self) -> String {
        let mut line = self.title.clone();
        for value in &self.values {
            line += &format!(" | {value}");
        }
        if let Some((_, alarm)) = &self.alarm {
            line += &format!(" | {alarm}");
        }
        line
    }
}

impl Plugin for XrPartLabelPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<XrLabelText>()
            .add_systems(Startup, spawn_the_label)
            .add_systems(Update, hang_the_label.in_set(super::XrSystems::Show))
            .add_systems(XrLabelPass, draw_the_label);
    }
}

fn spawn_the_label(
    mut commands: Commands,
    mut assets: (
        ResMut<Assets<Image>>,
        ResMut<Assets<Mesh>>,
        ResMut<Assets<StandardMaterial>>,
    ),
) {
    let (context, surface) = super::panel::spawn_egui_surface(
        &mut commands,
        &mut assets,
        PIXELS,
        METRES,
        XrLabelPass,
        "xr-part-label",
    );
    commands.entity(context).insert(LabelContext);
    commands.entity(surface).insert((
        Transform::default(),
        Visibility::Hidden,
        super::NotPointable,
    ));
    commands.insert_resource(PartLabel { context, surface });
}

/// Over the selected part's top (its edge nearest the eye), facing the eye, sized by
/// distance, and moved aside where the panel would hide it.
fn hang_the_label(
    label: Res<PartLabel>,
    selected: super::selected::SelectedPart,
    mut surfaces: Query<(&mut Transform, &mut Visibility)>,
    mut cameras: Query<&mut Camera>,
    panel: Option<Res<super::panel::XrPanel>>,
    poses: Query<&GlobalTransform>,
) {
    let Ok((mut transform, mut visibility)) = surfaces.get_mut(label.surface) else {
        return;
    };
    let Ok(mut camera) = cameras.get_mut(label.context) else {
        return;
    };
    let over = selected.bounds().zip(selected.eye());
    // Hidden, its texture is not drawn either.
    let Some(((min, max), eye)) = over else {
        visibility.set_if_neq(Visibility::Hidden);
        if camera.is_active {
            camera.is_active = false;
        }
        return;
    };
    if !camera.is_active {
        camera.is_active = true;
    }
    // Over the top's edge nearest the eye, so the part itself does not hide the label's
    // lower half from someone standing close and looking down at it.
    let near = Vec3::new(eye.x.clamp(min.x, max.x), max.y, eye.z.clamp(min.z, max.z));
    let top = near.lerp(
        Vec3::new((min.x + max.x) / 2.0, max.y, (min.z + max.z) / 2.0),
        0.25,
    );
    let distance = eye.distance(top).max(0.1);
    let scale = (distance / READING_DISTANCE).clamp(0.2, 12.0);
    let mut at = top + Vec3::Y * (METRES.y / 2.0 + 0.05) * scale;
    if let Some(panel) = panel.as_ref().and_then(|p| poses.get(p.surface).ok()) {
        at = super::clearance::clear_of_panel(
            eye,
            at,
            METRES * scale,
            &super::panel::XrPanel::corners(panel),
        );
    }
    // Turned about the vertical only, its face (+Z) towards the eye.
    let towards = Vec3::new(eye.x - at.x, 0.0, eye.z - at.z);
    let rotation = if towards.length_squared() > 1e-6 {
        Quat::from_rotation_arc(Vec3::Z, towards.normalize())
    } else {
        Quat::IDENTITY
    };
    *transform = Transform {
        translation: at,
        rotation,
        scale: Vec3::splat(scale),
    };
    visibility.set_if_neq(Visibility::Inherited);
}

fn draw_the_label(
    mut context: Single<&mut EguiContext, With<LabelContext>>,
    selection: Res<Selection>,
    state: Res<TwinState>,
    mut said: ResMut<XrLabelText>,
    mut cost: Option<ResMut<super::XrFrameCost>>,
    mut zoomed: Local<bool>,
) {
    let started = std::time::Instant::now();
    let ctx = context.get_mut();
    if !*zoomed {
        ctx.set_zoom_factor(ZOOM);
        *zoomed = true;
    }
    let content = selection
        .twin
        .filter(|t| (t.0 as usize) < state.store.len())
        .map(|twin| LabelContent::of(&state.store, twin));
    let line = content.as_ref().map(LabelContent::one_line);
    if said.0 != line {
        said.0 = line;
    }
    let Some(content) = content else { return };
    let size = ctx.viewport_rect().size();
    egui::Area::new(egui::Id::new("xr-label"))
        .fixed_pos(egui::Pos2::ZERO)
        .show(ctx, |ui| {
            egui::Frame::central_panel(ui.style()).show(ui, |ui| {
                ui.set_min_size(size - egui::vec2(16.0, 16.0));
                ui.label(egui::RichText::new(&content.title).strong().size(16.0));
                for value in &content.values {
                    ui.label(egui::RichText::new(value).monospace());
                }
                if let Some((colour, text)) = &content.alarm {
                    ui.label(egui::RichText::new(text).color(*colour).strong());
                }
            });
        });
    if let Some(cost) = cost.as_mut() {
        cost.add_panels(started.elapsed());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use twinscope_core::rules::RuleSet;
    use twinscope_core::twin::{Severity, StoreConfig};
    use twinscope_core::{Timestamp, TwinUpdate};

    #[test]
    fn a_label_names_the_part_its_values_and_its_worst_alarm() {
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
        let pump = store.declare("pump", None, Some("Pump 1"));
        let now = Timestamp(1_700_000_000_000_000);
        store.apply(
            &TwinUpdate::Measurement {
                twin: "pump".into(),
                name: "flow".into(),
                value: 48.123,
                time: now,
            },
            now,
        );
        store.apply(
            &TwinUpdate::Unit {
                twin: "pump".into(),
                name: "flow".into(),
                unit: "m³/h".into(),
            },
            now,
        );
        assert_eq!(
            LabelContent::of(&store, pump).one_line(),
            "Pump 1 | flow 48.1 m³/h"
        );
        for (kind, severity, text) in [
            ("warm", Severity::Minor, "Warm"),
            ("seal", Severity::Critical, "Seal leaking"),
        ] {
            store.apply(
                &TwinUpdate::AlarmRaised {
                    twin: "pump".into(),
                    alarm_type: kind.into(),
                    severity,
                    text: text.into(),
                    time: now,
                },
                now,
            );
        }
        let label = LabelContent::of(&store, pump);
        assert_eq!(
            label.one_line(),
            "Pump 1 | flow 48.1 m³/h | CRITICAL: Seal leaking",
            "the worst alarm"
        );
        assert_eq!(
            label.alarm.map(|a| a.0),
            Some(crate::ui::alarm_panel::severity_color(Severity::Critical))
        );
    }
}
