//! The producer's identity: its producer id and epoch (KIP-98), and how it changes (KIP-360).

use crate::types::{ProducerEpoch, ProducerId};
use crate::Error;

/// The producer id and epoch that stamp a batch, as a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProducerIdAndEpoch {
    /// The producer id handed out by InitProducerId.
    pub producer_id: ProducerId,
    /// The epoch of that id.
    pub epoch: ProducerEpoch,
}

impl ProducerIdAndEpoch {
    /// What a non-idempotent batch carries: producer id `-1`, epoch `-1`.
    pub const NONE: ProducerIdAndEpoch = ProducerIdAndEpoch {
        producer_id: ProducerId::NONE,
        epoch: ProducerEpoch::NONE,
    };
}

/// Where the producer's identity stands.
///
/// ```text
///                      new(idempotence = false)
///   ──────────────────────────────────────────────► Disabled ──fatal error──► Fatal
///
///        new(idempotence = true)          InitProducerId ok
///   ──────────────────────────► Initializing ─────────────────► Ready { id, epoch } ◄─┐
///                                 │    ▲  ▲                        │      │          │ a partition needs a
///        retriable failure:       │    │  │ epoch == i16::MAX:     │      └──────────┘ sequence reset (KIP-360):
///        NeedProducerId again ────┘    │  └── a new id is needed ──┘        local bump, epoch + 1
///        after a backoff               │                                  (no request; Java does the same)
///                                      │
///   Initializing / Ready ──fatal error (fenced, cluster authorization, unsupported version,
///                          non-retriable InitProducerId failure)──────────────────────► Fatal(Error)
/// ```
///
/// There is no separate "bumping" state: an idempotent (non-transactional) producer bumps its
/// epoch locally, because the broker accepts a higher epoch from the same producer id when the
/// batch starts at sequence 0 (Java's `TransactionManager.bumpIdempotentProducerEpoch`). The
/// waiting that KIP-360 asks for (let the partition's in-flight batches resolve first) is
/// per-partition state; see [`PartitionSync`](super::PartitionSync). Only when the epoch is
/// exhausted does the producer ask for a new id (back to `Initializing`).
#[derive(Debug, Clone)]
pub enum ProducerIdState {
    /// Idempotence is off: batches carry producer id `-1`, epoch `-1`, sequence `-1`.
    Disabled,
    /// An InitProducerId request is wanted or in flight ([`ProducerEvent::NeedProducerId`]
    /// was emitted); nothing is sent until it completes.
    ///
    /// [`ProducerEvent::NeedProducerId`]: super::ProducerEvent::NeedProducerId
    Initializing {
        /// Failed InitProducerId attempts so far (drives the backoff).
        attempts: u32,
    },
    /// The producer has an id and epoch and may send.
    Ready {
        /// The producer id.
        producer_id: ProducerId,
        /// The current epoch; batches stamped with an older one finish under it.
        epoch: ProducerEpoch,
    },
    /// The producer cannot continue; every batch fails with this error.
    Fatal(Error),
}

impl ProducerIdState {
    /// The id and epoch new batches are stamped with, if the producer is ready.
    pub fn current(&self) -> Option<ProducerIdAndEpoch> {
        match self {
            ProducerIdState::Ready { producer_id, epoch } => Some(ProducerIdAndEpoch {
                producer_id: *producer_id,
                epoch: *epoch,
            }),
            _ => None,
        }
    }

    /// The fatal error, if the producer is in that state.
    pub fn fatal_error(&self) -> Option<&Error> {
        match self {
            ProducerIdState::Fatal(e) => Some(e),
            _ => None,
        }
    }

    /// What a local epoch bump leads to: `Ready` with epoch + 1, or `None` when the epoch is
    /// exhausted and a new producer id is needed (Java resets the id at `Short.MAX_VALUE`).
    pub(super) fn bumped(current: ProducerIdAndEpoch) -> Option<ProducerIdState> {
        let next = current.epoch.get().checked_add(1)?;
        Some(ProducerIdState::Ready {
            producer_id: current.producer_id,
            epoch: ProducerEpoch(next),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bump_increments_epoch_until_exhausted() {
        let cur = ProducerIdAndEpoch {
            producer_id: ProducerId(7),
            epoch: ProducerEpoch(3),
        };
        let next = ProducerIdState::bumped(cur).and_then(|s| s.current());
        assert_eq!(
            next,
            Some(ProducerIdAndEpoch {
                producer_id: ProducerId(7),
                epoch: ProducerEpoch(4)
            })
        );
        let max = ProducerIdAndEpoch {
            producer_id: ProducerId(7),
            epoch: ProducerEpoch(i16::MAX),
        };
        assert!(ProducerIdState::bumped(max).is_none());
    }
}
