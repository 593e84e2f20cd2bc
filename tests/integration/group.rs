//! Consumer groups against a real broker: subscribe mode, rebalances between members, the
//! rebalance listener, static membership.

use crate::consumer::{poll_n, produce};
use crate::producer::create;
use crate::support::shared_bootstrap;
use ferrokafka::consumer::{Consumer, ConsumerConfig, ListenerFuture, RebalanceListener};
use ferrokafka::types::TopicPartition;
use ferrokafka_testcontainers::unique_topic;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn group_consumer(bootstrap: &str, group: &str, extra: &[(&str, &str)]) -> Consumer {
    let mut props: Vec<(String, String)> = vec![
        ("bootstrap.servers".into(), bootstrap.into()),
        ("group.id".into(), group.into()),
        ("auto.offset.reset".into(), "earliest".into()),
        ("enable.auto.commit".into(), "false".into()),
        ("fetch.max.wait.ms".into(), "100".into()),
    ];
    // The KIP-848 protocol takes its session timeout and heartbeat interval from the broker
    // (the harness sets them to these same 10 s / 1 s); setting them is a config error.
    if !extra.contains(&("group.protocol", "consumer")) {
        props.push(("session.timeout.ms".into(), "10000".into()));
        props.push(("heartbeat.interval.ms".into(), "500".into()));
    }
    for (k, v) in extra {
        props.retain(|(pk, _)| pk != k);
        props.push(((*k).into(), (*v).into()));
    }
    Consumer::new(ConsumerConfig::from_properties(props).expect("config")).expect("consumer")
}

/// One listener call: `assigned`, `revoked` or `lost`, with its partitions.
pub type ListenerCall = (String, Vec<TopicPartition>);

/// The listener calls, in order.
pub type ListenerLog = Arc<Mutex<Vec<ListenerCall>>>;

/// Records the listener calls in order.
#[derive(Default, Clone)]
pub struct Recording(pub ListenerLog);

impl RebalanceListener for Recording {
    fn on_partitions_revoked<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> ListenerFuture<'a> {
        Box::pin(async move {
            // Commit on revoke: the next owner starts right after what was handed out here.
            consumer.commit_positions().await.expect("commit on revoke");
            self.0
                .lock()
                .expect("lock")
                .push(("revoked".into(), partitions.to_vec()));
        })
    }
    fn on_partitions_lost<'a>(
        &'a self,
        _consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> ListenerFuture<'a> {
        self.0
            .lock()
            .expect("lock")
            .push(("lost".into(), partitions.to_vec()));
        Box::pin(async {})
    }
    fn on_partitions_assigned<'a>(
        &'a self,
        _consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> ListenerFuture<'a> {
        self.0
            .lock()
            .expect("lock")
            .push(("assigned".into(), partitions.to_vec()));
        Box::pin(async {})
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_consumes_every_partition_in_order_and_close_leaves() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("g-sub");
    create(&bootstrap, &topic, 3, 1).await;
    let n = 30_000u64;
    produce(&bootstrap, &topic, n, "lz4", None).await;
    let group = unique_topic("grp");
    let events = Recording::default();
    let c = group_consumer(&bootstrap, &group, &[]);
    c.subscribe_with_listener([topic.clone()], events.clone())
        .expect("subscribe");
    let records = poll_n(&c, n as usize, 120).await;
    assert_eq!(records.len() as u64, n);
    let mut last: BTreeMap<i32, i64> = BTreeMap::new();
    for r in &records {
        if let Some(prev) = last.get(&r.partition) {
            assert_eq!(r.offset.0, prev + 1, "contiguous per partition");
        }
        last.insert(r.partition, r.offset.0);
    }
    let g = c.group_generation().expect("stable in the group");
    assert!(g.leader, "the only member leads");
    let m = c.metrics();
    assert_eq!(m.get("rebalance-total"), Some(1.0), "one join");
    assert_eq!(m.get("failed-rebalance-total"), Some(0.0));
    assert!(m.get("rebalance-latency-avg").is_some_and(|l| l > 0.0));
    let mut assignment = c.assignment();
    assignment.sort();
    assert_eq!(assignment.len(), 3);
    c.close().await.expect("close");
    let log = events.0.lock().expect("lock").clone();
    assert_eq!(log.first().map(|e| e.0.as_str()), Some("assigned"));
    assert_eq!(log.last().map(|e| e.0.as_str()), Some("revoked"), "{log:?}");
    // The revocation committed everything: a new member of the group gets only what is
    // produced afterwards.
    produce(&bootstrap, &topic, 6, "none", None).await;
    let c2 = group_consumer(&bootstrap, &group, &[]);
    c2.subscribe([topic.clone()]).expect("subscribe");
    let again = poll_n(&c2, 6, 60).await;
    let extra = c2.poll(Duration::from_secs(2)).await.expect("poll");
    assert_eq!(again.len() + extra.len(), 6, "nothing redelivered");
    for r in &again {
        assert!(
            r.offset.0 > last[&r.partition],
            "{}@{} redelivered",
            r.partition,
            r.offset
        );
    }
    assert!(c2.group_generation().is_some());
    c2.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_stops_polling_leaves_and_rejoins_on_its_next_poll() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("g-mpi");
    create(&bootstrap, &topic, 2, 1).await;
    produce(&bootstrap, &topic, 10, "none", None).await;
    let group = unique_topic("grp-mpi");
    let events = Recording::default();
    let c = group_consumer(&bootstrap, &group, &[("max.poll.interval.ms", "3000")]);
    c.subscribe_with_listener([topic.clone()], events.clone())
        .expect("subscribe");
    let first = poll_n(&c, 10, 60).await;
    assert_eq!(first.len(), 10);
    c.commit_positions().await.expect("commit");
    let g1 = c.group_generation().expect("stable");
    // Stall past max.poll.interval.ms: the member leaves on its own (heartbeats continue in
    // the background, so only the poll timer can make it leave).
    tokio::time::sleep(Duration::from_millis(4500)).await;
    assert_eq!(
        c.group_generation(),
        None,
        "left the group after the poll timeout"
    );
    // The next poll reports the partitions lost, then rejoins and gets them back.
    produce(&bootstrap, &topic, 4, "none", None).await;
    let again = poll_n(&c, 4, 60).await;
    assert_eq!(again.len(), 4, "only the records after the commit");
    let g2 = c.group_generation().expect("rejoined");
    assert!(g2.generation_id > g1.generation_id, "{g1:?} -> {g2:?}");
    let log: Vec<String> = events
        .0
        .lock()
        .expect("lock")
        .iter()
        .map(|e| e.0.clone())
        .collect();
    assert_eq!(log, ["assigned", "lost", "assigned"], "{log:?}");
    c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_with_the_same_group_instance_id_fences_the_first() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("g-fence");
    create(&bootstrap, &topic, 2, 1).await;
    produce(&bootstrap, &topic, 4, "none", None).await;
    let group = unique_topic("grp-fence");
    let statics = [("group.instance.id", "instance-a")];
    let first = group_consumer(&bootstrap, &group, &statics);
    first.subscribe([topic.clone()]).expect("subscribe");
    assert_eq!(poll_n(&first, 4, 60).await.len(), 4);
    let g1 = first.group_generation().expect("stable");
    // Same instance id while the first still runs: the coordinator hands the identity to the
    // newcomer (without a rebalance) and fences the old member at its next heartbeat.
    let second = group_consumer(&bootstrap, &group, &statics);
    second.subscribe([topic.clone()]).expect("subscribe");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let error = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the first member was never fenced"
        );
        // The newcomer must poll too, or it would not join.
        let _ = second
            .poll(Duration::from_millis(200))
            .await
            .expect("second polls");
        match first.poll(Duration::from_millis(200)).await {
            Err(e) => break e,
            Ok(records) => assert!(records.is_empty(), "fenced member got records"),
        }
    };
    assert_eq!(error.broker_code(), Some(82), "{error}");
    assert!(error.is_fatal(), "FENCED_INSTANCE_ID is fatal: {error}");
    assert!(
        first.assignment().is_empty(),
        "the fenced member holds nothing"
    );
    let g2 = second.group_generation().expect("the newcomer is stable");
    assert_ne!(g2.member_id, g1.member_id);
    second.close().await.expect("close");
    let _ = first.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribe_leaves_and_the_consumer_can_assign_again() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("g-unsub");
    create(&bootstrap, &topic, 2, 1).await;
    produce(&bootstrap, &topic, 6, "none", None).await;
    let group = unique_topic("grp-unsub");
    let events = Recording::default();
    let c = group_consumer(&bootstrap, &group, &[]);
    c.subscribe_with_listener([topic.clone()], events.clone())
        .expect("subscribe");
    assert_eq!(poll_n(&c, 6, 60).await.len(), 6);
    assert!(
        c.assign(&[TopicPartition::new(&topic, 0)]).is_err(),
        "assign while subscribed"
    );
    c.unsubscribe().await;
    assert!(c.assignment().is_empty());
    assert!(c.subscription().is_empty());
    assert_eq!(c.group_generation(), None);
    let log: Vec<String> = events
        .0
        .lock()
        .expect("lock")
        .iter()
        .map(|e| e.0.clone())
        .collect();
    assert_eq!(
        log,
        ["assigned", "revoked"],
        "the listener saw the revocation"
    );
    // Manual assignment works now; the revoke listener committed, so nothing comes again.
    c.assign(&[
        TopicPartition::new(&topic, 0),
        TopicPartition::new(&topic, 1),
    ])
    .expect("assign after unsubscribe");
    assert!(c
        .poll(Duration::from_secs(2))
        .await
        .expect("poll")
        .is_empty());
    c.close().await.expect("close");
}
