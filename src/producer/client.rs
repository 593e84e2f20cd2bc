//! [`Producer`]: the async handle applications use.

use super::accumulator::{Accumulator, AccumulatorConfig, AppendNow, Appended, Rejected};
use super::config::ProducerConfig;
use super::delivery::{Completion, DeliveryError, DeliveryFuture, DeliveryResult, Persistence};
use super::metrics::{ProducerMetrics, Recorder};
use super::partitioner::{PartitionsCache, PartitionsInfo};
use super::record::ProducerRecord;
use super::sender::Sender;
use super::shared::{ErrorHandler, Shared, Txn};
use super::txn::TransactionManager;

use crate::cluster::{Cluster, TopicSelection};
use crate::connection::ConnectionPool;
use crate::retry::Retry;
use crate::retry::{Backoff, Jitter};
use crate::types::TopicPartition;
use crate::{Error, ErrorKind, Result};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// An Apache Kafka producer: batching, idempotence, retries and delivery reports.
///
/// Cheap to clone; every clone feeds the same background sender task.
///
/// **Close it before it goes.** [`close`](Self::close) sends what is buffered and waits for it.
/// Dropping the last clone without `close` stops taking records but lets the background task
/// finish sending what is buffered — only while the tokio runtime runs: returning from `main`
/// (or dropping the runtime) right after loses those records. A drop with records outstanding
/// logs a WARN with their count, and a background task cancelled with records outstanding logs
/// an ERROR. There is no flush in `Drop` because `Drop` cannot wait for the network without
/// blocking a runtime thread (Java's `close()` is what blocks there).
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
/// let producer = Producer::new(
///     ProducerConfig::builder().bootstrap_servers("127.0.0.1:9092").build()?,
/// )?;
/// let delivery = producer
///     .send(ProducerRecord::new("orders").key("order-1").value("{\"total\": 42}"))
///     .await?;
/// let meta = delivery.await?;
/// println!("written to {meta}"); // e.g. "orders-0@42 (persisted)"
/// producer.close(std::time::Duration::from_secs(5)).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Producer {
    pub(super) shared: Arc<Shared>,
    // Dropped with the last clone: tells the sender to finish what is buffered and stop.
    _guard: Arc<CloseOnDrop>,
}

struct CloseOnDrop(Arc<Shared>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        // Never blocks: the sender task keeps running until everything buffered completed.
        let closed = self.0.closing.swap(true, Ordering::AcqRel);
        let pending = self.0.outstanding.load(Ordering::Acquire);
        if !closed && pending > 0 {
            // Issue #24: 1,000 records sent, the producer dropped, main returned: nothing
            // reached the topic and nothing said so.
            tracing::warn!(
                records = pending,
                "producer dropped without close() or flush() while records were not delivered \
                 yet: the background task keeps sending them while the tokio runtime runs, but \
                 a runtime that shuts down first (returning from main) loses them. Call \
                 close(timeout) before dropping the last Producer"
            );
        }
        self.0.acc.close();
        self.0.wake.notify_one();
    }
}

/// Held by the sender task: dropped with it. If the task is dropped before its loop returned
/// (cancelled: the tokio runtime shut down) with records outstanding, they are lost: say so at
/// ERROR, since no delivery future will ever be polled to say it. A loop that returned finished
/// its work (its last completions may still be counted a moment later: no error then).
pub(super) struct LostOnCancel {
    pub(super) shared: Arc<Shared>,
    pub(super) finished: bool,
}

impl Drop for LostOnCancel {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let lost = self.shared.outstanding.load(Ordering::Acquire);
        if lost > 0 {
            tracing::error!(
                records = lost,
                "the producer's background task stopped with records not delivered (the tokio \
                 runtime shut down?): they are lost. Call Producer::close(timeout) before the \
                 runtime ends"
            );
        }
    }
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("client_id", &self.shared.cfg.client.client_id)
            .finish_non_exhaustive()
    }
}

impl Producer {
    /// Creates a producer and starts its sender task. Must be called inside a tokio runtime.
    /// Nothing connects until the first record is sent.
    pub fn new(cfg: ProducerConfig) -> Result<Producer> {
        Producer::with_error_handler(cfg, None)
    }

    /// Like [`new`](Self::new), with a handler that receives, as they happen, every failure the
    /// application would not otherwise see: failed connects (refused, timed out, a name that
    /// does not resolve, TLS and SASL failures), failed metadata requests (also while `send`
    /// waits for a topic's metadata), retried produce errors and fatal errors. The same failure
    /// (kind, broker error code, broker, API) reaches it at most once a second; delivery results
    /// still go to each record's future. The handler runs on the client's tasks: keep it short.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// use ferrokafka::producer::{Producer, ProducerConfig};
    /// use std::sync::Arc;
    /// let producer = Producer::with_error_handler(
    ///     ProducerConfig::from_properties([("bootstrap.servers", "127.0.0.1:9092")])?,
    ///     Some(Arc::new(|e| eprintln!("kafka producer: {e}"))),
    /// )?;
    /// # Ok(()) }
    /// ```
    pub fn with_error_handler(
        cfg: ProducerConfig,
        handler: Option<ErrorHandler>,
    ) -> Result<Producer> {
        let pool = ConnectionPool::with_max_in_flight(
            &cfg.client,
            cfg.max_in_flight_requests_per_connection,
        );
        let cluster = Cluster::with_handler(pool, cfg.client.clone(), handler);
        let (outstanding_tx, _) = watch::channel(0);
        let txn = cfg.transactional_id.as_ref().map(|_| Txn {
            manager: Mutex::new(TransactionManager::new(cfg.client.retry_backoff)),
            producer: watch::channel(None).0,
            local_bump: Mutex::new(None),
            op: tokio::sync::Mutex::new(()),
        });
        let shared = Arc::new(Shared {
            acc: Accumulator::new(AccumulatorConfig::from(&cfg)),
            cfg,
            cluster,
            wake: Notify::new(),
            metrics: Recorder::default(),
            fatal: OnceLock::new(),
            closing: AtomicBool::new(false),
            outstanding: AtomicU64::new(0),
            outstanding_tx,
            txn,
            partitions: PartitionsCache::default(),
        });
        let sender = Sender::new(shared.clone())?;
        let lost = LostOnCancel {
            shared: shared.clone(),
            finished: false,
        };
        tokio::spawn(async move {
            // Moved in whole (not just the field the assignment names), so it is dropped with
            // the task, after the loop or on cancellation.
            let mut lost = lost;
            sender.run().await;
            lost.finished = true;
        });
        Ok(Producer {
            _guard: Arc::new(CloseOnDrop(shared.clone())),
            shared,
        })
    }

    /// Buffers `record` for sending and returns a future of its delivery outcome.
    ///
    /// Waits for the topic's metadata and for room in `buffer.memory`, together at most
    /// `max.block.ms` (60 s by default, as in Java): the first `send` to a cluster that cannot be
    /// reached fails only then. Set `max.block.ms` lower to fail sooner, or check the cluster
    /// once at start-up with [`wait_until_connected`](Self::wait_until_connected); failed
    /// connects are logged at WARN and handed to the error handler from the first attempt. Fails at once, handing the record back, when the producer is closed or
    /// failed, the record is larger than `max.request.size` or `buffer.memory`, or its partition
    /// does not exist.
    ///
    /// # Cancel safety
    /// Cancel safe while waiting: if the future is dropped before it resolves, the record was not
    /// buffered. Once it resolved, dropping the [`DeliveryFuture`] does not stop the send.
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture, DeliveryError> {
        let (completion, rx) = Completion::future();
        self.append(record, completion).await?;
        Ok(DeliveryFuture::new(rx))
    }

    /// Like [`send`](Self::send), but the outcome goes to `callback` instead of a
    /// [`DeliveryFuture`]: the shape of librdkafka's delivery report callback and franz-go's
    /// promise, for a high-volume producer that does not want a future (a channel and a waker)
    /// per record. A closure that captures nothing costs no allocation per record; one that
    /// captures an `Arc` costs one small `Box`.
    ///
    /// `Ok(())` means the record was buffered and `callback` will be called exactly once with
    /// its [`DeliveryResult`] (also when the producer is closed or fails; if the tokio runtime
    /// shuts down under the producer, with a `Closed` error, `PossiblyPersisted`). `Err` means
    /// it was not buffered, for the reasons `send` gives; `callback` is then never called.
    ///
    /// The callback runs on the producer's sender task, in the order the broker acknowledged
    /// the records (per partition: the order they were sent). Keep it short and never block in
    /// it: every other record's delivery waits behind it. To do async work with the outcome, hand
    /// it to a channel. A panic in the callback is caught and logged at ERROR.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// use ferrokafka::producer::{Persistence, Producer, ProducerConfig, ProducerRecord};
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// let producer = Producer::new(ProducerConfig::from_properties([
    ///     ("bootstrap.servers", "127.0.0.1:9092"),
    /// ])?)?;
    /// let failed = Arc::new(AtomicU64::new(0));
    /// for i in 0..1_000_000u32 {
    ///     let failed = failed.clone();
    ///     let record = ProducerRecord::new("events").value(i.to_be_bytes().to_vec());
    ///     producer
    ///         .send_with_callback(record, move |result| {
    ///             if let Err(e) = result {
    ///                 // Not persisted, or possibly: log it, count it, send it elsewhere.
    ///                 eprintln!("{e}");
    ///                 failed.fetch_add(1, Ordering::Relaxed);
    ///             }
    ///         })
    ///         .await?;
    /// }
    /// producer.close(std::time::Duration::from_secs(30)).await?;
    /// assert_eq!(failed.load(Ordering::Relaxed), 0);
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// As `send`: if the future is dropped before it resolves, the record was not buffered and
    /// `callback` is dropped uncalled.
    pub async fn send_with_callback<F>(
        &self,
        record: ProducerRecord,
        callback: F,
    ) -> Result<(), DeliveryError>
    where
        F: FnOnce(DeliveryResult) + Send + 'static,
    {
        self.append(record, Completion::callback(callback)).await
    }

    /// `send`'s checks and the append. A record refused
    /// comes back in the error and its completion is disarmed (the caller reports it).
    ///
    /// The common case (topic in the metadata, room in `buffer.memory`) runs without an
    /// `.await`; only a wait for metadata or memory goes through a boxed future. That keeps the
    /// future `send` returns small: an application's loop moves it at every call, and the
    /// inline wait states made it several hundred bytes (the moves were ~10 % of a 100-byte
    /// record's CPU in a profile).
    async fn append(
        &self,
        record: ProducerRecord,
        completion: Completion,
    ) -> Result<(), DeliveryError> {
        match self.append_now(record, completion) {
            Now::Done(result) => result,
            Now::Wait(record, completion, counted) => {
                Box::pin(self.append_waiting(record, completion, counted)).await
            }
        }
    }

    /// The checks every record passes, then the append if it needs no wait.
    fn append_now(&self, record: ProducerRecord, completion: Completion) -> Now {
        if let Some(e) = self.shared.fatal.get() {
            return Now::Done(self.reject(e.clone(), record, completion));
        }
        if let Some(txn) = &self.shared.txn {
            if let Err(e) = txn.manager().check_send() {
                let e = e.with_topic(record.topic.clone());
                return Now::Done(self.reject(e, record, completion));
            }
        }
        if self.shared.closing.load(Ordering::Acquire) {
            let e = Error::new(ErrorKind::Closed).with_topic(record.topic.clone());
            return Now::Done(self.reject(e, record, completion));
        }
        if let Some(ts) = record.timestamp.filter(|t| *t < 0) {
            let e = Error::new(ErrorKind::InvalidArgument)
                .with_topic(record.topic.clone())
                .with_detail(format!("invalid timestamp {ts}: must be >= 0 or unset"));
            return Now::Done(self.reject(e, record, completion));
        }
        let md = self.shared.cluster.metadata();
        let Some(partitions) = self.shared.partitions.get(&md, &record.topic) else {
            return Now::Wait(record, completion, false);
        };
        let txn_topic = self.txn_topic(&record);
        self.shared.outstanding.fetch_add(1, Ordering::AcqRel);
        match self
            .shared
            .acc
            .append_if_room(record, completion, &partitions)
        {
            AppendNow::Done(appended) => Now::Done(self.appended(appended, txn_topic)),
            // Counted in `outstanding` already: a flush waits for it from here on.
            AppendNow::NoRoom(record, completion) => Now::Wait(record, completion, true),
        }
    }

    /// The rest of `append` when the topic's metadata or `buffer.memory` room must be waited
    /// for (each at most `max.block.ms`).
    async fn append_waiting(
        &self,
        record: ProducerRecord,
        completion: Completion,
        counted: bool,
    ) -> Result<(), DeliveryError> {
        // Counted in `outstanding` only through this guard until the accumulator answers: a
        // `send` future dropped while it waits (cancelled) uncounts the record, which a flush
        // would otherwise wait for forever.
        let mut count = Uncount {
            shared: &self.shared,
            armed: counted,
        };
        // When only memory was short (`counted`), the partitions are known and this is one
        // metadata lookup, as cheap as carrying them over.
        let partitions = match self.partitions_for(&record.topic).await {
            Ok(p) => p,
            Err(e) => return self.reject(e, record, completion),
        };
        if !count.armed {
            self.shared.outstanding.fetch_add(1, Ordering::AcqRel);
            count.armed = true;
        }
        // The accumulator waits for buffer room up to max.block.ms itself (so the record can
        // be handed back on a timeout); with the metadata wait above, a send can block up to
        // twice max.block.ms in the worst case.
        let txn_topic = self.txn_topic(&record);
        let appended = self
            .shared
            .acc
            .append(record, completion, &partitions)
            .await;
        // From here `appended` accounts for the record (a refusal uncounts it there).
        count.armed = false;
        self.appended(appended, txn_topic)
    }

    /// In a transactional producer, the record's topic (its partition is known after the
    /// append), to add the partition to the transaction.
    fn txn_topic(&self, record: &ProducerRecord) -> Option<String> {
        self.shared.txn.as_ref().map(|_| record.topic.clone())
    }

    /// After the accumulator's answer: the transaction's partition, the sender's wake-up, or
    /// the refusal.
    fn appended(
        &self,
        appended: std::result::Result<Appended, Box<Rejected<Completion>>>,
        txn_topic: Option<String>,
    ) -> Result<(), DeliveryError> {
        match appended {
            Ok(a) => {
                let must_add = match (&self.shared.txn, txn_topic) {
                    (Some(txn), Some(topic)) => txn
                        .manager()
                        .add_partition(&TopicPartition::new(topic, a.partition)),
                    _ => false,
                };
                if a.batch_full || a.new_batch || must_add {
                    self.shared.wake.notify_one();
                }
                Ok(())
            }
            Err(rejected) => {
                self.shared.record_completed();
                let Rejected {
                    error,
                    record,
                    completion,
                    ..
                } = *rejected;
                self.reject(error, record, completion)
            }
        }
    }

    /// A record not buffered: counted, its completion disarmed, handed back.
    fn reject<T>(
        &self,
        error: Error,
        record: ProducerRecord,
        completion: Completion,
    ) -> Result<T, DeliveryError> {
        completion.disarm();
        self.shared.metrics.record_error.record(1.0);
        self.shared
            .metrics
            .topic(&record.topic, |t| t.record_error_total += 1);
        Err(DeliveryError {
            error,
            persistence: Persistence::NotPersisted,
            record: Box::new(record),
        })
    }

    /// The topic's partitions, waiting (refreshing metadata with backoff) until it is known or
    /// `max.block.ms` passes, as Java's `waitOnMetadata` does.
    async fn partitions_for(&self, topic: &str) -> Result<PartitionsInfo> {
        let cluster = &self.shared.cluster;
        let mut md = cluster.metadata();
        if let Some(t) = md.topic(topic).filter(|t| !t.partitions.is_empty()) {
            return Ok(PartitionsInfo::from_topic(t));
        }
        // Not in the metadata yet (the clock and the name check are read only here, off the
        // path of a topic already known). An illegal name fails with the rule it breaks; the
        // broker's INVALID_TOPIC_EXCEPTION in a Metadata response carries no reason.
        crate::types::validate_topic_name(topic)?;
        let deadline = Instant::now() + self.shared.cfg.max_block;
        let c = cluster.config();
        let mut waits = Retry::new(
            Some(deadline),
            Backoff::new(c.retry_backoff, c.retry_backoff_max),
            Jitter::Global,
        );
        // A loop over `Retry` rather than `retry_until`: two things carry over between attempts
        // (the last error, for the timeout's message, across attempts that end without one; the
        // last good metadata, looked at again after a failed refresh).
        let mut last: Option<Error> = None;
        loop {
            match cluster
                .refresh(TopicSelection::Topics(vec![topic.to_owned()]))
                .await
            {
                Ok(m) => md = m,
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => last = Some(e),
            }
            if let Some(t) = md.topic(topic) {
                if !t.partitions.is_empty() {
                    return Ok(PartitionsInfo::from_topic(t));
                }
                if t.error_code != 0 {
                    let e = Error::from_broker_code(t.error_code).with_topic(topic);
                    // UNKNOWN_TOPIC_OR_PARTITION and LEADER_NOT_AVAILABLE (topic being created)
                    // are waited out; anything else (authorization, invalid name) is final.
                    if !e.is_retriable() {
                        return Err(e);
                    }
                    last = Some(e);
                }
            }
            if !waits.wait().await {
                let detail = match &last {
                    Some(e) => format!("topic not present in metadata after max.block.ms: {e}"),
                    None => "topic not present in metadata after max.block.ms".to_owned(),
                };
                // As `retry::api_timeout`: when no broker could be reached at all, the kind
                // says so, so "wrong address" and "slow cluster" differ without parsing text.
                let kind = match last.as_ref().map(Error::kind) {
                    Some(ErrorKind::Connect) => ErrorKind::Connect,
                    Some(ErrorKind::NoBrokerAvailable) => ErrorKind::NoBrokerAvailable,
                    _ => ErrorKind::Timeout,
                };
                return Err(Error::new(kind).with_topic(topic).with_detail(detail));
            }
        }
    }

    /// Waits until a broker of the cluster answers a Metadata request, retrying with backoff for
    /// at most `timeout`: a start-up check that the bootstrap addresses are right and reachable
    /// (and TLS / SASL accepted), so a wrong address fails in `timeout` instead of at the first
    /// `send` after `max.block.ms`. Optional: `send` does not need it.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// use ferrokafka::producer::{Producer, ProducerConfig};
    /// use std::time::Duration;
    /// let producer = Producer::new(
    ///     ProducerConfig::from_properties([("bootstrap.servers", "kafka-1:9092")])?,
    /// )?;
    /// producer.wait_until_connected(Duration::from_secs(10)).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// A fatal error (authentication) at once; otherwise, once `timeout` passed, a
    /// [`Timeout`](ErrorKind::Timeout) error naming the last failure (refused, unresolvable, …).
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn wait_until_connected(&self, timeout: Duration) -> Result<()> {
        self.shared.cluster.wait_until_connected(timeout).await
    }

    /// Sends everything buffered now, and waits until every record sent before (and during)
    /// the flush has completed.
    ///
    /// # Cancel safety
    /// Cancel safe; records keep being sent.
    pub async fn flush(&self) -> Result<()> {
        self.shared.acc.begin_flush();
        self.shared.wake.notify_one();
        let mut rx = self.shared.outstanding_tx.subscribe();
        let result = loop {
            if self.shared.outstanding.load(Ordering::Acquire) == 0 {
                break Ok(());
            }
            if rx.changed().await.is_err() {
                break Err(Error::new(ErrorKind::Closed));
            }
        };
        self.shared.acc.end_flush();
        result
    }

    /// Stops taking records, sends what is buffered, and waits up to `timeout` for it to
    /// complete. Records still incomplete after `timeout` fail with a `Closed` error
    /// (`NotPersisted` if never sent, `PossiblyPersisted` if in flight). Then closes the
    /// producer's connections (each once the requests in flight on it completed), even while
    /// this handle lives on; calls that need the cluster fail with `Closed` from then on.
    ///
    /// # Cancel safety
    /// Cancel safe; the producer is closing either way (a cancelled close leaves the
    /// connections to the handle's drop).
    pub async fn close(&self, timeout: Duration) -> Result<()> {
        self.shared.closing.store(true, Ordering::Release);
        self.shared.acc.close();
        self.shared.wake.notify_one();
        let flushed = tokio::time::timeout(timeout, self.flush()).await;
        let result = match flushed {
            Ok(r) => r,
            Err(_) => {
                let e = Error::new(ErrorKind::Closed)
                    .with_detail("producer closed before every record completed");
                self.shared.set_fatal(&e);
                self.shared.wake.notify_one();
                Err(Error::new(ErrorKind::Timeout).with_detail("close timed out"))
            }
        };
        // Every record completed (or was failed just now): the pool holds a handle of every
        // connection, so without this the sockets stayed open for as long as this handle lived
        // (issue #30). Requests still in flight keep theirs until answered.
        self.shared.cluster.pool().close_all();
        result
    }

    /// A snapshot of the producer's metrics (Java names).
    pub fn metrics(&self) -> ProducerMetrics {
        ProducerMetrics::snapshot(
            &self.shared.metrics,
            self.shared.acc.available_memory(),
            self.shared.cfg.buffer_memory,
        )
    }

    /// The cluster view (metadata, connections) this producer uses. Not a stable API: `Cluster`
    /// lives in `__private` (feature `unstable-internals`), for the project's own tests and tools.
    #[cfg(feature = "unstable-internals")]
    #[doc(hidden)]
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.shared.cluster
    }

    /// The error that failed the producer, if any: every send then fails with it.
    pub fn fatal_error(&self) -> Option<Error> {
        self.shared.fatal_error()
    }
}

/// Takes a record out of `outstanding` when dropped armed: a `send` that counted it and then
/// did not append it (refused, or cancelled while waiting).
struct Uncount<'a> {
    shared: &'a Shared,
    armed: bool,
}

impl Drop for Uncount<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.record_completed();
        }
    }
}

/// What [`Producer::append_now`] did: finished (appended or refused), or found it must wait.
enum Now {
    Done(Result<(), DeliveryError>),
    /// Wait for metadata or memory; `true` when the record is counted in `outstanding`.
    Wait(ProducerRecord, Completion, bool),
}
