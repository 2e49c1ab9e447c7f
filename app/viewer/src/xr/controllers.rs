//! The controllers: an aim ray from each hand's aim pose picks the part it points at, and the
//! hand's select button (the trigger on most controllers) selects it, through the same
//! [`SelectTwin`] command as a click on the desktop; pointed at nothing, select goes up one
//! level (the desktop's Esc); pointed at the floor, it teleports there; pointed at the
//! panel, it clicks. The menu button (B or Y on Touch and Index) takes the user to the part
//! in alarm; the thumbstick (the trackpad on Vive) snap-turns (`--snap-turn`, 45° unless
//! set), or turns the model in tabletop mode; a thumbstick click switches between the
//! walkthrough and the tabletop; the grip grabs the tabletop model; X or A (Index: A)
//! summons the panel to that hand, or pins it if it is there. Moving is [`XrMove`]
//! commands, applied in [`super::locomotion`].
//!
//! Bindings are suggested for the common interaction profiles, so any conformant runtime
//! finds one for the controllers it has: the Khronos simple controller, Oculus Touch, Valve
//! Index, HTC Vive, and bare hands where the runtime offers hand interaction
//! (XR_EXT_hand_interaction: aim, pinch to select, grasp to grab). What a
//! profile lacks a button for, the panel's toolbar offers.

use std::time::Duration;

use bevy::picking::mesh_picking::ray_cast::{MeshRayCast, MeshRayCastSettings, RayCastVisibility};
use bevy::prelude::*;
use bevy_mod_openxr::action_binding::{OxrSendActionBindings, OxrSuggestActionBinding};
use bevy_mod_openxr::action_set_attaching::OxrAttachActionSet;
use bevy_mod_openxr::action_set_syncing::{OxrActionSetSyncSet, OxrSyncActionSet};
use bevy_mod_openxr::resources::OxrInstance;
use bevy_mod_openxr::session::OxrSession;
use bevy_mod_openxr::{openxr_session_available, openxr_session_running};
use bevy_mod_xr::session::XrSessionCreated;
use bevy_mod_xr::spaces::XrSpace;
use twinscope_core::twin::TwinIndex;

use super::locomotion::XrMove;
use super::panel::{XrPanel, XrPanelCommand};
use super::tabletop::{TurnTheTable, XrGrips, XrViewCommand, XrViewMode};
use crate::scene::binding::BoundTwin;
use crate::scene::selection::{SelectTwin, Selection, bound_twin_of};
use crate::store::sync::TwinState;
use bevy_egui::egui;
use bevy_egui::input::EguiInputEvent;

/// Aim rays, hovering and selecting with either hand.
pub struct XrControllersPlugin {
    pub snap_turn: SnapTurn,
}

/// One snap turn, in radians.
#[derive(Resource, Debug, Clone, Copy, PartialEq)]
pub struct SnapTurn(pub f32);

impl Default for SnapTurn {
    fn default() -> Self {
        SnapTurn(std::f32::consts::FRAC_PI_4)
    }
}

impl Plugin for XrControllersPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<XrPointing>()
            .insert_resource(self.snap_turn)
            .insert_resource(ScriptedPress::from_env())
            .add_systems(Startup, create_actions.run_if(openxr_session_available))
            .add_systems(OxrSendActionBindings, suggest_bindings)
            .add_systems(XrSessionCreated, (attach_actions, spawn_aim_spaces))
            .add_systems(
                PreUpdate,
                sync_actions
                    .before(OxrActionSetSyncSet)
                    .run_if(openxr_session_running),
            )
            .add_systems(
                Update,
                (point_with_aim_rays, act_on_buttons)
                    .chain()
                    .in_set(super::XrSystems::Input)
                    .run_if(openxr_session_running),
            );
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hand {
    Left,
    Right,
}

impl Hand {
    pub(super) const BOTH: [Hand; 2] = [Hand::Left, Hand::Right];

    fn path(self) -> &'static str {
        match self {
            Hand::Left => "/user/hand/left",
            Hand::Right => "/user/hand/right",
        }
    }

    pub(super) fn index(self) -> usize {
        self as usize
    }
}

/// One interaction profile's inputs for our actions (a float trigger or grip is
/// thresholded by the runtime for a boolean action); `None`: the profile has no such input.
struct Profile {
    path: &'static str,
    /// The extension the profile comes with, if any: suggested only when it is enabled.
    extension: Option<fn(&openxr::ExtensionSet) -> bool>,
    select: &'static str,
    /// Left hand, right hand.
    menu: [Option<&'static str>; 2],
    turn: Option<&'static str>,
    grab: Option<&'static str>,
    view: Option<&'static str>,
    /// Left hand, right hand.
    panel: [Option<&'static str>; 2],
}

const PROFILES: [Profile; 5] = [
    Profile {
        path: "/interaction_profiles/khr/simple_controller",
        extension: None,
        select: "select/click",
        menu: [Some("menu/click"), Some("menu/click")],
        turn: None,
        grab: None,
        view: None,
        panel: [None, None],
    },
    Profile {
        path: "/interaction_profiles/oculus/touch_controller",
        extension: None,
        select: "trigger/value",
        menu: [Some("y/click"), Some("b/click")],
        turn: Some("thumbstick"),
        grab: Some("squeeze/value"),
        view: Some("thumbstick/click"),
        panel: [Some("x/click"), Some("a/click")],
    },
    Profile {
        path: "/interaction_profiles/valve/index_controller",
        extension: None,
        select: "trigger/click",
        menu: [Some("b/click"), Some("b/click")],
        turn: Some("thumbstick"),
        grab: Some("squeeze/value"),
        view: Some("thumbstick/click"),
        panel: [Some("a/click"), Some("a/click")],
    },
    Profile {
        path: "/interaction_profiles/htc/vive_controller",
        extension: None,
        select: "trigger/click",
        menu: [Some("menu/click"), Some("menu/click")],
        turn: Some("trackpad"),
        grab: Some("squeeze/click"),
        view: None,
        panel: [None, None],
    },
    Profile {
        path: "/interaction_profiles/ext/hand_interaction_ext",
        extension: Some(|exts| exts.ext_hand_interaction),
        select: "pinch_ext/value",
        menu: [None, None],
        turn: None,
        grab: Some("grasp_ext/value"),
        view: None,
        panel: [None, None],
    },
];

/// The extensions headset mode asks the runtime for (each only where offered): bevy_mod_openxr's
/// default set, and hand interaction so bare hands can point, select and grab.
pub fn wanted_extensions() -> bevy_mod_openxr::exts::OxrExtensions {
    let mut exts = bevy_mod_openxr::init::OxrInitPlugin::default().exts;
    exts.ext_hand_interaction = true;
    exts
}

#[derive(Resource)]
struct ControllerActions {
    set: openxr::ActionSet,
    aim: [openxr::Action<openxr::Posef>; 2],
    select: [openxr::Action<bool>; 2],
    menu: [openxr::Action<bool>; 2],
    turn: [openxr::Action<openxr::Vector2f>; 2],
    grab: [openxr::Action<bool>; 2],
    view: [openxr::Action<bool>; 2],
    panel: [openxr::Action<bool>; 2],
}

/// What each hand points at now: a part, a spot on the floor to teleport to, or a place on
/// the panel (in its egui points).
#[derive(Resource, Default, Debug, Clone, Copy)]
pub struct XrPointing {
    pub twin: [Option<TwinIndex>; 2],
    pub floor: [Option<Vec3>; 2],
    pub panel: [Option<egui::Pos2>; 2],
}

/// A hit this close to the plant's floor level, on an upward face, is the floor.
const FLOOR_LEVEL: f32 = 0.3;

/// The aim pose of one hand (its transform is the pose, updated by bevy_mod_openxr).
#[derive(Component)]
pub(super) struct AimPose(pub(super) Hand);

/// A press on the panel not yet released: its context, where it began, by which hand, and
/// (scripted) until when it is held.
#[derive(Clone, Copy, Debug)]
struct PanelPress {
    context: Entity,
    at: egui::Pos2,
    hand: Hand,
    until: Option<std::time::Instant>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Button {
    Select,
    Menu,
    View,
    Panel,
}

/// A test hook (`TWINSCOPE_XR_TEST_PRESS=menu-left@3s,right@6s,view-right@8s,panel-left@9s`):
/// presses buttons once each (select unless named), that long after the session started
/// running, as a simulated controller cannot; `right@6s~2s` holds select for 2 s.
#[derive(Resource, Default)]
struct ScriptedPress {
    /// Button, hand, when, and how long it is held (`right@6s~2s`; a click without `~`).
    presses: Vec<(Button, Hand, Duration, Duration)>,
    running_since: Option<std::time::Instant>,
}

impl ScriptedPress {
    fn from_env() -> Self {
        let text = std::env::var("TWINSCOPE_XR_TEST_PRESS").unwrap_or_default();
        let presses = text
            .split(',')
            .filter_map(|press| {
                let (button_hand, at) = press.split_once('@')?;
                let (button, hand) = match button_hand.split_once('-') {
                    Some(("menu", hand)) => (Button::Menu, hand),
                    Some(("view", hand)) => (Button::View, hand),
                    Some(("panel", hand)) => (Button::Panel, hand),
                    None => (Button::Select, button_hand),
                    _ => return None,
                };
                let hand = match hand {
                    "left" => Hand::Left,
                    "right" => Hand::Right,
                    _ => return None,
                };
                let (at, hold) = at.split_once('~').unwrap_or((at, "0s"));
                let parse = |text: &str| twinscope_core::time::parse_duration(text).ok();
                Some((button, hand, parse(at)?, parse(hold)?))
            })
            .collect();
        ScriptedPress {
            presses,
            running_since: None,
        }
    }

    /// The presses due now (each is given once).
    fn due(&mut self) -> Vec<(Button, Hand, Duration)> {
        let since = *self
            .running_since
            .get_or_insert_with(std::time::Instant::now);
        let (due, later): (Vec<_>, Vec<_>) = self
            .presses
            .drain(..)
            .partition(|(_, _, at, _)| since.elapsed() >= *at);
        self.presses = later;
        due.into_iter()
            .map(|(button, hand, _, hold)| (button, hand, hold))
            .collect()
    }
}

fn create_actions(instance: Res<OxrInstance>, mut commands: Commands) {
    let created = (|| -> openxr::Result<ControllerActions> {
        let set = instance.create_action_set("twinscope", "twinscope", 0)?;
        Ok(ControllerActions {
            aim: [
                set.create_action("aim_left", "Left aim", &[])?,
                set.create_action("aim_right", "Right aim", &[])?,
            ],
            select: [
                set.create_action("select_left", "Left select", &[])?,
                set.create_action("select_right", "Right select", &[])?,
            ],
            menu: [
                set.create_action("menu_left", "Left: go to the alarm", &[])?,
                set.create_action("menu_right", "Right: go to the alarm", &[])?,
            ],
            turn: [
                set.create_action("turn_left", "Left turn", &[])?,
                set.create_action("turn_right", "Right turn", &[])?,
            ],
            grab: [
                set.create_action("grab_left", "Left grab", &[])?,
                set.create_action("grab_right", "Right grab", &[])?,
            ],
            view: [
                set.create_action("view_left", "Left: walkthrough or tabletop", &[])?,
                set.create_action("view_right", "Right: walkthrough or tabletop", &[])?,
            ],
            panel: [
                set.create_action("panel_left", "Left: summon or pin the panel", &[])?,
                set.create_action("panel_right", "Right: summon or pin the panel", &[])?,
            ],
            set,
        })
    })();
    match created {
        Ok(actions) => commands.insert_resource(actions),
        Err(error) => error!("cannot create the controller actions: {error}"),
    }
}

fn suggest_bindings(
    actions: Option<Res<ControllerActions>>,
    enabled: Option<Res<bevy_mod_openxr::exts::OxrEnabledExtensions>>,
    mut bindings: MessageWriter<OxrSuggestActionBinding>,
) {
    let Some(actions) = actions else { return };
    let mut suggested = Vec::new();
    for profile in &PROFILES {
        if let Some(needs) = profile.extension
            && !enabled.as_ref().is_some_and(|exts| needs(&exts.0))
        {
            continue;
        }
        suggested.push(profile.path.trim_start_matches("/interaction_profiles/"));
        for hand in Hand::BOTH {
            let h = hand.index();
            let mut bind = |action: openxr::sys::Action, input: &str| {
                bindings.write(OxrSuggestActionBinding {
                    action,
                    interaction_profile: profile.path.into(),
                    bindings: vec![format!("{}/input/{input}", hand.path()).into()],
                });
            };
            bind(actions.aim[h].as_raw(), "aim/pose");
            bind(actions.select[h].as_raw(), profile.select);
            let optional = [
                (actions.menu[h].as_raw(), profile.menu[h]),
                (actions.turn[h].as_raw(), profile.turn),
                (actions.grab[h].as_raw(), profile.grab),
                (actions.view[h].as_raw(), profile.view),
                (actions.panel[h].as_raw(), profile.panel[h]),
            ];
            for (action, input) in optional {
                if let Some(input) = input {
                    bind(action, input);
                }
            }
        }
    }
    info!("controller bindings suggested for {}", suggested.join(", "));
}

fn attach_actions(
    actions: Option<Res<ControllerActions>>,
    mut attach: MessageWriter<OxrAttachActionSet>,
) {
    if let Some(actions) = actions {
        attach.write(OxrAttachActionSet(actions.set.clone()));
    }
}

fn sync_actions(
    actions: Option<Res<ControllerActions>>,
    mut sync: MessageWriter<OxrSyncActionSet>,
) {
    if let Some(actions) = actions {
        sync.write(OxrSyncActionSet(actions.set.clone()));
    }
}

fn spawn_aim_spaces(
    actions: Option<Res<ControllerActions>>,
    session: Res<OxrSession>,
    mut commands: Commands,
) {
    let Some(actions) = actions else { return };
    for hand in Hand::BOTH {
        match session.create_action_space(
            &actions.aim[hand.index()],
            openxr::Path::NULL,
            Isometry3d::IDENTITY,
        ) {
            Ok(space) => {
                commands.spawn((
                    space,
                    bevy_mod_xr::session::XrTracker,
                    AimPose(hand),
                    Name::new(format!("aim-{hand:?}")),
                ));
            }
            Err(error) => error!("cannot track the {hand:?} controller's aim: {error}"),
        }
    }
}

/// Casts each hand's aim ray into the plant and remembers the first part it hits.
#[allow(clippy::too_many_arguments)]
fn point_with_aim_rays(
    aims: Query<(&AimPose, &GlobalTransform), With<XrSpace>>,
    mut ray_cast: MeshRayCast,
    parents: Query<&ChildOf>,
    bound: Query<&BoundTwin>,
    panel: Option<Res<XrPanel>>,
    surfaces: Query<&GlobalTransform>,
    (not_pointable, mode): (Query<(), With<super::NotPointable>>, Res<XrViewMode>),
    mut pointing: ResMut<XrPointing>,
    mut gizmos: Gizmos,
    mut egui_input: MessageWriter<EguiInputEvent>,
) {
    *pointing = XrPointing::default();
    for (AimPose(hand), pose) in &aims {
        let (origin, forward) = (pose.translation(), pose.forward());
        let pointable = |entity: Entity| !not_pointable.contains(entity);
        let settings = MeshRayCastSettings::default()
            .with_visibility(RayCastVisibility::Any)
            .with_filter(&pointable);
        let first = ray_cast
            .cast_ray(Ray3d::new(origin, forward), &settings)
            .first()
            .map(|(entity, hit)| (*entity, hit.point, hit.normal));
        let on_panel = match (&panel, first) {
            (Some(panel), Some((entity, point, _))) if entity == panel.surface => surfaces
                .get(panel.surface)
                .ok()
                .and_then(|surface| XrPanel::point(surface, point))
                .map(|at| (panel.context, at)),
            _ => None,
        };
        let (end, colour) = match first {
            Some((_, point, _)) if on_panel.is_some() => {
                let (context, at) = on_panel.expect("checked");
                pointing.panel[hand.index()] = Some(at);
                egui_input.write(EguiInputEvent {
                    context,
                    event: egui::Event::PointerMoved(at),
                });
                (point, crate::scene::visuals::colors::SELECTION)
            }
            Some((_, point, normal))
                if *mode == XrViewMode::Walkthrough && point.y < FLOOR_LEVEL && normal.y > 0.7 =>
            {
                pointing.floor[hand.index()] = Some(point);
                gizmos.circle(
                    Isometry3d::new(
                        point + Vec3::Y * 0.01,
                        Quat::from_rotation_x(std::f32::consts::FRAC_PI_2),
                    ),
                    0.3,
                    Color::srgb(0.3, 1.0, 0.5),
                );
                (point, Color::srgb(0.3, 1.0, 0.5))
            }
            Some((entity, point, _)) => match bound_twin_of(entity, &parents, &bound) {
                Some(twin) => {
                    pointing.twin[hand.index()] = Some(twin);
                    (point, crate::scene::visuals::colors::SELECTION)
                }
                None => (point, Color::srgba(1.0, 1.0, 1.0, 0.4)),
            },
            None => (origin + *forward * 10.0, Color::srgba(1.0, 1.0, 1.0, 0.4)),
        };
        gizmos.line(origin, end, colour);
    }
}

/// Select: the part pointed at is selected, a spot on the floor is teleported to, a place
/// on the panel is clicked; nothing: up one level. Menu: to the part in alarm. The stick:
/// snap turn (in tabletop mode the model turns). View: walkthrough ⇄ tabletop. Panel: to
/// this hand, or pinned. Grips: held positions for the tabletop grab.
#[allow(clippy::too_many_arguments)]
fn act_on_buttons(
    actions: Option<Res<ControllerActions>>,
    session: Res<OxrSession>,
    pointing: Res<XrPointing>,
    (mut scripted, snap_turn, mode): (ResMut<ScriptedPress>, Res<SnapTurn>, Res<XrViewMode>),
    (selection, state): (Res<Selection>, Res<TwinState>),
    aims: Query<(&AimPose, &GlobalTransform), With<XrSpace>>,
    mut turned: Local<[bool; 2]>,
    mut select: MessageWriter<SelectTwin>,
    (mut moves, mut views, mut panel_commands, mut table_turns): (
        MessageWriter<XrMove>,
        MessageWriter<XrViewCommand>,
        MessageWriter<XrPanelCommand>,
        MessageWriter<TurnTheTable>,
    ),
    mut grips: ResMut<XrGrips>,
    panel: Option<Res<XrPanel>>,
    mut egui_input: MessageWriter<EguiInputEvent>,
    mut pressing: Local<Option<PanelPress>>,
) {
    let Some(actions) = actions else { return };
    let pressed = |action: &openxr::Action<bool>| {
        action
            .state(&session, openxr::Path::NULL)
            .is_ok_and(|state| {
                state.is_active && state.changed_since_last_sync && state.current_state
            })
    };
    let held = |action: &openxr::Action<bool>| {
        action
            .state(&session, openxr::Path::NULL)
            .is_ok_and(|state| state.is_active && state.current_state)
    };
    // A press on the panel lasts while the trigger is held (Send is held to confirm), a
    // scripted one as long as its script says; then the release, where the ray is now.
    if let Some(press) = *pressing {
        let h = press.hand.index();
        let released = match press.until {
            Some(until) => std::time::Instant::now() >= until,
            None => !held(&actions.select[h]),
        };
        if released {
            let event = egui::Event::PointerButton {
                pos: pointing.panel[h].unwrap_or(press.at),
                button: egui::PointerButton::Primary,
                pressed: false,
                modifiers: egui::Modifiers::NONE,
            };
            egui_input.write(EguiInputEvent {
                context: press.context,
                event,
            });
            *pressing = None;
        }
    }
    let mut presses: Vec<(Button, Hand)> = Vec::new();
    let mut now_gripped = XrGrips::default();
    for hand in Hand::BOTH {
        let h = hand.index();
        for (button, action) in [
            (Button::Select, &actions.select[h]),
            (Button::Menu, &actions.menu[h]),
            (Button::View, &actions.view[h]),
            (Button::Panel, &actions.panel[h]),
        ] {
            if pressed(action) {
                presses.push((button, hand));
            }
        }
        if held(&actions.grab[h])
            && let Some((_, pose)) = aims.iter().find(|(aim, _)| aim.0 == hand)
        {
            let yaw = pose.rotation().to_euler(EulerRot::YXZ).0;
            now_gripped.0[h] = Some((pose.translation(), yaw));
        }
        // A snap turn each time the stick is pushed past 70% to a side.
        let x = actions.turn[h]
            .state(&session, openxr::Path::NULL)
            .map_or(0.0, |state| {
                if state.is_active {
                    state.current_state.x
                } else {
                    0.0
                }
            });
        let pushed = x.abs() > 0.7;
        if pushed && !turned[h] {
            let angle = if x > 0.0 { -snap_turn.0 } else { snap_turn.0 };
            match *mode {
                XrViewMode::Walkthrough => {
                    moves.write(XrMove::Turn(angle));
                }
                XrViewMode::Tabletop => {
                    table_turns.write(TurnTheTable(angle));
                }
            }
        }
        turned[h] = pushed;
    }
    grips.set_if_neq(now_gripped);
    let mut scripted_holds: Vec<(Hand, Duration)> = Vec::new();
    for (button, hand, hold) in scripted.due() {
        info!(
            "test: pressing {hand:?} {button:?} for {hold:?} (pointing at {:?}, on the panel at {:?})",
            pointing.twin[hand.index()],
            pointing.panel[hand.index()]
        );
        presses.push((button, hand));
        if button == Button::Select {
            scripted_holds.push((hand, hold));
        }
    }
    for (button, hand) in presses {
        match button {
            Button::Select => match (
                pointing.panel[hand.index()],
                pointing.floor[hand.index()],
                pointing.twin[hand.index()],
                &panel,
            ) {
                // On the panel, select clicks where the ray meets it.
                (Some(at), _, _, Some(panel)) => {
                    let event = egui::Event::PointerButton {
                        pos: at,
                        button: egui::PointerButton::Primary,
                        pressed: true,
                        modifiers: egui::Modifiers::NONE,
                    };
                    egui_input.write(EguiInputEvent {
                        context: panel.context,
                        event,
                    });
                    let until = scripted_holds
                        .iter()
                        .find(|(h, _)| *h == hand)
                        .map(|(_, hold)| std::time::Instant::now() + *hold);
                    *pressing = Some(PanelPress {
                        context: panel.context,
                        at,
                        hand,
                        until,
                    });
                }
                (None, Some(spot), _, _) => {
                    moves.write(XrMove::Teleport(spot));
                }
                (_, _, Some(twin), _) => {
                    select.write(SelectTwin(Some(twin)));
                }
                // Pointing at nothing: up one level, as Esc on the desktop.
                _ => {
                    let parent = selection
                        .twin
                        .filter(|t| (t.0 as usize) < state.store.len())
                        .and_then(|t| state.store.get(t).parent);
                    select.write(SelectTwin(parent));
                }
            },
            Button::Menu => {
                moves.write(XrMove::ToAlarm);
            }
            Button::View => {
                views.write(XrViewCommand::Toggle);
            }
            Button::Panel => {
                panel_commands.write(XrPanelCommand::Summon(hand));
            }
        }
    }
}
