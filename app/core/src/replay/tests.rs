use super::*;
use crate::mcap::{Delivery, McapWriter};
use crate::report::state_json;
use crate::rules::RuleSet;
use crate::twin::StoreConfig;

const LIVE: Delivery = Delivery {
    qos: 0,
    retain: false,
};
const RETAINED: Delivery = Delivery {
    qos: 1,
    retain: true,
};
const SECOND: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * SECOND;

/// The recording of [`write_recording`], for other test modules.
pub(super) fn write_recording_for_tests(path: &std::path::Path) {
    write_recording(path);
}

/// Two minutes of a small plant at 2 Hz, with registrations, units, an alarm that is raised
/// and cleared, a property that only appears once, invalid messages and a service going down.
fn write_recording(path: &std::path::Path) {
    write_recording_with(path, usize::MAX);
}

/// [`write_recording`], with channels of their own for the first `topic_channels` topics only
/// (the later ones share a channel per delivery, as past MCAP's 65,535 channel ids).
fn write_recording_with(path: &std::path::Path, topic_channels: usize) {
    let mut w = McapWriter::create(path).unwrap();
    w.topic_channels = topic_channels;
    w.flush_every = std::time::Duration::MAX;
    w.chunk_size = 16 * 1024;
    w.write(
        "te/device/main//",
        RETAINED,
        br#"{"@type":"device","displayName":"Plant"}"#,
        T0,
    )
    .unwrap();
    w.write(
        "te/device/pump1//",
        RETAINED,
        br#"{"@type":"child-device","@parent":"te/device/main"}"#,
        T0,
    )
    .unwrap();
    w.write(
        "te/device/pump1///m/env/meta",
        RETAINED,
        br#"{"units":{"temperature":"C"}}"#,
        T0,
    )
    .unwrap();
    w.write(
        "te/device/pump1///m/env",
        LIVE,
        br#"{"serial": 4711}"#,
        T0 + 1,
    )
    .unwrap();
    for tick in 0..240u64 {
        let t = T0 + SECOND + tick * SECOND / 2;
        let payload = format!(
            r#"{{"temperature": {}, "vibration": {}}}"#,
            40.0 + (tick % 17) as f64,
            (tick % 5) as f64 / 2.0
        );
        w.write("te/device/pump1///m/env", LIVE, payload.as_bytes(), t)
            .unwrap();
        w.write(
            "te/device/motor1///m/env",
            LIVE,
            format!(r#"{{"speed": {tick}}}"#).as_bytes(),
            t + 1,
        )
        .unwrap();
        if tick % 3 == 0 {
            // A second pump: the same property name on another topic.
            w.write(
                "te/device/pump2///m/env",
                LIVE,
                format!(r#"{{"temperature": {}}}"#, 60 + tick % 7).as_bytes(),
                t + 1,
            )
            .unwrap();
        }
        if tick == 40 {
            w.write(
                "te/device/pump1///a/hot",
                RETAINED,
                br#"{"severity":"critical","text":"Hot"}"#,
                t + 2,
            )
            .unwrap();
            w.write("te/device/pump1///m/env", LIVE, b"{not json", t + 3)
                .unwrap();
        }
        if tick == 90 {
            w.write("te/device/pump1///a/hot", RETAINED, b"", t + 2)
                .unwrap();
            w.write(
                "te/device/pump1///a/hot",
                RETAINED,
                br#"{"severity":"nonsense"}"#,
                t + 3,
            )
            .unwrap();
        }
        if tick == 150 {
            w.write(
                "te/device/main/service/plc/status/health",
                RETAINED,
                br#"{"status":"down"}"#,
                t + 2,
            )
            .unwrap();
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
    assert!(
        recording.index.checkpoints.len() >= 10,
        "{} checkpoints",
        recording.index.checkpoints.len()
    );
    let mut reference_file = crate::mcap::McapFile::open(&path).unwrap();
    let (start, end) = recording.time_range().unwrap();
    let mut times: Vec<Timestamp> = (0..40)
        .map(|i| Timestamp(start.0 + (end.0 - start.0) * i / 39))
        .collect();
    times.extend([
        Timestamp(start.0 - 1),
        Timestamp(end.0 + 1_000_000),
        Timestamp(start.0 + 21_500_000),
        Timestamp(start.0 + 46_000_000),
    ]);
    for at in times {
        let mut seeked = fresh_store();
        let applied = recording.state_at(&mut seeked, at).unwrap();
        let mut replayed = fresh_store();
        let total = state_by_full_replay(&mut reference_file, &mut replayed, at).unwrap();
        assert_eq!(
            state_json(&seeked, None),
            state_json(&replayed, None),
            "state differs at {at}"
        );
        assert!(applied <= total.max(1));
    }
    // Spot checks on what the state means.
    let mut during_alarm = fresh_store();
    recording
        .state_at(&mut during_alarm, timestamp_of(T0 + 40 * SECOND))
        .unwrap();
    let pump = during_alarm.twin("pump1").unwrap();
    assert_eq!(pump.alarms.len(), 1);
    assert_eq!(
        pump.property("serial").unwrap().value,
        4711.0,
        "a property sent once survives seeks"
    );
    assert_eq!(
        pump.property("temperature").unwrap().unit.as_deref(),
        Some("C")
    );
    let mut after_clear = fresh_store();
    recording
        .state_at(&mut after_clear, timestamp_of(T0 + 80 * SECOND))
        .unwrap();
    assert!(after_clear.twin("pump1").unwrap().alarms.is_empty());
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn seek_cost_does_not_grow_with_position() {
    let path =
        std::env::temp_dir().join(format!("twinscope-replay-cost-{}.mcap", std::process::id()));
    write_recording(&path);
    let mut recording = Recording::open(&path).unwrap();
    let (start, end) = recording.time_range().unwrap();
    let mut early = fresh_store();
    let near_start = recording
        .state_at(&mut early, Timestamp(start.0 + 15_000_000))
        .unwrap();
    let mut late = fresh_store();
    let near_end = recording
        .state_at(&mut late, Timestamp(end.0 - 5_000_000))
        .unwrap();
    // Both replay a checkpoint's messages plus at most one interval of traffic.
    assert!(
        near_end <= near_start + 60,
        "near the start {near_start} messages, near the end {near_end}"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn playing_forward_in_steps_matches_seeking() {
    let path =
        std::env::temp_dir().join(format!("twinscope-replay-play-{}.mcap", std::process::id()));
    write_recording(&path);
    let mut recording = Recording::open(&path).unwrap();
    let (start, end) = recording.time_range().unwrap();
    let mut played = fresh_store();
    let mut position = Timestamp(start.0 + 5_000_000);
    recording.state_at(&mut played, position).unwrap();
    // Short steps play on this thread, steps of a second and more read on a second one.
    let mut steps = [730_000, 2_300_000, 90_000, 1_000_000].into_iter().cycle();
    let mut compared = 0;
    for step in 0.. {
        if position >= end {
            break;
        }
        let next = Timestamp((position.0 + steps.next().unwrap_or(730_000)).min(end.0));
        recording.advance(&mut played, position, next).unwrap();
        position = next;
        if step % 3 == 0 || position == end {
            compared += 1;
            let mut seeked = fresh_store();
            recording.state_at(&mut seeked, position).unwrap();
            assert_eq!(
                state_json(&played, None),
                state_json(&seeked, None),
                "at {position}"
            );
        }
    }
    assert!(compared > 10, "{compared} comparisons");
    let mut seeked = fresh_store();
    recording.state_at(&mut seeked, end).unwrap();
    assert_eq!(state_json(&played, None), state_json(&seeked, None));
    assert_eq!(
        recording
            .alarm_transitions()
            .filter(|(_, raised)| *raised)
            .count(),
        1
    );
    std::fs::remove_file(&path).unwrap();
}

/// A Sparkplug plant recorded: births, data by alias, a death, a rebirth with a new bdSeq
/// and new values, a device death. Seeking anywhere gives what playing from the start gives:
/// aliases resolved by the birth in force, offline where a death is in force.
#[test]
fn sparkplug_recordings_seek_exactly() {
    use crate::schema::sparkplug::{Metric, Payload, RawValue, datatype};
    let path =
        std::env::temp_dir().join(format!("twinscope-replay-spb-{}.mcap", std::process::id()));
    let named = |name: &str, alias: u64, dt: u32, value: RawValue| Metric {
        name: Some(name.into()),
        alias: Some(alias),
        datatype: Some(dt),
        value,
        ..Default::default()
    };
    let by_alias = |alias: u64, value: RawValue| Metric {
        alias: Some(alias),
        value,
        ..Default::default()
    };
    let payload = |seq: Option<u64>, metrics: Vec<Metric>| {
        Payload {
            timestamp: None,
            seq,
            metrics,
        }
        .encode()
    };
    let mut w = McapWriter::create(&path).unwrap();
    w.flush_every = std::time::Duration::MAX;
    w.chunk_size = 4 * 1024;
    let mut seq = 0u64;
    for session in 0..2u64 {
        let t = T0 + session * 60 * SECOND;
        let bd = RawValue::Long(session + 10);
        w.write(
            "spBv1.0/G/NBIRTH/E",
            LIVE,
            &payload(
                Some(0),
                vec![named("bdSeq", 0, datatype::UINT64, bd.clone())],
            ),
            t,
        )
        .unwrap();
        // The second session's aliases differ: only its own birth resolves them.
        let alias = 100 + session;
        w.write(
            "spBv1.0/G/DBIRTH/E/D",
            LIVE,
            &payload(
                Some(1),
                vec![
                    named(
                        "Temperature",
                        alias,
                        datatype::DOUBLE,
                        RawValue::Double(20.0),
                    ),
                    named(
                        "Mode",
                        alias + 50,
                        datatype::STRING,
                        RawValue::String("auto".into()),
                    ),
                ],
            ),
            t + 1,
        )
        .unwrap();
        seq = 1;
        for tick in 0..100u64 {
            seq = (seq + 1) % 256;
            let mut metrics = vec![by_alias(
                alias,
                RawValue::Double(session as f64 * 100.0 + tick as f64),
            )];
            if tick == 30 {
                metrics.push(by_alias(alias + 50, RawValue::String("manual".into())));
            }
            w.write(
                "spBv1.0/G/DDATA/E/D",
                LIVE,
                &payload(Some(seq), metrics),
                t + SECOND + tick * SECOND / 4,
            )
            .unwrap();
        }
        if session == 0 {
            w.write(
                "spBv1.0/G/NDEATH/E",
                LIVE,
                &payload(None, vec![named("bdSeq", 0, datatype::UINT64, bd)]),
                t + 40 * SECOND,
            )
            .unwrap();
        }
    }
    w.write(
        "spBv1.0/G/DDEATH/E/D",
        LIVE,
        &payload(Some((seq + 1) % 256), vec![]),
        T0 + 100 * SECOND,
    )
    .unwrap();
    w.finish().unwrap();

    let mut recording = Recording::open(&path).unwrap();
    let mut reference_file = crate::mcap::McapFile::open(&path).unwrap();
    let (start, end) = recording.time_range().unwrap();
    for i in 0..60 {
        let at = Timestamp(start.0 + (end.0 - start.0 + 1_000_000) * i / 59);
        let mut seeked = fresh_store();
        recording.state_at(&mut seeked, at).unwrap();
        let mut replayed = fresh_store();
        state_by_full_replay(&mut reference_file, &mut replayed, at).unwrap();
        assert_eq!(
            state_json(&seeked, None),
            state_json(&replayed, None),
            "state differs at {at}"
        );
        let offline =
            |store: &crate::twin::TwinStore| store.twin("G/E/D").map(|d| d.offline_since.is_some());
        assert_eq!(
            offline(&seeked),
            offline(&replayed),
            "offline differs at {at}"
        );
    }
    // Spot checks: mid first session, after the death, in the second session.
    let mut store = fresh_store();
    recording
        .state_at(&mut store, timestamp_of(T0 + 20 * SECOND))
        .unwrap();
    let device = store.twin("G/E/D").unwrap();
    assert_eq!(
        (
            device.property("Temperature").unwrap().value,
            device.offline_since
        ),
        (76.0, None)
    );
    assert_eq!(
        device.fragments.get("Mode"),
        Some(&serde_json::json!("manual"))
    );
    let mut store = fresh_store();
    recording
        .state_at(&mut store, timestamp_of(T0 + 50 * SECOND))
        .unwrap();
    assert!(
        store.twin("G/E/D").unwrap().offline_since.is_some(),
        "the death is in force"
    );
    let mut store = fresh_store();
    recording
        .state_at(&mut store, timestamp_of(T0 + 80 * SECOND))
        .unwrap();
    let device = store.twin("G/E/D").unwrap();
    assert_eq!(
        (
            device.property("Temperature").unwrap().value,
            device.offline_since
        ),
        (176.0, None),
        "the rebirth's aliases"
    );
    std::fs::remove_file(&path).unwrap();
}

/// Checkpoints every 2 s with a full state only every third: seeks merge changes onto
/// keyframes and still give exactly what playing from the start gives.
#[test]
fn seeks_through_keyframes_and_changes_match_a_full_replay() {
    let path = std::env::temp_dir().join(format!(
        "twinscope-replay-keyframes-{}.mcap",
        std::process::id()
    ));
    write_recording(&path);
    let mut recording = Recording::open(&path).unwrap();
    recording.index =
        SeekIndex::build_spaced(&mut recording.file, 2 * SECOND, 3, &SchemaChoice::replay())
            .unwrap();
    assert!(
        recording.index.checkpoints.len() >= 50,
        "{} checkpoints",
        recording.index.checkpoints.len()
    );
    seeks_at_97_instants_match_a_full_replay(&mut recording, &path);
    std::fs::remove_file(&path).unwrap();
}

/// A plant on more topics than MCAP has channel ids, most of them in shared channels (each
/// message carrying its topic; here all past the first two): seeking anywhere gives what
/// playing from the start gives, and what the same traffic recorded a channel per topic gives.
#[test]
fn topics_in_shared_channels_seek_exactly_and_read_as_in_channels_of_their_own() {
    let own_path =
        std::env::temp_dir().join(format!("twinscope-replay-own-{}.mcap", std::process::id()));
    let shared_path = std::env::temp_dir().join(format!(
        "twinscope-replay-shared-{}.mcap",
        std::process::id()
    ));
    write_recording_with(&own_path, usize::MAX);
    write_recording_with(&shared_path, 2);
    let mut shared = Recording::open(&shared_path).unwrap();
    let channels: Vec<_> = shared
        .file
        .channels
        .values()
        .map(|c| (c.topic.as_str(), c.is_shared()))
        .collect();
    assert_eq!(
        channels,
        [
            ("te/device/main//", false),
            ("te/device/pump1//", false),
            ("#", true),
            ("#", true)
        ],
        "a shared channel per delivery"
    );
    seeks_at_97_instants_match_a_full_replay(&mut shared, &shared_path);
    let mut own = Recording::open(&own_path).unwrap();
    assert_eq!(own.time_range(), shared.time_range());
    let (start, end) = own.time_range().unwrap();
    for i in 0..25 {
        let at = Timestamp(start.0 + (end.0 - start.0) * i / 24);
        let (mut from_own, mut from_shared) = (fresh_store(), fresh_store());
        own.state_at(&mut from_own, at).unwrap();
        shared.state_at(&mut from_shared, at).unwrap();
        assert_eq!(
            state_json(&from_shared, None),
            state_json(&from_own, None),
            "state differs at {at}"
        );
    }
    let mut late = fresh_store();
    shared.state_at(&mut late, end).unwrap();
    assert_eq!(
        late.twin("pump2")
            .and_then(|t| t.property("temperature"))
            .map(|p| p.value),
        Some(60.0 + (237 % 7) as f64)
    );
    std::fs::remove_file(&own_path).unwrap();
    std::fs::remove_file(&shared_path).unwrap();
}

/// Seeks to 97 instants spread over the recording give what playing from the start gives.
fn seeks_at_97_instants_match_a_full_replay(recording: &mut Recording, path: &std::path::Path) {
    let mut reference_file = crate::mcap::McapFile::open(path).unwrap();
    let (start, end) = recording.time_range().unwrap();
    for i in 0..97 {
        let at = Timestamp(start.0 + (end.0 - start.0) * i / 96);
        let mut seeked = fresh_store();
        recording.state_at(&mut seeked, at).unwrap();
        let mut replayed = fresh_store();
        state_by_full_replay(&mut reference_file, &mut replayed, at).unwrap();
        assert_eq!(
            state_json(&seeked, None),
            state_json(&replayed, None),
            "state differs at {at}"
        );
    }
}

/// The recording indexed by `builder` (one with an interval or cap of the test's own).
fn index_with(mut builder: IndexBuilder, recording: &mut Recording) -> SeekIndex {
    for chunk in 0..recording.file.chunks.len() {
        let records = recording.file.chunk_records(chunk).unwrap();
        builder
            .chunk(chunk as u32, &records, &recording.file.channels)
            .unwrap();
    }
    builder.finish()
}

/// Checkpoints made by message count, not time (past 65,536 messages in one interval, so
/// their numbers fit two bytes): seeks from them give what playing from the start gives.
#[test]
fn checkpoints_made_early_by_message_count_match_a_full_replay() {
    let path = std::env::temp_dir().join(format!(
        "twinscope-replay-crowded-{}.mcap",
        std::process::id()
    ));
    write_recording(&path);
    let mut recording = Recording::open(&path).unwrap();
    let (start, _) = recording.time_range().unwrap();
    // An interval longer than the recording: every checkpoint is one made early.
    let builder = IndexBuilder::new(
        u64::MAX / 4,
        3,
        &SchemaChoice::replay(),
        Some(crate::replay::log_time_of(start)),
    )
    .with_max_interval_messages(7);
    recording.index = index_with(builder, &mut recording);
    let messages = recording.index.messages;
    assert!(
        recording.index.checkpoints.len() as u64 >= messages / 8,
        "{} checkpoints for {messages} messages",
        recording.index.checkpoints.len()
    );
    seeks_at_97_instants_match_a_full_replay(&mut recording, &path);
    std::fs::remove_file(&path).unwrap();
}

/// A signal heard once, after a keyframe, while two others change in every interval: a seek
/// from a later checkpoint (which walks the changes back from the newest and stops when every
/// key it knows of is decided) still finds its message.
#[test]
fn a_signal_heard_once_since_the_keyframe_is_in_every_later_state() {
    let path =
        std::env::temp_dir().join(format!("twinscope-replay-once-{}.mcap", std::process::id()));
    let mut w = McapWriter::create(&path).unwrap();
    for tenth in 0..200u64 {
        let t = T0 + tenth * SECOND / 10;
        w.write(
            &format!("te/device/busy{}///m/", tenth % 2),
            LIVE,
            format!(r#"{{"v":{tenth}}}"#).as_bytes(),
            t,
        )
        .unwrap();
        if tenth == 55 {
            w.write("te/device/once///m/", LIVE, br#"{"v":1}"#, t + 1)
                .unwrap();
        }
    }
    w.finish().unwrap();
    let mut recording = Recording::open(&path).unwrap();
    // Checkpoints every second, a keyframe every fourth: the signal's change is in checkpoint
    // 5, and checkpoints 6 and 7 hold only the busy ones'.
    let builder = IndexBuilder::new(SECOND, 4, &SchemaChoice::replay(), Some(T0));
    recording.index = index_with(builder, &mut recording);
    seeks_at_97_instants_match_a_full_replay(&mut recording, &path);
    std::fs::remove_file(&path).unwrap();
}

/// A plant busier than the message cap allows in one interval gets a checkpoint by count,
/// each a full interval before the next by time: not one by count and another soon after by
/// time, each holding a full set of changes.
#[test]
fn a_busy_plant_gets_checkpoints_by_count_at_an_even_pace() {
    let path =
        std::env::temp_dir().join(format!("twinscope-replay-pace-{}.mcap", std::process::id()));
    let mut w = McapWriter::create(&path).unwrap();
    // Ten messages a second against checkpoints every second or every 7 messages.
    for i in 0..100u64 {
        w.write(
            "te/device/pump1///m/",
            LIVE,
            format!(r#"{{"v":{i}}}"#).as_bytes(),
            T0 + i * SECOND / 10,
        )
        .unwrap();
    }
    w.finish().unwrap();
    let mut recording = Recording::open(&path).unwrap();
    let builder = IndexBuilder::new(SECOND, 3, &SchemaChoice::replay(), Some(T0))
        .with_max_interval_messages(7);
    let index = index_with(builder, &mut recording);
    let times: Vec<u64> = index.checkpoints.iter().map(|c| c.time).collect();
    assert_eq!(times.len(), 14, "one checkpoint per 7 messages: {times:?}");
    assert!(
        times
            .windows(2)
            .all(|pair| pair[1] - pair[0] == 7 * SECOND / 10),
        "7 messages (0.7 s) apart: {times:?}"
    );
    std::fs::remove_file(&path).unwrap();
}

/// The chunks a seek asks the disk for are the chunks its checkpoint's messages are in.
#[test]
fn the_chunks_a_checkpoint_reads_are_found_once_each() {
    let path = std::env::temp_dir().join(format!(
        "twinscope-replay-chunks-{}.mcap",
        std::process::id()
    ));
    write_recording(&path);
    let recording = Recording::open(&path).unwrap();
    let mut spanning = 0;
    for checkpoint in 0..recording.index.checkpoints.len() {
        let refs = recording.index.refs_at(checkpoint).unwrap();
        let mut each: Vec<usize> = refs
            .iter()
            .map(|n| recording.index.chunk_of(*n).unwrap().0 as usize)
            .collect();
        each.dedup();
        assert_eq!(
            recording.index.chunks_holding(&refs),
            each,
            "checkpoint {checkpoint}"
        );
        spanning += usize::from(each.len() > 1);
    }
    assert!(
        spanning > 0,
        "some checkpoint's messages are in several chunks"
    );
    std::fs::remove_file(&path).unwrap();
}

/// A plant of 2,000 signals that each report once, then one signal every second for ten
/// minutes: the index holds what changes (one key per checkpoint), not the plant at every
/// checkpoint. The same plant with every signal changing every second is the busy bound.
#[test]
fn index_memory_follows_what_changes() {
    let write = |path: &std::path::Path, busy: bool| {
        let mut w = McapWriter::create(path).unwrap();
        w.flush_every = std::time::Duration::MAX;
        for second in 0..600u64 {
            for signal in 0..2000u64 {
                if second == 0 || (busy && second % 10 == 0) || signal == 0 {
                    let topic = format!("te/device/s{signal}///m/");
                    w.write(
                        &topic,
                        LIVE,
                        format!(r#"{{"v":{second}}}"#).as_bytes(),
                        T0 + second * SECOND + signal,
                    )
                    .unwrap();
                }
            }
        }
        w.finish().unwrap();
    };
    let quiet_path =
        std::env::temp_dir().join(format!("twinscope-index-quiet-{}.mcap", std::process::id()));
    let busy_path =
        std::env::temp_dir().join(format!("twinscope-index-busy-{}.mcap", std::process::id()));
    write(&quiet_path, false);
    write(&busy_path, true);
    // Held in memory (opening a file from elsewhere spills them: see below).
    let held = |path: &std::path::Path| {
        let mut file = crate::mcap::McapFile::open(path).unwrap();
        let index = SeekIndex::build(&mut file, DEFAULT_INTERVAL_NS, &SchemaChoice::replay());
        Recording::from_parts(file, index.unwrap(), SchemaChoice::replay())
    };
    let (quiet, busy) = (held(&quiet_path), held(&busy_path));
    let (quiet_bytes, busy_bytes) = (quiet.index.memory_bytes(), busy.index.memory_bytes());
    // 120 checkpoints; a full copy of 2,000 keys at each would be 120 × 16 KB ≈ 1.9 MB.
    assert_eq!(quiet.index.checkpoints.len(), busy.index.checkpoints.len());
    assert!(
        quiet_bytes < 100_000,
        "the quiet plant's index holds what changed: {quiet_bytes} bytes"
    );
    // Every key changes in 60 of the 120 intervals (a few of those checkpoints are full
    // states in both): two bytes for each change.
    assert!(
        busy_bytes.saturating_sub(quiet_bytes) > 50 * 2000 * 2,
        "the busy plant changes every key: {busy_bytes} against {quiet_bytes}"
    );
    // Opened from elsewhere (no stored index), the checkpoints wait on disk while and after
    // they are built, as a recorder's do; seeks read them from there.
    let opened = Recording::open(&busy_path).unwrap();
    assert_eq!(opened.index_source, IndexSource::Built);
    assert!(
        opened.index.memory_bytes() * 10 < busy_bytes,
        "{} bytes held of {busy_bytes}",
        opened.index.memory_bytes()
    );
    let mut file = crate::mcap::McapFile::open(&busy_path).unwrap();
    let mut by_seek = crate::twin::TwinStore::new(StoreConfig::default(), RuleSet::default());
    let mut by_replay = crate::twin::TwinStore::new(StoreConfig::default(), RuleSet::default());
    let at = timestamp_of(T0 + 333 * SECOND);
    let mut opened = opened;
    opened.state_at(&mut by_seek, at).unwrap();
    state_by_full_replay(&mut file, &mut by_replay, at).unwrap();
    assert_eq!(state_json(&by_seek, None), state_json(&by_replay, None));
    for path in [quiet_path, busy_path] {
        std::fs::remove_file(path).unwrap();
    }
}

/// A message stamped centuries ahead (a broken clock) adds one checkpoint, not billions.
#[test]
fn a_far_future_log_time_costs_one_checkpoint() {
    let path = std::env::temp_dir().join(format!(
        "twinscope-replay-future-{}.mcap",
        std::process::id()
    ));
    let mut w = McapWriter::create(&path).unwrap();
    for i in 0..100u64 {
        w.write(
            "te/device/pump1///m/",
            LIVE,
            format!(r#"{{"t":{i}}}"#).as_bytes(),
            T0 + i * SECOND,
        )
        .unwrap();
    }
    w.write("te/device/pump1///m/", LIVE, br#"{"t":-1}"#, u64::MAX / 2)
        .unwrap();
    w.finish().unwrap();
    let started = std::time::Instant::now();
    let mut recording = Recording::open(&path).unwrap();
    // 100 s of messages: 20 checkpoints, and one for the far future.
    assert!(
        recording.index.checkpoints.len() <= 22,
        "{} checkpoints",
        recording.index.checkpoints.len()
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let mut store = fresh_store();
    recording
        .state_at(&mut store, timestamp_of(T0 + 50 * SECOND))
        .unwrap();
    assert_eq!(
        store.twin("pump1").unwrap().property("t").unwrap().value,
        50.0
    );
    std::fs::remove_file(&path).unwrap();
}

/// The regions of a recording, by byte range: header, each chunk, the message indexes
/// after chunks, the summary, the footer.
fn regions(bytes: &[u8], file: &crate::mcap::McapFile) -> Vec<(String, std::ops::Range<usize>)> {
    let len = bytes.len();
    let summary_start =
        u64::from_le_bytes(bytes[len - 37 + 9..len - 37 + 17].try_into().unwrap()) as usize;
    let first_chunk = file.chunks.iter().map(|c| c.offset as usize).min().unwrap();
    let mut regions = vec![("header".to_owned(), 0..first_chunk)];
    for (i, chunk) in file.chunks.iter().enumerate() {
        let end = (chunk.offset + chunk.length) as usize;
        regions.push((format!("chunk {i}"), chunk.offset as usize..end));
        let next = file
            .chunks
            .get(i + 1)
            .map_or(summary_start, |c| c.offset as usize);
        if next > end {
            regions.push((format!("message index after chunk {i}"), end..next));
        }
    }
    regions.push(("summary".to_owned(), summary_start..len - 37));
    regions.push(("footer".to_owned(), len - 37..len));
    regions
}

/// A real recording with bytes flipped in every region: a clear error naming the file, or
/// a read that loses only what was damaged. Outside the chunks (indexes, summary, footer,
/// the header record) nothing is lost at all: the file is scanned instead of trusted.
#[test]
fn a_recording_damaged_in_any_region_reads_what_is_intact() {
    let path =
        std::env::temp_dir().join(format!("twinscope-replay-flip-{}.mcap", std::process::id()));
    write_recording(&path);
    let original = std::fs::read(&path).unwrap();
    let reference = {
        let mut recording = Recording::open(&path).unwrap();
        let (_, end) = recording.time_range().unwrap();
        let mut store = fresh_store();
        recording.state_at(&mut store, end).unwrap();
        (end, state_json(&store, None))
    };
    let file = crate::mcap::McapFile::open(&path).unwrap();
    let regions = regions(&original, &file);
    let chunks = regions
        .iter()
        .filter(|(name, _)| name.starts_with("chunk"))
        .count();
    assert!(chunks >= 2, "{chunks} chunks");
    let damaged = std::env::temp_dir().join(format!(
        "twinscope-replay-flipped-{}.mcap",
        std::process::id()
    ));
    let mut mutator = crate::mutate::Mutator::new(9);
    for (name, range) in &regions {
        let positions = range.len().min(crate::mutate::cases(40));
        for p in 0..positions {
            let at = range.start + p * range.len() / positions;
            let mut bytes = original.clone();
            bytes[at] ^= 1 + mutator.below(255) as u8;
            std::fs::write(&damaged, &bytes).unwrap();
            let mut recording = match Recording::open(&damaged) {
                Ok(recording) => recording,
                Err(error) => {
                    assert!(
                        error.to_string().contains(&*damaged.to_string_lossy()),
                        "{name} byte {at}: {error}"
                    );
                    continue;
                }
            };
            let mut store = fresh_store();
            let result = recording.state_at(&mut store, reference.0);
            let damaged = name.starts_with("chunk") || (name == "header" && at < 8);
            let intact = !damaged;
            if intact {
                result.unwrap_or_else(|e| panic!("{name} byte {at}: {e}"));
                assert_eq!(
                    state_json(&store, None),
                    reference.1,
                    "{name} byte {at}: nothing in the data was damaged, nothing is lost"
                );
            } else if result.is_ok() {
                // What was read is what was written: no value the recording never held.
                if let Some(pump) = store.twin("pump1")
                    && let Some(temperature) = pump.property("temperature")
                {
                    assert!(
                        (40.0..=56.0).contains(&temperature.value),
                        "{name} byte {at}: temperature {}",
                        temperature.value
                    );
                }
                if let Some(speed) = store.twin("motor1").and_then(|m| m.property("speed")) {
                    assert!(
                        (0.0..240.0).contains(&speed.value) && speed.value.fract() == 0.0,
                        "{name} byte {at}: speed {}",
                        speed.value
                    );
                }
            }
        }
    }
    for path in [path, damaged] {
        std::fs::remove_file(path).unwrap();
    }
}

/// Recordings damaged at random (bytes changed, inserted, removed, cut): opening, indexing,
/// seeking and playing never panic.
#[test]
fn randomly_damaged_recordings_never_panic() {
    let path = std::env::temp_dir().join(format!(
        "twinscope-replay-random-{}.mcap",
        std::process::id()
    ));
    write_recording(&path);
    let original = std::fs::read(&path).unwrap();
    let damaged = std::env::temp_dir().join(format!(
        "twinscope-replay-random-damaged-{}.mcap",
        std::process::id()
    ));
    let mut mutator = crate::mutate::Mutator::new(10);
    for _ in 0..crate::mutate::cases(300) {
        std::fs::write(&damaged, mutator.mutate(&original)).unwrap();
        let Ok(mut recording) = Recording::open(&damaged) else {
            continue;
        };
        let Some((start, end)) = recording.time_range() else {
            continue;
        };
        let mut store = fresh_store();
        let middle = Timestamp(start.0 / 2 + end.0 / 2);
        let _ = recording.state_at(&mut store, middle);
        let _ = recording.advance(&mut store, middle, end);
    }
    for path in [path, damaged] {
        std::fs::remove_file(path).unwrap();
    }
}
