//! A replay shows the session recorded with the plant: `--replay FILE --session NAME` (with
//! no session broker) draws who stood where and pointed at what, and the notes that stood,
//! at the replay's position, through the same avatars, pins and panels as a live session.
//! Read-only: nothing is published.

use bevy::prelude::*;
use twinscope_core::session::recorded::{RecordedSession, SessionAt};

use super::Participants;
use super::notes::SessionNotes;
use crate::store::sync::TwinState;

/// The recorded session and its state at the position last shown.
#[derive(Resource)]
pub struct RecordedSessionView {
    pub recorded: RecordedSession,
    state: Option<(u64, SessionAt)>,
}

impl RecordedSessionView {
    pub fn new(recorded: RecordedSession) -> Self {
        RecordedSessionView {
            recorded,
            state: None,
        }
    }
}

/// Moves the recorded session to the replay's position (forward: the messages since; back:
/// from the start) and shows it.
pub fn play_the_recorded_session(
    view: Option<ResMut<RecordedSessionView>>,
    replay: Option<Res<crate::history::replay::ReplaySession>>,
    state: Res<TwinState>,
    frame: super::PlantFrame,
    mut participants: ResMut<Participants>,
    mut notes: ResMut<SessionNotes>,
    mut built_for: Local<Option<(u64, u64, u64)>>,
) {
    let (Some(mut view), Some(replay)) = (view, replay) else {
        return;
    };
    let at = (replay.position.0.max(0) as u64) * 1000;
    let view = &mut *view;
    match &mut view.state {
        Some((shown, session)) if *shown <= at => {
            view.recorded.play(session, *shown, at);
            *shown = at;
        }
        _ => view.state = Some((at, view.recorded.at(at))),
    }
    let Some((_, session)) = &view.state else {
        return;
    };
    let key = (
        session.roster.generation(),
        session.notes.generation(),
        state.store.len() as u64,
    );
    if *built_for == Some(key) {
        return;
    }
    *built_for = Some(key);
    participants.others = super::hear::others_in(&session.roster, "", &state.store, &frame.frame());
    participants.session = format!("{} (recorded)", session.roster.topics().name());
    participants.connected = true;
    notes.notes = super::notes::notes_view(&session.notes, &state.store);
    notes.generation += 1;
    notes.me.clear();
}
