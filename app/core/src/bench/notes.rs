//! The notes benchmark: how long a pinned note takes to be in another participant's note
//! book (what its viewer shows at the next frame), near and a round trip away; and how long
//! someone joining late takes to have every note of a session holding many.

use std::time::{Duration, Instant};

use crate::connection::ConnectionSettings;
use crate::session::{SessionLink, SessionTopics};

fn topics(session: &str) -> std::io::Result<SessionTopics> {
    SessionTopics::new(crate::session::DEFAULT_ROOT, session)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
}

fn session_name(what: &str) -> String {
    format!(
        "bench-{what}-{}-{}",
        std::process::id(),
        crate::Timestamp::now().0 % 1_000_000
    )
}

fn wait_connected(links: &[&SessionLink]) -> std::io::Result<()> {
    let ready = Instant::now() + Duration::from_secs(30);
    while links.iter().any(|l| !l.stats().is_connected()) {
        if Instant::now() > ready {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no connection to the broker within 30 s",
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // The subscription is made right after connecting.
    std::thread::sleep(Duration::from_millis(200));
    Ok(())
}

/// `count` notes pinned on `direct`, one every `1 / rate_hz`, each timed from the pin to
/// being in a reader's note book on `via`; sorted. A note not heard within 5 s is left out.
pub fn note_latency(
    direct: &ConnectionSettings,
    via: &ConnectionSettings,
    count: usize,
    rate_hz: f64,
) -> std::io::Result<Vec<Duration>> {
    let session = session_name("notes");
    let reader = SessionLink::join(via, topics(&session)?, None)?;
    let writer = SessionLink::join_as_writer(direct, topics(&session)?, "bench-writer")?;
    wait_connected(&[&reader, &writer])?;
    let period = Duration::from_secs_f64(1.0 / rate_hz.max(0.1));
    let mut latencies = Vec::with_capacity(count);
    for k in 0..count {
        let started = Instant::now();
        let id = writer
            .pin_note(&format!("twin-{k}"), &format!("note {k}: checked, ok"))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let deadline = started + Duration::from_secs(5);
        while Instant::now() < deadline {
            if reader.lock().notes.get(&id).is_some() {
                latencies.push(started.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        std::thread::sleep((started + period).saturating_duration_since(Instant::now()));
    }
    reader.leave();
    writer.leave();
    latencies.sort();
    Ok(latencies)
}

/// A session holding `count` notes (pinned on `direct`), then someone joining on `via`: how
/// long until it holds them all, and how many it held when it stopped waiting (20 s).
pub fn late_joiner(
    direct: &ConnectionSettings,
    via: &ConnectionSettings,
    count: usize,
) -> std::io::Result<(Duration, usize)> {
    let session = session_name("late");
    let writer = SessionLink::join_as_writer(direct, topics(&session)?, "bench-writer")?;
    wait_connected(&[&writer])?;
    for k in 0..count {
        writer
            .pin_note(
                &format!("twin-{}", k % 500),
                &format!("note {k}: needs part"),
            )
            .map_err(|e| std::io::Error::other(e.to_string()))?;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while !writer.notes_confirmed() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    let joiner = SessionLink::join(via, topics(&session)?, None)?;
    let mut held = 0;
    while started.elapsed() < Duration::from_secs(20) {
        held = joiner.lock().notes.len();
        if held >= count {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let took = started.elapsed();
    joiner.leave();
    writer.leave();
    Ok((took, held))
}
