//! Connections by broker and purpose, with reconnect backoff.
//!
//! Each broker gets one connection per [`Purpose`], so a long-poll Fetch never sits in front of
//! a Produce or a group heartbeat on the same socket (one pure-Rust peer measured produce
//! latency going from ~0 to ~400 ms when they shared one).
//!
//! A failed connect puts the slot into backoff: the next attempt waits
//! `reconnect.backoff.ms × 2^failures` (capped at `reconnect.backoff.max.ms`, ±20 % jitter).
//! Callers asking during the backoff wait it out rather than hammer a recovering broker.

use super::conn::BrokerConnection;
use super::setup::ConnectionConfig;
use crate::config::{BrokerAddress, ClientConfig};
use crate::retry::Backoff;
use crate::{Error, ErrorKind, Result};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

/// What a connection is used for; each purpose gets its own socket per broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Purpose {
    /// Metadata, admin and other short control requests.
    Control,
    /// Produce requests.
    Produce,
    /// Fetch requests (long polls).
    Fetch,
    /// Offset commits, offset fetches and LeaveGroup to a group coordinator.
    Coordination,
    /// Group membership: JoinGroup, SyncGroup, Heartbeat. Separate from
    /// [`Coordination`](Purpose::Coordination) because the broker holds a JoinGroup for up to the
    /// rebalance timeout and answers a connection's requests in order: a commit queued behind it
    /// would wait (and time out, closing the connection) for minutes.
    Membership,
}

/// One connection slot; the async mutex serialises connect attempts.
type Slot = Arc<tokio::sync::Mutex<SlotState>>;

#[derive(Default)]
struct SlotState {
    conn: Option<BrokerConnection>,
    failures: u32,
    next_attempt: Option<Instant>,
    /// When a failed connect was last logged at WARN (rate limit).
    warned_at: Option<Instant>,
}

/// How often failed connects to one broker (per purpose) are logged at WARN; the others go to
/// DEBUG. Java warns on every failure; with the reconnect backoff that can be once a second.
const CONNECT_WARN_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// A pool of broker connections keyed by address and [`Purpose`].
///
/// ```no_run
/// # async fn f() -> ferrokafka::Result<()> {
/// use ferrokafka::config::ClientConfig;
/// use ferrokafka::__private::connection::{ConnectionPool, Purpose};
/// use kafka_protocol::messages::MetadataRequest;
///
/// let cfg = ClientConfig::builder().bootstrap_servers("127.0.0.1:9092").build()?;
/// let pool = ConnectionPool::new(&cfg);
/// let conn = pool.get(&cfg.bootstrap_servers[0], None, Purpose::Control).await?;
/// let metadata = conn.send(&MetadataRequest::default()).await?;
/// println!("{} brokers", metadata.brokers.len());
/// # Ok(()) }
/// ```
pub struct ConnectionPool {
    cfg: ConnectionConfig,
    backoff: Backoff,
    slots: Mutex<HashMap<(BrokerAddress, Purpose), Slot>>,
    /// Set by [`close_all`](Self::close_all): the client closed, nothing connects any more.
    closed: AtomicBool,
}

impl std::fmt::Debug for ConnectionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionPool").finish_non_exhaustive()
    }
}

/// Requests in flight per connection for purposes other than produce. Java bounds only the
/// producer's (`max.in.flight.requests.per.connection`); other traffic is request/response.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 100;

impl ConnectionPool {
    /// A pool using `cfg`'s timeouts, backoff and client id.
    pub fn new(cfg: &ClientConfig) -> ConnectionPool {
        ConnectionPool::with_max_in_flight(cfg, DEFAULT_MAX_IN_FLIGHT)
    }

    /// A pool whose connections allow `max_in_flight` unanswered requests each.
    pub fn with_max_in_flight(cfg: &ClientConfig, max_in_flight: usize) -> ConnectionPool {
        ConnectionPool {
            cfg: ConnectionConfig::from_client(cfg, max_in_flight),
            backoff: Backoff::new(cfg.reconnect_backoff, cfg.reconnect_backoff_max),
            slots: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
        }
    }

    fn slot(&self, addr: &BrokerAddress, purpose: Purpose) -> Slot {
        // A poisoned lock only means another thread panicked while inserting; the map itself
        // is still consistent, so keep using it.
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry((addr.clone(), purpose)).or_default().clone()
    }

    /// A live connection to `addr` for `purpose`, connecting (after any pending backoff) if
    /// needed. `node_id` labels errors and logs.
    ///
    /// # Errors
    /// A retriable [`ErrorKind::Connect`](crate::ErrorKind::Connect) error when the connection
    /// attempt fails; the slot then backs off before the next attempt.
    /// [`ErrorKind::Closed`](crate::ErrorKind::Closed) once [`close_all`](Self::close_all) ran.
    ///
    /// # Cancel safety
    /// Cancel safe: a dropped call leaves the slot as it was, or with a new live connection.
    pub async fn get(
        &self,
        addr: &BrokerAddress,
        node_id: Option<i32>,
        purpose: Purpose,
    ) -> Result<BrokerConnection> {
        let slot = self.slot(addr, purpose);
        // One connect attempt per slot at a time: concurrent callers wait for its outcome.
        let mut state = slot.lock().await;
        if self.is_closed() {
            // Checked under the slot's lock: a connect that raced `close_all` and stored its
            // connection after the slots were cleared is dropped here, not handed out.
            state.conn = None;
            return Err(Error::new(ErrorKind::Closed).with_detail("the client is closed"));
        }
        if let Some(c) = &state.conn {
            if !c.is_closed() {
                return Ok(c.clone());
            }
            state.conn = None;
        }
        if let Some(at) = state.next_attempt {
            tokio::time::sleep_until(at).await;
        }
        match BrokerConnection::connect(addr, node_id, &self.cfg).await {
            Ok(c) => {
                state.failures = 0;
                state.next_attempt = None;
                state.conn = Some(c.clone());
                Ok(c)
            }
            Err(e) => {
                let delay = self.backoff.delay(state.failures);
                state.failures = state.failures.saturating_add(1);
                state.next_attempt = Some(Instant::now() + delay);
                let now = Instant::now();
                let warn = state
                    .warned_at
                    .is_none_or(|at| now.duration_since(at) >= CONNECT_WARN_EVERY);
                let backoff_ms = delay.as_millis() as u64;
                let failures = state.failures;
                if warn {
                    state.warned_at = Some(now);
                    tracing::warn!(broker = %addr, error = %e, failures, backoff_ms, "connect to broker failed; broker may not be available");
                } else {
                    tracing::debug!(broker = %addr, error = %e, failures, backoff_ms, "connect failed");
                }
                Err(e)
            }
        }
    }

    /// The existing live connection for `addr` and `purpose`, without connecting.
    pub fn existing(&self, addr: &BrokerAddress, purpose: Purpose) -> Option<BrokerConnection> {
        let slot = self.slot(addr, purpose);
        let state = slot.try_lock().ok()?;
        state.conn.as_ref().filter(|c| !c.is_closed()).cloned()
    }

    /// Whether the last connect attempt to `addr`, for any purpose, failed (the slot is backing
    /// off). Used to try other brokers first for requests any broker can answer: a broker that
    /// is down should not sit in front of a metadata refresh that would show its partitions'
    /// new leaders (on a real network its connect can take `socket.connection.setup.timeout.ms`).
    pub fn recently_failed(&self, addr: &BrokerAddress) -> bool {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .iter()
            .filter(|((a, _), _)| a == addr)
            .any(|(_, slot)| slot.try_lock().is_ok_and(|s| s.failures > 0))
    }

    /// The client closed: drops every connection and refuses new ones. Each socket closes once
    /// the requests still in flight on it are answered or fail (their callers hold the last
    /// handles). Without this a closed client kept its sockets open for as long as its handle
    /// lived, since the pool holds a handle of every connection (issue #30: connection churn).
    pub fn close_all(&self) {
        self.closed.store(true, Ordering::Release);
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.clear();
    }

    /// Whether [`close_all`](Self::close_all) ran.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}
