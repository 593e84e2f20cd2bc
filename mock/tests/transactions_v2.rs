//! Both transaction versions on the mock, driven by the ferrokafka client, which picks its
//! dialect from the `transaction.version` the mock finalizes ([`MockConfig::transaction_version`]):
//! under version 2 (KIP-890 part 2) no AddPartitionsToTxn is sent (Produce v12 adds the
//! partition), every EndTxn v5 bumps the epoch, and the markers carry the bumped epoch; under
//! version 1 the epoch stays put. Commit / abort visibility and fencing are the same in both.

use ferrokafka::consumer::{Consumer, ConsumerConfig, ConsumerGroupMetadata};
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::{Offset, TopicPartition};
use ferrokafka_mock::{ApiKey, MockCluster, MockConfig};
use std::time::{Duration, Instant};

const ADD_PARTITIONS_TO_TXN: ApiKey = ApiKey::AddPartitionsToTxn;
const ADD_OFFSETS_TO_TXN: ApiKey = ApiKey::AddOffsetsToTxn;
const END_TXN: ApiKey = ApiKey::EndTxn;
const TXN_OFFSET_COMMIT: ApiKey = ApiKey::TxnOffsetCommit;

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

async fn cluster(level: i16, topic: &str) -> MockCluster {
    let config = MockConfig::default().brokers(2).transaction_version(level);
    let cluster = MockCluster::start(config).await.expect("mock cluster");
    cluster.create_topic(topic, 1).expect("topic");
    cluster
}

/// One transaction of `n` records `prefix-i`, committed or aborted.
async fn transaction(p: &Producer, topic: &str, prefix: &str, n: usize, commit: bool) {
    p.begin_transaction().expect("begin");
    let mut ds = Vec::new();
    for i in 0..n {
        let r = ProducerRecord::new(topic).value(format!("{prefix}-{i}"));
        ds.push(p.send(r).await.expect("send"));
    }
    for d in ds {
        d.await.expect("written");
    }
    if commit {
        p.commit_transaction().await.expect("commit");
    } else {
        p.abort_transaction().await.expect("abort");
    }
}

/// Reads `topic`-0 from the beginning under `isolation` until `expect` records came (5 s at most).
async fn read(bootstrap: &str, topic: &str, isolation: &str, expect: usize) -> Vec<String> {
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
    c.assign(&[TopicPartition::new(topic, 0)]).expect("assign");
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

/// Commit, abort, commit under `level`; returns the markers' epochs and the versions of the
/// transaction requests the client sent.
async fn commit_abort_commit(level: i16) -> (Vec<i16>, Vec<(ApiKey, i16)>, (i64, i16)) {
    let topic = "tv";
    let cluster = cluster(level, topic).await;
    let bootstrap = cluster.bootstrap();
    let p = txn_producer(&bootstrap, "tv-id");
    p.init_transactions().await.expect("init");
    let (pid, epoch0) = cluster.transaction_producer("tv-id").expect("known id");
    transaction(&p, topic, "c1", 3, true).await;
    transaction(&p, topic, "ab", 2, false).await;
    transaction(&p, topic, "c2", 2, true).await;
    // 3 + 2 + 2 records and three markers.
    assert_eq!(cluster.high_watermark(topic, 0), Some(10));
    let committed = read(&bootstrap, topic, "read_committed", 5).await;
    assert_eq!(committed, ["c1-0", "c1-1", "c1-2", "c2-0", "c2-1"]);
    let all = read(&bootstrap, topic, "read_uncommitted", 7).await;
    assert_eq!(all.iter().filter(|v| v.starts_with("ab")).count(), 2);
    p.close(Duration::from_secs(5)).await.expect("close");

    let batches = cluster.batches(topic, 0).expect("partition");
    assert!(batches
        .iter()
        .all(|b| b.producer_id == pid && b.transactional));
    let markers: Vec<i16> = batches
        .iter()
        .filter(|b| b.control)
        .map(|b| b.producer_epoch - epoch0)
        .collect();
    let txn_requests = cluster
        .requests()
        .into_iter()
        .filter(|r| {
            [
                ApiKey::Produce,
                ADD_PARTITIONS_TO_TXN,
                ADD_OFFSETS_TO_TXN,
                END_TXN,
                TXN_OFFSET_COMMIT,
            ]
            .contains(&r.api)
        })
        .map(|r| (r.api, r.version))
        .collect();
    let now = cluster.transaction_producer("tv-id").expect("known id");
    (markers, txn_requests, (now.0 - pid, now.1 - epoch0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_2_bumps_the_epoch_on_every_end_and_adds_partitions_implicitly() {
    let started = Instant::now();
    let (markers, requests, moved) = commit_abort_commit(2).await;
    assert_eq!(
        markers,
        [1, 2, 3],
        "each marker at the epoch its EndTxn bumped to"
    );
    assert_eq!(moved, (0, 3), "same producer id, three bumps");
    assert!(!requests.iter().any(|(k, _)| *k == ADD_PARTITIONS_TO_TXN));
    assert!(requests.contains(&(ApiKey::Produce, 12)));
    let ends: Vec<i16> = requests
        .iter()
        .filter(|(k, _)| *k == END_TXN)
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(ends, [5, 5, 5]);
    eprintln!("version 2: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_1_keeps_the_epoch_and_adds_partitions_explicitly() {
    for level in [0, 1] {
        let (markers, requests, moved) = commit_abort_commit(level).await;
        assert_eq!(markers, [0, 0, 0], "level {level}");
        assert_eq!(moved, (0, 0), "level {level}");
        assert!(requests.iter().any(|(k, _)| *k == ADD_PARTITIONS_TO_TXN));
        assert!(requests.iter().all(|(k, v)| match *k {
            ApiKey::Produce => *v <= 11,
            END_TXN => *v <= 4,
            _ => true,
        }));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_2_a_second_producer_fences_the_first_after_its_bumps() {
    let topic = "fence";
    let cluster = cluster(2, topic).await;
    let bootstrap = cluster.bootstrap();
    let first = txn_producer(&bootstrap, "fence-id");
    first.init_transactions().await.expect("init first");
    transaction(&first, topic, "first", 1, true).await;
    let (pid, bumped) = cluster.transaction_producer("fence-id").expect("known");
    first.begin_transaction().expect("begin");
    first
        .send(ProducerRecord::new(topic).value("zombie"))
        .await
        .expect("send")
        .await
        .expect("written at the bumped epoch");

    let second = txn_producer(&bootstrap, "fence-id");
    second.init_transactions().await.expect("init second");
    // The open transaction was aborted at a further bump; the second producer holds the next.
    let (pid2, epoch2) = cluster.transaction_producer("fence-id").expect("known");
    assert_eq!(pid2, pid);
    assert!(epoch2 > bumped, "{epoch2} > {bumped}");
    let e = first
        .commit_transaction()
        .await
        .expect_err("the zombie commits");
    assert!(e.is_fatal(), "{e}");
    assert!(matches!(e.broker_code(), Some(90 | 47)), "{e}");

    transaction(&second, topic, "second", 1, true).await;
    // first-0, COMMIT, zombie, ABORT, second-0, COMMIT.
    assert_eq!(cluster.high_watermark(topic, 0), Some(6));
    let got = read(&bootstrap, topic, "read_committed", 2).await;
    assert_eq!(got, ["first-0", "second-0"]);
    second.close(Duration::from_secs(5)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_2_offsets_go_with_txn_offset_commit_v5_alone() {
    let topic = "offs";
    let cluster = cluster(2, topic).await;
    let bootstrap = cluster.bootstrap();
    let p = txn_producer(&bootstrap, "offs-id");
    p.init_transactions().await.expect("init");
    let md = ConsumerGroupMetadata::new("offs-group".to_owned());
    let tp = TopicPartition::new(topic, 0);
    p.begin_transaction().expect("begin");
    p.send_offsets_to_transaction(&[(tp.clone(), Offset(4))], &md)
        .await
        .expect("send offsets");
    p.commit_transaction().await.expect("commit");
    let requests = cluster.requests();
    assert!(!requests.iter().any(|r| r.api == ADD_OFFSETS_TO_TXN));
    assert!(requests
        .iter()
        .any(|r| r.api == TXN_OFFSET_COMMIT && r.version == 5));

    let c = Consumer::new(
        ConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            ("group.id", "offs-group"),
            ("enable.auto.commit", "false"),
        ])
        .expect("consumer config"),
    )
    .expect("consumer");
    let m = c
        .committed(std::slice::from_ref(&tp))
        .await
        .expect("committed");
    assert_eq!(
        m.get(&tp).cloned().flatten().map(|o| o.offset),
        Some(Offset(4))
    );
    c.close().await.expect("close");
    p.close(Duration::from_secs(5)).await.expect("close");
}
