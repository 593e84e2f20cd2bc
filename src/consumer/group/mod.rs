//! Classic consumer group membership (JoinGroup / SyncGroup / Heartbeat / LeaveGroup) as an
//! I/O-free state machine, plus the partition assignors the group leader runs.
//!
//! - [`GroupConfig`]: the settings, with Java names and defaults.
//! - [`assignor`]: `range`, `roundrobin`, `cooperative-sticky`.
//! - [`metadata`]: the consumer protocol's subscription/assignment bytes (bounded decoding).
pub mod assignor;
mod config;
pub mod metadata;

pub use assignor::{
    AssignmentStrategy, GroupAssignment, GroupMember, PartitionCounts, RebalanceProtocol,
};
pub use config::GroupConfig;
pub mod membership;

pub use membership::{GroupAction, GroupMembership, MemberState};
