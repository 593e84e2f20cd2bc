//! JoinGroup: new members, MEMBER_ID_REQUIRED, rejoins, static members replacing themselves.

use super::group::{
    Group, JoinResult, Member, Reply, State, MAX_SESSION_TIMEOUT_MS, MIN_SESSION_TIMEOUT_MS,
};
use crate::log::code;
use bytes::Bytes;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// A JoinGroup as the state machine sees it.
#[derive(Debug, Clone, Default)]
pub(crate) struct JoinParams {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    /// v0 has none: the session timeout then.
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// v4+: a member without an id is first handed one (MEMBER_ID_REQUIRED, KIP-394).
    pub require_known_member_id: bool,
    /// v9+: a static leader coming back may be told to skip assignment (KIP-814).
    pub supports_skip_assignment: bool,
    /// The id a new member gets (`{client_id}-{uuid}`), made by the caller.
    pub fresh_id: String,
}

fn millis(ms: i32) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// JoinGroup on `group_id`, creating the group for a member without an id.
pub(crate) fn join(
    groups: &mut HashMap<String, Group>,
    group_id: &str,
    p: JoinParams,
    now: Instant,
) -> Reply<JoinResult> {
    if !(MIN_SESSION_TIMEOUT_MS..=MAX_SESSION_TIMEOUT_MS).contains(&p.session_timeout_ms) {
        return Reply::Now(JoinResult::error(
            code::INVALID_SESSION_TIMEOUT,
            &p.member_id,
        ));
    }
    if !groups.contains_key(group_id) && !p.member_id.is_empty() {
        return Reply::Now(JoinResult::error(code::UNKNOWN_MEMBER_ID, &p.member_id));
    }
    if let Some(g) = groups.get_mut(group_id) {
        match g.consumer.as_deref() {
            // Kafka would take the member into the consumer group (online migration); the mock
            // does not mix the protocols in one group.
            Some(cg) if !cg.members.is_empty() => {
                return Reply::Now(JoinResult::error(
                    code::INCONSISTENT_GROUP_PROTOCOL,
                    &p.member_id,
                ));
            }
            // An empty consumer group becomes a classic one; its offsets stay.
            Some(_) => g.consumer = None,
            None => {}
        }
    }
    let group = groups.entry(group_id.to_owned()).or_insert_with(Group::new);
    let reply = if p.member_id.is_empty() {
        join_unknown(group, p, now)
    } else {
        join_known(group, p, now)
    };
    // A group created only to refuse its first JoinGroup is not kept.
    if groups.get(group_id).is_some_and(Group::is_vacant) {
        groups.remove(group_id);
    }
    reply
}

impl Group {
    /// Never used: no member, no pending id, no offsets, no generation.
    pub fn is_vacant(&self) -> bool {
        self.state == State::Empty
            && self.generation == 0
            && self.members.is_empty()
            && self.pending.is_empty()
            && self.offsets.is_empty()
            && self.consumer.is_none()
    }
}

fn join_unknown(group: &mut Group, p: JoinParams, now: Instant) -> Reply<JoinResult> {
    if !group.supports(&p.protocol_type, &p.protocols) {
        return Reply::Now(JoinResult::error(code::INCONSISTENT_GROUP_PROTOCOL, ""));
    }
    if let Some(instance) = p.instance_id.clone() {
        if let Some(old) = group.instance_owner(&instance).map(str::to_owned) {
            return replace_static(group, &old, p, now);
        }
        // A static member is trusted to have a stable identity: no MEMBER_ID_REQUIRED round.
        let id = p.fresh_id.clone();
        return add_member(group, id, p, now);
    }
    if p.require_known_member_id {
        let timeout = millis(p.session_timeout_ms);
        group.pending.insert(p.fresh_id.clone(), now + timeout);
        return Reply::Now(JoinResult::error(code::MEMBER_ID_REQUIRED, &p.fresh_id));
    }
    let id = p.fresh_id.clone();
    add_member(group, id, p, now)
}

fn join_known(group: &mut Group, p: JoinParams, now: Instant) -> Reply<JoinResult> {
    let id = p.member_id.clone();
    if group.pending.contains_key(&id) {
        if !group.supports(&p.protocol_type, &p.protocols) {
            return Reply::Now(JoinResult::error(code::INCONSISTENT_GROUP_PROTOCOL, &id));
        }
        group.pending.remove(&id);
        return add_member(group, id, p, now);
    }
    if group.is_fenced(p.instance_id.as_deref(), &id) {
        return Reply::Now(JoinResult::error(code::FENCED_INSTANCE_ID, &id));
    }
    let Some(member) = group.member(&id) else {
        return Reply::Now(JoinResult::error(code::UNKNOWN_MEMBER_ID, &id));
    };
    if !group.supports(&p.protocol_type, &p.protocols) {
        return Reply::Now(JoinResult::error(code::INCONSISTENT_GROUP_PROTOCOL, &id));
    }
    let unchanged = member.protocols == p.protocols;
    match group.state {
        State::PreparingRebalance => update_and_rebalance(group, p, now),
        // It lost the JoinGroup answer: the generation it joined is still forming.
        State::CompletingRebalance if unchanged => {
            touch(group, &id, now);
            Reply::Now(group.current_join(&id, false))
        }
        // A follower with nothing new is answered with the current generation; the leader
        // rejoining (it saw a metadata change) or new metadata rebalances.
        State::Stable if unchanged && !group.is_leader(&id) => {
            touch(group, &id, now);
            Reply::Now(group.current_join(&id, false))
        }
        State::CompletingRebalance | State::Stable => update_and_rebalance(group, p, now),
        State::Empty => Reply::Now(JoinResult::error(code::UNKNOWN_MEMBER_ID, &id)),
    }
}

/// A static member rejoined without its member id (it restarted): its old id is fenced and the
/// member carries on under a new one. With nothing changed in a Stable group there is no
/// rebalance: it gets the current generation and, in SyncGroup, its assignment.
fn replace_static(group: &mut Group, old: &str, p: JoinParams, now: Instant) -> Reply<JoinResult> {
    let new = p.fresh_id.clone();
    let Some(m) = group.member_mut(old) else {
        return Reply::Now(JoinResult::error(code::UNKNOWN_MEMBER_ID, ""));
    };
    m.fail_waiting(code::FENCED_INSTANCE_ID);
    m.id = new.clone();
    let unchanged = m.protocols == p.protocols;
    if group.is_leader(old) {
        group.leader = Some(new.clone());
    }
    if group.state == State::Stable && unchanged {
        if let Some(m) = group.member_mut(&new) {
            m.client_id = p.client_id.clone();
            m.client_host = p.client_host.clone();
            m.session_timeout = millis(p.session_timeout_ms);
            m.rebalance_timeout = millis(p.rebalance_timeout_ms);
        }
        touch(group, &new, now);
        return Reply::Now(group.current_join(&new, p.supports_skip_assignment));
    }
    join_known(
        group,
        JoinParams {
            member_id: new,
            ..p
        },
        now,
    )
}

fn touch(group: &mut Group, id: &str, now: Instant) {
    if let Some(m) = group.member_mut(id) {
        m.deadline = now + m.session_timeout;
    }
}

fn add_member(group: &mut Group, id: String, p: JoinParams, now: Instant) -> Reply<JoinResult> {
    let (tx, rx) = oneshot::channel();
    if group.members.is_empty() {
        group.protocol_type = Some(p.protocol_type.clone());
    }
    let session_timeout = millis(p.session_timeout_ms);
    group.members.push(Member {
        id: id.clone(),
        instance_id: p.instance_id,
        client_id: p.client_id,
        client_host: p.client_host,
        session_timeout,
        rebalance_timeout: millis(p.rebalance_timeout_ms),
        protocols: p.protocols,
        assignment: Bytes::new(),
        deadline: now + session_timeout,
        join_tx: Some(tx),
        sync_tx: None,
    });
    if group.leader.is_none() {
        group.leader = Some(id);
    }
    if group.state != State::PreparingRebalance {
        group.prepare_rebalance(now);
    }
    group.try_complete_join(now);
    Reply::Wait(rx)
}

fn update_and_rebalance(group: &mut Group, p: JoinParams, now: Instant) -> Reply<JoinResult> {
    let (tx, rx) = oneshot::channel();
    if let Some(m) = group.member_mut(&p.member_id) {
        m.protocols = p.protocols;
        m.client_id = p.client_id;
        m.client_host = p.client_host;
        m.session_timeout = millis(p.session_timeout_ms);
        m.rebalance_timeout = millis(p.rebalance_timeout_ms);
        m.deadline = now + m.session_timeout;
        // A JoinGroup left waiting by an earlier connection is superseded by this one.
        m.join_tx = Some(tx);
    }
    if group.state != State::PreparingRebalance {
        group.prepare_rebalance(now);
    }
    group.try_complete_join(now);
    Reply::Wait(rx)
}
