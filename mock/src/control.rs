//! The control API (issue #28): [`Control`], a handle over a running cluster's shared state,
//! usable from any thread while clients run; [`MockCluster`] and [`MockClusterThread`] offer the
//! same methods.

use crate::fault::{ApiKey, Fault, RequestRecord};
use crate::inspect::BatchInfo;
use crate::intercept::{InterceptedRequest, InterceptorId, Verdict};
use crate::log::code;
use crate::server::Shared;
use crate::{MockCluster, MockClusterThread, TopicError};
use std::sync::Arc;
use std::time::Duration;

/// Controls a running cluster: injected errors, brokers down and up, leaders moved, the request
/// log. Cheap to clone; it outlives nothing (once the cluster is dropped, its effects are moot).
#[derive(Debug, Clone)]
pub struct Control {
    shared: Arc<Shared>,
}

impl Control {
    pub(crate) fn new(shared: Arc<Shared>) -> Control {
        Control { shared }
    }

    /// Adds a fault: the next matching requests are answered with its error code, in the API's
    /// own response shape (per partition for Produce, Fetch and ListOffsets; per topic for
    /// Metadata; the top-level or group-level code elsewhere), and are not applied; or, for
    /// [`Fault::drop_before`] / [`Fault::drop_after`], their connection is closed before / after
    /// applying them. Rules are tried in the order they were added, drop rules first.
    pub fn inject(&self, fault: Fault) {
        self.shared.faults.inject(fault);
    }

    /// `inject(Fault::errors(api, n, error_code))`: the next `n` requests of `api`, on any broker.
    pub fn fail_next(&self, api: impl Into<ApiKey>, n: u32, error_code: i16) {
        self.inject(Fault::errors(api, n, error_code));
    }

    /// The faults not used up yet, with their remaining counts ([`Fault::remaining`]).
    pub fn pending_faults(&self) -> Vec<Fault> {
        self.shared.faults.pending()
    }

    /// Removes every fault not used up yet.
    pub fn clear_faults(&self) {
        self.shared.faults.clear_faults();
    }

    /// Registers an interceptor for `api`: `f` sees each request of that API, on any broker,
    /// after it was decoded and logged and before it is applied (and before the fault rules),
    /// and returns what happens to it ([`Verdict`]). Interceptors of one API are asked in the
    /// order they were added until one does not [`Verdict::Pass`]. `f` runs on the broker's
    /// task with no lock of the mock held (it may use the control API) and should be quick.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use ferrokafka_mock::{ApiKey, MockCluster, MockConfig, Verdict};
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// let cluster = MockCluster::start(MockConfig::default()).await?;
    /// // The second Produce for orders-0 is applied but its answer is lost.
    /// let seen = AtomicU32::new(0);
    /// cluster.intercept(ApiKey::Produce, move |req| {
    ///     let names_it = req.targets.iter().any(|(t, p)| t == "orders" && *p == 0);
    ///     if names_it && seen.fetch_add(1, Ordering::Relaxed) == 1 {
    ///         Verdict::DropAfter
    ///     } else {
    ///         Verdict::Pass
    ///     }
    /// });
    /// # Ok(()) }
    /// ```
    pub fn intercept(
        &self,
        api: impl Into<ApiKey>,
        f: impl Fn(&InterceptedRequest) -> Verdict + Send + Sync + 'static,
    ) -> InterceptorId {
        self.shared
            .interceptors
            .add(api.into().key(), std::sync::Arc::new(f))
    }

    /// Removes an interceptor; false if it was removed already.
    pub fn remove_interceptor(&self, id: InterceptorId) -> bool {
        self.shared.interceptors.remove(id)
    }

    /// Removes every interceptor.
    pub fn clear_interceptors(&self) {
        self.shared.interceptors.clear();
    }

    /// Every request the brokers received (the last 10,000), oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.faults.requests()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.shared.faults.clear_requests();
    }

    /// Sets broker `id` down: its port refuses connections and its open connections are closed
    /// (a request being served gets no answer). The other brokers' Metadata still lists it, as
    /// Kafka's does until the controller fences it. False if there is no such broker.
    pub fn set_broker_down(&self, id: i32) -> bool {
        self.shared.faults.set_up(id, false)
    }

    /// Sets broker `id` up again: it listens on the same port. False if there is no such broker.
    pub fn set_broker_up(&self, id: i32) -> bool {
        self.shared.faults.set_up(id, true)
    }

    /// Delays every response of broker `id` by `rtt` before it is written (a `tokio::time::sleep`,
    /// so a paused test clock applies); `Duration::ZERO` clears it. On the wire the client sees
    /// each answer `rtt` late, in request order: a connection's requests are served one at a
    /// time, so pipelined requests on one connection wait `rtt` each. False if there is no such
    /// broker.
    pub fn set_rtt(&self, id: i32, rtt: Duration) -> bool {
        self.shared.faults.set_rtt(id, rtt)
    }

    /// The record batches of a partition from its log start, with the producer id, epoch and
    /// sequence each was written with; `None` if there is no such partition.
    pub fn batches(&self, topic: &str, partition: i32) -> Option<Vec<BatchInfo>> {
        crate::inspect::batches(&self.shared, topic, partition)
    }

    /// The producer id and epoch the transaction coordinator holds for a transactional id,
    /// `None` if it is unknown.
    pub fn transaction_producer(&self, transactional_id: &str) -> Option<(i64, i16)> {
        crate::inspect::transaction_producer(&self.shared, transactional_id)
    }

    /// Whether broker `id` is up (an unknown id counts as up).
    pub fn is_broker_up(&self, id: i32) -> bool {
        self.shared.faults.is_up(id)
    }

    /// The leader of a partition and its leader epoch, `None` if there is no such partition.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<(i32, i32)> {
        let mut state = self.shared.lock();
        let p = state.partition_mut(topic, partition).ok()?;
        Some((p.leader, p.leader_epoch))
    }

    /// Makes broker `to` the leader of a partition, with the leader epoch bumped; returns the new
    /// epoch. The old leader then answers NOT_LEADER_OR_FOLLOWER for it, and a Fetch or
    /// ListOffsets naming the old epoch gets FENCED_LEADER_EPOCH. The log stays as it is (one
    /// copy, as if every replica were in sync).
    pub fn move_leader(&self, topic: &str, partition: i32, to: i32) -> Result<i32, TopicError> {
        let epoch = {
            let mut state = self.shared.lock();
            if !state.brokers.iter().any(|b| b.id == to) {
                return Err(TopicError {
                    code: code::BROKER_NOT_AVAILABLE,
                    message: format!("broker {to} is not in the cluster"),
                });
            }
            let p = state
                .partition_mut(topic, partition)
                .map_err(|c| TopicError {
                    code: c,
                    message: format!("no partition {topic}-{partition}"),
                })?;
            if !p.replicas.contains(&to) {
                // Reassigned onto `to`: it takes the first replica's place.
                if let Some(first) = p.replicas.first_mut() {
                    *first = to;
                }
            }
            p.leader = to;
            p.leader_epoch += 1;
            p.leader_epoch
        };
        // Long-polling fetches on the old leader answer at once.
        self.shared.data.notify_waiters();
        Ok(epoch)
    }

    /// Adds a broker to the running cluster, listening on an ephemeral port of the cluster's
    /// host, and returns its node id (the next one). Metadata lists it at once; it leads no
    /// partition until [`move_leader`](Control::move_leader) moves one to it or a topic created
    /// later is placed on it (as a broker added to a Kafka cluster gets no replica until a
    /// reassignment). The bootstrap list ([`MockCluster::bootstrap`]) stays the initial brokers'.
    pub fn add_broker(&self) -> std::io::Result<i32> {
        let host = self.shared.lock().config.host.clone();
        let std_listener = std::net::TcpListener::bind((host.as_str(), 0))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let listener = {
            let _entered = self.shared.runtime.enter();
            tokio::net::TcpListener::from_std(std_listener)?
        };
        let id = {
            let mut state = self.shared.lock();
            let id = state.brokers.iter().map(|b| b.id).max().unwrap_or(0) + 1;
            state.brokers.push(crate::state::Broker { id, addr });
            // Under the state lock, so two brokers added at once get their own slots in order.
            self.shared.faults.add_broker();
            id
        };
        let task = self.shared.runtime.spawn(crate::server::accept_loop(
            listener,
            self.shared.clone(),
            id,
        ));
        self.shared
            .added
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(task.abort_handle());
        Ok(id)
    }

    /// Every broker's node id and address, node 1 first (brokers added later included).
    pub fn brokers(&self) -> Vec<(i32, std::net::SocketAddr)> {
        self.shared
            .lock()
            .brokers
            .iter()
            .map(|b| (b.id, b.addr))
            .collect()
    }

    /// The broker coordinating `key` (a group id or a transactional id), as FindCoordinator
    /// answers it.
    pub fn coordinator(&self, key: &str) -> Option<i32> {
        let state = self.shared.lock();
        (!state.brokers.is_empty()).then(|| state.coordinator_for(key).id)
    }

    /// Moves the coordinator of `key` (a group id or a transactional id; both, if a group and a
    /// transactional id share the name) to broker `to`, as when the leader of its
    /// `__consumer_offsets` / `__transaction_state` partition moves. The old coordinator answers
    /// NOT_COORDINATOR from then on and FindCoordinator names `to`; the group's members,
    /// generation and offsets, or the transaction's state, stay as they are (the new
    /// coordinator loaded them).
    pub fn move_coordinator(&self, key: &str, to: i32) -> Result<(), TopicError> {
        let mut state = self.shared.lock();
        if !state.brokers.iter().any(|b| b.id == to) {
            return Err(TopicError {
                code: code::BROKER_NOT_AVAILABLE,
                message: format!("broker {to} is not in the cluster"),
            });
        }
        state.moved_coordinators.insert(key.to_owned(), to);
        Ok(())
    }
}

/// The same methods on the cluster handles, delegating to [`Control`].
macro_rules! delegate {
    ($ty:ty) => {
        impl $ty {
            /// A [`Control`] handle over this cluster, for another task or thread.
            pub fn control(&self) -> Control {
                Control::new(self.shared.clone())
            }

            /// See [`Control::inject`].
            pub fn inject(&self, fault: Fault) {
                self.control().inject(fault)
            }

            /// See [`Control::fail_next`].
            pub fn fail_next(&self, api: impl Into<ApiKey>, n: u32, error_code: i16) {
                self.control().fail_next(api, n, error_code)
            }

            /// See [`Control::pending_faults`].
            pub fn pending_faults(&self) -> Vec<Fault> {
                self.control().pending_faults()
            }

            /// See [`Control::clear_faults`].
            pub fn clear_faults(&self) {
                self.control().clear_faults()
            }

            /// See [`Control::intercept`].
            pub fn intercept(
                &self,
                api: impl Into<ApiKey>,
                f: impl Fn(&crate::InterceptedRequest) -> crate::Verdict + Send + Sync + 'static,
            ) -> crate::InterceptorId {
                self.control().intercept(api, f)
            }

            /// See [`Control::remove_interceptor`].
            pub fn remove_interceptor(&self, id: crate::InterceptorId) -> bool {
                self.control().remove_interceptor(id)
            }

            /// See [`Control::clear_interceptors`].
            pub fn clear_interceptors(&self) {
                self.control().clear_interceptors()
            }

            /// See [`Control::requests`].
            pub fn requests(&self) -> Vec<RequestRecord> {
                self.control().requests()
            }

            /// See [`Control::clear_requests`].
            pub fn clear_requests(&self) {
                self.control().clear_requests()
            }

            /// See [`Control::set_broker_down`].
            pub fn set_broker_down(&self, id: i32) -> bool {
                self.control().set_broker_down(id)
            }

            /// See [`Control::set_broker_up`].
            pub fn set_broker_up(&self, id: i32) -> bool {
                self.control().set_broker_up(id)
            }

            /// See [`Control::set_rtt`].
            pub fn set_rtt(&self, id: i32, rtt: std::time::Duration) -> bool {
                self.control().set_rtt(id, rtt)
            }

            /// See [`Control::batches`].
            pub fn batches(&self, topic: &str, partition: i32) -> Option<Vec<$crate::BatchInfo>> {
                self.control().batches(topic, partition)
            }

            /// See [`Control::transaction_producer`].
            pub fn transaction_producer(&self, transactional_id: &str) -> Option<(i64, i16)> {
                self.control().transaction_producer(transactional_id)
            }

            /// See [`Control::leader`].
            pub fn leader(&self, topic: &str, partition: i32) -> Option<(i32, i32)> {
                self.control().leader(topic, partition)
            }

            /// See [`Control::move_leader`].
            pub fn move_leader(
                &self,
                topic: &str,
                partition: i32,
                to: i32,
            ) -> Result<i32, TopicError> {
                self.control().move_leader(topic, partition, to)
            }

            /// See [`Control::add_broker`].
            pub fn add_broker(&self) -> std::io::Result<i32> {
                self.control().add_broker()
            }

            /// See [`Control::brokers`].
            pub fn brokers(&self) -> Vec<(i32, std::net::SocketAddr)> {
                self.control().brokers()
            }

            /// See [`Control::coordinator`].
            pub fn coordinator(&self, key: &str) -> Option<i32> {
                self.control().coordinator(key)
            }

            /// See [`Control::move_coordinator`].
            pub fn move_coordinator(&self, key: &str, to: i32) -> Result<(), TopicError> {
                self.control().move_coordinator(key, to)
            }
        }
    };
}

delegate!(MockCluster);
delegate!(MockClusterThread);
