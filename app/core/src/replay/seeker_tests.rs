//! The seeker: its states are a seek's, in the shown store's shape, and a newer position
//! replaces one not yet started.

use std::sync::Arc;
use std::time::Duration;

use super::seeker::{FreshStore, Seeker};
use super::{Recording, state_by_full_replay, timestamp_of};
use crate::report::state_json;
use crate::rules::RuleSet;
use crate::time::Timestamp;
use crate::twin::{StoreConfig, TwinId, TwinStore};

fn fresh() -> TwinStore {
    TwinStore::new(StoreConfig::default(), RuleSet::default())
}

fn recording(name: &str) -> (std::path::PathBuf, Recording) {
    let path = std::env::temp_dir().join(format!(
        "twinscope-seeker-{name}-{}.mcap",
        std::process::id()
    ));
    super::tests::write_recording_for_tests(&path);
    let recording = Recording::open(&path).unwrap();
    (path, recording)
}

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn the_seeker_s_states_are_a_full_replay_s_with_the_shown_twins_at_their_indices() {
    let (path, recording) = recording("states");
    let (start, end) = recording.time_range().unwrap();
    // The shown store's twins in an order of its own (not the file's): each state keeps it.
    let mut last = fresh();
    recording
        .try_clone()
        .unwrap()
        .state_at(&mut last, end)
        .unwrap();
    let mut twins: Vec<TwinId> = last.twins().map(|(_, t)| t.id.clone()).collect();
    twins.reverse();
    let fresh_store: FreshStore = Arc::new(fresh);
    let mut seeker = Seeker::start(recording.try_clone().unwrap(), fresh_store).unwrap();
    seeker.keep_twins(Arc::new(twins.clone()));
    let mut reference_file = crate::mcap::McapFile::open(&path).unwrap();
    for i in 0..12i64 {
        // Back and forth across the file, and each state given back as the next one's room.
        let at = Timestamp(start.0 + (end.0 - start.0) * ((i * 7) % 12) / 11);
        let number = seeker.seek(at);
        let seeked = seeker.wait_for(number, WAIT).expect("the state is built");
        assert_eq!((seeked.number, seeked.at), (number, at));
        assert!(seeked.error.is_none(), "{:?}", seeked.error);
        for (i, id) in twins.iter().enumerate() {
            assert_eq!(
                seeked.store.find(id.as_str()).map(|t| t.0 as usize),
                Some(i)
            );
        }
        let mut replayed = fresh();
        for id in &twins {
            replayed.declare_id(id);
        }
        state_by_full_replay(&mut reference_file, &mut replayed, at).unwrap();
        assert_eq!(
            state_json(&seeked.store, None),
            state_json(&replayed, None),
            "state differs at {at}"
        );
        seeker.give_back(seeked.store);
    }
    drop(seeker);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_newer_position_replaces_one_not_yet_started() {
    let (path, recording) = recording("newest");
    let (start, _) = recording.time_range().unwrap();
    let mut seeker = Seeker::start(recording, Arc::new(fresh)).unwrap();
    // A drag's worth of positions asked faster than any seek runs.
    let mut last = 0;
    for second in 0..100u64 {
        last = seeker.seek(Timestamp(start.0 + second as i64 * 1_000_000));
    }
    let seeked = seeker.wait_for(last, WAIT).expect("the newest is built");
    assert_eq!(
        seeked.at,
        timestamp_of(crate::replay::log_time_of(start) + 99_000_000_000)
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        seeker.take_built().is_none(),
        "nothing is built after the newest"
    );
    assert!(
        seeker.states_built() < 10,
        "{} of 100 positions were built: stale ones queued",
        seeker.states_built()
    );
    drop(seeker);
    std::fs::remove_file(&path).unwrap();
}
