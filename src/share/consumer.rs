//! [`ShareConsumer`]: the async shell of a share-group member.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use uuid::Uuid;

use super::acks::{AcknowledgeType, Ledger};
use super::config::{AcknowledgementMode, ShareConsumerConfig};
use super::driver;
use super::membership::ShareMembership;
use super::metrics::{Recorder, ShareConsumerMetrics};
use super::record::ShareRecord;
use super::shared::{Inner, State};
use crate::cluster::Cluster;
use crate::types::TopicPartition;
use crate::{Error, ErrorKind, Result};

/// A member of a share group (KIP-932, "queues for Kafka"): the broker hands each record to one
/// member at a time under an acquisition lock, members share partitions, and every record is
/// acknowledged — accepted, released for redelivery, or rejected — instead of committing
/// offsets. Needs Apache Kafka 4.1+ with share groups enabled (the default from 4.2).
///
/// In the default `implicit` mode every record of a poll is accepted by the next `poll`,
/// `commit_sync` or `commit_async`; with `share.acknowledgement.mode=explicit` the application
/// acknowledges each one with [`acknowledge`](Self::acknowledge).
///
/// ```no_run
/// use ferrokafka::share::{AcknowledgeType, ShareConsumer, ShareConsumerConfig};
/// use std::time::Duration;
///
/// async fn work() -> Result<(), ferrokafka::Error> {
///     let consumer = ShareConsumer::new(ShareConsumerConfig::from_properties([
///         ("bootstrap.servers", "127.0.0.1:9092"),
///         ("group.id", "billing-workers"),
///         ("share.acknowledgement.mode", "explicit"),
///     ])?)?;
///     consumer.subscribe(["invoices"])?;
///     for record in consumer.poll(Duration::from_secs(1)).await? {
///         let how = if record.value.is_some() { AcknowledgeType::Accept } else { AcknowledgeType::Reject };
///         consumer.acknowledge(&record, how)?;
///     }
///     consumer.commit_sync().await?;
///     consumer.close().await
/// }
/// ```
pub struct ShareConsumer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ShareConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.inner.lock();
        f.debug_struct("ShareConsumer")
            .field("group_id", &self.inner.cfg.group_id)
            .field("member_id", &st.membership.member_id())
            .field("member_epoch", &st.membership.epoch())
            .field("subscription", st.membership.subscription())
            .finish_non_exhaustive()
    }
}

impl ShareConsumer {
    /// Creates a share consumer and starts its heartbeat task. Must be called inside a tokio
    /// runtime. Nothing connects until [`subscribe`](Self::subscribe).
    pub fn new(cfg: ShareConsumerConfig) -> Result<ShareConsumer> {
        let cluster = Cluster::new(cfg.client.clone());
        let membership = ShareMembership::new(
            cfg.group_id.clone(),
            Uuid::from_u128(fastrand::u128(..)).to_string(),
            cfg.client_rack.clone(),
            cfg.client.retry_backoff,
        );
        let inner = Arc::new(Inner {
            cfg,
            cluster,
            state: Mutex::new(State {
                membership,
                ledger: Ledger::default(),
                names: BTreeMap::new(),
                buffered: VecDeque::new(),
                errors: VecDeque::new(),
                ack_errors: Vec::new(),
                lock_timeout: None,
            }),
            sessions: tokio::sync::Mutex::new(HashMap::new()),
            data: Notify::new(),
            heartbeat_wake: Arc::new(Notify::new()),
            closed: AtomicBool::new(false),
            prefetching: AtomicBool::new(false),
            metrics: Recorder::default(),
            callback: Mutex::new(None),
        });
        tokio::spawn(driver::heartbeat_loop(Arc::downgrade(&inner)));
        Ok(ShareConsumer { inner })
    }

    /// Subscribes to `topics`, replacing the subscription; an empty list unsubscribes.
    ///
    /// # Errors
    /// [`ErrorKind::Closed`] after `close`.
    pub fn subscribe<I, S>(&self, topics: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.check_open()?;
        let topics: BTreeSet<String> = topics.into_iter().map(Into::into).collect();
        let list: Vec<&String> = topics.iter().collect();
        self.inner.cluster.track_topics(&list);
        self.inner
            .lock()
            .membership
            .subscribe(Instant::now(), topics);
        self.inner.heartbeat_wake.notify_one();
        Ok(())
    }

    /// Leaves the share group; records acquired and not acknowledged return to it when their
    /// locks expire (or at once with [`close`](Self::close)).
    pub fn unsubscribe(&self) {
        self.inner.lock().membership.leave(Instant::now());
        self.inner.heartbeat_wake.notify_one();
    }

    /// The subscribed topics.
    pub fn subscription(&self) -> Vec<String> {
        self.inner
            .lock()
            .membership
            .subscription()
            .iter()
            .cloned()
            .collect()
    }

    /// This member's id (client-generated, as KIP-932 wants).
    pub fn member_id(&self) -> String {
        self.inner.lock().membership.member_id().to_string()
    }

    /// The partitions assigned to this member now (other members may share them).
    pub fn assignment(&self) -> Vec<TopicPartition> {
        let st = self.inner.lock();
        st.membership
            .assignment()
            .iter()
            .filter_map(|(id, ps)| st.names.get(id).map(|n| (n, ps)))
            .flat_map(|(n, ps)| ps.iter().map(move |p| TopicPartition::new(n.as_ref(), *p)))
            .collect()
    }

    /// Sets the callback told the outcome of every acknowledgement commit, per partition (Java's
    /// `setAcknowledgementCommitCallback`): acknowledgements that rode on a fetch, and those of
    /// `commit_sync`, `commit_async` and `close`. A failure (e.g. `INVALID_RECORD_STATE`: the
    /// acquisition lock expired first) means the records return to the group. It runs on the
    /// consumer's tasks or in the call that committed: keep it short.
    ///
    /// ```no_run
    /// # fn f(c: &ferrokafka::share::ShareConsumer) {
    /// c.set_acknowledgement_commit_callback(|outcome| {
    ///     for (tp, r) in outcome {
    ///         if let Err(e) = r {
    ///             eprintln!("acknowledgements of {tp} not committed: {e}");
    ///         }
    ///     }
    /// });
    /// # }
    /// ```
    pub fn set_acknowledgement_commit_callback(
        &self,
        callback: impl Fn(&BTreeMap<TopicPartition, Result<()>>) + Send + Sync + 'static,
    ) {
        *self
            .inner
            .callback
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(callback));
    }

    /// The share consumer's metrics, by the Java client's names.
    pub fn metrics(&self) -> ShareConsumerMetrics {
        ShareConsumerMetrics::snapshot(&self.inner.metrics)
    }

    /// How long the broker holds a record for this member before handing it to another
    /// (`group.share.record.lock.duration.ms`), once a fetch has said.
    pub fn acquisition_lock_timeout(&self) -> Option<Duration> {
        self.inner.lock().lock_timeout
    }

    /// Records acquired for this member, at most `max.poll.records`, waiting up to `timeout`
    /// for some. In implicit mode the records of the previous poll are accepted first; their
    /// acknowledgements go with the next fetch.
    ///
    /// # Errors
    /// [`ErrorKind::IllegalState`] in explicit mode while a record of the previous poll is not
    /// acknowledged; a fatal group error (authorization, a broker without share groups).
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<ShareRecord>> {
        self.check_open()?;
        let deadline = Instant::now() + timeout;
        let implicit = self.inner.cfg.acknowledgement_mode == AcknowledgementMode::Implicit;
        {
            let mut st = self.inner.lock();
            st.ledger.finish_batch(implicit)?;
            if let Some(e) = st.errors.pop_front() {
                return Err(e);
            }
            if let Some(e) = st.membership.failed() {
                return Err(e.clone());
            }
        }
        loop {
            {
                let mut st = self.inner.lock();
                if !st.buffered.is_empty() {
                    let n = st.buffered.len().min(self.inner.cfg.max_poll_records);
                    let out: Vec<ShareRecord> = st.buffered.drain(..n).collect();
                    let mut bytes = 0usize;
                    for r in &out {
                        st.ledger
                            .delivered((r.topic_id, r.partition), r.offset.get());
                        bytes += r.key.as_ref().map_or(0, |k| k.len())
                            + r.value.as_ref().map_or(0, |v| v.len());
                    }
                    st.ledger.end_poll();
                    let m = &self.inner.metrics;
                    m.records_consumed
                        .record_n(out.len() as u64, out.len() as f64);
                    m.bytes_consumed.record_n(out.len() as u64, bytes as f64);
                    if st.buffered.is_empty() {
                        drop(st);
                        driver::prefetch(&self.inner);
                    }
                    return Ok(out);
                }
                if let Some(e) = st.errors.pop_front() {
                    return Err(e);
                }
            }
            let now = Instant::now();
            let assigned = !self.inner.lock().membership.assignment().is_empty();
            if !assigned {
                if now >= deadline {
                    return Ok(Vec::new());
                }
                let step = (deadline - now).min(Duration::from_millis(100));
                let _ = tokio::time::timeout(step, self.inner.data.notified()).await;
                continue;
            }
            let max_wait = deadline
                .saturating_duration_since(now)
                .min(self.inner.cfg.fetch_max_wait);
            driver::fetch_round(&self.inner, max_wait).await;
            if Instant::now() >= deadline && self.inner.lock().buffered.is_empty() {
                return Ok(Vec::new());
            }
        }
    }

    /// Acknowledges a record of the last poll (explicit mode). The acknowledgement goes to the
    /// broker with the next `poll`, `commit_sync`, `commit_async` or `close`.
    ///
    /// # Errors
    /// [`ErrorKind::IllegalState`] in implicit mode, for a record not handed out by the last
    /// poll, or for one acknowledged already.
    pub fn acknowledge(&self, record: &ShareRecord, how: AcknowledgeType) -> Result<()> {
        if self.inner.cfg.acknowledgement_mode == AcknowledgementMode::Implicit {
            return Err(Error::new(ErrorKind::IllegalState).with_detail(
                "acknowledge needs share.acknowledgement.mode=explicit; in implicit mode the next \
                 poll or commit accepts every record",
            ));
        }
        self.inner.lock().ledger.acknowledge(
            (record.topic_id, record.partition),
            record.offset.get(),
            how,
        )
    }

    /// Sends the acknowledgements made so far (in implicit mode: every record of the last poll,
    /// accepted) and waits for the brokers' answers, per partition.
    ///
    /// # Errors
    /// [`ErrorKind::Closed`] after `close`. Per-partition failures (e.g. `INVALID_RECORD_STATE`
    /// when an acquisition lock expired first) are in the map.
    pub async fn commit_sync(&self) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        self.check_open()?;
        self.stage_acknowledgements();
        let mut out = driver::acknowledge_round(&self.inner, false).await;
        for (tp, e) in std::mem::take(&mut self.inner.lock().ack_errors) {
            out.entry(tp).or_insert(Err(e));
        }
        Ok(out)
    }

    /// Like [`commit_sync`](Self::commit_sync) without waiting; failures go to the log.
    pub fn commit_async(&self) {
        if self.check_open().is_err() {
            return;
        }
        self.stage_acknowledgements();
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            for (tp, r) in driver::acknowledge_round(&inner, false).await {
                if let Err(e) = r {
                    tracing::warn!(partition = %tp, error = %e, "share acknowledgement failed");
                }
            }
        });
    }

    /// Sends the acknowledgements made so far, closes the share sessions (the broker releases
    /// every record still acquired, for other members at once), and leaves the group. Records of
    /// the last poll not acknowledged are released, not accepted (as Java's `close`).
    pub async fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        {
            let mut st = self.inner.lock();
            st.ledger.flush_acknowledged();
            st.buffered.clear();
        }
        let _ = driver::acknowledge_round(&self.inner, true).await;
        self.inner.lock().membership.leave(Instant::now());
        self.inner.heartbeat_wake.notify_one();
        // The leave goes out on the heartbeat task; wait for it up to the request timeout.
        let until = Instant::now() + self.inner.cfg.client.request_timeout;
        while self.inner.lock().membership.is_leaving() && Instant::now() < until {
            let _ =
                tokio::time::timeout(Duration::from_millis(50), self.inner.data.notified()).await;
        }
        // The pool holds a handle of every connection: without this the sockets stayed open
        // for as long as this handle lived (issue #30).
        self.inner.cluster.pool().close_all();
        Ok(())
    }

    fn stage_acknowledgements(&self) {
        let implicit = self.inner.cfg.acknowledgement_mode == AcknowledgementMode::Implicit;
        let mut st = self.inner.lock();
        if implicit {
            let _ = st.ledger.finish_batch(true);
        } else {
            st.ledger.flush_acknowledged();
        }
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::new(ErrorKind::Closed).with_detail("the share consumer is closed"));
        }
        Ok(())
    }
}
