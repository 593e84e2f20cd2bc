//! The state a [`Consumer`](super::Consumer) shares between the application's calls and its two
//! background tasks, with a note per field of who writes it and under which lock.
//!
//! Three parties touch it:
//! - **app**: the application's calls on `Consumer` (`poll`, `seek`, `commit*`, `subscribe`,
//!   `close`, ...), including the rebalance listener, which runs inside `poll`;
//! - **fetch task** (`driver.rs`): fetch sessions, offset resets, metadata refreshes, auto-commit;
//! - **group task** (`group_driver.rs`, only while subscribed): drives [`GroupMembership`] and
//!   turns its actions into requests and listener events.
//!
//! Everything mutable sits in [`Core`] behind one mutex, held only for short, non-async
//! sections (never across an `.await`); [`Inner`] holds what is fixed at construction or
//! synchronised on its own (notifiers, atomics, the listener slot).

use super::config::ConsumerConfig;
use super::coordinator::Coordinator;
use super::fetch::Fetcher;
use super::group::Membership;
use super::listener::RebalanceListener;
use super::metrics::Recorder;
use super::reachability::Reachability;
use crate::cluster::Cluster;
use crate::types::{IsolationLevel, TopicPartition};
use crate::{Error, ErrorHandler};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::{watch, Notify};

/// How often one unknown topic is warned about.
const UNKNOWN_TOPIC_WARN_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// A rebalance event waiting for the application's next poll (written by the group task, run
/// and removed by the app's `poll`).
#[derive(Debug, Clone)]
pub(super) enum ListenerEvent {
    Revoked(Vec<TopicPartition>),
    Assigned(Vec<TopicPartition>),
    Lost(Vec<TopicPartition>),
}

/// The mutable state, behind [`Inner::lock`].
pub(super) struct Core {
    /// Positions, committed offsets and fetched data per partition. Fetch task: fetch plans and
    /// responses, resets. App: `poll` takes records, seeks, commits record what was committed.
    /// Group task: assigns and unassigns on `Assigned` / `Lost`; the app's revoke handling
    /// unassigns on `Revoked`.
    pub(super) fetcher: Fetcher,
    /// Errors for the next `poll`. Written by the group task (`GroupAction::Error`) and by the
    /// app's `poll` itself (partition errors the fetcher reported); taken by `poll`.
    pub(super) errors: VecDeque<Error>,
    /// When auto-commit is next due. Fetch task only (`commit::auto_commit_due`).
    pub(super) next_auto_commit: Instant,
    /// Group membership, once `subscribe` was called. Created by the app's `subscribe`, removed
    /// by `unsubscribe`; driven by the group task; the app reports polls, closes, and asks it
    /// for the identity of commits (which may report errors back to it).
    pub(super) group: Option<Membership>,
    /// Counts memberships (subscribe after unsubscribe starts a new one); a group task serves
    /// only the membership it was started for. App (`subscribe`) writes, group task reads.
    pub(super) group_epoch: u64,
    /// Rebalance listener events waiting for the app's next poll, in order. Group task pushes,
    /// app's `poll` pops, `unsubscribe` clears.
    pub(super) listener_events: VecDeque<ListenerEvent>,
    /// The last stable generation the group task saw (generation id, member id), to count
    /// completed rebalances. Group task; reset by `unsubscribe`.
    pub(super) seen_generation: Option<(i32, String)>,
    /// When the current rebalance started (first JoinGroup after being stable), for the
    /// rebalance latency metric. Group task; reset by `unsubscribe`.
    pub(super) rebalance_started: Option<Instant>,
    /// Leader: the topics the group's members subscribe to. Group task only.
    pub(super) group_topics: BTreeSet<String>,
    /// `subscribe_pattern` under the classic protocol: the group task matches it against the
    /// cluster's topics and subscribes to the matches (KIP-848 members send it to the broker).
    pub(super) group_pattern: Option<super::topic_pattern::TopicPattern>,
    /// Whether any broker answers lately. Both tasks report each request's outcome; the fetch
    /// task turns a long streak of failures into an error for `poll`.
    pub(super) reachability: Reachability,
    /// When each topic was last warned about as unknown (rate limit). Both tasks.
    pub(super) unknown_topic_warned: BTreeMap<String, Instant>,
}

/// Everything the handle and the tasks share. The tasks hold it through a `Weak` and upgrade it
/// only for short, non-async sections (never across an `.await`: a request in flight must not
/// keep it alive), so dropping the last `Consumer` drops it at once; its [`Gone`] signal then
/// stops the tasks' loops and cancels their requests in flight.
pub(super) struct Inner {
    /// Fixed at construction.
    pub(super) cfg: ConsumerConfig,
    /// Metadata and broker connections; internally synchronised.
    pub(super) cluster: Arc<Cluster>,
    /// The group coordinator's client (with a `group.id`); internally synchronised.
    pub(super) coordinator: Option<Coordinator>,
    core: Mutex<Core>,
    /// Signalled (by both tasks) when fetched data, an error or a listener event is ready for
    /// `poll`.
    pub(super) data: Notify,
    /// Wakes the fetch task (new assignment, seek, records drained).
    pub(super) wake: Arc<Notify>,
    /// Wakes the group task (new subscription, poll, commit refused by the group, revocation
    /// handled).
    pub(super) group_wake: Arc<Notify>,
    /// The rebalance listener (app: `subscribe_with_listener` sets it, `poll` runs it).
    pub(super) listener: Mutex<Option<Arc<dyn RebalanceListener>>>,
    /// Set by `close`: both tasks end at their next turn.
    pub(super) closed: AtomicBool,
    /// A metadata refresh started by the fetch task is under way (it starts at most one).
    pub(super) refreshing: AtomicBool,
    /// Metric sensors; internally synchronised.
    pub(super) metrics: Recorder,
    /// Never sent on: dropped with the state, which ends every [`Gone::wait`].
    alive: watch::Sender<()>,
}

/// Fires when the consumer's shared state is dropped (the last `Consumer` went without
/// `close`): the background tasks race their loops and requests against it, so they stop at
/// once instead of after their next wake-up or their requests' timeouts. Holds no reference to
/// the state.
#[derive(Clone)]
pub(super) struct Gone(watch::Receiver<()>);

impl Gone {
    /// Resolves once the state was dropped.
    pub(super) async fn wait(&mut self) {
        while self.0.changed().await.is_ok() {}
    }

    /// Runs `task` until it ends or the state is dropped, whichever comes first (the task's
    /// future, and the request it awaits, are then dropped).
    pub(super) async fn unless_gone(mut self, task: impl std::future::Future<Output = ()>) {
        tokio::select! {
            () = self.wait() => {}
            () = task => {}
        }
    }
}

/// Dropping the last `Consumer` without `close` stops the tasks but neither commits, runs the
/// revocation listener nor leaves the group: say so (issue #24), once, at WARN.
impl Drop for Inner {
    fn drop(&mut self) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let core = self.core.get_mut().unwrap_or_else(|p| p.into_inner());
        let Some(group) = core.group.as_ref() else {
            return;
        };
        let owned = group.assignment().len();
        if group.generation().is_none() && owned == 0 {
            return; // never joined: nothing for the group to wait out
        }
        let session_ms = self.cfg.group.session_timeout.as_millis() as u64;
        tracing::warn!(
            group = self.cfg.group_id.as_deref().unwrap_or(""),
            owned_partitions = owned,
            session_timeout_ms = session_ms,
            "consumer dropped without close(): it did not commit, run on_partitions_revoked or \
             leave the group; the group reassigns its partitions only after session.timeout.ms. \
             Call close() (or close_within) before dropping the last Consumer"
        );
    }
}

impl Inner {
    /// The shared state for `cfg`, nothing assigned and no group joined.
    pub(super) fn new(cfg: ConsumerConfig, error_handler: Option<ErrorHandler>) -> Inner {
        // The cluster reports failed connects and metadata requests to the handler itself,
        // under the same rate limit as the tasks' reports (see `notify_error_handler`).
        let cluster = Cluster::with_handler(
            crate::connection::ConnectionPool::new(&cfg.client),
            cfg.client.clone(),
            error_handler.clone(),
        );
        let read_committed = cfg.fetch.isolation_level == IsolationLevel::ReadCommitted;
        let coordinator = cfg
            .group_id
            .clone()
            .map(|g| Coordinator::new(cluster.clone(), g, read_committed));
        Inner {
            core: Mutex::new(Core {
                fetcher: Fetcher::new(cfg.fetch.clone()),
                errors: VecDeque::new(),
                next_auto_commit: Instant::now() + cfg.auto_commit_interval,
                group: None,
                group_epoch: 0,
                listener_events: VecDeque::new(),
                seen_generation: None,
                rebalance_started: None,
                group_topics: BTreeSet::new(),
                group_pattern: None,
                reachability: Reachability::default(),
                unknown_topic_warned: BTreeMap::new(),
            }),
            cfg,
            cluster,
            coordinator,
            data: Notify::new(),
            wake: Arc::new(Notify::new()),
            group_wake: Arc::new(Notify::new()),
            listener: Mutex::new(None),
            closed: AtomicBool::new(false),
            refreshing: AtomicBool::new(false),
            metrics: Recorder::default(),
            alive: watch::Sender::new(()),
        }
    }

    /// The signal that this state was dropped, for a background task to take before it lets go
    /// of its strong reference.
    pub(super) fn gone(&self) -> Gone {
        Gone(self.alive.subscribe())
    }

    /// Records a background request's outcome for [`Reachability`] and hands a failure to the
    /// error handler. Takes the lock itself: call it with the core unlocked.
    pub(super) fn report(&self, result: std::result::Result<(), &Error>) {
        match result {
            Ok(()) => self.lock().reachability.on_success(),
            Err(e) => {
                self.lock().reachability.on_result(Instant::now(), e);
                self.notify_error_handler(e);
            }
        }
    }

    /// Calls the application's error handler, if any (with the core unlocked).
    pub(super) fn notify_error_handler(&self, e: &Error) {
        self.cluster.report(e);
    }

    /// Warns (at most every 30 s per topic) about subscribed or assigned topics the metadata
    /// does not know, e.g. missing with auto-creation off; Java warns about
    /// `UNKNOWN_TOPIC_OR_PARTITION` the same way. The error handler gets each warning too.
    pub(super) fn warn_unknown_topics(
        &self,
        md: &crate::cluster::ClusterMetadata,
        topics: &[String],
    ) {
        let now = Instant::now();
        let mut warn = Vec::new();
        {
            let mut core = self.lock();
            for t in topics {
                let code = match md.topic(t) {
                    Some(info) if info.error_code == 0 => {
                        core.unknown_topic_warned.remove(t);
                        continue;
                    }
                    Some(info) => info.error_code,
                    None => crate::error::code::UNKNOWN_TOPIC_OR_PARTITION,
                };
                let due = core
                    .unknown_topic_warned
                    .get(t)
                    .is_none_or(|at| now.duration_since(*at) >= UNKNOWN_TOPIC_WARN_EVERY);
                if due {
                    core.unknown_topic_warned.insert(t.clone(), now);
                    warn.push(
                        Error::from_broker_code(code)
                            .with_topic(t)
                            .with_api("Metadata"),
                    );
                }
            }
        }
        for e in warn {
            tracing::warn!(error = %e, "topic unavailable: nothing is consumed from it until it exists");
            self.notify_error_handler(&e);
        }
    }

    /// Locks the core (briefly; never held across an `.await`).
    pub(super) fn lock(&self) -> MutexGuard<'_, Core> {
        // The core holds plain data; a panic while it was locked leaves it usable.
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }
}
