//! The archive writer: twin updates in, Parquet parts out. Rows are buffered (at most
//! `max_rows`), journaled when live, and sealed into parts on a thread of its own when the
//! buffer is full or an hour has passed; rollups of closed hours follow the seal.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, bounded};

use super::buffer::Buffer;
use super::error::ArchiveError;
use super::journal::Journal;
use super::layout::{Day, Hour, JOURNAL_DIR};
use super::repair::repair;
use super::retention::{Retention, prune};
use super::rollup::refresh_day;
use super::rows::{AlarmRow, Quality, Sample, SeriesKey, TextRow, TwinRow};
use super::seal::{Sealed, seal};
use crate::time::Timestamp;
use crate::update::TwinUpdate;

/// How an archive is written.
#[derive(Debug, Clone)]
pub struct ArchiveOptions {
    /// Rows buffered before a seal: bounds the writer's memory (about 40 bytes a row).
    pub max_rows: usize,
    /// Journal every row (live archiving): a crash loses nothing received.
    pub journal: bool,
    /// An hour's rows are sealed this long after the next hour's data began (late arrivals).
    pub hour_grace_us: i64,
    /// Build the rollups of each hour as it closes (live); otherwise once, at the end (a
    /// conversion: a day's rollups are put together once, not once an hour).
    pub rollups_as_hours_close: bool,
    pub retention: Retention,
}

impl ArchiveOptions {
    /// Live archiving: journaled, sealed a minute into the next hour.
    pub fn live() -> Self {
        ArchiveOptions {
            max_rows: 1_000_000,
            journal: true,
            hour_grace_us: 60_000_000,
            rollups_as_hours_close: true,
            retention: Retention::default(),
        }
    }

    /// Converting recordings: the recording is the journal.
    pub fn conversion() -> Self {
        ArchiveOptions {
            journal: false,
            hour_grace_us: 0,
            rollups_as_hours_close: false,
            ..Self::live()
        }
    }
}

/// What the writer has done, readable from any thread.
#[derive(Debug, Default)]
pub struct ArchiveStats {
    /// Rows in the buffer now.
    pub rows_buffered: AtomicU64,
    pub rows_sealed: AtomicU64,
    pub files: AtomicU64,
    pub bytes: AtomicU64,
    pub seals: AtomicU64,
    /// Problems met (unreadable parts skipped, failed seals); the newest last, at most 20.
    pub warnings: Mutex<Vec<String>>,
}

impl ArchiveStats {
    fn warn(&self, message: String) {
        tracing::warn!("archive: {message}");
        let mut warnings = self.warnings.lock().unwrap_or_else(|p| p.into_inner());
        if warnings.len() >= 20 {
            warnings.remove(0);
        }
        warnings.push(message);
    }

    fn count(&self, sealed: &Sealed) {
        self.rows_sealed.fetch_add(sealed.rows, Ordering::Relaxed);
        self.files
            .fetch_add(sealed.files.len() as u64, Ordering::Relaxed);
        self.bytes.fetch_add(sealed.bytes, Ordering::Relaxed);
        self.seals.fetch_add(1, Ordering::Relaxed);
    }
}

enum Job {
    Seal {
        buffer: Buffer,
        journal: Option<Journal>,
        open_hour: Option<Hour>,
    },
}

/// Archives twin updates under a folder.
pub struct Archiver {
    root: PathBuf,
    options: ArchiveOptions,
    buffer: Buffer,
    journal: Option<Journal>,
    names: HashSet<Arc<str>>,
    /// Each twin's properties' units (looked up by name for every sample, without a key built).
    units: HashMap<Arc<str>, HashMap<Arc<str>, Arc<str>>>,
    /// Each twin's registration as last archived: repeats (retained, at each reconnect) are
    /// not archived again.
    twins: HashMap<Arc<str>, (Option<Arc<str>>, Option<String>, Option<String>)>,
    last_alarm: HashMap<(Arc<str>, Arc<str>), (i64, bool)>,
    oldest_hour: Option<Hour>,
    newest: i64,
    generation: u64,
    jobs: Option<Sender<Job>>,
    sealer: Option<JoinHandle<()>>,
    pub stats: Arc<ArchiveStats>,
}

impl Archiver {
    /// Opens (creating) the archive at `root`: first repairs what a crash left (journals no
    /// live process holds, files half written, stale rollups) and applies retention.
    pub fn open(root: &Path, options: ArchiveOptions) -> Result<Archiver, ArchiveError> {
        std::fs::create_dir_all(root).map_err(|e| ArchiveError::io(root, e))?;
        let stats = Arc::new(ArchiveStats::default());
        for warning in repair(root)? {
            stats.warn(warning);
        }
        for removed in prune(root, Timestamp::now().0, &options.retention) {
            tracing::info!("archive: retention removed {}", removed.display());
        }
        let (jobs, receive) = bounded::<Job>(1);
        let sealer = {
            let (folder, stats, retention) =
                (root.to_owned(), stats.clone(), options.retention.clone());
            let as_hours_close = options.rollups_as_hours_close;
            std::thread::Builder::new()
                .name("archive-seal".into())
                .spawn(move || {
                    let mut days = BTreeSet::new();
                    for job in receive {
                        let Job::Seal {
                            buffer,
                            journal,
                            open_hour,
                        } = job;
                        match seal(&folder, buffer) {
                            Ok(sealed) => {
                                stats.count(&sealed);
                                days.extend(sealed.raw_hours.iter().map(|h| h.day()));
                                if let Some(journal) = journal {
                                    journal.remove();
                                }
                            }
                            // The journal stays: the next start seals it.
                            Err(error) => stats.warn(format!("seal failed: {error}")),
                        }
                        if as_hours_close {
                            refresh_days(&folder, &mut days, open_hour, &stats);
                        }
                        if !retention.is_forever() {
                            prune(&folder, Timestamp::now().0, &retention);
                        }
                    }
                    refresh_days(&folder, &mut days, None, &stats);
                })
                .map_err(|e| ArchiveError::io(root, e))?
        };
        let mut archiver = Archiver {
            root: root.to_owned(),
            options,
            buffer: Buffer::new(String::new()),
            journal: None,
            names: HashSet::new(),
            units: HashMap::new(),
            twins: HashMap::new(),
            last_alarm: HashMap::new(),
            oldest_hour: None,
            newest: i64::MIN,
            generation: 0,
            jobs: Some(jobs),
            sealer: Some(sealer),
            stats,
        };
        archiver.start_generation()?;
        Ok(archiver)
    }

    fn start_generation(&mut self) -> Result<(), ArchiveError> {
        self.generation += 1;
        let id = format!(
            "{}-{}-{}",
            Timestamp::now().0,
            std::process::id(),
            self.generation
        );
        self.journal = if self.options.journal {
            Some(Journal::create(&self.root.join(JOURNAL_DIR), &id)?)
        } else {
            None
        };
        self.buffer = Buffer::new(id);
        self.oldest_hour = None;
        Ok(())
    }

    fn name(&mut self, s: &str) -> Arc<str> {
        if let Some(name) = self.names.get(s) {
            return name.clone();
        }
        let name: Arc<str> = Arc::from(s);
        self.names.insert(name.clone());
        name
    }

    /// Archives a batch of updates (`now` times registrations, which carry no time).
    pub fn push(&mut self, updates: &[TwinUpdate], now: Timestamp) -> Result<(), ArchiveError> {
        for update in updates {
            self.push_one(update, now);
        }
        self.stats
            .rows_buffered
            .store(self.buffer.rows as u64, Ordering::Relaxed);
        self.seal_if_due()
    }

    fn note_time(&mut self, time: i64) {
        self.newest = self.newest.max(time);
        let hour = Hour::of(time);
        self.oldest_hour = Some(self.oldest_hour.map_or(hour, |h| h.min(hour)));
    }

    fn push_one(&mut self, update: &TwinUpdate, now: Timestamp) {
        match update {
            TwinUpdate::Measurement {
                twin,
                name,
                value,
                time,
            } => self.sample(twin.as_str(), name.as_str(), *value, time.0, Quality::Good),
            TwinUpdate::Historical {
                twin,
                name,
                value,
                time,
            } => self.sample(twin.as_str(), name, *value, time.0, Quality::Historical),
            TwinUpdate::Unit { twin, name, unit } => {
                let (twin, property) = (self.name(twin.as_str()), self.name(name));
                self.units
                    .entry(twin)
                    .or_default()
                    .insert(property, unit.clone());
            }
            TwinUpdate::Register {
                twin,
                parent,
                display_name,
                entity_type,
                ..
            } => {
                let twin_name = self.name(twin.as_str());
                let parent = parent.as_ref().map(|p| self.name(p.as_str()));
                let now_seen = (parent.clone(), display_name.clone(), entity_type.clone());
                if self.twins.get(&twin_name) == Some(&now_seen) {
                    return;
                }
                self.twins.insert(twin_name.clone(), now_seen);
                let row = TwinRow {
                    time: now.0,
                    path: self.path_of(&twin_name),
                    twin: twin_name,
                    parent,
                    display_name: display_name.clone(),
                    entity_type: entity_type.clone(),
                };
                self.note_time(row.time);
                if let Some(journal) = &mut self.journal {
                    journal.twin(&row);
                }
                self.buffer.push_twin(row);
            }
            TwinUpdate::Event {
                twin,
                event_type,
                text,
                time,
            } => self.text(
                twin.as_str(),
                event_type.clone(),
                "event",
                Some(text.clone()),
                time.0,
            ),
            TwinUpdate::Fragment { twin, name, value } => {
                let text = value.as_ref().map(|v| v.to_string());
                self.text(twin.as_str(), name.clone(), "fragment", text, now.0)
            }
            TwinUpdate::Health { twin, up, time } => {
                let text = if *up { "up" } else { "down" };
                let property = self.name("health");
                self.text(twin.as_str(), property, "health", Some(text.into()), time.0)
            }
            TwinUpdate::Online { twin, online, time } => {
                let text = if *online { "online" } else { "offline" };
                let property = self.name("online");
                self.text(twin.as_str(), property, "online", Some(text.into()), time.0)
            }
            TwinUpdate::AlarmRaised {
                twin,
                alarm_type,
                severity,
                text,
                time,
            } => self.alarm(
                twin.as_str(),
                alarm_type,
                true,
                Some(severity.as_str()),
                Some(text.clone()),
                time.0,
            ),
            TwinUpdate::AlarmCleared {
                twin,
                alarm_type,
                time,
            } => self.alarm(twin.as_str(), alarm_type, false, None, None, time.0),
        }
    }

    /// The twin's path from the root, by the registrations seen (cycles cut).
    fn path_of(&self, twin: &Arc<str>) -> String {
        let mut chain = vec![twin.clone()];
        let mut at = twin.clone();
        while let Some((Some(parent), _, _)) = self.twins.get(&at) {
            if chain.len() >= 64 || chain.contains(parent) {
                break;
            }
            chain.push(parent.clone());
            at = parent.clone();
        }
        chain.reverse();
        chain.iter().map(|s| &**s).collect::<Vec<_>>().join("/")
    }

    fn sample(&mut self, twin: &str, property: &str, value: f64, time: i64, quality: Quality) {
        let (twin, property) = (self.name(twin), self.name(property));
        let unit = self
            .units
            .get(&*twin)
            .and_then(|units| units.get(&*property))
            .cloned();
        let key = SeriesKey {
            twin,
            property,
            unit,
        };
        let (id, new) = self.buffer.series_id(&key);
        let sample = Sample {
            time,
            value,
            quality,
        };
        if let Some(journal) = &mut self.journal {
            if new {
                journal.series(id, &key);
            }
            journal.sample(id, &sample);
        }
        self.buffer.push_sample(id, sample);
        self.note_time(time);
    }

    fn text(
        &mut self,
        twin: &str,
        property: Arc<str>,
        kind: &'static str,
        text: Option<String>,
        time: i64,
    ) {
        let row = TextRow {
            time,
            twin: self.name(twin),
            property,
            kind,
            text,
        };
        if let Some(journal) = &mut self.journal {
            journal.text(&row);
        }
        self.buffer.push_text(row);
        self.note_time(time);
    }

    fn alarm(
        &mut self,
        twin: &str,
        alarm_type: &Arc<str>,
        raised: bool,
        severity: Option<&'static str>,
        text: Option<String>,
        time: i64,
    ) {
        let twin = self.name(twin);
        let last = self
            .last_alarm
            .insert((twin.clone(), alarm_type.clone()), (time, raised));
        if last == Some((time, raised)) {
            return; // the same transition again (a retained alarm after a reconnect)
        }
        let row = AlarmRow {
            time,
            twin,
            alarm_type: alarm_type.clone(),
            state: if raised { "raised" } else { "cleared" },
            severity,
            text,
        };
        if let Some(journal) = &mut self.journal {
            journal.alarm(&row);
        }
        self.buffer.push_alarm(row);
        self.note_time(time);
    }

    /// Writes the journal's pending block, and seals an hour whose grace has passed (call
    /// about once a second while live).
    pub fn tick(&mut self) -> Result<(), ArchiveError> {
        if let Some(journal) = &mut self.journal {
            journal.flush(true)?;
        }
        self.seal_if_due()
    }

    fn seal_if_due(&mut self) -> Result<(), ArchiveError> {
        if let Some(journal) = &mut self.journal {
            journal.flush(false)?;
        }
        let hour_done = self.oldest_hour.is_some_and(|oldest| {
            Hour::of(self.newest.saturating_sub(self.options.hour_grace_us)) > oldest
        });
        if self.buffer.rows >= self.options.max_rows || hour_done {
            self.seal_now()?;
        }
        Ok(())
    }

    /// Hands the buffer to the sealing thread (waiting while it still seals the previous one:
    /// memory stays at two buffers) and starts a new one.
    pub fn seal_now(&mut self) -> Result<(), ArchiveError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let mut journal = self.journal.take();
        if let Some(journal) = &mut journal {
            journal.flush(true)?;
        }
        let buffer = std::mem::replace(&mut self.buffer, Buffer::new(String::new()));
        let open_hour = (self.newest > i64::MIN).then(|| Hour::of(self.newest));
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(Job::Seal {
                buffer,
                journal,
                open_hour,
            });
        }
        self.start_generation()
    }

    /// Seals what is buffered, waits for every part and rollup to be written, and returns
    /// what was archived.
    pub fn finish(mut self) -> Result<Arc<ArchiveStats>, ArchiveError> {
        self.seal_now()?;
        if let Some(journal) = self.journal.take() {
            journal.remove();
        }
        self.jobs = None;
        if let Some(sealer) = self.sealer.take() {
            let _ = sealer.join();
        }
        Ok(self.stats.clone())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The newest time archived (µs), if any.
    pub fn newest(&self) -> Option<i64> {
        (self.newest > i64::MIN).then_some(self.newest)
    }
}

/// Rebuilds the rollups of `days`, leaving `open_hour` for later.
fn refresh_days(
    root: &Path,
    days: &mut BTreeSet<Day>,
    open_hour: Option<Hour>,
    stats: &ArchiveStats,
) {
    let mut warnings = Vec::new();
    days.retain(|day| {
        if let Err(error) = refresh_day(root, *day, open_hour, &mut warnings) {
            warnings.push(format!("rollup of {} failed: {error}", day.date()));
            return true;
        }
        open_hour.is_some_and(|h| h.day() == *day)
    });
    for warning in warnings {
        stats.warn(warning);
    }
}

impl Drop for Archiver {
    /// Dropped without [`finish`](Archiver::finish) (a panic elsewhere): what is buffered
    /// stays in its journal for the next start.
    fn drop(&mut self) {
        if let Some(journal) = &mut self.journal {
            let _ = journal.flush(true);
        }
        self.jobs = None;
        if let Some(sealer) = self.sealer.take() {
            let _ = sealer.join();
        }
    }
}
