//! A scripted scrub: the timeline's handle dragged across a whole recording at the display's
//! rate, its seeks run by the [`Seeker`] as the viewer runs them, and each frame judged by
//! whether the state it would draw is the handle's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::replay::Recording;
use crate::replay::seeker::Seeker;
use crate::rules::RuleSet;
use crate::time::Timestamp;
use crate::twin::{StoreConfig, TwinStore};

/// A 60 Hz display's frame.
pub const FRAME: Duration = Duration::from_micros(16_667);

/// What a scripted scrub saw.
#[derive(Debug, Clone, Default)]
pub struct ScrubResult {
    pub frames: usize,
    /// Frames that drew the state at the handle's position of that frame.
    pub on_time: usize,
    /// The most frames the drawn state was behind the handle.
    pub most_behind: u64,
    /// From request to state built, for each state a frame took (a newer position replaces
    /// one not yet started, and a frame draws only the newest state built).
    pub seeks: Vec<Duration>,
}

/// Drags the handle from the recording's start to its end over `frames` frames of
/// [`FRAME`]: each frame asks for the handle's position, and at the frame's end takes the
/// newest state built (what the viewer would draw). The seeks are cold: the seeker's
/// recording has read nothing before.
pub fn scripted_scrub(recording: &Recording, frames: usize) -> Result<ScrubResult, String> {
    let (start, end) = recording
        .time_range()
        .ok_or("the recording holds no messages")?;
    let clone = recording.try_clone().map_err(|e| e.to_string())?;
    let fresh: crate::replay::seeker::FreshStore =
        Arc::new(|| TwinStore::new(StoreConfig::default(), RuleSet::default()));
    let mut seeker = Seeker::start(clone, fresh).map_err(|e| e.to_string())?;
    let mut result = ScrubResult {
        frames,
        ..ScrubResult::default()
    };
    let mut shown: Option<(u64, TwinStore)> = None;
    let mut told = 0;
    let began = Instant::now();
    for frame in 0..frames {
        let at = Timestamp(start.0 + (end.0 - start.0) * frame as i64 / (frames.max(2) - 1) as i64);
        let asked = seeker.seek(at);
        // The rest of the frame (the viewer's systems and drawing); then what it draws.
        let frame_end = began + FRAME * (frame as u32 + 1);
        std::thread::sleep(frame_end.saturating_duration_since(Instant::now()));
        if let Some(seeked) = seeker.take_built() {
            result.seeks.push(seeked.took);
            if let Some((_, old)) = shown.replace((seeked.number, seeked.store)) {
                seeker.give_back(old);
            }
        }
        let drawn = shown.as_ref().map_or(0, |(number, _)| *number);
        if drawn == asked {
            result.on_time += 1;
        }
        result.most_behind = result.most_behind.max(asked - drawn);
        // New twins in the shown store are kept at their indices by the next seeks.
        if let Some((_, store)) = &shown
            && store.len() != told
        {
            told = store.len();
            seeker.keep_twins(Arc::new(store.twins().map(|(_, t)| t.id.clone()).collect()));
        }
    }
    Ok(result)
}
