use std::path::PathBuf;

use super::*;

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("twinscope-mcap-{}-{name}", std::process::id()))
}

const RETAINED: Delivery = Delivery {
    qos: 1,
    retain: true,
};
const LIVE: Delivery = Delivery {
    qos: 0,
    retain: false,
};

/// 3 chunks of messages on a few topics.
fn write_sample(path: &std::path::Path, finish: bool) -> Vec<(String, Delivery, Vec<u8>, u64)> {
    let mut writer = McapWriter::create(path).unwrap();
    let mut written = Vec::new();
    let mut put =
        |writer: &mut McapWriter, topic: &str, delivery: Delivery, payload: &str, time: u64| {
            writer
                .write(topic, delivery, payload.as_bytes(), time)
                .unwrap();
            written.push((
                topic.to_owned(),
                delivery,
                payload.as_bytes().to_vec(),
                time,
            ));
        };
    put(
        &mut writer,
        "te/device/pump1//",
        RETAINED,
        r#"{"@type":"child-device"}"#,
        1_000,
    );
    for chunk in 0..3u64 {
        for i in 0..10u64 {
            let time = 2_000 + chunk * 1_000 + i;
            put(
                &mut writer,
                "te/device/pump1///m/env",
                LIVE,
                &format!(r#"{{"t":{i}}}"#),
                time,
            );
        }
        writer.flush_chunk().unwrap();
    }
    put(&mut writer, "te/device/pump1///a/hot", RETAINED, "", 9_000);
    if finish {
        writer.finish().unwrap();
    } else {
        writer.flush_chunk().unwrap();
        std::mem::forget(writer); // as if the process died: no summary, no footer
    }
    written
}

fn read_all(file: &mut McapFile) -> Vec<(String, Delivery, Vec<u8>, u64)> {
    let mut out = Vec::new();
    for chunk in 0..file.chunks.len() {
        let records = file.chunk_records(chunk).unwrap();
        for_each_message(&records, |_, m| {
            let channel = &file.channels[&m.channel];
            out.push((
                channel.topic.clone(),
                channel.delivery,
                m.payload.to_vec(),
                m.log_time,
            ));
        })
        .unwrap();
    }
    out
}

#[test]
fn round_trip_keeps_topic_payload_qos_retain_and_time() {
    let path = temp("roundtrip.mcap");
    let written = write_sample(&path, true);
    let mut file = McapFile::open(&path).unwrap();
    assert!(
        file.recovery.is_none(),
        "a finished file opens through its summary"
    );
    assert_eq!(file.chunks.len(), 4);
    assert_eq!(file.time_range(), Some((1_000, 9_000)));
    // Asking the OS for chunks ahead (also ones that do not exist) changes nothing read.
    file.prefetch(0..file.chunks.len() + 3);
    assert_eq!(read_all(&mut file), written);
    std::fs::remove_file(&path).unwrap();
}

/// The summary's chunk indexes (hundreds of kilobytes a chunk with thousands of channels)
/// wait in a file beside the recording, not in the writer's memory, and go with the writer.
#[test]
fn chunk_indexes_wait_beside_the_recording_and_leave_nothing_behind() {
    let path = temp("aside.mcap");
    let aside = chunk_indexes::ChunkIndexes::path_beside(&path);
    let mut writer = McapWriter::create(&path).unwrap();
    (writer.chunk_size, writer.flush_every) = (64 << 20, std::time::Duration::MAX);
    let mut set_aside = Vec::new();
    for chunk in 0..3u64 {
        for channel in 0..10_000u64 {
            writer
                .write(
                    &format!("te/device/d{channel}///m/"),
                    LIVE,
                    br#"{"v":1}"#,
                    1_000_000 + chunk * 100_000 + channel,
                )
                .unwrap();
        }
        writer.flush_chunk().unwrap();
        set_aside.push(std::fs::metadata(&aside).map_or(0, |m| m.len()));
    }
    // 10 bytes per channel per chunk index, on disk as the recording goes.
    assert!(
        set_aside[2] >= 200_000 && set_aside.windows(2).all(|w| w[0] < w[1]),
        "set aside as chunks close: {set_aside:?}"
    );
    writer.finish().unwrap();
    assert!(!aside.exists(), "gone once the summary is written");
    let mut file = McapFile::open(&path).unwrap();
    assert!(
        file.recovery.is_none(),
        "the summary holds them (and its CRC checks)"
    );
    assert_eq!((file.chunks.len(), file.channels.len()), (3, 10_000));
    assert_eq!(read_all(&mut file).len(), 30_000);
    std::fs::remove_file(&path).unwrap();

    let mut abandoned = McapWriter::create(&path).unwrap();
    for channel in 0..10_000u64 {
        abandoned
            .write(
                &format!("te/device/d{channel}///m/"),
                LIVE,
                b"{}",
                1_000 + channel,
            )
            .unwrap();
    }
    abandoned.flush_chunk().unwrap();
    drop(abandoned);
    assert!(
        !aside.exists(),
        "a writer dropped unfinished takes them with it"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_crashed_recording_keeps_every_complete_chunk_and_repairs() {
    let path = temp("crashed.mcap");
    let written = write_sample(&path, false);
    let mut file = McapFile::open(&path).unwrap();
    assert!(file.recovery.is_some());
    assert_eq!(read_all(&mut file), written);
    let aside = chunk_indexes::ChunkIndexes::path_beside(&path);
    assert!(
        aside.exists(),
        "a killed writer leaves its chunk indexes beside the file"
    );
    let report = repair(&path).unwrap();
    assert!(!aside.exists(), "repair clears them away");
    assert_eq!(report.messages, written.len() as u64);
    let mut repaired = McapFile::open(&path).unwrap();
    assert!(repaired.recovery.is_none(), "repair writes the summary");
    assert_eq!(read_all(&mut repaired), written);
    assert!(
        repair(&path).unwrap().recovery.is_none(),
        "a complete file is left alone"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn truncation_anywhere_loses_at_most_the_cut_chunk_and_never_panics() {
    let path = temp("full.mcap");
    let written = write_sample(&path, true);
    let bytes = std::fs::read(&path).unwrap();
    let cut_path = temp("cut.mcap");
    for cut in (9..bytes.len()).step_by(7) {
        std::fs::write(&cut_path, &bytes[..cut]).unwrap();
        let Ok(mut file) = McapFile::open(&cut_path) else {
            continue;
        };
        let messages = read_all(&mut file);
        assert_eq!(
            messages[..],
            written[..messages.len()],
            "cut at {cut}: a prefix survives"
        );
    }
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&cut_path).unwrap();
}

#[test]
fn empty_garbage_and_corrupt_files_get_clear_errors() {
    let path = temp("bad.mcap");
    std::fs::write(&path, b"").unwrap();
    assert!(
        McapFile::open(&path)
            .err()
            .unwrap()
            .to_string()
            .contains("empty")
    );
    std::fs::write(&path, b"PK\x03\x04 a zip file").unwrap();
    assert!(
        McapFile::open(&path)
            .err()
            .unwrap()
            .to_string()
            .contains("not an MCAP file")
    );
    // Flip bytes inside the compressed data of the first chunk: the CRC or zstd catches it.
    write_sample(&path, true);
    let mut bytes = std::fs::read(&path).unwrap();
    let chunk_at = McapFile::open(&path).unwrap().chunks[1].offset as usize;
    for b in &mut bytes[chunk_at + 60..chunk_at + 70] {
        *b ^= 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();
    let mut file = McapFile::open(&path).unwrap();
    let error = file.chunk_records(1).unwrap_err().to_string();
    assert!(error.contains("corrupt at byte"), "{error}");
    assert!(file.chunk_records(0).is_ok(), "other chunks still read");
    std::fs::remove_file(&path).unwrap();
}

/// A footer or chunk index with one wrong 8-byte field (as a bad disk or writer leaves it)
/// gives a clear error or a correct partial read, never an allocation of what it claims.
#[test]
fn wrong_offsets_and_lengths_in_the_summary_are_not_trusted() {
    let path = temp("bad-offsets.mcap");
    let written = write_sample(&path, true);
    let good = std::fs::read(&path).unwrap();
    let footer = good.len() - 8 - 20 - 9;
    // Every 8-byte field of the footer, and of the summary's records, set to absurd values.
    let summary_start =
        u64::from_le_bytes(good[footer + 9..footer + 17].try_into().unwrap()) as usize;
    for at in summary_start..=footer + 17 {
        for absurd in [u64::MAX, u64::MAX / 2, (good.len() as u64) * 1000] {
            let mut bytes = good.clone();
            if at + 8 > bytes.len() {
                continue;
            }
            bytes[at..at + 8].copy_from_slice(&absurd.to_le_bytes());
            std::fs::write(&path, &bytes).unwrap();
            if let Ok(mut file) = McapFile::open(&path) {
                // Whatever opens reads what it can: never more messages than were written.
                let mut read = 0;
                for chunk in 0..file.chunks.len() {
                    if let Ok(records) = file.chunk_records(chunk) {
                        let _ = crate::mcap::for_each_message(&records, |_, _| read += 1);
                    }
                }
                assert!(
                    read <= written.len(),
                    "{read} messages from {} written (field at {at})",
                    written.len()
                );
            }
        }
    }
    std::fs::remove_file(&path).unwrap();
}

/// A broker carrying more topics than MCAP has channel ids (a plant of 40,000 twins): the
/// topics past them share a channel per delivery, each message carrying its topic, and every
/// message reads back with its topic, delivery and payload, in order; so does a repaired copy.
#[test]
fn more_topics_than_channel_ids_share_channels_and_every_message_reads_back() {
    let path = std::env::temp_dir().join(format!(
        "twinscope-mcap-channels-{}.mcap",
        std::process::id()
    ));
    let mut writer = McapWriter::create(&path).unwrap();
    let live = Delivery {
        qos: 0,
        retain: false,
    };
    let retained = Delivery {
        qos: 1,
        retain: true,
    };
    let mut written = Vec::new();
    for n in 0..66_000u64 {
        let delivery = if n % 10 == 0 { retained } else { live };
        written.push((
            format!("t/{n}"),
            delivery,
            format!("{{\"n\":{n}}}").into_bytes(),
            1_000 + n,
        ));
    }
    written.push(("t/7".into(), live, b"{\"again\":1}".to_vec(), 100_000));
    written.push(("t/65999".into(), live, b"{\"again\":2}".to_vec(), 100_001));
    written.push(("t/65999".into(), live, b"".to_vec(), 100_002));
    for (topic, delivery, payload, time) in &written {
        writer.write(topic, *delivery, payload, *time).unwrap();
    }
    let stats = writer.finish().unwrap();
    assert_eq!(stats.messages, written.len() as u64);
    let read_all = |path: &std::path::Path| {
        let mut file = McapFile::open(path).unwrap();
        assert!(file.recovery.is_none());
        assert_eq!(
            file.channels.len(),
            65_529 + 2,
            "65,529 topics in channels of their own, then one shared channel per delivery"
        );
        let mut read = Vec::new();
        for chunk in 0..file.chunks.len() {
            let records = file.chunk_records(chunk).unwrap();
            for_each_message(&records, |_, m| {
                let channel = &file.channels[&m.channel];
                let (topic, payload) = channel
                    .message(m.payload)
                    .expect("a message carries its topic");
                read.push((
                    topic.to_owned(),
                    channel.delivery,
                    payload.to_vec(),
                    m.log_time,
                ));
            })
            .unwrap();
        }
        read
    };
    assert!(
        read_all(&path) == written,
        "every message reads back as written"
    );
    // Cut before the summary, then repaired: the same messages again.
    let bytes = std::fs::read(&path).unwrap();
    // The footer ends with the summary's offset, its section's offset, a CRC and the magic;
    // the data-end record (13 bytes) comes before the summary, the last message index
    // before that. The cut goes into that index.
    let summary = u64::from_le_bytes(
        bytes[bytes.len() - 28..bytes.len() - 20]
            .try_into()
            .unwrap(),
    ) as usize;
    std::fs::write(&path, &bytes[..summary - 13 - 5]).unwrap();
    let report = crate::mcap::repair(&path).unwrap();
    assert!(report.recovery.is_some());
    assert!(
        read_all(&path) == written,
        "a repaired recording keeps every message and its topic"
    );
    std::fs::remove_file(&path).unwrap();
}

/// A shared channel's message that announces a longer topic than it holds, or a topic not in
/// UTF-8, reads as nothing (replay skips and counts it), never a panic; a channel of one
/// topic gives its messages whole.
#[test]
fn a_shared_message_that_does_not_hold_its_topic_is_unreadable() {
    let shared = ChannelInfo {
        id: 1,
        topic: SHARED_TOPIC.into(),
        encoding: TOPIC_IN_MESSAGE.into(),
        delivery: Delivery {
            qos: 0,
            retain: false,
        },
    };
    assert_eq!(shared.message(b"\x03\x00abc{}"), Some(("abc", &b"{}"[..])));
    assert_eq!(shared.message(b"\x03\x00abc"), Some(("abc", &b""[..])));
    for broken in [&b"\x09\x00abc"[..], b"\x02\x00\xff\xfe{}", b"\x01", b""] {
        assert_eq!(shared.message(broken), None, "{broken:?}");
    }
    let own = ChannelInfo {
        topic: "t".into(),
        encoding: "json".into(),
        ..shared.clone()
    };
    assert_eq!(
        own.message(b"\x09\x00abc"),
        Some(("t", &b"\x09\x00abc"[..]))
    );
}
