//! Faults combined on a 3-node cluster (issue #30): the fault proxy in front of every node *and*
//! broker SIGKILLs at once. A kill every 10–20 s (every third victim kept down 60 s, the others
//! restarted after 5 s; never two down at once), and between them, every 2–5 s on a random
//! node's proxy, a connection reset, a 2 s blackhole, a latency spike or dropped responses.
//!
//! - an idempotent acks=all producer: nothing acknowledged lost, nothing duplicated or reordered
//!   (the verifier reads the log back around the proxies);
//! - a group of 3 (scenario 3 of chaos_cluster.rs run on the proxied cluster with the proxy
//!   faults throughout, see `group_under_faults`).
//!
//! Short by default; `FERROKAFKA_CHAOS_FULL=1` streams 1,000,000 records through 12 kills.

use crate::chaos::{close_and_check, faults, stream};
use crate::producer::create;
use crate::support::{blocking, heavy, proxied_cluster};
use ferrokafka::producer::{Producer, ProducerConfig};
use ferrokafka_testcontainers::{unique_topic, Kafka};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn full() -> bool {
    std::env::var_os("FERROKAFKA_CHAOS_FULL").is_some()
}

/// A broker kill: the node, when it died and how long it stayed down (seconds into the run).
pub(crate) type Kills = Arc<Mutex<Vec<(i32, f64, f64)>>>;

/// How long the `n`th victim (from 0) stays down: every third one 60 s, the others 5 s.
fn down_for(n: usize) -> Duration {
    if n.is_multiple_of(3) {
        Duration::from_secs(60)
    } else {
        Duration::from_secs(5)
    }
}

/// Kills a random broker 10–20 s after the previous one came back, keeps it down for
/// [`down_for`], restarts it and waits until it is ready, until `done`. Never returns with a
/// broker down, and never has two down (with `min.insync.replicas` 2 and 3 controllers, two
/// down would stop every write and the quorum: an outage, not a fault to survive).
pub(crate) async fn kill_every_10_to_20s(kafka: Arc<Kafka>, done: Arc<AtomicBool>, kills: Kills) {
    let t0 = Instant::now();
    let ids = kafka.node_ids();
    loop {
        let next = Instant::now() + Duration::from_millis(fastrand::u64(10_000..20_000));
        while Instant::now() < next {
            if done.load(Ordering::Relaxed) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let id = ids[fastrand::usize(..ids.len())];
        let n = kills.lock().unwrap_or_else(|p| p.into_inner()).len();
        let at = t0.elapsed().as_secs_f64();
        let k = kafka.clone();
        blocking(move || k.kill_node(id)).await.expect("kill");
        tokio::time::sleep(down_for(n)).await;
        let k = kafka.clone();
        blocking(move || k.restart_node(id)).await.expect("restart");
        let down = t0.elapsed().as_secs_f64() - at;
        kills
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((id, at, down));
    }
}

/// `2@14s(61s)`: node 2 killed 14 s into the run, back after 61 s.
pub(crate) fn describe(kills: &Kills) -> String {
    let kills = kills.lock().unwrap_or_else(|p| p.into_inner());
    kills
        .iter()
        .map(|(id, at, down)| format!("{id}@{at:.0}s({down:.0}s)"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producer_through_proxy_faults_and_broker_kills_on_3_nodes_loses_nothing() {
    // The verifier holds every record in its ledger and reads them all back.
    let _heavy = heavy().await;
    let kafka = proxied_cluster().await;
    let topic = unique_topic("chaos-combined");
    const PARTITIONS: i32 = 3;
    let _admin = create(&kafka.direct_bootstrap(), &topic, PARTITIONS, 3).await;
    let producer = Producer::new(
        ProducerConfig::from_properties([
            ("bootstrap.servers", kafka.bootstrap().as_str()),
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("request.timeout.ms", "5000"),
            ("delivery.timeout.ms", "120000"),
            ("reconnect.backoff.max.ms", "500"),
        ])
        .expect("config"),
    )
    .expect("producer");
    // Short: past 100,000 records until two kills (the first kept down 60 s) are over, about
    // two minutes at 2,500 records/s. Full: 1,000,000 records and 12 kills.
    let (n, rate, min_kills) = if full() {
        (1_000_000, 5_000, 12)
    } else {
        (100_000, 2_500, 2)
    };
    let t0 = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let kills: Kills = Arc::default();
    let injected = Arc::new(AtomicU32::new(0));
    let killer = tokio::spawn(kill_every_10_to_20s(
        kafka.clone(),
        done.clone(),
        kills.clone(),
    ));
    let injector = tokio::spawn(faults(kafka.clone(), done.clone(), injected.clone()));
    let killed = || kills.lock().unwrap_or_else(|p| p.into_inner()).len();
    let (ledger, sent) = stream(&producer, &topic, PARTITIONS, Some(rate), |seq| {
        seq < n || killed() < min_kills
    })
    .await;
    done.store(true, Ordering::Relaxed);
    killer.await.expect("kill task");
    injector.await.expect("fault task");
    let report = close_and_check(
        producer,
        &kafka.direct_bootstrap(),
        &topic,
        PARTITIONS,
        &ledger,
        t0,
    )
    .await;
    let proxies: Vec<String> = kafka.proxies().map(|p| p.stats().to_string()).collect();
    println!(
        "chaos combined producer ({} kills: {}; {} proxy faults; proxies: {}): {report}",
        killed(),
        describe(&kills),
        injected.load(Ordering::Relaxed),
        proxies.join(" | ")
    );
    assert_eq!(report.records, sent);
    assert!(sent >= n);
    assert!(report.is_clean(), "{report}");
    assert!(killed() >= min_kills, "the run saw kills");
}

/// Scenario 3 (a group of 3: member C SIGKILLed with an uncommitted window, a broker killed and
/// kept down 60 s, then another killed and restarted after 5 s) with a proxy fault every 2–5 s
/// on a random node throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_of_3_through_proxy_faults_and_broker_kills_processes_every_offset_in_order() {
    crate::chaos_cluster::group_under_faults("cooperative-sticky", true).await;
}
