//! A real Apache Kafka (4.x, and 3.9) for ferrokafka's tests, benches and examples.
//!
//! [`Kafka::shared`] gives every test of a process the same single-node broker; [`Kafka::start`]
//! gives a caller its own cluster (one or three nodes) for fault tests ([`Kafka::kill_node`],
//! [`Kafka::restart_node`], ...). Where the broker comes from, in this order:
//!
//! 1. `KAFKA_BOOTSTRAP_SERVERS` is set: that existing cluster ([`ClusterKind::External`]); fault
//!    injection returns [`HarnessError::Unsupported`].
//! 2. A Docker engine answers (`DOCKER_HOST`, or `/var/run/docker.sock`), feature `docker` (on by
//!    default): an `apache/kafka` container through testcontainers-rs, single node only
//!    ([`ClusterKind::Docker`]; [`Topology::Cluster3`] falls through to 3.).
//! 3. Java is installed: local KRaft broker JVMs from the Maven Central jars, resolved once into
//!    `$FERROKAFKA_KAFKA_CACHE` or `~/.cache/ferrokafka/kafka-<version>` ([`ClusterKind::Jvm`]).
//!
//! The Kafka version (jars, Docker image tag, broker configuration) is `FERROKAFKA_KAFKA_VERSION`,
//! default [`KAFKA_VERSION`]; 3.9 and later are supported ([`KafkaVersion`]).
//! 4. Neither Docker nor Java: the in-process mock cluster of `ferrokafka-mock`
//!    ([`ClusterKind::Mock`]), which needs nothing but this process. It is not a replicated
//!    log: fault injection (node kills, proxies) returns [`HarnessError::Unsupported`] naming
//!    the reason, so a test that needs a real broker fails loudly instead of passing.
//!
//! `FERROKAFKA_KAFKA_BACKEND=external|docker|jvm|mock` forces one backend.
//!
//! No broker JVM outlives the process that started it: each has a watchdog (`sh` reading a pipe from
//! this process) that SIGKILLs it when the pipe closes, however this process ends (panic, SIGKILL,
//! Ctrl-C). Owned clusters are also killed, and their directories removed, on Drop.
//!
//! The API is synchronous (std only); call it from tokio tests directly (it blocks for the start-up,
//! which is what a test wants), or from `spawn_blocking` if blocking the runtime matters.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod docker;
mod error;
mod ids;
pub mod jvm;
mod process;
pub mod proxy;
mod resolve;
pub mod secure;
mod state;
pub mod verifier;
mod version;

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

pub use config::Topology;
pub use error::HarnessError;
pub use ids::{random_cluster_id, unique_topic};
pub use proxy::{Direction, FaultProxy, ProxyStats};
pub use resolve::JvmRuntime;
pub use version::{KafkaVersion, Tool, KAFKA_VERSION, VERSION_ENV};

use jvm::JvmCluster;

/// Where a [`Kafka`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClusterKind {
    /// An existing cluster named by `KAFKA_BOOTSTRAP_SERVERS`.
    External,
    /// An `apache/kafka` container.
    Docker,
    /// Local broker JVMs from the Maven Central jars.
    Jvm,
    /// The in-process mock cluster (`ferrokafka-mock`): no JVM, no container.
    Mock,
}

impl std::fmt::Display for ClusterKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ClusterKind::External => "an existing cluster (KAFKA_BOOTSTRAP_SERVERS)",
            ClusterKind::Docker => "an apache/kafka container (Docker)",
            ClusterKind::Jvm => "a local Apache Kafka broker JVM",
            ClusterKind::Mock => "the in-process mock cluster (ferrokafka-mock)",
        })
    }
}

#[derive(Debug)]
enum Backend {
    External(String),
    #[cfg(feature = "docker")]
    Docker(Box<docker::DockerKafka>),
    Jvm(Mutex<JvmCluster>),
    Mock(ferrokafka_mock::MockClusterThread),
}

/// A running Kafka cluster: shared ([`Kafka::shared`]) or owned ([`Kafka::start`]; stopped on Drop).
#[derive(Debug)]
pub struct Kafka {
    backend: Backend,
    /// The process-wide shared broker refuses fault injection: other tests rely on it.
    shared: bool,
    /// One fault proxy per node, in `node_ids` order ([`Kafka::start_proxied`]); empty otherwise.
    proxies: Vec<(i32, FaultProxy)>,
}

static SHARED: OnceLock<Result<Kafka, HarnessError>> = OnceLock::new();

impl Kafka {
    /// The single-node broker shared by all tests of this process, started on first use. Tests must
    /// not (and cannot) kill it; the watchdog kills it when the process exits.
    pub fn shared() -> Result<&'static Kafka, HarnessError> {
        SHARED
            .get_or_init(|| {
                Kafka::start(Topology::Single).map(|mut k| {
                    k.shared = true;
                    k
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// A dedicated cluster owned by the caller, chosen in the documented order, stopped on Drop.
    pub fn start(topology: Topology) -> Result<Kafka, HarnessError> {
        let forced = std::env::var("FERROKAFKA_KAFKA_BACKEND").unwrap_or_default();
        match forced.trim() {
            "" => {}
            "external" => return Self::external(),
            "docker" => return Self::start_docker(topology),
            "jvm" => return Self::start_jvm(topology),
            "mock" => return Self::start_mock(topology),
            other => {
                return Err(HarnessError::NoBackend(format!(
                    "FERROKAFKA_KAFKA_BACKEND={other:?}: expected external, docker, jvm or mock"
                )))
            }
        }
        if external_bootstrap().is_some() {
            return Self::external();
        }
        let docker = docker::docker_engine();
        if docker.is_some() && cfg!(feature = "docker") && topology == Topology::Single {
            return Self::start_docker(topology);
        }
        if docker.is_none() && resolve::find_java().is_err() {
            // Nothing that runs a real broker here: the in-process mock serves instead.
            return Self::start_mock(topology);
        }
        Self::start_jvm(topology).map_err(|e| match e {
            HarnessError::NoBackend(why) => HarnessError::NoBackend(format!(
                "KAFKA_BOOTSTRAP_SERVERS is not set; {}; and the local JVM broker is unusable: {why}",
                match (&docker, cfg!(feature = "docker")) {
                    (None, _) => "no Docker engine answers (DOCKER_HOST unset or unreachable, /var/run/docker.sock absent or silent)".to_string(),
                    (Some(d), false) => format!("a Docker engine is there ({d}) but the `docker` feature is off"),
                    (Some(d), true) => format!("a Docker engine is there ({d}) but it runs single nodes only"),
                }
            )),
            other => other,
        })
    }

    /// The cluster named by `KAFKA_BOOTSTRAP_SERVERS`.
    pub fn external() -> Result<Kafka, HarnessError> {
        let bootstrap = external_bootstrap()
            .ok_or_else(|| HarnessError::NoBackend("KAFKA_BOOTSTRAP_SERVERS is not set".into()))?;
        Ok(Kafka {
            backend: Backend::External(bootstrap),
            shared: false,
            proxies: Vec::new(),
        })
    }

    /// A single-node `apache/kafka` container (feature `docker`; [`Topology::Single`] only).
    pub fn start_docker(topology: Topology) -> Result<Kafka, HarnessError> {
        if topology != Topology::Single {
            return Err(HarnessError::Unsupported(
                "the Docker backend runs a single node only; use the JVM backend for 3 nodes"
                    .into(),
            ));
        }
        #[cfg(feature = "docker")]
        {
            if docker::docker_engine().is_none() {
                return Err(HarnessError::NoBackend(
                    "no Docker engine answers (DOCKER_HOST unset or unreachable, /var/run/docker.sock absent or silent)"
                        .into(),
                ));
            }
            Ok(Kafka {
                backend: Backend::Docker(Box::new(docker::DockerKafka::start()?)),
                shared: false,
                proxies: Vec::new(),
            })
        }
        #[cfg(not(feature = "docker"))]
        Err(HarnessError::NoBackend(
            "ferrokafka-testcontainers was built without the `docker` feature".into(),
        ))
    }

    /// Local broker JVMs (resolving the jars with Maven on first use), whatever else is available.
    pub fn start_jvm(topology: Topology) -> Result<Kafka, HarnessError> {
        Ok(Kafka {
            backend: Backend::Jvm(Mutex::new(JvmCluster::start(topology)?)),
            shared: false,
            proxies: Vec::new(),
        })
    }

    /// The in-process mock cluster (one or three brokers) on a thread of its own, stopped on Drop.
    pub fn start_mock(topology: Topology) -> Result<Kafka, HarnessError> {
        // KIP-848 session timeout and heartbeat interval as the JVM brokers are configured
        // (`config.rs`): 10 s / 1 s instead of Kafka's 45 s / 5 s.
        let cluster = ferrokafka_mock::MockCluster::start_in_thread(
            ferrokafka_mock::MockConfig::default()
                .brokers(topology.node_count())
                .consumer_group_session_timeout(std::time::Duration::from_secs(10))
                .consumer_group_heartbeat_interval(std::time::Duration::from_secs(1)),
        )
        .map_err(|e| HarnessError::io("starting the mock cluster", e))?;
        Ok(Kafka {
            backend: Backend::Mock(cluster),
            shared: false,
            proxies: Vec::new(),
        })
    }

    /// Local broker JVMs behind one [`FaultProxy`] each: every node gets a second client listener
    /// advertised at its proxy, so [`Kafka::bootstrap`] (the proxies) and every connection metadata
    /// leads to go through the proxies, while inter-broker and controller traffic, and clients
    /// bootstrapped at [`Kafka::direct_bootstrap`], do not. JVM backend only (the proxy must know
    /// the ports before the broker starts).
    pub fn start_proxied(topology: Topology) -> Result<Kafka, HarnessError> {
        if std::env::var("FERROKAFKA_KAFKA_BACKEND").is_ok_and(|b| b.trim() == "mock") {
            return Err(mock_unsupported("start_proxied"));
        }
        // Port 1 until the broker's port is known; nothing connects before start-up ends.
        let placeholder = SocketAddr::from(([127, 0, 0, 1], 1));
        let proxies = (0..topology.node_count())
            .map(|_| FaultProxy::start(placeholder))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| HarnessError::io("starting a fault proxy", e))?;
        let advertised = proxies.iter().map(|p| p.addr().port()).collect();
        let cluster = JvmCluster::start_advertising(topology, advertised)?;
        let ids = cluster.node_ids();
        let mut named = Vec::with_capacity(proxies.len());
        for (id, proxy) in ids.into_iter().zip(proxies) {
            let upstream = cluster.proxied_upstream(id).ok_or_else(|| {
                HarnessError::Unsupported(format!("node {id} has no PROXIED listener"))
            })?;
            proxy.set_upstream(upstream);
            named.push((id, proxy));
        }
        Ok(Kafka {
            backend: Backend::Jvm(Mutex::new(cluster)),
            shared: false,
            proxies: named,
        })
    }

    /// The fault proxy in front of node `id` ([`Kafka::start_proxied`] only).
    pub fn proxy(&self, id: i32) -> Option<&FaultProxy> {
        self.proxies.iter().find(|(n, _)| *n == id).map(|(_, p)| p)
    }

    /// Every node's fault proxy, in node id order (empty unless [`Kafka::start_proxied`]).
    pub fn proxies(&self) -> impl Iterator<Item = &FaultProxy> {
        self.proxies.iter().map(|(_, p)| p)
    }

    /// Bootstrap servers that bypass the fault proxies (the brokers' own `PLAINTEXT` listeners,
    /// whose metadata names the brokers, not the proxies): for checking the log while faults are
    /// on. Without proxies this is [`Kafka::bootstrap`].
    pub fn direct_bootstrap(&self) -> String {
        match &self.backend {
            Backend::Jvm(c) if !self.proxies.is_empty() => lock(c).bootstrap(),
            _ => self.bootstrap(),
        }
    }

    /// Where this cluster runs.
    pub fn kind(&self) -> ClusterKind {
        match &self.backend {
            Backend::External(_) => ClusterKind::External,
            #[cfg(feature = "docker")]
            Backend::Docker(_) => ClusterKind::Docker,
            Backend::Jvm(_) => ClusterKind::Jvm,
            Backend::Mock(_) => ClusterKind::Mock,
        }
    }

    /// Bootstrap servers as a comma-separated `host:port` list (every node, running or not); the
    /// fault proxies' addresses for a [`Kafka::start_proxied`] cluster.
    pub fn bootstrap(&self) -> String {
        if !self.proxies.is_empty() {
            return self
                .proxies()
                .map(|p| p.addr().to_string())
                .collect::<Vec<_>>()
                .join(",");
        }
        match &self.backend {
            Backend::External(b) => b.clone(),
            #[cfg(feature = "docker")]
            Backend::Docker(d) => d.address(),
            Backend::Jvm(c) => lock(c).bootstrap(),
            Backend::Mock(m) => m.bootstrap(),
        }
    }

    /// `node.id`s of the nodes this harness controls: `[1]` or `[1, 2, 3]`; empty for an external
    /// cluster (its ids are whatever its metadata says).
    pub fn node_ids(&self) -> Vec<i32> {
        match &self.backend {
            Backend::External(_) => Vec::new(),
            #[cfg(feature = "docker")]
            Backend::Docker(_) => vec![1],
            Backend::Jvm(c) => lock(c).node_ids(),
            Backend::Mock(m) => (1..=m.broker_addrs().len() as i32).collect(),
        }
    }

    /// `host:port` of a node's client listener, `None` for an unknown id.
    pub fn node_address(&self, id: i32) -> Option<String> {
        match &self.backend {
            Backend::External(_) => None,
            #[cfg(feature = "docker")]
            Backend::Docker(d) => (id == 1).then(|| d.address()),
            Backend::Jvm(c) => lock(c).node_address(id),
            Backend::Mock(m) => usize::try_from(id - 1)
                .ok()
                .and_then(|i| m.broker_addrs().get(i))
                .map(ToString::to_string),
        }
    }

    /// The pid of a node's JVM (JVM backend only).
    pub fn pid(&self, id: i32) -> Option<u32> {
        match &self.backend {
            Backend::Jvm(c) => lock(c).pid(id),
            _ => None,
        }
    }

    /// A node's log file (JVM backend only; the previous run's log is kept as `server.log.prev`).
    pub fn log_path(&self, id: i32) -> Option<PathBuf> {
        match &self.backend {
            Backend::Jvm(c) => lock(c).log_path(id),
            _ => None,
        }
    }

    /// Whether the node's process (or container) runs. For an external cluster (whose nodes the
    /// harness does not know) it reports whether any bootstrap server accepts TCP.
    pub fn is_running(&self, id: i32) -> bool {
        match &self.backend {
            Backend::External(b) => b.split(',').any(|a| accepts_tcp(a.trim())),
            #[cfg(feature = "docker")]
            Backend::Docker(d) => id == 1 && d.is_running(),
            Backend::Jvm(c) => lock(c).is_running(id),
            Backend::Mock(m) => id >= 1 && id as usize <= m.broker_addrs().len(),
        }
    }

    /// Crashes a node: SIGKILL to its JVM (no controlled shutdown), waits until the pid is gone.
    pub fn kill_node(&self, id: i32) -> Result<(), HarnessError> {
        match self.faultable("kill_node")? {
            #[cfg(feature = "docker")]
            Backend::Docker(d) => {
                docker_node(id)?;
                d.stop(0)
            }
            Backend::Jvm(c) => lock(c).kill_node(id),
            Backend::External(_) => Err(external_unsupported("kill_node")),
            Backend::Mock(_) => Err(mock_unsupported("kill_node")),
        }
    }

    /// Stops a node cleanly: SIGTERM (controlled shutdown), waits for exit (SIGKILL after 30 s).
    pub fn stop_node(&self, id: i32) -> Result<(), HarnessError> {
        match self.faultable("stop_node")? {
            #[cfg(feature = "docker")]
            Backend::Docker(d) => {
                docker_node(id)?;
                d.stop(30)
            }
            Backend::Jvm(c) => lock(c).stop_node(id),
            Backend::External(_) => Err(external_unsupported("stop_node")),
            Backend::Mock(_) => Err(mock_unsupported("stop_node")),
        }
    }

    /// Starts a node again with the same ports and data (killing it first if it runs) and waits
    /// until it is ready (log line and open port; 120 s timeout).
    pub fn restart_node(&self, id: i32) -> Result<(), HarnessError> {
        match self.faultable("restart_node")? {
            #[cfg(feature = "docker")]
            Backend::Docker(d) => {
                docker_node(id)?;
                d.restart()?;
                wait_for_port(&d.address(), Duration::from_secs(120))
            }
            Backend::Jvm(c) => lock(c).restart_node(id),
            Backend::External(_) => Err(external_unsupported("restart_node")),
            Backend::Mock(_) => Err(mock_unsupported("restart_node")),
        }
    }

    /// Creates `topic` (if it does not exist yet) with Kafka's own `TopicCommand`. Meant for the
    /// 3-node cluster, where topics are not auto-created. Costs a JVM start (2-5 s) and needs Java
    /// and the `kafka-tools` jar (resolved on first use); works against any backend.
    pub fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        replication_factor: i16,
    ) -> Result<(), HarnessError> {
        if let Backend::Mock(m) = &self.backend {
            // --if-not-exists: an existing topic is not an error.
            return match m.create_topic(topic, partitions) {
                Ok(()) => Ok(()),
                Err(e) if e.code == 36 => Ok(()),
                Err(e) => Err(HarnessError::Tool(format!(
                    "create topic {topic} on the mock: {e}"
                ))),
            };
        }
        let output = JvmRuntime::locate()?
            .kafka_tool(Tool::Topic)?
            .args(["--bootstrap-server", &self.bootstrap()])
            .args(["--create", "--if-not-exists", "--topic", topic])
            .args(["--partitions", &partitions.to_string()])
            .args(["--replication-factor", &replication_factor.to_string()])
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| HarnessError::io("running TopicCommand", e))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(HarnessError::Tool(format!(
                "TopicCommand --create --topic {topic} ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )))
        }
    }

    fn faultable(&self, op: &str) -> Result<&Backend, HarnessError> {
        if self.shared {
            return Err(HarnessError::Unsupported(format!(
                "{op} on the shared broker (Kafka::shared) would break other tests; use \
                 Kafka::start for a dedicated cluster"
            )));
        }
        if matches!(self.backend, Backend::External(_)) {
            return Err(external_unsupported(op));
        }
        Ok(&self.backend)
    }
}

fn external_bootstrap() -> Option<String> {
    std::env::var("KAFKA_BOOTSTRAP_SERVERS")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn mock_unsupported(op: &str) -> HarnessError {
    HarnessError::Unsupported(format!(
        "{op} on the in-process mock cluster: it is not a replicated log and has no processes to \
         kill; this test needs a real broker (FERROKAFKA_KAFKA_BACKEND=jvm, Docker or \
         KAFKA_BOOTSTRAP_SERVERS)"
    ))
}

fn external_unsupported(op: &str) -> HarnessError {
    HarnessError::Unsupported(format!(
        "{op} on an external cluster (KAFKA_BOOTSTRAP_SERVERS): the harness does not control its \
         processes; unset KAFKA_BOOTSTRAP_SERVERS to run fault tests"
    ))
}

#[cfg(feature = "docker")]
fn docker_node(id: i32) -> Result<(), HarnessError> {
    if id == 1 {
        Ok(())
    } else {
        Err(HarnessError::UnknownNode(id))
    }
}

/// Locks the cluster; a panic in another test while it held the lock leaves the cluster usable
/// (every operation re-checks process state), so poisoning is ignored.
fn lock(c: &Mutex<JvmCluster>) -> MutexGuard<'_, JvmCluster> {
    c.lock().unwrap_or_else(|p| p.into_inner())
}

fn accepts_tcp(addr: &str) -> bool {
    let Ok(addrs) = addr.to_socket_addrs() else {
        return false;
    };
    addrs
        .into_iter()
        .any(|a: SocketAddr| TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok())
}

#[cfg(feature = "docker")]
fn wait_for_port(addr: &str, timeout: Duration) -> Result<(), HarnessError> {
    let deadline = std::time::Instant::now() + timeout;
    while !accepts_tcp(addr) {
        if std::time::Instant::now() > deadline {
            return Err(HarnessError::Docker(format!(
                "{addr} does not accept connections after {timeout:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_cluster_refuses_fault_injection() {
        let k = Kafka {
            backend: Backend::External("h1:9092,h2:9092".into()),
            shared: false,
            proxies: Vec::new(),
        };
        assert_eq!(k.kind(), ClusterKind::External);
        assert_eq!(k.bootstrap(), "h1:9092,h2:9092");
        assert!(k.node_ids().is_empty());
        assert!(matches!(k.kill_node(1), Err(HarnessError::Unsupported(_))));
        assert!(matches!(
            k.restart_node(1),
            Err(HarnessError::Unsupported(_))
        ));
        assert!(matches!(k.stop_node(1), Err(HarnessError::Unsupported(_))));
        assert!(k.log_path(1).is_none());
    }

    #[test]
    fn the_mock_backend_serves_three_nodes_and_refuses_fault_injection() {
        let k = Kafka::start_mock(Topology::Cluster3).expect("mock");
        assert_eq!(k.kind(), ClusterKind::Mock);
        assert_eq!(k.node_ids(), vec![1, 2, 3]);
        assert_eq!(k.bootstrap().split(',').count(), 3);
        assert!(k.node_address(3).is_some() && k.node_address(4).is_none());
        assert!(k.is_running(2));
        k.create_topic("t", 3, 3).expect("create");
        k.create_topic("t", 3, 3).expect("again: --if-not-exists");
        for e in [k.kill_node(1), k.stop_node(2), k.restart_node(3)] {
            match e {
                Err(HarnessError::Unsupported(why)) => {
                    assert!(why.contains("real broker"), "{why}")
                }
                other => panic!("fault injection on the mock: {other:?}"),
            }
        }
        assert!(k.kind().to_string().contains("mock"));
    }
}
