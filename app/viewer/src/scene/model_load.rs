//! How far the scene's model has loaded: bytes read from disk, then meshes uploaded to the
//! GPU, then the parts placed. A 100,000-node plant takes seconds to appear; without this the
//! window would stay empty and a user could not tell a slow load from a broken one.
//!
//! Bytes are counted by a wrapping asset reader around Bevy's file reader (every file the
//! glTF loader reads: the model, its buffers and images). Uploads are counted in the render
//! world, against the mesh assets of the loaded glTF.

use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bevy::asset::io::file::FileAssetReader;
use bevy::asset::io::{
    AssetReader, AssetReaderError, AssetSourceBuilder, AssetSourceId, PathStream, Reader,
    ReaderNotSeekableError, SeekableReader,
};
use bevy::gltf::{Gltf, GltfMesh};
use bevy::prelude::*;
use bevy::render::mesh::RenderMesh;
use bevy::render::render_asset::RenderAssets;
use bevy::render::{Render, RenderApp, RenderSystems};

use crate::scene::binding::{SceneModelRoot, SceneSource, SceneStatus};

/// Tracks the scene model's load into [`ModelLoad`] and logs one line when it is shown.
pub struct ModelLoadPlugin;

impl Plugin for ModelLoadPlugin {
    fn build(&self, app: &mut App) {
        let watch = UploadWatch::default();
        // Without a renderer (headless tests) nothing is uploaded, and nothing waits for it.
        let renders = match app.get_sub_app_mut(RenderApp) {
            Some(render_app) => {
                render_app.insert_resource(watch.clone()).add_systems(
                    Render,
                    count_uploaded_meshes.after(RenderSystems::PrepareAssets),
                );
                true
            }
            None => false,
        };
        app.insert_resource(watch)
            .insert_resource(ModelLoad {
                renders,
                ..default()
            })
            .add_systems(
                Update,
                track_model_load.after(crate::TwinscopeSystems::Bind),
            );
    }
}

/// Where the model's load stands, for the progress bar.
#[derive(Resource, Debug, Clone, Default)]
pub struct ModelLoad {
    pub stage: LoadStage,
    pub bytes_read: u64,
    /// The model's files on disk (0 when unknown).
    pub bytes_total: u64,
    pub meshes_uploaded: usize,
    pub meshes_total: usize,
    /// Since the model started loading.
    pub elapsed: Duration,
    renders: bool,
    started: Option<Instant>,
    placed_at: Option<Instant>,
}

/// The stages of a model's load, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadStage {
    /// The scene has no model (or it could not even be read).
    #[default]
    NoModel,
    /// Reading its files.
    Reading,
    /// Files read; Bevy's glTF loader is building meshes and materials.
    Decoding,
    /// Meshes going to the GPU.
    Uploading,
    /// Meshes uploaded; the scene's node entities being spawned.
    Placing,
    Shown,
    Failed,
}

impl ModelLoad {
    /// Whether a progress bar should be up.
    pub fn in_progress(&self) -> bool {
        matches!(
            self.stage,
            LoadStage::Reading | LoadStage::Decoding | LoadStage::Uploading | LoadStage::Placing
        )
    }
}

/// A size as people read it: `38 KB`, `12.3 MB`.
pub fn human_bytes(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.0} KB", bytes as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", bytes as f64 / 1e6),
        _ => format!("{:.2} GB", bytes as f64 / 1e9),
    }
}

/// Bytes read through the default asset source (see [`count_bytes_read`]).
#[derive(Resource, Clone, Default)]
pub struct BytesRead(Arc<AtomicU64>);

/// Makes the default asset source (files under `folder`) count the bytes it reads. Call it
/// before `AssetPlugin` is added (before `DefaultPlugins`): asset sources are built then.
pub fn count_bytes_read(app: &mut App, folder: &Path) {
    let bytes = BytesRead::default();
    let counter = bytes.0.clone();
    let folder = folder.to_owned();
    app.register_asset_source(
        AssetSourceId::Default,
        AssetSourceBuilder::new(move || {
            Box::new(CountingReader {
                inner: FileAssetReader::new(&folder),
                bytes: counter.clone(),
            })
        }),
    );
    app.insert_resource(bytes);
}

/// Bevy's file reader, counting what it hands out.
struct CountingReader {
    inner: FileAssetReader,
    bytes: Arc<AtomicU64>,
}

impl AssetReader for CountingReader {
    async fn read<'a>(&'a self, path: &'a Path) -> Result<impl Reader + 'a, AssetReaderError> {
        let inner = self.inner.read(path).await?;
        Ok(Counted {
            inner,
            bytes: self.bytes.clone(),
        })
    }

    async fn read_meta<'a>(&'a self, path: &'a Path) -> Result<impl Reader + 'a, AssetReaderError> {
        self.inner.read_meta(path).await
    }

    async fn read_directory<'a>(
        &'a self,
        path: &'a Path,
    ) -> Result<Box<PathStream>, AssetReaderError> {
        self.inner.read_directory(path).await
    }

    async fn is_directory<'a>(&'a self, path: &'a Path) -> Result<bool, AssetReaderError> {
        self.inner.is_directory(path).await
    }
}

/// One file being read, adding each chunk's length to the counter as it arrives.
struct Counted<R> {
    inner: R,
    bytes: Arc<AtomicU64>,
}

impl<R: Reader> futures_io::AsyncRead for Counted<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(read)) = &poll {
            this.bytes.fetch_add(*read as u64, Ordering::Relaxed);
        }
        poll
    }
}

impl<R: Reader> Reader for Counted<R> {
    // Loaders that want to seek fall back to reading the whole file (the glTF loader does
    // anyway), so every byte passes the counter.
    fn seekable(&mut self) -> Result<&mut dyn SeekableReader, ReaderNotSeekableError> {
        Err(ReaderNotSeekableError)
    }
}

/// The model's mesh assets, and how many of them the render world holds (shared between
/// the main and render worlds).
#[derive(Resource, Clone, Default)]
struct UploadWatch(Arc<UploadShared>);

#[derive(Default)]
struct UploadShared {
    meshes: Mutex<Vec<AssetId<Mesh>>>,
    uploaded: AtomicUsize,
    done: AtomicBool,
}

/// Render world: counts the model's meshes that have been prepared, until all have.
fn count_uploaded_meshes(watch: Res<UploadWatch>, render_meshes: Res<RenderAssets<RenderMesh>>) {
    if watch.0.done.load(Ordering::Relaxed) {
        return;
    }
    let meshes = watch
        .0
        .meshes
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if meshes.is_empty() {
        return;
    }
    let uploaded = meshes
        .iter()
        .filter(|id| render_meshes.get(**id).is_some())
        .count();
    watch.0.uploaded.store(uploaded, Ordering::Relaxed);
    if uploaded == meshes.len() {
        watch.0.done.store(true, Ordering::Relaxed);
    }
}

/// After this long with the parts placed but some meshes never prepared, the load is called
/// done (with a warning) rather than showing a progress bar for ever.
const UPLOAD_GRACE: Duration = Duration::from_secs(30);

#[allow(clippy::too_many_arguments)]
fn track_model_load(
    mut load: ResMut<ModelLoad>,
    source: Option<Res<SceneSource>>,
    status: Res<SceneStatus>,
    bytes: Option<Res<BytesRead>>,
    gltfs: Option<Res<Assets<Gltf>>>,
    gltf_meshes: Option<Res<Assets<GltfMesh>>>,
    watch: Res<UploadWatch>,
    roots: Query<&Children, With<SceneModelRoot>>,
) {
    if matches!(load.stage, LoadStage::Shown | LoadStage::Failed) {
        return;
    }
    if status.error.is_some() {
        load.stage = LoadStage::Failed;
        return;
    }
    let (Some(source), Some(handle)) = (source, status.model_handle()) else {
        return;
    };
    let started = *load.started.get_or_insert_with(Instant::now);
    load.elapsed = started.elapsed();
    load.bytes_total = source.model_bytes;
    load.bytes_read = bytes.map_or(0, |b| b.0.load(Ordering::Relaxed));
    let Some(gltf) = gltfs.as_ref().and_then(|g| g.get(handle)) else {
        load.stage = if load.bytes_total > 0 && load.bytes_read >= load.bytes_total {
            LoadStage::Decoding
        } else {
            LoadStage::Reading
        };
        return;
    };
    if load.meshes_total == 0 {
        let ids: Vec<AssetId<Mesh>> = gltf
            .meshes
            .iter()
            .filter_map(|m| gltf_meshes.as_ref()?.get(m))
            .flat_map(|m| m.primitives.iter().map(|p| p.mesh.id()))
            .collect();
        load.meshes_total = ids.len();
        *watch
            .0
            .meshes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = ids;
    }
    load.meshes_uploaded = if load.renders {
        watch.0.uploaded.load(Ordering::Relaxed)
    } else {
        load.meshes_total
    };
    let placed = roots.iter().any(|children| !children.is_empty());
    if placed && load.placed_at.is_none() {
        load.placed_at = Some(Instant::now());
    }
    let gave_up = load.placed_at.is_some_and(|at| at.elapsed() > UPLOAD_GRACE);
    load.stage = match (load.meshes_uploaded >= load.meshes_total, placed) {
        (false, _) if !gave_up => LoadStage::Uploading,
        (_, false) => LoadStage::Placing,
        _ => LoadStage::Shown,
    };
    if load.stage == LoadStage::Shown {
        if load.meshes_uploaded < load.meshes_total {
            warn!(
                "{} of the model's {} meshes were not uploaded after {} s",
                load.meshes_total - load.meshes_uploaded,
                load.meshes_total,
                UPLOAD_GRACE.as_secs()
            );
        }
        info!(
            "model shown after {:.1} s: {} read of {}, {} of {} meshes uploaded",
            load.elapsed.as_secs_f64(),
            human_bytes(load.bytes_read),
            human_bytes(load.bytes_total),
            load.meshes_uploaded,
            load.meshes_total
        );
    }
}
