//! One partition's log: record batches stored as the producer sent them, with the base offset
//! and leader epoch written in; the broker's idempotence rules per producer id; retention by
//! bytes.

mod txn;

pub(crate) use txn::TRANSACTIONAL;

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

/// Byte positions in a v2 record batch header (Kafka's `DefaultRecordBatch`).
mod at {
    pub const BASE_OFFSET: usize = 0;
    pub const LENGTH: usize = 8;
    pub const LEADER_EPOCH: usize = 12;
    pub const MAGIC: usize = 16;
    pub const CRC: usize = 17;
    pub const ATTRIBUTES: usize = 21;
    pub const LAST_OFFSET_DELTA: usize = 23;
    pub const BASE_TIMESTAMP: usize = 27;
    pub const MAX_TIMESTAMP: usize = 35;
    pub const PRODUCER_ID: usize = 43;
    pub const PRODUCER_EPOCH: usize = 51;
    pub const BASE_SEQUENCE: usize = 53;
    pub const RECORD_COUNT: usize = 57;
    pub const RECORDS: usize = 61;
}

/// A batch's header fields the broker reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchHeader {
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

impl BatchHeader {
    /// Compression codec id (attribute bits 0-2).
    pub fn compression(&self) -> i16 {
        self.attributes & 0x07
    }
}

fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(x)
}

/// Splits a produce request's records into v2 batches, checking each one's framing, magic and
/// CRC-32C the way the broker's `LogValidator` does. An error is the partition's error code.
pub(crate) fn split_batches(records: &Bytes) -> Result<Vec<(BatchHeader, Bytes)>, i16> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < records.len() {
        let rest = &records[pos..];
        if rest.len() < at::RECORDS {
            return Err(code::CORRUPT_MESSAGE);
        }
        let length = i32_at(rest, at::LENGTH);
        // batchLength counts the bytes after itself.
        let total = match usize::try_from(length) {
            Ok(l) if l >= at::RECORDS - 12 => l + 12,
            _ => return Err(code::CORRUPT_MESSAGE),
        };
        if total > rest.len() {
            return Err(code::CORRUPT_MESSAGE);
        }
        if rest[at::MAGIC] != 2 {
            // Message formats v0/v1 are gone since Kafka 4.0 (KIP-896).
            return Err(code::UNSUPPORTED_VERSION);
        }
        let crc = u32::from_be_bytes([
            rest[at::CRC],
            rest[at::CRC + 1],
            rest[at::CRC + 2],
            rest[at::CRC + 3],
        ]);
        if crc32c::crc32c(&rest[at::ATTRIBUTES..total]) != crc {
            return Err(code::CORRUPT_MESSAGE);
        }
        let header = BatchHeader {
            attributes: i16_at(rest, at::ATTRIBUTES),
            last_offset_delta: i32_at(rest, at::LAST_OFFSET_DELTA),
            base_timestamp: i64_at(rest, at::BASE_TIMESTAMP),
            max_timestamp: i64_at(rest, at::MAX_TIMESTAMP),
            producer_id: i64_at(rest, at::PRODUCER_ID),
            producer_epoch: i16_at(rest, at::PRODUCER_EPOCH),
            base_sequence: i32_at(rest, at::BASE_SEQUENCE),
            record_count: i32_at(rest, at::RECORD_COUNT),
        };
        if header.record_count <= 0 || header.last_offset_delta != header.record_count - 1 {
            return Err(code::INVALID_RECORD);
        }
        out.push((header, records.slice(pos..pos + total)));
        pos += total;
    }
    if out.is_empty() {
        return Err(code::INVALID_RECORD);
    }
    Ok(out)
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

/// Reads an uncompressed batch's records (varint-framed) for the first with timestamp ≥ `ts`.
fn first_record_at_or_after(batch: &[u8], base_offset: i64, ts: i64) -> Option<(i64, i64)> {
    let base_ts = i64_at(batch, at::BASE_TIMESTAMP);
    let mut pos = at::RECORDS;
    while pos < batch.len() {
        let (len, n) = varint(&batch[pos..])?;
        let body_start = pos + n;
        let body_end = body_start.checked_add(usize::try_from(len).ok()?)?;
        let body = batch.get(body_start..body_end)?;
        // attributes (1 byte), timestampDelta (varlong), offsetDelta (varint), ...
        let (ts_delta, n1) = varint(body.get(1..)?)?;
        let (offset_delta, _) = varint(body.get(1 + n1..)?)?;
        let record_ts = base_ts + ts_delta;
        if record_ts >= ts {
            return Some((base_offset + offset_delta, record_ts));
        }
        pos = body_end;
    }
    None
}

/// A zig-zag varint (up to 64 bits) and the bytes it took.
fn varint(b: &[u8]) -> Option<(i64, usize)> {
    let mut raw: u64 = 0;
    for (i, byte) in b.iter().take(10).enumerate() {
        raw |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let v = ((raw >> 1) as i64) ^ -((raw & 1) as i64);
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;

    fn put_varint(buf: &mut BytesMut, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            if z < 0x80 {
                buf.put_u8(z as u8);
                return;
            }
            buf.put_u8((z as u8 & 0x7f) | 0x80);
            z >>= 7;
        }
    }

    /// An uncompressed v2 batch of `count` records with timestamps `ts0 + i`.
    fn batch(pid: i64, epoch: i16, seq: i32, count: i32, ts0: i64) -> Bytes {
        let mut records = BytesMut::new();
        for i in 0..count {
            let mut body = BytesMut::new();
            body.put_u8(0); // attributes
            put_varint(&mut body, i64::from(i)); // timestamp delta
            put_varint(&mut body, i64::from(i)); // offset delta
            put_varint(&mut body, -1); // null key
            put_varint(&mut body, 1); // value length
            body.put_u8(b'x');
            put_varint(&mut body, 0); // headers
            put_varint(&mut records, body.len() as i64);
            records.extend_from_slice(&body);
        }
        let mut b = BytesMut::new();
        b.put_i64(0);
        b.put_i32(0); // length, set below
        b.put_i32(-1);
        b.put_i8(2);
        b.put_u32(0); // crc, set below
        b.put_i16(0);
        b.put_i32(count - 1);
        b.put_i64(ts0);
        b.put_i64(ts0 + i64::from(count) - 1);
        b.put_i64(pid);
        b.put_i16(epoch);
        b.put_i32(seq);
        b.put_i32(count);
        b.extend_from_slice(&records);
        let len = (b.len() - 12) as i32;
        b[8..12].copy_from_slice(&len.to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b.freeze()
    }

    fn append(log: &mut PartitionLog, b: Bytes) -> Result<Appended, i16> {
        log.append(split_batches(&b)?, 0)
    }

    #[test]
    fn offsets_are_assigned_and_written_into_the_batch() {
        let mut log = PartitionLog::new();
        assert_eq!(
            append(&mut log, batch(-1, -1, -1, 3, 100)),
            Ok(Appended::New(0))
        );
        assert_eq!(
            append(&mut log, batch(-1, -1, -1, 2, 200)),
            Ok(Appended::New(3))
        );
        assert_eq!(log.log_end(), 5);
        let read = log.read(3, 1 << 20).expect("in range");
        assert_eq!(read.len(), 1);
        assert_eq!(i64_at(&read[0], 0), 3, "base offset rewritten");
        // The rewritten batch still passes its CRC (offset and epoch are outside it).
        assert!(split_batches(&read[0]).is_ok());
        assert_eq!(log.read(6, 100), Err(code::OFFSET_OUT_OF_RANGE));
        assert_eq!(log.read(5, 100), Ok(vec![]), "at the log end: nothing yet");
    }

    #[test]
    fn a_corrupted_batch_is_refused() {
        let mut b = BytesMut::from(&batch(-1, -1, -1, 2, 0)[..]);
        let last = b.len() - 1;
        b[last] ^= 0xff;
        assert_eq!(
            split_batches(&b.freeze()).err(),
            Some(code::CORRUPT_MESSAGE)
        );
        let short = batch(-1, -1, -1, 2, 0).slice(..40);
        assert_eq!(split_batches(&short).err(), Some(code::CORRUPT_MESSAGE));
    }

    #[test]
    fn idempotence_duplicates_gaps_and_epochs() {
        let mut log = PartitionLog::new();
        assert_eq!(append(&mut log, batch(7, 0, 0, 2, 0)), Ok(Appended::New(0)));
        assert_eq!(append(&mut log, batch(7, 0, 2, 2, 0)), Ok(Appended::New(2)));
        // A retry of the first batch: its original offset, nothing written.
        assert_eq!(
            append(&mut log, batch(7, 0, 0, 2, 0)),
            Ok(Appended::Duplicate(0))
        );
        assert_eq!(log.log_end(), 4);
        // A gap.
        assert_eq!(
            append(&mut log, batch(7, 0, 5, 1, 0)),
            Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
        // A newer epoch restarts at 0; an older one is fenced.
        assert_eq!(
            append(&mut log, batch(7, 1, 3, 1, 0)),
            Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
        assert_eq!(append(&mut log, batch(7, 1, 0, 1, 0)), Ok(Appended::New(4)));
        assert_eq!(
            append(&mut log, batch(7, 0, 4, 1, 0)),
            Err(code::INVALID_PRODUCER_EPOCH)
        );
        // Another producer is independent; an unknown producer may start anywhere.
        assert_eq!(
            append(&mut log, batch(8, 0, 42, 1, 0)),
            Ok(Appended::New(5))
        );
    }

    #[test]
    fn only_the_last_five_batches_are_remembered() {
        let mut log = PartitionLog::new();
        for i in 0..6 {
            assert_eq!(
                append(&mut log, batch(1, 0, i, 1, 0)),
                Ok(Appended::New(i64::from(i)))
            );
        }
        assert_eq!(
            append(&mut log, batch(1, 0, 5, 1, 0)),
            Ok(Appended::Duplicate(5))
        );
        assert_eq!(
            append(&mut log, batch(1, 0, 1, 1, 0)),
            Ok(Appended::Duplicate(1))
        );
        // Batch 0 has been forgotten: it is neither a duplicate nor the next sequence.
        assert_eq!(
            append(&mut log, batch(1, 0, 0, 1, 0)),
            Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
    }

    #[test]
    fn retention_drops_the_oldest_batches_and_moves_the_log_start() {
        let mut log = PartitionLog::new();
        for _ in 0..10 {
            append(&mut log, batch(-1, -1, -1, 10, 0)).expect("append");
        }
        let one = batch(-1, -1, -1, 10, 0).len() as u64;
        log.enforce_retention(3 * one);
        assert_eq!(log.log_start(), 70);
        assert_eq!(log.log_end(), 100);
        assert_eq!(log.read(0, 100), Err(code::OFFSET_OUT_OF_RANGE));
        log.enforce_retention(0);
        assert_eq!(log.log_start(), 90, "the last batch stays");
    }

    #[test]
    fn offsets_by_timestamp() {
        let mut log = PartitionLog::new();
        append(&mut log, batch(-1, -1, -1, 5, 1000)).expect("append"); // 1000..1004
        append(&mut log, batch(-1, -1, -1, 5, 2000)).expect("append"); // 2000..2004
        assert_eq!(log.offset_for_timestamp(0), Some((0, 1000)));
        assert_eq!(log.offset_for_timestamp(1003), Some((3, 1003)));
        assert_eq!(log.offset_for_timestamp(1500), Some((5, 2000)));
        assert_eq!(log.offset_for_timestamp(2004), Some((9, 2004)));
        assert_eq!(log.offset_for_timestamp(2005), None);
        assert_eq!(log.max_timestamp(), Some((9, 2004)));
    }

    #[test]
    fn reads_stop_at_max_bytes_but_return_one_batch() {
        let mut log = PartitionLog::new();
        for _ in 0..4 {
            append(&mut log, batch(-1, -1, -1, 10, 0)).expect("append");
        }
        let one = batch(-1, -1, -1, 10, 0).len();
        assert_eq!(
            log.read(0, 1).expect("read").len(),
            1,
            "KIP-74: one batch at least"
        );
        assert_eq!(log.read(0, 2 * one + 1).expect("read").len(), 2);
        assert_eq!(
            log.read(15, 1 << 20).expect("read").len(),
            3,
            "from the batch holding 15"
        );
    }

    #[test]
    fn delete_records_moves_the_log_start() {
        let mut log = PartitionLog::new();
        for _ in 0..3 {
            append(&mut log, batch(-1, -1, -1, 10, 0)).expect("append");
        }
        assert_eq!(log.delete_records(15), Ok(15));
        assert_eq!(log.read(14, 1 << 20), Err(code::OFFSET_OUT_OF_RANGE));
        let from = log.read(15, 1 << 20).expect("read");
        assert_eq!(
            i64_at(&from[0], 0),
            10,
            "the batch holding 15 is still served"
        );
        assert_eq!(log.delete_records(5), Ok(15), "never moves back");
        assert_eq!(log.delete_records(31), Err(code::OFFSET_OUT_OF_RANGE));
        assert_eq!(
            log.delete_records(-1),
            Ok(30),
            "-1: up to the high watermark"
        );
        assert_eq!(log.read(30, 100), Ok(vec![]));
    }
}
