//! The two ways to see the plant in the headset. **Walkthrough**: 1:1 scale, standing on the
//! plant's floor (the stage places it, locomotion moves the user). **Tabletop**: the whole
//! plant as a model on a round table in front of the user; either hand's grip grabs it and
//! moves and turns it with the hand, both grips together scale and turn it about the point
//! between the hands, and the stick turns it in snap steps. Switching back to the
//! walkthrough stands the user in front of the part selected on the table, so the table is a
//! map to pick the place to go.
//!
//! The plant moves, not the user: the model root gets the table's transform (a
//! [`TablePose`] applied after the walkthrough placement) and the tracking root is set back
//! to the room's origin, so the table stands where the user is.

use bevy::prelude::*;
use bevy_mod_xr::session::XrTrackingRoot;

use super::controllers::Hand;
use super::locomotion::spot_in_front_of;
use super::stage::PlantPlacement;
use crate::scene::binding::{SceneModelRoot, TwinMeshes, meshes_of_twin, world_bounds};
use crate::scene::selection::Selection;
use crate::store::sync::{TwinEntities, TwinState};

/// Switches between the walkthrough and the tabletop.
pub struct XrTabletopPlugin;

/// How the plant is seen now.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum XrViewMode {
    #[default]
    Walkthrough,
    Tabletop,
}

/// A request to change the view (from a controller button or the panel).
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub enum XrViewCommand {
    Toggle,
    Set(XrViewMode),
}

/// The grips held now, as the controllers report them: each hand's position and the
/// direction it faces (yaw, radians), when its grip is held.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq)]
pub struct XrGrips(pub [Option<(Vec3, f32)>; 2]);

/// Turn the model on the table by this angle (from the stick in tabletop mode).
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub struct TurnTheTable(pub f32);

/// The table's top, in metres above the floor, its radius, and how far in front of the
/// room's origin its centre stands.
pub const TABLE_TOP: f32 = 0.8;
pub const TABLE_RADIUS: f32 = 0.6;
pub const TABLE_DISTANCE: f32 = 0.8;
/// The plant's longer side on the table when it is put there, in metres.
pub const TABLE_SPAN: f32 = 1.0;
/// Grabbing scales the model between these multiples of its first size on the table.
pub const SCALE_RANGE: (f32, f32) = (0.05, 50.0);

/// Where the plant's floor centre stands in the room, how it is turned and scaled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TablePose {
    pub centre: Vec3,
    pub yaw: f32,
    pub scale: f32,
}

impl TablePose {
    /// The plant, with these walkthrough bounds, fitted to the table.
    pub fn fitted(min: Vec3, max: Vec3) -> Self {
        let span = (max.x - min.x).max(max.z - min.z).max(1e-3);
        TablePose {
            centre: Vec3::new(0.0, TABLE_TOP, -TABLE_DISTANCE),
            yaw: 0.0,
            scale: TABLE_SPAN / span,
        }
    }

    /// Walkthrough coordinates → the room, for a plant whose floor centre is `anchor`.
    pub fn matrix(&self, anchor: Vec3) -> Mat4 {
        Mat4::from_scale_rotation_translation(
            Vec3::splat(self.scale),
            Quat::from_rotation_y(self.yaw),
            self.centre,
        ) * Mat4::from_translation(-anchor)
    }

    /// This pose after the hands that held it at `from` moved to `to` (same hands, same
    /// order): one hand carries and turns it; two hands also scale it by how far apart they
    /// moved, turning it with the line between them, about the vertical through the point
    /// between them.
    pub fn grabbed(
        &self,
        from: &[(Vec3, f32)],
        to: &[(Vec3, f32)],
        fitted_scale: f32,
    ) -> TablePose {
        let (pivot_from, pivot_to, turn, ratio) = match (from, to) {
            ([(a, yaw_a)], [(b, yaw_b)]) => (*a, *b, yaw_b - yaw_a, 1.0),
            ([a0, a1], [b0, b1]) => {
                let (before, after) = (a1.0 - a0.0, b1.0 - b0.0);
                let ratio = if before.length() > 0.02 {
                    after.length() / before.length()
                } else {
                    1.0
                };
                (
                    (a0.0 + a1.0) / 2.0,
                    (b0.0 + b1.0) / 2.0,
                    yaw_of(after) - yaw_of(before),
                    ratio,
                )
            }
            _ => return *self,
        };
        let scale =
            (self.scale * ratio).clamp(fitted_scale * SCALE_RANGE.0, fitted_scale * SCALE_RANGE.1);
        let ratio = scale / self.scale;
        // Scaled and turned about the vertical through the pivot: the model's height above or
        // below the hands is kept, so it stays standing on the table as it grows.
        let offset = self.centre - pivot_from;
        let across = Quat::from_rotation_y(turn) * (Vec3::new(offset.x, 0.0, offset.z) * ratio);
        let centre = pivot_to + across + Vec3::Y * offset.y;
        TablePose {
            centre,
            yaw: self.yaw + turn,
            scale,
        }
    }
}

/// The angle of a horizontal direction, counter-clockwise from +X seen from above (the angle
/// `Quat::from_rotation_y` turns +X by).
fn yaw_of(v: Vec3) -> f32 {
    (-v.z).atan2(v.x)
}

/// The floor centre of the plant's walkthrough bounds: the point that stands on the table.
fn anchor_of(placement: &PlantPlacement) -> Vec3 {
    Vec3::new(
        (placement.min.x + placement.max.x) / 2.0,
        placement.min.y,
        (placement.min.z + placement.max.z) / 2.0,
    )
}

/// The table and what is remembered across a visit to it.
#[derive(Resource)]
struct Table {
    furniture: Entity,
    pose: Option<TablePose>,
    fitted_scale: f32,
    /// Where the user stood in the walkthrough, to go back to when nothing is selected.
    walkthrough_spot: Transform,
    /// The grab in progress: the pose and hands when the set of held grips last changed.
    grab: Option<(TablePose, Vec<(Hand, Vec3, f32)>)>,
}

impl Plugin for XrTabletopPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<XrViewMode>()
            .init_resource::<XrGrips>()
            .add_message::<XrViewCommand>()
            .add_message::<TurnTheTable>()
            .add_systems(Startup, spawn_the_table)
            .add_systems(
                Update,
                (switch_the_view, move_the_table)
                    .chain()
                    .after(super::locomotion::apply_moves)
                    .in_set(super::XrSystems::Move),
            );
    }
}

fn spawn_the_table(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let wood = materials.add(StandardMaterial {
        base_color: Color::srgb(0.32, 0.34, 0.38),
        perceptual_roughness: 0.8,
        ..default()
    });
    let furniture = commands
        .spawn((
            Transform::from_xyz(0.0, 0.0, -TABLE_DISTANCE),
            Visibility::Hidden,
            super::NotPointable,
            Name::new("xr-table"),
        ))
        .with_children(|table| {
            table.spawn((
                Mesh3d(meshes.add(Cylinder::new(TABLE_RADIUS, 0.04))),
                MeshMaterial3d(wood.clone()),
                Transform::from_xyz(0.0, TABLE_TOP - 0.02, 0.0),
                super::NotPointable,
            ));
            table.spawn((
                Mesh3d(meshes.add(Cylinder::new(0.06, TABLE_TOP - 0.04))),
                MeshMaterial3d(wood),
                Transform::from_xyz(0.0, (TABLE_TOP - 0.04) / 2.0, 0.0),
                super::NotPointable,
            ));
        })
        .id();
    commands.insert_resource(Table {
        furniture,
        pose: None,
        fitted_scale: 1.0,
        walkthrough_spot: Transform::IDENTITY,
        grab: None,
    });
}

#[allow(clippy::too_many_arguments)]
fn switch_the_view(
    mut requests: MessageReader<XrViewCommand>,
    mut mode: ResMut<XrViewMode>,
    mut table: ResMut<Table>,
    placement: Option<Res<PlantPlacement>>,
    mut model: Query<&mut Transform, (With<SceneModelRoot>, Without<XrTrackingRoot>)>,
    mut user: Query<&mut Transform, (With<XrTrackingRoot>, Without<SceneModelRoot>)>,
    mut visibility: Query<&mut Visibility>,
    selected: (
        Res<Selection>,
        Res<TwinState>,
        Res<TwinEntities>,
        Query<&TwinMeshes>,
        Query<(&bevy::camera::primitives::Aabb, &GlobalTransform)>,
    ),
) {
    let (selection, state, entities, twin_meshes, boxes) = selected;
    for request in requests.read() {
        let wanted = match *request {
            XrViewCommand::Toggle if *mode == XrViewMode::Walkthrough => XrViewMode::Tabletop,
            XrViewCommand::Toggle => XrViewMode::Walkthrough,
            XrViewCommand::Set(wanted) => wanted,
        };
        let Some(placement) = placement.as_deref() else {
            info!("the plant is not placed yet; staying in the {mode:?} view");
            continue;
        };
        if wanted == *mode {
            continue;
        }
        let (Ok(mut model), Ok(mut user)) = (model.single_mut(), user.single_mut()) else {
            continue;
        };
        let anchor = anchor_of(placement);
        match wanted {
            XrViewMode::Tabletop => {
                table.walkthrough_spot = *user;
                *user = Transform::IDENTITY;
                let fitted = TablePose::fitted(placement.min, placement.max);
                table.fitted_scale = fitted.scale;
                let pose = *table.pose.get_or_insert(fitted);
                *model =
                    Transform::from_matrix(pose.matrix(anchor) * placement.walkthrough.to_matrix());
                info!(
                    "tabletop: the plant is {:.2} m across on the table",
                    (placement.max - placement.min).xz().max_element() * pose.scale
                );
            }
            XrViewMode::Walkthrough => {
                // The selected part's bounds on the table, taken back to walkthrough scale.
                let pose = table
                    .pose
                    .unwrap_or(TablePose::fitted(placement.min, placement.max));
                let to_walkthrough = pose.matrix(anchor).inverse();
                let part = selection
                    .twin
                    .filter(|t| (t.0 as usize) < state.store.len())
                    .and_then(|t| {
                        world_bounds(meshes_of_twin(&entities, &twin_meshes, t), &boxes)
                            .map(|b| (t, b))
                    });
                *model = placement.walkthrough;
                *user = match part {
                    Some((twin, (min, max))) => {
                        let (a, b) = (
                            to_walkthrough.transform_point3(min),
                            to_walkthrough.transform_point3(max),
                        );
                        info!(
                            "walkthrough: standing in front of {}",
                            state.store.get(twin).id
                        );
                        spot_in_front_of(a.min(b), a.max(b))
                    }
                    None => table.walkthrough_spot,
                };
            }
        }
        if let Ok(mut shown) = visibility.get_mut(table.furniture) {
            *shown = if wanted == XrViewMode::Tabletop {
                Visibility::Inherited
            } else {
                Visibility::Hidden
            };
        }
        table.grab = None;
        *mode = wanted;
    }
}

/// Grabs and stick turns, in tabletop mode.
fn move_the_table(
    mode: Res<XrViewMode>,
    grips: Res<XrGrips>,
    mut turns: MessageReader<TurnTheTable>,
    mut table: ResMut<Table>,
    placement: Option<Res<PlantPlacement>>,
    mut model: Query<&mut Transform, (With<SceneModelRoot>, Without<XrTrackingRoot>)>,
) {
    let turned: f32 = turns.read().map(|t| t.0).sum();
    let (Some(placement), XrViewMode::Tabletop) = (placement.as_deref(), *mode) else {
        table.grab = None;
        return;
    };
    let Some(mut pose) = table.pose else { return };
    let held: Vec<(Hand, Vec3, f32)> = Hand::BOTH
        .into_iter()
        .filter_map(|hand| grips.0[hand.index()].map(|(at, yaw)| (hand, at, yaw)))
        .collect();
    let same_hands = |grab: &Option<(TablePose, Vec<(Hand, Vec3, f32)>)>| {
        grab.as_ref()
            .is_some_and(|(_, from)| from.iter().map(|h| h.0).eq(held.iter().map(|h| h.0)))
    };
    if held.is_empty() {
        table.grab = None;
    } else if !same_hands(&table.grab) {
        table.grab = Some((pose, held.clone()));
    } else if let Some((start, from)) = &table.grab {
        let from: Vec<(Vec3, f32)> = from.iter().map(|h| (h.1, h.2)).collect();
        let to: Vec<(Vec3, f32)> = held.iter().map(|h| (h.1, h.2)).collect();
        pose = start.grabbed(&from, &to, table.fitted_scale);
    }
    if turned != 0.0 {
        pose.yaw += turned;
        if let Some((start, from)) = table.grab.take() {
            table.grab = Some((
                TablePose {
                    yaw: start.yaw + turned,
                    ..start
                },
                from,
            ));
        }
    }
    if Some(pose) != table.pose {
        table.pose = Some(pose);
        if let Ok(mut model) = model.single_mut() {
            *model = Transform::from_matrix(
                pose.matrix(anchor_of(placement)) * placement.walkthrough.to_matrix(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Vec3, b: Vec3) -> bool {
        (a - b).length() < 1e-4
    }

    #[test]
    fn a_plant_is_fitted_to_the_table_by_its_longer_side() {
        let pose = TablePose::fitted(Vec3::new(-20.0, 0.0, -60.0), Vec3::new(20.0, 8.0, 0.0));
        assert!((pose.scale - TABLE_SPAN / 60.0).abs() < 1e-6);
        // The plant's floor centre lands on the table's centre.
        let anchor = Vec3::new(0.0, 0.0, -30.0);
        assert!(close(
            pose.matrix(anchor).transform_point3(anchor),
            Vec3::new(0.0, TABLE_TOP, -TABLE_DISTANCE)
        ));
        // Its far corner lands half a span away.
        let corner = pose
            .matrix(anchor)
            .transform_point3(Vec3::new(20.0, 0.0, -60.0));
        assert!(close(
            corner,
            Vec3::new(20.0 / 60.0, TABLE_TOP, -TABLE_DISTANCE - 0.5)
        ));
    }

    #[test]
    fn one_hand_carries_and_turns_the_model_about_itself() {
        let pose = TablePose {
            centre: Vec3::new(0.0, 0.8, -0.8),
            yaw: 0.0,
            scale: 0.02,
        };
        let hand = Vec3::new(0.0, 1.0, -0.5);
        // The hand moves 10 cm right: so does the model.
        let moved = pose.grabbed(&[(hand, 0.0)], &[(hand + Vec3::X * 0.1, 0.0)], 0.02);
        assert!(
            close(moved.centre, pose.centre + Vec3::X * 0.1)
                && moved.yaw == 0.0
                && moved.scale == 0.02
        );
        // The hand turns 90° left on the spot: the model swings round the hand.
        let turned = pose.grabbed(&[(hand, 0.0)], &[(hand, std::f32::consts::FRAC_PI_2)], 0.02);
        assert!(
            close(turned.centre, Vec3::new(-0.3, 0.8, -0.5)),
            "{:?}",
            turned.centre
        );
        assert!((turned.yaw - std::f32::consts::FRAC_PI_2).abs() < 1e-6);
    }

    #[test]
    fn two_hands_scale_and_turn_the_model_about_the_point_between_them() {
        let pose = TablePose {
            centre: Vec3::new(0.0, 0.8, -0.8),
            yaw: 0.0,
            scale: 0.02,
        };
        let (left, right) = (Vec3::new(-0.2, 1.0, -0.8), Vec3::new(0.2, 1.0, -0.8));
        // Hands twice as far apart: twice the scale; the centre below the midpoint stays.
        let wider = pose.grabbed(
            &[(left, 0.0), (right, 0.0)],
            &[
                (left * Vec3::new(2.0, 1.0, 1.0), 0.0),
                (right * Vec3::new(2.0, 1.0, 1.0), 0.0),
            ],
            0.02,
        );
        assert!(
            (wider.scale - 0.04).abs() < 1e-6 && close(wider.centre, pose.centre),
            "{wider:?}"
        );
        // The line between the hands turns 90° counter-clockwise seen from above.
        let mid = (left + right) / 2.0;
        let turned = pose.grabbed(
            &[(left, 0.0), (right, 0.0)],
            &[(mid + Vec3::Z * 0.2, 0.0), (mid - Vec3::Z * 0.2, 0.0)],
            0.02,
        );
        assert!(
            (turned.yaw - std::f32::consts::FRAC_PI_2).abs() < 1e-5
                && close(turned.centre, pose.centre),
            "{turned:?}"
        );
        // Scaling stops at the range's ends, and hands on top of each other change nothing.
        let huge = pose.grabbed(
            &[(left, 0.0), (right, 0.0)],
            &[(left * 1000.0, 0.0), (right * 1000.0, 0.0)],
            0.02,
        );
        assert!((huge.scale - 0.02 * SCALE_RANGE.1).abs() < 1e-5);
        let same = pose.grabbed(
            &[(mid, 0.0), (mid, 0.0)],
            &[(mid, 0.0), (mid + Vec3::X, 0.0)],
            0.02,
        );
        assert_eq!(same.scale, pose.scale);
    }

    /// The plugin in a headless app: the view switch moves the plant onto the table and back,
    /// and a held grip carries it.
    #[test]
    fn the_view_switch_and_a_grip_move_the_plant() {
        use twinscope_core::rules::RuleSet;
        use twinscope_core::twin::{StoreConfig, TwinStore};
        let mut app = App::new();
        app.add_plugins((MinimalPlugins, AssetPlugin::default()))
            .init_asset::<Mesh>()
            .init_asset::<StandardMaterial>()
            .add_plugins(XrTabletopPlugin)
            .add_message::<super::super::XrMove>()
            .init_resource::<Selection>()
            .init_resource::<TwinEntities>()
            .insert_resource(TwinState {
                store: TwinStore::new(StoreConfig::default(), RuleSet::default()),
            });
        let walkthrough = Transform::from_xyz(-14.0, 0.0, -19.0);
        let model = app.world_mut().spawn((SceneModelRoot, walkthrough)).id();
        let standing = Transform::from_xyz(3.0, 0.0, -5.0);
        let user = app.world_mut().spawn((XrTrackingRoot, standing)).id();
        app.insert_resource(PlantPlacement {
            walkthrough,
            min: Vec3::new(-14.0, 0.0, -19.0),
            max: Vec3::new(14.0, 6.0, -1.0),
        });
        app.update();
        let at = |app: &App, entity| *app.world().get::<Transform>(entity).unwrap();

        app.world_mut().write_message(XrViewCommand::Toggle);
        app.update();
        assert_eq!(*app.world().resource::<XrViewMode>(), XrViewMode::Tabletop);
        assert_eq!(
            at(&app, user),
            Transform::IDENTITY,
            "the user stands at the room's origin"
        );
        let on_table = at(&app, model);
        assert!(
            (on_table.scale.x - TABLE_SPAN / 28.0).abs() < 1e-5,
            "{on_table:?}"
        );
        // The plant's floor centre (0, 0, -10) is on the table's centre.
        assert!(
            on_table
                .transform_point(Vec3::new(14.0, 0.0, 9.0))
                .distance(Vec3::new(0.0, TABLE_TOP, -TABLE_DISTANCE))
                < 1e-4
        );

        // The right grip held, then the hand moves 20 cm to the right: the plant follows.
        let hand = Vec3::new(0.2, 1.0, -0.5);
        app.world_mut().resource_mut::<XrGrips>().0[1] = Some((hand, 0.0));
        app.update();
        app.world_mut().resource_mut::<XrGrips>().0[1] = Some((hand + Vec3::X * 0.2, 0.0));
        app.update();
        let carried = at(&app, model);
        assert!(
            (carried.translation - on_table.translation - Vec3::X * 0.2).length() < 1e-4,
            "{carried:?}"
        );
        // Let go, then move the hand back: the plant stays.
        app.world_mut().resource_mut::<XrGrips>().0[1] = None;
        app.update();
        app.world_mut().resource_mut::<XrGrips>().0[1] = Some((hand, 0.0));
        app.update();
        assert_eq!(at(&app, model), carried);

        // Back to the walkthrough, nothing selected: the plant at full scale, the user where
        // they stood.
        app.world_mut()
            .write_message(XrViewCommand::Set(XrViewMode::Walkthrough));
        app.update();
        assert_eq!((at(&app, model), at(&app, user)), (walkthrough, standing));
    }

    #[test]
    fn yaw_is_measured_the_way_rotation_turns() {
        for angle in [0.3f32, 1.2, -2.0] {
            let v = Quat::from_rotation_y(angle) * Vec3::X;
            assert!((yaw_of(v) - angle).abs() < 1e-5);
        }
    }
}
