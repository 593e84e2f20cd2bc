//! The consumer's background task: plans fetches, offset lookups and committed-offset reads
//! from the I/O-free [`Fetcher`](super::fetch::Fetcher), runs them, and feeds the answers back.
//! Fetches run while the application processes the previous records (prefetch, bounded by
//! `fetch.max.bytes` of buffered data).

use super::fetch::{FetchEvent, FetchResponseData, ListOffsetsPlan};
use super::shared::Inner;
use crate::cluster::TopicSelection;
use crate::connection::Purpose;
use crate::protocol::requests::{fetch, list_offsets};
use crate::types::{BrokerId, TopicPartition};
use crate::{Error, Result};
use kafka_protocol::messages::FetchRequest;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Runs until the consumer is closed or dropped. Holds the state only while planning: the
/// requests it starts hold a `Weak` (see [`Inner`]), so the last `Consumer` going ends this
/// loop (through [`Gone`](super::shared::Gone)) and cancels them at once.
pub(super) async fn run(weak: Weak<Inner>) {
    let Some(mut gone) = weak.upgrade().map(|inner| inner.gone()) else {
        return;
    };
    loop {
        let Some(inner) = weak.upgrade() else {
            return;
        };
        if inner.closed.load(Ordering::Acquire) {
            return;
        }
        let next = step(&inner);
        let wake = inner.wake.clone();
        drop(inner);
        tokio::select! {
            () = gone.wait() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(next)) => {}
        }
    }
}

/// One round of planning; returns when to plan again at the latest.
fn step(inner: &Arc<Inner>) -> Instant {
    let now = Instant::now();
    let md = inner.cluster.metadata();
    let leader_of = |tp: &TopicPartition| {
        md.leader(&tp.topic, tp.partition)
            .map(|(b, e)| (BrokerId(b.node_id), e))
    };
    let (fetches, lookups, committed, events, missing, next) = {
        let mut core = inner.lock();
        let fetches = core.fetcher.fetch_plan(now, leader_of);
        let lookups = core.fetcher.list_offsets_plan(now, leader_of);
        let committed = if inner.coordinator.is_some() {
            core.fetcher.offset_fetch_plan(now)
        } else {
            Vec::new()
        };
        core.fetcher
            .poll_stalls(now, inner.cfg.client.request_timeout);
        let events: Vec<FetchEvent> = std::iter::from_fn(|| core.fetcher.poll_event()).collect();
        let missing: BTreeSet<String> = core
            .fetcher
            .assignment()
            .filter(|tp| md.leader(&tp.topic, tp.partition).is_none())
            .map(|tp| tp.topic.clone())
            .collect();
        let mut next = now + Duration::from_millis(200);
        if let Some(t) = core.fetcher.poll_timeout(now) {
            next = next.min(t);
        }
        // No broker answered for default.api.timeout.ms: say so through poll.
        if let Some(e) = core
            .reachability
            .overdue(now, inner.cfg.client.default_api_timeout)
        {
            core.errors.push_back(e);
            inner.data.notify_one();
        }
        (fetches, lookups, committed, events, missing, next)
    };
    for plan in fetches {
        spawn_fetch(inner, plan);
    }
    for plan in lookups {
        spawn_list_offsets(inner, plan);
    }
    if !committed.is_empty() {
        spawn_offset_fetch(inner, committed);
    }
    let mut refresh: BTreeSet<String> = missing;
    for event in events {
        match event {
            FetchEvent::RefreshMetadata { tp, .. } => {
                refresh.insert(tp.topic);
            }
            event => log_event(&event, now),
        }
    }
    if !refresh.is_empty() && !inner.refreshing.swap(true, Ordering::AcqRel) {
        let weak = Arc::downgrade(inner);
        let cluster = inner.cluster.clone();
        tokio::spawn(inner.gone().unless_gone(async move {
            let topics: Vec<String> = refresh.into_iter().collect();
            let refreshed = cluster
                .refresh_after_error(TopicSelection::Topics(topics.clone()))
                .await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            match refreshed {
                Ok(md) => {
                    inner.report(Ok(()));
                    inner.warn_unknown_topics(&md, &topics);
                }
                Err(e) => {
                    inner.report(Err(&e));
                    // An authentication failure will not heal by itself: hand it to `poll`.
                    report_fatal(&inner, e);
                }
            }
            inner.refreshing.store(false, Ordering::Release);
            inner.wake.notify_one();
        }));
    }
    if let Some(due) = super::commit::auto_commit_due(inner, now) {
        return next.min(due);
    }
    next
}

/// The INFO / WARN line for a partition's leader change or fetch stall (one line each).
fn log_event(event: &FetchEvent, now: Instant) {
    match event {
        FetchEvent::RefreshMetadata { .. } => {}
        FetchEvent::LeaderChanged { tp, from, to } => tracing::info!(
            partition = %tp,
            from = from.0 .0,
            from_epoch = from.1 .0,
            to = to.0 .0,
            to_epoch = to.1 .0,
            "partition leader changed; fetching from the new leader"
        ),
        FetchEvent::Stalled { tp, stall } => tracing::warn!(
            partition = %tp,
            node = stall.node.0,
            stalled_ms = now.saturating_duration_since(stall.since).as_millis() as u64,
            "no fetch of this partition has been answered for request.timeout.ms: its leader \
             cannot be reached; retrying and refreshing metadata until a new leader is elected"
        ),
        FetchEvent::StallEnded { tp, stall } => tracing::info!(
            partition = %tp,
            node = stall.node.0,
            stalled_ms = now.saturating_duration_since(stall.since).as_millis() as u64,
            "partition is fetched again"
        ),
    }
}

/// Queues a fatal error (SASL or TLS authentication) for the next `poll`, once: the
/// background retries go on (with backoff), and `poll` keeps reporting it while they fail.
fn report_fatal(inner: &Arc<Inner>, e: Error) {
    if !e.is_fatal() {
        return;
    }
    {
        let mut core = inner.lock();
        if core.errors.is_empty() {
            core.errors.push_back(e);
        }
    }
    inner.data.notify_one();
}

/// Reports a fetch as failed if its task ends without reporting (a panic, or the runtime shutting
/// down), so the broker's in-flight slot is never left taken. Holds a `Weak`: a fetch in flight
/// never keeps a dropped consumer alive.
struct FetchGuard {
    inner: Weak<Inner>,
    broker: BrokerId,
    done: bool,
}

impl Drop for FetchGuard {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let Some(inner) = self.inner.upgrade() else {
            return; // the consumer is gone: nobody waits for this broker's slot
        };
        let e = Error::new(crate::ErrorKind::Disconnected { sent: true })
            .with_detail("fetch task ended without a result");
        inner
            .lock()
            .fetcher
            .on_fetch_error(self.broker, &e, Instant::now());
    }
}

/// Runs one fetch in its own task. The request holds only the cluster; the consumer's state is
/// upgraded to feed the answer back, and the task ends at once when the consumer is dropped.
fn spawn_fetch(inner: &Arc<Inner>, plan: super::fetch::FetchPlan) {
    let weak = Arc::downgrade(inner);
    let cluster = inner.cluster.clone();
    // The broker may hold a fetch for fetch.max.wait.ms before answering.
    let timeout = inner.cfg.client.request_timeout + plan.max_wait;
    tokio::spawn(inner.gone().unless_gone(async move {
        let broker = plan.broker;
        let mut guard = FetchGuard {
            inner: weak.clone(),
            broker,
            done: false,
        };
        let sent = Instant::now();
        let result: Result<FetchResponseData> = async {
            let conn = cluster.connection_to(broker.0, Purpose::Fetch).await?;
            let version = conn.version_for::<FetchRequest>()?;
            let resp = conn
                .send_version(&fetch::request(&plan), version, timeout)
                .await?;
            Ok(fetch::parse(resp))
        }
        .await;
        let Some(inner) = weak.upgrade() else {
            guard.done = true;
            return;
        };
        inner
            .metrics
            .fetch_latency_ms
            .record(sent.elapsed().as_secs_f64() * 1000.0);
        inner.report(result.as_ref().map(drop));
        {
            let mut core = inner.lock();
            guard.done = true;
            match result {
                Ok(data) => core.fetcher.on_fetch_response(broker, data, Instant::now()),
                Err(e) => {
                    core.fetcher.on_fetch_error(broker, &e, Instant::now());
                    if e.is_fatal() && core.errors.is_empty() {
                        core.errors.push_back(e);
                    }
                }
            }
        }
        inner.data.notify_one();
        inner.wake.notify_one();
    }));
}

/// Runs one ListOffsets in its own task (holding the state only to feed the answer back).
fn spawn_list_offsets(inner: &Arc<Inner>, plan: ListOffsetsPlan) {
    let weak = Arc::downgrade(inner);
    let cluster = inner.cluster.clone();
    let req = list_offsets::request(
        plan.partitions
            .iter()
            .map(|p| (&p.tp, p.current_leader_epoch, p.spec.to_wire())),
        plan.isolation_level,
        i32::try_from(inner.cfg.client.request_timeout.as_millis()).unwrap_or(i32::MAX),
    );
    tokio::spawn(inner.gone().unless_gone(async move {
        let result = async {
            let conn = cluster.connection_to(plan.broker.0, Purpose::Fetch).await?;
            conn.send(&req).await
        }
        .await;
        let Some(inner) = weak.upgrade() else {
            return;
        };
        inner.report(result.as_ref().map(drop));
        let now = Instant::now();
        let mut core = inner.lock();
        match result {
            Ok(resp) => {
                let mut answers = list_offsets::parse(&resp);
                for p in &plan.partitions {
                    let r = answers.remove(&p.tp).unwrap_or_else(|| {
                        Err(Error::malformed(
                            "partition missing from ListOffsets response",
                        ))
                    });
                    core.fetcher.on_list_offsets(&p.tp, p.token, r, now);
                }
            }
            Err(e) => {
                for p in &plan.partitions {
                    core.fetcher
                        .on_list_offsets(&p.tp, p.token, Err(e.clone()), now);
                }
            }
        }
        drop(core);
        inner.data.notify_one();
        inner.wake.notify_one();
    }));
}

/// Reads committed offsets from the coordinator in its own task (holding the state only to
/// feed the answer back).
fn spawn_offset_fetch(inner: &Arc<Inner>, tps: Vec<TopicPartition>) {
    let Some(coordinator) = inner.coordinator.clone() else {
        return;
    };
    let weak = Arc::downgrade(inner);
    tokio::spawn(inner.gone().unless_gone(async move {
        let result = coordinator.fetch_offsets(&tps, None).await;
        let Some(inner) = weak.upgrade() else {
            return;
        };
        inner.report(result.as_ref().map(drop));
        let now = Instant::now();
        {
            let mut core = inner.lock();
            match result {
                Ok(offsets) => {
                    for (tp, c) in offsets {
                        core.fetcher.on_committed(&tp, c);
                    }
                }
                Err(e) => core.fetcher.on_offset_fetch_failed(&tps, &e, now),
            }
        }
        inner.data.notify_one();
        inner.wake.notify_one();
    }));
}
