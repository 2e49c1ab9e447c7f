//! Headset mode (`twinscope --xr`): the same plant, twin state, alarms and replay as the
//! desktop, in an OpenXR session through bevy_mod_openxr.
//!
//! [`XrSessionWatchPlugin`] watches the session: it records each state the runtime reports
//! (READY, SYNCHRONIZED, VISIBLE, FOCUSED, STOPPING…; bevy_mod_openxr logs them and the
//! runtime's name at info level) for a summary printed at exit,
//! counts the frames rendered while the session runs, ends the session cleanly for
//! `--exit-after` (request exit, wait until the runtime has destroyed it, then exit 0), and
//! gives up with an error when no session starts. [`XrStagePlugin`] places the plant around
//! the user and lights it. [`XrControllersPlugin`] points with each controller's aim ray,
//! selects, teleports, turns and goes to the part in alarm; [`XrLocomotionPlugin`] moves the
//! user; [`XrGuidePlugin`] shows the way to a selected part in alarm;
//! [`XrInspectorPanelPlugin`] floats the desktop's inspector beside the user.
//!
//! The desktop viewer never builds these plugins: without `--xr` there is no XR cost.

mod controllers;
mod eye_image;
mod guide;
mod locomotion;
mod panel;
mod session;
mod stage;

use std::time::Duration;

use bevy::app::PluginGroupBuilder;
use bevy::prelude::*;

pub use controllers::{Hand, XrControllersPlugin, XrPointing};
pub use eye_image::{EyeImage, XrEyeImagePlugin};
pub use guide::XrGuidePlugin;
pub use locomotion::{XrLocomotionPlugin, XrMove};
pub use panel::{XrInspectorPanelPlugin, XrPanelPass};
pub use session::{XrSessionReport, XrSessionWatchPlugin};
pub use stage::{StartAt, XrStagePlugin};

/// twinscope's plugins for the headset (add them after bevy_mod_openxr's `add_xr_plugins`):
/// the desktop's data path and looks, without what is bound to a desktop window (the orbit
/// camera, the egui panels, screenshot capture, the record button and the DVR bar).
pub struct XrViewerPlugins {
    /// `--exit-after`: end the session cleanly and exit.
    pub exit_after: Option<Duration>,
    /// Give up when no session runs by then.
    pub start_timeout: Duration,
}

impl PluginGroup for XrViewerPlugins {
    fn build(self) -> PluginGroupBuilder {
        PluginGroupBuilder::start::<Self>()
            .add(crate::sync::TwinSyncPlugin)
            .add(crate::scene::SceneBindingPlugin)
            .add(crate::selection::SelectionPlugin)
            .add(crate::focus::FocusPlugin)
            .add(crate::alarm_actions::AlarmActionsPlugin)
            .add(crate::materials::TwinscopeMaterialsPlugin)
            .add(crate::visuals::StatusVisualsPlugin)
            .add(crate::replay::ReplayPlugin)
            .add(XrSessionWatchPlugin { exit_after: self.exit_after, start_timeout: self.start_timeout })
            .add(XrStagePlugin)
            .add(XrControllersPlugin)
            .add(XrLocomotionPlugin)
            .add(XrGuidePlugin)
            .add(XrInspectorPanelPlugin)
    }
}
