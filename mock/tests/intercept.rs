//! Interceptors (issue #28): a test's function decides per request — here, the answer of one
//! chosen Produce is lost after it was applied and another is refused, and a heartbeat answered
//! REBALANCE_IN_PROGRESS by an interceptor that also moves the group's coordinator (it may use
//! the control API) makes the member rejoin at the new coordinator.

use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka_mock::{ApiKey, MockCluster, MockConfig, Verdict};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interceptor_loses_one_answer_and_refuses_another_and_nothing_is_duplicated() {
    let cluster = MockCluster::start(MockConfig::default().brokers(3))
        .await
        .expect("mock cluster");
    cluster.create_topic("icpt", 2).expect("topic");
    // Produce requests naming icpt-1, counted: the 2nd is applied and its answer lost, the 4th
    // refused with NOT_LEADER_OR_FOLLOWER; icpt-0 is left alone.
    let seen = Arc::new(AtomicU32::new(0));
    let id = cluster.intercept(ApiKey::Produce, {
        let seen = seen.clone();
        move |req| {
            if !req.targets.iter().any(|(t, p)| t == "icpt" && *p == 1) {
                return Verdict::Pass;
            }
            match seen.fetch_add(1, Ordering::SeqCst) + 1 {
                2 => Verdict::DropAfter,
                4 => Verdict::Error(6),
                _ => Verdict::Pass,
            }
        }
    });
    let p = Producer::new(
        ProducerConfig::from_properties([
            ("bootstrap.servers", cluster.bootstrap().as_str()),
            ("linger.ms", "0"),
            ("retry.backoff.ms", "10"),
            ("reconnect.backoff.ms", "10"),
        ])
        .expect("config"),
    )
    .expect("producer");
    for part in [0, 1] {
        // One record at a time: each is a Produce request of its own.
        for i in 0..10 {
            let r = ProducerRecord::new("icpt")
                .partition(part)
                .value(format!("{part}-{i}"));
            let d = p.send(r).await.expect("send").await.expect("persisted");
            assert_eq!(d.offset.0, i, "partition {part}: in order, no duplicate");
        }
    }
    assert!(seen.load(Ordering::SeqCst) >= 12, "10 records + 2 retries");
    assert_eq!(cluster.high_watermark("icpt", 0), Some(10));
    assert_eq!(
        cluster.high_watermark("icpt", 1),
        Some(10),
        "the retry of the lost answer was recognised as a duplicate"
    );
    assert!(cluster.remove_interceptor(id));
    assert!(!cluster.remove_interceptor(id), "removed once");
    p.close(Duration::from_secs(5)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interceptor_forces_a_rebalance_and_moves_the_coordinator() {
    let cluster = MockCluster::start(MockConfig::default().brokers(3))
        .await
        .expect("mock cluster");
    cluster.create_topic("icpt-g", 1).expect("topic");
    let group = "icpt-group";
    let control = cluster.control();
    let old = control.coordinator(group).expect("coordinator");
    let new = old % 3 + 1;
    let fired = Arc::new(AtomicU32::new(0));
    cluster.intercept(ApiKey::Heartbeat, {
        let (control, fired) = (control.clone(), fired.clone());
        move |req| {
            if req.client_id == "icpt-member" && fired.fetch_add(1, Ordering::SeqCst) == 0 {
                control.move_coordinator(group, new).expect("move");
                Verdict::Error(27) // REBALANCE_IN_PROGRESS
            } else {
                Verdict::Pass
            }
        }
    });
    let c = Consumer::new(
        ConsumerConfig::from_properties([
            ("bootstrap.servers", cluster.bootstrap().as_str()),
            ("group.id", group),
            ("client.id", "icpt-member"),
            ("heartbeat.interval.ms", "50"),
            ("fetch.max.wait.ms", "50"),
            ("retry.backoff.ms", "10"),
        ])
        .expect("config"),
    )
    .expect("consumer");
    c.subscribe(["icpt-g"]).expect("subscribe");
    let joins_at = |broker: i32| {
        cluster
            .requests()
            .iter()
            .filter(|r| r.api == ApiKey::SyncGroup && r.broker == broker)
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while joins_at(new) == 0 || c.assignment().is_empty() {
        assert!(Instant::now() < deadline, "no rejoin at broker {new}");
        c.poll(Duration::from_millis(50)).await.expect("poll");
    }
    assert!(joins_at(old) >= 1, "first joined at broker {old}");
    assert!(fired.load(Ordering::SeqCst) >= 1);
    assert_eq!(c.assignment().len(), 1);
    c.close().await.expect("close");
}
