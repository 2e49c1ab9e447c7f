//! The twin model: ids, hierarchy, properties with history, alarms and status.

mod history;
mod id;
mod kept;
mod name;
mod status;
mod store;

pub use history::History;
pub use id::{Interner, TwinId};
pub use name::PropertyName;
pub use status::{Severity, Status};
pub use store::{
    ActiveAlarm, DEFAULT_MAX_ENTRIES_PER_TWIN, DEFAULT_MAX_TWINS, EntityKind, Property, Refused,
    Room, StoreConfig, Twin, TwinIndex, TwinStore,
};
pub mod tree;
