//! The mock driven by the ferrokafka client: produce with every codec and read back, admin.

use ferrokafka::admin::{AdminClient, ConfigResource, NewPartitions, NewTopic, OffsetSpec};
use ferrokafka::config::ClientConfig;
use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::TopicPartition;
use ferrokafka_mock::{MockCluster, MockConfig};
use std::collections::BTreeMap;
use std::time::Duration;

fn admin(bootstrap: &str) -> AdminClient {
    AdminClient::new(
        ClientConfig::builder()
            .bootstrap_servers(bootstrap)
            .build()
            .expect("client config"),
    )
}

/// Produces `n` records per codec (idempotent, acks=all), reads them back by partition in
/// order, and checks the offsets the broker reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_round_trips_in_order_with_offsets() {
    let cluster = MockCluster::start(MockConfig::default().brokers(3))
        .await
        .expect("mock cluster");
    let bootstrap = cluster.bootstrap();
    let admin = admin(&bootstrap);
    const N: usize = 300;
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("codec-{codec}");
        admin
            .create_topic(NewTopic::new(&topic, 3, 1))
            .await
            .expect("create topic");
        let producer = Producer::new(
            ProducerConfig::from_properties([
                ("bootstrap.servers", bootstrap.as_str()),
                ("compression.type", codec),
                ("linger.ms", "5"),
            ])
            .expect("producer config"),
        )
        .expect("producer");
        let mut deliveries = Vec::new();
        for i in 0..N {
            let record = ProducerRecord::new(&topic)
                .partition((i % 3) as i32)
                .key(format!("k{i}"))
                .value(format!("value {i} {codec}"));
            deliveries.push(producer.send(record).await.expect("send"));
        }
        let mut offsets: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        for d in deliveries {
            let m = d.await.expect("delivered");
            offsets.entry(m.partition).or_default().push(m.offset.0);
        }
        for (p, list) in &offsets {
            let expected: Vec<i64> = (0..list.len() as i64).collect();
            assert_eq!(
                list, &expected,
                "{codec}: partition {p} offsets are 0..n in send order"
            );
        }
        producer
            .close(Duration::from_secs(10))
            .await
            .expect("close");

        let consumer = Consumer::new(
            ConsumerConfig::from_properties([
                ("bootstrap.servers", bootstrap.as_str()),
                ("auto.offset.reset", "earliest"),
            ])
            .expect("consumer config"),
        )
        .expect("consumer");
        let tps: Vec<TopicPartition> = (0..3).map(|p| TopicPartition::new(&topic, p)).collect();
        consumer.assign(&tps).expect("assign");
        let mut seen: BTreeMap<i32, Vec<(i64, String)>> = BTreeMap::new();
        let mut total = 0;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while total < N {
            assert!(
                std::time::Instant::now() < deadline,
                "{codec}: read {total} of {N}"
            );
            for r in consumer
                .poll(Duration::from_millis(200))
                .await
                .expect("poll")
            {
                let v = String::from_utf8(r.value.as_deref().unwrap_or_default().to_vec())
                    .expect("utf8");
                seen.entry(r.partition).or_default().push((r.offset.0, v));
                total += 1;
            }
        }
        assert_eq!(total, N, "{codec}: no record read twice");
        for (p, records) in &seen {
            for (i, (offset, value)) in records.iter().enumerate() {
                assert_eq!(*offset, i as i64, "{codec}: partition {p} in order");
                let sent = i * 3 + *p as usize;
                assert_eq!(value, &format!("value {sent} {codec}"));
            }
        }
        consumer.close().await.expect("close consumer");

        let ends = admin
            .list_offsets(
                &tps.iter()
                    .map(|tp| (tp.clone(), OffsetSpec::Latest))
                    .collect::<Vec<_>>(),
            )
            .await
            .expect("list offsets");
        let sum: i64 = ends
            .values()
            .map(|r| r.as_ref().expect("offset").offset.0)
            .sum();
        assert_eq!(
            sum, N as i64,
            "{codec}: log end offsets add up to what was sent"
        );
        assert_eq!(cluster.high_watermark(&topic, 0), Some((N / 3) as i64));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_topics_partitions_configs_cluster() {
    let cluster = MockCluster::start(MockConfig::default().brokers(3).cluster_id("c-1"))
        .await
        .expect("mock cluster");
    let admin = admin(&cluster.bootstrap());
    admin
        .create_topic(NewTopic::new("a", 2, 3).config("retention.bytes", "1000000"))
        .await
        .expect("create a");
    let again = admin.create_topic(NewTopic::new("a", 2, 1)).await;
    assert!(
        again.is_err(),
        "a second create of the same topic fails: {again:?}"
    );
    let too_many = admin.create_topic(NewTopic::new("b", 1, 4)).await;
    assert!(too_many.is_err(), "replication factor 4 on 3 brokers fails");

    let cluster_desc = admin.describe_cluster().await.expect("describe cluster");
    assert_eq!(cluster_desc.brokers.len(), 3);
    assert_eq!(cluster_desc.cluster_id, "c-1");

    let info = admin
        .wait_for_topic("a", 2, Duration::from_secs(5))
        .await
        .expect("topic a");
    assert_eq!(info.partitions.len(), 2);
    for (_, r) in admin
        .create_partitions(&[NewPartitions::increase_to("a", 5)])
        .await
        .expect("create partitions")
    {
        r.expect("partitions added");
    }
    let info = admin
        .wait_for_topic("a", 5, Duration::from_secs(5))
        .await
        .expect("topic a with 5");
    assert_eq!(info.partitions.len(), 5);

    let configs = admin
        .describe_configs(&[ConfigResource::Topic("a".into())])
        .await
        .expect("describe configs");
    let entries = configs[0].1.as_ref().expect("topic a configs");
    let retention = entries
        .iter()
        .find(|e| e.name == "retention.bytes")
        .expect("retention.bytes listed");
    assert_eq!(retention.value.as_deref(), Some("1000000"));

    let names: Vec<String> = admin
        .list_topics()
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, vec!["a".to_owned()]);
    for (_, r) in admin.delete_topics(&["a"]).await.expect("delete") {
        r.expect("deleted");
    }
    assert!(admin.list_topics().await.expect("list").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_offsets_of_missing_partitions_and_topics_are_per_partition_errors() {
    let cluster = MockCluster::start(MockConfig::default())
        .await
        .expect("mock");
    let admin = admin(&cluster.bootstrap());
    admin
        .create_topic(NewTopic::new("lo", 2, 1))
        .await
        .expect("create");
    let p9 = TopicPartition::new("lo", 9);
    let gone = TopicPartition::new("never-created", 0);
    let r = admin
        .list_offsets(&[
            (TopicPartition::new("lo", 0), OffsetSpec::Latest),
            (p9.clone(), OffsetSpec::Latest),
            (gone.clone(), OffsetSpec::Latest),
        ])
        .await
        .expect("list offsets");
    for tp in [&p9, &gone] {
        let e = r[tp]
            .as_ref()
            .map(|o| panic!("{tp}: no such partition, yet {o:?}"))
            .expect_err("an error");
        assert_eq!(e.broker_code(), Some(3), "{tp}: {e}");
    }
    // As on a KRaft broker with auto.create.topics.enable: the Metadata request that created
    // the topic answered UNKNOWN_TOPIC_OR_PARTITION; the topic exists afterwards.
    assert_eq!(cluster.high_watermark("never-created", 0), Some(0));
}
