//! Real-broker tests of the harness: they start JVMs, so there are few of them and they run one at a
//! time (CPU is scarce). They need Java (and Maven on first use); without it they fail, loudly.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferrokafka_testcontainers::{ClusterKind, HarnessError, Kafka, Topology};

/// Serialises the tests that start JVMs.
static HEAVY: Mutex<()> = Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|p| p.into_inner())
}

fn accepts(addr: &str) -> bool {
    addr.parse()
        .is_ok_and(|a| TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok())
}

/// Alive and not a zombie (a killed child of a dead parent may linger until init reaps it).
fn pid_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|st| st != "Z" && st != "X")
    })
}

fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

/// Run by `shared_broker_dies_with_its_owner` in a child process: starts the shared broker, checks
/// it from the inside, reports, then waits to be killed.
#[test]
#[ignore = "helper: run as a child process by shared_broker_dies_with_its_owner"]
fn child_broker_owner() {
    if std::env::var_os("FERROKAFKA_HARNESS_CHILD").is_none() {
        return;
    }
    let t0 = Instant::now();
    let kafka = Kafka::shared().expect("shared broker");
    let elapsed = t0.elapsed();
    assert_eq!(kafka.kind(), ClusterKind::Jvm);
    assert_eq!(kafka.node_ids(), vec![1]);
    assert_eq!(kafka.node_address(1), Some(kafka.bootstrap()));
    assert!(kafka.is_running(1));
    assert!(kafka.log_path(1).is_some_and(|p| p.is_file()));
    assert!(matches!(
        kafka.kill_node(1),
        Err(HarnessError::Unsupported(_))
    ));
    // The same instance on every call.
    assert!(std::ptr::eq(kafka, Kafka::shared().expect("shared again")));
    println!(
        "READY pid={} bootstrap={} secs={:.1}",
        kafka.pid(1).expect("pid"),
        kafka.bootstrap(),
        elapsed.as_secs_f64()
    );
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

#[test]
fn shared_broker_dies_with_its_owner() {
    let _g = heavy();
    let mut child = Command::new(std::env::current_exe().expect("current_exe"))
        .args(["--exact", "child_broker_owner", "--ignored", "--nocapture"])
        .env("FERROKAFKA_HARNESS_CHILD", "1")
        .env("FERROKAFKA_KAFKA_BACKEND", "jvm")
        .env_remove("KAFKA_BOOTSTRAP_SERVERS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut seen = String::new();
    let mut ready = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("child stdout");
        seen.push_str(&line);
        seen.push('\n');
        if let Some(rest) = line.strip_prefix("READY ") {
            ready = Some(rest.to_string());
            break;
        }
    }
    let Some(ready) = ready else {
        let status = child.wait().expect("wait child");
        panic!("child exited ({status}) before the broker was ready:\n{seen}");
    };
    let field = |k: &str| {
        ready
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(k))
            .expect("field")
            .to_string()
    };
    let pid: u32 = field("pid=").parse().expect("pid");
    let bootstrap = field("bootstrap=");
    eprintln!("single node ready in {} s", field("secs="));
    assert!(bootstrap.starts_with("127.0.0.1:"), "{bootstrap}");
    assert!(!bootstrap.contains(','), "{bootstrap}");
    assert!(accepts(&bootstrap), "{bootstrap} does not accept");
    assert!(pid_alive(pid));

    // SIGKILL the owner: no Drop, no atexit; only the watchdog can clean up.
    child.kill().expect("kill child");
    child.wait().expect("reap child");
    let t0 = Instant::now();
    assert!(
        wait_until(Duration::from_secs(10), || !pid_alive(pid)),
        "broker JVM {pid} outlived its owner"
    );
    eprintln!(
        "JVM gone {:.1} s after its owner was killed",
        t0.elapsed().as_secs_f64()
    );
    assert!(wait_until(Duration::from_secs(5), || !accepts(&bootstrap)));
}

#[test]
fn cluster3_kill_and_restart() {
    let _g = heavy();
    let t0 = Instant::now();
    let kafka = Kafka::start_jvm(Topology::Cluster3).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "3-node cluster ready in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(kafka.kind(), ClusterKind::Jvm);
    assert_eq!(kafka.node_ids(), vec![1, 2, 3]);
    let addrs: Vec<String> = (1..=3)
        .map(|id| kafka.node_address(id).expect("addr"))
        .collect();
    assert_eq!(kafka.bootstrap(), addrs.join(","));
    assert!(addrs.iter().all(|a| accepts(a)));
    assert_eq!(kafka.node_address(4), None);
    assert!(matches!(
        kafka.kill_node(4),
        Err(HarnessError::UnknownNode(4))
    ));
    let t_topic = Instant::now();
    let topic = ferrokafka_testcontainers::unique_topic("harness-rf3");
    kafka
        .create_topic(&topic, 3, 3)
        .unwrap_or_else(|e| panic!("{e}"));
    kafka.create_topic(&topic, 3, 3).expect("--if-not-exists");
    eprintln!(
        "create_topic x2 took {:.1} s",
        t_topic.elapsed().as_secs_f64()
    );

    // Crash node 2.
    let pid2 = kafka.pid(2).expect("pid 2");
    kafka.kill_node(2).expect("kill 2");
    assert!(!pid_alive(pid2), "pid {pid2} still there");
    assert!(!kafka.is_running(2));
    assert!(!accepts(&addrs[1]), "port of killed node still open");
    assert!(accepts(&addrs[0]) && accepts(&addrs[2]));

    // Bring it back.
    let t1 = Instant::now();
    kafka.restart_node(2).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("node 2 restarted in {:.1} s", t1.elapsed().as_secs_f64());
    assert!(kafka.is_running(2));
    assert_ne!(kafka.pid(2), Some(pid2));
    assert!(accepts(&addrs[1]));
    let log = kafka.log_path(2).expect("log");
    assert!(log.with_file_name("server.log.prev").is_file());

    // Controlled shutdown of node 3.
    let pid3 = kafka.pid(3).expect("pid 3");
    let t2 = Instant::now();
    kafka.stop_node(3).expect("stop 3");
    eprintln!(
        "node 3 stopped (SIGTERM) in {:.1} s",
        t2.elapsed().as_secs_f64()
    );
    assert!(!pid_alive(pid3));
    assert!(!kafka.is_running(3));

    // Drop kills the rest and removes the data.
    let pids: Vec<u32> = [1, 2].iter().filter_map(|&id| kafka.pid(id)).collect();
    let root = log
        .parent()
        .and_then(|p| p.parent())
        .expect("root")
        .to_path_buf();
    drop(kafka);
    assert!(pids.iter().all(|&p| !pid_alive(p)));
    assert!(!root.exists(), "{} left behind", root.display());
}
