//! End to end: the ferrokafka client's consumer groups against the mock's group coordinator
//! (three brokers, so FindCoordinator matters), over real TCP.

use ferrokafka::admin::AdminClient;
use ferrokafka::config::ClientConfig;
use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka_mock::{MockCluster, MockConfig};
use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

const TOPIC: &str = "orders";
const PARTITIONS: i32 = 6;

fn consumer(bootstrap: &str, group: &str, extra: &[(&str, &str)]) -> Consumer {
    let mut props = vec![
        ("bootstrap.servers", bootstrap),
        ("group.id", group),
        ("auto.offset.reset", "earliest"),
        ("enable.auto.commit", "false"),
        ("heartbeat.interval.ms", "500"),
    ];
    props.extend_from_slice(extra);
    let c = Consumer::new(ConsumerConfig::from_properties(props).expect("consumer config"))
        .expect("consumer");
    c.subscribe([TOPIC.to_string()]).expect("subscribe");
    c
}

async fn produce(bootstrap: &str, n: usize, tag: &str) {
    let producer = Producer::new(
        ProducerConfig::builder()
            .bootstrap_servers(bootstrap)
            .build()
            .expect("producer config"),
    )
    .expect("producer");
    let mut deliveries = Vec::with_capacity(n);
    for i in 0..n {
        let record = ProducerRecord::new(TOPIC)
            .partition(i as i32 % PARTITIONS)
            .key(format!("{tag}-{i}"))
            .value(format!("value {i}"));
        deliveries.push(producer.send(record).await.expect("send"));
    }
    for d in deliveries {
        d.await.expect("delivered");
    }
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("producer close");
}

fn partitions(c: &Consumer) -> BTreeSet<i32> {
    c.assignment().iter().map(|tp| tp.partition).collect()
}

/// Polls every consumer until `done` holds (records read meanwhile are returned per consumer).
async fn poll_until(
    consumers: &[&Consumer],
    limit: Duration,
    what: &str,
    mut done: impl FnMut(&[&Consumer]) -> bool,
) -> Vec<Vec<(i32, i64)>> {
    let start = Instant::now();
    let mut read = vec![Vec::new(); consumers.len()];
    while !done(consumers) {
        assert!(start.elapsed() < limit, "not {what} within {limit:?}");
        for (i, c) in consumers.iter().enumerate() {
            for r in c.poll(Duration::from_millis(100)).await.expect("poll") {
                read[i].push((r.partition, r.offset.0));
            }
        }
    }
    read
}

/// Assignments disjoint and covering every partition.
fn split_evenly(cs: &[&Consumer]) -> bool {
    let sets: Vec<BTreeSet<i32>> = cs.iter().map(|c| partitions(c)).collect();
    let all: BTreeSet<i32> = sets.iter().flatten().copied().collect();
    let total: usize = sets.iter().map(BTreeSet::len).sum();
    all.len() == PARTITIONS as usize && total == all.len() && sets.iter().all(|s| !s.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consumers_share_partitions_and_commits_are_respected() {
    let cluster = MockCluster::start(MockConfig::default().brokers(3))
        .await
        .expect("cluster");
    cluster.create_topic(TOPIC, PARTITIONS).expect("topic");
    let bootstrap = cluster.bootstrap();
    let group = "shared-group";

    // Both members settle first, so no partition changes hands with records already read.
    let c1 = consumer(&bootstrap, group, &[]);
    let c2 = consumer(&bootstrap, group, &[]);
    let early = poll_until(&[&c1, &c2], Duration::from_secs(20), "split", split_evenly).await;
    assert!(early.iter().all(Vec::is_empty));

    produce(&bootstrap, 600, "a").await;
    let mut seen: HashSet<(i32, i64)> = HashSet::new();
    let mut per_consumer = [0usize; 2];
    let start = Instant::now();
    while seen.len() < 600 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "read {}",
            seen.len()
        );
        for (i, c) in [&c1, &c2].into_iter().enumerate() {
            for r in c.poll(Duration::from_millis(100)).await.expect("poll") {
                assert!(
                    partitions(c).contains(&r.partition),
                    "record of an unowned partition"
                );
                assert!(seen.insert((r.partition, r.offset.0)), "duplicate {r:?}");
                per_consumer[i] += 1;
            }
        }
    }
    assert!(
        per_consumer.iter().all(|n| *n > 0),
        "both consumed: {per_consumer:?}"
    );
    assert!(split_evenly(&[&c1, &c2]));
    c1.commit_positions().await.expect("commit c1");
    c2.commit_positions().await.expect("commit c2");
    c1.close().await.expect("close c1");
    c2.close().await.expect("close c2");

    // A new member of the group resumes at the committed offsets: nothing left to read.
    let c3 = consumer(&bootstrap, group, &[]);
    poll_until(&[&c3], Duration::from_secs(20), "assigned", |cs| {
        partitions(cs[0]).len() == PARTITIONS as usize
    })
    .await;
    let quiet_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < quiet_until {
        let records = c3.poll(Duration::from_millis(200)).await.expect("poll c3");
        assert!(records.is_empty(), "re-read after commit: {records:?}");
    }
    c3.close().await.expect("close c3");

    let admin = AdminClient::new(
        ClientConfig::builder()
            .bootstrap_servers(&bootstrap)
            .build()
            .expect("admin config"),
    );
    let lag = admin.consumer_group_lag(group).await.expect("lag");
    assert_eq!(lag.len(), PARTITIONS as usize, "{lag:?}");
    for (tp, l) in lag {
        let l = l.expect("partition lag");
        assert_eq!(l.lag, Some(0), "{tp:?}");
        assert_eq!(l.committed.map(|o| o.0), Some(100), "{tp:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_member_is_evicted_and_its_partitions_move() {
    let cluster = MockCluster::start(MockConfig::default().brokers(3))
        .await
        .expect("cluster");
    cluster.create_topic(TOPIC, PARTITIONS).expect("topic");
    let bootstrap = cluster.bootstrap();
    let short = [("session.timeout.ms", "6000")];
    let c1 = consumer(&bootstrap, "evict-group", &short);

    let c2 = consumer(&bootstrap, "evict-group", &short);
    poll_until(&[&c1, &c2], Duration::from_secs(20), "split", split_evenly).await;
    let moved = partitions(&c2);
    // Dropped without close(): no LeaveGroup, and its tasks stop at once (no more heartbeats).
    drop(c2);

    let started = Instant::now();
    poll_until(&[&c1], Duration::from_secs(15), "reassigned", |cs| {
        partitions(cs[0]).len() == PARTITIONS as usize
    })
    .await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(4),
        "evicted after only {waited:?}"
    );

    produce(&bootstrap, 60, "b").await;
    let mut read: BTreeSet<(i32, i64)> = BTreeSet::new();
    let start = Instant::now();
    while read.len() < 60 {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "read {}",
            read.len()
        );
        for r in c1.poll(Duration::from_millis(100)).await.expect("poll") {
            assert!(read.insert((r.partition, r.offset.0)), "duplicate");
        }
    }
    assert!(moved.iter().all(|p| read.iter().any(|(q, _)| q == p)));
    c1.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_lists_describes_and_deletes_groups() {
    let cluster = MockCluster::start(MockConfig::default().brokers(3))
        .await
        .expect("cluster");
    cluster.create_topic(TOPIC, PARTITIONS).expect("topic");
    let bootstrap = cluster.bootstrap();
    let admin = AdminClient::new(
        ClientConfig::builder()
            .bootstrap_servers(&bootstrap)
            .client_id("admin")
            .build()
            .expect("admin config"),
    );
    let c1 = consumer(&bootstrap, "admin-group", &[]);
    poll_until(&[&c1], Duration::from_secs(20), "assigned", |cs| {
        partitions(cs[0]).len() == PARTITIONS as usize
    })
    .await;

    let listed = admin.list_consumer_groups().await.expect("list");
    let g = listed
        .iter()
        .find(|g| g.group_id == "admin-group")
        .expect("listed");
    assert_eq!(g.protocol_type, "consumer");
    assert_eq!(g.state.as_deref(), Some("Stable"));

    let described = admin
        .describe_consumer_groups(&["admin-group"], false)
        .await
        .expect("describe");
    let d = described[0].1.as_ref().expect("described");
    assert_eq!(
        (d.state.as_str(), d.protocol_type.as_str()),
        ("Stable", "consumer")
    );
    assert!(!d.protocol.is_empty());
    assert_eq!(d.members.len(), 1);
    assert_eq!(d.members[0].assignment.len(), PARTITIONS as usize);

    let deleted = admin
        .delete_consumer_groups(&["admin-group", "no-such-group"])
        .await
        .expect("delete");
    assert!(deleted.iter().all(|(_, r)| r.is_err()), "{deleted:?}");

    // A commit from outside any generation ("simple" consumer) makes an Empty group.
    let tp = |p| ferrokafka::types::TopicPartition {
        topic: TOPIC.into(),
        partition: p,
    };
    let stored = admin
        .alter_consumer_group_offsets("simple-group", &[(tp(0), ferrokafka::types::Offset(5))])
        .await
        .expect("alter");
    assert!(stored[&tp(0)].is_ok(), "{stored:?}");
    let fetched = admin
        .list_consumer_group_offsets("simple-group")
        .await
        .expect("fetch");
    assert_eq!(fetched.len(), 1);
    assert_eq!(fetched[&tp(0)].as_ref().expect("offset").offset.0, 5);

    c1.close().await.expect("close");
    let deleted = admin
        .delete_consumer_groups(&["admin-group", "simple-group"])
        .await
        .expect("delete");
    assert!(deleted.iter().all(|(_, r)| r.is_ok()), "{deleted:?}");
    let fetched = admin
        .list_consumer_group_offsets("simple-group")
        .await
        .expect("fetch");
    assert!(fetched.is_empty(), "{fetched:?}");
}
