//! Live DVR: the last minutes of a live session can be scrubbed back, and "Go live" returns.
//!
//! A DVR client records the session into rolling MCAP segments (the same recorder as
//! `twinscope record`). Each rotation reconnects, so the broker delivers its retained state
//! (registrations, alarms, units, twin data) again and every segment stands alone. The two
//! newest segments are kept: between one and two windows of history, bounded on disk and in
//! memory. Scrubbing back opens a segment as a replay; meanwhile live data keeps flowing into
//! the stashed live store, which "Go live" puts back.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use twinscope_core::ingest::{IngestConfig, IngestHandle};
use twinscope_core::record::start_recording;
use twinscope_core::replay::Recording;
use twinscope_core::{BrokerAddress, Timestamp};

use crate::replay::{ReplaySession, store_at};
use crate::sync::{LiveStash, StoreTemplate, TwinState};
use crate::{TwinscopeSystems, configure_twinscope_sets};

/// Keeps the rolling DVR recording and switches between live and looking back.
pub struct DvrPlugin;

impl Plugin for DvrPlugin {
    fn build(&self, app: &mut App) {
        configure_twinscope_sets(app);
        app.add_message::<DvrCommand>()
            .add_systems(Update, (rotate_dvr_segments, apply_dvr_commands).chain().in_set(TwinscopeSystems::Ingest));
    }
}

#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub enum DvrCommand {
    /// Look back: show the state at this instant of the session.
    LookBack(Timestamp),
    GoLive,
}

struct Segment {
    path: PathBuf,
    started: Instant,
    started_at: Timestamp,
    _client: IngestHandle,
}

/// The rolling recording behind the DVR.
#[derive(Resource)]
pub struct Dvr {
    broker: BrokerAddress,
    directory: PathBuf,
    /// Each segment covers this long; the DVR offers between one and two of them.
    pub window: Duration,
    current: Option<Segment>,
    previous: Option<(PathBuf, Timestamp)>,
    counter: u32,
    /// The plant's offset from UTC, for the clock while looking back.
    pub utc_offset_seconds: i64,
    pub error: Option<String>,
}

impl Dvr {
    pub fn new(broker: BrokerAddress, window: Duration, utc_offset_seconds: i64) -> Self {
        let directory = std::env::temp_dir().join(format!("twinscope-dvr-{}-{}", std::process::id(), window.as_millis()));
        Dvr { broker, directory, window, current: None, previous: None, counter: 0, utc_offset_seconds, error: None }
    }

    /// The oldest instant the DVR can show.
    pub fn oldest(&self) -> Option<Timestamp> {
        self.previous.as_ref().map(|p| p.1).or(self.current.as_ref().map(|c| c.started_at))
    }

    fn start_segment(&mut self) {
        if let Err(error) = std::fs::create_dir_all(&self.directory) {
            self.error = Some(format!("DVR cannot use {}: {error}", self.directory.display()));
            return;
        }
        self.counter += 1;
        let path = self.directory.join(format!("segment-{}.mcap", self.counter));
        match start_recording(IngestConfig::new(self.broker.clone()), &path, vec!["te/#".into()]) {
            Ok((client, _stats)) => {
                self.current = Some(Segment { path, started: Instant::now(), started_at: Timestamp::now(), _client: client });
            }
            Err(error) => self.error = Some(format!("DVR cannot record to {}: {error}", path.display())),
        }
    }
}

impl Drop for Dvr {
    fn drop(&mut self) {
        self.current = None; // stops the client and finishes the file first
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

fn rotate_dvr_segments(dvr: Option<ResMut<Dvr>>) {
    let Some(mut dvr) = dvr else { return };
    let due = match &dvr.current {
        None => dvr.error.is_none(),
        Some(segment) => segment.started.elapsed() >= dvr.window,
    };
    if !due {
        return;
    }
    if let Some(finished) = dvr.current.take() {
        // Dropping the segment stops its client, which writes the summary.
        let kept = (finished.path.clone(), finished.started_at);
        drop(finished);
        if let Some((old, _)) = dvr.previous.replace(kept) {
            let _ = std::fs::remove_file(old);
        }
    }
    dvr.start_segment();
}

#[allow(clippy::too_many_arguments)]
fn apply_dvr_commands(
    mut commands: MessageReader<DvrCommand>,
    mut bevy_commands: Commands,
    dvr: Option<ResMut<Dvr>>,
    template: Option<Res<StoreTemplate>>,
    mut state: ResMut<TwinState>,
    mut stash: Option<ResMut<LiveStash>>,
    session: Option<Res<ReplaySession>>,
) {
    let (Some(mut dvr), Some(template)) = (dvr, template) else {
        commands.clear();
        return;
    };
    for command in commands.read() {
        match *command {
            DvrCommand::GoLive => {
                if let Some(stash) = stash.take() {
                    let mut live = std::mem::replace(&mut stash.into_inner().0, twinscope_core::twin::TwinStore::new(Default::default(), Default::default()));
                    live.mark_all_changed();
                    state.store = live;
                    bevy_commands.remove_resource::<LiveStash>();
                }
                bevy_commands.remove_resource::<ReplaySession>();
            }
            DvrCommand::LookBack(at) => {
                // The segment holding `at`: the current one unless `at` is older than it.
                let in_previous = dvr.current.as_ref().is_none_or(|c| at < c.started_at);
                let path = match (&dvr.previous, &dvr.current) {
                    (Some((previous, _)), _) if in_previous => previous.clone(),
                    (_, Some(current)) => current.path.clone(),
                    (Some((previous, _)), None) => previous.clone(),
                    (None, None) => continue,
                };
                let mut recording = match Recording::open(&path) {
                    Ok(recording) => recording,
                    Err(error) => {
                        dvr.error = Some(error.to_string());
                        continue;
                    }
                };
                let Some((start, end)) = recording.time_range() else { continue };
                let at = Timestamp(at.0.clamp(start.0, end.0));
                // The live store keeps receiving while we look back (unless it already is stashed).
                let like = match &stash {
                    Some(stash) => &stash.0,
                    None => &state.store,
                };
                let make = template.0.clone();
                let (past, error) = store_at(&mut recording, &*make, like, at);
                let live = std::mem::replace(&mut state.store, past);
                if stash.is_none() && session.is_none() {
                    bevy_commands.insert_resource(LiveStash(live));
                }
                let utc_offset_seconds = dvr.utc_offset_seconds;
                bevy_commands.insert_resource(ReplaySession {
                    recording,
                    start,
                    end,
                    position: at,
                    playing: false,
                    speed: 1.0,
                    loop_range: None,
                    loop_mark: None,
                    utc_offset_seconds,
                    fresh_store: Box::new(move || make()),
                    error,
                });
            }
        }
    }
}
