//! The share consumer's I/O: the heartbeat task, fetch rounds (one ShareFetch per leader,
//! concurrently) and acknowledgement rounds (ShareAcknowledge per broker with a session). The
//! decisions are the I/O-free cores' ([`ShareMembership`](super::membership::ShareMembership),
//! [`ShareSession`](super::session::ShareSession), [`Ledger`](super::acks::Ledger)).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use kafka_protocol::messages as km;
use uuid::Uuid;

use super::acks::SharePartition;
use super::membership::{is_coordinator_error, NO_SHARE_GROUPS};
use super::record;
use super::shared::Inner;
use crate::cluster::{CoordinatorType, TopicSelection};
use crate::connection::Purpose;
use crate::error::code::{
    INVALID_SHARE_SESSION_EPOCH, SHARE_SESSION_LIMIT_REACHED, SHARE_SESSION_NOT_FOUND,
};
use crate::protocol::requests::share_fetch::{self, ShareFetchData, ShareResult, FINAL_EPOCH};
use crate::protocol::requests::share_group_heartbeat::{self, ShareHeartbeatRequest};
use crate::types::TopicPartition;
use crate::{Error, ErrorKind, Result};

/// Runs the membership until the consumer is closed (after its leave) or dropped.
pub(super) async fn heartbeat_loop(weak: Weak<Inner>) {
    let mut seen_assignment = 0;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let now = Instant::now();
        let (req, next) = {
            let mut st = inner.lock();
            (
                st.membership.poll_heartbeat(now),
                st.membership.next_deadline(),
            )
        };
        if let Some(req) = req {
            let sent = Instant::now();
            let result = send_heartbeat(&inner, &req).await;
            if result.is_ok() {
                inner
                    .metrics
                    .heartbeat_latency_ms
                    .record(millis(sent.elapsed()));
            }
            let now = Instant::now();
            let version = {
                let mut st = inner.lock();
                match result {
                    Ok(r) => {
                        if is_coordinator_error(r.error_code) {
                            inner
                                .cluster
                                .forget_coordinator(CoordinatorType::Group, &inner.cfg.group_id);
                        }
                        if let Some(e) = st.membership.on_response(now, r) {
                            inner.cluster.report(&e);
                            st.errors.push_back(e);
                        }
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::UnsupportedVersion { .. }) => {
                        let e = e.with_detail(NO_SHARE_GROUPS);
                        st.membership.fail(e.clone());
                        st.errors.push_back(e);
                    }
                    Err(e) => {
                        inner.cluster.report(&e);
                        inner.cluster.on_coordinator_error(
                            CoordinatorType::Group,
                            &inner.cfg.group_id,
                            &e,
                        );
                        if e.is_connectivity_failure() {
                            inner
                                .cluster
                                .forget_coordinator(CoordinatorType::Group, &inner.cfg.group_id);
                        }
                        st.membership.on_request_failed(now, &e);
                    }
                }
                st.membership.assignment_version()
            };
            let unnamed = {
                let st = inner.lock();
                st.membership
                    .assignment()
                    .keys()
                    .any(|id| !st.names.contains_key(id))
            };
            if version != seen_assignment || unnamed {
                seen_assignment = version;
                resolve_names(&inner).await;
            }
            inner.data.notify_waiters();
            continue;
        }
        if inner.closed.load(Ordering::Acquire) && !inner.lock().membership.is_leaving() {
            return;
        }
        let wake = inner.heartbeat_wake.clone();
        drop(inner);
        let until = next.unwrap_or_else(|| now + Duration::from_secs(1));
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(until)) => {}
        }
    }
}

async fn send_heartbeat(
    inner: &Inner,
    req: &ShareHeartbeatRequest,
) -> Result<share_group_heartbeat::ShareHeartbeatResult> {
    let conn = inner
        .cluster
        .coordinator_connection(CoordinatorType::Group, &inner.cfg.group_id)
        .await?;
    let version = conn.version_for::<km::ShareGroupHeartbeatRequest>()?;
    let resp = conn
        .send_version(
            &share_group_heartbeat::request(req),
            version,
            inner.cfg.client.request_timeout,
        )
        .await?;
    Ok(share_group_heartbeat::parse(&resp))
}

/// Prefetch: the next fetch round starts as `poll` hands out the last buffered records, so it
/// runs while the application processes them (one round in flight at most). Its answer carries
/// the acknowledgements staged so far; those of the records just handed out go with the round
/// after it.
pub(super) fn prefetch(inner: &Arc<Inner>) {
    if inner.prefetching.swap(true, Ordering::AcqRel) {
        return;
    }
    let inner = Arc::clone(inner);
    tokio::spawn(async move {
        let wait = inner.cfg.fetch_max_wait;
        fetch_round(&inner, wait).await;
        inner.prefetching.store(false, Ordering::Release);
        inner.data.notify_waiters();
    });
}

/// Names the assignment's topic ids from the cluster metadata, refreshing once if one is unknown.
async fn resolve_names(inner: &Inner) {
    let (ids, topics): (Vec<Uuid>, Vec<String>) = {
        let st = inner.lock();
        (
            st.membership.assignment().keys().copied().collect(),
            st.membership.subscription().iter().cloned().collect(),
        )
    };
    let lookup = |md: &crate::cluster::ClusterMetadata| -> BTreeMap<Uuid, Arc<str>> {
        md.topics
            .values()
            .filter_map(|t| {
                t.topic_id
                    .filter(|id| ids.contains(id))
                    .map(|id| (id, Arc::from(t.name.as_str())))
            })
            .collect()
    };
    let mut names = lookup(&inner.cluster.metadata());
    if names.len() < ids.len() {
        if let Ok(md) = inner.cluster.refresh(TopicSelection::Topics(topics)).await {
            names = lookup(&md);
        }
    }
    inner.lock().names.extend(names);
}

/// A partition to fetch: its id, name and leader.
struct Wanted {
    tp: SharePartition,
    name: Arc<str>,
}

/// One fetch round: a ShareFetch to every leader of an assigned partition (carrying the pending
/// acknowledgements of its partitions), run concurrently; the records go to the buffer.
///
/// Nothing is sent while records wait in the buffer (a prefetch round may have filled it while
/// this one waited for the sessions).
pub(super) async fn fetch_round(inner: &Arc<Inner>, max_wait: Duration) {
    let mut sessions = inner.sessions.lock().await;
    if !inner.lock().buffered.is_empty() || inner.closed.load(Ordering::Acquire) {
        return;
    }
    let md = inner.cluster.metadata();
    let mut by_node: BTreeMap<i32, Vec<Wanted>> = BTreeMap::new();
    let mut leaderless = false;
    {
        let st = inner.lock();
        for (id, parts) in st.membership.assignment() {
            let Some(name) = st.names.get(id) else {
                continue;
            };
            for &p in parts {
                match md.leader(name, p) {
                    Some((b, _)) => by_node.entry(b.node_id).or_default().push(Wanted {
                        tp: (*id, p),
                        name: Arc::clone(name),
                    }),
                    None => leaderless = true,
                }
            }
        }
    }
    if leaderless {
        refresh_leaders(inner).await;
    }
    let mut requests = Vec::new();
    {
        let mut st = inner.lock();
        for (node, wanted) in &by_node {
            let set: BTreeSet<SharePartition> = wanted.iter().map(|w| w.tp).collect();
            let session = sessions.entry(*node).or_default();
            // A session opens without acknowledgements (epoch 0 may not carry any): those of a
            // lost session are gone, their records come back when the locks expire.
            let acks = if session.is_open() {
                st.ledger.take_pending(|tp| set.contains(tp))
            } else {
                let dropped = st.ledger.take_pending(|tp| set.contains(tp));
                if !dropped.is_empty() {
                    tracing::debug!(
                        node,
                        partitions = dropped.len(),
                        "acknowledgements dropped with a lost share session"
                    );
                }
                BTreeMap::new()
            };
            let req = session.fetch(&set, acks);
            let acked = acked_offsets(&req.topics);
            let with_acks = acked_partitions(&req.topics);
            inner
                .metrics
                .acknowledgements_sent
                .record_n(acked, acked as f64);
            let data = ShareFetchData {
                group_id: inner.cfg.group_id.clone(),
                member_id: st.membership.member_id().to_string(),
                session_epoch: req.epoch,
                max_wait_ms: i32::try_from(max_wait.as_millis()).unwrap_or(i32::MAX),
                min_bytes: inner.cfg.fetch_min_bytes,
                max_bytes: inner.cfg.fetch_max_bytes,
                partition_max_bytes: inner.cfg.max_partition_fetch_bytes,
                max_records: i32::try_from(inner.cfg.max_poll_records).unwrap_or(i32::MAX),
                batch_size: i32::try_from(inner.cfg.max_poll_records).unwrap_or(i32::MAX),
                topics: req.topics,
                forgotten: req.forgotten,
            };
            requests.push((*node, set, with_acks, share_fetch::fetch_request(&data)));
        }
    }
    let timeout = inner.cfg.client.request_timeout + max_wait;
    let sends = requests.into_iter().map(|(node, set, with_acks, msg)| {
        let cluster = Arc::clone(&inner.cluster);
        async move {
            let sent = Instant::now();
            let r = async {
                let conn = cluster.connection_to(node, Purpose::Fetch).await?;
                let version = conn.version_for::<km::ShareFetchRequest>()?;
                conn.send_version(&msg, version, timeout).await
            }
            .await;
            (node, set, with_acks, r, sent.elapsed())
        }
    });
    let results = futures_util::future::join_all(sends).await;
    let names: HashMap<Uuid, Arc<str>> = by_node
        .values()
        .flatten()
        .map(|w| (w.tp.0, Arc::clone(&w.name)))
        .collect();
    let mut refresh = false;
    let mut committed: BTreeMap<TopicPartition, Result<()>> = BTreeMap::new();
    for (node, set, with_acks, result, latency) in results {
        let session = sessions.entry(node).or_default();
        match result {
            Ok(resp) => {
                inner.metrics.fetch_latency_ms.record(millis(latency));
                let r = share_fetch::parse_fetch(resp);
                for tp in &with_acks {
                    let Some(name) = names.get(&tp.0) else {
                        continue;
                    };
                    let code = if r.error_code != 0 {
                        r.error_code
                    } else {
                        r.partitions
                            .iter()
                            .find(|p| (p.topic_id, p.partition) == *tp)
                            .map_or(0, |p| p.ack_error_code)
                    };
                    let res = if code == 0 {
                        Ok(())
                    } else {
                        Err(Error::from_broker_code(code)
                            .with_api("ShareFetch")
                            .with_partition(&**name, tp.1))
                    };
                    committed.insert(TopicPartition::new(name.as_ref(), tp.1), res);
                }
                if is_session_error(r.error_code) || r.error_code != 0 {
                    session.reset();
                    let e = Error::from_broker_code(r.error_code)
                        .with_api("ShareFetch")
                        .with_broker_message(r.error_message.clone());
                    tracing::debug!(node, error = %e, "share session reset");
                    if !is_session_error(r.error_code) {
                        inner.cluster.report(&e);
                        if e.is_fatal() {
                            inner.lock().errors.push_back(e);
                        }
                    }
                    continue;
                }
                session.fetched(&set);
                refresh |= take_fetched(inner, r, &names);
            }
            Err(e) => {
                // A lost connection ends the broker's session and releases this member's
                // records; a new one opens with the next fetch.
                session.reset();
                for tp in &with_acks {
                    if let Some(name) = names.get(&tp.0) {
                        committed.insert(TopicPartition::new(name.as_ref(), tp.1), Err(e.clone()));
                    }
                }
                refresh |= e.needs_leader_lookup();
                if matches!(e.kind(), ErrorKind::UnsupportedVersion { .. }) {
                    inner
                        .lock()
                        .errors
                        .push_back(e.with_detail(NO_SHARE_GROUPS));
                } else {
                    inner.cluster.report(&e);
                }
            }
        }
    }
    drop(sessions);
    report_commit(inner, &committed);
    if refresh {
        refresh_leaders(inner).await;
    }
}

/// Hands the outcome of an acknowledgement commit to the application's callback, if it set one.
pub(super) fn report_commit(inner: &Inner, outcome: &BTreeMap<TopicPartition, Result<()>>) {
    if outcome.is_empty() {
        return;
    }
    let callback = inner
        .callback
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if let Some(cb) = callback {
        cb(outcome);
    }
}

/// Refreshes the subscribed topics' metadata after a leader was missing or moved (backing off
/// between such refreshes, as every client of the cluster does).
async fn refresh_leaders(inner: &Inner) {
    let topics: Vec<String> = inner
        .lock()
        .membership
        .subscription()
        .iter()
        .cloned()
        .collect();
    let _ = inner
        .cluster
        .refresh_after_error(TopicSelection::Topics(topics))
        .await;
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The partitions a request carries acknowledgements for.
fn acked_partitions(
    topics: &[(Uuid, Vec<share_fetch::SharePartitionRequest>)],
) -> Vec<SharePartition> {
    topics
        .iter()
        .flat_map(|(id, ps)| {
            ps.iter()
                .filter(|p| !p.acks.is_empty())
                .map(move |p| (*id, p.partition))
        })
        .collect()
}

/// Offsets a request acknowledges.
fn acked_offsets(topics: &[(Uuid, Vec<share_fetch::SharePartitionRequest>)]) -> u64 {
    topics
        .iter()
        .flat_map(|(_, ps)| ps.iter().flat_map(|p| p.acks.iter()))
        .map(|b| u64::try_from(b.last_offset - b.first_offset + 1).unwrap_or(0))
        .sum()
}

fn is_session_error(code: i16) -> bool {
    matches!(
        code,
        SHARE_SESSION_NOT_FOUND | INVALID_SHARE_SESSION_EPOCH | SHARE_SESSION_LIMIT_REACHED
    )
}

/// Buffers the records of a fetch answer, records its gaps and acknowledgement errors; returns
/// whether a partition's leader moved.
fn take_fetched(inner: &Inner, r: ShareResult, names: &HashMap<Uuid, Arc<str>>) -> bool {
    let mut refresh = false;
    let mut acquired = 0usize;
    let mut st = inner.lock();
    if r.acquisition_lock_timeout_ms > 0 {
        st.lock_timeout = Some(Duration::from_millis(r.acquisition_lock_timeout_ms as u64));
    }
    for p in r.partitions {
        let Some(name) = names.get(&p.topic_id) else {
            continue;
        };
        let tp = (p.topic_id, p.partition);
        if p.ack_error_code != 0 {
            inner.metrics.acknowledgement_errors.record(1.0);
            let e = Error::from_broker_code(p.ack_error_code)
                .with_api("ShareFetch")
                .with_partition(&**name, p.partition)
                .with_broker_message(p.ack_error_message.clone());
            inner.cluster.report(&e);
            st.ack_errors
                .push((TopicPartition::new(name.as_ref(), p.partition), e));
        }
        if p.error_code != 0 {
            let e = Error::from_broker_code(p.error_code)
                .with_api("ShareFetch")
                .with_partition(&**name, p.partition)
                .with_broker_message(p.error_message.clone());
            refresh |= e.needs_leader_lookup();
            inner.cluster.report(&e);
            continue;
        }
        let d = record::decode(
            name,
            p.topic_id,
            p.partition,
            p.records,
            &p.acquired,
            inner.cfg.decode,
        );
        for offset in d.gaps {
            st.ledger.gap(tp, offset);
        }
        for offset in d.undecodable {
            st.ledger.release(tp, offset);
        }
        if let Some(e) = d.error {
            inner.cluster.report(&e);
            st.errors.push_back(e);
        }
        acquired += d.records.len();
        st.buffered.extend(d.records);
    }
    inner.metrics.records_per_request.record(acquired as f64);
    refresh
}

/// Sends the pending acknowledgements by ShareAcknowledge to every broker with an open session
/// (with `close`, at epoch -1 to every such broker, ending the sessions: records still acquired
/// are released). Returns the outcome per partition.
pub(super) async fn acknowledge_round(
    inner: &Arc<Inner>,
    close: bool,
) -> BTreeMap<TopicPartition, Result<()>> {
    let mut sessions = inner.sessions.lock().await;
    let md = inner.cluster.metadata();
    let mut requests = Vec::new();
    let mut outcome = BTreeMap::new();
    {
        let mut st = inner.lock();
        let names = st.names.clone();
        let node_of = |tp: &SharePartition| -> Option<i32> {
            names
                .get(&tp.0)
                .and_then(|n| md.leader(n, tp.1))
                .map(|(b, _)| b.node_id)
        };
        let nodes: BTreeSet<i32> = sessions
            .iter()
            .filter(|(_, s)| s.is_open())
            .map(|(n, _)| *n)
            .collect();
        for node in &nodes {
            let acks = st.ledger.take_pending(|tp| node_of(tp) == Some(*node));
            if acks.is_empty() && !close {
                continue;
            }
            let session = sessions.entry(*node).or_default();
            let req = session.acknowledge(acks);
            let acked = acked_offsets(&req.topics);
            inner
                .metrics
                .acknowledgements_sent
                .record_n(acked, acked as f64);
            let epoch = if close { FINAL_EPOCH } else { req.epoch };
            let msg = share_fetch::acknowledge_request(
                &inner.cfg.group_id,
                st.membership.member_id(),
                epoch,
                &req.topics,
            );
            let listed: Vec<SharePartition> = req
                .topics
                .iter()
                .flat_map(|(id, ps)| ps.iter().map(move |p| (*id, p.partition)))
                .collect();
            requests.push((*node, listed, msg));
        }
        // Acknowledgements no open session can carry: their records come back after the lock.
        for (tp, _) in st
            .ledger
            .take_pending(|tp| node_of(tp).is_none_or(|n| !nodes.contains(&n)))
        {
            if let Some(name) = names.get(&tp.0) {
                outcome.insert(
                    TopicPartition::new(name.as_ref(), tp.1),
                    Err(Error::from_broker_code(SHARE_SESSION_NOT_FOUND)
                        .with_api("ShareAcknowledge")
                        .with_detail("no share session with the partition's leader: the records return when their acquisition locks expire")),
                );
            }
        }
    }
    let timeout = inner.cfg.client.request_timeout;
    let sends = requests.into_iter().map(|(node, listed, msg)| {
        let cluster = Arc::clone(&inner.cluster);
        async move {
            let r = async {
                let conn = cluster.connection_to(node, Purpose::Fetch).await?;
                let version = conn.version_for::<km::ShareAcknowledgeRequest>()?;
                conn.send_version(&msg, version, timeout).await
            }
            .await;
            (node, listed, r)
        }
    });
    let results = futures_util::future::join_all(sends).await;
    let names = inner.lock().names.clone();
    let name_of = |tp: &SharePartition| {
        names
            .get(&tp.0)
            .map(|n| TopicPartition::new(n.as_ref(), tp.1))
    };
    for (node, listed, result) in results {
        let session = sessions.entry(node).or_default();
        match result {
            Ok(resp) => {
                let r = share_fetch::parse_acknowledge(&resp);
                if close || r.error_code != 0 {
                    session.reset();
                } else {
                    session.acknowledged();
                }
                for tp in &listed {
                    if let Some(t) = name_of(tp) {
                        let res = if r.error_code != 0 {
                            Err(Error::from_broker_code(r.error_code)
                                .with_api("ShareAcknowledge")
                                .with_broker_message(r.error_message.clone()))
                        } else {
                            Ok(())
                        };
                        outcome.insert(t, res);
                    }
                }
                for p in r.partitions.iter().filter(|p| p.ack_error_code != 0) {
                    if let Some(t) = name_of(&(p.topic_id, p.partition)) {
                        inner.metrics.acknowledgement_errors.record(1.0);
                        let e = Error::from_broker_code(p.ack_error_code)
                            .with_api("ShareAcknowledge")
                            .with_partition(t.topic.as_str(), t.partition)
                            .with_broker_message(p.ack_error_message.clone());
                        outcome.insert(t, Err(e));
                    }
                }
            }
            Err(e) => {
                session.reset();
                for tp in &listed {
                    if let Some(t) = name_of(tp) {
                        outcome.insert(t, Err(e.clone()));
                    }
                }
            }
        }
    }
    report_commit(inner, &outcome);
    outcome
}
