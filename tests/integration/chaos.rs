//! Chaos scenarios through the fault proxy (`ferrokafka_testcontainers::proxy`), checked by the
//! harness's verifier: an idempotent acks=all producer keeps every acknowledged record, once, in
//! order, while its connections are reset, blackholed, slowed and lose responses the broker wrote.
//!
//! Short by default (at least 100,000 records and 8 faults); `FERROKAFKA_CHAOS_FULL=1` runs at
//! least 1,000,000 records.

use crate::producer::create;
use crate::support::blocking;
use ferrokafka::producer::{DeliveryFuture, Persistence, Producer, ProducerConfig, ProducerRecord};
use ferrokafka_testcontainers::verifier::{payload, read_log, Outcome, ProduceLedger, RecordId};
use ferrokafka_testcontainers::{unique_topic, Kafka, Topology};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 3;

fn records() -> u64 {
    if std::env::var_os("FERROKAFKA_CHAOS_FULL").is_some() {
        1_000_000
    } else {
        100_000
    }
}

fn outcome(p: Persistence) -> Outcome {
    match p {
        Persistence::Persisted => Outcome::Persisted,
        Persistence::PossiblyPersisted => Outcome::PossiblyPersisted,
        _ => Outcome::NotPersisted,
    }
}

/// Switches a fault every 2–5 s until `done`: resets, a 2 s blackhole, a 200 ms latency spike,
/// dropped responses. Counts the faults it injected in `injected`.
async fn faults(kafka: Arc<Kafka>, done: Arc<AtomicBool>, injected: Arc<AtomicU32>) {
    let mut n = 0u32;
    while !done.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(fastrand::u64(2000..5000))).await;
        let Some(proxy) = kafka.proxy(1) else { return };
        match n % 4 {
            0 => proxy.reset_all(),
            1 => {
                proxy.set_blackhole(true);
                tokio::time::sleep(Duration::from_secs(2)).await;
                proxy.set_blackhole(false);
            }
            2 => {
                proxy.set_latency(Duration::from_millis(200), Duration::from_millis(50));
                tokio::time::sleep(Duration::from_secs(2)).await;
                proxy.set_latency(Duration::ZERO, Duration::ZERO);
            }
            _ => proxy.drop_responses(2),
        }
        n += 1;
        injected.store(n, Ordering::Relaxed);
    }
}

/// The stream goes on past `records()` until this many faults hit it (the producer is faster than
/// the fault cadence).
const MIN_FAULTS: u32 = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producer_through_proxy_faults_loses_duplicates_and_reorders_nothing() {
    let kafka = Arc::new(
        blocking(|| Kafka::start_proxied(Topology::Single))
            .await
            .unwrap_or_else(|e| panic!("proxied broker: {e}")),
    );
    let topic = unique_topic("chaos-proxy");
    let _admin = create(&kafka.direct_bootstrap(), &topic, PARTITIONS, 1).await;
    let producer = Producer::new(
        ProducerConfig::from_properties([
            ("bootstrap.servers", kafka.bootstrap().as_str()),
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("request.timeout.ms", "3000"),
            ("delivery.timeout.ms", "120000"),
            ("reconnect.backoff.max.ms", "500"),
        ])
        .expect("config"),
    )
    .expect("producer");
    let n = records();
    let t0 = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let injected = Arc::new(AtomicU32::new(0));
    let injector = tokio::spawn(faults(kafka.clone(), done.clone(), injected.clone()));
    let mut ledger = ProduceLedger::new();
    let mut pending: VecDeque<(RecordId, i32, DeliveryFuture)> = VecDeque::new();
    let mut seq = 0u64;
    while seq < n || injected.load(Ordering::Relaxed) < MIN_FAULTS {
        let id = RecordId { producer: 0, seq };
        let partition = (seq % PARTITIONS as u64) as i32;
        let record = ProducerRecord::new(&topic)
            .partition(partition)
            .value(payload(id, 84));
        match producer.send(record).await {
            Ok(f) => pending.push_back((id, partition, f)),
            Err(e) => ledger.record(id, partition, outcome(e.persistence)),
        }
        while pending.len() > 20_000 {
            if let Some((id, p, f)) = pending.pop_front() {
                ledger.record(id, p, resolve(f).await);
            }
        }
        seq += 1;
    }
    for (id, p, f) in pending {
        ledger.record(id, p, resolve(f).await);
    }
    done.store(true, Ordering::Relaxed);
    injector.await.expect("fault task");
    let injected = injected.load(Ordering::Relaxed);
    producer
        .close(Duration::from_secs(30))
        .await
        .expect("close");
    let duration = t0.elapsed();
    let log = read_log(
        &kafka.direct_bootstrap(),
        &topic,
        PARTITIONS,
        Duration::from_secs(120),
    )
    .await
    .expect("read the log back");
    let report = ledger.check(&log, duration);
    let stats = kafka.proxy(1).map(|p| p.stats()).unwrap_or_default();
    println!("chaos through the proxy ({injected} faults; {stats}): {report}");
    assert_eq!(report.records, seq);
    assert!(seq >= n);
    assert!(report.is_clean(), "{report}");
    assert!(injected >= MIN_FAULTS, "the run saw faults: {injected}");
}

async fn resolve(f: DeliveryFuture) -> Outcome {
    match f.await {
        Ok(m) => outcome(m.persistence),
        Err(e) => outcome(e.persistence),
    }
}
