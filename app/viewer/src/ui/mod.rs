//! UI panels: an inspector for the selected twin and an always-visible status bar.
//!
//! Views are built from the store as plain data ([`model`]); [`panels`] draws them with egui
//! and returns [`model::UiCommand`]s, which this plugin turns into the same messages picking
//! sends. Nothing in the UI mutates twin state.

pub mod model;
pub mod panels;

use bevy::camera::visibility::RenderLayers;
use bevy::camera::{CameraOutputMode, Viewport};
use bevy::prelude::*;
use bevy::render::render_resource::BlendState;
use bevy::window::PrimaryWindow;
use bevy_egui::egui::{self, LayerId, UiBuilder};
use bevy_egui::{EguiContexts, EguiGlobalSettings, EguiPlugin, EguiPrimaryContextPass, PrimaryEguiContext};

use crate::dvr::{Dvr, DvrCommand};
use crate::recording::{LiveRecorder, RecordCommand};
use crate::sync::LiveStash;
use crate::replay::{ReplayCommand, ReplaySession, SPEEDS};
use crate::scene::SceneStatus;
use crate::selection::{SelectTwin, Selection};
use crate::sync::{ConnectionInfo, IngestRate, TwinState};
use model::UiCommand;

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
            .add_systems(Startup, spawn_ui_camera).add_systems(EguiPrimaryContextPass, draw_panels);
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
            output_mode: CameraOutputMode::Write { blend_state: Some(BlendState::ALPHA_BLENDING), clear_color: ClearColorConfig::None },
            clear_color: ClearColorConfig::Custom(Color::NONE),
            ..default()
        },
        Name::new("ui-camera"),
    ));
}

fn draw_panels(
    mut contexts: EguiContexts,
    state: Res<TwinState>,
    selection: Res<Selection>,
    rate: Res<IngestRate>,
    connection: Res<ConnectionInfo>,
    scene: Res<SceneStatus>,
    mut select: MessageWriter<SelectTwin>,
    replay: Option<Res<ReplaySession>>,
    mut replay_commands: MessageWriter<ReplayCommand>,
    recorder: Option<Res<LiveRecorder>>,
    mut record_commands: MessageWriter<RecordCommand>,
    (dvr, stash, mut dvr_commands): (Option<Res<Dvr>>, Option<Res<LiveStash>>, MessageWriter<DvrCommand>),
    mut cameras: Query<&mut Camera, With<Camera3d>>,
    windows: Query<&Window, With<PrimaryWindow>>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let mut root = egui::Ui::new(ctx.clone(), "twinscope-root".into(), UiBuilder::new().layer_id(LayerId::background()).max_rect(ctx.viewport_rect()));
    let source = if connection.embedded { format!("{} (embedded demo)", connection.broker) } else { connection.broker.clone() };
    let bar = model::status_bar_view(&state.store, &rate.snapshot, rate.messages_per_second, &source, replay.is_some(), scene.error.as_deref());
    let record = model::RecordView {
        available: recorder.is_some(),
        progress: recorder.as_ref().and_then(|r| r.progress()),
        message: recorder.as_ref().and_then(|r| r.last_message.clone()),
    };
    let status = egui::Panel::bottom("status-bar").show(&mut root, |ui| panels::status_bar(ui, &bar, &record));
    let mut bottom = status.response.rect.height();
    let mut commands = status.inner;
    if let Some(session) = &replay {
        let mut view = timeline_view(session);
        view.dvr = stash.is_some();
        let timeline = egui::Panel::bottom("timeline").show(&mut root, |ui| panels::timeline(ui, &view, &SPEEDS));
        bottom += timeline.response.rect.height();
        commands.extend(timeline.inner);
    } else if let Some(dvr) = &dvr {
        let available_seconds = dvr.oldest().map_or(0.0, |oldest| twinscope_core::Timestamp::now().seconds_since(oldest));
        let view = model::DvrBarView { available_seconds, error: dvr.error.clone() };
        let bar = egui::Panel::bottom("dvr").show(&mut root, |ui| panels::dvr_bar(ui, &view));
        bottom += bar.response.rect.height();
        commands.extend(bar.inner);
    }
    let view = selection.twin.filter(|t| (t.0 as usize) < state.store.len()).map(|t| model::inspector_view(&state.store, t));
    let inspector = egui::Panel::right("inspector").resizable(true).default_size(330.0).show(&mut root, |ui| panels::inspector(ui, view.as_ref()));
    commands.extend(inspector.inner);
    // The 3D view gets the area the panels leave, so framing and picking match what is seen.
    if let (Ok(window), Ok(mut camera)) = (windows.single(), cameras.single_mut()) {
        let scale = window.scale_factor();
        let width = ((window.width() - inspector.response.rect.width()) * scale).max(1.0) as u32;
        let height = ((window.height() - bottom) * scale).max(1.0) as u32;
        let size = UVec2::new(width, height);
        if camera.viewport.as_ref().map(|v| v.physical_size) != Some(size) {
            camera.viewport = Some(Viewport { physical_position: UVec2::ZERO, physical_size: size, ..default() });
        }
    }
    let start = replay.as_ref().map(|s| s.start);
    for command in commands {
        let replay_command = match command {
            UiCommand::Select(twin) => {
                select.write(SelectTwin(twin));
                continue;
            }
            UiCommand::TogglePlay => ReplayCommand::TogglePlay,
            UiCommand::SetSpeed(speed) => ReplayCommand::SetSpeed(speed),
            UiCommand::SeekTo(seconds) => match start {
                Some(start) => ReplayCommand::SeekTo(twinscope_core::Timestamp(start.0 + (seconds * 1e6) as i64)),
                None => continue,
            },
            UiCommand::Step(seconds) => ReplayCommand::Step(seconds),
            UiCommand::PreviousAlarm => ReplayCommand::PreviousAlarm,
            UiCommand::NextAlarm => ReplayCommand::NextAlarm,
            UiCommand::MarkLoop => ReplayCommand::MarkLoop,
            UiCommand::ClearLoop => ReplayCommand::ClearLoop,
            UiCommand::LookBack(seconds) => {
                let at = twinscope_core::Timestamp(twinscope_core::Timestamp::now().0 + (seconds * 1e6) as i64);
                dvr_commands.write(DvrCommand::LookBack(at));
                continue;
            }
            UiCommand::GoLive => {
                dvr_commands.write(DvrCommand::GoLive);
                continue;
            }
            UiCommand::StartRecording | UiCommand::StopRecording => {
                record_commands.write(if command == UiCommand::StartRecording { RecordCommand::Start } else { RecordCommand::Stop });
                continue;
            }
        };
        replay_commands.write(replay_command);
    }
    Ok(())
}

fn timeline_view(session: &ReplaySession) -> model::TimelineView {
    let seconds = |t: twinscope_core::Timestamp| t.seconds_since(session.start);
    model::TimelineView {
        playing: session.playing,
        speed: session.speed,
        position: seconds(session.position),
        length: seconds(session.end),
        clock: session.clock(session.position),
        markers: session.recording.alarm_transitions().map(|(t, raised)| (seconds(t), raised)).collect(),
        loop_range: session.loop_range.map(|(a, b)| (seconds(a), seconds(b))),
        loop_mark: session.loop_mark.map(seconds),
        error: session.error.clone(),
        dvr: false,
    }
}
