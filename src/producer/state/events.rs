//! The state machine's vocabulary: batch ids, stamps, responses, outcomes, decisions and events.

use std::time::Instant;

use crate::producer::Persistence;
use crate::types::{Offset, ProducerEpoch, ProducerId, Sequence, TopicPartition};
use crate::Error;

/// An opaque batch identifier assigned by the caller; unique across the producer's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BatchId(pub u64);

/// The producer id, epoch and base sequence written into a batch's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Producer id (`-1` without idempotence).
    pub producer_id: ProducerId,
    /// Producer epoch (`-1` without idempotence).
    pub producer_epoch: ProducerEpoch,
    /// Sequence of the batch's first record (`-1` without idempotence).
    pub base_sequence: Sequence,
}

impl Stamp {
    /// The stamp of a non-idempotent batch.
    pub const NONE: Stamp = Stamp {
        producer_id: ProducerId::NONE,
        producer_epoch: ProducerEpoch::NONE,
        base_sequence: Sequence::NONE,
    };

    /// Sequence of the last of `record_count` records (wraps at `i32::MAX`).
    pub fn last_sequence(&self, record_count: i32) -> Sequence {
        if self.base_sequence == Sequence::NONE {
            return Sequence::NONE;
        }
        self.base_sequence.add(record_count.saturating_sub(1))
    }
}

/// A successful per-partition produce response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartitionAck {
    /// Offset of the batch's first record.
    pub base_offset: Option<Offset>,
    /// Broker append time in ms when the topic uses `LogAppendTime`.
    pub log_append_time_ms: Option<i64>,
    /// The partition's log start offset.
    pub log_start_offset: Option<Offset>,
}

impl PartitionAck {
    /// Builds an ack from the wire fields, where `-1` means "not given".
    pub fn from_wire(base_offset: i64, log_append_time_ms: i64, log_start_offset: i64) -> Self {
        let some = |v: i64| (v >= 0).then_some(v);
        PartitionAck {
            base_offset: some(base_offset).map(Offset),
            log_append_time_ms: some(log_append_time_ms),
            log_start_offset: some(log_start_offset).map(Offset),
        }
    }
}

/// How a batch ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The broker acknowledged it (including `DUPLICATE_SEQUENCE_NUMBER`: already written).
    Persisted {
        /// Offset of the first record; `None` (Java: `-1`) when acknowledged as a duplicate.
        base_offset: Option<Offset>,
        /// Broker append time in ms, with `LogAppendTime` topics.
        log_append_time_ms: Option<i64>,
        /// The partition's log start offset, when the broker sent it.
        log_start_offset: Option<Offset>,
    },
    /// `acks=0`: the request was written to the socket; the broker never answers, so nothing is
    /// known about persistence (Java reports success with offset `-1`).
    Unacknowledged,
    /// Given up.
    Failed {
        /// Why (a `Timeout` error for `delivery.timeout.ms`, carrying the last attempt's error).
        error: Error,
        /// Whether the records may be in the log anyway: `NotPersisted` or `PossiblyPersisted`,
        /// never `Persisted`.
        persistence: Persistence,
    },
}

/// What the sender may send next on a partition ([`ProducerState::next_sendable`](super::ProducerState::next_sendable)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendDecision {
    /// Send this batch now (call [`ProducerState::mark_sent`](super::ProducerState::mark_sent) to get its stamp).
    Send {
        /// The batch.
        batch_id: BatchId,
        /// Whether it was sent before (a retry keeps its stamp).
        retry: bool,
    },
    /// Something is waiting but may not go yet: until a backoff ends (`Some`) or until a
    /// response, a producer id, or room in the in-flight window arrives (`None`).
    Wait {
        /// When the backoff ends, if that is what blocks.
        until: Option<Instant>,
    },
    /// Nothing to send on this partition.
    Idle,
}

/// An output of the state machine ([`ProducerState::poll_event`](super::ProducerState::poll_event)).
#[derive(Debug, Clone)]
pub enum ProducerEvent {
    /// The batch is finished; hand the outcome to its records' futures.
    Complete {
        /// Its partition.
        partition: TopicPartition,
        /// The batch.
        batch_id: BatchId,
        /// How it ended.
        outcome: Outcome,
    },
    /// The batch will be retried with the same stamp (unless a sequence reset re-stamps it);
    /// [`ProducerState::next_sendable`](super::ProducerState::next_sendable) offers it from `not_before` on.
    Retry {
        /// Its partition.
        partition: TopicPartition,
        /// The batch.
        batch_id: BatchId,
        /// End of the backoff.
        not_before: Instant,
        /// The attempt's error.
        error: Error,
    },
    /// The topic's metadata is stale (leader moved, connection lost): refresh it.
    RefreshMetadata {
        /// The topic.
        topic: String,
    },
    /// Send InitProducerId (no transactional id) from `not_before` on and report the result
    /// to [`ProducerState::on_init_producer_id`](super::ProducerState::on_init_producer_id).
    NeedProducerId {
        /// End of the backoff (equal to "now" for a first attempt).
        not_before: Instant,
    },
    /// The epoch was bumped locally (KIP-360); informational.
    EpochBumped {
        /// The producer id.
        producer_id: ProducerId,
        /// The new epoch.
        epoch: ProducerEpoch,
    },
    /// The producer cannot continue. Emitted once; every batch fails with this error.
    Fatal(Error),
}
