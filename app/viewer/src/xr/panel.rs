//! The inspector in the headset: the desktop's inspector panel (breadcrumb, status, values
//! with units, trends with limits, the twin's alarms, its parts), drawn by the same panel
//! code into a texture on a quad that floats at the user's left, at arm's length, turned
//! towards them. It follows the user (it hangs from the tracking root) and always shows the
//! selection. Read-only for now: the ray does not operate it yet.

use bevy::camera::RenderTarget;
use bevy::camera::visibility::RenderLayers;
use bevy::ecs::schedule::ScheduleLabel;
use bevy::prelude::*;
use bevy::render::render_resource::TextureFormat;
use bevy_egui::{EguiContext, EguiGlobalSettings, EguiPlugin, EguiSchedule, PrimaryEguiContext, egui};
use bevy_mod_xr::session::XrTracker;
use twinscope_core::twin::tree::Rollup;

use crate::focus::FocusMode;
use crate::selection::Selection;
use crate::sync::TwinState;

/// The floating inspector.
pub struct XrInspectorPanelPlugin;

/// The egui pass that draws the headset's panel.
#[derive(ScheduleLabel, Clone, Debug, PartialEq, Eq, Hash)]
pub struct XrPanelPass;

/// The panel's texture, in pixels (square), and its size in the world, in metres.
const PIXELS: u32 = 1024;
const METRES: f32 = 0.6;

impl Plugin for XrInspectorPanelPlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<EguiPlugin>() {
            app.add_plugins(EguiPlugin::default());
        }
        app.add_systems(Startup, spawn_the_panel).add_systems(XrPanelPass, draw_the_inspector);
    }
}

fn spawn_the_panel(
    mut commands: Commands,
    mut images: ResMut<Assets<Image>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut egui_settings: ResMut<EguiGlobalSettings>,
) {
    // No window here: the panel's context is the only one.
    egui_settings.auto_create_primary_context = false;
    let image = images.add(Image::new_target_texture(PIXELS, PIXELS, TextureFormat::Rgba8Unorm, Some(TextureFormat::Rgba8UnormSrgb)));
    commands.spawn((
        Camera3d::default(),
        Camera { order: -2, clear_color: ClearColorConfig::Custom(Color::srgba(0.08, 0.09, 0.11, 0.92)), ..default() },
        RenderTarget::Image(image.clone().into()),
        RenderLayers::none(),
        EguiSchedule::new(XrPanelPass),
        Name::new("xr-panel-context"),
    ));
    // At the user's left, at arm's length, a little below the eyes, turned towards them.
    let at = Vec3::new(-0.42, 1.35, -0.7);
    commands.spawn((
        Mesh3d(meshes.add(Plane3d::new(Vec3::Z, Vec2::splat(METRES / 2.0)).mesh())),
        MeshMaterial3d(materials.add(StandardMaterial { base_color_texture: Some(image), unlit: true, alpha_mode: AlphaMode::Blend, ..default() })),
        Transform::from_translation(at).looking_to(-Vec3::new(-at.x, 0.0, -at.z).normalize(), Vec3::Y),
        XrTracker,
        Name::new("xr-inspector-panel"),
    ));
}

fn draw_the_inspector(
    mut context: Single<&mut EguiContext, Without<PrimaryEguiContext>>,
    state: Res<TwinState>,
    selection: Res<Selection>,
    focus: Res<FocusMode>,
    panels: Option<Res<crate::ui::PanelState>>,
    mut zoomed: Local<bool>,
    mut rollup: Local<Rollup>,
) {
    let ctx = context.get_mut();
    if !*zoomed {
        // Big enough to read at arm's length: about 2 cm capitals at 0.8 m.
        ctx.set_zoom_factor(2.0);
        *zoomed = true;
    }
    let view = selection.twin.filter(|t| (t.0 as usize) < state.store.len()).map(|twin| {
        rollup.compute_into(&state.store);
        crate::ui::model::inspector_view(&state.store, &rollup, twin, panels.as_ref().map_or(twinscope_core::time::UtcOffset(0), |p| p.clock))
    });
    let area = egui::UiBuilder::new().layer_id(egui::LayerId::background()).max_rect(ctx.viewport_rect());
    let mut root = egui::Ui::new(ctx.clone(), "xr-panel".into(), area);
    egui::CentralPanel::default().show(&mut root, |ui| {
        let _ = crate::ui::panels::inspector(ui, view.as_ref(), *focus, 30);
    });
}
