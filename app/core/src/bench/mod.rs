//! The ingest benchmark behind `twinscope bench`: decode + apply of thin-edge measurements
//! against a bare `serde_json` parse of the same payloads. It lives in the core so both sides
//! are compiled with the same optimisation.

pub mod archive;
pub mod latency;
pub mod notes;
pub mod schemas;
pub mod scrub;
pub mod session;

use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::demo::PlantLayout;
use crate::rules::RuleSet;
use crate::schema::thin_edge::ThinEdgeSchema;
use crate::schema::{TopicSchema, look_ahead};
use crate::time::Timestamp;
use crate::twin::{StoreConfig, TwinStore};

/// The median of timed runs (the middle one; `runs` must not be empty).
pub fn median_of(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

/// Figures from one run.
#[derive(Debug, Clone)]
pub struct IngestBenchResult {
    pub messages: usize,
    pub values: usize,
    pub bytes: usize,
    pub bare_parse: Duration,
    pub decode_only: Duration,
    pub decode_apply: Duration,
    /// Decode and apply as live ingest runs them: the decoder (a [`MessageSink`] feeding the
    /// batch channel) on one thread, the store applying batches on another.
    ///
    /// [`MessageSink`]: crate::ingest::MessageSink
    pub pipelined: Duration,
    /// Repeated values merged on the live path because the applying thread fell behind (the
    /// most of any run): what it did not have to apply.
    pub merged: u64,
}

impl IngestBenchResult {
    pub fn rate(&self, elapsed: Duration) -> f64 {
        self.messages as f64 / elapsed.as_secs_f64()
    }
}

/// Messages like the simulator's, for a plant of `lines` lines, `rounds` per twin.
pub fn sample_messages(lines: usize, rounds: usize) -> Vec<(String, Vec<u8>)> {
    let layout = PlantLayout::new(lines);
    let mut messages = Vec::with_capacity(layout.twins.len() * rounds);
    for round in 0..rounds {
        for twin in &layout.twins {
            let mut payload = String::from("{");
            for (s, signal) in twin.kind.signals().iter().enumerate() {
                let value = signal.nominal + signal.drift * ((round + s) as f64 * 0.37).sin();
                let _ = write!(payload, "\"{}\":{:.3},", signal.name, value);
            }
            let _ = write!(
                payload,
                "\"time\":{:.3}}}",
                1_700_000_000.0 + round as f64 * 0.1
            );
            messages.push((
                format!("te/device/{}///m/{}", twin.id, twin.kind.measurement_type()),
                payload.into_bytes(),
            ));
        }
    }
    messages
}

/// Runs the four measurements over the same messages, `REPEATS` times in turn, and keeps
/// the median of each: the machines this runs on are shared, and one run is noisy.
pub fn run_ingest_benchmark(lines: usize, rounds: usize) -> IngestBenchResult {
    const REPEATS: usize = 5;
    let messages = sample_messages(lines, rounds);
    let bytes = messages.iter().map(|(_, p)| p.len()).sum();
    let now = Timestamp(1_700_000_000_000_000);
    let twins = PlantLayout::new(lines).twins.len();
    let mut runs: [Vec<Duration>; 4] = Default::default();
    let mut values = 0;
    let mut merged = 0;
    for _ in 0..REPEATS {
        runs[0].push(bare_parse(&messages));
        let (elapsed, decoded) = decode_only(&messages, twins, now);
        runs[1].push(elapsed);
        values = decoded;
        runs[2].push(decode_apply(&messages, twins, now));
        let (elapsed, merged_here) =
            pipelined_ingest(Box::new(ThinEdgeSchema::default()), &[], &messages, now);
        runs[3].push(elapsed);
        merged = merged.max(merged_here);
    }
    let [bare_parse, decode_only, decode_apply, pipelined] = runs.map(|mut run| {
        run.sort();
        run[run.len() / 2]
    });
    IngestBenchResult {
        messages: messages.len(),
        values,
        bytes,
        bare_parse,
        decode_only,
        decode_apply,
        pipelined,
        merged,
    }
}

fn bare_parse(messages: &[(String, Vec<u8>)]) -> Duration {
    let started = Instant::now();
    for (_, payload) in messages {
        let value: serde_json::Value =
            serde_json::from_slice(payload).expect("benchmark payloads are valid");
        black_box(value);
    }
    started.elapsed()
}

/// Decoding alone, with the interner and entity set warm (steady state, as in a long session).
fn decode_only(messages: &[(String, Vec<u8>)], twins: usize, now: Timestamp) -> (Duration, usize) {
    let mut schema = ThinEdgeSchema::default();
    let mut out = Vec::with_capacity(4096);
    for (topic, payload) in messages.iter().take(twins) {
        let _ = schema.decode(topic, payload, now, &mut out);
    }
    out.clear();
    let started = Instant::now();
    let mut values = 0;
    for (topic, payload) in messages {
        let _ = schema.decode(topic, payload, now, &mut out);
        values += out.len();
        out.clear();
    }
    (started.elapsed(), values)
}

/// Decoding and applying on one thread, 1024 messages at a time, in steady state: each
/// twin's first message (which creates it) is applied before the clock starts, as the other
/// rows apply births first.
fn decode_apply(messages: &[(String, Vec<u8>)], twins: usize, now: Timestamp) -> Duration {
    schemas::decode_apply(
        &mut ThinEdgeSchema::default(),
        &messages[..twins.min(messages.len())],
        messages,
        now,
    )
}

/// The topics of the messages after the `at`th, for [`look_ahead`]: as the live path gives
/// it the messages its client has read ahead.
pub(crate) fn topics_after<'a>(
    messages: &'a [(String, Vec<u8>)],
    at: usize,
) -> impl Fn(usize) -> Option<&'a str> {
    move |k| messages.get(at + k).map(|m| m.0.as_str())
}

/// The live ingest path on the same messages: a sink decodes and batches on this thread, a
/// second thread drains the channel into a store, as the viewer's main thread does. The
/// `warm_up` messages (births) are decoded before the clock starts; applying them, which
/// creates the plant, is timed (first contact, as live ingest meets a plant). Freeing the
/// sink and the store afterwards is not. Returns the time and how many repeated values
/// merged because the applying thread fell behind.
pub(crate) fn pipelined_ingest(
    schema: Box<dyn crate::schema::TopicSchema>,
    warm_up: &[(String, Vec<u8>)],
    messages: &[(String, Vec<u8>)],
    now: Timestamp,
) -> (Duration, u64) {
    use crate::ingest::{IngestStats, MessageSink, batch_channel};
    let (sender, receiver) = batch_channel();
    let stats = IngestStats::new();
    let mut sink = MessageSink::new(
        schema,
        sender,
        stats.clone(),
        Duration::from_millis(8),
        1024,
    );
    for (topic, payload) in warm_up {
        sink.handle(topic, payload, now);
    }
    sink.flush();
    let started = Instant::now();
    let producing = Arc::new(AtomicBool::new(true));
    let consumer = std::thread::spawn({
        let producing = producing.clone();
        move || {
            let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
            let mut changed = Vec::new();
            // As the viewer's main thread does: whatever waits is applied at once, and an
            // empty channel is looked at again (a frame later there), never slept on: waking a
            // thread that sleeps on the channel costs more than a small batch.
            loop {
                let still_producing = producing.load(Ordering::Acquire);
                let applied = receiver.drain(|batch| {
                    batch.apply_to(&mut store);
                    store.take_changed_into(&mut changed);
                    black_box(&changed);
                });
                if applied == 0 {
                    if !still_producing {
                        break;
                    }
                    std::thread::yield_now();
                }
            }
            // Handed back, not dropped here: freeing the plant is not ingest, and the clock
            // stops when the thread ends.
            store
        }
    });
    for (i, (topic, payload)) in messages.iter().enumerate() {
        look_ahead(
            |topic, stage| sink.look_ahead(topic, stage),
            topics_after(messages, i),
        );
        sink.handle(topic, payload, now);
    }
    sink.flush();
    producing.store(false, Ordering::Release);
    let store = consumer.join();
    let elapsed = started.elapsed();
    drop((sink, store));
    (elapsed, stats.snapshot().coalesced)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_benchmark_builds_the_plant_and_alarms_it_reports() {
        let result = run_tree_benchmark(2, 10, 1);
        assert_eq!((result.twins, result.alarms), (65, 10));
    }

    #[test]
    fn the_seek_benchmark_seeks_and_plays_the_whole_file_once() {
        let dir = std::env::temp_dir();
        let result = run_seek_benchmark(&dir, 40, 45, 5).unwrap();
        assert_eq!(result.messages, 40 * 45);
        assert_eq!(
            result.played as u64, result.messages,
            "forward play applies every message once"
        );
        assert_eq!(result.seeks.len(), 5);
        assert!(result.checkpoints >= 4 && result.replay_rate > 0.0);
    }

    #[test]
    fn the_benchmark_runs_on_a_small_plant() {
        let result = run_ingest_benchmark(1, 2);
        assert_eq!(result.messages, 2 * 33);
        assert!(result.values >= result.messages);
    }
}

/// Figures from the replay benchmark on one generated recording.
#[derive(Debug, Clone)]
pub struct SeekBenchResult {
    pub messages: u64,
    pub file_bytes: u64,
    pub write: Duration,
    /// Opening with an index built by reading the whole file (a file from elsewhere).
    pub open_and_index: Duration,
    /// Opening the same file as twinscope wrote it (its seek index stored in it), and the
    /// first frame's state after that.
    pub open_stored: Duration,
    pub first_frame: Duration,
    /// The stored index's memory once opened (its table), in bytes.
    pub stored_index_bytes: usize,
    /// The recorder's index in memory at the end of the recording, in bytes.
    pub recorder_index_bytes: usize,
    /// The seek index's memory built by reading the file, in bytes, and its checkpoints.
    pub index_bytes: usize,
    pub checkpoints: usize,
    /// Latency of each seek to a random instant.
    pub seeks: Vec<Duration>,
    /// Messages applied and chunks read by each seek: the work, apart from I/O speed.
    pub seek_messages: Vec<usize>,
    pub seek_chunks: Vec<u64>,
    /// Messages applied per second playing forward from the start, at most [`PLAYED`] of the
    /// plant's time, in steps of [`PLAY_STEP`] (what fast play does each frame).
    pub replay_rate: f64,
    /// Messages that forward play applied.
    pub played: usize,
    /// The handle dragged across the whole file at 60 positions a second.
    pub scrub: scrub::ScrubResult,
}

/// Frames of the seek benchmark's scripted scrub: five seconds at 60 Hz, start to end.
pub const SCRUB_FRAMES: usize = 300;

/// Plant time played per step in the seek benchmark's forward play: 120× real time at 60
/// frames per second.
pub const PLAY_STEP: Duration = Duration::from_secs(2);
/// Plant time the seek benchmark plays forward, at most (its rate does not need all of a
/// 10-hour file).
pub const PLAYED: Duration = Duration::from_secs(600);

/// Writes a recording of `signals` signals at 1 Hz for `seconds`, then opens it, seeks to
/// `seeks` random instants (cold: no chunk cached), scrubs it end to end ([`scrub`]) and
/// replays it. The file is deleted afterwards.
pub fn run_seek_benchmark(
    dir: &std::path::Path,
    signals: usize,
    seconds: u64,
    seeks: usize,
) -> Result<SeekBenchResult, crate::mcap::McapError> {
    use crate::mcap::Delivery;
    use crate::replay::{Recording, timestamp_of};
    let path = dir.join(format!(
        "twinscope-seek-bench-{}-{seconds}.mcap",
        std::process::id()
    ));
    let io = |source| crate::mcap::McapError::Io {
        file: path.clone(),
        source,
    };
    let started = Instant::now();
    // Written as twinscope's recorder writes: its seek index kept as it goes and stored in
    // the file at the end.
    let (recorder, _) = crate::record::Recorder::create(&path, vec!["#".into()]).map_err(io)?;
    let (mut recorder, live_index) =
        recorder.with_live_index(&crate::schema::combined::SchemaChoice::replay());
    let topics: Vec<String> = (0..signals)
        .map(|i| format!("te/device/sensor{i}///m/process"))
        .collect();
    let live = Delivery {
        qos: 0,
        retain: false,
    };
    let t0: u64 = 1_700_000_000_000_000_000;
    let mut payload = String::with_capacity(64);
    for second in 0..seconds {
        for (i, topic) in topics.iter().enumerate() {
            payload.clear();
            let _ = write!(
                payload,
                r#"{{"value":{:.3}}}"#,
                50.0 + 10.0 * ((second as f64) * 0.01 + i as f64).sin()
            );
            let time = t0 + second * 1_000_000_000 + i as u64 * (1_000_000_000 / signals as u64);
            crate::ingest::MessageHandler::handle(
                &mut recorder,
                topic,
                payload.as_bytes(),
                live.qos,
                live.retain,
                timestamp_of(time),
            );
        }
    }
    // What the recorder's index holds in memory at the end (its checkpoints wait on disk).
    crate::ingest::MessageHandler::flush(&mut recorder);
    let recorder_index_bytes = live_index
        .recording(&path, crate::schema::combined::SchemaChoice::replay())
        .map(|r| r.index.memory_bytes())
        .unwrap_or(0);
    crate::ingest::MessageHandler::finish(&mut recorder);
    let write = started.elapsed();
    let file_bytes = std::fs::metadata(&path).map_err(io)?.len();

    // Opened as twinscope wrote it: the stored index, then the state at the start.
    let started = Instant::now();
    let mut stored = Recording::open_with(&path, crate::schema::combined::SchemaChoice::replay())?;
    let open_stored = started.elapsed();
    let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
    let start_time = stored.time_range().map(|(s, _)| s).unwrap_or_default();
    stored.state_at(&mut store, start_time)?;
    let first_frame = started.elapsed();
    let stored_index_bytes = stored.index.memory_bytes();
    debug_assert_eq!(stored.index_source, crate::replay::IndexSource::Stored);

    // And as a file from elsewhere: indexed by reading it all.
    let started = Instant::now();
    let mut file = crate::mcap::McapFile::open(&path)?;
    let index = crate::replay::SeekIndex::build(
        &mut file,
        crate::replay::DEFAULT_INTERVAL_NS,
        &crate::schema::combined::SchemaChoice::replay(),
    )?;
    let open_and_index = started.elapsed();
    let (index_bytes, checkpoints) = (index.memory_bytes(), index.checkpoints.len());
    drop(index);
    // Seeks and play use the stored index, as a user opening the file does.
    let mut recording = stored;
    let (start, end) = recording.time_range().unwrap_or_default();
    let mut rng = crate::sim::SeekRng::new(42);
    let mut latencies = Vec::with_capacity(seeks);
    let (mut seek_messages, mut seek_chunks) = (Vec::new(), Vec::new());
    // Each seek builds a fresh store in the room of the one it replaces, as the viewer's do.
    let mut room = crate::twin::Room::default();
    for _ in 0..seeks {
        let at = timestamp_of(
            crate::replay::log_time_of(start)
                + (rng.next_f64()
                    * (crate::replay::log_time_of(end) - crate::replay::log_time_of(start)) as f64)
                    as u64,
        );
        let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default())
            .with_room(std::mem::take(&mut room));
        recording.clear_cache();
        let chunks_before = recording.chunks_read;
        let started = Instant::now();
        seek_messages.push(recording.state_at(&mut store, at)?);
        latencies.push(started.elapsed());
        seek_chunks.push(recording.chunks_read - chunks_before);
        black_box(store.len());
        room = store.into_room();
    }
    let scrub = scrub::scripted_scrub(&recording, SCRUB_FRAMES).map_err(|reason| {
        crate::mcap::McapError::Corrupt {
            file: path.clone(),
            offset: 0,
            reason,
        }
    })?;
    let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
    recording.clear_cache();
    let started = Instant::now();
    let mut position = timestamp_of(crate::replay::log_time_of(start).saturating_sub(1));
    let mut applied = recording.state_at(&mut store, position)?;
    let play_end = Timestamp(end.0.min(start.0.saturating_add(PLAYED.as_micros() as i64)));
    while position < play_end {
        let next = Timestamp(
            position
                .0
                .saturating_add(PLAY_STEP.as_micros() as i64)
                .min(play_end.0),
        );
        applied += recording.advance(&mut store, position, next)?;
        position = next;
    }
    let replay_rate = applied as f64 / started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    Ok(SeekBenchResult {
        messages: (signals as u64) * seconds,
        file_bytes,
        write,
        open_and_index,
        open_stored,
        first_frame,
        stored_index_bytes,
        recorder_index_bytes,
        index_bytes,
        checkpoints,
        seeks: latencies,
        seek_messages,
        seek_chunks,
        replay_rate,
        played: applied,
        scrub,
    })
}

/// What the drill-down panels compute per frame, timed on a generated plant.
#[derive(Debug, Clone)]
pub struct TreeBenchResult {
    pub twins: usize,
    pub alarms: usize,
    /// Median per call.
    pub rollup: Duration,
    pub rows_expanded: Duration,
    pub rows_collapsed: Duration,
    pub search: Duration,
    pub alarm_list: Duration,
    pub alarm_counts: Duration,
}

/// A plant of `lines` lines with `alarms` active device alarms; each step timed `rounds`
/// times, medians reported.
pub fn run_tree_benchmark(lines: usize, alarms: usize, rounds: usize) -> TreeBenchResult {
    use crate::TwinUpdate;
    use crate::twin::tree::{Rollup, search, visible_rows};
    use crate::twin::{EntityKind, Severity};
    let layout = PlantLayout::new(lines);
    let mut store = TwinStore::new(StoreConfig::default(), RuleSet::default());
    let now = Timestamp(1_700_000_000_000_000);
    for twin in &layout.twins {
        let update = TwinUpdate::Register {
            twin: twin.id.as_str().into(),
            implicit: false,
            parent: twin.parent.map(|p| layout.twins[p].id.as_str().into()),
            kind: EntityKind::ChildDevice,
            display_name: Some(twin.name.clone()),
            entity_type: None,
        };
        store.apply(&update, now);
    }
    let severities = [
        Severity::Critical,
        Severity::Major,
        Severity::Minor,
        Severity::Warning,
    ];
    let twins = layout.twins.len();
    for n in 0..alarms {
        let update = TwinUpdate::AlarmRaised {
            twin: layout.twins[n * twins / alarms.max(1)].id.as_str().into(),
            alarm_type: "standing".into(),
            severity: severities[n % 4],
            text: format!("Standing alarm {n}"),
            time: now,
        };
        store.apply(&update, now);
    }
    let median = |mut f: Box<dyn FnMut() + '_>| {
        let times: Vec<Duration> = (0..rounds.max(1))
            .map(|_| {
                let started = Instant::now();
                f();
                started.elapsed()
            })
            .collect();
        median_of(times)
    };
    let mut rollup = Rollup::default();
    let rollup_time = median(Box::new(|| {
        rollup.compute_into(&store);
        black_box(&rollup);
    }));
    let rows_expanded = median(Box::new(|| {
        black_box(visible_rows(&store, |_| true, None));
    }));
    let rows_collapsed = median(Box::new(|| {
        black_box(visible_rows(&store, |i| i.0 == 0, None));
    }));
    let search_time = median(Box::new(|| {
        let result = search(&store, "bearing (drive");
        black_box(visible_rows(&store, |_| true, Some(&result.visible)));
    }));
    let alarm_list = median(Box::new(|| {
        black_box(store.alarm_book().sorted());
    }));
    let alarm_counts = median(Box::new(|| {
        black_box(store.alarm_book().counts());
    }));
    TreeBenchResult {
        twins: store.len(),
        alarms: store.alarm_book().alarms().len(),
        rollup: rollup_time,
        rows_expanded,
        rows_collapsed,
        search: search_time,
        alarm_list,
        alarm_counts,
    }
}
