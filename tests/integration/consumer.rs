//! The consumer against a real broker: ordered consumption, positions vs committed offsets, the
//! ordered at-least-once loop, redelivery after a crash, offset reset policies, seeks, pause.

use crate::producer::{create, numbered};
use crate::support::shared_bootstrap;
use ferrokafka::consumer::{
    Consumer, ConsumerConfig, ConsumerRecord, FailurePolicy, OrderedProcessor, ProcessingError,
};
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::{Offset, TopicPartition};
use ferrokafka_testcontainers::unique_topic;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Produces `n` numbered records (values carry their sequence number) and waits for them all.
pub async fn produce(
    bootstrap: &str,
    topic: &str,
    n: u64,
    compression: &str,
    partition: Option<i32>,
) {
    let producer = Producer::new(
        ProducerConfig::from_properties([
            ("bootstrap.servers", bootstrap),
            ("compression.type", compression),
            ("linger.ms", "10"),
        ])
        .expect("config"),
    )
    .expect("producer");
    let mut pending = Vec::new();
    for seq in 0..n {
        let mut r = numbered(topic, seq);
        if let Some(p) = partition {
            r = r.partition(p);
        }
        pending.push(producer.send(r).await.expect("buffered"));
    }
    for f in pending {
        f.await.expect("delivered");
    }
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
}

fn consumer(bootstrap: &str, group: Option<&str>, reset: &str) -> Consumer {
    let mut props = vec![
        ("bootstrap.servers", bootstrap.to_owned()),
        ("auto.offset.reset", reset.to_owned()),
        ("enable.auto.commit", "false".to_owned()),
        ("fetch.max.wait.ms", "100".to_owned()),
    ];
    if let Some(g) = group {
        props.push(("group.id", g.to_owned()));
    }
    Consumer::new(ConsumerConfig::from_properties(props).expect("config")).expect("consumer")
}

/// Polls until `n` records arrived (or panics after `secs`).
pub async fn poll_n(c: &Consumer, n: usize, secs: u64) -> Vec<ConsumerRecord> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut out: Vec<ConsumerRecord> = Vec::new();
    while out.len() < n {
        if Instant::now() >= deadline {
            let mut per: BTreeMap<i32, usize> = BTreeMap::new();
            for r in &out {
                *per.entry(r.partition).or_default() += 1;
            }
            for tp in c.assignment() {
                eprintln!(
                    "{tp}: position {:?} lag {:?} got {:?}\n   {}",
                    c.position(&tp),
                    c.lag(&tp),
                    per.get(&tp.partition),
                    c.debug_state(&tp)
                );
            }
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {n} records arrived",
            out.len()
        );
        out.extend(c.poll(Duration::from_millis(500)).await.expect("poll"));
    }
    out
}

pub fn tps(topic: &str, n: i32) -> Vec<TopicPartition> {
    (0..n).map(|p| TopicPartition::new(topic, p)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumes_pre_produced_records_in_order_for_every_codec() {
    let bootstrap = shared_bootstrap();
    for (codec, n) in [
        ("none", 100_000u64),
        ("gzip", 10_000),
        ("snappy", 10_000),
        ("lz4", 10_000),
        ("zstd", 10_000),
    ] {
        let topic = unique_topic(&format!("c-order-{codec}"));
        let admin = create(&bootstrap, &topic, 3, 1).await;
        produce(&bootstrap, &topic, n, codec, None).await;
        let mut in_log = 0;
        for p in 0..3 {
            let got = crate::fetch::read_partition(admin.cluster(), &topic, p).await;
            eprintln!("raw reader: {topic}-{p} has {} records", got.len());
            in_log += got.len();
        }
        assert_eq!(in_log as u64, n, "{codec}: the log holds every record");
        for mode in ["assign", "subscribe"] {
            let c = if mode == "assign" {
                let c = consumer(&bootstrap, None, "earliest");
                c.assign(&tps(&topic, 3)).expect("assign");
                c
            } else {
                let c = consumer(&bootstrap, Some(&unique_topic("g-codec")), "earliest");
                c.subscribe([topic.clone()]).expect("subscribe");
                c
            };
            check_in_order(&c, &topic, codec, mode, n).await;
            c.close().await.expect("close");
        }
    }
}

/// Polls `n` records and checks: no duplicates, contiguous offsets and increasing sequence
/// numbers per partition, positions right after the last record, lag 0, metrics counted.
async fn check_in_order(c: &Consumer, topic: &str, codec: &str, mode: &str, n: u64) {
    let records = poll_n(c, n as usize, 120).await;
    assert_eq!(records.len() as u64, n, "{codec}/{mode}: exactly n records");
    let mut last: BTreeMap<i32, (i64, u64)> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for r in &records {
        let s = u64::from_be_bytes(r.value.as_ref().expect("value")[..8].try_into().expect("8"));
        assert!(seen.insert(s), "{codec}/{mode}: duplicate {s}");
        if let Some((off, prev)) = last.get(&r.partition) {
            assert_eq!(r.offset.0, off + 1, "{codec}/{mode}: offsets contiguous");
            assert!(s > *prev, "{codec}/{mode}: order kept");
        }
        last.insert(r.partition, (r.offset.0, s));
    }
    for (p, (off, _)) in &last {
        assert_eq!(
            c.position(&TopicPartition::new(topic, *p)),
            Some(Offset(off + 1))
        );
        assert_eq!(c.lag(&TopicPartition::new(topic, *p)), Some(0));
    }
    let m = c.metrics();
    assert_eq!(m.get("records-consumed-total"), Some(n as f64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_at_least_once_retries_the_failed_record_before_any_later_one() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("c-alo");
    create(&bootstrap, &topic, 1, 1).await;
    const N: u64 = 300;
    const K: u64 = 137;
    produce(&bootstrap, &topic, N, "none", Some(0)).await;
    let group = unique_topic("g-alo");

    let c = consumer(&bootstrap, Some(&group), "earliest");
    c.assign(&tps(&topic, 1)).expect("assign");
    let mut processor = OrderedProcessor::new(c.clone(), FailurePolicy::RetryForever)
        .expect("processor")
        .with_backoff(Duration::from_millis(50), Duration::from_millis(200));
    let mut processed: Vec<u64> = Vec::new();
    let mut failures_of_k = 0;
    let mut events: Vec<String> = Vec::new();
    // When the handler saw K, each attempt (issue #24: the retry schedule is tested).
    let mut attempts_of_k: Vec<Instant> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while processed.len() < N as usize {
        assert!(
            Instant::now() < deadline,
            "processed only {}",
            processed.len()
        );
        let mut handler = |r: ConsumerRecord| {
            let s = u64::from_be_bytes(r.value.as_ref().expect("v")[..8].try_into().expect("8"));
            if s == K {
                attempts_of_k.push(Instant::now());
            }
            let fail = s == K && failures_of_k < 3;
            if fail {
                failures_of_k += 1;
                events.push(format!("fail {s}"));
            } else {
                processed.push(s);
                events.push(format!("ok {s}"));
            }
            async move {
                if fail {
                    Err("downstream unavailable")
                } else {
                    Ok(())
                }
            }
        };
        processor
            .poll_and_process(&mut handler)
            .await
            .expect("round");
    }
    assert_eq!(
        processed,
        (0..N).collect::<Vec<_>>(),
        "exactly 0..N, in order"
    );
    assert_eq!(failures_of_k, 3);
    // The retry schedule: the backoff (50 ms, 100 ms, 200 ms; ±20 % jitter), plus the refetch
    // of the record, which may wait for a fetch already in flight to the leader (up to
    // fetch.max.wait.ms, 100 ms here) — the documented bound.
    let gaps: Vec<u128> = attempts_of_k
        .windows(2)
        .map(|w| w[1].duration_since(w[0]).as_millis())
        .collect();
    println!("retries of {K} after {gaps:?} ms");
    assert_eq!(gaps.len(), 3, "three failures, then the success");
    for (i, (gap, backoff)) in gaps.iter().zip([50u128, 100, 200]).enumerate() {
        assert!(
            *gap >= backoff * 8 / 10,
            "retry {i} after {gap} ms, before its backoff {backoff} ms"
        );
        assert!(
            *gap <= backoff * 12 / 10 + 100 + 250,
            "retry {i} after {gap} ms: backoff {backoff} ms + fetch.max.wait.ms 100 ms + 250 ms slack"
        );
    }
    // Nothing after K was processed before K succeeded.
    let first_fail = events
        .iter()
        .position(|e| e == &format!("fail {K}"))
        .expect("failed");
    let k_ok = events
        .iter()
        .position(|e| e == &format!("ok {K}"))
        .expect("succeeded");
    assert!(
        events[first_fail..k_ok]
            .iter()
            .all(|e| e.starts_with("fail")),
        "{:?}",
        &events[first_fail..=k_ok]
    );
    let tp = TopicPartition::new(&topic, 0);
    assert_eq!(
        c.committed(std::slice::from_ref(&tp))
            .await
            .expect("committed")[&tp]
            .as_ref()
            .map(|c| c.offset),
        Some(Offset(N as i64))
    );
    c.close().await.expect("close");

    // A restarted consumer of the group processes nothing below the committed offset again.
    produce(&bootstrap, &topic, 1, "none", Some(0)).await; // one new record (seq 0 again, offset N)
    let c2 = consumer(&bootstrap, Some(&group), "earliest");
    c2.assign(std::slice::from_ref(&tp)).expect("assign");
    let again = poll_n(&c2, 1, 60).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].offset, Offset(N as i64), "only the new record");
    c2.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_policy_returns_the_error_and_commits_what_succeeded() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("c-stop");
    create(&bootstrap, &topic, 1, 1).await;
    produce(&bootstrap, &topic, 20, "none", Some(0)).await;
    let group = unique_topic("g-stop");
    let c = consumer(&bootstrap, Some(&group), "earliest");
    c.assign(&tps(&topic, 1)).expect("assign");
    let mut processor = OrderedProcessor::new(c.clone(), FailurePolicy::Stop { max_attempts: 2 })
        .expect("processor")
        .with_backoff(Duration::from_millis(20), Duration::from_millis(50));
    let mut handler = |r: ConsumerRecord| {
        let bad = r.offset.0 == 7;
        async move {
            if bad {
                Err("poison")
            } else {
                Ok(())
            }
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let err = loop {
        assert!(Instant::now() < deadline);
        match processor.poll_and_process(&mut handler).await {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    match err {
        ProcessingError::Handler {
            record, attempts, ..
        } => {
            assert_eq!(record.offset, Offset(7));
            assert_eq!(attempts, 2);
        }
        other => panic!("{other}"),
    }
    let tp = TopicPartition::new(&topic, 0);
    assert_eq!(
        c.committed(std::slice::from_ref(&tp))
            .await
            .expect("committed")[&tp]
            .as_ref()
            .map(|c| c.offset),
        Some(Offset(7))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_without_commit_redelivers_and_commit_then_close_does_not() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("c-redeliver");
    create(&bootstrap, &topic, 1, 1).await;
    produce(&bootstrap, &topic, 100, "none", Some(0)).await;
    let group = unique_topic("g-redeliver");
    let tp = TopicPartition::new(&topic, 0);

    // Process 40 and commit, then 30 more without committing, then vanish.
    let c = consumer(&bootstrap, Some(&group), "earliest");
    c.assign(std::slice::from_ref(&tp)).expect("assign");
    let mut got = Vec::new();
    while got.len() < 40 {
        got.push(c.recv().await.expect("recv"));
    }
    assert_eq!(c.position(&tp), Some(Offset(40)));
    c.commit(&[(tp.clone(), Offset(40))]).await.expect("commit");
    for _ in 0..30 {
        c.recv().await.expect("recv");
    }
    assert_eq!(c.position(&tp), Some(Offset(70)), "position moved");
    assert_eq!(
        c.committed(std::slice::from_ref(&tp)).await.expect("c")[&tp]
            .as_ref()
            .map(|c| c.offset),
        Some(Offset(40)),
        "committed did not"
    );
    drop(c);

    // A new consumer of the group resumes at the committed offset: 30 records redelivered.
    let c = consumer(&bootstrap, Some(&group), "earliest");
    c.assign(std::slice::from_ref(&tp)).expect("assign");
    let first = c.recv().await.expect("recv");
    assert_eq!(
        first.offset,
        Offset(40),
        "redelivery from the committed offset"
    );
    let mut n = 1;
    while n < 60 {
        c.recv().await.expect("recv");
        n += 1;
    }
    c.commit_positions().await.expect("commit");
    c.close().await.expect("close");

    // Committed and closed: nothing is redelivered.
    let c = consumer(&bootstrap, Some(&group), "earliest");
    c.assign(std::slice::from_ref(&tp)).expect("assign");
    let more = c.poll(Duration::from_secs(3)).await.expect("poll");
    assert!(more.is_empty(), "redelivered {} records", more.len());
    assert_eq!(c.position(&tp), Some(Offset(100)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_reset_policies_seeks_and_pause() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("c-reset");
    create(&bootstrap, &topic, 2, 1).await;
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    // 50 records on partition 0 with timestamps t0 + i seconds, 10 on partition 1.
    let producer = Producer::new(
        ProducerConfig::from_properties([("bootstrap.servers", bootstrap.as_str())]).expect("cfg"),
    )
    .expect("producer");
    let mut fs = Vec::new();
    for i in 0..50i64 {
        fs.push(
            producer
                .send(
                    ProducerRecord::new(&topic)
                        .partition(0)
                        .value(i.to_string())
                        .timestamp(t0 + i * 1000),
                )
                .await
                .expect("send"),
        );
    }
    for i in 0..10 {
        fs.push(
            producer
                .send(
                    ProducerRecord::new(&topic)
                        .partition(1)
                        .value(i.to_string()),
                )
                .await
                .expect("send"),
        );
    }
    for f in fs {
        f.await.expect("delivered");
    }
    let p0 = TopicPartition::new(&topic, 0);
    let p1 = TopicPartition::new(&topic, 1);

    // earliest: from offset 0.
    let c = consumer(&bootstrap, Some(&unique_topic("g-e")), "earliest");
    c.assign(std::slice::from_ref(&p0)).expect("assign");
    assert_eq!(c.recv().await.expect("recv").offset, Offset(0));
    // seek_to_timestamp: the first record at or after t0 + 20 s is offset 20.
    c.seek_to_timestamp(&p0, t0 + 20_000).expect("seek");
    assert_eq!(c.recv().await.expect("recv").offset, Offset(20));
    // seek / seek_to_end / seek_to_beginning.
    c.seek(&p0, Offset(45)).expect("seek");
    assert_eq!(c.recv().await.expect("recv").offset, Offset(45));
    c.seek_to_beginning(std::slice::from_ref(&p0))
        .expect("seek");
    assert_eq!(c.recv().await.expect("recv").offset, Offset(0));
    c.seek_to_end(std::slice::from_ref(&p0)).expect("seek");
    assert!(c
        .poll(Duration::from_millis(1500))
        .await
        .expect("poll")
        .is_empty());
    assert_eq!(c.position(&p0), Some(Offset(50)));

    // latest: nothing old, only what is produced afterwards.
    let c = consumer(&bootstrap, Some(&unique_topic("g-l")), "latest");
    c.assign(std::slice::from_ref(&p1)).expect("assign");
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.position(&p1).is_none() {
        assert!(Instant::now() < deadline, "no position");
        c.poll(Duration::from_millis(100)).await.expect("poll");
    }
    assert_eq!(c.position(&p1), Some(Offset(10)));
    producer
        .send(ProducerRecord::new(&topic).partition(1).value("new"))
        .await
        .expect("send")
        .await
        .expect("ok");
    let r = c.recv().await.expect("recv");
    assert_eq!(
        (r.offset, r.value.as_deref()),
        (Offset(10), Some(&b"new"[..]))
    );

    // none: an error naming the partition, no records.
    let c = consumer(&bootstrap, Some(&unique_topic("g-n")), "none");
    c.assign(std::slice::from_ref(&p0)).expect("assign");
    let deadline = Instant::now() + Duration::from_secs(30);
    let err = loop {
        assert!(
            Instant::now() < deadline,
            "no error for auto.offset.reset=none"
        );
        match c.poll(Duration::from_millis(500)).await {
            Ok(r) => assert!(r.is_empty()),
            Err(e) => break e,
        }
    };
    assert!(err.to_string().contains(&p0.to_string()), "{err}");
    assert!(!err.is_retriable());

    // pause / resume: a paused partition hands out nothing, others continue.
    let c = consumer(&bootstrap, None, "earliest");
    c.assign(&[p0.clone(), p1.clone()]).expect("assign");
    c.pause(std::slice::from_ref(&p0));
    let got = poll_n(&c, 11, 60).await;
    assert!(got.iter().all(|r| r.partition == 1));
    assert!(c
        .poll(Duration::from_millis(1000))
        .await
        .expect("poll")
        .is_empty());
    c.resume(std::slice::from_ref(&p0));
    let got = poll_n(&c, 50, 60).await;
    assert!(got.iter().all(|r| r.partition == 0));
    assert_eq!(got[0].offset, Offset(0));
    producer.close(Duration::from_secs(5)).await.expect("close");
}
