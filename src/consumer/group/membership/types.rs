//! The state machine's outputs (requests to send, rebalance-listener events) and its inputs
//! (the parts of the broker's responses it needs).

use bytes::Bytes;

use crate::types::TopicPartition;
use crate::Error;

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
}

/// A JoinGroup request's fields (any version; the async layer picks the version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupRequest {
    /// `group.id`.
    pub group_id: String,
    /// The member id so far; empty on the first join.
    pub member_id: String,
    /// `group.instance.id` (v5+).
    pub group_instance_id: Option<String>,
    /// `session.timeout.ms`.
    pub session_timeout_ms: i32,
    /// `max.poll.interval.ms` (v1+).
    pub rebalance_timeout_ms: i32,
    /// Always `"consumer"`.
    pub protocol_type: &'static str,
    /// One per configured assignor, in order of preference.
    pub protocols: Vec<JoinGroupProtocol>,
    /// Why the member (re)joins (v8+).
    pub reason: String,
}

/// One protocol offered in JoinGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupProtocol {
    /// Assignor name (`range`, `cooperative-sticky`, …).
    pub name: &'static str,
    /// Encoded `ConsumerProtocolSubscription` (version prefix included).
    pub metadata: Bytes,
}

/// A SyncGroup request's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupRequest {
    /// `group.id`.
    pub group_id: String,
    /// The generation from JoinGroup.
    pub generation_id: i32,
    /// The member id from JoinGroup.
    pub member_id: String,
    /// `group.instance.id` (v3+).
    pub group_instance_id: Option<String>,
    /// `"consumer"` (v5+).
    pub protocol_type: &'static str,
    /// The chosen assignor (v5+).
    pub protocol_name: String,
    /// Leader: one encoded `ConsumerProtocolAssignment` per member; followers: empty.
    pub assignments: Vec<(String, Bytes)>,
}

/// A Heartbeat request's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatRequest {
    /// `group.id`.
    pub group_id: String,
    /// Current generation.
    pub generation_id: i32,
    /// Current member id.
    pub member_id: String,
    /// `group.instance.id` (v3+).
    pub group_instance_id: Option<String>,
}

/// A LeaveGroup request's fields (v3+ carries them as one member entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveGroupRequest {
    /// `group.id`.
    pub group_id: String,
    /// The member id leaving.
    pub member_id: String,
    /// `group.instance.id` (only dynamic members send LeaveGroup, so normally none).
    pub group_instance_id: Option<String>,
    /// Why (v5+).
    pub reason: String,
}

/// The parts of a JoinGroup response the state machine needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JoinGroupResult {
    /// The error code (0 = none).
    pub error_code: i16,
    /// The generation id.
    pub generation_id: i32,
    /// The protocol type (v7+), `None` before.
    pub protocol_type: Option<String>,
    /// The chosen assignor.
    pub protocol_name: Option<String>,
    /// The leader's member id.
    pub leader: String,
    /// This member's id (also set with `MEMBER_ID_REQUIRED`).
    pub member_id: String,
    /// All members with their metadata; only the leader receives them.
    pub members: Vec<JoinedMember>,
    /// v9+ (KIP-814): a static leader rejoined and the group's assignment stands; the leader
    /// must not compute a new one and syncs like a follower.
    pub skip_assignment: bool,
}

/// One member listed in a JoinGroup response to the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedMember {
    /// Its member id.
    pub member_id: String,
    /// Its `group.instance.id`.
    pub group_instance_id: Option<String>,
    /// Its subscription bytes for the chosen protocol (untrusted: from another client).
    pub metadata: Bytes,
}

/// The parts of a SyncGroup response the state machine needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncGroupResult {
    /// The error code (0 = none).
    pub error_code: i16,
    /// The protocol type (v5+).
    pub protocol_type: Option<String>,
    /// The protocol name (v5+).
    pub protocol_name: Option<String>,
    /// This member's encoded assignment.
    pub assignment: Bytes,
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
