//! Acting on the plant: thin-edge operations (`te/<entity>/cmd/<operation>/<cmd-id>`) seen on
//! each twin, requested under the operator's policy, followed through the agent's states to
//! their end, cleared when they are ours, and written to an audit log. Read-only is the
//! default: nothing here publishes unless operations were turned on.

pub mod audit;
pub mod book;
pub mod capabilities;
pub mod command;
pub mod file_transfer;
pub mod journal;
pub mod link;
pub mod policy;
pub mod recorded;
pub mod request;
pub mod sparkplug;
pub mod topic;

pub use book::{CommandEvent, OperationBook, TrackedCommand};
pub use capabilities::{Capabilities, EntityCapabilities};
pub use command::{CommandState, OUR_PREFIX};
pub use link::{OperationsConfig, OperationsLink, PreparedRequest, SentRequest};
pub use policy::{AllowRule, OperationPolicy, Refusal};
