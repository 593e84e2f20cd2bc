//! Admin calls for share groups (KIP-932) against a real broker: list, describe, the start
//! offsets (list, alter, delete) and deleting the group, around a live ShareConsumer.

use crate::consumer::produce;
use crate::producer::create;
use crate::share::group_configs;
use crate::support::shared_bootstrap;
use ferrokafka::admin::AdminClient;
use ferrokafka::share::{ShareConsumer, ShareConsumerConfig};
use ferrokafka::types::{Offset, TopicPartition};
use ferrokafka_testcontainers::unique_topic;
use std::time::{Duration, Instant};

const GROUP_ID_NOT_FOUND: i16 = 69;
const NON_EMPTY_GROUP: i16 = 68;
const PER_PARTITION: u64 = 10;

/// Polls with a fresh member of `group` (implicit acknowledgement: it accepts what it gets)
/// until `2 * PER_PARTITION` records or `wait` passed, and closes it; returns (partition,
/// offset, delivery count) of each record.
async fn drain(bootstrap: &str, group: &str, topic: &str, wait: Duration) -> Vec<(i32, i64, u16)> {
    let c = ShareConsumer::new(
        ShareConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap),
            ("group.id", group),
            ("share.acknowledgement.mode", "implicit"),
            ("retry.backoff.ms", "50"),
        ])
        .expect("config"),
    )
    .expect("share consumer");
    c.subscribe([topic]).expect("subscribe");
    let mut got = Vec::new();
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline && (got.len() as u64) < 2 * PER_PARTITION {
        for r in c.poll(Duration::from_millis(500)).await.expect("poll") {
            got.push((r.partition, r.offset.0, r.delivery_count));
        }
    }
    c.commit_sync().await.expect("commit");
    c.close().await.expect("close");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_group_admin_lists_describes_and_manages_offsets() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("sadmin");
    let group = unique_topic("sadmin-g");
    let admin: AdminClient = create(&bootstrap, &topic, 2, 1).await;
    group_configs(&bootstrap, &group, None).await;
    for p in 0..2 {
        produce(&bootstrap, &topic, PER_PARTITION, "none", Some(p)).await;
    }
    let tp0 = TopicPartition::new(topic.as_str(), 0);
    let tp1 = TopicPartition::new(topic.as_str(), 1);

    // A member polls every record (implicit acknowledgement) and commits the last poll's.
    let c = ShareConsumer::new(
        ShareConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            ("group.id", group.as_str()),
            ("client.id", "sadmin-member"),
            ("share.acknowledgement.mode", "implicit"),
            ("retry.backoff.ms", "50"),
        ])
        .expect("config"),
    )
    .expect("share consumer");
    c.subscribe([topic.as_str()]).expect("subscribe");
    let mut got = 0u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while got < 2 * PER_PARTITION {
        assert!(Instant::now() < deadline, "only {got} records in 60 s");
        got += c
            .poll(Duration::from_millis(500))
            .await
            .expect("poll")
            .len() as u64;
    }
    for (tp, r) in c.commit_sync().await.expect("commit") {
        r.unwrap_or_else(|e| panic!("commit {tp}: {e}"));
    }

    // list_share_groups lists it, as a share group.
    let shares = admin.list_share_groups().await.expect("list share groups");
    let listed = shares
        .iter()
        .find(|g| g.group_id == group)
        .unwrap_or_else(|| panic!("{group} not in {shares:?}"));
    assert_eq!(listed.group_type.as_deref(), Some("share"), "{listed}");
    assert!(
        shares
            .iter()
            .all(|g| g.group_type.as_deref() == Some("share")),
        "the type filter lets only share groups through: {shares:?}"
    );
    println!("list_share_groups: {listed}");
    // list_consumer_groups is unchanged: no type filter, so ListGroups lists every group the
    // broker coordinates. Kafka 4.4 lists the share group there too (type `share`, protocol
    // type `share`): callers filter on group_type as before.
    let all = admin.list_consumer_groups().await.expect("list groups");
    let unfiltered = all
        .iter()
        .find(|g| g.group_id == group)
        .unwrap_or_else(|| panic!("{group} not in the unfiltered list"));
    assert_eq!(unfiltered.group_type.as_deref(), Some("share"));
    println!("list_consumer_groups (unfiltered): {unfiltered}");

    // describe_share_groups: the member, its subscription and both partitions, Stable.
    let described = admin
        .describe_share_groups(&[group.as_str(), "sadmin-no-such-group"], false)
        .await
        .expect("describe");
    assert_eq!(described.len(), 2);
    let d = described[0].1.as_ref().expect("described");
    println!("describe_share_groups: {d}");
    assert_eq!(d.group_id, group);
    assert_eq!(d.state, "Stable", "{d}");
    assert!(d.group_epoch >= 1 && d.assignment_epoch >= 1, "{d:?}");
    assert_eq!(d.members.len(), 1, "{d:?}");
    let m = &d.members[0];
    println!("  {m}");
    assert_eq!(m.client_id, "sadmin-member");
    assert_eq!(m.subscribed_topics, vec![topic.clone()]);
    let mut assigned = m.assignment.clone();
    assigned.sort();
    assert_eq!(assigned, vec![tp0.clone(), tp1.clone()]);
    assert!(m.member_epoch >= 1, "{m}");
    let e = described[1].1.as_ref().expect_err("no such group");
    assert_eq!(e.broker_code(), Some(GROUP_ID_NOT_FOUND), "{e}");

    // A start offset per partition. Kafka 4.4 reports 0 here, though all ten records of each
    // partition are acknowledged (a member joining later gets none of them, see below): the
    // share coordinator's persisted start offset, which DescribeShareGroupOffsets reads, has
    // not moved (it stayed 0 for 30 s and after the member closed, in a probe while writing
    // this test), the acknowledged records are kept as state batches above it. So the test
    // asserts a start offset within the partition, not its exact value.
    let offsets = admin
        .list_share_group_offsets(&group, None)
        .await
        .expect("list offsets");
    println!("list_share_group_offsets: {offsets:?}");
    for tp in [&tp0, &tp1] {
        let o = offsets
            .get(tp)
            .unwrap_or_else(|| panic!("no start offset for {tp}: {offsets:?}"))
            .as_ref()
            .unwrap_or_else(|e| panic!("{tp}: {e}"));
        assert!(
            (0..=PER_PARTITION as i64).contains(&o.start_offset.0),
            "{tp}: {o}"
        );
    }
    let one = admin
        .list_share_group_offsets(&group, Some(std::slice::from_ref(&tp1)))
        .await
        .expect("list one partition");
    assert_eq!(one.keys().collect::<Vec<_>>(), vec![&tp1]);

    // Altering a group with a member is refused.
    let e = admin
        .alter_share_group_offsets(&group, &[(tp0.clone(), Offset(0))])
        .await
        .expect_err("the group has a member");
    assert_eq!(e.broker_code(), Some(NON_EMPTY_GROUP), "{e}");
    assert!(e.to_string().contains(&group), "{e}");

    c.close().await.expect("close");
    // Every record was acknowledged: a new member gets none of them.
    let redelivered = drain(&bootstrap, &group, &topic, Duration::from_secs(3)).await;
    assert!(redelivered.is_empty(), "redelivered: {redelivered:?}");

    // Empty now: alter the start offsets, and see it.
    let d = admin
        .describe_share_groups(&[group.as_str()], false)
        .await
        .expect("describe")
        .remove(0)
        .1
        .expect("described");
    assert_eq!((d.state.as_str(), d.members.len()), ("Empty", 0), "{d}");
    // First one partition to 3 (the start offset was 0: a value that shows the alter took).
    let altered = admin
        .alter_share_group_offsets(&group, &[(tp0.clone(), Offset(3))])
        .await
        .expect("alter");
    altered[&tp0].as_ref().expect("altered");
    let offsets = admin
        .list_share_group_offsets(&group, None)
        .await
        .expect("list offsets");
    println!("after alter to 3: {offsets:?}");
    assert_eq!(offsets[&tp0].as_ref().expect("tp0").start_offset, Offset(3));
    assert_eq!(offsets[&tp1].as_ref().expect("tp1").start_offset, Offset(0));
    // Then both to 0.
    let altered = admin
        .alter_share_group_offsets(
            &group,
            &[(tp0.clone(), Offset(0)), (tp1.clone(), Offset(0))],
        )
        .await
        .expect("alter");
    assert_eq!(altered.len(), 2, "{altered:?}");
    for (tp, r) in &altered {
        r.as_ref().unwrap_or_else(|e| panic!("alter {tp}: {e}"));
    }
    let offsets = admin
        .list_share_group_offsets(&group, None)
        .await
        .expect("list offsets");
    println!("after alter: {offsets:?}");
    for tp in [&tp0, &tp1] {
        let o = offsets[tp].as_ref().expect("start offset");
        assert_eq!(o.start_offset, Offset(0), "{tp}: {o}");
    }
    // And the group starts over there: a new member gets all twenty records again, each as a
    // first delivery (altering the start offset drops the old acknowledgement states).
    let again = drain(&bootstrap, &group, &topic, Duration::from_secs(30)).await;
    assert_eq!(again.len() as u64, 2 * PER_PARTITION, "{again:?}");
    assert!(again.iter().all(|(_, _, n)| *n == 1), "{again:?}");
    println!("after alter to 0 a new member got {} records", again.len());

    // Delete the group's state of the topic: no start offsets left.
    let deleted = admin
        .delete_share_group_offsets(&group, &[topic.as_str()])
        .await
        .expect("delete offsets");
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    deleted[&topic].as_ref().expect("deleted");
    let offsets = admin
        .list_share_group_offsets(&group, None)
        .await
        .expect("list offsets");
    println!("after delete: {offsets:?}");
    assert!(offsets.is_empty(), "{offsets:?}");

    // Delete the group itself.
    let r = admin
        .delete_share_groups(&[group.as_str()])
        .await
        .expect("delete group");
    r[0].1.as_ref().expect("group deleted");
    let shares = admin.list_share_groups().await.expect("list share groups");
    assert!(shares.iter().all(|g| g.group_id != group), "{shares:?}");
    let e = admin
        .describe_share_groups(&[group.as_str()], false)
        .await
        .expect("describe")
        .remove(0)
        .1
        .expect_err("deleted");
    assert_eq!(e.broker_code(), Some(GROUP_ID_NOT_FOUND), "{e}");
    // Kafka 4.4 answers DescribeShareGroupOffsets for a deleted group, and for one that never
    // existed, with no offsets rather than GROUP_ID_NOT_FOUND.
    for g in [group.as_str(), "sadmin-no-such-group"] {
        let offsets = admin
            .list_share_group_offsets(g, None)
            .await
            .unwrap_or_else(|e| panic!("{g}: {e}"));
        assert!(offsets.is_empty(), "{g}: {offsets:?}");
    }
}
