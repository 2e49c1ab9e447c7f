//! `twinscope archive`: recordings into the long-range Parquet archive, retention, repair,
//! and a trend read back as the viewer reads it; and the `--archive DIR` flags the viewer
//! and `record` share.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Instant;

use clap::Args;
use twinscope_core::archive::{
    ArchiveOptions, Archiver, Retention, TrendQuery, archive_recording, load_trend,
};
use twinscope_core::time::Timestamp;

use super::SchemaArgs;

/// Live archiving, as the viewer (and its DVR) and `record` take it.
#[derive(Args, Debug, Clone, Default)]
pub struct ArchiveFlags {
    /// Archive live data as it arrives into this folder (Parquet, Hive-style partitions that
    /// DuckDB, Spark and Polars read), on a connection and thread of its own.
    #[arg(long, value_name = "DIR")]
    pub archive: Option<PathBuf>,
    /// Keep raw archived data this long, e.g. 90d; older days are deleted whole.
    #[arg(long, value_name = "SPAN", requires = "archive")]
    pub archive_keep: Option<String>,
    /// Keep rollups this long, e.g. 5y [default: ten times --archive-keep].
    #[arg(long, value_name = "SPAN", requires = "archive")]
    pub archive_keep_rollups: Option<String>,
}

impl ArchiveFlags {
    /// The live archive's options (an unreadable span is an error naming it).
    pub fn options(&self) -> anyhow::Result<ArchiveOptions> {
        let retention = Retention::parse(
            self.archive_keep.as_deref(),
            self.archive_keep_rollups.as_deref(),
        )
        .map_err(|e| anyhow::anyhow!("--archive-keep: {e}"))?;
        Ok(ArchiveOptions {
            retention,
            ..ArchiveOptions::live()
        })
    }
}

#[derive(Args, Debug)]
pub struct ArchiveArgs {
    /// The archive folder (made if missing).
    #[arg(long, visible_alias = "dir", value_name = "DIR")]
    pub out: PathBuf,
    /// Recordings (MCAP) to convert.
    pub recordings: Vec<PathBuf>,
    #[command(flatten)]
    pub schemas: SchemaArgs,
    /// Delete raw data older than this (e.g. 90d), by whole days.
    #[arg(long, value_name = "SPAN")]
    pub keep: Option<String>,
    /// Delete rollups older than this [default: ten times --keep].
    #[arg(long, value_name = "SPAN")]
    pub keep_rollups: Option<String>,
    /// Print a trend of TWIN's PROPERTY as the viewer draws it (per column: start, min, max,
    /// mean, count), from --from to --to over --columns.
    #[arg(long, num_args = 2, value_names = ["TWIN", "PROPERTY"])]
    pub trend: Option<Vec<String>>,
    /// With --trend: the start, RFC 3339 [default: the archive's first day].
    #[arg(long)]
    pub from: Option<String>,
    /// With --trend: the end, RFC 3339 [default: now].
    #[arg(long)]
    pub to: Option<String>,
    /// With --trend: the plot's width in columns.
    #[arg(long, default_value_t = 1000)]
    pub columns: usize,
}

pub fn run(args: ArchiveArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    super::init_cli_logging();
    let retention = Retention::parse(args.keep.as_deref(), args.keep_rollups.as_deref())
        .map_err(|e| anyhow::anyhow!("--keep: {e}"))?;
    let options = ArchiveOptions {
        retention,
        ..ArchiveOptions::conversion()
    };
    // Opening repairs what a crash left and applies retention.
    let mut archiver = match Archiver::open(&args.out, options) {
        Ok(archiver) => archiver,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let schemas = args.schemas.choice().for_replay();
    let started = Instant::now();
    let mut failed = false;
    for recording in &args.recordings {
        match archive_recording(&mut archiver, recording, &schemas) {
            Ok(converted) => {
                crate::outln!(
                    out,
                    "{}: {} messages, {} updates{}",
                    recording.display(),
                    converted.messages,
                    converted.updates,
                    if converted.damaged_chunks > 0 {
                        format!(", {} damaged chunks skipped", converted.damaged_chunks)
                    } else {
                        String::new()
                    }
                );
            }
            Err(error) => {
                eprintln!("error: {error}");
                failed = true;
            }
        }
    }
    let stats = match archiver.finish() {
        Ok(stats) => stats,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if !args.recordings.is_empty() {
        let rows = stats.rows_sealed.load(Ordering::Relaxed);
        let seconds = started.elapsed().as_secs_f64();
        crate::outln!(
            out,
            "archived {rows} rows into {} files, {:.1} MB, in {seconds:.1} s ({:.0} rows/s) under {}",
            stats.files.load(Ordering::Relaxed),
            stats.bytes.load(Ordering::Relaxed) as f64 / 1e6,
            rows as f64 / seconds.max(1e-9),
            args.out.display()
        );
    }
    for warning in stats
        .warnings
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
    {
        eprintln!("warning: {warning}");
    }
    if let Some(trend) = &args.trend {
        let parse = |text: &Option<String>, default: i64| -> anyhow::Result<i64> {
            match text {
                Some(t) => Timestamp::parse_rfc3339(t)
                    .map(|t| t.0)
                    .ok_or_else(|| anyhow::anyhow!("{t:?} is not an RFC 3339 time")),
                None => Ok(default),
            }
        };
        let first_day =
            twinscope_core::archive::layout::first_day(&args.out).map_or(0, |d| d.start_us());
        let query = TrendQuery {
            twin: trend[0].clone(),
            property: trend[1].clone(),
            from: parse(&args.from, first_day)?,
            to: parse(&args.to, Timestamp::now().0)?,
            columns: args.columns,
        };
        let loaded = load_trend(&args.out, &query);
        for warning in &loaded.warnings {
            eprintln!("warning: {warning}");
        }
        crate::outln!(
            out,
            "# {} {} from {}: {} columns of {} s, {} files read",
            query.twin,
            query.property,
            loaded.level.map_or("nothing", |l| l.as_str()),
            loaded.columns.len(),
            loaded.width as f64 / 1e6,
            loaded.files_read
        );
        crate::outln!(out, "start,min,max,mean,count");
        for c in &loaded.columns {
            crate::outln!(
                out,
                "{},{},{},{},{}",
                Timestamp(c.start),
                c.min,
                c.max,
                c.mean(),
                c.count
            );
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
