//! Scene loading and binding: spawns the scene's glTF model and binds its nodes to twins.
//!
//! Which node is which twin is decided once, in the core (`manifest::bind_model`, the same
//! call `twinscope check` reports): the viewer only maps the bound glTF node indices to the
//! entities Bevy's loader spawns for them (a loader hook tags each node entity with its index).

use std::collections::HashMap;
use std::path::PathBuf;

use bevy::asset::LoadState;
use bevy::camera::primitives::Aabb;
use bevy::gltf::extensions::{
    ErasedGltfExtensionHandler, GltfExtensionHandler, GltfExtensionHandlers,
};
use bevy::prelude::*;
use bevy::world_serialization::WorldAssetRoot;

use crate::store::sync::{TwinEntities, TwinState, TwinVisualState};
use crate::{TwinscopeSystems, configure_twinscope_sets};

/// Spawns the model named by [`SceneSource`] and binds its nodes to twins.
pub struct SceneBindingPlugin;

impl Plugin for SceneBindingPlugin {
    fn build(&self, app: &mut App) {
        configure_twinscope_sets(app);
        app.register_type::<GltfNodeIndex>();
        // Headless tests have no glTF loader: their entities carry `GltfNodeIndex` themselves.
        if let Some(handlers) = app.world().get_resource::<GltfExtensionHandlers>() {
            handlers.0.write_blocking().push(Box::new(TagNodeIndex));
        }
        app.init_resource::<SceneStatus>()
            .init_resource::<NewNodes>()
            .add_observer(note_new_node)
            .add_systems(Startup, spawn_scene_model)
            .add_systems(
                Update,
                (
                    report_model_load_failure,
                    place_loaded_model,
                    bind_new_nodes,
                    collect_twin_meshes,
                )
                    .chain()
                    .in_set(TwinscopeSystems::Bind),
            );
    }
}

/// The model to show and how to bind it (from the scene manifest).
#[derive(Resource, Clone)]
pub struct SceneSource {
    /// Asset path of the model, relative to the asset root.
    pub model_asset: String,
    /// The glTF scene to spawn.
    pub scene_index: usize,
    /// Twin ids by glTF node index, as the core bound them.
    pub node_twins: HashMap<usize, String>,
    /// For messages.
    pub model_file: PathBuf,
    /// Metres per model unit (`[scene] units`).
    pub metres_per_unit: f32,
    /// The model's files on disk, in bytes (for the load progress bar; 0 when unknown).
    pub model_bytes: u64,
}

/// What the user should know about the scene: its load error, if any.
#[derive(Resource, Default)]
pub struct SceneStatus {
    pub error: Option<String>,
    pub bound_nodes: usize,
    model: Option<Handle<bevy::gltf::Gltf>>,
}

impl SceneStatus {
    /// A scene that could not be loaded: the viewer runs and shows this message.
    pub fn failed(message: String) -> Self {
        SceneStatus {
            error: Some(message),
            ..Default::default()
        }
    }

    /// The model's glTF asset, once its load has started.
    pub fn model_handle(&self) -> Option<&Handle<bevy::gltf::Gltf>> {
        self.model.as_ref()
    }
}

/// The glTF node an entity was spawned for (its index in the file's `nodes`). Reflected:
/// scene spawning copies components by reflection.
#[derive(Component, Reflect, Debug, Clone, Copy, PartialEq, Eq)]
#[reflect(Component)]
pub struct GltfNodeIndex(pub usize);

/// The glTF loader hook that tags each node's entity with its [`GltfNodeIndex`].
#[derive(Clone, Default)]
struct TagNodeIndex;

impl GltfExtensionHandler for TagNodeIndex {
    fn dyn_clone(&self) -> Box<dyn ErasedGltfExtensionHandler> {
        Box::new(self.clone())
    }

    fn on_gltf_node(
        &mut self,
        _load_context: &mut bevy::asset::LoadContext<'_>,
        gltf_node: &gltf::Node,
        entity: &mut EntityWorldMut,
    ) {
        entity.insert(GltfNodeIndex(gltf_node.index()));
    }
}

/// Marks an entity bound to a twin.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundTwin(pub twinscope_core::twin::TwinIndex);

/// The mesh entities that draw a bound twin (descendants up to the next bound node).
#[derive(Component, Debug, Default)]
pub struct TwinMeshes(pub Vec<Entity>);

/// The mesh entities that draw `twin` itself (every node bound to it, not its children).
/// The folder Bevy loads the model from: the model's own folder, absolute. A model named
/// without a folder (`plant.glb`, from a manifest in the working directory) is in the
/// working directory; an empty folder would make Bevy look next to the executable.
pub fn asset_root(model_path: &std::path::Path) -> std::path::PathBuf {
    let folder = model_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    std::path::absolute(folder).unwrap_or_else(|_| folder.to_owned())
}

pub fn meshes_of_twin<'a, 'w, 's, 'q, F: bevy::ecs::query::QueryFilter>(
    entities: &'a TwinEntities,
    meshes: &'a Query<'w, 's, &'q TwinMeshes, F>,
    twin: twinscope_core::twin::TwinIndex,
) -> impl Iterator<Item = Entity> + 'a {
    entities
        .by_twin
        .get(&twin)
        .into_iter()
        .flatten()
        .filter_map(|e| meshes.get(*e).ok())
        .flat_map(|m| m.0.iter().copied())
}

/// The world-space box around mesh entities (all eight corners of each mesh's box, so
/// rotated parts are covered), if any of them has one yet.
pub fn world_bounds(
    meshes: impl IntoIterator<Item = Entity>,
    boxes: &Query<(&Aabb, &GlobalTransform)>,
) -> Option<(Vec3, Vec3)> {
    let (mut min, mut max) = (Vec3::splat(f32::MAX), Vec3::splat(f32::MIN));
    for (aabb, transform) in meshes.into_iter().filter_map(|e| boxes.get(e).ok()) {
        let (part_min, part_max) = world_box(aabb, transform);
        (min, max) = (min.min(part_min), max.max(part_max));
    }
    (min.x <= max.x).then_some((min, max))
}

/// One mesh's box in world space: around all eight corners, so a rotated part is covered.
pub fn world_box(aabb: &Aabb, transform: &GlobalTransform) -> (Vec3, Vec3) {
    let (mut min, mut max) = (Vec3::splat(f32::MAX), Vec3::splat(f32::MIN));
    for corner in box_corners(Vec3::from(aabb.center), Vec3::from(aabb.half_extents)) {
        let point = transform.transform_point(corner);
        (min, max) = (min.min(point), max.max(point));
    }
    (min, max)
}

/// The eight corners of a box given by its centre and half extents.
pub fn box_corners(centre: Vec3, half: Vec3) -> impl Iterator<Item = Vec3> {
    (0..8).map(move |corner| {
        let sign = Vec3::new(
            if corner & 1 == 0 { -1.0 } else { 1.0 },
            if corner & 2 == 0 { -1.0 } else { 1.0 },
            if corner & 4 == 0 { -1.0 } else { 1.0 },
        );
        centre + half * sign
    })
}

/// The root entity of the spawned model.
#[derive(Component)]
pub struct SceneModelRoot;

fn spawn_scene_model(
    mut commands: Commands,
    source: Option<Res<SceneSource>>,
    assets: Option<Res<AssetServer>>,
    mut status: ResMut<SceneStatus>,
) {
    // Headless tests bind hand-spawned entities and have no asset server.
    let (Some(source), Some(assets)) = (source, assets) else {
        return;
    };
    // Only the glTF itself is requested: asking for its scene by label at the same time
    // would make Bevy read and decode the file twice (two loads of one path can race).
    status.model = Some(assets.load(source.model_asset.clone()));
    // Scaled to metres: a millimetre CAD model stands at its real size.
    commands.spawn((
        SceneModelRoot,
        Transform::from_scale(Vec3::splat(source.metres_per_unit)),
        Visibility::default(),
        Name::new("scene-model"),
    ));
}

/// Once the glTF is loaded, spawns its scene under the model root.
fn place_loaded_model(
    mut commands: Commands,
    roots: Query<Entity, (With<SceneModelRoot>, Without<WorldAssetRoot>)>,
    gltfs: Option<Res<Assets<bevy::gltf::Gltf>>>,
    source: Option<Res<SceneSource>>,
    mut status: ResMut<SceneStatus>,
) {
    let (Some(gltfs), Some(source)) = (gltfs, source) else {
        return;
    };
    let Some(gltf) = status.model.as_ref().and_then(|handle| gltfs.get(handle)) else {
        return;
    };
    let Some(scene) = gltf.scenes.get(source.scene_index).cloned() else {
        status.error = Some(format!(
            "{}: the model has no scene {}",
            source.model_file.display(),
            source.scene_index
        ));
        return;
    };
    for root in &roots {
        commands.entity(root).insert(WorldAssetRoot(scene.clone()));
    }
}

fn report_model_load_failure(
    assets: Option<Res<AssetServer>>,
    source: Option<Res<SceneSource>>,
    mut status: ResMut<SceneStatus>,
) {
    let Some(assets) = assets else { return };
    if status.error.is_some() {
        return;
    }
    let (Some(handle), Some(source)) = (&status.model, source) else {
        return;
    };
    if let Some(LoadState::Failed(error)) = assets.get_load_state(handle.id()) {
        let message = format!(
            "{}: the model could not be loaded: {error}",
            source.model_file.display()
        );
        error!("{message}");
        status.error = Some(message);
    }
}

/// Node entities spawned since the last bind. Kept by an observer, so a frame with no new
/// nodes costs nothing, however large the model (a query for added components would visit
/// every node entity every frame).
#[derive(Resource, Default)]
struct NewNodes(Vec<Entity>);

fn note_new_node(added: On<Add, GltfNodeIndex>, mut new_nodes: ResMut<NewNodes>) {
    new_nodes.0.push(added.entity);
}

/// Binds the model's node entities as they spawn: by glTF node index, to the twin the core
/// bound that node to. Only entities under the scene's model count (another glTF, such as a
/// controller model, has node indices of its own).
#[allow(clippy::too_many_arguments)]
fn bind_new_nodes(
    mut commands: Commands,
    source: Option<Res<SceneSource>>,
    mut new_nodes: ResMut<NewNodes>,
    nodes: Query<&GltfNodeIndex, Without<BoundTwin>>,
    parents: Query<&ChildOf>,
    model_roots: Query<(), With<SceneModelRoot>>,
    mut state: ResMut<TwinState>,
    mut entities: ResMut<TwinEntities>,
    mut status: ResMut<SceneStatus>,
) {
    if new_nodes.0.is_empty() {
        return;
    }
    let new_nodes = std::mem::take(&mut new_nodes.0);
    let Some(source) = source else { return };
    for entity in new_nodes {
        let Ok(node) = nodes.get(entity) else {
            continue;
        };
        let Some(id) = source.node_twins.get(&node.0) else {
            continue;
        };
        if !parents
            .iter_ancestors(entity)
            .any(|a| model_roots.contains(a))
        {
            continue;
        }
        let index = match state.store.find(id) {
            Some(index) => index,
            None => state.store.declare(id, None, None),
        };
        let twin = state.store.get(index);
        commands
            .entity(entity)
            .insert((BoundTwin(index), TwinVisualState::of(twin)));
        entities.by_twin.entry(index).or_default().push(entity);
        status.bound_nodes += 1;
    }
}

fn collect_twin_meshes(
    mut commands: Commands,
    unbound_meshes: Query<Entity, (With<BoundTwin>, Without<TwinMeshes>)>,
    children: Query<&Children>,
    bound: Query<(), With<BoundTwin>>,
    meshes: Query<(), With<Mesh3d>>,
) {
    for root in &unbound_meshes {
        let mut found = Vec::new();
        let mut stack = vec![root];
        while let Some(entity) = stack.pop() {
            if meshes.contains(entity) {
                found.push(entity);
            }
            if let Ok(kids) = children.get(entity) {
                stack.extend(kids.iter().filter(|kid| !bound.contains(*kid)));
            }
        }
        commands.entity(root).insert(TwinMeshes(found));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_without_a_folder_loads_from_the_working_directory() {
        let here = std::env::current_dir().unwrap();
        assert_eq!(asset_root(std::path::Path::new("plant.glb")), here);
        assert_eq!(
            asset_root(std::path::Path::new("models/plant.glb")),
            here.join("models")
        );
        assert_eq!(
            asset_root(std::path::Path::new("/srv/plant/plant.glb")),
            std::path::Path::new("/srv/plant")
        );
    }
}
