//! [`ProducerBatch`]: the records queued for one partition, and their share of `buffer.memory`.

use super::record::Header;
use bytes::Bytes;
use std::fmt;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// One record in a batch, with the caller's completion handle.
#[derive(Debug)]
#[non_exhaustive]
pub struct BatchRecord<T> {
    /// Key.
    pub key: Option<Bytes>,
    /// Value.
    pub value: Option<Bytes>,
    /// Headers.
    pub headers: Vec<Header>,
    /// Create timestamp (ms since the epoch), resolved at append.
    pub timestamp: i64,
    /// What the caller attached (e.g. a oneshot sender for the delivery report).
    pub completion: T,
}

/// A batch of records for one partition. Holds its share of `buffer.memory` until dropped or
/// turned into its records with [`into_records`](Self::into_records).
pub struct ProducerBatch<T> {
    pub(super) topic: Arc<str>,
    pub(super) partition: i32,
    pub(super) records: Vec<BatchRecord<T>>,
    pub(super) base_timestamp: i64,
    pub(super) max_timestamp: i64,
    /// Encoded size, header included.
    pub(super) size: usize,
    /// Takes no more records.
    pub(super) full: bool,
    pub(super) created: Instant,
    pub(super) memory: Reservation,
}

impl<T> fmt::Debug for ProducerBatch<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProducerBatch")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("records", &self.records.len())
            .field("size", &self.size)
            .field("full", &self.full)
            .finish_non_exhaustive()
    }
}

impl<T> ProducerBatch<T> {
    /// Topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The topic's shared name (a reference count, not a copy).
    pub(crate) fn topic_name(&self) -> Arc<str> {
        self.topic.clone()
    }
    /// Partition.
    pub fn partition(&self) -> i32 {
        self.partition
    }
    /// The records, in offset-delta order.
    pub fn records(&self) -> &[BatchRecord<T>] {
        &self.records
    }
    /// Number of records.
    pub fn record_count(&self) -> usize {
        self.records.len()
    }
    /// Encoded size of the batch, uncompressed, header included (exact for the v2 format).
    pub fn estimated_size(&self) -> usize {
        self.size
    }
    /// The first record's timestamp (the batch's `baseTimestamp`).
    pub fn base_timestamp(&self) -> i64 {
        self.base_timestamp
    }
    /// The largest record timestamp (the batch's `maxTimestamp` with CreateTime).
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }
    /// When the batch was opened (its first append); `delivery.timeout.ms` counts from here.
    pub fn created(&self) -> Instant {
        self.created
    }
    /// Whether the batch took no more records (`batch.size` reached or a record did not fit).
    pub fn is_full(&self) -> bool {
        self.full
    }
    /// Bytes of `buffer.memory` the batch holds.
    pub fn reserved_memory(&self) -> usize {
        self.memory.bytes
    }
    /// The records with their completion handles, releasing the batch's `buffer.memory`. Hand
    /// the emptied vector back with
    /// [`Accumulator::recycle`](super::accumulator::Accumulator::recycle) to reuse its capacity.
    pub fn into_records(self) -> Vec<BatchRecord<T>> {
        self.records
    }
}

/// A batch's share of `buffer.memory`: each record's bytes are taken from the accumulator's
/// semaphore as it is appended (and `forget`-ed there: one atomic operation, no permit object
/// per record), and the batch's total goes back in one `add_permits` when the batch is dropped.
pub(crate) struct Reservation {
    pool: Arc<Semaphore>,
    bytes: usize,
}

impl Reservation {
    /// Nothing reserved yet, from `pool`.
    pub(super) fn new(pool: Arc<Semaphore>) -> Reservation {
        Reservation { pool, bytes: 0 }
    }

    /// Takes over `permit` (taken from the same pool).
    pub(super) fn absorb(&mut self, permit: tokio::sync::SemaphorePermit<'_>) {
        self.bytes += permit.num_permits();
        permit.forget();
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.pool.add_permits(self.bytes);
        }
    }
}
