//! History: recording the live session, the DVR's last minutes, opening a recording and
//! replaying it.
//!
//! Dependencies run one way: `dvr` and `replay` use `opening`, which uses neither; the DVR
//! shows its look-back as a replay session. `recording` (the record button) stands alone.

pub mod dvr;
pub mod opening;
pub mod recording;
pub mod replay;
