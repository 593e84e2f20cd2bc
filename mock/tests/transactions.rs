//! Transactions (version 1) on the mock, driven by the ferrokafka client: committed records
//! visible to read_committed and aborted ones not, read_uncommitted sees both; offsets sent in a
//! transaction reach the group only on commit; a second producer with the same transactional
//! id fences the first. Each test reads until a known last record, never until a quiet period.

use ferrokafka::consumer::{Consumer, ConsumerConfig, ConsumerGroupMetadata};
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::{Offset, TopicPartition};
use ferrokafka_mock::{MockCluster, MockConfig};
use std::time::{Duration, Instant};

fn txn_producer(bootstrap: &str, id: &str) -> Producer {
    let cfg = ProducerConfig::from_properties([
        ("bootstrap.servers", bootstrap),
        ("transactional.id", id),
        ("linger.ms", "1"),
        ("max.block.ms", "5000"),
        ("retry.backoff.ms", "20"),
    ])
    .expect("config");
    Producer::new(cfg).expect("producer")
}

async fn cluster(topic: &str, partitions: i32) -> MockCluster {
    let cluster = MockCluster::start(MockConfig::default().brokers(3))
        .await
        .expect("mock cluster");
    cluster.create_topic(topic, partitions).expect("topic");
    cluster
}

/// Sends `n` records `prefix-i` to each of `partitions` in the producer's open transaction.
async fn send(p: &Producer, topic: &str, partitions: i32, prefix: &str, n: usize) {
    let mut ds = Vec::new();
    for part in 0..partitions {
        for i in 0..n {
            let r = ProducerRecord::new(topic)
                .partition(part)
                .value(format!("{prefix}-{part}-{i}"));
            ds.push(p.send(r).await.expect("send"));
        }
    }
    for d in ds {
        d.await.expect("written");
    }
}

/// Reads `tps` from the beginning under `isolation` until `expect` records came (5 s at most).
async fn read(
    bootstrap: &str,
    tps: &[TopicPartition],
    isolation: &str,
    expect: usize,
) -> Vec<String> {
    let c = Consumer::new(
        ConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap),
            ("auto.offset.reset", "earliest"),
            ("enable.auto.commit", "false"),
            ("fetch.max.wait.ms", "50"),
            ("isolation.level", isolation),
        ])
        .expect("consumer config"),
    )
    .expect("consumer");
    c.assign(tps).expect("assign");
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < expect {
        assert!(Instant::now() < deadline, "{isolation}: {got:?}");
        for r in c.poll(Duration::from_millis(100)).await.expect("poll") {
            got.push(String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned());
        }
    }
    c.close().await.expect("close");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_is_visible_and_aborted_is_not_under_read_committed() {
    let started = Instant::now();
    let cluster = cluster("txn", 2).await;
    let bootstrap = cluster.bootstrap();
    let p = txn_producer(&bootstrap, "txn-visibility");
    p.init_transactions().await.expect("init");
    p.begin_transaction().expect("begin 1");
    send(&p, "txn", 2, "c1", 5).await;
    p.commit_transaction().await.expect("commit 1");
    p.begin_transaction().expect("begin 2");
    send(&p, "txn", 2, "ab", 4).await;
    p.abort_transaction().await.expect("abort");
    p.begin_transaction().expect("begin 3");
    send(&p, "txn", 2, "c2", 3).await;
    p.commit_transaction().await.expect("commit 3");
    // Per partition: 5 + 4 + 3 records and three markers.
    assert_eq!(cluster.high_watermark("txn", 0), Some(15));
    assert_eq!(cluster.high_watermark("txn", 1), Some(15));

    let tps = [TopicPartition::new("txn", 0), TopicPartition::new("txn", 1)];
    // Per partition in offset order: "c2" records come after the aborted ones, so reading up
    // to the last of them has passed every aborted record.
    let committed = read(&bootstrap, &tps, "read_committed", 16).await;
    assert_eq!(committed.len(), 16, "{committed:?}");
    assert!(
        committed.iter().all(|v| !v.starts_with("ab")),
        "{committed:?}"
    );
    for part in 0..2 {
        assert!(committed.contains(&format!("c1-{part}-4")));
        assert!(committed.contains(&format!("c2-{part}-2")));
    }
    let all = read(&bootstrap, &tps, "read_uncommitted", 24).await;
    assert_eq!(
        all.iter().filter(|v| v.starts_with("ab")).count(),
        8,
        "{all:?}"
    );
    p.close(Duration::from_secs(5)).await.expect("close");
    eprintln!("visibility: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_transaction_holds_read_committed_back() {
    let cluster = cluster("open", 1).await;
    let bootstrap = cluster.bootstrap();
    let p = txn_producer(&bootstrap, "txn-open");
    p.init_transactions().await.expect("init");
    p.begin_transaction().expect("begin");
    send(&p, "open", 1, "before", 2).await;
    p.commit_transaction().await.expect("commit");
    p.begin_transaction().expect("begin open");
    send(&p, "open", 1, "pending", 3).await;
    let tps = [TopicPartition::new("open", 0)];
    // Below the LSO only: the open transaction's records are not served yet.
    let got = read(&bootstrap, &tps, "read_committed", 2).await;
    assert_eq!(got, vec!["before-0-0", "before-0-1"]);
    p.commit_transaction().await.expect("commit open");
    let got = read(&bootstrap, &tps, "read_committed", 5).await;
    assert_eq!(got.len(), 5);
    assert_eq!(got[4], "pending-0-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_sent_in_a_transaction_reach_the_group_only_on_commit() {
    let cluster = cluster("src", 2).await;
    let bootstrap = cluster.bootstrap();
    let group = "txn-group";
    let consumer = Consumer::new(
        ConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            ("group.id", group),
            ("enable.auto.commit", "false"),
        ])
        .expect("consumer config"),
    )
    .expect("consumer");
    let tps = vec![TopicPartition::new("src", 0), TopicPartition::new("src", 1)];
    let committed = |c: &Consumer| {
        let (tps, c) = (tps.clone(), c.clone());
        async move {
            let m = c.committed(&tps).await.expect("committed");
            tps.iter()
                .map(|tp| m.get(tp).cloned().flatten().map(|o| o.offset))
                .collect::<Vec<_>>()
        }
    };
    let md = ConsumerGroupMetadata::new(group.to_owned());
    let offsets = [(tps[0].clone(), Offset(5)), (tps[1].clone(), Offset(7))];
    let p = txn_producer(&bootstrap, "txn-offsets");
    p.init_transactions().await.expect("init");

    p.begin_transaction().expect("begin");
    p.send_offsets_to_transaction(&offsets, &md)
        .await
        .expect("send offsets");
    p.abort_transaction().await.expect("abort");
    assert_eq!(committed(&consumer).await, vec![None, None], "aborted");

    p.begin_transaction().expect("begin 2");
    p.send_offsets_to_transaction(&offsets, &md)
        .await
        .expect("send offsets 2");
    assert_eq!(committed(&consumer).await, vec![None, None], "pending");
    p.commit_transaction().await.expect("commit");
    assert_eq!(
        committed(&consumer).await,
        vec![Some(Offset(5)), Some(Offset(7))],
        "committed: visible at once (EndTxn completes before it answers)"
    );
    consumer.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_producer_with_the_same_transactional_id_fences_the_first() {
    let cluster = cluster("fence", 1).await;
    let bootstrap = cluster.bootstrap();
    let first = txn_producer(&bootstrap, "txn-fence");
    first.init_transactions().await.expect("init first");
    first.begin_transaction().expect("begin");
    send(&first, "fence", 1, "zombie", 1).await;

    let second = txn_producer(&bootstrap, "txn-fence");
    second.init_transactions().await.expect("init second");
    let e = first
        .commit_transaction()
        .await
        .expect_err("the zombie commits");
    assert!(e.is_fatal(), "{e}");
    assert!(matches!(e.broker_code(), Some(90 | 47)), "{e}");
    assert!(first.begin_transaction().unwrap_err().is_fatal());

    second.begin_transaction().expect("begin second");
    send(&second, "fence", 1, "successor", 1).await;
    second.commit_transaction().await.expect("commit second");
    // zombie, its ABORT marker (written by the second init), successor, its COMMIT marker.
    assert_eq!(cluster.high_watermark("fence", 0), Some(4));
    let got = read(
        &bootstrap,
        &[TopicPartition::new("fence", 0)],
        "read_committed",
        1,
    )
    .await;
    assert_eq!(got, vec!["successor-0-0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_transaction_is_aborted_and_its_commit_is_fenced() {
    let cluster = cluster("expire", 1).await;
    let bootstrap = cluster.bootstrap();
    let p = Producer::new(
        ProducerConfig::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            ("transactional.id", "txn-expire"),
            ("transaction.timeout.ms", "300"),
            ("linger.ms", "1"),
            ("max.block.ms", "5000"),
        ])
        .expect("config"),
    )
    .expect("producer");
    p.init_transactions().await.expect("init");
    p.begin_transaction().expect("begin");
    send(&p, "expire", 1, "expires", 1).await;
    // The mock's ticker runs every 100 ms: 300 ms + a tick, with room for a loaded machine.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        cluster.high_watermark("expire", 0),
        Some(2),
        "record + ABORT marker"
    );
    let e = p
        .commit_transaction()
        .await
        .expect_err("an expired transaction committed");
    assert!(e.is_fatal(), "{e}");
    // Transaction version 2 (the default): the late commit reads as a retry of the abort,
    // INVALID_TXN_STATE (KAFKA-20785), as on Kafka 4.x.
    assert_eq!(e.broker_code(), Some(48), "{e}");
    assert!(e.to_string().contains("transaction.timeout.ms"), "{e}");

    let plain = Producer::new(
        ProducerConfig::from_properties([("bootstrap.servers", bootstrap.as_str())])
            .expect("config"),
    )
    .expect("producer");
    plain
        .send(ProducerRecord::new("expire").value("after"))
        .await
        .expect("send")
        .await
        .expect("written");
    let tps = [TopicPartition::new("expire", 0)];
    assert_eq!(
        read(&bootstrap, &tps, "read_committed", 1).await,
        vec!["after"]
    );
    let raw = read(&bootstrap, &tps, "read_uncommitted", 2).await;
    assert_eq!(raw, vec!["expires-0-0", "after"]);
}
