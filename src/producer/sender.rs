//! The producer's background task: moves batches from the accumulator through the I/O-free
//! [`ProducerState`] to the brokers, and completions back to the records' futures.
//!
//! ```text
//!  send() ─► Accumulator ──ready/drain──► ProducerState.enqueue ──next_sendable/mark_sent──►
//!        Produce request per broker (batches encoded straight into the frame) ──► connection
//!  responses ──► ProducerState.on_produce_response ──poll_event──► Complete ─► DeliveryFuture
//!                                                                ├► Retry (offered again later)
//!                                                                ├► RefreshMetadata / NeedProducerId
//!                                                                └► Fatal ─► every record fails
//! ```
//! The task owns the state machine and the batches it has taken from the accumulator; network
//! calls run in spawned tasks that report back through a channel, so the loop never waits on
//! the network while it has work to do.

use super::batch::ProducerBatch;
use super::config::{Acks, CompressionType};
use super::coordinator;
use super::delivery::{DeliveryError, Persistence, RecordMetadata};
use super::record::ProducerRecord;
use super::shared::{Completion, Shared};
use super::state::{
    BatchId, Outcome, PartitionAck, ProducerEvent, ProducerIdAndEpoch, ProducerState, SendDecision,
    Stamp, StateConfig,
};
use super::txn::{TxnAction, TxnState};
use crate::cluster::{ClusterMetadata, TopicSelection};
use crate::connection::{BrokerConnection, Purpose};
use crate::protocol::records::{
    BatchParams, Compression, HeaderRef, RecordBatchEncoder, RECORD_BATCH_OVERHEAD,
};
use crate::protocol::requests::produce::{self, ProduceRequestWriter};
use crate::protocol::requests::{add_partitions_to_txn, init_producer_id};
use crate::types::{Offset, TopicPartition};
use crate::{Error, ErrorKind, Result};
use bytes::BytesMut;
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

enum Msg {
    Produce {
        node: i32,
        /// Per-node send order: responses are handled in the order their requests were
        /// written, whatever order the spawned tasks report them in.
        seq: u64,
        sent_at: Instant,
        batches: Vec<(TopicPartition, BatchId)>,
        result: Result<Option<ProduceResponse>>,
    },
    ProducerId(Result<ProducerIdAndEpoch>),
    /// The answer to an AddPartitionsToTxn request (per partition, or the request's error).
    AddedPartitions(Result<Vec<(TopicPartition, Option<Error>)>>),
    Connected {
        node: i32,
    },
    Refreshed {
        topic: String,
    },
}

/// One batch in a request being built: its partition, id and stamp.
type Planned = (TopicPartition, BatchId, Stamp);

/// How often, at most, the loop scans every batch for an expired `delivery.timeout.ms`. The
/// scan visits every partition, so running it on every wake-up (once per response or new
/// batch) cost more than the sending itself; a deadline is still acted on within this much.
const EXPIRY_CHECK_INTERVAL: Duration = Duration::from_millis(10);

pub(super) struct Sender {
    shared: Arc<Shared>,
    state: ProducerState,
    batches: HashMap<BatchId, ProducerBatch<Completion>>,
    next_batch_id: u64,
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
    encoder: RecordBatchEncoder,
    compression: Compression,
    compression_level: Option<i32>,
    connecting: HashSet<i32>,
    refreshing: HashSet<String>,
    requests_in_flight: usize,
    fatal_seen: bool,
    /// Per node: the next request sequence number to hand out, the next one to process, and
    /// responses that arrived early.
    order: HashMap<i32, NodeOrder>,
    /// When the loop next scans for expired batches (see [`EXPIRY_CHECK_INTERVAL`]).
    next_expiry_check: Instant,
}

#[derive(Default)]
struct NodeOrder {
    next_send: u64,
    next_handle: u64,
    early: BTreeMap<u64, Msg>,
}

impl Sender {
    pub fn new(shared: Arc<Shared>) -> Result<Sender> {
        let cfg = &shared.cfg;
        let state = ProducerState::new(
            StateConfig {
                idempotence: cfg.enable_idempotence,
                acks: cfg.acks,
                max_in_flight: cfg.max_in_flight_requests_per_connection,
                delivery_timeout: cfg.delivery_timeout,
                retry_backoff: cfg.client.retry_backoff,
                retry_backoff_max: cfg.client.retry_backoff_max,
                retries: u32::try_from(cfg.retries).unwrap_or(0),
                first_batch_alone: true,
                jitter_seed: fastrand::u64(..),
            },
            std::time::Instant::now(),
        )?;
        let compression = match cfg.compression_type {
            CompressionType::None => Compression::None,
            CompressionType::Gzip => Compression::Gzip,
            CompressionType::Snappy => Compression::Snappy,
            CompressionType::Lz4 => Compression::Lz4,
            CompressionType::Zstd => Compression::Zstd,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        Ok(Sender {
            compression,
            compression_level: cfg.compression_level(),
            shared,
            state,
            batches: HashMap::new(),
            next_batch_id: 0,
            tx,
            rx,
            encoder: RecordBatchEncoder::new(),
            connecting: HashSet::new(),
            refreshing: HashSet::new(),
            requests_in_flight: 0,
            fatal_seen: false,
            order: HashMap::new(),
            next_expiry_check: Instant::now(),
        })
    }

    pub async fn run(mut self) {
        loop {
            let now = Instant::now();
            if !self.fatal_seen {
                if let Some(e) = self.shared.fatal_error() {
                    // close() timed out: fail what is left.
                    self.state.abort(e);
                }
            }
            while let Ok(m) = self.rx.try_recv() {
                self.handle(m);
            }
            if now >= self.next_expiry_check {
                self.state.on_delivery_timeout_check(now.into_std());
                self.expire_undrained(now);
                self.next_expiry_check = now + EXPIRY_CHECK_INTERVAL;
            }
            self.process_events();
            let next_add = self.drive_transaction(now);

            let md = self.shared.cluster.metadata();
            let next_ready = self.drain_accumulator(now, &md);
            self.process_events();
            self.send_ready(&md).await;

            let closing = self
                .shared
                .closing
                .load(std::sync::atomic::Ordering::Acquire);
            if closing
                && !self.shared.acc.has_undrained()
                && self.batches.is_empty()
                && self.requests_in_flight == 0
            {
                debug!("producer sender stopped");
                return;
            }
            let mut wake_at = now + Duration::from_secs(1);
            if self.shared.acc.has_undrained() {
                // Batches without a leader or connection: re-check soon (delivery timeouts,
                // metadata arriving).
                wake_at = wake_at.min(now + Duration::from_millis(100));
            }
            if let Some(t) = next_ready {
                wake_at = wake_at.min(t);
            }
            if let Some(t) = next_add {
                wake_at = wake_at.min(t);
            }
            // Only timers that can change something: a retry backoff that ended before `now`
            // was offered to send_ready already, and if its batch is still waiting something
            // else blocks it (a response will wake us), so sleeping "until" it would spin.
            if let Some(t) = self.state.next_retry_after(now.into_std()) {
                wake_at = wake_at.min(Instant::from_std(t));
            }
            if let Some(t) = self.state.next_delivery_deadline() {
                // No earlier than the next scan, so a deadline that is due between scans
                // does not make the loop spin.
                wake_at = wake_at.min(Instant::from_std(t).max(self.next_expiry_check));
            }
            tokio::select! {
                _ = self.shared.wake.notified() => {}
                m = self.rx.recv() => {
                    if let Some(m) = m {
                        self.handle(m);
                    }
                }
                _ = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    /// Takes ready batches out of the accumulator and registers them with the state machine.
    /// Returns when the next lingering batch becomes ready.
    fn drain_accumulator(&mut self, now: Instant, md: &ClusterMetadata) -> Option<Instant> {
        let leader_of = |t: &str, p: i32| md.leader(t, p).map(|(b, _)| b.node_id);
        let max_in_flight = self.shared.cfg.max_in_flight_requests_per_connection;
        let mut txn = self.shared.txn.as_ref().map(|t| t.manager());
        // Transaction version 2: the last EndTxn handed out a new epoch (or producer id). It
        // is taken under the same lock the drain below holds, and end_done stored it under
        // that lock before the application could begin the next transaction, so no batch of
        // the next transaction is drained (and stamped) under the old epoch.
        if let Some(next) = txn.as_mut().and_then(|m| m.take_next_producer()) {
            info!(
                producer_id = next.producer_id.0,
                epoch = next.epoch.0,
                "next transaction's producer epoch adopted"
            );
            self.state.adopt_producer_id(next);
        }
        // A partition takes a new batch only when the state machine has room for it, so
        // batches wait in the accumulator (where linger and memory accounting apply) rather
        // than in the state machine. Only busy partitions can be full; collecting them once
        // (borrowed) keeps the per-partition check free of allocations.
        let state = &self.state;
        let full: HashSet<(&str, i32)> = state
            .busy_partitions()
            .filter(|tp| {
                state
                    .partition(tp)
                    .is_some_and(|s| s.queued_count() > 0 || s.unacked_count() >= max_in_flight)
            })
            .map(|tp| (tp.topic.as_str(), tp.partition))
            .collect();
        // In a transaction a partition's batches wait in the accumulator until the partition
        // is in the transaction (transaction version 1: AddPartitionsToTxn answered; version
        // 2: at once, its leader adds it).
        let can_take = |t: &str, p: i32| {
            (full.is_empty() || !full.contains(&(t, p)))
                && txn
                    .as_ref()
                    .is_none_or(|m| m.is_added(&TopicPartition::new(t, p)))
        };
        let ready = self.shared.acc.ready(now, leader_of, can_take);
        let drained = self
            .shared
            .acc
            .drain(&ready.ready_nodes, now, leader_of, can_take);
        drop(txn);
        for topic in &ready.unknown_leader_topics {
            self.refresh(topic.clone());
        }
        for (_, batches) in drained {
            for b in batches {
                let id = BatchId(self.next_batch_id);
                self.next_batch_id += 1;
                let tp = TopicPartition::new(b.topic(), b.partition());
                let count = i32::try_from(b.record_count()).unwrap_or(i32::MAX);
                match self.state.enqueue(&tp, id, count, b.created().into_std()) {
                    Ok(()) => {
                        self.batches.insert(id, b);
                    }
                    Err(e) => self.fail_batch(b, e, Persistence::NotPersisted),
                }
            }
        }
        ready.next_ready
    }

    /// The sender's part of a transaction: batches still in the accumulator fail when the
    /// transaction is aborting or can no longer commit (as Java's `abortUndrainedBatches`),
    /// and pending partitions go out in one AddPartitionsToTxn request. Returns when the next
    /// add is due (a retry backoff).
    fn drive_transaction(&mut self, now: Instant) -> Option<Instant> {
        let shared = self.shared.clone();
        let txn = shared.txn.as_ref()?;
        let (abort_error, request) = {
            let mut m = txn.manager();
            let abort_error = match m.state() {
                TxnState::Aborting => Some(
                    Error::new(ErrorKind::TransactionAborted)
                        .with_detail("abort_transaction was called before the record was sent"),
                ),
                TxnState::AbortableError(e) => Some(e.clone()),
                _ => None,
            };
            let producer = txn.producer();
            let request =
                producer.and_then(|p| m.poll_add_request(now.into_std()).map(|parts| (p, parts)));
            (abort_error, request)
        };
        if let Some(e) = abort_error {
            for b in self.shared.acc.abort_all() {
                self.fail_batch(b, e.clone(), Persistence::NotPersisted);
            }
        }
        if let Some((producer, partitions)) = request {
            let shared = shared.clone();
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let r = async {
                    let conn = coordinator::coordinator_connection(&shared).await?;
                    let version = conn
                        .version_for::<kafka_protocol::messages::AddPartitionsToTxnRequest>()?
                        .min(add_partitions_to_txn::MAX_CLIENT_VERSION);
                    let req = add_partitions_to_txn::request(&producer, &partitions);
                    let timeout = shared.cfg.client.request_timeout;
                    let resp = conn.send_version(&req, version, timeout).await?;
                    Ok(add_partitions_to_txn::parse(&resp, &partitions))
                }
                .await;
                let _ = tx.send(Msg::AddedPartitions(r));
            });
        }
        let next = txn.manager().next_add_at();
        next.map(Instant::from_std)
    }

    /// Fails accumulator batches older than `delivery.timeout.ms` (never sent: NotPersisted).
    fn expire_undrained(&mut self, now: Instant) {
        let timeout = self.shared.cfg.delivery_timeout;
        for b in self.shared.acc.expired_batches(now, timeout) {
            let e = Error::new(ErrorKind::Timeout)
                .with_partition(b.topic(), b.partition())
                .with_detail(
                    "delivery.timeout.ms passed before the batch could be sent (no leader or no connection)",
                );
            self.fail_batch(b, e, Persistence::NotPersisted);
        }
    }

    fn handle(&mut self, m: Msg) {
        if let Msg::Produce { node, seq, .. } = m {
            // Responses of one connection are answered in order; keep that order here, since
            // the tasks that carry them may report in any order.
            let order = self.order.entry(node).or_default();
            if seq != order.next_handle {
                order.early.insert(seq, m);
                return;
            }
            self.handle_in_order(m);
            loop {
                let order = self.order.entry(node).or_default();
                order.next_handle += 1;
                let next = order.next_handle;
                match order.early.remove(&next) {
                    Some(m) => self.handle_in_order(m),
                    None => break,
                }
            }
            return;
        }
        self.handle_in_order(m);
    }

    fn handle_in_order(&mut self, m: Msg) {
        let now = std::time::Instant::now();
        match m {
            Msg::Produce {
                node,
                sent_at,
                batches,
                result,
                ..
            } => {
                self.requests_in_flight = self.requests_in_flight.saturating_sub(1);
                let latency = sent_at.elapsed().as_secs_f64() * 1000.0;
                self.shared.metrics.request_latency_ms.record(latency);
                match result {
                    Ok(Some(resp)) => self.on_response(node, batches, resp, now),
                    Ok(None) => {
                        for (tp, id) in batches {
                            self.state.on_produce_response(
                                &tp,
                                id,
                                Ok(PartitionAck::default()),
                                now,
                            );
                        }
                    }
                    Err(e) => {
                        for (tp, id) in batches {
                            let err = e.clone().with_partition(tp.topic.clone(), tp.partition);
                            self.state.on_produce_response(&tp, id, Err(err), now);
                        }
                    }
                }
            }
            Msg::ProducerId(r) => {
                if let Ok(id) = &r {
                    info!(
                        producer_id = id.producer_id.0,
                        epoch = id.epoch.0,
                        "producer id assigned"
                    );
                }
                self.state.on_init_producer_id(r, now);
            }
            Msg::AddedPartitions(result) => {
                if let Some(txn) = &self.shared.txn {
                    let action = txn.manager().on_add_partitions(result, now);
                    if action == Some(TxnAction::RefindCoordinator) {
                        txn.set_coordinator(None);
                    }
                }
            }
            Msg::Connected { node } => {
                self.connecting.remove(&node);
            }
            Msg::Refreshed { topic } => {
                self.refreshing.remove(&topic);
            }
        }
    }

    fn on_response(
        &mut self,
        node: i32,
        batches: Vec<(TopicPartition, BatchId)>,
        resp: ProduceResponse,
        now: std::time::Instant,
    ) {
        let parsed = produce::parse_response(&resp);
        self.shared
            .metrics
            .produce_throttle_time_ms
            .record(f64::from(parsed.throttle_time_ms));
        for (tp, id) in batches {
            let result = parsed
                .partition(&tp.topic, tp.partition)
                .map(|a| {
                    PartitionAck::from_wire(a.base_offset, a.log_append_time_ms, a.log_start_offset)
                })
                .map_err(|e| e.with_broker(node.to_string()));
            self.state.on_produce_response(&tp, id, result, now);
        }
    }

    fn process_events(&mut self) {
        while let Some(ev) = self.state.poll_event() {
            match ev {
                ProducerEvent::Complete {
                    batch_id, outcome, ..
                } => self.complete(batch_id, outcome),
                ProducerEvent::Retry {
                    partition,
                    batch_id,
                    error,
                    ..
                } => {
                    let n = self.batches.get(&batch_id).map_or(0, |b| b.record_count()) as u64;
                    self.shared.metrics.record_retry.record_n(n, n as f64);
                    self.shared
                        .metrics
                        .topic(&partition.topic, |t| t.record_retry_total += n);
                    debug!(partition = %partition, error = %error, "retrying batch");
                    self.shared.report(&error);
                }
                ProducerEvent::RefreshMetadata { topic } => self.refresh(topic),
                ProducerEvent::NeedProducerId { not_before } => {
                    self.init_producer_id(Instant::from_std(not_before))
                }
                ProducerEvent::EpochBumped { producer_id, epoch } => {
                    info!(
                        producer_id = producer_id.0,
                        epoch = epoch.0,
                        "producer epoch bumped"
                    );
                    if let Some(txn) = &self.shared.txn {
                        *txn.local_bump.lock().unwrap_or_else(|p| p.into_inner()) = Some(epoch);
                    }
                }
                ProducerEvent::Fatal(e) => {
                    warn!(error = %e, "producer failed");
                    self.fatal_seen = true;
                    self.shared
                        .fatal
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(e.clone());
                    self.shared.report(&e);
                    if let Some(txn) = &self.shared.txn {
                        txn.manager().enter_fatal(e.clone());
                    }
                    for b in self.shared.acc.abort_all() {
                        self.fail_batch(b, e.clone(), Persistence::NotPersisted);
                    }
                }
            }
        }
    }

    /// Completes every record of a batch with the state machine's outcome.
    fn complete(&mut self, id: BatchId, outcome: Outcome) {
        let Some(batch) = self.batches.remove(&id) else {
            return;
        };
        match outcome {
            Outcome::Persisted {
                base_offset,
                log_append_time_ms,
                ..
            } => self.succeed(
                batch,
                base_offset,
                log_append_time_ms,
                Persistence::Persisted,
            ),
            Outcome::Unacknowledged => {
                self.succeed(batch, None, None, Persistence::PossiblyPersisted)
            }
            Outcome::Failed { error, persistence } => self.fail_batch(batch, error, persistence),
        }
    }

    fn succeed(
        &mut self,
        batch: ProducerBatch<Completion>,
        base_offset: Option<Offset>,
        log_append_time: Option<i64>,
        persistence: Persistence,
    ) {
        let topic = batch.topic().to_owned();
        let partition = batch.partition();
        let records = batch.into_records();
        let n = records.len() as u64;
        for (i, r) in records.into_iter().enumerate() {
            let meta = RecordMetadata {
                topic: topic.clone(),
                partition,
                offset: base_offset.map_or(Offset::UNKNOWN, |o| Offset(o.0 + i as i64)),
                timestamp: log_append_time.unwrap_or(r.timestamp),
                persistence,
            };
            let _ = r.completion.send(Ok(meta));
            self.shared.record_completed();
        }
        self.shared.metrics.record_send.record_n(n, n as f64);
        self.shared
            .metrics
            .topic(&topic, |t| t.record_send_total += n);
    }

    fn fail_batch(&mut self, batch: ProducerBatch<Completion>, error: Error, p: Persistence) {
        if let Some(txn) = &self.shared.txn {
            txn.manager().on_batch_failed(&error);
        }
        let topic = batch.topic().to_owned();
        let partition = batch.partition();
        let records = batch.into_records();
        let n = records.len() as u64;
        for r in records {
            let mut record = ProducerRecord::new(topic.clone());
            record.partition = Some(partition);
            record.key = r.key;
            record.value = r.value;
            record.headers = r.headers;
            record.timestamp = Some(r.timestamp);
            let _ = r.completion.send(Err(DeliveryError {
                error: error.clone(),
                persistence: p,
                record: Box::new(record),
            }));
            self.shared.record_completed();
        }
        self.shared.metrics.record_error.record_n(n, n as f64);
        self.shared
            .metrics
            .topic(&topic, |t| t.record_error_total += n);
    }

    fn refresh(&mut self, topic: String) {
        if !self.refreshing.insert(topic.clone()) {
            return;
        }
        let cluster = self.shared.cluster.clone();
        let tx = self.tx.clone();
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let r = cluster
                .refresh_after_error(TopicSelection::Topics(vec![topic.clone()]))
                .await;
            if let Err(e) = r {
                shared.report(&e);
            }
            let _ = tx.send(Msg::Refreshed { topic });
        });
    }

    fn init_producer_id(&mut self, not_before: Instant) {
        let tx = self.tx.clone();
        if let Some(txn) = &self.shared.txn {
            // The transactional producer's id comes from init_transactions (InitProducerId with
            // the transactional id, at its coordinator): wait for it.
            let mut rx = txn.producer.subscribe();
            tokio::spawn(async move {
                let Ok(p) = rx.wait_for(Option::is_some).await.map(|p| p.clone()) else {
                    return;
                };
                if let Some(p) = p {
                    let id = ProducerIdAndEpoch {
                        producer_id: p.producer_id,
                        epoch: p.epoch,
                    };
                    let _ = tx.send(Msg::ProducerId(Ok(id)));
                }
            });
            return;
        }
        let cluster = self.shared.cluster.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(not_before).await;
            let r = async {
                let conn = cluster.any_connection(Purpose::Control).await?;
                let resp = conn.send(&init_producer_id::idempotent_request()).await?;
                let (producer_id, epoch) = init_producer_id::parse(&resp)
                    .map_err(|e| e.with_broker(conn.addr().to_string()))?;
                Ok(ProducerIdAndEpoch { producer_id, epoch })
            }
            .await;
            let _ = tx.send(Msg::ProducerId(r));
        });
    }

    /// A live produce connection to `node`, or `None` while one is being opened (the sender
    /// is woken when it is).
    fn connection(&mut self, node: i32, md: &ClusterMetadata) -> Option<BrokerConnection> {
        let broker = md.brokers.get(&node)?;
        if let Some(c) = self
            .shared
            .cluster
            .pool()
            .existing(&broker.addr, Purpose::Produce)
        {
            return Some(c);
        }
        if self.connecting.insert(node) {
            let cluster = self.shared.cluster.clone();
            let tx = self.tx.clone();
            let shared = self.shared.clone();
            let topics: Vec<String> = self
                .batches
                .values()
                .map(|b| b.topic().to_owned())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            tokio::spawn(async move {
                if let Err(e) = cluster.connection_to(node, Purpose::Produce).await {
                    // The broker may be gone for good: the leaders may have moved.
                    shared.report(&e);
                    let _ = cluster
                        .refresh_after_error(TopicSelection::Topics(topics))
                        .await;
                }
                let _ = tx.send(Msg::Connected { node });
            });
        }
        None
    }

    /// Plans and sends one or more Produce requests per broker for every batch the state
    /// machine offers.
    async fn send_ready(&mut self, md: &ClusterMetadata) {
        let now = std::time::Instant::now();
        let max_request = self.shared.cfg.max_request_size;
        let busy: Vec<TopicPartition> = self.state.busy_partitions().cloned().collect();
        // node -> requests, each a list of batches with at most one per partition.
        let mut plan: BTreeMap<i32, Vec<(usize, Vec<Planned>)>> = BTreeMap::new();
        let mut conns: HashMap<i32, BrokerConnection> = HashMap::new();
        for tp in busy {
            let Some(node) = md.leader(&tp.topic, tp.partition).map(|(b, _)| b.node_id) else {
                self.refresh(tp.topic.clone());
                continue;
            };
            if let std::collections::hash_map::Entry::Vacant(slot) = conns.entry(node) {
                match self.connection(node, md) {
                    Some(c) => {
                        slot.insert(c);
                    }
                    None => continue,
                }
            }
            while let SendDecision::Send { batch_id, .. } = self.state.next_sendable(&tp, now) {
                let stamp = match self.state.mark_sent(&tp, batch_id, now) {
                    Ok(s) => s,
                    Err(e) => {
                        warn!(error = %e, "state machine refused its own offer");
                        break;
                    }
                };
                let size = self
                    .batches
                    .get(&batch_id)
                    .map_or(0, |b| b.estimated_size());
                let requests = plan.entry(node).or_default();
                let slot = requests.iter_mut().find(|(bytes, batches)| {
                    !batches.iter().any(|(t, _, _)| *t == tp)
                        && (batches.is_empty() || bytes + size <= max_request)
                });
                match slot {
                    Some((bytes, batches)) => {
                        *bytes += size;
                        batches.push((tp.clone(), batch_id, stamp));
                    }
                    None => requests.push((size, vec![(tp.clone(), batch_id, stamp)])),
                }
            }
        }
        for (node, requests) in plan {
            let Some(conn) = conns.get(&node).cloned() else {
                continue;
            };
            for (_, batches) in requests {
                self.send_request(node, &conn, batches).await;
            }
        }
    }

    async fn send_request(&mut self, node: i32, conn: &BrokerConnection, planned: Vec<Planned>) {
        let now = std::time::Instant::now();
        let ids: Vec<(TopicPartition, BatchId)> = planned
            .iter()
            .map(|(tp, id, _)| (tp.clone(), *id))
            .collect();
        let encoded = self.encode_request(conn, &planned);
        let (frame, correlation_id, version) = match encoded {
            Ok(v) => v,
            Err(e) => {
                // Never written: the batches fail (or retry) as "not sent".
                for (tp, id) in ids {
                    self.state.on_produce_response(&tp, id, Err(e.clone()), now);
                }
                return;
            }
        };
        let records: usize = planned
            .iter()
            .filter_map(|(_, id, _)| self.batches.get(id))
            .map(|b| b.record_count())
            .sum();
        self.shared
            .metrics
            .records_per_request
            .record(records as f64);
        self.shared.metrics.byte_rate.record(frame.len() as f64);
        self.requests_in_flight += 1;
        let acks = self.shared.cfg.acks;
        let timeout = self.shared.cfg.client.request_timeout;
        let order = self.order.entry(node).or_default();
        let seq = order.next_send;
        order.next_send += 1;
        let sent_at = Instant::now();
        // Queue the request here, in the sender's own order, and only wait for its response in
        // a separate task: requests queued from separate tasks could reach the socket out of
        // order, and a partition's batches must be written in sequence order.
        let queued = conn
            .enqueue_encoded::<ProduceRequest>(
                frame.freeze(),
                correlation_id,
                version,
                timeout,
                acks != Acks::None,
            )
            .await;
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let result = match queued {
                Ok(pending) => pending.wait().await,
                Err(e) => Err(e),
            };
            let _ = tx.send(Msg::Produce {
                node,
                seq,
                sent_at,
                batches: ids,
                result,
            });
        });
    }

    /// Encodes one Produce request, writing each batch straight into the frame.
    fn encode_request(
        &mut self,
        conn: &BrokerConnection,
        planned: &[Planned],
    ) -> Result<(BytesMut, i32, i16)> {
        let mut version = conn.version_for::<ProduceRequest>()?;
        let transactional_id = self.shared.cfg.transactional_id.as_deref();
        if let Some(txn) = &self.shared.txn {
            // Produce v12 makes the leader add the partition to the transaction (transaction
            // version 2); under version 1 the coordinator was told by AddPartitionsToTxn and
            // v11 is the most the dialect allows. The dialect changes only between
            // transactions, when none of these batches is left.
            version = version.min(txn.manager().transaction_version().max_produce_version());
        }
        let correlation_id = conn.next_correlation_id();
        let size: usize = planned
            .iter()
            .filter_map(|(_, id, _)| self.batches.get(id))
            .map(|b| b.estimated_size() + 16)
            .sum();
        let mut buf = BytesMut::with_capacity(size + 128);
        // Group by topic, keeping the planned order within each topic.
        let mut topics: BTreeMap<&str, Vec<&Planned>> = BTreeMap::new();
        for p in planned {
            topics.entry(p.0.topic.as_str()).or_default().push(p);
        }
        let timeout_ms =
            i32::try_from(self.shared.cfg.client.request_timeout.as_millis()).unwrap_or(i32::MAX);
        let mut w = ProduceRequestWriter::begin(
            &mut buf,
            version,
            correlation_id,
            conn.client_id(),
            transactional_id,
            self.shared.cfg.acks.as_i16(),
            timeout_ms,
            topics.len() as u32,
        )?;
        for (topic, parts) in &topics {
            w.topic(topic, parts.len() as u32)?;
            for (tp, id, stamp) in parts.iter().copied() {
                let batch = self.batches.get(id).ok_or_else(|| {
                    Error::new(ErrorKind::InvalidArgument).with_detail("planned batch vanished")
                })?;
                let params = BatchParams {
                    producer_id: stamp.producer_id.0,
                    producer_epoch: stamp.producer_epoch.0,
                    base_sequence: stamp.base_sequence.0,
                    transactional: self.shared.txn.is_some(),
                    compression: self.compression,
                    compression_level: self.compression_level,
                    ..BatchParams::default()
                };
                let encoder = &mut self.encoder;
                let metrics = &self.shared.metrics;
                w.partition(tp.partition, |out| {
                    let mut writer = encoder.start(out, params)?;
                    let mut headers: Vec<HeaderRef<'_>> = Vec::new();
                    for r in batch.records() {
                        headers.clear();
                        headers.extend(r.headers.iter().map(|h| (&h.key[..], h.value.as_deref())));
                        writer.append_next(
                            r.timestamp,
                            r.key.as_deref(),
                            r.value.as_deref(),
                            &headers,
                        )?;
                    }
                    let info = writer.finish()?;
                    metrics.batch_size.record(info.size_in_bytes as f64);
                    if info.uncompressed_records_size > 0 {
                        let compressed =
                            info.size_in_bytes.saturating_sub(RECORD_BATCH_OVERHEAD) as f64;
                        metrics
                            .compression_rate
                            .record(compressed / info.uncompressed_records_size as f64);
                    }
                    Ok(())
                })?;
            }
        }
        w.finish()?;
        Ok((buf, correlation_id, version))
    }
}
