//! One timeline in the viewer. The host's viewer tells the session where it looks: live,
//! back on its DVR, or a position in a recording (with speed and play/pause). Everyone
//! else's viewer goes there too (its own DVR to that instant; its own copy of the recording,
//! found by content fingerprint, to that position), unless its user stepped out by moving
//! the timeline themselves; "Rejoin" takes them back. The status bar says whose timeline
//! each viewer is on; live and replay never mix silently.

use bevy::prelude::*;
use twinscope_core::Timestamp;
use twinscope_core::session::timeline::{SAME_INSTANT_US, SharedTimeline, fingerprint};

use super::{Participants, SessionCommand, SharedSession};
use crate::history::dvr::DvrCommand;
use crate::history::replay::{ReplayCommand, ReplaySession};
use crate::store::sync::LiveStash;

/// Whose timeline this viewer is on, in words for the status bar and the Session window.
#[derive(Resource, Debug, Clone, Default, PartialEq)]
pub struct TimelineStatus {
    /// e.g. "on anna's timeline", "own timeline (anna leads)", "leading the timeline".
    pub text: Option<String>,
    /// The host's timeline cannot be followed here, and why ("needs night.mcap").
    pub problem: Option<String>,
    /// We left the host's timeline by moving our own.
    pub stepped_out: bool,
}

/// What the follower applied and sent, to tell its own commands from its user's.
#[derive(Resource, Debug, Default)]
pub struct TimelineFollowing {
    applied: Option<(String, u64)>,
    /// Timeline commands we sent that the step-out watcher has not read yet.
    ours: usize,
    /// Our replay's fingerprint (path, fingerprint).
    fingerprint: Option<(std::path::PathBuf, String)>,
}

/// Sets the status's words, touching the resource only when they change (the status bar
/// redraws on change).
fn say(status: &mut ResMut<TimelineStatus>, text: Option<String>) {
    if status.text != text {
        status.text = text;
    }
}

/// Where this viewer looks now, as the session would be told.
fn where_we_look(
    replay: Option<&ReplaySession>,
    looking_back: bool,
    following: &mut TimelineFollowing,
) -> SharedTimeline {
    let Some(replay) = replay else {
        return SharedTimeline::Live;
    };
    if looking_back {
        return SharedTimeline::LookBack {
            at: replay.position.0,
        };
    }
    let path = replay.recording.file.path();
    if following
        .fingerprint
        .as_ref()
        .is_none_or(|(known, _)| known != path)
    {
        following.fingerprint = Some((path.to_owned(), fingerprint(path).unwrap_or_default()));
    }
    let recording = following
        .fingerprint
        .as_ref()
        .map(|(_, f)| f.clone())
        .unwrap_or_default();
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    SharedTimeline::Replay {
        recording,
        name,
        position: replay.position.0,
        playing: replay.playing,
        speed: replay.speed,
    }
}

/// The host tells the session where it looks whenever that changes (a seek, play or pause,
/// another speed, live or back), and every 5 s while playing (to keep followers in step).
#[allow(clippy::type_complexity)]
pub fn lead_the_timeline(
    session: Option<Res<SharedSession>>,
    participants: Res<Participants>,
    replay: Option<Res<ReplaySession>>,
    stash: Option<Res<LiveStash>>,
    mut following: ResMut<TimelineFollowing>,
    mut status: ResMut<TimelineStatus>,
    mut told: Local<Option<(SharedTimeline, std::time::Instant)>>,
) {
    let Some(session) = session else { return };
    if !participants.lead_the_timeline() {
        return;
    }
    let looking_back = stash.is_some_and(|s| s.0.is_some());
    let now = where_we_look(replay.as_deref(), looking_back, &mut following);
    let due = match (&*told, &now) {
        (None, _) => true,
        (
            Some((
                SharedTimeline::Replay {
                    recording,
                    playing,
                    speed,
                    position,
                    ..
                },
                when,
            )),
            SharedTimeline::Replay {
                recording: r,
                playing: p,
                speed: s,
                position: x,
                ..
            },
        ) => {
            let expected = position
                + if *playing {
                    (when.elapsed().as_secs_f64() * speed * 1e6) as i64
                } else {
                    0
                };
            recording != r
                || playing != p
                || speed != s
                || (x - expected).abs() > SAME_INSTANT_US
                || (*p && when.elapsed().as_secs() >= 5)
        }
        (Some((SharedTimeline::LookBack { at }, _)), SharedTimeline::LookBack { at: x }) => {
            (x - at).abs() > SAME_INSTANT_US * 5
        }
        (Some((before, _)), now) => std::mem::discriminant(before) != std::mem::discriminant(now),
    };
    if due {
        session.0.lead_timeline(now.clone());
        *told = Some((now, std::time::Instant::now()));
    }
    say(
        &mut status,
        Some("leading the session's timeline".to_owned()),
    );
}

/// Followers go where the host took the session, unless they stepped out.
#[allow(clippy::too_many_arguments)]
pub fn follow_the_hosts_timeline(
    session: Option<Res<SharedSession>>,
    participants: Res<Participants>,
    replay: Option<Res<ReplaySession>>,
    stash: Option<Res<LiveStash>>,
    mut following: ResMut<TimelineFollowing>,
    mut status: ResMut<TimelineStatus>,
    (mut dvr, mut replay_commands): (MessageWriter<DvrCommand>, MessageWriter<ReplayCommand>),
) {
    let Some(session) = session else { return };
    if participants.lead_the_timeline() {
        return;
    }
    let heard = session
        .0
        .lock()
        .roster
        .timeline()
        .map(|(host, message)| (host.to_owned(), message.clone()));
    let Some((host, message)) = heard else {
        // The host left: we stay where it took us, and say so.
        say(
            &mut status,
            following
                .applied
                .as_ref()
                .map(|(host, _)| format!("on {host}'s timeline ({host} has left)")),
        );
        return;
    };
    if status.stepped_out {
        say(&mut status, Some(format!("own timeline ({host} leads)")));
        return;
    }
    say(&mut status, Some(format!("on {host}'s timeline")));
    if following
        .applied
        .as_ref()
        .is_some_and(|(h, seq)| *h == host && *seq == message.seq)
    {
        return;
    }
    following.applied = Some((host.clone(), message.seq));
    let looking_back = stash.is_some_and(|s| s.0.is_some());
    let here = where_we_look(replay.as_deref(), looking_back, &mut following);
    let mut sent = 0;
    let mut problem = None;
    match (&message.timeline, &here) {
        (SharedTimeline::Live, SharedTimeline::LookBack { .. }) => {
            dvr.write(DvrCommand::GoLive);
            sent += 1;
        }
        (SharedTimeline::Live, SharedTimeline::Replay { .. }) => {
            problem = Some(format!("{host} is live; this viewer replays a recording"))
        }
        (SharedTimeline::LookBack { at }, SharedTimeline::LookBack { at: ours })
            if (at - ours).abs() <= SAME_INSTANT_US => {}
        (
            SharedTimeline::LookBack { at },
            SharedTimeline::Live | SharedTimeline::LookBack { .. },
        ) => {
            dvr.write(DvrCommand::LookBack(Timestamp(*at)));
            sent += 1;
        }
        (SharedTimeline::LookBack { .. }, SharedTimeline::Replay { .. }) => {
            problem = Some(format!(
                "{host} looks back on the live plant; this viewer replays a recording"
            ))
        }
        (
            SharedTimeline::Replay {
                recording,
                position,
                playing,
                speed,
                ..
            },
            SharedTimeline::Replay {
                recording: ours,
                position: at,
                playing: we_play,
                speed: our_speed,
                ..
            },
        ) if recording == ours => {
            if (position - at).abs() > SAME_INSTANT_US {
                replay_commands.write(ReplayCommand::SeekTo(Timestamp(*position)));
                sent += 1;
            }
            if speed != our_speed {
                replay_commands.write(ReplayCommand::SetSpeed(*speed));
                sent += 1;
            }
            if playing != we_play {
                replay_commands.write(ReplayCommand::TogglePlay);
                sent += 1;
            }
        }
        (SharedTimeline::Replay { name, .. }, _) => {
            problem = Some(format!(
                "{host} plays {name}: open that recording here (--replay) to follow"
            ))
        }
        (SharedTimeline::Live, SharedTimeline::Live) => {}
    }
    following.ours += sent;
    if let Some(problem) = &problem {
        info!("timeline: {problem}");
    } else {
        info!("timeline: following {host} to {:?}", message.timeline);
    }
    status.problem = problem;
}

/// Moving the timeline oneself (the DVR bar, the replay controls) steps out of the host's;
/// the Session window's Rejoin steps back in.
pub fn notice_stepping_out(
    mut dvr: MessageReader<DvrCommand>,
    mut replay: MessageReader<ReplayCommand>,
    mut commands: MessageReader<SessionCommand>,
    participants: Res<Participants>,
    mut following: ResMut<TimelineFollowing>,
    mut status: ResMut<TimelineStatus>,
) {
    let read = dvr.read().count() + replay.read().count();
    let theirs = read.saturating_sub(following.ours);
    following.ours = following.ours.saturating_sub(read);
    if theirs > 0
        && !participants.lead_the_timeline()
        && status.text.is_some()
        && !status.stepped_out
    {
        info!("timeline: stepped out of the host's timeline");
        status.stepped_out = true;
    }
    for command in commands.read() {
        match command {
            SessionCommand::StepOut => status.stepped_out = true,
            SessionCommand::Rejoin => {
                status.stepped_out = false;
                following.applied = None; // take the host's timeline again now
            }
            _ => {}
        }
    }
}

/// At exit, whose timeline this viewer was on (scripts and tests read it).
pub fn report_timeline_on_exit(
    mut exits: MessageReader<AppExit>,
    status: Res<TimelineStatus>,
    replay: Option<Res<ReplaySession>>,
    stash: Option<Res<LiveStash>>,
) {
    if exits.read().count() == 0 {
        return;
    }
    let Some(text) = &status.text else { return };
    let looking_back = stash.is_some_and(|s| s.0.is_some());
    let position = match (&replay, looking_back) {
        (None, _) => "live".to_owned(),
        (Some(r), true) => format!("looking back at {}", r.position),
        (Some(r), false) => format!("replaying at {}", r.position),
    };
    let problem = status
        .problem
        .as_deref()
        .map(|p| format!(" ({p})"))
        .unwrap_or_default();
    eprintln!("timeline: {text}, {position}{problem}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(following_the_host: bool) -> App {
        let mut app = App::new();
        app.add_message::<DvrCommand>()
            .add_message::<ReplayCommand>()
            .add_message::<SessionCommand>();
        app.init_resource::<Participants>()
            .init_resource::<TimelineFollowing>();
        let text = following_the_host.then(|| "on anna's timeline".to_owned());
        app.insert_resource(TimelineStatus {
            text,
            ..Default::default()
        });
        app.add_systems(Update, notice_stepping_out);
        app
    }

    fn stepped_out(app: &App) -> bool {
        app.world().resource::<TimelineStatus>().stepped_out
    }

    #[test]
    fn moving_ones_own_timeline_steps_out_and_rejoin_steps_back() {
        let mut app = app(true);
        // What the follower itself sent to follow the host is not the user's.
        app.world_mut().resource_mut::<TimelineFollowing>().ours = 1;
        app.world_mut()
            .write_message(DvrCommand::LookBack(Timestamp(5)));
        app.update();
        assert!(!stepped_out(&app), "our own look-back");
        // The user's own seek is.
        app.world_mut().write_message(ReplayCommand::Step(-10.0));
        app.update();
        assert!(stepped_out(&app));
        app.world_mut().write_message(SessionCommand::Rejoin);
        app.update();
        assert!(!stepped_out(&app));
        assert!(
            app.world()
                .resource::<TimelineFollowing>()
                .applied
                .is_none(),
            "the host's timeline is taken again"
        );
    }

    #[test]
    fn without_a_host_to_follow_nothing_steps_out() {
        let mut app = app(false);
        app.world_mut().write_message(DvrCommand::GoLive);
        app.update();
        assert!(!stepped_out(&app));
    }
}
