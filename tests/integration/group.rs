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
        ("session.timeout.ms".into(), "10000".into()),
        ("heartbeat.interval.ms".into(), "500".into()),
    ];
    for (k, v) in extra {
        props.retain(|(pk, _)| pk != k);
        props.push(((*k).into(), (*v).into()));
    }
    Consumer::new(ConsumerConfig::from_properties(props).expect("config")).expect("consumer")
}

/// The listener calls: ("assigned" | "revoked", partitions).
pub type ListenerLog = Arc<Mutex<Vec<(String, Vec<TopicPartition>)>>>;

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
