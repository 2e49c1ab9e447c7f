//! The long-range archive against real peers: DuckDB (and pyarrow) read what `twinscope
//! archive` writes and agree with every rollup bucket; a viewer archiving live data under load
//! is killed with SIGKILL mid-hour and loses nothing it had received; the Trends window draws
//! 30 days from the archive (a screenshot to look at).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use twinscope_core::mcap::{Delivery, McapWriter};

use super::support::{Mosquitto, offscreen_viewer, run_twinscope};
use super::{stderr, stdout};

/// Python with DuckDB and pyarrow, or a skip (CI must have them).
fn python_has_duckdb() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import duckdb, pyarrow"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("TWINSCOPE_REQUIRE_INTEROP").is_none(),
            "python3 -m pip install duckdb pyarrow"
        );
        eprintln!("SKIPPED: python3 -m pip install duckdb pyarrow");
    }
    ok
}

fn python(script: &str, args: &[&str]) -> serde_json::Value {
    let output = std::process::Command::new("python3")
        .args(["-c", script])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("archive-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Two and a half hours of a small line at 1 Hz: three parts with two signals each (units
/// from `meta`), registrations with parents, and an alarm raised and cleared.
fn write_recording(path: &Path, t0_seconds: u64) -> u64 {
    let second = 1_000_000_000u64;
    let t0 = t0_seconds * second;
    let mut writer = McapWriter::create(path).unwrap();
    let retained = Delivery {
        qos: 1,
        retain: true,
    };
    let live = Delivery {
        qos: 0,
        retain: false,
    };
    for (id, registration) in [
        ("main", r#"{"@type":"device","type":"plant"}"#.to_owned()),
        (
            "line1",
            r#"{"@type":"child-device","@parent":"te/device/main","type":"line"}"#.to_owned(),
        ),
        (
            "line1-pump1",
            r#"{"@type":"child-device","@parent":"te/device/line1","type":"pump"}"#.to_owned(),
        ),
        (
            "line1-pump1-bearing-de",
            r#"{"@type":"child-device","@parent":"te/device/line1-pump1","type":"bearing"}"#
                .to_owned(),
        ),
        (
            "line1-pump1-bearing-nde",
            r#"{"@type":"child-device","@parent":"te/device/line1-pump1","type":"bearing"}"#
                .to_owned(),
        ),
    ] {
        writer
            .write(
                &format!("te/device/{id}//"),
                retained,
                registration.as_bytes(),
                t0,
            )
            .unwrap();
    }
    let parts = [
        "line1-pump1",
        "line1-pump1-bearing-de",
        "line1-pump1-bearing-nde",
    ];
    for part in parts {
        writer
            .write(
                &format!("te/device/{part}///m/condition/meta"),
                retained,
                br#"{"units":{"temperature":"\u00b0C","vibration":"mm/s"}}"#,
                t0,
            )
            .unwrap();
    }
    let mut values = 0;
    for s in 0..9_000u64 {
        for (k, part) in parts.iter().enumerate() {
            let temperature = 60.0
                + 10.0 * ((s as f64) / 900.0 + k as f64).sin()
                + if s % 1_111 == 0 { 25.0 } else { 0.0 };
            let vibration = ((s * 7 + k as u64 * 13) % 50) as f64 / 10.0;
            let payload = format!(
                r#"{{"temperature":{temperature:.3},"vibration":{vibration:.1},"time":{}}}"#,
                t0_seconds + s
            );
            writer
                .write(
                    &format!("te/device/{part}///m/condition"),
                    live,
                    payload.as_bytes(),
                    t0 + s * second + 1_000,
                )
                .unwrap();
            values += 2;
        }
        if s == 1_800 {
            writer
                .write(
                    "te/device/line1-pump1-bearing-de///a/overheat",
                    retained,
                    br#"{"text":"Bearing hot","severity":"major"}"#,
                    t0 + s * second + 2_000,
                )
                .unwrap();
        }
        if s == 600 {
            writer
                .write(
                    "te/device/line1-pump1///e/maintenance",
                    live,
                    format!(r#"{{"text":"seal replaced","time":{}}}"#, t0_seconds + s).as_bytes(),
                    t0 + s * second + 3_000,
                )
                .unwrap();
        }
        if s == 2_400 {
            writer
                .write(
                    "te/device/line1-pump1-bearing-de///a/overheat",
                    retained,
                    b"",
                    t0 + s * second + 2_000,
                )
                .unwrap();
        }
    }
    writer.finish().unwrap();
    values
}

/// DuckDB reads every table with Hive partitioning, and every bucket of the minute and hour
/// rollups equals DuckDB's own aggregate of the raw rows; pyarrow reads the schema, the sort
/// order and the units; the README's three queries run.
const CHECK_WITH_DUCKDB: &str = r#"
import json, sys, duckdb, pyarrow.parquet as pq, glob
root = sys.argv[1]
con = duckdb.connect()
con.execute("SET TimeZone='UTC'")
def table(name):
    return f"read_parquet('{root}/{name}/**/*.parquet', hive_partitioning = true)"
out = {}
for name in ["raw", "text", "alarms", "twins", "rollup_1m", "rollup_1h"]:
    out[name + "_rows"] = con.execute(f"SELECT count(*) FROM {table(name)}").fetchone()[0]
out["raw_columns"] = [d[0] for d in con.execute(f"SELECT * FROM {table('raw')} LIMIT 1").description]
for name, unit in [("rollup_1m", "minute"), ("rollup_1h", "hour")]:
    buckets, mismatches, examples = con.execute(f"""
        WITH expected AS (
            SELECT twin, property, date_trunc('{unit}', time) AS bucket,
                   min(value) AS mn, max(value) AS mx, avg(value) AS mean, count(*) AS n
            FROM {table('raw')} GROUP BY ALL),
        actual AS (SELECT twin, property, bucket, "min" AS mn, "max" AS mx, "sum" / "count" AS mean, "count" AS n FROM {table(name)})
        SELECT count(*),
               count(*) FILTER (WHERE e.n IS NULL OR a.n IS NULL OR e.mn <> a.mn OR e.mx <> a.mx OR e.n <> a.n
                                OR abs(e.mean - a.mean) > 1e-9 * greatest(1, abs(e.mean))),
               list(struct_pack(twin := coalesce(e.twin, a.twin), bucket := coalesce(e.bucket, a.bucket)::VARCHAR)) FILTER (WHERE e.n IS NULL OR a.n IS NULL OR e.mn <> a.mn OR e.mx <> a.mx OR e.n <> a.n)[1:3]
        FROM expected e FULL OUTER JOIN actual a USING (twin, property, bucket)
    """).fetchone()
    out[name] = {"buckets": buckets, "mismatches": mismatches, "examples": str(examples)}
raw_file = sorted(glob.glob(f"{root}/raw/**/*.parquet", recursive=True))[0]
parquet = pq.ParquetFile(raw_file)
schema = parquet.schema_arrow
out["schema"] = {f.name: str(f.type) for f in schema}
meta = {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()}
out["sort"] = meta.get("twinscope.sort")
out["units"] = json.loads(meta.get("twinscope.units", "{}"))
out["sorting_columns"] = [(c.column_index, c.descending) for c in parquet.metadata.row_group(0).sorting_columns]
out["created_by"] = parquet.metadata.created_by
# The README's queries, on this archive's dates.
out["daily_max"] = con.execute(f"""
    SELECT date_trunc('day', bucket) AS day, max("max") FROM {table('rollup_1h')}
    WHERE twin = 'line1-pump1-bearing-de' AND property = 'temperature' GROUP BY day ORDER BY day""").fetchall().__len__()
out["line_alarms"] = [[str(r[0]), r[1], r[2], r[3]] for r in con.execute(f"""
    SELECT a.time, a.twin, a.alarm_type, a.state FROM {table('alarms')} a
    JOIN (SELECT DISTINCT twin, path FROM {table('twins')}) t USING (twin)
    WHERE t.path LIKE '%/line1/%' ORDER BY a.time""").fetchall()]
out["hottest"] = [r[0] for r in con.execute(f"""
    SELECT twin, max("max") AS hottest FROM {table('rollup_1h')}
    WHERE property = 'temperature' AND twin LIKE '%bearing%' GROUP BY twin ORDER BY hottest DESC LIMIT 5""").fetchall()]
print(json.dumps(out))
"#;

#[test]
fn duckdb_reads_the_archive_and_agrees_with_every_rollup_bucket() {
    let dir = temp_dir("duckdb");
    let recording = dir.join("night.mcap");
    let values = write_recording(&recording, 1_796_086_800); // 2026-12-01T01:00Z
    let archive = dir.join("archive");
    let output = run_twinscope(
        &[
            "archive",
            "--out",
            archive.to_str().unwrap(),
            recording.to_str().unwrap(),
        ],
        Duration::from_secs(120),
    );
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(stdout(&output).contains("archived"), "{}", stdout(&output));
    assert!(!stderr(&output).contains("warning"), "{}", stderr(&output));
    if !python_has_duckdb() {
        return;
    }
    let report = python(CHECK_WITH_DUCKDB, &[archive.to_str().unwrap()]);
    assert_eq!(report["raw_rows"], values, "{report}");
    for table in ["text", "alarms", "twins"] {
        assert!(
            report[format!("{table}_rows")].as_u64().unwrap() > 0,
            "{table}: {report}"
        );
    }
    assert_eq!(
        report["raw_columns"],
        serde_json::json!([
            "time", "twin", "property", "value", "unit", "quality", "date", "hour"
        ]),
        "the Hive partitions read as columns"
    );
    for (table, at_least) in [("rollup_1m", 150 * 6), ("rollup_1h", 3 * 6)] {
        assert_eq!(report[table]["mismatches"], 0, "{table}: {report}");
        assert!(
            report[table]["buckets"].as_u64().unwrap() >= at_least,
            "{table}: {report}"
        );
        assert_eq!(
            report[format!("{table}_rows")],
            report[table]["buckets"],
            "{table}: every bucket, once"
        );
    }
    assert_eq!(
        report["schema"]["time"], "timestamp[us, tz=UTC]",
        "{report}"
    );
    assert_eq!(report["schema"]["value"], "double");
    assert_eq!(report["sort"], "twin,property,time");
    assert_eq!(
        report["sorting_columns"],
        serde_json::json!([[1, false], [2, false], [0, false]])
    );
    assert_eq!(
        report["units"]["line1-pump1-bearing-de"]["temperature"], "°C",
        "{report}"
    );
    assert!(
        report["created_by"]
            .as_str()
            .unwrap()
            .starts_with("twinscope")
    );
    assert_eq!(report["daily_max"], 1);
    let alarms = report["line_alarms"].as_array().unwrap();
    assert_eq!(
        alarms.len(),
        2,
        "raised and cleared, found through the twins' paths: {report}"
    );
    assert_eq!(alarms[0][3], "raised");
    assert_eq!(alarms[1][3], "cleared");
    assert_eq!(report["hottest"].as_array().unwrap().len(), 2, "{report}");

    // Retention: raw data older than a day goes by whole day folders; the rollups are kept
    // ten times as long (the recording is from 2026-12-01).
    let output = run_twinscope(
        &[
            "archive",
            "--out",
            archive.to_str().unwrap(),
            "--keep",
            "1d",
        ],
        Duration::from_secs(60),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let days = |table: &str| {
        std::fs::read_dir(archive.join(table)).map_or(0, |d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("date="))
                .count()
        })
    };
    assert_eq!(days("raw"), 0, "raw days past --keep are deleted");
    assert_eq!(days("alarms"), 0);
    assert_eq!(days("rollup_1h"), 1, "rollups are kept longer");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A viewer archiving a simulated plant (about 2,500 values a second) is killed with
/// SIGKILL; a reference recorder heard the same broker. After a restart every value the
/// reference recorded up to two seconds before the kill is in the archive, and DuckDB reads
/// all of it.
#[test]
fn a_viewer_killed_while_archiving_loses_nothing_it_received() {
    if !python_has_duckdb() {
        return;
    }
    let dir = temp_dir("killed");
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    let archive = dir.join("archive");
    let reference = dir.join("reference.mcap");
    let mut sim = super::support::twinscope()
        .args([
            "sim",
            "--broker",
            &url,
            "--lines",
            "4",
            "--rate",
            "10",
            "--faults-every",
            "5s",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let recorder = super::support::twinscope()
        .args([
            "record",
            "--broker",
            &url,
            "--out",
            reference.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let viewer = offscreen_viewer(&[
        "--broker",
        &url,
        "--archive",
        archive.to_str().unwrap(),
        "--exit-after",
        "120s",
    ]);
    // Until the archive's journal holds a few seconds of data.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let journaled = std::fs::read_dir(archive.join("_journal"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum::<u64>()
            })
            .unwrap_or(0);
        if journaled > 200_000 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(4));
    let killed_at = twinscope_core::Timestamp::now().0;
    let (code, log) = viewer.finish(Duration::ZERO); // SIGKILL
    assert_eq!(code, None, "killed, not exited: {log}");
    let journals = std::fs::read_dir(archive.join("_journal")).unwrap().count();
    assert!(journals >= 1, "the kill left a journal");
    // The restart repairs: the journal is sealed into parts, then archiving goes on.
    let (code, log) = offscreen_viewer(&[
        "--broker",
        &url,
        "--archive",
        archive.to_str().unwrap(),
        "--exit-after",
        "4s",
    ])
    .finish(Duration::from_secs(120));
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("recovered"),
        "the start says what it recovered: {log}"
    );
    assert!(
        std::fs::read_dir(archive.join("_journal")).map_or(0, |d| d.count()) == 0,
        "no journal left after a clean exit"
    );
    // `record` archives too (without --out: archiving only), while the plant runs.
    let recorded_archive = dir.join("recorded-archive");
    let output = run_twinscope(
        &[
            "record",
            "--broker",
            &url,
            "--archive",
            recorded_archive.to_str().unwrap(),
            "--for",
            "3s",
        ],
        Duration::from_secs(60),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("archived"), "{}", stderr(&output));
    let pid = recorder.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let _ = recorder.wait_with_output();
    let _ = sim.kill();
    let _ = sim.wait();
    let reference_archive = dir.join("reference-archive");
    let output = run_twinscope(
        &[
            "archive",
            "--out",
            reference_archive.to_str().unwrap(),
            reference.to_str().unwrap(),
        ],
        Duration::from_secs(120),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let script = r#"
import json, sys, duckdb
live, ref, until = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = duckdb.connect()
def raw(root):
    return f"read_parquet('{root}/raw/**/*.parquet', hive_partitioning = true)"
# From a second after the archive's first value (the reference started earlier) to the kill.
since = con.execute(f"SELECT min(epoch_us(time)) FROM {raw(live)}").fetchone()[0] + 1_000_000
missing, before, first_missing = con.execute(f"""
    SELECT count(*) FILTER (WHERE l.twin IS NULL), count(*), min(epoch_us(r.time)) FILTER (WHERE l.twin IS NULL)
    FROM (SELECT * FROM {raw(ref)} WHERE epoch_us(time) BETWEEN {since} AND {until}) r
    LEFT JOIN (SELECT DISTINCT twin, property, time FROM {raw(live)}) l USING (twin, property, time)""").fetchone()
total = con.execute(f"SELECT count(*) FROM {raw(live)}").fetchone()[0]
alarms = con.execute(f"SELECT count(*) FROM read_parquet('{live}/alarms/**/*.parquet')").fetchone()[0]
recorded = con.execute(f"SELECT count(*) FROM {raw(sys.argv[4])}").fetchone()[0]
print(json.dumps({"missing": missing, "before": before, "total": total, "alarms": alarms, "since": since, "until": until, "first_missing": first_missing, "recorded": recorded}))
"#;
    let report = python(
        script,
        &[
            archive.to_str().unwrap(),
            reference_archive.to_str().unwrap(),
            &(killed_at - 2_000_000).to_string(),
            recorded_archive.to_str().unwrap(),
        ],
    );
    assert!(
        report["recorded"].as_u64().unwrap() > 1_000,
        "record --archive archived the plant: {report}"
    );
    assert!(
        report["before"].as_u64().unwrap() > 10_000,
        "the reference heard the plant: {report}"
    );
    assert_eq!(
        report["missing"], 0,
        "every value received before the kill is archived: {report}"
    );
    assert!(report["total"].as_u64().unwrap() >= report["before"].as_u64().unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The Trends window over 30 days of one signal at 1 Hz, ending now: the viewer reads it
/// from the archive at start (`--trend`) and draws it; the screenshot is kept to look at.
#[test]
fn the_trends_window_draws_a_month_from_the_archive() {
    use twinscope_core::archive::{ArchiveOptions, Archiver};
    use twinscope_core::twin::{PropertyName, TwinId};
    use twinscope_core::update::TwinUpdate;
    let dir = temp_dir("window");
    let archive = dir.join("archive");
    let day = 86_400_000_000i64;
    let end = twinscope_core::Timestamp::now().0;
    let start = end - 30 * day;
    let mut archiver = Archiver::open(&archive, ArchiveOptions::conversion()).unwrap();
    let (twin, property) = (
        TwinId::new("line1-pump1-bearing-de"),
        PropertyName::kept("temperature"),
    );
    let mut batch = Vec::with_capacity(86_400);
    for s in 0..30 * 86_400i64 {
        // Warmer every afternoon, a slow rise over the month, and one spike on day 12.
        let daily = 6.0 * ((s % 86_400) as f64 / 86_400.0 * std::f64::consts::TAU).sin();
        let value = 62.0
            + daily
            + s as f64 / 300_000.0
            + if s == 12 * 86_400 + 40_000 { 30.0 } else { 0.0 };
        batch.push(TwinUpdate::Measurement {
            twin: twin.clone(),
            name: property.clone(),
            value: (value * 100.0).round() / 100.0,
            time: twinscope_core::Timestamp(start + s * 1_000_000),
        });
        if batch.len() == 86_400 {
            archiver
                .push(&batch, twinscope_core::Timestamp(start))
                .unwrap();
            batch.clear();
        }
    }
    archiver
        .push(&batch, twinscope_core::Timestamp(start))
        .unwrap();
    archiver.finish().unwrap();
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots/trends-30-days.png");
    std::fs::create_dir_all(screenshot.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&screenshot);
    let (code, log) = offscreen_viewer(&[
        "--archive",
        archive.to_str().unwrap(),
        "--trend",
        "line1-pump1-bearing-de:temperature",
        "--trend-span",
        "30d",
        "--select",
        "line1-pump1-bearing-de",
        "--window-size",
        "1600x900",
        "--screenshot",
        screenshot.to_str().unwrap(),
        "--exit-after",
        "12s",
    ])
    .finish(Duration::from_secs(120));
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("trend line1-pump1-bearing-de temperature: 1-minute rollups")
            || log.contains("trend line1-pump1-bearing-de temperature: 1-hour rollups"),
        "the month read from rollups: {log}"
    );
    let image = super::support::read_png(&screenshot).expect("the screenshot");
    assert_eq!((image.width, image.height), (1600, 900));
    eprintln!("screenshot: {}", screenshot.display());
    let _ = std::fs::remove_dir_all(&dir);
}
