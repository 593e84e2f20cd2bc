//! What tests can read of the cluster's state besides the wire: the batches a partition holds
//! (with the producer id, epoch and sequence each was written with, as a broker's
//! `kafka-dump-log` shows them) and the producer a transactional id stands at.

use crate::log::{split_batches, TRANSACTIONAL};
use crate::server::Shared;

/// Attribute bit 5 of a v2 batch: a control batch (transaction marker).
const CONTROL: i16 = 0x20;

/// One record batch of a partition log, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchInfo {
    /// Offset of the batch's first record.
    pub base_offset: i64,
    /// Offset of its last record.
    pub last_offset: i64,
    /// The producer id it was written with (-1: not idempotent).
    pub producer_id: i64,
    /// The producer epoch it was written with.
    pub producer_epoch: i16,
    /// The sequence number of its first record (-1 for markers and non-idempotent batches).
    pub base_sequence: i32,
    /// Records in the batch.
    pub record_count: i32,
    /// Written in a transaction (markers too).
    pub transactional: bool,
    /// A control batch: a COMMIT or ABORT marker.
    pub control: bool,
}

/// The batches of `topic`-`partition` from its log start offset, `None` if there is no such
/// partition.
pub(crate) fn batches(shared: &Shared, topic: &str, partition: i32) -> Option<Vec<BatchInfo>> {
    let mut state = shared.lock();
    let log = &state.partition_mut(topic, partition).ok()?.log;
    let chunks = log.read_below(log.log_start(), usize::MAX, i64::MAX).ok()?;
    let mut out = Vec::new();
    for chunk in chunks {
        // Stored batches passed the same checks when they were produced.
        for (h, bytes) in split_batches(&chunk).ok()? {
            let base_offset = bytes
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .map_or(-1, i64::from_be_bytes);
            out.push(BatchInfo {
                base_offset,
                last_offset: base_offset + i64::from(h.last_offset_delta),
                producer_id: h.producer_id,
                producer_epoch: h.producer_epoch,
                base_sequence: h.base_sequence,
                record_count: h.record_count,
                transactional: h.attributes & TRANSACTIONAL != 0,
                control: h.attributes & CONTROL != 0,
            });
        }
    }
    Some(out)
}

/// The producer id and epoch the coordinator holds for `transactional_id` (what the next
/// transaction must be written with), `None` if the id is unknown.
pub(crate) fn transaction_producer(shared: &Shared, transactional_id: &str) -> Option<(i64, i16)> {
    let state = shared.lock();
    let t = state.txns.get(transactional_id)?;
    Some((t.producer_id, t.epoch))
}
