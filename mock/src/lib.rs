//! An in-process Apache Kafka cluster for tests: N brokers on 127.0.0.1 (real TCP, ephemeral
//! ports), speaking the Kafka wire protocol, state in memory. Any client connects to it — the
//! Java client, librdkafka and kcat, franz-go, ferrokafka — so an application's own tests can
//! produce, consume in a group and administer topics without a JVM, Docker or a download.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use ferrokafka_mock::{MockCluster, MockConfig};
//!
//! let cluster = MockCluster::start(MockConfig::default().brokers(3)).await?;
//! cluster.create_topic("orders", 6).expect("a new topic");
//! // Hand this to any Kafka client as `bootstrap.servers`.
//! let bootstrap = cluster.bootstrap();
//! assert_eq!(bootstrap.split(',').count(), 3);
//! # Ok(())
//! # }
//! ```
//!
//! A SASL_SSL cluster: clients authenticate with SCRAM and trust the generated CA.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use ferrokafka_mock::{MockCluster, MockConfig, SecurityProtocol};
//!
//! let cluster = MockCluster::start(
//!     MockConfig::default()
//!         .security_protocol(SecurityProtocol::SaslSsl)
//!         .sasl_user("alice", "alice-secret"),
//! )
//! .await?;
//! // The client's settings: security.protocol=SASL_SSL, sasl.mechanism=SCRAM-SHA-512 (or
//! // PLAIN, SCRAM-SHA-256), the user and password, and the CA as `ssl.ca.pem` (or written to a
//! // file for `ssl.ca.location` with `cluster.write_ca_certificate(path)`).
//! let ca_pem = cluster.ca_certificate_pem().expect("generated at start");
//! assert!(ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
//! # Ok(())
//! # }
//! ```
//!
//! What it implements, as a broker does (each rule is the real broker's, written from Kafka's
//! documentation and behaviour, independently of the ferrokafka client's code):
//! - **ApiVersions**, **Metadata** (leaders spread over the brokers, leader epochs, controller,
//!   cluster id, topic ids; auto-creation when the client allows it and the cluster is configured
//!   to), **DescribeCluster**, **CreateTopics** / **DeleteTopics** / **CreatePartitions**,
//!   **DescribeConfigs** for topics.
//! - **Produce**: batches stored as received with their base offset and leader epoch written in,
//!   acks 0/1/-1, CRC-32C checked (`CORRUPT_MESSAGE`), `max.message.bytes` (`MESSAGE_TOO_LARGE`),
//!   idempotence per producer id and partition (the last 5 batches: a retry of one is answered
//!   with its original offset, a gap with `OUT_OF_ORDER_SEQUENCE_NUMBER`, an older epoch with
//!   `INVALID_PRODUCER_EPOCH`), **InitProducerId** for idempotent producers.
//! - Transactions, versions 1 (KIP-98) and 2 (KIP-890 part 2; ApiVersions finalizes
//!   `transaction.version` 2 unless [`MockConfig::transaction_version`] says otherwise):
//!   **InitProducerId** with a transactional id (a new id gets epoch 0, a known one its
//!   epoch bumped, fencing the previous producer and aborting its open transaction),
//!   **AddPartitionsToTxn** (v0-3) or Produce v12 adding the partition itself,
//!   **AddOffsetsToTxn** or TxnOffsetCommit v5 adding the group, **TxnOffsetCommit** (offsets
//!   reach the group on commit), **EndTxn** writing a COMMIT / ABORT control batch into each
//!   partition of the transaction (v5: at a bumped epoch, handed back to the producer; a new
//!   producer id once the epoch is exhausted); transactional Produce only to partitions in the
//!   transaction (`INVALID_TXN_STATE`); a transaction older than its `transaction.timeout.ms`
//!   is aborted at a bumped epoch (its producer is fenced); **DescribeTransactions**;
//!   **UpdateFeatures** moving `transaction.version` (`kafka-features.sh downgrade`).
//! - **Fetch**: long polls honouring `max.wait.ms` / `min.bytes`, `max.bytes` and the partition
//!   limit (always at least one batch, KIP-74), `OFFSET_OUT_OF_RANGE`; read_committed serves
//!   records below the last stable offset only, with the aborted transactions of the range;
//!   fetch sessions are declined (session id 0), which every client accepts. **ListOffsets**:
//!   earliest, latest (the last stable offset under read_committed), by timestamp, max
//!   timestamp.
//! - Classic consumer groups: **FindCoordinator**, **JoinGroup** / **SyncGroup** / **Heartbeat** /
//!   **LeaveGroup** with generations and rebalances, **OffsetCommit** / **OffsetFetch**,
//!   **ListGroups** / **DescribeGroups** / **DeleteGroups**.
//! - Listener security ([`MockConfig::security_protocol`]): PLAINTEXT, SASL_PLAINTEXT, SSL,
//!   SASL_SSL, one per cluster. SASL as Kafka's `SaslServerAuthenticator` serves it:
//!   **SaslHandshake** (v0-1; v0's raw tokens too) and **SaslAuthenticate** (v0-2), only
//!   ApiVersions and those before authentication (anything else closes the connection),
//!   `UNSUPPORTED_SASL_MECHANISM` with the enabled mechanisms, `SASL_AUTHENTICATION_FAILED`
//!   with Kafka's messages, `ILLEGAL_SASL_STATE` out of place; PLAIN, SCRAM-SHA-256 and
//!   SCRAM-SHA-512 for the users of [`MockConfig::sasl_user`] (SCRAM keys derived at start,
//!   4096 iterations), OAUTHBEARER with Kafka's unsecured validator when enabled, KIP-368
//!   re-authentication ([`MockConfig::connections_max_reauth`]). TLS (feature `tls`, on by
//!   default: rustls on ring) with a CA and broker certificate generated at start for
//!   127.0.0.1 / localhost ([`MockCluster::ca_certificate_pem`],
//!   [`MockCluster::write_ca_certificate`]) or the caller's certificate, optionally requiring
//!   client certificates. No ACLs: an authenticated user may do everything.
//! - KIP-848 consumer groups (`group.protocol=consumer`): **ConsumerGroupHeartbeat** and
//!   **ConsumerGroupDescribe** (v0-1; `group.version` 1 advertised), the broker assigning with
//!   the `uniform` (default) or `range` assignor, group / target assignment / member epochs,
//!   incremental reconciliation (a partition goes to its new owner only once its previous owner
//!   stopped reporting it), FENCED_MEMBER_EPOCH, leave, static members (epoch -2), topics by name
//!   or regex, new topics and partitions picked up; members fenced after
//!   [`MockConfig::consumer_group_session_timeout`] or a revocation past their rebalance
//!   timeout; **OffsetCommit** / **OffsetFetch** v9 with the member epoch (STALE_MEMBER_EPOCH).
//!   Not served: one group mixing classic and consumer-protocol members (Kafka's migration);
//!   such a JoinGroup gets INCONSISTENT_GROUP_PROTOCOL.
//! - Memory is bounded: each partition keeps at most `retention.bytes` (the topic's config, else
//!   [`MockConfig::retention_bytes`], 64 MiB by default); older batches are dropped and the log
//!   start offset moves, as when a broker deletes a segment.
//! - Bad input: a malformed or truncated request closes its connection with one WARN line; a
//!   request for an API or version the mock does not serve closes the connection too, as a
//!   broker does (clients ask ApiVersions first and never send one). Nothing panics on input.
//!
//! Faults for tests of client resilience ([`Control`], also on the cluster handles): errors
//! injected into the next N matching requests ([`Fault`]), brokers set down and up, leaders
//! moved with their epoch bumped, a log of every request each broker received, and the batches
//! a partition holds with their producer ids and epochs ([`Control::batches`]).
//!
//! Not a replicated log: there is one copy of each partition whatever the replication factor,
//! so it cannot prove replication or failover; use a real cluster for that.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod auth;
mod config;
mod control;
mod drops;
mod fault;
mod groups;
mod guard;
pub mod guide;
mod inspect;
mod intercept;
mod log;
mod server;
mod state;
mod txn;

pub use auth::{SecurityProtocol, SASL_MECHANISMS};
pub use config::MockConfig;
pub use control::Control;
pub use fault::{ApiKey, Fault, RequestRecord, REQUEST_LOG_CAPACITY};
pub use inspect::BatchInfo;
pub use intercept::{InterceptedRequest, InterceptorId, Verdict};

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

/// A running mock cluster inside the caller's tokio runtime. Dropping it closes its listeners and
/// every connection.
#[derive(Debug)]
pub struct MockCluster {
    shared: Arc<server::Shared>,
    addrs: Vec<SocketAddr>,
    tasks: Vec<AbortHandle>,
}

/// A topic operation failed: a topic could not be created (name taken or invalid, bad partition
/// count), a leader could not be moved (no such partition or broker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicError {
    /// Kafka's error code, e.g. 36 TOPIC_ALREADY_EXISTS.
    pub code: i16,
    /// What a broker would say.
    pub message: String,
}

impl std::fmt::Display for TopicError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (error code {})", self.message, self.code)
    }
}

impl std::error::Error for TopicError {}

impl MockCluster {
    /// Binds the brokers' listeners and starts serving on the current tokio runtime.
    pub async fn start(mut config: MockConfig) -> io::Result<MockCluster> {
        let security = auth::Security::new(std::mem::take(&mut config.security), &config.host)?;
        let mut listeners = Vec::with_capacity(config.brokers);
        for i in 0..config.brokers {
            let port = if config.first_port == 0 {
                0
            } else {
                config
                    .first_port
                    .checked_add(i as u16)
                    .ok_or_else(|| io::Error::other("broker port above 65535"))?
            };
            listeners.push(TcpListener::bind((config.host.as_str(), port)).await?);
        }
        let addrs = listeners
            .iter()
            .map(|l| l.local_addr())
            .collect::<io::Result<Vec<_>>>()?;
        let brokers = addrs
            .iter()
            .enumerate()
            .map(|(i, addr)| state::Broker {
                id: i as i32 + 1,
                addr: *addr,
            })
            .collect();
        let shared = Arc::new(server::Shared::new(
            state::ClusterState::new(config, brokers),
            security,
        ));
        let mut tasks = Vec::new();
        for (i, listener) in listeners.into_iter().enumerate() {
            let task = tokio::spawn(server::accept_loop(listener, shared.clone(), i as i32 + 1));
            tasks.push(task.abort_handle());
        }
        tasks.push(tokio::spawn(groups::background(shared.clone())).abort_handle());
        Ok(MockCluster {
            shared,
            addrs,
            tasks,
        })
    }

    /// Starts a cluster on a runtime of its own in a new thread, for synchronous callers (a
    /// `#[test]` without tokio, a harness). Stopped when the returned handle is dropped.
    pub fn start_in_thread(config: MockConfig) -> io::Result<MockClusterThread> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("ferrokafka-mock".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    match MockCluster::start(config).await {
                        Ok(cluster) => {
                            let _ =
                                ready_tx.send(Ok((cluster.addrs.clone(), cluster.shared.clone())));
                            let _ = stop_rx.await;
                            drop(cluster);
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })?;
        let (addrs, shared) = ready_rx
            .recv()
            .map_err(|_| io::Error::other("the mock cluster's thread ended while starting"))??;
        Ok(MockClusterThread {
            addrs,
            shared,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// `bootstrap.servers` for a client: every broker's `host:port`, comma-separated.
    pub fn bootstrap(&self) -> String {
        bootstrap_of(&self.addrs)
    }

    /// The brokers' addresses, node 1 first.
    pub fn broker_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Creates a topic with `partitions` partitions (replication factor 1), as CreateTopics would.
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<(), TopicError> {
        create_topic(&self.shared, name, partitions)
    }

    /// The high watermark (log end offset) of a partition, `None` if it does not exist.
    pub fn high_watermark(&self, topic: &str, partition: i32) -> Option<i64> {
        high_watermark(&self.shared, topic, partition)
    }
}

impl Drop for MockCluster {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        let added = self.shared.added.lock().unwrap_or_else(|p| p.into_inner());
        for t in added.iter() {
            t.abort();
        }
    }
}

/// A [`MockCluster`] running on a thread of its own ([`MockCluster::start_in_thread`]); dropping
/// it stops the cluster and joins the thread.
#[derive(Debug)]
pub struct MockClusterThread {
    addrs: Vec<SocketAddr>,
    shared: Arc<server::Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MockClusterThread {
    /// `bootstrap.servers` for a client: every broker's `host:port`, comma-separated.
    pub fn bootstrap(&self) -> String {
        bootstrap_of(&self.addrs)
    }

    /// The brokers' addresses, node 1 first.
    pub fn broker_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Creates a topic with `partitions` partitions (replication factor 1).
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<(), TopicError> {
        create_topic(&self.shared, name, partitions)
    }

    /// The high watermark (log end offset) of a partition, `None` if it does not exist.
    pub fn high_watermark(&self, topic: &str, partition: i32) -> Option<i64> {
        high_watermark(&self.shared, topic, partition)
    }
}

impl Drop for MockClusterThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn bootstrap_of(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn create_topic(shared: &server::Shared, name: &str, partitions: i32) -> Result<(), TopicError> {
    shared
        .lock()
        .create_topic(name, partitions, 1, BTreeMap::new())
        .map_err(|(code, message)| TopicError { code, message })
}

fn high_watermark(shared: &server::Shared, topic: &str, partition: i32) -> Option<i64> {
    shared
        .lock()
        .partition_mut(topic, partition)
        .ok()
        .map(|p| p.log.log_end())
}

// Mutex poisoning cannot leave the state half-written in a way that matters more than stopping
// the test: a panic inside the lock is a bug of the mock and its tests should see it.
#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<MockCluster>();
    is::<MockClusterThread>();
    is::<Mutex<state::ClusterState>>();
}
