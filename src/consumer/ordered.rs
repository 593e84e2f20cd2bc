//! Ordered at-least-once processing: run a handler per record, commit after success, and on a
//! failure go back to the committed offset and retry the same record — never handing out a later
//! record of that partition first.

use super::client::Consumer;
use super::coordinator::is_group_error;
use super::fetch::ConsumerRecord;
use crate::error::code::FENCED_INSTANCE_ID;
use crate::producer::{Producer, ProducerRecord};
use crate::retry::Backoff;
use crate::types::{Offset, TopicPartition};
use crate::Error;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::{Duration, Instant};

/// What to do when the handler keeps failing on a record.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Retry the same record forever, with capped exponential backoff: the partition is stuck
    /// rather than processed out of order (the default), so a downstream service can recover or
    /// a human can step in.
    RetryForever,
    /// Retry up to `max_attempts` times in all, then produce the record to `topic` (key, value,
    /// headers, plus `x-original-topic`, `x-original-partition`, `x-original-offset` and
    /// `x-error` headers) and continue after it.
    DeadLetter {
        /// Attempts before giving up on the record (at least 1).
        max_attempts: u32,
        /// The producer used for the dead-letter topic.
        producer: Producer,
        /// The dead-letter topic.
        topic: String,
    },
    /// Retry up to `max_attempts` times in all, then return the handler's error. The
    /// partition's position is left on that record (it is handed out again if processing
    /// resumes).
    Stop {
        /// Attempts before giving up (at least 1).
        max_attempts: u32,
    },
}

/// Why [`OrderedProcessor::run`] stopped.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProcessingError<E> {
    /// The handler failed on `record` `attempts` times and the policy is `Stop`.
    Handler {
        /// The record.
        record: ConsumerRecord,
        /// The handler's last error.
        error: E,
        /// Attempts made.
        attempts: u32,
    },
    /// The client failed: polling, committing, seeking back, or dead-lettering. When seeking
    /// back fails the consumer cannot guarantee order any more: crash and restart clean.
    Client(Error),
}

impl<E: std::fmt::Display> std::fmt::Display for ProcessingError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProcessingError::Handler {
                record,
                error,
                attempts,
            } => write!(
                f,
                "handler failed {attempts} times on {}-{}@{}: {error}",
                record.topic, record.partition, record.offset
            ),
            ProcessingError::Client(e) => write!(f, "consumer failed: {e}"),
        }
    }
}

impl<E: std::fmt::Debug + std::fmt::Display> std::error::Error for ProcessingError<E> {}

#[derive(Debug, Clone, Copy)]
struct Stuck {
    offset: Offset,
    attempts: u32,
    retry_at: Instant,
}

/// Runs a handler over a consumer's records in order per partition, committing after success.
///
/// On a failure the partition is sought back to its committed offset (everything before the
/// failed record was committed first, so that is the failed record) and paused for a capped
/// exponential backoff; the record is then handed to the handler again. **Other partitions keep
/// going while one is stuck**: a failure only pauses its own partition, because per-partition
/// order is what Kafka guarantees and what consumers rely on; stopping every partition would
/// turn one poison record into a full outage.
///
/// Needs a `group.id` (it commits) and `enable.auto.commit=false` (it decides when to commit).
///
/// With [`Consumer::subscribe`], rebalances are routine: a commit refused because the group is
/// rebalancing (`REBALANCE_IN_PROGRESS`, `ILLEGAL_GENERATION`, `UNKNOWN_MEMBER_ID`) is logged and
/// processing goes on — those records are processed again by the partition's next owner, in
/// order (at least once). A stuck partition taken away by a rebalance is forgotten; its new
/// owner starts at the committed offset, i.e. at the failed record.
/// Works with manual assignment and with [`Consumer::subscribe`] alike (with a group, the
/// rebalance listener runs inside the processor's polls, between rounds). Whenever a round
/// ends, also with an error, every partition's position is just after its last completed
/// record.
///
/// ```no_run
/// # async fn f(consumer: ferrokafka::consumer::Consumer) -> Result<(), Box<dyn std::error::Error>> {
/// use ferrokafka::consumer::{FailurePolicy, OrderedProcessor};
/// let mut processor = OrderedProcessor::new(consumer, FailurePolicy::RetryForever)?;
/// processor
///     .run(
///         |record| async move {
///             // process; an Err retries this same record after a backoff
///             println!("{}", record.offset);
///             Ok::<(), std::io::Error>(())
///         },
///         std::future::pending::<()>(),
///     )
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct OrderedProcessor {
    consumer: Consumer,
    policy: FailurePolicy,
    backoff: Backoff,
    poll_timeout: Duration,
    stuck: HashMap<TopicPartition, Stuck>,
}

impl OrderedProcessor {
    /// A processor over `consumer` with `policy`; retries back off from 100 ms to 10 s
    /// (doubling, ±20 % jitter).
    ///
    /// A retry runs once its backoff has passed *and* the record has been fetched again (the
    /// failed partition is rewound, which drops what was fetched ahead of it). That refetch may
    /// wait for a fetch already in flight to the partition's leader, up to `fetch.max.wait.ms`
    /// (500 ms by default): with the defaults the first retries come about 0.5 s apart, not
    /// 100 ms. Lower `fetch.max.wait.ms` for a faster retry schedule (measured with 100 ms and
    /// backoffs of 50, 100, 200 ms: retries 120, 111, 188 ms apart).
    pub fn new(consumer: Consumer, policy: FailurePolicy) -> Result<OrderedProcessor, Error> {
        let cfg = consumer.config();
        if cfg.group_id.is_none() {
            return Err(Error::config(
                "group.id",
                "",
                "ordered processing commits offsets: set a group.id",
            ));
        }
        if cfg.enable_auto_commit {
            return Err(Error::config(
                "enable.auto.commit",
                "true",
                "ordered processing commits after success itself: set enable.auto.commit=false",
            ));
        }
        Ok(OrderedProcessor {
            consumer,
            policy,
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(10)),
            poll_timeout: Duration::from_millis(500),
            stuck: HashMap::new(),
        })
    }

    /// Sets the retry backoff (first wait and cap).
    pub fn with_backoff(mut self, first: Duration, max: Duration) -> OrderedProcessor {
        self.backoff = Backoff::new(first, max.max(first));
        self
    }

    /// The consumer.
    pub fn consumer(&self) -> &Consumer {
        &self.consumer
    }

    /// Processes records until `stop` resolves or an error ends it. `stop` is acted on only
    /// while waiting for records: records already polled are handled, committed (and a failed
    /// partition rewound) first.
    ///
    /// # Cancel safety
    /// Dropping the future mid-round may leave processed records uncommitted (they are
    /// delivered again after a restart) or a failed partition's position past the failed record,
    /// so do not commit the consumer's positions afterwards; use `stop` to end cleanly.
    pub async fn run<F, Fut, E>(
        &mut self,
        mut handler: F,
        stop: impl Future<Output = ()>,
    ) -> Result<(), ProcessingError<E>>
    where
        F: FnMut(ConsumerRecord) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: std::fmt::Display,
    {
        tokio::pin!(stop);
        loop {
            // `stop` may interrupt only the wait for records (`poll` is cancel safe), never the
            // handling of records already polled: cancelling there would drop their commit, or
            // the rewind of a failed partition — leaving its position past the failed record,
            // so a later `run` or `commit_positions` would skip it.
            let records = tokio::select! {
                biased;
                _ = &mut stop => return Ok(()),
                r = self.poll_records() => r.map_err(ProcessingError::Client)?,
            };
            self.process(records, &mut handler).await?;
        }
    }

    /// One round: resume partitions whose backoff ended, poll once, run the handler over the
    /// records in order, commit what succeeded, and seek failed partitions back. Returns how many
    /// records completed (succeeded or were dead-lettered).
    ///
    /// # Cancel safety
    /// Cancelling may leave processed records uncommitted; they are delivered again.
    pub async fn poll_and_process<F, Fut, E>(
        &mut self,
        handler: &mut F,
    ) -> Result<usize, ProcessingError<E>>
    where
        F: FnMut(ConsumerRecord) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: std::fmt::Display,
    {
        let records = self.poll_records().await.map_err(ProcessingError::Client)?;
        self.process(records, handler).await
    }

    /// Resumes partitions whose backoff ended and polls once.
    ///
    /// # Cancel safety
    /// Cancel safe (as [`Consumer::poll`]).
    async fn poll_records(&mut self) -> Result<Vec<ConsumerRecord>, Error> {
        let now = Instant::now();
        let due: Vec<TopicPartition> = self
            .stuck
            .iter()
            .filter(|(_, s)| s.retry_at <= now)
            .map(|(tp, _)| tp.clone())
            .collect();
        if !due.is_empty() {
            self.consumer.resume(&due);
        }
        // Wake up when the next stuck partition's backoff ends, so retries keep their pace
        // instead of waiting out a whole poll.
        let timeout = self
            .stuck
            .values()
            .map(|s| s.retry_at.saturating_duration_since(now))
            .min()
            .map_or(self.poll_timeout, |d| d.min(self.poll_timeout));
        let records = self.consumer.poll(timeout).await?;
        if !self.stuck.is_empty() {
            // A rebalance (run inside poll) may have taken stuck partitions away; their records
            // now belong to another member, which starts from the committed offset.
            let assigned = self.consumer.assignment();
            self.stuck.retain(|tp, _| assigned.contains(tp));
        }
        Ok(records)
    }

    /// Runs the handler over polled records in order, commits what succeeded, and seeks failed
    /// partitions back. Returns how many records completed.
    async fn process<F, Fut, E>(
        &mut self,
        records: Vec<ConsumerRecord>,
        handler: &mut F,
    ) -> Result<usize, ProcessingError<E>>
    where
        F: FnMut(ConsumerRecord) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: std::fmt::Display,
    {
        let mut done: BTreeMap<TopicPartition, Offset> = BTreeMap::new();
        let mut failed: Vec<TopicPartition> = Vec::new();
        let mut completed = 0;
        for record in records {
            let tp = TopicPartition::new(&*record.topic, record.partition);
            if failed.contains(&tp) {
                // A later record of a failed partition: it will be fetched again after the
                // failed one succeeds.
                continue;
            }
            let prior = self
                .stuck
                .get(&tp)
                .filter(|s| s.offset == record.offset)
                .map_or(0, |s| s.attempts);
            let offset = record.offset;
            match handler(record.clone()).await {
                Ok(()) => {
                    self.stuck.remove(&tp);
                    done.insert(tp, offset.next());
                    completed += 1;
                }
                Err(error) => {
                    let attempts = prior + 1;
                    let limit = match &self.policy {
                        FailurePolicy::RetryForever => None,
                        FailurePolicy::DeadLetter { max_attempts, .. }
                        | FailurePolicy::Stop { max_attempts } => Some((*max_attempts).max(1)),
                    };
                    let give_up = limit.is_some_and(|l| attempts >= l);
                    tracing::warn!(
                        partition = %tp, offset = offset.0, attempts, give_up,
                        "record processing failed: {error}"
                    );
                    if !give_up {
                        let wait = self.backoff.delay(attempts - 1);
                        self.stuck.insert(
                            tp.clone(),
                            Stuck {
                                offset,
                                attempts,
                                retry_at: Instant::now() + wait,
                            },
                        );
                        failed.push(tp);
                        continue;
                    }
                    match &self.policy {
                        FailurePolicy::DeadLetter {
                            producer, topic, ..
                        } => {
                            if let Err(e) =
                                dead_letter(producer, topic, &record, &error.to_string()).await
                            {
                                self.seek_back(&failed, Some((&tp, offset)));
                                return Err(ProcessingError::Client(e));
                            }
                            self.stuck.remove(&tp);
                            done.insert(tp, offset.next());
                            completed += 1;
                        }
                        _ => {
                            let committed = self.commit(&done).await;
                            self.seek_back(&failed, Some((&tp, offset)));
                            committed?;
                            return Err(ProcessingError::Handler {
                                record,
                                error,
                                attempts,
                            });
                        }
                    }
                }
            }
        }
        if let Err(e) = self.commit(&done).await {
            self.seek_back(&failed, None);
            return Err(e);
        }
        if !failed.is_empty() {
            // Everything before each failed record was committed, so its committed offset is
            // normally the failed record. Read it from the coordinator (a failure here means a
            // broken client or cluster: the caller should crash), go back there and wait out the
            // backoff.
            let committed = match self.consumer.committed(&failed).await {
                Ok(c) => c,
                Err(e) => {
                    self.seek_back(&failed, None);
                    return Err(ProcessingError::Client(e));
                }
            };
            for tp in &failed {
                if let Some(s) = self.stuck.get(tp) {
                    let on_failed = committed
                        .get(tp)
                        .and_then(Option::as_ref)
                        .is_some_and(|c| c.offset == s.offset);
                    let rewound = if on_failed {
                        // With the leader epoch it was committed with.
                        self.consumer.seek_to_committed_or(tp, s.offset)
                    } else {
                        // Nothing committed, or a commit refused by a rebalance (skipped above)
                        // left it behind: the records in between were completed, and going back
                        // there would hand them to the handler again in the same ownership.
                        self.consumer.seek(tp, s.offset)
                    };
                    rewound.map_err(ProcessingError::Client)?;
                }
            }
            self.consumer.pause(&failed);
        }
        Ok(completed)
    }

    /// Before a round ends with an error: puts each failed partition (and `current`, the
    /// partition whose record was being handled, on that record) back on its failed record,
    /// locally, so every position stays just after the last completed record — nothing is
    /// skipped if processing resumes or the positions are committed afterwards.
    fn seek_back(&self, failed: &[TopicPartition], current: Option<(&TopicPartition, Offset)>) {
        let targets = failed
            .iter()
            .filter_map(|tp| self.stuck.get(tp).map(|s| (tp, s.offset)))
            .chain(current);
        for (tp, offset) in targets {
            // Only fails for a partition no longer assigned; revocations run inside poll,
            // never during a round, so these are all still assigned.
            let _ = self.consumer.seek(tp, offset);
        }
    }

    async fn commit<E>(
        &self,
        done: &BTreeMap<TopicPartition, Offset>,
    ) -> Result<(), ProcessingError<E>> {
        if done.is_empty() {
            return Ok(());
        }
        let offsets: Vec<(TopicPartition, Offset)> =
            done.iter().map(|(tp, o)| (tp.clone(), *o)).collect();
        match self.consumer.commit(&offsets).await {
            Ok(()) => Ok(()),
            // The group is rebalancing, or moved on without this member: routine in a group.
            // The records stay uncommitted — processed again by whoever owns the partition
            // next (at least once, in order) or included in this member's next commit if it
            // keeps the partition — and processing continues.
            Err(e) if is_rebalance_error(&e) => {
                tracing::warn!(error = %e, "commit refused by a rebalance; will be retried");
                Ok(())
            }
            Err(e) => Err(ProcessingError::Client(e)),
        }
    }
}

/// REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID: the commit lost a race with a
/// rebalance. (FENCED_INSTANCE_ID is fatal and ends processing.)
fn is_rebalance_error(e: &Error) -> bool {
    is_group_error(e.broker_code()) && e.broker_code() != Some(FENCED_INSTANCE_ID)
}

async fn dead_letter(
    producer: &Producer,
    topic: &str,
    record: &ConsumerRecord,
    error: &str,
) -> Result<(), Error> {
    let mut out = ProducerRecord::new(topic)
        .header("x-original-topic", record.topic.to_string())
        .header("x-original-partition", record.partition.to_string())
        .header("x-original-offset", record.offset.0.to_string())
        .header("x-error", error.to_owned());
    if let Some(k) = &record.key {
        out = out.key(k.clone());
    }
    if let Some(v) = &record.value {
        out = out.value(v.clone());
    }
    for h in record.headers.iter() {
        let key = String::from_utf8_lossy(&h.key).into_owned();
        out = match h.value {
            Some(v) => out.header(key, v),
            None => out.null_header(key),
        };
    }
    let delivery = producer.send(out).await.map_err(|e| e.error)?;
    match delivery.await {
        Ok(_) => Ok(()),
        Err(e) => Err(e.error.with_detail("dead-lettering the record failed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::fetch::{
        CommittedOffset, FetchConfig, FetchStatus, Fetcher, OffsetResetPolicy,
    };

    fn tp() -> TopicPartition {
        TopicPartition::new("orders", 0)
    }

    fn fetcher(policy: OffsetResetPolicy) -> Fetcher {
        let mut f = Fetcher::new(FetchConfig {
            auto_offset_reset: policy,
            ..FetchConfig::default()
        });
        f.assign([tp()]);
        f
    }

    #[test]
    fn rewind_without_a_commit_returns_to_the_failed_record_not_to_the_reset_policy() {
        for policy in [OffsetResetPolicy::Latest, OffsetResetPolicy::None] {
            let mut f = fetcher(policy);
            // Consumption started from the reset policy; the first record (offset 7) failed and
            // the coordinator has nothing committed for the partition.
            f.seek(&tp(), Offset(8)).expect("assigned");
            f.on_committed(&tp(), None);
            f.seek_to_committed_or(&tp(), Offset(7)).expect("assigned");
            assert_eq!(f.position(&tp()).map(|p| p.offset), Some(Offset(7)));
            assert!(matches!(
                f.state(&tp()).map(|s| s.status()),
                Some(FetchStatus::Fetchable(_))
            ));
        }
    }

    #[test]
    fn rewind_with_a_commit_returns_to_the_committed_offset() {
        let mut f = fetcher(OffsetResetPolicy::Latest);
        f.seek(&tp(), Offset(12)).expect("assigned");
        f.on_committed(
            &tp(),
            Some(CommittedOffset {
                offset: Offset(10),
                leader_epoch: None,
                metadata: None,
            }),
        );
        f.seek_to_committed_or(&tp(), Offset(10)).expect("assigned");
        assert_eq!(f.position(&tp()).map(|p| p.offset), Some(Offset(10)));
    }

    /// A consumer whose coordinator cannot be reached (OffsetFetch and OffsetCommit fail after
    /// `default.api.timeout.ms`), with offsets 0..3 of orders-0 buffered as if fetched.
    fn consumer_with_buffered_records() -> Consumer {
        use crate::consumer::fetch::{FetchResponseData, FetchResponsePartition};
        use crate::consumer::ConsumerConfig;
        use crate::protocol::records::{BatchParams, RecordBatchEncoder};
        use crate::types::{BrokerId, LeaderEpoch};

        let consumer = Consumer::new(
            ConsumerConfig::from_properties([
                ("bootstrap.servers", "127.0.0.1:1"),
                ("group.id", "g"),
                ("enable.auto.commit", "false"),
                ("default.api.timeout.ms", "300"),
                ("retry.backoff.ms", "10"),
            ])
            .expect("valid config"),
        )
        .expect("consumer");
        let mut batch = bytes::BytesMut::new();
        let mut enc = RecordBatchEncoder::new();
        let mut w = enc
            .start(&mut batch, BatchParams::default())
            .expect("valid params");
        for i in 0..3 {
            w.append_next(1_000 + i, None, Some(b"v"), &[])
                .expect("append");
        }
        w.finish().expect("finish");
        let now = Instant::now();
        {
            let mut core = consumer.inner.lock();
            core.fetcher.assign([tp()]);
            core.fetcher.seek(&tp(), Offset(0)).expect("assigned");
            core.fetcher
                .fetch_plan(now, |_| Some((BrokerId(1), LeaderEpoch(0))));
            let response = FetchResponseData {
                error_code: 0,
                session_id: 0,
                partitions: vec![FetchResponsePartition {
                    high_watermark: 3,
                    last_stable_offset: 3,
                    log_start_offset: 0,
                    records: batch.freeze(),
                    ..FetchResponsePartition::error(tp(), 0)
                }],
            };
            core.fetcher.on_fetch_response(BrokerId(1), response, now);
        }
        consumer
    }

    /// `stop` firing while a round is under way (here: inside the handler that fails) must not
    /// end `run` before the failed partition is rewound. It used to: `run` raced `stop` against
    /// the whole round and returned `Ok` with the position past the failed record, so a later
    /// `run` or `commit_positions` skipped it. The rewind's OffsetFetch fails here (no broker),
    /// and `run` must report that instead, with the position back on the failed record.
    #[tokio::test]
    async fn stop_during_a_round_does_not_abandon_the_rewind() {
        use std::sync::Arc;
        use tokio::sync::Notify;

        let consumer = consumer_with_buffered_records();
        let mut processor =
            OrderedProcessor::new(consumer.clone(), FailurePolicy::RetryForever).expect("config");
        let stop = Arc::new(Notify::new());
        let signal = stop.clone();
        let handled = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = handled.clone();
        let result = tokio::time::timeout(
            Duration::from_secs(20),
            processor.run(
                move |record: ConsumerRecord| {
                    signal.notify_one();
                    seen.lock().expect("not poisoned").push(record.offset);
                    async move { Err::<(), _>("downstream unavailable") }
                },
                stop.notified(),
            ),
        )
        .await
        .expect("run ends");
        assert_eq!(*handled.lock().expect("not poisoned"), vec![Offset(0)]);
        match result {
            Err(ProcessingError::Client(_)) => {}
            Ok(()) => panic!(
                "run returned Ok with the failed partition at {:?}, past the failed record",
                consumer.position(&tp())
            ),
            Err(e) => panic!("unexpected {e}"),
        }
        assert_eq!(consumer.position(&tp()), Some(Offset(0)));
    }

    /// A commit that fails ends the round with the error, but the partition whose record failed
    /// in that round is put back on it first (it used to stay past it).
    #[tokio::test]
    async fn a_failed_commit_still_puts_the_failed_partition_back() {
        let consumer = consumer_with_buffered_records();
        let mut processor =
            OrderedProcessor::new(consumer.clone(), FailurePolicy::RetryForever).expect("config");
        let mut handler = |record: ConsumerRecord| async move {
            if record.offset == Offset(1) {
                Err("downstream unavailable")
            } else {
                Ok(())
            }
        };
        let result = processor.poll_and_process(&mut handler).await;
        assert!(
            matches!(result, Err(ProcessingError::Client(_))),
            "{result:?}"
        );
        assert_eq!(consumer.position(&tp()), Some(Offset(1)));
    }

    /// `Stop` returns the handler's error with the partition on the record that stopped it, so
    /// resuming (or committing the positions) does not skip it.
    #[tokio::test]
    async fn stop_policy_leaves_the_partition_on_the_record_that_stopped_it() {
        let consumer = consumer_with_buffered_records();
        let mut processor =
            OrderedProcessor::new(consumer.clone(), FailurePolicy::Stop { max_attempts: 1 })
                .expect("config");
        let mut handler = |_: ConsumerRecord| async { Err::<(), _>("bad record") };
        let result = processor.poll_and_process(&mut handler).await;
        match result {
            Err(ProcessingError::Handler {
                record, attempts, ..
            }) => assert_eq!((record.offset, attempts), (Offset(0), 1)),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(consumer.position(&tp()), Some(Offset(0)));
    }
}
