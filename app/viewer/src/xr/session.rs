//! Watching the OpenXR session: states, frames, a clean exit, and giving up in time.

use std::time::{Duration, Instant};

use bevy::app::AppExit;
use bevy::prelude::*;
use bevy_mod_openxr::poll_events::{OxrEventHandlerExt, OxrEventIn};
use bevy_mod_xr::session::{XrRequestExitMessage, XrSessionDestroyedMessage, XrState};

/// Watches the session; see the module docs.
pub struct XrSessionWatchPlugin {
    /// End the session and exit after this long (from the first frame).
    pub exit_after: Option<Duration>,
    /// Exit with an error if the session has not started running by then.
    pub start_timeout: Duration,
}

/// What happened to the session, printed when the app exits (tests read it).
#[derive(Resource, Debug, Default, Clone)]
pub struct XrSessionReport {
    /// Every state the runtime reported, in order (`READY`, `FOCUSED`…).
    pub states: Vec<String>,
    /// Frames the app ran while the session was running (each one rendered for both eyes).
    pub frames_running: u64,
    pub exit_requested: bool,
    pub failure: Option<String>,
}

#[derive(Resource)]
struct SessionClock {
    started: Instant,
    exit_after: Option<Duration>,
    start_timeout: Duration,
}

impl Plugin for XrSessionWatchPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<XrSessionReport>()
            .insert_resource(SessionClock {
                started: Instant::now(),
                exit_after: self.exit_after,
                start_timeout: self.start_timeout,
            })
            .add_oxr_event_handler(record_session_state)
            .add_systems(
                Update,
                (
                    count_running_frames,
                    end_session_when_due,
                    exit_when_session_destroyed,
                )
                    .chain(),
            )
            .add_systems(Last, print_report_on_exit);
    }
}

fn record_session_state(event: OxrEventIn, mut report: ResMut<XrSessionReport>) {
    if let openxr::Event::SessionStateChanged(change) = *event {
        // bevy_mod_openxr logs each state at info level ("entered XR state …").
        let state = format!("{:?}", change.state());
        debug!("XR session state: {state}");
        report.states.push(state);
    }
}

fn count_running_frames(state: Option<Res<XrState>>, mut report: ResMut<XrSessionReport>) {
    if state.is_some_and(|s| *s == XrState::Running) {
        report.frames_running += 1;
    }
}

/// `--exit-after`, and giving up when the runtime never starts a session (one that refuses
/// the session, or a compositor that never gets ready).
fn end_session_when_due(
    clock: Res<SessionClock>,
    state: Option<Res<XrState>>,
    mut report: ResMut<XrSessionReport>,
    mut request_exit: MessageWriter<XrRequestExitMessage>,
    mut exit: MessageWriter<AppExit>,
    eye_image: Option<Res<super::EyeImage>>,
) {
    let elapsed = clock.started.elapsed();
    let running_once = report.frames_running > 0;
    if !running_once && elapsed > clock.start_timeout && report.failure.is_none() {
        let message = format!(
            "the OpenXR runtime did not start a session within {:?} (last state: {})",
            clock.start_timeout,
            report.states.last().map_or("none reported", String::as_str)
        );
        error!("{message}");
        report.failure = Some(message);
        exit.write(AppExit::error());
        return;
    }
    // An eye image on its way holds the session open (for up to half a minute more).
    let image_pending = eye_image.is_some_and(|eye| !eye.written) && running_once;
    if let Some(limit) = clock.exit_after
        && elapsed >= limit
        && !report.exit_requested
        && (!image_pending || elapsed >= limit + Duration::from_secs(30))
    {
        report.exit_requested = true;
        match state.as_deref() {
            Some(XrState::Unavailable | XrState::Available) | None => {
                exit.write(AppExit::Success);
            }
            Some(_) => {
                info!("ending the XR session (--exit-after)");
                request_exit.write(XrRequestExitMessage);
            }
        }
    }
}

/// The runtime destroyed the session we asked to end: exit now, cleanly.
fn exit_when_session_destroyed(
    mut destroyed: MessageReader<XrSessionDestroyedMessage>,
    report: Res<XrSessionReport>,
    mut exit: MessageWriter<AppExit>,
) {
    if destroyed.read().count() > 0 && report.exit_requested {
        info!("the XR session ended");
        exit.write(AppExit::Success);
    }
}

fn print_report_on_exit(
    mut exits: MessageReader<AppExit>,
    report: Res<XrSessionReport>,
    selection: Option<Res<crate::scene::selection::Selection>>,
    state: Option<Res<crate::store::sync::TwinState>>,
    (label, cost, mode): (
        Option<Res<super::XrLabelText>>,
        Option<Res<super::XrFrameCost>>,
        Option<Res<super::XrViewMode>>,
    ),
) {
    if exits.read().count() > 0 {
        let selected = match (selection.and_then(|s| s.twin), &state) {
            (Some(twin), Some(state)) if (twin.0 as usize) < state.store.len() => {
                state.store.get(twin).id.to_string()
            }
            _ => "nothing".to_owned(),
        };
        let unacknowledged = state
            .as_ref()
            .map_or(0, |s| s.store.alarm_book().counts().unacknowledged);
        eprintln!(
            "xr: states {} ; {} frames while running ; {unacknowledged} unacknowledged ; selected {selected}{}",
            report.states.join(" > "),
            report.frames_running,
            report
                .failure
                .as_ref()
                .map(|f| format!(" ; failed: {f}"))
                .unwrap_or_default()
        );
        if let Some(mode) = mode {
            eprintln!("xr: view {:?}", *mode);
        }
        if let Some(line) = label.and_then(|l| l.0.clone()) {
            eprintln!("xr: label over the selected part: {line}");
        }
        if let Some(cost) = cost {
            eprintln!("{}", cost.report());
        }
    }
}
