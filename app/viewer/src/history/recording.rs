//! Recording the live session from the viewer: a record button starts a recording client on
//! the same broker (the same recorder as `twinscope record`) and shows elapsed time and size.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bevy::prelude::*;
use twinscope_core::connection::ConnectionSettings;
use twinscope_core::ingest::IngestConfig;
use twinscope_core::record::RecordStats;
use twinscope_core::record_sources::{RecordSource, RecordingClients, start_recording_from};

/// Starts and stops recordings of the live session.
pub struct LiveRecordingPlugin;

impl Plugin for LiveRecordingPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<RecordCommand>()
            .add_systems(Update, apply_record_commands);
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
    /// How replay reads them: the seek index stored in the file is built with these.
    pub schemas: twinscope_core::schema::combined::SchemaChoice,
    pub connection: ConnectionSettings,
    /// A shared session on a broker of its own: its connection and topics, recorded into the
    /// same file (a session on the plant's broker is among `topics`).
    pub session: Option<(ConnectionSettings, Vec<String>)>,
    pub directory: PathBuf,
    pub active: Option<ActiveRecording>,
    /// The last recording written, or why recording failed.
    pub last_message: Option<String>,
    /// A stopped recording finishing its file (summary, fsync) on a thread of its own, so
    /// the window never waits for the disk; its closing message arrives here.
    finishing: Option<crossbeam_channel::Receiver<String>>,
}

pub struct ActiveRecording {
    pub path: PathBuf,
    pub started: Instant,
    pub stats: Arc<RecordStats>,
    clients: RecordingClients,
}

impl LiveRecorder {
    pub fn new(connection: impl Into<ConnectionSettings>, directory: PathBuf) -> Self {
        LiveRecorder {
            connection: connection.into(),
            session: None,
            topics: twinscope_core::schema::combined::SchemaChoice::replay().subscriptions(),
            schemas: twinscope_core::schema::combined::SchemaChoice::replay(),
            directory,
            active: None,
            last_message: None,
            finishing: None,
        }
    }

    /// Seconds recorded and bytes written so far.
    pub fn progress(&self) -> Option<(f64, u64)> {
        self.active.as_ref().map(|a| {
            (
                a.started.elapsed().as_secs_f64(),
                a.stats.bytes.load(Ordering::Relaxed),
            )
        })
    }
}

fn apply_record_commands(
    mut commands: MessageReader<RecordCommand>,
    recorder: Option<ResMut<LiveRecorder>>,
) {
    let Some(mut recorder) = recorder else {
        commands.clear();
        return;
    };
    if let Some(message) = recorder
        .finishing
        .as_ref()
        .and_then(|finishing| finishing.try_recv().ok())
    {
        info!("{message}");
        recorder.last_message = Some(message);
        recorder.finishing = None;
    }
    for command in commands.read() {
        match command {
            RecordCommand::Start if recorder.active.is_none() => {
                let name = twinscope_core::Timestamp::now()
                    .to_string()
                    .replace([':', '.'], "-");
                let path = recorder.directory.join(format!("twinscope-{name}.mcap"));
                let mut sources = vec![RecordSource {
                    config: IngestConfig::helper(&recorder.connection, "record"),
                    topics: recorder.topics.clone(),
                }];
                if let Some((connection, topics)) = &recorder.session {
                    sources.push(RecordSource {
                        config: IngestConfig::helper(connection, "record-session"),
                        topics: topics.clone(),
                    });
                }
                let started = std::fs::create_dir_all(&recorder.directory)
                    .and_then(|()| start_recording_from(sources, &path, &recorder.schemas));
                match started {
                    Ok((clients, stats)) => {
                        info!("recording the live session to {}", path.display());
                        recorder.active = Some(ActiveRecording {
                            path,
                            started: Instant::now(),
                            stats,
                            clients,
                        });
                        recorder.last_message = None;
                    }
                    Err(error) => {
                        recorder.last_message =
                            Some(format!("cannot record to {}: {error}", path.display()))
                    }
                }
            }
            RecordCommand::Stop => {
                if let Some(mut active) = recorder.active.take() {
                    recorder.last_message = Some(format!("finishing {}…", active.path.display()));
                    let (sender, receiver) = crossbeam_channel::bounded(1);
                    recorder.finishing = Some(receiver);
                    let finish = move || {
                        active.clients.stop();
                        let messages = active.stats.messages.load(Ordering::Relaxed);
                        let _ = sender.send(format!(
                            "recorded {messages} messages to {}",
                            active.path.display()
                        ));
                    };
                    if let Err(error) = std::thread::Builder::new()
                        .name("finish-recording".into())
                        .spawn(finish)
                    {
                        recorder.last_message =
                            Some(format!("cannot finish the recording: {error}"));
                    }
                }
            }
            RecordCommand::Start => {}
        }
    }
}
