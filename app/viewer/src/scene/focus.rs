//! Focus modes for the selected twin: isolate (everything else hidden) and x-ray (everything
//! else translucent), toggled with `I` and `X` or from the inspector; the same key again, or
//! `N`, goes back to normal.
//!
//! This plugin keeps the mode and hides what isolate hides; the x-ray material is chosen with
//! every other look in [`crate::scene::visuals`].

use bevy::prelude::*;
use bevy_egui::input::EguiWantsInput;

use crate::scene::selection::{FrameTwin, Selection};
use crate::{TwinscopeSystems, configure_twinscope_sets};

/// Keeps [`FocusMode`] and applies [`FocusCommand`]s.
pub struct FocusPlugin;

impl Plugin for FocusPlugin {
    fn build(&self, app: &mut App) {
        configure_twinscope_sets(app);
        app.init_resource::<FocusMode>()
            .init_resource::<Selection>()
            .add_message::<FocusCommand>()
            .add_message::<FrameTwin>()
            .add_systems(
                Update,
                (focus_keys, apply_focus_commands)
                    .chain()
                    .in_set(TwinscopeSystems::Select),
            );
    }
}

/// How the selection is shown against the rest of the plant. Without a selection every mode
/// shows everything.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FocusMode {
    #[default]
    Normal,
    Isolate,
    XRay,
}

impl FocusMode {
    pub fn label(self) -> &'static str {
        match self {
            FocusMode::Normal => "normal",
            FocusMode::Isolate => "isolate",
            FocusMode::XRay => "x-ray",
        }
    }
}

/// Switch to a mode; asking for the mode already on goes back to normal.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct FocusCommand(pub FocusMode);

fn focus_keys(
    keys: Option<Res<ButtonInput<KeyCode>>>,
    egui_input: Option<Res<EguiWantsInput>>,
    mut commands: MessageWriter<FocusCommand>,
) {
    let Some(keys) = keys else { return };
    if egui_input.is_some_and(|input| input.wants_keyboard_input()) {
        return;
    }
    for (key, mode) in [
        (KeyCode::KeyI, FocusMode::Isolate),
        (KeyCode::KeyX, FocusMode::XRay),
        (KeyCode::KeyN, FocusMode::Normal),
    ] {
        if keys.just_pressed(key) {
            commands.write(FocusCommand(mode));
        }
    }
}

/// Entering a focus mode also flies to the selection: that is what the operator wants to see.
fn apply_focus_commands(
    mut commands: MessageReader<FocusCommand>,
    mut mode: ResMut<FocusMode>,
    selection: Res<Selection>,
    mut frame: MessageWriter<FrameTwin>,
) {
    for FocusCommand(wanted) in commands.read() {
        let next = if *mode == *wanted {
            FocusMode::Normal
        } else {
            *wanted
        };
        if mode.set_if_neq(next)
            && next != FocusMode::Normal
            && let Some(twin) = selection.twin
        {
            frame.write(FrameTwin(twin));
        }
    }
}
