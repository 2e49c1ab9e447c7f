//! `twinscope bench --archive`: what the archive costs and how fast it zooms.
//!
//! - Size: `signals` signals at 1 Hz for `hours`, a third each smooth (a slow sine with
//!   sensor resolution 0.01), noisy (noise on a level, 0.01) and step (a setpoint that moves
//!   now and then), archived apart so each kind's bytes per value shows; a day's size is
//!   extrapolated from them.
//! - Writing: rows per second through the writer (buffer, sort, encode, write), with the CPU
//!   seconds the process spent.
//! - Zoom: one signal at 1 Hz for `days`: 30 days drawn over 1,000 columns cold (a fresh read
//!   of every file it needs), pans and zooms of it, and the whole span (a year) from rollups.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::archive::layout::DAY_US;
use crate::archive::{
    ArchiveOptions, Archiver, TrendCache, TrendQuery, load_trend, load_trend_cached,
};
use crate::time::Timestamp;
use crate::twin::{PropertyName, TwinId};
use crate::update::TwinUpdate;

/// One kind of signal, as the size benchmark generates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    Smooth,
    Noisy,
    Step,
}

impl SignalKind {
    pub const ALL: [SignalKind; 3] = [SignalKind::Smooth, SignalKind::Noisy, SignalKind::Step];

    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Smooth => "smooth",
            SignalKind::Noisy => "noisy",
            SignalKind::Step => "step",
        }
    }

    /// The value of signal `k` at second `s` (rounded to a sensor's 0.01).
    pub fn value(self, k: u64, s: u64, rng: &mut u64) -> f64 {
        let v = match self {
            SignalKind::Smooth => {
                50.0 + 20.0 * ((s as f64) / (600.0 + k as f64 % 300.0) + k as f64).sin()
            }
            SignalKind::Noisy => 20.0 + (k % 10) as f64 + 2.0 * (next(rng) - 0.5),
            SignalKind::Step => 10.0 * (((s + k * 37) / 900) % 5) as f64 + (k % 3) as f64,
        };
        (v * 100.0).round() / 100.0
    }
}

fn next(state: &mut u64) -> f64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

/// What archiving one kind cost.
#[derive(Debug, Clone)]
pub struct SizeResult {
    pub kind: SignalKind,
    pub values: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub cpu_seconds: f64,
}

impl SizeResult {
    pub fn bytes_per_value(&self) -> f64 {
        self.bytes as f64 / self.values.max(1) as f64
    }
}

/// The process's CPU seconds so far (user + system).
pub fn cpu_seconds() -> f64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // After the command name's closing parenthesis: utime and stime are fields 14 and 15.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let ticks: f64 = fields
            .get(11)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
            + fields
                .get(12)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0);
        ticks / 100.0
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    0.0
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                dir_bytes(&path)
            } else {
                e.metadata().map_or(0, |m| m.len())
            }
        })
        .sum()
}

/// Archives `signals` signals of `kind` at 1 Hz for `seconds` into `root`; measures the raw
/// table's bytes.
pub fn archive_kind(
    root: &Path,
    kind: SignalKind,
    signals: u64,
    seconds: u64,
    start_us: i64,
) -> SizeResult {
    let _ = std::fs::remove_dir_all(root);
    let twins: Vec<TwinId> = (0..signals)
        .map(|k| TwinId::new(&format!("{}-{k:05}", kind.as_str())))
        .collect();
    let property = PropertyName::kept("value");
    let mut archiver = Archiver::open(root, ArchiveOptions::conversion())
        .expect("an archive in a temporary folder");
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let (started, cpu) = (Instant::now(), cpu_seconds());
    let mut batch = Vec::with_capacity(signals as usize);
    for s in 0..seconds {
        let time = Timestamp(start_us + s as i64 * 1_000_000);
        batch.clear();
        for (k, twin) in twins.iter().enumerate() {
            batch.push(TwinUpdate::Measurement {
                twin: twin.clone(),
                name: property.clone(),
                value: kind.value(k as u64, s, &mut rng),
                time,
            });
        }
        archiver.push(&batch, time).expect("archiving");
    }
    archiver.finish().expect("archiving");
    SizeResult {
        kind,
        values: signals * seconds,
        bytes: dir_bytes(&root.join("raw")),
        seconds: started.elapsed().as_secs_f64(),
        cpu_seconds: cpu_seconds() - cpu,
    }
}

/// The zoom figures.
#[derive(Debug, Clone)]
pub struct ZoomResult {
    pub samples: u64,
    pub write_seconds: f64,
    pub month_cold: Duration,
    pub month_level: &'static str,
    pub month_columns: usize,
    pub pans: Vec<Duration>,
    pub zooms: Vec<Duration>,
    pub year_cold: Duration,
    pub year_files: usize,
    pub year_level: &'static str,
    pub root: PathBuf,
    pub from: i64,
    pub to: i64,
}

/// Writes one signal at 1 Hz for `days` (ending at `end_us`), then times trends over it.
pub fn zoom(root: &Path, days: u64, end_us: i64) -> ZoomResult {
    let _ = std::fs::remove_dir_all(root);
    let start = end_us - days as i64 * DAY_US;
    let twin = TwinId::new("pump-1");
    let property = PropertyName::kept("temperature");
    let mut archiver = Archiver::open(root, ArchiveOptions::conversion())
        .expect("an archive in a temporary folder");
    let started = Instant::now();
    let mut batch = Vec::with_capacity(3600);
    let mut rng = 7u64;
    let seconds = days * 86_400;
    for s in 0..seconds {
        batch.push(TwinUpdate::Measurement {
            twin: twin.clone(),
            name: property.clone(),
            value: SignalKind::Smooth.value(1, s, &mut rng)
                + if s % 86_399 == 0 { 30.0 } else { 0.0 },
            time: Timestamp(start + s as i64 * 1_000_000),
        });
        if batch.len() == 3600 {
            archiver.push(&batch, Timestamp(start)).expect("archiving");
            batch.clear();
        }
    }
    archiver.push(&batch, Timestamp(start)).expect("archiving");
    archiver.finish().expect("archiving");
    let write_seconds = started.elapsed().as_secs_f64();
    let query = |from: i64, to: i64| TrendQuery {
        twin: "pump-1".into(),
        property: "temperature".into(),
        from,
        to,
        columns: 1000,
    };
    let month_from = end_us - 30 * DAY_US;
    let t = Instant::now();
    let month = load_trend(root, &query(month_from, end_us));
    let month_cold = t.elapsed();
    let span = end_us - month_from;
    // Dragging and scrolling as the viewer's loader does: one cache for the whole gesture,
    // after a cold first view.
    let mut cache = TrendCache::default();
    std::hint::black_box(load_trend_cached(
        root,
        &query(month_from, end_us),
        &mut cache,
    ));
    let pans = (1..=30)
        .map(|k| {
            let shift = span / 100 * k;
            let t = Instant::now();
            let trend =
                load_trend_cached(root, &query(month_from - shift, end_us - shift), &mut cache);
            std::hint::black_box(trend);
            t.elapsed()
        })
        .collect();
    let zooms = (1..=10)
        .map(|k| {
            let narrow = span - span / 12 * k;
            let t = Instant::now();
            let trend = load_trend_cached(root, &query(end_us - narrow, end_us), &mut cache);
            std::hint::black_box(trend);
            t.elapsed()
        })
        .collect();
    let t = Instant::now();
    let year = load_trend(root, &query(start, end_us));
    let year_cold = t.elapsed();
    ZoomResult {
        samples: seconds,
        write_seconds,
        month_cold,
        month_level: month.level.map_or("nothing", |l| l.as_str()),
        month_columns: month.columns.len(),
        pans,
        zooms,
        year_cold,
        year_files: year.files_read,
        year_level: year.level.map_or("nothing", |l| l.as_str()),
        root: root.to_owned(),
        from: month_from,
        to: end_us,
    }
}
