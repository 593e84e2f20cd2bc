//! SyncGroup, Heartbeat and LeaveGroup on the group state machine.

use super::group::{Group, Reply, State, SyncResult};
use crate::log::code;
use bytes::Bytes;
use std::collections::HashMap;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// A SyncGroup as the state machine sees it.
#[derive(Debug, Clone, Default)]
pub(crate) struct SyncParams {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub generation: i32,
    /// v5+: checked against the group's when present.
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    /// The leader's assignment, by member id; followers send none.
    pub assignments: Vec<(String, Bytes)>,
}

/// SyncGroup: in CompletingRebalance the member waits until the leader's assignment arrives
/// (the leader's own SyncGroup moves the group to Stable and answers everyone); in Stable the
/// member's assignment is answered at once.
pub(crate) fn sync(
    groups: &mut HashMap<String, Group>,
    group_id: &str,
    p: SyncParams,
    now: Instant,
) -> Reply<SyncResult> {
    let Some(group) = groups.get_mut(group_id) else {
        return Reply::Now(SyncResult::error(code::UNKNOWN_MEMBER_ID));
    };
    let err = group.check_member(p.instance_id.as_deref(), &p.member_id, p.generation);
    if err != code::NONE {
        return Reply::Now(SyncResult::error(err));
    }
    let type_mismatch = p
        .protocol_type
        .as_ref()
        .is_some_and(|t| group.protocol_type.as_ref() != Some(t));
    let name_mismatch = p
        .protocol_name
        .as_ref()
        .is_some_and(|n| group.protocol.as_ref() != Some(n));
    if type_mismatch || name_mismatch {
        return Reply::Now(SyncResult::error(code::INCONSISTENT_GROUP_PROTOCOL));
    }
    let ok = |assignment: Bytes| SyncResult {
        error: code::NONE,
        protocol_type: group.protocol_type.clone(),
        protocol_name: group.protocol.clone(),
        assignment,
    };
    match group.state {
        State::Empty => Reply::Now(SyncResult::error(code::UNKNOWN_MEMBER_ID)),
        State::PreparingRebalance => Reply::Now(SyncResult::error(code::REBALANCE_IN_PROGRESS)),
        State::Stable => {
            let assignment = group
                .member(&p.member_id)
                .map(|m| m.assignment.clone())
                .unwrap_or_default();
            let reply = ok(assignment);
            touch(group, &p.member_id, now);
            Reply::Now(reply)
        }
        State::CompletingRebalance => {
            let (tx, rx) = oneshot::channel();
            let template = ok(Bytes::new());
            if let Some(m) = group.member_mut(&p.member_id) {
                m.sync_tx = Some(tx);
                m.deadline = now + m.session_timeout;
            }
            if group.is_leader(&p.member_id) {
                // Members the leader left out get an empty assignment; ids it names that are
                // not members are ignored.
                for m in &mut group.members {
                    m.assignment = p
                        .assignments
                        .iter()
                        .find(|(id, _)| *id == m.id)
                        .map(|(_, a)| a.clone())
                        .unwrap_or_default();
                }
                group.state = State::Stable;
                for m in &mut group.members {
                    if let Some(tx) = m.sync_tx.take() {
                        let _ = tx.send(SyncResult {
                            assignment: m.assignment.clone(),
                            ..template.clone()
                        });
                    }
                }
            }
            Reply::Wait(rx)
        }
    }
}

fn touch(group: &mut Group, id: &str, now: Instant) {
    if let Some(m) = group.member_mut(id) {
        m.deadline = now + m.session_timeout;
    }
}

/// Heartbeat: keeps the session alive; REBALANCE_IN_PROGRESS tells the member to rejoin.
pub(crate) fn heartbeat(
    groups: &mut HashMap<String, Group>,
    group_id: &str,
    instance_id: Option<&str>,
    member_id: &str,
    generation: i32,
    now: Instant,
) -> i16 {
    let Some(group) = groups.get_mut(group_id) else {
        return code::UNKNOWN_MEMBER_ID;
    };
    let err = group.check_member(instance_id, member_id, generation);
    if err != code::NONE {
        return err;
    }
    touch(group, member_id, now);
    match group.state {
        State::PreparingRebalance => code::REBALANCE_IN_PROGRESS,
        // Heartbeats between the JoinGroup answer and SyncGroup are normal.
        State::CompletingRebalance | State::Stable => code::NONE,
        State::Empty => code::UNKNOWN_MEMBER_ID,
    }
}

/// LeaveGroup for each (member id, group instance id): a member named by its instance id alone
/// (empty member id) is found by it. Returns each member's error code; the rest rebalance.
pub(crate) fn leave(
    groups: &mut HashMap<String, Group>,
    group_id: &str,
    leaving: &[(String, Option<String>)],
    now: Instant,
) -> Vec<i16> {
    let Some(group) = groups.get_mut(group_id) else {
        return vec![code::UNKNOWN_MEMBER_ID; leaving.len()];
    };
    let codes = leaving
        .iter()
        .map(|(member_id, instance)| {
            if group.pending.remove(member_id).is_some() {
                return code::NONE;
            }
            let id = match instance {
                Some(i) if member_id.is_empty() => match group.instance_owner(i) {
                    Some(owner) => owner.to_owned(),
                    None => return code::UNKNOWN_MEMBER_ID,
                },
                _ => member_id.clone(),
            };
            if group.is_fenced(instance.as_deref(), &id) {
                return code::FENCED_INSTANCE_ID;
            }
            if group.member(&id).is_none() {
                return code::UNKNOWN_MEMBER_ID;
            }
            group.remove_member(&id, code::UNKNOWN_MEMBER_ID, now);
            code::NONE
        })
        .collect();
    group.try_complete_join(now);
    codes
}

/// DeleteGroups for one group: only a group without members can go; its offsets go with it.
pub(crate) fn delete(groups: &mut HashMap<String, Group>, group_id: &str) -> i16 {
    match groups.get(group_id) {
        None => code::GROUP_ID_NOT_FOUND,
        Some(g) if !g.members.is_empty() || g.state != State::Empty => code::NON_EMPTY_GROUP,
        Some(g) if g.consumer.as_ref().is_some_and(|c| !c.members.is_empty()) => {
            code::NON_EMPTY_GROUP
        }
        Some(_) => {
            groups.remove(group_id);
            code::NONE
        }
    }
}
