//! The seek index stored with a recording: written as an MCAP attachment when twinscope
//! finishes a recording (and into the index cache for files from elsewhere), opened by
//! reading its small table only. Each checkpoint's changes and each keyframe are a blob of
//! their own with a CRC, read when a seek needs it, so opening a 10-hour recording costs its
//! table, not its half a gigabyte of checkpoints.
//!
//! Layout (little-endian), all offsets relative to the start of the data:
//!
//! ```text
//! "TSSEEK01"  table offset u64  table length u64  table CRC u32
//! blobs: changes (kind u8, count u32, keys, refs count u32, refs u16…, CRC u32)
//!        keyframes (count u32, message numbers u64…, CRC u32)
//! table: fingerprint, interval, keyframe spacing, messages, chunk firsts, alarm marks,
//!        what was skipped, checkpoints (time, next, first, keys, blob), keyframe blobs
//! ```
//!
//! The fingerprint ties an index to what it indexes: the recording's chunks (their places,
//! lengths and times) and the schemas it was decoded with (keys come from decoding). Any
//! mismatch, a bad CRC or a value out of bounds is an error: the file is indexed by scanning.

use std::fs::File;
use std::sync::Arc;

use super::blob_store::{Blob, Reader, Store};
use super::index::{
    Changes, Checkpoint, Keyframe, MessageRef, SeekIndex, Skipped, encode_changes, encode_keyframe,
};
use crate::mcap::McapFile;
use crate::schema::combined::SchemaChoice;

const MAGIC: &[u8; 8] = b"TSSEEK01";
const HEADER: u64 = 8 + 8 + 8 + 4;
/// The attachment's name and media type in a recording.
pub const ATTACHMENT_NAME: &str = "twinscope.seek-index";
pub const MEDIA_TYPE: &str = "application/vnd.twinscope.seek-index";

/// What an index must match to be used for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub chunks: u64,
    pub schemas: u64,
}

/// FNV-1a: a hash that stays the same across builds (the index outlives the process).
pub(super) fn fnv(bytes: &[u8], mut hash: u64) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x100_0000_01b3);
    }
    hash
}

pub(super) const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

impl Fingerprint {
    pub fn of(file: &McapFile, schemas: &SchemaChoice) -> Fingerprint {
        Self::of_chunks(&file.chunks, schemas)
    }

    /// Of chunks in the order the index numbers them.
    pub fn of_chunks(chunk_list: &[crate::mcap::ChunkInfo], schemas: &SchemaChoice) -> Fingerprint {
        Fingerprint {
            chunks: chunks_hash(chunk_list),
            schemas: schemas_hash(schemas),
        }
    }
}

/// The hash of a chunk table, in its order.
pub fn chunks_hash(chunk_list: &[crate::mcap::ChunkInfo]) -> u64 {
    {
        let mut chunks = fnv(&(chunk_list.len() as u64).to_le_bytes(), FNV_START);
        for c in chunk_list {
            for v in [
                c.offset,
                c.length,
                c.start_time,
                c.end_time,
                u64::from(c.unchunked),
            ] {
                chunks = fnv(&v.to_le_bytes(), chunks);
            }
        }
        chunks
    }
}

/// The hash of what decoding depends on: the schema kinds and a scene's JSON sources.
pub fn schemas_hash(schemas: &SchemaChoice) -> u64 {
    let described = format!("{:?}|{:?}", schemas.kinds, schemas.json_sources);
    fnv(described.as_bytes(), FNV_START)
}

/// Writes `index` (all of it in memory, as a builder leaves it) in the stored layout.
pub fn encode(
    index: &SeekIndex,
    fingerprint: Fingerprint,
    chunks: &[crate::mcap::ChunkInfo],
) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(1 << 20);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[0u8; (HEADER - 8) as usize]);
    let put_blob = |out: &mut Vec<u8>, body: &[u8]| {
        let offset = out.len() as u64;
        out.extend_from_slice(body);
        out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
        Blob {
            offset,
            len: (body.len() + 4) as u32,
        }
    };
    // Blobs held in memory are encoded; blobs already spilled beside the recording (a
    // recorder's index) are copied, their CRC checked on the way.
    let mut checkpoint_blobs = Vec::with_capacity(index.checkpoints.len());
    for checkpoint in &index.checkpoints {
        let body = match &checkpoint.changes {
            Changes::Held { changed, refs } => encode_changes(changed, refs),
            Changes::Stored(blob) => index.store.as_deref()?.blob(blob).ok()?,
        };
        checkpoint_blobs.push(put_blob(&mut out, &body));
    }
    let mut keyframe_blobs = Vec::with_capacity(index.keyframes.len());
    for keyframe in &index.keyframes {
        let body = match keyframe {
            Keyframe::Held(numbers) => encode_keyframe(numbers),
            Keyframe::Stored(blob) => index.store.as_deref()?.blob(blob).ok()?,
        };
        keyframe_blobs.push(put_blob(&mut out, &body));
    }
    let mut t = Vec::new();
    let u32 = |t: &mut Vec<u8>, v: u32| t.extend_from_slice(&v.to_le_bytes());
    let u64 = |t: &mut Vec<u8>, v: u64| t.extend_from_slice(&v.to_le_bytes());
    let string = |t: &mut Vec<u8>, s: &str| {
        t.extend_from_slice(&(s.len() as u32).to_le_bytes());
        t.extend_from_slice(s.as_bytes());
    };
    u64(&mut t, fingerprint.chunks);
    u64(&mut t, fingerprint.schemas);
    u64(&mut t, index.interval);
    u32(&mut t, index.keyframe_every as u32);
    u64(&mut t, index.messages);
    u32(&mut t, index.chunk_first.len() as u32);
    index.chunk_first.iter().for_each(|v| u64(&mut t, *v));
    u32(&mut t, index.alarm_transitions.len() as u32);
    for (time, raised) in &index.alarm_transitions {
        u64(&mut t, *time);
        t.push(u8::from(*raised));
    }
    let skipped = &index.skipped;
    u64(&mut t, skipped.unreadable_messages);
    u32(&mut t, skipped.unreadable_channels.len() as u32);
    for (topic, encoding) in &skipped.unreadable_channels {
        string(&mut t, topic);
        string(&mut t, encoding);
    }
    u32(&mut t, skipped.damaged_chunks.len() as u32);
    for (chunk, why) in &skipped.damaged_chunks {
        u32(&mut t, *chunk);
        string(&mut t, why);
    }
    u32(&mut t, index.checkpoints.len() as u32);
    for (checkpoint, blob) in index.checkpoints.iter().zip(&checkpoint_blobs) {
        u64(&mut t, checkpoint.time);
        u32(&mut t, checkpoint.next.chunk);
        u32(&mut t, checkpoint.next.offset);
        u64(&mut t, checkpoint.first);
        u32(&mut t, checkpoint.keys);
        u64(&mut t, blob.offset);
        u32(&mut t, blob.len);
    }
    u32(&mut t, keyframe_blobs.len() as u32);
    for blob in &keyframe_blobs {
        u64(&mut t, blob.offset);
        u32(&mut t, blob.len);
    }
    // The chunk table the index numbers chunks by: a file opens from it without reading its
    // summary's chunk indexes.
    u32(&mut t, chunks.len() as u32);
    for c in chunks {
        for v in [c.offset, c.length, c.start_time, c.end_time] {
            u64(&mut t, v);
        }
        t.push(u8::from(c.unchunked));
    }
    let table_offset = out.len() as u64;
    out.extend_from_slice(&t);
    out[8..16].copy_from_slice(&table_offset.to_le_bytes());
    out[16..24].copy_from_slice(&(t.len() as u64).to_le_bytes());
    out[24..28].copy_from_slice(&crc32fast::hash(&t).to_le_bytes());
    Some(out)
}

/// The index twinscope stored in `file` as it finished it, if the file has one: opened as
/// [`open`] opens it.
pub fn open_attached(
    file: &McapFile,
    chunks: Option<u64>,
    schemas: u64,
) -> Option<Result<(SeekIndex, Vec<crate::mcap::ChunkInfo>), String>> {
    let attachment = file
        .attachments
        .iter()
        .find(|a| a.name == ATTACHMENT_NAME)?;
    Some(open(
        file.path(),
        attachment.data_offset,
        attachment.data_size,
        chunks,
        schemas,
        file.len(),
    ))
}

/// Opens the index stored in `path` at `base` (`len` bytes): its table is read and checked
/// against `expected`; changes and keyframes stay on disk until a seek reads them.
pub fn open(
    path: &std::path::Path,
    base: u64,
    len: u64,
    chunks: Option<u64>,
    schemas: u64,
    file_len: u64,
) -> Result<(SeekIndex, Vec<crate::mcap::ChunkInfo>), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let store = Store::new(file, base, len);
    if len < HEADER {
        return Err("the stored index is too short".into());
    }
    let header = store.read(0, HEADER)?;
    if &header[..8] != MAGIC {
        return Err("not a twinscope seek index".into());
    }
    let mut h = Reader::new(&header[8..]);
    let (table_offset, table_len, table_crc) = (h.u64()?, h.u64()?, h.u32()?);
    let table = store.read(table_offset, table_len)?;
    if crc32fast::hash(&table) != table_crc {
        return Err("the stored index's table fails its CRC".into());
    }
    let mut r = Reader::new(&table);
    let found = Fingerprint {
        chunks: r.u64()?,
        schemas: r.u64()?,
    };
    if chunks.is_some_and(|chunks| chunks != found.chunks) {
        return Err("the stored index is of another version of this file".into());
    }
    if found.schemas != schemas {
        return Err("the stored index was made reading other schemas".into());
    }
    let interval = r.u64()?;
    let keyframe_every = (r.u32()? as usize).max(1);
    let messages = r.u64()?;
    // No recording holds more messages than it has bytes.
    if messages > file_len {
        return Err("the stored index claims more messages than the file can hold".into());
    }
    let count = r.u32()? as usize;
    let chunk_first: Vec<u64> = (0..r.bounded(count, 8)?)
        .map(|_| r.u64())
        .collect::<Result<_, _>>()?;
    let count = r.u32()? as usize;
    let alarm_transitions = (0..r.bounded(count, 9)?)
        .map(|_| Ok((r.u64()?, r.u8()? != 0)))
        .collect::<Result<Vec<_>, String>>()?;
    let mut skipped = Skipped {
        unreadable_messages: r.u64()?,
        ..Skipped::default()
    };
    let count = r.u32()? as usize;
    for _ in 0..r.bounded(count, 8)? {
        skipped.unreadable_channels.push((r.string()?, r.string()?));
    }
    let count = r.u32()? as usize;
    for _ in 0..r.bounded(count, 8)? {
        skipped.damaged_chunks.push((r.u32()?, r.string()?));
    }
    let count = r.u32()? as usize;
    let mut checkpoints = Vec::with_capacity(r.bounded(count, 40)?);
    for _ in 0..count {
        let time = r.u64()?;
        let next = MessageRef {
            chunk: r.u32()?,
            offset: r.u32()?,
        };
        let first = r.u64()?;
        let keys = r.u32()?;
        let blob = Blob {
            offset: r.u64()?,
            len: r.u32()?,
        };
        if u64::from(keys) > messages || first > messages {
            return Err("a stored checkpoint out of bounds".into());
        }
        checkpoints.push(Checkpoint {
            time,
            next,
            first,
            keys,
            changes: Changes::Stored(blob),
        });
    }
    let count = r.u32()? as usize;
    let keyframes = (0..r.bounded(count, 12)?)
        .map(|_| {
            Ok(Keyframe::Stored(Blob {
                offset: r.u64()?,
                len: r.u32()?,
            }))
        })
        .collect::<Result<Vec<_>, String>>()?;
    if keyframes.len() != checkpoints.len().div_ceil(keyframe_every) {
        return Err("the stored index's keyframes do not match its checkpoints".into());
    }
    let count = r.u32()? as usize;
    let chunk_table = (0..r.bounded(count, 33)?)
        .map(|_| {
            let (offset, length, start_time, end_time) = (r.u64()?, r.u64()?, r.u64()?, r.u64()?);
            let unchunked = r.u8()? != 0;
            if offset.checked_add(length).is_none_or(|end| end > file_len) {
                return Err("a stored chunk lies past the end of the file".to_owned());
            }
            Ok(crate::mcap::ChunkInfo {
                start_time,
                end_time,
                offset,
                length,
                unchunked,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    if chunks_hash(&chunk_table) != found.chunks {
        return Err("the stored chunk table does not match its fingerprint".into());
    }
    if chunk_first.len() > chunk_table.len() {
        return Err("the stored index numbers more chunks than it lists".into());
    }
    let index = SeekIndex {
        checkpoints,
        keyframes,
        chunk_first,
        keyframe_every,
        interval,
        messages,
        alarm_transitions,
        skipped,
        store: Some(Arc::new(store)),
    };
    Ok((index, chunk_table))
}
