//! Broker configuration: topologies, ports, `server.properties` and log4j2 files.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::Path;

use crate::version::KafkaVersion;
use crate::HarnessError;

/// The shape of a cluster to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topology {
    /// One combined broker+controller node (`node.id` 1), dynamic KRaft quorum, replication factor 1,
    /// topics auto-created.
    Single,
    /// Three combined broker+controller nodes (`node.id` 1, 2, 3), static quorum,
    /// `default.replication.factor=3`, `min.insync.replicas=2`, unclean leader election off, topics
    /// NOT auto-created.
    Cluster3,
}

impl Topology {
    /// Number of nodes.
    pub fn node_count(self) -> usize {
        match self {
            Topology::Single => 1,
            Topology::Cluster3 => 3,
        }
    }

    /// Short name used in the state file (`single` / `cluster3`).
    pub fn as_str(self) -> &'static str {
        match self {
            Topology::Single => "single",
            Topology::Cluster3 => "cluster3",
        }
    }

    /// Inverse of [`Topology::as_str`].
    pub fn parse(s: &str) -> Option<Topology> {
        match s {
            "single" => Some(Topology::Single),
            "cluster3" => Some(Topology::Cluster3),
            _ => None,
        }
    }
}

/// Ports of one node; both listen on 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodePorts {
    /// `node.id`.
    pub node_id: i32,
    /// The PLAINTEXT (client) listener.
    pub broker: u16,
    /// The CONTROLLER listener.
    pub controller: u16,
}

/// Picks `count` distinct free ports by binding 127.0.0.1:0. All listeners stay open until every
/// port is chosen, so the ports differ from each other; another process may still grab one before the
/// broker binds it, which start-up detects ("Address already in use") and retries.
pub(crate) fn free_ports(count: usize) -> Result<Vec<u16>, HarnessError> {
    let mut listeners = Vec::with_capacity(count);
    for _ in 0..count {
        let l = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| HarnessError::io("binding 127.0.0.1:0 to find a free port", e))?;
        listeners.push(l);
    }
    listeners
        .iter()
        .map(|l| {
            l.local_addr()
                .map(|a| a.port())
                .map_err(|e| HarnessError::io("local_addr of a probe socket", e))
        })
        .collect()
}

/// Node ports for a topology: ids 1..=n, freshly chosen free ports.
pub(crate) fn allocate_nodes(topology: Topology) -> Result<Vec<NodePorts>, HarnessError> {
    let n = topology.node_count();
    let ports = free_ports(2 * n)?;
    Ok(ports
        .chunks(2)
        .zip(1..)
        .map(|(pair, node_id)| NodePorts {
            node_id,
            // `free_ports` returned exactly 2 * n ports, so every chunk has two.
            broker: pair.first().copied().unwrap_or(0),
            controller: pair.get(1).copied().unwrap_or(0),
        })
        .collect())
}

/// A second client listener, `PROXIED`, for clusters behind fault proxies: the broker listens on
/// `listen` but advertises `advertised` (the proxy's port), so a client that bootstraps through the
/// proxy is sent to the proxies by metadata too. `PLAINTEXT` keeps its own address and stays the
/// inter-broker listener, so replication never passes through a proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProxiedListener {
    pub listen: u16,
    pub advertised: u16,
}

/// `server.properties` for `node` of a cluster made of `all` nodes, storing data in `data_dir`,
/// with only keys that `version` defines.
pub(crate) fn render_server_properties(
    version: &KafkaVersion,
    topology: Topology,
    node: &NodePorts,
    all: &[NodePorts],
    data_dir: &Path,
    proxied: Option<ProxiedListener>,
) -> String {
    let (extra_listener, extra_advertised, extra_map) = match proxied {
        Some(l) => (
            format!(",PROXIED://127.0.0.1:{}", l.listen),
            format!(",PROXIED://127.0.0.1:{}", l.advertised),
            ",PROXIED:PLAINTEXT",
        ),
        None => (String::new(), String::new(), ""),
    };
    let mut p = String::new();
    let mut line = |k: &str, v: &dyn std::fmt::Display| {
        // Writing to a String cannot fail.
        let _ = writeln!(p, "{k}={v}");
    };
    line("process.roles", &"broker,controller");
    line("node.id", &node.node_id);
    match topology {
        Topology::Single => {
            // Dynamic quorum (KIP-853), formatted with `--standalone`, like the 4.x quickstart.
            line(
                "controller.quorum.bootstrap.servers",
                &format!("127.0.0.1:{}", node.controller),
            );
            line(
                "advertised.listeners",
                &format!(
                    "PLAINTEXT://127.0.0.1:{}{extra_advertised},CONTROLLER://127.0.0.1:{}",
                    node.broker, node.controller
                ),
            );
        }
        Topology::Cluster3 => {
            let voters: Vec<String> = all
                .iter()
                .map(|n| format!("{}@127.0.0.1:{}", n.node_id, n.controller))
                .collect();
            line("controller.quorum.voters", &voters.join(","));
            line(
                "advertised.listeners",
                &format!("PLAINTEXT://127.0.0.1:{}{extra_advertised}", node.broker),
            );
        }
    }
    line(
        "listeners",
        &format!(
            "PLAINTEXT://127.0.0.1:{}{extra_listener},CONTROLLER://127.0.0.1:{}",
            node.broker, node.controller
        ),
    );
    line("inter.broker.listener.name", &"PLAINTEXT");
    line("controller.listener.names", &"CONTROLLER");
    line(
        "listener.security.protocol.map",
        &format!("CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT{extra_map}"),
    );
    // Properties files treat backslashes as escapes; data dirs are plain temp paths on Unix.
    line("log.dirs", &data_dir.display());
    let (rf, min_isr) = match topology {
        Topology::Single => (1, 1),
        Topology::Cluster3 => (3, 2),
    };
    line("num.partitions", &1);
    line("default.replication.factor", &rf);
    line("min.insync.replicas", &min_isr);
    line("offsets.topic.replication.factor", &rf);
    line("transaction.state.log.replication.factor", &rf);
    line("transaction.state.log.min.isr", &min_isr);
    if version.has_share_coordinator() {
        line("share.coordinator.state.topic.replication.factor", &rf);
        line("share.coordinator.state.topic.min.isr", &min_isr);
    }
    if version.has_share_coordinator() {
        // Share groups, like KIP-848 groups above: the broker's 5 s heartbeat interval is also
        // how long a new member waits for its first partitions, and 45 s the session timeout.
        line("group.share.min.session.timeout.ms", &6_000);
        line("group.share.session.timeout.ms", &10_000);
        line("group.share.min.heartbeat.interval.ms", &500);
        line("group.share.heartbeat.interval.ms", &1_000);
    }
    if version.at_least(4, 2) {
        // Share groups: let tests set an acquisition lock of 1 s per group (default floor 15 s)
        // so lock-expiry tests take seconds, not half a minute.
        line("group.share.min.record.lock.duration.ms", &1_000);
    }
    line(
        "auto.create.topics.enable",
        &matches!(topology, Topology::Single),
    );
    line("unclean.leader.election.enable", &false);
    line("delete.topic.enable", &true);
    line("group.initial.rebalance.delay.ms", &0);
    // KIP-848 groups: the broker owns their session timeout and heartbeat interval (defaults
    // 45 s and 5 s, and 45 s is also the floor). Tests that kill members would wait most of a
    // minute for each takeover; 10 s / 1 s match what the classic-protocol tests configure.
    line("group.consumer.min.session.timeout.ms", &6_000);
    line("group.consumer.session.timeout.ms", &10_000);
    line("group.consumer.min.heartbeat.interval.ms", &500);
    line("group.consumer.heartbeat.interval.ms", &1_000);
    // Fast fencing of a killed broker so failover tests don't wait 9 s (defaults 2000 / 9000 ms).
    line("broker.heartbeat.interval.ms", &500);
    line("broker.session.timeout.ms", &3000);
    // A 2-core box runs several JVMs: small thread pools and cleaner buffer (defaults 3 / 8 / 128 MiB).
    line("num.network.threads", &2);
    line(
        "num.io.threads",
        &match topology {
            Topology::Single => 4,
            Topology::Cluster3 => 2,
        },
    );
    line("num.recovery.threads.per.data.dir", &1);
    line("log.cleaner.dedupe.buffer.size", &(32 * 1024 * 1024));
    p
}

/// log4j2 configuration of the broker JVMs: console (stdout, redirected to the node's log file) at
/// INFO, noisy request loggers at WARN. The properties format needs no YAML/JSON parser on the
/// classpath. The readiness check greps this output for `Kafka Server started`.
pub(crate) const SERVER_LOG4J2: &str = "\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.target = SYSTEM_OUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.reqchan.name = kafka.network.RequestChannel$
logger.reqchan.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
";

/// log4j2 configuration of the CLI tools (StorageTool): warnings to stderr only.
pub(crate) const TOOLS_LOG4J2: &str = "\
status = warn
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
";

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn v(text: &str) -> KafkaVersion {
        KafkaVersion::parse(text).unwrap()
    }

    fn parse(props: &str) -> HashMap<String, String> {
        props
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn single_node_properties() {
        let node = NodePorts {
            node_id: 1,
            broker: 40001,
            controller: 40002,
        };
        let p = parse(&render_server_properties(
            &v("4.1.1"),
            Topology::Single,
            &node,
            &[node],
            Path::new("/tmp/x/data"),
            None,
        ));
        assert_eq!(p["node.id"], "1");
        assert_eq!(p["controller.quorum.bootstrap.servers"], "127.0.0.1:40002");
        assert!(!p.contains_key("controller.quorum.voters"));
        assert_eq!(
            p["listeners"],
            "PLAINTEXT://127.0.0.1:40001,CONTROLLER://127.0.0.1:40002"
        );
        assert_eq!(p["log.dirs"], "/tmp/x/data");
        assert_eq!(p["default.replication.factor"], "1");
        assert_eq!(p["offsets.topic.replication.factor"], "1");
        assert_eq!(p["auto.create.topics.enable"], "true");
        assert_eq!(p["group.initial.rebalance.delay.ms"], "0");
        assert_eq!(p["num.network.threads"], "2");
    }

    #[test]
    fn cluster3_properties() {
        let all = [
            NodePorts {
                node_id: 1,
                broker: 1001,
                controller: 1002,
            },
            NodePorts {
                node_id: 2,
                broker: 2001,
                controller: 2002,
            },
            NodePorts {
                node_id: 3,
                broker: 3001,
                controller: 3002,
            },
        ];
        let p = parse(&render_server_properties(
            &v("4.1.1"),
            Topology::Cluster3,
            &all[1],
            &all,
            Path::new("/d"),
            None,
        ));
        assert_eq!(p["node.id"], "2");
        assert_eq!(
            p["controller.quorum.voters"],
            "1@127.0.0.1:1002,2@127.0.0.1:2002,3@127.0.0.1:3002"
        );
        assert!(!p.contains_key("controller.quorum.bootstrap.servers"));
        assert_eq!(p["advertised.listeners"], "PLAINTEXT://127.0.0.1:2001");
        assert_eq!(p["default.replication.factor"], "3");
        assert_eq!(p["min.insync.replicas"], "2");
        assert_eq!(p["offsets.topic.replication.factor"], "3");
        assert_eq!(p["transaction.state.log.replication.factor"], "3");
        assert_eq!(p["unclean.leader.election.enable"], "false");
        assert_eq!(p["auto.create.topics.enable"], "false");
        assert_eq!(p["broker.heartbeat.interval.ms"], "500");
        assert_eq!(p["broker.session.timeout.ms"], "3000");
    }

    #[test]
    fn proxied_listener_is_advertised_at_the_proxy_and_not_used_between_brokers() {
        let node = NodePorts {
            node_id: 2,
            broker: 2001,
            controller: 2002,
        };
        let proxied = ProxiedListener {
            listen: 2003,
            advertised: 5555,
        };
        let p = parse(&render_server_properties(
            &v("4.1.1"),
            Topology::Cluster3,
            &node,
            &[node],
            Path::new("/d"),
            Some(proxied),
        ));
        assert_eq!(
            p["listeners"],
            "PLAINTEXT://127.0.0.1:2001,PROXIED://127.0.0.1:2003,CONTROLLER://127.0.0.1:2002"
        );
        assert_eq!(
            p["advertised.listeners"],
            "PLAINTEXT://127.0.0.1:2001,PROXIED://127.0.0.1:5555"
        );
        assert_eq!(p["inter.broker.listener.name"], "PLAINTEXT");
        assert_eq!(
            p["listener.security.protocol.map"],
            "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PROXIED:PLAINTEXT"
        );
    }

    #[test]
    fn allocated_ports_are_distinct() {
        let nodes = allocate_nodes(Topology::Cluster3).unwrap();
        let ids: Vec<i32> = nodes.iter().map(|n| n.node_id).collect();
        assert_eq!(ids, [1, 2, 3]);
        let mut ports: Vec<u16> = nodes
            .iter()
            .flat_map(|n| [n.broker, n.controller])
            .collect();
        assert!(ports.iter().all(|&p| p != 0));
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 6);
    }

    #[test]
    fn topology_names_round_trip() {
        for t in [Topology::Single, Topology::Cluster3] {
            assert_eq!(Topology::parse(t.as_str()), Some(t));
        }
        assert_eq!(Topology::parse("x"), None);
    }
}
