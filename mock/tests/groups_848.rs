//! End to end: the ferrokafka client's KIP-848 consumer groups (`group.protocol=consumer`)
//! against the mock's coordinator (three brokers), over real TCP: members joining and leaving
//! one by one with every record read once, a silent member fenced after the session timeout,
//! both assignors, and the group as the admin client describes it.

use ferrokafka::admin::{AdminClient, GroupProtocol, NewPartitions};
use ferrokafka::config::ClientConfig;
use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::{Offset, TopicPartition};
use ferrokafka_mock::{MockCluster, MockConfig};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const TOPIC: &str = "orders";
const PARTITIONS: i32 = 6;
const PER_PARTITION: usize = 20;
const SESSION: Duration = Duration::from_secs(2);

async fn cluster() -> MockCluster {
    let cluster = MockCluster::start(
        MockConfig::default()
            .brokers(3)
            .consumer_group_session_timeout(SESSION)
            .consumer_group_heartbeat_interval(Duration::from_millis(200)),
    )
    .await
    .expect("cluster");
    cluster.create_topic(TOPIC, PARTITIONS).expect("topic");
    cluster
}

fn consumer(bootstrap: &str, group: &str, extra: &[(&str, &str)]) -> Consumer {
    let mut props = vec![
        ("bootstrap.servers", bootstrap),
        ("group.id", group),
        ("group.protocol", "consumer"),
        ("auto.offset.reset", "earliest"),
        ("enable.auto.commit", "false"),
        ("fetch.max.wait.ms", "100"),
    ];
    props.extend_from_slice(extra);
    let c = Consumer::new(ConsumerConfig::from_properties(props).expect("consumer config"))
        .expect("consumer");
    c.subscribe([TOPIC.to_string()]).expect("subscribe");
    c
}

/// `PER_PARTITION` records into every partition.
async fn produce(bootstrap: &str) {
    let producer = Producer::new(
        ProducerConfig::builder()
            .bootstrap_servers(bootstrap)
            .build()
            .expect("producer config"),
    )
    .expect("producer");
    let mut deliveries = Vec::new();
    for i in 0..PER_PARTITION * PARTITIONS as usize {
        let record = ProducerRecord::new(TOPIC)
            .partition(i as i32 % PARTITIONS)
            .value(format!("value {i}"));
        deliveries.push(producer.send(record).await.expect("send"));
    }
    for d in deliveries {
        d.await.expect("delivered");
    }
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
}

fn partitions(c: &Consumer) -> BTreeSet<i32> {
    c.assignment().iter().map(|tp| tp.partition).collect()
}

/// Polls every member until their assignments are disjoint, cover every partition and differ
/// in size by at most one (records read meanwhile fail the test: nothing was produced).
async fn until_balanced(members: &[&Consumer], what: &str) -> Duration {
    until_balanced_over(members, PARTITIONS as usize, what).await
}

async fn until_balanced_over(
    members: &[&Consumer],
    partitions_total: usize,
    what: &str,
) -> Duration {
    let start = Instant::now();
    loop {
        let sets: Vec<BTreeSet<i32>> = members.iter().map(|c| partitions(c)).collect();
        let all: BTreeSet<i32> = sets.iter().flatten().copied().collect();
        let total: usize = sets.iter().map(BTreeSet::len).sum();
        let (lo, hi) = sets
            .iter()
            .map(BTreeSet::len)
            .fold((usize::MAX, 0), |(l, h), n| (l.min(n), h.max(n)));
        if all.len() == partitions_total && total == all.len() && hi - lo <= 1 {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what}: not balanced within 20 s: {sets:?}"
        );
        for c in members {
            let read = c.poll(Duration::from_millis(50)).await.expect("poll");
            assert!(
                read.is_empty(),
                "{what}: records read before any were produced"
            );
        }
    }
}

/// Produces a batch and reads it with `members`, each record once and by the owner of its
/// partition; every member commits what it read. Returns how many each read.
async fn read_batch(bootstrap: &str, members: &[&Consumer], batch: usize) -> Vec<usize> {
    produce(bootstrap).await;
    let want = PER_PARTITION * PARTITIONS as usize;
    let first = (batch * PER_PARTITION) as i64;
    let mut seen = BTreeSet::new();
    let mut per_member = vec![0; members.len()];
    let start = Instant::now();
    while seen.len() < want {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "batch {batch}: read {} of {want}",
            seen.len()
        );
        for (i, c) in members.iter().enumerate() {
            let records = c.poll(Duration::from_millis(50)).await.expect("poll");
            for r in &records {
                assert!(partitions(c).contains(&r.partition), "an unowned partition");
                assert!(
                    r.offset.0 >= first,
                    "batch {batch}: an earlier record again: {r:?}"
                );
                assert!(seen.insert((r.partition, r.offset.0)), "read twice: {r:?}");
                per_member[i] += 1;
            }
            if !records.is_empty() {
                c.commit_positions().await.expect("commit");
            }
        }
    }
    per_member
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_two_three_members_then_one_leaves_each_record_read_once() {
    let cluster = cluster().await;
    let b = cluster.bootstrap();
    let group = "k848-scale";
    let c1 = consumer(&b, group, &[]);
    until_balanced(&[&c1], "one member").await;
    assert_eq!(read_batch(&b, &[&c1], 0).await, vec![120]);

    let c2 = consumer(&b, group, &[]);
    let t2 = until_balanced(&[&c1, &c2], "two members").await;
    assert_eq!(read_batch(&b, &[&c1, &c2], 1).await, vec![60, 60]);

    let c3 = consumer(&b, group, &[]);
    let t3 = until_balanced(&[&c1, &c2, &c3], "three members").await;
    assert_eq!(read_batch(&b, &[&c1, &c2, &c3], 2).await, vec![40, 40, 40]);

    // c2 leaves (epoch -1): its partitions go to the other two, from its commits.
    c2.close().await.expect("close");
    let tl = until_balanced(&[&c1, &c3], "after a leave").await;
    assert_eq!(read_batch(&b, &[&c1, &c3], 3).await, vec![60, 60]);

    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(TOPIC, p))
        .collect();
    let committed = c1.committed(&tps).await.expect("committed");
    for tp in &tps {
        let want = Offset(4 * PER_PARTITION as i64);
        assert_eq!(committed[tp].as_ref().map(|o| o.offset), Some(want), "{tp}");
    }
    let admin = AdminClient::new(
        ClientConfig::builder()
            .bootstrap_servers(&b)
            .build()
            .expect("admin"),
    );
    let described = admin
        .describe_consumer_groups(&[group], false)
        .await
        .expect("describe");
    let d = described[0].1.as_ref().expect("the group");
    assert_eq!(d.group_protocol, GroupProtocol::Consumer, "{d}");
    assert_eq!(
        (d.state.as_str(), d.protocol.as_str(), d.members.len()),
        ("Stable", "uniform", 2),
        "{d}"
    );
    eprintln!(
        "k848 mock: balanced after a join in {} / {} ms, after a leave in {} ms",
        t2.as_millis(),
        t3.as_millis(),
        tl.as_millis()
    );
    c1.close().await.expect("close");
    c3.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_stops_heartbeating_is_fenced_after_the_session_timeout() {
    let cluster = cluster().await;
    let b = cluster.bootstrap();
    let group = "k848-silent";
    let c1 = consumer(&b, group, &[]);
    let c2 = consumer(&b, group, &[]);
    until_balanced(&[&c1, &c2], "two members").await;
    read_batch(&b, &[&c1, &c2], 0).await;
    // Dropped without close: no leave heartbeat, no more heartbeats.
    drop(c2);
    let gone = Instant::now();
    let took = until_balanced(&[&c1], "after the session timeout").await;
    assert!(
        gone.elapsed() >= SESSION - Duration::from_millis(300),
        "moved after {took:?}: before the session timeout, so not by it"
    );
    assert_eq!(read_batch(&b, &[&c1], 1).await, vec![120]);
    eprintln!(
        "k848 mock: a silent member's partitions moved {} ms after it went quiet",
        took.as_millis()
    );
    c1.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_range_assignor_gives_each_member_a_contiguous_range() {
    let cluster = cluster().await;
    let b = cluster.bootstrap();
    let range = [("group.remote.assignor", "range")];
    let c1 = consumer(&b, "k848-range", &range);
    let c2 = consumer(&b, "k848-range", &range);
    until_balanced(&[&c1, &c2], "range").await;
    let mut sets = [partitions(&c1), partitions(&c2)];
    sets.sort();
    assert_eq!(sets, [BTreeSet::from([0, 1, 2]), BTreeSet::from([3, 4, 5])]);
    assert_eq!(read_batch(&b, &[&c1, &c2], 0).await, vec![60, 60]);
    c1.close().await.expect("close");
    c2.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_added_to_the_topic_are_assigned_by_the_next_heartbeats() {
    let cluster = cluster().await;
    let b = cluster.bootstrap();
    let c1 = consumer(&b, "k848-grow", &[]);
    let c2 = consumer(&b, "k848-grow", &[]);
    until_balanced(&[&c1, &c2], "two members").await;
    let admin = AdminClient::new(
        ClientConfig::builder()
            .bootstrap_servers(&b)
            .build()
            .expect("admin"),
    );
    let created = admin
        .create_partitions(&[NewPartitions::increase_to(TOPIC, 8)])
        .await
        .expect("create partitions");
    assert!(created.iter().all(|(_, r)| r.is_ok()), "{created:?}");
    let took = until_balanced_over(&[&c1, &c2], 8, "8 partitions").await;
    assert_eq!((partitions(&c1).len(), partitions(&c2).len()), (4, 4));
    eprintln!(
        "k848 mock: 2 added partitions assigned in {} ms",
        took.as_millis()
    );
    c1.close().await.expect("close");
    c2.close().await.expect("close");
}
