//! Admin basics against a real broker: create, list, delete, and classified refusals.

use crate::support::{config, shared_bootstrap};
use ferrokafka::admin::{AdminClient, NewTopic};
use ferrokafka::ErrorClass;
use ferrokafka_testcontainers::unique_topic;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_delete_topics() {
    let admin = AdminClient::new(config(&shared_bootstrap()));
    let a = unique_topic("adm-a");
    let b = unique_topic("adm-b");
    let results = admin
        .create_topics(&[
            NewTopic::new(&a, 2, 1).config("retention.ms", "3600000"),
            NewTopic::new(&b, 1, 1),
        ])
        .await
        .expect("create");
    assert_eq!(results.len(), 2);
    for (name, r) in &results {
        assert!(r.is_ok(), "{name}: {r:?}");
    }
    admin
        .wait_for_topic(&a, 2, Duration::from_secs(30))
        .await
        .expect("a ready");
    admin
        .wait_for_topic(&b, 1, Duration::from_secs(30))
        .await
        .expect("b ready");
    let listed = admin.list_topics().await.expect("list");
    let la = listed.iter().find(|t| t.name == a).expect("a listed");
    assert_eq!(la.partitions.len(), 2);
    assert!(la.partitions.iter().all(|p| p.leader.is_some()));
    assert!(listed.iter().any(|t| t.name == b));

    // Creating it again: TOPIC_ALREADY_EXISTS (36), permanent, not fatal.
    let err = admin
        .create_topic(NewTopic::new(&a, 2, 1))
        .await
        .expect_err("exists");
    assert_eq!(err.broker_code(), Some(36));
    // By name, as an application matches it.
    assert!(matches!(
        err.kind(),
        ferrokafka::ErrorKind::Broker(ferrokafka::BrokerErrorCode::TOPIC_ALREADY_EXISTS)
    ));
    assert_eq!(
        err.broker_error(),
        Some(ferrokafka::BrokerErrorCode::TOPIC_ALREADY_EXISTS)
    );
    assert!(!err.is_retriable() && !err.is_fatal());
    assert_eq!(err.topic(), Some(a.as_str()));

    let deleted = admin.delete_topics(&[&a, &b]).await.expect("delete");
    assert!(deleted.iter().all(|(_, r)| r.is_ok()), "{deleted:?}");
    // Deleting a topic that does not exist: UNKNOWN_TOPIC_OR_PARTITION for that topic only.
    let again = admin.delete_topics(&[&a]).await.expect("delete call");
    assert_eq!(again[0].1.as_ref().unwrap_err().broker_code(), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_topic_settings_are_configuration_errors() {
    let admin = AdminClient::new(config(&shared_bootstrap()));
    // Replication factor 3 on a single broker: INVALID_REPLICATION_FACTOR (38).
    let err = admin
        .create_topic(NewTopic::new(unique_topic("adm-rf"), 1, 3))
        .await
        .expect_err("rf > brokers");
    assert_eq!(err.broker_code(), Some(38), "{err}");
    assert_eq!(err.class(), ErrorClass::InvalidConfiguration);
    assert!(
        err.broker_message().is_some(),
        "broker explains why: {err:?}"
    );
    // An unknown topic config: INVALID_CONFIG (40), permanent.
    let err = admin
        .create_topic(NewTopic::new(unique_topic("adm-cfg"), 1, 1).config("no.such.config", "1"))
        .await
        .expect_err("bad config");
    assert_eq!(err.broker_code(), Some(40), "{err}");
    assert!(!err.is_retriable());
    // An invalid topic name: INVALID_TOPIC_EXCEPTION (17).
    let err = admin
        .create_topic(NewTopic::new("bad/name", 1, 1))
        .await
        .expect_err("bad name");
    assert_eq!(err.broker_code(), Some(17), "{err}");
    assert!(!err.is_retriable());
}
