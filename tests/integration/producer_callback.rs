//! `Producer::send_with_callback` against a real broker: every buffered record's callback runs
//! exactly once with the outcome the log agrees with, in acknowledgement order per partition; a
//! refused record reports through `send_with_callback`'s own error and never through its
//! callback; a panicking callback harms no other record.

use crate::fetch::read_partition;
use crate::producer::{create, numbered, seq_of, verify_log};
use crate::support::shared_bootstrap;
use ferrokafka::producer::{Persistence, Producer, ProducerConfig, ProducerRecord};
use ferrokafka::ErrorKind;
use ferrokafka_testcontainers::unique_topic;
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
