//! Consumer group membership as I/O-free state machines: the classic protocol (JoinGroup /
//! SyncGroup / Heartbeat / LeaveGroup, [`membership`]) with the partition assignors its leader
//! runs, and KIP-848's consumer protocol (ConsumerGroupHeartbeat, [`consumer_protocol`]); a
//! consumer holds one of them as a [`Membership`].
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
pub mod consumer_protocol;
mod member;
pub mod membership;

pub use consumer_protocol::{ConsumerMemberState, ConsumerMembership};
pub use member::Membership;
pub use membership::{GroupAction, GroupMembership, MemberState};

use crate::error::code::GROUP_AUTHORIZATION_FAILED;
use crate::{Error, ErrorClass};

/// `GROUP_AUTHORIZATION_FAILED` on a group request (FindCoordinator, JoinGroup, SyncGroup,
/// Heartbeat, OffsetFetch, OffsetCommit) is fatal for the consumer: the error table's default
/// class is permanent-for-this-request (an admin call on another group may well succeed), but a
/// consumer denied its own group cannot do its job until an operator grants the ACL, and
/// rejoining on every poll would only hammer the coordinator. The member stops for good and
/// every later `poll` and commit reports this error; the application creates a new consumer
/// once the ACL is granted. Other errors pass through unchanged.
pub(crate) fn fatal_if_group_denied(error: Error, group_id: &str) -> Error {
    if error.broker_code() != Some(GROUP_AUTHORIZATION_FAILED) || error.is_fatal() {
        return error;
    }
    error.reclassify(ErrorClass::Fatal).with_detail(format!(
        "this principal may not use group '{group_id}': grant it READ (and DESCRIBE) on the \
         group, e.g. kafka-acls --add --allow-principal User:<name> --operation Read \
         --group {group_id}, then create a new consumer"
    ))
}
