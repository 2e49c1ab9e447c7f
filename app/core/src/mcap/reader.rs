//! Reading MCAP files from any writer: chunked (zstd, lz4 or uncompressed chunks) or not,
//! with a summary or without.
//!
//! A complete file is opened through its footer and summary. A file without one (a recording
//! cut by a crash, a truncated file, or a writer that leaves the summary out) is read by
//! scanning its records from the start; where that stops short, the reader says how much was
//! lost. Messages written outside chunks are grouped into spans that are read like chunks.
//! Nothing in a file makes it panic, and no length in it is allocated before it is checked
//! against the file.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::channels::Channels;
use super::format::{Cursor, FormatError, MAGIC, op, read_string_map};
use super::writer::Delivery;

/// A channel: one topic with its MQTT delivery properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    pub id: u16,
    pub topic: String,
    /// The message encoding (`json`, `protobuf`, …).
    pub encoding: String,
    pub delivery: Delivery,
}

impl ChannelInfo {
    /// Whether twinscope can read its messages: JSON and protobuf (and no declared encoding,
    /// as MQTT payloads carry none). Others (ROS, CDR, CBOR, …) are counted and skipped.
    pub fn readable(&self) -> bool {
        matches!(
            self.encoding.as_str(),
            "json" | "protobuf" | "" | super::writer::TOPIC_IN_MESSAGE
        )
    }

    /// Whether this channel carries many topics, each message its own (see the writer).
    pub fn is_shared(&self) -> bool {
        self.encoding == super::writer::TOPIC_IN_MESSAGE
    }

    /// A message's MQTT topic and payload: the channel's topic and the whole message, or on a
    /// shared channel the topic the message carries and the rest. `None`: a shared channel's
    /// message too short for the topic it announces, or one that is not UTF-8.
    pub fn message<'a>(&'a self, data: &'a [u8]) -> Option<(&'a str, &'a [u8])> {
        self.message_as(self.is_shared(), data)
    }

    /// [`message`](Self::message), told whether the channel is shared.
    pub(crate) fn message_as<'a>(
        &'a self,
        shared: bool,
        data: &'a [u8],
    ) -> Option<(&'a str, &'a [u8])> {
        if !shared {
            return Some((&self.topic, data));
        }
        let length = u16::from_le_bytes(data.get(..2)?.try_into().ok()?) as usize;
        let topic = std::str::from_utf8(data.get(2..2 + length)?).ok()?;
        Some((topic, &data[2 + length..]))
    }
}

/// Where a chunk is and what time it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkInfo {
    pub start_time: u64,
    pub end_time: u64,
    /// Offset of the chunk record in the file (of the first record, for a span).
    pub offset: u64,
    pub length: u64,
    /// A span of records written outside any chunk, read as they are.
    pub unchunked: bool,
}

/// An attachment the summary indexes: where its record is, and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentInfo {
    pub name: String,
    pub media_type: String,
    /// The attachment record's offset and length in the file.
    pub offset: u64,
    pub length: u64,
    /// Where its data starts in the file, and its length.
    pub data_offset: u64,
    pub data_size: u64,
}

/// How a file without a summary was recovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes from the start that hold complete records.
    pub valid_bytes: u64,
    pub file_bytes: u64,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum McapError {
    #[error("{file}: cannot read it: {source}")]
    Io {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: the file is empty")]
    Empty { file: PathBuf },
    #[error("{file}: not an MCAP file (it does not start with the MCAP magic)")]
    NotMcap { file: PathBuf },
    #[error("{file}: corrupt at byte {offset}: {reason}")]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
}

/// An open recording: its channels and chunks, ready for random access.
pub struct McapFile {
    path: PathBuf,
    file: File,
    /// The file's length: no offset or length read from it may reach past this.
    len: u64,
    pub channels: Channels,
    pub chunks: Vec<ChunkInfo>,
    /// The attachments the summary indexes (none in a scanned file).
    pub attachments: Vec<AttachmentInfo>,
    /// Chunks read and decompressed so far (what opening and seeking cost, counted).
    chunks_decompressed: u64,
    /// `Some` when the file had no usable summary and was scanned.
    pub recovery: Option<Recovery>,
}

/// Chunks above this size are refused rather than allocated (a corrupt length field).
const MAX_CHUNK_BYTES: u64 = 1 << 30;

/// What zstd chunks of recorded messages typically expand to, at most, per compressed byte:
/// the output buffer starts that large (one allocation in the common case) and grows past it
/// only as decompressed bytes actually arrive.
const PLAUSIBLE_ZSTD_RATIO: u64 = 32;

/// Messages outside chunks are grouped into spans of about this many bytes, so reading one
/// for a seek costs what reading a chunk does.
const SPAN_BYTES: u64 = 4 << 20;

/// One recorded message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedMessage<'a> {
    pub channel: u16,
    pub log_time: u64,
    pub payload: &'a [u8],
}

impl McapFile {
    /// Whether `path` can be read and starts as an MCAP file does (a quick check before a
    /// long open on another thread).
    pub fn check_magic(path: &Path) -> Result<(), McapError> {
        let mut file = File::open(path).map_err(|source| McapError::Io {
            file: path.to_owned(),
            source,
        })?;
        let mut magic = [0u8; 8];
        match file.read_exact(&mut magic) {
            Ok(()) if &magic == MAGIC => Ok(()),
            _ if file.metadata().is_ok_and(|m| m.len() == 0) => Err(McapError::Empty {
                file: path.to_owned(),
            }),
            _ => Err(McapError::NotMcap {
                file: path.to_owned(),
            }),
        }
    }

    pub fn open(path: &Path) -> Result<Self, McapError> {
        let mut mcap = Self::open_bare(path)?;
        let len = mcap.len;
        match mcap.read_summary(len) {
            // A summary without chunk indexes (an unchunked file) does not say where the
            // messages are: they are found by scanning.
            Ok(true) if !mcap.chunks.is_empty() && mcap.chunk_indexes_hold() => Ok(mcap),
            Ok(_) | Err(_) => {
                mcap.channels.clear();
                mcap.chunks.clear();
                mcap.attachments.clear();
                mcap.scan(len)?;
                Ok(mcap)
            }
        }
    }

    /// The file opened and its magic checked, nothing read yet.
    fn open_bare(path: &Path) -> Result<Self, McapError> {
        let io = |source| McapError::Io {
            file: path.to_owned(),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len == 0 {
            return Err(McapError::Empty {
                file: path.to_owned(),
            });
        }
        let mut magic = [0u8; 8];
        if len < 8 || file.read_exact(&mut magic).is_err() || &magic != MAGIC {
            return Err(McapError::NotMcap {
                file: path.to_owned(),
            });
        }
        Ok(McapFile {
            path: path.to_owned(),
            file,
            len,
            channels: Channels::new(),
            chunks: Vec::new(),
            attachments: Vec::new(),
            chunks_decompressed: 0,
            recovery: None,
        })
    }

    /// Opens a file for replay reading only its channels and attachment indexes when its
    /// summary offsets say where they are: the chunk indexes, which grow with the file (about
    /// 0.6 GB an hour at 20,000 signals), are left unread, and `chunks` stays empty for the
    /// caller to fill from a stored seek index. `Ok(None)`: the file does not allow it (no
    /// summary offsets, no attachments); open it whole instead.
    pub fn open_without_chunk_indexes(path: &Path) -> Result<Option<Self>, McapError> {
        let mut mcap = Self::open_bare(path)?;
        let len = mcap.len;
        Ok(mcap
            .read_channels_and_attachments(len)
            .ok()
            .flatten()
            .map(|()| mcap))
    }

    /// The channel and attachment index groups the summary offsets point at, read alone.
    fn read_channels_and_attachments(&mut self, len: u64) -> Result<Option<()>, FormatError> {
        const FOOTER: u64 = 9 + 20 + 8;
        let err = |e: McapError| FormatError(e.to_string());
        if len < 8 + FOOTER {
            return Ok(None);
        }
        let tail = self.read_at(len - FOOTER, FOOTER).map_err(err)?;
        if &tail[29..] != MAGIC || tail[0] != op::FOOTER {
            return Ok(None);
        }
        let mut footer = Cursor::new(&tail[9..29]);
        let summary_start = footer.u64()?;
        let offsets_start = footer.u64()?;
        if summary_start == 0 || offsets_start <= summary_start || offsets_start >= len - FOOTER {
            return Ok(None);
        }
        let offsets = self
            .read_at(offsets_start, len - FOOTER - offsets_start)
            .map_err(err)?;
        let mut groups = std::collections::HashMap::new();
        let mut cursor = Cursor::new(&offsets);
        while cursor.remaining() > 0 {
            let (opcode, body) = cursor.record()?;
            if opcode == op::SUMMARY_OFFSET {
                let mut fields = Cursor::new(body);
                let group = fields.u8()?;
                let (start, length) = (fields.u64()?, fields.u64()?);
                if start < summary_start || start.saturating_add(length) > offsets_start {
                    return Ok(None);
                }
                groups.insert(group, (start, length));
            }
        }
        let (Some(&(channels_start, channels_len)), Some(&(attachments_start, attachments_len))) =
            (groups.get(&op::CHANNEL), groups.get(&op::ATTACHMENT_INDEX))
        else {
            return Ok(None);
        };
        for (start, length) in [
            (channels_start, channels_len),
            (attachments_start, attachments_len),
        ] {
            let bytes = self.read_at(start, length).map_err(err)?;
            let mut cursor = Cursor::new(&bytes);
            while cursor.remaining() > 0 {
                let (opcode, body) = cursor.record()?;
                keep_channel_or_attachment(
                    (&mut self.channels, &mut self.attachments),
                    opcode,
                    &mut Cursor::new(body),
                    len,
                )?;
            }
        }
        Ok((!self.attachments.is_empty()).then_some(()))
    }

    /// Whether every chunk index points at a chunk record of its length (an index that does
    /// not is not trusted: the file is scanned instead).
    fn chunk_indexes_hold(&mut self) -> bool {
        let chunks = std::mem::take(&mut self.chunks);
        let hold = chunks.iter().all(|chunk| {
            chunk.length >= 9
                && self.read_at(chunk.offset, 9).is_ok_and(|head| {
                    head[0] == op::CHUNK
                        && u64::from_le_bytes(head[1..9].try_into().expect("8 bytes"))
                            == chunk.length - 9
                })
        });
        self.chunks = chunks;
        hold
    }

    /// A file being written, as its writer describes it: its complete chunks and channels
    /// (read without scanning it).
    pub fn from_parts(
        path: &Path,
        chunks: Vec<ChunkInfo>,
        channels: Channels,
    ) -> Result<Self, McapError> {
        let io = |source| McapError::Io {
            file: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        Ok(McapFile {
            path: path.to_owned(),
            file,
            len,
            channels,
            chunks,
            attachments: Vec::new(),
            chunks_decompressed: 0,
            recovery: None,
        })
    }

    /// Chunks read and decompressed so far.
    pub fn chunks_decompressed(&self) -> u64 {
        self.chunks_decompressed
    }

    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Log time of the first and last message (nanoseconds), if there are any.
    pub fn time_range(&self) -> Option<(u64, u64)> {
        let start = self.chunks.iter().map(|c| c.start_time).min()?;
        let end = self.chunks.iter().map(|c| c.end_time).max()?;
        Some((start, end))
    }

    /// Reads `len` bytes at `offset`; a range past the end of the file (a corrupt offset or
    /// length) is an error, never an allocation of the size it claims.
    fn read_at(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, McapError> {
        if offset.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(McapError::Corrupt {
                file: self.path.clone(),
                offset,
                reason: format!(
                    "a record claims {len} bytes at byte {offset}, past the end of the {}-byte file",
                    self.len
                ),
            });
        }
        let io = |source| McapError::Io {
            file: self.path.clone(),
            source,
        };
        self.file.seek(SeekFrom::Start(offset)).map_err(io)?;
        let mut buffer = vec![0u8; len as usize];
        self.file
            .read_exact(&mut buffer)
            .map_err(|source| McapError::Io {
                file: self.path.clone(),
                source,
            })?;
        Ok(buffer)
    }

    /// Reads the footer and summary; `Ok(false)` when the file has none.
    fn read_summary(&mut self, len: u64) -> Result<bool, FormatError> {
        const FOOTER: u64 = 9 + 20 + 8;
        if len < 8 + FOOTER {
            return Ok(false);
        }
        let tail = self
            .read_at(len - FOOTER, FOOTER)
            .map_err(|e| FormatError(e.to_string()))?;
        if &tail[29..] != MAGIC || tail[0] != op::FOOTER {
            return Ok(false);
        }
        let mut footer = Cursor::new(&tail[9..29]);
        let summary_start = footer.u64()?;
        let summary_offset_start = footer.u64()?;
        let summary_crc = footer.u32()?;
        if summary_start == 0 || summary_start >= len - FOOTER {
            return Ok(false);
        }
        let end = if summary_offset_start == 0 {
            len - FOOTER
        } else {
            summary_offset_start
        };
        if end < summary_start || end > len - FOOTER {
            return Ok(false);
        }
        // Read as a stream, in one pass: with thousands of channels the chunk indexes take
        // hundreds of kilobytes per chunk (gigabytes for a long recording), never held whole.
        // The CRC covers the summary through the footer's fields before it: a damaged summary
        // is not trusted (what was parsed is dropped), and the file is scanned instead.
        let io = |e: std::io::Error| FormatError(e.to_string());
        self.file.seek(SeekFrom::Start(summary_start)).map_err(io)?;
        let mut stream =
            std::io::BufReader::with_capacity(1 << 20, (&self.file).take(len - 12 - summary_start));
        let mut crc = crc32fast::Hasher::new();
        let mut position = summary_start;
        let mut body = Vec::new();
        while position < end {
            let mut head = [0u8; 9];
            stream.read_exact(&mut head).map_err(io)?;
            let body_len = u64::from_le_bytes(head[1..9].try_into().expect("8 bytes"));
            if (end - position)
                .checked_sub(9)
                .is_none_or(|room| body_len > room)
            {
                return Err(FormatError(format!(
                    "a summary record at byte {position} claims {body_len} bytes, past the summary"
                )));
            }
            body.clear();
            body.resize(body_len as usize, 0);
            stream.read_exact(&mut body).map_err(io)?;
            crc.update(&head);
            crc.update(&body);
            position += 9 + body_len;
            let mut fields = Cursor::new(&body);
            match head[0] {
                op::CHANNEL | op::ATTACHMENT_INDEX => keep_channel_or_attachment(
                    (&mut self.channels, &mut self.attachments),
                    head[0],
                    &mut fields,
                    len,
                )?,
                op::CHUNK_INDEX => {
                    let start_time = fields.u64()?;
                    let end_time = fields.u64()?;
                    let offset = fields.u64()?;
                    let length = fields.u64()?;
                    self.chunks.push(ChunkInfo {
                        start_time,
                        end_time,
                        offset,
                        length,
                        unchunked: false,
                    });
                }
                _ => {}
            }
        }
        if summary_crc != 0 {
            let mut block = vec![0u8; 1 << 16];
            loop {
                let read = stream.read(&mut block).map_err(io)?;
                if read == 0 {
                    break;
                }
                crc.update(&block[..read]);
            }
            if crc.finalize() != summary_crc {
                return Ok(false);
            }
        }
        self.chunks.sort_by_key(|c| (c.start_time, c.offset));
        Ok(true)
    }

    /// Walks the records from the start, keeping every complete chunk and grouping messages
    /// outside chunks into spans. Stopping short of the data end is a [`Recovery`].
    fn scan(&mut self, len: u64) -> Result<(), McapError> {
        let mut offset = 8u64;
        let mut reason = Some("the file has no summary (recording interrupted?)".to_owned());
        let mut span: Option<ChunkInfo> = None;
        loop {
            if offset + 9 > len {
                if offset < len {
                    reason = Some(format!(
                        "{} trailing bytes are not a complete record",
                        len - offset
                    ));
                }
                break;
            }
            let head = self.read_at(offset, 9)?;
            let opcode = head[0];
            let body_len = u64::from_le_bytes(head[1..9].try_into().expect("8 bytes"));
            if body_len > len - offset - 9 {
                reason = Some(format!(
                    "the record at byte {offset} is cut short (truncated file)"
                ));
                break;
            }
            if opcode == op::DATA_END || opcode == op::FOOTER {
                reason = None;
                break;
            }
            let record_len = 9 + body_len;
            if opcode == op::MESSAGE {
                let body = self.read_at(offset + 9, body_len.min(22))?;
                let Ok(message) = parse_message(&body) else {
                    reason = Some(format!("the message at byte {offset} is damaged"));
                    break;
                };
                match &mut span {
                    Some(open)
                        if open.offset + open.length == offset
                            && open.length + record_len <= SPAN_BYTES.max(record_len) =>
                    {
                        open.length += record_len;
                        open.start_time = open.start_time.min(message.log_time);
                        open.end_time = open.end_time.max(message.log_time);
                    }
                    _ => {
                        self.chunks.extend(span.take());
                        span = Some(ChunkInfo {
                            start_time: message.log_time,
                            end_time: message.log_time,
                            offset,
                            length: record_len,
                            unchunked: true,
                        });
                    }
                }
            } else if opcode == op::CHUNK {
                self.chunks.extend(span.take());
                if body_len > MAX_CHUNK_BYTES {
                    reason = Some(format!(
                        "the chunk at byte {offset} claims {body_len} bytes"
                    ));
                    break;
                }
                let body = self.read_at(offset + 9, body_len)?;
                let mut fields = Cursor::new(&body);
                let (Ok(start_time), Ok(end_time)) = (fields.u64(), fields.u64()) else {
                    reason = Some(format!("the chunk at byte {offset} is damaged"));
                    break;
                };
                let chunk = ChunkInfo {
                    start_time,
                    end_time,
                    offset,
                    length: record_len,
                    unchunked: false,
                };
                match decompress_chunk(&body) {
                    Ok(records) => {
                        for_each_record(&records, |opcode, body| {
                            if opcode == op::CHANNEL
                                && let Ok(channel) = parse_channel(&mut Cursor::new(body))
                            {
                                self.channels.insert(channel.id, channel);
                            }
                        })
                        .ok();
                        self.chunks.push(chunk);
                    }
                    Err(error) => {
                        reason = Some(format!(
                            "the chunk at byte {offset} is damaged: {}",
                            error.0
                        ));
                        break;
                    }
                }
            } else if opcode == op::CHANNEL {
                let body = self.read_at(offset + 9, body_len)?;
                if let Ok(channel) = parse_channel(&mut Cursor::new(&body)) {
                    self.channels.insert(channel.id, channel);
                }
            }
            offset += record_len;
        }
        self.chunks.extend(span);
        // Spans and chunks are read in time order for seeks; a writer may interleave them.
        self.chunks.sort_by_key(|c| (c.start_time, c.offset));
        self.recovery = reason.map(|reason| Recovery {
            valid_bytes: offset,
            file_bytes: len,
            reason,
        });
        Ok(())
    }

    /// The uncompressed records of chunk `index`.
    /// Asks the OS to start reading these chunks now. A seek or a step of play reads several,
    /// and a recording larger than memory comes from the disk: it then fetches the later ones
    /// while the first are decoded. Advice only; where the OS has no such call, nothing.
    pub fn prefetch(&self, chunks: impl IntoIterator<Item = usize>) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        for chunk in chunks {
            if let Some(info) = self.chunks.get(chunk) {
                // Advice that cannot be taken (an odd file system) changes nothing.
                let _ = rustix::fs::fadvise(
                    &self.file,
                    info.offset,
                    std::num::NonZeroU64::new(info.length),
                    rustix::fs::Advice::WillNeed,
                );
            }
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = chunks;
    }

    pub fn chunk_records(&mut self, index: usize) -> Result<Vec<u8>, McapError> {
        let chunk = self.chunks[index].clone();
        if chunk.length > MAX_CHUNK_BYTES + 9 || chunk.length < 9 {
            return Err(self.corrupt(
                chunk.offset,
                format!("chunk length {} is not plausible", chunk.length),
            ));
        }
        let record = self.read_at(chunk.offset, chunk.length)?;
        self.chunks_decompressed += 1;
        if chunk.unchunked {
            return Ok(record);
        }
        if record[0] != op::CHUNK {
            return Err(self.corrupt(
                chunk.offset,
                "the chunk index points at something that is not a chunk".into(),
            ));
        }
        decompress_chunk(&record[9..]).map_err(|e| self.corrupt(chunk.offset, e.0))
    }

    fn corrupt(&self, offset: u64, reason: String) -> McapError {
        McapError::Corrupt {
            file: self.path.clone(),
            offset,
            reason,
        }
    }
}

/// An attachment index record, if its data lies inside its record and the file.
fn parse_attachment_index(
    fields: &mut Cursor<'_>,
    len: u64,
) -> Result<Option<AttachmentInfo>, FormatError> {
    let offset = fields.u64()?;
    let length = fields.u64()?;
    let _log_time = fields.u64()?;
    let _create_time = fields.u64()?;
    let data_size = fields.u64()?;
    let name = fields.string()?;
    let media_type = fields.string()?;
    // The data follows the record's opcode, length, times, name, media type and its own
    // length; it must lie inside the record.
    let data_offset =
        offset.saturating_add(9 + 8 + 8 + 4 + name.len() as u64 + 4 + media_type.len() as u64 + 8);
    let inside = data_offset.saturating_add(data_size).saturating_add(4)
        <= offset.saturating_add(length)
        && offset.saturating_add(length) <= len;
    Ok(inside.then_some(AttachmentInfo {
        name,
        media_type,
        offset,
        length,
        data_offset,
        data_size,
    }))
}

fn parse_channel(fields: &mut Cursor<'_>) -> Result<ChannelInfo, FormatError> {
    let id = fields.u16()?;
    let _schema = fields.u16()?;
    let topic = fields.string()?;
    let encoding = fields.string()?;
    let metadata = read_string_map(fields)?;
    let get = |key: &str| {
        metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let delivery = Delivery {
        qos: get("mqtt.qos").and_then(|q| q.parse().ok()).unwrap_or(0),
        retain: get("mqtt.retain") == Some("true"),
    };
    Ok(ChannelInfo {
        id,
        topic,
        encoding,
        delivery,
    })
}

/// Decompresses a chunk record body and checks its CRC.
fn decompress_chunk(body: &[u8]) -> Result<Vec<u8>, FormatError> {
    let mut fields = Cursor::new(body);
    let _start = fields.u64()?;
    let _end = fields.u64()?;
    let uncompressed_size = fields.u64()?;
    let crc = fields.u32()?;
    let compression = fields.string()?;
    let compressed_len = fields.u64()?;
    let compressed = fields.take(
        usize::try_from(compressed_len).map_err(|_| FormatError("chunk too large".into()))?,
    )?;
    if uncompressed_size > MAX_CHUNK_BYTES {
        return Err(FormatError(format!(
            "chunk claims {uncompressed_size} uncompressed bytes"
        )));
    }
    let records = match compression.as_str() {
        "" => compressed.to_vec(),
        "zstd" => {
            // libzstd (several times faster than a pure-Rust decoder: a seek decompresses a few
            // chunks), streamed into a buffer that grows with what comes out, up to the
            // declared size: a chunk that claims a gigabyte but holds little allocates little.
            use std::io::Read;
            let decoder = zstd::stream::read::Decoder::with_buffer(compressed)
                .map_err(|e| FormatError(format!("zstd: {e}")))?;
            let mut out = Vec::with_capacity(
                uncompressed_size.min(compressed.len() as u64 * PLAUSIBLE_ZSTD_RATIO) as usize,
            );
            decoder
                .take(uncompressed_size + 1)
                .read_to_end(&mut out)
                .map_err(|e| FormatError(format!("zstd: {e}")))?;
            out
        }
        "lz4" => super::lz4::decompress(compressed, uncompressed_size as usize)?,
        other => {
            return Err(FormatError(format!(
                "chunk compression {other:?} is not supported (zstd, lz4 or none)"
            )));
        }
    };
    if records.len() as u64 != uncompressed_size {
        return Err(FormatError(format!(
            "chunk decompressed to {} bytes, expected {uncompressed_size}",
            records.len()
        )));
    }
    if crc != 0 && crc32fast::hash(&records) != crc {
        return Err(FormatError("chunk CRC mismatch".into()));
    }
    Ok(records)
}

/// Calls `visit(opcode, body)` for each record in uncompressed chunk records.
pub fn for_each_record(
    records: &[u8],
    mut visit: impl FnMut(u8, &[u8]),
) -> Result<(), FormatError> {
    let mut cursor = Cursor::new(records);
    while cursor.remaining() > 0 {
        let (opcode, body) = cursor.record()?;
        visit(opcode, body);
    }
    Ok(())
}

/// Calls `visit(offset, message)` for each message in uncompressed chunk records.
pub fn for_each_message(
    records: &[u8],
    mut visit: impl FnMut(usize, RecordedMessage<'_>),
) -> Result<(), FormatError> {
    let mut cursor = Cursor::new(records);
    while cursor.remaining() > 0 {
        let offset = cursor.position();
        let (opcode, body) = cursor.record()?;
        if opcode == op::MESSAGE {
            visit(offset, parse_message(body)?);
        }
    }
    Ok(())
}

/// The message whose record starts at `offset` in uncompressed chunk records.
pub fn message_at(records: &[u8], offset: usize) -> Result<RecordedMessage<'_>, FormatError> {
    let mut cursor = Cursor::new(
        records
            .get(offset..)
            .ok_or_else(|| FormatError("offset past the chunk".into()))?,
    );
    let (opcode, body) = cursor.record()?;
    if opcode != op::MESSAGE {
        return Err(FormatError("not a message record".into()));
    }
    parse_message(body)
}

/// A message record's fields: channel, sequence, log time, publish time, then the payload.
fn parse_message(body: &[u8]) -> Result<RecordedMessage<'_>, FormatError> {
    let mut fields = Cursor::new(body);
    let channel = fields.u16()?;
    let _sequence = fields.u32()?;
    let log_time = fields.u64()?;
    let _publish_time = fields.u64()?;
    Ok(RecordedMessage {
        channel,
        log_time,
        payload: fields.rest(),
    })
}

/// Keeps a summary's channel or attachment index record (others are left alone): both ways
/// of opening a summary read them alike.
fn keep_channel_or_attachment(
    (channels, attachments): (&mut Channels, &mut Vec<AttachmentInfo>),
    opcode: u8,
    fields: &mut Cursor,
    len: u64,
) -> Result<(), FormatError> {
    match opcode {
        op::CHANNEL => {
            let channel = parse_channel(fields)?;
            channels.insert(channel.id, channel);
        }
        op::ATTACHMENT_INDEX => attachments.extend(parse_attachment_index(fields, len)?),
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunk record's body: times, sizes, CRC, compression and the compressed records.
    fn chunk_body(uncompressed_size: u64, compression: &str, compressed: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(1u64.to_le_bytes());
        body.extend(2u64.to_le_bytes());
        body.extend(uncompressed_size.to_le_bytes());
        body.extend(0u32.to_le_bytes());
        body.extend((compression.len() as u32).to_le_bytes());
        body.extend(compression.as_bytes());
        body.extend((compressed.len() as u64).to_le_bytes());
        body.extend(compressed);
        body
    }

    #[test]
    fn zstd_chunks_decompress_whole_and_in_several_frames() {
        let records: Vec<u8> = (0..50_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let one = zstd::bulk::compress(&records, 3).unwrap();
        assert_eq!(
            decompress_chunk(&chunk_body(records.len() as u64, "zstd", &one)).unwrap(),
            records
        );
        // A writer may end a frame and start another inside one chunk.
        let (a, b) = records.split_at(70_000);
        let two = [
            zstd::bulk::compress(a, 1).unwrap(),
            zstd::bulk::compress(b, 1).unwrap(),
        ]
        .concat();
        assert_eq!(
            decompress_chunk(&chunk_body(records.len() as u64, "zstd", &two)).unwrap(),
            records
        );
    }

    #[test]
    fn a_zstd_chunk_claiming_more_than_it_holds_is_an_error() {
        let records = vec![7u8; 1000];
        let compressed = zstd::bulk::compress(&records, 3).unwrap();
        // Half a gigabyte claimed: refused after reading the thousand bytes there are.
        let error = decompress_chunk(&chunk_body(1 << 29, "zstd", &compressed)).unwrap_err();
        assert!(
            error.0.contains("decompressed to 1000 bytes"),
            "{}",
            error.0
        );
        let error = decompress_chunk(&chunk_body(10, "zstd", &compressed)).unwrap_err();
        assert!(
            error.0.contains("decompressed to 11 bytes"),
            "stops one byte past the claim: {}",
            error.0
        );
        assert!(
            decompress_chunk(&chunk_body(
                1000,
                "zstd",
                &compressed[..compressed.len() - 3]
            ))
            .is_err(),
            "truncated"
        );
    }
}
