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
//! [`XrTabletopPlugin`] switches between the walkthrough and the plant as a model on a table;
//! [`XrInspectorPanelPlugin`] shows the desktop's inspector, alarm list and tree on a panel
//! that floats beside the user, sits in a hand or is pinned in place;
//! [`XrPartLabelPlugin`] hangs a label with values and alarm text over the selected part,
//! moved aside where the panel would hide it; in a shared session the desktop's
//! `SessionPlugin` draws the others and `XrSessionPosePlugin` tells them where the headset,
//! its hands and its ray are, and `XrFollowPlugin` follows one by teleporting with a fade; [`XrFrameCostPlugin`] measures what our systems cost per frame.
//!
//! Their systems run in [`XrSystems`], ordered once here around the desktop's sets.
//!
//! The desktop viewer never builds these plugins: without `--xr` there is no XR cost.

mod clearance;
mod controllers;
mod eye_image;
mod follow;
mod frame_cost;
mod guide;
mod label;
mod locomotion;
mod panel;
mod selected;
mod session;
mod session_pose;
mod stage;
mod tabletop;

use std::time::Duration;

use bevy::app::PluginGroupBuilder;
use bevy::prelude::*;

pub use controllers::{Hand, SnapTurn, XrControllersPlugin, XrPointing, wanted_extensions};
pub use eye_image::{EyeImage, XrEyeImagePlugin};
pub use frame_cost::{XrFrameCost, XrFrameCostPlugin};
pub use guide::XrGuidePlugin;
pub use label::{XrLabelPass, XrLabelText, XrPartLabelPlugin};
pub use locomotion::{XrLocomotionPlugin, XrMove};
pub use panel::{XrInspectorPanelPlugin, XrPanelCommand, XrPanelPass, XrPanelPlace, XrPanelTab};
pub use session::{XrSessionReport, XrSessionWatchPlugin};
pub use stage::{PlantPlacement, StartAt, XrStagePlugin};
pub use tabletop::{TablePose, XrTabletopPlugin, XrViewCommand, XrViewMode};

use crate::TwinscopeSystems;

/// The order of the headset's work within a frame, around the desktop's
/// [`TwinscopeSystems`]: the controllers are read after the store and entities are up to date
/// and before selection commands are applied; the user, the table and the panel move after
/// the looks are set; what follows them (guide, label) is placed last.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum XrSystems {
    /// Aim rays, buttons and grips become commands.
    Input,
    /// Moving the user, the tabletop model and the panel.
    Move,
    /// The guide and the label, placed where things now are.
    Show,
}

fn configure_xr_sets(app: &mut App) {
    app.configure_sets(
        Update,
        (
            XrSystems::Input
                .after(TwinscopeSystems::Propagate)
                .before(TwinscopeSystems::Select),
            (XrSystems::Move, XrSystems::Show)
                .chain()
                .after(TwinscopeSystems::Visuals)
                .after(XrSystems::Input),
        ),
    );
}

/// Meshes the aim rays pass through (the label, the table): pointing goes to what is behind.
#[derive(Component, Default)]
pub struct NotPointable;

/// twinscope's plugins for the headset (add them after bevy_mod_openxr's `add_xr_plugins`):
/// the desktop's data path and looks, without what is bound to a desktop window (the orbit
/// camera, the egui panels, screenshot capture, the record button and the DVR bar).
pub struct XrViewerPlugins {
    /// `--exit-after`: end the session cleanly and exit.
    pub exit_after: Option<Duration>,
    /// Give up when no session runs by then.
    pub start_timeout: Duration,
    /// One snap turn (`--snap-turn`).
    pub snap_turn: SnapTurn,
}

impl PluginGroup for XrViewerPlugins {
    fn build(self) -> PluginGroupBuilder {
        let group = PluginGroupBuilder::start::<Self>()
            .add(XrSetsPlugin)
            .add(crate::store::sync::TwinSyncPlugin)
            .add(crate::scene::binding::SceneBindingPlugin)
            .add(crate::scene::selection::SelectionPlugin)
            .add(crate::scene::focus::FocusPlugin)
            .add(crate::store::alarm_actions::AlarmActionsPlugin)
            .add(crate::scene::materials::TwinscopeMaterialsPlugin)
            .add(crate::scene::visuals::StatusVisualsPlugin)
            .add(crate::history::replay::ReplayPlugin)
            .add(XrSessionWatchPlugin {
                exit_after: self.exit_after,
                start_timeout: self.start_timeout,
            })
            .add(XrStagePlugin)
            .add(XrControllersPlugin {
                snap_turn: self.snap_turn,
            })
            .add(XrLocomotionPlugin)
            .add(XrTabletopPlugin)
            .add(XrGuidePlugin)
            .add(XrInspectorPanelPlugin)
            .add(XrPartLabelPlugin)
            .add(crate::session::SessionPlugin { desktop: false })
            .add(crate::operations::OperationsPlugin { desktop: false })
            .add(session_pose::XrSessionPosePlugin)
            .add(follow::XrFollowPlugin);
        // Only for a run that ends by itself: a live session must not grow lists for a shift.
        if self.exit_after.is_some() {
            group.add(XrFrameCostPlugin)
        } else {
            group
        }
    }
}

/// Orders [`XrSystems`] around the desktop's sets.
struct XrSetsPlugin;

impl Plugin for XrSetsPlugin {
    fn build(&self, app: &mut App) {
        crate::configure_twinscope_sets(app);
        configure_xr_sets(app);
    }
}
