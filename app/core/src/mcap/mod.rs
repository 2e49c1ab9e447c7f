//! MCAP recordings of MQTT traffic: a writer, a tolerant reader, and repair.
//!
//! Written by hand on the MCAP specification (mcap.dev/spec) rather than with the `mcap` crate:
//! that crate's dependencies change proc-macro features the Bevy build shares, which would
//! double the project's build time; the format itself is small. An independent reader (the
//! `mcap` Python package) checks our files in the end-to-end tests.

mod channels;
mod chunk_indexes;
mod format;
mod lz4;
mod reader;
mod writer;

use std::path::Path;

pub use channels::{ChannelRef, Channels};

/// Where a recording's seek index keeps its finished checkpoints while the recording is
/// written (left there only by a recorder that was killed; `record --repair` removes it).
pub fn seek_index_spill_path(recording: &std::path::Path) -> std::path::PathBuf {
    let mut name = std::ffi::OsString::from(recording.as_os_str());
    name.push(".seek-index");
    std::path::PathBuf::from(name)
}
pub use format::FormatError;
pub use reader::{
    AttachmentInfo, ChannelInfo, ChunkInfo, McapError, McapFile, RecordedMessage, Recovery,
    for_each_message, message_at,
};
pub use writer::{Delivery, McapWriter, SHARED_TOPIC, TOPIC_IN_MESSAGE, WriterStats};

/// What `repair` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairReport {
    pub messages: u64,
    pub chunks: usize,
    /// `None` if the file was complete already (it is left untouched).
    pub recovery: Option<Recovery>,
}

/// Rewrites a recording that has no summary (cut by a crash, truncated) into a complete file,
/// keeping every message of every complete chunk. A complete file is left as it is.
pub fn repair(path: &Path) -> Result<RepairReport, McapError> {
    let mut source = McapFile::open(path)?;
    let Some(recovery) = source.recovery.clone() else {
        return Ok(RepairReport {
            messages: 0,
            chunks: source.chunks.len(),
            recovery: None,
        });
    };
    let io = |source| McapError::Io {
        file: path.to_owned(),
        source,
    };
    // A writer killed mid-recording left its chunk indexes beside the file; the repaired
    // file gets its own.
    let _ = std::fs::remove_file(chunk_indexes::ChunkIndexes::path_beside(path));
    // And the seek index a killed recorder left beside it (the repaired file is indexed when
    // opened).
    let _ = std::fs::remove_file(seek_index_spill_path(path));
    let temporary = path.with_extension("mcap.repairing");
    let mut writer = McapWriter::create(&temporary).map_err(io)?;
    writer.flush_every = std::time::Duration::MAX;
    let mut messages = 0u64;
    for chunk in 0..source.chunks.len() {
        let records = source.chunk_records(chunk)?;
        let mut failed = None;
        for_each_message(&records, |_, message| {
            if failed.is_some() {
                return;
            }
            let Some(channel) = source.channels.get(&message.channel) else {
                return;
            };
            let Some((topic, payload)) = channel.message(message.payload) else {
                return;
            };
            if let Err(error) = writer.write(topic, channel.delivery, payload, message.log_time) {
                failed = Some(error);
            }
            messages += 1;
        })
        .map_err(|e| McapError::Corrupt {
            file: path.to_owned(),
            offset: source.chunks[chunk].offset,
            reason: e.0,
        })?;
        if let Some(error) = failed {
            return Err(io(error));
        }
    }
    let chunks = source.chunks.len();
    writer.finish().map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)?;
    Ok(RepairReport {
        messages,
        chunks,
        recovery: Some(recovery),
    })
}

#[cfg(test)]
mod tests;
