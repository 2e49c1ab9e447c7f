//! One timeline for a session: the host takes everyone to the same instant. Live, back to
//! an instant on everyone's DVR ("look back to 03:12:40"), or to a position in a recording
//! everyone has (known by its content fingerprint, so a participant without that file is
//! told which one is needed), at the same speed. Participants may step out to look on their
//! own and rejoin with one click.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::message::{Dropped, MAX_PAYLOAD};

/// Where the host has taken the session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum SharedTimeline {
    Live,
    /// Everyone's DVR at this instant (µs since the Unix epoch).
    LookBack {
        at: i64,
    },
    /// A recording, by content fingerprint and file name, at a position (µs since the Unix
    /// epoch, the recording's clock), playing or paused, at a speed.
    Replay {
        recording: String,
        name: String,
        position: i64,
        playing: bool,
        speed: f64,
    },
}

/// A timeline message: where, and a number that grows with each (a follower applies each
/// once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineMessage {
    #[serde(flatten)]
    pub timeline: SharedTimeline,
    pub seq: u64,
}

impl TimelineMessage {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(payload: &[u8]) -> Result<TimelineMessage, Dropped> {
        if payload.len() > MAX_PAYLOAD {
            return Err(Dropped::Oversized);
        }
        let message: TimelineMessage =
            serde_json::from_slice(payload).map_err(|_| Dropped::Malformed)?;
        let fits = match &message.timeline {
            SharedTimeline::Live | SharedTimeline::LookBack { .. } => true,
            SharedTimeline::Replay {
                recording,
                name,
                speed,
                ..
            } => {
                recording.len() <= 64
                    && name.len() <= 256
                    && speed.is_finite()
                    && (0.01..=1000.0).contains(speed)
            }
        };
        if fits {
            Ok(message)
        } else {
            Err(Dropped::Malformed)
        }
    }
}

/// How far apart two viewers' positions may be and still count as the same instant (µs).
pub const SAME_INSTANT_US: i64 = 1_000_000;

/// A recording's content fingerprint: its length and a hash of its first and last MiB (the
/// header, the first chunks, the summary and footer), cheap for a file of any size and the
/// same on every machine for the same file, whatever its name.
pub fn fingerprint(path: &Path) -> std::io::Result<String> {
    const PART: u64 = 1 << 20;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ len;
    let mut eat = |bytes: &[u8]| {
        for &byte in bytes {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    let mut buffer = vec![0u8; PART.min(len) as usize];
    file.read_exact(&mut buffer)?;
    eat(&buffer);
    if len > PART {
        let tail = PART.min(len - PART);
        file.seek(SeekFrom::Start(len - tail))?;
        buffer.resize(tail as usize, 0);
        file.read_exact(&mut buffer)?;
        eat(&buffer);
    }
    Ok(format!("{len:x}-{hash:016x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timelines_round_trip_and_bad_ones_are_dropped() {
        for timeline in [
            SharedTimeline::Live,
            SharedTimeline::LookBack { at: 5 },
            SharedTimeline::Replay {
                recording: "1f-00aa".into(),
                name: "night.mcap".into(),
                position: 9,
                playing: true,
                speed: 2.0,
            },
        ] {
            let message = TimelineMessage { timeline, seq: 3 };
            assert_eq!(TimelineMessage::decode(&message.encode()), Ok(message));
        }
        let bad = TimelineMessage {
            timeline: SharedTimeline::Replay {
                recording: "x".into(),
                name: "n".into(),
                position: 0,
                playing: true,
                speed: 1e9,
            },
            seq: 1,
        };
        assert_eq!(
            TimelineMessage::decode(&bad.encode()),
            Err(Dropped::Malformed)
        );
        assert_eq!(
            TimelineMessage::decode(b"{\"mode\":\"warp\",\"seq\":1}"),
            Err(Dropped::Malformed)
        );
    }

    #[test]
    fn the_fingerprint_follows_the_content_not_the_name() {
        let dir =
            std::env::temp_dir().join(format!("twinscope-fingerprint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.join("a.mcap"), &content).unwrap();
        std::fs::write(dir.join("copy.mcap"), &content).unwrap();
        let mut changed = content.clone();
        changed[2_999_000] ^= 1;
        std::fs::write(dir.join("b.mcap"), &changed).unwrap();
        let print = |name: &str| fingerprint(&dir.join(name)).unwrap();
        assert_eq!(print("a.mcap"), print("copy.mcap"));
        assert_ne!(print("a.mcap"), print("b.mcap"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
