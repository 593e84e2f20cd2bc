//! The KIP-848 group coordinator (`group.protocol=consumer`): ConsumerGroupHeartbeat and
//! ConsumerGroupDescribe, with the broker computing the assignment.
//!
//! The rules are Kafka's `GroupMetadataManager` / `CurrentAssignmentBuilder`, written from its
//! behaviour:
//! - Three epochs. The **group epoch** is bumped by every change of membership, subscription or
//!   subscribed topics' metadata (a topic created, partitions added). The **target assignment
//!   epoch** catches up with it when the next heartbeat computes a new target assignment with
//!   the group's assignor (`uniform`, the default, or `range`). Each member's **member epoch**
//!   reaches the target epoch as it reconciles.
//! - Reconciliation is incremental: a member first gives up (stops reporting in its heartbeats'
//!   owned partitions) what its target no longer holds, at its current epoch ("unrevoked
//!   partitions", bounded by its rebalance timeout); then it moves to the target epoch and is
//!   given what the target adds, except partitions another member still owns ("unreleased
//!   partitions", assigned on a later heartbeat once released). No partition is owned by two
//!   members at a time.
//! - A member unheard of for the session timeout, or that keeps revoked partitions past its
//!   rebalance timeout, is fenced: removed, its partitions free, the group epoch bumped. A
//!   member sending an epoch the coordinator does not expect gets FENCED_MEMBER_EPOCH (the
//!   previous epoch is accepted while its owned partitions are a subset of its assignment: the
//!   answer that moved it on may have been lost).
//! - Leave with epoch -1; a static member (`group.instance.id`) leaving with -2 keeps its
//!   partitions reserved until its session times out, and a new member id with the same
//!   instance id takes them over without a rebalance.
//! - Subscriptions by topic names and by regex (`subscribed_topic_regex`, v1, matched against
//!   the whole topic name as Kafka's RE2/J `matches()`), re-resolved on every heartbeat, so new
//!   topics and partitions are picked up by the next heartbeat of any member.
//!
//! Not served: groups mixing classic and consumer-protocol members (Kafka's online migration).
//! A classic JoinGroup on a consumer group with members gets INCONSISTENT_GROUP_PROTOCOL, a
//! ConsumerGroupHeartbeat on a classic group with members GROUP_ID_NOT_FOUND; an empty group
//! changes type (its committed offsets stay).
//!
//! The offset APIs check members by their epoch (`offsets`: OffsetCommit v9+, OffsetFetch v9,
//! TxnOffsetCommit). As the classic coordinator, the state machine (`heartbeat`, `validate`,
//! `reconcile`, `assignor`) takes
//! the time as an argument and does no I/O; the topics are read from the cluster state by the
//! handlers before the groups lock is taken.

mod assignor;
pub(crate) mod handlers;
mod heartbeat;
pub(crate) mod offsets;
mod reconcile;
#[cfg(test)]
mod tests;
mod validate;

pub(crate) use heartbeat::{heartbeat, HeartbeatParams, Settings};

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::time::Instant;
use uuid::Uuid;

/// Partitions by topic id.
pub(crate) type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// The cluster's topics as the coordinator sees them: name → (topic id, partition count).
pub(crate) type Topics = BTreeMap<String, (Uuid, i32)>;

/// The assignors served (`group.remote.assignor`); the first is the default.
pub(crate) const ASSIGNORS: [&str; 2] = ["uniform", "range"];

/// The member epoch of a static member that left temporarily (ConsumerGroupHeartbeat).
pub(crate) const STATIC_LEAVE_EPOCH: i32 = -2;
/// The member epoch of a member leaving for good.
pub(crate) const LEAVE_EPOCH: i32 = -1;

/// Where a member is in its reconciliation (Kafka's `MemberState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberState {
    /// At the target epoch with its whole target assignment.
    Stable,
    /// Must stop owning `revoking` before it moves to the next epoch.
    UnrevokedPartitions,
    /// At the target epoch, waiting for partitions other members still own.
    UnreleasedPartitions,
}

/// A consumer-protocol member.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub epoch: i32,
    pub previous_epoch: i32,
    pub state: MemberState,
    pub rebalance_timeout: Duration,
    /// Sorted, without duplicates.
    pub topic_names: Vec<String>,
    /// Empty or absent: no regex.
    pub topic_regex: Option<String>,
    pub assignor: Option<String>,
    /// The partitions it owns at its epoch.
    pub assigned: Assignment,
    /// The partitions it must give up before moving on.
    pub revoking: Assignment,
    pub session_deadline: Instant,
    /// While `UnrevokedPartitions`: when it is fenced for not revoking.
    pub revocation_deadline: Option<Instant>,
}

impl Member {
    fn new(id: String, now: Instant) -> Member {
        Member {
            id,
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            epoch: 0,
            previous_epoch: 0,
            state: MemberState::Stable,
            rebalance_timeout: Duration::ZERO,
            topic_names: Vec::new(),
            topic_regex: None,
            assignor: None,
            assigned: Assignment::new(),
            revoking: Assignment::new(),
            session_deadline: now,
            revocation_deadline: None,
        }
    }

    /// Fully reconciled to the target epoch `epoch` (Kafka's `isReconciledTo`).
    pub fn is_reconciled_to(&self, epoch: i32) -> bool {
        self.state == MemberState::Stable && self.epoch == epoch
    }

    /// Whether it owns (or is still revoking) partition `p` of `topic`.
    fn holds(&self, topic: Uuid, p: i32) -> bool {
        let has = |a: &Assignment| a.get(&topic).is_some_and(|ps| ps.contains(&p));
        has(&self.assigned) || has(&self.revoking)
    }
}

/// A consumer-protocol group (kept in the classic `Group` beside its committed offsets).
#[derive(Debug, Default)]
pub(crate) struct ConsumerGroup {
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    /// By member id.
    pub members: BTreeMap<String, Member>,
    /// The target assignment of each member at `assignment_epoch`.
    pub target: BTreeMap<String, Assignment>,
    /// The subscribed topics the group epoch last saw (a change bumps it).
    pub subscribed: Topics,
}

impl ConsumerGroup {
    /// The state DescribeGroups-like answers report (Kafka's `ConsumerGroupState`).
    pub fn state_name(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else if self.group_epoch > self.assignment_epoch {
            "Assigning"
        } else if self
            .members
            .values()
            .any(|m| !m.is_reconciled_to(self.assignment_epoch))
        {
            "Reconciling"
        } else {
            "Stable"
        }
    }

    /// The assignor members asked for most (ties: the first by name), else `uniform`.
    pub fn assignor(&self) -> &'static str {
        let mut best = (0usize, ASSIGNORS[0]);
        for name in ASSIGNORS {
            let n = self
                .members
                .values()
                .filter(|m| m.assignor.as_deref() == Some(name))
                .count();
            if n > best.0 {
                best = (n, name);
            }
        }
        best.1
    }

    /// The member holding static instance id `instance`.
    pub fn static_member(&self, instance: &str) -> Option<&Member> {
        self.members
            .values()
            .find(|m| m.instance_id.as_deref() == Some(instance))
    }

    /// Whether a member other than `except` owns or is revoking partition `p` of `topic`.
    fn taken(&self, except: &str, topic: Uuid, p: i32) -> bool {
        self.members
            .values()
            .any(|m| m.id != except && m.holds(topic, p))
    }

    /// Removes a member (left, or fenced by a timeout): its partitions are free and the group
    /// epoch moves on, so the next heartbeat computes a new target assignment.
    pub fn fence(&mut self, member_id: &str) -> bool {
        if self.members.remove(member_id).is_none() {
            return false;
        }
        self.target.remove(member_id);
        self.group_epoch = self.group_epoch.wrapping_add(1);
        true
    }

    /// Session and revocation timeouts: members past either are fenced. Returns how many.
    pub fn tick(&mut self, now: Instant) -> usize {
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                m.session_deadline <= now
                    || (m.state == MemberState::UnrevokedPartitions
                        && m.revocation_deadline.is_some_and(|d| d <= now))
            })
            .map(|m| m.id.clone())
            .collect();
        for id in &expired {
            self.fence(id);
        }
        expired.len()
    }
}
