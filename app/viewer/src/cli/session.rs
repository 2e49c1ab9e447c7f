//! Shared sessions from the command line: the options every command that joins one takes,
//! `twinscope state --session NAME` (who is in it, for scripts, monitoring and tests) and
//! `twinscope sim --participants N` (scripted participants walking the demo plant: the load
//! generator for the session benchmark and a peer for tests).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use twinscope_core::connection::ConnectionSettings;
use twinscope_core::session::message::Dropped;
use twinscope_core::session::topics::check_name;
use twinscope_core::session::{
    DEFAULT_ROOT, Device, Gather, Placement, Pointer, Pose, Presence, SessionLink, SessionTopics,
    Timeline,
};

/// Joining a shared session.
#[derive(Args, Debug, Clone, Default)]
pub struct SessionArgs {
    /// Join this shared session (on the plant's broker): others in it see where you are,
    /// what you select and point at.
    #[arg(long, value_name = "NAME")]
    pub session: Option<String>,
    /// Your name in the session [default: the operating system's user name].
    #[arg(long, value_name = "NAME", requires = "session")]
    pub user: Option<String>,
    /// The topic root sessions live under.
    #[arg(long, default_value = DEFAULT_ROOT, value_name = "TOPIC")]
    pub session_root: String,
    /// Follow the session without publishing anything (for a read-only connection).
    #[arg(long, requires = "session")]
    pub observer: bool,
    /// In the viewer: start following this participant (the camera flies with them).
    #[arg(long, value_name = "USER", requires = "session")]
    pub follow: Option<String>,
    /// Join as the session's host (may bring everyone to where you are).
    #[arg(long, requires = "session")]
    pub host: bool,
    /// Put the session on this broker instead of the plant data's (mqtt:// or mqtts://; the
    /// plant connection's TLS files and credentials apply). A replay needs it to join one.
    #[arg(long, value_name = "URL")]
    pub session_broker: Option<twinscope_core::BrokerAddress>,
    /// Put the session on the broker of this connection profile instead.
    #[arg(long, value_name = "NAME", conflicts_with = "session_broker")]
    pub session_profile: Option<String>,
}

impl SessionArgs {
    /// The session's topics, if one is named.
    pub fn topics(&self) -> anyhow::Result<Option<SessionTopics>> {
        let Some(name) = &self.session else {
            return Ok(None);
        };
        Ok(Some(SessionTopics::new(&self.session_root, name)?))
    }

    /// The connection the session travels on: --session-profile, --session-broker (with the
    /// plant connection's TLS files and credentials), or else `plant` (`None`: there is none,
    /// as in a replay).
    pub fn connection(
        &self,
        connect: &super::ConnectArgs,
        plant: Option<&ConnectionSettings>,
    ) -> anyhow::Result<Option<ConnectionSettings>> {
        if let Some(profile) = &self.session_profile {
            let args = super::ConnectArgs {
                profile: Some(profile.clone()),
                config: connect.config.clone(),
                ..Default::default()
            };
            return Ok(Some(args.resolve(None)?));
        }
        if let Some(broker) = &self.session_broker {
            let args = super::ConnectArgs {
                broker: Some(broker.clone()),
                profile: None,
                ..connect.clone()
            };
            return Ok(Some(args.resolve(None)?));
        }
        Ok(plant.cloned())
    }

    /// Who we are in the session (`None` for an observer).
    pub fn presence(&self, device: Device) -> anyhow::Result<Option<Presence>> {
        if self.observer {
            return Ok(None);
        }
        let user = self.user.clone().unwrap_or_else(os_user_name);
        check_name("user name", &user)?;
        let instance = format!(
            "{:x}{:x}",
            std::process::id(),
            twinscope_core::Timestamp::now().0 & 0xffff_ffff
        );
        Ok(Some(Presence {
            user,
            device,
            instance,
            selected: None,
            timeline: Timeline::Live,
            host: self.host,
            since: twinscope_core::Timestamp::now().0,
            timeline_lead: None,
        }))
    }
}

/// The operating system's user name, made fit for a topic level.
fn os_user_name() -> String {
    let name = ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "operator".into());
    name.chars()
        .map(|c| {
            if matches!(c, '/' | '+' | '#') || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .take(64)
        .collect()
}

/// `state --session NAME`: joins as an observer for `duration`, then lists the participants.
pub fn session_state(
    settings: &ConnectionSettings,
    topics: SessionTopics,
    duration: Duration,
    json: bool,
    out: &mut String,
) -> anyhow::Result<ExitCode> {
    let link = SessionLink::join(settings, topics, None)?;
    // Its own report says when no connection was made.
    let _ = listen_to_the_session(&link, duration);
    let shared = link.lock();
    let roster = &shared.roster;
    let stats = link.stats().snapshot();
    let participants = participants_json(roster);
    if json {
        let dropped: serde_json::Map<String, serde_json::Value> = Dropped::ALL
            .iter()
            .map(|d| (d.as_str().to_owned(), 0.into()))
            .chain(
                roster
                    .dropped()
                    .map(|(d, n)| (d.as_str().to_owned(), n.into())),
            )
            .collect();
        let report = serde_json::json!({
            "session": roster.topics().path(),
            "participants": participants,
            "dropped": dropped,
            "connects": stats.connects,
            "last_error": link.stats().last_error().map(|e| e.1.to_string()),
        });
        crate::outln!(out, "{}", serde_json::to_string_pretty(&report)?);
    } else {
        crate::outln!(
            out,
            "# session {}: {} participant(s)",
            roster.topics().path(),
            roster.len()
        );
        for (user, p) in roster.participants() {
            let selected = p.presence.selected.as_deref().unwrap_or("nothing");
            let at = p
                .pose
                .as_ref()
                .map(|pose| {
                    format!(
                        " at ({:.1}, {:.1}, {:.1})",
                        pose.head.at[0], pose.head.at[1], pose.head.at[2]
                    )
                })
                .unwrap_or_default();
            crate::outln!(
                out,
                "{user}  {:?}  {:?}  selected {selected}{at}",
                p.presence.device,
                p.presence.timeline
            );
        }
        if roster.dropped_total() > 0 {
            let reasons: Vec<String> = roster
                .dropped()
                .map(|(d, n)| format!("{} {n}", d.as_str()))
                .collect();
            crate::outln!(out, "dropped: {}", reasons.join(", "));
        }
    }
    let last_error = link.stats().last_error().map(|e| e.1.to_string());
    drop(shared);
    link.leave();
    if stats.connects == 0 {
        eprintln!(
            "error: cannot join the session: {}",
            last_error.unwrap_or_else(|| "no connection was made".into())
        );
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// Waits `duration` for what the session holds (retained: it comes at once), or until the
/// broker refuses the connection for good; why no connection was made, if none was.
pub fn listen_to_the_session(link: &SessionLink, duration: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        if !link.stats().is_connected()
            && let Some(last) = link
                .stats()
                .last_error()
                .filter(|last| last.1.is_permanent())
        {
            anyhow::bail!("cannot join the session: {}", last.1);
        }
    }
    anyhow::ensure!(
        link.stats().is_connected(),
        "cannot join the session: {}",
        link.stats()
            .last_error()
            .map_or_else(|| "no connection was made".to_owned(), |e| e.1.to_string())
    );
    Ok(())
}

/// Each participant of `roster` as `state --session --json` lists it.
pub fn participants_json(roster: &twinscope_core::session::Roster) -> Vec<serde_json::Value> {
    roster
        .participants()
        .map(|(user, p)| {
            let pose = p.pose.as_ref();
            serde_json::json!({
                "user": user,
                "device": p.presence.device,
                "selected": p.presence.selected,
                "timeline": p.presence.timeline,
                "host": p.presence.host,
                "at": pose.map(|pose| pose.head.at),
                "pointing_at": pose.and_then(|pose| pose.pointer.as_ref()).and_then(|p| p.twin.clone()),
                "hands": pose.map_or(0, |pose| pose.hands.len()),
            })
        })
        .collect()
}

/// `state --replay FILE --session NAME [--at T]`: who was in the session at that instant of
/// the recording, where each stood and pointed, and the notes standing then.
pub fn recorded_session_state(
    path: &std::path::Path,
    topics: SessionTopics,
    at: twinscope_core::Timestamp,
    out: &mut String,
) -> anyhow::Result<ExitCode> {
    let name = topics.name().to_owned();
    let recorded = twinscope_core::session::recorded::RecordedSession::load(path, topics)?;
    anyhow::ensure!(
        !recorded.is_empty(),
        "{} holds nothing of session {name} (record with --session {name})",
        path.display()
    );
    let state = recorded.at((at.0.max(0) as u64) * 1000);
    let notes: Vec<serde_json::Value> = state.notes.notes().iter().map(|n| serde_json::json!({"id": n.id(), "twin": n.latest.twin, "text": n.latest.text, "author": n.author(), "resolved": n.latest.resolved})).collect();
    let report = serde_json::json!({
        "session": name,
        "at": at.to_string(),
        "participants": participants_json(&state.roster),
        "notes": notes,
        "messages": recorded.len(),
    });
    crate::outln!(out, "{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// `sim --participants N`: N scripted participants, each on its own connection (with its own
/// will), walking circles through the demo plant at 20 Hz, pointing at and selecting twins.
/// They are named PREFIX1, PREFIX2... or, with `--user NAME`, NAME (one) or NAME-1, NAME-2.
/// The first is the host; with `gather` it brings everyone to where it stands every 5 s.
pub fn run_participants(
    settings: &ConnectionSettings,
    topics: SessionTopics,
    count: usize,
    names: (&str, Option<&str>),
    gather: bool,
    run_for: Option<Duration>,
) -> anyhow::Result<ExitCode> {
    let layout = twinscope_core::demo::PlantLayout::new(2);
    let twins: Vec<String> = layout.twins.iter().map(|t| t.id.clone()).collect();
    let (centre, radius) = walk_around(&layout);
    let mut links = Vec::with_capacity(count);
    for k in 0..count {
        let user = match names {
            (_, Some(user)) if count == 1 => user.to_owned(),
            (_, Some(user)) => format!("{user}-{}", k + 1),
            (prefix, None) => format!("{prefix}{}", k + 1),
        };
        check_name("user name", &user)?;
        // Desktop and headset users by turns; one named by --user is a headset user (this
        // user's other device, for trying a hand-over).
        let device = if k % 2 == 1 || names.1.is_some() {
            Device::Headset
        } else {
            Device::Desktop
        };
        let selected = twins.get((k * 7 + 3) % twins.len().max(1)).cloned();
        let instance = format!("sim{k}-{}", std::process::id());
        let me = Presence {
            user,
            device,
            instance,
            selected,
            timeline: Timeline::Live,
            host: k == 0,
            since: twinscope_core::Timestamp::now().0,
            timeline_lead: None,
        };
        links.push(SessionLink::join(settings, topics.clone(), Some(me))?);
    }
    tracing::info!(count, "scripted participants joined");
    let started = Instant::now();
    let mut poses = 0u64;
    let mut gathered = Instant::now();
    while run_for.is_none_or(|limit| started.elapsed() < limit) {
        let t = started.elapsed().as_secs_f32();
        for (k, link) in links.iter().enumerate() {
            let phase = t * 0.3 + k as f32;
            let at = [
                centre[0] + radius * phase.cos(),
                1.7,
                centre[1] + radius * phase.sin(),
            ];
            // Facing the middle of the plant, as someone looking for the part would.
            let yaw = (-(centre[0] - at[0])).atan2(-(centre[1] - at[2]));
            let rotation = [0.0, (yaw / 2.0).sin(), 0.0, (yaw / 2.0).cos()];
            let pointed = twins.get((k * 7 + 3) % twins.len().max(1)).cloned();
            let headset = k % 2 == 1 || names.1.is_some();
            let hands = if headset {
                vec![
                    Placement {
                        at: [at[0] - 0.2, 1.3, at[2]],
                        rotation,
                    },
                    Placement {
                        at: [at[0] + 0.2, 1.3, at[2]],
                        rotation,
                    },
                ]
            } else {
                Vec::new()
            };
            let pose = Pose {
                head: Placement { at, rotation },
                hands,
                pointer: Some(Pointer {
                    twin: pointed,
                    at: [0.0, 1.0, 0.0],
                }),
                fov: (!headset).then_some(0.8),
                instance: None,
            };
            if gather && k == 0 && gathered.elapsed() >= Duration::from_secs(5) {
                gathered = Instant::now();
                link.gather(Gather {
                    head: Placement { at, rotation },
                    twin: twins.get(3).cloned(),
                });
            }
            link.send_pose(pose);
            poses += 1;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent: u64 = links.iter().map(|l| l.lock().bytes_sent).sum();
    println!("sim: {count} participants sent {poses} poses, {sent} bytes");
    for link in links {
        link.leave();
    }
    Ok(ExitCode::SUCCESS)
}

/// `sim --session NAME --notes N [--lines L]`: N notes pinned by "notes-bot", spread over
/// the twins of the demo plant with L lines (`gen-plant --lines L` makes its model), waited
/// for until the broker holds them all.
pub fn pin_notes(
    settings: &ConnectionSettings,
    topics: SessionTopics,
    count: usize,
    lines: usize,
) -> anyhow::Result<ExitCode> {
    let layout = twinscope_core::demo::PlantLayout::new(lines);
    let link = SessionLink::join_as_writer(settings, topics, "notes-bot")?;
    for k in 0..count {
        let twin = &layout.twins[k % layout.twins.len().max(1)].id;
        link.pin_note(
            twin,
            &format!(
                "finding {k}: checked, ok\nround {}",
                k / layout.twins.len().max(1)
            ),
        )?;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !link.notes_confirmed() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the broker did not confirm the notes within 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("sim: pinned {count} notes");
    link.leave();
    Ok(ExitCode::SUCCESS)
}

/// The middle of the demo plant (x, z) and a walk's radius through it.
fn walk_around(layout: &twinscope_core::demo::PlantLayout) -> ([f32; 2], f32) {
    let place = |mut k: usize| {
        let mut at = [0.0f32; 3];
        loop {
            let twin = &layout.twins[k];
            for axis in 0..3 {
                at[axis] += twin.offset[axis];
            }
            match twin.parent {
                Some(parent) if parent < layout.twins.len() && parent != k => k = parent,
                _ => return at,
            }
        }
    };
    let places: Vec<[f32; 3]> = (0..layout.twins.len()).map(place).collect();
    let count = places.len().max(1) as f32;
    let centre = [
        places.iter().map(|p| p[0]).sum::<f32>() / count,
        places.iter().map(|p| p[2]).sum::<f32>() / count,
    ];
    let reach = places
        .iter()
        .map(|p| ((p[0] - centre[0]).powi(2) + (p[2] - centre[1]).powi(2)).sqrt())
        .fold(0.0, f32::max);
    (centre, (reach * 0.7).max(3.0))
}
