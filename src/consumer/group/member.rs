//! [`Membership`]: the consumer's group member under either protocol (`group.protocol`), one
//! surface for the consumer's tasks. Both cores are I/O-free; the group task
//! (`consumer/group_driver.rs`) sends what they ask for.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::consumer_protocol::{ConsumerMemberState, ConsumerMembership};
use super::membership::Generation;
use super::{GroupAction, GroupConfig, GroupMembership, MemberState};
use crate::protocol::requests::offset_commit::CommitIdentity;
use crate::types::{GroupProtocol, TopicPartition};
use crate::{Error, Result};

/// A consumer's group member: classic (JoinGroup/SyncGroup) or KIP-848 (ConsumerGroupHeartbeat).
#[derive(Debug)]
pub enum Membership {
    /// `group.protocol=classic`.
    Classic(GroupMembership),
    /// `group.protocol=consumer`.
    Consumer(ConsumerMembership),
}

impl Membership {
    /// A member of `group_id` speaking `config.group_protocol`, not joined yet.
    pub fn new(
        group_id: String,
        config: GroupConfig,
        retry_backoff: Duration,
        now: Instant,
    ) -> Result<Membership> {
        Ok(match config.group_protocol {
            GroupProtocol::Consumer => Membership::Consumer(ConsumerMembership::new(
                group_id,
                config,
                retry_backoff,
                now,
            )?),
            _ => Membership::Classic(GroupMembership::new(group_id, config, retry_backoff, now)?),
        })
    }

    /// The next action (see each core's `poll_action`).
    pub fn poll_action(&mut self, now: Instant) -> Option<GroupAction> {
        match self {
            Membership::Classic(m) => m.poll_action(),
            Membership::Consumer(m) => m.poll_action(now),
        }
    }

    /// When timers next need running.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Membership::Classic(m) => m.poll_timeout(),
            Membership::Consumer(m) => m.poll_timeout(),
        }
    }

    /// Runs timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self {
            Membership::Classic(m) => m.handle_timeout(now),
            Membership::Consumer(m) => m.handle_timeout(now),
        }
    }

    /// The application polled.
    pub fn on_poll(&mut self, now: Instant) {
        match self {
            Membership::Classic(m) => m.on_poll(now),
            Membership::Consumer(m) => m.on_poll(now),
        }
    }

    /// Sets the subscribed topics.
    pub fn subscribe(&mut self, now: Instant, topics: impl IntoIterator<Item = String>) {
        match self {
            Membership::Classic(m) => m.subscribe(now, topics),
            Membership::Consumer(m) => m.subscribe(now, topics),
        }
    }

    /// Leaves the group.
    pub fn close(&mut self, now: Instant) {
        match self {
            Membership::Classic(m) => m.close(now),
            Membership::Consumer(m) => m.close(now),
        }
    }

    /// The application finished handling the last `Revoked`.
    pub fn revocation_done(&mut self, now: Instant) {
        match self {
            Membership::Classic(m) => m.revocation_done(),
            Membership::Consumer(m) => m.revocation_done(now),
        }
    }

    /// Whether a `Revoked` is being handled by the application.
    pub fn revoking(&self) -> bool {
        match self {
            Membership::Classic(m) => m.revoking(),
            Membership::Consumer(m) => m.revoking(),
        }
    }

    /// Whether events wait to be taken.
    pub fn has_actions(&self) -> bool {
        match self {
            Membership::Classic(m) => m.has_actions(),
            Membership::Consumer(m) => m.has_actions(),
        }
    }

    /// Classic: a JoinGroup / SyncGroup is out (close lets it finish first). KIP-848 never
    /// parks a request, so never.
    pub fn rebalance_in_flight(&self) -> bool {
        match self {
            Membership::Classic(m) => m.rebalance_in_flight(),
            Membership::Consumer(_) => false,
        }
    }

    /// The coordinator's node id, if known.
    pub fn coordinator(&self) -> Option<i32> {
        match self {
            Membership::Classic(m) => m.coordinator(),
            Membership::Consumer(m) => m.coordinator(),
        }
    }

    /// The error that stopped the member for good.
    pub fn fatal_error(&self) -> Option<&Error> {
        match self {
            Membership::Classic(m) => m.fatal_error(),
            Membership::Consumer(m) => m.fatal_error(),
        }
    }

    /// What an OffsetCommit carries (generation or member epoch, member id, instance id).
    pub fn commit_identity(&self) -> Result<CommitIdentity> {
        match self {
            Membership::Classic(m) => m.commit_identity(),
            Membership::Consumer(m) => m.commit_identity(),
        }
    }

    /// The current generation while stable: classic's generation, or for KIP-848 the member
    /// epoch (protocol name `consumer`, never a leader: the broker assigns).
    pub fn generation(&self) -> Option<Generation> {
        match self {
            Membership::Classic(m) => m.generation().cloned(),
            Membership::Consumer(m) => m.is_stable().then(|| Generation {
                generation_id: m.member_epoch(),
                member_id: m.member_id().to_owned(),
                protocol_name: "consumer".to_owned(),
                leader: false,
            }),
        }
    }

    /// The generation id (or member epoch) commits are checked against; -1 when not stable.
    pub fn generation_id(&self) -> i32 {
        self.generation().map_or(-1, |g| g.generation_id)
    }

    /// The owned partitions.
    pub fn assignment(&self) -> &BTreeSet<TopicPartition> {
        match self {
            Membership::Classic(m) => m.assignment(),
            Membership::Consumer(m) => m.assignment(),
        }
    }

    /// The subscribed topics.
    pub fn subscription(&self) -> &BTreeSet<String> {
        match self {
            Membership::Classic(m) => m.subscription(),
            Membership::Consumer(m) => m.subscription(),
        }
    }

    /// A commit failed with a group error; returns the error for the caller.
    pub fn on_commit_error(&mut self, now: Instant, error_code: i16) -> Error {
        match self {
            Membership::Classic(m) => m.on_commit_error(now, error_code),
            Membership::Consumer(m) => m.on_commit_error(now, error_code),
        }
    }

    /// FindCoordinator answered.
    pub fn on_coordinator_found(&mut self, now: Instant, node_id: i32) {
        match self {
            Membership::Classic(m) => m.on_coordinator_found(now, node_id),
            Membership::Consumer(m) => m.on_coordinator_found(now, node_id),
        }
    }

    /// FindCoordinator failed.
    pub fn on_find_coordinator_error(&mut self, now: Instant, error: Error) {
        match self {
            Membership::Classic(m) => m.on_find_coordinator_error(now, error),
            Membership::Consumer(m) => m.on_find_coordinator_error(now, error),
        }
    }

    /// The member's group task may stop: closed, fenced, or out of the group.
    pub fn is_finished(&self) -> bool {
        match self {
            Membership::Classic(m) => matches!(
                m.state(),
                MemberState::Closed | MemberState::Fenced(_) | MemberState::Unjoined { .. }
            ),
            Membership::Consumer(m) => matches!(
                m.state(),
                ConsumerMemberState::Closed
                    | ConsumerMemberState::Fenced(_)
                    | ConsumerMemberState::Unjoined { .. }
            ),
        }
    }

    /// `close` may return: the member left (or never was in the group, or was stopped).
    pub fn has_left(&self) -> bool {
        match self {
            Membership::Classic(m) => matches!(
                m.state(),
                MemberState::Closed
                    | MemberState::Fenced(_)
                    | MemberState::Failed { .. }
                    | MemberState::Unjoined { .. }
            ),
            Membership::Consumer(m) => matches!(
                m.state(),
                ConsumerMemberState::Closed
                    | ConsumerMemberState::Fenced(_)
                    | ConsumerMemberState::Failed { .. }
                    | ConsumerMemberState::Unjoined { .. }
            ),
        }
    }

    /// The group protocol spoken.
    pub fn protocol(&self) -> GroupProtocol {
        match self {
            Membership::Classic(_) => GroupProtocol::Classic,
            Membership::Consumer(_) => GroupProtocol::Consumer,
        }
    }
}
