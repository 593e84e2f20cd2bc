//! The record accumulator: per-partition queues of batches waiting to be sent.
//!
//! `send` appends a record to the open batch of its partition; the sender asks which brokers have
//! something [`ready`](Accumulator::ready) and [`drain`](Accumulator::drain)s one Produce request's
//! worth of batches per broker. Records are kept as their `Bytes` plus metadata: encoding happens
//! later, straight into the Produce request buffer. What this module tracks is each batch's exact
//! encoded size (uncompressed), so batches close at `batch.size`.
//!
//! ```text
//!  append ──► [partition queue: batch, batch, open batch] ──ready/drain──► sender (Produce)
//!  buffer.memory: append reserves the record's estimated size; dropping the batch (or
//!  ProducerBatch::into_records) releases it.
//! ```
//!
//! Everything is synchronous and takes `now` as a parameter, except [`Accumulator::append`],
//! which waits up to `max.block.ms` for `buffer.memory` room. The state sits behind one
//! `std::sync::Mutex`, never held across an `.await`; the memory budget is a
//! [`tokio::sync::Semaphore`] (fair: a large record waiting for room is not overtaken by small
//! ones, as in Java's `BufferPool`).
//!
//! Differences from the Java client, on purpose:
//! - `buffer.memory` counts each record's estimated encoded size instead of whole `batch.size`
//!   buffers, so many small partitions do not exhaust it; batch headers (61 bytes each) are not
//!   counted.
//! - With compression, batches close on the *uncompressed* size; Java estimates the compression
//!   ratio and packs more. Batches are therefore never larger than `batch.size` before
//!   compression, and often smaller than Java's after it.

use super::batch::{BatchRecord, ProducerBatch, Reservation};
use super::config::ProducerConfig;
use super::partitioner::{partition_for_key, Partitioner, PartitionsInfo, StickyPartitioner};
use super::record::{record_size, ProducerRecord, RECORD_BATCH_OVERHEAD};
use crate::{Error, ErrorKind};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit, TryAcquireError};
use tokio::time::Instant;

// UNKNOWN_TOPIC_OR_PARTITION: for a topic with no partitions in the metadata given. A record
// over the client's limits is `ErrorKind::RecordTooLarge`, not the broker's MESSAGE_TOO_LARGE.
use crate::error::code::UNKNOWN_TOPIC_OR_PARTITION;
/// Emptied record vectors kept for reuse by new batches.
const MAX_RECYCLED_VECS: usize = 16;

/// The settings the accumulator uses (a subset of [`ProducerConfig`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AccumulatorConfig {
    /// `batch.size`.
    pub batch_size: usize,
    /// `linger.ms`.
    pub linger: Duration,
    /// `buffer.memory`.
    pub buffer_memory: usize,
    /// `max.block.ms`.
    pub max_block: Duration,
    /// `max.request.size`.
    pub max_request_size: usize,
    /// The user partitioner, if any.
    pub partitioner: Option<Arc<dyn Partitioner>>,
    /// `partitioner.ignore.keys`.
    pub ignore_keys: bool,
    /// `partitioner.adaptive.partitioning.enable`.
    pub adaptive: bool,
}

impl From<&ProducerConfig> for AccumulatorConfig {
    fn from(c: &ProducerConfig) -> Self {
        AccumulatorConfig {
            batch_size: c.batch_size,
            linger: c.linger,
            buffer_memory: c.buffer_memory,
            max_block: c.max_block,
            max_request_size: c.max_request_size,
            partitioner: c.partitioner.clone(),
            ignore_keys: c.partitioner_ignore_keys,
            adaptive: c.partitioner_adaptive,
        }
    }
}

/// What [`Accumulator::append`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Appended {
    /// The partition the record went to.
    pub partition: i32,
    /// Whether a new batch was opened for it.
    pub new_batch: bool,
    /// Whether its batch is now full (the sender can be woken: a batch is ready).
    pub batch_full: bool,
}

/// What [`Accumulator::append_if_room`] did.
#[derive(Debug)]
pub enum AppendNow<T> {
    /// Appended, or refused for good.
    Done(Result<Appended, Box<Rejected<T>>>),
    /// No room in `buffer.memory` now: nothing changed; the record and its completion back.
    NoRoom(ProducerRecord, T),
}

/// A record the accumulator refused, handed back with its completion handle so the caller can
/// report the failure.
#[derive(Debug)]
#[non_exhaustive]
pub struct Rejected<T> {
    /// Why.
    pub error: Error,
    /// The record.
    pub record: ProducerRecord,
    /// The caller's completion handle.
    pub completion: T,
}

/// The result of [`Accumulator::ready`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadyCheck {
    /// Brokers with at least one sendable batch.
    pub ready_nodes: BTreeSet<i32>,
    /// The earliest time a batch that is not ready yet becomes ready (its linger ends); `None`
    /// when nothing is waiting.
    pub next_ready: Option<Instant>,
    /// Topics with queued batches for a partition without a known leader: refresh metadata.
    pub unknown_leader_topics: BTreeSet<String>,
}

struct TopicQueues<T> {
    name: Arc<str>,
    partitions: BTreeMap<i32, VecDeque<ProducerBatch<T>>>,
    sticky: StickyPartitioner,
}

struct Inner<T> {
    topics: BTreeMap<Arc<str>, TopicQueues<T>>,
    flushes_in_progress: usize,
    closed: bool,
    recycled: Vec<Vec<BatchRecord<T>>>,
    drain_index: HashMap<i32, usize>,
}

/// Per-partition batch queues with `buffer.memory` accounting. `T` is what the caller attaches to
/// each record to complete it later (a oneshot sender, a callback, an index).
pub struct Accumulator<T> {
    cfg: AccumulatorConfig,
    memory: Arc<Semaphore>,
    waiters: AtomicUsize,
    inner: Mutex<Inner<T>>,
}

impl<T> fmt::Debug for Accumulator<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accumulator")
            .field("cfg", &self.cfg)
            .field("available_memory", &self.available_memory())
            .finish_non_exhaustive()
    }
}

/// How the partition of a record was decided.
enum Route {
    Fixed(i32),
    Sticky,
}

/// Decrements the waiter count when an `append` stops waiting, also when it is cancelled.
struct WaitGuard<'a>(&'a AtomicUsize);

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<T> Accumulator<T> {
    /// An empty accumulator.
    pub fn new(cfg: AccumulatorConfig) -> Accumulator<T> {
        let permits = cfg.buffer_memory.min(Semaphore::MAX_PERMITS);
        Accumulator {
            memory: Arc::new(Semaphore::new(permits)),
            waiters: AtomicUsize::new(0),
            inner: Mutex::new(Inner {
                topics: BTreeMap::new(),
                flushes_in_progress: 0,
                closed: false,
                recycled: Vec::new(),
                drain_index: HashMap::new(),
            }),
            cfg,
        }
    }

    /// The settings.
    pub fn config(&self) -> &AccumulatorConfig {
        &self.cfg
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // A panic elsewhere while holding the lock leaves consistent-enough queues (every
        // mutation is a single push or pop); keep going rather than cascade the panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes of `buffer.memory` not reserved (Java's `buffer-available-bytes` metric).
    pub fn available_memory(&self) -> usize {
        self.memory.available_permits()
    }

    /// Appends a record, waiting up to `max.block.ms` for `buffer.memory` room.
    ///
    /// The partition is the record's own, or the user partitioner's, or murmur2 of the key, or
    /// the topic's sticky partition (see [`partitioner`](super::partitioner)). A record with no
    /// timestamp is stamped with the current wall-clock time.
    ///
    /// Fails at once, without waiting, when the record (plus the 61-byte batch header) is larger
    /// than `max.request.size` or `buffer.memory` (MESSAGE_TOO_LARGE, application-recoverable),
    /// when its partition does not exist (`InvalidArgument`), or when the accumulator is closed.
    /// Fails with [`ErrorKind::Timeout`] naming `max.block.ms` when no room appears in time.
    ///
    /// # Cancel safety
    /// Cancel safe: if the future is dropped while waiting for room, nothing was appended and no
    /// memory stays reserved; the record and its completion handle are dropped with the future.
    pub async fn append(
        &self,
        record: ProducerRecord,
        completion: T,
        partitions: &PartitionsInfo,
    ) -> Result<Appended, Box<Rejected<T>>> {
        let (record, completion) = match self.append_if_room(record, completion, partitions) {
            AppendNow::Done(result) => return result,
            AppendNow::NoRoom(record, completion) => (record, completion),
        };
        // Admitted just above; the size again, for the wait.
        let n = match self.admit(&record) {
            Ok(n) => n,
            Err(error) => return reject(error, record, completion),
        };
        self.waiters.fetch_add(1, Ordering::AcqRel);
        let _guard = WaitGuard(&self.waiters);
        let wait = self.memory.acquire_many(n);
        let permit = match tokio::time::timeout(self.cfg.max_block, wait).await {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return reject(closed(), record, completion),
            Err(_) => {
                let e = self.no_room(&record, n, true);
                return reject(e, record, completion);
            }
        };
        // The clock is read only if the record opens a batch (linger counts from then).
        self.append_reserved(record, completion, permit, partitions, None)
    }

    /// Like [`append`](Self::append) when `buffer.memory` has room now: appends without an
    /// `.await` (the producer's fast path, which keeps its `send` future small). Without room,
    /// hands the record and its completion back untouched (`Err`), for `append` to wait.
    pub fn append_if_room(
        &self,
        record: ProducerRecord,
        completion: T,
        partitions: &PartitionsInfo,
    ) -> AppendNow<T> {
        let n = match self.admit(&record) {
            Ok(n) => n,
            Err(error) => return AppendNow::Done(reject(error, record, completion)),
        };
        match self.memory.try_acquire_many(n) {
            Ok(p) => AppendNow::Done(self.append_reserved(record, completion, p, partitions, None)),
            Err(TryAcquireError::Closed) => AppendNow::Done(reject(closed(), record, completion)),
            Err(TryAcquireError::NoPermits) => AppendNow::NoRoom(record, completion),
        }
    }

    /// Like [`append`](Self::append) but never waits: without room in `buffer.memory` it fails
    /// at once with [`ErrorKind::Timeout`]. `now` is the append time (linger counts from it).
    pub fn try_append(
        &self,
        record: ProducerRecord,
        completion: T,
        partitions: &PartitionsInfo,
        now: Instant,
    ) -> Result<Appended, Box<Rejected<T>>> {
        let n = match self.admit(&record) {
            Ok(n) => n,
            Err(error) => return reject(error, record, completion),
        };
        match self.memory.try_acquire_many(n) {
            Ok(p) => self.append_reserved(record, completion, p, partitions, Some(now)),
            Err(TryAcquireError::Closed) => reject(closed(), record, completion),
            Err(TryAcquireError::NoPermits) => {
                let e = self.no_room(&record, n, false);
                reject(e, record, completion)
            }
        }
    }

    /// Checks the record's size against the limits; returns the bytes to reserve.
    /// No lock: a closed accumulator's semaphore is closed too, which the reservation that
    /// follows sees.
    fn admit(&self, record: &ProducerRecord) -> crate::Result<u32> {
        let size = record.estimated_size();
        let with_header = size.saturating_add(RECORD_BATCH_OVERHEAD);
        for (key, limit) in [
            ("max.request.size", self.cfg.max_request_size),
            ("buffer.memory", self.cfg.buffer_memory),
        ] {
            if with_header > limit {
                return Err(Error::new(ErrorKind::RecordTooLarge {
                    size: with_header,
                    limit_key: key,
                    limit,
                })
                .with_topic(record.topic.as_str()));
            }
        }
        // At most max.request.size, which the config bounds by i32::MAX; a hand-built
        // AccumulatorConfig could exceed u32, hence the check.
        u32::try_from(size).map_err(|_| {
            Error::new(ErrorKind::RecordTooLarge {
                size,
                limit_key: "max.request.size",
                limit: u32::MAX as usize,
            })
            .with_topic(record.topic.as_str())
        })
    }

    fn no_room(&self, record: &ProducerRecord, n: u32, waited: bool) -> Error {
        let detail = if waited {
            format!(
                "no room for {n} bytes in buffer.memory ({} bytes) within max.block.ms ({} ms)",
                self.cfg.buffer_memory,
                self.cfg.max_block.as_millis()
            )
        } else {
            format!(
                "no room for {n} bytes in buffer.memory ({} bytes); try_append does not wait \
                 (append waits up to max.block.ms)",
                self.cfg.buffer_memory
            )
        };
        Error::new(ErrorKind::Timeout)
            .with_topic(record.topic.as_str())
            .with_detail(detail)
    }

    /// Chooses the partition by everything but the sticky logic, outside the lock (the user
    /// partitioner is foreign code).
    fn route(&self, record: &ProducerRecord, partitions: &PartitionsInfo) -> crate::Result<Route> {
        let n = partitions.num_partitions();
        if n == 0 {
            return Err(Error::from_broker_code(UNKNOWN_TOPIC_OR_PARTITION)
                .with_topic(record.topic.as_str())
                .with_detail("the metadata given lists no partitions for the topic"));
        }
        let chosen = match record.partition {
            Some(p) => Some((p, "the record")),
            None => self
                .cfg
                .partitioner
                .as_ref()
                .and_then(|u| {
                    u.partition(
                        &record.topic,
                        record.key.as_deref(),
                        record.value.as_deref(),
                        partitions,
                    )
                })
                .map(|p| (p, "the partitioner")),
        };
        if let Some((p, who)) = chosen {
            if !partitions.contains(p) {
                return Err(Error::new(ErrorKind::InvalidArgument)
                    .with_partition(record.topic.as_str(), p)
                    .with_detail(format!("partition {p} given by {who} is not in 0..{n}")));
            }
            return Ok(Route::Fixed(p));
        }
        match &record.key {
            Some(key) if !self.cfg.ignore_keys => Ok(Route::Fixed(partition_for_key(key, n))),
            _ => Ok(Route::Sticky),
        }
    }

    fn append_reserved(
        &self,
        record: ProducerRecord,
        completion: T,
        permit: SemaphorePermit<'_>,
        partitions: &PartitionsInfo,
        now: Option<Instant>,
    ) -> Result<Appended, Box<Rejected<T>>> {
        let route = match self.route(&record, partitions) {
            Ok(r) => r,
            Err(e) => return reject(e, record, completion),
        };
        let mut guard = self.lock();
        let inner = &mut *guard;
        if inner.closed {
            return reject(closed(), record, completion);
        }
        // One lookup per record for a known topic (the entry API would need an owned key).
        let topic = match inner.topics.get_mut(record.topic.as_str()) {
            Some(t) => t,
            None => {
                let name: Arc<str> = Arc::from(record.topic.as_str());
                inner.topics.entry(name.clone()).or_insert(TopicQueues {
                    name,
                    partitions: BTreeMap::new(),
                    sticky: StickyPartitioner::new(),
                })
            }
        };
        let adaptive = self.cfg.adaptive;
        let (partition, sticky) = match route {
            Route::Fixed(p) => (p, false),
            Route::Sticky => {
                let queues = &topic.partitions;
                let queue_len = |p: i32| {
                    if adaptive {
                        queues.get(&p).map_or(0, VecDeque::len)
                    } else {
                        0
                    }
                };
                match topic.sticky.partition(partitions, queue_len) {
                    Some(p) => (p, true),
                    // Unreachable: route() rejected a topic without partitions.
                    None => (0, false),
                }
            }
        };
        // Borrowed; cloned (a reference count) only when a batch opens.
        let name = &topic.name;
        let queue = topic.partitions.entry(partition).or_default();
        let timestamp = record.timestamp.unwrap_or_else(wall_clock_ms);
        let ProducerRecord {
            key,
            value,
            headers,
            ..
        } = record;

        let batch_size = self.cfg.batch_size;
        let rec = BatchRecord {
            key,
            value,
            headers,
            timestamp,
            completion,
        };
        // The exact size the record takes at the end of `b`, if it fits there.
        let fits = |b: &ProducerBatch<T>| {
            let delta = timestamp.wrapping_sub(b.base_timestamp);
            let offset_delta = i32::try_from(b.records.len()).unwrap_or(i32::MAX);
            let size = record_size(
                rec.key.as_ref(),
                rec.value.as_ref(),
                &rec.headers,
                delta,
                offset_delta,
            );
            (!b.full && b.size.saturating_add(size) <= batch_size).then_some(size)
        };
        let fit = match queue.back_mut() {
            Some(b) => {
                let fit = fits(b);
                if fit.is_none() {
                    b.full = true;
                }
                fit
            }
            None => None,
        };
        let new_batch = fit.is_none();
        // The first record of a batch always goes in, however large (deltas 0).
        let first_size = || record_size(rec.key.as_ref(), rec.value.as_ref(), &rec.headers, 0, 0);
        if new_batch {
            let mut records = inner.recycled.pop().unwrap_or_default();
            // Sized once for the batch instead of doubling from 4 as it fills (~7 reallocations
            // and twice the bytes for 16 KiB of 100-byte records).
            records.reserve_exact(initial_capacity::<T>(batch_size, first_size()));
            queue.push_back(ProducerBatch {
                topic: name.clone(),
                partition,
                records,
                base_timestamp: timestamp,
                max_timestamp: timestamp,
                size: RECORD_BATCH_OVERHEAD,
                full: false,
                created: now.unwrap_or_else(Instant::now),
                memory: Reservation::new(self.memory.clone()),
            });
        }
        let size = fit.unwrap_or_else(first_size);
        let Some(batch) = queue.back_mut() else {
            // Unreachable: the queue has the batch that fit or the one pushed just above.
            return reject(closed(), ProducerRecord::new(String::new()), rec.completion);
        };
        batch.size = batch.size.saturating_add(size);
        batch.max_timestamp = batch.max_timestamp.max(timestamp);
        batch.records.push(rec);
        batch.memory.absorb(permit);
        if batch.size >= batch_size {
            batch.full = true;
        }
        let batch_full = batch.full;
        if sticky {
            topic
                .sticky
                .on_append(partition, size, batch_size, batch_full);
        }
        Ok(Appended {
            partition,
            new_batch,
            batch_full,
        })
    }

    /// Which brokers have a sendable batch at `now`.
    ///
    /// A partition's head batch is sendable when it is full (or another batch queues behind it),
    /// its `linger.ms` has passed, a flush is in progress, the accumulator is closing, or an
    /// `append` is waiting for memory (sending frees it) — and `can_send(topic, partition)`
    /// (e.g. the partition is not muted for ordering). Retries are the producer state machine's
    /// (`producer::state`): a batch never comes back to the accumulator.
    /// `leader_of` maps a partition to its leader's node id.
    pub fn ready(
        &self,
        now: Instant,
        leader_of: impl Fn(&str, i32) -> Option<i32>,
        can_send: impl Fn(&str, i32) -> bool,
    ) -> ReadyCheck {
        let inner = self.lock();
        let hurry = inner.closed
            || inner.flushes_in_progress > 0
            || self.waiters.load(Ordering::Acquire) > 0;
        let mut out = ReadyCheck::default();
        for (name, topic) in &inner.topics {
            for (&p, queue) in &topic.partitions {
                let Some(head) = queue.front() else { continue };
                let Some(leader) = leader_of(name, p) else {
                    out.unknown_leader_topics.insert(name.to_string());
                    continue;
                };
                if out.ready_nodes.contains(&leader) || !can_send(name, p) {
                    continue;
                }
                // `None`: a linger so long that the deadline is not representable (never).
                let ready_at = head.created.checked_add(self.cfg.linger);
                let full = head.full || queue.len() > 1;
                let lingered = ready_at.is_some_and(|at| now >= at);
                if full || hurry || lingered {
                    out.ready_nodes.insert(leader);
                } else if let Some(at) = ready_at {
                    out.next_ready = Some(out.next_ready.map_or(at, |t| t.min(at)));
                }
            }
        }
        out
    }

    /// Takes, for each broker in `nodes`, the head batches of the partitions it leads, up to
    /// `max.request.size` bytes per broker (a single larger batch still goes alone): one Produce
    /// request each. At most one batch per partition, skipping partitions for which `can_send`
    /// says no. Partitions are visited round-robin across calls so one
    /// busy partition cannot starve the others. As in Java, any head batch of a ready broker is
    /// taken, lingering or not: the request is going anyway.
    pub fn drain(
        &self,
        nodes: &BTreeSet<i32>,
        // Unused since batches no longer back off here (retries are the state machine's); kept
        // so `drain` keeps the same signature as `ready`.
        _now: Instant,
        leader_of: impl Fn(&str, i32) -> Option<i32>,
        mut can_send: impl FnMut(&str, i32) -> bool,
    ) -> BTreeMap<i32, Vec<ProducerBatch<T>>> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let mut by_node: BTreeMap<i32, Vec<(Arc<str>, i32)>> = BTreeMap::new();
        for (name, topic) in &inner.topics {
            for (&p, queue) in &topic.partitions {
                if queue.is_empty() {
                    continue;
                }
                if let Some(node) = leader_of(name, p).filter(|n| nodes.contains(n)) {
                    by_node.entry(node).or_default().push((name.clone(), p));
                }
            }
        }
        let mut out = BTreeMap::new();
        for (node, parts) in by_node {
            let start = inner.drain_index.get(&node).copied().unwrap_or(0) % parts.len();
            let mut size = 0usize;
            let mut batches = Vec::new();
            let mut visited = 0;
            for i in 0..parts.len() {
                let Some((name, p)) = parts.get((start + i) % parts.len()) else {
                    break;
                };
                let Some(queue) = inner
                    .topics
                    .get_mut(&**name)
                    .and_then(|t| t.partitions.get_mut(p))
                else {
                    continue;
                };
                let Some(head) = queue.front() else { continue };
                if !can_send(name, *p) {
                    visited += 1;
                    continue;
                }
                if size.saturating_add(head.size) > self.cfg.max_request_size && !batches.is_empty()
                {
                    break;
                }
                visited += 1;
                if let Some(mut b) = queue.pop_front() {
                    b.full = true;
                    size += b.size;
                    batches.push(b);
                }
            }
            inner
                .drain_index
                .insert(node, (start + visited) % parts.len());
            if !batches.is_empty() {
                out.insert(node, batches);
            }
        }
        out
    }

    /// Removes and returns the queued batches older than `delivery_timeout` (created at least
    /// that long before `now`); the caller fails their records. Batches already drained are the
    /// caller's to expire.
    pub fn expired_batches(
        &self,
        now: Instant,
        delivery_timeout: Duration,
    ) -> Vec<ProducerBatch<T>> {
        let mut inner = self.lock();
        let mut out = Vec::new();
        for topic in inner.topics.values_mut() {
            for queue in topic.partitions.values_mut() {
                while queue
                    .front()
                    .and_then(|b| b.created.checked_add(delivery_timeout))
                    .is_some_and(|deadline| now >= deadline)
                {
                    out.extend(queue.pop_front());
                }
            }
        }
        out
    }

    /// Starts a flush: every queued batch is ready until [`end_flush`](Self::end_flush). Flushes
    /// nest (a counter).
    pub fn begin_flush(&self) {
        self.lock().flushes_in_progress += 1;
    }

    /// Ends a flush started with [`begin_flush`](Self::begin_flush).
    pub fn end_flush(&self) {
        let mut inner = self.lock();
        inner.flushes_in_progress = inner.flushes_in_progress.saturating_sub(1);
    }

    /// Whether a flush is in progress.
    pub fn flush_in_progress(&self) -> bool {
        self.lock().flushes_in_progress > 0
    }

    /// Closes the accumulator: further appends fail with [`ErrorKind::Closed`] (also those
    /// waiting for memory), and every queued batch is ready so the sender can finish them.
    pub fn close(&self) {
        self.lock().closed = true;
        self.memory.close();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Whether any batch is still queued.
    pub fn has_undrained(&self) -> bool {
        self.lock()
            .topics
            .values()
            .any(|t| t.partitions.values().any(|q| !q.is_empty()))
    }

    /// Removes and returns every queued batch (a forced close); the caller fails their records.
    pub fn abort_all(&self) -> Vec<ProducerBatch<T>> {
        let mut inner = self.lock();
        let mut out = Vec::new();
        for topic in inner.topics.values_mut() {
            for queue in topic.partitions.values_mut() {
                out.extend(queue.drain(..));
            }
        }
        out
    }

    /// Hands back a vector from [`ProducerBatch::into_records`] (emptied or not: it is cleared)
    /// so a later batch reuses its capacity instead of allocating.
    pub fn recycle(&self, mut records: Vec<BatchRecord<T>>) {
        records.clear();
        let mut inner = self.lock();
        if inner.recycled.len() < MAX_RECYCLED_VECS && records.capacity() > 0 {
            inner.recycled.push(records);
        }
    }
}

/// Record slots to reserve in a new batch: as many records the size of its first as fit in
/// `batch.size`, but at most `batch.size` bytes of slots, so a batch that stays nearly empty
/// (linger expired) holds no more than the `batch.size` buffer Java's producer allocates for every
/// batch; a batch of smaller records still grows past it by doubling.
fn initial_capacity<T>(batch_size: usize, first_record_size: usize) -> usize {
    let slot = std::mem::size_of::<BatchRecord<T>>().max(1);
    let records = batch_size.saturating_sub(RECORD_BATCH_OVERHEAD) / first_record_size.max(1);
    records.min(batch_size / slot).max(1)
}

fn reject<T, R>(
    error: Error,
    record: ProducerRecord,
    completion: T,
) -> Result<R, Box<Rejected<T>>> {
    // Boxed: the error path is cold, and a large `Err` would make every `Ok` return larger.
    Err(Box::new(Rejected {
        error,
        record,
        completion,
    }))
}

fn closed() -> Error {
    Error::new(ErrorKind::Closed).with_detail("the producer is closing")
}

/// Milliseconds since the Unix epoch, for records sent without a timestamp (CreateTime).
fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests;
