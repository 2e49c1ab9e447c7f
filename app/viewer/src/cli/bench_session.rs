//! `twinscope bench --session`: shared sessions through a real broker. Pose → heard latency
//! for `--participants` at 20 Hz, on loopback and through a proxy adding `--rtt` between the
//! observer and the broker; session traffic per participant; and what the others' presence
//! costs the viewer each frame (reading the roster into what it draws) at 16 and 64.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use twinscope_core::bench::latency::percentile;
use twinscope_core::bench::session::pose_latency;
use twinscope_core::connection::ConnectionSettings;
use twinscope_core::fault_proxy::FaultProxy;
use twinscope_core::rules::RuleSet;
use twinscope_core::session::{
    DEFAULT_ROOT, Device, Placement, Pointer, Pose, Presence, Roster, SessionTopics, Timeline,
};
use twinscope_core::twin::{StoreConfig, TwinStore};

use super::BenchArgs;

pub fn run(args: &BenchArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    let Some(broker) = args.broker.clone() else {
        anyhow::bail!("--session needs --broker mqtt://127.0.0.1:PORT")
    };
    if broker.tls {
        anyhow::bail!(
            "--session measures plain MQTT on loopback (the proxy forwards TCP): use mqtt://"
        );
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let direct = ConnectionSettings::plain(broker.clone());
    for round_trip in [Duration::ZERO, args.rtt] {
        let (_proxy, via, link) = near_or_far(&broker, round_trip)?;
        let run = pose_latency(
            &direct,
            &via,
            args.participants,
            20.0,
            Duration::from_secs(10),
        )?;
        crate::outln!(
            out,
            "{link}: {} participants at 20 Hz, pose → heard: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms ({} heard of {} sent); {:.0} bytes/s per participant",
            args.participants,
            ms(percentile(&run.latencies, 50.0)),
            ms(percentile(&run.latencies, 95.0)),
            ms(run.latencies.last().copied().unwrap_or_default()),
            run.latencies.len(),
            run.poses_sent,
            run.bytes_per_second
        );
    }
    for participants in [16, 64] {
        let (roster, store) = full_roster(participants);
        let frame = GlobalTransform::IDENTITY;
        let rounds = 2_000;
        let started = Instant::now();
        let mut shown = 0;
        for _ in 0..rounds {
            shown += std::hint::black_box(twinscope::session::hear::others_in(
                &roster, "me", &store, &frame,
            ))
            .len();
        }
        let per_frame = started.elapsed() / rounds;
        crate::outln!(
            out,
            "presence per frame, {participants} participants: {:.1} µs to read the roster into what is drawn ({} shown)",
            per_frame.as_secs_f64() * 1e6,
            shown / rounds as usize
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The broker directly (`round_trip` zero) or through a proxy adding that round trip: the
/// proxy (kept while measuring), the connection to measure on, and its name for the report.
pub fn near_or_far(
    broker: &twinscope_core::BrokerAddress,
    round_trip: Duration,
) -> anyhow::Result<(Option<FaultProxy>, ConnectionSettings, String)> {
    if round_trip.is_zero() {
        return Ok((
            None,
            ConnectionSettings::plain(broker.clone()),
            "loopback".to_owned(),
        ));
    }
    let proxy = FaultProxy::start(broker.port, round_trip / 2)?;
    let via = ConnectionSettings::plain(twinscope_core::BrokerAddress::loopback(proxy.port));
    Ok((
        Some(proxy),
        via,
        format!("{:.0} ms round trip", round_trip.as_secs_f64() * 1e3),
    ))
}

/// A roster of `participants` headset users with poses, pointers and selections.
fn full_roster(participants: usize) -> (Roster, TwinStore) {
    let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
    let mut roster = Roster::new(SessionTopics::new(DEFAULT_ROOT, "bench").expect("a valid name"));
    let now = Instant::now();
    for k in 0..participants {
        let user = format!("user{k}");
        let twin = format!("pump{k}");
        store.declare(&twin, None, None);
        let presence = Presence {
            user: user.clone(),
            device: Device::Headset,
            instance: "1".into(),
            selected: Some(twin.clone()),
            timeline: Timeline::Live,
            host: false,
            since: 0,
            timeline_lead: None,
        };
        roster.receive(
            &format!("twinscope/v1/sessions/bench/{user}/presence"),
            &presence.encode(),
            now,
        );
        let hand = Placement {
            at: [k as f32, 1.3, 0.0],
            rotation: [0.0, 0.0, 0.0, 1.0],
        };
        let pose = Pose {
            head: Placement {
                at: [k as f32, 1.7, 0.0],
                rotation: [0.0, 0.0, 0.0, 1.0],
            },
            hands: vec![hand, hand],
            pointer: Some(Pointer {
                twin: Some(twin),
                at: [k as f32, 1.0, -2.0],
            }),
            fov: None,
            instance: None,
        };
        roster.receive(
            &format!("twinscope/v1/sessions/bench/{user}/pose"),
            &pose.encode(),
            now,
        );
    }
    (roster, store)
}
