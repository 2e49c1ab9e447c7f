//! The shared-session benchmark: participants sending poses at 20 Hz through a real broker,
//! one observer hearing them, and how long a pose takes from being handed to the session
//! client to being in the observer's roster (what a viewer draws from at its next frame).
//!
//! Each participant's pose carries its sequence number in the head's x coordinate (exact in
//! an f32 up to 2^24), so the observer knows which send it is hearing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::connection::ConnectionSettings;
use crate::session::{Device, Placement, Pose, Presence, SessionLink, SessionTopics, Timeline};

/// What one run measured.
#[derive(Debug, Clone)]
pub struct SessionRun {
    /// Pose handed to the client → in the observer's roster, sorted.
    pub latencies: Vec<Duration>,
    pub poses_sent: u64,
    /// Session traffic each participant sent per second (topics and payloads).
    pub bytes_per_second: f64,
}

/// `participants` publishing poses at `rate_hz` for `duration` on `direct`, heard by an
/// observer on `via` (a proxy adding a round trip, or the same broker).
pub fn pose_latency(
    direct: &ConnectionSettings,
    via: &ConnectionSettings,
    participants: usize,
    rate_hz: f64,
    duration: Duration,
) -> std::io::Result<SessionRun> {
    let session = format!(
        "bench-{}-{}",
        std::process::id(),
        crate::Timestamp::now().0 % 1_000_000
    );
    let topics = || {
        SessionTopics::new(crate::session::DEFAULT_ROOT, &session)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    };
    let observer = SessionLink::join(via, topics()?, None)?;
    let links = (0..participants)
        .map(|k| {
            let me = Presence {
                user: format!("p{k}"),
                device: Device::Headset,
                instance: format!("i{k}"),
                selected: None,
                timeline: Timeline::Live,
                host: false,
                since: 0,
                timeline_lead: None,
            };
            SessionLink::join(direct, topics()?, Some(me))
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    // Everyone connected and present before the clock starts.
    let ready = Instant::now() + Duration::from_secs(30);
    while observer.lock().roster.len() < participants && Instant::now() < ready {
        std::thread::sleep(Duration::from_millis(10));
    }
    let period = Duration::from_secs_f64(1.0 / rate_hz.max(1.0));
    let sends = (duration.as_secs_f64() * rate_hz).ceil() as usize + 1;
    let sent: Arc<Mutex<Vec<Vec<Option<Instant>>>>> =
        Arc::new(Mutex::new(vec![vec![None; sends]; participants]));
    let sender = {
        let sent = sent.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            for seq in 0..sends {
                for (k, link) in links.iter().enumerate() {
                    let head = Placement {
                        at: [seq as f32, 1.7, k as f32],
                        rotation: [0.0, 0.0, 0.0, 1.0],
                    };
                    if let Ok(mut sent) = sent.lock() {
                        sent[k][seq] = Some(Instant::now());
                    }
                    link.send_pose(Pose {
                        head,
                        hands: Vec::new(),
                        pointer: None,
                        fov: None,
                        instance: None,
                    });
                }
                let next = started + period * (seq as u32 + 1);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            std::thread::sleep(Duration::from_millis(500));
            let elapsed = started.elapsed().as_secs_f64();
            let bytes: u64 = links.iter().map(|l| l.lock().bytes_sent).sum();
            let poses: u64 = links.iter().map(|l| l.lock().poses_sent).sum();
            (bytes as f64 / elapsed / links.len().max(1) as f64, poses)
        })
    };
    let mut heard = vec![None::<usize>; participants];
    let mut latencies = Vec::with_capacity(participants * sends);
    while !sender.is_finished() {
        {
            let shared = observer.lock();
            let now = Instant::now();
            for (user, participant) in shared.roster.participants() {
                let (Some(k), Some(pose)) = (
                    user.strip_prefix('p').and_then(|k| k.parse::<usize>().ok()),
                    participant.pose.as_ref(),
                ) else {
                    continue;
                };
                let seq = pose.head.at[0] as usize;
                if k < participants && heard[k] != Some(seq) {
                    heard[k] = Some(seq);
                    let when = sent
                        .lock()
                        .ok()
                        .and_then(|sent| sent.get(k).and_then(|s| s.get(seq)).copied().flatten());
                    if let Some(when) = when {
                        latencies.push(now.saturating_duration_since(when));
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let (bytes_per_second, poses_sent) = sender.join().unwrap_or((0.0, 0));
    latencies.sort();
    Ok(SessionRun {
        latencies,
        poses_sent,
        bytes_per_second,
    })
}
