//! One partition's log: record batches stored as the producer sent them, with the base offset
//! and leader epoch written in; the broker's idempotence rules per producer id; retention by
//! bytes.

mod batch;
mod txn;

pub(crate) use txn::TRANSACTIONAL;

use batch::{at, first_record_at_or_after};
pub(crate) use batch::{split_batches, BatchHeader};
use bytes::{Bytes, BytesMut};
use std::collections::{HashMap, VecDeque};

/// Error codes this module answers with (Kafka's numbers).
pub(crate) mod code {
    pub const NONE: i16 = 0;
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    pub const CORRUPT_MESSAGE: i16 = 2;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
    pub const BROKER_NOT_AVAILABLE: i16 = 8;
    pub const MESSAGE_TOO_LARGE: i16 = 10;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub const NOT_COORDINATOR: i16 = 16;
    pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
    pub const INVALID_REQUIRED_ACKS: i16 = 21;
    pub const UNSUPPORTED_VERSION: i16 = 35;
    pub const TOPIC_ALREADY_EXISTS: i16 = 36;
    pub const INVALID_PARTITIONS: i16 = 37;
    pub const INVALID_REPLICATION_FACTOR: i16 = 38;
    pub const INVALID_REQUEST: i16 = 42;
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
    pub const INVALID_PRODUCER_EPOCH: i16 = 47;
    pub const INVALID_TXN_STATE: i16 = 48;
    pub const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
    pub const INVALID_TRANSACTION_TIMEOUT: i16 = 50;
    pub const PRODUCER_FENCED: i16 = 90;
    pub const INVALID_RECORD: i16 = 87;
    pub const INVALID_CONFIG: i16 = 40;
    pub const FENCED_LEADER_EPOCH: i16 = 74;
    pub const UNKNOWN_LEADER_EPOCH: i16 = 75;
    pub const UNKNOWN_TOPIC_ID: i16 = 100;
    // The group coordinator's codes.
    pub const OFFSET_METADATA_TOO_LARGE: i16 = 12;
    pub const ILLEGAL_GENERATION: i16 = 22;
    pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
    pub const INVALID_GROUP_ID: i16 = 24;
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    pub const INVALID_SESSION_TIMEOUT: i16 = 26;
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    pub const NON_EMPTY_GROUP: i16 = 68;
    pub const GROUP_ID_NOT_FOUND: i16 = 69;
    pub const MEMBER_ID_REQUIRED: i16 = 79;
    pub const FENCED_INSTANCE_ID: i16 = 82;
}

/// A stored batch.
#[derive(Debug, Clone)]
pub(crate) struct StoredBatch {
    pub base_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
    pub bytes: Bytes,
    compressed: bool,
}

/// What the broker remembers of one appended idempotent batch (the last 5 per producer).
#[derive(Debug, Clone, Copy)]
struct BatchMeta {
    first_seq: i32,
    last_seq: i32,
    base_offset: i64,
}

#[derive(Debug, Default)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<BatchMeta>,
}

/// Kafka keeps this many batches per producer for duplicate detection; a client may have as many
/// in flight (`max.in.flight.requests.per.connection` ≤ 5 with idempotence).
const PRODUCER_BATCHES_KEPT: usize = 5;

/// The outcome of appending one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Appended {
    /// Written at this base offset.
    New(i64),
    /// A retry of a batch already in the log at this base offset: nothing written.
    Duplicate(i64),
}

/// One partition's log.
#[derive(Debug)]
pub(crate) struct PartitionLog {
    batches: VecDeque<StoredBatch>,
    log_start: i64,
    log_end: i64,
    bytes: usize,
    producers: HashMap<i64, ProducerEntry>,
    txn: txn::TxnIndex,
}

impl PartitionLog {
    pub fn new() -> PartitionLog {
        PartitionLog {
            batches: VecDeque::new(),
            log_start: 0,
            log_end: 0,
            bytes: 0,
            producers: HashMap::new(),
            txn: txn::TxnIndex::default(),
        }
    }

    /// The first offset still in the log.
    pub fn log_start(&self) -> i64 {
        self.log_start
    }

    /// The offset the next record gets; with one replica per write also the high watermark.
    pub fn log_end(&self) -> i64 {
        self.log_end
    }

    /// Checks an idempotent batch against its producer's state, as `ProducerAppendInfo` does:
    /// `Ok(Some(offset))` for a duplicate of a kept batch, `Ok(None)` to append, `Err(code)`.
    fn check_producer(&self, h: &BatchHeader) -> Result<Option<i64>, i16> {
        if h.producer_id < 0 {
            return Ok(None);
        }
        let Some(entry) = self.producers.get(&h.producer_id) else {
            // No state (new producer, or its batches were removed): any sequence is accepted.
            return Ok(None);
        };
        if h.producer_epoch < entry.epoch {
            return Err(code::INVALID_PRODUCER_EPOCH);
        }
        let last_seq = seq_add(h.base_sequence, h.last_offset_delta);
        if h.producer_epoch == entry.epoch {
            if let Some(dup) = entry
                .batches
                .iter()
                .find(|b| b.first_seq == h.base_sequence && b.last_seq == last_seq)
            {
                return Ok(Some(dup.base_offset));
            }
            let current = entry.batches.back().map_or(-1, |b| b.last_seq);
            if h.base_sequence != seq_add(current, 1) {
                return Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER);
            }
        } else if h.base_sequence != 0 {
            // A new epoch starts its sequences at 0.
            return Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER);
        }
        Ok(None)
    }

    /// Checks the batches of one produce request for a partition before any is written (they
    /// succeed or fail together): `Ok(Some(offset))` when the request is a retry of batches
    /// already written at `offset`, `Ok(None)` to append, `Err(code)` to refuse.
    pub fn check(&self, batches: &[(BatchHeader, Bytes)]) -> Result<Option<i64>, i16> {
        let Some((first, _)) = batches.first() else {
            return Err(code::INVALID_RECORD);
        };
        if let Some(dup) = self.check_producer(first)? {
            return Ok(Some(dup));
        }
        for w in batches.windows(2) {
            let (a, b) = (&w[0].0, &w[1].0);
            let next = seq_add(seq_add(a.base_sequence, a.last_offset_delta), 1);
            if b.producer_id >= 0
                && (b.producer_id != a.producer_id
                    || b.producer_epoch != a.producer_epoch
                    || b.base_sequence != next)
            {
                return Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER);
            }
        }
        Ok(None)
    }

    /// Checks, then appends: the first batch's offset, or the offset of the batches this request
    /// repeats.
    pub fn append(
        &mut self,
        batches: Vec<(BatchHeader, Bytes)>,
        leader_epoch: i32,
    ) -> Result<Appended, i16> {
        if let Some(offset) = self.check(&batches)? {
            return Ok(Appended::Duplicate(offset));
        }
        let first = self.log_end;
        for (h, bytes) in batches {
            let base = self.log_end;
            let mut b = BytesMut::from(&bytes[..]);
            b[at::BASE_OFFSET..at::BASE_OFFSET + 8].copy_from_slice(&base.to_be_bytes());
            b[at::LEADER_EPOCH..at::LEADER_EPOCH + 4].copy_from_slice(&leader_epoch.to_be_bytes());
            let last = base + i64::from(h.last_offset_delta);
            self.bytes += b.len();
            self.batches.push_back(StoredBatch {
                base_offset: base,
                last_offset: last,
                max_timestamp: h.max_timestamp,
                bytes: b.freeze(),
                compressed: h.compression() != 0,
            });
            self.log_end = last + 1;
            if h.producer_id >= 0 && h.attributes & TRANSACTIONAL != 0 {
                self.txn.appended(h.producer_id, base);
            }
            if h.producer_id >= 0 {
                let entry = self.producers.entry(h.producer_id).or_default();
                if entry.epoch != h.producer_epoch {
                    entry.epoch = h.producer_epoch;
                    entry.batches.clear();
                }
                entry.batches.push_back(BatchMeta {
                    first_seq: h.base_sequence,
                    last_seq: seq_add(h.base_sequence, h.last_offset_delta),
                    base_offset: base,
                });
                if entry.batches.len() > PRODUCER_BATCHES_KEPT {
                    entry.batches.pop_front();
                }
            }
        }
        Ok(Appended::New(first))
    }

    /// Drops the oldest batches while the log holds more than `retention_bytes` (never the
    /// last batch), moving the log start offset as the broker does when it deletes a segment.
    pub fn enforce_retention(&mut self, retention_bytes: u64) {
        while self.bytes as u64 > retention_bytes && self.batches.len() > 1 {
            if let Some(b) = self.batches.pop_front() {
                self.bytes -= b.bytes.len();
                self.log_start = b.last_offset + 1;
            }
        }
        self.txn.trim(self.log_start);
    }

    /// DeleteRecords: moves the log start offset up to `offset` (-1: the high watermark),
    /// dropping the batches wholly below it; returns the new log start (the low watermark).
    pub fn delete_records(&mut self, offset: i64) -> Result<i64, i16> {
        let target = if offset == -1 { self.log_end } else { offset };
        if target < 0 || target > self.log_end {
            return Err(code::OFFSET_OUT_OF_RANGE);
        }
        if target > self.log_start {
            while self.batches.front().is_some_and(|b| b.last_offset < target) {
                if let Some(b) = self.batches.pop_front() {
                    self.bytes -= b.bytes.len();
                }
            }
            self.log_start = target;
            self.txn.trim(self.log_start);
        }
        Ok(self.log_start)
    }

    /// Batches from the one holding `offset`, at least one (KIP-74) and then while the total
    /// stays within `max_bytes`. `Err` when `offset` is outside [log start, log end].
    #[cfg(test)]
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<Vec<Bytes>, i16> {
        self.read_below(offset, max_bytes, i64::MAX)
    }

    /// As [`read`](Self::read), only batches starting below `end` (read_committed: the LSO).
    pub fn read_below(&self, offset: i64, max_bytes: usize, end: i64) -> Result<Vec<Bytes>, i16> {
        if offset < self.log_start || offset > self.log_end {
            return Err(code::OFFSET_OUT_OF_RANGE);
        }
        let start = self.batches.partition_point(|b| b.last_offset < offset);
        let mut out = Vec::new();
        let mut total = 0usize;
        for b in self.batches.iter().skip(start) {
            if b.base_offset >= end {
                break;
            }
            if !out.is_empty() && total + b.bytes.len() > max_bytes {
                break;
            }
            total += b.bytes.len();
            out.push(b.bytes.clone());
            if total >= max_bytes {
                break;
            }
        }
        Ok(out)
    }

    /// ListOffsets by timestamp: the first offset whose record timestamp is ≥ `ts` and that
    /// record's timestamp; `None` when no record is that late. Records of an uncompressed batch
    /// are read one by one; a compressed batch answers with its base offset and max timestamp
    /// (the mock does not decompress).
    pub fn offset_for_timestamp(&self, ts: i64) -> Option<(i64, i64)> {
        let b = self.batches.iter().find(|b| b.max_timestamp >= ts)?;
        if !b.compressed {
            if let Some(found) = first_record_at_or_after(&b.bytes, b.base_offset, ts) {
                return Some(found);
            }
        }
        Some((b.base_offset, b.max_timestamp))
    }

    /// The offset and timestamp of the record with the highest timestamp (KIP-734), batch
    /// granularity: the last offset of the batch with the highest max timestamp.
    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        let mut best: Option<&StoredBatch> = None;
        for b in &self.batches {
            if best.is_none_or(|x| b.max_timestamp > x.max_timestamp) {
                best = Some(b);
            }
        }
        best.map(|b| (b.last_offset, b.max_timestamp))
    }
}

/// Sequence numbers wrap from i32::MAX to 0.
fn seq_add(seq: i32, delta: i32) -> i32 {
    let s = i64::from(seq) + i64::from(delta);
    if s > i64::from(i32::MAX) {
        (s - i64::from(i32::MAX) - 1) as i32
    } else {
        s as i32
    }
}

#[cfg(test)]
mod tests;
