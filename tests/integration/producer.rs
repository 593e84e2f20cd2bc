//! The producer against a real broker: exactly-once in-order delivery with idempotence, codecs
//! and acks, oversized records, unknown topics, and broker failures mid-stream.

use crate::fetch::{read_partition, Fetched};
use crate::support::{config, shared_bootstrap};
use bytes::Bytes;
use ferrokafka::admin::{AdminClient, NewTopic};
use ferrokafka::producer::{
    Acks, CompressionType, DeliveryFuture, Persistence, Producer, ProducerConfig, ProducerRecord,
};
use ferrokafka_testcontainers::unique_topic;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

pub async fn create(bootstrap: &str, topic: &str, partitions: i32, rf: i16) -> AdminClient {
    let admin = AdminClient::new(config(bootstrap));
    admin
        .create_topic(NewTopic::new(topic, partitions, rf))
        .await
        .expect("create topic");
    admin
        .wait_for_topic(topic, partitions as usize, Duration::from_secs(60))
        .await
        .expect("topic ready");
    admin
}

/// A record whose value carries its global sequence number and whose `id` header is unique.
pub fn numbered(topic: &str, seq: u64) -> ProducerRecord {
    ProducerRecord::new(topic)
        .key(format!("k{}", seq % 97))
        .value(seq.to_be_bytes().to_vec())
        .header("id", format!("{topic}/{seq}"))
}

pub fn seq_of(r: &Fetched) -> u64 {
    let v = r.value.as_ref().expect("value");
    u64::from_be_bytes(v[..8].try_into().expect("8 bytes"))
}

/// Reads all partitions and checks: no duplicate ids, and per partition the sequence numbers
/// increase with the offsets. Returns the set of sequence numbers read.
pub async fn verify_log(
    admin: &AdminClient,
    topic: &str,
    partitions: i32,
) -> (HashSet<u64>, usize) {
    let mut seen = HashSet::new();
    let mut total = 0;
    for p in 0..partitions {
        let records = read_partition(admin.cluster(), topic, p).await;
        let mut last: Option<u64> = None;
        for r in &records {
            let s = seq_of(r);
            assert!(
                seen.insert(s),
                "duplicate record {s} in {topic}-{p} at offset {}",
                r.offset
            );
            if let Some(l) = last {
                assert!(
                    s > l,
                    "{topic}-{p}: record {s} after {l} (offset {})",
                    r.offset
                );
            }
            last = Some(s);
            assert_eq!(r.header("id"), Some(&Bytes::from(format!("{topic}/{s}"))));
        }
        total += records.len();
    }
    (seen, total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_100k_records_exactly_once_in_order() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("p-100k");
    let admin = create(&bootstrap, &topic, 3, 1).await;
    let cfg = ProducerConfig::builder()
        .bootstrap_servers(&bootstrap)
        .build()
        .expect("config");
    assert!(cfg.enable_idempotence && cfg.acks == Acks::All);
    let producer = Producer::new(cfg).expect("producer");
    const N: u64 = 100_000;
    let mut pending: Vec<(u64, DeliveryFuture)> = Vec::with_capacity(N as usize);
    for seq in 0..N {
        let f = producer
            .send(numbered(&topic, seq))
            .await
            .expect("buffered");
        pending.push((seq, f));
    }
    let mut offsets: BTreeMap<(i32, i64), u64> = BTreeMap::new();
    for (seq, f) in pending {
        let m = f
            .await
            .unwrap_or_else(|e| panic!("record {seq} failed: {e}"));
        assert_eq!(m.persistence, Persistence::Persisted);
        assert!(m.has_offset(), "acks=all returns the offset: {m}");
        let off = m.offset.0;
        assert!(
            offsets.insert((m.partition, off), seq).is_none(),
            "offset reused"
        );
    }
    let metrics = producer.metrics();
    assert_eq!(metrics.get("record-send-total"), Some(N as f64));
    assert_eq!(metrics.get("record-error-total"), Some(0.0));
    assert!(metrics.get("batch-size-avg").unwrap_or(0.0) > 1000.0);
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");

    let (seen, total) = verify_log(&admin, &topic, 3).await;
    assert_eq!(total, N as usize);
    assert_eq!(seen.len(), N as usize);
    // Delivery reports match the log.
    for p in 0..3 {
        for r in read_partition(admin.cluster(), &topic, p)
            .await
            .iter()
            .take(1000)
        {
            assert_eq!(offsets.get(&(p, r.offset)), Some(&seq_of(r)));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_every_acks_and_codec_with_headers_and_nulls() {
    let bootstrap = shared_bootstrap();
    let codecs = [
        CompressionType::None,
        CompressionType::Gzip,
        CompressionType::Snappy,
        CompressionType::Lz4,
        CompressionType::Zstd,
    ];
    for acks in ["0", "1", "all"] {
        for codec in codecs {
            let topic = unique_topic(&format!("p-rt-{acks}-{}", codec.name()));
            let admin = create(&bootstrap, &topic, 1, 1).await;
            let producer = Producer::new(
                ProducerConfig::from_properties([
                    ("bootstrap.servers", bootstrap.as_str()),
                    ("acks", acks),
                    ("compression.type", codec.name()),
                    ("linger.ms", "20"),
                ])
                .expect("config"),
            )
            .expect("producer");
            let mut futures = Vec::new();
            for i in 0..200u32 {
                let mut r = ProducerRecord::new(&topic).partition(0);
                if i % 3 != 0 {
                    r = r.key(format!("key-{i}"));
                }
                if i % 5 != 0 {
                    r = r.value(vec![(i % 251) as u8; (i as usize * 37) % 3000]);
                }
                r = r.header("i", i.to_string()).null_header("nothing");
                futures.push(producer.send(r).await.expect("buffered"));
            }
            for f in futures {
                let m = f.await.expect("delivered");
                if acks == "0" {
                    assert_eq!(m.persistence, Persistence::PossiblyPersisted);
                    assert!(!m.has_offset(), "acks=0: no offset: {m}");
                    assert!(
                        m.to_string()
                            .contains("offset unknown (possibly persisted)"),
                        "{m}"
                    );
                } else {
                    assert_eq!(m.persistence, Persistence::Persisted);
                    assert!(m.has_offset(), "{m}");
                    assert!(m.to_string().ends_with("(persisted)"), "{m}");
                }
            }
            // With acks=0 "delivered" means "written to the socket": wait for the broker to
            // append them all.
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            let got = loop {
                let got = read_partition(admin.cluster(), &topic, 0).await;
                if got.len() >= 200 || std::time::Instant::now() > deadline {
                    break got;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            };
            producer
                .close(Duration::from_secs(10))
                .await
                .expect("close");
            assert_eq!(got.len(), 200, "acks={acks} codec={codec:?}");
            for (i, r) in got.iter().enumerate() {
                let i = i as u32;
                assert_eq!(r.key.is_none(), i.is_multiple_of(3));
                match &r.value {
                    None => assert_eq!(i % 5, 0),
                    Some(v) => {
                        assert_eq!(v.len(), (i as usize * 37) % 3000);
                        assert!(v.iter().all(|b| *b == (i % 251) as u8));
                    }
                }
                assert_eq!(r.header("i"), Some(&Bytes::from(i.to_string())));
                assert!(r.headers.iter().any(|(k, v)| k == "nothing" && v.is_none()));
            }
            admin.delete_topics(&[&topic]).await.expect("delete");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_records_fail_alone_and_not_persisted() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("p-big");
    let admin = AdminClient::new(config(&bootstrap));
    admin
        .create_topic(NewTopic::new(&topic, 1, 1).config("max.message.bytes", "20000"))
        .await
        .expect("create");
    admin
        .wait_for_topic(&topic, 1, Duration::from_secs(30))
        .await
        .expect("ready");
    let producer = Producer::new(
        ProducerConfig::builder()
            .bootstrap_servers(&bootstrap)
            .max_request_size(100_000)
            .batch_size(16384)
            .build()
            .expect("config"),
    )
    .expect("producer");
    // Over max.request.size: refused by the client at once.
    let err = producer
        .send(ProducerRecord::new(&topic).value(vec![1u8; 200_000]))
        .await
        .expect_err("over max.request.size");
    assert_eq!(err.persistence, Persistence::NotPersisted);
    assert!(!err.error.is_retriable());
    assert!(
        matches!(
            err.error.kind(),
            ferrokafka::ErrorKind::RecordTooLarge {
                limit_key: "max.request.size",
                ..
            }
        ),
        "client-side RecordTooLarge: {err}"
    );
    assert!(err.to_string().contains("(not persisted)"), "{err}");
    assert_eq!(err.record.value.as_ref().map(|v| v.len()), Some(200_000));

    // Under max.request.size but over the topic's max.message.bytes: the broker refuses that
    // batch only.
    let before = producer
        .send(ProducerRecord::new(&topic).value("before"))
        .await
        .expect("buffered");
    producer.flush().await.expect("flush");
    let big = producer
        .send(ProducerRecord::new(&topic).value(vec![2u8; 50_000]))
        .await
        .expect("buffered");
    let after = producer
        .send(ProducerRecord::new(&topic).value("after"))
        .await
        .expect("buffered");
    assert!(before.await.is_ok());
    let e = big.await.expect_err("over max.message.bytes");
    assert_eq!(e.error.broker_code(), Some(10), "{}", e.error); // MESSAGE_TOO_LARGE
                                                                // It says which settings to change (issue #24).
    let text = e.error.to_string();
    assert!(
        text.contains("max.message.bytes") && text.contains("max.request.size"),
        "{text}"
    );
    assert_eq!(e.persistence, Persistence::NotPersisted);
    assert!(!e.error.is_retriable() && !e.error.is_fatal());
    let after = after
        .await
        .expect("neighbour after the big record succeeds");
    assert_eq!(after.persistence, Persistence::Persisted);
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
    let got = read_partition(admin.cluster(), &topic, 0).await;
    let values: Vec<_> = got
        .iter()
        .map(|r| r.value.clone().unwrap_or_default())
        .collect();
    assert_eq!(values, vec![Bytes::from("before"), Bytes::from("after")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_topic_without_auto_creation_fails_within_max_block() {
    let bootstrap = shared_bootstrap();
    let cfg = ProducerConfig::builder()
        .client(|c| {
            c.bootstrap_servers(&bootstrap)
                .allow_auto_create_topics(false)
        })
        .max_block(Duration::from_secs(2))
        .build()
        .expect("config");
    let producer = Producer::new(cfg).expect("producer");
    let topic = unique_topic("p-missing");
    let t0 = std::time::Instant::now();
    let err = producer
        .send(ProducerRecord::new(&topic).value("x"))
        .await
        .expect_err("unknown topic");
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t0.elapsed()
    );
    assert_eq!(err.persistence, Persistence::NotPersisted);
    let msg = err.error.to_string();
    assert!(
        msg.contains(&topic) && msg.contains("max.block.ms"),
        "{msg}"
    );
    assert_eq!(err.record.topic, topic);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_illegal_topic_name_fails_alone_with_its_reason() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("p-legal");
    let admin = create(&bootstrap, &topic, 1, 1).await;
    let producer = Producer::new(
        ProducerConfig::builder()
            .bootstrap_servers(&bootstrap)
            .build()
            .expect("config"),
    )
    .expect("producer");
    let err = producer
        .send(ProducerRecord::new("bad topic!").value("x"))
        .await
        .expect_err("illegal name");
    assert!(
        matches!(err.error.kind(), ferrokafka::ErrorKind::InvalidArgument),
        "{err}"
    );
    assert_eq!(err.persistence, Persistence::NotPersisted);
    let msg = err.to_string();
    assert!(
        msg.contains("invalid topic name \"bad topic!\"") && msg.contains("' '"),
        "{msg}"
    );
    let ok = producer
        .send(ProducerRecord::new(&topic).value("fine"))
        .await
        .expect("legal topic")
        .await
        .expect("delivered");
    assert!(ok.has_offset(), "{ok}");
    assert_eq!(ok.to_string(), format!("{topic}-0@0 (persisted)"));
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
    admin.delete_topics(&[&topic]).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_configuration_combinations_name_the_keys() {
    use ferrokafka::ErrorKind;
    let bootstrap = shared_bootstrap();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("enable.idempotence", "true"), ("acks", "1")], "acks"),
        (
            &[("enable.idempotence", "true"), ("retries", "0")],
            "retries",
        ),
        (
            &[
                ("max.in.flight.requests.per.connection", "6"),
                ("enable.idempotence", "true"),
            ],
            "max.in.flight.requests.per.connection",
        ),
        (
            &[
                ("delivery.timeout.ms", "1000"),
                ("request.timeout.ms", "5000"),
            ],
            "delivery.timeout.ms",
        ),
        (&[("acks", "2")], "acks"),
        (&[("compression.type", "brotli")], "compression.type"),
        (&[("linger.ms", "-1")], "linger.ms"),
        (&[("no.such.setting", "1")], "no.such.setting"),
    ];
    for (props, key) in cases {
        let mut all = vec![("bootstrap.servers", bootstrap.as_str())];
        all.extend_from_slice(props);
        let err = ProducerConfig::from_properties(all).expect_err(key);
        match err.kind() {
            ErrorKind::Config { key: k, .. } => {
                assert!(
                    k.contains(key),
                    "{props:?}: error names {k:?}, expected {key:?}"
                )
            }
            other => panic!("{props:?}: not a config error: {other:?}"),
        }
        assert!(!err.is_retriable());
    }
}
