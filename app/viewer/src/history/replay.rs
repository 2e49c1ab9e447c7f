//! Replay mode: the twin store follows a recording instead of a broker. Play, pause, speed
//! from 0.1× to 1000×, scrub, step, jump to the previous or next alarm transition, loop a
//! range. UI and keys send [`ReplayCommand`]s; one system applies them.
//!
//! Seeks rebuild the twin state from the recording's seek index (flat cost anywhere in the
//! file); playing applies the messages between frames through the same decoder as live data.

use bevy::prelude::*;
use twinscope_core::Timestamp;
use twinscope_core::background::drop_in_background;
use twinscope_core::replay::Recording;
use twinscope_core::replay::seeker::{Seeker, state_shaped};
use twinscope_core::time_zone::PlantClock;
use twinscope_core::twin::TwinStore;

use crate::history::opening::{
    FreshStore, LookBackFailed, OpenFor, Opened, OpeningRecording, RecordingError,
};
use crate::store::sync::{LiveStash, TwinState};
use crate::{StoreSystems, configure_twinscope_sets};

/// Drives the twin store from a [`ReplaySession`].
pub struct ReplayPlugin;

impl Plugin for ReplayPlugin {
    fn build(&self, app: &mut App) {
        configure_twinscope_sets(app);
        app.add_message::<ReplayCommand>()
            .add_message::<LookBackFailed>()
            .add_systems(
                Update,
                (
                    receive_opened_recording,
                    replay_keys,
                    apply_replay_commands,
                    take_scrubbed,
                )
                    .chain()
                    .in_set(StoreSystems::Switch),
            )
            .add_systems(Update, play_replay.in_set(StoreSystems::Playback));
    }
}

/// A request to the replay (from the timeline panel or keys).
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub enum ReplayCommand {
    TogglePlay,
    SetSpeed(f64),
    SeekTo(Timestamp),
    /// The timeline's handle dragged here: the state is built off the frame, and a newer
    /// position replaces one not yet built (see [`Seeker`]).
    Scrub(Timestamp),
    /// Seconds forward (negative: back).
    Step(f64),
    PreviousAlarm,
    NextAlarm,
    /// First call marks the loop start, the second its end.
    MarkLoop,
    ClearLoop,
}

/// Speeds offered in the timeline.
pub const SPEEDS: [f64; 9] = [0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 100.0, 500.0, 1000.0];

/// The recording being replayed and where the replay stands.
#[derive(Resource)]
pub struct ReplaySession {
    pub recording: Recording,
    pub start: Timestamp,
    pub end: Timestamp,
    pub position: Timestamp,
    pub playing: bool,
    pub speed: f64,
    pub loop_range: Option<(Timestamp, Timestamp)>,
    pub loop_mark: Option<Timestamp>,
    /// The plant's clock (time zone or fixed offset) for the replay clock.
    pub plant_clock: twinscope_core::time_zone::PlantClock,
    /// Makes a fresh store as the scene declares it (the state before any message).
    pub fresh_store: FreshStore,
    pub error: Option<String>,
    /// The seek thread of scrubs, started by the first.
    seeker: Option<Seeker>,
    /// The handle's position while its state is being built, and the seeker's request.
    pub scrub: Option<(Timestamp, u64)>,
    /// States the seeker built for requests up to this one are older than a seek made
    /// since, and never shown.
    discard_through: u64,
    /// Twins of the shown store the seeker was told to keep at their indices.
    twins_told: usize,
}

impl ReplaySession {
    /// A session on `recording` between `start` and `end`, paused at `position`.
    pub fn new(
        recording: Recording,
        (start, end): (Timestamp, Timestamp),
        position: Timestamp,
        plant_clock: PlantClock,
        fresh_store: FreshStore,
    ) -> Self {
        ReplaySession {
            recording,
            start,
            end,
            position,
            playing: false,
            speed: 1.0,
            loop_range: None,
            loop_mark: None,
            plant_clock,
            fresh_store,
            error: None,
            seeker: None,
            scrub: None,
            discard_through: 0,
            twins_told: 0,
        }
    }

    /// The wall-clock time at the replay position in the plant's time zone.
    pub fn clock(&self, time: Timestamp) -> String {
        self.plant_clock.format(time)
    }

    /// Where the timeline's handle is: a scrub's position while its state is being built.
    pub fn handle(&self) -> Timestamp {
        self.scrub.map_or(self.position, |(at, _)| at)
    }

    fn seek(&mut self, store: &mut TwinStore, at: Timestamp) {
        let at = Timestamp(at.0.clamp(self.start.0, self.end.0));
        let (fresh, error) = store_at(&mut self.recording, &*self.fresh_store, store, at);
        drop_in_background(std::mem::replace(store, fresh));
        self.error = error;
        self.position = at;
        // A scrub's states still on their way are older than this one.
        self.scrub = None;
        self.discard_through = self.seeker.as_ref().map_or(0, Seeker::asked);
    }

    /// Asks the seeker for the state at `at` (started by the first scrub; where no thread
    /// can be started, the seek is made here).
    fn scrub(&mut self, store: &mut TwinStore, at: Timestamp) {
        let at = Timestamp(at.0.clamp(self.start.0, self.end.0));
        if self.seeker.is_none() {
            let started = self
                .recording
                .try_clone()
                .map_err(|e| e.to_string())
                .and_then(|r| {
                    Seeker::start(r, self.fresh_store.clone()).map_err(|e| e.to_string())
                });
            match started {
                Ok(seeker) => {
                    self.seeker = Some(seeker);
                    self.twins_told = usize::MAX;
                }
                Err(error) => {
                    warn!("scrubbing on the frame: no seek thread ({error})");
                    return self.seek(store, at);
                }
            }
        }
        let Some(seeker) = self.seeker.as_mut() else {
            return;
        };
        // Twins the shown store has, kept at their indices by the states built from now on.
        if store.len() != self.twins_told {
            seeker.keep_twins(std::sync::Arc::new(
                store.twins().map(|(_, twin)| twin.id.clone()).collect(),
            ));
            self.twins_told = store.len();
        }
        let number = seeker.seek(at);
        self.scrub = Some((at, number));
    }

    /// Shows the newest state the seeker built, unless a seek was made since it was asked;
    /// the store it replaces goes back to the seeker as room.
    fn take_scrubbed(&mut self, store: &mut TwinStore) {
        let Some(seeker) = &self.seeker else { return };
        let Some(seeked) = seeker.take_built() else {
            return;
        };
        if seeked.number <= self.discard_through {
            seeker.give_back(seeked.store);
            return;
        }
        seeker.give_back(std::mem::replace(store, seeked.store));
        self.position = seeked.at;
        self.error = seeked.error;
        if self.scrub.is_some_and(|(_, asked)| asked <= seeked.number) {
            self.scrub = None;
        }
    }

    /// A recording with more of the file indexed takes the place of this one: a seeker on
    /// the old one is let go (its thread ends on another).
    fn replace_recording(&mut self, recording: Recording) {
        self.recording = recording;
        self.scrub = None;
        if let Some(seeker) = self.seeker.take() {
            drop_in_background(seeker);
        }
    }
}

/// The state at `at` of a recording, in a store whose twins keep the indices they have in
/// `like` (entities are bound by index), marked all changed so every part is restyled.
pub fn store_at(
    recording: &mut Recording,
    fresh_store: &dyn Fn() -> TwinStore,
    like: &TwinStore,
    at: Timestamp,
) -> (TwinStore, Option<String>) {
    let twins = like.twins().map(|(_, twin)| &twin.id);
    let (store, _, error) = state_shaped(recording, fresh_store, twins, Default::default(), at);
    (store, error)
}

fn replay_keys(
    keys: Option<Res<ButtonInput<KeyCode>>>,
    egui: Option<Res<bevy_egui::input::EguiWantsInput>>,
    mut commands: MessageWriter<ReplayCommand>,
) {
    let Some(keys) = keys else { return };
    if egui.is_some_and(|e| e.wants_keyboard_input()) {
        return;
    }
    let big = if keys.pressed(KeyCode::ShiftLeft) || keys.pressed(KeyCode::ShiftRight) {
        10.0
    } else {
        1.0
    };
    if keys.just_pressed(KeyCode::Space) {
        commands.write(ReplayCommand::TogglePlay);
    }
    if keys.just_pressed(KeyCode::ArrowRight) {
        commands.write(ReplayCommand::Step(big));
    }
    if keys.just_pressed(KeyCode::ArrowLeft) {
        commands.write(ReplayCommand::Step(-big));
    }
    if keys.just_pressed(KeyCode::PageDown) {
        commands.write(ReplayCommand::NextAlarm);
    }
    if keys.just_pressed(KeyCode::PageUp) {
        commands.write(ReplayCommand::PreviousAlarm);
    }
}

fn apply_replay_commands(
    mut commands: MessageReader<ReplayCommand>,
    session: Option<ResMut<ReplaySession>>,
    mut state: ResMut<TwinState>,
) {
    let Some(mut session) = session else {
        commands.clear();
        return;
    };
    for command in commands.read() {
        let position = session.position;
        match *command {
            ReplayCommand::TogglePlay => {
                if !session.playing && session.position >= session.end {
                    let start = session.start;
                    session.seek(&mut state.store, start);
                }
                session.playing = !session.playing;
            }
            ReplayCommand::SetSpeed(speed) => session.speed = speed.clamp(0.1, 1000.0),
            ReplayCommand::SeekTo(at) => session.seek(&mut state.store, at),
            ReplayCommand::Scrub(at) => session.scrub(&mut state.store, at),
            ReplayCommand::Step(seconds) => {
                let at = Timestamp(position.0 + (seconds * 1e6) as i64);
                if seconds > 0.0 && at <= session.end {
                    // Forward steps play the messages in between: cheaper than a seek.
                    let to = Timestamp(at.0.min(session.end.0));
                    if let Err(error) = session.recording.advance(&mut state.store, position, to) {
                        session.error = Some(error.to_string());
                    }
                    session.position = to;
                } else {
                    session.seek(&mut state.store, at);
                }
            }
            ReplayCommand::PreviousAlarm => {
                // A little before the position, so pressing again keeps going back.
                let before = Timestamp(position.0 - 500_000);
                let target = session
                    .recording
                    .alarm_transitions()
                    .map(|(t, _)| t)
                    .filter(|t| *t < before)
                    .last();
                if let Some(at) = target {
                    session.seek(&mut state.store, at);
                }
            }
            ReplayCommand::NextAlarm => {
                let target = session
                    .recording
                    .alarm_transitions()
                    .map(|(t, _)| t)
                    .find(|t| *t > position);
                if let Some(at) = target {
                    session.seek(&mut state.store, at);
                }
            }
            ReplayCommand::MarkLoop => match session.loop_mark.take() {
                None => session.loop_mark = Some(position),
                Some(mark) if mark != position => {
                    session.loop_range = Some((mark.min(position), mark.max(position)))
                }
                Some(_) => {}
            },
            ReplayCommand::ClearLoop => {
                session.loop_range = None;
                session.loop_mark = None;
            }
        }
    }
}

fn play_replay(
    time: Res<Time<Real>>,
    session: Option<ResMut<ReplaySession>>,
    mut state: ResMut<TwinState>,
) {
    let Some(mut session) = session else { return };
    // The frame a session starts shows where it starts: the time since the frame before
    // (which may have waited on the opening) is not played. Nor is the store played while
    // the handle is dragged: the seeker's state takes its place.
    if !session.playing || session.is_added() || session.scrub.is_some() {
        return;
    }
    let from = session.position;
    let mut to = Timestamp(from.0 + (time.delta_secs_f64() * session.speed * 1e6) as i64);
    if let Some((loop_start, loop_end)) = session.loop_range
        && to > loop_end
    {
        session.seek(&mut state.store, loop_start);
        return;
    }
    if to >= session.end {
        to = session.end;
        session.playing = false;
    }
    if let Err(error) = session.recording.advance(&mut state.store, from, to) {
        session.error = Some(error.to_string());
        session.playing = false;
    }
    session.position = to;
}

/// Shows the state the seeker built for the handle's newest position, when one is ready.
fn take_scrubbed(session: Option<ResMut<ReplaySession>>, mut state: ResMut<TwinState>) {
    if let Some(mut session) = session {
        session.take_scrubbed(&mut state.store);
    }
}

/// Takes the opened recording when it is ready: the replay session starts, or the error is
/// shown. A file indexed by reading it is replayed as far as it is indexed while the rest is
/// read: each larger part replaces the last, the position kept. Runs where the shown store
/// is switched.
fn receive_opened_recording(
    mut commands: Commands,
    opening: Option<ResMut<OpeningRecording>>,
    session: Option<ResMut<ReplaySession>>,
    mut state: ResMut<TwinState>,
    mut stash: Option<ResMut<LiveStash>>,
    mut look_back_failures: MessageWriter<LookBackFailed>,
) {
    let Some(mut opening) = opening else { return };
    let Some(opened) = opening.try_take() else {
        return;
    };
    let (recording, done) = match opened {
        Opened::AsFarAsIndexed(recording) => (Ok(recording), false),
        Opened::Done(result) => (result, true),
    };
    if done {
        commands.remove_resource::<OpeningRecording>();
    }
    // A replay already running on part of the file: the larger part takes its place.
    if opening.replaying_partial
        && let Some(mut session) = session
    {
        match recording {
            Ok(recording) => {
                if let Some((_, end)) = recording.time_range() {
                    session.replace_recording(recording);
                    session.end = end;
                }
                if done {
                    info!(
                        "{} indexed in {:.1} s: the whole timeline is usable",
                        opening.path.display(),
                        opening.started.elapsed().as_secs_f64()
                    );
                }
            }
            Err(message) => session.error = Some(message),
        }
        return;
    }
    let shown = recording.and_then(|recording| {
        if done {
            info!(
                "{} opened in {:.1} s ({})",
                opening.path.display(),
                opening.started.elapsed().as_secs_f64(),
                match recording.index_source {
                    twinscope_core::replay::IndexSource::Stored => "its stored seek index",
                    twinscope_core::replay::IndexSource::Cached => "its seek index from the cache",
                    _ => "indexed by reading it",
                }
            );
        } else {
            info!(
                "{}: replaying as far as it is indexed while the rest is read",
                opening.path.display()
            );
        }
        if let Some(note) = &recording.index_note {
            warn!("{}: {note}", opening.path.display());
        }
        if let Some(skipped) = recording.index.skipped.summary() {
            warn!("{}: {skipped}", opening.path.display());
        }
        let shown = Shown {
            purpose: opening.purpose,
            fresh_store: opening.fresh_store.clone(),
            plant_clock: opening.plant_clock.clone(),
        };
        show_recording(
            &mut commands,
            recording,
            shown,
            &mut state.store,
            stash.as_deref_mut(),
        )
    });
    if shown.is_ok() && !done {
        opening.replaying_partial = true;
    }
    // A replay's failure is shown in the middle of the window; a look-back's in the DVR bar.
    if let Err(message) = shown {
        error!("{message}");
        match opening.purpose {
            OpenFor::LookBack(_) => {
                look_back_failures.write(LookBackFailed(message));
            }
            OpenFor::Replay => commands.insert_resource(RecordingError(message)),
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
pub fn show_recording(
    commands: &mut Commands,
    mut recording: Recording,
    shown: Shown,
    shown_store: &mut TwinStore,
    stash: Option<&mut LiveStash>,
) -> Result<(), String> {
    let Some((start, end)) = recording.time_range() else {
        return Err(format!(
            "{}: the recording holds no messages",
            recording.file.path().display()
        ));
    };
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

fn insert_session(
    commands: &mut Commands,
    recording: Recording,
    (start, end, at): (Timestamp, Timestamp, Timestamp),
    playing: bool,
    shown: Shown,
    error: Option<String>,
) {
    let mut session = ReplaySession::new(
        recording,
        (start, end),
        at,
        shown.plant_clock,
        shown.fresh_store,
    );
    session.playing = playing;
    session.error = error;
    commands.insert_resource(session);
}
