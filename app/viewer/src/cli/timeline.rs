//! `twinscope timeline`: take a shared session to an instant from a script, as whoever leads
//! its timeline would from the viewer: `--look-back T` (everyone's DVR to that instant) or
//! `--live`; or, as the host, hand the timeline to another participant (`--hand-to USER`).
//! The script stays in the session for `--stay` (followers follow a lead that is there).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use twinscope_core::Timestamp;
use twinscope_core::session::SessionLink;
use twinscope_core::session::timeline::SharedTimeline;

use super::ConnectArgs;
use super::session::SessionArgs;

#[derive(Args, Debug)]
pub struct TimelineArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(flatten)]
    pub session: SessionArgs,
    /// Everyone's DVR to this instant: RFC 3339, or how long ago (30s).
    #[arg(long, conflicts_with = "live", value_name = "WHEN")]
    pub look_back: Option<String>,
    /// Everyone back to live.
    #[arg(long)]
    pub live: bool,
    /// As the host (--host): hand the session's timeline to this participant, who leads it
    /// from then on.
    #[arg(long, value_name = "USER", requires = "host")]
    pub hand_to: Option<String>,
    /// How long to stay in the session.
    #[arg(long, default_value = "5s", value_parser = twinscope_core::time::parse_duration)]
    pub stay: Duration,
}

pub fn run(args: TimelineArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    let Some(topics) = args.session.topics()? else {
        anyhow::bail!("name the session (--session NAME)")
    };
    let timeline = match (&args.look_back, args.live) {
        _ if args.hand_to.is_some() => None,
        (Some(when), _) => {
            let at = Timestamp::parse_rfc3339(when)
                .or_else(|| {
                    twinscope_core::time::parse_duration(when)
                        .ok()
                        .map(|ago| Timestamp(Timestamp::now().0 - ago.as_micros() as i64))
                })
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--look-back {when:?} is neither an RFC 3339 time nor how long ago (30s)"
                    )
                })?;
            Some(SharedTimeline::LookBack { at: at.0 })
        }
        (None, true) => Some(SharedTimeline::Live),
        (None, false) => {
            anyhow::bail!("say where: --look-back WHEN or --live (or, as the host, --hand-to USER)")
        }
    };
    let plant = args.connect.resolve(None)?;
    let settings = args
        .session
        .connection(&args.connect, Some(&plant))?
        .unwrap_or(plant);
    let mut me = args
        .session
        .presence(twinscope_core::session::Device::Desktop)?
        .ok_or_else(|| anyhow::anyhow!("an observer cannot lead the timeline"))?;
    me.timeline_lead = args.hand_to.clone();
    let link = SessionLink::join(&settings, topics, Some(me))?;
    // Present first (and the host's presence heard), so followers believe what follows.
    std::thread::sleep(Duration::from_millis(500));
    match timeline {
        Some(timeline) => {
            anyhow::ensure!(
                link.lock().roster.timeline_lead() == Some(link.user()),
                "{} does not lead this session's timeline: its host does, or whom the host handed it to (--host, --hand-to)",
                link.user()
            );
            link.lead_timeline(timeline.clone());
            crate::outln!(out, "took the session to {timeline:?}");
        }
        None => crate::outln!(
            out,
            "handed the session's timeline to {}",
            args.hand_to.as_deref().unwrap_or_default()
        ),
    }
    let until = Instant::now() + args.stay;
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    link.leave();
    Ok(ExitCode::SUCCESS)
}
