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
    },
    Send(PreparedRequest),
    Save {
        topic: String,
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
            if ui
                .button(if view.dry_run { "Dry run" } else { "Send" })
                .clicked()
            {
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
    ui.add(
        egui::TextEdit::singleline(&mut draft.reason)
            .hint_text("reason (required, audited)")
            .desired_width(f32::INFINITY),
    );
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
            requests.push(OperationRequest::Prepare {
                twin: view.twin.clone(),
                operation: operation.to_owned(),
                fields,
                reason: draft.reason.clone(),
            });
        }
        if ui.button("Cancel").clicked() {
            draft.operation = None;
        }
    });
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
            let shown: Vec<&str> = text
                .lines()
                .filter(|l| search.is_empty() || l.to_lowercase().contains(&search.to_lowercase()))
                .collect();
            egui::ScrollArea::vertical()
                .id_salt(("fetched", &row.topic))
                .max_height(140.0)
                .show(ui, |ui| {
                    for line in &shown {
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
                fetched: Some(FetchState::Fetched(FetchedFile {
                    url: "http://x".into(),
                    bytes: b"INFO up\nERROR seal\n".to_vec(),
                })),
            }],
            problem: None,
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
}
