//! [`Consumer`]: the async handle applications use.

use super::commit::{commit_offsets, commit_positions};
use super::config::ConsumerConfig;
use super::coordinator::OffsetToCommit;
use super::fetch::{CommittedOffset, ConsumerRecord, FetchStatus};
use super::metrics::ConsumerMetrics;
use super::shared::Inner;
use crate::cluster::TopicSelection;
use crate::types::ConsumerGroupMetadata;
use crate::types::{Offset, TopicPartition};
use crate::{Error, ErrorKind, Result};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where a partition's position stands, and why there is none ([`Consumer::position_state`]).
/// Its `Display` is one line, e.g. `at offset 42`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PositionState {
    /// Known: the offset of the next record `poll` hands out.
    Known(Offset),
    /// Waiting for the group's committed offset (an OffsetFetch to the coordinator).
    AwaitingCommitted,
    /// Waiting for an offset lookup: `auto.offset.reset`, or a seek to the beginning, the end
    /// or a timestamp.
    AwaitingReset,
    /// Stopped until the application seeks (e.g. `auto.offset.reset=none` with nothing
    /// committed); the error names the partition.
    Failed(Error),
    /// The partition is not assigned to this consumer.
    NotAssigned,
}

impl std::fmt::Display for PositionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PositionState::Known(o) => write!(f, "at offset {o}"),
            PositionState::AwaitingCommitted => f.write_str("waiting for the committed offset"),
            PositionState::AwaitingReset => {
                f.write_str("waiting for an offset lookup (reset or seek)")
            }
            PositionState::Failed(e) => write!(f, "stopped: {e}"),
            PositionState::NotAssigned => f.write_str("not assigned"),
        }
    }
}

/// Committed offsets keyed by partition, as [`Consumer::committed`] returns them (`None`:
/// nothing committed for that partition).
pub type Committed = BTreeMap<TopicPartition, Option<CommittedOffset>>;

/// An Apache Kafka consumer with an explicit **position** (in memory: the next offset `poll`
/// hands out, which moves only when records are handed out or on a seek) and **committed
/// offset** (the group coordinator's value) per partition.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use ferrokafka::consumer::{Consumer, ConsumerConfig};
/// use ferrokafka::types::TopicPartition;
/// use std::time::Duration;
/// let consumer = Consumer::new(ConsumerConfig::from_properties([
///     ("bootstrap.servers", "127.0.0.1:9092"),
///     ("group.id", "billing"),
///     ("enable.auto.commit", "false"),
///     ("auto.offset.reset", "earliest"),
/// ])?)?;
/// let tp = TopicPartition::new("orders", 0);
/// consumer.assign(&[tp.clone()])?;
/// for record in consumer.poll(Duration::from_secs(1)).await? {
///     println!("{}-{}@{}", record.topic, record.partition, record.offset);
/// }
/// consumer.commit_positions().await?; // commit what poll handed out
/// println!("position {:?}, committed {:?}", consumer.position(&tp), consumer.committed(&[tp.clone()]).await?);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Consumer {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("group_id", &self.inner.cfg.group_id)
            .finish_non_exhaustive()
    }
}

impl Consumer {
    /// Creates a consumer and starts its background fetch task. Must be called inside a tokio
    /// runtime. Nothing connects until partitions are assigned.
    pub fn new(cfg: ConsumerConfig) -> Result<Consumer> {
        Consumer::with_error_handler(cfg, None)
    }

    /// Like [`new`](Self::new), with a handler that receives the errors of the background tasks
    /// as they happen: failed connects and metadata lookups, fetch, offset and group request
    /// failures, failed auto-commits, unknown topics. `poll` reports what stops consumption
    /// (partition errors, group errors, and no broker reachable for `default.api.timeout.ms`);
    /// the handler sees every failure, including those retried without the application noticing.
    /// The same failure (kind, broker error code, broker, API) reaches it at most once a second.
    /// It runs on the consumer's tasks: keep it short.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// use ferrokafka::consumer::{Consumer, ConsumerConfig};
    /// use std::sync::Arc;
    /// let consumer = Consumer::with_error_handler(
    ///     ConsumerConfig::from_properties([("bootstrap.servers", "127.0.0.1:9092")])?,
    ///     Some(Arc::new(|e| eprintln!("consumer: {e}"))),
    /// )?;
    /// # Ok(()) }
    /// ```
    pub fn with_error_handler(
        cfg: ConsumerConfig,
        handler: Option<crate::ErrorHandler>,
    ) -> Result<Consumer> {
        let inner = Arc::new(Inner::new(cfg, handler));
        tokio::spawn(super::driver::run(Arc::downgrade(&inner)));
        Ok(Consumer { inner })
    }

    /// Waits until a broker of the cluster answers a Metadata request, retrying with backoff
    /// for at most `timeout`: an optional start-up check that the bootstrap addresses are right
    /// and reachable (and TLS / SASL accepted), instead of learning it from `poll` after
    /// `default.api.timeout.ms`.
    ///
    /// # Errors
    /// A fatal error (authentication) at once; otherwise, once `timeout` passed, a
    /// [`Timeout`](ErrorKind::Timeout) error naming the last failure.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn wait_until_connected(&self, timeout: Duration) -> Result<()> {
        self.inner.cluster.wait_until_connected(timeout).await
    }

    /// The configuration.
    pub fn config(&self) -> &ConsumerConfig {
        &self.inner.cfg
    }

    /// Manually assigns exactly these partitions (no group management). Partitions already
    /// assigned keep their position; new ones start from the committed offset (with a
    /// `group.id`) or by `auto.offset.reset`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] for an illegal topic name, or after
    /// [`subscribe`](Self::subscribe): a consumer is either group-managed or manually assigned.
    pub fn assign(&self, tps: &[TopicPartition]) -> Result<()> {
        for tp in tps {
            crate::types::validate_topic_name(&tp.topic)?;
        }
        if self.inner.lock().group.is_some() {
            return Err(Error::new(ErrorKind::InvalidArgument)
                .with_detail("assign() on a consumer that subscribed; use a separate consumer"));
        }
        self.inner
            .cluster
            .track_topics(&tps.iter().map(|t| t.topic.clone()).collect::<Vec<_>>());
        self.inner.lock().fetcher.assign(tps.iter().cloned());
        self.inner.wake.notify_one();
        Ok(())
    }

    /// The group membership to pass to
    /// [`Producer::send_offsets_to_transaction`](crate::producer::Producer::send_offsets_to_transaction):
    /// the group id, the current generation and member id, and `group.instance.id`. Outside
    /// group management (`assign` with a `group.id`) the generation is `-1`.
    ///
    /// # Errors
    /// `InvalidArgument` without a `group.id`; `REBALANCE_IN_PROGRESS` while the member is
    /// (re)joining (call again after the next `poll`).
    pub fn group_metadata(&self) -> Result<ConsumerGroupMetadata> {
        let group_id = self.inner.cfg.group_id.clone().ok_or_else(|| {
            Error::new(ErrorKind::InvalidArgument).with_detail("group_metadata needs a group.id")
        })?;
        let identity = match self.inner.lock().group.as_ref() {
            Some(m) => Some(m.commit_identity()?),
            None => None,
        };
        let mut md = ConsumerGroupMetadata::new(group_id);
        if let Some(id) = identity {
            md.generation_id = id.generation;
            md.member_id = id.member_id;
            md.group_instance_id = id.group_instance_id;
        }
        Ok(md)
    }

    /// The currently assigned partitions.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.inner.lock().fetcher.assignment().cloned().collect()
    }

    /// Waits up to `timeout` for records and returns at most `max.poll.records` of them (an
    /// empty batch when the time is up). The position of each partition moves past the records
    /// returned, and only past those.
    ///
    /// # Errors
    /// A partition error (e.g. `auto.offset.reset=none` with no committed offset, naming the
    /// partition) once no records are left to return; other partitions are unaffected.
    ///
    /// # Cancel safety
    /// Cancel safe: records are taken from the buffer only when this returns.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        self.poll_up_to(self.inner.cfg.max_poll_records, timeout)
            .await
    }

    async fn poll_up_to(&self, max: usize, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        let deadline = tokio::time::Instant::now() + timeout;
        self.group_on_poll();
        loop {
            let notified = self.inner.data.notified();
            self.run_listener_events().await;
            {
                let mut core = self.inner.lock();
                let polled = core.fetcher.poll(max, Instant::now());
                core.errors
                    .extend(polled.errors.into_iter().map(|e| e.error));
                if !polled.records.is_empty() {
                    drop(core);
                    self.record_metrics(&polled.records);
                    self.inner.wake.notify_one();
                    return Ok(polled.records);
                }
                if let Some(e) = core.errors.pop_front() {
                    return Err(e);
                }
                // A member stopped for good (fenced, group denied) says so on every poll,
                // not just the first after it happened.
                if let Some(e) = core.group.as_ref().and_then(|m| m.fatal_error()) {
                    return Err(e.clone());
                }
            }
            self.inner.wake.notify_one();
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(deadline) => return Ok(Vec::new()),
            }
        }
    }

    fn record_metrics(&self, records: &[ConsumerRecord]) {
        let bytes: usize = records
            .iter()
            .map(|r| {
                r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len())
            })
            .sum();
        let m = &self.inner.metrics;
        m.records_consumed
            .record_n(records.len() as u64, records.len() as f64);
        m.bytes_consumed.record_n(1, bytes as f64);
    }

    /// Waits for the next record. The position moves past it only (records are taken from
    /// the fetched data one at a time, so nothing is handed out unseen).
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn recv(&self) -> Result<ConsumerRecord> {
        loop {
            if let Some(r) = self.poll_up_to(1, Duration::from_secs(1)).await?.pop() {
                return Ok(r);
            }
        }
    }

    /// The records as a stream (each item is one [`recv`](Self::recv)); see [`MessageStream`].
    ///
    /// [`MessageStream`]: super::MessageStream
    pub fn stream(&self) -> super::MessageStream<'_> {
        super::MessageStream::new(self)
    }

    /// The position of `tp`: the offset of the next record `poll` will hand out. `None` while it
    /// is being determined (committed offset or reset pending) or if not assigned;
    /// [`position_state`](Self::position_state) says which.
    pub fn position(&self, tp: &TopicPartition) -> Option<Offset> {
        self.inner.lock().fetcher.position(tp).map(|p| p.offset)
    }

    /// Where the position of `tp` stands: known, or why not (see [`PositionState`]).
    ///
    /// ```no_run
    /// # fn f(consumer: ferrokafka::consumer::Consumer) {
    /// use ferrokafka::types::TopicPartition;
    /// let tp = TopicPartition::new("orders", 0);
    /// println!("{tp}: {}", consumer.position_state(&tp)); // e.g. "orders-0: at offset 42"
    /// # }
    /// ```
    pub fn position_state(&self, tp: &TopicPartition) -> PositionState {
        let core = self.inner.lock();
        match core.fetcher.state(tp).map(|s| s.status()) {
            None => PositionState::NotAssigned,
            Some(FetchStatus::Fetchable(p)) => PositionState::Known(p.offset),
            Some(FetchStatus::AwaitingCommitted) => PositionState::AwaitingCommitted,
            Some(FetchStatus::AwaitingReset(_)) => PositionState::AwaitingReset,
            Some(FetchStatus::Failed(e)) => PositionState::Failed(e.clone()),
        }
    }

    /// The committed offsets of `tps`, asked from the group coordinator now, keyed by partition
    /// (`None`: nothing committed), within `default.api.timeout.ms`.
    ///
    /// # Errors
    /// [`InvalidArgument`](ErrorKind::InvalidArgument) without a `group.id`; when the time is up,
    /// [`Connect`](ErrorKind::Connect) or [`NoBrokerAvailable`](ErrorKind::NoBrokerAvailable) if
    /// no broker could be reached, else [`Timeout`](ErrorKind::Timeout) (each naming the last
    /// error); a group or authorization error from the coordinator as it is.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn committed(&self, tps: &[TopicPartition]) -> Result<Committed> {
        self.committed_offsets(tps, None).await
    }

    /// [`committed`](Self::committed) with its own timeout instead of `default.api.timeout.ms`
    /// (Java's `committed(partitions, timeout)`).
    ///
    /// ```no_run
    /// # async fn f(consumer: ferrokafka::consumer::Consumer) -> ferrokafka::Result<()> {
    /// use ferrokafka::types::TopicPartition;
    /// use std::time::Duration;
    /// let tp = TopicPartition::new("orders", 0);
    /// let committed = consumer.committed_within(&[tp.clone()], Duration::from_secs(5)).await?;
    /// match &committed[&tp] {
    ///     Some(c) => println!("{tp} committed at {}", c.offset),
    ///     None => println!("{tp}: nothing committed"),
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn committed_within(
        &self,
        tps: &[TopicPartition],
        timeout: Duration,
    ) -> Result<Committed> {
        self.committed_offsets(tps, Some(timeout)).await
    }

    async fn committed_offsets(
        &self,
        tps: &[TopicPartition],
        timeout: Option<Duration>,
    ) -> Result<Committed> {
        let coordinator = self.inner.coordinator.as_ref().ok_or_else(|| {
            Error::new(ErrorKind::InvalidArgument).with_detail("committed offsets need a group.id")
        })?;
        let fetched = coordinator.fetch_offsets(tps, timeout).await;
        // What this call learnt about the brokers counts for reachability too, so a timed call
        // made right after it (e.g. `position_within`) can say no broker was reachable. The
        // caller gets the error itself, so the error handler is not called.
        {
            let mut core = self.inner.lock();
            match &fetched {
                Ok(_) => core.reachability.on_success(),
                Err(e) => core.reachability.on_result(Instant::now(), e),
            }
        }
        let fetched = fetched?;
        let mut core = self.inner.lock();
        for (tp, c) in &fetched {
            if core.fetcher.state(tp).is_some() {
                core.fetcher.on_committed(tp, c.clone());
            }
        }
        Ok(fetched.into_iter().collect())
    }

    /// Waits up to `timeout` for the position of `tp` to be known (its committed offset read, or
    /// its offset reset done) and returns it: Java's `position(partition, timeout)`.
    ///
    /// # Errors
    /// [`InvalidArgument`](ErrorKind::InvalidArgument) if `tp` is not assigned; the partition's
    /// error if it cannot continue (e.g. `auto.offset.reset=none` with nothing committed); when
    /// the time is up, [`Connect`](ErrorKind::Connect) / [`NoBrokerAvailable`](ErrorKind::NoBrokerAvailable)
    /// if no broker could be reached, else [`Timeout`](ErrorKind::Timeout).
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn position_within(&self, tp: &TopicPartition, timeout: Duration) -> Result<Offset> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.data.notified();
            {
                let core = self.inner.lock();
                let state = core.fetcher.state(tp).ok_or_else(|| {
                    Error::new(ErrorKind::InvalidArgument)
                        .with_partition(&tp.topic, tp.partition)
                        .with_detail(format!("{tp} is not assigned to this consumer"))
                })?;
                if let Some(p) = state.position() {
                    return Ok(p.offset);
                }
                if let FetchStatus::Failed(e) = state.status() {
                    return Err(e.clone());
                }
                if tokio::time::Instant::now() >= deadline {
                    let last = core.reachability.last_failure().cloned();
                    let detail = format!(
                        "the position of {tp} was not known within {} ms (committed offset or \
                         offset reset pending)",
                        timeout.as_millis()
                    );
                    let e = match last {
                        Some(last) => {
                            let kind = match last.kind() {
                                ErrorKind::Connect => ErrorKind::Connect,
                                _ => ErrorKind::NoBrokerAvailable,
                            };
                            Error::new(kind).with_detail(format!("{detail}; last error: {last}"))
                        }
                        None => Error::new(ErrorKind::Timeout).with_detail(detail),
                    };
                    return Err(e.with_partition(&tp.topic, tp.partition));
                }
            }
            self.inner.wake.notify_one();
            // Positions change on the fetch task's answers, which signal `data`; a short tick
            // covers changes that signal nothing else.
            let tick = tokio::time::Instant::now() + Duration::from_millis(50);
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(tick.min(deadline)) => {}
            }
        }
    }

    /// Sets the position of `tp` (records fetched but not yet polled for it are dropped).
    pub fn seek(&self, tp: &TopicPartition, offset: Offset) -> Result<()> {
        self.inner.lock().fetcher.seek(tp, offset)?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Moves to the log start of each partition.
    pub fn seek_to_beginning(&self, tps: &[TopicPartition]) -> Result<()> {
        self.inner.lock().fetcher.seek_to_beginning(tps)?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Moves to the end of each partition.
    pub fn seek_to_end(&self, tps: &[TopicPartition]) -> Result<()> {
        self.inner.lock().fetcher.seek_to_end(tps)?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Moves to the first record with a timestamp at or after `timestamp_ms` (ListOffsets), or
    /// to the end if there is none.
    pub fn seek_to_timestamp(&self, tp: &TopicPartition, timestamp_ms: i64) -> Result<()> {
        self.inner
            .lock()
            .fetcher
            .seek_to_timestamp(tp, timestamp_ms)?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Puts the position of each partition (all assigned ones if `tps` is empty) back on its
    /// committed offset, read from the coordinator now — the recovery step after a processing
    /// failure: the next `poll` hands out the first uncommitted record again.
    ///
    /// # Errors
    /// If the committed offsets cannot be read. Treat that as a broken client or cluster:
    /// crash and restart rather than carry on out of order.
    ///
    /// # Cancel safety
    /// Cancel safe: the position changes only once the offsets were read.
    pub async fn seek_to_committed(&self, tps: &[TopicPartition]) -> Result<()> {
        let tps: Vec<TopicPartition> = if tps.is_empty() {
            self.assignment()
        } else {
            tps.to_vec()
        };
        self.committed(&tps).await?;
        self.inner.lock().fetcher.seek_to_committed(&tps)?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Puts `tp`'s position back on its committed offset as last read from or written to the
    /// coordinator, or on `otherwise` when nothing is committed for it — e.g. the record whose
    /// processing failed, so that neither `auto.offset.reset` nor the in-memory position skips
    /// it. No I/O: call [`committed`](Self::committed) first to read the coordinator's value.
    ///
    /// ```no_run
    /// # async fn f(consumer: ferrokafka::consumer::Consumer) -> ferrokafka::Result<()> {
    /// use ferrokafka::types::{Offset, TopicPartition};
    /// let tp = TopicPartition::new("orders", 0);
    /// let failed = Offset(42);
    /// consumer.committed(&[tp.clone()]).await?;
    /// consumer.seek_to_committed_or(&tp, failed)?; // the next poll hands out the failed record again
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// If `tp` is not assigned.
    pub fn seek_to_committed_or(&self, tp: &TopicPartition, otherwise: Offset) -> Result<()> {
        self.inner
            .lock()
            .fetcher
            .seek_to_committed_or(tp, otherwise)?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Stops fetching `tps`; their positions are kept.
    pub fn pause(&self, tps: &[TopicPartition]) {
        self.inner.lock().fetcher.pause(tps);
    }

    /// Resumes fetching `tps`.
    pub fn resume(&self, tps: &[TopicPartition]) {
        self.inner.lock().fetcher.resume(tps);
        self.inner.wake.notify_one();
    }

    /// Commits the given offsets (each: the next offset to consume) and waits for the answer.
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: the commit may be applied after the future is dropped.
    pub async fn commit(&self, offsets: &[(TopicPartition, Offset)]) -> Result<()> {
        let map = offsets
            .iter()
            .map(|(tp, o)| (tp.clone(), OffsetToCommit::new(*o)))
            .collect();
        commit_offsets(&self.inner, map).await
    }

    /// Commits `record` as processed: its partition's committed offset becomes `record.offset +
    /// 1` (with the record's leader epoch), as rust-rdkafka's `commit_message`. Commit only
    /// records in order: committing a later record first commits everything before it.
    ///
    /// ```no_run
    /// # async fn f(consumer: ferrokafka::consumer::Consumer) -> ferrokafka::Result<()> {
    /// use std::time::Duration;
    /// for record in consumer.poll(Duration::from_secs(1)).await? {
    ///     // ... process ...
    ///     consumer.commit_record(&record).await?;
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// As [`commit`](Self::commit).
    pub async fn commit_record(&self, record: &ConsumerRecord) -> Result<()> {
        let tp = TopicPartition::new(record.topic.as_ref(), record.partition);
        let offset = OffsetToCommit {
            offset: record.offset.next(),
            leader_epoch: record.leader_epoch,
            metadata: None,
        };
        commit_offsets(&self.inner, BTreeMap::from([(tp, offset)])).await
    }

    /// Commits explicit offsets, each with its optional leader epoch and metadata (Java's
    /// `commitSync(Map<TopicPartition, OffsetAndMetadata>)`).
    ///
    /// ```no_run
    /// # async fn f(consumer: ferrokafka::consumer::Consumer) -> ferrokafka::Result<()> {
    /// use ferrokafka::consumer::OffsetToCommit;
    /// use ferrokafka::types::{Offset, TopicPartition};
    /// let tp = TopicPartition::new("orders", 0);
    /// consumer
    ///     .commit_offsets([(tp, OffsetToCommit::new(Offset(42)).with_metadata("batch-7"))])
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// As [`commit`](Self::commit).
    pub async fn commit_offsets(
        &self,
        offsets: impl IntoIterator<Item = (TopicPartition, OffsetToCommit)>,
    ) -> Result<()> {
        commit_offsets(&self.inner, offsets.into_iter().collect()).await
    }

    /// [`commit_offsets`](Self::commit_offsets) in the background; the result goes to
    /// `callback` (Java's `commitAsync(offsets, callback)`).
    pub fn commit_offsets_async(
        &self,
        offsets: impl IntoIterator<Item = (TopicPartition, OffsetToCommit)>,
        callback: impl FnOnce(Result<()>) + Send + 'static,
    ) {
        let inner = self.inner.clone();
        let offsets: BTreeMap<_, _> = offsets.into_iter().collect();
        tokio::spawn(async move { callback(commit_offsets(&inner, offsets).await) });
    }

    /// Commits the current positions (the offsets after the records handed out so far).
    ///
    /// # Cancel safety
    /// As [`commit`](Self::commit).
    pub async fn commit_positions(&self) -> Result<()> {
        commit_positions(&self.inner, None).await
    }

    /// Commits the current positions in the background; the result goes to `callback`.
    pub fn commit_async(&self, callback: impl FnOnce(Result<()>) + Send + 'static) {
        let inner = self.inner.clone();
        tokio::spawn(async move { callback(commit_positions(&inner, None).await) });
    }

    /// The fetch state of `tp`, for the project's tests. Not a stable API.
    #[cfg(feature = "unstable-internals")]
    #[doc(hidden)]
    pub fn debug_state(&self, tp: &TopicPartition) -> String {
        let core = self.inner.lock();
        format!(
            "{:?} buffered_bytes={}",
            core.fetcher.state(tp),
            core.fetcher.buffered_bytes()
        )
    }

    /// Lag of `tp`: high watermark (last stable offset under read_committed) minus position.
    /// `None` until both are known: the position (see [`position_state`](Self::position_state))
    /// and the watermark, which the first fetch response of the partition brings.
    pub fn lag(&self, tp: &TopicPartition) -> Option<i64> {
        self.inner.lock().fetcher.lag(tp)
    }

    /// A snapshot of the consumer's metrics (Java names).
    pub fn metrics(&self) -> ConsumerMetrics {
        let (lag_max, stalled) = {
            let core = self.inner.lock();
            let lag_max = core
                .fetcher
                .assignment()
                .filter_map(|tp| core.fetcher.lag(tp))
                .max();
            let bound = self.inner.cfg.client.request_timeout;
            let stalled = core
                .fetcher
                .stalled_partitions(std::time::Instant::now(), bound);
            (lag_max, stalled)
        };
        ConsumerMetrics::snapshot(&self.inner.metrics, lag_max, stalled)
    }

    /// Refreshes metadata for the given topics now.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn refresh_metadata(&self, topics: &[String]) -> Result<()> {
        self.inner
            .cluster
            .refresh(TopicSelection::Topics(topics.to_vec()))
            .await
            .map(drop)
    }

    /// Commits the positions when auto-commit is on; in a group, lets a rebalance under way
    /// finish, runs the rebalance listener's `on_partitions_revoked` for the owned partitions and
    /// leaves the group (LeaveGroup; all of it within `request.timeout.ms`; a static member sends none and keeps its partitions for
    /// `session.timeout.ms`); then stops the background tasks and closes the connections (a
    /// fetch in flight keeps its own until answered), even while this handle lives on; calls
    /// that need the cluster fail with `Closed` from then on. Never blocks the runtime; dropping
    /// the consumer without `close` also stops the tasks, without committing or leaving (the
    /// group notices after `session.timeout.ms`).
    ///
    /// # Cancel safety
    /// Cancel safe, but a cancelled close may leave the group uncommitted or unannounced.
    pub async fn close(&self) -> Result<()> {
        let result = if self.inner.cfg.enable_auto_commit && self.inner.coordinator.is_some() {
            commit_positions(&self.inner, None).await
        } else {
            Ok(())
        };
        self.leave_group().await;
        self.stop_tasks();
        result
    }

    /// [`close`](Self::close) bounded by `timeout` (Java's `close(timeout)`): commits, revokes
    /// and leaves as `close` does while time remains; the background tasks stop either way.
    ///
    /// # Errors
    /// The auto-commit's error, or [`Timeout`](ErrorKind::Timeout) if the time ran out first
    /// (the group then notices the member's absence after `session.timeout.ms`).
    ///
    /// # Cancel safety
    /// As [`close`](Self::close).
    pub async fn close_within(&self, timeout: Duration) -> Result<()> {
        match tokio::time::timeout(timeout, self.close()).await {
            Ok(r) => r,
            Err(_) => {
                self.stop_tasks();
                Err(Error::new(ErrorKind::Timeout).with_detail(format!(
                    "close did not finish within {} ms; the background tasks were stopped",
                    timeout.as_millis()
                )))
            }
        }
    }

    fn stop_tasks(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.wake.notify_one();
        self.inner.group_wake.notify_one();
        // The pool holds a handle of every connection: without this the sockets stayed open
        // for as long as this handle lived (issue #30). A fetch still in flight keeps its
        // connection until it is answered (at most fetch.max.wait.ms).
        self.inner.cluster.pool().close_all();
    }
}
