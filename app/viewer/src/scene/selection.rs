//! Selection: one shared state, changed only by [`SelectTwin`] commands, which picking in 3D,
//! the hierarchy tree, the alarm list, the breadcrumb and the keyboard all send.
//!
//! `Esc` goes up one level (to the parent twin, framing it); at the top it clears the
//! selection. Selecting from a panel also sends [`FrameTwin`], so the camera flies there;
//! picking in 3D does not (the operator is already looking at it).

use bevy::picking::events::{Click, Pointer};
use bevy::picking::pointer::PointerButton;
use bevy::prelude::*;
use bevy_egui::input::EguiWantsInput;
use twinscope_core::twin::TwinIndex;

use crate::scene::binding::BoundTwin;
use crate::store::sync::TwinState;
use crate::{TwinscopeSystems, configure_twinscope_sets};

/// Keeps [`Selection`] and turns clicks on bound parts into [`SelectTwin`] commands.
pub struct SelectionPlugin;

impl Plugin for SelectionPlugin {
    fn build(&self, app: &mut App) {
        configure_twinscope_sets(app);
        app.init_resource::<Selection>()
            .add_message::<SelectTwin>()
            .add_message::<FrameTwin>()
            // Registered by the picking plugin too; here so the plugin also runs headless.
            .add_message::<Pointer<Click>>()
            .add_systems(
                Update,
                (
                    select_clicked_twin,
                    select_initial_twin,
                    go_up_one_level_on_escape,
                    apply_selection_commands,
                )
                    .chain()
                    .in_set(TwinscopeSystems::Select),
            );
    }
}

/// The selected twin, if any.
#[derive(Resource, Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    pub twin: Option<TwinIndex>,
}

/// A request to change the selection (`None` clears it).
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectTwin(pub Option<TwinIndex>);

/// A request to fly the camera to a twin and everything below it.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameTwin(pub TwinIndex);

/// A twin id to select as soon as it exists (`--select`).
#[derive(Resource, Debug, Clone)]
pub struct InitialSelection(pub String);

/// The nearest bound ancestor (or self) of a picked entity.
pub fn bound_twin_of(
    mut entity: Entity,
    parents: &Query<&ChildOf>,
    bound: &Query<&BoundTwin>,
) -> Option<TwinIndex> {
    loop {
        if let Ok(twin) = bound.get(entity) {
            return Some(twin.0);
        }
        entity = parents.get(entity).ok()?.parent();
    }
}

fn select_clicked_twin(
    mut clicks: MessageReader<Pointer<Click>>,
    parents: Query<&ChildOf>,
    bound: Query<&BoundTwin>,
    mut select: MessageWriter<SelectTwin>,
) {
    for click in clicks.read() {
        if click.event.button != PointerButton::Primary {
            continue;
        }
        if let Some(twin) = bound_twin_of(click.entity, &parents, &bound) {
            select.write(SelectTwin(Some(twin)));
        }
    }
}

fn select_initial_twin(
    mut commands: Commands,
    initial: Option<Res<InitialSelection>>,
    state: Res<TwinState>,
    mut select: MessageWriter<SelectTwin>,
) {
    let Some(initial) = initial else { return };
    if let Some(index) = state.store.find(&initial.0) {
        select.write(SelectTwin(Some(index)));
        commands.remove_resource::<InitialSelection>();
    }
}

fn go_up_one_level_on_escape(
    keys: Option<Res<ButtonInput<KeyCode>>>,
    egui_input: Option<Res<EguiWantsInput>>,
    selection: Res<Selection>,
    state: Res<TwinState>,
    mut select: MessageWriter<SelectTwin>,
    mut frame: MessageWriter<FrameTwin>,
) {
    if !keys.is_some_and(|keys| keys.just_pressed(KeyCode::Escape))
        || egui_input.is_some_and(|input| input.wants_keyboard_input())
    {
        return;
    }
    let parent = selection
        .twin
        .filter(|t| (t.0 as usize) < state.store.len())
        .and_then(|t| state.store.get(t).parent);
    select.write(SelectTwin(parent));
    if let Some(parent) = parent {
        frame.write(FrameTwin(parent));
    }
}

fn apply_selection_commands(
    mut commands: MessageReader<SelectTwin>,
    mut selection: ResMut<Selection>,
) {
    for SelectTwin(twin) in commands.read() {
        selection.set_if_neq(Selection { twin: *twin });
    }
}
