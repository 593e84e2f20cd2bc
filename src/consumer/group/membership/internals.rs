//! Internal transitions of [`GroupMembership`]: error rules, joining, assignment, timers and
//! request building.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::state::{Generation, HeartbeatTimer};
use super::types::{inconsistent, is_coordinator_error};
use super::{
    Coordinator, GroupAction, GroupMembership, HeartbeatRequest, JoinGroupProtocol,
    JoinGroupRequest, JoinGroupResult, LeaveGroupRequest, MemberState, SyncGroupRequest,
    FENCED_INSTANCE_ID, ILLEGAL_GENERATION, INCONSISTENT_GROUP_PROTOCOL, PROTOCOL_TYPE,
    UNKNOWN_MEMBER_ID,
};
use crate::consumer::group::assignor::{AssignmentStrategy, GroupMember, RebalanceProtocol};
use crate::consumer::group::metadata::{Subscription, CONSUMER_PROTOCOL_VERSION};
use crate::types::TopicPartition;
use crate::{Error, Result};

impl GroupMembership {
    /// Codes shared by JoinGroup, SyncGroup, Heartbeat and OffsetCommit.
    pub(super) fn common_error(
        &mut self,
        now: Instant,
        code: i16,
        member_id: String,
        api: &'static str,
    ) {
        let error = super::super::fatal_if_group_denied(
            Error::from_broker_code(code).with_api(api),
            &self.group_id,
        );
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
                let at = now + self.retry_backoff;
                self.rejoin_with(member_id, "retriable error", at);
            }
            _ => {
                let retry = !error.is_fatal();
                self.fail(error, retry);
            }
        }
    }

    pub(super) fn joined(&mut self, resp: JoinGroupResult) {
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
        if !generation.leader || resp.skip_assignment {
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

    pub(super) fn apply_assignment(
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
        self.assigned_in = Some(generation.clone());
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
    pub(super) fn begin_join(&mut self, now: Instant, reason: &str) {
        if self.protocol == RebalanceProtocol::Eager && !self.owned.is_empty() {
            let revoked = std::mem::take(&mut self.owned);
            self.actions
                .push_back(GroupAction::Revoked(revoked.into_iter().collect()));
            self.owned_generation = -1;
        }
        let member_id = self.member_id().to_string();
        self.rejoin_with(member_id, reason, now);
    }

    pub(super) fn rejoin_with(&mut self, member_id: String, reason: &str, send_at: Instant) {
        self.state = MemberState::Joining {
            member_id,
            send_at,
            in_flight: false,
            reason: reason.to_string(),
        };
    }

    pub(super) fn lose_all(&mut self) {
        if !self.owned.is_empty() {
            let lost = std::mem::take(&mut self.owned);
            self.actions
                .push_back(GroupAction::Lost(lost.into_iter().collect()));
        }
        self.owned_generation = -1;
        self.assigned_in = None;
    }

    pub(super) fn lose_and_rejoin(&mut self, now: Instant, member_id: String, reason: &str) {
        self.lose_all();
        self.rejoin_with(member_id, reason, now);
    }

    pub(super) fn fail(&mut self, error: Error, retry_on_poll: bool) {
        self.lose_all();
        self.actions.push_back(GroupAction::Error(error.clone()));
        self.state = MemberState::Failed {
            error,
            retry_on_poll,
        };
    }

    pub(super) fn coordinator_unknown(&mut self, now: Instant) {
        self.coordinator = Coordinator::Unknown {
            lookup_at: now + self.retry_backoff,
        };
    }

    pub(super) fn needs_coordinator(&self) -> bool {
        matches!(
            self.state,
            MemberState::Joining { .. }
                | MemberState::AwaitingMetadata { .. }
                | MemberState::AwaitingSync { .. }
                | MemberState::Stable { .. }
        )
    }

    pub(super) fn push_sync(&mut self, generation: &Generation, assignments: Vec<(String, Bytes)>) {
        self.actions
            .push_back(GroupAction::SendSyncGroup(SyncGroupRequest {
                group_id: self.group_id.clone(),
                generation_id: generation.generation_id,
                member_id: generation.member_id.clone(),
                group_instance_id: self.config.group_instance_id.clone(),
                protocol_type: PROTOCOL_TYPE,
                protocol_name: generation.protocol_name.clone(),
                assignments,
            }));
    }

    pub(super) fn push_leave(&mut self, member_id: String, reason: &str) {
        self.actions
            .push_back(GroupAction::SendLeaveGroup(LeaveGroupRequest {
                group_id: self.group_id.clone(),
                member_id,
                group_instance_id: self.config.group_instance_id.clone(),
                reason: reason.to_string(),
            }));
    }

    pub(super) fn join_request(&self, member_id: &str, reason: &str) -> Result<JoinGroupRequest> {
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
            group_id: self.group_id.clone(),
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
    pub(super) fn drive(&mut self, now: Instant) {
        if let Coordinator::Unknown { lookup_at } = self.coordinator {
            if self.needs_coordinator() && now >= lookup_at {
                self.coordinator = Coordinator::Looking;
                self.actions.push_back(GroupAction::FindCoordinator {
                    key: self.group_id.clone(),
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

    pub(super) fn drive_stable(&mut self, now: Instant) {
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
                group_id: self.group_id.clone(),
                generation_id: generation.generation_id,
                member_id: generation.member_id.clone(),
                group_instance_id: self.config.group_instance_id.clone(),
            };
            self.actions.push_back(GroupAction::SendHeartbeat(req));
        }
    }
}

/// Milliseconds as an int32; `GroupConfig::validate` keeps the durations in range.
pub(super) fn millis_i32(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
