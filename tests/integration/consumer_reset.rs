//! OFFSET_OUT_OF_RANGE at run time, handled by each `auto.offset.reset` policy: a seek past the
//! end, and a committed offset below the log start after DeleteRecords.

use crate::consumer::{poll_n, produce};
use crate::producer::create;
use crate::support::shared_bootstrap;
use ferrokafka::__private::connection::Purpose;
use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka::types::{Offset, TopicPartition};
use ferrokafka_testcontainers::unique_topic;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::{DeleteRecordsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use std::time::{Duration, Instant};

fn consumer(bootstrap: &str, group: &str, reset: &str) -> Consumer {
    Consumer::new(
        ConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap),
            ("group.id", group),
            ("auto.offset.reset", reset),
            ("enable.auto.commit", "false"),
            ("fetch.max.wait.ms", "100"),
        ])
        .expect("config"),
    )
    .expect("consumer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_out_of_range_is_handled_by_each_reset_policy() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("c-oor");
    let admin = create(&bootstrap, &topic, 1, 1).await;
    produce(&bootstrap, &topic, 50, "none", Some(0)).await;
    let p0 = TopicPartition::new(&topic, 0);

    // A position past the end of the log.
    let c = consumer(&bootstrap, &unique_topic("g-oor-e"), "earliest");
    c.assign(std::slice::from_ref(&p0)).expect("assign");
    c.seek(&p0, Offset(1000)).expect("seek");
    let got = poll_n(&c, 50, 60).await;
    assert_eq!(
        got.first().map(|r| r.offset),
        Some(Offset(0)),
        "earliest: from the start"
    );
    c.close().await.expect("close");

    let c = consumer(&bootstrap, &unique_topic("g-oor-l"), "latest");
    c.assign(std::slice::from_ref(&p0)).expect("assign");
    c.seek(&p0, Offset(1000)).expect("seek");
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.position(&p0) != Some(Offset(50)) {
        assert!(
            Instant::now() < deadline,
            "latest: position {:?}",
            c.position(&p0)
        );
        assert!(c
            .poll(Duration::from_millis(200))
            .await
            .expect("poll")
            .is_empty());
    }
    c.close().await.expect("close");

    let c = consumer(&bootstrap, &unique_topic("g-oor-n"), "none");
    c.assign(std::slice::from_ref(&p0)).expect("assign");
    c.seek(&p0, Offset(1000)).expect("seek");
    let deadline = Instant::now() + Duration::from_secs(30);
    let error = loop {
        assert!(Instant::now() < deadline, "none: no error");
        match c.poll(Duration::from_millis(200)).await {
            Err(e) => break e,
            Ok(records) => assert!(records.is_empty(), "none: records after out of range"),
        }
    };
    assert_eq!(error.partition(), Some(0), "{error}");
    assert_eq!(error.topic(), Some(topic.as_str()), "{error}");
    c.close().await.expect("close");

    // A committed offset below the log start (records deleted): earliest resumes at the new
    // log start.
    let group = unique_topic("g-oor-del");
    let c = consumer(&bootstrap, &group, "earliest");
    c.commit(&[(p0.clone(), Offset(10))])
        .await
        .expect("commit 10");
    c.close().await.expect("close");
    let conn = admin
        .cluster()
        .leader_connection(&topic, 0, Purpose::Control)
        .await
        .expect("leader")
        .0;
    let resp = conn
        .send(
            &DeleteRecordsRequest::default()
                .with_topics(vec![DeleteRecordsTopic::default()
                    .with_name(TopicName(StrBytes::from_string(topic.clone())))
                    .with_partitions(vec![DeleteRecordsPartition::default()
                        .with_partition_index(0)
                        .with_offset(30)])])
                .with_timeout_ms(30_000),
        )
        .await
        .expect("DeleteRecords");
    let part = &resp.topics[0].partitions[0];
    assert_eq!((part.error_code, part.low_watermark), (0, 30));
    let c = consumer(&bootstrap, &group, "earliest");
    c.assign(std::slice::from_ref(&p0)).expect("assign");
    let got = poll_n(&c, 20, 60).await;
    assert_eq!(
        got.first().map(|r| r.offset),
        Some(Offset(30)),
        "from the new log start"
    );
    assert_eq!(got.len(), 20);
    c.close().await.expect("close");
}
