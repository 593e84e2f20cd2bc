//! The admin calls beyond topic create/delete, against a real broker: describe cluster and
//! topics, create partitions, list offsets, delete records, consumer groups and their offsets
//! and lag, configs. Each test includes refused cases (unknown topic, group or partition,
//! invalid value), answered per resource without failing the rest of the call.

use crate::producer::create;
use crate::support::{config, shared_bootstrap};
use ferrokafka::admin::{
    AdminClient, AlterConfigOp, ConfigResource, ConfigSource, NewPartitions, OffsetSpec,
};
use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::{AclOperation, Offset, TopicPartition};
use ferrokafka_testcontainers::unique_topic;
use std::time::{Duration, Instant};

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

/// Produces `n` records to `topic`/`partition`, record `i` with timestamp `base + i * 1000`.
async fn produce_timed(bootstrap: &str, topic: &str, partition: i32, n: i64, base: i64) {
    let producer = Producer::new(
        ProducerConfig::from_properties([("bootstrap.servers", bootstrap), ("linger.ms", "5")])
            .expect("config"),
    )
    .expect("producer");
    let mut pending = Vec::new();
    for i in 0..n {
        let r = ProducerRecord::new(topic)
            .partition(partition)
            .timestamp(base + i * 1000)
            .value(format!("v{i}"));
        pending.push(producer.send(r).await.expect("buffered"));
    }
    for f in pending {
        f.await.expect("delivered");
    }
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_cluster_reports_brokers_controller_and_id() {
    let bootstrap = shared_bootstrap();
    let admin = AdminClient::new(config(&bootstrap));
    let d = admin.describe_cluster().await.expect("describe cluster");
    assert!(!d.cluster_id.is_empty(), "{d:?}");
    assert_eq!(d.brokers.len(), 1, "{d:?}");
    let b = &d.brokers[0];
    assert!(
        bootstrap.ends_with(&format!(":{}", b.port)),
        "{b} vs {bootstrap}"
    );
    assert_eq!(d.controller, Some(b.id), "{d}");
    assert_eq!(d.authorized_operations, None, "not asked for");
    let line = d.to_string();
    assert!(
        !line.contains('\n') && line.contains(&d.cluster_id),
        "{line}"
    );

    // Without an authorizer the broker allows everything and says so.
    let d = admin
        .describe_cluster_with_authorized_operations()
        .await
        .expect("describe cluster with operations");
    let ops = d.authorized_operations.expect("operations asked for");
    assert!(ops.contains(&AclOperation::Describe), "{ops:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_topics_and_create_partitions_answer_per_topic() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("adm-desc");
    let missing = unique_topic("adm-missing");
    let admin = create(&bootstrap, &topic, 2, 1).await;

    let d = admin
        .describe_topics(&[&topic, &missing], true)
        .await
        .expect("describe topics");
    assert_eq!(d[0].0, topic);
    let t = d[0].1.as_ref().expect("existing topic described");
    assert_eq!(t.partitions.len(), 2);
    assert!(t.topic_id.is_some() && !t.is_internal);
    for p in &t.partitions {
        assert!(p.leader.is_some(), "{p}");
        assert_eq!(p.replicas.len(), 1, "{p}");
        assert_eq!(p.isr, p.replicas, "{p}");
    }
    let ops = t.authorized_operations.as_ref().expect("operations asked");
    assert!(ops.contains(&AclOperation::Read), "{ops:?}");
    let e = d[1].1.as_ref().expect_err("missing topic");
    assert_eq!(e.broker_code(), Some(UNKNOWN_TOPIC_OR_PARTITION), "{e}");
    assert!(!e.is_retriable(), "the answer, not a transient state: {e}");
    assert_eq!(e.topic(), Some(missing.as_str()));

    // Raise to 4; in the same call an unknown topic is refused on its own.
    let r = admin
        .create_partitions(&[
            NewPartitions::increase_to(&topic, 4),
            NewPartitions::increase_to(&missing, 3),
        ])
        .await
        .expect("create partitions");
    assert!(r[0].1.is_ok(), "{:?}", r[0]);
    let e = r[1].1.as_ref().expect_err("unknown topic");
    assert_eq!(e.broker_code(), Some(UNKNOWN_TOPIC_OR_PARTITION), "{e}");
    admin
        .wait_for_topic(&topic, 4, Duration::from_secs(30))
        .await
        .expect("4 partitions");
    let d = admin
        .describe_topics(&[&topic], false)
        .await
        .expect("again");
    let t = d[0].1.as_ref().expect("described");
    assert_eq!(t.partitions.len(), 4);
    assert_eq!(t.authorized_operations, None, "not asked for");
    // Fewer partitions than now: INVALID_PARTITIONS (37), permanent.
    let r = admin
        .create_partitions(&[NewPartitions::increase_to(&topic, 2)])
        .await
        .expect("create partitions call");
    let e = r[0].1.as_ref().expect_err("cannot shrink");
    assert_eq!(e.broker_code(), Some(37), "{e}");
    assert!(!e.is_retriable() && e.broker_message().is_some(), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_offsets_and_delete_records_answer_per_partition() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("adm-offsets");
    let admin = create(&bootstrap, &topic, 2, 1).await;
    let base = 1_700_000_000_000;
    produce_timed(&bootstrap, &topic, 0, 10, base).await;
    let p0 = TopicPartition::new(&topic, 0);
    let p1 = TopicPartition::new(&topic, 1);
    let p9 = TopicPartition::new(&topic, 9);
    let gone = TopicPartition::new(unique_topic("adm-nope"), 0);

    let r = admin
        .list_offsets(&[
            (p0.clone(), OffsetSpec::Latest),
            (p1.clone(), OffsetSpec::Earliest),
            (p9.clone(), OffsetSpec::Latest),
            (gone.clone(), OffsetSpec::Latest),
        ])
        .await
        .expect("list offsets");
    assert_eq!(r[&p0].as_ref().expect("p0").offset, Offset(10));
    assert_eq!(r[&p1].as_ref().expect("p1").offset, Offset(0));
    for tp in [&p9, &gone] {
        let e = r[tp].as_ref().expect_err("no such partition");
        assert_eq!(e.broker_code(), Some(UNKNOWN_TOPIC_OR_PARTITION), "{e}");
        assert_eq!(e.partition(), Some(tp.partition));
        assert!(!e.is_retriable(), "{e}");
    }

    let by = |spec| {
        let admin = admin.clone();
        let p0 = p0.clone();
        async move {
            let mut r = admin
                .list_offsets(&[(p0.clone(), spec)])
                .await
                .expect("list");
            r.remove(&p0).expect("answered").expect("p0 offset")
        }
    };
    let earliest = by(OffsetSpec::Earliest).await;
    assert_eq!(earliest.offset, Offset(0));
    // The first record at or after base + 3.5 s is record 4.
    let at = by(OffsetSpec::Timestamp(base + 3_500)).await;
    assert_eq!((at.offset, at.timestamp), (Offset(4), Some(base + 4_000)));
    let max = by(OffsetSpec::MaxTimestamp).await;
    assert_eq!((max.offset, max.timestamp), (Offset(9), Some(base + 9_000)));
    // After every record: no offset (-1).
    let after = by(OffsetSpec::Timestamp(base + 60_000)).await;
    assert_eq!(after.offset, Offset(-1));

    // Delete records before offset 4 of p0; past the high watermark of p1 is refused
    // (OFFSET_OUT_OF_RANGE, 1), and an unknown partition too, each on its own.
    let r = admin
        .delete_records(&[
            (p0.clone(), Offset(4)),
            (p1.clone(), Offset(100)),
            (p9.clone(), Offset(0)),
        ])
        .await
        .expect("delete records");
    assert_eq!(r[&p0].as_ref().ok(), Some(&Offset(4)), "{:?}", r[&p0]);
    let e = r[&p1].as_ref().expect_err("past the end");
    assert_eq!(e.broker_code(), Some(1), "{e}");
    assert_eq!(
        r[&p9].as_ref().expect_err("unknown").broker_code(),
        Some(UNKNOWN_TOPIC_OR_PARTITION)
    );
    assert_eq!(by(OffsetSpec::Earliest).await.offset, Offset(4));
    // Offset(-1): up to the high watermark.
    let r = admin
        .delete_records(&[(p0.clone(), Offset(-1))])
        .await
        .expect("delete all");
    assert_eq!(r[&p0].as_ref().ok(), Some(&Offset(10)));
}

fn group_consumer(bootstrap: &str, group: &str) -> Consumer {
    Consumer::new(
        ConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap),
            ("group.id", group),
            ("auto.offset.reset", "earliest"),
            ("enable.auto.commit", "false"),
            ("client.id", "adm-member"),
        ])
        .expect("config"),
    )
    .expect("consumer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_group_offsets_lag_describe_and_delete() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("adm-groups");
    let admin = create(&bootstrap, &topic, 2, 1).await;
    produce_timed(&bootstrap, &topic, 0, 10, 1_700_000_000_000).await;
    produce_timed(&bootstrap, &topic, 1, 4, 1_700_000_000_000).await;
    let p0 = TopicPartition::new(&topic, 0);
    let p1 = TopicPartition::new(&topic, 1);

    // An offsets-only group (no members): alter creates it.
    let idle = unique_topic("adm-idle");
    let r = admin
        .alter_consumer_group_offsets(&idle, &[(p0.clone(), Offset(3)), (p1.clone(), Offset(4))])
        .await
        .expect("alter offsets");
    assert!(r.values().all(|r| r.is_ok()), "{r:?}");
    let committed = admin
        .list_consumer_group_offsets(&idle)
        .await
        .expect("list offsets");
    assert_eq!(committed.len(), 2, "{committed:?}");
    assert_eq!(committed[&p0].as_ref().expect("p0").offset, Offset(3));
    let lag = admin.consumer_group_lag(&idle).await.expect("lag");
    let l0 = lag[&p0].as_ref().expect("p0 lag");
    assert_eq!(
        (l0.committed, l0.log_end, l0.lag),
        (Some(Offset(3)), Offset(10), Some(7))
    );
    assert_eq!(l0.to_string(), format!("{p0} committed 3 end 10 lag 7"));
    assert_eq!(lag[&p1].as_ref().expect("p1 lag").lag, Some(0));

    let listed = admin.list_consumer_groups().await.expect("list groups");
    let g = listed
        .iter()
        .find(|g| g.group_id == idle)
        .expect("offsets-only group listed");
    assert_eq!(g.state.as_deref(), Some("Empty"), "{g}");
    let d = admin
        .describe_consumer_groups(&[&idle], true)
        .await
        .expect("describe");
    let d0 = d[0].1.as_ref().expect("described");
    assert_eq!((d0.state.as_str(), d0.members.len()), ("Empty", 0), "{d0}");
    assert!(d0.authorized_operations.is_some());

    // A live member: described with its assignment; altering, deleting offsets of its topic
    // and deleting the group are refused while it is there.
    let live = unique_topic("adm-live");
    let c = group_consumer(&bootstrap, &live);
    c.subscribe([topic.clone()]).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.assignment().len() < 2 {
        assert!(Instant::now() < deadline, "no assignment");
        c.poll(Duration::from_millis(200)).await.expect("poll");
    }
    c.commit_positions().await.expect("commit");
    // Lag names the owning member of every partition, committed or not.
    let lag = admin.consumer_group_lag(&live).await.expect("live lag");
    assert_eq!(lag.len(), 2, "{lag:?}");
    for (tp, l) in &lag {
        let l = l.as_ref().expect("lag");
        let m = l.member.as_ref().expect("assigned");
        assert_eq!(m.client_id, "adm-member", "{tp}: {l}");
        assert!(l.to_string().contains("client adm-member"), "{l}");
    }
    let d = admin
        .describe_consumer_groups(&[live.as_str(), "adm-never-existed"], false)
        .await
        .expect("describe live");
    let g = d[0].1.as_ref().expect("live described");
    assert_eq!(
        (g.state.as_str(), g.protocol_type.as_str()),
        ("Stable", "consumer"),
        "{g}"
    );
    assert_eq!(g.members.len(), 1, "{g}");
    let m = &g.members[0];
    assert_eq!(m.client_id, "adm-member");
    let mut assigned = m.assignment.clone();
    assigned.sort();
    assert_eq!(assigned, vec![p0.clone(), p1.clone()], "{m}");
    // A group that never existed: Dead with no members (v5-) or GROUP_ID_NOT_FOUND (v6+).
    match &d[1].1 {
        Ok(g) => assert_eq!((g.state.as_str(), g.members.len()), ("Dead", 0), "{g}"),
        Err(e) => assert_eq!(e.broker_code(), Some(69), "{e}"),
    }
    let r = admin
        .alter_consumer_group_offsets(&live, &[(p0.clone(), Offset(0))])
        .await;
    let refused = match r {
        Ok(m) => m[&p0].clone().expect_err("live group refuses"),
        Err(e) => e,
    };
    assert_eq!(
        refused.broker_code(),
        Some(25),
        "UNKNOWN_MEMBER_ID: {refused}"
    );
    let r = admin
        .delete_consumer_group_offsets(&live, std::slice::from_ref(&p0))
        .await
        .expect("offset delete call");
    let e = r[&p0].as_ref().expect_err("subscribed");
    assert_eq!(e.broker_code(), Some(86), "GROUP_SUBSCRIBED_TO_TOPIC: {e}");
    let r = admin
        .delete_consumer_groups(&[&live])
        .await
        .expect("delete call");
    let e = r[0].1.as_ref().expect_err("non-empty");
    assert_eq!(e.broker_code(), Some(68), "NON_EMPTY_GROUP: {e}");
    assert!(e.to_string().contains(&live), "{e}");
    c.close().await.expect("close");

    // Offsets-only group: delete one partition's offset, then the group; an unknown group is
    // refused on its own.
    let r = admin
        .delete_consumer_group_offsets(&idle, std::slice::from_ref(&p0))
        .await
        .expect("offset delete");
    assert!(r[&p0].is_ok(), "{r:?}");
    let committed = admin
        .list_consumer_group_offsets(&idle)
        .await
        .expect("list");
    assert_eq!(committed.keys().collect::<Vec<_>>(), vec![&p1]);
    let nobody = unique_topic("adm-nobody");
    let r = admin
        .delete_consumer_groups(&[&idle, &live, &nobody])
        .await
        .expect("delete groups");
    assert!(r[0].1.is_ok(), "{:?}", r[0]);
    assert!(r[1].1.is_ok(), "closed member left: {:?}", r[1]);
    assert_eq!(
        r[2].1.as_ref().expect_err("unknown group").broker_code(),
        Some(69)
    );
    assert!(admin
        .list_consumer_group_offsets(&idle)
        .await
        .expect("list after delete")
        .is_empty());
    let e = admin
        .delete_consumer_group_offsets(&nobody, std::slice::from_ref(&p0))
        .await
        .expect_err("unknown group");
    assert_eq!(e.broker_code(), Some(69), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_and_incrementally_alter_configs() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("adm-cfg");
    let other = unique_topic("adm-cfg2");
    let missing = unique_topic("adm-cfg-missing");
    let admin = AdminClient::new(config(&bootstrap));
    for t in [&topic, &other] {
        admin
            .create_topic(
                ferrokafka::admin::NewTopic::new(t, 1, 1).config("retention.ms", "3600000"),
            )
            .await
            .expect("create");
        admin
            .wait_for_topic(t, 1, Duration::from_secs(30))
            .await
            .expect("ready");
    }
    let broker = admin.describe_cluster().await.expect("cluster").brokers[0].id;
    let t = ConfigResource::Topic(topic.clone());
    let b = ConfigResource::Broker(broker);
    let m = ConfigResource::Topic(missing.clone());

    let d = admin
        .describe_configs(&[t.clone(), b.clone(), m.clone()])
        .await
        .expect("describe configs");
    let entries = d[0].1.as_ref().expect("topic configs");
    let retention = entries
        .iter()
        .find(|e| e.name == "retention.ms")
        .expect("retention.ms");
    assert_eq!(retention.value.as_deref(), Some("3600000"));
    assert_eq!(retention.source, ConfigSource::DynamicTopic);
    assert_eq!(retention.to_string(), "retention.ms=3600000 (DynamicTopic)");
    let broker_entries = d[1].1.as_ref().expect("broker configs");
    assert!(
        broker_entries
            .iter()
            .any(|e| e.name == "log.dirs" && e.read_only),
        "broker configs include log.dirs"
    );
    let e = d[2].1.as_ref().expect_err("missing topic");
    assert_eq!(e.broker_code(), Some(UNKNOWN_TOPIC_OR_PARTITION), "{e}");

    // Set one topic's value, delete the other's, and refuse an invalid value, per resource.
    let o = ConfigResource::Topic(other.clone());
    let r = admin
        .incremental_alter_configs(&[
            (t.clone(), vec![AlterConfigOp::set("retention.ms", "60000")]),
            (o.clone(), vec![AlterConfigOp::delete("retention.ms")]),
            (m.clone(), vec![AlterConfigOp::set("retention.ms", "60000")]),
        ])
        .await
        .expect("alter");
    assert!(r[0].1.is_ok() && r[1].1.is_ok(), "{r:?}");
    assert_eq!(
        r[2].1.as_ref().expect_err("missing").broker_code(),
        Some(UNKNOWN_TOPIC_OR_PARTITION)
    );
    let r = admin
        .incremental_alter_configs(&[
            (
                t.clone(),
                vec![AlterConfigOp::set("retention.ms", "not-a-number")],
            ),
            (
                o.clone(),
                vec![AlterConfigOp::set("cleanup.policy", "compact")],
            ),
        ])
        .await
        .expect("alter call");
    let e = r[0].1.as_ref().expect_err("invalid value");
    assert_eq!(e.broker_code(), Some(40), "INVALID_CONFIG: {e}");
    assert!(!e.is_retriable() && e.broker_message().is_some(), "{e:?}");
    assert!(r[1].1.is_ok(), "{:?}", r[1]);

    // Brokers apply config changes from the controller's log a moment later: wait for them.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = admin
            .describe_configs(&[t.clone(), o.clone()])
            .await
            .expect("describe again");
        let value = |i: usize, name: &str| {
            d[i].1
                .as_ref()
                .expect("configs")
                .iter()
                .find(|e| e.name == name)
                .cloned()
                .expect("entry")
        };
        let (set, back, policy) = (
            value(0, "retention.ms"),
            value(1, "retention.ms"),
            value(1, "cleanup.policy"),
        );
        let applied = set.value.as_deref() == Some("60000")
            && back.source != ConfigSource::DynamicTopic
            && policy.value.as_deref() == Some("compact");
        if applied {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "changes not applied: {set}; {back}; {policy}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A broker's dynamic config: set to its default value, then removed again.
    let r = admin
        .incremental_alter_configs(&[(
            b.clone(),
            vec![AlterConfigOp::set("log.cleaner.backoff.ms", "15000")],
        )])
        .await
        .expect("alter broker");
    assert!(r[0].1.is_ok(), "{:?}", r[0]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = admin
            .describe_configs(std::slice::from_ref(&b))
            .await
            .expect("describe broker");
        let e = d[0]
            .1
            .as_ref()
            .expect("broker configs")
            .iter()
            .find(|e| e.name == "log.cleaner.backoff.ms")
            .cloned()
            .expect("entry");
        if (e.value.as_deref(), e.source) == (Some("15000"), ConfigSource::DynamicBroker) {
            break;
        }
        assert!(Instant::now() < deadline, "broker config not applied: {e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = admin
        .incremental_alter_configs(&[(b, vec![AlterConfigOp::delete("log.cleaner.backoff.ms")])])
        .await
        .expect("restore broker");
    assert!(r[0].1.is_ok(), "{:?}", r[0]);
    admin
        .delete_topics(&[&topic, &other])
        .await
        .expect("cleanup");
}
