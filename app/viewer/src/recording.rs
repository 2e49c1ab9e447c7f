//! Recording the live session from the viewer: a record button starts a recording client on
//! the same broker (the same recorder as `twinscope record`) and shows elapsed time and size.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bevy::prelude::*;
use twinscope_core::connection::ConnectionSettings;
use twinscope_core::ingest::{IngestConfig, IngestHandle};
use twinscope_core::record::{RecordStats, start_recording};

/// Starts and stops recordings of the live session.
pub struct LiveRecordingPlugin;

impl Plugin for LiveRecordingPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<RecordCommand>().add_systems(Update, apply_record_commands);
    }
}

#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordCommand {
    Start,
    Stop,
}

/// Where live recordings go and the one in progress, if any.
#[derive(Resource)]
pub struct LiveRecorder {
    /// The topics the live view reads (the scene's JSON sources too).
    pub topics: Vec<String>,
    pub connection: ConnectionSettings,
    pub directory: PathBuf,
    pub active: Option<ActiveRecording>,
    /// The last recording written, or why recording failed.
    pub last_message: Option<String>,
}

pub struct ActiveRecording {
    pub path: PathBuf,
    pub started: Instant,
    pub stats: Arc<RecordStats>,
    client: IngestHandle,
}

impl LiveRecorder {
    pub fn new(connection: impl Into<ConnectionSettings>, directory: PathBuf) -> Self {
        LiveRecorder { connection: connection.into(), topics: twinscope_core::schema::combined::SchemaChoice::replay().subscriptions(), directory, active: None, last_message: None }
    }

    /// Seconds recorded and bytes written so far.
    pub fn progress(&self) -> Option<(f64, u64)> {
        self.active.as_ref().map(|a| (a.started.elapsed().as_secs_f64(), a.stats.bytes.load(Ordering::Relaxed)))
    }
}

fn apply_record_commands(mut commands: MessageReader<RecordCommand>, recorder: Option<ResMut<LiveRecorder>>) {
    let Some(mut recorder) = recorder else {
        commands.clear();
        return;
    };
    for command in commands.read() {
        match command {
            RecordCommand::Start if recorder.active.is_none() => {
                let name = twinscope_core::Timestamp::now().to_string().replace([':', '.'], "-");
                let path = recorder.directory.join(format!("twinscope-{name}.mcap"));
                let started = std::fs::create_dir_all(&recorder.directory)
                    .and_then(|()| start_recording(IngestConfig::helper(&recorder.connection, "record"), &path, recorder.topics.clone()));
                match started {
                    Ok((client, stats)) => {
                        info!("recording the live session to {}", path.display());
                        recorder.active = Some(ActiveRecording { path, started: Instant::now(), stats, client });
                        recorder.last_message = None;
                    }
                    Err(error) => recorder.last_message = Some(format!("cannot record to {}: {error}", path.display())),
                }
            }
            RecordCommand::Stop => {
                if let Some(mut active) = recorder.active.take() {
                    active.client.stop();
                    let messages = active.stats.messages.load(Ordering::Relaxed);
                    let message = format!("recorded {messages} messages to {}", active.path.display());
                    info!("{message}");
                    recorder.last_message = Some(message);
                }
            }
            RecordCommand::Start => {}
        }
    }
}
