//! Shared sessions: several twinscope users — a control-room desktop, a maintenance
//! engineer in a headset — in one session, each seeing where the others are, what they
//! select and point at.
//!
//! The session travels over MQTT, on the plant's broker or another, with no server of its
//! own: [`topics`] says where (one root, a path per user, so a `%u` ACL stops impersonation),
//! [`message`] what (ids, poses and names only, every message checked), [`roster`] who is
//! there (bounded, rate-limited, dropped messages counted), and [`client`] keeps our
//! presence on the broker with a last will that clears it. [`notes`] are what the team
//! pins to twins, kept on the broker after everyone left, ordered by a hybrid [`clock`].

pub mod alarm_actions;
pub mod alarm_apply;
pub mod client;
pub mod clock;
pub mod colour;
pub mod message;
pub mod notes;
pub mod recorded;
pub mod roster;
pub mod timeline;
pub mod topics;

pub use client::SessionLink;
pub use colour::colour_of;
pub use message::{Device, Gather, Placement, Pointer, Pose, Presence, Timeline};
pub use notes::{Note, NoteBook, NoteChange, NoteError, NoteVersion};
pub use roster::{MAX_PARTICIPANTS, Participant, Roster, RosterChange};
pub use topics::{DEFAULT_ROOT, SessionTopics, join_code};
