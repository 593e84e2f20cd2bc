//! The rebalance itself: starting one, removing members, completing the join into the next
//! generation, and the timeouts the background task applies.

use super::group::{Group, JoinResult, Member, State, SyncResult};
use crate::log::code;
use bytes::Bytes;
use tokio::time::Instant;

impl Group {
    /// Starts (or restarts) a rebalance: pending SyncGroups of a generation that will not be
    /// Stable learn REBALANCE_IN_PROGRESS; members get the longest rebalance timeout to rejoin.
    pub fn prepare_rebalance(&mut self, now: Instant) {
        if self.state == State::CompletingRebalance {
            for m in &mut self.members {
                m.assignment = Bytes::new();
                if let Some(tx) = m.sync_tx.take() {
                    let _ = tx.send(SyncResult::error(code::REBALANCE_IN_PROGRESS));
                }
            }
        }
        let timeout = self
            .members
            .iter()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        self.state = State::PreparingRebalance;
        self.rebalance_deadline = Some(now + timeout);
    }

    /// Removes a member (left, expired, evicted, or replaced) answering its waiting requests
    /// with `error`; a Stable or CompletingRebalance group rebalances for the rest.
    pub fn remove_member(&mut self, id: &str, error: i16, now: Instant) {
        let Some(pos) = self.members.iter().position(|m| m.id == id) else {
            return;
        };
        let mut gone = self.members.remove(pos);
        gone.fail_waiting(error);
        if self.is_leader(id) {
            self.leader = self.members.first().map(|m| m.id.clone());
        }
        if matches!(self.state, State::Stable | State::CompletingRebalance) {
            self.prepare_rebalance(now);
        }
    }

    /// Ends PreparingRebalance when every member (and every member id handed out) has joined,
    /// or the rebalance timeout passed (members that did not rejoin are removed): the next
    /// generation starts and every waiting JoinGroup is answered.
    pub fn try_complete_join(&mut self, now: Instant) {
        if self.state != State::PreparingRebalance {
            return;
        }
        let all_joined = self.pending.is_empty() && self.members.iter().all(Member::awaiting_join);
        let expired = self.rebalance_deadline.is_some_and(|d| now >= d);
        if !all_joined && !expired {
            return;
        }
        let late: Vec<String> = self
            .members
            .iter()
            .filter(|m| !m.awaiting_join())
            .map(|m| m.id.clone())
            .collect();
        for id in late {
            self.remove_member(&id, code::UNKNOWN_MEMBER_ID, now);
        }
        self.rebalance_deadline = None;
        self.generation = self.generation.wrapping_add(1);
        if self.members.is_empty() {
            self.state = State::Empty;
            self.protocol = None;
            self.leader = None;
            return;
        }
        if self
            .leader
            .as_deref()
            .and_then(|l| self.member(l))
            .is_none()
        {
            self.leader = self.members.first().map(|m| m.id.clone());
        }
        self.protocol = self.select_protocol();
        self.state = State::CompletingRebalance;
        let leader = self.leader.clone().unwrap_or_default();
        let protocol = self.protocol.clone().unwrap_or_default();
        let all: Vec<(String, Option<String>, Bytes)> = self
            .members
            .iter()
            .map(|m| {
                (
                    m.id.clone(),
                    m.instance_id.clone(),
                    m.metadata_for(&protocol),
                )
            })
            .collect();
        for m in &mut self.members {
            m.deadline = now + m.session_timeout;
            if let Some(tx) = m.join_tx.take() {
                let _ = tx.send(JoinResult {
                    error: code::NONE,
                    generation: self.generation,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol.clone(),
                    leader: leader.clone(),
                    member_id: m.id.clone(),
                    members: if m.id == leader {
                        all.clone()
                    } else {
                        Vec::new()
                    },
                    skip_assignment: false,
                });
            }
        }
    }

    /// The answer to a member joining a generation already formed (it lost its JoinGroup
    /// answer, or a static member came back): the current generation, and for the leader the
    /// member list (with `skip_assignment` when it was not asked to assign again).
    pub fn current_join(&self, member_id: &str, skip_assignment: bool) -> JoinResult {
        let protocol = self.protocol.clone().unwrap_or_default();
        let leader = self.leader.clone().unwrap_or_default();
        let members = if leader == member_id {
            self.members
                .iter()
                .map(|m| {
                    (
                        m.id.clone(),
                        m.instance_id.clone(),
                        m.metadata_for(&protocol),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinResult {
            error: code::NONE,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            leader: leader.clone(),
            member_id: member_id.to_owned(),
            skip_assignment: skip_assignment && leader == member_id,
            members,
        }
    }

    /// Session expiry: members not waiting in a JoinGroup or SyncGroup whose deadline passed are
    /// removed; member ids handed out but never used are forgotten; a rebalance whose timeout
    /// passed completes. Returns how many members expired.
    pub fn tick(&mut self, now: Instant) -> usize {
        self.pending.retain(|_, deadline| *deadline > now);
        let expired: Vec<String> = self
            .members
            .iter()
            .filter(|m| !m.awaiting_join() && !m.awaiting_sync() && m.deadline <= now)
            .map(|m| m.id.clone())
            .collect();
        for id in &expired {
            self.remove_member(id, code::UNKNOWN_MEMBER_ID, now);
        }
        self.try_complete_join(now);
        expired.len()
    }
}
