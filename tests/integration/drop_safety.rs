//! What happens when a client is dropped without `close` (issue #24, point 1): a producer dropped
//! with records outstanding says how many at WARN and still delivers them while the runtime runs;
//! a runtime that shuts down under it logs the lost records at ERROR; a group consumer dropped
//! without `close` says that it did not leave its group.
//!
//! Each test runs on a current-thread runtime, so every task logs to the thread whose default
//! subscriber captures it.

use crate::group::group_consumer;
use crate::producer::create;
use crate::support::{shared_bootstrap, LogBuf};
use ferrokafka::admin::OffsetSpec;
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::TopicPartition;
use ferrokafka_testcontainers::unique_topic;
use std::time::{Duration, Instant};

const RECORDS: usize = 1_000;

/// These tests capture the client's log with a thread-scoped subscriber and count on timing
/// (a runtime dropped while or after its producer works): one at a time, so a loaded CI machine
/// running them side by side does not change what they see.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f` on a fresh current-thread runtime with a WARN-level subscriber writing into the
/// returned buffer; the runtime is dropped before returning (its tasks with it).
fn with_log<T>(f: impl FnOnce(&tokio::runtime::Runtime) -> T) -> (T, LogBuf) {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let buf = LogBuf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let out = tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let out = f(&rt);
        drop(rt);
        out
    });
    (out, buf)
}

fn producer(bootstrap: &str, linger_ms: &str) -> Producer {
    Producer::new(
        ProducerConfig::from_properties([
            ("bootstrap.servers", bootstrap),
            ("linger.ms", linger_ms),
        ])
        .expect("config"),
    )
    .expect("producer")
}

async fn send_all(p: &Producer, topic: &str) {
    for i in 0..RECORDS {
        // The delivery futures are dropped: the records stay buffered in the producer.
        drop(
            p.send(ProducerRecord::new(topic).value(format!("r{i}")))
                .await
                .expect("buffered"),
        );
    }
}

/// The end offset of partition 0 of `topic`.
async fn end_offset(bootstrap: &str, topic: &str) -> i64 {
    let admin = ferrokafka::admin::AdminClient::new(crate::support::config(bootstrap));
    let tp = TopicPartition::new(topic, 0);
    let mut ends = admin
        .list_offsets(&[(tp.clone(), OffsetSpec::Latest)])
        .await
        .expect("list offsets");
    ends.remove(&tp)
        .expect("partition answered")
        .expect("end offset")
        .offset
        .0
}

#[test]
fn a_dropped_producer_warns_with_its_pending_count_and_delivers_while_the_runtime_runs() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("drop-producer");
    let (delivered, log) = with_log(|rt| {
        rt.block_on(async {
            create(&bootstrap, &topic, 1, 1).await;
            // linger.ms 2 s: the records are still buffered when the handle goes.
            let p = producer(&bootstrap, "2000");
            send_all(&p, &topic).await;
            drop(p);
            // The runtime lives on: the background task sends them.
            let deadline = Instant::now() + Duration::from_secs(30);
            let end = loop {
                let end = end_offset(&bootstrap, &topic).await;
                if end >= RECORDS as i64 || Instant::now() > deadline {
                    break end;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            // The broker's end offset can move before the producer has read its Produce
            // response: give the sender task time to complete the deliveries and stop, or
            // dropping the runtime would cancel it (and rightly log the ERROR).
            tokio::time::sleep(Duration::from_secs(2)).await;
            end
        })
    });
    let text = log.text();
    println!("{text}");
    assert_eq!(
        delivered, RECORDS as i64,
        "every record delivered after the drop"
    );
    let warn = text
        .lines()
        .find(|l| l.contains("producer dropped without close()"))
        .unwrap_or_else(|| panic!("no WARN about the drop in:\n{text}"));
    assert!(
        warn.contains("WARN") && warn.contains("records=1000"),
        "{warn}"
    );
    assert!(!text.contains("ERROR"), "nothing was lost:\n{text}");
}

#[test]
fn a_runtime_that_shuts_down_under_a_producer_logs_the_lost_records() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("drop-runtime");
    let (p, log) = with_log(|rt| {
        rt.block_on(async {
            create(&bootstrap, &topic, 1, 1).await;
            // linger.ms 60 s: nothing is sent before the runtime goes.
            let p = producer(&bootstrap, "60000");
            send_all(&p, &topic).await;
            p
        })
        // `with_log` drops the runtime here, cancelling the sender task.
    });
    let text = log.text();
    println!("{text}");
    let error = text
        .lines()
        .find(|l| l.contains("background task stopped with records not delivered"))
        .unwrap_or_else(|| panic!("no ERROR about the lost records in:\n{text}"));
    assert!(
        error.contains("ERROR") && error.contains("records=1000"),
        "{error}"
    );
    drop(p);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    assert_eq!(
        rt.block_on(end_offset(&bootstrap, &topic)),
        0,
        "the records really were lost (the log told the truth)"
    );
}

#[test]
fn a_group_consumer_dropped_without_close_says_it_did_not_leave() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("drop-consumer");
    let group = unique_topic("drop-consumer-group");
    let ((), log) = with_log(|rt| {
        rt.block_on(async {
            create(&bootstrap, &topic, 1, 1).await;
            let c = group_consumer(&bootstrap, &group, &[]);
            c.subscribe([topic.clone()]).expect("subscribe");
            let deadline = Instant::now() + Duration::from_secs(30);
            while c.assignment().is_empty() {
                assert!(Instant::now() < deadline, "no assignment within 30 s");
                let _ = c.poll(Duration::from_millis(200)).await;
            }
            drop(c);
            // Let the background tasks notice and release their references.
            tokio::time::sleep(Duration::from_millis(500)).await;
        })
    });
    let text = log.text();
    println!("{text}");
    let warn = text
        .lines()
        .find(|l| l.contains("consumer dropped without close()"))
        .unwrap_or_else(|| panic!("no WARN about the drop in:\n{text}"));
    assert!(
        warn.contains(&group) && warn.contains("owned_partitions=1"),
        "{warn}"
    );
}
