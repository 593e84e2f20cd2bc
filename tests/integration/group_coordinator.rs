//! Groups under cluster changes: the group coordinator's broker killed in a 3-node cluster, and
//! partitions added to a subscribed topic.

use crate::consumer::{poll_n, produce};
use crate::group::group_consumer;
use crate::producer::create;
use crate::support::{blocking, dedicated, shared_bootstrap};
use ferrokafka::__private::connection::Purpose;
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::TopicPartition;
use ferrokafka_testcontainers::{unique_topic, Topology};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::{CreatePartitionsRequest, FindCoordinatorRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Asks any broker for `group`'s coordinator.
async fn coordinator_of(admin: &ferrokafka::admin::AdminClient, group: &str) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "no coordinator for {group}");
        if let Ok(conn) = admin.cluster().any_connection(Purpose::Control).await {
            let req = FindCoordinatorRequest::default()
                .with_key_type(0)
                .with_coordinator_keys(vec![StrBytes::from_string(group.to_owned())]);
            if let Ok(resp) = conn.send(&req).await {
                if let Some(c) = resp.coordinators.first().filter(|c| c.error_code == 0) {
                    return c.node_id.0;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_killed_in_3_node_cluster_group_goes_on_without_loss() {
    let kafka = Arc::new(dedicated(Topology::Cluster3).await);
    let bootstrap = kafka.bootstrap();
    let topic = unique_topic("g-coord");
    let admin = create(&bootstrap, &topic, 3, 3).await;
    admin
        .wait_for_topic(&topic, 3, Duration::from_secs(60))
        .await
        .expect("ready");
    const N: u64 = 20_000;
    produce(&bootstrap, &topic, N, "none", None).await;
    let group = unique_topic("grp-coord");
    let c = group_consumer(
        &bootstrap,
        &group,
        &[("max.poll.records", "100"), ("request.timeout.ms", "10000")],
    );
    c.subscribe([topic.clone()]).expect("subscribe");

    // offset → times processed, per partition; the committed offset per partition each time a
    // commit succeeded.
    let mut seen: HashMap<(i32, i64), u32> = HashMap::new();
    let mut committed: BTreeMap<i32, i64> = BTreeMap::new();
    let mut duplicates_outside_window = 0u64;
    let mut duplicates = 0u64;
    let mut killed = None;
    let mut since_commit = 0;
    let mut commit_errors = 0;
    let deadline = Instant::now() + Duration::from_secs(240);
    while (seen.len() as u64) < N {
        assert!(
            Instant::now() < deadline,
            "only {} of {N} records processed (killed node {killed:?})",
            seen.len()
        );
        let records = match c.poll(Duration::from_millis(500)).await {
            Ok(r) => r,
            Err(e) => {
                assert!(e.is_retriable(), "poll failed permanently: {e}");
                continue;
            }
        };
        for r in &records {
            let n = seen.entry((r.partition, r.offset.0)).or_default();
            *n += 1;
            if *n > 1 {
                duplicates += 1;
                // A record comes again only from the window after the last commit.
                if r.offset.0 < committed.get(&r.partition).copied().unwrap_or(0) {
                    duplicates_outside_window += 1;
                }
            }
        }
        since_commit += records.len();
        if since_commit >= 500 {
            since_commit = 0;
            match c.commit_positions().await {
                Ok(()) => {
                    for tp in c.assignment() {
                        if let Some(p) = c.position(&tp) {
                            committed.insert(tp.partition, p.0);
                        }
                    }
                }
                Err(e) => {
                    commit_errors += 1;
                    assert!(e.is_retriable(), "commit failed permanently: {e}");
                }
            }
        }
        if killed.is_none() && seen.len() >= 5_000 {
            let node = coordinator_of(&admin, &group).await;
            let k = kafka.clone();
            blocking(move || k.kill_node(node))
                .await
                .expect("kill coordinator");
            killed = Some(node);
        }
    }
    // Still a working member of the group: it commits everything under its generation.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match c.commit_positions().await {
            Ok(()) => break,
            Err(e) if e.is_retriable() && Instant::now() < deadline => {
                let _ = c.poll(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("final commit: {e}"),
        }
    }
    let tps: Vec<TopicPartition> = (0..3).map(|p| TopicPartition::new(&topic, p)).collect();
    let total: i64 = c
        .committed(&tps)
        .await
        .expect("committed")
        .values()
        .map(|o| o.as_ref().map_or(0, |o| o.offset.0))
        .sum();
    println!(
        "coordinator (node {killed:?}) killed: {} records processed once or more, {duplicates} \
         duplicates ({duplicates_outside_window} outside the uncommitted window), {commit_errors} \
         commits refused during the failover, generation {:?}",
        seen.len(),
        c.group_generation().map(|g| g.generation_id)
    );
    assert_eq!(seen.len() as u64, N, "no record lost");
    assert_eq!(
        duplicates_outside_window, 0,
        "duplicates only after the last commit"
    );
    assert_eq!(total as u64, N, "committed offsets cover every record");
    c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_added_to_a_subscribed_topic_are_assigned() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("g-grow");
    let admin = create(&bootstrap, &topic, 2, 1).await;
    produce(&bootstrap, &topic, 10, "none", None).await;
    let group = unique_topic("grp-grow");
    let c = group_consumer(&bootstrap, &group, &[("metadata.max.age.ms", "1000")]);
    c.subscribe([topic.clone()]).expect("subscribe");
    assert_eq!(poll_n(&c, 10, 60).await.len(), 10);
    c.commit_positions().await.expect("commit");
    let before = c.group_generation().expect("stable");

    let conn = admin
        .cluster()
        .any_connection(Purpose::Control)
        .await
        .expect("connection");
    let resp = conn
        .send(
            &CreatePartitionsRequest::default()
                .with_topics(vec![CreatePartitionsTopic::default()
                    .with_name(TopicName(StrBytes::from_string(topic.clone())))
                    .with_count(4)
                    .with_assignments(None)])
                .with_timeout_ms(30_000),
        )
        .await
        .expect("CreatePartitions");
    assert_eq!(resp.results.first().map(|r| r.error_code), Some(0));
    admin
        .wait_for_topic(&topic, 4, Duration::from_secs(30))
        .await
        .expect("4 partitions");
    let producer = Producer::new(
        ProducerConfig::from_properties([("bootstrap.servers", bootstrap.as_str())])
            .expect("config"),
    )
    .expect("producer");
    for p in [2, 3] {
        producer
            .send(ProducerRecord::new(&topic).partition(p).value("new"))
            .await
            .expect("buffered")
            .await
            .expect("delivered");
    }
    // The leader notices the new partition count within metadata.max.age.ms plus its check
    // interval, rejoins, and the new partitions are consumed from their start.
    let got = poll_n(&c, 2, 60).await;
    let mut partitions: Vec<i32> = got.iter().map(|r| r.partition).collect();
    partitions.sort();
    assert_eq!(partitions, [2, 3]);
    assert_eq!(c.assignment().len(), 4);
    let after = c.group_generation().expect("stable");
    assert!(after.generation_id > before.generation_id);
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close producer");
    c.close().await.expect("close");
}
