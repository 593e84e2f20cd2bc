//! A completed fetch of one partition, decoded lazily into [`ConsumerRecord`]s.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;

use crate::protocol::records::{
    DecodeOptions, RecordBatch, RecordBatches, RecordHeaders, Records, TimestampType,
};
use crate::types::{LeaderEpoch, Offset, OptPreview, TopicPartition};
use crate::{Error, Result};

use super::{AbortedTransaction, FetchPosition, IsolationLevel};

// `MESSAGE_TOO_LARGE` (`code::MESSAGE_TOO_LARGE`) is reported when only part of a batch was
// fetched.
use crate::error::code::MESSAGE_TOO_LARGE;

/// Control record type of an abort marker (`ControlRecordType.ABORT`).
const CONTROL_TYPE_ABORT: i16 = 0;

/// A record handed out by `poll`. Key, value and header values are zero-copy slices of the fetch
/// response (or of the decompressed batch).
///
/// `Debug` and `Display` show the start of the key and value and their sizes, never the whole
/// payload:
///
/// ```
/// # use ferrokafka::consumer::ConsumerRecord;
/// fn log(r: &ConsumerRecord) {
///     println!("{r}"); // orders-3@1042 key=b"customer-7" value=13 B headers=1
/// }
/// ```
#[derive(Clone)]
pub struct ConsumerRecord {
    /// Topic name (shared among the records of a fetch).
    pub topic: Arc<str>,
    /// Partition index.
    pub partition: i32,
    /// The record's offset.
    pub offset: Offset,
    /// Timestamp in ms since the epoch (`-1` if none).
    pub timestamp: i64,
    /// Whether the timestamp is the producer's or the broker's.
    pub timestamp_type: TimestampType,
    /// Key, if any.
    pub key: Option<Bytes>,
    /// Value, if any (`None` is a tombstone).
    pub value: Option<Bytes>,
    /// Headers, decoded on iteration.
    pub headers: RecordHeaders,
    /// The partition leader epoch the batch was written in, if recorded.
    pub leader_epoch: Option<LeaderEpoch>,
}

impl std::fmt::Debug for ConsumerRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerRecord")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("offset", &self.offset)
            .field("timestamp", &self.timestamp)
            .field("timestamp_type", &self.timestamp_type)
            .field("key", &OptPreview(self.key.as_deref()))
            .field("value", &OptPreview(self.value.as_deref()))
            .field("headers", &self.headers)
            .field("leader_epoch", &self.leader_epoch)
            .finish()
    }
}

/// `topic-partition@offset key=<start of the key> value=<size> headers=<count>`.
impl std::fmt::Display for ConsumerRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}-{}@{} key={:?} value=",
            self.topic,
            self.partition,
            self.offset,
            OptPreview(self.key.as_deref())
        )?;
        match &self.value {
            Some(v) => write!(f, "{} B", v.len())?,
            None => f.write_str("null")?,
        }
        write!(f, " headers={}", self.headers.len())
    }
}

/// The batch being drained.
#[derive(Debug)]
struct Current {
    batch: RecordBatch,
    records: Records,
}

/// The records of one partition from one fetch response, not yet handed out.
///
/// Batches are decoded (and decompressed) one at a time, as `poll` reaches them. The completed
/// fetch tracks the position its records lead to; the fetcher copies it to the partition after
/// every poll.
#[derive(Debug)]
pub struct CompletedFetch {
    tp: TopicPartition,
    topic: Arc<str>,
    generation: u64,
    size: usize,
    batches: RecordBatches,
    current: Option<Current>,
    /// Where the fetch started (to detect a fetch that cannot make progress).
    start: Offset,
    position: FetchPosition,
    isolation: IsolationLevel,
    /// Aborted transactions not reached yet, by first offset.
    aborted: VecDeque<AbortedTransaction>,
    /// Producers whose batches are skipped until their abort marker.
    aborted_producers: BTreeSet<i64>,
    done: bool,
}

impl CompletedFetch {
    /// A completed fetch of `records`, fetched at `position`.
    pub fn new(
        tp: TopicPartition,
        generation: u64,
        position: FetchPosition,
        records: Bytes,
        aborted: Vec<AbortedTransaction>,
        isolation: IsolationLevel,
        decode: DecodeOptions,
    ) -> CompletedFetch {
        let mut aborted = aborted;
        aborted.sort_by_key(|a| a.first_offset);
        CompletedFetch {
            topic: Arc::from(tp.topic.as_str()),
            tp,
            generation,
            size: records.len(),
            batches: RecordBatches::new(records, decode),
            current: None,
            start: position.offset,
            position,
            isolation,
            aborted: aborted.into(),
            aborted_producers: BTreeSet::new(),
            done: false,
        }
    }

    /// The partition.
    pub fn topic_partition(&self) -> &TopicPartition {
        &self.tp
    }

    /// The partition generation the fetch was planned under.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// Size of the raw records in bytes (for the buffer bound).
    pub fn size(&self) -> usize {
        self.size
    }

    /// The position after everything handed out (and skipped) so far.
    pub fn position(&self) -> FetchPosition {
        self.position
    }

    /// Whether every record has been handed out (or an error ended it).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The next record to hand out, advancing the position past it; `Ok(None)` when drained.
    /// After an `Err` (a corrupt batch) the fetch is done and the position stays where it was.
    pub fn next_record(&mut self) -> Result<Option<ConsumerRecord>> {
        if self.done {
            return Ok(None);
        }
        let r = self.advance();
        if !matches!(r, Ok(Some(_))) {
            self.done = true;
        }
        r
    }

    fn advance(&mut self) -> Result<Option<ConsumerRecord>> {
        loop {
            if let Some(cur) = &mut self.current {
                match cur.records.next() {
                    Some(Ok(record)) => {
                        if record.offset < self.position.offset.get() {
                            continue; // the fetch started mid-batch
                        }
                        let epoch = epoch_of(&cur.batch);
                        self.position = FetchPosition {
                            offset: Offset(record.offset.saturating_add(1)),
                            leader_epoch: epoch.or(self.position.leader_epoch),
                        };
                        return Ok(Some(ConsumerRecord {
                            topic: Arc::clone(&self.topic),
                            partition: self.tp.partition,
                            offset: Offset(record.offset),
                            timestamp: record.timestamp,
                            timestamp_type: cur.batch.timestamp_type(),
                            key: record.key,
                            value: record.value,
                            headers: record.headers,
                            leader_epoch: epoch,
                        }));
                    }
                    Some(Err(e)) => return Err(e.with_partition(&*self.topic, self.tp.partition)),
                    None => {
                        // Everything in the batch is handed out; compaction may have removed its
                        // tail, so continue after the batch, not after the last record.
                        let next = cur.batch.next_offset();
                        let epoch = epoch_of(&cur.batch);
                        self.skip_to(next, epoch);
                        self.current = None;
                    }
                }
            }
            let batch = match self.batches.next() {
                None if self.position.offset == self.start
                    && self.batches.incomplete_tail() > 0 =>
                {
                    // Only a partial batch at the position: fetching again with the same size
                    // would return the same bytes forever (brokers since KIP-74 always return a
                    // whole first batch, so this is a broker or configuration problem).
                    return Err(Error::from_broker_code(MESSAGE_TOO_LARGE)
                        .with_partition(&*self.topic, self.tp.partition)
                        .with_detail(format!(
                            "the batch at offset {} is larger than the {} bytes fetched; raise max.partition.fetch.bytes",
                            self.position.offset,
                            self.batches.incomplete_tail()
                        )));
                }
                None => return Ok(None),
                Some(Err(e)) => return Err(e.with_partition(&*self.topic, self.tp.partition)),
                Some(Ok(b)) => b,
            };
            if batch.next_offset() <= self.position.offset.get() {
                continue; // entirely before the position
            }
            if self.isolation == IsolationLevel::ReadCommitted && batch.producer_id() >= 0 {
                self.consume_aborted_up_to(batch.last_offset());
                if batch.is_control() {
                    if is_abort_marker(&batch)? {
                        self.aborted_producers.remove(&batch.producer_id());
                    }
                } else if batch.is_transactional()
                    && self.aborted_producers.contains(&batch.producer_id())
                {
                    self.skip_to(batch.next_offset(), epoch_of(&batch));
                    continue;
                }
            }
            if batch.is_control() {
                self.skip_to(batch.next_offset(), epoch_of(&batch));
                continue;
            }
            let records = batch
                .records()
                .map_err(|e| e.with_partition(&*self.topic, self.tp.partition))?;
            self.current = Some(Current { batch, records });
        }
    }

    fn skip_to(&mut self, next: i64, epoch: Option<LeaderEpoch>) {
        if next > self.position.offset.get() {
            self.position = FetchPosition {
                offset: Offset(next),
                leader_epoch: epoch.or(self.position.leader_epoch),
            };
        }
    }

    fn consume_aborted_up_to(&mut self, last_offset: i64) {
        while let Some(a) = self.aborted.front() {
            if a.first_offset.get() > last_offset {
                break;
            }
            self.aborted_producers.insert(a.producer_id.get());
            self.aborted.pop_front();
        }
    }
}

fn epoch_of(batch: &RecordBatch) -> Option<LeaderEpoch> {
    let e = batch.partition_leader_epoch();
    (e >= 0).then_some(LeaderEpoch(e))
}

/// Whether a control batch holds an abort marker: its record's key is `version: int16,
/// type: int16`, type 0 = ABORT, 1 = COMMIT.
fn is_abort_marker(batch: &RecordBatch) -> Result<bool> {
    let mut records = batch.records()?;
    let Some(record) = records.next().transpose()? else {
        return Ok(false);
    };
    let kind = record
        .key
        .as_deref()
        .and_then(|k| k.get(2..4))
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .map(i16::from_be_bytes);
    Ok(kind == Some(CONTROL_TYPE_ABORT))
}
