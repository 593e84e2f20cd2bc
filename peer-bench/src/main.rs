//! `peer-bench`: ferrokafka, librdkafka (through the `rdkafka` crate) and franz-go (Go) side by
//! side, on the same broker, the same workload, in the same run, taking turns (each run in its
//! own child process, so one client's threads and allocations never count against another's).
//!
//! ```text
//! peer-bench produce [--bootstrap H:P] [--messages 500000] [--size 100] [--partitions 3]
//!     [--rounds 3] [--clients C,C] [--prop key=value]...
//!                               (defaults: acks=all, enable.idempotence=true, linger.ms=5,
//!                                batch.size=16384, compression.type=none)
//! peer-bench consume [--bootstrap H:P] [--topic T] [--messages 500000] [--size 100]
//!     [--partitions 3] [--group] [--rounds 3] [--clients C,C] [--fill-prop key=value]...
//!     [--fill-partition P] [--prop key=value]...
//! ```
//!
//! `--clients` picks some of `ferrokafka,librdkafka,franz-go` (default all three). The
//! ferrokafka and librdkafka children are this binary (`peer-bench run <client> …`); the franz-go
//! child is the Go program in `franz/`, built at start with `go build` into
//! `<this binary's directory>/franz-bench`, or taken from `$PEER_BENCH_FRANZ`. Without `go` on
//! the PATH (and no `$PEER_BENCH_FRANZ`), one line says so and franz-go is left out.
//!
//! `--prop` settings go to every client under the same (Java) name (franz-go maps them to its
//! options, see `franz/main.go`); everything else is each client's default. Without `--bootstrap` a single-node broker is started by the test harness.
//! Without `--topic`, `consume` first fills a fresh topic with the ferrokafka producer (untimed;
//! `--fill-prop` sets its producer, e.g. `batch.size=1000000`; `--fill-partition P` writes every
//! record to partition P, for a topic with one busy partition and idle others). Each produce run
//! writes to a
//! fresh topic; each group-mode consume run uses a fresh group id.
//!
//! Each run prints one line, as `perf` does:
//! `<produce|consume> <client>: N msgs, X msg/s, Y MB/s, cpu S s, U us/msg[, …]`; the clock and
//! CPU counters start at the first send, or at the first record consumed, and cover the whole
//! process (every thread). Each round the order of the clients rotates, so none always meets a
//! warmer broker. The last lines are the medians and, against each other client, ferrokafka's
//! ratios.

mod ferro;
mod measure;
mod rdk;

use measure::{median, parse_line, Workload};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

const USAGE: &str =
    "usage: peer-bench produce|consume [--bootstrap H:P] [--topic T] [--messages N] \
[--size B] [--partitions P] [--group] [--rounds R] [--clients C,C] [--prop k=v]... \
[--fill-prop k=v]... [--fill-partition P]";
const CLIENTS: [&str; 3] = ["ferrokafka", "librdkafka", "franz-go"];

#[derive(Debug, Clone)]
struct Opts {
    kind: String,
    bootstrap: Option<String>,
    topic: Option<String>,
    messages: u64,
    size: usize,
    partitions: i32,
    group: bool,
    rounds: usize,
    /// Some of `CLIENTS`, in `CLIENTS`' order.
    clients: Vec<&'static str>,
    props: Vec<(String, String)>,
    fill_props: Vec<(String, String)>,
    /// `--fill-partition P`: the fill writes every record to partition P (a topic with one busy
    /// partition and idle others).
    fill_partition: Option<i32>,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let kind = args.first().cloned().ok_or(USAGE)?;
    if kind != "produce" && kind != "consume" {
        return Err(USAGE.to_owned());
    }
    let mut o = Opts {
        kind,
        bootstrap: None,
        topic: None,
        messages: 500_000,
        size: 100,
        partitions: 3,
        group: false,
        rounds: 3,
        clients: CLIENTS.to_vec(),
        props: Vec::new(),
        fill_props: Vec::new(),
        fill_partition: None,
    };
    let mut it = args[1..].iter();
    while let Some(flag) = it.next() {
        if flag == "--group" {
            o.group = true;
            continue;
        }
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag} {v}: not a number"))
        };
        let kv = |v: &str| {
            v.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| format!("{flag} {v}: expected key=value"))
        };
        match flag.as_str() {
            "--bootstrap" => o.bootstrap = Some(v.clone()),
            "--topic" => o.topic = Some(v.clone()),
            "--messages" => o.messages = num(v)?,
            "--size" => o.size = num(v)? as usize,
            "--partitions" => o.partitions = num(v)? as i32,
            "--rounds" => o.rounds = num(v)? as usize,
            "--clients" => {
                let wanted: Vec<&str> = v.split(',').map(str::trim).collect();
                if let Some(bad) = wanted.iter().find(|c| !CLIENTS.contains(c)) {
                    return Err(format!(
                        "--clients: unknown client {bad} (known: {CLIENTS:?})"
                    ));
                }
                o.clients = CLIENTS
                    .iter()
                    .copied()
                    .filter(|c| wanted.contains(c))
                    .collect();
            }
            "--prop" => o.props.push(kv(v)?),
            "--fill-prop" => o.fill_props.push(kv(v)?),
            "--fill-partition" => o.fill_partition = Some(num(v)? as i32),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    if o.kind == "produce" {
        let defaults = [
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("linger.ms", "5"),
            ("batch.size", "16384"),
            ("compression.type", "none"),
        ];
        for (k, v) in defaults {
            if !o.props.iter().any(|(pk, _)| pk == k) {
                o.props.push((k.to_owned(), v.to_owned()));
            }
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("run") {
        run_child(&args[1..])
    } else {
        parse(&args).and_then(|o| orchestrate(&o))
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peer-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))
}

/// `run <client> <kind> <bootstrap> <topic> <messages> <size> <partitions> <group|-> k=v...`
fn run_child(args: &[String]) -> Result<(), String> {
    let [client, kind, bootstrap, topic, messages, size, partitions, group, props @ ..] = args
    else {
        return Err("run: bad arguments".to_owned());
    };
    let w = Workload {
        bootstrap: bootstrap.clone(),
        topic: topic.clone(),
        messages: messages.parse().map_err(|_| "run: messages")?,
        size: size.parse().map_err(|_| "run: size")?,
        partitions: partitions.parse().map_err(|_| "run: partitions")?,
        group: (group != "-").then(|| group.clone()),
        props: props
            .iter()
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    };
    let line = match (client.as_str(), kind.as_str()) {
        ("ferrokafka", "produce") => runtime()?.block_on(ferro::produce(&w)),
        ("ferrokafka", "consume") => runtime()?.block_on(ferro::consume(&w)),
        ("librdkafka", "produce") => rdk::produce(&w),
        ("librdkafka", "consume") => rdk::consume(&w),
        _ => return Err(format!("run: unknown client or kind {client} {kind}")),
    }
    .map_err(|e| format!("{client} {kind}: {e}"))?;
    println!("{line}");
    Ok(())
}

/// `k=v, k=v` for printing.
fn kv_list(props: &[(String, String)]) -> String {
    props
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// The franz-go child: `$PEER_BENCH_FRANZ` if set, else `go build` of `franz/` into
/// `<dir>/franz-bench`; `None` (said on one line) when `go` is not on the PATH.
fn franz_binary(dir: &Path) -> Result<Option<PathBuf>, String> {
    if let Some(p) = std::env::var_os("PEER_BENCH_FRANZ") {
        let p = PathBuf::from(p);
        if !p.is_file() {
            return Err(format!("PEER_BENCH_FRANZ={}: no such file", p.display()));
        }
        return Ok(Some(p));
    }
    if Command::new("go").arg("version").output().is_err() {
        println!(
            "peer-bench: franz-go left out: `go` is not on the PATH (install Go, or set \
             PEER_BENCH_FRANZ to a franz-bench binary built from peer-bench/franz)"
        );
        return Ok(None);
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("franz");
    let out = dir.join("franz-bench");
    let built = Command::new("go")
        .args(["build", "-buildvcs=false", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(&src)
        .output()
        .map_err(|e| format!("running go build in {}: {e}", src.display()))?;
    if !built.status.success() {
        return Err(format!(
            "go build in {} failed: {}",
            src.display(),
            String::from_utf8_lossy(&built.stderr).trim()
        ));
    }
    Ok(Some(out))
}

fn orchestrate(o: &Opts) -> Result<(), String> {
    let rt = runtime()?;
    let me = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let mut clients = o.clients.clone();
    let mut franz = None;
    if clients.contains(&"franz-go") {
        let dir = me.parent().ok_or("own path has no directory")?;
        franz = franz_binary(dir)?;
        if franz.is_none() {
            clients.retain(|c| *c != "franz-go");
        }
    }
    if clients.is_empty() {
        return Err("no client left to run".to_owned());
    }
    let _broker;
    let bootstrap = match &o.bootstrap {
        Some(b) => b.clone(),
        None => {
            _broker = ferrokafka_testcontainers::Kafka::shared()
                .map_err(|e| format!("starting a local broker: {e}"))?;
            _broker.bootstrap()
        }
    };
    let filled = match (&o.kind[..], &o.topic) {
        ("consume", Some(t)) => Some(t.clone()),
        ("consume", None) => {
            let t = ferrokafka_testcontainers::unique_topic("peer-consume");
            rt.block_on(admin::create_and_fill(&bootstrap, &t, o))?;
            Some(t)
        }
        _ => None,
    };
    println!(
        "peer-bench {}: {} msgs of {} B, {} partitions, {}, props [{}], clients [{}], rounds {}, \
         load {}",
        o.kind,
        o.messages,
        o.size,
        o.partitions,
        if o.group { "group" } else { "assign" },
        kv_list(&o.props),
        clients.join(", "),
        o.rounds,
        loadavg()
    );
    let mut figures: Vec<Vec<(f64, f64)>> = vec![Vec::new(); clients.len()];
    for round in 0..o.rounds {
        // Rotate which client goes first, so none always meets a warmer broker.
        let mut order: Vec<usize> = (0..clients.len()).collect();
        order.rotate_left(round % clients.len());
        for i in order {
            let client = clients[i];
            let topic = match &filled {
                Some(t) => t.clone(),
                None => {
                    let t = ferrokafka_testcontainers::unique_topic("peer-produce");
                    rt.block_on(admin::create(&bootstrap, &t, o.partitions))?;
                    t
                }
            };
            let group = if o.group {
                ferrokafka_testcontainers::unique_topic("peer-group")
            } else {
                "-".to_owned()
            };
            // franz-go: the Go binary, same arguments without `run <client>`.
            let mut cmd = match (&franz, client) {
                (Some(f), "franz-go") => Command::new(f),
                _ => {
                    let mut c = Command::new(&me);
                    c.args(["run", client]);
                    c
                }
            };
            let out = cmd
                .args([&o.kind, &bootstrap, &topic])
                .args([
                    o.messages.to_string(),
                    o.size.to_string(),
                    o.partitions.to_string(),
                ])
                .arg(&group)
                .args(o.props.iter().map(|(k, v)| format!("{k}={v}")))
                .output()
                .map_err(|e| format!("running {client}: {e}"))?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() {
                return Err(format!(
                    "{client} run failed: {}{}",
                    stdout.trim(),
                    stderr.trim()
                ));
            }
            let line = stdout.lines().last().unwrap_or_default().to_owned();
            println!("round {} {line} (load {})", round + 1, loadavg());
            // Notes a child wrote (e.g. franz-go's settings it ignored), once: they repeat.
            if round == 0 {
                for note in stderr.lines().filter(|l| !l.trim().is_empty()) {
                    println!("  {client} stderr: {note}");
                }
            }
            if let Some(f) = parse_line(&line) {
                figures[i].push(f);
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let med: Vec<(f64, f64)> = figures
        .iter()
        .map(|f| {
            (
                median(f.iter().map(|x| x.0).collect()),
                median(f.iter().map(|x| x.1).collect()),
            )
        })
        .collect();
    for (client, (rate, us)) in clients.iter().zip(&med) {
        println!(
            "median {} {client}: {rate:.0} msg/s, {us:.3} us/msg",
            o.kind
        );
    }
    if let Some(fi) = clients.iter().position(|c| *c == "ferrokafka") {
        let f = med[fi];
        for (peer, r) in clients
            .iter()
            .zip(&med)
            .filter(|(c, _)| **c != "ferrokafka")
        {
            println!(
                "ratio ferrokafka/{peer}: msg/s {:.2}x, cpu per record {:.2}x",
                f.0 / r.0.max(1e-9),
                f.1 / r.1.max(1e-9)
            );
        }
    }
    Ok(())
}

mod admin {
    //! Topic set-up with ferrokafka's admin client and producer (never timed).

    use super::Opts;
    use ferrokafka::admin::{AdminClient, NewTopic};
    use ferrokafka::config::ClientConfig;
    use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
    use std::time::Duration;

    pub async fn create(bootstrap: &str, topic: &str, partitions: i32) -> Result<(), String> {
        let cfg = ClientConfig::from_properties([("bootstrap.servers", bootstrap)])
            .map_err(|e| e.to_string())?;
        let admin = AdminClient::new(cfg);
        admin
            .create_topic(NewTopic::new(topic, partitions, 1))
            .await
            .map_err(|e| format!("creating {topic}: {e}"))?;
        admin
            .wait_for_topic(topic, partitions as usize, Duration::from_secs(60))
            .await
            .map_err(|e| format!("waiting for {topic}: {e}"))?;
        Ok(())
    }

    pub async fn create_and_fill(bootstrap: &str, topic: &str, o: &Opts) -> Result<(), String> {
        create(bootstrap, topic, o.partitions).await?;
        let mut props = vec![("bootstrap.servers".to_owned(), bootstrap.to_owned())];
        props.extend(o.fill_props.iter().cloned());
        let producer =
            Producer::new(ProducerConfig::from_properties(props).map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
        let value = bytes::Bytes::from(super::measure::payload(o.size));
        let mut pending = std::collections::VecDeque::new();
        for _ in 0..o.messages {
            let mut record = ProducerRecord::new(topic).value(value.clone());
            if let Some(p) = o.fill_partition {
                record = record.partition(p);
            }
            let d = producer.send(record).await.map_err(|e| e.to_string())?;
            pending.push_back(d);
            if pending.len() > 50_000 {
                if let Some(d) = pending.pop_front() {
                    d.await.map_err(|e| e.to_string())?;
                }
            }
        }
        for d in pending {
            d.await.map_err(|e| e.to_string())?;
        }
        producer
            .close(Duration::from_secs(30))
            .await
            .map_err(|e| e.to_string())?;
        println!(
            "filled {topic}: {} x {} B, producer [{}]{}",
            o.messages,
            o.size,
            super::kv_list(&o.fill_props),
            o.fill_partition
                .map(|p| format!(", every record to partition {p}"))
                .unwrap_or_default()
        );
        Ok(())
    }
}
