//! Operator actions on alarms: acknowledge, shelve, unshelve, and exporting the alarm history
//! as CSV. They arrive as [`AlarmCommand`]s (from the panels and the `A` key) and are applied
//! to the twin store in one place, before status reaches the 3D view in the same frame.
//!
//! Acknowledging is local: nothing is sent to the plant, the safe default for a viewer that
//! may be pointed at a production broker. In a shared session it is told to the others
//! (session traffic, not the plant's), and theirs are applied here, with their names. Only with an [`AckPublisher`] (`--publish-acks`)
//! does each acknowledgement also go out, as a thin-edge event on the alarm's entity.

use std::path::PathBuf;
use std::sync::Arc;

use bevy::prelude::*;
use bevy_egui::input::EguiWantsInput;
use twinscope_core::Timestamp;
use twinscope_core::schema::thin_edge::acknowledgement_event;
use twinscope_core::session::alarm_actions::SharedAlarmAction;
use twinscope_core::twin::TwinIndex;

use twinscope_core::session::alarm_apply::AlarmActionApplier;

use crate::scene::selection::Selection;
use crate::store::sync::TwinState;
use crate::{StoreSystems, configure_twinscope_sets};

/// Applies alarm commands and expires shelving.
pub struct AlarmActionsPlugin;

impl Plugin for AlarmActionsPlugin {
    fn build(&self, app: &mut App) {
        configure_twinscope_sets(app);
        app.add_message::<AlarmCommand>()
            .init_resource::<Selection>()
            .init_resource::<Operator>()
            .init_resource::<AlarmExport>()
            .add_systems(
                Update,
                (
                    acknowledge_selected_on_key,
                    apply_alarm_commands,
                    apply_the_sessions_alarm_actions,
                )
                    .chain()
                    .in_set(StoreSystems::Operator),
            )
            .add_systems(Update, expire_shelving.in_set(StoreSystems::Clock))
            .add_systems(
                Last,
                report_acknowledgements_on_exit.after(crate::scene::capture::CaptureExit),
            );
    }
}

/// Who acknowledges: recorded in the alarm history.
#[derive(Resource, Debug, Clone)]
pub struct Operator(pub String);

impl Default for Operator {
    fn default() -> Self {
        Operator(
            std::env::var("USER")
                .or_else(|_| std::env::var("USERNAME"))
                .unwrap_or_else(|_| "operator".to_owned()),
        )
    }
}

/// Publishes acknowledgements to the plant. Present only when the user enabled it.
#[derive(Resource)]
pub struct AckPublisher {
    pub publisher: twinscope_core::ingest::Publisher,
    /// The thin-edge topic root (normally `te`).
    pub root: String,
}

/// Where history exports go, and how the last one went.
#[derive(Resource, Debug, Clone)]
pub struct AlarmExport {
    pub folder: PathBuf,
    pub last: Option<Result<PathBuf, String>>,
}

impl Default for AlarmExport {
    fn default() -> Self {
        AlarmExport {
            folder: PathBuf::from("."),
            last: None,
        }
    }
}

#[derive(Message, Debug, Clone, PartialEq)]
pub enum AlarmCommand {
    Acknowledge(Vec<(TwinIndex, Arc<str>)>),
    Shelve {
        twin: TwinIndex,
        alarm_type: Arc<str>,
        minutes: u32,
    },
    Unshelve {
        twin: TwinIndex,
        alarm_type: Arc<str>,
    },
    ExportHistory,
}

fn acknowledge_selected_on_key(
    keys: Option<Res<ButtonInput<KeyCode>>>,
    egui_input: Option<Res<EguiWantsInput>>,
    selection: Res<Selection>,
    state: Res<TwinState>,
    mut commands: MessageWriter<AlarmCommand>,
) {
    if !keys.is_some_and(|k| k.just_pressed(KeyCode::KeyA))
        || egui_input.is_some_and(|i| i.wants_keyboard_input())
    {
        return;
    }
    let Some(twin) = selection.twin else { return };
    let alarms: Vec<_> = state
        .store
        .alarm_book()
        .alarms()
        .iter()
        .filter(|a| a.twin == twin && a.state.is_unacknowledged())
        .map(|a| (a.twin, a.alarm_type.clone()))
        .collect();
    if !alarms.is_empty() {
        commands.write(AlarmCommand::Acknowledge(alarms));
    }
}

/// Who acts: the session's user name in a session (so everyone's history names the same
/// person), else the operator.
fn actor<'a>(
    operator: &'a Operator,
    session: Option<&'a crate::session::SharedSession>,
) -> &'a str {
    session
        .map(|s| s.0.user())
        .filter(|user| !user.is_empty())
        .unwrap_or(&operator.0)
}

fn apply_alarm_commands(
    mut commands: MessageReader<AlarmCommand>,
    mut state: ResMut<TwinState>,
    operator: Res<Operator>,
    mut export: ResMut<AlarmExport>,
    publisher: Option<Res<AckPublisher>>,
    session: Option<Res<crate::session::SharedSession>>,
) {
    let who = actor(&operator, session.as_deref()).to_owned();
    // In a session, what we do to an alarm is told to the others.
    let tell = |store: &twinscope_core::twin::TwinStore,
                twin: TwinIndex,
                alarm_type: &str,
                action: SharedAlarmAction,
                now: Timestamp| {
        if let Some(session) = &session {
            let raised = store
                .alarm_book()
                .alarms()
                .iter()
                .find(|a| a.twin == twin && &*a.alarm_type == alarm_type)
                .map_or(now.0, |a| a.activated.0);
            session.0.tell_alarm_action(
                store.get(twin).id.as_str(),
                alarm_type,
                action,
                now.0,
                raised,
            );
        }
    };
    for command in commands.read() {
        let now = Timestamp::now();
        let store = &mut state.store;
        match command {
            AlarmCommand::Acknowledge(alarms) => {
                for (twin, alarm_type) in alarms {
                    if (twin.0 as usize) >= store.len()
                        || !store.acknowledge(*twin, alarm_type, &who, now)
                    {
                        continue;
                    }
                    tell(
                        store,
                        *twin,
                        alarm_type,
                        SharedAlarmAction::Acknowledge,
                        now,
                    );
                    if let Some(publisher) = &publisher {
                        let id = store.get(*twin).id.as_str();
                        let (topic, payload) =
                            acknowledgement_event(&publisher.root, id, alarm_type, &who, now);
                        if let Err(error) = publisher.publisher.publish(&topic, &payload) {
                            tracing::warn!(%error, "the acknowledgement stays local");
                        }
                    }
                }
            }
            AlarmCommand::Shelve {
                twin,
                alarm_type,
                minutes,
            } => {
                if (twin.0 as usize) < store.len() {
                    let until = Timestamp(now.0 + i64::from(*minutes) * 60_000_000);
                    if store.shelve(*twin, alarm_type, until, &who, now) {
                        tell(
                            store,
                            *twin,
                            alarm_type,
                            SharedAlarmAction::Shelve { until: until.0 },
                            now,
                        );
                    }
                }
            }
            AlarmCommand::Unshelve { twin, alarm_type } => {
                if (twin.0 as usize) < store.len() && store.unshelve(*twin, alarm_type, &who, now) {
                    tell(store, *twin, alarm_type, SharedAlarmAction::Unshelve, now);
                }
            }
            AlarmCommand::ExportHistory => {
                let name = format!(
                    "twinscope-alarms-{}.csv",
                    now.to_string()
                        .replace([':', '-'], "")
                        .get(..15)
                        .unwrap_or("now")
                );
                let path = export.folder.join(name);
                let result = std::fs::File::create(&path).and_then(|file| {
                    let mut out = std::io::BufWriter::new(file);
                    store.alarm_book().write_history_csv(&mut out)?;
                    std::io::Write::flush(&mut out)
                });
                export.last = Some(match result {
                    Ok(()) => {
                        tracing::info!(file = %path.display(), "exported the alarm history");
                        Ok(path)
                    }
                    Err(e) => Err(format!("cannot write {}: {e}", path.display())),
                });
            }
        }
    }
}

/// Applies what the others in the session did to alarms (the core's one rule for it, as
/// `twinscope alarms --session` applies it); an action heard before its alarm waits for it.
fn apply_the_sessions_alarm_actions(
    session: Option<Res<crate::session::SharedSession>>,
    mut state: ResMut<TwinState>,
    mut applier: Local<Option<AlarmActionApplier>>,
) {
    let now = Timestamp::now();
    // We started watching the plant's alarms at the first frame (the viewer connects at start).
    let applier = applier.get_or_insert_with(|| AlarmActionApplier::new(now));
    let Some(session) = session else { return };
    let heard = session.0.take_alarm_actions();
    if !heard.is_empty() || applier.pending() > 0 {
        applier.apply(&mut state.store, heard, now);
    }
}

/// At exit in a session, who acknowledged each alarm (scripts and tests read it).
fn report_acknowledgements_on_exit(
    mut exits: MessageReader<AppExit>,
    session: Option<Res<crate::session::SharedSession>>,
    state: Res<TwinState>,
) {
    if exits.read().count() == 0 || session.is_none() {
        return;
    }
    let book = state.store.alarm_book();
    let acknowledgements = book
        .history()
        .iter()
        .filter(|t| t.action == twinscope_core::alarms::AlarmAction::Acknowledge)
        .count();
    eprintln!(
        "alarms: {} listed, {acknowledgements} acknowledgement(s) in the history",
        book.alarms().len()
    );
    for alarm in book.alarms() {
        let by = alarm.acknowledged_by.as_deref().map_or_else(
            || "unacknowledged".to_owned(),
            |who| format!("acknowledged by {who}"),
        );
        let shelved = if alarm.is_shelved() { ", shelved" } else { "" };
        eprintln!(
            "alarm: {} {} {by}{shelved}",
            alarm.twin_id, alarm.alarm_type
        );
    }
}

fn expire_shelving(time: Res<Time<Real>>, mut state: ResMut<TwinState>, mut last: Local<f64>) {
    let now = time.elapsed_secs_f64();
    if now - *last >= 1.0 {
        *last = now;
        state.store.tick_alarms(Timestamp::now());
    }
}
