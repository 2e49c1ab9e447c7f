//! Operations on devices in the viewer: the Operations window for the selected twin (what it
//! accepts, a request with its confirmation, the commands on it and where they stand) over
//! the core's operations link. The window sends requests; one system here hands them to the
//! link, which checks them against the operator's policy (off unless `--allow-operations`),
//! audits and publishes them. A replay has no link: it never acts on the plant.

pub mod window;

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use twinscope_core::operations::{OperationsLink, TrackedCommand};

use crate::scene::selection::Selection;
use crate::store::sync::TwinState;
use window::{CommandRow, OperationRequest, OperationsDraft, OperationsView};

/// The viewer's operations connection (live only).
#[derive(Resource)]
pub struct PlantOperations(pub OperationsLink);

/// Shows and requests operations on the selected twin: on the desktop in a window beside the
/// inspector, in the headset on the panel's Ops tab (drawn by the panel).
pub struct OperationsPlugin {
    pub desktop: bool,
}

/// What the window asked for this frame, applied by [`apply_operation_requests`].
#[derive(Message, Debug, Clone)]
pub struct OperationMessage(pub OperationRequest);

#[derive(Resource, Default)]
pub struct OperationsUi {
    pub draft: OperationsDraft,
    /// A configuration being uploaded before its request is reviewed.
    pub uploading: Option<crossbeam_channel::Receiver<Uploaded>>,
    /// Where saved logs and configurations go (the recordings folder).
    pub save_dir: std::path::PathBuf,
}

impl Plugin for OperationsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<OperationsUi>()
            .init_resource::<RecordedOperations>()
            .add_systems(Update, read_recorded_operations)
            .add_message::<OperationMessage>()
            .add_systems(
                Update,
                (prepare_for_a_test, apply_operation_requests).chain(),
            )
            .add_systems(
                Last,
                report_operations_on_exit.after(crate::scene::capture::CaptureExit),
            );
        if self.desktop {
            app.add_systems(
                EguiPrimaryContextPass,
                draw_operations_window.after(crate::ui::PanelsDrawn),
            );
        }
    }
}

/// The window's view of `twin` from the link's state.
pub fn operations_view(
    link: &OperationsLink,
    twin: &str,
    clock: &twinscope_core::time_zone::PlantClock,
) -> OperationsView {
    let shared = link.lock();
    let policy = &link.config().policy;
    let read_only = if policy.replay {
        Some("a replay never acts on the plant".to_owned())
    } else if !policy.enabled {
        Some("read-only: start twinscope with --allow-operations to act on devices".to_owned())
    } else {
        None
    };
    let commands = shared
        .book
        .of_twin(twin)
        .map(|c| row(c, &shared.fetches, clock, &link.config().root))
        .collect();
    let within = link.config().write_confirm_within;
    OperationsView {
        read_only,
        dry_run: policy.dry_run,
        problem: shared.problem.clone(),
        writable: shared.sparkplug.writable(twin),
        writes: shared
            .sparkplug
            .writes
            .iter()
            .rev()
            .filter(|w| w.twin == twin)
            .take(10)
            .map(|w| (w.metric.clone(), w.value.clone(), w.describe(within)))
            .collect(),
        ..twin_view(&shared.capabilities, twin, commands)
    }
}

/// What every view of `twin` shows: its entity, what it announces, its commands newest first.
fn twin_view(
    capabilities: &twinscope_core::operations::Capabilities,
    twin: &str,
    mut commands: Vec<CommandRow>,
) -> OperationsView {
    let caps = capabilities.of(twin);
    commands.reverse();
    OperationsView {
        twin: twin.to_owned(),
        entity: caps.map(|c| c.entity.clone()),
        capabilities: caps
            .map(|c| {
                c.operations
                    .iter()
                    .map(|(op, types)| (op.clone(), types.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        commands,
        ..Default::default()
    }
}

/// What a replayed recording held on `twin` up to `position`: its capabilities and the
/// commands as they stood then (read-only: a replay never acts on the plant).
pub fn recorded_view(
    recorded: &(
        twinscope_core::operations::Capabilities,
        twinscope_core::operations::OperationBook,
    ),
    twin: &str,
    clock: &twinscope_core::time_zone::PlantClock,
    position: twinscope_core::Timestamp,
) -> OperationsView {
    let (capabilities, book) = recorded;
    let none = twinscope_core::operations::file_transfer::Fetches::default();
    let commands = book
        .of_twin(twin)
        .filter_map(|command| {
            let mut then = command.clone();
            then.states.retain(|(_, at)| *at <= position);
            (!then.states.is_empty()).then(|| row(&then, &none, clock, "te"))
        })
        .collect();
    OperationsView {
        read_only: Some("a replay never acts on the plant: the commands as recorded".into()),
        ..twin_view(capabilities, twin, commands)
    }
}

/// A replayed recording's operations, read once in the background when it opens.
#[derive(Resource, Default)]
pub struct RecordedOperations {
    path: Option<std::path::PathBuf>,
    loaded: std::sync::Arc<
        std::sync::Mutex<
            Option<(
                twinscope_core::operations::Capabilities,
                twinscope_core::operations::OperationBook,
            )>,
        >,
    >,
}

fn read_recorded_operations(
    replay: Option<Res<crate::history::replay::ReplaySession>>,
    mut recorded: ResMut<RecordedOperations>,
) {
    let Some(replay) = replay else { return };
    let path = replay.recording.file.path().to_owned();
    if recorded.path.as_ref() == Some(&path) {
        return;
    }
    recorded.path = Some(path.clone());
    let loaded = recorded.loaded.clone();
    *loaded
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    let read = move || match twinscope_core::operations::recorded::operations_in_recording(
        &path, "te", None,
    ) {
        Ok(found) => {
            *loaded
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(found)
        }
        Err(error) => tracing::warn!(%error, "cannot read the recording's operations"),
    };
    if let Err(error) = std::thread::Builder::new()
        .name("recorded-operations".into())
        .spawn(read)
    {
        tracing::warn!(%error, "cannot read the recording's operations");
    }
}

fn row(
    command: &TrackedCommand,
    fetches: &twinscope_core::operations::file_transfer::Fetches,
    clock: &twinscope_core::time_zone::PlantClock,
    root: &str,
) -> CommandRow {
    let topic = command.topic.topic(root);
    let requester = command
        .payload
        .get("twinscope")
        .and_then(|t| t.get("user"))
        .and_then(|u| u.as_str())
        .map(str::to_owned);
    CommandRow {
        fetched: fetches.state(&topic),
        operation: command.topic.operation.clone(),
        id: command.topic.id.clone().unwrap_or_default(),
        ours: command.ours,
        requester,
        outcome: command.describe(),
        running: window::running(command.state()) && !command.no_response,
        failed: matches!(
            command.state(),
            twinscope_core::operations::CommandState::Failed
        ) || command.no_response,
        states: command
            .states
            .iter()
            .map(|(state, at)| (state.as_str().to_owned(), clock.time_of_day(*at, 12)))
            .collect(),
        trouble: command.trouble.clone(),
        topic,
    }
}

#[allow(clippy::too_many_arguments)]
fn draw_operations_window(
    mut contexts: EguiContexts,
    link: Option<Res<PlantOperations>>,
    (recorded, replay): (
        Res<RecordedOperations>,
        Option<Res<crate::history::replay::ReplaySession>>,
    ),
    selection: Res<Selection>,
    state: Res<TwinState>,
    mut ui_state: ResMut<OperationsUi>,
    panels: Option<Res<crate::ui::PanelState>>,
    mut messages: MessageWriter<OperationMessage>,
) -> Result {
    let Some(twin) = selection
        .twin
        .filter(|t| (t.0 as usize) < state.store.len())
    else {
        return Ok(());
    };
    let twin_id = state.store.get(twin).id.as_str().to_owned();
    let clock = panels.as_ref().map(|p| p.clock.clone()).unwrap_or_default();
    let view = match (&link, &replay) {
        (Some(link), _) => operations_view(&link.0, &twin_id, &clock),
        (None, Some(replay)) => {
            let loaded = recorded
                .loaded
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let Some(found) = loaded.as_ref() else {
                return Ok(());
            };
            recorded_view(found, &twin_id, &clock, replay.position)
        }
        (None, None) => return Ok(()),
    };
    if view.entity.is_none() && view.commands.is_empty() && view.writable.is_none() {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let screen = ctx.viewport_rect();
    let right = panels.as_ref().map_or(0.0, |p| p.right_inset);
    // Beside the inspector, below the session's window at the top.
    let corner = egui::pos2(screen.right() - right - 8.0, screen.top() + 44.0);
    let mut requests = Vec::new();
    egui::Window::new(format!("Operations: {twin_id}"))
        .id(egui::Id::new("operations"))
        .pivot(egui::Align2::RIGHT_TOP)
        .fixed_pos(corner)
        .default_width(340.0)
        .max_width(360.0)
        .collapsible(true)
        .resizable(false)
        .show(ctx, |ui| {
            requests = window::operations_window(ui, &view, &mut ui_state.draft)
        });
    messages.write_batch(requests.into_iter().map(OperationMessage));
    Ok(())
}

/// A test hook (`TWINSCOPE_TEST_PREPARE_OPERATION=restart:reason`): once the selected twin
/// announces that operation, its request is prepared for review, as Review… would (a
/// headset test cannot type a reason), leaving Send to the test.
fn prepare_for_a_test(
    link: Option<Res<PlantOperations>>,
    selection: Res<Selection>,
    state: Res<TwinState>,
    mut messages: MessageWriter<OperationMessage>,
    mut done: Local<bool>,
) {
    if *done {
        return;
    }
    let Ok(hook) = std::env::var("TWINSCOPE_TEST_PREPARE_OPERATION") else {
        *done = true;
        return;
    };
    let (Some(link), Some(twin)) = (
        link,
        selection
            .twin
            .filter(|t| (t.0 as usize) < state.store.len()),
    ) else {
        return;
    };
    let Some((operation, reason)) = hook.split_once(':') else {
        return;
    };
    let twin = state.store.get(twin).id.as_str().to_owned();
    if link
        .0
        .lock()
        .capabilities
        .of(&twin)
        .is_some_and(|c| c.operations.contains_key(operation))
    {
        info!("test: preparing {operation} on {twin}");
        messages.write(OperationMessage(OperationRequest::Prepare {
            twin,
            operation: operation.to_owned(),
            fields: Default::default(),
            reason: reason.to_owned(),
            upload: None,
        }));
        *done = true;
    }
}

/// Asks the link what a request would send, for the operator to review.
fn prepare(
    link: &OperationsLink,
    ui_state: &mut OperationsUi,
    twin: &str,
    operation: &str,
    fields: serde_json::Map<String, serde_json::Value>,
    reason: &str,
) {
    match link.prepare(twin, operation, fields, reason) {
        Ok(prepared) => {
            // The review belongs to this twin and operation (the window keeps a draft per twin).
            ui_state.draft.twin = twin.to_owned();
            ui_state.draft.operation = Some(operation.to_owned());
            ui_state.draft.prepared = Some(prepared);
            ui_state.draft.message = None;
        }
        Err(refusal) => ui_state.draft.message = Some(format!("refused: {refusal}")),
    }
}

/// A prepared request's fields once its file is on the file-transfer service, or why not.
pub type Uploaded = Result<
    (
        String,
        String,
        serde_json::Map<String, serde_json::Value>,
        String,
    ),
    String,
>;

/// Reads `file` and PUTs it to the file-transfer service on a thread of its own (the frame
/// never waits for the disk or the network); the request's fields then carry its URL.
fn upload_in_background(
    base: String,
    twin: String,
    operation: String,
    mut fields: serde_json::Map<String, serde_json::Value>,
    reason: String,
    file: std::path::PathBuf,
) -> crossbeam_channel::Receiver<Uploaded> {
    use twinscope_core::operations::file_transfer::upload_file;
    let (sender, receiver) = crossbeam_channel::bounded(1);
    let upload = move || {
        let result = upload_file(&base, &twin, &operation, &mut fields, &file, true)
            .map(|()| (twin, operation, fields, reason));
        let _ = sender.send(result);
    };
    if let Err(error) = std::thread::Builder::new()
        .name("upload".into())
        .spawn(upload)
    {
        tracing::error!(%error, "cannot start the upload");
    }
    receiver
}

/// Hands the window's requests to the link (the one place that acts).
fn apply_operation_requests(
    mut messages: MessageReader<OperationMessage>,
    link: Option<Res<PlantOperations>>,
    mut ui_state: ResMut<OperationsUi>,
) {
    // An upload finished: the request, with the file's URL, is prepared for review.
    if let (Some(link), Some(done)) = (
        &link,
        ui_state.uploading.as_ref().and_then(|r| r.try_recv().ok()),
    ) {
        ui_state.uploading = None;
        match done {
            Ok((twin, operation, fields, reason)) => {
                prepare(&link.0, &mut ui_state, &twin, &operation, fields, &reason)
            }
            Err(why) => ui_state.draft.message = Some(why),
        }
    }
    for OperationMessage(request) in messages.read() {
        let Some(link) = &link else {
            ui_state.draft.message = Some("a replay never acts on the plant".into());
            continue;
        };
        match request.clone() {
            OperationRequest::Prepare {
                twin,
                operation,
                fields,
                reason,
                upload: Some(file),
            } => {
                let Some(base) = link.0.config().file_transfer.clone() else {
                    ui_state.draft.message = Some("uploading a configuration needs thin-edge's file-transfer service: start with --file-transfer http://HOST:8000".into());
                    continue;
                };
                ui_state.draft.message = Some(format!("uploading {}…", file.display()));
                ui_state.uploading = Some(upload_in_background(
                    base, twin, operation, fields, reason, file,
                ));
            }
            OperationRequest::Prepare {
                twin,
                operation,
                fields,
                reason,
                upload: None,
            } => prepare(&link.0, &mut ui_state, &twin, &operation, fields, &reason),
            OperationRequest::Send(prepared) => {
                ui_state.draft.message = Some(match link.0.send(prepared) {
                    Ok(sent) if sent.sent => format!("sent {}", sent.cmd_id),
                    Ok(sent) => format!("dry run: {} not sent", sent.cmd_id),
                    Err(refusal) => format!("refused: {refusal}"),
                });
            }
            OperationRequest::Write {
                twin,
                metric,
                value,
                reason,
            } => {
                ui_state.draft.message =
                    Some(match link.0.write(&twin, &metric, &value, &reason) {
                        Ok(Some(_)) => format!("sent {metric} = {value}"),
                        Ok(None) => format!("dry run: {metric} = {value} not sent"),
                        Err(refusal) => format!("refused: {refusal}"),
                    });
            }
            OperationRequest::Save { topic } => {
                let Some(twinscope_core::operations::file_transfer::FetchState::Fetched(file)) =
                    link.0.lock().fetches.state(&topic)
                else {
                    continue;
                };
                let name = topic.rsplit('/').take(2).collect::<Vec<_>>().join("-");
                let path = ui_state.save_dir.join(format!("{name}.txt"));
                let written = std::fs::create_dir_all(&ui_state.save_dir)
                    .and_then(|()| std::fs::write(&path, &file.bytes));
                ui_state.draft.message = Some(match written {
                    Ok(()) => format!("saved to {}", path.display()),
                    Err(error) => format!("cannot write {}: {error}", path.display()),
                });
            }
        }
    }
}

/// At exit, the commands seen (scripts and tests read them).
fn report_operations_on_exit(
    mut exits: MessageReader<AppExit>,
    link: Option<Res<PlantOperations>>,
) {
    if exits.read().count() == 0 {
        return;
    }
    let Some(link) = link else { return };
    let shared = link.0.lock();
    let twins = shared.capabilities.all().count();
    eprintln!(
        "operations: {twins} twin(s) announce operations, {} command(s) seen",
        shared.book.all().count()
    );
    for command in shared.book.all().take(50) {
        let whose = if command.ours { "ours" } else { "read-only" };
        eprintln!(
            "operation: {} {} {} {} ({whose})",
            command.topic.twin,
            command.topic.operation,
            command.topic.id.as_deref().unwrap_or(""),
            command.describe()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// One HTTP request answered 201, its request line and body handed back.
    fn one_put_server() -> (String, std::sync::mpsc::Receiver<(String, Vec<u8>)>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while !String::from_utf8_lossy(&request).contains("bind.port = 8883") {
                let n = stream.read(&mut buffer).unwrap();
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buffer[..n]);
            }
            stream
                .write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            let text = String::from_utf8_lossy(&request).into_owned();
            let body_at = text.find("\r\n\r\n").map_or(0, |at| at + 4);
            let _ = sender.send((
                text.lines().next().unwrap_or("").to_owned(),
                request[body_at..].to_vec(),
            ));
        });
        (base, receiver)
    }

    #[test]
    fn a_configuration_is_uploaded_off_the_frame_and_its_url_goes_into_the_request() {
        let (base, received) = one_put_server();
        let file =
            std::env::temp_dir().join(format!("twinscope-upload-{}.toml", std::process::id()));
        std::fs::write(&file, "[mqtt]\nbind.port = 8883\n").unwrap();
        let fields: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(r#"{"type":"tedge.toml"}"#).unwrap();
        let done = upload_in_background(
            base.clone(),
            "pump1".into(),
            "config_update".into(),
            fields,
            "TLS port".into(),
            file.clone(),
        );
        let (twin, operation, fields, reason) = done
            .recv_timeout(std::time::Duration::from_secs(10))
            .unwrap()
            .unwrap();
        assert_eq!(
            (twin.as_str(), operation.as_str(), reason.as_str()),
            ("pump1", "config_update", "TLS port")
        );
        let url = fields["tedgeUrl"].as_str().unwrap();
        assert!(
            url.starts_with(&format!(
                "{base}/te/v1/files/pump1/config_update/tedge.toml-upload-"
            )),
            "{url}"
        );
        let (line, body) = received.recv().unwrap();
        assert!(
            line.starts_with("PUT /te/v1/files/pump1/config_update/"),
            "{line}"
        );
        assert_eq!(body, b"[mqtt]\nbind.port = 8883\n");
        let missing = upload_in_background(
            base,
            "pump1".into(),
            "config_update".into(),
            serde_json::Map::new(),
            "x".into(),
            file.with_extension("gone"),
        );
        assert!(
            missing
                .recv_timeout(std::time::Duration::from_secs(10))
                .unwrap()
                .unwrap_err()
                .contains("cannot read")
        );
        let _ = std::fs::remove_file(&file);
    }
}
