//! The producer while brokers die: SIGKILL and restart of a single broker during a 200,000
//! record stream, and the leader of a partition killed in a 3-node cluster. The verifier reads
//! the log back and counts lost, duplicated and reordered records.

use crate::producer::{create, numbered, verify_log};
use crate::support::{blocking, dedicated};
use ferrokafka::producer::{DeliveryFuture, DeliveryResult, Persistence, Producer, ProducerConfig};
use ferrokafka_testcontainers::{unique_topic, Kafka, Topology};
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Default)]
struct Counts {
    persisted: HashSet<u64>,
    possibly: HashSet<u64>,
    not_persisted: HashSet<u64>,
}

impl Counts {
    fn add(&mut self, seq: u64, r: DeliveryResult) {
        match r {
            Ok(m) if m.persistence == Persistence::Persisted => {
                self.persisted.insert(seq);
            }
            Ok(_) => panic!("acks=all gives Persisted on success"),
            Err(e) => {
                match e.persistence {
                    Persistence::PossiblyPersisted => self.possibly.insert(seq),
                    _ => self.not_persisted.insert(seq),
                };
            }
        }
    }
}

/// Sends `n` numbered records with at most `window` unresolved, so the stream really is in
/// progress when a broker dies; returns the outcome of every record.
async fn stream(
    producer: Producer,
    topic: String,
    n: u64,
    window: usize,
    progress: Arc<AtomicU64>,
) -> Counts {
    let mut counts = Counts::default();
    let mut pending: VecDeque<(u64, DeliveryFuture)> = VecDeque::new();
    for seq in 0..n {
        match producer.send(numbered(&topic, seq)).await {
            Ok(f) => pending.push_back((seq, f)),
            Err(e) => counts.add(seq, Err(e)),
        }
        while pending.len() > window {
            if let Some((s, f)) = pending.pop_front() {
                counts.add(s, f.await);
            }
        }
        progress.store(seq, Ordering::Relaxed);
    }
    for (s, f) in pending {
        counts.add(s, f.await);
    }
    counts
}

async fn wait_for(progress: &AtomicU64, at_least: u64) {
    while progress.load(Ordering::Relaxed) < at_least {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn producer_for(kafka: &Kafka) -> Producer {
    Producer::new(
        ProducerConfig::from_properties([
            ("bootstrap.servers", kafka.bootstrap().as_str()),
            ("request.timeout.ms", "10000"),
            ("delivery.timeout.ms", "120000"),
            ("reconnect.backoff.max.ms", "500"),
        ])
        .expect("config"),
    )
    .expect("producer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_sigkill_and_restart_during_200k_records() {
    let kafka = Arc::new(dedicated(Topology::Single).await);
    let node = kafka.node_ids()[0];
    let topic = unique_topic("chaos-single");
    let admin = create(&kafka.bootstrap(), &topic, 3, 1).await;
    let producer = producer_for(&kafka);
    const N: u64 = 200_000;
    let progress = Arc::new(AtomicU64::new(0));
    let task = tokio::spawn(stream(
        producer.clone(),
        topic.clone(),
        N,
        20_000,
        progress.clone(),
    ));

    wait_for(&progress, 50_000).await;
    {
        let k = kafka.clone();
        blocking(move || k.kill_node(node)).await.expect("kill");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    {
        let k = kafka.clone();
        blocking(move || k.restart_node(node))
            .await
            .expect("restart");
    }
    let counts = tokio::time::timeout(Duration::from_secs(300), task)
        .await
        .expect("every send resolves")
        .expect("stream task");
    producer
        .close(Duration::from_secs(30))
        .await
        .expect("close");

    let total = counts.persisted.len() + counts.possibly.len() + counts.not_persisted.len();
    assert_eq!(total as u64, N, "every record has exactly one outcome");
    let (in_log, read) = verify_log(&admin, &topic, 3).await; // asserts no duplicates, order
    let lost: Vec<_> = counts
        .persisted
        .iter()
        .filter(|s| !in_log.contains(s))
        .collect();
    let ghosts: Vec<_> = counts
        .not_persisted
        .iter()
        .filter(|s| in_log.contains(s))
        .collect();
    println!(
        "sigkill+restart: {} persisted, {} possibly persisted ({} of them in the log), {} not persisted; {} records in the log; lost {}, duplicated 0, reordered 0",
        counts.persisted.len(),
        counts.possibly.len(),
        counts.possibly.iter().filter(|s| in_log.contains(s)).count(),
        counts.not_persisted.len(),
        read,
        lost.len()
    );
    assert!(
        lost.is_empty(),
        "acknowledged records missing from the log: {:?}",
        &lost[..lost.len().min(10)]
    );
    assert!(
        ghosts.is_empty(),
        "NotPersisted records found in the log: {:?}",
        &ghosts[..ghosts.len().min(10)]
    );
    assert!(
        counts.persisted.len() as u64 > N / 2,
        "most records should survive a restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_leader_killed_in_3_node_cluster_loses_and_duplicates_nothing() {
    let kafka = Arc::new(dedicated(Topology::Cluster3).await);
    let topic = unique_topic("chaos-3");
    let admin = create(&kafka.bootstrap(), &topic, 3, 3).await;
    let md = admin
        .wait_for_topic(&topic, 3, Duration::from_secs(60))
        .await
        .expect("ready");
    let leader = md.partition(0).and_then(|p| p.leader).expect("leader");
    let producer = producer_for(&kafka);
    const N: u64 = 60_000;
    let progress = Arc::new(AtomicU64::new(0));
    let task = tokio::spawn(stream(
        producer.clone(),
        topic.clone(),
        N,
        5_000,
        progress.clone(),
    ));
    wait_for(&progress, 20_000).await;
    {
        let k = kafka.clone();
        blocking(move || k.kill_node(leader))
            .await
            .expect("kill leader");
    }
    let counts = tokio::time::timeout(Duration::from_secs(300), task)
        .await
        .expect("every send resolves")
        .expect("stream task");
    producer
        .close(Duration::from_secs(30))
        .await
        .expect("close");
    println!(
        "leader kill (node {leader}): {} persisted, {} possibly, {} not persisted",
        counts.persisted.len(),
        counts.possibly.len(),
        counts.not_persisted.len()
    );
    // With replication 3 and min.insync.replicas=2 one dead broker costs nothing.
    assert_eq!(
        counts.persisted.len() as u64,
        N,
        "every record acknowledged"
    );
    let (in_log, read) = verify_log(&admin, &topic, 3).await;
    assert_eq!(read as u64, N, "no loss, no duplicate");
    assert_eq!(in_log.len() as u64, N);
}
