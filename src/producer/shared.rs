//! The state the producer's handles and its sender task share, in its own module so that
//! neither `client.rs` nor `sender.rs` owns what both use.

use super::accumulator::Accumulator;
use super::config::ProducerConfig;
use super::delivery::DeliveryResult;
use super::metrics::Recorder;
use crate::cluster::Cluster;
use crate::Error;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{oneshot, watch, Notify};

/// The completion handle stored with each buffered record.
pub(super) type Completion = oneshot::Sender<DeliveryResult>;

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
    /// Set once by the sender when the producer hits a fatal error; handles read it to fail
    /// new sends. Mutex (poison-tolerant).
    pub fatal: Mutex<Option<Error>>,
    /// Set by `close` (or the last handle's drop); read by the sender to finish.
    pub closing: AtomicBool,
    /// Records appended and not yet completed: incremented by `send`, decremented by the
    /// sender as records complete ([`record_completed`](Shared::record_completed)); flush waits
    /// for zero on `outstanding_tx`.
    pub outstanding: AtomicU64,
    /// Broadcasts `outstanding` reaching zero to `flush` callers.
    pub outstanding_tx: watch::Sender<u64>,
    /// Immutable after `Producer::new`; called from the sender task.
    pub error_handler: Option<ErrorHandler>,
}

impl Shared {
    pub fn fatal_error(&self) -> Option<Error> {
        self.fatal.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn report(&self, e: &Error) {
        if let Some(h) = &self.error_handler {
            h(e);
        }
    }

    /// Called once per completed record.
    pub fn record_completed(&self) {
        let left = self
            .outstanding
            .fetch_sub(1, Ordering::AcqRel)
            .saturating_sub(1);
        if left == 0 {
            self.outstanding_tx.send_replace(0);
        }
    }
}
