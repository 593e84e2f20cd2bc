//! The consumer's group task: runs the I/O-free [`Membership`] (classic or KIP-848) — sends the
//! requests it asks for, feeds the answers back, applies assignment changes to the fetcher and
//! queues the rebalance listener's events for the application's next poll.
//!
//! Ordering: the membership's actions are taken strictly in order, and a `Revoked` event stops
//! the queue until the application's poll has run the listener (and so could commit the revoked
//! partitions' offsets). Under the eager protocol the JoinGroup that follows a revocation is
//! therefore sent only after the application let go of the partitions, as in Java.
//!
//! Requests run in their own tasks holding only a weak reference to the consumer, so a JoinGroup
//! parked by the broker for minutes never keeps a dropped consumer alive; dropping the consumer
//! ends them and this task at once (see [`Gone`](super::shared::Gone)).

use super::group::membership::{
    GroupRequestKind, HeartbeatRequest, JoinGroupRequest, JoinGroupResult, LeaveGroupRequest,
    MemberState, SyncGroupRequest, SyncGroupResult,
};
use super::group::{GroupAction, GroupMembership, Membership, PartitionCounts};
use super::shared::Inner;
use super::shared::ListenerEvent;
use crate::cluster::{Cluster, ClusterMetadata, CoordinatorType, TopicSelection};
use crate::connection::{BrokerConnection, Purpose};
use crate::protocol::requests::consumer_group_heartbeat::{
    self, ConsumerHeartbeatRequest, ConsumerHeartbeatResult,
};
use crate::protocol::requests::{heartbeat, join_group, leave_group, sync_group};
use crate::retry::{retry_until, Retry};
use crate::retry::{Backoff, Jitter};
use crate::types::TopicPartition;
use crate::{Error, ErrorKind, Result};
use kafka_protocol::messages as km;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How often a stable leader compares partition counts with the metadata (Java relies on the
/// metadata refresh; this also drives that refresh).
const LEADER_METADATA_CHECK: Duration = Duration::from_secs(5);

/// Runs until the consumer is dropped or closed, or its membership (number `epoch`) is gone.
/// Holds the state only while it steps the membership; the requests hold a `Weak`, and the last
/// `Consumer` going ends this loop at once (no heartbeat goes out after it).
pub(super) async fn run(weak: Weak<Inner>, epoch: u64) {
    let Some(mut gone) = weak.upgrade().map(|inner| inner.gone()) else {
        return;
    };
    let mut next_leader_check = Instant::now() + LEADER_METADATA_CHECK;
    loop {
        let Some(inner) = weak.upgrade() else {
            return;
        };
        let now = Instant::now();
        if now >= next_leader_check {
            next_leader_check = now + LEADER_METADATA_CHECK;
            leader_metadata_check(&inner, now);
            pattern_check(&inner, now);
        }
        let Some((requests, next, finished)) = step(&inner, now, epoch) else {
            return;
        };
        for (action, node) in requests {
            dispatch(&inner, action, node);
        }
        if finished && inner.closed.load(Ordering::Acquire) {
            return;
        }
        let wake = inner.group_wake.clone();
        drop(inner);
        let next = next
            .unwrap_or(now + Duration::from_secs(1))
            .min(now + Duration::from_secs(1))
            .min(next_leader_check);
        tokio::select! {
            () = gone.wait() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(next)) => {}
        }
    }
}

type Request = (GroupAction, Option<i32>);

/// Takes the membership's due actions. Returns the requests to send (with the coordinator node
/// at the time), the next wake-up, and whether the membership has finished (left or fenced).
fn step(
    inner: &Arc<Inner>,
    now: Instant,
    epoch: u64,
) -> Option<(Vec<Request>, Option<Instant>, bool)> {
    let mut guard = inner.lock();
    let core = &mut *guard;
    if core.group_epoch != epoch {
        return None; // unsubscribed (and perhaps subscribed again: a new task drives that)
    }
    let m = core.group.as_mut()?;
    m.handle_timeout(now);
    let mut requests = Vec::new();
    let mut notify_app = false;
    if let Membership::Consumer(c) = m {
        if let Some(ids) = c.poll_resolve(now) {
            requests.push((GroupAction::ResolveTopicIds(ids), None));
        }
    }
    // After a `Revoked` the membership hands out no further listener event until the
    // application's poll ran the listener (`RevokeGuard` calls `revocation_done`).
    while let Some(action) = m.poll_action(now) {
        log_assignment_change(inner, m, &action);
        match action {
            GroupAction::Revoked(tps) => {
                core.listener_events.push_back(ListenerEvent::Revoked(tps));
                notify_app = true;
            }
            GroupAction::Assigned(tps) => {
                let mut all: BTreeSet<TopicPartition> =
                    core.fetcher.assignment().cloned().collect();
                all.extend(tps.iter().cloned());
                core.fetcher.assign(all);
                core.listener_events.push_back(ListenerEvent::Assigned(tps));
                notify_app = true;
            }
            GroupAction::Lost(tps) => {
                core.fetcher.unassign(&tps);
                core.listener_events.push_back(ListenerEvent::Lost(tps));
                notify_app = true;
            }
            GroupAction::Error(e) => {
                inner.metrics.failed_rebalances.record(1.0);
                core.errors.push_back(e);
                notify_app = true;
            }
            GroupAction::SendJoinGroup(_) => {
                if core.rebalance_started.is_none() {
                    core.rebalance_started = Some(now);
                }
                requests.push((action, m.coordinator()));
            }
            other => requests.push((other, m.coordinator())),
        }
    }
    if let Some(g) = m.generation() {
        let fresh = core
            .seen_generation
            .as_ref()
            .is_none_or(|(id, member)| *id != g.generation_id || *member != g.member_id);
        if fresh {
            core.seen_generation = Some((g.generation_id, g.member_id.clone()));
            if let Some(started) = core.rebalance_started.take() {
                inner
                    .metrics
                    .rebalances
                    .record(now.duration_since(started).as_secs_f64() * 1000.0);
            }
        }
    }
    let finished = m.is_finished();
    let next = m.poll_timeout();
    drop(guard);
    if notify_app {
        inner.data.notify_one();
    }
    Some((requests, next, finished))
}

/// Leader: rejoins when a subscribed topic's partition count changed (partitions added).
fn leader_metadata_check(inner: &Arc<Inner>, now: Instant) {
    let topics: Vec<String> = {
        let core = inner.lock();
        match core.group.as_ref().and_then(|m| m.generation()) {
            Some(g) if g.leader => core.group_topics.iter().cloned().collect(),
            _ => return,
        }
    };
    if topics.is_empty() {
        return;
    }
    let md = inner.cluster.metadata();
    if let Some(counts) = partition_counts(&md, &topics, false) {
        let mut core = inner.lock();
        if let Some(Membership::Classic(m)) = core.group.as_mut() {
            m.on_metadata_update(now, &counts);
        }
    }
    // Keep the leader's view of those topics fresh (bounded by metadata.max.age.ms).
    let cluster = inner.cluster.clone();
    tokio::spawn(async move {
        let _ = cluster.ensure_fresh().await;
    });
}

/// One INFO line per assignment change, as the Java consumer logs its joins and assignments: a
/// user reading the log sees which member owns what and when it changed.
fn log_assignment_change(inner: &Inner, m: &Membership, action: &GroupAction) {
    let (what, tps) = match action {
        GroupAction::Assigned(tps) => ("partitions assigned", tps),
        GroupAction::Revoked(tps) => ("partitions revoked", tps),
        GroupAction::Lost(tps) => (
            "partitions lost (the group moved on without this member)",
            tps,
        ),
        _ => return,
    };
    // After the member left (close, unsubscribe) it has no generation: the fields are left out
    // rather than printed as -1 and "".
    let generation = m.generation();
    tracing::info!(
        group = inner.cfg.group_id.as_deref().unwrap_or(""),
        generation = generation.as_ref().map(|g| g.generation_id),
        member = generation.as_ref().map(|g| g.member_id.as_str()),
        partitions = %TopicPartitions(tps),
        owned = m.assignment().len(),
        "{what}"
    );
}

/// A short list of partitions for a log line: `orders-0,orders-3` (at most 20, then a count).
struct TopicPartitions<'a>(&'a [TopicPartition]);

impl std::fmt::Display for TopicPartitions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 20;
        for (i, tp) in self.0.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{tp}")?;
        }
        if self.0.len() > SHOWN {
            write!(f, " and {} more", self.0.len() - SHOWN)?;
        }
        Ok(())
    }
}

/// Classic `subscribe_pattern`: subscribes to the topics the pattern matches in the latest
/// metadata (a change rejoins), and refreshes every topic's metadata for the next check.
fn pattern_check(inner: &Arc<Inner>, now: Instant) {
    if apply_pattern(inner, now) {
        let cluster = inner.cluster.clone();
        tokio::spawn(async move {
            let _ = cluster.refresh(TopicSelection::All).await;
        });
    }
}

/// Classic `subscribe_pattern`: subscribes to what the pattern matches in the latest metadata.
/// Returns whether a classic pattern subscription is in force.
pub(super) fn apply_pattern(inner: &Arc<Inner>, now: Instant) -> bool {
    let md = inner.cluster.metadata();
    let changed = {
        let mut guard = inner.lock();
        let core = &mut *guard;
        let Some(pattern) = core.group_pattern.as_ref() else {
            return false;
        };
        let Some(Membership::Classic(m)) = core.group.as_mut() else {
            return false;
        };
        let matched = pattern.matches(&md);
        let changed = &matched != m.subscription();
        if changed {
            tracing::info!(pattern = pattern.source(), topics = ?matched, "the topics matching the subscribed pattern changed");
            let names: Vec<String> = matched.iter().cloned().collect();
            inner.cluster.track_topics(&names);
            m.subscribe(now, matched);
        }
        changed
    };
    if changed {
        inner.group_wake.notify_one();
    }
    true
}

/// Partition counts of `topics`; with `allow_missing` a topic the metadata lacks counts 0 (the
/// leader assigns nothing of it), otherwise the answer is `None` (the view is incomplete).
fn partition_counts(
    md: &ClusterMetadata,
    topics: &[String],
    allow_missing: bool,
) -> Option<PartitionCounts> {
    let mut counts = PartitionCounts::new();
    for t in topics {
        match md.topic(t).filter(|i| i.error_code == 0) {
            Some(info) => {
                counts.insert(
                    t.clone(),
                    i32::try_from(info.partitions.len()).unwrap_or(i32::MAX),
                );
            }
            None if allow_missing => {}
            None => return None,
        }
    }
    Some(counts)
}

/// Runs one request in its own task and feeds the outcome back to the membership. The task
/// ends (dropping the request) as soon as the consumer is dropped.
fn dispatch(inner: &Arc<Inner>, action: GroupAction, node: Option<i32>) {
    let weak = Arc::downgrade(inner);
    let cluster = inner.cluster.clone();
    let group = inner.cfg.group_id.clone().unwrap_or_default();
    let timeout = inner.cfg.client.request_timeout;
    let rebalance_timeout = inner.cfg.group.max_poll_interval;
    tokio::spawn(inner.gone().unless_gone(async move {
        let conn_for = |node: Option<i32>, purpose: Purpose| {
            let cluster = cluster.clone();
            async move {
                let node = node.ok_or_else(|| {
                    Error::new(ErrorKind::Disconnected { sent: false })
                        .with_detail("group coordinator unknown")
                })?;
                cluster.connection_to(node, purpose).await
            }
        };
        let conn = |node: Option<i32>| conn_for(node, Purpose::Membership);
        let outcome: Outcome = match action {
            GroupAction::FindCoordinator { .. } => Outcome::Coordinator(
                cluster
                    .lookup_coordinator(CoordinatorType::Group, &group)
                    .await,
            ),
            GroupAction::SendJoinGroup(req) => Outcome::Join(
                async { send_join_group(&conn(node).await?, &req, timeout).await }.await,
            ),
            GroupAction::SendSyncGroup(req) => {
                // A follower's SyncGroup waits for the leader's: allow the rebalance timeout.
                let wait = rebalance_timeout.max(timeout);
                Outcome::Sync(async { send_sync_group(&conn(node).await?, &req, wait).await }.await)
            }
            GroupAction::SendHeartbeat(req) => Outcome::Heartbeat(
                async { send_heartbeat(&conn(node).await?, &req, timeout).await }.await,
            ),
            // Not behind a JoinGroup the broker may park for minutes on the membership
            // connection: a consumer closing mid-rebalance leaves at once.
            GroupAction::SendLeaveGroup(req) => Outcome::Leave(
                async {
                    let conn = conn_for(node, Purpose::Coordination).await?;
                    send_leave_group(&conn, &req, timeout).await
                }
                .await,
            ),
            GroupAction::SendConsumerHeartbeat(req) => Outcome::ConsumerHeartbeat(
                async { send_consumer_heartbeat(&conn(node).await?, req, timeout).await }.await,
            ),
            GroupAction::ResolveTopicIds(ids) => {
                Outcome::TopicNames(resolve_topic_ids(&cluster, &weak, &ids).await)
            }
            GroupAction::DescribeTopics { topics } => {
                cluster.track_topics(&topics);
                let counts = describe_topics(&cluster, &topics).await;
                if counts.is_ok() {
                    // A subscribed topic the cluster lacks gets no partitions: say so.
                    if let Some(inner) = weak.upgrade() {
                        inner.warn_unknown_topics(&cluster.metadata(), &topics);
                    }
                }
                Outcome::Counts(counts, topics)
            }
            // Listener events and errors never reach dispatch.
            _ => return,
        };
        let Some(inner) = weak.upgrade() else {
            return;
        };
        deliver(&inner, outcome);
        inner.group_wake.notify_one();
    }));
}

/// Leader: refreshes the metadata of every member's topics and counts their partitions.
async fn describe_topics(cluster: &Cluster, topics: &[String]) -> Result<PartitionCounts> {
    let md = cluster
        .refresh(TopicSelection::Topics(topics.to_vec()))
        .await?;
    Ok(partition_counts(&md, topics, true).unwrap_or_default())
}

enum Outcome {
    Coordinator(Result<i32>),
    Join(Result<super::group::membership::JoinGroupResult>),
    Sync(Result<super::group::membership::SyncGroupResult>),
    Heartbeat(Result<i16>),
    Leave(Result<i16>),
    Counts(Result<PartitionCounts>, Vec<String>),
    ConsumerHeartbeat(Result<ConsumerHeartbeatResult>),
    TopicNames(BTreeMap<Uuid, String>),
}

fn deliver(inner: &Arc<Inner>, outcome: Outcome) {
    let error = match &outcome {
        Outcome::Coordinator(r) => r.as_ref().err(),
        Outcome::Join(r) => r.as_ref().err(),
        Outcome::Sync(r) => r.as_ref().err(),
        Outcome::Heartbeat(r) | Outcome::Leave(r) => r.as_ref().err(),
        Outcome::Counts(r, _) => r.as_ref().err(),
        Outcome::ConsumerHeartbeat(r) => r.as_ref().err(),
        Outcome::TopicNames(_) => None,
    };
    inner.report(error.map_or(Ok(()), Err));
    let now = Instant::now();
    let mut guard = inner.lock();
    let core = &mut *guard;
    let Some(member) = core.group.as_mut() else {
        return;
    };
    let m = match (member, outcome) {
        (m, Outcome::Coordinator(Ok(node))) => {
            m.on_coordinator_found(now, node);
            return;
        }
        (m, Outcome::Coordinator(Err(e))) => {
            m.on_find_coordinator_error(now, e);
            return;
        }
        (Membership::Consumer(c), Outcome::ConsumerHeartbeat(r)) => {
            match r {
                Ok(r) => c.on_heartbeat_response(now, r),
                Err(e) => c.on_request_failed(now, e),
            }
            return;
        }
        (Membership::Consumer(c), Outcome::TopicNames(names)) => {
            c.on_topic_names(now, names);
            return;
        }
        (Membership::Classic(m), outcome) => (m, outcome),
        // A classic outcome for a KIP-848 member (or the reverse) cannot happen: one consumer
        // speaks one protocol for its life.
        (Membership::Consumer(_), _) => return,
    };
    let (m, outcome) = m;
    let failed = |m: &mut GroupMembership, kind, e: Error| {
        tracing::debug!(?kind, error = %e, "group request failed");
        m.on_request_failed(now, kind, e);
    };
    match outcome {
        Outcome::Coordinator(_) | Outcome::ConsumerHeartbeat(_) | Outcome::TopicNames(_) => {}
        Outcome::Join(Ok(r)) => m.on_join_group_response(now, r),
        Outcome::Join(Err(e)) => failed(m, GroupRequestKind::JoinGroup, e),
        Outcome::Sync(Ok(r)) => m.on_sync_group_response(now, r),
        Outcome::Sync(Err(e)) => failed(m, GroupRequestKind::SyncGroup, e),
        Outcome::Heartbeat(Ok(code)) => m.on_heartbeat_response(now, code),
        Outcome::Heartbeat(Err(e)) => failed(m, GroupRequestKind::Heartbeat, e),
        Outcome::Leave(Ok(code)) => m.on_leave_group_response(now, code),
        Outcome::Leave(Err(e)) => failed(m, GroupRequestKind::LeaveGroup, e),
        Outcome::Counts(Ok(counts), topics) => {
            core.group_topics = topics.into_iter().collect();
            m.on_partition_counts(now, &counts);
        }
        Outcome::Counts(Err(e), topics)
            if matches!(m.state(), MemberState::AwaitingMetadata { .. }) =>
        {
            // Without counts the leader cannot assign; an empty view would assign nothing and
            // strand the group, so retry the lookup instead.
            tracing::warn!(error = %e, "partition counts for the assignment unavailable; retrying");
            let weak = Arc::downgrade(inner);
            let cluster = inner.cluster.clone();
            let retry_backoff = inner.cfg.client.retry_backoff;
            tokio::spawn(inner.gone().unless_gone(async move {
                // A fixed `retry.backoff.ms` between lookups (base = max, no jitter), and no
                // deadline: the lookup is retried for as long as the member still waits for the
                // counts (the membership's own timers bound that), and not at all once the
                // consumer is gone.
                let mut waits = Retry::new(
                    None,
                    Backoff::new(retry_backoff, retry_backoff),
                    Jitter::None,
                );
                waits.wait().await;
                let counts = retry_until(
                    waits,
                    |e: &Error| {
                        let Some(inner) = weak.upgrade() else {
                            return false;
                        };
                        let awaiting = matches!(
                            inner.lock().group.as_ref(),
                            Some(Membership::Classic(m))
                                if matches!(m.state(), MemberState::AwaitingMetadata { .. })
                        );
                        if awaiting {
                            tracing::warn!(error = %e, "partition counts for the assignment unavailable; retrying");
                        }
                        inner.group_wake.notify_one();
                        awaiting
                    },
                    || describe_topics(&cluster, &topics),
                )
                .await;
                if let (Ok(counts), Some(inner)) = (counts, weak.upgrade()) {
                    deliver(&inner, Outcome::Counts(Ok(counts), topics));
                    inner.group_wake.notify_one();
                }
            }));
        }
        Outcome::Counts(Err(_), _) => {}
    }
}

/// Sends JoinGroup. The broker holds it until every member rejoined or the rebalance timeout
/// passed, so the request timeout is the rebalance timeout plus 5 s (as Java).
async fn send_join_group(
    conn: &BrokerConnection,
    req: &JoinGroupRequest,
    request_timeout: Duration,
) -> Result<JoinGroupResult> {
    let version = conn.version_for::<km::JoinGroupRequest>()?;
    let msg = join_group::request(req, version)?;
    let timeout = Duration::from_millis(u64::try_from(req.rebalance_timeout_ms).unwrap_or(0))
        .max(request_timeout)
        + Duration::from_secs(5);
    let resp = conn.send_version(&msg, version, timeout).await?;
    Ok(join_group::parse(resp))
}

/// Sends SyncGroup. The broker answers a follower once the leader's SyncGroup arrived.
async fn send_sync_group(
    conn: &BrokerConnection,
    req: &SyncGroupRequest,
    timeout: Duration,
) -> Result<SyncGroupResult> {
    let version = conn.version_for::<km::SyncGroupRequest>()?;
    let resp = conn
        .send_version(&sync_group::request(req, version), version, timeout)
        .await?;
    Ok(sync_group::parse(resp))
}

/// Sends Heartbeat; returns the error code.
async fn send_heartbeat(
    conn: &BrokerConnection,
    req: &HeartbeatRequest,
    timeout: Duration,
) -> Result<i16> {
    let version = conn.version_for::<km::HeartbeatRequest>()?;
    let msg = heartbeat::request(req, version);
    Ok(conn.send_version(&msg, version, timeout).await?.error_code)
}

/// Sends LeaveGroup; returns the first error code (group-level, then the member's).
async fn send_leave_group(
    conn: &BrokerConnection,
    req: &LeaveGroupRequest,
    timeout: Duration,
) -> Result<i16> {
    let version = conn.version_for::<km::LeaveGroupRequest>()?;
    let msg = leave_group::request(req, version);
    let resp = conn.send_version(&msg, version, timeout).await?;
    Ok(leave_group::parse(&resp))
}

/// Sends ConsumerGroupHeartbeat. A v0 coordinator names a joining member itself, so the
/// client-generated member id is left out of a v0 join.
async fn send_consumer_heartbeat(
    conn: &BrokerConnection,
    mut req: ConsumerHeartbeatRequest,
    timeout: Duration,
) -> Result<ConsumerHeartbeatResult> {
    let version = conn
        .version_for::<km::ConsumerGroupHeartbeatRequest>()
        .map_err(|e| e.with_detail(super::group::consumer_protocol::NO_KIP_848))?;
    if version == 0 && req.member_epoch == consumer_group_heartbeat::JOIN_EPOCH {
        req.member_id.clear();
    }
    let msg = consumer_group_heartbeat::request(&req, version)?;
    let resp = conn.send_version(&msg, version, timeout).await?;
    Ok(consumer_group_heartbeat::parse(&resp))
}

/// Names for the topic ids of a KIP-848 assignment, from the cluster metadata; refreshes the
/// subscribed topics' metadata once when an id is unknown (a topic created after the last
/// refresh). Ids still unknown stay out of the answer (the membership asks again later).
async fn resolve_topic_ids(
    cluster: &Cluster,
    weak: &Weak<Inner>,
    ids: &[Uuid],
) -> BTreeMap<Uuid, String> {
    let lookup = |md: &ClusterMetadata| -> BTreeMap<Uuid, String> {
        md.topics
            .values()
            .filter_map(|t| {
                t.topic_id
                    .filter(|id| ids.contains(id))
                    .map(|id| (id, t.name.clone()))
            })
            .collect()
    };
    let mut names = lookup(&cluster.metadata());
    if names.len() < ids.len() {
        let topics: Vec<String> = match weak.upgrade() {
            Some(inner) => inner
                .lock()
                .group
                .as_ref()
                .map(|m| m.subscription().iter().cloned().collect())
                .unwrap_or_default(),
            None => return names,
        };
        // A pattern subscription names no topics: its assignment may hold any of them.
        let selection = if topics.is_empty() {
            TopicSelection::All
        } else {
            TopicSelection::Topics(topics)
        };
        match cluster.refresh(selection).await {
            Ok(md) => names = lookup(&md),
            Err(e) => {
                tracing::debug!(error = %e, "metadata for the assignment's topic ids unavailable");
            }
        }
    }
    // The fetcher needs these topics' leaders from now on.
    let resolved: Vec<&String> = names.values().collect();
    cluster.track_topics(&resolved);
    names
}
