//! What a Kafka 3.x broker without the new group coordinator answers — it lists the KIP-848
//! APIs but answers them UNSUPPORTED_VERSION (35) — made with an interceptor, and the client's
//! answer to it (issue #29): a `group.protocol=consumer` member stops with one line saying so,
//! and the admin client describes classic groups with DescribeGroups instead.

use ferrokafka::admin::{AdminClient, GroupProtocol};
use ferrokafka::config::ClientConfig;
use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka_mock::{ApiKey, MockCluster, MockConfig, Verdict};
use std::time::{Duration, Instant};

const UNSUPPORTED_VERSION: i16 = 35;

fn consumer(bootstrap: &str, group: &str, protocol: &str) -> Consumer {
    let mut props = vec![
        ("bootstrap.servers", bootstrap),
        ("group.id", group),
        ("group.protocol", protocol),
        ("auto.offset.reset", "earliest"),
        ("fetch.max.wait.ms", "50"),
    ];
    if protocol == "classic" {
        props.push(("heartbeat.interval.ms", "100"));
    }
    Consumer::new(ConsumerConfig::from_properties(props).expect("config")).expect("consumer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kip848_member_on_a_broker_without_the_new_coordinator_stops_with_one_line() {
    let cluster = MockCluster::start(MockConfig::default())
        .await
        .expect("mock");
    cluster.create_topic("old-848", 1).expect("topic");
    cluster.intercept(ApiKey::Other(68), |_| Verdict::Error(UNSUPPORTED_VERSION));
    let c = consumer(&cluster.bootstrap(), "old-848-group", "consumer");
    c.subscribe(["old-848"]).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(10);
    let error = loop {
        assert!(Instant::now() < deadline, "no error: the member hangs");
        match c.poll(Duration::from_millis(100)).await {
            Err(e) => break e,
            Ok(records) => assert!(records.is_empty()),
        }
    };
    let line = error.to_string();
    assert_eq!(error.broker_code(), Some(UNSUPPORTED_VERSION), "{line}");
    assert!(line.contains("KIP-848"), "{line}");
    assert!(line.contains("group.protocol=classic"), "{line}");
    assert!(!line.contains('\n'), "one line: {line}");
    assert!(error.is_fatal(), "not retried forever: {line}");
    c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_groups_are_described_with_describe_groups_when_consumer_group_describe_is_refused()
{
    let cluster = MockCluster::start(MockConfig::default())
        .await
        .expect("mock");
    cluster.create_topic("old-desc", 1).expect("topic");
    let b = cluster.bootstrap();
    let c = consumer(&b, "old-desc-group", "classic");
    c.subscribe(["old-desc"]).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.assignment().is_empty() {
        assert!(Instant::now() < deadline, "never joined");
        c.poll(Duration::from_millis(50)).await.expect("poll");
    }
    cluster.intercept(ApiKey::Other(69), |_| Verdict::Error(UNSUPPORTED_VERSION));
    let admin = AdminClient::new(
        ClientConfig::builder()
            .bootstrap_servers(&b)
            .build()
            .expect("admin"),
    );
    let described = admin
        .describe_consumer_groups(&["old-desc-group"], false)
        .await
        .expect("describe");
    let d = described[0]
        .1
        .as_ref()
        .expect("described through DescribeGroups");
    assert_eq!(d.group_protocol, GroupProtocol::Classic, "{d}");
    assert_eq!((d.state.as_str(), d.members.len()), ("Stable", 1), "{d}");
    let asked: Vec<ApiKey> = cluster
        .requests()
        .iter()
        .filter(|r| r.client_id != "consumer")
        .map(|r| r.api)
        .collect();
    assert!(
        asked.contains(&ApiKey::Other(69)),
        "asked ConsumerGroupDescribe first"
    );
    assert!(
        asked.contains(&ApiKey::DescribeGroups),
        "then DescribeGroups"
    );
    c.close().await.expect("close");
}
