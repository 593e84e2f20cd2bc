//! The state file of a detached cluster (`<root>/cluster.state`): a few `key=value` lines.
//!
//! ```text
//! topology=cluster3
//! cluster_id=<22 chars>
//! version=<Kafka version> (absent in files written before the version could be chosen)
//! node=<id> <broker port> <controller port> <pid or ->
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use crate::config::{NodePorts, Topology};
use crate::resolve::write_if_changed;
use crate::version::KafkaVersion;
use crate::HarnessError;

const FILE: &str = "cluster.state";

/// One node as recorded in the state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeState {
    pub ports: NodePorts,
    pub pid: Option<u32>,
}

/// A detached cluster as recorded in the state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClusterState {
    pub topology: Topology,
    pub cluster_id: String,
    /// The Kafka version the nodes run: restarting one must use the same jars, whatever
    /// `FERROKAFKA_KAFKA_VERSION` says in the process that restarts it.
    pub version: Option<KafkaVersion>,
    pub nodes: Vec<NodeState>,
}

fn path(root: &Path) -> PathBuf {
    root.join(FILE)
}

impl ClusterState {
    pub(crate) fn render(&self) -> String {
        let mut s = format!(
            "topology={}\ncluster_id={}\n",
            self.topology.as_str(),
            self.cluster_id
        );
        if let Some(v) = &self.version {
            s.push_str(&format!("version={v}\n"));
        }
        for n in &self.nodes {
            let pid = n.pid.map_or_else(|| "-".to_string(), |p| p.to_string());
            s.push_str(&format!(
                "node={} {} {} {pid}\n",
                n.ports.node_id, n.ports.broker, n.ports.controller
            ));
        }
        s
    }

    pub(crate) fn parse(text: &str) -> Result<ClusterState, HarnessError> {
        let bad = |line: &str| HarnessError::State(format!("unreadable line {line:?}"));
        let mut topology = None;
        let mut cluster_id = None;
        let mut version = None;
        let mut nodes = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (key, value) = line.split_once('=').ok_or_else(|| bad(line))?;
            match key {
                "topology" => topology = Some(Topology::parse(value).ok_or_else(|| bad(line))?),
                "cluster_id" => cluster_id = Some(value.to_string()),
                "version" => version = Some(KafkaVersion::parse(value).map_err(|_| bad(line))?),
                "node" => {
                    let f: Vec<&str> = value.split_whitespace().collect();
                    let [id, broker, controller, pid] = f[..] else {
                        return Err(bad(line));
                    };
                    nodes.push(NodeState {
                        ports: NodePorts {
                            node_id: id.parse().map_err(|_| bad(line))?,
                            broker: broker.parse().map_err(|_| bad(line))?,
                            controller: controller.parse().map_err(|_| bad(line))?,
                        },
                        pid: match pid {
                            "-" => None,
                            p => Some(p.parse().map_err(|_| bad(line))?),
                        },
                    });
                }
                _ => return Err(bad(line)),
            }
        }
        match (topology, cluster_id) {
            (Some(topology), Some(cluster_id)) if nodes.len() == topology.node_count() => {
                Ok(ClusterState {
                    topology,
                    cluster_id,
                    version,
                    nodes,
                })
            }
            _ => Err(HarnessError::State(
                "incomplete state file (topology, cluster_id or nodes missing)".into(),
            )),
        }
    }

    pub(crate) fn read(root: &Path) -> Result<ClusterState, HarnessError> {
        let p = path(root);
        let text = fs::read_to_string(&p).map_err(|e| {
            HarnessError::State(format!(
                "no cluster recorded in {} ({e}); start one with `kafka-test-cluster start`",
                p.display()
            ))
        })?;
        Self::parse(&text)
    }

    pub(crate) fn write(&self, root: &Path) -> Result<(), HarnessError> {
        write_if_changed(&path(root), &self.render())
    }

    pub(crate) fn remove(root: &Path) -> Result<(), HarnessError> {
        match fs::remove_file(path(root)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(HarnessError::io(path(root).display(), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let s = ClusterState {
            topology: Topology::Cluster3,
            cluster_id: "abcdefghijklmnopqrstuQ".into(),
            version: Some(KafkaVersion::parse("3.9.1").unwrap()),
            nodes: (1..=3)
                .map(|i| NodeState {
                    ports: NodePorts {
                        node_id: i,
                        broker: 1000 + i as u16,
                        controller: 2000 + i as u16,
                    },
                    pid: (i != 2).then_some(100 + i as u32),
                })
                .collect(),
        };
        let text = s.render();
        assert!(text.contains("node=2 1002 2002 -\n"));
        assert!(text.contains("version=3.9.1\n"));
        assert_eq!(ClusterState::parse(&text).unwrap(), s);
        // A file written before the version was recorded still loads.
        let old = text.replace("version=3.9.1\n", "");
        assert_eq!(ClusterState::parse(&old).unwrap().version, None);
    }

    #[test]
    fn rejects_garbage() {
        assert!(ClusterState::parse("").is_err());
        assert!(ClusterState::parse("topology=single\ncluster_id=x\n").is_err());
        assert!(ClusterState::parse("topology=single\ncluster_id=x\nnode=1 2\n").is_err());
        assert!(ClusterState::parse("topology=single\ncluster_id=x\nnode=1 2 3 x\n").is_err());
        assert!(ClusterState::parse("what\n").is_err());
    }
}
