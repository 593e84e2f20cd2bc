//! Per-partition bookkeeping: the batches waiting to go out, the stamped batches not yet
//! acknowledged (in sequence order), the next sequence, and whether the partition's sequences are
//! known to match the broker's.

use std::collections::VecDeque;
use std::time::Instant;

use super::events::{BatchId, SendDecision, Stamp};
use super::identity::ProducerIdAndEpoch;
use crate::types::{Offset, Sequence};
use crate::Error;

/// Whether the partition's sequence numbers are known to line up with the broker's (KIP-360).
///
/// "Position" below is a batch's stamping position on the partition: 0 for the first batch ever
/// stamped, 1 for the next, and so on (it never wraps, unlike sequences).
///
/// ```text
///            a stamped batch fails and may have been written
///   InSync ───────────────────────────────────────────────────► Unresolved { last_unknown }
///     ▲ │                                                          │   │
///     │ │ a stamped batch fails and was certainly not written;     │   │ a batch stamped after the
///     │ │ OUT_OF_ORDER_SEQUENCE_NUMBER / UNKNOWN_PRODUCER_ID       │   │ unknown one is acknowledged
///     │ │ on the oldest unacknowledged batch                       │   │ (so the unknown one was written)
///     │ ▼                                                          │   ▼
///     │ NeedsReset { from } ◄──── the batch right after the ───────┘  InSync
///     │         │                 unknown one is rejected as out of order,
///     │         │                 or no stamped batch is left to tell
///     │         │
///     └─────────┘ no request outstanding and every batch before `from` resolved:
///                 bump the epoch (if this partition used the current one), re-stamp the
///                 unacknowledged batches from sequence 0 in their original order
/// ```
///
/// While `Unresolved`, no new batch is stamped (its sequence could not be trusted); stamped ones
/// keep retrying in order. While `NeedsReset`, only batches before `from` are retried (their
/// sequences are still valid); the rest wait to be re-stamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionSync {
    /// The broker's last sequence for this producer is the last acknowledged one, or will be
    /// once the outstanding batches land.
    InSync,
    /// A batch failed after it may have been written: whether its sequences are in the log is
    /// unknown until a later batch is acknowledged or rejected.
    Unresolved {
        /// Position of the latest batch whose fate is unknown.
        last_unknown: u64,
    },
    /// The sequences from position `from` on are known not to be in the log and must be
    /// re-stamped under a new epoch before they are sent again.
    NeedsReset {
        /// First position known not written.
        from: u64,
    },
}

/// Where a stamped batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// A request carrying it is on its way; its response is awaited.
    Outstanding,
    /// The last attempt failed; it may be sent again from `not_before`.
    AwaitingRetry { not_before: Instant },
}

/// A batch registered with [`enqueue`](super::ProducerState::enqueue) and not yet sent.
#[derive(Debug, Clone)]
pub(super) struct QueuedBatch {
    pub(super) id: BatchId,
    pub(super) record_count: i32,
    pub(super) created_at: Instant,
}

/// A batch that has been sent at least once and is not resolved yet.
#[derive(Debug, Clone)]
pub(super) struct StampedBatch {
    pub(super) id: BatchId,
    pub(super) record_count: i32,
    pub(super) created_at: Instant,
    pub(super) stamp: Stamp,
    pub(super) position: u64,
    pub(super) phase: Phase,
    /// Failed attempts so far; the backoff exponent.
    pub(super) failed_attempts: u32,
    /// Sticky: some attempt ended without the broker saying it was rejected (a timeout, a
    /// connection lost after writing, `REQUEST_TIMED_OUT`, `NOT_ENOUGH_REPLICAS_AFTER_APPEND`).
    pub(super) possibly_written: bool,
    /// The error of the last failed attempt, for the delivery-timeout error's detail.
    pub(super) last_error: Option<Error>,
}

/// The last acknowledged batch of a partition under its current stamping identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastAck {
    /// Its last sequence (`Sequence::NONE` for non-idempotent batches).
    pub last_sequence: Sequence,
    /// Its base offset, `None` when unknown (acknowledged as a duplicate, or `acks=0`).
    pub base_offset: Option<Offset>,
}

/// One partition's producer state. Read it with [`ProducerState::partition`](super::ProducerState::partition).
#[derive(Debug, Clone)]
pub struct PartitionState {
    /// Registered, never sent, in arrival order. Not stamped yet: a sequence is assigned only
    /// when a batch first goes out, so a batch that expires here leaves no hole.
    pub(super) queued: VecDeque<QueuedBatch>,
    /// Stamped and not resolved, in stamping (= sequence) order.
    pub(super) unacked: VecDeque<StampedBatch>,
    /// Sequence the next new batch gets under `stamped_with`.
    pub(super) next_sequence: Sequence,
    /// Identity the sequences in `unacked` and `next_sequence` belong to.
    pub(super) stamped_with: Option<ProducerIdAndEpoch>,
    pub(super) next_position: u64,
    pub(super) last_ack: Option<LastAck>,
    /// Position of `last_ack`: a late duplicate acknowledgement of an older batch must not move
    /// it back.
    pub(super) last_ack_position: Option<u64>,
    pub(super) sync: PartitionSync,
}

/// What the send-decision needs to know about the producer as a whole.
pub(super) struct DecideContext {
    pub(super) idempotent: bool,
    pub(super) max_in_flight: usize,
    /// `None` for an idempotent producer without a usable id (initializing or fatal).
    pub(super) current: Option<ProducerIdAndEpoch>,
    pub(super) first_batch_alone: bool,
}

impl PartitionState {
    pub(super) fn new() -> PartitionState {
        PartitionState {
            queued: VecDeque::new(),
            unacked: VecDeque::new(),
            next_sequence: Sequence(0),
            stamped_with: None,
            next_position: 0,
            last_ack: None,
            last_ack_position: None,
            sync: PartitionSync::InSync,
        }
    }

    /// Sequence the next new batch would get (under the identity the partition uses now).
    pub fn next_sequence(&self) -> Sequence {
        self.next_sequence
    }

    /// The last acknowledged batch since the partition's sequences were last reset.
    pub fn last_ack(&self) -> Option<LastAck> {
        self.last_ack
    }

    /// Whether the sequences line up with the broker's; see [`PartitionSync`].
    pub fn sync(&self) -> PartitionSync {
        self.sync
    }

    /// Batches registered and never sent.
    pub fn queued_count(&self) -> usize {
        self.queued.len()
    }

    /// Batches sent and not resolved (outstanding or awaiting a retry). Never more than
    /// `max_in_flight`.
    pub fn unacked_count(&self) -> usize {
        self.unacked.len()
    }

    /// Batches whose request is outstanding (sent, response awaited).
    pub fn outstanding_count(&self) -> usize {
        self.unacked
            .iter()
            .filter(|b| b.phase == Phase::Outstanding)
            .count()
    }

    /// Whether nothing is queued or unresolved.
    pub fn is_empty(&self) -> bool {
        self.queued.is_empty() && self.unacked.is_empty()
    }

    /// The stamp of an unresolved batch.
    pub fn stamp_of(&self, batch_id: BatchId) -> Option<Stamp> {
        self.unacked
            .iter()
            .find(|b| b.id == batch_id)
            .map(|b| b.stamp)
    }

    /// The earliest instant something here may change on its own: a retry backoff ending or a
    /// delivery deadline passing.
    pub(super) fn next_timer(&self, delivery_timeout: std::time::Duration) -> Option<Instant> {
        let queued = self.queued.front().map(|q| q.created_at + delivery_timeout);
        let stamped = self.unacked.iter().filter_map(|b| match b.phase {
            Phase::AwaitingRetry { not_before } => {
                Some(not_before.min(b.created_at + delivery_timeout))
            }
            Phase::Outstanding => None,
        });
        queued.into_iter().chain(stamped).min()
    }

    /// Which batch may be sent now. Rules:
    /// 1. A batch awaiting a retry goes before any new batch. With idempotence it must be the
    ///    oldest unresolved batch (Java: "retry in order"): a later one waits while an earlier one
    ///    is outstanding, because the earlier one's fate decides whether the later sequences
    ///    are valid. This reduces the partition to one request at a time until it catches up.
    /// 2. A new batch goes out only if fewer than `max_in_flight` batches are unresolved, the
    ///    sequences are in sync, and (idempotence) no batch stamped under an older epoch is
    ///    unresolved — a batch at sequence 0 of a new epoch must not overtake them.
    pub(super) fn decide(&self, ctx: &DecideContext, now: Instant) -> SendDecision {
        let has_work = !self.is_empty();
        if ctx.idempotent && ctx.current.is_none() {
            return if has_work {
                SendDecision::Wait { until: None }
            } else {
                SendDecision::Idle
            };
        }
        let reset_from = match self.sync {
            PartitionSync::NeedsReset { from } => Some(from),
            _ => None,
        };
        let first_retry = self
            .unacked
            .iter()
            .enumerate()
            .find_map(|(i, b)| match b.phase {
                Phase::AwaitingRetry { not_before } => Some((i, b, not_before)),
                Phase::Outstanding => None,
            });
        if let Some((index, batch, not_before)) = first_retry {
            if ctx.idempotent && index != 0 {
                return SendDecision::Wait { until: None };
            }
            if reset_from.is_some_and(|from| batch.position >= from) {
                return SendDecision::Wait { until: None };
            }
            return if not_before <= now {
                SendDecision::Send {
                    batch_id: batch.id,
                    retry: true,
                }
            } else {
                SendDecision::Wait {
                    until: Some(not_before),
                }
            };
        }
        let Some(next) = self.queued.front() else {
            return SendDecision::Idle;
        };
        if self.unacked.len() >= ctx.max_in_flight {
            return SendDecision::Wait { until: None };
        }
        if ctx.idempotent {
            let stale = self.stamped_with != ctx.current && !self.unacked.is_empty();
            if self.sync != PartitionSync::InSync || stale {
                return SendDecision::Wait { until: None };
            }
            // Until the broker has acknowledged one batch of this producer id and epoch on the
            // partition, keep a single batch in flight: a broker with no state for the producer
            // accepts the first batch it sees whatever its sequence (ProducerAppendInfo's
            // checkSequence), so a later batch overtaking the first one (a reconnect, a retry)
            // would be written and the first one rejected as out of order.
            if ctx.first_batch_alone && self.last_ack.is_none() && !self.unacked.is_empty() {
                return SendDecision::Wait { until: None };
            }
        }
        SendDecision::Send {
            batch_id: next.id,
            retry: false,
        }
    }

    /// Whether the pending sequence reset can run now: no request outstanding and every batch
    /// stamped before `from` resolved.
    pub(super) fn reset_ready(&self) -> bool {
        match self.sync {
            PartitionSync::NeedsReset { from } => self
                .unacked
                .iter()
                .all(|b| b.phase != Phase::Outstanding && b.position >= from),
            _ => false,
        }
    }

    /// Re-stamps every unresolved batch from sequence 0 under `identity`, in the original order,
    /// and starts the partition's sequences over. Only called when [`reset_ready`](Self::reset_ready),
    /// so no request carrying an old stamp is outstanding and none of the re-stamped batches can
    /// be in the log under its old stamp.
    pub(super) fn restamp(&mut self, identity: ProducerIdAndEpoch) {
        let mut sequence = Sequence(0);
        for batch in &mut self.unacked {
            batch.stamp = Stamp {
                producer_id: identity.producer_id,
                producer_epoch: identity.epoch,
                base_sequence: sequence,
            };
            sequence = sequence.add(batch.record_count);
        }
        self.next_sequence = sequence;
        self.stamped_with = Some(identity);
        self.last_ack = None;
        self.last_ack_position = None;
        self.sync = PartitionSync::InSync;
    }

    /// Records that the stamped batch at `position` failed. If it may have been written its
    /// sequences are unresolved; otherwise they are a hole, and everything stamped after it
    /// cannot be in the log (the broker rejects a sequence gap), so the partition needs a reset.
    pub(super) fn note_failed(&mut self, position: u64, possibly_written: bool) {
        self.sync = match (self.sync, possibly_written) {
            (PartitionSync::NeedsReset { from }, _) => PartitionSync::NeedsReset { from },
            (PartitionSync::InSync, true) => PartitionSync::Unresolved {
                last_unknown: position,
            },
            (PartitionSync::Unresolved { last_unknown }, true) => PartitionSync::Unresolved {
                last_unknown: last_unknown.max(position),
            },
            (_, false) => PartitionSync::NeedsReset { from: position },
        };
    }

    /// Records that the broker rejected the batch at `position` as out of order (or did not
    /// know the producer). For the oldest unresolved batch this proves a gap before it.
    pub(super) fn note_sequence_error(&mut self, position: u64, is_oldest: bool) {
        if !is_oldest {
            // An earlier batch is still unresolved; if it lands, this one's sequence is right.
            return;
        }
        self.sync = match self.sync {
            PartitionSync::NeedsReset { from } => PartitionSync::NeedsReset {
                from: from.min(position),
            },
            _ => PartitionSync::NeedsReset { from: position },
        };
    }

    /// Records an acknowledgement of the batch at `position`.
    pub(super) fn note_acked(&mut self, position: u64, ack: LastAck) {
        if self.last_ack_position.is_none_or(|p| position > p) {
            self.last_ack = Some(ack);
            self.last_ack_position = Some(position);
        }
        if let PartitionSync::Unresolved { last_unknown } = self.sync {
            if position > last_unknown {
                // The broker accepted a later sequence, so the unknown ones were written.
                self.sync = PartitionSync::InSync;
            }
        }
    }

    /// An unresolved partition with nothing left in flight can never learn the fate of the
    /// unknown batches; start over under a new epoch (Java: `maybeResolveSequences`).
    pub(super) fn give_up_unresolved(&mut self) {
        if matches!(self.sync, PartitionSync::Unresolved { .. }) && self.unacked.is_empty() {
            self.sync = PartitionSync::NeedsReset {
                from: self.next_position,
            };
        }
    }
}
