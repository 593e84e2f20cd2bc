//! The consumer API conventions of rust-rdkafka and Java: commit one record, explicit offsets
//! with metadata (sync and async), why a position is missing, an `Unpin` stream, headers looked
//! up by name on the same `Header` type the producer sends.

use crate::producer::create;
use crate::support::shared_bootstrap;
use ferrokafka::consumer::{Consumer, ConsumerConfig, OffsetToCommit, PositionState};
use ferrokafka::producer::{Header, Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::{Offset, TopicPartition};
use ferrokafka_testcontainers::unique_topic;
use futures_util::StreamExt;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_record_offsets_with_metadata_position_state_stream_and_headers() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("c-api");
    let admin = create(&bootstrap, &topic, 1, 1).await;
    let producer = Producer::new(
        ProducerConfig::builder()
            .bootstrap_servers(&bootstrap)
            .build()
            .expect("config"),
    )
    .expect("producer");
    let mut pending = Vec::new();
    for i in 0..10 {
        let mut r = ProducerRecord::new(&topic)
            .value(format!("v{i}"))
            .header("trace", "first")
            .null_header("empty");
        r.headers.push(Header::new("trace", format!("last-{i}")));
        pending.push(producer.send(r).await.expect("buffered"));
    }
    for p in pending {
        p.await.expect("delivered");
    }
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");

    let group = unique_topic("g-api");
    let c = Consumer::new(
        ConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            ("group.id", group.as_str()),
            ("enable.auto.commit", "false"),
            ("auto.offset.reset", "earliest"),
            ("fetch.max.wait.ms", "100"),
        ])
        .expect("config"),
    )
    .expect("consumer");
    let tp = TopicPartition::new(&topic, 0);
    assert!(matches!(c.position_state(&tp), PositionState::NotAssigned));
    assert_eq!(c.position_state(&tp).to_string(), "not assigned");
    c.assign(std::slice::from_ref(&tp)).expect("assign");
    assert!(
        matches!(
            c.position_state(&tp),
            PositionState::AwaitingCommitted
                | PositionState::AwaitingReset
                | PositionState::Known(_)
        ),
        "{}",
        c.position_state(&tp)
    );

    // The stream is Unpin: `next()` without pinning.
    let mut stream = c.stream();
    let mut records = Vec::new();
    while records.len() < 10 {
        let r = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("a record within 20 s")
            .expect("stream never ends")
            .expect("record");
        records.push(r);
    }
    drop(stream);
    let offsets: Vec<i64> = records.iter().map(|r| r.offset.0).collect();
    assert_eq!(offsets, (0..10).collect::<Vec<_>>());
    let r4 = &records[4];
    assert_eq!(r4.headers.get("trace"), Some(Header::new("trace", "first")));
    assert_eq!(
        r4.headers.last("trace"),
        Some(Header::new("trace", "last-4"))
    );
    assert_eq!(r4.headers.get("empty"), Some(Header::null("empty")));
    assert_eq!(r4.headers.get_all("trace").count(), 2);
    assert_eq!(r4.headers.get("absent"), None);
    assert!(matches!(
        c.position_state(&tp),
        PositionState::Known(Offset(10))
    ));
    assert_eq!(c.position_state(&tp).to_string(), "at offset 10");

    // One record: offset + 1.
    c.commit_record(r4).await.expect("commit_record");
    let committed = c
        .committed(std::slice::from_ref(&tp))
        .await
        .expect("committed");
    assert_eq!(committed[&tp].as_ref().map(|c| c.offset), Some(Offset(5)));

    // Explicit offsets with metadata, synchronously and in the background.
    c.commit_offsets([(
        tp.clone(),
        OffsetToCommit::new(Offset(7)).with_metadata("batch-7"),
    )])
    .await
    .expect("commit_offsets");
    let got = c
        .committed(std::slice::from_ref(&tp))
        .await
        .expect("committed");
    let got = got[&tp].as_ref().expect("committed");
    assert_eq!(
        (got.offset, got.metadata.as_deref()),
        (Offset(7), Some("batch-7"))
    );

    let (tx, rx) = tokio::sync::oneshot::channel();
    c.commit_offsets_async(
        [(
            tp.clone(),
            OffsetToCommit::new(Offset(9)).with_metadata("async"),
        )],
        move |r| {
            let _ = tx.send(r);
        },
    );
    rx.await.expect("callback ran").expect("async commit");
    let got = c
        .committed(std::slice::from_ref(&tp))
        .await
        .expect("committed");
    let got = got[&tp].as_ref().expect("committed");
    assert_eq!(
        (got.offset, got.metadata.as_deref()),
        (Offset(9), Some("async"))
    );

    c.close().await.expect("close");
    admin.delete_topics(&[&topic]).await.ok();
}
