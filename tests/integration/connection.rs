//! Connection layer against a real broker: version negotiation, broker down at start, broker
//! SIGKILLed and restarted.

use crate::support::{blocking, config, dedicated, shared_bootstrap};
use ferrokafka::__private::cluster::{Cluster, TopicSelection};
use ferrokafka::__private::connection::{ConnectionPool, Purpose};
use ferrokafka::__private::protocol::versions::client_range;
use ferrokafka::ErrorKind;
use ferrokafka_testcontainers::Topology;
use kafka_protocol::messages::{ApiKey, MetadataRequest};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiates_versions_with_kafka_4() {
    let cfg = config(&shared_bootstrap());
    let pool = ConnectionPool::new(&cfg);
    let conn = pool
        .get(&cfg.bootstrap_servers[0], None, Purpose::Control)
        .await
        .expect("connect");
    let v = conn.versions();
    let negotiated = v.negotiated();
    println!("negotiated with {}:", conn.addr());
    for (api, ver) in &negotiated {
        println!("  {api:?} v{ver} broker {:?}", v.broker_range(*api));
    }
    // Kafka 4.x speaks all of these at least at the versions below; each negotiated version
    // lies in the client's range (so never below the KIP-896 floors).
    let expect_at_least = [
        (ApiKey::Produce, 9),
        (ApiKey::Fetch, 12),
        (ApiKey::Metadata, 12),
        (ApiKey::ApiVersions, 3),
        (ApiKey::ListOffsets, 8),
        (ApiKey::OffsetCommit, 8),
        (ApiKey::OffsetFetch, 8),
        (ApiKey::FindCoordinator, 4),
        (ApiKey::JoinGroup, 9),
        (ApiKey::InitProducerId, 4),
        (ApiKey::CreateTopics, 7),
        (ApiKey::DeleteTopics, 6),
    ];
    for (api, min) in expect_at_least {
        let got = v.version_for(api).expect("supported");
        let (lo, hi) = client_range(api);
        assert!(
            got >= min && got >= lo && got <= hi,
            "{api:?} negotiated v{got}"
        );
    }
    assert!(
        negotiated.len() >= 20,
        "only {} APIs negotiated",
        negotiated.len()
    );
    // The finalized features come with ApiVersions: Kafka 4.1 formats new clusters with
    // transaction.version 2, which makes the transactional producer speak KIP-890 part 2.
    println!(
        "  finalized features epoch {}: transaction.version {:?}",
        v.finalized_features_epoch(),
        v.finalized_feature("transaction.version")
    );
    assert!(v.finalized_features_epoch() >= 0);
    assert!(
        v.finalized_feature("transaction.version") >= Some(2),
        "transaction.version {:?}",
        v.finalized_feature("transaction.version")
    );
    // Pipelining: many requests in flight on one connection, answered in order.
    let conn = Arc::new(conn);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let c = conn.clone();
            tokio::spawn(async move { c.send(&MetadataRequest::default()).await })
        })
        .collect();
    for t in tasks {
        let md = t.await.expect("task").expect("metadata");
        assert!(!md.brokers.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_started_while_broker_down_connects_once_it_is_up() {
    let kafka = Arc::new(dedicated(Topology::Single).await);
    let node = kafka.node_ids()[0];
    {
        let k = kafka.clone();
        blocking(move || k.kill_node(node)).await.expect("kill");
    }
    let cluster = Cluster::new(config(&kafka.bootstrap()));

    // Broker down: a retriable error, and the next attempt waits for the reconnect backoff.
    let err = cluster
        .refresh(TopicSelection::All)
        .await
        .expect_err("no broker is up");
    assert!(err.is_retriable(), "{err}");
    assert_eq!(err.kind(), &ErrorKind::NoBrokerAvailable);
    let t0 = Instant::now();
    let err2 = cluster
        .refresh(TopicSelection::All)
        .await
        .expect_err("still down");
    assert!(err2.is_retriable());
    // reconnect.backoff.ms = 50 with -20 % jitter: at least 40 ms between attempts.
    assert!(
        t0.elapsed() >= Duration::from_millis(40),
        "no backoff: {:?}",
        t0.elapsed()
    );

    {
        let k = kafka.clone();
        blocking(move || k.restart_node(node))
            .await
            .expect("restart");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match cluster.refresh(TopicSelection::All).await {
            Ok(md) => {
                assert_eq!(md.brokers.len(), 1);
                break;
            }
            Err(e) if e.is_retriable() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("broker is up but metadata fails: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_reconnects_after_broker_sigkill_and_restart() {
    let kafka = Arc::new(dedicated(Topology::Single).await);
    let node = kafka.node_ids()[0];
    let cfg = config(&kafka.bootstrap());
    let pool = ConnectionPool::new(&cfg);
    let addr = cfg.bootstrap_servers[0].clone();
    let conn = pool
        .get(&addr, None, Purpose::Control)
        .await
        .expect("connect");
    conn.send(&MetadataRequest::default())
        .await
        .expect("metadata before kill");

    {
        let k = kafka.clone();
        blocking(move || k.kill_node(node)).await.expect("kill");
    }
    // The old connection dies: a request on it fails with a retriable error.
    let err = conn
        .send(&MetadataRequest::default())
        .await
        .expect_err("broker is dead");
    assert!(err.is_retriable(), "{err}");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Disconnected { .. } | ErrorKind::Connect | ErrorKind::RequestTimeout
        ),
        "{err:?}"
    );
    assert!(conn.is_closed());
    // New connections are refused while it is down.
    let err = pool
        .get(&addr, None, Purpose::Control)
        .await
        .expect_err("down");
    assert!(err.is_retriable());

    {
        let k = kafka.clone();
        blocking(move || k.restart_node(node))
            .await
            .expect("restart");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let conn = loop {
        match pool.get(&addr, None, Purpose::Control).await {
            Ok(c) => break c,
            Err(e) if e.is_retriable() && Instant::now() < deadline => {}
            Err(e) => panic!("no reconnect: {e}"),
        }
    };
    let md = conn
        .send(&MetadataRequest::default())
        .await
        .expect("metadata after restart");
    assert_eq!(md.brokers.len(), 1);
}
