//! Fault injection (issue #28) driven by the ferrokafka client: injected errors, a broker set
//! down and up, a leader moved, the request log.

use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::TopicPartition;
use ferrokafka_mock::{ApiKey, Fault, MockCluster, MockConfig};
use std::time::Duration;

const NOT_LEADER_OR_FOLLOWER: i16 = 6;

fn producer(bootstrap: &str, client_id: &str) -> Producer {
    Producer::new(
        ProducerConfig::from_properties([
            ("bootstrap.servers", bootstrap),
            ("client.id", client_id),
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("linger.ms", "1"),
            ("retry.backoff.ms", "10"),
            ("retry.backoff.max.ms", "50"),
            ("reconnect.backoff.ms", "10"),
            ("reconnect.backoff.max.ms", "50"),
        ])
        .expect("producer config"),
    )
    .expect("producer")
}

fn consumer(bootstrap: &str) -> Consumer {
    Consumer::new(
        ConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap),
            ("auto.offset.reset", "earliest"),
            ("fetch.max.wait.ms", "100"),
            ("retry.backoff.ms", "10"),
            ("reconnect.backoff.ms", "10"),
            ("reconnect.backoff.max.ms", "50"),
        ])
        .expect("consumer config"),
    )
    .expect("consumer")
}

/// Sends `values` to one partition and waits for every delivery: the offsets, in send order.
async fn send_all(p: &Producer, topic: &str, partition: i32, values: Vec<String>) -> Vec<i64> {
    let mut deliveries = Vec::new();
    for v in values {
        let record = ProducerRecord::new(topic).partition(partition).value(v);
        deliveries.push(p.send(record).await.expect("send"));
    }
    let mut offsets = Vec::new();
    for d in deliveries {
        offsets.push(d.await.expect("delivered").offset.0);
    }
    offsets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_retries_not_leader_and_persists_once_in_order() {
    let cluster = MockCluster::start(MockConfig::default().brokers(3))
        .await
        .expect("mock cluster");
    cluster.create_topic("orders", 3).expect("topic");
    let (leader, _) = cluster.leader("orders", 1).expect("partition");
    cluster.inject(
        Fault::errors(ApiKey::Produce, 2, NOT_LEADER_OR_FOLLOWER).on_partition("orders", 1),
    );
    let p = producer(&cluster.bootstrap(), "fault-producer");
    let values = (0..100).map(|i| format!("v{i}")).collect();
    let offsets = send_all(&p, "orders", 1, values).await;
    assert_eq!(
        offsets,
        (0..100).collect::<Vec<i64>>(),
        "offsets in send order"
    );
    assert!(
        cluster.pending_faults().is_empty(),
        "both errors were answered"
    );
    let produces = cluster
        .requests()
        .iter()
        .filter(|r| r.api == ApiKey::Produce && r.broker == leader)
        .count();
    assert!(
        produces >= 3,
        "2 refused + at least 1 accepted, got {produces}"
    );
    assert_eq!(
        cluster.high_watermark("orders", 1),
        Some(100),
        "persisted once"
    );
    p.close(Duration::from_secs(5)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_set_down_then_up_is_reconnected() {
    let cluster = MockCluster::start(MockConfig::default())
        .await
        .expect("mock cluster");
    cluster.create_topic("t", 1).expect("topic");
    let addr = cluster.broker_addrs()[0];
    let p = producer(&cluster.bootstrap(), "down-up");
    assert_eq!(send_all(&p, "t", 0, vec!["a".into()]).await, vec![0]);

    assert!(cluster.set_broker_down(1));
    // The port refuses connections once the listener has seen the change.
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "still accepting");
        tokio::task::yield_now().await;
    }
    let d = p
        .send(ProducerRecord::new("t").partition(0).value("b"))
        .await
        .expect("send");
    tokio::pin!(d);
    // Nothing can be delivered while the only broker is down.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut d)
            .await
            .is_err(),
        "delivered while the broker was down"
    );
    assert_eq!(cluster.high_watermark("t", 0), Some(1));

    assert!(cluster.set_broker_up(1));
    let m = tokio::time::timeout(Duration::from_secs(5), d)
        .await
        .expect("delivered after the broker came back")
        .expect("delivered");
    assert_eq!(m.offset.0, 1);
    assert_eq!(cluster.broker_addrs()[0], addr, "the same port");
    p.close(Duration::from_secs(5)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_a_leader_moves_the_consumer() {
    let cluster = MockCluster::start(MockConfig::default().brokers(3))
        .await
        .expect("mock cluster");
    cluster.create_topic("moving", 1).expect("topic");
    let bootstrap = cluster.bootstrap();
    let p = producer(&bootstrap, "mover");
    let c = consumer(&bootstrap);
    c.assign(&[TopicPartition::new("moving", 0)])
        .expect("assign");

    let first = send_all(&p, "moving", 0, (0..50).map(|i| format!("v{i}")).collect()).await;
    assert_eq!(first, (0..50).collect::<Vec<i64>>());
    let mut seen: Vec<(i64, String)> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while seen.len() < 50 {
        assert!(std::time::Instant::now() < deadline, "read {}", seen.len());
        for r in c.poll(Duration::from_millis(100)).await.expect("poll") {
            let v =
                String::from_utf8(r.value.as_deref().unwrap_or_default().to_vec()).expect("utf8");
            seen.push((r.offset.0, v));
        }
    }

    let (old, epoch) = cluster.leader("moving", 0).expect("partition");
    let to = old % 3 + 1;
    assert_eq!(cluster.move_leader("moving", 0, to), Ok(epoch + 1));

    let second = send_all(
        &p,
        "moving",
        0,
        (50..100).map(|i| format!("v{i}")).collect(),
    )
    .await;
    assert_eq!(second, (50..100).collect::<Vec<i64>>());
    while seen.len() < 100 {
        assert!(std::time::Instant::now() < deadline, "read {}", seen.len());
        for r in c.poll(Duration::from_millis(100)).await.expect("poll") {
            let v =
                String::from_utf8(r.value.as_deref().unwrap_or_default().to_vec()).expect("utf8");
            seen.push((r.offset.0, v));
        }
    }
    let expected: Vec<(i64, String)> = (0..100).map(|i| (i, format!("v{i}"))).collect();
    assert_eq!(seen, expected, "all 100 in order, no gap, no duplicate");
    let requests = cluster.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.api == ApiKey::Produce && r.broker == to),
        "the producer followed the leader"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.api == ApiKey::Fetch && r.broker == to),
        "the consumer followed the leader"
    );
    c.close().await.expect("close consumer");
    p.close(Duration::from_secs(5)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_log_records_api_version_and_client_id() {
    let cluster = MockCluster::start(MockConfig::default())
        .await
        .expect("mock cluster");
    let p = producer(&cluster.bootstrap(), "logged-client");
    send_all(&p, "logged", 0, vec!["x".into()]).await;
    let log = cluster.requests();
    let mine: Vec<_> = log
        .iter()
        .filter(|r| r.client_id == "logged-client")
        .collect();
    for api in [
        ApiKey::ApiVersions,
        ApiKey::Metadata,
        ApiKey::InitProducerId,
        ApiKey::Produce,
    ] {
        assert!(mine.iter().any(|r| r.api == api), "{api:?} logged: {log:?}");
    }
    let produce = mine
        .iter()
        .find(|r| r.api == ApiKey::Produce)
        .expect("produce");
    assert_eq!(produce.broker, 1);
    assert!(
        produce.version >= 3,
        "a v2-batch Produce version: {}",
        produce.version
    );
    let mut ids: Vec<i32> = mine.iter().map(|r| r.correlation_id).collect();
    ids.dedup();
    assert!(!ids.is_empty());
    cluster.clear_requests();
    assert!(cluster.requests().is_empty());
    p.close(Duration::from_secs(5)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_added_broker_is_listed_and_takes_a_moved_leader() {
    let cluster = MockCluster::start(MockConfig::default().brokers(1))
        .await
        .expect("mock cluster");
    cluster.create_topic("grow", 1).expect("topic");
    let bootstrap = cluster.bootstrap();
    let p = producer(&bootstrap, "grower");
    let c = consumer(&bootstrap);
    c.assign(&[TopicPartition::new("grow", 0)]).expect("assign");
    let first = send_all(&p, "grow", 0, (0..20).map(|i| format!("v{i}")).collect()).await;
    assert_eq!(first, (0..20).collect::<Vec<i64>>());

    let added = cluster.add_broker().expect("add broker");
    assert_eq!(added, 2);
    assert_eq!(
        cluster.brokers().iter().map(|b| b.0).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(cluster.move_leader("grow", 0, added), Ok(1));
    let second = send_all(&p, "grow", 0, (20..40).map(|i| format!("v{i}")).collect()).await;
    assert_eq!(second, (20..40).collect::<Vec<i64>>());

    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while seen.len() < 40 {
        assert!(std::time::Instant::now() < deadline, "read {}", seen.len());
        for r in c.poll(Duration::from_millis(100)).await.expect("poll") {
            seen.push(r.offset.0);
        }
    }
    assert_eq!(seen, (0..40).collect::<Vec<i64>>(), "no gap, no duplicate");
    let requests = cluster.requests();
    for api in [ApiKey::Produce, ApiKey::Fetch] {
        assert!(
            requests.iter().any(|r| r.api == api && r.broker == added),
            "{api:?} reached the added broker"
        );
    }
    // Brokers added later coordinate nothing until a coordinator is moved to them.
    assert_eq!(cluster.coordinator("any-group"), Some(1));
    cluster.move_coordinator("any-group", added).expect("move");
    assert_eq!(cluster.coordinator("any-group"), Some(added));
    c.close().await.expect("close consumer");
    p.close(Duration::from_secs(5)).await.expect("close");
}
