//! The fault proxy against a real broker: one single-node cluster behind a proxy, shared by these
//! tests, which take turns (a lock) because they switch the same proxy's faults.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ferrokafka::__private::connection::{BrokerConnection, ConnectionPool, Purpose};
use ferrokafka::config::ClientConfig;
use ferrokafka::ErrorKind;
use ferrokafka_testcontainers::{unique_topic, Direction, FaultProxy, Kafka, Topology};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::{CreateTopicsRequest, MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

static KAFKA: OnceLock<Kafka> = OnceLock::new();
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The proxied broker (started on first use), its proxy with every fault off, and the turn.
async fn proxied() -> (
    tokio::sync::MutexGuard<'static, ()>,
    &'static Kafka,
    &'static FaultProxy,
) {
    let turn = TURN.lock().await;
    let kafka = KAFKA.get_or_init(|| {
        Kafka::start_proxied(Topology::Single).unwrap_or_else(|e| panic!("proxied broker: {e}"))
    });
    let proxy = kafka.proxy(1).expect("node 1 has a proxy");
    proxy.clear();
    (turn, kafka, proxy)
}

fn config(bootstrap: &str, request_timeout: Duration) -> ClientConfig {
    ClientConfig::builder()
        .bootstrap_servers(bootstrap)
        .client_id("proxy-test")
        .request_timeout(request_timeout)
        .connection_setup_timeout(Duration::from_secs(3))
        .reconnect_backoff(Duration::from_millis(20))
        .reconnect_backoff_max(Duration::from_millis(100))
        .build()
        .expect("config")
}

async fn connect(kafka: &Kafka, request_timeout: Duration) -> (ConnectionPool, BrokerConnection) {
    let cfg = config(&kafka.bootstrap(), request_timeout);
    let pool = ConnectionPool::new(&cfg);
    let conn = pool
        .get(&cfg.bootstrap_servers[0], None, Purpose::Control)
        .await
        .expect("connect through the proxy");
    (pool, conn)
}

async fn reconnect(kafka: &Kafka, pool: &ConnectionPool) -> BrokerConnection {
    let cfg = config(&kafka.bootstrap(), Duration::from_secs(5));
    pool.get(&cfg.bootstrap_servers[0], None, Purpose::Control)
        .await
        .expect("a new connection through the proxy")
}

fn create_topic(name: &str) -> CreateTopicsRequest {
    CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(name.to_owned())))
            .with_num_partitions(1)
            .with_replication_factor(1)])
}

/// Whether the broker knows `topic`, asked past the proxy.
async fn topic_exists(kafka: &Kafka, topic: &str) -> bool {
    let cfg = config(&kafka.direct_bootstrap(), Duration::from_secs(5));
    let pool = ConnectionPool::new(&cfg);
    let conn = pool
        .get(&cfg.bootstrap_servers[0], None, Purpose::Control)
        .await
        .expect("direct connection");
    let md = conn
        .send(&MetadataRequest::default().with_topics(None))
        .await
        .expect("metadata");
    md.topics
        .iter()
        .any(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == topic))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_through_the_proxy_names_the_proxies_and_direct_names_the_brokers() {
    let (_turn, kafka, proxy) = proxied().await;
    let (_pool, conn) = connect(kafka, Duration::from_secs(5)).await;
    let md = conn.send(&MetadataRequest::default()).await.expect("md");
    let ports: Vec<i32> = md.brokers.iter().map(|b| b.port).collect();
    assert_eq!(ports, [i32::from(proxy.addr().port())]);
    assert_ne!(kafka.direct_bootstrap(), kafka.bootstrap());
    let cfg = config(&kafka.direct_bootstrap(), Duration::from_secs(5));
    let pool = ConnectionPool::new(&cfg);
    let direct = pool
        .get(&cfg.bootstrap_servers[0], None, Purpose::Control)
        .await
        .expect("direct");
    let md = direct.send(&MetadataRequest::default()).await.expect("md");
    let direct_port = kafka
        .direct_bootstrap()
        .rsplit_once(':')
        .map(|(_, p)| p.to_owned());
    assert_eq!(Some(md.brokers[0].port.to_string()), direct_port);
    assert!(proxy.stats().accepted >= 1, "{}", proxy.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_delays_each_round_trip_by_both_directions() {
    let (_turn, kafka, proxy) = proxied().await;
    let (_pool, conn) = connect(kafka, Duration::from_secs(10)).await;
    let t0 = Instant::now();
    conn.send(&MetadataRequest::default()).await.expect("md");
    let fast = t0.elapsed();
    proxy.set_latency(Duration::from_millis(300), Duration::from_millis(50));
    let t0 = Instant::now();
    conn.send(&MetadataRequest::default()).await.expect("md");
    let slow = t0.elapsed();
    println!("metadata round trip: {fast:?} without latency, {slow:?} with 300 ms + 0..50 ms");
    assert!(slow >= Duration::from_millis(600), "{slow:?}");
    assert!(slow < Duration::from_millis(600) + fast + Duration::from_millis(500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandwidth_cap_slows_a_large_request() {
    let (_turn, kafka, proxy) = proxied().await;
    let (_pool, conn) = connect(kafka, Duration::from_secs(20)).await;
    // A CreateTopics request carrying 256 KiB of config value: the broker rejects it quickly, but
    // every byte has to cross the proxy first.
    let big = "x".repeat(256 * 1024);
    let mut req = create_topic(&unique_topic("bw"));
    req.topics[0].configs.push(
        kafka_protocol::messages::create_topics_request::CreatableTopicConfig::default()
            .with_name(StrBytes::from_static_str("bogus.config"))
            .with_value(Some(StrBytes::from_string(big))),
    );
    proxy.set_bandwidth(Some(128 * 1024));
    let t0 = Instant::now();
    // The broker may answer or close the connection over the bogus config; either way it comes
    // after the last byte crossed the proxy.
    let _ = conn.send(&req).await;
    let took = t0.elapsed();
    println!("256 KiB request at 128 KiB/s: {took:?}");
    assert!(took >= Duration::from_millis(1900), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_all_breaks_open_connections_and_the_client_reconnects() {
    let (_turn, kafka, proxy) = proxied().await;
    let (pool, conn) = connect(kafka, Duration::from_secs(5)).await;
    conn.send(&MetadataRequest::default()).await.expect("md");
    let before = proxy.stats().resets;
    proxy.reset_all();
    let err = conn
        .send(&MetadataRequest::default())
        .await
        .expect_err("the connection was reset");
    assert!(err.is_retriable(), "{err}");
    assert!(
        matches!(err.kind(), ErrorKind::Disconnected { .. }),
        "{err}"
    );
    assert!(proxy.stats().resets > before);
    let again = reconnect(kafka, &pool).await;
    again
        .send(&MetadataRequest::default())
        .await
        .expect("md after reconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_after_bytes_cuts_each_connection_at_its_budget() {
    let (_turn, kafka, proxy) = proxied().await;
    let (pool, conn) = connect(kafka, Duration::from_secs(5)).await;
    // Open connections have forwarded more than 100 bytes already (ApiVersions): their next chunk
    // trips the budget.
    proxy.reset_after_bytes(Some(100));
    let err = conn
        .send(&MetadataRequest::default())
        .await
        .expect_err("over budget");
    assert!(err.is_retriable(), "{err}");
    // A new connection gets as far as its budget: the ApiVersions response crosses it, so the
    // connection is reset right after setup and its first request fails.
    let cfg = config(&kafka.bootstrap(), Duration::from_secs(5));
    if let Ok(c) = pool
        .get(&cfg.bootstrap_servers[0], None, Purpose::Control)
        .await
    {
        let err = c
            .send(&MetadataRequest::default())
            .await
            .expect_err("the connection is over its budget");
        assert!(err.is_retriable(), "{err}");
    }
    proxy.reset_after_bytes(None);
    tokio::time::sleep(Duration::from_millis(200)).await;
    reconnect(kafka, &pool)
        .await
        .send(&MetadataRequest::default())
        .await
        .expect("md");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackhole_makes_requests_and_connection_setup_time_out() {
    let (_turn, kafka, proxy) = proxied().await;
    let (pool, conn) = connect(kafka, Duration::from_secs(2)).await;
    proxy.set_blackhole(true);
    let t0 = Instant::now();
    let err = conn
        .send(&MetadataRequest::default())
        .await
        .expect_err("nothing comes back");
    let took = t0.elapsed();
    assert_eq!(err.kind(), &ErrorKind::RequestTimeout, "{err}");
    assert!(took >= Duration::from_millis(1900), "{took:?}");
    // A new connection (a fresh pool) is accepted but its ApiVersions goes nowhere: setup times
    // out.
    let cfg = config(&kafka.bootstrap(), Duration::from_secs(2));
    let t0 = Instant::now();
    let err = ConnectionPool::new(&cfg)
        .get(&cfg.bootstrap_servers[0], None, Purpose::Control)
        .await
        .expect_err("setup cannot finish");
    println!(
        "blackhole: request failed after {took:?}, setup after {:?}: {err}",
        t0.elapsed()
    );
    assert!(err.is_retriable(), "{err}");
    proxy.set_blackhole(false);
    tokio::time::sleep(Duration::from_millis(200)).await;
    reconnect(kafka, &pool)
        .await
        .send(&MetadataRequest::default())
        .await
        .expect("md");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_responses_time_out_but_the_request_took_effect() {
    let (_turn, kafka, proxy) = proxied().await;
    let (_pool, conn) = connect(kafka, Duration::from_secs(2)).await;
    let topic = unique_topic("half-open");
    proxy.set_stalled(Some(Direction::ToClient));
    let err = conn
        .send(&create_topic(&topic))
        .await
        .expect_err("no answer");
    assert_eq!(err.kind(), &ErrorKind::RequestTimeout, "{err}");
    proxy.set_stalled(None);
    assert!(
        topic_exists(kafka, &topic).await,
        "the request reached the broker"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_response_resets_after_the_broker_acted() {
    let (_turn, kafka, proxy) = proxied().await;
    let (pool, conn) = connect(kafka, Duration::from_secs(5)).await;
    let topic = unique_topic("dropped");
    let before = proxy.stats();
    proxy.drop_responses(1);
    let err = conn.send(&create_topic(&topic)).await.expect_err("dropped");
    assert_eq!(err.kind(), &ErrorKind::Disconnected { sent: true }, "{err}");
    let after = proxy.stats();
    assert_eq!(after.dropped_responses, before.dropped_responses + 1);
    assert!(after.resets > before.resets);
    assert!(topic_exists(kafka, &topic).await, "the broker created it");
    // One drop only: the next connection works.
    reconnect(kafka, &pool)
        .await
        .send(&MetadataRequest::default())
        .await
        .expect("md");
}
