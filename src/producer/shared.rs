//! The state the producer's handles and its sender task share, in its own module so that
//! neither `client.rs` nor `sender/` owns what both use.

use super::accumulator::Accumulator;
use super::config::ProducerConfig;
pub(super) use super::delivery::Completion;
use super::metrics::Recorder;
use super::partitioner::PartitionsCache;
use super::txn::TransactionManager;
use crate::cluster::Cluster;
use crate::protocol::requests::init_producer_id::TxnProducer;
use crate::types::ProducerEpoch;
use crate::Error;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{watch, Notify};

pub use crate::error::ErrorHandler;

/// State shared by the [`Producer`](super::Producer) handles (application tasks) and the one
/// sender task. Each field says who writes it and how it is guarded; nothing here is held
/// across an `.await`.
pub(super) struct Shared {
    /// Immutable after `Producer::new`.
    pub cfg: ProducerConfig,
    /// The cluster view (its own locks); handles ask it for metadata in `send`, the sender for
    /// leaders and connections.
    pub cluster: Arc<Cluster>,
    /// Open batches. Handles append (`send`), the sender drains and expires; internally locked.
    pub acc: Accumulator<Completion>,
    /// Wakes the sender: a batch filled, a flush started, the producer is closing.
    pub wake: Notify,
    /// Metric counters, atomics written by both sides.
    pub metrics: Recorder,
    /// Set once (the first fatal error wins) by the sender, `wait_until_connected` or a
    /// transactional call; handles read it to fail new sends. A `OnceLock`: the read on every
    /// `send` is one atomic load.
    pub fatal: OnceLock<Error>,
    /// Set by `close` (or the last handle's drop); read by the sender to finish.
    pub closing: AtomicBool,
    /// Records appended and not yet completed: incremented by `send`, decremented by the
    /// sender as records complete ([`record_completed`](Shared::record_completed)); flush waits
    /// for zero on `outstanding_tx`.
    pub outstanding: AtomicU64,
    /// Broadcasts `outstanding` reaching zero to `flush` callers.
    pub outstanding_tx: watch::Sender<u64>,
    /// With a `transactional.id`: the transaction's state.
    pub txn: Option<Txn>,
    /// The topics' partitions per metadata snapshot, for `send` (internally locked).
    pub partitions: PartitionsCache,
}

/// The transactional part of [`Shared`].
pub(super) struct Txn {
    /// The state machine. Handles call its transitions (`begin`, `commit`, …) and note
    /// partitions in `send`; the sender notes failed batches and runs AddPartitionsToTxn.
    /// Mutex (poison-tolerant), never held across an `.await`.
    pub manager: Mutex<TransactionManager>,
    /// The producer id and epoch `init_transactions` got; the sender waits for it before it
    /// stamps batches. Written once by `init_transactions`.
    pub producer: watch::Sender<Option<TxnProducer>>,
    /// The epoch the sender's state machine moved to on its own (a KIP-360 bump after a failed
    /// batch left a sequence gap). The broker learns of it only from the coordinator, so
    /// `abort_transaction` asks for the same bump there. Written by the sender, taken by abort.
    pub local_bump: Mutex<Option<ProducerEpoch>>,
    /// Serializes `init_transactions`, `commit_transaction`, `abort_transaction` and
    /// `send_offsets_to_transaction` (a tokio mutex: held across their requests).
    pub op: tokio::sync::Mutex<()>,
}

impl Txn {
    pub(super) fn manager(&self) -> std::sync::MutexGuard<'_, TransactionManager> {
        self.manager.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn producer(&self) -> Option<TxnProducer> {
        self.producer.borrow().clone()
    }
}

impl Shared {
    /// Records `e` as the producer's fatal error unless one is set already.
    pub(super) fn set_fatal(&self, e: &Error) {
        let _ = self.fatal.set(e.clone());
    }

    pub(super) fn fatal_error(&self) -> Option<Error> {
        self.fatal.get().cloned()
    }

    pub(super) fn report(&self, e: &Error) {
        self.cluster.report(e);
    }

    /// Called once per completed record.
    pub(super) fn record_completed(&self) {
        self.records_completed(1);
    }

    /// Called once per completed batch (one atomic operation per batch, not per record: the
    /// counter's cache line is also written by every `send`).
    pub(super) fn records_completed(&self, n: u64) {
        let left = self
            .outstanding
            .fetch_sub(n, Ordering::AcqRel)
            .saturating_sub(n);
        if left == 0 {
            self.outstanding_tx.send_replace(0);
        }
    }
}
