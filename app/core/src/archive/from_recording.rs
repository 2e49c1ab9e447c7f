//! Converting recordings: each MCAP file's messages decoded through the same schemas as live
//! data, in file order, into the archive.

use std::path::Path;

use super::error::ArchiveError;
use super::writer::Archiver;
use crate::mcap::{McapFile, for_each_message};
use crate::replay::{decode_recorded, timestamp_of};
use crate::schema::combined::SchemaChoice;

/// What one recording gave the archive.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Converted {
    pub messages: u64,
    pub updates: u64,
    /// Chunks that could not be read (named in the archiver's warnings).
    pub damaged_chunks: u64,
}

/// Archives every message of the recording at `path`.
pub fn archive_recording(
    archiver: &mut Archiver,
    path: &Path,
    schemas: &SchemaChoice,
) -> Result<Converted, ArchiveError> {
    let mut file = McapFile::open(path).map_err(|e| ArchiveError::damaged(path, e.to_string()))?;
    let mut schema = schemas.build();
    let mut converted = Converted::default();
    let mut updates = Vec::new();
    let mut failed = None;
    for chunk in 0..file.chunks.len() {
        let records = match file.chunk_records(chunk) {
            Ok(records) => records,
            Err(error) => {
                tracing::warn!("{}: chunk {chunk} skipped: {error}", path.display());
                converted.damaged_chunks += 1;
                continue;
            }
        };
        let channels = &file.channels;
        let mut last_time = crate::time::Timestamp(0);
        let walked = for_each_message(&records, |_, message| {
            let Some(channel) = channels.lookup(message.channel).filter(|c| c.readable) else {
                return;
            };
            let Some(message_parts) = channel.message(message.payload) else {
                return;
            };
            converted.messages += 1;
            let time = timestamp_of(message.log_time);
            last_time = time;
            let start = updates.len();
            if decode_recorded(&mut schema, channel, message_parts, time, &mut updates).is_err() {
                updates.truncate(start);
            }
            if updates.len() >= 4096 {
                converted.updates += updates.len() as u64;
                if let Err(error) = archiver.push(&updates, time) {
                    failed.get_or_insert(error);
                }
                updates.clear();
            }
        });
        if walked.is_err() {
            converted.damaged_chunks += 1;
        }
        converted.updates += updates.len() as u64;
        archiver.push(&updates, last_time)?;
        updates.clear();
        if let Some(error) = failed.take() {
            return Err(error);
        }
    }
    Ok(converted)
}
