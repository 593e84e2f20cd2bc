//! ConsumerGroupHeartbeat on the state machine: join, heartbeat, acknowledge, leave.

use super::assignor::{assign, Subscriber};
use super::reconcile::{is_subset, reconcile, Owned};
use super::validate::{
    compile, fail, leave, validate, FENCED_MEMBER_EPOCH, UNRELEASED_INSTANCE_ID,
};
use super::{
    Assignment, ConsumerGroup, Member, MemberState, Topics, LEAVE_EPOCH, STATIC_LEAVE_EPOCH,
};
use crate::groups::group::{Group, State};
use crate::log::code;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;
use tokio::time::Instant;
use uuid::Uuid;

/// The coordinator's settings (`group.consumer.session.timeout.ms` /
/// `group.consumer.heartbeat.interval.ms`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
}

/// A ConsumerGroupHeartbeat as the state machine sees it. `None` fields did not change since
/// the member's last heartbeat (a partial request, as the Java client sends).
#[derive(Debug, Clone, Default)]
pub(crate) struct HeartbeatParams {
    pub version: i16,
    pub member_id: String,
    pub epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    /// -1: unchanged.
    pub rebalance_timeout_ms: i32,
    pub topic_names: Option<Vec<String>>,
    pub topic_regex: Option<String>,
    pub assignor: Option<String>,
    pub owned: Option<Vec<(Uuid, Vec<i32>)>>,
    pub client_id: String,
    pub client_host: String,
    /// The id a v0 member joining without one gets, made by the caller.
    pub fresh_id: String,
}

/// What a ConsumerGroupHeartbeat is answered with.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct HeartbeatResult {
    pub error: i16,
    pub message: Option<String>,
    pub member_id: Option<String>,
    pub epoch: i32,
    pub heartbeat_interval_ms: i32,
    /// The member's assignment, when it changed or the request was a full one.
    pub assignment: Option<Assignment>,
}

/// ConsumerGroupHeartbeat on `group_id`. `topics` is the cluster's topics now.
pub(crate) fn heartbeat(
    groups: &mut HashMap<String, Group>,
    group_id: &str,
    p: HeartbeatParams,
    topics: &Topics,
    s: Settings,
    now: Instant,
) -> HeartbeatResult {
    if let Err(e) = validate(group_id, &p) {
        return e;
    }
    if p.epoch == LEAVE_EPOCH || p.epoch == STATIC_LEAVE_EPOCH {
        return leave(groups, group_id, &p);
    }
    let cg = match consumer_group(groups, group_id, p.epoch == 0) {
        Ok(cg) => cg,
        Err(e) => return e,
    };
    let mut r = regular(cg, group_id, p, topics, s, now);
    if r.error == code::NONE {
        r.heartbeat_interval_ms =
            i32::try_from(s.heartbeat_interval.as_millis()).unwrap_or(i32::MAX);
    }
    r
}

/// The consumer group `group_id`; a joining member creates it, or converts an empty classic
/// group (its offsets stay), as Kafka does.
fn consumer_group<'g>(
    groups: &'g mut HashMap<String, Group>,
    group_id: &str,
    create: bool,
) -> Result<&'g mut ConsumerGroup, HeartbeatResult> {
    if !groups.contains_key(group_id) {
        if !create {
            return Err(fail(
                code::GROUP_ID_NOT_FOUND,
                format!("Consumer group {group_id} not found."),
            ));
        }
        groups.insert(group_id.to_owned(), Group::new());
    }
    let not_consumer = || {
        fail(
            code::GROUP_ID_NOT_FOUND,
            format!("Group {group_id} is not a consumer group."),
        )
    };
    let Some(g) = groups.get_mut(group_id) else {
        return Err(not_consumer());
    };
    if g.consumer.is_none() {
        let classic_in_use =
            !g.members.is_empty() || !g.pending.is_empty() || g.state != State::Empty;
        if !create || classic_in_use {
            return Err(not_consumer());
        }
        g.protocol_type = None;
        g.protocol = None;
        g.leader = None;
        g.consumer = Some(Box::default());
    }
    g.consumer.as_deref_mut().ok_or_else(not_consumer)
}

fn fenced_epoch(received: i32, known: i32) -> HeartbeatResult {
    let side = if received > known {
        "greater"
    } else {
        "smaller"
    };
    fail(
        FENCED_MEMBER_EPOCH,
        format!(
            "The consumer group member has a {side} member epoch ({received}) than the one known by \
             the group coordinator ({known}). The member must abandon all its partitions and rejoin."
        ),
    )
}

/// Kafka's epoch rule: the current epoch, or the previous one with owned partitions within the
/// assignment (the answer that moved the member on was lost).
fn check_epoch(m: &Member, received: i32, owned: Owned<'_>) -> Result<(), HeartbeatResult> {
    let stale_ok = received == m.previous_epoch && is_subset(owned, &m.assigned);
    if received > m.epoch || (received < m.epoch && !stale_ok) {
        return Err(fenced_epoch(received, m.epoch));
    }
    Ok(())
}

/// The member the heartbeat is from: found, new (joining), or a static member's new
/// incarnation taking over from the one that left with epoch -2.
fn find_member(
    cg: &mut ConsumerGroup,
    group_id: &str,
    member_id: &str,
    p: &HeartbeatParams,
    now: Instant,
) -> Result<Member, HeartbeatResult> {
    let joining = p.epoch == 0;
    let owned = p.owned.as_deref();
    let unknown = || {
        fail(
            code::UNKNOWN_MEMBER_ID,
            format!("Member {member_id} is not a member of group {group_id}."),
        )
    };
    let Some(instance) = p.instance_id.as_deref() else {
        return match cg.members.get(member_id) {
            Some(m) => check_epoch(m, p.epoch, owned).map(|()| m.clone()),
            None if joining => Ok(Member::new(member_id.to_owned(), now)),
            None => Err(unknown()),
        };
    };
    match cg.static_member(instance).cloned() {
        None if joining => Ok(cg
            .members
            .get(member_id)
            .cloned()
            .unwrap_or_else(|| Member::new(member_id.to_owned(), now))),
        None => Err(fail(
            code::UNKNOWN_MEMBER_ID,
            format!("Instance id {instance} is unknown."),
        )),
        Some(old) if joining => {
            if old.epoch != STATIC_LEAVE_EPOCH {
                return Err(fail(
                    UNRELEASED_INSTANCE_ID,
                    format!(
                        "Static member {} with instance id {instance} cannot join the group because \
                         the instance id is owned by {} member.",
                        member_id, old.id
                    ),
                ));
            }
            // The new incarnation inherits the old one's assignment and target.
            cg.members.remove(&old.id);
            if let Some(t) = cg.target.remove(&old.id) {
                cg.target.insert(member_id.to_owned(), t);
            }
            let mut m = old;
            m.id = member_id.to_owned();
            m.epoch = 0;
            m.previous_epoch = 0;
            m.revocation_deadline = None;
            Ok(m)
        }
        Some(old) => {
            if old.id != member_id {
                return Err(fail(
                    code::FENCED_INSTANCE_ID,
                    format!(
                        "Static member {member_id} with instance id {instance} is fenced by member {}.",
                        old.id
                    ),
                ));
            }
            check_epoch(&old, p.epoch, owned).map(|()| old)
        }
    }
}

fn regular(
    cg: &mut ConsumerGroup,
    group_id: &str,
    p: HeartbeatParams,
    topics: &Topics,
    s: Settings,
    now: Instant,
) -> HeartbeatResult {
    let member_id = if p.member_id.is_empty() {
        p.fresh_id.clone()
    } else {
        p.member_id.clone()
    };
    let mut m = match find_member(cg, group_id, &member_id, &p, now) {
        Ok(m) => m,
        Err(e) => return e,
    };
    let before = m.clone();
    if let Some(i) = &p.instance_id {
        m.instance_id = Some(i.clone());
    }
    if let Some(r) = &p.rack_id {
        m.rack_id = Some(r.clone());
    }
    if let Ok(ms) = u64::try_from(p.rebalance_timeout_ms) {
        m.rebalance_timeout = Duration::from_millis(ms);
    }
    if let Some(a) = &p.assignor {
        m.assignor = Some(a.clone());
    }
    if let Some(names) = &p.topic_names {
        let mut names = names.clone();
        names.sort();
        names.dedup();
        m.topic_names = names;
    }
    if let Some(re) = &p.topic_regex {
        m.topic_regex = Some(re.clone()).filter(|r| !r.is_empty());
    }
    m.client_id = p.client_id.clone();
    m.client_host = p.client_host.clone();
    let subscription_changed =
        m.topic_names != before.topic_names || m.topic_regex != before.topic_regex;
    cg.members.insert(m.id.clone(), m);

    // 1. The group epoch: bumped by a new subscription or a change of the subscribed topics.
    let subscribed = subscribed_topics(cg, topics);
    if cg.group_epoch == 0 || subscription_changed || subscribed != cg.subscribed {
        cg.group_epoch = cg.group_epoch.wrapping_add(1);
    }
    cg.subscribed = subscribed;
    // 2. A new target assignment for the new group epoch.
    if cg.group_epoch > cg.assignment_epoch {
        let subscribers = subscribers(cg);
        cg.target = assign(cg.assignor(), &subscribers, &cg.subscribed, &cg.target);
        cg.assignment_epoch = cg.group_epoch;
    }
    // 3. The member reconciles towards its target.
    let Some(mut m) = cg.members.remove(&member_id) else {
        return fail(code::UNKNOWN_MEMBER_ID, "member vanished");
    };
    let target = cg.target.get(&member_id).cloned().unwrap_or_default();
    if !m.is_reconciled_to(cg.assignment_epoch) {
        let was = m.clone();
        reconcile(
            &mut m,
            cg.assignment_epoch,
            &target,
            p.owned.as_deref(),
            |t, part| cg.taken(&member_id, t, part),
        );
        if m != was {
            m.revocation_deadline =
                (m.state == MemberState::UnrevokedPartitions).then(|| now + m.rebalance_timeout);
        }
    }
    m.session_deadline = now + s.session_timeout;
    let full = p.rebalance_timeout_ms != -1
        && (p.topic_names.is_some() || p.topic_regex.is_some())
        && p.owned.is_some();
    let send_assignment = p.epoch == 0 || full || m.assigned != before.assigned;
    let r = HeartbeatResult {
        error: code::NONE,
        message: None,
        member_id: Some(m.id.clone()),
        epoch: m.epoch,
        heartbeat_interval_ms: 0,
        assignment: send_assignment.then(|| m.assigned.clone()),
    };
    cg.members.insert(member_id, m);
    r
}

/// The topics each member subscribes to that exist: its names, and what its regex matches.
fn resolved(m: &Member, topics: &Topics) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = m
        .topic_names
        .iter()
        .filter(|n| topics.contains_key(*n))
        .cloned()
        .collect();
    if let Some(re) = m.topic_regex.as_deref().and_then(|r| compile(r).ok()) {
        out.extend(topics.keys().filter(|n| re.is_match(n)).cloned());
    }
    out
}

fn subscribed_topics(cg: &ConsumerGroup, topics: &Topics) -> Topics {
    let mut out = Topics::new();
    for m in cg.members.values() {
        for n in resolved(m, topics) {
            if let Some(t) = topics.get(&n) {
                out.insert(n, *t);
            }
        }
    }
    out
}

fn subscribers(cg: &ConsumerGroup) -> Vec<Subscriber> {
    cg.members
        .values()
        .map(|m| Subscriber {
            member_id: m.id.clone(),
            order_key: m.instance_id.clone().unwrap_or_else(|| m.id.clone()),
            topics: resolved(m, &cg.subscribed),
        })
        .collect()
}
