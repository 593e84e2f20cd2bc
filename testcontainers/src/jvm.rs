//! A KRaft cluster of local broker JVMs run from the Maven Central jars.
//!
//! Two modes: *owned* ([`JvmCluster::start`]) lives in a temp dir, every JVM has a watchdog that
//! kills it when this process dies, and Drop kills the JVMs and removes the directory; *detached*
//! ([`JvmCluster::start_detached`], used by the `kafka-test-cluster` binary) writes a state file and
//! leaves the JVMs running after this process exits.

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::config::{
    allocate_nodes, free_ports, render_server_properties, NodePorts, ProxiedListener, Topology,
};
use crate::ids::{random_cluster_id, random_u64};
use crate::process::{Cleanup, NodeProcess};
use crate::resolve::{tail_lines, JvmRuntime};
use crate::state::{ClusterState, NodeState};
use crate::version::KafkaVersion;
use crate::HarnessError;

/// The line `KafkaRaftServer` logs once the broker is unfenced and its acceptors run.
const READY_MARKER: &str = "Kafka Server started";
/// Name of a node's log file (the JVM's stdout and stderr) inside its directory.
const LOG_FILE: &str = "server.log";
/// How long a SIGTERMed JVM gets before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Start-up attempts when a chosen port was taken by someone else before the broker bound it.
const PORT_ATTEMPTS: usize = 3;

/// Start-up timeout: `FERROKAFKA_KAFKA_START_TIMEOUT` seconds, default 120 (three JVMs on two cores
/// are slow).
fn start_timeout() -> Duration {
    let secs = std::env::var("FERROKAFKA_KAFKA_START_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(120);
    Duration::from_secs(secs)
}

#[derive(Debug)]
struct JvmNode {
    ports: NodePorts,
    dir: PathBuf,
    process: Option<NodeProcess>,
    /// The `PROXIED` listener's own port (clusters behind fault proxies only).
    proxied_listen: Option<u16>,
}

impl JvmNode {
    fn props(&self) -> PathBuf {
        self.dir.join("server.properties")
    }
    fn log(&self) -> PathBuf {
        self.dir.join(LOG_FILE)
    }
    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.ports.broker)
    }
}

/// A running KRaft cluster of local JVM brokers (see the module docs for owned vs detached).
#[derive(Debug)]
pub struct JvmCluster {
    runtime: JvmRuntime,
    topology: Topology,
    cluster_id: String,
    root: PathBuf,
    nodes: Vec<JvmNode>,
    /// Owned: watchdogs, kill and remove `root` on drop. Detached: nothing happens on drop.
    owned: bool,
    /// Per node (in id order), the fault proxy's port the `PROXIED` listener advertises; empty
    /// when the cluster is not behind proxies.
    advertised: Vec<u16>,
}

impl JvmCluster {
    /// Starts an owned cluster in a fresh temp dir and waits until every node is ready.
    pub fn start(topology: Topology) -> Result<JvmCluster, HarnessError> {
        Self::start_advertising(topology, Vec::new())
    }

    /// Starts an owned cluster whose nodes have a second client listener, `PROXIED`, advertised at
    /// `advertised[i]` for the i-th node (the fault proxies' ports; see `crate::proxy`). An empty
    /// list is [`JvmCluster::start`].
    pub fn start_advertising(
        topology: Topology,
        advertised: Vec<u16>,
    ) -> Result<JvmCluster, HarnessError> {
        if !advertised.is_empty() && advertised.len() != topology.node_count() {
            return Err(HarnessError::Unsupported(format!(
                "{} advertised ports for {} nodes",
                advertised.len(),
                topology.node_count()
            )));
        }
        let runtime = JvmRuntime::locate()?;
        let root = std::env::temp_dir().join(format!(
            "ferrokafka-kafka-{}-{:08x}",
            std::process::id(),
            random_u64() as u32
        ));
        fs::create_dir(&root).map_err(|e| HarnessError::io(root.display(), e))?;
        Self::start_in(runtime, topology, root, true, advertised)
    }

    /// Starts a detached cluster in `root` (created if needed; old node dirs are wiped), writes
    /// `root/cluster.state` and returns once every node is ready. The JVMs keep running after this
    /// process exits; stop them with [`JvmCluster::load`] + [`JvmCluster::stop_all`].
    pub fn start_detached(topology: Topology, root: &Path) -> Result<JvmCluster, HarnessError> {
        let runtime = JvmRuntime::locate()?;
        fs::create_dir_all(root).map_err(|e| HarnessError::io(root.display(), e))?;
        let cluster = Self::start_in(runtime, topology, root.to_path_buf(), false, Vec::new())?;
        cluster.save_state()?;
        Ok(cluster)
    }

    /// Re-attaches to a detached cluster from `root/cluster.state`. Nodes whose JVM is gone are
    /// reported as not running.
    pub fn load(root: &Path) -> Result<JvmCluster, HarnessError> {
        let state = ClusterState::read(root)?;
        let runtime = match state.version.clone() {
            Some(v) => JvmRuntime::locate_version(v)?,
            None => JvmRuntime::locate()?,
        };
        let nodes = state
            .nodes
            .iter()
            .map(|n| JvmNode {
                ports: n.ports,
                dir: root.join(format!("node-{}", n.ports.node_id)),
                process: n.pid.map(NodeProcess::adopt),
                proxied_listen: None,
            })
            .collect();
        Ok(JvmCluster {
            runtime,
            topology: state.topology,
            cluster_id: state.cluster_id,
            root: root.to_path_buf(),
            nodes,
            owned: false,
            advertised: Vec::new(),
        })
    }

    fn start_in(
        runtime: JvmRuntime,
        topology: Topology,
        root: PathBuf,
        owned: bool,
        advertised: Vec<u16>,
    ) -> Result<JvmCluster, HarnessError> {
        let mut cluster = JvmCluster {
            runtime,
            topology,
            cluster_id: random_cluster_id(),
            root,
            nodes: Vec::new(),
            owned,
            advertised,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            match cluster.try_start() {
                Ok(()) => return Ok(cluster),
                Err(e) => {
                    cluster.kill_all();
                    let port_clash = matches!(&e, HarnessError::Startup { log_tail, .. }
                        if log_tail.contains("Address already in use"));
                    if !port_clash || attempt >= PORT_ATTEMPTS {
                        // Drop (owned) removes the directory.
                        return Err(e);
                    }
                }
            }
        }
    }

    /// Lays out, formats, spawns and waits for all nodes with freshly chosen ports.
    fn try_start(&mut self) -> Result<(), HarnessError> {
        for n in self.nodes.drain(..) {
            let _ = fs::remove_dir_all(&n.dir);
        }
        let ports = allocate_nodes(self.topology)?;
        let listen = free_ports(self.advertised.len())?;
        for (i, p) in ports.iter().enumerate() {
            let dir = self.root.join(format!("node-{}", p.node_id));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).map_err(|e| HarnessError::io(dir.display(), e))?;
            let proxied = match (listen.get(i), self.advertised.get(i)) {
                (Some(&listen), Some(&advertised)) => Some(ProxiedListener { listen, advertised }),
                _ => None,
            };
            let props = render_server_properties(
                &self.runtime.version,
                self.topology,
                p,
                &ports,
                &dir.join("data"),
                proxied,
            );
            fs::write(dir.join("server.properties"), props)
                .map_err(|e| HarnessError::io(dir.display(), e))?;
            self.nodes.push(JvmNode {
                ports: *p,
                dir,
                process: None,
                proxied_listen: proxied.map(|l| l.listen),
            });
        }
        self.format_all()?;
        // Spawn every node before waiting: a node of a 3-node cluster cannot finish start-up until
        // a quorum (2 of 3 controllers) exists.
        for i in 0..self.nodes.len() {
            self.spawn_node(i)?;
        }
        let deadline = Instant::now() + start_timeout();
        for i in 0..self.nodes.len() {
            self.wait_ready(i, deadline)?;
        }
        Ok(())
    }

    /// `kafka.tools.StorageTool format` for every node, in parallel (each is a JVM start).
    fn format_all(&self) -> Result<(), HarnessError> {
        let mut children = Vec::new();
        for n in &self.nodes {
            let mut cmd = Command::new(&self.runtime.java);
            cmd.arg("-Xmx256m")
                .arg(format!(
                    "-Dlog4j2.configurationFile={}",
                    self.runtime.tools_log4j().display()
                ))
                .arg("-cp")
                .arg(self.runtime.classpath())
                .args([
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    &self.cluster_id,
                    "-c",
                ])
                .arg(n.props());
            if self.topology == Topology::Single {
                cmd.arg("--standalone");
            }
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let child = cmd
                .spawn()
                .map_err(|e| HarnessError::io("starting kafka.tools.StorageTool", e))?;
            children.push((n.ports.node_id, child));
        }
        let mut first_error = None;
        for (id, child) in children {
            let out: Output = match child.wait_with_output() {
                Ok(o) => o,
                Err(e) => {
                    first_error.get_or_insert(HarnessError::io("waiting for StorageTool", e));
                    continue;
                }
            };
            if !out.status.success() {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                first_error.get_or_insert(HarnessError::Startup {
                    node: id,
                    message: format!("StorageTool format failed ({})", out.status),
                    log_tail: tail_lines(&text, 50),
                });
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn spawn_node(&mut self, i: usize) -> Result<(), HarnessError> {
        let cleanup = self.owned.then(|| Cleanup {
            node_dir: self.nodes[i].dir.clone(),
            cluster_dir: self.root.clone(),
        });
        let node = &mut self.nodes[i];
        let log = node.log();
        // Keep the previous run's log (a crash is worth reading) but wait on a fresh file.
        if log.exists() {
            let _ = fs::rename(&log, node.dir.join(format!("{LOG_FILE}.prev")));
        }
        let process = NodeProcess::spawn(
            &self.runtime,
            &node.props(),
            &node.dir,
            &log,
            cleanup.as_ref(),
        )?;
        node.process = Some(process);
        Ok(())
    }

    /// Until the log says [`READY_MARKER`] and the broker port accepts TCP; fails fast if the JVM exits.
    fn wait_ready(&mut self, i: usize, deadline: Instant) -> Result<(), HarnessError> {
        let node = &mut self.nodes[i];
        let log = node.log();
        let addr = SocketAddr::from(([127, 0, 0, 1], node.ports.broker));
        let id = node.ports.node_id;
        let startup_error = |message: String| HarnessError::Startup {
            node: id,
            message,
            log_tail: tail_lines(&fs::read_to_string(&log).unwrap_or_default(), 50),
        };
        let Some(process) = node.process.as_mut() else {
            return Err(startup_error("the node was not started".into()));
        };
        loop {
            if !process.is_running() {
                let status = process
                    .exit_status()
                    .unwrap_or_else(|| "unknown status".into());
                return Err(startup_error(format!(
                    "JVM {} exited ({status}); log {}",
                    process.pid(),
                    log.display()
                )));
            }
            let logged = fs::read_to_string(&log).is_ok_and(|s| s.contains(READY_MARKER));
            if logged && TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(startup_error(format!(
                    "not ready after {:?} (JVM {}); log {}",
                    start_timeout(),
                    process.pid(),
                    log.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The position of node `id` in `self.nodes`. Every `self.nodes[i]` in this file uses an `i` from
    /// here or from `0..self.nodes.len()`, and `nodes` only changes inside `try_start`, so indexing
    /// cannot panic.
    fn index(&self, id: i32) -> Result<usize, HarnessError> {
        self.nodes
            .iter()
            .position(|n| n.ports.node_id == id)
            .ok_or(HarnessError::UnknownNode(id))
    }

    /// Comma-separated `127.0.0.1:port` of every node (running or not).
    pub fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .map(JvmNode::address)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The topology this cluster was started with.
    pub fn topology(&self) -> Topology {
        self.topology
    }

    /// The Kafka version the nodes run.
    pub fn version(&self) -> &KafkaVersion {
        &self.runtime.version
    }

    /// The KRaft cluster id.
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// The directory holding the nodes' configs, logs and data.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `node.id`s, ascending.
    pub fn node_ids(&self) -> Vec<i32> {
        self.nodes.iter().map(|n| n.ports.node_id).collect()
    }

    /// `127.0.0.1:<port>` of a node's client listener.
    pub fn node_address(&self, id: i32) -> Option<String> {
        self.index(id).ok().map(|i| self.nodes[i].address())
    }

    /// `127.0.0.1:<port>` of a node's `PROXIED` listener, the one its fault proxy forwards to
    /// (`None` when the cluster is not behind proxies).
    pub fn proxied_upstream(&self, id: i32) -> Option<SocketAddr> {
        let i = self.index(id).ok()?;
        let port = self.nodes[i].proxied_listen?;
        Some(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// The node's JVM pid, if it was started (it may have exited since).
    pub fn pid(&self, id: i32) -> Option<u32> {
        let i = self.index(id).ok()?;
        self.nodes[i].process.as_ref().map(NodeProcess::pid)
    }

    /// The node's log file (JVM stdout+stderr; the previous run's is `server.log.prev`).
    pub fn log_path(&self, id: i32) -> Option<PathBuf> {
        self.index(id).ok().map(|i| self.nodes[i].log())
    }

    /// Whether the node's JVM is running.
    pub fn is_running(&mut self, id: i32) -> bool {
        match self.index(id) {
            Ok(i) => self.nodes[i]
                .process
                .as_mut()
                .is_some_and(NodeProcess::is_running),
            Err(_) => false,
        }
    }

    /// SIGKILLs the node's JVM (a crash: no controlled shutdown) and waits until its pid is gone.
    pub fn kill_node(&mut self, id: i32) -> Result<(), HarnessError> {
        let i = self.index(id)?;
        if let Some(p) = self.nodes[i].process.as_mut() {
            p.kill()?;
        }
        self.after_change()
    }

    /// SIGTERMs the node's JVM (controlled shutdown: leadership moves first) and waits for it to
    /// exit, SIGKILLing it after 30 s.
    pub fn stop_node(&mut self, id: i32) -> Result<(), HarnessError> {
        let i = self.index(id)?;
        if let Some(p) = self.nodes[i].process.as_mut() {
            p.signal_term()?;
            p.finish_stop(STOP_TIMEOUT)?;
        }
        self.after_change()
    }

    /// Starts the node again (killing it first if it still runs) with the same ports and data, and
    /// waits until it is ready.
    pub fn restart_node(&mut self, id: i32) -> Result<(), HarnessError> {
        let i = self.index(id)?;
        if let Some(p) = self.nodes[i].process.as_mut() {
            if p.is_running() {
                p.kill()?;
            }
        }
        self.spawn_node(i)?;
        self.after_change()?;
        self.wait_ready(i, Instant::now() + start_timeout())
    }

    /// Stops every node: SIGTERM to all, then SIGKILL to those still running after 30 s.
    pub fn stop_all(&mut self) -> Result<(), HarnessError> {
        for n in &mut self.nodes {
            if let Some(p) = n.process.as_mut() {
                p.signal_term()?;
            }
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        for n in &mut self.nodes {
            if let Some(p) = n.process.as_mut() {
                p.finish_stop(deadline.saturating_duration_since(Instant::now()))?;
            }
        }
        self.after_change()
    }

    /// Removes the node directories and the state file (detached clusters; call after
    /// [`JvmCluster::stop_all`]). The root itself is removed if it ends up empty.
    pub fn remove_files(&self) -> Result<(), HarnessError> {
        for n in &self.nodes {
            if n.dir.exists() {
                fs::remove_dir_all(&n.dir).map_err(|e| HarnessError::io(n.dir.display(), e))?;
            }
        }
        ClusterState::remove(&self.root)?;
        let _ = fs::remove_dir(&self.root);
        Ok(())
    }

    /// Writes `root/cluster.state` (ports and pids) for detached clusters; no-op when owned.
    fn after_change(&self) -> Result<(), HarnessError> {
        if self.owned {
            Ok(())
        } else {
            self.save_state()
        }
    }

    fn save_state(&self) -> Result<(), HarnessError> {
        ClusterState {
            topology: self.topology,
            cluster_id: self.cluster_id.clone(),
            version: Some(self.runtime.version.clone()),
            nodes: self
                .nodes
                .iter()
                .map(|n| NodeState {
                    ports: n.ports,
                    pid: n.process.as_ref().map(NodeProcess::pid),
                })
                .collect(),
        }
        .write(&self.root)
    }

    fn kill_all(&mut self) {
        for n in &mut self.nodes {
            if let Some(p) = n.process.as_mut() {
                let _ = p.kill();
            }
        }
    }
}

impl Drop for JvmCluster {
    fn drop(&mut self) {
        if self.owned {
            self.kill_all();
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}
