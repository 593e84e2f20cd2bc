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
//! | `GROUP_AUTHORIZATION_FAILED` (30, also on FindCoordinator) | reclassified fatal (`fatal_if_group_denied`): `Lost`, `Error`, [`MemberState::Failed`] for good; [`fatal_error`](GroupMembership::fatal_error) reports it to every later poll and commit |
//! | other non-retriable codes | `Lost`, `Error`, [`MemberState::Failed`]; the next `on_poll` tries again |
//! | `INCONSISTENT_GROUP_PROTOCOL` (23), unknown assignor chosen | `Error`, [`MemberState::Failed`] for good |
//! | other retriable codes | retry after `retry.backoff.ms` |

mod internals;
#[cfg(test)]
mod simulation;
mod state;
#[cfg(test)]
mod tests;
mod types;

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

pub use state::{Generation, HeartbeatTimer, MemberState};
pub use types::{
    GroupAction, GroupRequestKind, HeartbeatRequest, JoinGroupProtocol, JoinGroupRequest,
    JoinGroupResult, JoinedMember, LeaveGroupRequest, SyncGroupRequest, SyncGroupResult,
};

use super::assignor::{rebalance_protocol, PartitionCounts, RebalanceProtocol};
use super::metadata::Assignment;
use super::GroupConfig;
use crate::error::code::{
    FENCED_INSTANCE_ID, GROUP_AUTHORIZATION_FAILED, ILLEGAL_GENERATION,
    INCONSISTENT_GROUP_PROTOCOL, MEMBER_ID_REQUIRED, REBALANCE_IN_PROGRESS, UNKNOWN_MEMBER_ID,
};
use crate::protocol::requests::offset_commit::CommitIdentity;
use crate::types::TopicPartition;
use crate::{Error, Result};
use types::{inconsistent, is_coordinator_error};

const PROTOCOL_TYPE: &str = "consumer";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coordinator {
    Unknown { lookup_at: Instant },
    Looking,
    Known(i32),
}

/// Classic consumer group membership, I/O-free. See the [module docs](self).
#[derive(Debug)]
pub struct GroupMembership {
    /// `group.id`, held by the consumer configuration and copied here once.
    group_id: String,
    config: GroupConfig,
    /// `retry.backoff.ms` (the client configuration's): the wait before re-finding the
    /// coordinator or retrying a JoinGroup after a retriable error.
    retry_backoff: Duration,
    protocol: RebalanceProtocol,
    state: MemberState,
    coordinator: Coordinator,
    subscription: BTreeSet<String>,
    /// The partitions the application holds (what the listener was last told).
    owned: BTreeSet<TopicPartition>,
    /// The generation `owned` was assigned in; -1 when nothing is owned.
    owned_generation: i32,
    /// The generation of the last assignment, kept through revocations and close (commits made
    /// then carry it); cleared when the partitions are lost.
    assigned_in: Option<Generation>,
    last_poll: Instant,
    /// A rejoin asked for while a JoinGroup/SyncGroup was pending; done once stable.
    rejoin_requested: Option<String>,
    /// Leader: the partition counts the current assignment was computed from.
    leader_counts: Option<PartitionCounts>,
    actions: VecDeque<GroupAction>,
    /// A `Revoked` action was handed out and the application has not finished handling it
    /// (its rebalance listener runs inside `poll`): no further action is handed out until
    /// [`revocation_done`](Self::revocation_done), so the JoinGroup that follows an eager
    /// revocation waits for the listener's commit, and such commits may still carry the
    /// generation the partitions were assigned in.
    revoking: bool,
}

impl GroupMembership {
    /// A member of `group_id` that has not joined yet. Fails if `group_id` is empty or the
    /// configuration is invalid.
    pub fn new(
        group_id: impl Into<String>,
        config: GroupConfig,
        retry_backoff: Duration,
        now: Instant,
    ) -> Result<GroupMembership> {
        let group_id = group_id.into();
        if group_id.is_empty() {
            return Err(Error::config(
                "group.id",
                "",
                "must not be empty for group membership",
            ));
        }
        config.validate()?;
        Ok(GroupMembership {
            group_id,
            retry_backoff,
            protocol: rebalance_protocol(&config.partition_assignment_strategy),
            config,
            state: MemberState::Unjoined {
                rejoin_on_poll: false,
            },
            coordinator: Coordinator::Unknown { lookup_at: now },
            subscription: BTreeSet::new(),
            owned: BTreeSet::new(),
            owned_generation: -1,
            assigned_in: None,
            last_poll: now,
            rejoin_requested: None,
            leader_counts: None,
            actions: VecDeque::new(),
            revoking: false,
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

    /// The generation id and member id an OffsetCommit carries: the stable generation's, or,
    /// when not stable, those of the member's last assignment (until its partitions are lost).
    /// The `Revoked` listener, which commits, runs when the member is no longer stable: the
    /// cooperative assignment that revokes partitions starts the follow-up rejoin at once, and
    /// `close` leaves the stable state before the listener runs; the group is still in that
    /// generation then.
    pub fn commit_generation(&self) -> Option<(i32, &str)> {
        self.generation()
            .or(self.assigned_in.as_ref())
            .map(|g| (g.generation_id, g.member_id.as_str()))
    }

    /// The error that stopped this member for good: fenced (`FENCED_INSTANCE_ID`) or a fatal
    /// failure such as `GROUP_AUTHORIZATION_FAILED`. The consumer reports it to every later
    /// `poll` and commit, so an application that ignored the first report cannot mistake the
    /// stopped member for an idle one.
    pub fn fatal_error(&self) -> Option<&Error> {
        match &self.state {
            MemberState::Fenced(e) => Some(e),
            MemberState::Failed {
                error,
                retry_on_poll: false,
            } if error.is_fatal() => Some(error),
            _ => None,
        }
    }

    /// The identity an OffsetCommit of this member carries: the stable generation; or, while a
    /// revocation is being handled (the rebalance listener runs), the generation the revoked
    /// partitions were assigned in ([`commit_generation`](Self::commit_generation)) — the
    /// coordinator accepts it until the next generation forms, which is what lets the listener
    /// commit on revoke.
    ///
    /// # Errors
    /// Any other commit while the member rebalances fails with `REBALANCE_IN_PROGRESS` (commit
    /// again after the next poll) instead of going out under a generation the coordinator may
    /// already have replaced (Java's consumer does the same).
    pub fn commit_identity(&self) -> Result<CommitIdentity> {
        if let Some(e) = self.fatal_error() {
            return Err(e.clone());
        }
        let usable = self.generation().is_some() || self.revoking;
        match self.commit_generation().filter(|_| usable) {
            Some((generation, member_id)) => Ok(CommitIdentity {
                generation,
                member_id: member_id.to_owned(),
                group_instance_id: self.group_instance_id().map(str::to_owned),
            }),
            None => Err(Error::from_broker_code(REBALANCE_IN_PROGRESS)
                .with_api("OffsetCommit")
                .with_detail(
                    "the member is (re)joining its group; commit again after the next poll",
                )),
        }
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
    ///
    /// After a [`GroupAction::Revoked`] nothing more is handed out until
    /// [`revocation_done`](Self::revocation_done).
    pub fn poll_action(&mut self) -> Option<GroupAction> {
        if self.revoking {
            return None;
        }
        let action = self.actions.pop_front();
        self.revoking = matches!(action, Some(GroupAction::Revoked(_)));
        action
    }

    /// The application finished handling the last `Revoked` action (its listener returned and
    /// the partitions were removed): actions flow again.
    pub fn revocation_done(&mut self) {
        self.revoking = false;
    }

    /// Whether a `Revoked` action is being handled by the application.
    pub fn revoking(&self) -> bool {
        self.revoking
    }

    /// Whether a rebalance has a request out: a JoinGroup or SyncGroup awaiting its answer, or
    /// the leader computing the assignment.
    pub fn rebalance_in_flight(&self) -> bool {
        matches!(
            self.state,
            MemberState::Joining {
                in_flight: true,
                ..
            } | MemberState::AwaitingMetadata { .. }
                | MemberState::AwaitingSync { .. }
        )
    }

    /// Whether actions are waiting for [`poll_action`](Self::poll_action).
    pub fn has_actions(&self) -> bool {
        !self.actions.is_empty()
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
        // Requests queued but not yet taken are superseded by leaving: a JoinGroup sent now
        // would start a rebalance (and a new generation) only to leave it at once.
        self.actions.retain(|a| {
            !matches!(
                a,
                GroupAction::SendJoinGroup(_)
                    | GroupAction::SendSyncGroup(_)
                    | GroupAction::SendHeartbeat(_)
                    | GroupAction::DescribeTopics { .. }
            )
        });
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
        let error = super::fatal_if_group_denied(error, &self.group_id);
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
                let at = now + self.retry_backoff;
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
                            let at = now + self.retry_backoff;
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
                    heartbeat.next_at = now + self.retry_backoff;
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
            GROUP_AUTHORIZATION_FAILED => {
                self.common_error(now, error_code, member_id, "OffsetCommit");
                return self.fatal_error().cloned().unwrap_or(error);
            }
            UNKNOWN_MEMBER_ID | ILLEGAL_GENERATION | FENCED_INSTANCE_ID
                if !matches!(
                    self.state,
                    MemberState::Unjoined { .. }
                        | MemberState::Leaving
                        | MemberState::Closed
                        | MemberState::Fenced(_)
                        | MemberState::Failed { .. }
                ) =>
            {
                self.common_error(now, error_code, member_id, "OffsetCommit")
            }
            c if is_coordinator_error(c) => self.coordinator_unknown(now),
            _ => {}
        }
        self.drive(now);
        error
    }
}
