//! `kafka-test-cluster`: starts and controls a detached local Kafka cluster (JVMs from the Maven
//! Central jars) for people, benches and CI scripts. The JVMs outlive the command; the state (ports,
//! pids) lives in `$KAFKA_TEST_CLUSTER_DIR` or `${TMPDIR:-/tmp}/ferrokafka-test-cluster`.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use ferrokafka_testcontainers::jvm::JvmCluster;
use ferrokafka_testcontainers::secure::{SecureKafka, SecureOptions, USERS};
use ferrokafka_testcontainers::{HarnessError, JvmRuntime, Topology, KAFKA_VERSION};

const USAGE: &str = "\
usage: kafka-test-cluster <command>
  fetch                 resolve the Kafka jars into the cache (Maven); prints the cache dir
  start [--nodes 1|3]   start a detached cluster (default 1 node); prints the bootstrap list
  start --security sasl_ssl
                        start a detached single-node broker with SASL_SSL (and SASL_PLAINTEXT,
                        SSL with client auth), users admin/alice/bob, ACLs for alice on alice*;
                        prints the SASL_SSL bootstrap list
  client-config --user alice|bob|admin [--mechanism PLAIN|SCRAM-SHA-256|SCRAM-SHA-512]
                        write a Java properties file for that user on the SASL_SSL listener
                        (default SCRAM-SHA-512); prints its path
  bootstrap             print the bootstrap list
  status                print each node: id, address, pid, running/stopped, log file
  kill-node N           SIGKILL node N
  stop-node N           SIGTERM node N and wait for it to exit
  restart-node N        start node N again and wait until it is ready
  stop                  SIGTERM every node (SIGKILL after 30 s), remove the state and data
state dir: $KAFKA_TEST_CLUSTER_DIR or ${TMPDIR:-/tmp}/ferrokafka-test-cluster
Kafka version: $FERROKAFKA_KAFKA_VERSION (default {default}); a started cluster keeps its own
(the secure broker lives in its subdirectory `secure`)";

fn usage() -> String {
    USAGE.replace("{default}", KAFKA_VERSION)
}

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
            eprintln!("kafka-test-cluster: {m}\n{}", usage());
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
        "start" if args.get(1).map(String::as_str) == Some("--security") => {
            match args.get(2).map(String::as_str) {
                Some("sasl_ssl") | Some("SASL_SSL") => {}
                _ => return Err(Failure::Usage("start --security takes sasl_ssl".into())),
            }
            let sdir = dir.join("secure");
            if let Ok(mut old) = SecureKafka::load(&sdir) {
                if old.is_running() {
                    return Err(Failure::Harness(HarnessError::State(
                        "a secure broker is already running; `kafka-test-cluster stop` first"
                            .into(),
                    )));
                }
            }
            let t0 = Instant::now();
            let k = SecureKafka::start_detached(&sdir, SecureOptions::default())?;
            eprintln!(
                "kafka-test-cluster: secure broker ready in {:.1} s, state in {}",
                t0.elapsed().as_secs_f64(),
                sdir.display()
            );
            println!(
                "{}",
                k.bootstrap(ferrokafka_testcontainers::secure::Listener::SaslSsl)
            );
        }
        "client-config" => {
            let mut user = None;
            let mut mechanism = "SCRAM-SHA-512".to_string();
            let mut it = args.iter().skip(1);
            while let Some(a) = it.next() {
                match (a.as_str(), it.next()) {
                    ("--user", Some(u)) => user = Some(u.clone()),
                    ("--mechanism", Some(m)) => mechanism = m.clone(),
                    _ => {
                        return Err(Failure::Usage(
                            "client-config takes --user NAME [--mechanism M]".into(),
                        ))
                    }
                }
            }
            let Some(user) = user.filter(|u| USERS.contains(&u.as_str())) else {
                return Err(Failure::Usage(format!(
                    "client-config needs --user, one of {}",
                    USERS.join(", ")
                )));
            };
            if !["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"].contains(&mechanism.as_str()) {
                return Err(Failure::Usage(format!(
                    "--mechanism {mechanism:?}: expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
                )));
            }
            let k = SecureKafka::load(&dir.join("secure"))?;
            println!("{}", k.write_client_config(&user, &mechanism)?.display());
        }
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
                "kafka-test-cluster: {} node(s) of Kafka {} ready in {:.1} s, state in {}",
                cluster.node_ids().len(),
                cluster.version(),
                t0.elapsed().as_secs_f64(),
                dir.display()
            );
            println!("{}", cluster.bootstrap());
        }
        "fetch" => println!("{}", JvmRuntime::locate()?.cache_dir.display()),
        "bootstrap" => println!("{}", JvmCluster::load(&dir)?.bootstrap()),
        "status" => {
            let mut c = JvmCluster::load(&dir)?;
            println!(
                "cluster {} ({}, Kafka {})",
                c.cluster_id(),
                c.topology().as_str(),
                c.version()
            );
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
            let secure = SecureKafka::load(&dir.join("secure"));
            let plain = JvmCluster::load(&dir);
            if let Ok(mut k) = secure {
                k.stop()?;
                if plain.is_err() {
                    return Ok(());
                }
            }
            let mut c = plain?;
            c.stop_all()?;
            c.remove_files()?;
        }
        "" | "-h" | "--help" | "help" => println!("{}", usage()),
        other => return Err(Failure::Usage(format!("unknown command {other:?}"))),
    }
    Ok(())
}
