//! `Producer::send_with_callback` against a real broker: every buffered record's callback runs
//! exactly once with the outcome the log agrees with, in acknowledgement order per partition; a
//! refused record reports through `send_with_callback`'s own error and never through its
//! callback; a panicking callback harms no other record. And a `send` cancelled while it waits
//! for `buffer.memory` leaves nothing behind that a later `flush` would wait for.

use crate::fetch::read_partition;
use crate::producer::{create, numbered, seq_of, verify_log};
use crate::support::{blocking, shared_bootstrap};
use ferrokafka::producer::{Persistence, Producer, ProducerConfig, ProducerRecord};
use ferrokafka::ErrorKind;
use ferrokafka_testcontainers::{unique_topic, Kafka, Topology};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the callbacks saw: per sequence number, its (partition, offset) or the error's text.
type Reports = Arc<Mutex<Vec<(u64, Result<(i32, i64), String>)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_report_every_record_once_in_order_and_a_panic_harms_nothing() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("p-callback");
    let admin = create(&bootstrap, &topic, 3, 1).await;
    let cfg = ProducerConfig::builder()
        .bootstrap_servers(&bootstrap)
        .max_request_size(100_000)
        .build()
        .expect("config");
    let producer = Producer::new(cfg).expect("producer");
    const N: u64 = 50_000;
    const PANICS_AT: u64 = 31_337;
    let reports: Reports = Arc::default();
    let panicked = Arc::new(AtomicU64::new(0));
    for seq in 0..N {
        let record = numbered(&topic, seq);
        if seq == PANICS_AT {
            let panicked = panicked.clone();
            producer
                .send_with_callback(record, move |_| {
                    panicked.fetch_add(1, Ordering::SeqCst);
                    panic!("a delivery callback that panics (on purpose)");
                })
                .await
                .expect("buffered");
            continue;
        }
        let reports = reports.clone();
        producer
            .send_with_callback(record, move |result| {
                let r = result
                    .map(|m| {
                        assert_eq!(m.persistence, Persistence::Persisted);
                        (m.partition, m.offset.0)
                    })
                    .map_err(|e| e.to_string());
                reports.lock().expect("reports").push((seq, r));
            })
            .await
            .expect("buffered");
        if seq == 1_000 {
            // Refused before buffering: the error comes back here, the callback never runs.
            let called = Arc::new(AtomicU64::new(0));
            let c = called.clone();
            let big = ProducerRecord::new(topic.as_str()).value(vec![0u8; 200_000]);
            let e = producer
                .send_with_callback(big, move |_| {
                    c.fetch_add(1, Ordering::SeqCst);
                })
                .await
                .expect_err("over max.request.size");
            assert!(
                matches!(e.error.kind(), ErrorKind::RecordTooLarge { .. }),
                "{e}"
            );
            assert_eq!(e.persistence, Persistence::NotPersisted);
            assert_eq!(e.record.value.as_ref().map(|v| v.len()), Some(200_000));
            tokio::task::yield_now().await;
            assert_eq!(called.load(Ordering::SeqCst), 0);
        }
    }
    producer
        .close(Duration::from_secs(30))
        .await
        .expect("close");
    assert_eq!(
        panicked.load(Ordering::SeqCst),
        1,
        "the panicking callback ran once"
    );

    let reports = std::mem::take(&mut *reports.lock().expect("reports"));
    assert_eq!(
        reports.len() as u64,
        N - 1,
        "one report per record but the panicking one"
    );
    // Per partition the callbacks ran in offset order, and offsets follow the send order.
    let mut last: BTreeMap<i32, (u64, i64)> = BTreeMap::new();
    let mut at: BTreeMap<(i32, i64), u64> = BTreeMap::new();
    for (seq, r) in &reports {
        let (p, off) = r
            .clone()
            .unwrap_or_else(|e| panic!("record {seq} failed: {e}"));
        if let Some((lseq, loff)) = last.insert(p, (*seq, off)) {
            assert!(
                off > loff && *seq > lseq,
                "{topic}-{p}: record {seq}@{off} reported after {lseq}@{loff}"
            );
        }
        assert!(at.insert((p, off), *seq).is_none(), "offset reported twice");
    }
    // The log holds every record once, in order, and agrees with the reports.
    let (seen, total) = verify_log(&admin, &topic, 3).await;
    assert_eq!((total as u64, seen.len() as u64), (N, N));
    for p in 0..3 {
        for r in read_partition(admin.cluster(), &topic, p).await {
            let s = seq_of(&r);
            if s != PANICS_AT {
                assert_eq!(at.get(&(p, r.offset)), Some(&s), "{topic}-{p}@{}", r.offset);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_cancelled_while_waiting_for_memory_does_not_hold_up_flush() {
    let kafka = blocking(|| Kafka::start_proxied(Topology::Single))
        .await
        .unwrap_or_else(|e| panic!("proxied broker: {e}"));
    let Some(proxy) = kafka.proxy(1) else {
        panic!("a proxied cluster has a proxy for node 1")
    };
    let topic = unique_topic("p-cancel");
    let _admin = create(&kafka.direct_bootstrap(), &topic, 1, 1).await;
    // Room for two 1 KiB records; requests that go unanswered hold it.
    let producer = Producer::new(
        ProducerConfig::from_properties([
            ("bootstrap.servers", kafka.bootstrap().as_str()),
            ("buffer.memory", "2600"),
            ("batch.size", "1100"),
            ("linger.ms", "0"),
            ("request.timeout.ms", "2000"),
            ("reconnect.backoff.max.ms", "200"),
        ])
        .expect("config"),
    )
    .expect("producer");
    let record = || ProducerRecord::new(topic.as_str()).value(vec![b'x'; 1000]);
    producer
        .send(record())
        .await
        .expect("buffered")
        .await
        .expect("the first record, before the fault, is persisted");
    proxy.set_blackhole(true);
    let a = producer.send(record()).await.expect("room for the second");
    let b = producer.send(record()).await.expect("room for the third");
    // The fourth waits for memory the blackholed requests hold; give up on it (cancel).
    let waited = tokio::time::timeout(Duration::from_millis(500), producer.send(record())).await;
    assert!(
        waited.is_err(),
        "the fourth send should have waited for buffer.memory"
    );
    proxy.set_blackhole(false);
    // The two buffered records are delivered after the request timeout; the cancelled one was
    // never buffered, so the flush must end once they are in.
    tokio::time::timeout(Duration::from_secs(60), producer.flush())
        .await
        .expect("flush ends: the cancelled send left nothing counted")
        .expect("flush");
    for (i, d) in [a, b].into_iter().enumerate() {
        let m = d.await.unwrap_or_else(|e| panic!("record {i}: {e}"));
        assert_eq!(m.persistence, Persistence::Persisted);
    }
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
}
