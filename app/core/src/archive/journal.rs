//! The journal of a live archive: every buffered row, appended in checksummed blocks about
//! once a second, so a process killed mid-hour loses nothing it had received. At start a
//! journal no live process holds is replayed into parts and deleted.
//!
//! Layout: a header line `twinscope-archive-journal 1 <generation id>\n`, then blocks of
//! `len: u32 LE, crc32: u32 LE, records`. Replay stops at the first short or damaged block:
//! what came before it is kept.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::buffer::Buffer;
use super::error::ArchiveError;
use super::rows::{AlarmRow, Quality, Sample, SeriesKey, TextRow, TwinRow};

const MAGIC: &str = "twinscope-archive-journal 1 ";
/// A block is written once it holds this much, or at the next tick.
const BLOCK_BYTES: usize = 256 * 1024;
/// The largest block replay accepts: a length field beyond it is damage, not a size.
const MAX_BLOCK: usize = 64 * 1024 * 1024;

const SERIES: u8 = 1;
const SAMPLE: u8 = 2;
const TEXT: u8 = 3;
const ALARM: u8 = 4;
const TWIN: u8 = 5;

/// The journal being appended to, held locked against a second process's replay.
pub struct Journal {
    file: File,
    pub path: PathBuf,
    block: Vec<u8>,
}

impl Journal {
    /// Starts the journal of generation `id` in `dir`.
    pub fn create(dir: &Path, id: &str) -> Result<Journal, ArchiveError> {
        std::fs::create_dir_all(dir).map_err(|e| ArchiveError::io(dir, e))?;
        let path = dir.join(format!("{id}.journal"));
        let mut file = File::create(&path).map_err(|e| ArchiveError::io(&path, e))?;
        lock(&file, true);
        file.write_all(format!("{MAGIC}{id}\n").as_bytes())
            .map_err(|e| ArchiveError::io(&path, e))?;
        Ok(Journal {
            file,
            path,
            block: Vec::with_capacity(BLOCK_BYTES),
        })
    }

    pub fn series(&mut self, id: u32, key: &SeriesKey) {
        self.block.push(SERIES);
        put_u32(&mut self.block, id);
        put_str(&mut self.block, &key.twin);
        put_str(&mut self.block, &key.property);
        put_opt(&mut self.block, key.unit.as_deref());
    }

    pub fn sample(&mut self, id: u32, sample: &Sample) {
        self.block.push(SAMPLE);
        put_u32(&mut self.block, id);
        self.block.extend_from_slice(&sample.time.to_le_bytes());
        self.block.extend_from_slice(&sample.value.to_le_bytes());
        self.block.push(sample.quality as u8);
    }

    pub fn text(&mut self, row: &TextRow) {
        self.block.push(TEXT);
        self.block.extend_from_slice(&row.time.to_le_bytes());
        put_str(&mut self.block, &row.twin);
        put_str(&mut self.block, &row.property);
        put_str(&mut self.block, row.kind);
        put_opt(&mut self.block, row.text.as_deref());
    }

    pub fn alarm(&mut self, row: &AlarmRow) {
        self.block.push(ALARM);
        self.block.extend_from_slice(&row.time.to_le_bytes());
        put_str(&mut self.block, &row.twin);
        put_str(&mut self.block, &row.alarm_type);
        put_str(&mut self.block, row.state);
        put_opt(&mut self.block, row.severity);
        put_opt(&mut self.block, row.text.as_deref());
    }

    pub fn twin(&mut self, row: &TwinRow) {
        self.block.push(TWIN);
        self.block.extend_from_slice(&row.time.to_le_bytes());
        put_str(&mut self.block, &row.twin);
        put_opt(&mut self.block, row.parent.as_deref());
        put_str(&mut self.block, &row.path);
        put_opt(&mut self.block, row.display_name.as_deref());
        put_opt(&mut self.block, row.entity_type.as_deref());
    }

    /// Writes the block if it is big enough (or `force`): a kill after this loses nothing.
    pub fn flush(&mut self, force: bool) -> Result<(), ArchiveError> {
        if self.block.is_empty() || (!force && self.block.len() < BLOCK_BYTES) {
            return Ok(());
        }
        let mut header = [0u8; 8];
        header[..4].copy_from_slice(&(self.block.len() as u32).to_le_bytes());
        header[4..].copy_from_slice(&crc32fast::hash(&self.block).to_le_bytes());
        let path = &self.path;
        self.file
            .write_all(&header)
            .map_err(|e| ArchiveError::io(path, e))?;
        self.file
            .write_all(&self.block)
            .map_err(|e| ArchiveError::io(path, e))?;
        self.block.clear();
        Ok(())
    }

    /// The journal is no longer needed: its rows are in parts.
    pub fn remove(self) {
        let path = self.path.clone();
        drop(self);
        let _ = std::fs::remove_file(path);
    }
}

/// Takes (or tests) the journal's lock: a live writer holds it, so another process's
/// start-up repair leaves that journal alone.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn lock(file: &File, _hold: bool) -> bool {
    use rustix::fs::{FlockOperation, flock};
    flock(file, FlockOperation::NonBlockingLockExclusive).is_ok()
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn lock(_file: &File, _hold: bool) -> bool {
    true
}

/// Whether no live process holds the journal at `path` (it is then ours to replay).
pub fn is_abandoned(path: &Path) -> bool {
    match File::open(path) {
        Ok(file) => lock(&file, false),
        Err(_) => false,
    }
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s.as_bytes());
}

fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
        None => out.push(0),
    }
}

/// A journal read back: the buffer it describes, and whether its end was damaged.
pub struct Replayed {
    pub buffer: Buffer,
    pub damaged_tail: bool,
}

/// Reads a journal back into the buffer it recorded.
pub fn replay(path: &Path) -> Result<Replayed, ArchiveError> {
    let bytes = std::fs::read(path).map_err(|e| ArchiveError::io(path, e))?;
    let newline = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| ArchiveError::damaged(path, "no journal header"))?;
    let header = std::str::from_utf8(&bytes[..newline])
        .map_err(|_| ArchiveError::damaged(path, "journal header is not text"))?;
    let id = header
        .strip_prefix(MAGIC)
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .ok_or_else(|| ArchiveError::damaged(path, "not a twinscope archive journal"))?;
    let mut buffer = Buffer::new(id.to_string());
    let mut rest = &bytes[newline + 1..];
    let mut damaged_tail = false;
    while !rest.is_empty() {
        let Some(block) = next_block(&mut rest) else {
            damaged_tail = true;
            break;
        };
        if read_records(block, &mut buffer).is_none() {
            damaged_tail = true;
            break;
        }
    }
    Ok(Replayed {
        buffer,
        damaged_tail,
    })
}

fn next_block<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    if rest.len() < 8 {
        return None;
    }
    let len = u32::from_le_bytes(rest[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(rest[4..8].try_into().ok()?);
    if len > MAX_BLOCK || rest.len() - 8 < len {
        return None;
    }
    let block = &rest[8..8 + len];
    if crc32fast::hash(block) != crc {
        return None;
    }
    *rest = &rest[8 + len..];
    Some(block)
}

/// Reads one block's records into `buffer`; `None` at anything malformed.
fn read_records(mut block: &[u8], buffer: &mut Buffer) -> Option<()> {
    let mut strings: std::collections::HashMap<Vec<u8>, Arc<str>> = Default::default();
    let mut intern = |s: &str| -> Arc<str> {
        strings
            .entry(s.as_bytes().to_vec())
            .or_insert_with(|| Arc::from(s))
            .clone()
    };
    while !block.is_empty() {
        let tag = take(&mut block, 1)?[0];
        match tag {
            SERIES => {
                let id = take_u32(&mut block)?;
                let twin = intern(take_str(&mut block)?);
                let property = intern(take_str(&mut block)?);
                let unit = take_opt(&mut block)?.map(&mut intern);
                if !buffer.define(
                    id,
                    SeriesKey {
                        twin,
                        property,
                        unit,
                    },
                ) {
                    return None;
                }
            }
            SAMPLE => {
                let id = take_u32(&mut block)?;
                let time = take_i64(&mut block)?;
                let value = f64::from_le_bytes(take(&mut block, 8)?.try_into().ok()?);
                let quality = if take(&mut block, 1)?[0] == 1 {
                    Quality::Historical
                } else {
                    Quality::Good
                };
                if !buffer.push_sample(
                    id,
                    Sample {
                        time,
                        value,
                        quality,
                    },
                ) {
                    return None;
                }
            }
            TEXT => {
                let time = take_i64(&mut block)?;
                let twin = intern(take_str(&mut block)?);
                let property = intern(take_str(&mut block)?);
                let kind = known(
                    take_str(&mut block)?,
                    &["event", "fragment", "health", "online"],
                )?;
                let text = take_opt(&mut block)?.map(str::to_owned);
                buffer.push_text(TextRow {
                    time,
                    twin,
                    property,
                    kind,
                    text,
                });
            }
            ALARM => {
                let time = take_i64(&mut block)?;
                let twin = intern(take_str(&mut block)?);
                let alarm_type = intern(take_str(&mut block)?);
                let state = known(take_str(&mut block)?, &["raised", "cleared"])?;
                let severity = match take_opt(&mut block)? {
                    Some(s) => Some(known(s, &["warning", "minor", "major", "critical"])?),
                    None => None,
                };
                let text = take_opt(&mut block)?.map(str::to_owned);
                buffer.push_alarm(AlarmRow {
                    time,
                    twin,
                    alarm_type,
                    state,
                    severity,
                    text,
                });
            }
            TWIN => {
                let time = take_i64(&mut block)?;
                let twin = intern(take_str(&mut block)?);
                let parent = take_opt(&mut block)?.map(&mut intern);
                let path = take_str(&mut block)?.to_owned();
                let display_name = take_opt(&mut block)?.map(str::to_owned);
                let entity_type = take_opt(&mut block)?.map(str::to_owned);
                buffer.push_twin(TwinRow {
                    time,
                    twin,
                    parent,
                    path,
                    display_name,
                    entity_type,
                });
            }
            _ => return None,
        }
    }
    Some(())
}

fn known(s: &str, names: &[&'static str]) -> Option<&'static str> {
    names.iter().find(|n| **n == s).copied()
}

fn take<'a>(block: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if block.len() < n {
        return None;
    }
    let (head, tail) = block.split_at(n);
    *block = tail;
    Some(head)
}

fn take_u32(block: &mut &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(take(block, 4)?.try_into().ok()?))
}

fn take_i64(block: &mut &[u8]) -> Option<i64> {
    Some(i64::from_le_bytes(take(block, 8)?.try_into().ok()?))
}

fn take_str<'a>(block: &mut &'a [u8]) -> Option<&'a str> {
    let len = take_u32(block)? as usize;
    std::str::from_utf8(take(block, len)?).ok()
}

fn take_opt<'a>(block: &mut &'a [u8]) -> Option<Option<&'a str>> {
    match take(block, 1)?[0] {
        0 => Some(None),
        1 => Some(Some(take_str(block)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: &str) -> SeriesKey {
        SeriesKey {
            twin: "pump".into(),
            property: p.into(),
            unit: Some("°C".into()),
        }
    }

    #[test]
    fn a_journal_replays_what_was_flushed_and_stops_at_a_torn_block() {
        let dir = std::env::temp_dir().join(format!("twinscope-journal-{}", std::process::id()));
        let mut journal = Journal::create(&dir, "g1-7").unwrap();
        journal.series(0, &key("temp"));
        for k in 0..10 {
            journal.sample(
                0,
                &Sample {
                    time: k,
                    value: k as f64,
                    quality: Quality::Good,
                },
            );
        }
        journal.alarm(&AlarmRow {
            time: 3,
            twin: "pump".into(),
            alarm_type: "hot".into(),
            state: "raised",
            severity: Some("major"),
            text: Some("too hot".into()),
        });
        journal.flush(true).unwrap();
        journal.sample(
            0,
            &Sample {
                time: 99,
                value: 1.0,
                quality: Quality::Good,
            },
        );
        journal.flush(true).unwrap();
        let path = journal.path.clone();
        // A kill mid-write: the last block torn.
        let len = std::fs::metadata(&path).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        drop(journal);
        let replayed = replay(&path).unwrap();
        assert!(replayed.damaged_tail);
        assert_eq!(replayed.buffer.id, "g1-7");
        assert_eq!(
            replayed.buffer.series[0].1.len(),
            10,
            "the whole first block"
        );
        assert_eq!(replayed.buffer.alarms.len(), 1);
        // A flipped byte in a block is caught by its checksum.
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let replayed = replay(&path).unwrap();
        assert!(replayed.damaged_tail && replayed.buffer.rows == 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
