//! Opening a recording without stopping the window: the file is read and its seek index
//! built on a background thread (seconds for hours of a large plant) while the viewer keeps
//! drawing, with a progress bar; the replay (or DVR look-back) starts when it is ready.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bevy::prelude::*;
use crossbeam_channel::{Receiver, TryRecvError};
use twinscope_core::Timestamp;
use twinscope_core::replay::{IndexProgress, Recording};
use twinscope_core::schema::combined::SchemaChoice;
use twinscope_core::time_zone::PlantClock;
use twinscope_core::twin::TwinStore;

use crate::dvr::Dvr;
use crate::replay::{ReplaySession, store_at};
use crate::sync::{LiveStash, TwinState};

/// Makes the store a replay starts from (the scene's declared twins, nothing else).
pub type FreshStore = Arc<dyn Fn() -> TwinStore + Send + Sync>;

/// What the opened recording is for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OpenFor {
    /// `--replay FILE`: play from the start.
    Replay,
    /// DVR look-back: show this instant, paused, while live data keeps arriving.
    LookBack(Timestamp),
}

/// A recording being opened on a background thread.
#[derive(Resource)]
pub struct OpeningRecording {
    pub path: PathBuf,
    pub purpose: OpenFor,
    pub progress: Arc<IndexProgress>,
    pub started: Instant,
    receiver: Receiver<Result<Opened, String>>,
    /// The twins of the shown store when the thread started (their indices are kept).
    twins_then: usize,
    fresh_store: FreshStore,
    plant_clock: PlantClock,
}

struct Opened {
    recording: Recording,
    store: TwinStore,
    start: Timestamp,
    end: Timestamp,
    at: Timestamp,
    error: Option<String>,
}

/// Why a recording could not be opened (shown in the middle of the window).
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct RecordingError(pub String);

impl OpeningRecording {
    /// Starts opening `path`; `like` is the store shown now (the replay's store keeps its
    /// twins' indices, as entities are bound by index).
    pub fn start(path: &Path, schemas: SchemaChoice, purpose: OpenFor, fresh_store: FreshStore, like: &TwinStore, plant_clock: PlantClock) -> Self {
        let (sender, receiver) = crossbeam_channel::bounded(1);
        let progress = Arc::new(IndexProgress::default());
        let like_ids: Vec<String> = like.twins().map(|(_, twin)| twin.id.as_str().to_owned()).collect();
        let (thread_path, thread_progress, make) = (path.to_owned(), progress.clone(), fresh_store.clone());
        let spawned = std::thread::Builder::new().name("open-recording".into()).spawn(move || {
            let opened = open(&thread_path, schemas, purpose, &*make, &like_ids, &thread_progress);
            let _ = sender.send(opened);
        });
        if let Err(error) = spawned {
            error!("cannot start the thread that opens {}: {error}", path.display());
        }
        OpeningRecording { path: path.to_owned(), purpose, progress, started: Instant::now(), receiver, twins_then: like.len(), fresh_store, plant_clock }
    }

    /// Chunks indexed, of all (0 of 0 while the file is first read).
    pub fn chunks(&self) -> (usize, usize) {
        (self.progress.chunks_done.load(Ordering::Relaxed), self.progress.chunks.load(Ordering::Relaxed))
    }
}

/// The thread's work: open and index, then the state at the instant asked for.
fn open(path: &Path, schemas: SchemaChoice, purpose: OpenFor, fresh_store: &dyn Fn() -> TwinStore, like_ids: &[String], progress: &IndexProgress) -> Result<Opened, String> {
    let mut recording = Recording::open_reporting(path, schemas, progress).map_err(|e| e.to_string())?;
    if let Some(skipped) = recording.index.skipped.summary() {
        warn!("{}: {skipped}", path.display());
    }
    let Some((start, end)) = recording.time_range() else { return Err(format!("{}: the recording holds no messages", path.display())) };
    let at = match purpose {
        OpenFor::Replay => start,
        OpenFor::LookBack(at) => Timestamp(at.0.clamp(start.0, end.0)),
    };
    let mut like = fresh_store();
    for id in like_ids {
        if like.find(id).is_none() {
            like.declare(id, None, None);
        }
    }
    let (store, error) = store_at(&mut recording, fresh_store, &like, at);
    Ok(Opened { recording, store, start, end, at, error })
}

/// Takes the opened recording when it is ready: the replay session starts, or the error is
/// shown. Runs where the shown store is switched.
pub(crate) fn receive_opened_recording(
    mut commands: Commands,
    opening: Option<Res<OpeningRecording>>,
    mut state: ResMut<TwinState>,
    mut stash: Option<ResMut<LiveStash>>,
    mut dvr: Option<ResMut<Dvr>>,
) {
    let Some(opening) = opening else { return };
    let opened = match opening.receiver.try_recv() {
        Ok(opened) => opened,
        Err(TryRecvError::Empty) => return,
        Err(TryRecvError::Disconnected) => Err(format!("{}: the thread opening it stopped", opening.path.display())),
    };
    commands.remove_resource::<OpeningRecording>();
    let mut opened = match opened {
        Ok(opened) => opened,
        Err(message) => {
            error!("{message}");
            match (&opening.purpose, dvr.as_mut()) {
                (OpenFor::LookBack(_), Some(dvr)) => dvr.error = Some(message),
                _ => commands.insert_resource(RecordingError(message)),
            }
            return;
        }
    };
    info!("{} opened and indexed in {:.1} s", opening.path.display(), opening.started.elapsed().as_secs_f64());
    let playing = opening.purpose == OpenFor::Replay;
    if let OpenFor::LookBack(_) = opening.purpose {
        let stash = stash.as_mut().expect("look-back runs with the DVR, which keeps the live store");
        // Twins that appeared live while the thread worked: the state is rebuilt here so
        // every twin keeps its index.
        if stash.live_store(&mut state.store).len() != opening.twins_then {
            let (store, error) = store_at(&mut opened.recording, &*opening.fresh_store, stash.live_store(&mut state.store), opened.at);
            (opened.store, opened.error) = (store, error);
        }
        let shown = std::mem::replace(&mut state.store, opened.store);
        if stash.0.is_none() {
            stash.0 = Some(shown);
        }
    } else {
        state.store = opened.store;
    }
    let make = opening.fresh_store.clone();
    commands.insert_resource(ReplaySession {
        recording: opened.recording,
        start: opened.start,
        end: opened.end,
        position: opened.at,
        playing,
        speed: 1.0,
        loop_range: None,
        loop_mark: None,
        plant_clock: opening.plant_clock.clone(),
        fresh_store: Box::new(move || make()),
        error: opened.error,
    });
}
