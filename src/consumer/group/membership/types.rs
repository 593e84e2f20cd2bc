//! The state machine's outputs (requests to send, rebalance-listener events) and its inputs
//! (the parts of the broker's responses it needs).

use crate::error::code::{
    COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, INCONSISTENT_GROUP_PROTOCOL,
    NOT_COORDINATOR,
};
use crate::types::TopicPartition;
use crate::Error;

pub(super) use crate::protocol::requests::consumer_group_heartbeat::ConsumerHeartbeatRequest;
pub use crate::protocol::requests::heartbeat::HeartbeatRequest;
pub use crate::protocol::requests::join_group::{
    JoinGroupProtocol, JoinGroupRequest, JoinGroupResult, JoinedMember,
};
pub use crate::protocol::requests::leave_group::LeaveGroupRequest;
pub use crate::protocol::requests::sync_group::{SyncGroupRequest, SyncGroupResult};

/// What the async layer must do next, in order. Requests and listener events share one queue so
/// that their order is kept: under the eager protocol `Revoked` comes before the JoinGroup it
/// precedes, and the listener must have returned before the next action is taken.
#[derive(Debug, Clone)]
pub enum GroupAction {
    /// Send FindCoordinator (key type GROUP) for `key`, then call
    /// [`on_coordinator_found`](super::GroupMembership::on_coordinator_found) or
    /// [`on_find_coordinator_error`](super::GroupMembership::on_find_coordinator_error).
    FindCoordinator {
        /// The group id.
        key: String,
    },
    /// Send JoinGroup to the coordinator. The response may take up to the rebalance timeout: give
    /// the request `rebalance_timeout_ms` plus some slack (Java adds 5 s).
    SendJoinGroup(JoinGroupRequest),
    /// Leader only: look up the partition counts of `topics` (metadata) and pass them to
    /// [`on_partition_counts`](super::GroupMembership::on_partition_counts).
    DescribeTopics {
        /// Every topic some member subscribes to, sorted.
        topics: Vec<String>,
    },
    /// Send SyncGroup to the coordinator.
    SendSyncGroup(SyncGroupRequest),
    /// Send Heartbeat to the coordinator.
    SendHeartbeat(HeartbeatRequest),
    /// Send LeaveGroup to the coordinator.
    SendLeaveGroup(LeaveGroupRequest),
    /// Rebalance listener `on_partitions_revoked`: the member gives these up; the application may
    /// still commit their offsets now.
    Revoked(Vec<TopicPartition>),
    /// Rebalance listener `on_partitions_assigned`: newly assigned partitions (eager: the whole
    /// assignment; cooperative: only the added ones, possibly none).
    Assigned(Vec<TopicPartition>),
    /// Rebalance listener `on_partitions_lost`: these are already owned by someone else or by
    /// nobody; committing their offsets is no longer possible.
    Lost(Vec<TopicPartition>),
    /// An error for the application (returned from its next poll): a fenced static member,
    /// authorization failure, inconsistent protocol. See [`MemberState`](super::MemberState).
    Error(Error),
    /// KIP-848: send ConsumerGroupHeartbeat to the coordinator, then call
    /// [`on_heartbeat_response`](crate::consumer::group::ConsumerMembership::on_heartbeat_response)
    /// or `on_request_failed`.
    SendConsumerHeartbeat(ConsumerHeartbeatRequest),
    /// KIP-848: find the names of these topic ids (the assignment names topics by id) and pass
    /// them to
    /// [`on_topic_names`](crate::consumer::group::ConsumerMembership::on_topic_names).
    ResolveTopicIds(Vec<uuid::Uuid>),
}

/// Which group request failed without a response (connection lost, request timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupRequestKind {
    /// FindCoordinator.
    FindCoordinator,
    /// JoinGroup.
    JoinGroup,
    /// SyncGroup.
    SyncGroup,
    /// Heartbeat.
    Heartbeat,
    /// LeaveGroup.
    LeaveGroup,
}

/// Codes after which the member looks its coordinator up again (and keeps its generation).
pub(super) fn is_coordinator_error(code: i16) -> bool {
    matches!(
        code,
        NOT_COORDINATOR | COORDINATOR_NOT_AVAILABLE | COORDINATOR_LOAD_IN_PROGRESS
    )
}

/// A SyncGroup or JoinGroup answer that does not fit the member's own request.
pub(super) fn inconsistent(detail: &str) -> Error {
    Error::from_broker_code(INCONSISTENT_GROUP_PROTOCOL).with_detail(detail.to_string())
}
