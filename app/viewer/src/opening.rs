//! Opening a recording without stopping the window: the file is read and its seek index
//! built on a background thread (seconds for hours of a large plant) while the viewer keeps
//! drawing, with a progress bar; the replay (or DVR look-back) starts when it is ready.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bevy::prelude::*;
use crossbeam_channel::{Receiver, TryRecvError};
use twinscope_core::background::drop_in_background;
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
    receiver: Receiver<Result<Recording, String>>,
    fresh_store: FreshStore,
    plant_clock: PlantClock,
}

/// Why a recording could not be opened (shown in the middle of the window).
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct RecordingError(pub String);

impl OpeningRecording {
    /// Starts opening `path` on a thread.
    pub fn start(path: &Path, schemas: SchemaChoice, purpose: OpenFor, fresh_store: FreshStore, plant_clock: PlantClock) -> Self {
        let (sender, receiver) = crossbeam_channel::bounded(1);
        let progress = Arc::new(IndexProgress::default());
        let (thread_path, thread_progress) = (path.to_owned(), progress.clone());
        let spawned = std::thread::Builder::new().name("open-recording".into()).spawn(move || {
            let opened = Recording::open_reporting(&thread_path, schemas, &thread_progress).map_err(|e| e.to_string());
            let _ = sender.send(opened);
        });
        if let Err(error) = spawned {
            error!("cannot start the thread that opens {}: {error}", path.display());
        }
        OpeningRecording { path: path.to_owned(), purpose, progress, started: Instant::now(), receiver, fresh_store, plant_clock }
    }

    /// Chunks indexed, of all (0 of 0 while the file is first read).
    pub fn chunks(&self) -> (usize, usize) {
        (self.progress.chunks_done.load(Ordering::Relaxed), self.progress.chunks.load(Ordering::Relaxed))
    }
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
    let shown = opened.and_then(|recording| {
        info!("{} opened and indexed in {:.1} s", opening.path.display(), opening.started.elapsed().as_secs_f64());
        if let Some(skipped) = recording.index.skipped.summary() {
            warn!("{}: {skipped}", opening.path.display());
        }
        let shown = Shown { purpose: opening.purpose, fresh_store: opening.fresh_store.clone(), plant_clock: opening.plant_clock.clone() };
        show_recording(&mut commands, recording, shown, &mut state.store, stash.as_deref_mut())
    });
    // A replay's failure is shown in the middle of the window; a look-back's in the DVR bar.
    if let Err(message) = shown {
        error!("{message}");
        match (opening.purpose, dvr.as_mut()) {
            (OpenFor::LookBack(_), Some(dvr)) => dvr.error = Some(message),
            _ => commands.insert_resource(RecordingError(message)),
        }
    }
}

/// How an opened recording is shown.
pub struct Shown {
    pub purpose: OpenFor,
    pub fresh_store: FreshStore,
    pub plant_clock: PlantClock,
}

/// Starts the replay session of an opened recording: from its start (playing), or paused at
/// a look-back instant with the live store stashed (live data keeps going there). The state is
/// built by one seek, its cost flat in the recording's length. The shown store's twins keep
/// their indices (entities are bound by index).
pub fn show_recording(commands: &mut Commands, mut recording: Recording, shown: Shown, shown_store: &mut TwinStore, stash: Option<&mut LiveStash>) -> Result<(), String> {
    let Some((start, end)) = recording.time_range() else { return Err(format!("{}: the recording holds no messages", recording.file.path().display())) };
    let (at, playing) = match shown.purpose {
        OpenFor::Replay => (start, true),
        OpenFor::LookBack(at) => (Timestamp(at.0.clamp(start.0, end.0)), false),
    };
    let make = shown.fresh_store.clone();
    let error = match (shown.purpose, stash) {
        (OpenFor::LookBack(_), Some(stash)) => {
            let (past, error) = store_at(&mut recording, &*make, stash.live_store(shown_store), at);
            let live = std::mem::replace(shown_store, past);
            if stash.0.is_none() {
                stash.0 = Some(live);
            }
            error
        }
        _ => {
            let (fresh, error) = store_at(&mut recording, &*make, shown_store, at);
            drop_in_background(std::mem::replace(shown_store, fresh));
            error
        }
    };
    insert_session(commands, recording, (start, end, at), playing, shown, error);
    Ok(())
}

fn insert_session(commands: &mut Commands, recording: Recording, (start, end, at): (Timestamp, Timestamp, Timestamp), playing: bool, shown: Shown, error: Option<String>) {
    let make = shown.fresh_store;
    commands.insert_resource(ReplaySession {
        recording,
        start,
        end,
        position: at,
        playing,
        speed: 1.0,
        loop_range: None,
        loop_mark: None,
        plant_clock: shown.plant_clock,
        fresh_store: Box::new(move || make()),
        error,
    });
}
