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
use twinscope_core::Timestamp;
use twinscope_core::background::drop_in_background;
use twinscope_core::connection::ConnectionSettings;
use twinscope_core::ingest::IngestConfig;
use twinscope_core::record::LiveIndex;
use twinscope_core::record_sources::{
    RecordSource, RecordingClients, start_indexed_recording_from,
};

use crate::history::opening::{LookBackFailed, OpenFor, OpeningRecording};
use crate::history::replay::{ReplaySession, Shown, show_recording};
use crate::store::sync::{LiveStash, StoreTemplate, TwinState};
use crate::{StoreSystems, configure_twinscope_sets};

/// Keeps the rolling DVR recording and switches between live and looking back.
pub struct DvrPlugin;

impl Plugin for DvrPlugin {
    fn build(&self, app: &mut App) {
        configure_twinscope_sets(app);
        app.add_message::<DvrCommand>()
            .add_message::<LookBackFailed>()
            .init_resource::<LiveStash>()
            .add_systems(
                Update,
                (
                    rotate_dvr_segments,
                    apply_dvr_commands,
                    show_look_back_failures,
                )
                    .chain()
                    .in_set(StoreSystems::Switch),
            );
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
    /// Its seek index, kept as it is written: looking back needs no pass over the file.
    index: LiveIndex,
    _clients: RecordingClients,
}

/// The rolling recording behind the DVR.
#[derive(Resource)]
pub struct Dvr {
    connection: ConnectionSettings,
    /// What the live view reads: the DVR records those topics and replays them the same way.
    pub schemas: twinscope_core::schema::combined::SchemaChoice,
    /// Recorded beside what the live view reads (a shared session's topics).
    pub extra_topics: Vec<String>,
    /// A shared session on a broker of its own: its connection and topics, recorded into
    /// the same segments over a second connection.
    pub session: Option<(ConnectionSettings, Vec<String>)>,
    directory: PathBuf,
    /// Each segment covers this long; the DVR offers between one and two of them.
    pub window: Duration,
    current: Option<Segment>,
    previous: Option<(PathBuf, Timestamp, LiveIndex)>,
    counter: u32,
    /// The plant's offset from UTC, for the clock while looking back.
    pub plant_clock: twinscope_core::time_zone::PlantClock,
    pub error: Option<String>,
}

impl Dvr {
    /// Segments go into a folder of their own under the user's cache folder
    /// (`~/.cache/twinscope/` on Linux), readable by the user alone: they hold everything the
    /// plant's broker carried.
    pub fn new(
        connection: impl Into<ConnectionSettings>,
        window: Duration,
        plant_clock: twinscope_core::time_zone::PlantClock,
    ) -> Self {
        let base = dirs::cache_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("twinscope");
        // One folder per DVR: two in one process (tests) must not share segments.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
        let instance = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let directory = base.join(format!("dvr-{}-{instance}", std::process::id()));
        let schemas = twinscope_core::schema::combined::SchemaChoice::replay();
        Dvr {
            connection: connection.into(),
            schemas,
            extra_topics: Vec::new(),
            session: None,
            directory,
            window,
            current: None,
            previous: None,
            counter: 0,
            plant_clock,
            error: None,
        }
    }

    /// The oldest instant the DVR can show.
    pub fn oldest(&self) -> Option<Timestamp> {
        self.previous
            .as_ref()
            .map(|p| p.1)
            .or(self.current.as_ref().map(|c| c.started_at))
    }

    /// The folder the segments are written to.
    pub fn directory(&self) -> &std::path::Path {
        &self.directory
    }

    fn start_segment(&mut self) {
        if let Err(error) = create_private_dir(&self.directory) {
            self.error = Some(format!(
                "DVR cannot use {}: {error}",
                self.directory.display()
            ));
            return;
        }
        self.counter += 1;
        let path = self
            .directory
            .join(format!("segment-{}.mcap", self.counter));
        let plant = RecordSource {
            config: IngestConfig::helper(&self.connection, "dvr"),
            topics: self
                .schemas
                .subscriptions()
                .into_iter()
                .chain(self.extra_topics.iter().cloned())
                .collect(),
        };
        let mut sources = vec![plant];
        if let Some((connection, topics)) = &self.session {
            sources.push(RecordSource {
                config: IngestConfig::helper(connection, "dvr-session"),
                topics: topics.clone(),
            });
        }
        match start_indexed_recording_from(sources, &path, &self.schemas.for_replay()) {
            Ok((clients, _stats, index)) => {
                self.current = Some(Segment {
                    path,
                    started: Instant::now(),
                    started_at: Timestamp::now(),
                    index,
                    _clients: clients,
                });
            }
            Err(error) => {
                self.error = Some(format!("DVR cannot record to {}: {error}", path.display()))
            }
        }
    }
}

/// Creates `path` (and missing parents) so that only this user can enter or read it.
fn create_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(path)?;
        // An existing folder keeps its mode through `create`: tighten it.
        return std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
    }
    #[allow(unreachable_code)]
    builder.create(path)
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
        // Dropping the segment stops its client, which writes the summary and syncs the
        // file: on a thread of its own, so the frame does not wait for the disk. (Its index
        // was kept as it was written: a look-back into it does not read it again.)
        let kept = (
            finished.path.clone(),
            finished.started_at,
            finished.index.clone(),
        );
        let _ = std::thread::Builder::new()
            .name("finish-dvr-segment".into())
            .spawn(move || drop(finished));
        if let Some((old, _, _)) = dvr.previous.replace(kept) {
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
    mut stash: ResMut<LiveStash>,
) {
    let (Some(dvr), Some(template)) = (dvr, template) else {
        commands.clear();
        return;
    };
    for command in commands.read() {
        match *command {
            DvrCommand::GoLive => {
                if let Some(mut live) = stash.0.take() {
                    live.mark_all_changed();
                    drop_in_background(std::mem::replace(&mut state.store, live));
                }
                bevy_commands.remove_resource::<ReplaySession>();
                bevy_commands.remove_resource::<OpeningRecording>();
            }
            DvrCommand::LookBack(at) => {
                // The segment holding `at`: the current one unless `at` is older than it.
                let in_previous = dvr.current.as_ref().is_none_or(|c| at < c.started_at);
                let (path, index) = match (&dvr.previous, &dvr.current) {
                    (Some((previous, _, index)), _) if in_previous => {
                        (previous.clone(), index.clone())
                    }
                    (_, Some(current)) => (current.path.clone(), current.index.clone()),
                    (Some((previous, _, index)), None) => (previous.clone(), index.clone()),
                    (None, None) => continue,
                };
                bevy_commands.remove_resource::<OpeningRecording>();
                let shown = Shown {
                    purpose: OpenFor::LookBack(at),
                    fresh_store: template.0.clone(),
                    plant_clock: dvr.plant_clock.clone(),
                };
                // Instant: the segment's index was kept as it was written; the state at `at`
                // is one seek. Only where that index cannot serve is the file opened again
                // (on a thread, with a progress window).
                let shown_now = match index.recording(&path, dvr.schemas.for_replay()) {
                    Ok(recording) if recording.time_range().is_some() => show_recording(
                        &mut bevy_commands,
                        recording,
                        shown,
                        &mut state.store,
                        Some(&mut *stash),
                    )
                    .is_ok(),
                    _ => false,
                };
                if !shown_now {
                    let opening = OpeningRecording::start(
                        &path,
                        dvr.schemas.for_replay(),
                        OpenFor::LookBack(at),
                        template.0.clone(),
                        dvr.plant_clock.clone(),
                    );
                    bevy_commands.insert_resource(opening);
                }
            }
        }
    }
}

/// A look-back whose recording could not be opened says why in the DVR bar.
fn show_look_back_failures(mut failures: MessageReader<LookBackFailed>, dvr: Option<ResMut<Dvr>>) {
    let last = failures.read().last().cloned();
    if let (Some(LookBackFailed(message)), Some(mut dvr)) = (last, dvr) {
        dvr.error = Some(message);
    }
}
