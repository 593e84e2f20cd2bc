//! Share groups (KIP-932) against a real broker: two members share one partition (the queue
//! semantic a consumer group cannot give), release redelivers with a higher delivery count,
//! reject never redelivers, an expired acquisition lock hands the records to another member,
//! and misuse of acknowledgements is a typed error.

use crate::consumer::produce;
use crate::producer::create;
use crate::support::{config, shared_bootstrap};
use ferrokafka::admin::{AdminClient, AlterConfigOp, ConfigResource};
use ferrokafka::share::{AcknowledgeType, ShareConsumer, ShareConsumerConfig, ShareRecord};
use ferrokafka::ErrorKind;
use ferrokafka_testcontainers::unique_topic;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Sets the share group's configs (they must be set before its members fetch: a share group
/// starts at the latest offset unless `share.auto.offset.reset=earliest`).
pub async fn group_configs(bootstrap: &str, group: &str, lock_ms: Option<u32>) {
    let admin = AdminClient::new(config(bootstrap));
    let mut ops = vec![AlterConfigOp::set("share.auto.offset.reset", "earliest")];
    if let Some(ms) = lock_ms {
        ops.push(AlterConfigOp::set(
            "share.record.lock.duration.ms",
            ms.to_string(),
        ));
    }
    let out = admin
        .incremental_alter_configs(&[(ConfigResource::Group(group.to_string()), ops)])
        .await
        .expect("alter group configs");
    for (r, res) in out {
        res.unwrap_or_else(|e| panic!("{r}: {e}"));
    }
}

fn member(bootstrap: &str, group: &str, mode: &str, max_records: &str) -> ShareConsumer {
    ShareConsumer::new(
        ShareConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap),
            ("group.id", group),
            ("share.acknowledgement.mode", mode),
            ("max.poll.records", max_records),
            ("retry.backoff.ms", "50"),
        ])
        .expect("config"),
    )
    .expect("share consumer")
}

fn seq(r: &ShareRecord) -> u64 {
    u64::from_be_bytes(
        r.value.as_ref().expect("value")[..8]
            .try_into()
            .expect("8 bytes"),
    )
}

/// Two members of one share group on a single-partition topic both receive records, and
/// together every record exactly once (implicit acknowledgement: each poll accepts the last).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_share_one_partition_and_see_every_record_once() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("share-two");
    let group = unique_topic("share-two-g");
    create(&bootstrap, &topic, 1, 1).await;
    group_configs(&bootstrap, &group, None).await;
    const N: u64 = 2_000;
    produce(&bootstrap, &topic, N, "none", None).await;

    let started = Instant::now();
    let a = member(&bootstrap, &group, "implicit", "100");
    let b = member(&bootstrap, &group, "implicit", "100");
    a.subscribe([topic.as_str()]).expect("subscribe");
    b.subscribe([topic.as_str()]).expect("subscribe");
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    let mut per_member = [0usize; 2];
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < N as usize {
        assert!(
            Instant::now() < deadline,
            "only {} of {N} records in 60 s",
            seen.len()
        );
        // Poll both at once: a member blocked in a long poll would leave the other all records.
        let (ra, rb) = tokio::join!(
            a.poll(Duration::from_millis(300)),
            b.poll(Duration::from_millis(300))
        );
        for (i, records) in [ra.expect("poll a"), rb.expect("poll b")]
            .into_iter()
            .enumerate()
        {
            per_member[i] += records.len();
            for r in records {
                assert_eq!(r.delivery_count, 1, "{r}: nothing was released");
                *seen.entry(seq(&r)).or_default() += 1;
            }
        }
    }
    let dup: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dup.is_empty(), "records handed out twice: {dup:?}");
    assert_eq!(seen.len() as u64, N);
    assert!(
        per_member[0] > 0 && per_member[1] > 0,
        "both members receive records from one partition: {per_member:?}"
    );
    println!(
        "share: {N} records, one partition, two members {per_member:?}, none twice, in {:?}",
        started.elapsed()
    );
    // The last polls' records are accepted by a commit.
    let _ = a.commit_sync().await.expect("commit a");
    let _ = b.commit_sync().await.expect("commit b");
    a.close().await.expect("close a");
    b.close().await.expect("close b");
}

/// Explicit acknowledgement: a released record comes back with delivery count 2, a rejected
/// one never does, and acknowledgement misuse is a typed error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_redelivers_with_count_two_and_reject_never_redelivers() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("share-ack");
    let group = unique_topic("share-ack-g");
    create(&bootstrap, &topic, 1, 1).await;
    group_configs(&bootstrap, &group, None).await;
    produce(&bootstrap, &topic, 10, "none", None).await;

    let c = member(&bootstrap, &group, "explicit", "500");
    c.subscribe([topic.as_str()]).expect("subscribe");
    let mut first = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while first.len() < 10 {
        assert!(
            Instant::now() < deadline,
            "only {} of 10 records",
            first.len()
        );
        let got = c.poll(Duration::from_millis(500)).await.expect("poll");
        for r in &got {
            let how = match seq(r) {
                0 => AcknowledgeType::Release,
                1 => AcknowledgeType::Reject,
                _ => AcknowledgeType::Accept,
            };
            c.acknowledge(r, how).expect("acknowledge");
        }
        first.extend(got);
    }
    assert!(first.iter().all(|r| r.delivery_count == 1));
    // Misuse: twice, and a record of an earlier poll.
    let e = c
        .acknowledge(&first[2], AcknowledgeType::Accept)
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::IllegalState), "{e}");

    let mut again = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while again.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the released record did not come back"
        );
        again = c.poll(Duration::from_millis(500)).await.expect("poll");
    }
    let seqs: Vec<(u64, u16)> = again.iter().map(|r| (seq(r), r.delivery_count)).collect();
    assert_eq!(
        seqs,
        vec![(0, 2)],
        "only the released record, delivered a second time"
    );
    // Explicit mode refuses the next poll while the record is open.
    let e = c.poll(Duration::from_millis(10)).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::IllegalState), "{e}");
    c.acknowledge(&again[0], AcknowledgeType::Accept)
        .expect("acknowledge");
    let results = c.commit_sync().await.expect("commit");
    assert!(results.values().all(|r| r.is_ok()), "{results:?}");
    // Nothing else comes: the rejected record stays archived.
    let rest = c.poll(Duration::from_secs(2)).await.expect("poll");
    assert!(
        rest.is_empty(),
        "nothing more, got {:?}",
        rest.iter().map(seq).collect::<Vec<_>>()
    );
    c.close().await.expect("close");
}

/// A member that stops acknowledging: its records go to another member when the acquisition
/// lock (1 s here) expires, with delivery count 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lock_hands_the_records_to_another_member() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("share-lock");
    let group = unique_topic("share-lock-g");
    create(&bootstrap, &topic, 1, 1).await;
    group_configs(&bootstrap, &group, Some(1_000)).await;
    produce(&bootstrap, &topic, 5, "none", None).await;

    let stuck = member(&bootstrap, &group, "explicit", "500");
    stuck.subscribe([topic.as_str()]).expect("subscribe");
    let mut held = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while held.len() < 5 {
        assert!(
            Instant::now() < deadline,
            "only {} of 5 records",
            held.len()
        );
        held.extend(stuck.poll(Duration::from_millis(500)).await.expect("poll"));
    }
    assert_eq!(
        stuck.acquisition_lock_timeout(),
        Some(Duration::from_millis(1_000))
    );
    let taken = Instant::now();
    let other = member(&bootstrap, &group, "implicit", "500");
    other.subscribe([topic.as_str()]).expect("subscribe");
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < 5 {
        assert!(
            Instant::now() < deadline,
            "the other member got {} of 5",
            got.len()
        );
        got.extend(other.poll(Duration::from_millis(500)).await.expect("poll"));
    }
    let seqs: Vec<(u64, u16)> = got.iter().map(|r| (seq(r), r.delivery_count)).collect();
    assert_eq!(seqs, (0..5).map(|s| (s, 2)).collect::<Vec<_>>());
    println!(
        "share: the records of a member that stopped came to another after {:?}",
        taken.elapsed()
    );
    // The stuck member's acknowledgements now fail: its lock is gone.
    for r in &held {
        stuck
            .acknowledge(r, AcknowledgeType::Accept)
            .expect("acknowledge");
    }
    let results = stuck.commit_sync().await.expect("commit");
    assert!(
        results.values().any(|r| r.is_err()),
        "expired locks refuse: {results:?}"
    );
    other.close().await.expect("close");
    stuck.close().await.expect("close");
}
