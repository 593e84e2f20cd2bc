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
//!
//! # The loop's contract with the state machine
//!
//! As in quinn-proto, the state machine is driven through two kinds of calls: *handle*
//! calls feed it what happened (`enqueue`, `on_produce_response`, `on_init_producer_id`,
//! `on_delivery_timeout_check`, `abort`), *poll* calls take out what it decided
//! (`poll_event`, `next_sendable`, and the timers `next_retry_after` and
//! `next_delivery_deadline`). The task is the only caller, and one pass of [`Sender::run`]
//! keeps this order:
//!
//! 1. handle every message already in the channel ([`Sender::handle`]): Produce answers in
//!    the order their requests were written to each connection, producer ids, added
//!    partitions, finished connects and metadata refreshes;
//! 2. at most every [`EXPIRY_CHECK_INTERVAL`], handle the delivery timeouts (state machine
//!    and accumulator);
//! 3. poll the events ([`Sender::process_events`]): completions, retries, refreshes, producer
//!    id requests, epoch bumps, fatal errors;
//! 4. drive the transaction (`txn.rs`): fail undrained batches of an aborting transaction,
//!    send AddPartitionsToTxn;
//! 5. drain the accumulator into the state machine (`plan.rs`), then poll the events again;
//! 6. poll `next_sendable` per partition and write the Produce requests (`plan.rs`);
//! 7. stop once closing with nothing left, else sleep until a wake-up, a message, or the
//!    earliest timer the state machine, the accumulator and the transaction report.
//!
//! Events a handle call queues are polled before the loop sleeps, except those queued while
//! writing requests (step 6, a request that could not be encoded), which wait for the next
//! wake-up.
//!
//! The files: this one holds the loop and the handling of messages and events, `plan.rs`
//! takes batches from the accumulator and plans and encodes requests, `complete.rs` maps
//! answers and outcomes onto batches and completes their records, `txn.rs` is the
//! transaction's part, and `tasks.rs` starts the background tasks (metadata refresh,
//! producer id, connections) whose results come back as messages.

mod complete;
mod plan;
mod tasks;
mod txn;

use super::batch::ProducerBatch;
use super::delivery::Persistence;
use super::shared::{Completion, Shared};
use super::state::{
    BatchId, PartitionAck, ProducerEvent, ProducerIdAndEpoch, ProducerState, StateConfig,
};
use crate::protocol::records::{Compression, RecordBatchEncoder};
use crate::types::TopicPartition;
use crate::{Error, Result};
use kafka_protocol::messages::ProduceResponse;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// What the tasks the loop spawned report back to it.
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

/// How often, at most, the loop scans every batch for an expired `delivery.timeout.ms`. The
/// scan visits every partition, so running it on every wake-up (once per response or new
/// batch) cost more than the sending itself; a deadline is still acted on within this much.
const EXPIRY_CHECK_INTERVAL: Duration = Duration::from_millis(10);

/// The send loop: the state machine, the batches it has taken from the accumulator (by id),
/// and the bookkeeping of the tasks it spawned.
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
    pub(super) fn new(shared: Arc<Shared>) -> Result<Sender> {
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
        let compression = cfg.compression_type;
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

    pub(super) async fn run(mut self) {
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

    /// Handles one message, holding back a Produce answer until those written before it on
    /// the same connection are handled.
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

    /// Applies one message, in order: Produce answers go to the state machine batch by batch.
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
            Msg::AddedPartitions(result) => self.on_added_partitions(result, now),
            Msg::Connected { node } => {
                self.connecting.remove(&node);
            }
            Msg::Refreshed { topic } => {
                self.refreshing.remove(&topic);
            }
        }
    }

    /// Polls the state machine's events until none is left and acts on each.
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
                    self.note_local_bump(epoch);
                }
                ProducerEvent::Fatal(e) => {
                    warn!(error = %e, "producer failed");
                    self.fatal_seen = true;
                    self.shared.set_fatal(&e);
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
}
