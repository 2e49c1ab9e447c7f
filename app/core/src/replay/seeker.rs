//! Seeks on a thread of their own, for scrubbing the timeline.
//!
//! Dragging the timeline's handle asks for a new position every frame. A seek at 20,000
//! signals takes most of a frame: on the frame it stalls the drag, and queued it shows
//! positions the hand has left. The seeker runs one seek at a time on its own thread; the
//! newest position asked replaces one not yet started (never a queue of stale seeks), and the
//! frame takes the newest state built without waiting. Stores the frame is done with come
//! back as room for the next seek's ([`Room`]), so a scrub allocates almost nothing.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::Recording;
use crate::time::Timestamp;
use crate::twin::{Room, TwinId, TwinStore};

/// Makes the store a replay starts from (a scene's declared twins, nothing else).
pub type FreshStore = Arc<dyn Fn() -> TwinStore + Send + Sync>;

/// The state at `at` in a fresh store (from `fresh`, in `room`) that holds `twins` first, at
/// the same indices, as the store it replaces does: the viewer binds entities by index.
/// Everything is marked changed, so every part is restyled.
pub fn state_shaped<'a>(
    recording: &mut Recording,
    fresh: &dyn Fn() -> TwinStore,
    twins: impl ExactSizeIterator<Item = &'a TwinId>,
    room: Room,
    at: Timestamp,
) -> (TwinStore, usize, Option<String>) {
    let mut store = fresh().with_room(room);
    store.reserve(twins.len().saturating_sub(store.len()));
    for id in twins {
        store.declare_id(id);
    }
    let (applied, error) = match recording.state_at(&mut store, at) {
        Ok(applied) => (applied, None),
        Err(error) => (0, Some(error.to_string())),
    };
    store.mark_all_changed();
    (store, applied, error)
}

/// A state the seeker built.
pub struct Seeked {
    /// The position asked, and the number [`Seeker::seek`] gave the request.
    pub at: Timestamp,
    pub number: u64,
    pub store: TwinStore,
    pub applied: usize,
    pub error: Option<String>,
    /// From the request to the state built.
    pub took: Duration,
}

struct Request {
    at: Timestamp,
    number: u64,
    asked: Instant,
}

#[derive(Default)]
struct Wanted {
    request: Option<Request>,
    /// The twins each store built holds first ([`Seeker::keep_twins`]).
    twins: Arc<Vec<TwinId>>,
    closed: bool,
}

struct Shared {
    wanted: Mutex<Wanted>,
    wake: Condvar,
    /// States built so far (positions replaced before they started are not).
    built: std::sync::atomic::AtomicU64,
}

/// A seek thread for one recording (see the module).
pub struct Seeker {
    shared: Arc<Shared>,
    built: Receiver<Seeked>,
    /// Where stores given back arrive as room, emptied on threads of their own.
    rooms: Sender<Room>,
    thread: Option<std::thread::JoinHandle<()>>,
    asked: u64,
}

impl Seeker {
    /// Starts the thread, which owns `recording` (a second handle on the file: see
    /// [`Recording::try_clone`]).
    pub fn start(recording: Recording, fresh: FreshStore) -> std::io::Result<Seeker> {
        let shared = Arc::new(Shared {
            wanted: Mutex::new(Wanted::default()),
            wake: Condvar::new(),
            built: Default::default(),
        });
        // One state waits for the frame at most: a newer one replaces it there.
        let (send_built, built) = crossbeam_channel::unbounded();
        let (rooms, given_back) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("twinscope-seeker".into())
            .spawn({
                let shared = shared.clone();
                move || seek_loop(&shared, recording, &*fresh, &send_built, &given_back)
            })?;
        Ok(Seeker {
            shared,
            built,
            rooms,
            thread: Some(thread),
            asked: 0,
        })
    }

    /// Asks for the state at `at`, replacing a request not yet started. Returns the
    /// request's number (numbers grow with each request).
    pub fn seek(&mut self, at: Timestamp) -> u64 {
        self.asked += 1;
        let mut wanted = lock(&self.shared.wanted);
        wanted.request = Some(Request {
            at,
            number: self.asked,
            asked: Instant::now(),
        });
        drop(wanted);
        self.shared.wake.notify_one();
        self.asked
    }

    /// The number of the last request.
    pub fn asked(&self) -> u64 {
        self.asked
    }

    /// States built so far: fewer than positions asked where newer ones replaced older.
    pub fn states_built(&self) -> u64 {
        self.shared.built.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The twins, in order, that each store built from now on holds first at the same
    /// indices (the shown store's).
    pub fn keep_twins(&self, twins: Arc<Vec<TwinId>>) {
        lock(&self.shared.wanted).twins = twins;
    }

    /// The newest state built since the last call, if any; older ones go back as room.
    pub fn take_built(&self) -> Option<Seeked> {
        let mut newest = None;
        while let Ok(seeked) = self.built.try_recv() {
            if let Some(older) = newest.replace(seeked) {
                self.give_back(older.store);
            }
        }
        newest
    }

    /// Waits up to `timeout` for the state of request `number` (tests and benchmarks: the
    /// frame never waits). States of older requests go back as room.
    pub fn wait_for(&self, number: u64, timeout: Duration) -> Option<Seeked> {
        let deadline = Instant::now() + timeout;
        loop {
            let seeked = self
                .built
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .ok()?;
            if seeked.number >= number {
                return Some(seeked);
            }
            self.give_back(seeked.store);
        }
    }

    /// A store the frame no longer shows: its memory becomes room for a next seek. It is
    /// emptied on a short-lived thread (it takes what freeing it would), not on the seeker's,
    /// where it would wait in front of the next seek; where no thread can be started it is
    /// dropped here.
    pub fn give_back(&self, store: TwinStore) {
        let rooms = self.rooms.clone();
        let _ = std::thread::Builder::new()
            .name("twinscope-room".into())
            .spawn(move || {
                let _ = rooms.send(store.into_room());
            });
    }
}

impl Drop for Seeker {
    fn drop(&mut self) {
        lock(&self.shared.wanted).closed = true;
        self.shared.wake.notify_one();
        // The seek under way (a frame's work at most) finishes; the thread then ends.
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn lock(wanted: &Mutex<Wanted>) -> std::sync::MutexGuard<'_, Wanted> {
    // A panic on the seeker's thread poisons nothing the requests need.
    wanted
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn seek_loop(
    shared: &Shared,
    mut recording: Recording,
    fresh: &dyn Fn() -> TwinStore,
    built: &Sender<Seeked>,
    given_back: &Receiver<Room>,
) {
    let mut room = Room::default();
    loop {
        let (request, twins) = {
            let mut wanted = lock(&shared.wanted);
            loop {
                if wanted.closed {
                    return;
                }
                if let Some(request) = wanted.request.take() {
                    break (request, wanted.twins.clone());
                }
                wanted = shared
                    .wake
                    .wait(wanted)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        };
        // One store's worth of room is kept; more is freed apart.
        while let Ok(more) = given_back.try_recv() {
            if room.is_empty() {
                room = more;
            } else {
                crate::background::drop_in_background(more);
            }
        }
        let (mut store, applied, error) = state_shaped(
            &mut recording,
            fresh,
            twins.iter(),
            std::mem::take(&mut room),
            request.at,
        );
        room = store.release_room();
        let seeked = Seeked {
            at: request.at,
            number: request.number,
            store,
            applied,
            error,
            took: request.asked.elapsed(),
        };
        shared
            .built
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if built.send(seeked).is_err() {
            return;
        }
    }
}
