//! Recordings from other writers: Foxglove's Python `mcap` writer, in every layout it offers
//! (chunked with zstd, lz4 or no compression, unchunked, with and without a summary), with a
//! channel in an encoding twinscope does not read. Each replays to the same state.

use std::time::Duration;

use super::support::run_twinscope;
use super::{python_has_mcap, stderr, stdout};

/// Writes one file per layout: two minutes of a pump's temperature (one message a second),
/// a major alarm raised at 30 s, and ten messages on a CDR-encoded camera topic.
const WRITE_FILES: &str = r#"
import json, sys
from mcap.writer import Writer, CompressionType, IndexType
layouts = {
    "chunked-zstd": dict(compression=CompressionType.ZSTD),
    "chunked-lz4": dict(compression=CompressionType.LZ4),
    "chunked-none": dict(compression=CompressionType.NONE),
    "unchunked": dict(use_chunking=False),
    "unchunked-no-summary": dict(use_chunking=False, index_types=IndexType.NONE, repeat_channels=False, repeat_schemas=False, use_statistics=False, use_summary_offsets=False),
    "lz4-no-summary": dict(compression=CompressionType.LZ4, index_types=IndexType.NONE, repeat_channels=False, repeat_schemas=False, use_statistics=False, use_summary_offsets=False),
}
start = 1_700_000_000 * 10**9
for name, options in layouts.items():
    with open(f"{sys.argv[1]}/{name}.mcap", "wb") as f:
        writer = Writer(f, chunk_size=2048, **options)
        writer.start(profile="", library="python test")
        measurements = writer.register_channel(topic="te/device/pump1///m/", message_encoding="json", schema_id=0)
        alarms = writer.register_channel(topic="te/device/pump1///a/hot", message_encoding="json", schema_id=0)
        camera = writer.register_channel(topic="/camera/points", message_encoding="cdr", schema_id=0)
        for second in range(120):
            t = start + second * 10**9
            writer.add_message(channel_id=measurements, log_time=t, publish_time=t, data=json.dumps({"temperature": second}).encode())
            if second == 30:
                writer.add_message(channel_id=alarms, log_time=t, publish_time=t, data=b'{"text":"Hot","severity":"major"}')
            if second % 12 == 0:
                writer.add_message(channel_id=camera, log_time=t, publish_time=t, data=bytes(range(64)))
        writer.finish()
"#;

/// Writes [`WRITE_FILES`]'s recordings into `dir`.
fn write_files(dir: &std::path::Path) {
    let python = std::process::Command::new("python3")
        .args(["-c", WRITE_FILES])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        python.status.success(),
        "the python writer failed: {}",
        String::from_utf8_lossy(&python.stderr)
    );
}

#[test]
fn recordings_from_the_python_mcap_writer_replay_in_every_layout() {
    if !python_has_mcap() {
        assert!(
            std::env::var_os("TWINSCOPE_REQUIRE_INTEROP").is_none(),
            "python3 -m pip install mcap zstandard lz4"
        );
        eprintln!("SKIPPED: python3 -m pip install mcap zstandard lz4");
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("foreign-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    write_files(&dir);
    for layout in [
        "chunked-zstd",
        "chunked-lz4",
        "chunked-none",
        "unchunked",
        "unchunked-no-summary",
        "lz4-no-summary",
    ] {
        let file = dir.join(format!("{layout}.mcap"));
        let file = file.to_str().unwrap();
        for (at, temperature) in [(None, 119.0), (Some("60s"), 60.0), (Some("5s"), 5.0)] {
            let mut args = vec!["state", "--replay", file, "--json"];
            args.extend(at.iter().flat_map(|at| ["--at", *at]));
            let output = run_twinscope(&args, Duration::from_secs(30));
            assert!(output.status.success(), "{layout}: {}", stderr(&output));
            let report: serde_json::Value = serde_json::from_slice(&output.stdout)
                .unwrap_or_else(|e| panic!("{layout}: {e}: {}", stdout(&output)));
            let pump = report["twins"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["id"] == "pump1")
                .unwrap_or_else(|| panic!("{layout}: no pump1 in {report}"));
            let value = pump["properties"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == "temperature")
                .map(|p| p["value"].as_f64().unwrap());
            assert_eq!(value, Some(temperature), "{layout} at {at:?}");
            assert_eq!(
                pump["status"] == "alarm",
                temperature >= 30.0,
                "{layout} at {at:?}: the alarm raised at 30 s: {pump}"
            );
            let replay = &report["replay"];
            assert_eq!(
                replay["recovered"], false,
                "{layout}: a complete file, nothing lost"
            );
            assert_eq!(
                replay["skipped"]["unreadable_messages"], 10,
                "{layout}: the camera's CDR messages are counted, not fatal"
            );
            assert_eq!(
                replay["skipped"]["unreadable_channels"][0]["encoding"],
                "cdr"
            );
            assert_eq!(replay["skipped"]["damaged_chunks"], 0, "{layout}");
            assert!(
                stderr(&output).contains("/camera/points (cdr)"),
                "{layout}: the user is told what was skipped: {}",
                stderr(&output)
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A file from another writer is indexed by reading it once; its index is kept in the index
/// cache and the next opening reads only that (the same state); a changed file or a damaged
/// entry is indexed again, never trusted. Also for a file without a summary.
#[test]
fn a_foreign_recording_is_indexed_once_and_reopens_from_the_index_cache() {
    if !python_has_mcap() {
        assert!(
            std::env::var_os("TWINSCOPE_REQUIRE_INTEROP").is_none(),
            "python3 -m pip install mcap zstandard lz4"
        );
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("foreign-cache-{}", std::process::id()));
    let cache = dir.join("cache");
    std::fs::create_dir_all(&dir).unwrap();
    write_files(&dir);
    // Settled files (one changed in the last two seconds is never cached).
    let settle = |path: &std::path::Path, seconds: u64| {
        let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        file.set_modified(std::time::SystemTime::now() - Duration::from_secs(seconds))
            .unwrap();
    };
    let state = |path: &std::path::Path| {
        let output = super::support::twinscope()
            .args([
                "state",
                "--replay",
                path.to_str().unwrap(),
                "--at",
                "60s",
                "--json",
            ])
            .env("TWINSCOPE_INDEX_CACHE", &cache)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let pump = report["twins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == "pump1")
            .cloned()
            .unwrap();
        (
            report["replay"]["index"].as_str().unwrap().to_owned(),
            report["replay"]["index_note"].clone(),
            pump.to_string(),
        )
    };
    for layout in ["chunked-zstd", "lz4-no-summary"] {
        let file = dir.join(format!("{layout}.mcap"));
        settle(&file, 60);
        let (first, _, pump) = state(&file);
        assert_eq!(first, "built", "{layout}: indexed by reading it");
        let (second, _, again) = state(&file);
        assert_eq!(second, "cached", "{layout}: reopened from the cache");
        assert_eq!(pump, again, "{layout}: the same state");
        // Changed since (rewritten): its old entry is not used.
        std::fs::write(&file, std::fs::read(&file).unwrap()).unwrap();
        settle(&file, 30);
        assert_eq!(
            state(&file).0,
            "built",
            "{layout}: a changed file is indexed again"
        );
    }
    // A damaged entry is detected, rebuilt and said so.
    for entry in std::fs::read_dir(&cache).unwrap() {
        let entry = entry.unwrap().path();
        let mut bytes = std::fs::read(&entry).unwrap();
        let at = bytes.len() - 5;
        bytes[at] ^= 0x40;
        std::fs::write(&entry, bytes).unwrap();
    }
    let (source, note, _) = state(&dir.join("chunked-zstd.mcap"));
    assert_eq!(source, "built");
    assert!(note.as_str().unwrap_or("").contains("not used"), "{note}");
    assert_eq!(
        state(&dir.join("chunked-zstd.mcap")).0,
        "cached",
        "and cached again"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
