//! The transactional producer's public API against a real broker: commit visible to
//! `read_committed`, abort invisible, `read_uncommitted` sees both; offsets sent with
//! `send_offsets_to_transaction` reach the group only on commit; a second producer with the
//! same `transactional.id` fences the first; a transaction with a failed send must abort and
//! the producer goes on; one transaction over several topics and partitions.

use crate::producer::create;
use crate::support::shared_bootstrap;
use ferrokafka::admin::{AdminClient, NewTopic};
use ferrokafka::consumer::{Consumer, ConsumerConfig, ConsumerGroupMetadata};
use ferrokafka::producer::{Persistence, Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::{Offset, TopicPartition};
use ferrokafka::ErrorKind;
use ferrokafka_testcontainers::unique_topic;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn txn_producer(bootstrap: &str, id: &str) -> Producer {
    let cfg = ProducerConfig::from_properties([
        ("bootstrap.servers", bootstrap),
        ("transactional.id", id),
        ("linger.ms", "5"),
        ("max.block.ms", "30000"),
        ("retry.backoff.ms", "50"),
    ])
    .expect("config");
    Producer::new(cfg).expect("producer")
}

/// Reads every partition of `topics` from the beginning under `isolation` until no record came
/// for 1.5 s (at least `expect` records first, for at most 60 s); returns the values per topic.
async fn read_all(
    bootstrap: &str,
    tps: &[TopicPartition],
    isolation: &str,
    expect: usize,
) -> BTreeMap<String, Vec<String>> {
    let c = Consumer::new(
        ConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap),
            ("auto.offset.reset", "earliest"),
            ("enable.auto.commit", "false"),
            ("fetch.max.wait.ms", "100"),
            ("isolation.level", isolation),
        ])
        .expect("consumer config"),
    )
    .expect("consumer");
    c.assign(tps).expect("assign");
    let mut got: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut n = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut quiet_since = Instant::now();
    loop {
        let records = c.poll(Duration::from_millis(200)).await.expect("poll");
        if !records.is_empty() {
            quiet_since = Instant::now();
        }
        for r in records {
            let v = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
            got.entry(r.topic.to_string()).or_default().push(v);
            n += 1;
        }
        if n >= expect && quiet_since.elapsed() > Duration::from_millis(1500) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{isolation}: {n} of {expect} records"
        );
    }
    c.close().await.expect("close");
    for v in got.values_mut() {
        v.sort();
    }
    got
}

fn values(prefix: &str, n: usize) -> Vec<String> {
    let mut v: Vec<String> = (0..n).map(|i| format!("{prefix}-{i:03}")).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_visible_aborted_invisible_across_topics_and_partitions() {
    let bootstrap = shared_bootstrap();
    let (a, b) = (unique_topic("txn-a"), unique_topic("txn-b"));
    create(&bootstrap, &a, 3, 1).await;
    create(&bootstrap, &b, 2, 1).await;
    let p = txn_producer(&bootstrap, &unique_topic("txn-id"));
    p.init_transactions().await.expect("init");

    // Aborted: 40 records to each topic, spread over every partition by key.
    p.begin_transaction().expect("begin");
    let mut futures = Vec::new();
    for i in 0..40 {
        for t in [&a, &b] {
            let r = ProducerRecord::new(t.as_str())
                .key(format!("k{i}"))
                .value(format!("aborted-{i:03}"));
            futures.push(p.send(r).await.expect("send"));
        }
    }
    p.abort_transaction().await.expect("abort");
    let mut not_persisted = 0;
    for f in futures {
        match f.await {
            // Sent before the abort: written, then aborted by the marker.
            Ok(m) => assert_eq!(m.persistence, Persistence::Persisted),
            Err(e) => {
                assert!(
                    matches!(e.error.kind(), ErrorKind::TransactionAborted),
                    "{e}"
                );
                assert_eq!(e.persistence, Persistence::NotPersisted);
                not_persisted += 1;
            }
        }
    }
    // Committed: 50 records to each topic.
    p.begin_transaction().expect("begin 2");
    for i in 0..50 {
        for t in [&a, &b] {
            let r = ProducerRecord::new(t.as_str())
                .key(format!("k{i}"))
                .value(format!("committed-{i:03}"));
            p.send(r).await.expect("send");
        }
    }
    p.commit_transaction().await.expect("commit");
    // An empty transaction commits without the coordinator.
    p.begin_transaction().expect("begin 3");
    p.commit_transaction().await.expect("empty commit");

    let mut tps: Vec<TopicPartition> = (0..3).map(|i| TopicPartition::new(&a, i)).collect();
    tps.extend((0..2).map(|i| TopicPartition::new(&b, i)));
    let committed = read_all(&bootstrap, &tps, "read_committed", 100).await;
    assert_eq!(committed.get(&a), Some(&values("committed", 50)));
    assert_eq!(committed.get(&b), Some(&values("committed", 50)));
    let all = read_all(&bootstrap, &tps, "read_uncommitted", 180 - not_persisted).await;
    let mut expected = values("committed", 50);
    let total: usize = all.values().map(Vec::len).sum();
    assert_eq!(
        total,
        180 - not_persisted,
        "read_uncommitted sees the aborted writes too"
    );
    for t in [&a, &b] {
        let got = &all[t.as_str()];
        expected.retain(|_| true);
        assert!(values("committed", 50).iter().all(|v| got.contains(v)));
        assert!(got
            .iter()
            .all(|v| v.starts_with("committed-") || v.starts_with("aborted-")));
    }
    let m = p.metrics();
    for name in [
        "txn-init-time-ns-total",
        "txn-begin-time-ns-total",
        "txn-commit-time-ns-total",
        "txn-abort-time-ns-total",
    ] {
        assert!(m.get(name).unwrap_or(0.0) > 0.0, "{name}");
    }
    eprintln!("aborted transaction: {not_persisted} of 80 records never sent");
    p.close(Duration::from_secs(10)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_reach_the_group_only_when_the_transaction_commits() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("txn-offsets");
    create(&bootstrap, &topic, 2, 1).await;
    let group = unique_topic("txn-group");
    let p = txn_producer(&bootstrap, &unique_topic("txn-id"));
    p.init_transactions().await.expect("init");
    let consumer = Consumer::new(
        ConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            ("group.id", group.as_str()),
            ("enable.auto.commit", "false"),
        ])
        .expect("config"),
    )
    .expect("consumer");
    let tps = [
        TopicPartition::new(&topic, 0),
        TopicPartition::new(&topic, 1),
    ];
    consumer.assign(&tps).expect("assign");
    // Outside group management: generation -1, no member id.
    let md = consumer.group_metadata().expect("group metadata");
    assert_eq!(md, ConsumerGroupMetadata::new(group.clone()));

    let committed = |c: &Consumer| {
        let tps = tps.clone();
        let c = c.clone();
        async move {
            let m = c.committed(&tps).await.expect("committed");
            tps.iter()
                .map(|tp| m.get(tp).cloned().flatten().map(|o| o.offset))
                .collect::<Vec<_>>()
        }
    };
    let offsets = [(tps[0].clone(), Offset(5)), (tps[1].clone(), Offset(7))];
    p.begin_transaction().expect("begin");
    p.send(ProducerRecord::new(topic.as_str()).value("x"))
        .await
        .expect("send");
    p.send_offsets_to_transaction(&offsets, &md)
        .await
        .expect("send offsets");
    p.abort_transaction().await.expect("abort");
    assert_eq!(committed(&consumer).await, vec![None, None], "aborted");

    p.begin_transaction().expect("begin 2");
    p.send_offsets_to_transaction(&offsets, &md)
        .await
        .expect("send offsets 2");
    // Pending in the transaction: the group does not see them yet. (Java's committed() with
    // require_stable would wait; a plain OffsetFetch answers the last committed value.)
    p.commit_transaction().await.expect("commit");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = committed(&consumer).await;
        if got == vec![Some(Offset(5)), Some(Offset(7))] {
            break;
        }
        assert!(Instant::now() < deadline, "offsets after commit: {got:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        p.metrics()
            .get("txn-send-offsets-time-ns-total")
            .unwrap_or(0.0)
            > 0.0
    );
    consumer.close().await.expect("close");
    p.close(Duration::from_secs(10)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_producer_with_the_same_transactional_id_fences_the_first() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("txn-fence");
    create(&bootstrap, &topic, 1, 1).await;
    let id = unique_topic("txn-id");
    let first = txn_producer(&bootstrap, &id);
    first.init_transactions().await.expect("init first");
    first.begin_transaction().expect("begin");
    let d = first
        .send(ProducerRecord::new(topic.as_str()).value("zombie"))
        .await
        .expect("send");
    d.await.expect("written before the fence");

    let second = txn_producer(&bootstrap, &id);
    second.init_transactions().await.expect("init second");
    let e = first
        .commit_transaction()
        .await
        .expect_err("the zombie commits");
    assert!(e.is_fatal(), "{e}");
    // Transaction version 1 answers PRODUCER_FENCED / INVALID_PRODUCER_EPOCH; a Kafka 4.x
    // coordinator under transaction version 2 takes the late commit for a retry of its own
    // abort and answers INVALID_TXN_STATE (KAFKA-20785). Fatal in every case.
    assert!(
        matches!(e.broker_code(), Some(90 | 47 | 48)),
        "PRODUCER_FENCED, INVALID_PRODUCER_EPOCH or INVALID_TXN_STATE: {e}"
    );
    // Fatal: every later call fails the same way.
    assert!(first.begin_transaction().unwrap_err().is_fatal());
    let rejected = first
        .send(ProducerRecord::new(topic.as_str()).value("late"))
        .await
        .expect_err("send after the fence");
    assert!(rejected.error.is_fatal());

    second.begin_transaction().expect("begin second");
    second
        .send(ProducerRecord::new(topic.as_str()).value("successor"))
        .await
        .expect("send");
    second.commit_transaction().await.expect("commit second");
    let got = read_all(
        &bootstrap,
        &[TopicPartition::new(&topic, 0)],
        "read_committed",
        1,
    )
    .await;
    assert_eq!(got.get(&topic), Some(&vec!["successor".to_owned()]));
    second.close(Duration::from_secs(10)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_send_makes_the_transaction_abort_and_the_producer_goes_on() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("txn-fail");
    let admin = create(&bootstrap, &topic, 1, 1).await;
    let small = unique_topic("txn-small");
    admin
        .create_topic(NewTopic::new(&small, 1, 1).config("max.message.bytes", "200"))
        .await
        .expect("create small topic");
    admin
        .wait_for_topic(&small, 1, Duration::from_secs(60))
        .await
        .expect("small topic ready");
    let p = txn_producer(&bootstrap, &unique_topic("txn-id"));
    p.init_transactions().await.expect("init");
    p.begin_transaction().expect("begin");
    p.send(ProducerRecord::new(topic.as_str()).value("lost"))
        .await
        .expect("send");
    // The broker refuses the batch (MESSAGE_TOO_LARGE): the transaction cannot commit.
    let big = p
        .send(ProducerRecord::new(small.as_str()).value(vec![b'x'; 1000]))
        .await
        .expect("buffered");
    let e = big.await.expect_err("broker refuses it");
    assert_eq!(e.persistence, Persistence::NotPersisted, "{e}");
    let commit = p
        .commit_transaction()
        .await
        .expect_err("commit after a failed send");
    assert!(!commit.is_fatal(), "{commit}");
    assert!(commit.to_string().contains("abort_transaction"), "{commit}");
    let send = p
        .send(ProducerRecord::new(topic.as_str()).value("more"))
        .await
        .expect_err("send in the failed transaction");
    assert!(!send.error.is_fatal());
    p.abort_transaction().await.expect("abort");

    p.begin_transaction().expect("begin again");
    p.send(ProducerRecord::new(topic.as_str()).value("kept"))
        .await
        .expect("send");
    p.commit_transaction().await.expect("commit");
    let got = read_all(
        &bootstrap,
        &[TopicPartition::new(&topic, 0)],
        "read_committed",
        1,
    )
    .await;
    assert_eq!(got.get(&topic), Some(&vec!["kept".to_owned()]));
    p.close(Duration::from_secs(10)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_out_of_order_are_illegal_state() {
    let bootstrap = shared_bootstrap();
    let p = txn_producer(&bootstrap, &unique_topic("txn-id"));
    let e = p.begin_transaction().unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::IllegalState), "{e}");
    let e = p
        .send(ProducerRecord::new("t").value("v"))
        .await
        .expect_err("send before init");
    assert!(matches!(e.error.kind(), ErrorKind::IllegalState), "{e}");
    p.init_transactions().await.expect("init");
    assert!(matches!(
        p.commit_transaction().await.unwrap_err().kind(),
        ErrorKind::IllegalState
    ));
    let plain = Producer::new(
        ProducerConfig::builder()
            .bootstrap_servers(bootstrap.as_str())
            .build()
            .expect("config"),
    )
    .expect("producer");
    assert!(matches!(
        plain.init_transactions().await.unwrap_err().kind(),
        ErrorKind::IllegalState
    ));
}

/// A transaction left open past `transaction.timeout.ms` is aborted by the broker (its
/// coordinator checks every 10 s by default, then bumps the epoch): the producer's commit fails
/// fatally with a line that names `transaction.timeout.ms`, and nothing of it is visible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_transaction_is_aborted_by_the_broker_and_the_commit_says_why() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("txn-expire");
    create(&bootstrap, &topic, 1, 1).await;
    let id = unique_topic("txn-id");
    let p = Producer::new(
        ProducerConfig::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            ("transactional.id", id.as_str()),
            ("transaction.timeout.ms", "2000"),
            ("linger.ms", "5"),
        ])
        .expect("config"),
    )
    .expect("producer");
    p.init_transactions().await.expect("init");
    p.begin_transaction().expect("begin");
    let d = p
        .send(ProducerRecord::new(topic.as_str()).value("expires"))
        .await
        .expect("send");
    d.await.expect("written");
    // The coordinator's expiry scan runs every 10 s: wait until it has certainly run.
    tokio::time::sleep(Duration::from_secs(14)).await;
    let e = p
        .commit_transaction()
        .await
        .expect_err("an expired transaction committed");
    eprintln!("commit after expiry: {e}");
    assert!(e.is_fatal(), "{e}");
    // Transaction version 1 answers PRODUCER_FENCED / INVALID_PRODUCER_EPOCH; a Kafka 4.x
    // coordinator under transaction version 2 takes the late commit for a retry of its own
    // abort and answers INVALID_TXN_STATE (KAFKA-20785). Fatal in every case.
    assert!(
        matches!(e.broker_code(), Some(90 | 47 | 48)),
        "PRODUCER_FENCED, INVALID_PRODUCER_EPOCH or INVALID_TXN_STATE: {e}"
    );
    assert!(e.to_string().contains("transaction.timeout.ms"), "{e}");
    let tp = [TopicPartition::new(&topic, 0)];
    assert!(read_all(&bootstrap, &tp, "read_committed", 0)
        .await
        .is_empty());
    let raw = read_all(&bootstrap, &tp, "read_uncommitted", 1).await;
    assert_eq!(raw.get(&topic), Some(&vec!["expires".to_owned()]));
}

/// The producer id and epoch the coordinator holds for `id`, once no transaction is open.
async fn coordinator_epoch(admin: &AdminClient, id: &str) -> (i64, i16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = admin
            .describe_transactions(&[id])
            .await
            .expect("describe transactions");
        let t = d[0].1.as_ref().expect("described");
        if matches!(
            t.state.as_str(),
            "Empty" | "CompleteCommit" | "CompleteAbort"
        ) {
            return (t.producer_id.0, t.producer_epoch.0);
        }
        assert!(Instant::now() < deadline, "still {t}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Kafka 4.1 finalizes `transaction.version` 2, so the producer speaks KIP-890 part 2: no
/// AddPartitionsToTxn (Produce v12 adds the partition), and every EndTxn bumps the epoch, which
/// the producer adopts. Were the new epoch not adopted, the second transaction would be fenced;
/// were transaction version 1 in use, the epoch would not move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_version_2_bumps_the_epoch_on_every_end_txn_and_keeps_visibility() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("txn-tv2");
    create(&bootstrap, &topic, 2, 1).await;
    let id = unique_topic("txn-id");
    let admin = AdminClient::new(crate::support::config(&bootstrap));
    let p = txn_producer(&bootstrap, &id);
    p.init_transactions().await.expect("init");
    let (pid0, epoch0) = coordinator_epoch(&admin, &id).await;

    let send_all = |prefix: &'static str, n: usize| {
        let p = &p;
        let topic = topic.clone();
        async move {
            let mut futures = Vec::new();
            for i in 0..n {
                let r = ProducerRecord::new(topic.as_str())
                    .key(format!("k{i}"))
                    .value(format!("{prefix}-{i:03}"));
                futures.push(p.send(r).await.expect("send"));
            }
            futures
        }
    };
    for (n, prefix) in ["first", "second"].into_iter().enumerate() {
        p.begin_transaction().expect("begin");
        for f in send_all(prefix, 20).await {
            f.await.expect("written");
        }
        p.commit_transaction().await.expect("commit");
        let (pid, epoch) = coordinator_epoch(&admin, &id).await;
        assert_eq!(pid, pid0, "same producer id");
        assert_eq!(
            i32::from(epoch),
            i32::from(epoch0) + n as i32 + 1,
            "one epoch bump per EndTxn (transaction version 2)"
        );
    }
    // An aborted transaction bumps too, and the next one writes under the new epoch.
    p.begin_transaction().expect("begin");
    for f in send_all("aborted", 10).await {
        f.await.expect("written");
    }
    p.abort_transaction().await.expect("abort");
    assert_eq!(
        coordinator_epoch(&admin, &id).await,
        (pid0, epoch0 + 3),
        "the abort bumped the epoch"
    );
    p.begin_transaction().expect("begin");
    send_all("third", 10).await;
    p.commit_transaction().await.expect("commit after abort");
    assert_eq!(coordinator_epoch(&admin, &id).await, (pid0, epoch0 + 4));

    let tps: Vec<TopicPartition> = (0..2).map(|i| TopicPartition::new(&topic, i)).collect();
    let committed = read_all(&bootstrap, &tps, "read_committed", 50).await;
    let mut expected = values("first", 20);
    expected.extend(values("second", 20));
    expected.extend(values("third", 10));
    expected.sort();
    assert_eq!(committed.get(&topic), Some(&expected));
    let all = read_all(&bootstrap, &tps, "read_uncommitted", 60).await;
    let mut with_aborted = expected.clone();
    with_aborted.extend(values("aborted", 10));
    with_aborted.sort();
    assert_eq!(all.get(&topic), Some(&with_aborted));
    p.close(Duration::from_secs(10)).await.expect("close");
}

/// Transaction version 1 against a Kafka 4.1 cluster whose `transaction.version` feature was
/// downgraded to 0 (the harness resolves only one Kafka version, so this stands in for a 3.x
/// broker): AddPartitionsToTxn and EndTxn v4, the epoch stays put across transactions, and
/// commit/abort visibility is the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_version_1_when_the_feature_is_not_finalized() {
    let kafka = crate::support::dedicated(ferrokafka_testcontainers::Topology::Single).await;
    let bootstrap = kafka.bootstrap();
    let b = bootstrap.clone();
    let out = crate::support::blocking(move || {
        ferrokafka_testcontainers::JvmRuntime::locate()
            .expect("java and the Kafka jars")
            .tool("org.apache.kafka.tools.FeatureCommand")
            .expect("kafka-tools")
            .args(["--bootstrap-server", &b, "downgrade", "--feature"])
            .arg("transaction.version=0")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("FeatureCommand runs")
    })
    .await;
    assert!(
        out.status.success(),
        "FeatureCommand downgrade: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The single node applies the feature record it wrote itself; give its ApiVersions a moment.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let topic = unique_topic("txn-tv1");
    create(&bootstrap, &topic, 2, 1).await;
    let id = unique_topic("txn-id");
    let admin = AdminClient::new(crate::support::config(&bootstrap));
    let p = txn_producer(&bootstrap, &id);
    p.init_transactions().await.expect("init");
    let first = coordinator_epoch(&admin, &id).await;
    for prefix in ["one", "two"] {
        p.begin_transaction().expect("begin");
        for i in 0..10 {
            let r = ProducerRecord::new(topic.as_str())
                .key(format!("k{i}"))
                .value(format!("{prefix}-{i:03}"));
            p.send(r).await.expect("send");
        }
        p.commit_transaction().await.expect("commit");
        assert_eq!(
            coordinator_epoch(&admin, &id).await,
            first,
            "transaction version 1 keeps the epoch"
        );
    }
    p.begin_transaction().expect("begin");
    for i in 0..5 {
        let r = ProducerRecord::new(topic.as_str()).value(format!("aborted-{i:03}"));
        p.send(r).await.expect("send").await.expect("written");
    }
    p.abort_transaction().await.expect("abort");
    assert_eq!(coordinator_epoch(&admin, &id).await, first);
    let tps: Vec<TopicPartition> = (0..2).map(|i| TopicPartition::new(&topic, i)).collect();
    let committed = read_all(&bootstrap, &tps, "read_committed", 20).await;
    let mut expected = values("one", 10);
    expected.extend(values("two", 10));
    expected.sort();
    assert_eq!(committed.get(&topic), Some(&expected));
    let all = read_all(&bootstrap, &tps, "read_uncommitted", 25).await;
    assert_eq!(all.get(&topic).map(Vec::len), Some(25));
    p.close(Duration::from_secs(10)).await.expect("close");
}
