//! Ordered at-least-once processing: run a handler per record, commit after success, and on a
//! failure go back to the committed offset and retry the same record — never handing out a later
//! record of that partition first.

use super::client::Consumer;
use super::fetch::ConsumerRecord;
use crate::connection::Backoff;
use crate::producer::{Producer, ProducerRecord};
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
    /// Retry up to `max_attempts` times in all, then return the handler's error.
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
    /// A processor over `consumer` with `policy`; retries back off from 100 ms to 10 s.
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

    /// Processes records until `stop` resolves (checked between polls) or an error ends it.
    ///
    /// # Cancel safety
    /// Cancelling between records loses nothing: uncommitted records are delivered again.
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
            tokio::select! {
                biased;
                _ = &mut stop => return Ok(()),
                r = self.poll_and_process(&mut handler) => { r?; }
            }
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
        let records = self
            .consumer
            .poll(self.poll_timeout)
            .await
            .map_err(ProcessingError::Client)?;
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
                            dead_letter(producer, topic, &record, &error.to_string())
                                .await
                                .map_err(ProcessingError::Client)?;
                            self.stuck.remove(&tp);
                            done.insert(tp, offset.next());
                            completed += 1;
                        }
                        _ => {
                            self.commit(&done).await?;
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
        self.commit(&done).await?;
        if !failed.is_empty() {
            // Everything before each failed record is committed: its committed offset IS the
            // failed record. Go back there and wait out the backoff.
            self.consumer
                .seek_to_committed(&failed)
                .await
                .map_err(ProcessingError::Client)?;
            self.consumer.pause(&failed);
        }
        Ok(completed)
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
        self.consumer
            .commit(&offsets)
            .await
            .map_err(ProcessingError::Client)
    }
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
