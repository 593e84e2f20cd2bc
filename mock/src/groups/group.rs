//! A classic group's state: members, generation, chosen protocol, committed offsets, and the
//! rebalance step every membership change goes through (Kafka's `ClassicGroup` rules).

use crate::log::code;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Kafka's `group.min.session.timeout.ms` / `group.max.session.timeout.ms` defaults: a JoinGroup
/// asking for a session timeout outside them gets INVALID_SESSION_TIMEOUT.
pub(crate) const MIN_SESSION_TIMEOUT_MS: i32 = 6_000;
pub(crate) const MAX_SESSION_TIMEOUT_MS: i32 = 1_800_000;

/// Where a group is in its rebalance cycle. A deleted (or never seen) group is "Dead": it is
/// simply absent from the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl State {
    /// The name DescribeGroups and ListGroups report.
    pub fn name(self) -> &'static str {
        match self {
            State::Empty => "Empty",
            State::PreparingRebalance => "PreparingRebalance",
            State::CompletingRebalance => "CompletingRebalance",
            State::Stable => "Stable",
        }
    }
}

/// What a JoinGroup is answered with.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct JoinResult {
    pub error: i16,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// (member id, group instance id, metadata): only the leader's answer lists them.
    pub members: Vec<(String, Option<String>, Bytes)>,
    pub skip_assignment: bool,
}

impl JoinResult {
    pub fn error(error: i16, member_id: &str) -> JoinResult {
        JoinResult {
            error,
            generation: -1,
            member_id: member_id.to_owned(),
            ..JoinResult::default()
        }
    }
}

/// What a SyncGroup is answered with.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SyncResult {
    pub error: i16,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncResult {
    pub fn error(error: i16) -> SyncResult {
        SyncResult {
            error,
            ..SyncResult::default()
        }
    }
}

/// An answer now, or one the group sends when the rebalance moves on. A receiver whose sender
/// is dropped unanswered means the member was removed (UNKNOWN_MEMBER_ID).
#[derive(Debug)]
pub(crate) enum Reply<T> {
    Now(T),
    Wait(oneshot::Receiver<T>),
}

/// One member of a group.
#[derive(Debug)]
pub(crate) struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    /// (protocol name, metadata) in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    /// When the session expires without a heartbeat, join, sync or commit.
    pub deadline: Instant,
    pub join_tx: Option<oneshot::Sender<JoinResult>>,
    pub sync_tx: Option<oneshot::Sender<SyncResult>>,
}

impl Member {
    /// Has a JoinGroup waiting. One whose connection went away (receiver dropped) does not count:
    /// the member has not really rejoined and must not hold the rebalance up for ever.
    pub fn awaiting_join(&self) -> bool {
        self.join_tx.as_ref().is_some_and(|t| !t.is_closed())
    }

    pub fn awaiting_sync(&self) -> bool {
        self.sync_tx.as_ref().is_some_and(|t| !t.is_closed())
    }

    pub fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    /// Answers and forgets any waiting request with `error` (the member leaves or is fenced).
    pub fn fail_waiting(&mut self, error: i16) {
        if let Some(tx) = self.join_tx.take() {
            let _ = tx.send(JoinResult::error(error, &self.id));
        }
        if let Some(tx) = self.sync_tx.take() {
            let _ = tx.send(SyncResult::error(error));
        }
    }
}

/// A committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Committed {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

/// A classic group.
#[derive(Debug)]
pub(crate) struct Group {
    pub state: State,
    pub generation: i32,
    /// Set by the first member ever to join ("consumer" for consumers); kept when the group
    /// empties, as Kafka does, so ListGroups still shows what used the group.
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// In join order: the first is the leader when the leader leaves.
    pub members: Vec<Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, each until its session timeout: the
    /// rebalance waits for them to join as well.
    pub pending: HashMap<String, Instant>,
    /// When the current PreparingRebalance gives up on members that have not rejoined.
    pub rebalance_deadline: Option<Instant>,
    pub offsets: BTreeMap<(String, i32), Committed>,
    /// Set while the group is a KIP-848 consumer group (`group.protocol=consumer`); the classic
    /// fields above are then unused (Empty, no members) and the offsets are shared.
    pub consumer: Option<Box<super::consumer::ConsumerGroup>>,
}

impl Group {
    pub fn new() -> Group {
        Group {
            state: State::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: Vec::new(),
            pending: HashMap::new(),
            rebalance_deadline: None,
            offsets: BTreeMap::new(),
            consumer: None,
        }
    }

    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    pub fn member_mut(&mut self, id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == id)
    }

    pub fn is_leader(&self, id: &str) -> bool {
        self.leader.as_deref() == Some(id)
    }

    /// The member id currently holding a static instance id.
    pub fn instance_owner(&self, instance: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.instance_id.as_deref() == Some(instance))
            .map(|m| m.id.as_str())
    }

    /// A request naming a static instance id another member id now holds comes from a member
    /// that was replaced: FENCED_INSTANCE_ID (Kafka's `isStaticMemberFenced`).
    pub fn is_fenced(&self, instance: Option<&str>, member_id: &str) -> bool {
        instance
            .and_then(|i| self.instance_owner(i))
            .is_some_and(|owner| owner != member_id)
    }

    /// The common checks of SyncGroup, Heartbeat and OffsetCommit: fenced, unknown, generation.
    pub fn check_member(&self, instance: Option<&str>, member_id: &str, generation: i32) -> i16 {
        if self.is_fenced(instance, member_id) {
            code::FENCED_INSTANCE_ID
        } else if self.member(member_id).is_none() {
            code::UNKNOWN_MEMBER_ID
        } else if generation != self.generation {
            code::ILLEGAL_GENERATION
        } else {
            code::NONE
        }
    }

    /// Protocols every member supports (Kafka's `candidateProtocols`), in no particular order.
    pub fn candidate_protocols(&self) -> Vec<&str> {
        let Some(first) = self.members.first() else {
            return Vec::new();
        };
        first
            .protocols
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| {
                self.members
                    .iter()
                    .all(|m| m.protocols.iter().any(|(p, _)| p == n))
            })
            .collect()
    }

    /// Whether a member joining with these can be in the group (Kafka's `supportsProtocols`).
    pub fn supports(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.members.is_empty() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        let candidates = self.candidate_protocols();
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols
                .iter()
                .any(|(n, _)| candidates.contains(&n.as_str()))
    }

    /// The protocol for the next generation: each member votes for its most preferred candidate,
    /// the most votes wins; a tie goes to the leader's preference order.
    pub fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes: HashMap<&str, usize> = HashMap::new();
        for m in &self.members {
            if let Some((n, _)) = m
                .protocols
                .iter()
                .find(|(n, _)| candidates.contains(&n.as_str()))
            {
                *votes.entry(n.as_str()).or_default() += 1;
            }
        }
        let order = self
            .leader
            .as_deref()
            .and_then(|l| self.member(l))
            .or(self.members.first())?;
        let mut best: Option<(&str, usize)> = None;
        for (n, _) in &order.protocols {
            let v = votes.get(n.as_str()).copied().unwrap_or(0);
            if v > 0 && best.is_none_or(|(_, b)| v > b) {
                best = Some((n, v));
            }
        }
        best.map(|(n, _)| n.to_owned())
    }
}
