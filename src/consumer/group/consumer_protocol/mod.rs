//! The I/O-free core of KIP-848 (`group.protocol=consumer`) membership: ConsumerGroupHeartbeat
//! joins, heartbeats, acknowledges and leaves; the broker computes the assignment and the member
//! reconciles towards it, one revocation or assignment at a time, with the same rebalance
//! listener events as the classic protocol (revoked before assigned; commits on revoke are safe).
//!
//! ```text
//!  subscribe ──► Joining (epoch 0) ──heartbeat ok──► Stable (epoch n) ──close──► Leaving ──► Closed
//!                   ▲                                  │  │ target assignment changed:
//!                   │ FENCED_MEMBER_EPOCH (110),       │  │   Revoked(owned − target) ─ listener ─┐
//!                   │ UNKNOWN_MEMBER_ID (25):          │  │   Assigned(target − owned)  ◄─────────┘
//!                   └── Lost(owned), epoch 0 ◄─────────┘  │   heartbeat at once with the new owned set (ack)
//!                                                         │ max.poll.interval.ms: Lost, leave (epoch −1/−2),
//!  any ── UNRELEASED_INSTANCE_ID, FENCED_INSTANCE_ID ──►  │ rejoin on the next poll
//!         Fenced (final); GROUP_AUTHORIZATION_FAILED, UNSUPPORTED_ASSIGNOR, … ──► Failed
//! ```
//!
//! Partitions stay *owned* (reported in heartbeats) until the application's listener has run
//! for their revocation, so the coordinator hands them to another member only after this one
//! could commit their offsets. Commits carry the member epoch as their generation (OffsetCommit
//! v9+). The broker's heartbeat interval replaces `heartbeat.interval.ms`; there is no client
//! session timer (the coordinator fences a member it has not heard from, and the member learns
//! of it from its next heartbeat's `FENCED_MEMBER_EPOCH` / `UNKNOWN_MEMBER_ID`).
//!
//! Assignments name topics by id: the member resolves ids to names from the cluster metadata
//! ([`GroupAction::ResolveTopicIds`]); partitions of ids not yet resolved wait.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::{GroupAction, GroupConfig};
use crate::error::code::{
    COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, FENCED_INSTANCE_ID,
    FENCED_MEMBER_EPOCH, NOT_COORDINATOR, STALE_MEMBER_EPOCH, UNKNOWN_MEMBER_ID,
    UNRELEASED_INSTANCE_ID, UNSUPPORTED_VERSION,
};

/// What a member says when its coordinator does not serve the KIP-848 protocol: one line the
/// application can act on.
pub(crate) const NO_KIP_848: &str = "the coordinator does not serve the KIP-848 consumer group \
     protocol (Kafka 4.0+, or 3.7+ with group.coordinator.rebalance.protocols=classic,consumer); \
     use group.protocol=classic";
use crate::protocol::requests::consumer_group_heartbeat::{
    ConsumerHeartbeatRequest, ConsumerHeartbeatResult, JOIN_EPOCH, LEAVE_EPOCH, STATIC_LEAVE_EPOCH,
};
use crate::protocol::requests::offset_commit::CommitIdentity;
use crate::types::TopicPartition;
use crate::{Error, Result};

/// Until the broker says otherwise (its `group.consumer.heartbeat.interval.ms` default).
const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);

/// Where a KIP-848 member is.
#[derive(Debug, Clone)]
pub enum ConsumerMemberState {
    /// Not in the group (no subscription yet, or left after `max.poll.interval.ms`; then
    /// `rejoin_on_poll`).
    Unjoined {
        /// Rejoin on the next poll.
        rejoin_on_poll: bool,
    },
    /// Epoch 0 heartbeats until the coordinator gives an epoch.
    Joining,
    /// In the group at `epoch`, reconciling towards the latest target assignment.
    Stable,
    /// The leave heartbeat goes (or went) out; then `Closed`, or `Unjoined` after a poll
    /// timeout.
    Leaving {
        /// After a poll timeout: rejoin on the next poll instead of closing.
        rejoin_on_poll: bool,
    },
    /// Closed; nothing more happens.
    Closed,
    /// Another instance took this `group.instance.id` (final).
    Fenced(Error),
    /// Stopped by an error; when `retry_on_poll`, the next poll joins again.
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

/// KIP-848 group membership, I/O-free. See the [module docs](self).
#[derive(Debug)]
pub struct ConsumerMembership {
    group_id: String,
    config: GroupConfig,
    retry_backoff: Duration,
    /// Generated once (KIP-1082: the client names itself, and keeps the name for its life; a
    /// v0 coordinator names it on the first join instead).
    member_id: String,
    /// The member epoch (0 while joining).
    epoch: i32,
    state: ConsumerMemberState,
    coordinator: Coordinator,
    subscription: BTreeSet<String>,
    /// `subscribe_pattern`: the regex the broker matches (KIP-848 server-side regex).
    regex: Option<String>,
    /// A regex was sent before: switching to topic names must clear it (`""`).
    regex_sent: bool,
    /// Partitions the application has (its listener saw them assigned, not yet revoked).
    owned: BTreeSet<TopicPartition>,
    /// Partitions handed to the application as `Revoked` whose listener has not returned: still
    /// reported as owned.
    revoking_tps: BTreeSet<TopicPartition>,
    revoking: bool,
    /// The latest target assignment from the coordinator, by topic id.
    target: Option<BTreeMap<Uuid, BTreeSet<i32>>>,
    names: BTreeMap<Uuid, String>,
    resolving: bool,
    /// After a resolution that left ids unknown: not again before this (`retry.backoff.ms`).
    resolve_not_before: Instant,
    heartbeat_interval: Duration,
    next_heartbeat: Instant,
    /// The epoch of the heartbeat awaiting its answer (negative: a leave).
    in_flight: Option<i32>,
    /// The first `Assigned` after a join goes out even when empty (as Java calls
    /// `onPartitionsAssigned` once per join).
    announced: bool,
    last_poll: Instant,
    /// Listener events and errors, in order.
    actions: VecDeque<GroupAction>,
}

impl ConsumerMembership {
    /// A member of `group_id` that has not joined yet. Fails if `group_id` is empty or the
    /// configuration is invalid.
    pub fn new(
        group_id: impl Into<String>,
        config: GroupConfig,
        retry_backoff: Duration,
        now: Instant,
    ) -> Result<ConsumerMembership> {
        let group_id = group_id.into();
        if group_id.is_empty() {
            return Err(Error::config(
                "group.id",
                "",
                "must not be empty for group membership",
            ));
        }
        config.validate()?;
        Ok(ConsumerMembership {
            group_id,
            config,
            retry_backoff,
            member_id: new_member_id(),
            epoch: JOIN_EPOCH,
            state: ConsumerMemberState::Unjoined {
                rejoin_on_poll: false,
            },
            coordinator: Coordinator::Unknown { lookup_at: now },
            subscription: BTreeSet::new(),
            regex: None,
            regex_sent: false,
            owned: BTreeSet::new(),
            revoking_tps: BTreeSet::new(),
            revoking: false,
            target: None,
            names: BTreeMap::new(),
            resolving: false,
            resolve_not_before: now,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            next_heartbeat: now,
            in_flight: None,
            announced: false,
            last_poll: now,
            actions: VecDeque::new(),
        })
    }

    // ---- observers -------------------------------------------------------------------------

    /// The current state.
    pub fn state(&self) -> &ConsumerMemberState {
        &self.state
    }

    /// The member epoch (0 while joining).
    pub fn member_epoch(&self) -> i32 {
        self.epoch
    }

    /// The member id.
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The coordinator's node id, if known.
    pub fn coordinator(&self) -> Option<i32> {
        match self.coordinator {
            Coordinator::Known(id) => Some(id),
            _ => None,
        }
    }

    /// Whether the member is in the group with an epoch.
    pub fn is_stable(&self) -> bool {
        matches!(self.state, ConsumerMemberState::Stable)
    }

    /// The partitions the member owns (the listener's view).
    pub fn assignment(&self) -> &BTreeSet<TopicPartition> {
        &self.owned
    }

    /// The subscribed topics.
    pub fn subscription(&self) -> &BTreeSet<String> {
        &self.subscription
    }

    /// `group.instance.id`, if the member is static.
    pub fn group_instance_id(&self) -> Option<&str> {
        self.config.group_instance_id.as_deref()
    }

    /// The error that stopped this member for good.
    pub fn fatal_error(&self) -> Option<&Error> {
        match &self.state {
            ConsumerMemberState::Fenced(e) => Some(e),
            ConsumerMemberState::Failed {
                error,
                retry_on_poll: false,
            } if error.is_fatal() => Some(error),
            _ => None,
        }
    }

    /// The identity an OffsetCommit carries: member id and member epoch (as the generation),
    /// while the member is in the group — also while its revocation listener runs, since it
    /// still owns those partitions.
    ///
    /// # Errors
    /// The fatal error; `REBALANCE_IN_PROGRESS`-like refusal (`STALE_MEMBER_EPOCH`) while the
    /// member has no epoch (joining, left).
    pub fn commit_identity(&self) -> Result<CommitIdentity> {
        if let Some(e) = self.fatal_error() {
            return Err(e.clone());
        }
        let in_group = self.epoch > 0
            && matches!(
                self.state,
                ConsumerMemberState::Stable | ConsumerMemberState::Leaving { .. }
            );
        if !in_group {
            return Err(Error::from_broker_code(STALE_MEMBER_EPOCH)
                .with_api("OffsetCommit")
                .with_detail(
                    "the member is (re)joining its group; commit again after the next poll",
                ));
        }
        Ok(CommitIdentity {
            generation: self.epoch,
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
        })
    }

    /// The next action, in order: listener events and errors (none after a `Revoked` until
    /// [`revocation_done`](Self::revocation_done)), then the requests due now (FindCoordinator,
    /// topic-id resolution, a heartbeat). Requests also go out while a revocation is handled,
    /// so the session stays alive however long the listener takes.
    pub fn poll_action(&mut self, now: Instant) -> Option<GroupAction> {
        if !self.revoking {
            if let Some(a) = self.actions.pop_front() {
                if let GroupAction::Revoked(tps) = &a {
                    self.revoking = true;
                    self.revoking_tps.extend(tps.iter().cloned());
                }
                return Some(a);
            }
        }
        if self.needs_coordinator() {
            if let Coordinator::Unknown { lookup_at } = self.coordinator {
                if now >= lookup_at {
                    self.coordinator = Coordinator::Looking;
                    return Some(GroupAction::FindCoordinator {
                        key: self.group_id.clone(),
                    });
                }
            }
        }
        if self.coordinator().is_none() || self.in_flight.is_some() {
            return None;
        }
        let req = match self.state {
            ConsumerMemberState::Joining | ConsumerMemberState::Stable
                if now >= self.next_heartbeat =>
            {
                self.heartbeat_request(self.epoch)
            }
            // The leave waits for the revocation listener (it may commit under this epoch).
            ConsumerMemberState::Leaving { .. } if !self.revoking => {
                let epoch = if self.config.is_static() {
                    STATIC_LEAVE_EPOCH
                } else {
                    LEAVE_EPOCH
                };
                self.heartbeat_request(epoch)
            }
            _ => return None,
        };
        self.in_flight = Some(req.member_epoch);
        self.regex_sent = self.regex.is_some();
        Some(GroupAction::SendConsumerHeartbeat(req))
    }

    /// Topic ids of the target assignment that need names (hand them to
    /// [`on_topic_names`](Self::on_topic_names)); `None` if nothing is to resolve.
    pub fn poll_resolve(&mut self, now: Instant) -> Option<Vec<Uuid>> {
        if self.resolving || now < self.resolve_not_before {
            return None;
        }
        let missing: Vec<Uuid> = self
            .target
            .as_ref()?
            .keys()
            .filter(|id| !self.names.contains_key(id))
            .copied()
            .collect();
        if missing.is_empty() {
            return None;
        }
        self.resolving = true;
        Some(missing)
    }

    /// The application finished handling the last `Revoked` (its listener returned and the
    /// partitions were removed): they are no longer reported as owned, and the heartbeat that
    /// tells the coordinator goes out at once.
    pub fn revocation_done(&mut self, now: Instant) {
        self.revoking = false;
        self.revoking_tps.clear();
        if matches!(self.state, ConsumerMemberState::Stable) {
            self.next_heartbeat = now;
            self.reconcile(now);
        }
    }

    /// Whether a `Revoked` action is being handled by the application.
    pub fn revoking(&self) -> bool {
        self.revoking
    }

    /// Whether listener events or errors wait for [`poll_action`](Self::poll_action).
    pub fn has_actions(&self) -> bool {
        !self.actions.is_empty()
    }

    /// When [`poll_action`](Self::poll_action) / [`handle_timeout`](Self::handle_timeout)
    /// next have something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut at = |i: Instant| t = Some(t.map_or(i, |c: Instant| c.min(i)));
        if let Coordinator::Unknown { lookup_at } = self.coordinator {
            if self.needs_coordinator() {
                at(lookup_at);
            }
        }
        if matches!(
            self.state,
            ConsumerMemberState::Joining | ConsumerMemberState::Stable
        ) {
            if self.in_flight.is_none() && self.coordinator().is_some() {
                at(self.next_heartbeat);
            }
            at(self.last_poll + self.config.max_poll_interval);
        }
        t
    }

    // ---- application inputs ----------------------------------------------------------------

    /// Sets the subscribed topics; joins if not in the group, else heartbeats the change now.
    pub fn subscribe(&mut self, now: Instant, topics: impl IntoIterator<Item = String>) {
        self.subscription = topics.into_iter().collect();
        self.regex = None;
        self.subscription_changed(now);
    }

    /// Subscribes to the topics matching `regex`, matched by the broker (RE2/J).
    pub fn subscribe_regex(&mut self, now: Instant, regex: String) {
        self.subscription.clear();
        self.regex = Some(regex);
        self.subscription_changed(now);
    }

    /// The subscribed regex, if any.
    pub fn subscribed_regex(&self) -> Option<&str> {
        self.regex.as_deref()
    }

    fn subscription_changed(&mut self, now: Instant) {
        match self.state {
            ConsumerMemberState::Unjoined { .. } => self.join(now),
            ConsumerMemberState::Joining | ConsumerMemberState::Stable => {
                self.next_heartbeat = now;
            }
            _ => {}
        }
    }

    /// The application polled: restarts the `max.poll.interval.ms` timer, and rejoins after a
    /// poll timeout or a recoverable failure.
    pub fn on_poll(&mut self, now: Instant) {
        self.last_poll = now;
        if matches!(
            self.state,
            ConsumerMemberState::Unjoined {
                rejoin_on_poll: true
            } | ConsumerMemberState::Failed {
                retry_on_poll: true,
                ..
            }
        ) {
            self.join(now);
        }
    }

    /// Runs timers: `max.poll.interval.ms` (the member leaves, its partitions are lost, and it
    /// rejoins on the next poll, as Java's consumer does).
    pub fn handle_timeout(&mut self, now: Instant) {
        let in_group = matches!(
            self.state,
            ConsumerMemberState::Joining | ConsumerMemberState::Stable
        );
        if in_group && now >= self.last_poll + self.config.max_poll_interval {
            tracing::warn!(
                group = %self.group_id,
                max_poll_interval_ms = self.config.max_poll_interval.as_millis() as u64,
                "the application did not poll within max.poll.interval.ms; leaving the group \
                 (it rejoins on the next poll)"
            );
            self.lose_all();
            self.state = if self.epoch > 0 {
                ConsumerMemberState::Leaving {
                    rejoin_on_poll: true,
                }
            } else {
                ConsumerMemberState::Unjoined {
                    rejoin_on_poll: true,
                }
            };
        }
    }

    /// Leaves the group: `Revoked` for what is owned, then the leave heartbeat (epoch −1, or −2
    /// for a static member, whose partitions the coordinator keeps for it until its session
    /// times out).
    pub fn close(&mut self, _now: Instant) {
        match self.state {
            ConsumerMemberState::Closed | ConsumerMemberState::Leaving { .. } => return,
            // A joining member may already be in the group (its first heartbeat reached the
            // coordinator): leave under its member id, or its partitions would wait for the
            // session to expire.
            ConsumerMemberState::Stable | ConsumerMemberState::Joining => {}
            _ => {
                if !self.owned.is_empty() {
                    let revoked = std::mem::take(&mut self.owned);
                    self.actions
                        .push_back(GroupAction::Revoked(revoked.into_iter().collect()));
                }
                self.state = ConsumerMemberState::Closed;
                return;
            }
        }
        // Events not yet handed out are moot: the member is going.
        self.actions
            .retain(|a| !matches!(a, GroupAction::Assigned(_)));
        if !self.owned.is_empty() {
            let revoked = std::mem::take(&mut self.owned);
            self.actions
                .push_back(GroupAction::Revoked(revoked.into_iter().collect()));
        }
        self.target = None;
        self.state = ConsumerMemberState::Leaving {
            rejoin_on_poll: false,
        };
    }

    // ---- responses -------------------------------------------------------------------------

    /// FindCoordinator answered.
    pub fn on_coordinator_found(&mut self, now: Instant, node_id: i32) {
        self.coordinator = Coordinator::Known(node_id);
        self.next_heartbeat = now;
    }

    /// FindCoordinator failed: retriable errors look again after `retry.backoff.ms`; others
    /// (`GROUP_AUTHORIZATION_FAILED`, fatal) stop the member.
    pub fn on_find_coordinator_error(&mut self, now: Instant, error: Error) {
        let error = super::fatal_if_group_denied(error, &self.group_id);
        self.coordinator = Coordinator::Unknown {
            lookup_at: now + self.retry_backoff,
        };
        if !error.is_retriable() {
            self.fail(error, false);
        }
    }

    /// Topic ids resolved to names (from the cluster metadata); ids it lacks are asked again
    /// with the next heartbeat's answer or metadata refresh.
    pub fn on_topic_names(&mut self, now: Instant, names: BTreeMap<Uuid, String>) {
        self.resolving = false;
        self.names.extend(names);
        let missing = self
            .target
            .as_ref()
            .is_some_and(|t| t.keys().any(|id| !self.names.contains_key(id)));
        if missing {
            self.resolve_not_before = now + self.retry_backoff;
        }
        self.reconcile(now);
    }

    /// A heartbeat went unanswered (connection lost, timeout): the coordinator is looked up
    /// again. A leave that fails closes anyway (the coordinator fences the member later).
    pub fn on_request_failed(&mut self, now: Instant, error: Error) {
        let sent = self.in_flight.take();
        tracing::debug!(error = %error, "ConsumerGroupHeartbeat failed");
        self.coordinator_unknown(now);
        if let ConsumerMemberState::Leaving { rejoin_on_poll } = self.state {
            if sent.is_some_and(|e| e < 0) {
                self.finish_leave(rejoin_on_poll);
            }
        }
    }

    /// The coordinator answered a heartbeat.
    pub fn on_heartbeat_response(&mut self, now: Instant, r: ConsumerHeartbeatResult) {
        let sent = self.in_flight.take();
        let leave_answered = sent.is_some_and(|e| e < 0);
        if let ConsumerMemberState::Leaving { rejoin_on_poll } = self.state {
            if !leave_answered {
                // The answer to a heartbeat sent before close: note the member id (v0) and
                // epoch; the leave goes out next.
                if let Some(id) = r.member_id.filter(|id| !id.is_empty()) {
                    self.member_id = id;
                }
                return;
            }
            if r.error_code == 0 || !is_coordinator_error(r.error_code) {
                if r.error_code != 0 {
                    tracing::debug!(
                        code = r.error_code,
                        "leave heartbeat refused; leaving anyway"
                    );
                }
                self.finish_leave(rejoin_on_poll);
                return;
            }
        }
        if r.error_code == 0 {
            self.on_heartbeat_ok(now, r);
            return;
        }
        let error = Error::from_broker_code(r.error_code)
            .with_api("ConsumerGroupHeartbeat")
            .with_broker_message(r.error_message.clone());
        let error = super::fatal_if_group_denied(error, &self.group_id);
        match r.error_code {
            FENCED_MEMBER_EPOCH | UNKNOWN_MEMBER_ID => {
                // The coordinator dropped this member (session expired, or it was fenced):
                // whatever it owned may belong to someone else already. Rejoin at epoch 0.
                tracing::info!(error = %error, "member fenced by the coordinator; rejoining");
                self.lose_all();
                self.join(now);
            }
            UNRELEASED_INSTANCE_ID | FENCED_INSTANCE_ID => {
                self.lose_all();
                let error = error.with_detail(
                    "another consumer uses this group.instance.id; give each instance its own",
                );
                self.actions.push_back(GroupAction::Error(error.clone()));
                self.state = ConsumerMemberState::Fenced(error);
            }
            c if is_coordinator_error(c) => {
                self.coordinator_unknown(now);
            }
            COORDINATOR_LOAD_IN_PROGRESS => {
                self.next_heartbeat = now + self.retry_backoff;
            }
            // A Kafka 3.x broker lists ConsumerGroupHeartbeat but answers it with this code
            // unless its new group coordinator is enabled: say so, and stop (it will not change
            // while this consumer runs).
            UNSUPPORTED_VERSION => self.fail(error.with_detail(NO_KIP_848), false),
            _ if error.is_retriable() => {
                self.next_heartbeat = now + self.retry_backoff;
            }
            // GROUP_AUTHORIZATION_FAILED (fatal), UNSUPPORTED_ASSIGNOR, GROUP_MAX_SIZE_REACHED,
            // INVALID_REQUEST, UNSUPPORTED_VERSION, INCONSISTENT_GROUP_PROTOCOL (a classic
            // group the broker will not convert), TOPIC_AUTHORIZATION_FAILED: the application
            // hears of it; the fatal ones stop the member for good, the others on the next poll.
            _ => {
                let retry = !error.is_fatal();
                self.fail(error, retry);
            }
        }
    }

    /// OffsetCommit failed with a group error: a fenced member rejoins. Returns the error for
    /// the commit's caller.
    pub fn on_commit_error(&mut self, now: Instant, error_code: i16) -> Error {
        let error = super::fatal_if_group_denied(
            Error::from_broker_code(error_code).with_api("OffsetCommit"),
            &self.group_id,
        );
        match error_code {
            FENCED_MEMBER_EPOCH | UNKNOWN_MEMBER_ID
                if matches!(
                    self.state,
                    ConsumerMemberState::Joining | ConsumerMemberState::Stable
                ) =>
            {
                self.lose_all();
                self.join(now);
            }
            c if is_coordinator_error(c) => self.coordinator_unknown(now),
            _ if error.is_fatal() => self.fail(error.clone(), false),
            // STALE_MEMBER_EPOCH: the epoch moved on meanwhile; the next heartbeat has it.
            _ => self.next_heartbeat = now,
        }
        error
    }

    // ---- internals -------------------------------------------------------------------------

    fn on_heartbeat_ok(&mut self, now: Instant, r: ConsumerHeartbeatResult) {
        if !matches!(
            self.state,
            ConsumerMemberState::Joining | ConsumerMemberState::Stable
        ) {
            return;
        }
        if let Some(id) = r.member_id.filter(|id| !id.is_empty()) {
            // v0: the broker named the member on its first join.
            self.member_id = id;
        }
        self.epoch = r.member_epoch;
        if let Ok(ms) = u64::try_from(r.heartbeat_interval_ms) {
            if ms > 0 {
                self.heartbeat_interval = Duration::from_millis(ms);
            }
        }
        self.next_heartbeat = now + self.heartbeat_interval;
        if matches!(self.state, ConsumerMemberState::Joining) {
            self.state = ConsumerMemberState::Stable;
        }
        if let Some(assignment) = r.assignment {
            self.target = Some(
                assignment
                    .into_iter()
                    .map(|(id, ps)| (id, ps.into_iter().collect()))
                    .collect(),
            );
        }
        self.reconcile(now);
    }

    /// One step towards the target assignment: revoke what the target no longer holds (and
    /// wait for the listener), else assign what it adds; either way the next heartbeat reports
    /// the new owned set at once.
    fn reconcile(&mut self, now: Instant) {
        if self.revoking || !matches!(self.state, ConsumerMemberState::Stable) {
            return;
        }
        let Some(target) = &self.target else {
            return;
        };
        let mut wanted: BTreeSet<TopicPartition> = BTreeSet::new();
        let mut complete = true;
        for (id, partitions) in target {
            match self.names.get(id) {
                Some(name) => {
                    wanted.extend(partitions.iter().map(|p| TopicPartition::new(name, *p)));
                }
                None => complete = false,
            }
        }
        // Queued events not handed out yet count as done: the listener sees them in order.
        let revoke: Vec<TopicPartition> = self.owned.difference(&wanted).cloned().collect();
        if !revoke.is_empty() {
            for tp in &revoke {
                self.owned.remove(tp);
            }
            self.actions.push_back(GroupAction::Revoked(revoke));
            return;
        }
        let add: Vec<TopicPartition> = wanted.difference(&self.owned).cloned().collect();
        if !add.is_empty() || (!self.announced && complete) {
            self.owned.extend(add.iter().cloned());
            self.announced = true;
            self.actions.push_back(GroupAction::Assigned(add));
            self.next_heartbeat = now;
        }
    }

    fn heartbeat_request(&self, epoch: i32) -> ConsumerHeartbeatRequest {
        let owned: BTreeSet<&TopicPartition> =
            self.owned.iter().chain(self.revoking_tps.iter()).collect();
        let ids: BTreeMap<&str, Uuid> = self
            .names
            .iter()
            .map(|(id, name)| (name.as_str(), *id))
            .collect();
        let mut by_id: BTreeMap<Uuid, Vec<i32>> = BTreeMap::new();
        for tp in owned {
            if let Some(id) = ids.get(tp.topic.as_str()) {
                by_id.entry(*id).or_default().push(tp.partition);
            }
        }
        ConsumerHeartbeatRequest {
            group_id: self.group_id.clone(),
            member_id: self.member_id.clone(),
            member_epoch: epoch,
            instance_id: self.config.group_instance_id.clone(),
            rack_id: self.config.client_rack.clone(),
            rebalance_timeout_ms: i32::try_from(self.config.max_poll_interval.as_millis())
                .unwrap_or(i32::MAX),
            subscribed_topic_names: self.subscription.iter().cloned().collect(),
            subscribed_topic_regex: match &self.regex {
                Some(r) => Some(r.clone()),
                None if self.regex_sent => Some(String::new()),
                None => None,
            },
            server_assignor: self.config.group_remote_assignor.clone(),
            owned: Some(by_id.into_iter().collect()),
        }
    }

    fn join(&mut self, now: Instant) {
        self.epoch = JOIN_EPOCH;
        self.target = None;
        self.announced = false;
        self.state = ConsumerMemberState::Joining;
        self.next_heartbeat = now;
    }

    fn finish_leave(&mut self, rejoin_on_poll: bool) {
        self.epoch = JOIN_EPOCH;
        self.state = if rejoin_on_poll {
            ConsumerMemberState::Unjoined {
                rejoin_on_poll: true,
            }
        } else {
            ConsumerMemberState::Closed
        };
    }

    fn lose_all(&mut self) {
        let mut lost: BTreeSet<TopicPartition> = std::mem::take(&mut self.owned);
        // Pending Assigned events are superseded: the listener must not see them after Lost.
        self.actions
            .retain(|a| !matches!(a, GroupAction::Assigned(_) | GroupAction::Revoked(_)));
        lost.extend(std::mem::take(&mut self.revoking_tps));
        if !lost.is_empty() {
            self.actions
                .push_back(GroupAction::Lost(lost.into_iter().collect()));
        }
        self.target = None;
    }

    fn fail(&mut self, error: Error, retry_on_poll: bool) {
        self.lose_all();
        self.actions.push_back(GroupAction::Error(error.clone()));
        self.state = ConsumerMemberState::Failed {
            error,
            retry_on_poll,
        };
    }

    fn coordinator_unknown(&mut self, now: Instant) {
        self.coordinator = Coordinator::Unknown {
            lookup_at: now + self.retry_backoff,
        };
    }

    fn needs_coordinator(&self) -> bool {
        matches!(
            self.state,
            ConsumerMemberState::Joining
                | ConsumerMemberState::Stable
                | ConsumerMemberState::Leaving { .. }
        )
    }
}

fn is_coordinator_error(code: i16) -> bool {
    matches!(code, NOT_COORDINATOR | COORDINATOR_NOT_AVAILABLE)
}

/// A member id as Java's consumer makes one (KIP-1082): a random UUID in Kafka's string form
/// (URL-safe base64 without padding, 22 characters).
fn new_member_id() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    // A CSPRNG is not needed (the id is not a secret); fastrand is seeded per thread.
    for b in &mut bytes {
        *b = fastrand::u8(..);
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
