//! Notes pinned to twins in the viewer: the session's notes read once per change into
//! [`SessionNotes`] (twin ids resolved to this viewer's twins; a note on a twin this plant
//! lacks is kept and marked), and [`NoteCommand`]s from the panels applied in one place
//! (pin, edit, resolve, delete, export). The notes themselves, their merge and their checks
//! are the core's ([`twinscope_core::session::notes`]).

use std::path::PathBuf;

use bevy::prelude::*;
use twinscope_core::session::notes::export::{write_csv, write_markdown};
use twinscope_core::twin::TwinIndex;

use super::SharedSession;
use crate::store::sync::TwinState;

/// One note as the panels and pins show it.
#[derive(Debug, Clone, PartialEq)]
pub struct NoteView {
    pub id: String,
    pub twin_id: String,
    /// Our twin of that id; `None`: this plant has no such twin (any more).
    pub twin: Option<TwinIndex>,
    pub text: String,
    pub author: String,
    pub last_by: String,
    /// When pinned and when last written, ms since the Unix epoch.
    pub created: u64,
    pub last_at: u64,
    pub resolved: bool,
}

impl NoteView {
    /// The pin's label: the text's first line.
    pub fn first_line(&self) -> &str {
        self.text.lines().next().unwrap_or("")
    }
}

/// The session's notes, oldest first, and what we may do with them.
#[derive(Resource, Debug, Default)]
pub struct SessionNotes {
    pub notes: Vec<NoteView>,
    /// Note messages dropped (malformed, forged, too many...).
    pub dropped: u64,
    /// Our user name ("" for an observer, who cannot write).
    pub me: String,
    /// We host the session (may delete anyone's note).
    pub host: bool,
    /// The last write refused, or the last export, in words (shown in the panel).
    pub last_outcome: Option<String>,
    /// Grows each time the notes are built again (the pins are placed again then).
    pub generation: u64,
}

impl SessionNotes {
    pub fn can_delete(&self, note: &NoteView) -> bool {
        !self.me.is_empty() && (note.author == self.me || self.host)
    }

    pub fn on(&self, twin: TwinIndex) -> impl Iterator<Item = &NoteView> {
        self.notes.iter().filter(move |n| n.twin == Some(twin))
    }
}

/// A request from a panel.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub enum NoteCommand {
    Pin { twin: String, text: String },
    Edit { id: String, text: String },
    Resolve { id: String, resolved: bool },
    Delete { id: String },
    Export(NoteFormat),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteFormat {
    Markdown,
    Csv,
}

/// Where note exports go (the alarm history's folder).
fn export_folder(world: Option<&crate::store::alarm_actions::AlarmExport>) -> PathBuf {
    world.map_or_else(|| PathBuf::from("."), |e| e.folder.clone())
}

/// Builds [`SessionNotes`] again when the notes or the plant's twins changed.
pub fn hear_notes(
    session: Option<Res<SharedSession>>,
    state: Res<TwinState>,
    mut notes: ResMut<SessionNotes>,
    mut built_for: Local<Option<(u64, usize)>>,
    recorded: Option<Res<super::recorded::RecordedSessionView>>,
) {
    if recorded.is_some() {
        return; // a replay's recorded session fills the notes
    }
    let Some(session) = session else {
        notes.notes.clear();
        *built_for = None;
        return;
    };
    let shared = session.0.lock();
    let key = (shared.notes.generation(), state.store.len());
    let dropped = shared.notes.dropped_total();
    if notes.dropped != dropped {
        notes.dropped = dropped;
    }
    if *built_for == Some(key) {
        return;
    }
    *built_for = Some(key);
    notes.notes = notes_view(&shared.notes, &state.store);
    notes.generation += 1;
    notes.me = session.0.user().to_owned();
    notes.host = shared
        .roster
        .get(session.0.user())
        .is_some_and(|p| p.presence.host);
}

/// The notes of `book` as the panels and pins show them, twin ids resolved in `store`.
pub fn notes_view(
    book: &twinscope_core::session::NoteBook,
    store: &twinscope_core::twin::TwinStore,
) -> Vec<NoteView> {
    book.notes()
        .into_iter()
        .map(|note| {
            let v = &note.latest;
            NoteView {
                id: v.id.clone(),
                twin_id: v.twin.clone(),
                twin: store.find(&v.twin),
                text: v.text.clone(),
                author: note.author().to_owned(),
                last_by: v.by.clone(),
                created: v.created,
                last_at: v.clock.millis(),
                resolved: v.resolved,
            }
        })
        .collect()
}

/// Applies the panels' note commands through the session link (which publishes them).
pub fn apply_note_commands(
    mut commands: MessageReader<NoteCommand>,
    session: Option<Res<SharedSession>>,
    state: Res<TwinState>,
    mut notes: ResMut<SessionNotes>,
    export: Option<Res<crate::store::alarm_actions::AlarmExport>>,
) {
    for command in commands.read() {
        let Some(session) = &session else { continue };
        let link = &session.0;
        let outcome = match command {
            NoteCommand::Pin { twin, text } => link
                .pin_note(twin, text)
                .map(|id| format!("pinned {id} to {twin}")),
            NoteCommand::Edit { id, text } => link
                .edit_note(id, Some(text), None)
                .map(|()| format!("edited {id}")),
            NoteCommand::Resolve { id, resolved } => link
                .edit_note(id, None, Some(*resolved))
                .map(|()| format!("{} {id}", if *resolved { "resolved" } else { "reopened" })),
            NoteCommand::Delete { id } => link.delete_note(id).map(|()| format!("deleted {id}")),
            NoteCommand::Export(format) => Ok(export_notes(
                link,
                &state.store,
                *format,
                &export_folder(export.as_deref()),
            )),
        };
        let text = outcome.unwrap_or_else(|error| error.to_string());
        info!("notes: {text}");
        notes.last_outcome = Some(text);
    }
}

/// Writes the session's notes to a file in `folder`; what happened, in words.
fn export_notes(
    link: &twinscope_core::session::SessionLink,
    store: &twinscope_core::twin::TwinStore,
    format: NoteFormat,
    folder: &std::path::Path,
) -> String {
    let shared = link.lock();
    let notes = shared.notes.notes();
    let path_of = |id: &str| {
        store.find(id).map(|twin| {
            store
                .path(twin)
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(" / ")
        })
    };
    let mut bytes = Vec::new();
    let written = match format {
        NoteFormat::Markdown => write_markdown(&notes, &path_of, &mut bytes).map(|()| "md"),
        NoteFormat::Csv => write_csv(&notes, &path_of, &mut bytes).map(|()| "csv"),
    };
    let extension = match written {
        Ok(extension) => extension,
        Err(error) => return format!("cannot export the notes: {error}"),
    };
    let stamp = twinscope_core::Timestamp::now()
        .to_string()
        .replace([':', '.'], "-");
    let path = folder.join(format!(
        "notes-{}-{stamp}.{extension}",
        shared.roster.topics().name()
    ));
    match std::fs::write(&path, &bytes) {
        Ok(()) => format!("{} notes exported to {}", notes.len(), path.display()),
        Err(error) => format!("cannot write {}: {error}", path.display()),
    }
}

/// At exit, the notes shown (scripts and tests read them).
pub fn report_notes_on_exit(
    mut exits: MessageReader<AppExit>,
    session: Option<Res<SharedSession>>,
    recorded: Option<Res<super::recorded::RecordedSessionView>>,
    notes: Res<SessionNotes>,
    pins: Res<super::note_pins::NotePins>,
) {
    if exits.read().count() == 0 || (session.is_none() && recorded.is_none()) {
        return;
    }
    let open = notes.notes.iter().filter(|n| !n.resolved).count();
    eprintln!(
        "notes: {} shown ({open} open), {} note message(s) dropped",
        notes.notes.len(),
        notes.dropped
    );
    if !pins.cost.is_empty() {
        let (mean, p95) = mean_and_p95(&pins.cost);
        let (placing, placings) = (mean_and_p95(&pins.placing_cost).0, pins.placing_cost.len());
        eprintln!(
            "notes layer per frame ({} pins, {} frames): mean {mean:.0} µs, p95 {p95:.0} µs; placing them again ({placings} times): mean {placing:.0} µs",
            pins.count(),
            pins.cost.len()
        );
    }
    for note in notes.notes.iter().take(20) {
        let state = if note.resolved { "resolved" } else { "open" };
        let place = if note.twin.is_some() {
            ""
        } else {
            " (no longer in the plant)"
        };
        eprintln!(
            "note: {} on {}{place} [{state}] by {}, last {}: {}",
            note.id,
            note.twin_id,
            note.author,
            note.last_by,
            note.first_line()
        );
    }
}

/// The mean and 95th percentile of some costs (0 for none).
fn mean_and_p95(costs: &[f32]) -> (f32, f32) {
    if costs.is_empty() {
        return (0.0, 0.0);
    }
    let mut sorted = costs.to_vec();
    sorted.sort_by(f32::total_cmp);
    (
        sorted.iter().sum::<f32>() / sorted.len() as f32,
        sorted[(sorted.len() * 95 / 100).min(sorted.len() - 1)],
    )
}
