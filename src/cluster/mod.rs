//! Cluster metadata: bootstrap from a list, Metadata requests, a topic/partition/leader map with
//! leader epochs, refreshed on demand, after stale-metadata errors (with backoff) and once
//! `metadata.max.age.ms` has passed.
//!
//! [`Cluster`] is shared (`Arc`) by the clients built on it; it owns the [`ConnectionPool`].

mod coordinators;
mod metadata;
mod reporter;

pub(crate) use coordinators::{coordinator_moved, CoordinatorType};
use coordinators::{label, Coordinators, Lookup};
pub use metadata::{BrokerInfo, ClusterMetadata, PartitionInfo, TopicInfo};
use reporter::ErrorReporter;

use crate::config::{BrokerAddress, ClientConfig};
use crate::connection::{BrokerConnection, ConnectionPool, Purpose};
use crate::protocol::requests::find_coordinator;
use crate::protocol::requests::metadata as metadata_request;
use crate::retry::Backoff;
use crate::{Error, ErrorKind, Result};
use kafka_protocol::messages::FindCoordinatorRequest;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, RwLock};
use tokio::time::Instant;
use tracing::{debug, warn};

/// Which topics a metadata refresh asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicSelection {
    /// Every topic in the cluster.
    All,
    /// The given topics (plus those already tracked).
    Topics(Vec<String>),
}

struct RefreshState {
    // Consecutive failed or error-triggered refreshes, for the retry backoff.
    attempts: u32,
    last: Option<Instant>,
}

/// Shared view of the cluster: connection pool plus metadata cache.
///
/// ```no_run
/// # async fn f() -> ferrokafka::Result<()> {
/// use ferrokafka::__private::cluster::{Cluster, TopicSelection};
/// use ferrokafka::config::ClientConfig;
/// let cluster = Cluster::new(ClientConfig::builder().bootstrap_servers("127.0.0.1:9092").build()?);
/// let md = cluster.refresh(TopicSelection::All).await?;
/// for (id, b) in &md.brokers {
///     println!("broker {id} at {}", b.addr);
/// }
/// # Ok(()) }
/// ```
pub struct Cluster {
    cfg: ClientConfig,
    pool: ConnectionPool,
    snapshot: RwLock<Arc<ClusterMetadata>>,
    tracked: Mutex<BTreeSet<String>>,
    refresh_lock: tokio::sync::Mutex<RefreshState>,
    retry_backoff: Backoff,
    reporter: ErrorReporter,
    coordinators: Coordinators,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("bootstrap", &self.cfg.bootstrap_servers)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Creates the cluster view. Nothing connects until the first request.
    pub fn new(cfg: ClientConfig) -> Arc<Cluster> {
        Cluster::with_pool(ConnectionPool::new(&cfg), cfg)
    }

    /// Creates the cluster view over a given pool (e.g. one with a producer's in-flight limit).
    pub fn with_pool(pool: ConnectionPool, cfg: ClientConfig) -> Arc<Cluster> {
        Cluster::with_handler(pool, cfg, None)
    }

    /// Like [`with_pool`](Self::with_pool), reporting every failed connect (refused, timed out,
    /// DNS, TLS, SASL) and failed Metadata request to `handler`, rate-limited (see
    /// [`ErrorReporter`]); the client built on it reports its own failures through
    /// [`report`](Self::report), under the same limit.
    pub fn with_handler(
        pool: ConnectionPool,
        cfg: ClientConfig,
        handler: Option<crate::ErrorHandler>,
    ) -> Arc<Cluster> {
        Arc::new(Cluster {
            reporter: ErrorReporter::new(handler),
            coordinators: Coordinators::default(),
            retry_backoff: Backoff::new(cfg.retry_backoff, cfg.retry_backoff_max),
            cfg,
            pool,
            snapshot: RwLock::new(Arc::new(ClusterMetadata::empty())),
            tracked: Mutex::new(BTreeSet::new()),
            refresh_lock: tokio::sync::Mutex::new(RefreshState {
                attempts: 0,
                last: None,
            }),
        })
    }

    /// Hands `e` to the application's error handler, if there is one (rate-limited).
    pub fn report(&self, e: &Error) {
        self.reporter.report(e);
    }

    /// `pool.get`, reporting a failure.
    async fn connect(
        &self,
        addr: &BrokerAddress,
        node: Option<i32>,
        purpose: Purpose,
    ) -> Result<BrokerConnection> {
        let r = self.pool.get(addr, node, purpose).await;
        if let Err(e) = &r {
            self.report(e);
        }
        r
    }

    /// The client configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    /// The connection pool.
    pub fn pool(&self) -> &ConnectionPool {
        &self.pool
    }

    /// The current snapshot (possibly empty or old; see [`ensure_fresh`](Self::ensure_fresh)).
    pub fn metadata(&self) -> Arc<ClusterMetadata> {
        self.snapshot
            .read()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn store(&self, md: ClusterMetadata) -> Arc<ClusterMetadata> {
        let md = Arc::new(md);
        match self.snapshot.write() {
            Ok(mut s) => *s = md.clone(),
            Err(p) => *p.into_inner() = md.clone(),
        }
        md
    }

    /// Adds topics to the set every refresh asks about.
    pub fn track_topics<S: AsRef<str>>(&self, topics: &[S]) {
        let mut t = self.tracked.lock().unwrap_or_else(|p| p.into_inner());
        t.extend(topics.iter().map(|s| s.as_ref().to_owned()));
    }

    /// Refreshes now if the snapshot is empty or older than `metadata.max.age.ms`.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn ensure_fresh(&self) -> Result<Arc<ClusterMetadata>> {
        let md = self.metadata();
        if md.brokers.is_empty() || md.fetched_at.elapsed() >= self.cfg.metadata_max_age {
            let tracked: Vec<String> = self
                .tracked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .cloned()
                .collect();
            return self.refresh(TopicSelection::Topics(tracked)).await;
        }
        Ok(md)
    }

    /// Sends a Metadata request for `topics` to a reachable broker and stores the merged result.
    /// Tries known brokers first, then the bootstrap list (so a client whose known brokers all
    /// moved can re-bootstrap, KIP-899 style).
    ///
    /// # Errors
    /// A retriable [`ErrorKind::NoBrokerAvailable`] error (with the last connect error as its
    /// source) when no broker answered.
    ///
    /// # Cancel safety
    /// Cancel safe: the snapshot is replaced only when a response has been received whole.
    pub async fn refresh(&self, topics: TopicSelection) -> Result<Arc<ClusterMetadata>> {
        let mut state = self.refresh_lock.lock().await;
        let result = self.refresh_locked(&topics).await;
        state.last = Some(Instant::now());
        match &result {
            Ok(_) => state.attempts = 0,
            Err(_) => state.attempts = state.attempts.saturating_add(1),
        }
        result
    }

    /// Refreshes after a stale-metadata error, waiting out the retry backoff
    /// (`retry.backoff.ms` doubling per consecutive call, capped at `retry.backoff.max.ms`) so a
    /// storm of `NOT_LEADER_OR_FOLLOWER` errors does not become a storm of Metadata requests.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn refresh_after_error(
        &self,
        topics: TopicSelection,
    ) -> Result<Arc<ClusterMetadata>> {
        let mut state = self.refresh_lock.lock().await;
        if let Some(last) = state.last {
            let wait = self.retry_backoff.delay(state.attempts);
            tokio::time::sleep_until(last + wait).await;
        }
        let result = self.refresh_locked(&topics).await;
        state.last = Some(Instant::now());
        // Keep growing the backoff while errors keep triggering refreshes; a plain refresh()
        // resets it.
        state.attempts = state.attempts.saturating_add(1);
        result
    }

    async fn refresh_locked(&self, topics: &TopicSelection) -> Result<Arc<ClusterMetadata>> {
        let allow = self.cfg.allow_auto_create_topics;
        let (request, complete) = match topics {
            TopicSelection::All => (metadata_request::request(None::<Vec<&str>>, allow), true),
            TopicSelection::Topics(list) => {
                self.track_topics(list);
                let tracked = self
                    .tracked
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                let names = tracked.iter().map(String::as_str);
                (metadata_request::request(Some(names), allow), false)
            }
        };
        let mut last_err = None;
        for (addr, node) in self.candidates() {
            let conn = match self.connect(&addr, node, Purpose::Control).await {
                Ok(c) => c,
                // An authentication failure (SASL, TLS) does not get better on another broker
                // or a retry: surface it now rather than as a timeout later.
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => {
                    last_err = Some(e);
                    continue;
                }
            };
            match conn.send(&request).await {
                Ok(resp) => {
                    let fresh = ClusterMetadata::from_response(&resp);
                    if fresh.brokers.is_empty() {
                        last_err = Some(Error::malformed("metadata response lists no brokers"));
                        continue;
                    }
                    let merged = self.metadata().merge(fresh, complete);
                    debug!(
                        brokers = merged.brokers.len(),
                        topics = merged.topics.len(),
                        "metadata refreshed"
                    );
                    return Ok(self.store(merged));
                }
                Err(e) if e.is_fatal() => {
                    self.report(&e);
                    return Err(e);
                }
                Err(e) => {
                    warn!(broker = %addr, error = %e, "metadata request failed");
                    self.report(&e);
                    last_err = Some(e);
                }
            }
        }
        let mut err = Error::new(ErrorKind::NoBrokerAvailable).with_api("Metadata");
        if let Some(e) = last_err {
            err = err.with_detail(e.to_string());
        }
        Err(err)
    }

    /// Brokers to try for a cluster-wide request: known brokers (shuffled, to spread load; those
    /// whose last connect failed last, so a dead broker does not delay the metadata refresh that
    /// moves its partitions), then the bootstrap list.
    fn candidates(&self) -> Vec<(BrokerAddress, Option<i32>)> {
        let md = self.metadata();
        let mut known: Vec<(BrokerAddress, Option<i32>)> = md
            .brokers
            .values()
            .map(|b| (b.addr.clone(), Some(b.node_id)))
            .collect();
        fastrand::shuffle(&mut known);
        // Stable: the shuffle's order stands among the reachable and among the failed.
        known.sort_by_key(|(addr, _)| self.pool.recently_failed(addr));
        let mut boot: Vec<(BrokerAddress, Option<i32>)> = self
            .cfg
            .bootstrap_servers
            .iter()
            .filter(|a| !known.iter().any(|(k, _)| k == *a))
            .map(|a| (a.clone(), None))
            .collect();
        fastrand::shuffle(&mut boot);
        known.extend(boot);
        known
    }

    /// Waits until a broker answers a Metadata request, retrying with the client's backoff for
    /// at most `timeout` (the readiness check of `Producer::wait_until_connected` and
    /// `Consumer::wait_until_connected`).
    ///
    /// # Errors
    /// A fatal error (authentication) at once; otherwise, once `timeout` passed, a `Timeout`
    /// error naming the last failure.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn wait_until_connected(&self, timeout: std::time::Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut waits = crate::retry::Retry::new(
            Some(deadline),
            Backoff::new(self.cfg.retry_backoff, self.cfg.retry_backoff_max),
            crate::retry::Jitter::Global,
        );
        // The last failure an attempt finished with (one cut short by the deadline, say in a
        // reconnect backoff, has none of its own).
        let mut last = None;
        loop {
            // The deadline also bounds an attempt (a connect can take
            // socket.connection.setup.timeout.ms).
            let attempt =
                tokio::time::timeout_at(deadline, self.refresh(TopicSelection::Topics(Vec::new())))
                    .await;
            match attempt {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) if e.is_fatal() => return Err(e),
                Ok(Err(e)) => last = Some(e),
                Err(_) => {}
            }
            if !waits.wait().await {
                let waited = timeout.as_millis();
                let detail = match last {
                    Some(e) => format!("no broker answered within {waited} ms: {e}"),
                    None => format!("no broker answered within {waited} ms"),
                };
                return Err(Error::new(ErrorKind::Timeout)
                    .with_api("Metadata")
                    .with_detail(detail));
            }
        }
    }

    /// A connection to node `node_id` for `purpose`.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn connection_to(&self, node_id: i32, purpose: Purpose) -> Result<BrokerConnection> {
        let md = self.metadata();
        let broker = match md.brokers.get(&node_id) {
            Some(b) => b.clone(),
            None => {
                let md = self.refresh(TopicSelection::Topics(Vec::new())).await?;
                md.brokers.get(&node_id).cloned().ok_or_else(|| {
                    Error::new(ErrorKind::NoBrokerAvailable)
                        .with_broker(node_id.to_string())
                        .with_detail("node is not in the cluster metadata")
                })?
            }
        };
        self.connect(&broker.addr, Some(node_id), purpose).await
    }

    /// The coordinator of `key`: the cached node, else the answer of a FindCoordinator (which is
    /// then cached). Concurrent callers share one lookup.
    ///
    /// # Cancel safety
    /// Cancel safe (a cancelled lookup caches nothing).
    pub async fn coordinator(&self, key_type: CoordinatorType, key: &str) -> Result<i32> {
        self.coordinators
            .load(key_type, key, Lookup::IfUnknown, || {
                self.find_coordinator(key_type, key)
            })
            .await
    }

    /// Sends a FindCoordinator for `key` whatever is cached, and caches the answer. For the group
    /// membership, whose state machine decides itself when its coordinator moved.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn lookup_coordinator(&self, key_type: CoordinatorType, key: &str) -> Result<i32> {
        self.coordinators
            .load(key_type, key, Lookup::Always, || {
                self.find_coordinator(key_type, key)
            })
            .await
    }

    /// A connection to the coordinator of `key`, looking it up first if it is not cached. A
    /// coordinator that cannot be connected to is forgotten, so the next call asks again.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn coordinator_connection(
        &self,
        key_type: CoordinatorType,
        key: &str,
    ) -> Result<BrokerConnection> {
        let node = self.coordinator(key_type, key).await?;
        match self.connection_to(node, Purpose::Coordination).await {
            Ok(conn) => Ok(conn),
            Err(e) => {
                self.forget_coordinator(key_type, key);
                Err(e)
            }
        }
    }

    /// Forgets the cached coordinator of `key`.
    pub fn forget_coordinator(&self, key_type: CoordinatorType, key: &str) {
        self.coordinators.forget(key_type, key);
    }

    /// Forgets the coordinator of `key` if `e` says it moved ([`coordinator_moved`]); returns
    /// whether it did.
    pub fn on_coordinator_error(&self, key_type: CoordinatorType, key: &str, e: &Error) -> bool {
        let moved = coordinator_moved(e);
        if moved {
            self.forget_coordinator(key_type, key);
        }
        moved
    }

    /// One FindCoordinator for `key`, sent to any broker.
    async fn find_coordinator(&self, key_type: CoordinatorType, key: &str) -> Result<i32> {
        let conn = self.any_connection(Purpose::Control).await?;
        let version = conn.version_for::<FindCoordinatorRequest>()?;
        let resp = conn
            .send(&find_coordinator::request(key, key_type, version))
            .await?;
        find_coordinator::parse(&resp, version)
            .map_err(|e| e.with_detail(format!("{} {key}", label(key_type))))
    }

    /// A connection to any reachable broker (for requests any broker can answer).
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn any_connection(&self, purpose: Purpose) -> Result<BrokerConnection> {
        let mut last_err = None;
        for (addr, node) in self.candidates() {
            match self.connect(&addr, node, purpose).await {
                Ok(c) => return Ok(c),
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => last_err = Some(e),
            }
        }
        let mut err = Error::new(ErrorKind::NoBrokerAvailable);
        if let Some(e) = last_err {
            err = err.with_detail(e.to_string());
        }
        Err(err)
    }

    /// The leader of `topic`/`partition` and a connection to it, refreshing metadata once if the
    /// leader is unknown.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn leader_connection(
        &self,
        topic: &str,
        partition: i32,
        purpose: Purpose,
    ) -> Result<(BrokerConnection, crate::types::LeaderEpoch)> {
        let mut md = self.metadata();
        if md.leader(topic, partition).is_none() {
            md = self
                .refresh(TopicSelection::Topics(vec![topic.to_owned()]))
                .await?;
        }
        let (broker, epoch) = match md.leader(topic, partition) {
            Some((b, e)) => (b.clone(), e),
            None => {
                let code = match md.topic(topic) {
                    Some(t) if t.error_code != 0 => t.error_code,
                    Some(t) => match t.partition(partition) {
                        Some(p) if p.error_code != 0 => p.error_code,
                        Some(_) => 5, // LEADER_NOT_AVAILABLE
                        None => 3,    // UNKNOWN_TOPIC_OR_PARTITION
                    },
                    None => 3,
                };
                return Err(Error::from_broker_code(code).with_partition(topic, partition));
            }
        };
        let conn = self
            .connect(&broker.addr, Some(broker.node_id), purpose)
            .await?;
        Ok((conn, epoch))
    }
}
