//! UI panels: the plant tree (left), the inspector for the selected twin (right), the alarm
//! list (bottom), an always-visible status bar with alarm counts, and the help overlay.
//!
//! Views are built from the store as plain data ([`model`], [`tree_view`], [`alarm_view`]);
//! the drawing modules draw them with egui and return [`model::UiCommand`]s, which this
//! plugin turns into the same messages picking and the keyboard send. Nothing in the UI
//! mutates twin state.

pub mod alarm_panel;
pub mod alarm_view;
pub(crate) mod dispatch;
pub mod help;
pub mod model;
pub mod overlay;
pub mod panels;
#[cfg(test)]
pub(crate) mod testing;
pub mod tree_panel;
pub mod tree_view;
pub mod trend;

use bevy::camera::visibility::RenderLayers;
use bevy::camera::{CameraOutputMode, Viewport};
use bevy::prelude::*;
use bevy::render::render_resource::BlendState;
use bevy::window::PrimaryWindow;
use bevy_egui::egui::{self, LayerId, UiBuilder};
use bevy_egui::{
    EguiContexts, EguiGlobalSettings, EguiPlugin, EguiPrimaryContextPass, PrimaryEguiContext,
};

use twinscope_core::twin::tree::Rollup;

use bevy::ecs::system::SystemParam;

use crate::history::dvr::{Dvr, DvrCommand};
use crate::history::recording::{LiveRecorder, RecordCommand};
use crate::history::replay::{ReplayCommand, ReplaySession, SPEEDS};
use crate::scene::binding::SceneStatus;
use crate::scene::focus::{FocusCommand, FocusMode};
use crate::scene::selection::FrameTwin;
use crate::scene::selection::Selection;
use crate::store::alarm_actions::{AckPublisher, AlarmCommand, AlarmExport};
use crate::store::sync::LiveStash;
use crate::store::sync::{ConnectionInfo, IngestRate, TwinState};

/// Draws the inspector and the status bar.
pub struct UiPanelsPlugin;

impl Plugin for UiPanelsPlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<EguiPlugin>() {
            app.add_plugins(EguiPlugin::default());
        }
        app.add_message::<ReplayCommand>()
            .add_message::<RecordCommand>()
            .add_message::<DvrCommand>()
            .add_message::<AlarmCommand>()
            .add_message::<FocusCommand>()
            .add_message::<FrameTwin>()
            .add_message::<crate::archive::OpenTrend>()
            .init_resource::<PanelState>()
            .add_systems(Startup, spawn_ui_camera)
            .add_systems(Update, panel_shortcuts)
            .add_systems(EguiPrimaryContextPass, draw_panels.in_set(PanelsDrawn));
    }
}

/// CPU time of building the views and laying out the panels, per frame (egui's tessellation
/// and drawing come after and are not included); the frame-time summary reports it. Present
/// only for runs that end by themselves (`--exit-after`), so a live session does not grow it.
#[derive(Resource, Default)]
pub struct UiCost {
    pub seconds: Vec<f32>,
}

/// Where the main panels are drawn in egui's pass: other rooms' windows come after, to stand
/// clear of them ([`PanelState::bottom_inset`]).
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct PanelsDrawn;

/// What the panels show and remember between frames (view state, not twin state).
#[derive(Resource)]
pub struct PanelState {
    pub show_tree: bool,
    pub show_alarms: bool,
    pub show_inspector: bool,
    pub show_help: bool,
    /// Expand the whole tree once the scene has twins (`--expand-tree`); otherwise the top
    /// level opens, so the plant's lines show at once.
    pub expand_tree_on_start: bool,
    tree_opened: bool,
    pub tree: tree_view::HierarchyState,
    pub alarms: alarm_view::AlarmListState,
    pub rollup: Rollup,
    /// Times in the panels are shown on the plant's clock (`--utc-offset`, default this
    /// machine's); exports stay in UTC.
    pub clock: twinscope_core::time_zone::PlantClock,
    /// The model's load error was read and put away (it stays in the status bar).
    pub load_error_dismissed: bool,
    /// The same for a recording that could not be opened.
    pub recording_error_dismissed: bool,
    /// How much of the window's bottom the panels took last frame (logical pixels): other
    /// rooms' windows stand clear of it.
    pub bottom_inset: f32,
    /// The same for the window's right side (the inspector).
    pub right_inset: f32,
}

impl Default for PanelState {
    fn default() -> Self {
        PanelState {
            show_tree: true,
            show_alarms: true,
            show_inspector: true,
            show_help: false,
            expand_tree_on_start: false,
            tree_opened: false,
            tree: Default::default(),
            alarms: Default::default(),
            rollup: Rollup::default(),
            clock: Default::default(),
            load_error_dismissed: false,
            recording_error_dismissed: false,
            bottom_inset: 0.0,
            right_inset: 0.0,
        }
    }
}

impl PanelState {
    /// Every panel closed: just the 3D view and the status bar (`--panels closed`).
    pub fn closed() -> Self {
        PanelState {
            show_tree: false,
            show_alarms: false,
            show_inspector: false,
            ..Default::default()
        }
    }

    /// Once the scene has twins: the top level of the tree open (or all of it, with
    /// `--expand-tree`), so the plant's lines show at once.
    pub(crate) fn open_tree_once(&mut self, store: &twinscope_core::twin::TwinStore) {
        if !self.tree_opened && store.len() > 1 {
            if self.expand_tree_on_start {
                self.tree.expand_all(store);
            } else {
                self.tree.expanded.extend(store.roots());
            }
            self.tree_opened = true;
        }
    }
}

fn panel_shortcuts(
    keys: Option<Res<ButtonInput<KeyCode>>>,
    egui_input: Option<Res<bevy_egui::input::EguiWantsInput>>,
    mut panels: ResMut<PanelState>,
) {
    let Some(keys) = keys else { return };
    let control = keys.pressed(KeyCode::ControlLeft) || keys.pressed(KeyCode::ControlRight);
    if control && keys.just_pressed(KeyCode::KeyF) {
        panels.show_tree = true;
        panels.tree.focus_search = true;
        return;
    }
    if egui_input.is_some_and(|input| input.wants_keyboard_input()) {
        return;
    }
    if keys.just_pressed(KeyCode::KeyH) || keys.just_pressed(KeyCode::F1) {
        panels.show_help ^= true;
    }
    if keys.just_pressed(KeyCode::KeyT) {
        panels.show_tree ^= true;
    }
    if keys.just_pressed(KeyCode::KeyL) {
        panels.show_alarms ^= true;
    }
}

/// egui draws through a camera of its own, over the whole window, so the 3D camera can be
/// given just the area the panels leave free.
fn spawn_ui_camera(mut commands: Commands, mut settings: ResMut<EguiGlobalSettings>) {
    settings.auto_create_primary_context = false;
    commands.spawn((
        PrimaryEguiContext,
        Camera2d,
        RenderLayers::none(),
        Camera {
            order: 1,
            output_mode: CameraOutputMode::Write {
                blend_state: Some(BlendState::ALPHA_BLENDING),
                clear_color: ClearColorConfig::None,
            },
            clear_color: ClearColorConfig::Custom(Color::NONE),
            ..default()
        },
        Name::new("ui-camera"),
    ));
}

/// Everything the panels read.
#[derive(SystemParam)]
struct PanelSources<'w> {
    state: Res<'w, TwinState>,
    selection: Res<'w, Selection>,
    rate: Res<'w, IngestRate>,
    connection: Res<'w, ConnectionInfo>,
    scene: Res<'w, SceneStatus>,
    model_load: Option<Res<'w, crate::scene::model_load::ModelLoad>>,
    scene_source: Option<Res<'w, crate::scene::binding::SceneSource>>,
    opening: Option<Res<'w, crate::history::opening::OpeningRecording>>,
    recording_error: Option<Res<'w, crate::history::opening::RecordingError>>,
    focus: Res<'w, FocusMode>,
    replay: Option<Res<'w, ReplaySession>>,
    recorder: Option<Res<'w, LiveRecorder>>,
    dvr: Option<Res<'w, Dvr>>,
    stash: Option<Res<'w, LiveStash>>,
    export: Option<Res<'w, AlarmExport>>,
    ack_publisher: Option<Res<'w, AckPublisher>>,
    operations: Option<Res<'w, crate::operations::PlantOperations>>,
    timeline: Option<Res<'w, crate::session::timeline::TimelineStatus>>,
    archive: Option<Res<'w, crate::archive::ArchiveSource>>,
}

fn draw_panels(
    mut contexts: EguiContexts,
    sources: PanelSources,
    mut outlets: dispatch::CommandOutlets,
    mut panel_state: ResMut<PanelState>,
    mut cameras: Query<&mut Camera, With<Camera3d>>,
    windows: Query<&Window, With<PrimaryWindow>>,
    cost: Option<ResMut<UiCost>>,
) -> Result {
    let started = std::time::Instant::now();
    let panels = &mut *panel_state;
    let PanelSources {
        state,
        selection,
        rate,
        connection,
        scene,
        model_load,
        scene_source,
        opening,
        recording_error,
        focus,
        replay,
        recorder,
        dvr,
        stash,
        export,
        ack_publisher,
        timeline,
        operations,
        archive,
    } = &sources;
    let publishes_acks = ack_publisher.is_some();
    panels.open_tree_once(&state.store);
    if let Some(export) = export.as_ref().filter(|e| e.is_changed()) {
        panels.alarms.export_message = export.last.as_ref().map(|last| match last {
            Ok(path) => format!("saved {}", path.display()),
            Err(e) => e.clone(),
        });
    }
    if panels.show_tree || panels.show_inspector {
        panels.rollup.compute_into(&state.store);
    }
    let selected = selection
        .twin
        .filter(|t| (t.0 as usize) < state.store.len());
    let ctx = contexts.ctx_mut()?;
    let mut root = egui::Ui::new(
        ctx.clone(),
        "twinscope-root".into(),
        UiBuilder::new()
            .layer_id(LayerId::background())
            .max_rect(ctx.viewport_rect()),
    );
    let mut source = if connection.embedded {
        format!("{} (embedded demo)", connection.broker)
    } else {
        connection.broker.clone()
    };
    if !connection.speaks.is_empty() {
        source = format!("{source} · {}", connection.speaks);
    }
    let mut bar = model::status_bar_view(
        &state.store,
        &rate.snapshot,
        rate.messages_per_second,
        &source,
        replay.is_some(),
        scene.error.as_deref(),
    );
    bar.focus = **focus;
    bar.publishes_acks = publishes_acks;
    bar.operations_allowed = operations
        .as_ref()
        .is_some_and(|o| o.0.config().policy.enabled);
    bar.timeline = timeline.as_ref().and_then(|t| t.text.clone());
    bar.connection_details = model::connection_details(&rate.snapshot, &panels.clock);
    let record = model::RecordView {
        available: recorder.is_some(),
        progress: recorder.as_ref().and_then(|r| r.progress()),
        message: recorder.as_ref().and_then(|r| r.last_message.clone()),
    };
    let status = egui::Panel::bottom("status-bar")
        .show(&mut root, |ui| panels::status_bar(ui, &bar, &record));
    let mut bottom = status.response.rect.height();
    let mut commands = status.inner;
    if let Some(session) = &replay {
        let mut view = timeline_view(session);
        view.dvr = stash.as_ref().is_some_and(|stash| stash.0.is_some());
        view.indexing = opening.as_ref().filter(|o| o.replaying_partial).map(|o| {
            let (done, total) = o.chunks();
            format!("indexing chunk {done} of {total}: the timeline reaches as far as indexed")
        });
        let timeline = egui::Panel::bottom("timeline")
            .show(&mut root, |ui| panels::timeline(ui, &view, &SPEEDS));
        bottom += timeline.response.rect.height();
        commands.extend(timeline.inner);
    } else if let Some(dvr) = &dvr {
        let available_seconds = dvr.oldest().map_or(0.0, |oldest| {
            twinscope_core::Timestamp::now().seconds_since(oldest)
        });
        let view = model::DvrBarView {
            available_seconds,
            error: dvr.error.clone(),
        };
        let bar = egui::Panel::bottom("dvr").show(&mut root, |ui| panels::dvr_bar(ui, &view));
        bottom += bar.response.rect.height();
        commands.extend(bar.inner);
    }
    if panels.show_alarms {
        let list = egui::Panel::bottom("alarm-list")
            .resizable(true)
            .default_size(150.0)
            .show(&mut root, |ui| {
                alarm_panel::alarm_panel(
                    ui,
                    &state.store,
                    &mut panels.alarms,
                    selected,
                    &panels.clock,
                )
            });
        bottom += list.response.rect.height();
        commands.extend(list.inner);
    }
    let mut left = 0.0;
    if panels.show_tree {
        let tree = egui::Panel::left("tree")
            .resizable(true)
            .default_size(260.0)
            .show(&mut root, |ui| {
                tree_panel::tree_panel(ui, &state.store, &panels.rollup, &mut panels.tree, selected)
            });
        left = tree.response.rect.width();
        commands.extend(tree.inner);
    }
    let mut right = 0.0;
    if panels.show_inspector {
        let view = selected.map(|t| {
            let mut view = model::inspector_view(&state.store, &panels.rollup, t, &panels.clock);
            view.history = archive.is_some();
            view
        });
        let shelve_minutes = panels.alarms.shelve_minutes;
        let inspector = egui::Panel::right("inspector")
            .resizable(true)
            .default_size(330.0)
            .show(&mut root, |ui| {
                panels::inspector(ui, view.as_ref(), **focus, shelve_minutes)
            });
        right = inspector.response.rect.width();
        commands.extend(inspector.inner);
    }
    if panels.show_help && !help::help_overlay(ctx) {
        panels.show_help = false;
    }
    let model_file = scene_source
        .as_ref()
        .and_then(|s| s.model_file.file_name())
        .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
    if let Some(view) = model_load
        .as_ref()
        .and_then(|load| overlay::model_load_view(load, &model_file))
    {
        overlay::progress_window(ctx, &view);
    }
    // A replay running on what is indexed shows the indexing in its timeline instead.
    if let Some(opening) = opening.as_ref().filter(|o| !o.replaying_partial) {
        overlay::progress_window(ctx, &overlay::recording_open_view(opening));
    }
    if let Some(error) = &scene.error
        && !panels.load_error_dismissed
        && !overlay::load_error_window(ctx, error)
    {
        panels.load_error_dismissed = true;
    }
    if let Some(error) = recording_error
        && !panels.recording_error_dismissed
        && !overlay::error_window(ctx, overlay::RECORDING_ERROR, &error.0)
    {
        panels.recording_error_dismissed = true;
    }
    panels.bottom_inset = bottom;
    panels.right_inset = right;
    // The 3D view gets the area the panels leave, so framing and picking match what is seen.
    if let (Ok(window), Ok(mut camera)) = (windows.single(), cameras.single_mut()) {
        let scale = window.scale_factor();
        let width = ((window.width() - left - right) * scale).max(1.0) as u32;
        let height = ((window.height() - bottom) * scale).max(1.0) as u32;
        let size = UVec2::new(width, height);
        let position = UVec2::new((left * scale) as u32, 0);
        if camera
            .viewport
            .as_ref()
            .map(|v| (v.physical_position, v.physical_size))
            != Some((position, size))
        {
            camera.viewport = Some(Viewport {
                physical_position: position,
                physical_size: size,
                ..default()
            });
        }
    }
    let replay_start = sources.replay.as_ref().map(|s| s.start);
    for command in commands {
        outlets.send(command, panels, selected, replay_start);
    }
    if let Some(mut cost) = cost {
        cost.seconds.push(started.elapsed().as_secs_f32());
    }
    Ok(())
}

pub(crate) fn timeline_view(session: &ReplaySession) -> model::TimelineView {
    let seconds = |t: twinscope_core::Timestamp| t.seconds_since(session.start);
    model::TimelineView {
        playing: session.playing,
        speed: session.speed,
        // Where the handle is while a scrub's state is still being built.
        position: seconds(session.handle()),
        length: seconds(session.end),
        clock: session.clock(session.handle()),
        markers: session
            .recording
            .alarm_transitions()
            .map(|(t, raised)| (seconds(t), raised))
            .collect(),
        loop_range: session.loop_range.map(|(a, b)| (seconds(a), seconds(b))),
        loop_mark: session.loop_mark.map(seconds),
        error: session.error.clone(),
        skipped: session.recording.index.skipped.summary(),
        dvr: false,
        indexing: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(app: &mut App, keys: &[KeyCode]) {
        let mut input = app.world_mut().resource_mut::<ButtonInput<KeyCode>>();
        input.clear();
        for key in keys {
            input.press(*key);
        }
        app.update();
        app.world_mut()
            .resource_mut::<ButtonInput<KeyCode>>()
            .release_all();
    }

    #[test]
    fn keys_toggle_help_tree_and_alarm_list_and_ctrl_f_searches() {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .init_resource::<PanelState>()
            .init_resource::<ButtonInput<KeyCode>>()
            .add_systems(Update, panel_shortcuts);
        press(&mut app, &[KeyCode::KeyH]);
        assert!(app.world().resource::<PanelState>().show_help);
        press(&mut app, &[KeyCode::KeyT]);
        press(&mut app, &[KeyCode::KeyL]);
        let panels = app.world().resource::<PanelState>();
        assert!(!panels.show_tree && !panels.show_alarms);
        press(&mut app, &[KeyCode::ControlLeft, KeyCode::KeyF]);
        let panels = app.world().resource::<PanelState>();
        assert!(
            panels.show_tree && panels.tree.focus_search,
            "Ctrl+F opens the tree and focuses its search"
        );
    }
}
