//! The member's protocol state: [`MemberState`] and the generation it carries.

use std::time::Instant;

use crate::consumer::group::assignor::{AssignmentStrategy, GroupMember};
use crate::Error;

/// A generation of the group as this member knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// The generation id.
    pub generation_id: i32,
    /// This member's id in it.
    pub member_id: String,
    /// The assignor the coordinator chose.
    pub protocol_name: String,
    /// Whether this member leads (computes the assignment).
    pub leader: bool,
}

/// Heartbeat bookkeeping of a stable member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatTimer {
    /// When the next heartbeat is due.
    pub next_at: Instant,
    /// Whether a heartbeat awaits its response.
    pub in_flight: bool,
    /// The last successful heartbeat (or when the session window last restarted).
    pub last_ok: Instant,
}

/// Where the member is in the group protocol.
///
/// ```text
///            subscribe / on_poll after poll timeout or Failed(retry_on_poll)
///  Unjoined ─────────────────────────────────────┐
///     ▲                                          ▼
///     │ max.poll.interval          ┌──────► Joining ◄───────────────────────────┐ 79/25/22/27, coordinator errors,
///     │ (LeaveGroup if dynamic)    │           │ JoinGroup ok                   │ request_rejoin, cooperative
///     │                            │   leader  ├──────────► AwaitingMetadata    │ revocation follow-up
///     │                            │           │ follower        │ counts       │
///     │                            │           ▼                 ▼              │
///     │                            │      AwaitingSync ◄─────────┘              │
///     │                            │           │ SyncGroup ok                   │
///     │                            │           ▼                                │
///     └────────────────────────────┴────── Stable{generation} ──────────────────┘
///                                              │ close (LeaveGroup if dynamic)
///  any ── 82 ──► Fenced (final)                ▼
///  any ── 30/23/fatal ──► Failed           Leaving ──► Closed
/// ```
#[derive(Debug, Clone)]
pub enum MemberState {
    /// Not in the group: no subscription yet, or left after `max.poll.interval.ms` (then
    /// `rejoin_on_poll` is set and the next [`GroupMembership::on_poll`](super::GroupMembership::on_poll) rejoins).
    Unjoined {
        /// Rejoin on the next poll.
        rejoin_on_poll: bool,
    },
    /// Joining: a JoinGroup goes out once the coordinator is known and `send_at` has passed.
    Joining {
        /// The member id so far (empty on a first join or after `UNKNOWN_MEMBER_ID`).
        member_id: String,
        /// Not before this instant (backoff).
        send_at: Instant,
        /// Whether the JoinGroup awaits its response.
        in_flight: bool,
        /// Why (sent in JoinGroup v8+).
        reason: String,
    },
    /// Leader: joined; waiting for the partition counts of the members' topics.
    AwaitingMetadata {
        /// The new generation.
        generation: Generation,
        /// The assignor to run.
        strategy: AssignmentStrategy,
        /// All members with their decoded subscriptions.
        members: Vec<GroupMember>,
    },
    /// SyncGroup sent; waiting for this member's assignment.
    AwaitingSync {
        /// The new generation.
        generation: Generation,
    },
    /// In the group with an assignment; heartbeating.
    Stable {
        /// The current generation.
        generation: Generation,
        /// Heartbeat timers.
        heartbeat: HeartbeatTimer,
    },
    /// Closing: LeaveGroup sent, waiting for its response.
    Leaving,
    /// Closed; nothing more happens.
    Closed,
    /// Another instance with the same `group.instance.id` took over (final).
    Fenced(Error),
    /// Stopped by an error; when `retry_on_poll`, the next `on_poll` starts over.
    Failed {
        /// The error (also emitted as [`GroupAction::Error`](super::GroupAction::Error)).
        error: Error,
        /// Whether the next poll rejoins.
        retry_on_poll: bool,
    },
}
