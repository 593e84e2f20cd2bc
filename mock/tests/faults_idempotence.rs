//! KIP-360 with the ferrokafka idempotent producer, driven by the mock's faults: after
//! OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID on a partition's oldest unresolved batch
//! the producer bumps its epoch and re-stamps the partition's batches from sequence 0, as Java's
//! does; an out-of-order answer to a batch whose predecessor is being retried is only retried.
//! Each test checks the delivery reports, the log (no duplicate, send order kept) and the
//! producer id, epoch and sequences the mock stored with each batch.

use ferrokafka::producer::{Persistence, Producer, ProducerConfig, ProducerRecord};
use ferrokafka_mock::{ApiKey, BatchInfo, Fault, MockCluster, MockConfig};
use std::time::{Duration, Instant};

const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const UNKNOWN_PRODUCER_ID: i16 = 59;
const NOT_ENOUGH_REPLICAS: i16 = 19;
const INVALID_RECORD: i16 = 87;

async fn cluster() -> MockCluster {
    let cluster = MockCluster::start(MockConfig::default())
        .await
        .expect("mock cluster");
    cluster.create_topic("t", 1).expect("topic");
    cluster.create_topic("warm", 1).expect("topic");
    cluster
}

/// An idempotent producer (the default) that retries quickly; one record per batch.
fn producer(bootstrap: &str) -> Producer {
    Producer::new(
        ProducerConfig::from_properties([
            ("bootstrap.servers", bootstrap),
            ("linger.ms", "0"),
            ("retry.backoff.ms", "10"),
            ("retry.backoff.max.ms", "20"),
        ])
        .expect("producer config"),
    )
    .expect("producer")
}

/// Metadata and the producer id fetched (a record to another topic), so that what follows is
/// only `t`'s produce traffic.
async fn warm_up(p: &Producer) {
    let r = ProducerRecord::new("warm").partition(0).value("w");
    p.send(r).await.expect("send").await.expect("warm-up");
}

fn record(value: &str) -> ProducerRecord {
    ProducerRecord::new("t")
        .partition(0)
        .value(value.to_owned())
}

/// (epoch, base sequence, record count) of `t`-0's batches, and their single producer id.
fn stamps(cluster: &MockCluster) -> (i64, Vec<(i16, i32, i32)>) {
    let batches: Vec<BatchInfo> = cluster.batches("t", 0).expect("partition");
    let pid = batches.first().map_or(-1, |b| b.producer_id);
    assert!(batches.iter().all(|b| b.producer_id == pid), "{batches:?}");
    let s = batches
        .iter()
        .map(|b| (b.producer_epoch, b.base_sequence, b.record_count))
        .collect();
    (pid, s)
}

fn produce_count(cluster: &MockCluster) -> usize {
    let r = cluster.requests();
    r.iter().filter(|r| r.api == ApiKey::Produce).count()
}

/// Waits (5 s at most) until the mock has received more than `n` Produce requests.
async fn produce_received(cluster: &MockCluster, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while produce_count(cluster) <= n {
        assert!(Instant::now() < deadline, "no Produce request came");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The warm-up's producer id, as InitProducerId handed it out (the only one asked for).
fn init_producer_id_requests(cluster: &MockCluster) -> usize {
    let r = cluster.requests();
    r.iter().filter(|r| r.api == ApiKey::InitProducerId).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_on_the_first_batch_bumps_the_epoch_and_restarts_at_sequence_0() {
    let started = Instant::now();
    let cluster = cluster().await;
    let p = producer(&cluster.bootstrap());
    warm_up(&p).await;
    let warm_pid = cluster.batches("warm", 0).expect("warm")[0].producer_id;
    cluster.inject(
        Fault::errors(ApiKey::Produce, 1, OUT_OF_ORDER_SEQUENCE_NUMBER).on_partition("t", 0),
    );
    let mut ds = Vec::new();
    for i in 0..5 {
        ds.push(p.send(record(&format!("v{i}"))).await.expect("send"));
    }
    let mut offsets = Vec::new();
    for d in ds {
        let m = d.await.expect("delivered");
        assert_eq!(m.persistence, Persistence::Persisted);
        offsets.push(m.offset.0);
    }
    assert_eq!(offsets, [0, 1, 2, 3, 4], "once each, in send order");
    let (pid, s) = stamps(&cluster);
    assert_eq!(pid, warm_pid, "the bump is local: same producer id");
    assert_eq!(init_producer_id_requests(&cluster), 1);
    // Everything at epoch 1 with contiguous sequences from 0 (nothing of epoch 0 was written).
    let mut next = 0;
    for (epoch, seq, count) in &s {
        assert_eq!((*epoch, *seq), (1, next), "{s:?}");
        next += count;
    }
    assert_eq!(next, 5);
    p.close(Duration::from_secs(2)).await.expect("close");
    eprintln!("first batch: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_producer_id_after_writes_bumps_the_epoch_and_keeps_what_was_written() {
    let started = Instant::now();
    let cluster = cluster().await;
    let p = producer(&cluster.bootstrap());
    warm_up(&p).await;
    for i in 0..3 {
        let m = p.send(record(&format!("a{i}"))).await.expect("send").await;
        assert_eq!(m.expect("delivered").offset.0, i);
    }
    // As if the broker had lost the producer's state (its batches were deleted by retention).
    cluster.inject(Fault::errors(ApiKey::Produce, 1, UNKNOWN_PRODUCER_ID).on_partition("t", 0));
    for i in 0..3 {
        let m = p.send(record(&format!("b{i}"))).await.expect("send").await;
        let m = m.expect("delivered after the bump");
        assert_eq!((m.offset.0, m.persistence), (3 + i, Persistence::Persisted));
    }
    assert!(cluster.pending_faults().is_empty());
    let (_, s) = stamps(&cluster);
    assert_eq!(
        s,
        [
            (0, 0, 1),
            (0, 1, 1),
            (0, 2, 1),
            (1, 0, 1),
            (1, 1, 1),
            (1, 2, 1)
        ],
        "epoch 0 kept; the new epoch starts at sequence 0"
    );
    assert_eq!(cluster.high_watermark("t", 0), Some(6), "no duplicate");
    assert_eq!(init_producer_id_requests(&cluster), 1);
    p.close(Duration::from_secs(2)).await.expect("close");
    eprintln!("unknown producer id: {:?}", started.elapsed());
}

/// Two batches in flight (responses delayed): the first is refused with `first_error`, so the
/// mock answers the second with a real OUT_OF_ORDER_SEQUENCE_NUMBER (its predecessor is not in
/// the log). Returns both delivery results.
async fn pipelined(
    cluster: &MockCluster,
    first_error: i16,
) -> (
    ferrokafka::producer::DeliveryResult,
    ferrokafka::producer::DeliveryResult,
) {
    let p = producer(&cluster.bootstrap());
    warm_up(&p).await;
    cluster.set_rtt(1, Duration::from_millis(150));
    cluster.inject(Fault::errors(ApiKey::Produce, 1, first_error).on_partition("t", 0));
    let before = produce_count(cluster);
    let first = p.send(record("r1")).await.expect("send");
    // r2 goes out while r1's answer is on its way.
    produce_received(cluster, before).await;
    let second = p.send(record("r2")).await.expect("send");
    let results = (first.await, second.await);
    p.close(Duration::from_secs(2)).await.expect("close");
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_behind_a_retried_batch_is_retried_without_a_bump() {
    let started = Instant::now();
    let cluster = cluster().await;
    let (r1, r2) = pipelined(&cluster, NOT_ENOUGH_REPLICAS).await;
    let (r1, r2) = (r1.expect("r1 delivered"), r2.expect("r2 delivered"));
    assert_eq!((r1.offset.0, r2.offset.0), (0, 1), "send order kept");
    let (_, s) = stamps(&cluster);
    assert_eq!(s, [(0, 0, 1), (0, 1, 1)], "no bump, original stamps");
    let outcomes: Vec<i16> = cluster
        .requests()
        .iter()
        .filter(|r| r.api == ApiKey::Produce)
        .map(|r| r.version)
        .collect();
    assert!(
        outcomes.len() >= 4,
        "r1, r2, and both retried: {outcomes:?}"
    );
    eprintln!("retried: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hole_left_by_a_failed_batch_resets_the_sequences_under_a_new_epoch() {
    let started = Instant::now();
    let cluster = cluster().await;
    let (r1, r2) = pipelined(&cluster, INVALID_RECORD).await;
    let e = r1.expect_err("r1 was refused");
    assert_eq!(e.error.broker_code(), Some(INVALID_RECORD), "{}", e.error);
    assert_eq!(e.persistence, Persistence::NotPersisted);
    let r2 = r2.expect("r2 delivered after the reset");
    assert_eq!((r2.offset.0, r2.persistence), (0, Persistence::Persisted));
    let (_, s) = stamps(&cluster);
    assert_eq!(
        s,
        [(1, 0, 1)],
        "r2 alone, re-stamped at epoch 1 from sequence 0"
    );
    eprintln!("hole: {:?}", started.elapsed());
}
