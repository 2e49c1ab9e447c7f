//! # twinscope viewer
//!
//! The Bevy side of twinscope: a set of plugins, one per concern, that read the core's twin
//! state and draw it. Data flows one way:
//!
//! ```text
//! MQTT thread ──batches──▶ TwinSyncPlugin (one system applies them to the TwinStore)
//!                               │ status changes → TwinVisualState components
//!                               ▼
//!   SceneBindingPlugin (glTF nodes ↔ twins)   StatusVisualsPlugin (materials)
//!   ModelLoadPlugin (load progress)
//!   SelectionPlugin (picks, commands)         UiPanelsPlugin (egui reads state, sends commands)
//!   FocusPlugin (isolate / x-ray)             AlarmActionsPlugin (acknowledge, shelve, export)
//!   OrbitCameraPlugin (fly-to)                CapturePlugin (--screenshot / --exit-after)
//!   ReplayPlugin (a recording drives the store instead of the MQTT thread)
//!   ArchivePlugin (the Trends window, read from the Parquet archive off the frame)
//! ```
//!
//! The plugins live in rooms by concern: [`store`] (the one ordered path into the twin
//! store), [`scene`] (model, binding, looks, camera, selection, pictures), [`history`]
//! (recording, DVR, opening, replay), [`archive`] (long-range trends), [`session`] (the others
//! in a shared session), [`ui`]
//! (the desktop's panels) and [`xr`] (headset mode); the binary adds `cli/`, the command
//! line.
//!
//! Every plugin declares its systems in [`TwinscopeSystems`] sets, ordered once in
//! [`configure_twinscope_sets`]. Every system that changes the twin store runs in
//! [`TwinscopeSystems::Ingest`], in exactly one of the chained [`StoreSystems`]: first the
//! store being shown is switched (DVR look-back, go live, replay seek), then live batches
//! land (in the live store, wherever it is kept), then replay playback, then operator
//! commands, then the clock (stale marking, shelving expiry). So an acknowledgement applies
//! to the alarm the same frame's batch raised, and no batch lands in a store being swapped.

pub mod archive;
pub mod command_line;
pub mod headless;
pub mod history;
pub mod operations;
pub mod scene;
pub mod session;
pub mod store;
pub mod ui;
pub mod xr;

use bevy::app::PluginGroupBuilder;
use bevy::prelude::*;

/// The order of twinscope's work within a frame.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum TwinscopeSystems {
    /// Drain update batches into the twin store.
    Ingest,
    /// Bind newly spawned glTF nodes to twins.
    Bind,
    /// Push twin status changes onto bound entities.
    Propagate,
    /// Apply selection commands from picking and UI.
    Select,
    /// Restyle entities and move the camera.
    Visuals,
}

/// The order of changes to the twin store within [`TwinscopeSystems::Ingest`]. Every system
/// that takes the store mutably belongs to exactly one of these.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum StoreSystems {
    /// Which store is shown: DVR look-back and go-live, replay seeks and steps.
    Switch,
    /// Live update batches from the MQTT thread.
    Live,
    /// Replay playback (a recording's messages up to the replay clock).
    Playback,
    /// Operator commands: acknowledge, shelve, unshelve, export.
    Operator,
    /// Time passes: stale marking, shelving expiry, ingest rates.
    Clock,
}

/// Orders the sets; every plugin calls it so any subset of plugins works (tests use a few).
pub(crate) fn configure_twinscope_sets(app: &mut App) {
    app.configure_sets(
        Update,
        (
            StoreSystems::Switch,
            StoreSystems::Live,
            StoreSystems::Playback,
            StoreSystems::Operator,
            StoreSystems::Clock,
        )
            .chain()
            .in_set(TwinscopeSystems::Ingest),
    );
    app.configure_sets(
        Update,
        (
            TwinscopeSystems::Ingest,
            TwinscopeSystems::Bind,
            TwinscopeSystems::Propagate,
            TwinscopeSystems::Select,
            TwinscopeSystems::Visuals,
        )
            .chain(),
    );
}

/// All of twinscope's plugins for the desktop viewer (add them after `DefaultPlugins`).
pub struct TwinscopePlugins;

impl PluginGroup for TwinscopePlugins {
    fn build(self) -> PluginGroupBuilder {
        PluginGroupBuilder::start::<Self>()
            .add(store::sync::TwinSyncPlugin)
            .add(scene::binding::SceneBindingPlugin)
            .add(scene::model_load::ModelLoadPlugin)
            .add(scene::selection::SelectionPlugin)
            .add(scene::focus::FocusPlugin)
            .add(store::alarm_actions::AlarmActionsPlugin)
            .add(scene::materials::TwinscopeMaterialsPlugin)
            .add(scene::visuals::StatusVisualsPlugin)
            .add(scene::camera::OrbitCameraPlugin)
            .add(ui::UiPanelsPlugin)
            .add(history::replay::ReplayPlugin)
            .add(history::recording::LiveRecordingPlugin)
            .add(history::dvr::DvrPlugin)
            .add(session::SessionPlugin { desktop: true })
            .add(operations::OperationsPlugin { desktop: true })
            .add(archive::ArchivePlugin)
            .add(scene::capture::CapturePlugin)
    }
}

/// What users of the viewer library need.
pub mod prelude {
    pub use crate::TwinscopePlugins;
    pub use crate::scene::binding::{BoundTwin, SceneSource, TwinMeshes};
    pub use crate::scene::focus::{FocusCommand, FocusMode};
    pub use crate::scene::selection::{FrameTwin, SelectTwin, Selection};
    pub use crate::store::alarm_actions::AlarmCommand;
    pub use crate::store::sync::{ConnectionInfo, IngestLink, TwinState, TwinVisualState};
    pub use crate::{StoreSystems, TwinscopeSystems};
}
