//! The seek index stored in recordings and kept in the index cache: used without reading the
//! file, seeking exactly as an index built by reading it, and never trusted when damaged.

use super::index_cache::IndexCache;
use super::*;
use crate::ingest::MessageHandler;
use crate::mcap::McapFile;
use crate::record::Recorder;
use crate::report::state_json;
use crate::rules::RuleSet;
use crate::twin::StoreConfig;

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("twinscope-stored-{name}-{}", std::process::id()))
}

fn fresh_store() -> TwinStore {
    TwinStore::new(StoreConfig::default(), RuleSet::default())
}

/// Ten minutes of a plant of 40 twins at 1 Hz, with registrations, alarms raised and cleared
/// and a property now and then, written by twinscope's recorder (so its index is stored).
fn record_plant(path: &std::path::Path) {
    let (recorder, _) = Recorder::create(path, vec!["#".into()]).unwrap();
    let (mut recorder, _) = recorder.with_live_index(&SchemaChoice::replay());
    let t0 = 1_700_000_000_000_000i64;
    for twin in 0..40 {
        recorder.handle(
            &format!("te/device/pump{twin}//"),
            br#"{"@type":"child-device"}"#,
            1,
            true,
            Timestamp(t0),
        );
    }
    for second in 0..600i64 {
        let at = Timestamp(t0 + second * 1_000_000);
        for twin in 0..40 {
            recorder.handle(
                &format!("te/device/pump{twin}///m/"),
                format!(
                    r#"{{"flow":{},"temperature":{}}}"#,
                    second * 40 + twin,
                    (second + twin) % 97
                )
                .as_bytes(),
                0,
                false,
                at,
            );
        }
        if second % 45 == 7 {
            let alarm = format!("te/device/pump{}///a/hot", second % 40);
            let payload: &[u8] = if second % 90 == 7 {
                br#"{"severity":"major","text":"hot"}"#
            } else {
                b""
            };
            recorder.handle(&alarm, payload, 1, true, at);
        }
        if second % 20 == 0 {
            recorder.flush();
        }
    }
    recorder.finish();
}

/// A recording opened with an index built by reading it (the reference).
fn scanned(path: &std::path::Path) -> Recording {
    let mut file = McapFile::open(path).unwrap();
    let index = SeekIndex::build(&mut file, DEFAULT_INTERVAL_NS, &SchemaChoice::replay()).unwrap();
    Recording::from_parts(file, index, SchemaChoice::replay())
}

fn same_state_at_random_instants(stored: &mut Recording, reference: &mut Recording, instants: u64) {
    let (start, end) = reference.time_range().unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..instants {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let at = Timestamp(start.0 + (seed % (end.0 - start.0 + 1) as u64) as i64);
        let (mut a, mut b) = (fresh_store(), fresh_store());
        stored.state_at(&mut a, at).unwrap();
        reference.state_at(&mut b, at).unwrap();
        assert_eq!(state_json(&a, None), state_json(&b, None), "at {at}");
    }
}

#[test]
fn a_recording_twinscope_wrote_opens_from_its_stored_index_without_reading_it() {
    let path = temp("written.mcap");
    record_plant(&path);
    let mut recording = Recording::open(&path).unwrap();
    assert_eq!(
        recording.index_source,
        IndexSource::Stored,
        "{:?}",
        recording.index_note
    );
    assert_eq!(
        recording.file.chunks_decompressed(),
        0,
        "opening read no chunk"
    );
    assert!(recording.index.is_stored());
    assert_eq!(
        recording.file.chunks,
        McapFile::open(&path).unwrap().chunks,
        "the chunk table stored with the index is the summary's (which opening did not read)"
    );
    let mut reference = scanned(&path);
    assert!(reference.file.chunks_decompressed() > 10);
    assert_eq!(
        recording.index.checkpoints.len(),
        reference.index.checkpoints.len()
    );
    assert_eq!(
        recording.index.alarm_transitions, reference.index.alarm_transitions,
        "the timeline's alarm marks"
    );
    assert!(
        recording.index.memory_bytes() * 3 < reference.index.memory_bytes(),
        "the stored index keeps its changes on disk: {} bytes in memory, {} built",
        recording.index.memory_bytes(),
        reference.index.memory_bytes()
    );
    same_state_at_random_instants(&mut recording, &mut reference, 50);
    assert_eq!(
        recording.index_source,
        IndexSource::Stored,
        "still the stored index"
    );
    let _ = std::fs::remove_file(&path);
}

/// Bytes flipped in the stored checkpoints are caught by their CRC at the seek that reads
/// them: the file is indexed by reading it, and the state is still exact. A damaged table is
/// caught at opening.
#[test]
fn damaged_stored_checkpoints_fall_back_to_reading_the_file() {
    let path = temp("damaged.mcap");
    record_plant(&path);
    let file = McapFile::open(&path).unwrap();
    let attachment = file
        .attachments
        .iter()
        .find(|a| a.name == stored::ATTACHMENT_NAME)
        .unwrap()
        .clone();
    let mut bytes = std::fs::read(&path).unwrap();
    // Blobs lie between the 28-byte header and the table (the last part of the data).
    let blobs = attachment.data_offset as usize + 28
        ..attachment.data_offset as usize + attachment.data_size as usize / 2;
    for at in blobs.step_by(97) {
        bytes[at] ^= 0x24;
    }
    let damaged = temp("damaged-blobs.mcap");
    std::fs::write(&damaged, &bytes).unwrap();
    let mut recording = Recording::open(&damaged).unwrap();
    assert_eq!(
        recording.index_source,
        IndexSource::Stored,
        "the table is intact"
    );
    let mut reference = scanned(&path);
    same_state_at_random_instants(&mut recording, &mut reference, 20);
    assert_eq!(
        recording.index_source,
        IndexSource::Built,
        "rebuilt at the first damaged read"
    );
    assert!(
        recording
            .index_note
            .as_deref()
            .unwrap_or("")
            .contains("CRC"),
        "{:?}",
        recording.index_note
    );

    let mut bytes = std::fs::read(&path).unwrap();
    let table = (attachment.data_offset + attachment.data_size - 20) as usize;
    bytes[table] ^= 0x01;
    let cache = IndexCache {
        dir: temp("damaged-cache"),
    };
    std::fs::write(&damaged, &bytes).unwrap();
    let file = McapFile::open(&damaged).unwrap();
    let opened = Recording::open_cached(
        &damaged,
        SchemaChoice::replay(),
        &IndexProgress::default(),
        Some(&cache),
        file,
    )
    .unwrap();
    assert_eq!(opened.index_source, IndexSource::Built);
    assert!(
        opened
            .index_note
            .as_deref()
            .unwrap_or("")
            .contains("not used"),
        "{:?}",
        opened.index_note
    );
    for path in [&path, &damaged] {
        let _ = std::fs::remove_file(path);
    }
    let _ = std::fs::remove_dir_all(&cache.dir);
}

/// A file another tool wrote: indexed by reading it once, then opened from the cache; after
/// it changes, the cached index is not used; a damaged cache entry is rebuilt.
#[test]
fn a_file_from_elsewhere_is_indexed_once_then_opens_from_the_cache() {
    let path = temp("foreign.mcap");
    super::tests::write_recording_for_tests(&path);
    // A file settled a while ago (a file changed in the last two seconds is not cached).
    let age = |path: &std::path::Path, seconds: u64| {
        let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(seconds))
            .unwrap();
    };
    age(&path, 60);
    let cache = IndexCache { dir: temp("cache") };
    let _ = std::fs::remove_dir_all(&cache.dir);
    let open = |path: &std::path::Path| {
        let file = McapFile::open(path).unwrap();
        Recording::open_cached(
            path,
            SchemaChoice::replay(),
            &IndexProgress::default(),
            Some(&cache),
            file,
        )
        .unwrap()
    };
    let first = open(&path);
    assert_eq!(first.index_source, IndexSource::Built);
    assert!(first.file.chunks_decompressed() > 0);
    let mut second = open(&path);
    assert_eq!(second.index_source, IndexSource::Cached);
    assert_eq!(
        second.file.chunks_decompressed(),
        0,
        "the cached index opened without reading the file"
    );
    let mut reference = scanned(&path);
    same_state_at_random_instants(&mut second, &mut reference, 30);

    // The file changes (rewritten with one more message): its old entry is not used.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes).unwrap(); // the same bytes at a new time: a changed file
    assert_eq!(
        open(&path).index_source,
        IndexSource::Built,
        "a file changed just now is not cached"
    );
    age(&path, 30);
    let touched = open(&path);
    assert_eq!(
        touched.index_source,
        IndexSource::Built,
        "a changed file is indexed again"
    );

    // A damaged entry is caught, removed and rebuilt.
    for entry in std::fs::read_dir(&cache.dir).unwrap() {
        let entry = entry.unwrap().path();
        let mut bytes = std::fs::read(&entry).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 0x10;
        std::fs::write(&entry, bytes).unwrap();
    }
    let damaged = open(&path);
    assert_eq!(
        damaged.index_source,
        IndexSource::Built,
        "{:?}",
        damaged.index_note
    );
    assert!(damaged.index_note.is_some());
    assert_eq!(
        open(&path).index_source,
        IndexSource::Cached,
        "and cached again"
    );
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir_all(&cache.dir);
}

/// While a file from elsewhere is indexed by reading it, the recording as far as it is
/// indexed is handed on: each reaches further, and seeks inside it give the exact state.
#[test]
fn a_file_being_indexed_is_usable_as_far_as_indexed() {
    let path = temp("in-steps.mcap");
    // Another writer's file, in many small chunks.
    let mut writer = crate::mcap::McapWriter::create(&path).unwrap();
    writer.chunk_size = 4 * 1024;
    writer.flush_every = std::time::Duration::MAX;
    let live = crate::mcap::Delivery {
        qos: 0,
        retain: false,
    };
    for second in 0..300u64 {
        for twin in 0..20 {
            let payload = format!(r#"{{"flow":{}}}"#, second * 20 + twin);
            writer
                .write(
                    &format!("te/device/pump{twin}///m/"),
                    live,
                    payload.as_bytes(),
                    1_700_000_000_000_000_000 + second * 1_000_000_000,
                )
                .unwrap();
        }
    }
    writer.finish().unwrap();
    let mut partials = Vec::new();
    let mut hand = |recording: Recording| partials.push(recording);
    let full = Recording::open_cached_in_steps(
        &path,
        SchemaChoice::replay(),
        &IndexProgress::default(),
        None,
        McapFile::open(&path).unwrap(),
        Some((std::time::Duration::ZERO, &mut hand)),
    )
    .unwrap();
    assert!(partials.len() >= 2, "{} partial recordings", partials.len());
    let mut reference = scanned(&path);
    let mut reached = Timestamp(0);
    for partial in &mut partials {
        let (start, end) = partial.time_range().unwrap();
        assert!(end > reached, "each reaches further");
        assert!(end <= full.time_range().unwrap().1);
        reached = end;
        let at = Timestamp(start.0 + (end.0 - start.0) * 2 / 3);
        let (mut a, mut b) = (fresh_store(), fresh_store());
        partial.state_at(&mut a, at).unwrap();
        reference.state_at(&mut b, at).unwrap();
        assert_eq!(state_json(&a, None), state_json(&b, None), "at {at}");
    }
    let _ = std::fs::remove_file(&path);
}
