//! The Notes window on the desktop (and the notes part of the headset panel's Session tab):
//! the session's notes by twin, author and time, open or resolved, filtered to the selected
//! part and what is below it; a text box to pin a note to the selected part; edit, resolve,
//! delete, jump to the part, export. The headset pins with preset phrases (typing in a
//! headset is slow).

use bevy::prelude::*;
use bevy_egui::{EguiContexts, egui};
use twinscope_core::twin::TwinIndex;

use super::SharedSession;
use super::notes::{NoteCommand, NoteFormat, NoteView, SessionNotes};
use crate::scene::selection::{FrameTwin, SelectTwin, Selection};
use crate::store::sync::TwinState;

/// Phrases a headset user pins with one press.
pub const PRESETS: [&str; 4] = ["checked, ok", "needs part", "unsafe", "needs a second look"];

/// What the user is typing and how the list is filtered (kept between frames).
#[derive(Resource, Debug, Clone)]
pub struct NotesDraft {
    pub text: String,
    /// The note being edited, and its new text.
    pub editing: Option<(String, String)>,
    pub only_selected: bool,
    pub show_resolved: bool,
    pub open: bool,
}

impl Default for NotesDraft {
    fn default() -> Self {
        NotesDraft {
            text: String::new(),
            editing: None,
            only_selected: false,
            show_resolved: true,
            open: true,
        }
    }
}

/// What a click in the notes asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotesRequest {
    Note(NoteCommand),
    /// Select the note's part and fly there.
    GoTo(TwinIndex),
}

/// The selected part, for the notes: its index and id.
pub type Selected<'a> = Option<(TwinIndex, &'a str)>;

/// The Notes window's content.
pub fn notes_window(
    ui: &mut egui::Ui,
    notes: &SessionNotes,
    selected: Selected<'_>,
    in_subtree: &dyn Fn(TwinIndex) -> bool,
    draft: &mut NotesDraft,
) -> Vec<NotesRequest> {
    let mut requests = Vec::new();
    let writer = !notes.me.is_empty();
    match selected {
        Some((_, id)) if writer => {
            ui.add(
                egui::TextEdit::multiline(&mut draft.text)
                    .desired_rows(1)
                    .desired_width(f32::INFINITY)
                    .hint_text(format!("a note on {id}: what you found, decided or did")),
            );
            ui.horizontal_wrapped(|ui| {
                if ui
                    .add_enabled(!draft.text.trim().is_empty(), egui::Button::new("Pin note"))
                    .clicked()
                {
                    requests.push(NotesRequest::Note(NoteCommand::Pin {
                        twin: id.to_owned(),
                        text: std::mem::take(&mut draft.text),
                    }));
                }
                for phrase in PRESETS.iter().take(3) {
                    if ui.small_button(*phrase).clicked() {
                        requests.push(NotesRequest::Note(NoteCommand::Pin {
                            twin: id.to_owned(),
                            text: (*phrase).to_owned(),
                        }));
                    }
                }
            });
        }
        _ if writer => {
            ui.weak("select a part to pin a note to it");
        }
        _ => {
            ui.weak("observing: notes are read-only");
        }
    }
    ui.horizontal_wrapped(|ui| {
        ui.checkbox(&mut draft.only_selected, "selected subtree");
        ui.checkbox(&mut draft.show_resolved, "resolved");
        ui.label("export:");
        if ui.small_button("Markdown").clicked() {
            requests.push(NotesRequest::Note(NoteCommand::Export(
                NoteFormat::Markdown,
            )));
        }
        if ui.small_button("CSV").clicked() {
            requests.push(NotesRequest::Note(NoteCommand::Export(NoteFormat::Csv)));
        }
    });
    ui.separator();
    let shown: Vec<&NoteView> = notes
        .notes
        .iter()
        .filter(|n| draft.show_resolved || !n.resolved)
        .filter(|n| !draft.only_selected || selected.is_none() || n.twin.is_some_and(in_subtree))
        .collect();
    if shown.is_empty() {
        ui.weak(if notes.notes.is_empty() {
            "no notes in this session yet"
        } else {
            "no notes match"
        });
    }
    egui::ScrollArea::vertical()
        .max_height(140.0)
        .show(ui, |ui| {
            for note in shown {
                requests.extend(note_row(ui, note, notes, selected, draft));
            }
        });
    if let Some(outcome) = &notes.last_outcome {
        ui.small(outcome);
    }
    if notes.dropped > 0 {
        ui.small(format!(
            "{} note messages dropped (malformed, forged or too many)",
            notes.dropped
        ));
    }
    requests
}

fn when(millis: u64) -> String {
    let text = twinscope_core::Timestamp((millis as i64).saturating_mul(1000)).to_string();
    text.get(11..19).unwrap_or(&text).to_owned()
}

fn note_row(
    ui: &mut egui::Ui,
    note: &NoteView,
    notes: &SessionNotes,
    selected: Selected<'_>,
    draft: &mut NotesDraft,
) -> Vec<NotesRequest> {
    let mut requests = Vec::new();
    let on_selected = selected.is_some_and(|(twin, _)| note.twin == Some(twin));
    ui.horizontal(|ui| {
        let state = if note.resolved {
            egui::RichText::new("resolved").weak()
        } else {
            egui::RichText::new("open").color(egui::Color32::from_rgb(240, 190, 60))
        };
        ui.label(state);
        match note.twin {
            Some(twin) => {
                if ui.link(&note.twin_id).clicked() {
                    requests.push(NotesRequest::GoTo(twin));
                }
            }
            None => {
                ui.label(
                    egui::RichText::new(format!("{} (no longer in the plant)", note.twin_id))
                        .weak(),
                );
            }
        }
        let edited = if note.last_by != note.author {
            format!(" · {} {}", note.last_by, when(note.last_at))
        } else {
            String::new()
        };
        ui.weak(format!("{} {}{edited}", note.author, when(note.created)));
    });
    let editing = draft.editing.as_ref().is_some_and(|(id, _)| *id == note.id);
    if editing {
        let mut done = None;
        if let Some((_, text)) = draft.editing.as_mut() {
            ui.add(egui::TextEdit::multiline(text).desired_rows(2));
            ui.horizontal(|ui| {
                if ui.small_button("Save").clicked() {
                    done = Some(Some(text.clone()));
                }
                if ui.small_button("Cancel").clicked() {
                    done = Some(None);
                }
            });
        }
        if let Some(saved) = done {
            if let Some(text) = saved {
                requests.push(NotesRequest::Note(NoteCommand::Edit {
                    id: note.id.clone(),
                    text,
                }));
            }
            draft.editing = None;
        }
    } else {
        // The whole text for the selected part's notes; the first line for the others.
        if on_selected {
            ui.label(&note.text);
        } else {
            let more = if note.text.lines().count() > 1 {
                " …"
            } else {
                ""
            };
            ui.label(format!("{}{more}", note.first_line()));
        }
        if !notes.me.is_empty() {
            ui.horizontal(|ui| {
                if ui.small_button("Edit").clicked() {
                    draft.editing = Some((note.id.clone(), note.text.clone()));
                }
                let (label, resolved) = if note.resolved {
                    ("Reopen", false)
                } else {
                    ("Resolve", true)
                };
                if ui.small_button(label).clicked() {
                    requests.push(NotesRequest::Note(NoteCommand::Resolve {
                        id: note.id.clone(),
                        resolved,
                    }));
                }
                if notes.can_delete(note) && ui.small_button("Delete").clicked() {
                    requests.push(NotesRequest::Note(NoteCommand::Delete {
                        id: note.id.clone(),
                    }));
                }
            });
        }
    }
    ui.separator();
    requests
}

/// The headset's notes on its Session tab: the selected part's notes, each with Resolve, and
/// a button per preset phrase to pin one to it.
pub fn headset_notes(
    ui: &mut egui::Ui,
    notes: &SessionNotes,
    selected: Selected<'_>,
) -> Vec<NoteCommand> {
    let mut commands = Vec::new();
    let Some((twin, id)) = selected else {
        ui.weak(format!(
            "{} notes in the session; select a part to see or pin its notes",
            notes.notes.len()
        ));
        return commands;
    };
    ui.label(format!("Notes on {id}:"));
    for note in notes.on(twin) {
        ui.horizontal(|ui| {
            let state = if note.resolved { "resolved" } else { "open" };
            ui.label(format!("[{state}] {}: {}", note.author, note.first_line()));
            if !note.resolved && !notes.me.is_empty() && ui.small_button("Resolve").clicked() {
                commands.push(NoteCommand::Resolve {
                    id: note.id.clone(),
                    resolved: true,
                });
            }
        });
    }
    if !notes.me.is_empty() {
        ui.horizontal_wrapped(|ui| {
            ui.label("Pin:");
            for phrase in PRESETS {
                let button = ui.button(phrase);
                tell_where_for_tests(phrase, button.rect.center());
                if button.clicked() {
                    commands.push(NoteCommand::Pin {
                        twin: id.to_owned(),
                        text: phrase.to_owned(),
                    });
                }
            }
        });
    }
    commands
}

/// With the headset's test hook for the panel's tab set, says once where each preset button
/// is on the panel (in panel points), so a test can aim the simulated ray at one.
fn tell_where_for_tests(phrase: &str, at: egui::Pos2) {
    static TOLD: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    if std::env::var_os("TWINSCOPE_XR_TEST_TAB").is_none() {
        return;
    }
    let Some(preset) = PRESETS.iter().find(|p| **p == phrase) else {
        return;
    };
    let mut told = TOLD.lock().unwrap_or_else(|e| e.into_inner());
    if !told.contains(preset) {
        told.push(preset);
        eprintln!(
            "xr: preset {phrase:?} at {:.1},{:.1} on the panel",
            at.x, at.y
        );
    }
}

#[allow(clippy::too_many_arguments)]
pub fn draw_notes_window(
    mut contexts: EguiContexts,
    session: Option<Res<SharedSession>>,
    notes: Res<SessionNotes>,
    selection: Res<Selection>,
    state: Res<TwinState>,
    mut draft: ResMut<NotesDraft>,
    mut note_commands: MessageWriter<NoteCommand>,
    (mut select, mut frame): (MessageWriter<SelectTwin>, MessageWriter<FrameTwin>),
    (panels, recorded): (
        Option<Res<crate::ui::PanelState>>,
        Option<Res<super::recorded::RecordedSessionView>>,
    ),
) -> Result {
    if session.is_none() && recorded.is_none() {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    // Over the lower right, above the alarm list: the inspector's side, clear of the plant.
    let screen = ctx.viewport_rect();
    let bottom = screen.bottom() - panels.map_or(0.0, |p| p.bottom_inset);
    let corner = egui::pos2(screen.right() - 8.0, bottom - 8.0);
    let selected = selection
        .twin
        .filter(|t| (t.0 as usize) < state.store.len())
        .map(|t| (t, state.store.get(t).id.as_str()));
    let in_subtree = |twin: TwinIndex| {
        selection
            .twin
            .is_some_and(|s| state.store.path_indices(twin).contains(&s))
    };
    let open = notes.notes.iter().filter(|n| !n.resolved).count();
    let title = format!("Notes ({open} open)");
    let mut requests = Vec::new();
    egui::Window::new(title)
        .id(egui::Id::new("session-notes"))
        .pivot(egui::Align2::RIGHT_BOTTOM)
        .fixed_pos(corner)
        .default_width(320.0)
        .max_width(320.0)
        .collapsible(true)
        .resizable(false)
        .show(ctx, |ui| {
            requests = notes_window(ui, &notes, selected, &in_subtree, &mut draft);
        });
    for request in requests {
        match request {
            NotesRequest::Note(command) => {
                note_commands.write(command);
            }
            NotesRequest::GoTo(twin) => {
                select.write(SelectTwin(Some(twin)));
                frame.write(FrameTwin(twin));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::testing::PanelHarness;

    fn note(id: &str, twin: Option<u32>, text: &str, author: &str, resolved: bool) -> NoteView {
        NoteView {
            id: id.into(),
            twin_id: if twin.is_some() {
                "line1-tank1".into()
            } else {
                "old-pump".into()
            },
            twin: twin.map(TwinIndex),
            text: text.into(),
            author: author.into(),
            last_by: author.into(),
            created: 1_765_000_000_000,
            last_at: 1_765_000_000_000,
            resolved,
        }
    }

    fn notes() -> SessionNotes {
        SessionNotes {
            notes: vec![
                note(
                    "anna~A",
                    Some(2),
                    "seal weeps\nreplace Monday",
                    "anna",
                    false,
                ),
                note("bob~B", None, "removed?", "bob", true),
            ],
            me: "bob".into(),
            ..Default::default()
        }
    }

    fn run(
        draft: &mut NotesDraft,
        events: Vec<egui::Event>,
        harness: &mut PanelHarness,
    ) -> Vec<NotesRequest> {
        let notes = notes();
        harness.frame(events, |ui| {
            notes_window(
                ui,
                &notes,
                Some((TwinIndex(2), "line1-tank1")),
                &|t| t == TwinIndex(2),
                draft,
            )
        })
    }

    fn click(text: &str, draft: &mut NotesDraft) -> Vec<NotesRequest> {
        let mut harness = PanelHarness::new(600.0, 700.0);
        run(draft, vec![], &mut harness);
        let at = harness
            .find(text)
            .unwrap_or_else(|| panic!("{text} shown: {:?}", harness.texts));
        let notes = notes();
        harness
            .click(at, |ui| {
                notes_window(
                    ui,
                    &notes,
                    Some((TwinIndex(2), "line1-tank1")),
                    &|t| t == TwinIndex(2),
                    draft,
                )
            })
            .concat()
    }

    #[test]
    fn the_window_lists_notes_whole_on_the_selected_part_and_marks_a_gone_twin() {
        let mut harness = PanelHarness::new(600.0, 700.0);
        run(&mut NotesDraft::default(), vec![], &mut harness);
        for text in [
            "seal weeps\nreplace Monday",
            "old-pump (no longer in the plant)",
            "removed?",
            "resolved",
            "open",
        ] {
            assert!(
                harness.find(text).is_some(),
                "{text:?} in {:?}",
                harness.texts
            );
        }
        assert!(
            harness.find("Delete").is_some(),
            "bob may delete his own note"
        );
    }

    #[test]
    fn presets_pin_resolve_goes_and_delete_only_for_the_author() {
        let mut draft = NotesDraft::default();
        assert_eq!(
            click("needs part", &mut draft),
            vec![NotesRequest::Note(NoteCommand::Pin {
                twin: "line1-tank1".into(),
                text: "needs part".into()
            })]
        );
        assert_eq!(
            click("Resolve", &mut draft),
            vec![NotesRequest::Note(NoteCommand::Resolve {
                id: "anna~A".into(),
                resolved: true
            })]
        );
        assert_eq!(
            click("Reopen", &mut draft),
            vec![NotesRequest::Note(NoteCommand::Resolve {
                id: "bob~B".into(),
                resolved: false
            })]
        );
        assert_eq!(
            click("line1-tank1", &mut draft),
            vec![NotesRequest::GoTo(TwinIndex(2))]
        );
        assert_eq!(
            click("Delete", &mut draft),
            vec![NotesRequest::Note(NoteCommand::Delete {
                id: "bob~B".into()
            })],
            "only bob's own note has Delete"
        );
        assert_eq!(
            click("CSV", &mut draft),
            vec![NotesRequest::Note(NoteCommand::Export(NoteFormat::Csv))]
        );
    }

    #[test]
    fn typing_and_pin_note_sends_the_text_and_clears_the_box() {
        let mut draft = NotesDraft {
            text: "flange bolt loose".into(),
            ..Default::default()
        };
        assert_eq!(
            click("Pin note", &mut draft),
            vec![NotesRequest::Note(NoteCommand::Pin {
                twin: "line1-tank1".into(),
                text: "flange bolt loose".into()
            })]
        );
        assert!(draft.text.is_empty());
    }

    #[test]
    fn the_subtree_filter_and_resolved_filter_hide_notes() {
        let mut harness = PanelHarness::new(600.0, 700.0);
        let mut draft = NotesDraft {
            only_selected: true,
            ..Default::default()
        };
        run(&mut draft, vec![], &mut harness);
        assert!(
            harness.find("removed?").is_none()
                && harness.find("seal weeps\nreplace Monday").is_some(),
            "{:?}",
            harness.texts
        );
        let mut draft = NotesDraft {
            show_resolved: false,
            ..Default::default()
        };
        run(&mut draft, vec![], &mut harness);
        assert!(harness.find("removed?").is_none(), "{:?}", harness.texts);
    }
}
