//! The I/O-free core of classic group membership: FindCoordinator → JoinGroup → SyncGroup →
//! heartbeats, with the rebalance listener's events.
//!
//! Inputs are method calls with `now` passed in; outputs are polled
//! ([`GroupMembership::poll_action`], [`GroupMembership::poll_timeout`]), like quinn-proto:
//!
//! ```text
//!  subscribe / on_poll / close ───────────────►┐
//!  on_coordinator_found / ..._error ──────────►│                    ──poll_action()──► FindCoordinator,
//!  on_join_group_response ────────────────────►│ GroupMembership       SendJoinGroup, DescribeTopics,
//!  on_partition_counts (leader) ──────────────►│                       SendSyncGroup, SendHeartbeat,
//!  on_sync_group_response / on_heartbeat_... ─►│                       SendLeaveGroup, Revoked, Assigned,
//!  on_commit_error / on_request_failed ───────►│                       Lost, Error
//!  handle_timeout(now) ───────────────────────►┘                    ──poll_timeout()──► next wake-up
//! ```
//!
//! The coordinator is tracked beside the [`MemberState`], not inside it: when the coordinator
//! moves (`NOT_COORDINATOR`, a lost connection, an expired session) a stable member keeps its
//! generation and assignment, finds the coordinator again and resumes heartbeats (as Java does).
//! Requests wait while the coordinator is unknown.
//!
//! # Error handling (JoinGroup, SyncGroup, Heartbeat, OffsetCommit)
//! | code | action |
//! |---|---|
//! | `MEMBER_ID_REQUIRED` (79, join) | rejoin at once with the member id given |
//! | `UNKNOWN_MEMBER_ID` (25) | partitions `Lost`, member id reset, rejoin |
//! | `ILLEGAL_GENERATION` (22) | partitions `Lost`, member id kept, rejoin |
//! | `REBALANCE_IN_PROGRESS` (27) | rejoin (eager: `Revoked` all first; cooperative: keep them); JoinGroup: after `retry.backoff.ms` |
//! | `FENCED_INSTANCE_ID` (82) | `Lost`, `Error`, state [`MemberState::Fenced`] (final) |
//! | `NOT_COORDINATOR`, `COORDINATOR_NOT_AVAILABLE`, `COORDINATOR_LOAD_IN_PROGRESS` (16/15/14) | find the coordinator again after `retry.backoff.ms`; a pending JoinGroup/SyncGroup restarts as a JoinGroup |
//! | `GROUP_AUTHORIZATION_FAILED` (30), other non-retriable codes | `Lost`, `Error`, [`MemberState::Failed`]; the next `on_poll` tries again |
//! | `INCONSISTENT_GROUP_PROTOCOL` (23), unknown assignor chosen | `Error`, [`MemberState::Failed`] for good |
//! | other retriable codes | retry after `retry.backoff.ms` |

#[cfg(test)]
mod tests;
mod types;

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;

pub use types::{
    GroupAction, GroupRequestKind, HeartbeatRequest, JoinGroupProtocol, JoinGroupRequest,
    JoinGroupResult, JoinedMember, LeaveGroupRequest, SyncGroupRequest, SyncGroupResult,
};

use super::assignor::{
    rebalance_protocol, AssignmentStrategy, GroupMember, PartitionCounts, RebalanceProtocol,
};
use super::metadata::{Assignment, Subscription, CONSUMER_PROTOCOL_VERSION};
use super::GroupConfig;
use crate::types::TopicPartition;
use crate::{Error, Result};

const PROTOCOL_TYPE: &str = "consumer";
const MEMBER_ID_REQUIRED: i16 = 79;
const UNKNOWN_MEMBER_ID: i16 = 25;
const ILLEGAL_GENERATION: i16 = 22;
const REBALANCE_IN_PROGRESS: i16 = 27;
const FENCED_INSTANCE_ID: i16 = 82;
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const NOT_COORDINATOR: i16 = 16;
const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;

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
    /// `rejoin_on_poll` is set and the next [`GroupMembership::on_poll`] rejoins).
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
        /// The error (also emitted as [`GroupAction::Error`]).
        error: Error,
        /// Whether the next poll rejoins.
        retry_on_poll: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coordinator {
    Unknown { lookup_at: Instant },
    Looking,
    Known(i32),
}

/// Classic consumer group membership, I/O-free. See the [module docs](self).
#[derive(Debug)]
pub struct GroupMembership {
    config: GroupConfig,
    protocol: RebalanceProtocol,
    state: MemberState,
    coordinator: Coordinator,
    subscription: BTreeSet<String>,
    /// The partitions the application holds (what the listener was last told).
    owned: BTreeSet<TopicPartition>,
    /// The generation `owned` was assigned in; -1 when nothing is owned.
    owned_generation: i32,
    last_poll: Instant,
    /// A rejoin asked for while a JoinGroup/SyncGroup was pending; done once stable.
    rejoin_requested: Option<String>,
    /// Leader: the partition counts the current assignment was computed from.
    leader_counts: Option<PartitionCounts>,
    actions: VecDeque<GroupAction>,
}

impl GroupMembership {
    /// A member that has not joined yet. Fails if the configuration is invalid.
    pub fn new(config: GroupConfig, now: Instant) -> Result<GroupMembership> {
        config.validate()?;
        Ok(GroupMembership {
            protocol: rebalance_protocol(&config.partition_assignment_strategy),
            config,
            state: MemberState::Unjoined {
                rejoin_on_poll: false,
            },
            coordinator: Coordinator::Unknown { lookup_at: now },
            subscription: BTreeSet::new(),
            owned: BTreeSet::new(),
            owned_generation: -1,
            last_poll: now,
            rejoin_requested: None,
            leader_counts: None,
            actions: VecDeque::new(),
        })
    }

    // ---- observers -------------------------------------------------------------------------

    /// The current state.
    pub fn state(&self) -> &MemberState {
        &self.state
    }

    /// The group's rebalance protocol (cooperative only if every configured assignor supports it).
    pub fn rebalance_protocol(&self) -> RebalanceProtocol {
        self.protocol
    }

    /// The coordinator's node id, if known.
    pub fn coordinator(&self) -> Option<i32> {
        match self.coordinator {
            Coordinator::Known(id) => Some(id),
            _ => None,
        }
    }

    /// The current generation when stable (what OffsetCommit should carry), else `None`.
    pub fn generation(&self) -> Option<&Generation> {
        match &self.state {
            MemberState::Stable { generation, .. } => Some(generation),
            _ => None,
        }
    }

    /// The generation id for OffsetCommit: the stable generation, or -1.
    pub fn generation_id(&self) -> i32 {
        self.generation().map_or(-1, |g| g.generation_id)
    }

    /// The member id as currently known ("" before the first join or after a reset).
    pub fn member_id(&self) -> &str {
        match &self.state {
            MemberState::Joining { member_id, .. } => member_id,
            MemberState::AwaitingMetadata { generation, .. }
            | MemberState::AwaitingSync { generation }
            | MemberState::Stable { generation, .. } => &generation.member_id,
            _ => "",
        }
    }

    /// `group.instance.id`, if the member is static.
    pub fn group_instance_id(&self) -> Option<&str> {
        self.config.group_instance_id.as_deref()
    }

    /// The partitions the member owns (the listener's view).
    pub fn assignment(&self) -> &BTreeSet<TopicPartition> {
        &self.owned
    }

    /// The subscribed topics.
    pub fn subscription(&self) -> &BTreeSet<String> {
        &self.subscription
    }

    /// The next action to take, in order.
    pub fn poll_action(&mut self) -> Option<GroupAction> {
        self.actions.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next (heartbeat, session,
    /// `max.poll.interval.ms`, backoff), if anything is pending.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut at = |i: Instant| t = Some(t.map_or(i, |c| c.min(i)));
        if let Coordinator::Unknown { lookup_at } = self.coordinator {
            if self.needs_coordinator() {
                at(lookup_at);
            }
        }
        match &self.state {
            MemberState::Joining {
                send_at,
                in_flight: false,
                ..
            } if self.coordinator().is_some() => at(*send_at),
            MemberState::Stable { heartbeat, .. } => {
                if !heartbeat.in_flight && self.coordinator().is_some() {
                    at(heartbeat.next_at);
                }
                if self.coordinator().is_some() {
                    at(heartbeat.last_ok + self.config.session_timeout);
                }
                at(self.last_poll + self.config.max_poll_interval);
            }
            _ => {}
        }
        t
    }

    // ---- application inputs ----------------------------------------------------------------

    /// Sets the subscribed topics. Starts joining if not in the group; rejoins if they changed.
    pub fn subscribe(&mut self, now: Instant, topics: impl IntoIterator<Item = String>) {
        let topics: BTreeSet<String> = topics.into_iter().collect();
        let changed = topics != self.subscription;
        self.subscription = topics;
        match self.state {
            MemberState::Unjoined { .. } => self.begin_join(now, "subscribed"),
            _ if changed => self.request_rejoin(now, "subscription changed"),
            _ => {}
        }
        self.drive(now);
    }

    /// The application polled: restarts the `max.poll.interval.ms` timer, and rejoins after a
    /// poll timeout or a recoverable failure.
    pub fn on_poll(&mut self, now: Instant) {
        self.last_poll = now;
        match &self.state {
            MemberState::Unjoined {
                rejoin_on_poll: true,
            }
            | MemberState::Failed {
                retry_on_poll: true,
                ..
            } => self.begin_join(now, "rejoining on poll"),
            _ => {}
        }
        self.drive(now);
    }

    /// Runs timers: heartbeats, session expiry, `max.poll.interval.ms`, backoffs.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.drive(now);
    }

    /// Asks for a rebalance (e.g. the leader saw partitions added). Done at once when stable,
    /// after the pending SyncGroup otherwise.
    pub fn request_rejoin(&mut self, now: Instant, reason: &str) {
        match &self.state {
            MemberState::Stable { .. } => self.begin_join(now, reason),
            MemberState::Joining {
                in_flight: false, ..
            } => {}
            MemberState::Joining { .. }
            | MemberState::AwaitingMetadata { .. }
            | MemberState::AwaitingSync { .. } => self.rejoin_requested = Some(reason.to_string()),
            _ => {}
        }
        self.drive(now);
    }

    /// Leader: new metadata. Rejoins when a partition count of a topic in the current
    /// assignment changed (partitions added, topic deleted or recreated).
    pub fn on_metadata_update(&mut self, now: Instant, counts: &PartitionCounts) {
        let changed = match (&self.state, &self.leader_counts) {
            (MemberState::Stable { generation, .. }, Some(old)) if generation.leader => old
                .iter()
                .any(|(t, n)| counts.get(t).copied().unwrap_or(0) != *n),
            _ => false,
        };
        if changed {
            self.request_rejoin(now, "partition counts changed");
        }
    }

    /// Leaves the group: `Revoked` for what is owned, then LeaveGroup unless the member is static
    /// (a static member restarting within `session.timeout.ms` gets its partitions back without
    /// a rebalance) or has no member id / coordinator.
    pub fn close(&mut self, now: Instant) {
        if matches!(self.state, MemberState::Closed | MemberState::Leaving) {
            return;
        }
        let member_id = self.member_id().to_string();
        if !self.owned.is_empty() {
            let revoked = std::mem::take(&mut self.owned);
            self.actions
                .push_back(GroupAction::Revoked(revoked.into_iter().collect()));
            self.owned_generation = -1;
        }
        let in_group = !matches!(
            self.state,
            MemberState::Unjoined { .. } | MemberState::Fenced(_) | MemberState::Failed { .. }
        );
        if in_group
            && !self.config.is_static()
            && !member_id.is_empty()
            && self.coordinator().is_some()
        {
            self.push_leave(member_id, "the consumer is being closed");
            self.state = MemberState::Leaving;
        } else {
            self.state = MemberState::Closed;
        }
        self.drive(now);
    }

    // ---- responses -------------------------------------------------------------------------

    /// FindCoordinator answered with the coordinator's node id.
    pub fn on_coordinator_found(&mut self, now: Instant, node_id: i32) {
        self.coordinator = Coordinator::Known(node_id);
        if let MemberState::Stable { heartbeat, .. } = &mut self.state {
            // A new session window starts with the new coordinator; heartbeat at once.
            heartbeat.last_ok = now;
            heartbeat.next_at = now;
            heartbeat.in_flight = false;
        }
        self.drive(now);
    }

    /// FindCoordinator failed (error code or transport). Retriable errors retry after
    /// `retry.backoff.ms`; others (e.g. `GROUP_AUTHORIZATION_FAILED`) fail the member.
    pub fn on_find_coordinator_error(&mut self, now: Instant, error: Error) {
        if error.is_retriable() {
            self.coordinator_unknown(now);
        } else {
            self.coordinator_unknown(now);
            let retry = !error.is_fatal();
            self.fail(error, retry);
        }
        self.drive(now);
    }

    /// A group request got no response (connection lost, request timeout).
    pub fn on_request_failed(&mut self, now: Instant, kind: GroupRequestKind, _error: Error) {
        match (kind, &mut self.state) {
            (GroupRequestKind::FindCoordinator, _) => self.coordinator_unknown(now),
            (
                GroupRequestKind::JoinGroup,
                MemberState::Joining {
                    in_flight, send_at, ..
                },
            ) if *in_flight => {
                *in_flight = false;
                *send_at = now;
                self.coordinator_unknown(now);
            }
            (GroupRequestKind::SyncGroup, MemberState::AwaitingSync { generation }) => {
                let member_id = generation.member_id.clone();
                self.coordinator_unknown(now);
                self.rejoin_with(member_id, "SyncGroup failed", now);
            }
            (GroupRequestKind::Heartbeat, MemberState::Stable { heartbeat, .. }) => {
                heartbeat.in_flight = false;
                self.coordinator_unknown(now);
            }
            (GroupRequestKind::LeaveGroup, MemberState::Leaving) => {
                self.state = MemberState::Closed
            }
            _ => {}
        }
        self.drive(now);
    }

    /// JoinGroup answered.
    pub fn on_join_group_response(&mut self, now: Instant, resp: JoinGroupResult) {
        let MemberState::Joining {
            member_id,
            in_flight: true,
            ..
        } = &self.state
        else {
            return; // stale: not waiting for a JoinGroup
        };
        let member_id = member_id.clone();
        if let Some(reason) = self.rejoin_requested.take() {
            if resp.error_code == 0 {
                // The JoinGroup carried an outdated subscription; finish this round, then rejoin.
                self.rejoin_requested = Some(reason);
            }
        }
        match resp.error_code {
            0 => self.joined(resp),
            MEMBER_ID_REQUIRED => self.rejoin_with(resp.member_id, "member id required", now),
            REBALANCE_IN_PROGRESS => {
                let at = now + self.config.retry_backoff;
                self.rejoin_with(member_id, "rebalance in progress", at)
            }
            code => self.common_error(now, code, member_id, "JoinGroup"),
        }
        self.drive(now);
    }

    /// Leader: the partition counts for the topics of [`GroupAction::DescribeTopics`]. Runs the
    /// assignor and sends SyncGroup with every member's assignment.
    pub fn on_partition_counts(&mut self, now: Instant, counts: &PartitionCounts) {
        let MemberState::AwaitingMetadata {
            generation,
            strategy,
            members,
        } = &self.state
        else {
            return;
        };
        let assignment = strategy.assign(members, counts, self.protocol);
        let mut assignments = Vec::with_capacity(assignment.len());
        for (member, partitions) in assignment {
            let encoded = Assignment {
                partitions,
                user_data: None,
            }
            .encode();
            match encoded {
                Ok(bytes) => assignments.push((member, bytes)),
                Err(e) => {
                    self.fail(e, false);
                    return;
                }
            }
        }
        let topics: BTreeSet<&String> = members
            .iter()
            .flat_map(|m| &m.subscription.topics)
            .collect();
        self.leader_counts = Some(
            topics
                .into_iter()
                .map(|t| (t.clone(), counts.get(t).copied().unwrap_or(0)))
                .collect(),
        );
        let generation = generation.clone();
        self.push_sync(&generation, assignments);
        self.state = MemberState::AwaitingSync { generation };
        self.drive(now);
    }

    /// SyncGroup answered.
    pub fn on_sync_group_response(&mut self, now: Instant, resp: SyncGroupResult) {
        let MemberState::AwaitingSync { generation } = &self.state else {
            return;
        };
        let generation = generation.clone();
        match resp.error_code {
            0 => {
                let consistent = resp
                    .protocol_type
                    .as_deref()
                    .is_none_or(|t| t == PROTOCOL_TYPE)
                    && resp
                        .protocol_name
                        .as_deref()
                        .is_none_or(|n| n == generation.protocol_name);
                if !consistent {
                    self.fail(
                        inconsistent("SyncGroup protocol differs from JoinGroup's"),
                        false,
                    );
                } else {
                    match Assignment::decode(&resp.assignment) {
                        Ok(a) => self.apply_assignment(now, generation, a.partitions),
                        Err(e) => {
                            tracing::warn!(error = %e, "undecodable assignment; rejoining");
                            let at = now + self.config.retry_backoff;
                            self.rejoin_with(generation.member_id, "undecodable assignment", at);
                        }
                    }
                }
            }
            REBALANCE_IN_PROGRESS => {
                self.rejoin_with(generation.member_id, "rebalance in progress", now)
            }
            code => self.common_error(now, code, generation.member_id, "SyncGroup"),
        }
        self.drive(now);
    }

    /// Heartbeat answered with `error_code` (0 = none).
    pub fn on_heartbeat_response(&mut self, now: Instant, error_code: i16) {
        let MemberState::Stable {
            generation,
            heartbeat,
        } = &mut self.state
        else {
            return; // stale: a rebalance started meanwhile
        };
        if !heartbeat.in_flight {
            return;
        }
        heartbeat.in_flight = false;
        let member_id = generation.member_id.clone();
        match error_code {
            0 => heartbeat.last_ok = now,
            REBALANCE_IN_PROGRESS => self.begin_join(now, "group is rebalancing"),
            code => {
                let error = Error::from_broker_code(code);
                if error.is_retriable() && !is_coordinator_error(code) {
                    heartbeat.next_at = now + self.config.retry_backoff;
                } else {
                    self.common_error(now, code, member_id, "Heartbeat");
                }
            }
        }
        self.drive(now);
    }

    /// LeaveGroup answered (errors are only logged: the member is leaving anyway).
    pub fn on_leave_group_response(&mut self, now: Instant, error_code: i16) {
        if error_code != 0 {
            tracing::debug!(code = error_code, "LeaveGroup failed; closing anyway");
        }
        if matches!(self.state, MemberState::Leaving) {
            self.state = MemberState::Closed;
        }
        self.drive(now);
    }

    /// OffsetCommit (or TxnOffsetCommit) failed with a group error: applies the same rules as a
    /// heartbeat error and returns the error for the commit's caller.
    pub fn on_commit_error(&mut self, now: Instant, error_code: i16) -> Error {
        let error = Error::from_broker_code(error_code).with_api("OffsetCommit");
        let member_id = self.member_id().to_string();
        match error_code {
            REBALANCE_IN_PROGRESS => self.request_rejoin(now, "commit: rebalance in progress"),
            UNKNOWN_MEMBER_ID | ILLEGAL_GENERATION | FENCED_INSTANCE_ID => {
                if !matches!(
                    self.state,
                    MemberState::Unjoined { .. }
                        | MemberState::Leaving
                        | MemberState::Closed
                        | MemberState::Fenced(_)
                        | MemberState::Failed { .. }
                ) {
                    self.common_error(now, error_code, member_id, "OffsetCommit");
                }
            }
            c if is_coordinator_error(c) => self.coordinator_unknown(now),
            _ => {}
        }
        self.drive(now);
        error
    }

    // ---- internals -------------------------------------------------------------------------

    /// Codes shared by JoinGroup, SyncGroup, Heartbeat and OffsetCommit.
    fn common_error(&mut self, now: Instant, code: i16, member_id: String, api: &'static str) {
        let error = Error::from_broker_code(code).with_api(api);
        match code {
            UNKNOWN_MEMBER_ID => self.lose_and_rejoin(now, String::new(), "unknown member id"),
            ILLEGAL_GENERATION => self.lose_and_rejoin(now, member_id, "illegal generation"),
            FENCED_INSTANCE_ID => {
                self.lose_all();
                self.actions.push_back(GroupAction::Error(error.clone()));
                self.state = MemberState::Fenced(error);
            }
            c if is_coordinator_error(c) => {
                self.coordinator_unknown(now);
                if !matches!(self.state, MemberState::Stable { .. }) {
                    self.rejoin_with(member_id, "coordinator moved", now);
                }
            }
            INCONSISTENT_GROUP_PROTOCOL => self.fail(error, false),
            _ if error.is_retriable() => {
                let at = now + self.config.retry_backoff;
                self.rejoin_with(member_id, "retriable error", at);
            }
            _ => {
                let retry = !error.is_fatal();
                self.fail(error, retry);
            }
        }
    }

    fn joined(&mut self, resp: JoinGroupResult) {
        let strategy = resp
            .protocol_name
            .as_deref()
            .and_then(AssignmentStrategy::from_name)
            .filter(|s| self.config.partition_assignment_strategy.contains(s));
        let type_ok = resp
            .protocol_type
            .as_deref()
            .is_none_or(|t| t == PROTOCOL_TYPE);
        let Some(strategy) = strategy.filter(|_| type_ok) else {
            let detail = format!("coordinator chose {:?}", resp.protocol_name);
            self.fail(inconsistent(&detail), false);
            return;
        };
        let generation = Generation {
            generation_id: resp.generation_id,
            leader: !resp.member_id.is_empty() && resp.leader == resp.member_id,
            member_id: resp.member_id,
            protocol_name: strategy.name().to_string(),
        };
        if !generation.leader {
            self.push_sync(&generation, Vec::new());
            self.state = MemberState::AwaitingSync { generation };
            return;
        }
        let members: Vec<GroupMember> = resp
            .members
            .into_iter()
            .map(|m| {
                // Metadata from another client: a member whose bytes do not decode subscribes to
                // nothing (it gets an empty assignment) instead of failing the whole group.
                let subscription = Subscription::decode(&m.metadata).unwrap_or_else(|e| {
                    tracing::warn!(member = %m.member_id, error = %e, "undecodable subscription");
                    Subscription::default()
                });
                GroupMember {
                    member_id: m.member_id,
                    group_instance_id: m.group_instance_id,
                    subscription,
                }
            })
            .collect();
        let topics: BTreeSet<String> = members
            .iter()
            .flat_map(|m| m.subscription.topics.iter().cloned())
            .collect();
        self.actions.push_back(GroupAction::DescribeTopics {
            topics: topics.into_iter().collect(),
        });
        self.state = MemberState::AwaitingMetadata {
            generation,
            strategy,
            members,
        };
    }

    fn apply_assignment(
        &mut self,
        now: Instant,
        generation: Generation,
        partitions: Vec<TopicPartition>,
    ) {
        let new: BTreeSet<TopicPartition> = partitions.into_iter().collect();
        let revoked: Vec<TopicPartition> = self.owned.difference(&new).cloned().collect();
        let added: Vec<TopicPartition> = new.difference(&self.owned).cloned().collect();
        if !revoked.is_empty() {
            self.actions
                .push_back(GroupAction::Revoked(revoked.clone()));
        }
        self.actions.push_back(GroupAction::Assigned(added));
        let unsubscribed = new.iter().any(|tp| !self.subscription.contains(&tp.topic));
        self.owned = new;
        self.owned_generation = generation.generation_id;
        self.state = MemberState::Stable {
            heartbeat: HeartbeatTimer {
                next_at: now + self.config.heartbeat_interval,
                in_flight: false,
                last_ok: now,
            },
            generation,
        };
        if !revoked.is_empty() && self.protocol == RebalanceProtocol::Cooperative {
            // KIP-429: revoked partitions reach their new owner in a follow-up rebalance.
            self.rejoin_requested = None;
            self.begin_join(now, "revoked partitions must move");
        } else if let Some(reason) = self.rejoin_requested.take() {
            self.begin_join(now, &reason);
        } else if unsubscribed {
            self.begin_join(now, "assignment has unsubscribed topics");
        }
    }

    /// Starts a rebalance from the current state, keeping the member id. Eager: `Revoked` first.
    fn begin_join(&mut self, now: Instant, reason: &str) {
        if self.protocol == RebalanceProtocol::Eager && !self.owned.is_empty() {
            let revoked = std::mem::take(&mut self.owned);
            self.actions
                .push_back(GroupAction::Revoked(revoked.into_iter().collect()));
            self.owned_generation = -1;
        }
        let member_id = self.member_id().to_string();
        self.rejoin_with(member_id, reason, now);
    }

    fn rejoin_with(&mut self, member_id: String, reason: &str, send_at: Instant) {
        self.state = MemberState::Joining {
            member_id,
            send_at,
            in_flight: false,
            reason: reason.to_string(),
        };
    }

    fn lose_all(&mut self) {
        if !self.owned.is_empty() {
            let lost = std::mem::take(&mut self.owned);
            self.actions
                .push_back(GroupAction::Lost(lost.into_iter().collect()));
        }
        self.owned_generation = -1;
    }

    fn lose_and_rejoin(&mut self, now: Instant, member_id: String, reason: &str) {
        self.lose_all();
        self.rejoin_with(member_id, reason, now);
    }

    fn fail(&mut self, error: Error, retry_on_poll: bool) {
        self.lose_all();
        self.actions.push_back(GroupAction::Error(error.clone()));
        self.state = MemberState::Failed {
            error,
            retry_on_poll,
        };
    }

    fn coordinator_unknown(&mut self, now: Instant) {
        self.coordinator = Coordinator::Unknown {
            lookup_at: now + self.config.retry_backoff,
        };
    }

    fn needs_coordinator(&self) -> bool {
        matches!(
            self.state,
            MemberState::Joining { .. }
                | MemberState::AwaitingMetadata { .. }
                | MemberState::AwaitingSync { .. }
                | MemberState::Stable { .. }
        )
    }

    fn push_sync(&mut self, generation: &Generation, assignments: Vec<(String, Bytes)>) {
        self.actions
            .push_back(GroupAction::SendSyncGroup(SyncGroupRequest {
                group_id: self.config.group_id.clone(),
                generation_id: generation.generation_id,
                member_id: generation.member_id.clone(),
                group_instance_id: self.config.group_instance_id.clone(),
                protocol_type: PROTOCOL_TYPE,
                protocol_name: generation.protocol_name.clone(),
                assignments,
            }));
    }

    fn push_leave(&mut self, member_id: String, reason: &str) {
        self.actions
            .push_back(GroupAction::SendLeaveGroup(LeaveGroupRequest {
                group_id: self.config.group_id.clone(),
                member_id,
                group_instance_id: self.config.group_instance_id.clone(),
                reason: reason.to_string(),
            }));
    }

    fn join_request(&self, member_id: &str, reason: &str) -> Result<JoinGroupRequest> {
        let owned: Vec<TopicPartition> = match self.protocol {
            RebalanceProtocol::Cooperative => self.owned.iter().cloned().collect(),
            RebalanceProtocol::Eager => Vec::new(),
        };
        let subscription = Subscription {
            topics: self.subscription.iter().cloned().collect(),
            user_data: None,
            generation_id: if owned.is_empty() {
                -1
            } else {
                self.owned_generation
            },
            owned_partitions: owned,
            rack_id: self.config.client_rack.clone(),
        };
        let metadata = subscription.encode(CONSUMER_PROTOCOL_VERSION)?;
        Ok(JoinGroupRequest {
            group_id: self.config.group_id.clone(),
            member_id: member_id.to_string(),
            group_instance_id: self.config.group_instance_id.clone(),
            session_timeout_ms: millis_i32(self.config.session_timeout),
            rebalance_timeout_ms: millis_i32(self.config.max_poll_interval),
            protocol_type: PROTOCOL_TYPE,
            protocols: self
                .config
                .partition_assignment_strategy
                .iter()
                .map(|s| JoinGroupProtocol {
                    name: s.name(),
                    metadata: metadata.clone(),
                })
                .collect(),
            reason: reason.to_string(),
        })
    }

    /// Emits whatever is due at `now`.
    fn drive(&mut self, now: Instant) {
        if let Coordinator::Unknown { lookup_at } = self.coordinator {
            if self.needs_coordinator() && now >= lookup_at {
                self.coordinator = Coordinator::Looking;
                self.actions.push_back(GroupAction::FindCoordinator {
                    key: self.config.group_id.clone(),
                });
            }
        }
        let known = self.coordinator().is_some();
        match &self.state {
            MemberState::Joining {
                member_id,
                send_at,
                in_flight: false,
                reason,
            } if known && now >= *send_at => match self.join_request(member_id, reason) {
                Ok(req) => {
                    self.actions.push_back(GroupAction::SendJoinGroup(req));
                    if let MemberState::Joining { in_flight, .. } = &mut self.state {
                        *in_flight = true;
                    }
                }
                Err(e) => self.fail(e, false),
            },
            MemberState::Stable { .. } => self.drive_stable(now),
            _ => {}
        }
    }

    fn drive_stable(&mut self, now: Instant) {
        let known = self.coordinator().is_some();
        let session = self.config.session_timeout;
        let interval = self.config.heartbeat_interval;
        let poll_expired = now >= self.last_poll + self.config.max_poll_interval;
        let MemberState::Stable {
            generation,
            heartbeat,
        } = &mut self.state
        else {
            return;
        };
        if poll_expired {
            // Leave first (network), then tell the listener: the application is not polling, so
            // the LeaveGroup must not wait for it.
            let member_id = generation.member_id.clone();
            if !self.config.is_static() && known {
                self.push_leave(member_id, "consumer poll timeout has expired");
            }
            self.lose_all();
            self.state = MemberState::Unjoined {
                rejoin_on_poll: true,
            };
            return;
        }
        if known && now >= heartbeat.last_ok + session {
            tracing::info!(
                "no successful heartbeat within session.timeout.ms; finding the coordinator"
            );
            heartbeat.in_flight = false;
            self.coordinator_unknown(now);
            return;
        }
        if known && !heartbeat.in_flight && now >= heartbeat.next_at {
            heartbeat.in_flight = true;
            heartbeat.next_at = now + interval;
            let req = HeartbeatRequest {
                group_id: self.config.group_id.clone(),
                generation_id: generation.generation_id,
                member_id: generation.member_id.clone(),
                group_instance_id: self.config.group_instance_id.clone(),
            };
            self.actions.push_back(GroupAction::SendHeartbeat(req));
        }
    }
}

fn is_coordinator_error(code: i16) -> bool {
    matches!(
        code,
        NOT_COORDINATOR | COORDINATOR_NOT_AVAILABLE | COORDINATOR_LOAD_IN_PROGRESS
    )
}

fn inconsistent(detail: &str) -> Error {
    Error::from_broker_code(INCONSISTENT_GROUP_PROTOCOL).with_detail(detail.to_string())
}

/// Milliseconds as an int32; `GroupConfig::validate` keeps the durations in range.
fn millis_i32(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
