//! Following another participant in the headset (`--follow USER`): never a camera lock (the
//! head is the user's own), but a teleport behind the followed one, facing their way,
//! whenever they have moved on more than a few metres, hidden by a short fade to black and
//! back, so the jump does not make anyone sick.

use bevy::prelude::*;
use bevy_mod_xr::camera::XrCamera;

use super::XrMove;
use crate::session::{Following, Participants};

/// Follows by teleporting, with a fade.
pub struct XrFollowPlugin;

impl Plugin for XrFollowPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, spawn_the_fade).add_systems(
            Update,
            (
                go_to_a_participant,
                stand_where_the_other_device_looked,
                follow_by_teleport,
            )
                .in_set(super::XrSystems::Input),
        );
    }
}

/// How far the followed one may walk away before we are brought behind them, metres.
const LEEWAY: f32 = 3.0;
/// Where we land: this far behind the followed one's head, on the floor.
const BEHIND: f32 = 1.5;
/// Each half of the fade, seconds.
const FADE: f32 = 0.2;

/// A black shell around the eyes whose opacity the fade animates.
#[derive(Resource)]
struct Fade {
    shell: Entity,
    material: Handle<StandardMaterial>,
    /// Seconds into the fade, the spot to land on at its darkest with the turn to face the
    /// way the followed one faces, and whether we have landed.
    running: Option<(f32, (Vec3, f32), bool)>,
}

fn spawn_the_fade(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let material = materials.add(StandardMaterial {
        base_color: Color::srgba(0.0, 0.0, 0.0, 0.0),
        unlit: true,
        alpha_mode: AlphaMode::Blend,
        cull_mode: None,
        ..default()
    });
    let shell = commands
        .spawn((
            Mesh3d(meshes.add(Sphere::new(0.25).mesh())),
            MeshMaterial3d(material.clone()),
            Transform::default(),
            Visibility::Hidden,
            super::NotPointable,
            Name::new("xr-follow-fade"),
        ))
        .id();
    commands.insert_resource(Fade {
        shell,
        material,
        running: None,
    });
}

/// The turn about the vertical (radians, shortest way) from facing `now` to facing `wanted`.
fn turn_to_face(now: Vec3, wanted: Vec3) -> f32 {
    let yaw = |f: Vec3| (-f.x).atan2(-f.z);
    (yaw(wanted) - yaw(now) + std::f32::consts::PI).rem_euclid(std::f32::consts::TAU)
        - std::f32::consts::PI
}

/// The spot [`BEHIND`] a head, and the level direction it faces.
fn behind(head: Transform) -> (Vec3, Vec3) {
    let forward = head.forward().as_vec3();
    let level = Vec3::new(forward.x, 0.0, forward.z)
        .try_normalize()
        .unwrap_or(Vec3::NEG_Z);
    (head.translation - level * BEHIND, level)
}

#[allow(clippy::too_many_arguments)]
fn follow_by_teleport(
    following: Res<Following>,
    participants: Res<Participants>,
    eyes: Query<&GlobalTransform, With<XrCamera>>,
    mut fade: ResMut<Fade>,
    mut shells: Query<(&mut Transform, &mut Visibility)>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    time: Res<Time<Real>>,
    mut moves: MessageWriter<XrMove>,
) {
    let Some(eye_pose) = eyes.iter().next() else {
        return;
    };
    let eye = eye_pose.translation();
    if let Ok((mut shell, _)) = shells.get_mut(fade.shell) {
        shell.translation = eye;
    }
    if fade.running.is_none()
        && let Some(user) = &following.0
        && let Some(head) = participants.get(user).and_then(|p| p.head)
    {
        let (spot, level) = behind(head);
        if Vec2::new(eye.x - spot.x, eye.z - spot.z).length() > LEEWAY {
            let turn = turn_to_face(eye_pose.forward().as_vec3(), level);
            fade.running = Some((0.0, (spot, turn), false));
            info!("following {user}: teleporting behind them");
        }
    }
    let Some((elapsed, (spot, turn), landed)) = fade.running else {
        return;
    };
    let elapsed = elapsed + time.delta_secs();
    let darkness = if elapsed < FADE {
        elapsed / FADE
    } else {
        (1.0 - (elapsed - FADE) / FADE).max(0.0)
    };
    let landed = landed || elapsed >= FADE;
    if landed && !fade.running.is_some_and(|(_, _, was)| was) {
        // Facing the way they face, then on the spot behind them.
        moves.write(XrMove::Turn(turn));
        moves.write(XrMove::Teleport(Vec3::new(spot.x, 0.0, spot.z)));
    }
    if let Some(mut material) = materials.get_mut(&fade.material) {
        material.base_color = Color::srgba(0.0, 0.0, 0.0, darkness);
    }
    let done = elapsed >= 2.0 * FADE;
    if let Ok((_, mut visibility)) = shells.get_mut(fade.shell) {
        visibility.set_if_neq(if done {
            Visibility::Hidden
        } else {
            Visibility::Inherited
        });
    }
    fade.running = (!done).then_some((elapsed, (spot, turn), landed));
}

/// The panel's "Go to" in the headset: stand in front of what they have selected, or behind
/// them where they stand.
fn go_to_a_participant(
    mut commands: MessageReader<crate::session::SessionCommand>,
    participants: Res<Participants>,
    mut moves: MessageWriter<XrMove>,
) {
    for command in commands.read() {
        let crate::session::SessionCommand::GoTo(user) = command else {
            continue;
        };
        let Some(participant) = participants.get(user) else {
            continue;
        };
        match (&participant.selected, participant.head) {
            (Some((_, Some(twin))), _) => {
                moves.write(XrMove::ToTwin(*twin));
            }
            (_, Some(head)) => {
                moves.write(XrMove::Teleport(behind(head).0));
            }
            _ => {}
        }
        info!("going to {user}");
    }
}

/// Taking over from this user's desktop (with nothing selected, else --start-at stands us in
/// front of the selection): once the plant stands, stand a couple of metres short of where
/// the desktop camera looked (its ray to the floor, or below the camera if it looked up),
/// facing the way it looked.
fn stand_where_the_other_device_looked(
    mut continued: MessageReader<crate::session::ContinueFrom>,
    mut pending: Local<Option<crate::session::ContinueFrom>>,
    placed: Option<Res<super::PlantPlacement>>,
    frame: crate::session::PlantFrame,
    eyes: Query<&GlobalTransform, With<XrCamera>>,
    mut moves: MessageWriter<XrMove>,
) {
    if let Some(latest) = continued.read().last() {
        *pending = (!latest.selected).then_some(*latest);
    }
    let (Some(from), Some(_), Some(eye)) = (*pending, placed, eyes.iter().next()) else {
        return;
    };
    *pending = None;
    let head = frame.to_world(from.head);
    let forward = head.forward().as_vec3();
    let looked_at = if forward.y < -0.05 {
        head.translation + forward * (head.translation.y / -forward.y).min(100.0)
    } else {
        head.translation
    };
    let level = Vec3::new(forward.x, 0.0, forward.z)
        .try_normalize()
        .unwrap_or(Vec3::NEG_Z);
    let spot = looked_at - level * 2.0;
    moves.write(XrMove::Turn(turn_to_face(eye.forward().as_vec3(), level)));
    moves.write(XrMove::Teleport(Vec3::new(spot.x, 0.0, spot.z)));
    info!("standing where this user's desktop looked");
}
