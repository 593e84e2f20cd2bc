//! `kafka-test-cluster`: starts and controls a detached local Kafka cluster (JVMs from the Maven
//! Central jars) for people, benches and CI scripts. The JVMs outlive the command; the state (ports,
//! pids) lives in `$KAFKA_TEST_CLUSTER_DIR` or `${TMPDIR:-/tmp}/ferrokafka-test-cluster`.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use ferrokafka_testcontainers::jvm::JvmCluster;
use ferrokafka_testcontainers::{HarnessError, JvmRuntime, Topology};

const USAGE: &str = "\
usage: kafka-test-cluster <command>
  fetch                 resolve the Kafka jars into the cache (Maven); prints the cache dir
  start [--nodes 1|3]   start a detached cluster (default 1 node); prints the bootstrap list
  bootstrap             print the bootstrap list
  status                print each node: id, address, pid, running/stopped, log file
  kill-node N           SIGKILL node N
  stop-node N           SIGTERM node N and wait for it to exit
  restart-node N        start node N again and wait until it is ready
  stop                  SIGTERM every node (SIGKILL after 30 s), remove the state and data
state dir: $KAFKA_TEST_CLUSTER_DIR or ${TMPDIR:-/tmp}/ferrokafka-test-cluster";

fn state_dir() -> PathBuf {
    match std::env::var_os("KAFKA_TEST_CLUSTER_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => std::env::temp_dir().join("ferrokafka-test-cluster"),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            eprintln!("kafka-test-cluster: {m}\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Harness(e)) => {
            eprintln!("kafka-test-cluster: {e}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    Usage(String),
    Harness(HarnessError),
}

impl From<HarnessError> for Failure {
    fn from(e: HarnessError) -> Self {
        Failure::Harness(e)
    }
}

fn node_arg(args: &[String]) -> Result<i32, Failure> {
    args.get(1)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| Failure::Usage("expected a node id".into()))
}

fn run(args: &[String]) -> Result<(), Failure> {
    let dir = state_dir();
    let cmd = args.first().map(String::as_str).unwrap_or("");
    match cmd {
        "start" => {
            let topology = match (
                args.get(1).map(String::as_str),
                args.get(2).map(String::as_str),
            ) {
                (None, _) | (Some("--nodes"), Some("1")) => Topology::Single,
                (Some("--nodes"), Some("3")) => Topology::Cluster3,
                _ => return Err(Failure::Usage("start takes --nodes 1 or --nodes 3".into())),
            };
            if let Ok(mut old) = JvmCluster::load(&dir) {
                let running = old.node_ids().into_iter().any(|id| old.is_running(id));
                if running {
                    return Err(Failure::Harness(HarnessError::State(format!(
                        "a cluster is already running ({}); `kafka-test-cluster stop` first",
                        old.bootstrap()
                    ))));
                }
                old.remove_files()?;
            }
            let t0 = Instant::now();
            let cluster = JvmCluster::start_detached(topology, &dir)?;
            eprintln!(
                "kafka-test-cluster: {} node(s) ready in {:.1} s, state in {}",
                cluster.node_ids().len(),
                t0.elapsed().as_secs_f64(),
                dir.display()
            );
            println!("{}", cluster.bootstrap());
        }
        "fetch" => println!("{}", JvmRuntime::locate()?.cache_dir.display()),
        "bootstrap" => println!("{}", JvmCluster::load(&dir)?.bootstrap()),
        "status" => {
            let mut c = JvmCluster::load(&dir)?;
            println!("cluster {} ({})", c.cluster_id(), c.topology().as_str());
            for id in c.node_ids() {
                let running = c.is_running(id);
                println!(
                    "node {id} {} pid {} {} log {}",
                    c.node_address(id).unwrap_or_default(),
                    c.pid(id).map_or_else(|| "-".into(), |p| p.to_string()),
                    if running { "running" } else { "stopped" },
                    c.log_path(id)
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                );
            }
        }
        "kill-node" => JvmCluster::load(&dir)?.kill_node(node_arg(args)?)?,
        "stop-node" => JvmCluster::load(&dir)?.stop_node(node_arg(args)?)?,
        "restart-node" => JvmCluster::load(&dir)?.restart_node(node_arg(args)?)?,
        "stop" => {
            let mut c = JvmCluster::load(&dir)?;
            c.stop_all()?;
            c.remove_files()?;
        }
        "" | "-h" | "--help" | "help" => println!("{USAGE}"),
        other => return Err(Failure::Usage(format!("unknown command {other:?}"))),
    }
    Ok(())
}
