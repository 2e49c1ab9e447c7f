//! `twinscope sim`: the plant simulator alone, against any broker.

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use twinscope_core::sim::{SimConfig, spawn_simulator};

use super::SimArgs;

pub fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    super::init_cli_logging();
    if !args.connect.names_a_broker() {
        anyhow::bail!(
            "twinscope sim needs --broker URL (or --profile NAME): it publishes retained registrations and alarms, so it never picks a broker by itself"
        );
    }
    let settings = args.connect.resolve(None)?;
    if args.notes > 0
        && let Some(topics) = args.session.topics()?
    {
        let settings = args
            .session
            .connection(&args.connect, Some(&settings))?
            .unwrap_or(settings);
        return super::session::pin_notes(&settings, topics, args.notes, args.lines);
    }
    if args.participants > 0
        && let Some(topics) = args.session.topics()?
    {
        let settings = args
            .session
            .connection(&args.connect, Some(&settings))?
            .unwrap_or(settings);
        return super::session::run_participants(
            &settings,
            topics,
            args.participants,
            (&args.participant_prefix, args.session.user.as_deref()),
            args.gather,
            args.run_for,
        );
    }
    let broker = settings.describe();
    let mut config = SimConfig::new(settings);
    config.lines = args.lines;
    config.rate_hz = args.rate;
    config.fault_every = (!args.faults_every.is_zero()).then_some(args.faults_every);
    config.seed = args.seed;
    config.run_for = args.run_for;
    config.standing_alarms = args.standing_alarms;
    let twins = twinscope_core::demo::PlantLayout::new(args.lines)
        .twins
        .len();
    tracing::info!(%broker, twins, rate = args.rate, "simulating the plant");
    let sim = spawn_simulator(config)?;
    let stats = sim.stats.clone();
    let totals = sim.stats.clone();
    let reporter = std::thread::spawn(move || {
        let mut last = 0;
        loop {
            std::thread::sleep(Duration::from_secs(5));
            let published = stats.published.load(Ordering::Relaxed);
            tracing::info!(
                published,
                per_second = (published - last) / 5,
                faults = stats.faults.load(Ordering::Relaxed),
                "simulator"
            );
            last = published;
        }
    });
    sim.join();
    drop(reporter);
    // The soak script compares this with what the viewer received.
    println!(
        "sim: published {} messages",
        totals.published.load(Ordering::Relaxed)
    );
    Ok(ExitCode::SUCCESS)
}
