//! The operations a recording holds: it records `te/#`, commands and capabilities among the
//! plant's data, so a replay shows which commands ran on a twin, who asked (another
//! twinscope's request says so) and the states they went through, up to the replay's
//! position. Read-only: nothing in a recording is ours to clear.

use std::path::Path;
use std::time::Duration;

use super::book::OperationBook;
use super::capabilities::Capabilities;
use super::topic::CommandTopic;
use crate::Timestamp;
use crate::mcap::{McapError, McapFile, for_each_message};

/// Capabilities and commands under `root` in the recording at `path`, as they stood at
/// `until` (its end without one).
pub fn operations_in_recording(
    path: &Path,
    root: &str,
    until: Option<Timestamp>,
) -> Result<(Capabilities, OperationBook), McapError> {
    let mut file = McapFile::open(path)?;
    let mut capabilities = Capabilities::default();
    // No timeout in a recording: a command's silence is what was recorded.
    let mut book = OperationBook::new(root, Duration::MAX);
    let until_ns = until.map(|t| (t.0.max(0) as u64).saturating_mul(1000));
    for chunk in 0..file.chunks.len() {
        if until_ns.is_some_and(|until| file.chunks[chunk].start_time > until) {
            break;
        }
        // A damaged chunk is left out, as replay leaves it out.
        let Ok(records) = file.chunk_records(chunk) else {
            continue;
        };
        let channels = &file.channels;
        let _ = for_each_message(&records, |_, message| {
            if until_ns.is_some_and(|until| message.log_time > until) {
                return;
            }
            let Some((topic, payload)) = channels
                .get(&message.channel)
                .and_then(|c| c.message(message.payload))
            else {
                return;
            };
            let Some(parsed) = CommandTopic::parse(topic, root) else {
                return;
            };
            let at = Timestamp((message.log_time / 1000) as i64);
            if parsed.id.is_none() {
                let _ = capabilities.receive(&parsed, payload);
            } else {
                let _ = book.receive(parsed, payload, at);
            }
        });
    }
    Ok((capabilities, book))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcap::{Delivery, McapWriter};

    #[test]
    fn a_recordings_commands_are_read_up_to_an_instant() {
        let path = std::env::temp_dir().join(format!(
            "twinscope-ops-recorded-{}.mcap",
            std::process::id()
        ));
        let mut writer = McapWriter::create(&path).unwrap();
        let second = 1_000_000_000u64;
        let t0 = 1_700_000_000 * second;
        let retained = Delivery {
            qos: 1,
            retain: true,
        };
        writer
            .write("te/device/pump1///cmd/restart", retained, b"{}", t0)
            .unwrap();
        let topic = "te/device/pump1///cmd/restart/twinscope-1";
        for (s, status) in [(1, "init"), (2, "executing"), (5, "successful")] {
            writer
                .write(
                    topic,
                    retained,
                    format!(
                        r#"{{"status":"{status}","twinscope":{{"user":"anna","reason":"stuck"}}}}"#
                    )
                    .as_bytes(),
                    t0 + s * second,
                )
                .unwrap();
        }
        writer
            .write(
                "te/device/pump1///m/",
                Delivery {
                    qos: 0,
                    retain: false,
                },
                br#"{"flow":1}"#,
                t0 + 6 * second,
            )
            .unwrap();
        writer.finish().unwrap();
        let at = |s: u64| Some(Timestamp(((t0 + s * second) / 1000) as i64));
        let (caps, book) = operations_in_recording(&path, "te", at(3)).unwrap();
        assert!(caps.of("pump1").unwrap().operations.contains_key("restart"));
        let command = book.get(topic).unwrap();
        assert_eq!(command.state().as_str(), "executing", "as it stood 3 s in");
        assert!(
            !command.ours && command.trouble.is_none(),
            "another twinscope's, saying who asked"
        );
        let (_, book) = operations_in_recording(&path, "te", None).unwrap();
        assert_eq!(book.get(topic).unwrap().describe(), "successful");
        let _ = std::fs::remove_file(&path);
    }
}
