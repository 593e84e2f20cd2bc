//! [`Consumer`]: the async handle applications use.

use super::commit::{commit_offsets, commit_positions};
use super::config::ConsumerConfig;
use super::coordinator::OffsetToCommit;
use super::fetch::ConsumerRecord;
use super::metrics::ConsumerMetrics;
use super::shared::Inner;
use crate::cluster::TopicSelection;
use crate::types::{Offset, TopicPartition};
use crate::{Error, ErrorKind, Result};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
        let inner = Arc::new(Inner::new(cfg));
        tokio::spawn(super::driver::run(Arc::downgrade(&inner)));
        Ok(Consumer { inner })
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
    /// [`ErrorKind::InvalidArgument`] after [`subscribe`](Self::subscribe): a consumer is either
    /// group-managed or manually assigned.
    pub fn assign(&self, tps: &[TopicPartition]) -> Result<()> {
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

    /// The records as a stream (each item is one `recv`).
    pub fn stream(&self) -> impl futures_core::Stream<Item = Result<ConsumerRecord>> + '_ {
        futures_util::stream::unfold(self, |c| async move { Some((c.recv().await, c)) })
    }

    /// The position of `tp`: the offset of the next record `poll` will hand out. `None` while it
    /// is being determined (committed offset or reset pending) or if not assigned.
    pub fn position(&self, tp: &TopicPartition) -> Option<Offset> {
        self.inner.lock().fetcher.position(tp).map(|p| p.offset)
    }

    /// The committed offsets of `tps`, asked from the group coordinator now (`None`: nothing
    /// committed).
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn committed(
        &self,
        tps: &[TopicPartition],
    ) -> Result<Vec<(TopicPartition, Option<Offset>)>> {
        let coordinator = self.inner.coordinator.as_ref().ok_or_else(|| {
            Error::new(ErrorKind::InvalidArgument).with_detail("committed offsets need a group.id")
        })?;
        let fetched = coordinator.fetch_offsets(tps).await?;
        let mut core = self.inner.lock();
        for (tp, c) in &fetched {
            if core.fetcher.state(tp).is_some() {
                core.fetcher.on_committed(tp, c.clone());
            }
        }
        Ok(fetched
            .into_iter()
            .map(|(tp, c)| (tp, c.map(|c| c.offset)))
            .collect())
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
    pub fn lag(&self, tp: &TopicPartition) -> Option<i64> {
        self.inner.lock().fetcher.lag(tp)
    }

    /// A snapshot of the consumer's metrics (Java names).
    pub fn metrics(&self) -> ConsumerMetrics {
        let lag_max = {
            let core = self.inner.lock();
            core.fetcher
                .assignment()
                .filter_map(|tp| core.fetcher.lag(tp))
                .max()
        };
        ConsumerMetrics::snapshot(&self.inner.metrics, lag_max)
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
    /// `session.timeout.ms`); then stops the background tasks. Never blocks the runtime; dropping
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
        self.inner.closed.store(true, Ordering::Release);
        self.inner.wake.notify_one();
        self.inner.group_wake.notify_one();
        result
    }
}
