//! `twinscope state`: listen to a broker for a while, then print the twin hierarchy and state
//! exactly as the viewer would hold it. For support engineers, scripts and our tests.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use twinscope_core::Timestamp;
use twinscope_core::ingest::{IngestConfig, spawn_ingest};
use twinscope_core::manifest::load_scene;
use twinscope_core::report::{state_json, state_text};
use twinscope_core::rules::RuleSet;
use twinscope_core::schema::thin_edge::ThinEdgeSchema;
use twinscope_core::twin::{StoreConfig, TwinStore};

use super::StateArgs;

pub fn run(args: StateArgs) -> anyhow::Result<ExitCode> {
    super::init_cli_logging();
    let mut store = match &args.scene {
        Some(path) => match load_scene(path) {
            Ok(scene) => scene.new_store(),
            Err(error) => {
                eprintln!("error: {error}");
                return Ok(ExitCode::FAILURE);
            }
        },
        None => TwinStore::new(StoreConfig::default(), RuleSet::default()),
    };
    let (mut ingest, batches) = spawn_ingest(IngestConfig::new(args.broker.clone()), Box::new(ThinEdgeSchema::default()))?;
    let deadline = Instant::now() + args.listen_for;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Some(batch) = batches.recv_timeout(left.min(Duration::from_millis(50))) {
            store.apply_all(&batch.updates, batch.received);
            batches.recycle(batch.updates);
        }
    }
    // The counters as they stood while listening (stopping disconnects).
    let stats = ingest.stats.snapshot();
    ingest.stop();
    while let Some(batch) = batches.recv_timeout(Duration::ZERO) {
        store.apply_all(&batch.updates, batch.received);
    }
    store.mark_stale(Timestamp::now());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&state_json(&store, Some(&stats)))?);
    } else {
        print!("{}", state_text(&store, Some(&stats)));
    }
    if stats.connects == 0 {
        eprintln!("error: could not connect to {} within {:?}", args.broker, args.listen_for);
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}
