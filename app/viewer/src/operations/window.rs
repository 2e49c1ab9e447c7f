//! The Operations window for the selected twin: what the device accepts (thin-edge
//! capabilities, with their types), a request with its confirmation (exactly what will be
//! sent: topic, command id, payload) and a required reason, and every command on the twin,
//! ours and others', with the states it went through and when; a fetched log or
//! configuration with a search and a Save button. It returns requests; it changes nothing.

use bevy_egui::egui;
use serde_json::{Map, Value};
use twinscope_core::operations::file_transfer::FetchState;
use twinscope_core::operations::{CommandState, PreparedRequest};

/// One command as the window shows it.
#[derive(Debug, Clone)]
pub struct CommandRow {
    pub topic: String,
    pub operation: String,
    pub id: String,
    pub ours: bool,
    /// Who asked, as the request says (`twinscope.user`), when another twinscope did.
    pub requester: Option<String>,
    pub outcome: String,
    pub running: bool,
    pub failed: bool,
    pub states: Vec<(String, String)>,
    pub trouble: Option<String>,
    pub fetched: Option<FetchState>,
}

/// What the window shows for one twin.
#[derive(Debug, Clone, Default)]
pub struct OperationsView {
    pub twin: String,
    pub entity: Option<String>,
    /// Operation → types.
    pub capabilities: Vec<(String, Vec<String>)>,
    /// `None`: operations may be requested; otherwise why not.
    pub read_only: Option<String>,
    pub dry_run: bool,
    /// Newest first.
    pub commands: Vec<CommandRow>,
    pub problem: Option<String>,
    /// A Sparkplug node or device: its writable metrics (name, datatype) and whether online.
    pub writable: Option<(Vec<(String, &'static str)>, bool)>,
    /// Our writes to it, newest first: metric, value, outcome.
    pub writes: Vec<(String, String, String)>,
    /// In the headset a request is sent only after Send is held down a while (a ray's press
    /// is easily made by mistake).
    pub hold_to_send: bool,
}

/// Reasons a headset user picks instead of typing (a virtual keyboard is slow).
pub const PRESET_REASONS: [&str; 3] = [
    "troubleshooting",
    "agreed with the control room",
    "scheduled maintenance",
];

/// The reason a request must give (audited), with the preset reasons to pick from.
fn reason_field(ui: &mut egui::Ui, view: &OperationsView, reason: &mut String) {
    ui.add(
        egui::TextEdit::singleline(reason)
            .hint_text("reason (required, audited)")
            .desired_width(f32::INFINITY),
    );
    preset_reasons(ui, view, reason);
}

/// In the headset, the preset reasons as buttons.
fn preset_reasons(ui: &mut egui::Ui, view: &OperationsView, reason: &mut String) {
    if !view.hold_to_send {
        return;
    }
    ui.horizontal_wrapped(|ui| {
        for preset in PRESET_REASONS {
            if ui.selectable_label(reason == preset, preset).clicked() {
                *reason = preset.to_owned();
            }
        }
    });
}

/// How long Send is held in the headset.
pub const HOLD_SECONDS: f64 = 1.5;

/// Send: a click on the desktop; in the headset a deliberate hold of [`HOLD_SECONDS`] on it,
/// with its progress on the button (letting go starts over).
fn send_pressed(ui: &mut egui::Ui, view: &OperationsView, hold_since: &mut Option<f64>) -> bool {
    let label = if view.dry_run { "Dry run" } else { "Send" };
    if !view.hold_to_send {
        return ui.button(label).clicked();
    }
    let now = ui.input(|i| i.time);
    let text = match *hold_since {
        Some(since) => format!(
            "Hold to {} … {:.0}%",
            label.to_lowercase(),
            ((now - since) / HOLD_SECONDS * 100.0).min(100.0)
        ),
        None => format!("Hold to {}", label.to_lowercase()),
    };
    // Sensing drags too: a press held longer than a click stays "down on" the button.
    let response = ui.add(egui::Button::new(text).sense(egui::Sense::click_and_drag()));
    if !response.is_pointer_button_down_on() {
        *hold_since = None;
        return false;
    }
    let since = *hold_since.get_or_insert(now);
    ui.ctx().request_repaint();
    if now - since >= HOLD_SECONDS {
        *hold_since = None;
        return true;
    }
    false
}

/// What the operator is writing, and the request waiting for confirmation.
#[derive(Debug, Default)]
pub struct OperationsDraft {
    pub twin: String,
    pub operation: Option<String>,
    pub payload: String,
    pub reason: String,
    pub prepared: Option<PreparedRequest>,
    pub message: Option<String>,
    pub search: String,
    /// A Sparkplug metric being written, its new value, and whether it was reviewed.
    pub write_metric: Option<String>,
    pub write_value: String,
    pub write_reviewed: bool,
    /// In the headset: since when (egui time, s) Send has been held down.
    pub hold_since: Option<f64>,
    /// config_update: the file to upload.
    pub upload: String,
}

/// What the window asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum OperationRequest {
    /// Check and complete a request, to confirm.
    Prepare {
        twin: String,
        operation: String,
        fields: Map<String, Value>,
        reason: String,
        /// A file uploaded to the file-transfer service first (config_update's new content).
        upload: Option<std::path::PathBuf>,
    },
    Send(PreparedRequest),
    Save {
        topic: String,
    },
    /// Write a Sparkplug metric (NCMD/DCMD).
    Write {
        twin: String,
        metric: String,
        value: String,
        reason: String,
    },
}

pub fn operations_window(
    ui: &mut egui::Ui,
    view: &OperationsView,
    draft: &mut OperationsDraft,
) -> Vec<OperationRequest> {
    let mut requests = Vec::new();
    if draft.twin != view.twin {
        *draft = OperationsDraft {
            twin: view.twin.clone(),
            ..Default::default()
        };
    }
    if let Some(problem) = &view.problem {
        ui.colored_label(egui::Color32::from_rgb(255, 120, 90), problem);
    }
    match &view.entity {
        Some(entity) => ui.weak(format!("thin-edge entity {entity}")),
        None if view.writable.is_some() => ui.weak("a Sparkplug node or device"),
        None => ui.weak("announces no operations (thin-edge te/<entity>/cmd/<operation>)"),
    };
    if let Some(why) = &view.read_only {
        ui.weak(why);
    } else if view.dry_run {
        ui.weak("dry run: requests are shown and audited, never sent");
    }
    for (operation, types) in &view.capabilities {
        ui.horizontal(|ui| {
            let request = ui.add_enabled(
                view.read_only.is_none(),
                egui::Button::new(operation.as_str()),
            );
            if !types.is_empty() {
                ui.weak(types.join(", "));
            }
            if request.clicked() {
                draft.operation = Some(operation.clone());
                draft.payload = match types.first() {
                    Some(kind) if operation != "software_list" => {
                        format!("{{\"type\": \"{kind}\"}}")
                    }
                    _ => "{}".into(),
                };
                draft.prepared = None;
                draft.message = None;
            }
        });
    }
    if let Some(operation) = draft.operation.clone() {
        request_form(ui, view, draft, &operation, &mut requests);
    }
    if let Some((metrics, online)) = &view.writable {
        sparkplug_section(ui, view, metrics, *online, draft, &mut requests);
    }
    if let Some(message) = &draft.message {
        ui.label(message);
    }
    if !view.commands.is_empty() {
        ui.separator();
        ui.strong(format!("Commands ({})", view.commands.len()));
        egui::ScrollArea::vertical()
            .id_salt("operations-commands")
            .max_height(260.0)
            .show(ui, |ui| {
                for row in &view.commands {
                    command_row(ui, row, &mut draft.search, &mut requests);
                }
            });
    }
    requests
}

fn request_form(
    ui: &mut egui::Ui,
    view: &OperationsView,
    draft: &mut OperationsDraft,
    operation: &str,
    requests: &mut Vec<OperationRequest>,
) {
    ui.separator();
    if let Some(prepared) = draft.prepared.clone() {
        ui.strong(format!("Send {operation} to {}?", view.twin));
        ui.label("Will publish, retained, to");
        ui.monospace(&prepared.topic_text);
        let pretty = serde_json::to_string_pretty(&Value::Object(prepared.payload.clone()))
            .unwrap_or_default();
        ui.monospace(pretty);
        ui.horizontal(|ui| {
            if send_pressed(ui, view, &mut draft.hold_since) {
                requests.push(OperationRequest::Send(prepared));
                draft.prepared = None;
                draft.operation = None;
            }
            if ui.button("Cancel").clicked() {
                draft.prepared = None;
            }
        });
        return;
    }
    ui.strong(format!("Request {operation}"));
    ui.label("Fields (JSON):");
    ui.add(
        egui::TextEdit::multiline(&mut draft.payload)
            .code_editor()
            .desired_rows(2)
            .desired_width(f32::INFINITY),
    );
    if operation == "config_update" {
        // The new configuration: uploaded to the file-transfer service, where the agent
        // downloads it from.
        ui.add(
            egui::TextEdit::singleline(&mut draft.upload)
                .hint_text("file to upload (the new configuration)")
                .desired_width(f32::INFINITY),
        );
    }
    reason_field(ui, view, &mut draft.reason);
    let fields = match serde_json::from_str::<Value>(draft.payload.trim()) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err("the fields must be a JSON object".to_owned()),
        Err(error) => Err(format!("the fields are not JSON: {error}")),
    };
    if let Err(why) = &fields {
        ui.colored_label(egui::Color32::from_rgb(255, 120, 90), why);
    }
    ui.horizontal(|ui| {
        let ready = fields.is_ok() && !draft.reason.trim().is_empty();
        if ui
            .add_enabled(ready, egui::Button::new("Review…"))
            .clicked()
            && let Ok(fields) = fields
        {
            let upload = (operation == "config_update" && !draft.upload.trim().is_empty())
                .then(|| std::path::PathBuf::from(draft.upload.trim()));
            requests.push(OperationRequest::Prepare {
                twin: view.twin.clone(),
                operation: operation.to_owned(),
                fields,
                reason: draft.reason.clone(),
                upload,
            });
        }
        if ui.button("Cancel").clicked() {
            draft.operation = None;
        }
    });
}

/// A Sparkplug node's or device's writable metrics: pick one, type the value and a reason,
/// review the command, send it; our writes and how they ended.
fn sparkplug_section(
    ui: &mut egui::Ui,
    view: &OperationsView,
    metrics: &[(String, &'static str)],
    online: bool,
    draft: &mut OperationsDraft,
    requests: &mut Vec<OperationRequest>,
) {
    ui.separator();
    ui.strong("Sparkplug metrics");
    if !online {
        ui.colored_label(
            egui::Color32::from_rgb(255, 110, 90),
            "offline: nothing is written to it",
        );
    }
    let enabled = view.read_only.is_none() && online;
    ui.horizontal_wrapped(|ui| {
        for (metric, kind) in metrics {
            if ui
                .add_enabled(enabled, egui::Button::new(metric.as_str()))
                .on_hover_text(*kind)
                .clicked()
            {
                draft.write_metric = Some(metric.clone());
                draft.write_value.clear();
                draft.write_reviewed = false;
                draft.message = None;
            }
        }
    });
    if let Some(metric) = draft.write_metric.clone().filter(|_| enabled) {
        let kind = metrics
            .iter()
            .find(|(m, _)| *m == metric)
            .map_or("?", |(_, k)| *k);
        let parts = view.twin.splitn(3, '/').collect::<Vec<_>>();
        let topic = match parts.as_slice() {
            [group, node, device] => format!("spBv1.0/{group}/DCMD/{node}/{device}"),
            [group, node] => format!("spBv1.0/{group}/NCMD/{node}"),
            _ => String::new(),
        };
        if draft.write_reviewed {
            ui.strong(format!("Write {metric} = {} ({kind})?", draft.write_value));
            ui.label("Will send, QoS 0, to");
            ui.monospace(topic);
            ui.horizontal(|ui| {
                if send_pressed(ui, view, &mut draft.hold_since) {
                    requests.push(OperationRequest::Write {
                        twin: view.twin.clone(),
                        metric: metric.clone(),
                        value: draft.write_value.clone(),
                        reason: draft.reason.clone(),
                    });
                    draft.write_metric = None;
                    draft.write_reviewed = false;
                }
                if ui.button("Cancel").clicked() {
                    draft.write_reviewed = false;
                }
            });
        } else {
            ui.label(format!("{metric} ({kind}):"));
            ui.add(
                egui::TextEdit::singleline(&mut draft.write_value)
                    .hint_text("new value")
                    .desired_width(f32::INFINITY),
            );
            reason_field(ui, view, &mut draft.reason);
            ui.horizontal(|ui| {
                let ready = !draft.write_value.trim().is_empty() && !draft.reason.trim().is_empty();
                if ui
                    .add_enabled(ready, egui::Button::new("Review write…"))
                    .clicked()
                {
                    draft.write_reviewed = true;
                }
                if ui.button("Cancel").clicked() {
                    draft.write_metric = None;
                }
            });
        }
    }
    for (metric, value, outcome) in &view.writes {
        ui.horizontal(|ui| {
            ui.label(format!("{metric} = {value}"));
            let colour = if outcome == "confirmed" {
                egui::Color32::from_rgb(120, 220, 130)
            } else {
                egui::Color32::from_rgb(255, 214, 90)
            };
            ui.colored_label(colour, outcome);
        });
    }
}

fn command_row(
    ui: &mut egui::Ui,
    row: &CommandRow,
    search: &mut String,
    requests: &mut Vec<OperationRequest>,
) {
    let colour = if row.failed {
        egui::Color32::from_rgb(255, 110, 90)
    } else if row.running {
        egui::Color32::from_rgb(255, 214, 90)
    } else {
        egui::Color32::from_rgb(120, 220, 130)
    };
    let whose = match (&row.requester, row.ours) {
        (_, true) => "ours".to_owned(),
        (Some(user), false) => format!("by {user}, read-only"),
        (None, false) => "read-only".to_owned(),
    };
    ui.horizontal(|ui| {
        ui.strong(&row.operation);
        ui.colored_label(colour, &row.outcome);
        ui.weak(whose);
    });
    egui::CollapsingHeader::new(egui::RichText::new(&row.id).weak())
        .id_salt(&row.topic)
        .show(ui, |ui| {
            for (state, at) in &row.states {
                ui.horizontal(|ui| {
                    ui.weak(at);
                    ui.label(state);
                });
            }
        });
    if let Some(trouble) = &row.trouble {
        ui.colored_label(egui::Color32::from_rgb(255, 160, 60), trouble);
    }
    match &row.fetched {
        Some(FetchState::Fetching) => {
            ui.weak("fetching the file…");
        }
        Some(FetchState::Failed(why)) => {
            ui.colored_label(egui::Color32::from_rgb(255, 110, 90), why);
        }
        Some(FetchState::Fetched(file)) => {
            ui.horizontal(|ui| {
                ui.add(
                    egui::TextEdit::singleline(search)
                        .hint_text("search")
                        .desired_width(140.0),
                );
                if ui.button("Save").clicked() {
                    requests.push(OperationRequest::Save {
                        topic: row.topic.clone(),
                    });
                }
                ui.weak(format!("{} bytes", file.bytes.len()));
            });
            let text = file.text();
            let wanted = search.to_lowercase();
            let shown: Vec<&str> = text
                .lines()
                .filter(|l| wanted.is_empty() || l.to_lowercase().contains(&wanted))
                .collect();
            // Only the lines in sight are laid out: a log may have thousands.
            let row_height = ui.text_style_height(&egui::TextStyle::Monospace);
            egui::ScrollArea::vertical()
                .id_salt(("fetched", &row.topic))
                .max_height(140.0)
                .show_rows(ui, row_height, shown.len(), |ui, rows| {
                    for line in &shown[rows] {
                        ui.monospace(*line);
                    }
                });
        }
        None => {}
    }
    ui.add_space(4.0);
}

/// Whether a state is still running (not final).
pub fn running(state: &CommandState) -> bool {
    !state.is_final()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::testing::PanelHarness;
    use twinscope_core::operations::file_transfer::FetchedFile;

    fn view(read_only: Option<&str>) -> OperationsView {
        OperationsView {
            twin: "line1-pump1".into(),
            entity: Some("device/line1-pump1//".into()),
            capabilities: vec![
                ("restart".into(), vec![]),
                ("log_upload".into(), vec!["tedge-agent".into()]),
            ],
            read_only: read_only.map(str::to_owned),
            dry_run: false,
            commands: vec![CommandRow {
                topic: "te/device/line1-pump1///cmd/log_upload/twinscope-1".into(),
                operation: "log_upload".into(),
                id: "twinscope-1".into(),
                ours: true,
                requester: None,
                outcome: "successful".into(),
                running: false,
                failed: false,
                states: vec![
                    ("init".into(), "10:00:00".into()),
                    ("successful".into(), "10:00:02".into()),
                ],
                trouble: None,
                fetched: Some(FetchState::Fetched(std::sync::Arc::new(FetchedFile {
                    url: "http://x".into(),
                    bytes: b"INFO up\nERROR seal\n".to_vec(),
                }))),
            }],
            problem: None,
            writable: None,
            writes: Vec::new(),
            hold_to_send: false,
        }
    }

    fn click(
        harness: &mut PanelHarness,
        view: &OperationsView,
        draft: &mut OperationsDraft,
        text: &str,
    ) -> Vec<OperationRequest> {
        harness.frame(vec![], |ui| operations_window(ui, view, draft));
        let at = harness
            .find(text)
            .unwrap_or_else(|| panic!("{text:?} in {:?}", harness.texts));
        harness
            .click(at, |ui| operations_window(ui, view, draft))
            .concat()
    }

    #[test]
    fn a_request_is_reviewed_then_sent_with_its_reason() {
        let view = view(None);
        let mut draft = OperationsDraft::default();
        let mut harness = PanelHarness::new(500.0, 800.0);
        assert!(click(&mut harness, &view, &mut draft, "log_upload").is_empty());
        assert_eq!(
            draft.payload, r#"{"type": "tedge-agent"}"#,
            "the only type, filled in"
        );
        draft.reason = "why did it stop".into();
        let asked = click(&mut harness, &view, &mut draft, "Review…");
        let [
            OperationRequest::Prepare {
                operation,
                reason,
                fields,
                ..
            },
        ] = asked.as_slice()
        else {
            panic!("{asked:?}")
        };
        assert_eq!(
            (operation.as_str(), reason.as_str(), fields["type"].as_str()),
            ("log_upload", "why did it stop", Some("tedge-agent"))
        );
        // The system answers with what will be sent; the window shows it and sends on Send.
        let prepared = PreparedRequest {
            topic: twinscope_core::operations::topic::CommandTopic::parse(
                "te/device/line1-pump1///cmd/log_upload/twinscope-9",
                "te",
            )
            .unwrap(),
            topic_text: "te/device/line1-pump1///cmd/log_upload/twinscope-9".into(),
            payload: serde_json::from_str(r#"{"status":"init","type":"tedge-agent"}"#).unwrap(),
            reason: "why did it stop".into(),
        };
        draft.prepared = Some(prepared.clone());
        harness.frame(vec![], |ui| operations_window(ui, &view, &mut draft));
        assert!(
            harness
                .find("te/device/line1-pump1///cmd/log_upload/twinscope-9")
                .is_some(),
            "the exact topic, with the command id"
        );
        assert_eq!(
            click(&mut harness, &view, &mut draft, "Send"),
            vec![OperationRequest::Send(prepared)]
        );
    }

    #[test]
    fn read_only_offers_nothing_and_a_fetched_log_is_searched_and_saved() {
        let view = view(Some("read-only: start with --allow-operations to act"));
        let mut draft = OperationsDraft::default();
        let mut harness = PanelHarness::new(500.0, 800.0);
        assert!(click(&mut harness, &view, &mut draft, "restart").is_empty());
        assert_eq!(draft.operation, None, "a disabled button does nothing");
        assert!(harness.find("INFO up").is_some() && harness.find("ERROR seal").is_some());
        draft.search = "error".into();
        harness.frame(vec![], |ui| operations_window(ui, &view, &mut draft));
        assert!(
            harness.find("INFO up").is_none() && harness.find("ERROR seal").is_some(),
            "searched"
        );
        assert_eq!(
            click(&mut harness, &view, &mut draft, "Save"),
            vec![OperationRequest::Save {
                topic: "te/device/line1-pump1///cmd/log_upload/twinscope-1".into()
            }]
        );
    }

    #[test]
    fn a_sparkplug_write_is_reviewed_then_sent_and_never_offered_offline() {
        let mut view = OperationsView {
            twin: "Plant1/Edge1/PLC1".into(),
            writable: Some((vec![("Setpoint".into(), "Double")], true)),
            ..Default::default()
        };
        let mut draft = OperationsDraft::default();
        let mut harness = PanelHarness::new(500.0, 800.0);
        click(&mut harness, &view, &mut draft, "Setpoint");
        draft.write_value = "42.5".into();
        draft.reason = "tuning".into();
        click(&mut harness, &view, &mut draft, "Review write…");
        harness.frame(vec![], |ui| operations_window(ui, &view, &mut draft));
        assert!(
            harness.find("spBv1.0/Plant1/DCMD/Edge1/PLC1").is_some(),
            "{:?}",
            harness.texts
        );
        let sent = click(&mut harness, &view, &mut draft, "Send");
        assert_eq!(
            sent,
            vec![OperationRequest::Write {
                twin: "Plant1/Edge1/PLC1".into(),
                metric: "Setpoint".into(),
                value: "42.5".into(),
                reason: "tuning".into()
            }]
        );
        view.writable = Some((vec![("Setpoint".into(), "Double")], false));
        harness.frame(vec![], |ui| operations_window(ui, &view, &mut draft));
        assert!(harness.find("offline: nothing is written to it").is_some());
        assert!(click(&mut harness, &view, &mut draft, "Setpoint").is_empty());
        assert_eq!(
            draft.write_metric, None,
            "offline: the metric is not offered"
        );
    }

    #[test]
    fn in_the_headset_send_takes_a_deliberate_hold() {
        let view = OperationsView {
            twin: "Plant1/Edge1/PLC1".into(),
            writable: Some((vec![("Setpoint".into(), "Double")], true)),
            hold_to_send: true,
            ..Default::default()
        };
        let mut draft = OperationsDraft {
            twin: view.twin.clone(),
            write_metric: Some("Setpoint".into()),
            write_value: "42.5".into(),
            reason: "tuning".into(),
            write_reviewed: true,
            ..Default::default()
        };
        let mut harness = PanelHarness::new(500.0, 800.0);
        let frame = |harness: &mut PanelHarness,
                     draft: &mut OperationsDraft,
                     events: Vec<egui::Event>,
                     time: f64| {
            harness.frame_at(time, events, |ui| operations_window(ui, &view, draft))
        };
        frame(&mut harness, &mut draft, vec![], 0.0);
        let at = harness
            .find("Hold to send")
            .unwrap_or_else(|| panic!("{:?}", harness.texts));
        let press = |pressed| egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        };
        // A press let go at once (a ray's click) sends nothing.
        frame(
            &mut harness,
            &mut draft,
            vec![egui::Event::PointerMoved(at)],
            0.1,
        );
        assert!(
            frame(
                &mut harness,
                &mut draft,
                vec![press(true), press(false)],
                0.2
            )
            .is_empty()
        );
        assert!(frame(&mut harness, &mut draft, vec![], 0.3).is_empty());
        // Held for less than the time: nothing; held on: sent once.
        assert!(frame(&mut harness, &mut draft, vec![press(true)], 1.0).is_empty());
        assert!(frame(&mut harness, &mut draft, vec![], 2.0).is_empty());
        assert!(
            harness
                .texts
                .iter()
                .any(|(t, _)| t.starts_with("Hold to send … 6")),
            "the progress shows: {:?}",
            harness.texts
        );
        let sent = frame(&mut harness, &mut draft, vec![], 2.6);
        assert!(
            matches!(sent.as_slice(), [OperationRequest::Write { .. }]),
            "{sent:?} {:?} {:?}",
            harness.texts,
            draft.hold_since
        );
    }

    #[test]
    fn in_the_headset_a_reason_is_picked_not_typed() {
        let mut view = view(None);
        view.hold_to_send = true;
        let mut draft = OperationsDraft::default();
        let mut harness = PanelHarness::new(500.0, 800.0);
        click(&mut harness, &view, &mut draft, "restart");
        click(&mut harness, &view, &mut draft, "troubleshooting");
        assert_eq!(draft.reason, "troubleshooting");
        let asked = click(&mut harness, &view, &mut draft, "Review…");
        assert!(
            matches!(asked.as_slice(), [OperationRequest::Prepare { reason, .. }] if reason == "troubleshooting"),
            "{asked:?}"
        );
    }
}
