//! The inspector in the headset: the desktop's inspector panel (breadcrumb, status, values
//! with units, trends with limits, the twin's alarms, its parts), drawn by the same panel
//! code into a texture on a quad that floats at the user's left, at arm's length, turned
//! towards them. It follows the user (it hangs from the tracking root) and always shows the
//! selection. A controller's aim ray works it like a mouse: where the ray meets the panel is
//! the pointer, and the select button clicks ([`XrPanel::point`]); its buttons send the same
//! commands as on the desktop (Ack, Shelve, a crumb, a part).

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
use crate::ui::PanelState;
use crate::ui::dispatch::CommandOutlets;

/// The floating inspector.
pub struct XrInspectorPanelPlugin;

/// The egui pass that draws the headset's panel.
#[derive(ScheduleLabel, Clone, Debug, PartialEq, Eq, Hash)]
pub struct XrPanelPass;

/// The panel's texture, in pixels (square), and its size in the world, in metres.
const PIXELS: u32 = 1024;
const METRES: f32 = 0.6;
/// egui's zoom on the panel: text big enough to read at arm's length.
const ZOOM: f32 = 2.0;

/// The panel: its egui context and the quad that shows it.
#[derive(Resource, Debug, Clone, Copy)]
pub struct XrPanel {
    pub context: Entity,
    pub surface: Entity,
}

impl XrPanel {
    /// Where a world point on the surface is in the panel's egui coordinates (points, after
    /// the zoom), if on it. `surface` is the quad's transform.
    pub fn point(surface: &GlobalTransform, world: Vec3) -> Option<egui::Pos2> {
        let local = surface.affine().inverse().transform_point3(world);
        let (u, v) = (local.x / METRES + 0.5, 0.5 - local.y / METRES);
        ((0.0..=1.0).contains(&u) && (0.0..=1.0).contains(&v)).then(|| egui::pos2(u * PIXELS as f32 / ZOOM, v * PIXELS as f32 / ZOOM))
    }
}

impl Plugin for XrInspectorPanelPlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<EguiPlugin>() {
            app.add_plugins(EguiPlugin::default());
        }
        // The panel's commands go where the desktop's go; these have no sender in the headset.
        app.add_message::<crate::recording::RecordCommand>().add_message::<crate::dvr::DvrCommand>();
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
    let context = commands
        .spawn((
            Camera3d::default(),
            Camera { order: -2, clear_color: ClearColorConfig::Custom(Color::srgba(0.08, 0.09, 0.11, 0.92)), ..default() },
            RenderTarget::Image(image.clone().into()),
            RenderLayers::none(),
            EguiSchedule::new(XrPanelPass),
            Name::new("xr-panel-context"),
        ))
        .id();
    // At the user's left, at arm's length, a little below the eyes, turned towards them; a
    // test hook (`TWINSCOPE_XR_TEST_PANEL_AT=x,y,z`) hangs it straight ahead instead.
    let at = test_panel_position().unwrap_or(Vec3::new(-0.42, 1.35, -0.7));
    let surface = commands.spawn((
        Mesh3d(meshes.add(Plane3d::new(Vec3::Z, Vec2::splat(METRES / 2.0)).mesh())),
        MeshMaterial3d(materials.add(StandardMaterial { base_color_texture: Some(image), unlit: true, alpha_mode: AlphaMode::Blend, ..default() })),
        match test_panel_position() {
            Some(_) => Transform::from_translation(at),
            None => Transform::from_translation(at).looking_to(-Vec3::new(-at.x, 0.0, -at.z).normalize(), Vec3::Y),
        },
        XrTracker,
        Name::new("xr-inspector-panel"),
    )).id();
    commands.insert_resource(XrPanel { context, surface });
}

fn test_panel_position() -> Option<Vec3> {
    let text = std::env::var("TWINSCOPE_XR_TEST_PANEL_AT").ok()?;
    let parts: Vec<f32> = text.split(',').filter_map(|p| p.trim().parse().ok()).collect();
    (parts.len() == 3).then(|| Vec3::new(parts[0], parts[1], parts[2]))
}

#[allow(clippy::too_many_arguments)]
fn draw_the_inspector(
    mut context: Single<&mut EguiContext, Without<PrimaryEguiContext>>,
    state: Res<TwinState>,
    selection: Res<Selection>,
    focus: Res<FocusMode>,
    mut panels: Option<ResMut<PanelState>>,
    mut outlets: CommandOutlets,
    mut zoomed: Local<bool>,
    mut rollup: Local<Rollup>,
) {
    let ctx = context.get_mut();
    if !*zoomed {
        // Big enough to read at arm's length: about 2 cm capitals at 0.8 m.
        ctx.set_zoom_factor(ZOOM);
        *zoomed = true;
    }
    let view = selection.twin.filter(|t| (t.0 as usize) < state.store.len()).map(|twin| {
        rollup.compute_into(&state.store);
        crate::ui::model::inspector_view(&state.store, &rollup, twin, panels.as_ref().map_or(twinscope_core::time::UtcOffset(0), |p| p.clock))
    });
    // An area over the whole texture: a background-layer Ui would take no clicks.
    let size = ctx.viewport_rect().size();
    let commands = egui::Area::new(egui::Id::new("xr-inspector"))
        .fixed_pos(egui::Pos2::ZERO)
        .show(ctx, |ui| {
            egui::Frame::central_panel(ui.style())
                .show(ui, |ui| {
                    ui.set_min_size(size - egui::vec2(16.0, 16.0));
                    crate::ui::panels::inspector(ui, view.as_ref(), *focus, 30)
                })
                .inner
        })
        .inner;
    if let Some(panels) = panels.as_mut() {
        for command in commands {
            info!("headset panel: {command:?}");
            outlets.send(command, panels, selection.twin, None);
        }
    }
}
