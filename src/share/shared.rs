//! The state a [`ShareConsumer`](super::ShareConsumer) handle and its tasks share. Its own file so
//! that the handle (`consumer.rs`) and the requests (`driver.rs`) both depend on it and not on
//! each other.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use uuid::Uuid;

use super::acks::Ledger;
use super::config::ShareConsumerConfig;
use super::membership::ShareMembership;
use super::metrics::Recorder;
use super::record::ShareRecord;
use super::session::ShareSession;
use crate::cluster::Cluster;
use crate::types::TopicPartition;
use crate::Error;

/// Called with the outcome of every acknowledgement commit, per partition: those carried by
/// fetches, and those of `commit_sync`, `commit_async` and `close`.
pub type AcknowledgementCommitCallback =
    Arc<dyn Fn(&BTreeMap<TopicPartition, crate::Result<()>>) + Send + Sync>;

pub(super) struct Inner {
    pub(super) cfg: ShareConsumerConfig,
    pub(super) cluster: Arc<Cluster>,
    pub(super) state: Mutex<State>,
    /// Share sessions by broker; held across a request so epochs go out in order.
    pub(super) sessions: tokio::sync::Mutex<HashMap<i32, ShareSession>>,
    /// Woken when the assignment or the membership changes.
    pub(super) data: Notify,
    pub(super) heartbeat_wake: Arc<Notify>,
    pub(super) closed: AtomicBool,
    /// A prefetch round is running ([`driver::prefetch`]).
    pub(super) prefetching: AtomicBool,
    pub(super) metrics: Recorder,
    /// The application's acknowledgement commit callback.
    pub(super) callback: Mutex<Option<AcknowledgementCommitCallback>>,
}

pub(super) struct State {
    pub(super) membership: ShareMembership,
    pub(super) ledger: Ledger,
    /// Topic names of the assignment's topic ids.
    pub(super) names: BTreeMap<Uuid, Arc<str>>,
    /// Acquired records not handed out yet.
    pub(super) buffered: VecDeque<ShareRecord>,
    /// Errors for the next `poll`.
    pub(super) errors: VecDeque<Error>,
    /// Acknowledgement errors reported with fetch answers, for the next commit.
    pub(super) ack_errors: Vec<(TopicPartition, Error)>,
    /// The broker's acquisition lock duration, once known.
    pub(super) lock_timeout: Option<Duration>,
}

impl Inner {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}
