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

/// What the opening thread hands over: the recording as far as it is indexed (a file that
/// must be read whole to index it: the replay starts on it), then the whole recording.
pub enum Opened {
    AsFarAsIndexed(Recording),
    Done(Result<Recording, String>),
}

/// How often a recording being indexed is handed over as far as it is.
const PARTIAL_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A recording being opened on a background thread.
#[derive(Resource)]
pub struct OpeningRecording {
    pub path: PathBuf,
    pub purpose: OpenFor,
    pub progress: Arc<IndexProgress>,
    pub started: Instant,
    receiver: Receiver<Opened>,
    /// A replay started on the recording as far as it was indexed.
    pub replaying_partial: bool,
    pub fresh_store: FreshStore,
    pub plant_clock: PlantClock,
}

/// Why a recording could not be opened (shown in the middle of the window).
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct RecordingError(pub String);

/// Why a DVR look-back could not be shown (the DVR bar says it).
#[derive(Message, Debug, Clone, PartialEq)]
pub struct LookBackFailed(pub String);

impl OpeningRecording {
    /// Starts opening `path` on a thread.
    pub fn start(
        path: &Path,
        schemas: SchemaChoice,
        purpose: OpenFor,
        fresh_store: FreshStore,
        plant_clock: PlantClock,
    ) -> Self {
        let (sender, receiver) = crossbeam_channel::bounded(2);
        let progress = Arc::new(IndexProgress::default());
        let (thread_path, thread_progress) = (path.to_owned(), progress.clone());
        let spawned = std::thread::Builder::new()
            .name("open-recording".into())
            .spawn(move || {
                // A replay starts on what is indexed; a look-back waits for all of it.
                let replay = matches!(purpose, OpenFor::Replay);
                let mut hand = |partial: Recording| {
                    // Dropped when the window has not taken the last one yet.
                    let _ = sender.try_send(Opened::AsFarAsIndexed(partial));
                };
                let partial: Option<(std::time::Duration, &mut dyn FnMut(Recording))> =
                    replay.then_some((PARTIAL_EVERY, &mut hand));
                let opened =
                    Recording::open_in_steps(&thread_path, schemas, &thread_progress, partial)
                        .map_err(|e| e.to_string());
                let _ = sender.send(Opened::Done(opened));
            });
        if let Err(error) = spawned {
            error!(
                "cannot start the thread that opens {}: {error}",
                path.display()
            );
        }
        OpeningRecording {
            path: path.to_owned(),
            purpose,
            progress,
            started: Instant::now(),
            receiver,
            replaying_partial: false,
            fresh_store,
            plant_clock,
        }
    }

    /// Chunks indexed, of all (0 of 0 while the file is first read).
    pub fn chunks(&self) -> (usize, usize) {
        (
            self.progress.chunks_done.load(Ordering::Relaxed),
            self.progress.chunks.load(Ordering::Relaxed),
        )
    }

    /// What the thread handed over since the last call; `None` while there is nothing new.
    pub fn try_take(&self) -> Option<Opened> {
        match self.receiver.try_recv() {
            Ok(opened) => Some(opened),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Opened::Done(Err(format!(
                "{}: the thread opening it stopped",
                self.path.display()
            )))),
        }
    }
}
