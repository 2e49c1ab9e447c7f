//! Writing MCAP: one channel per (topic, QoS, retain), messages in zstd chunks each followed by
//! its message indexes, and a summary (channels, statistics, chunk indexes) at the end. The
//! chunk indexes wait on disk until then (see `chunk_indexes`).
//!
//! MCAP's channel ids are 16-bit, and a plant of 40,000 twins publishes on more topics than
//! that. Past [`McapWriter::topic_channels`] topics, messages go to a shared channel per
//! delivery (topic [`SHARED_TOPIC`], encoding [`TOPIC_IN_MESSAGE`]), each carrying its topic
//! (see [`ChannelInfo::message`]): nothing is left out, and other tools still read the file.
//!
//! Crash safety: a chunk is written and flushed at least every [`McapWriter::flush_every`],
//! so a recording cut by `kill -9` or power loss keeps everything up to the last chunk; the
//! reader recovers such a file by scanning, and `record --repair` appends the summary.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use super::chunk_indexes::ChunkIndexes;
use super::format::{Fields, MAGIC, op, put_record};
use super::reader::{ChannelInfo, ChunkInfo};

/// A message's MQTT delivery properties, kept as channel metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Delivery {
    pub qos: u8,
    pub retain: bool,
}

/// Counters for progress lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub messages: u64,
    pub bytes_written: u64,
    pub chunks: u64,
    pub channels: u64,
}

/// Channel ids are 16-bit in MCAP.
const MAX_CHANNELS: usize = u16::MAX as usize;

/// Channel ids kept for the shared channels, one per delivery (QoS 0–2, retained or not).
const SHARED_CHANNELS: usize = 6;

/// The topic of a channel that carries many topics: MQTT's "any topic" filter, which no message
/// is published on.
pub const SHARED_TOPIC: &str = "#";

/// The message encoding of a channel that carries many topics: each message is its topic's
/// length (u16, little-endian), the topic (UTF-8), then the MQTT payload.
pub const TOPIC_IN_MESSAGE: &str = "twinscope.topic+payload";

/// The id of the Sparkplug B schema in recordings.
const SPARKPLUG_SCHEMA: u16 = 1;

/// A channel record's body: the MQTT delivery goes into its metadata.
fn channel_record(
    id: u16,
    schema_id: u16,
    topic: &str,
    encoding: &str,
    delivery: Delivery,
) -> Vec<u8> {
    let qos = delivery.qos.to_string();
    let mut body = Fields::default();
    body.u16(id)
        .u16(schema_id)
        .string(topic)
        .string(encoding)
        .string_map(&[
            ("mqtt.qos", qos.as_str()),
            (
                "mqtt.retain",
                if delivery.retain { "true" } else { "false" },
            ),
        ]);
    body.0
}

pub struct McapWriter {
    out: BufWriter<File>,
    position: u64,
    /// Channel ids by topic, then by delivery (a topic has one or a few): looked up by the
    /// topic as received, without allocating a key per message.
    channels: std::collections::HashMap<String, Vec<(Delivery, u16)>>,
    /// The shared channels (topics past `topic_channels`) by delivery.
    shared: Vec<(Delivery, u16)>,
    /// The Sparkplug B protobuf schema (id 1), once a Sparkplug channel needs it.
    sparkplug_schema: Option<Vec<u8>>,
    /// Running over the summary while `finish` writes it.
    summary_crc: Option<crc32fast::Hasher>,
    /// With `keep_flushed`, each chunk written (where it is, its uncompressed records) waits
    /// here for [`take_flushed`](Self::take_flushed): an index built beside the recording.
    pub keep_flushed: bool,
    flushed: Vec<(ChunkInfo, Vec<u8>)>,
    channel_records: Vec<Vec<u8>>,
    sequences: Vec<u32>,
    channel_counts: Vec<u64>,
    chunk: Vec<u8>,
    chunk_start: u64,
    chunk_end: u64,
    /// The open chunk's message indexes: each channel's (log time, offset) pairs.
    message_indexes: BTreeMap<u16, Vec<(u64, u64)>>,
    chunk_opened: Option<Instant>,
    /// The summary's chunk indexes, set aside on disk until the end.
    chunk_indexes: ChunkIndexes,
    first_time: Option<u64>,
    last_time: u64,
    messages: u64,
    /// The summary's attachment indexes, one per attachment written.
    attachment_indexes: Vec<Vec<u8>>,
    /// Topics (with their deliveries) that get a channel of their own; later ones share one.
    /// At most the 65,535 ids MCAP has, less those the shared channels need.
    pub topic_channels: usize,
    /// A chunk is closed after this long, whatever its size.
    pub flush_every: Duration,
    /// A chunk is closed when its uncompressed records reach this size.
    pub chunk_size: usize,
}

impl McapWriter {
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let file = File::create(path)?;
        let mut writer = McapWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            position: 0,
            channels: std::collections::HashMap::new(),
            shared: Vec::new(),
            sparkplug_schema: None,
            summary_crc: None,
            keep_flushed: false,
            flushed: Vec::new(),
            channel_records: Vec::new(),
            sequences: Vec::new(),
            channel_counts: Vec::new(),
            chunk: Vec::with_capacity(1 << 20),
            chunk_start: u64::MAX,
            chunk_end: 0,
            message_indexes: BTreeMap::new(),
            chunk_opened: None,
            chunk_indexes: ChunkIndexes::beside(path),
            first_time: None,
            last_time: 0,
            messages: 0,
            attachment_indexes: Vec::new(),
            topic_channels: MAX_CHANNELS - SHARED_CHANNELS,
            flush_every: Duration::from_secs(1),
            chunk_size: 1 << 20,
        };
        let mut header = Fields::default();
        header
            .string("twinscope-mqtt")
            .string(concat!("twinscope ", env!("CARGO_PKG_VERSION")));
        writer.emit_raw(MAGIC)?;
        writer.emit(op::HEADER, &header.0)?;
        writer.out.flush()?;
        Ok(writer)
    }

    pub fn stats(&self) -> WriterStats {
        WriterStats {
            messages: self.messages,
            bytes_written: self.position,
            chunks: self.chunk_indexes.len(),
            channels: self.channel_records.len() as u64,
        }
    }

    /// Records one MQTT message received at `log_time` (nanoseconds since the epoch).
    pub fn write(
        &mut self,
        topic: &str,
        delivery: Delivery,
        payload: &[u8],
        log_time: u64,
    ) -> std::io::Result<()> {
        let known = self
            .channels
            .get(topic)
            .and_then(|ids| ids.iter().find(|(d, _)| *d == delivery))
            .map(|(_, id)| *id);
        let channel = match known {
            Some(id) => id,
            None if self.channel_records.len()
                >= self.topic_channels.min(MAX_CHANNELS - SHARED_CHANNELS) =>
            {
                if topic.len() > u16::MAX as usize {
                    // Longer than MQTT allows (a foreign recording being repaired).
                    tracing::warn!(
                        length = topic.len(),
                        "a topic too long to carry in a shared channel is left out"
                    );
                    return Ok(());
                }
                let id = self.shared_channel(delivery);
                return self.write_message(id, Some(topic), payload, log_time);
            }
            None => {
                let id = self.channel_records.len() as u16;
                // Sparkplug payloads are protobuf, described by a schema so other tools decode
                // them; everything else (thin-edge, Sparkplug STATE) is JSON.
                let protobuf = crate::schema::sparkplug::descriptor::is_protobuf_topic(topic);
                if protobuf && self.sparkplug_schema.is_none() {
                    let mut schema = Fields::default();
                    schema
                        .u16(SPARKPLUG_SCHEMA)
                        .string(crate::schema::sparkplug::descriptor::SCHEMA_NAME)
                        .string("protobuf")
                        .bytes_u32(&crate::schema::sparkplug::descriptor::file_descriptor_set());
                    // In the chunk too (before its first channel), for a file without a summary.
                    put_record(&mut self.chunk, op::SCHEMA, &schema.0);
                    self.sparkplug_schema = Some(schema.0);
                }
                let (schema_id, encoding) = if protobuf {
                    (SPARKPLUG_SCHEMA, "protobuf")
                } else {
                    (0, "json")
                };
                self.channels
                    .entry(topic.to_owned())
                    .or_default()
                    .push((delivery, id));
                self.add_channel(channel_record(id, schema_id, topic, encoding, delivery));
                id
            }
        };
        self.write_message(channel, None, payload, log_time)
    }

    /// The shared channel for this delivery, added on first use.
    fn shared_channel(&mut self, delivery: Delivery) -> u16 {
        if let Some((_, id)) = self.shared.iter().find(|(d, _)| *d == delivery) {
            return *id;
        }
        let id = self.channel_records.len() as u16;
        self.shared.push((delivery, id));
        self.add_channel(channel_record(
            id,
            0,
            SHARED_TOPIC,
            TOPIC_IN_MESSAGE,
            delivery,
        ));
        id
    }

    fn add_channel(&mut self, record: Vec<u8>) {
        self.channel_records.push(record);
        self.sequences.push(0);
        self.channel_counts.push(0);
        // The channel goes into the chunk too, so a file without a summary is readable.
        put_record(
            &mut self.chunk,
            op::CHANNEL,
            self.channel_records.last().expect("just pushed"),
        );
    }

    /// Appends a message to the open chunk; on a shared channel, `topic` goes first in it.
    fn write_message(
        &mut self,
        channel: u16,
        topic: Option<&str>,
        payload: &[u8],
        log_time: u64,
    ) -> std::io::Result<()> {
        // MQTT topics are at most 65,535 bytes, so their length fits the prefix.
        let prefix = topic.map_or(0, |topic| 2 + topic.len());
        let offset = self.chunk.len() as u64;
        let sequence = self.sequences[channel as usize];
        self.sequences[channel as usize] = sequence.wrapping_add(1);
        self.chunk.push(op::MESSAGE);
        self.chunk
            .extend_from_slice(&((2 + 4 + 8 + 8 + prefix + payload.len()) as u64).to_le_bytes());
        self.chunk.extend_from_slice(&channel.to_le_bytes());
        self.chunk.extend_from_slice(&sequence.to_le_bytes());
        self.chunk.extend_from_slice(&log_time.to_le_bytes());
        self.chunk.extend_from_slice(&log_time.to_le_bytes());
        if let Some(topic) = topic {
            self.chunk
                .extend_from_slice(&(topic.len() as u16).to_le_bytes());
            self.chunk.extend_from_slice(topic.as_bytes());
        }
        self.chunk.extend_from_slice(payload);
        self.message_indexes
            .entry(channel)
            .or_default()
            .push((log_time, offset));
        self.chunk_start = self.chunk_start.min(log_time);
        self.chunk_end = self.chunk_end.max(log_time);
        self.first_time.get_or_insert(log_time);
        self.last_time = self.last_time.max(log_time);
        self.channel_counts[channel as usize] += 1;
        self.messages += 1;
        self.chunk_opened.get_or_insert_with(Instant::now);
        if self.chunk.len() >= self.chunk_size {
            self.flush_chunk()?;
        }
        Ok(())
    }

    /// The chunks written since the last call (see `keep_flushed`), in file order.
    pub fn take_flushed(&mut self) -> Vec<(ChunkInfo, Vec<u8>)> {
        std::mem::take(&mut self.flushed)
    }

    /// The channels so far, as a reader of the file sees them.
    pub fn channel_infos(&self) -> super::Channels {
        let own = self
            .channels
            .iter()
            .flat_map(|(topic, ids)| {
                ids.iter()
                    .map(move |(delivery, id)| (topic, *delivery, *id))
            })
            .map(|(topic, delivery, id)| {
                let protobuf = crate::schema::sparkplug::descriptor::is_protobuf_topic(topic);
                let encoding = if protobuf { "protobuf" } else { "json" };
                (
                    id,
                    ChannelInfo {
                        id,
                        topic: topic.clone(),
                        encoding: encoding.into(),
                        delivery,
                    },
                )
            });
        let shared = self.shared.iter().map(|(delivery, id)| {
            (
                *id,
                ChannelInfo {
                    id: *id,
                    topic: SHARED_TOPIC.into(),
                    encoding: TOPIC_IN_MESSAGE.into(),
                    delivery: *delivery,
                },
            )
        });
        own.chain(shared).collect()
    }

    /// Closes the open chunk if it is older than `flush_every` (call it regularly).
    pub fn flush_if_due(&mut self) -> std::io::Result<()> {
        if self
            .chunk_opened
            .is_some_and(|opened| opened.elapsed() >= self.flush_every)
        {
            self.flush_chunk()?;
        }
        Ok(())
    }

    /// Writes the open chunk and its message indexes, and pushes them to the disk.
    pub fn flush_chunk(&mut self) -> std::io::Result<()> {
        self.chunk_opened = None;
        if self.chunk.is_empty() {
            return Ok(());
        }
        let crc = crc32fast::hash(&self.chunk);
        // libzstd's fastest level: the recording thread keeps up with the busiest plants.
        let compressed = zstd::bulk::compress(&self.chunk, 1)?;
        let mut body = Fields(Vec::with_capacity(compressed.len() + 64));
        let start = if self.chunk_start == u64::MAX {
            0
        } else {
            self.chunk_start
        };
        body.u64(start)
            .u64(self.chunk_end)
            .u64(self.chunk.len() as u64)
            .u32(crc)
            .string("zstd")
            .u64(compressed.len() as u64)
            .raw(&compressed);
        let chunk_offset = self.position;
        self.emit(op::CHUNK, &body.0)?;
        let chunk_length = self.position - chunk_offset;
        let index_start = self.position;
        // Where each channel's message index lies, for the chunk's index in the summary.
        let mut offsets = Fields::default();
        for (channel, entries) in std::mem::take(&mut self.message_indexes) {
            let mut records = Fields::default();
            for (time, offset) in &entries {
                records.u64(*time).u64(*offset);
            }
            let mut index = Fields::default();
            index.u16(channel).bytes_u32(&records.0);
            offsets.u16(channel).u64(self.position);
            self.emit(op::MESSAGE_INDEX, &index.0)?;
        }
        if self.keep_flushed {
            let info = ChunkInfo {
                start_time: start,
                end_time: self.chunk_end,
                offset: chunk_offset,
                length: chunk_length,
                unchunked: false,
            };
            self.flushed.push((info, self.chunk.clone()));
        }
        let mut entry = Fields::default();
        entry
            .u64(start)
            .u64(self.chunk_end)
            .u64(chunk_offset)
            .u64(chunk_length)
            .bytes_u32(&offsets.0)
            .u64(self.position - index_start)
            .string("zstd")
            .u64(compressed.len() as u64)
            .u64(self.chunk.len() as u64);
        self.chunk_indexes.push(&entry.0)?;
        self.chunk.clear();
        self.chunk_start = u64::MAX;
        self.chunk_end = 0;
        self.out.flush()?;
        self.out.get_ref().sync_data()?;
        Ok(())
    }

    /// Writes an attachment (after the last chunk so far; other readers list it and skip it),
    /// indexed in the summary.
    pub fn attach(&mut self, name: &str, media_type: &str, data: &[u8]) -> std::io::Result<()> {
        self.flush_chunk()?;
        let offset = self.position;
        let time = self.last_time;
        let mut head = Fields::default();
        head.u64(time)
            .u64(time)
            .string(name)
            .string(media_type)
            .u64(data.len() as u64);
        // The CRC covers every field before it.
        let mut crc = crc32fast::Hasher::new();
        crc.update(&head.0);
        crc.update(data);
        let body_len = head.0.len() as u64 + data.len() as u64 + 4;
        self.emit_raw(&[op::ATTACHMENT])?;
        self.emit_raw(&body_len.to_le_bytes())?;
        self.emit_raw(&head.0)?;
        self.emit_raw(data)?;
        self.emit_raw(&crc.finalize().to_le_bytes())?;
        let mut index = Fields::default();
        index
            .u64(offset)
            .u64(9 + body_len)
            .u64(time)
            .u64(time)
            .u64(data.len() as u64)
            .string(name)
            .string(media_type);
        self.attachment_indexes.push(index.0);
        self.out.flush()?;
        Ok(())
    }

    /// Writes the last chunk, the summary and the footer.
    pub fn finish(mut self) -> std::io::Result<WriterStats> {
        self.flush_chunk()?;
        self.emit(op::DATA_END, &0u32.to_le_bytes())?;
        let summary_start = self.position;
        // Readers check the summary against this CRC before trusting its offsets.
        self.summary_crc = Some(crc32fast::Hasher::new());
        let schemas_start = self.position;
        if let Some(schema) = self.sparkplug_schema.clone() {
            self.emit(op::SCHEMA, &schema)?;
        }
        let schemas_length = self.position - schemas_start;
        let channels_start = self.position;
        for record in std::mem::take(&mut self.channel_records) {
            self.emit(op::CHANNEL, &record)?;
        }
        let channels_length = self.position - channels_start;
        let statistics_start = self.position;
        let mut statistics = Fields::default();
        let mut counts = Fields::default();
        for (channel, count) in self.channel_counts.iter().enumerate() {
            counts.u16(channel as u16).u64(*count);
        }
        statistics
            .u64(self.messages)
            .u16(u16::from(self.sparkplug_schema.is_some()))
            .u32(self.channel_counts.len() as u32)
            .u32(self.attachment_indexes.len() as u32)
            .u32(0)
            .u32(self.chunk_indexes.len() as u32)
            .u64(self.first_time.unwrap_or(0))
            .u64(self.last_time)
            .bytes_u32(&counts.0);
        self.emit(op::STATISTICS, &statistics.0)?;
        let statistics_length = self.position - statistics_start;
        let chunk_indexes_start = self.position;
        self.position += self
            .chunk_indexes
            .copy_into(&mut self.out, self.summary_crc.as_mut())?;
        let chunk_indexes_length = self.position - chunk_indexes_start;
        let attachment_indexes_start = self.position;
        for index in std::mem::take(&mut self.attachment_indexes) {
            self.emit(op::ATTACHMENT_INDEX, &index)?;
        }
        let attachment_indexes_length = self.position - attachment_indexes_start;
        let summary_offset_start = self.position;
        for (group, start, length) in [
            (op::SCHEMA, schemas_start, schemas_length),
            (op::CHANNEL, channels_start, channels_length),
            (op::STATISTICS, statistics_start, statistics_length),
            (op::CHUNK_INDEX, chunk_indexes_start, chunk_indexes_length),
            (
                op::ATTACHMENT_INDEX,
                attachment_indexes_start,
                attachment_indexes_length,
            ),
        ] {
            if length > 0 {
                let mut body = Fields::default();
                body.u8(group).u64(start).u64(length);
                self.emit(op::SUMMARY_OFFSET, &body.0)?;
            }
        }
        // The CRC covers the summary up to the footer's own CRC field.
        let mut crc = self.summary_crc.take().unwrap_or_default();
        let mut fields = Fields::default();
        fields.u64(summary_start).u64(summary_offset_start);
        crc.update(&[op::FOOTER]);
        crc.update(&20u64.to_le_bytes());
        crc.update(&fields.0);
        let mut footer = Fields::default();
        footer
            .u64(summary_start)
            .u64(summary_offset_start)
            .u32(crc.finalize());
        self.emit(op::FOOTER, &footer.0)?;
        self.emit_raw(MAGIC)?;
        self.out.flush()?;
        self.out.get_ref().sync_data()?;
        Ok(self.stats())
    }

    fn emit(&mut self, opcode: u8, body: &[u8]) -> std::io::Result<()> {
        let length = (body.len() as u64).to_le_bytes();
        if let Some(crc) = &mut self.summary_crc {
            crc.update(&[opcode]);
            crc.update(&length);
            crc.update(body);
        }
        self.out.write_all(&[opcode])?;
        self.out.write_all(&length)?;
        self.out.write_all(body)?;
        self.position += 9 + body.len() as u64;
        Ok(())
    }

    fn emit_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.write_all(bytes)?;
        self.position += bytes.len() as u64;
        Ok(())
    }
}
