//! Chaos scenarios through the fault proxy (`ferrokafka_testcontainers::proxy`), checked by the
//! harness's verifier: an idempotent acks=all producer keeps every acknowledged record, once, in
//! order, while its connections are reset, blackholed, slowed and lose responses the broker wrote.
//!
//! Short by default (at least 100,000 records and 8 faults); `FERROKAFKA_CHAOS_FULL=1` runs at
//! least 1,000,000 records.

use crate::producer::create;
use crate::support::{blocking, heavy};
use ferrokafka::producer::{DeliveryFuture, Persistence, Producer, ProducerConfig, ProducerRecord};
use ferrokafka_testcontainers::verifier::{
    payload, read_log, LogRecord, Outcome, ProduceLedger, ProduceReport, RecordId,
};
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

/// Switches a fault every 2–5 s until `done`, on the proxy of a random node: resets, a 2 s
/// blackhole, a 200 ms latency spike, dropped responses. Counts the faults it injected in
/// `injected`.
pub(crate) async fn faults(kafka: Arc<Kafka>, done: Arc<AtomicBool>, injected: Arc<AtomicU32>) {
    let mut n = 0u32;
    let ids = kafka.node_ids();
    while !done.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(fastrand::u64(2000..5000))).await;
        let Some(proxy) = kafka.proxy(ids[fastrand::usize(..ids.len())]) else {
            return;
        };
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
    let _heavy = heavy().await;
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
    let (ledger, seq) = stream(&producer, &topic, PARTITIONS, None, |seq| {
        seq < n || injected.load(Ordering::Relaxed) < MIN_FAULTS
    })
    .await;
    done.store(true, Ordering::Relaxed);
    injector.await.expect("fault task");
    let injected = injected.load(Ordering::Relaxed);
    let report = close_and_check(
        producer,
        &kafka.direct_bootstrap(),
        &topic,
        PARTITIONS,
        &ledger,
        t0,
    )
    .await;
    let stats = kafka.proxy(1).map(|p| p.stats()).unwrap_or_default();
    println!("chaos through the proxy ({injected} faults; {stats}): {report}");
    assert_eq!(report.records, seq);
    assert!(seq >= n);
    assert!(report.is_clean(), "{report}");
    assert!(injected >= MIN_FAULTS, "the run saw faults: {injected}");
}

/// Every data record of `topic`, read back with plain Fetch requests (the verifier's view).
pub(crate) async fn read_back(bootstrap: &str, topic: &str, partitions: i32) -> Vec<LogRecord> {
    read_log(bootstrap, topic, partitions, Duration::from_secs(120))
        .await
        .expect("read the log back")
}

/// Closes the producer (flushing what it still holds), reads the log back and checks `ledger`
/// against it; the report's duration runs from `t0` to the end of the close.
pub(crate) async fn close_and_check(
    producer: Producer,
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    ledger: &ProduceLedger,
    t0: Instant,
) -> ProduceReport {
    producer
        .close(Duration::from_secs(30))
        .await
        .expect("close");
    let duration = t0.elapsed();
    ledger.check(&read_back(bootstrap, topic, partitions).await, duration)
}

/// At most this many deliveries unresolved: the stream really is in flight when a fault hits.
const WINDOW: usize = 20_000;

/// Sends verifier records of producer 0 (sequence numbers from 0, round-robin over `partitions`)
/// while `more(seq)` holds, at most `per_second` a second if given (so a run spans its faults
/// rather than finishing before them), and notes every outcome. Returns the ledger and how many
/// records were sent.
pub(crate) async fn stream(
    producer: &Producer,
    topic: &str,
    partitions: i32,
    per_second: Option<u64>,
    mut more: impl FnMut(u64) -> bool,
) -> (ProduceLedger, u64) {
    let t0 = Instant::now();
    let mut ledger = ProduceLedger::new();
    let mut pending: VecDeque<(RecordId, i32, DeliveryFuture)> = VecDeque::new();
    let mut seq = 0u64;
    while more(seq) {
        if let Some(rate) = per_second {
            // Ahead of schedule: wait until this record's slot.
            let due = Duration::from_micros(seq * 1_000_000 / rate);
            if let Some(wait) = due.checked_sub(t0.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        let id = RecordId { producer: 0, seq };
        let partition = (seq % partitions as u64) as i32;
        let record = ProducerRecord::new(topic)
            .partition(partition)
            .value(payload(id, 84));
        match producer.send(record).await {
            Ok(f) => pending.push_back((id, partition, f)),
            Err(e) => ledger.record(id, partition, outcome(e.persistence)),
        }
        while pending.len() > WINDOW {
            if let Some((id, p, f)) = pending.pop_front() {
                ledger.record(id, p, resolve(f).await);
            }
        }
        seq += 1;
    }
    for (id, p, f) in pending {
        ledger.record(id, p, resolve(f).await);
    }
    (ledger, seq)
}

async fn resolve(f: DeliveryFuture) -> Outcome {
    match f.await {
        Ok(m) => outcome(m.persistence),
        Err(e) => outcome(e.persistence),
    }
}
