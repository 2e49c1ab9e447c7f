use super::*;
use crate::mcap::{Delivery, McapWriter};
use crate::report::state_json;
use crate::rules::RuleSet;
use crate::twin::StoreConfig;

const LIVE: Delivery = Delivery { qos: 0, retain: false };
const RETAINED: Delivery = Delivery { qos: 1, retain: true };
const SECOND: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * SECOND;

/// Two minutes of a small plant at 2 Hz, with registrations, units, an alarm that is raised
/// and cleared, a property that only appears once, invalid messages and a service going down.
fn write_recording(path: &std::path::Path) {
    let mut w = McapWriter::create(path).unwrap();
    w.flush_every = std::time::Duration::MAX;
    w.chunk_size = 16 * 1024;
    w.write("te/device/main//", RETAINED, br#"{"@type":"device","displayName":"Plant"}"#, T0).unwrap();
    w.write("te/device/pump1//", RETAINED, br#"{"@type":"child-device","@parent":"te/device/main"}"#, T0).unwrap();
    w.write("te/device/pump1///m/env/meta", RETAINED, br#"{"units":{"temperature":"C"}}"#, T0).unwrap();
    w.write("te/device/pump1///m/env", LIVE, br#"{"serial": 4711}"#, T0 + 1).unwrap();
    for tick in 0..240u64 {
        let t = T0 + SECOND + tick * SECOND / 2;
        let payload = format!(r#"{{"temperature": {}, "vibration": {}}}"#, 40.0 + (tick % 17) as f64, (tick % 5) as f64 / 2.0);
        w.write("te/device/pump1///m/env", LIVE, payload.as_bytes(), t).unwrap();
        w.write("te/device/motor1///m/env", LIVE, format!(r#"{{"speed": {tick}}}"#).as_bytes(), t + 1).unwrap();
        if tick == 40 {
            w.write("te/device/pump1///a/hot", RETAINED, br#"{"severity":"critical","text":"Hot"}"#, t + 2).unwrap();
            w.write("te/device/pump1///m/env", LIVE, b"{not json", t + 3).unwrap();
        }
        if tick == 90 {
            w.write("te/device/pump1///a/hot", RETAINED, b"", t + 2).unwrap();
            w.write("te/device/pump1///a/hot", RETAINED, br#"{"severity":"nonsense"}"#, t + 3).unwrap();
        }
        if tick == 150 {
            w.write("te/device/main/service/plc/status/health", RETAINED, br#"{"status":"down"}"#, t + 2).unwrap();
        }
    }
    w.finish().unwrap();
}

fn fresh_store() -> crate::twin::TwinStore {
    crate::twin::TwinStore::new(StoreConfig::default(), RuleSet::default())
}

#[test]
fn seeking_anywhere_gives_exactly_the_state_of_a_full_replay() {
    let path = std::env::temp_dir().join(format!("twinscope-replay-{}.mcap", std::process::id()));
    write_recording(&path);
    let mut recording = Recording::open(&path).unwrap();
    assert!(recording.index.checkpoints.len() >= 10, "{} checkpoints", recording.index.checkpoints.len());
    let mut reference_file = crate::mcap::McapFile::open(&path).unwrap();
    let (start, end) = recording.time_range().unwrap();
    let mut times: Vec<Timestamp> = (0..40).map(|i| Timestamp(start.0 + (end.0 - start.0) * i / 39)).collect();
    times.extend([Timestamp(start.0 - 1), Timestamp(end.0 + 1_000_000), Timestamp(start.0 + 21_500_000), Timestamp(start.0 + 46_000_000)]);
    for at in times {
        let mut seeked = fresh_store();
        let applied = recording.state_at(&mut seeked, at).unwrap();
        let mut replayed = fresh_store();
        let total = state_by_full_replay(&mut reference_file, &mut replayed, at).unwrap();
        assert_eq!(state_json(&seeked, None), state_json(&replayed, None), "state differs at {at}");
        assert!(applied <= total.max(1));
    }
    // Spot checks on what the state means.
    let mut during_alarm = fresh_store();
    recording.state_at(&mut during_alarm, timestamp_of(T0 + 40 * SECOND)).unwrap();
    let pump = during_alarm.twin("pump1").unwrap();
    assert_eq!(pump.alarms.len(), 1);
    assert_eq!(pump.property("serial").unwrap().value, 4711.0, "a property sent once survives seeks");
    assert_eq!(pump.property("temperature").unwrap().unit.as_deref(), Some("C"));
    let mut after_clear = fresh_store();
    recording.state_at(&mut after_clear, timestamp_of(T0 + 80 * SECOND)).unwrap();
    assert!(after_clear.twin("pump1").unwrap().alarms.is_empty());
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn seek_cost_does_not_grow_with_position() {
    let path = std::env::temp_dir().join(format!("twinscope-replay-cost-{}.mcap", std::process::id()));
    write_recording(&path);
    let mut recording = Recording::open(&path).unwrap();
    let (start, end) = recording.time_range().unwrap();
    let mut early = fresh_store();
    let near_start = recording.state_at(&mut early, Timestamp(start.0 + 15_000_000)).unwrap();
    let mut late = fresh_store();
    let near_end = recording.state_at(&mut late, Timestamp(end.0 - 5_000_000)).unwrap();
    // Both replay a checkpoint's messages plus at most one interval of traffic.
    assert!(near_end <= near_start + 60, "near the start {near_start} messages, near the end {near_end}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn playing_forward_in_steps_matches_seeking() {
    let path = std::env::temp_dir().join(format!("twinscope-replay-play-{}.mcap", std::process::id()));
    write_recording(&path);
    let mut recording = Recording::open(&path).unwrap();
    let (start, end) = recording.time_range().unwrap();
    let mut played = fresh_store();
    let mut position = Timestamp(start.0 + 5_000_000);
    recording.state_at(&mut played, position).unwrap();
    while position < end {
        let next = Timestamp((position.0 + 730_000).min(end.0));
        recording.advance(&mut played, position, next).unwrap();
        position = next;
        if position.0 % 7 == 0 || position == end {
            let mut seeked = fresh_store();
            recording.state_at(&mut seeked, position).unwrap();
            assert_eq!(state_json(&played, None), state_json(&seeked, None), "at {position}");
        }
    }
    let mut seeked = fresh_store();
    recording.state_at(&mut seeked, end).unwrap();
    assert_eq!(state_json(&played, None), state_json(&seeked, None));
    assert_eq!(recording.alarm_transitions().filter(|(_, raised)| *raised).count(), 1);
    std::fs::remove_file(&path).unwrap();
}
