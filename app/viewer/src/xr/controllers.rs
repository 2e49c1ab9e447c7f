//! Pointing and selecting with the controllers: an aim ray from each hand's aim pose picks
//! the part it points at, and the hand's select button (the trigger on most controllers)
//! selects it, through the same [`SelectTwin`] command as a click on the desktop.
//!
//! Bindings are suggested for the common interaction profiles, so any conformant runtime
//! finds one for the controllers it has: the Khronos simple controller, Oculus Touch, Valve
//! Index and HTC Vive.

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

use crate::scene::BoundTwin;
use crate::selection::{SelectTwin, bound_twin_of};

/// Aim rays, hovering and selecting with either hand.
pub struct XrControllersPlugin;

impl Plugin for XrControllersPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<XrPointing>()
            .insert_resource(ScriptedPress::from_env())
            .add_systems(Startup, create_actions.run_if(openxr_session_available))
            .add_systems(OxrSendActionBindings, suggest_bindings)
            .add_systems(XrSessionCreated, (attach_actions, spawn_aim_spaces))
            .add_systems(PreUpdate, sync_actions.before(OxrActionSetSyncSet).run_if(openxr_session_running))
            .add_systems(Update, (point_with_aim_rays, select_on_press).chain().run_if(openxr_session_running));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hand {
    Left,
    Right,
}

impl Hand {
    const BOTH: [Hand; 2] = [Hand::Left, Hand::Right];

    fn path(self) -> &'static str {
        match self {
            Hand::Left => "/user/hand/left",
            Hand::Right => "/user/hand/right",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Each profile with the input its select action binds to (a float trigger is thresholded
/// by the runtime for a boolean action).
const PROFILES: [(&str, &str); 4] = [
    ("/interaction_profiles/khr/simple_controller", "select/click"),
    ("/interaction_profiles/oculus/touch_controller", "trigger/value"),
    ("/interaction_profiles/valve/index_controller", "trigger/click"),
    ("/interaction_profiles/htc/vive_controller", "trigger/click"),
];

#[derive(Resource)]
struct ControllerActions {
    set: openxr::ActionSet,
    aim: [openxr::Action<openxr::Posef>; 2],
    select: [openxr::Action<bool>; 2],
}

/// What each hand points at now: the twin and where the ray hits it.
#[derive(Resource, Default, Debug, Clone, Copy)]
pub struct XrPointing {
    pub twin: [Option<TwinIndex>; 2],
    pub hit: [Option<Vec3>; 2],
}

/// The aim pose of one hand (its transform is the pose, updated by bevy_mod_openxr).
#[derive(Component)]
struct AimPose(Hand);

/// A test hook (`TWINSCOPE_XR_TEST_PRESS=right@4s`): presses a hand's select button once,
/// that long after the session started running, as a simulated controller cannot.
#[derive(Resource, Default)]
struct ScriptedPress {
    press: Option<(Hand, Duration)>,
    running_since: Option<std::time::Instant>,
}

impl ScriptedPress {
    fn from_env() -> Self {
        let press = std::env::var("TWINSCOPE_XR_TEST_PRESS").ok().and_then(|text| {
            let (hand, at) = text.split_once('@')?;
            let hand = match hand {
                "left" => Hand::Left,
                "right" => Hand::Right,
                _ => return None,
            };
            Some((hand, twinscope_core::time::parse_duration(at).ok()?))
        });
        ScriptedPress { press, running_since: None }
    }
}

fn create_actions(instance: Res<OxrInstance>, mut commands: Commands) {
    let created = (|| -> openxr::Result<ControllerActions> {
        let set = instance.create_action_set("twinscope", "twinscope", 0)?;
        Ok(ControllerActions {
            aim: [set.create_action("aim_left", "Left aim", &[])?, set.create_action("aim_right", "Right aim", &[])?],
            select: [set.create_action("select_left", "Left select", &[])?, set.create_action("select_right", "Right select", &[])?],
            set,
        })
    })();
    match created {
        Ok(actions) => commands.insert_resource(actions),
        Err(error) => error!("cannot create the controller actions: {error}"),
    }
}

fn suggest_bindings(actions: Option<Res<ControllerActions>>, mut bindings: MessageWriter<OxrSuggestActionBinding>) {
    let Some(actions) = actions else { return };
    for (profile, select) in PROFILES {
        for hand in Hand::BOTH {
            bindings.write(OxrSuggestActionBinding {
                action: actions.aim[hand.index()].as_raw(),
                interaction_profile: profile.into(),
                bindings: vec![format!("{}/input/aim/pose", hand.path()).into()],
            });
            bindings.write(OxrSuggestActionBinding {
                action: actions.select[hand.index()].as_raw(),
                interaction_profile: profile.into(),
                bindings: vec![format!("{}/input/{select}", hand.path()).into()],
            });
        }
    }
}

fn attach_actions(actions: Option<Res<ControllerActions>>, mut attach: MessageWriter<OxrAttachActionSet>) {
    if let Some(actions) = actions {
        attach.write(OxrAttachActionSet(actions.set.clone()));
    }
}

fn sync_actions(actions: Option<Res<ControllerActions>>, mut sync: MessageWriter<OxrSyncActionSet>) {
    if let Some(actions) = actions {
        sync.write(OxrSyncActionSet(actions.set.clone()));
    }
}

fn spawn_aim_spaces(actions: Option<Res<ControllerActions>>, session: Res<OxrSession>, mut commands: Commands) {
    let Some(actions) = actions else { return };
    for hand in Hand::BOTH {
        match session.create_action_space(&actions.aim[hand.index()], openxr::Path::NULL, Isometry3d::IDENTITY) {
            Ok(space) => {
                commands.spawn((space, bevy_mod_xr::session::XrTracker, AimPose(hand), Name::new(format!("aim-{hand:?}"))));
            }
            Err(error) => error!("cannot track the {hand:?} controller's aim: {error}"),
        }
    }
}

/// Casts each hand's aim ray into the plant and remembers the first part it hits.
fn point_with_aim_rays(
    aims: Query<(&AimPose, &GlobalTransform), With<XrSpace>>,
    mut ray_cast: MeshRayCast,
    parents: Query<&ChildOf>,
    bound: Query<&BoundTwin>,
    mut pointing: ResMut<XrPointing>,
    mut gizmos: Gizmos,
) {
    *pointing = XrPointing::default();
    for (AimPose(hand), pose) in &aims {
        let (origin, forward) = (pose.translation(), pose.forward());
        let settings = MeshRayCastSettings::default().with_visibility(RayCastVisibility::Any);
        let hit = ray_cast
            .cast_ray(Ray3d::new(origin, forward), &settings)
            .iter()
            .find_map(|(entity, hit)| bound_twin_of(*entity, &parents, &bound).map(|twin| (twin, hit.point)));
        let end = match hit {
            Some((twin, point)) => {
                pointing.twin[hand.index()] = Some(twin);
                pointing.hit[hand.index()] = Some(point);
                point
            }
            None => origin + *forward * 10.0,
        };
        let colour = if hit.is_some() { Color::srgb(0.2, 0.85, 1.0) } else { Color::srgba(1.0, 1.0, 1.0, 0.4) };
        gizmos.line(origin, end, colour);
    }
}

/// A press of a hand's select button selects what that hand points at (nothing: clears).
fn select_on_press(
    actions: Option<Res<ControllerActions>>,
    session: Res<OxrSession>,
    pointing: Res<XrPointing>,
    mut scripted: ResMut<ScriptedPress>,
    mut select: MessageWriter<SelectTwin>,
) {
    let Some(actions) = actions else { return };
    for hand in Hand::BOTH {
        let pressed = actions.select[hand.index()]
            .state(&session, openxr::Path::NULL)
            .is_ok_and(|state| state.is_active && state.changed_since_last_sync && state.current_state);
        if pressed {
            select.write(SelectTwin(pointing.twin[hand.index()]));
        }
    }
    let since = *scripted.running_since.get_or_insert_with(std::time::Instant::now);
    if let Some((hand, at)) = scripted.press
        && since.elapsed() >= at
    {
        scripted.press = None;
        info!("test: pressing {hand:?} select (pointing at {:?})", pointing.twin[hand.index()]);
        select.write(SelectTwin(pointing.twin[hand.index()]));
    }
}
