//! Transactions in one partition log: where each ongoing transaction starts (the last stable
//! offset is the earliest of them), the aborted ones (for read_committed fetches), and the
//! control batches (COMMIT / ABORT markers) the coordinator writes when a transaction ends.

use super::{at, PartitionLog, StoredBatch};
use bytes::{BufMut, BytesMut};
use std::collections::BTreeMap;

/// Attribute bits of a v2 batch: transactional (4) and control (5).
pub(crate) const TRANSACTIONAL: i16 = 0x10;
const CONTROL: i16 = 0x20;

/// The transactions a partition knows of.
#[derive(Debug, Default)]
pub(crate) struct TxnIndex {
    /// Producer id → the first offset of its ongoing transaction on this partition.
    ongoing: BTreeMap<i64, i64>,
    /// Aborted transactions: (producer id, first offset, offset of the ABORT marker).
    aborted: Vec<(i64, i64, i64)>,
}

impl TxnIndex {
    /// A transactional batch of `producer_id` was written at `base`.
    pub(super) fn appended(&mut self, producer_id: i64, base: i64) {
        self.ongoing.entry(producer_id).or_insert(base);
    }

    /// Forgets aborted transactions wholly below the log start (retention, DeleteRecords).
    pub(super) fn trim(&mut self, log_start: i64) {
        self.aborted.retain(|a| a.2 >= log_start);
    }
}

impl PartitionLog {
    /// The last stable offset: the first offset of the earliest ongoing transaction, else the
    /// high watermark.
    pub fn last_stable_offset(&self) -> i64 {
        self.txn
            .ongoing
            .values()
            .min()
            .copied()
            .unwrap_or(self.log_end)
    }

    /// (producer id, first offset) of the aborted transactions whose markers are at or after
    /// `from` and which start below `upto`: what a read_committed fetch from `from` must skip.
    pub fn aborted_between(&self, from: i64, upto: i64) -> Vec<(i64, i64)> {
        self.txn
            .aborted
            .iter()
            .filter(|(_, first, marker)| *marker >= from && *first < upto)
            .map(|(pid, first, _)| (*pid, *first))
            .collect()
    }

    /// Writes a COMMIT (`commit`) or ABORT marker of `producer_id` at `epoch`: a control batch
    /// of one record (key: version 0, type 1 commit / 0 abort; value: version 0, coordinator
    /// epoch), base sequence -1. Returns the marker's offset.
    pub fn write_marker(
        &mut self,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
        leader_epoch: i32,
        now_ms: i64,
    ) -> i64 {
        let offset = self.log_end;
        let bytes = control_batch(
            offset,
            leader_epoch,
            producer_id,
            epoch,
            commit,
            coordinator_epoch,
            now_ms,
        );
        self.bytes += bytes.len();
        self.batches.push_back(StoredBatch {
            base_offset: offset,
            last_offset: offset,
            max_timestamp: now_ms,
            bytes: bytes.freeze(),
            compressed: false,
        });
        self.log_end = offset + 1;
        // A marker at a newer epoch (a fenced or expired transaction) moves the producer there:
        // batches of the older epoch are refused from now on.
        let entry = self.producers.entry(producer_id).or_default();
        if entry.epoch < epoch {
            entry.epoch = epoch;
            entry.batches.clear();
        }
        if let Some(first) = self.txn.ongoing.remove(&producer_id) {
            if !commit {
                self.txn.aborted.push((producer_id, first, offset));
            }
        }
        offset
    }
}

/// A v2 control batch holding one marker record, CRC-32C set.
fn control_batch(
    offset: i64,
    leader_epoch: i32,
    producer_id: i64,
    epoch: i16,
    commit: bool,
    coordinator_epoch: i32,
    now_ms: i64,
) -> BytesMut {
    let mut record = BytesMut::new();
    record.put_u8(0); // attributes
    record.put_u8(0); // timestamp delta 0 (zig-zag varint)
    record.put_u8(0); // offset delta 0
    record.put_u8(8); // key length 4 (zig-zag)
    record.put_i16(0); // key version
    record.put_i16(i16::from(commit)); // 0 ABORT, 1 COMMIT
    record.put_u8(12); // value length 6 (zig-zag)
    record.put_i16(0); // value version
    record.put_i32(coordinator_epoch);
    record.put_u8(0); // no headers
    let mut b = BytesMut::with_capacity(at::RECORDS + 1 + record.len());
    b.put_i64(offset);
    b.put_i32(0); // length, set below
    b.put_i32(leader_epoch);
    b.put_i8(2);
    b.put_u32(0); // crc, set below
    b.put_i16(TRANSACTIONAL | CONTROL);
    b.put_i32(0); // last offset delta
    b.put_i64(now_ms);
    b.put_i64(now_ms);
    b.put_i64(producer_id);
    b.put_i16(epoch);
    b.put_i32(-1); // base sequence
    b.put_i32(1); // record count
    b.put_u8((record.len() as u8) << 1); // record length (zig-zag varint, < 64)
    b.extend_from_slice(&record);
    let len = (b.len() - 12) as i32;
    b[at::LENGTH..at::LENGTH + 4].copy_from_slice(&len.to_be_bytes());
    let crc = crc32c::crc32c(&b[at::ATTRIBUTES..]);
    b[at::CRC..at::CRC + 4].copy_from_slice(&crc.to_be_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::super::split_batches;
    use super::*;

    #[test]
    fn a_marker_is_a_valid_control_batch_and_moves_the_lso() {
        let mut log = PartitionLog::new();
        log.txn.appended(7, 0);
        log.log_end = 3;
        assert_eq!(log.last_stable_offset(), 0);
        let at = log.write_marker(7, 2, false, 0, 5, 1000);
        assert_eq!(at, 3);
        assert_eq!(log.last_stable_offset(), 4);
        assert_eq!(log.aborted_between(0, 4), vec![(7, 0)]);
        assert_eq!(log.aborted_between(4, 10), vec![]);
        let read = log.read(3, 1 << 20).expect("in range");
        let batches = split_batches(&read[0]).expect("CRC and framing valid");
        let h = batches[0].0;
        assert_eq!(h.attributes, 0x30);
        assert_eq!((h.producer_id, h.producer_epoch, h.record_count), (7, 2, 1));
        // The record: key [0,0,0,0] (ABORT), value [0,0, coordinator epoch 0].
        assert_eq!(&read[0][at::RECORDS + 5..at::RECORDS + 9], &[0, 0, 0, 0]);
    }
}
