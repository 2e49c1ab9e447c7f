//! The headset's panel: the desktop's inspector (breadcrumb, status, values with units,
//! trends with limits, the twin's alarms, its parts), alarm list (Ack, Shelve) and plant tree,
//! drawn by the same panel code into a texture on a quad, one at a time under tabs. A
//! toolbar along its bottom switches the view (walkthrough or tabletop) and places the panel:
//! floating at the user's left at arm's length (it follows the user), held in a hand (the
//! off hand, like a clipboard; the hand's panel button summons it), or pinned where it is in
//! the plant. A controller's aim ray works it like a mouse: where the ray meets the panel is
//! the pointer, and the select button clicks ([`XrPanel::point`]); its buttons send the same
//! commands as on the desktop.

use bevy::camera::RenderTarget;
use bevy::camera::visibility::RenderLayers;
use bevy::ecs::schedule::ScheduleLabel;
use bevy::prelude::*;
use bevy::render::render_resource::TextureFormat;
use bevy_egui::{EguiContext, EguiGlobalSettings, EguiPlugin, EguiSchedule, egui};
use bevy_mod_xr::session::XrTrackingRoot;
use twinscope_core::twin::tree::Rollup;

use super::controllers::{AimPose, Hand};
use super::tabletop::{XrViewCommand, XrViewMode};
use crate::scene::focus::FocusMode;
use crate::scene::selection::Selection;
use crate::store::sync::TwinState;
use crate::ui::PanelState;
use crate::ui::dispatch::CommandOutlets;

/// The headset's panel.
pub struct XrInspectorPanelPlugin;

/// The egui pass that draws the headset's panel.
#[derive(ScheduleLabel, Clone, Debug, PartialEq, Eq, Hash)]
pub struct XrPanelPass;

/// The panel's texture, in pixels (square), and its size in the world, in metres.
const PIXELS: u32 = 1024;
const METRES: f32 = 0.6;
/// egui's zoom on the panel: text big enough to read at arm's length.
const ZOOM: f32 = 2.0;
/// The toolbar's height along the panel's bottom, in egui points.
const TOOLBAR: f32 = 40.0;
/// Held in a hand the panel is this much smaller (a clipboard, not a wall).
const IN_HAND_SCALE: f32 = 0.6;

/// The panel: its egui context and the quad that shows it.
#[derive(Resource, Debug, Clone, Copy)]
pub struct XrPanel {
    pub context: Entity,
    pub surface: Entity,
}

/// Where the panel is.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum XrPanelPlace {
    /// At the user's left, at arm's length, moving with the user.
    #[default]
    Floating,
    /// Held in this hand.
    InHand(Hand),
    /// Left where it was, in the plant.
    Pinned,
}

/// A request to move the panel (from a hand's panel button or the toolbar).
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub enum XrPanelCommand {
    Place(XrPanelPlace),
    /// A hand's panel button: to that hand, or pinned if it is already there.
    Summon(Hand),
}

/// What the panel shows.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum XrPanelTab {
    #[default]
    Inspector,
    Alarms,
    Plant,
    /// The replay timeline (play, pause, speed, seek, step, alarm to alarm), when replaying.
    Replay,
    /// Who else is in the shared session (Go to, Follow), when in one.
    Session,
    /// Operations on the selected twin's device (Send is held to confirm).
    Operations,
}

impl XrPanelTab {
    /// The tab to start on: a test hook (`TWINSCOPE_XR_TEST_TAB=alarms|plant|replay`) for
    /// eye images of each tab; the inspector otherwise.
    fn from_test_hook() -> Self {
        match std::env::var("TWINSCOPE_XR_TEST_TAB").as_deref() {
            Ok("alarms") => XrPanelTab::Alarms,
            Ok("plant") => XrPanelTab::Plant,
            Ok("replay") => XrPanelTab::Replay,
            Ok("session") => XrPanelTab::Session,
            Ok("operations") => XrPanelTab::Operations,
            _ => XrPanelTab::Inspector,
        }
    }
}

/// Marks the panel's egui context.
#[derive(Component)]
struct PanelContext;

impl XrPanel {
    /// The panel quad's corners in the world, where `pose` is its surface's.
    pub fn corners(pose: &GlobalTransform) -> [Vec3; 4] {
        super::clearance::quad_corners(pose, Vec2::splat(METRES))
    }

    /// Where a world point on the surface is in the panel's egui coordinates (points, after
    /// the zoom), if on it. `surface` is the quad's transform.
    pub fn point(surface: &GlobalTransform, world: Vec3) -> Option<egui::Pos2> {
        let local = surface.affine().inverse().transform_point3(world);
        let (u, v) = (local.x / METRES + 0.5, 0.5 - local.y / METRES);
        ((0.0..=1.0).contains(&u) && (0.0..=1.0).contains(&v))
            .then(|| egui::pos2(u * PIXELS as f32 / ZOOM, v * PIXELS as f32 / ZOOM))
    }
}

impl Plugin for XrInspectorPanelPlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<EguiPlugin>() {
            app.add_plugins(EguiPlugin::default());
        }
        // The panel's commands go where the desktop's go; these have no sender in the headset.
        app.add_message::<crate::history::recording::RecordCommand>()
            .add_message::<crate::history::dvr::DvrCommand>()
            .add_message::<crate::archive::OpenTrend>();
        app.init_resource::<XrPanelPlace>()
            .insert_resource(XrPanelTab::from_test_hook())
            .add_message::<XrPanelCommand>()
            .add_systems(Startup, spawn_the_panel)
            .add_systems(Update, place_the_panel.in_set(super::XrSystems::Move))
            .add_systems(XrPanelPass, draw_the_panel);
    }
}

/// An egui context drawing into a `pixels` texture shown on a `metres` quad (facing +Z),
/// drawn in `pass`. The quad is not parented: the caller places it.
pub(super) fn spawn_egui_surface(
    commands: &mut Commands,
    assets: &mut (
        ResMut<Assets<Image>>,
        ResMut<Assets<Mesh>>,
        ResMut<Assets<StandardMaterial>>,
    ),
    pixels: UVec2,
    metres: Vec2,
    pass: impl ScheduleLabel + Clone,
    name: &str,
) -> (Entity, Entity) {
    let (images, meshes, materials) = assets;
    let image = images.add(Image::new_target_texture(
        pixels.x,
        pixels.y,
        TextureFormat::Rgba8Unorm,
        Some(TextureFormat::Rgba8UnormSrgb),
    ));
    let context = commands
        .spawn((
            Camera3d::default(),
            Camera {
                order: -2,
                clear_color: ClearColorConfig::Custom(Color::srgba(0.08, 0.09, 0.11, 0.92)),
                ..default()
            },
            RenderTarget::Image(image.clone().into()),
            RenderLayers::none(),
            EguiSchedule::new(pass),
            Name::new(format!("{name}-context")),
        ))
        .id();
    let surface = commands
        .spawn((
            Mesh3d(meshes.add(Plane3d::new(Vec3::Z, metres / 2.0).mesh())),
            MeshMaterial3d(materials.add(StandardMaterial {
                base_color_texture: Some(image),
                unlit: true,
                alpha_mode: AlphaMode::Blend,
                ..default()
            })),
            Name::new(name.to_owned()),
        ))
        .id();
    (context, surface)
}

fn spawn_the_panel(
    mut commands: Commands,
    mut assets: (
        ResMut<Assets<Image>>,
        ResMut<Assets<Mesh>>,
        ResMut<Assets<StandardMaterial>>,
    ),
    mut egui_settings: ResMut<EguiGlobalSettings>,
) {
    // No window here: the headset's contexts are the only ones.
    egui_settings.auto_create_primary_context = false;
    let (context, surface) = spawn_egui_surface(
        &mut commands,
        &mut assets,
        UVec2::splat(PIXELS),
        Vec2::splat(METRES),
        XrPanelPass,
        "xr-panel",
    );
    commands.entity(context).insert(PanelContext);
    commands
        .entity(surface)
        .insert((floating_pose(), bevy_mod_xr::session::XrTracker));
    commands.insert_resource(XrPanel { context, surface });
}

/// At the user's left, at arm's length, a little below the eyes, turned towards them; a
/// test hook (`TWINSCOPE_XR_TEST_PANEL_AT=x,y,z`) hangs it straight ahead instead.
fn floating_pose() -> Transform {
    match test_panel_position() {
        Some(at) => Transform::from_translation(at),
        None => {
            let at = Vec3::new(-0.42, 1.35, -0.7);
            Transform::from_translation(at)
                .looking_to(-Vec3::new(-at.x, 0.0, -at.z).normalize(), Vec3::Y)
        }
    }
}

fn test_panel_position() -> Option<Vec3> {
    let text = std::env::var("TWINSCOPE_XR_TEST_PANEL_AT").ok()?;
    let parts: Vec<f32> = text
        .split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    (parts.len() == 3).then(|| Vec3::new(parts[0], parts[1], parts[2]))
}

/// Moves the panel where it was asked to be: a child of the tracking root (floating), of a
/// hand's aim pose (in hand), or of nothing, keeping where it is in the world (pinned).
fn place_the_panel(
    mut requests: MessageReader<XrPanelCommand>,
    mut place: ResMut<XrPanelPlace>,
    panel: Option<Res<XrPanel>>,
    mut commands: Commands,
    root: Query<Entity, With<XrTrackingRoot>>,
    aims: Query<(Entity, &AimPose)>,
) {
    let Some(panel) = panel else { return };
    for request in requests.read() {
        let wanted = match *request {
            XrPanelCommand::Place(wanted) => wanted,
            XrPanelCommand::Summon(hand) if *place == XrPanelPlace::InHand(hand) => {
                XrPanelPlace::Pinned
            }
            XrPanelCommand::Summon(hand) => XrPanelPlace::InHand(hand),
        };
        let mut surface = commands.entity(panel.surface);
        match wanted {
            XrPanelPlace::Floating => {
                let Ok(root) = root.single() else { continue };
                surface.insert((ChildOf(root), floating_pose()));
            }
            XrPanelPlace::InHand(hand) => {
                let Some((aim, _)) = aims.iter().find(|(_, aim)| aim.0 == hand) else {
                    info!("the {hand:?} controller is not tracked; the panel stays where it is");
                    continue;
                };
                // Above the controller and a little ahead, facing back along the aim (towards
                // the user), tilted up to the eyes.
                let pose = Transform::from_xyz(0.0, 0.12, -0.12)
                    .with_rotation(Quat::from_rotation_x(0.5))
                    .with_scale(Vec3::splat(IN_HAND_SCALE));
                surface.insert((ChildOf(aim), pose));
            }
            XrPanelPlace::Pinned => {
                bevy::transform::commands::BuildChildrenTransformExt::remove_parent_in_place(
                    &mut surface,
                );
            }
        }
        info!(
            "the panel is {}",
            match wanted {
                XrPanelPlace::Floating => "floating at the left".to_owned(),
                XrPanelPlace::InHand(hand) =>
                    format!("in the {} hand", format!("{hand:?}").to_lowercase()),
                XrPanelPlace::Pinned => "pinned where it is".to_owned(),
            }
        );
        *place = wanted;
    }
}

/// What the toolbar asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ToolbarAction {
    View(XrViewCommand),
    Panel(XrPanelCommand),
    /// Hand the session over to the desktop.
    ContinueOnDesktop,
}

#[allow(clippy::too_many_arguments)]
fn draw_the_panel(
    mut context: Single<&mut EguiContext, With<PanelContext>>,
    state: Res<TwinState>,
    selection: Res<Selection>,
    focus: Res<FocusMode>,
    (mode, place, mut tab): (Res<XrViewMode>, Res<XrPanelPlace>, ResMut<XrPanelTab>),
    mut panels: Option<ResMut<PanelState>>,
    replay: Option<Res<crate::history::replay::ReplaySession>>,
    mut outlets: CommandOutlets,
    (mut view_commands, mut panel_commands): (
        MessageWriter<XrViewCommand>,
        MessageWriter<XrPanelCommand>,
    ),
    (session, mut session_commands): (
        Option<Res<crate::session::SharedSession>>,
        MessageWriter<crate::session::SessionCommand>,
    ),
    (participants, following): (
        Option<Res<crate::session::Participants>>,
        Option<Res<crate::session::Following>>,
    ),
    (session_notes, mut note_commands): (
        Option<Res<crate::session::notes::SessionNotes>>,
        MessageWriter<crate::session::notes::NoteCommand>,
    ),
    (operations, mut operations_ui, mut operation_messages): (
        Option<Res<crate::operations::PlantOperations>>,
        Option<ResMut<crate::operations::OperationsUi>>,
        MessageWriter<crate::operations::OperationMessage>,
    ),
    mut cost: Option<ResMut<super::XrFrameCost>>,
    mut zoomed: Local<bool>,
    mut rollup: Local<Rollup>,
) {
    let started = std::time::Instant::now();
    let in_session = session.is_some();
    let ctx = context.get_mut();
    if !*zoomed {
        // Big enough to read at arm's length: about 2 cm capitals at 0.8 m.
        ctx.set_zoom_factor(ZOOM);
        *zoomed = true;
    }
    let size = ctx.viewport_rect().size();
    let clock = panels
        .as_ref()
        .map_or_else(Default::default, |p| p.clock.clone());
    // The tab's content in an area over the texture above the toolbar (a background-layer
    // Ui would take no clicks).
    let mut session_requests = Vec::new();
    let mut note_requests = Vec::new();
    let mut operation_requests = Vec::new();
    let commands = egui::Area::new(egui::Id::new("xr-panel"))
        .fixed_pos(egui::Pos2::ZERO)
        .show(ctx, |ui| {
            egui::Frame::central_panel(ui.style())
                .show(ui, |ui| {
                    ui.set_min_size(size - egui::vec2(16.0, 16.0 + TOOLBAR));
                    ui.set_max_size(size - egui::vec2(16.0, 16.0 + TOOLBAR));
                    match (*tab, panels.as_deref_mut()) {
                        (XrPanelTab::Alarms, Some(panels)) => crate::ui::alarm_panel::alarm_panel(
                            ui,
                            &state.store,
                            &mut panels.alarms,
                            selection.twin,
                            &clock,
                        ),
                        (XrPanelTab::Plant, Some(panels)) => {
                            panels.open_tree_once(&state.store);
                            rollup.compute_into(&state.store);
                            crate::ui::tree_panel::tree_panel(
                                ui,
                                &state.store,
                                &rollup,
                                &mut panels.tree,
                                selection.twin,
                            )
                        }
                        (XrPanelTab::Session, _) if in_session => {
                            if let (Some(participants), Some(following)) =
                                (participants.as_deref(), following.as_deref())
                            {
                                ui.heading(format!("Session {}", participants.session));
                                session_requests = crate::session::panel::participant_rows(
                                    ui,
                                    participants,
                                    following,
                                );
                            }
                            if let Some(notes) = session_notes.as_deref() {
                                ui.separator();
                                let selected = selection
                                    .twin
                                    .filter(|t| (t.0 as usize) < state.store.len())
                                    .map(|t| (t, state.store.get(t).id.as_str()));
                                note_requests =
                                    crate::session::notes_panel::headset_notes(ui, notes, selected);
                            }
                            Vec::new()
                        }
                        (XrPanelTab::Operations, _) if operations.is_some() => {
                            let link = &operations.as_deref().expect("checked").0;
                            match (
                                selection
                                    .twin
                                    .filter(|t| (t.0 as usize) < state.store.len()),
                                operations_ui.as_deref_mut(),
                            ) {
                                (Some(twin), Some(ui_state)) => {
                                    let mut view = crate::operations::operations_view(
                                        link,
                                        state.store.get(twin).id.as_str(),
                                        &clock,
                                    );
                                    view.hold_to_send = true;
                                    ui.heading(format!("Operations: {}", view.twin));
                                    operation_requests =
                                        crate::operations::window::operations_window(
                                            ui,
                                            &view,
                                            &mut ui_state.draft,
                                        );
                                }
                                _ => {
                                    ui.label("Select a part to see its device's operations.");
                                }
                            }
                            Vec::new()
                        }
                        (XrPanelTab::Replay, _) if replay.is_some() => {
                            let view =
                                crate::ui::timeline_view(replay.as_deref().expect("checked"));
                            ui.add_space(8.0);
                            crate::ui::panels::timeline(ui, &view, &crate::history::replay::SPEEDS)
                        }
                        _ => {
                            let view = selection
                                .twin
                                .filter(|t| (t.0 as usize) < state.store.len())
                                .map(|twin| {
                                    rollup.compute_into(&state.store);
                                    crate::ui::model::inspector_view(
                                        &state.store,
                                        &rollup,
                                        twin,
                                        &clock,
                                    )
                                });
                            crate::ui::panels::inspector(ui, view.as_ref(), *focus, 30)
                        }
                    }
                })
                .inner
        })
        .inner;
    let actions = egui::Area::new(egui::Id::new("xr-toolbar"))
        .order(egui::Order::Foreground)
        .fixed_pos(egui::pos2(0.0, size.y - TOOLBAR))
        .show(ctx, |ui| {
            toolbar(
                ui,
                size.x,
                &mut tab,
                (replay.is_some(), in_session, operations.is_some()),
                *mode,
                *place,
            )
        })
        .inner;
    for request in session_requests {
        info!("headset panel: {request:?}");
        session_commands.write(request);
    }
    for request in note_requests {
        info!("headset panel: {request:?}");
        note_commands.write(request);
    }
    for request in operation_requests {
        info!("headset panel: {request:?}");
        operation_messages.write(crate::operations::OperationMessage(request));
    }
    for action in actions {
        match action {
            ToolbarAction::View(command) => {
                view_commands.write(command);
            }
            ToolbarAction::Panel(command) => {
                panel_commands.write(command);
            }
            ToolbarAction::ContinueOnDesktop => {
                session_commands.write(crate::session::SessionCommand::ContinueOn(
                    twinscope_core::session::Device::Desktop,
                ));
            }
        }
    }
    if let Some(panels) = panels.as_mut() {
        for command in commands {
            info!("headset panel: {command:?}");
            outlets.send(
                command,
                panels,
                selection.twin,
                replay.as_ref().map(|r| r.start),
            );
        }
    }
    if let Some(cost) = cost.as_mut() {
        cost.add_panels(started.elapsed());
    }
}

/// The tabs, the view switch and the panel's place, in one row.
fn toolbar(
    ui: &mut egui::Ui,
    width: f32,
    tab: &mut XrPanelTab,
    (replaying, in_session, operating): (bool, bool, bool),
    mode: XrViewMode,
    place: XrPanelPlace,
) -> Vec<ToolbarAction> {
    let mut actions = Vec::new();
    egui::Frame::side_top_panel(ui.style()).show(ui, |ui| {
        ui.set_min_size(egui::vec2(width - 16.0, TOOLBAR - 16.0));
        ui.horizontal(|ui| {
            ui.selectable_value(tab, XrPanelTab::Inspector, "Inspector");
            ui.selectable_value(tab, XrPanelTab::Alarms, "Alarms");
            ui.selectable_value(tab, XrPanelTab::Plant, "Plant");
            if replaying {
                ui.selectable_value(tab, XrPanelTab::Replay, "Replay");
            }
            if in_session {
                ui.selectable_value(tab, XrPanelTab::Session, "Session");
            }
            if operating {
                ui.selectable_value(tab, XrPanelTab::Operations, "Ops");
            }
            ui.separator();
            let (label, other) = match mode {
                XrViewMode::Walkthrough => ("Table", XrViewMode::Tabletop),
                XrViewMode::Tabletop => ("Walk", XrViewMode::Walkthrough),
            };
            if ui
                .button(label)
                .on_hover_text("switch between the walkthrough and the tabletop")
                .clicked()
            {
                actions.push(ToolbarAction::View(XrViewCommand::Set(other)));
            }
            let (label, to) = match place {
                XrPanelPlace::Floating => ("Pin", XrPanelPlace::Pinned),
                XrPanelPlace::InHand(_) => ("Pin", XrPanelPlace::Pinned),
                XrPanelPlace::Pinned => ("Follow", XrPanelPlace::Floating),
            };
            if ui.button(label).clicked() {
                actions.push(ToolbarAction::Panel(XrPanelCommand::Place(to)));
            }
            if ui
                .button("To hand")
                .on_hover_text("hold the panel in the left hand")
                .clicked()
            {
                actions.push(ToolbarAction::Panel(XrPanelCommand::Place(
                    XrPanelPlace::InHand(Hand::Left),
                )));
            }
            if in_session
                && ui
                    .button("Desktop")
                    .on_hover_text("continue this session on the desktop, where you stand")
                    .clicked()
            {
                actions.push(ToolbarAction::ContinueOnDesktop);
            }
        });
    });
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::testing::PanelHarness;

    /// Clicks `text` on the toolbar of a replay in a session; returns the actions and the tab
    /// afterwards.
    fn click(
        text: &str,
        tab: XrPanelTab,
        mode: XrViewMode,
        place: XrPanelPlace,
    ) -> (Vec<ToolbarAction>, XrPanelTab) {
        click_with((true, true, false), text, tab, mode, place)
    }

    /// The same with these tabs (replaying, in a session, operations).
    fn click_with(
        tabs: (bool, bool, bool),
        text: &str,
        tab: XrPanelTab,
        mode: XrViewMode,
        place: XrPanelPlace,
    ) -> (Vec<ToolbarAction>, XrPanelTab) {
        let mut harness = PanelHarness::new(512.0, 40.0);
        let mut shown = tab;
        harness.frame(vec![], |ui| {
            toolbar(ui, 512.0, &mut shown, tabs, mode, place)
        });
        let at = harness
            .find(text)
            .unwrap_or_else(|| panic!("{text} on the toolbar: {:?}", harness.texts));
        let actions = harness
            .click(at, |ui| toolbar(ui, 512.0, &mut shown, tabs, mode, place))
            .concat();
        (actions, shown)
    }

    #[test]
    fn the_tabs_switch_what_the_panel_shows() {
        let walking = (XrViewMode::Walkthrough, XrPanelPlace::Floating);
        assert_eq!(
            click("Alarms", XrPanelTab::Inspector, walking.0, walking.1),
            (vec![], XrPanelTab::Alarms)
        );
        assert_eq!(
            click("Plant", XrPanelTab::Alarms, walking.0, walking.1),
            (vec![], XrPanelTab::Plant)
        );
        assert_eq!(
            click("Inspector", XrPanelTab::Plant, walking.0, walking.1),
            (vec![], XrPanelTab::Inspector)
        );
        assert_eq!(
            click("Replay", XrPanelTab::Inspector, walking.0, walking.1),
            (vec![], XrPanelTab::Replay)
        );
        assert_eq!(
            click("Session", XrPanelTab::Inspector, walking.0, walking.1),
            (vec![], XrPanelTab::Session)
        );
        assert_eq!(
            click("Desktop", XrPanelTab::Inspector, walking.0, walking.1),
            (
                vec![ToolbarAction::ContinueOnDesktop],
                XrPanelTab::Inspector
            )
        );
    }

    #[test]
    fn live_in_a_session_the_ops_tab_shows_and_the_desktop_button_still_fits() {
        let live = (false, true, true);
        let walking = (XrViewMode::Walkthrough, XrPanelPlace::Floating);
        assert_eq!(
            click_with(live, "Ops", XrPanelTab::Inspector, walking.0, walking.1),
            (vec![], XrPanelTab::Operations)
        );
        assert_eq!(
            click_with(
                live,
                "Desktop",
                XrPanelTab::Operations,
                walking.0,
                walking.1
            ),
            (
                vec![ToolbarAction::ContinueOnDesktop],
                XrPanelTab::Operations
            )
        );
    }

    #[test]
    fn the_toolbar_switches_the_view_and_places_the_panel() {
        let tab = XrPanelTab::Inspector;
        let (actions, _) = click(
            "Table",
            tab,
            XrViewMode::Walkthrough,
            XrPanelPlace::Floating,
        );
        assert_eq!(
            actions,
            vec![ToolbarAction::View(XrViewCommand::Set(
                XrViewMode::Tabletop
            ))]
        );
        let (actions, _) = click("Walk", tab, XrViewMode::Tabletop, XrPanelPlace::Floating);
        assert_eq!(
            actions,
            vec![ToolbarAction::View(XrViewCommand::Set(
                XrViewMode::Walkthrough
            ))]
        );
        let (actions, _) = click(
            "Pin",
            tab,
            XrViewMode::Walkthrough,
            XrPanelPlace::InHand(Hand::Left),
        );
        assert_eq!(
            actions,
            vec![ToolbarAction::Panel(XrPanelCommand::Place(
                XrPanelPlace::Pinned
            ))]
        );
        let (actions, _) = click("Follow", tab, XrViewMode::Walkthrough, XrPanelPlace::Pinned);
        assert_eq!(
            actions,
            vec![ToolbarAction::Panel(XrPanelCommand::Place(
                XrPanelPlace::Floating
            ))]
        );
        let (actions, _) = click(
            "To hand",
            tab,
            XrViewMode::Walkthrough,
            XrPanelPlace::Floating,
        );
        assert_eq!(
            actions,
            vec![ToolbarAction::Panel(XrPanelCommand::Place(
                XrPanelPlace::InHand(Hand::Left)
            ))]
        );
    }

    #[test]
    fn a_ray_point_on_the_panel_maps_to_egui_points() {
        let surface = GlobalTransform::from(Transform::from_xyz(0.0, 1.3, -1.0));
        // The centre, the top-left corner, and off the panel.
        assert_eq!(
            XrPanel::point(&surface, Vec3::new(0.0, 1.3, -1.0)),
            Some(egui::pos2(256.0, 256.0))
        );
        let corner = XrPanel::point(&surface, Vec3::new(-METRES / 2.0, 1.3 + METRES / 2.0, -1.0))
            .expect("on the panel");
        assert!(corner.x.abs() < 1e-3 && corner.y.abs() < 1e-3, "{corner:?}");
        assert_eq!(XrPanel::point(&surface, Vec3::new(1.0, 1.3, -1.0)), None);
        // Held in a hand the panel is smaller: the same world point is further from the centre.
        let held = GlobalTransform::from(
            Transform::from_xyz(0.0, 1.3, -1.0).with_scale(Vec3::splat(IN_HAND_SCALE)),
        );
        let at = XrPanel::point(&held, Vec3::new(0.1, 1.3, -1.0)).expect("on the panel");
        assert!(
            (at.x - (256.0 + 0.1 / IN_HAND_SCALE / METRES * 512.0)).abs() < 0.01,
            "{at:?}"
        );
    }
}
