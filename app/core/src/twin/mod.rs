//! The twin model: ids, hierarchy, properties with history, alarms and status.

mod history;
mod id;
mod status;
mod store;

pub use history::History;
pub use id::{Interner, TwinId};
pub use status::{Severity, Status};
pub use store::{ActiveAlarm, EntityKind, Property, StoreConfig, Twin, TwinIndex, TwinStore};
pub mod tree;
