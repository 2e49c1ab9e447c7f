//! `twinscope bench --notes`: notes in a shared session through a real broker. Pinned →
//! in another participant's note book (what its viewer shows at its next frame) on loopback
//! and through a proxy adding `--rtt`; a late joiner receiving a session's 10,000 retained
//! notes; and what building the viewer's view of 1,000 notes costs (done when they change).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use twinscope_core::bench::latency::percentile;
use twinscope_core::bench::notes::{late_joiner, note_latency};
use twinscope_core::connection::ConnectionSettings;
use twinscope_core::session::NoteBook;
use twinscope_core::session::clock::HybridClock;
use twinscope_core::twin::{StoreConfig, TwinStore};

use super::BenchArgs;

pub fn run(args: &BenchArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    let Some(broker) = args.broker.clone() else {
        anyhow::bail!("--notes needs --broker mqtt://127.0.0.1:PORT")
    };
    anyhow::ensure!(
        !broker.tls,
        "--notes measures plain MQTT on loopback (the proxy forwards TCP): use mqtt://"
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let direct = ConnectionSettings::plain(broker.clone());
    for round_trip in [Duration::ZERO, args.rtt] {
        let (_proxy, via, link) = super::bench_session::near_or_far(&broker, round_trip)?;
        let latencies = note_latency(&direct, &via, 100, 10.0)?;
        crate::outln!(
            out,
            "{link}: note pinned → in the other's notes: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms ({} of 100 heard)",
            ms(percentile(&latencies, 50.0)),
            ms(percentile(&latencies, 95.0)),
            ms(latencies.last().copied().unwrap_or_default()),
            latencies.len()
        );
        let (took, held) = late_joiner(&direct, &via, 10_000)?;
        crate::outln!(
            out,
            "{link}: a late joiner had {held} of 10000 notes after {:.0} ms",
            ms(took)
        );
    }
    // The viewer builds what its pins and Notes window show when the notes change (not each
    // frame): its cost for 1,000 notes on 1,000 twins.
    let mut store = TwinStore::new(StoreConfig::default(), Default::default());
    let mut book = NoteBook::default();
    let mut clock = HybridClock::default();
    for k in 0..1_000 {
        let twin = format!("pump{k}");
        store.declare(&twin, None, None);
        book.pin(
            "anna",
            false,
            &twin,
            &format!("note {k}\nsecond line"),
            &mut clock,
            1_000 + k,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let rounds = 200;
    let started = Instant::now();
    let mut shown = 0;
    for _ in 0..rounds {
        shown += std::hint::black_box(twinscope::session::notes::notes_view(&book, &store)).len();
    }
    let each = started.elapsed() / rounds;
    crate::outln!(
        out,
        "notes view for 1000 notes: {:.0} µs to build ({} shown), once per change",
        each.as_secs_f64() * 1e6,
        shown / rounds as usize
    );
    Ok(ExitCode::SUCCESS)
}
