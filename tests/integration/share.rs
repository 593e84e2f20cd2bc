//! Share groups (KIP-932) against a real broker: two members share one partition (the queue
//! semantic a consumer group cannot give), release redelivers with a higher delivery count,
//! reject never redelivers, an expired acquisition lock hands the records to another member,
//! and misuse of acknowledgements is a typed error.

use crate::consumer::produce;
use crate::producer::create;
use crate::support::{config, shared_bootstrap};
use ferrokafka::admin::{AdminClient, AlterConfigOp, ConfigResource};
use ferrokafka::share::{AcknowledgeType, ShareConsumer, ShareConsumerConfig, ShareRecord};
use ferrokafka::ErrorKind;
use ferrokafka_testcontainers::unique_topic;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Sets the share group's configs (they must be set before its members fetch: a share group
/// starts at the latest offset unless `share.auto.offset.reset=earliest`).
pub(crate) async fn group_configs(bootstrap: &str, group: &str, lock_ms: Option<u32>) {
    group_configs_with(bootstrap, group, lock_ms, &[]).await;
}

/// [`group_configs`] plus `extra` group configs.
pub(crate) async fn group_configs_with(
    bootstrap: &str,
    group: &str,
    lock_ms: Option<u32>,
    extra: &[(&str, &str)],
) {
    let admin = AdminClient::new(config(bootstrap));
    let mut ops = vec![AlterConfigOp::set("share.auto.offset.reset", "earliest")];
    if let Some(ms) = lock_ms {
        ops.push(AlterConfigOp::set(
            "share.record.lock.duration.ms",
            ms.to_string(),
        ));
    }
    for (k, v) in extra {
        ops.push(AlterConfigOp::set(*k, *v));
    }
    let out = admin
        .incremental_alter_configs(&[(ConfigResource::Group(group.to_string()), ops)])
        .await
        .expect("alter group configs");
    for (r, res) in out {
        res.unwrap_or_else(|e| panic!("{r}: {e}"));
    }
}

pub(crate) fn member(bootstrap: &str, group: &str, mode: &str, max_records: &str) -> ShareConsumer {
    ShareConsumer::new(
        ShareConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap),
            ("group.id", group),
            ("share.acknowledgement.mode", mode),
            ("max.poll.records", max_records),
            ("retry.backoff.ms", "50"),
        ])
        .expect("config"),
    )
    .expect("share consumer")
}

pub(crate) fn seq(r: &ShareRecord) -> u64 {
    u64::from_be_bytes(
        r.value.as_ref().expect("value")[..8]
            .try_into()
            .expect("8 bytes"),
    )
}

/// Two members of one share group on a single-partition topic both receive records, and
/// together every record exactly once (implicit acknowledgement: each poll accepts the last).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_share_one_partition_and_see_every_record_once() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("share-two");
    let group = unique_topic("share-two-g");
    create(&bootstrap, &topic, 1, 1).await;
    group_configs(&bootstrap, &group, None).await;
    const N: u64 = 2_000;
    produce(&bootstrap, &topic, N, "none", None).await;

    let started = Instant::now();
    let a = member(&bootstrap, &group, "implicit", "100");
    let b = member(&bootstrap, &group, "implicit", "100");
    // Acknowledgements that ride on fetches are reported to the callback too.
    let committed_ok = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = committed_ok.clone();
    a.set_acknowledgement_commit_callback(move |outcome| {
        let ok = outcome.values().filter(|r| r.is_ok()).count();
        c.fetch_add(ok, std::sync::atomic::Ordering::Relaxed);
    });
    a.subscribe([topic.as_str()]).expect("subscribe");
    b.subscribe([topic.as_str()]).expect("subscribe");
    // Both members are assigned the partition before either fetches: otherwise the first one
    // could take all 2,000 records before the other's first heartbeat answer.
    let deadline = Instant::now() + Duration::from_secs(30);
    while a.assignment().is_empty() || b.assignment().is_empty() {
        assert!(
            Instant::now() < deadline,
            "both members assigned within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    let mut per_member = [0usize; 2];
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < N as usize {
        assert!(
            Instant::now() < deadline,
            "only {} of {N} records in 60 s",
            seen.len()
        );
        // Poll both at once: a member blocked in a long poll would leave the other all records.
        let (ra, rb) = tokio::join!(
            a.poll(Duration::from_millis(300)),
            b.poll(Duration::from_millis(300))
        );
        for (i, records) in [ra.expect("poll a"), rb.expect("poll b")]
            .into_iter()
            .enumerate()
        {
            per_member[i] += records.len();
            for r in records {
                assert_eq!(r.delivery_count, 1, "{r}: nothing was released");
                *seen.entry(seq(&r)).or_default() += 1;
            }
        }
    }
    let dup: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dup.is_empty(), "records handed out twice: {dup:?}");
    assert_eq!(seen.len() as u64, N);
    assert!(
        per_member[0] > 0 && per_member[1] > 0,
        "both members receive records from one partition: {per_member:?}"
    );
    println!(
        "share: {N} records, one partition, two members {per_member:?}, none twice, in {:?}",
        started.elapsed()
    );
    // The last polls' records are accepted by a commit.
    let _ = a.commit_sync().await.expect("commit a");
    let _ = b.commit_sync().await.expect("commit b");
    let (ma, mb) = (a.metrics(), b.metrics());
    let total = |n: &str| ma.get(n).unwrap_or(0.0) + mb.get(n).unwrap_or(0.0);
    assert_eq!(total("records-consumed-total"), N as f64);
    assert_eq!(
        total("acknowledgements-send-total"),
        N as f64,
        "every record accepted once"
    );
    assert_eq!(total("acknowledgements-error-total"), 0.0);
    assert!(
        committed_ok.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "the callback heard of committed acknowledgements"
    );
    assert!(
        ma.get("heartbeat-total").unwrap_or(0.0) >= 1.0
            && ma.get("fetch-total").unwrap_or(0.0) >= 1.0
    );
    a.close().await.expect("close a");
    b.close().await.expect("close b");
}

/// Explicit acknowledgement: a released record comes back with delivery count 2, a rejected
/// one never does, and acknowledgement misuse is a typed error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_redelivers_with_count_two_and_reject_never_redelivers() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("share-ack");
    let group = unique_topic("share-ack-g");
    create(&bootstrap, &topic, 1, 1).await;
    group_configs(&bootstrap, &group, None).await;
    produce(&bootstrap, &topic, 10, "none", None).await;

    let c = member(&bootstrap, &group, "explicit", "500");
    c.subscribe([topic.as_str()]).expect("subscribe");
    let mut first = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while first.len() < 10 {
        assert!(
            Instant::now() < deadline,
            "only {} of 10 records",
            first.len()
        );
        let got = c.poll(Duration::from_millis(500)).await.expect("poll");
        for r in &got {
            let how = match seq(r) {
                0 => AcknowledgeType::Release,
                1 => AcknowledgeType::Reject,
                _ => AcknowledgeType::Accept,
            };
            c.acknowledge(r, how).expect("acknowledge");
        }
        first.extend(got);
    }
    assert!(first.iter().all(|r| r.delivery_count == 1));
    // Misuse: twice, and a record of an earlier poll.
    let e = c
        .acknowledge(&first[2], AcknowledgeType::Accept)
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::IllegalState), "{e}");

    let mut again = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while again.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the released record did not come back"
        );
        again = c.poll(Duration::from_millis(500)).await.expect("poll");
    }
    let seqs: Vec<(u64, u16)> = again.iter().map(|r| (seq(r), r.delivery_count)).collect();
    assert_eq!(
        seqs,
        vec![(0, 2)],
        "only the released record, delivered a second time"
    );
    // Explicit mode refuses the next poll while the record is open.
    let e = c.poll(Duration::from_millis(10)).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::IllegalState), "{e}");
    c.acknowledge(&again[0], AcknowledgeType::Accept)
        .expect("acknowledge");
    let results = c.commit_sync().await.expect("commit");
    assert!(results.values().all(|r| r.is_ok()), "{results:?}");
    // Nothing else comes: the rejected record stays archived.
    let rest = c.poll(Duration::from_secs(2)).await.expect("poll");
    assert!(
        rest.is_empty(),
        "nothing more, got {:?}",
        rest.iter().map(seq).collect::<Vec<_>>()
    );
    c.close().await.expect("close");
}

/// A member that stops acknowledging: its records go to another member when the acquisition
/// lock (1 s here) expires, with delivery count 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lock_hands_the_records_to_another_member() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("share-lock");
    let group = unique_topic("share-lock-g");
    create(&bootstrap, &topic, 1, 1).await;
    group_configs(&bootstrap, &group, Some(1_000)).await;
    produce(&bootstrap, &topic, 5, "none", None).await;

    let stuck = member(&bootstrap, &group, "explicit", "500");
    let told = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let t = told.clone();
    stuck.set_acknowledgement_commit_callback(move |outcome| {
        let mut t = t.lock().unwrap();
        t.extend(outcome.iter().map(|(tp, r)| (tp.clone(), r.is_ok())));
    });
    stuck.subscribe([topic.as_str()]).expect("subscribe");
    let mut held = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while held.len() < 5 {
        assert!(
            Instant::now() < deadline,
            "only {} of 5 records",
            held.len()
        );
        held.extend(stuck.poll(Duration::from_millis(500)).await.expect("poll"));
    }
    assert_eq!(
        stuck.acquisition_lock_timeout(),
        Some(Duration::from_millis(1_000))
    );
    let taken = Instant::now();
    let other = member(&bootstrap, &group, "implicit", "500");
    other.subscribe([topic.as_str()]).expect("subscribe");
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < 5 {
        assert!(
            Instant::now() < deadline,
            "the other member got {} of 5",
            got.len()
        );
        got.extend(other.poll(Duration::from_millis(500)).await.expect("poll"));
    }
    let seqs: Vec<(u64, u16)> = got.iter().map(|r| (seq(r), r.delivery_count)).collect();
    assert_eq!(seqs, (0..5).map(|s| (s, 2)).collect::<Vec<_>>());
    println!(
        "share: the records of a member that stopped came to another after {:?}",
        taken.elapsed()
    );
    // The stuck member's acknowledgements now fail: its lock is gone.
    for r in &held {
        stuck
            .acknowledge(r, AcknowledgeType::Accept)
            .expect("acknowledge");
    }
    let results = stuck.commit_sync().await.expect("commit");
    assert!(
        results.values().any(|r| r.is_err()),
        "expired locks refuse: {results:?}"
    );
    // The acknowledgement commit callback was told the same.
    let told = told.lock().unwrap().clone();
    assert!(told.iter().any(|(_, ok)| !ok), "callback told: {told:?}");
    other.close().await.expect("close");
    stuck.close().await.expect("close");
}

/// `share.delivery.count.limit=2` (a group config from Kafka 4.3): a record released twice is
/// archived, never handed out a third time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_released_up_to_the_delivery_limit_is_archived() {
    let version = ferrokafka_testcontainers::KafkaVersion::current().expect("the Kafka version");
    if !version.at_least(4, 3) {
        println!("SKIPPED: share.delivery.count.limit is a group config from Kafka 4.3; this broker is {version}");
        return;
    }
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("share-limit");
    let group = unique_topic("share-limit-g");
    create(&bootstrap, &topic, 1, 1).await;
    group_configs_with(
        &bootstrap,
        &group,
        None,
        &[("share.delivery.count.limit", "2")],
    )
    .await;
    produce(&bootstrap, &topic, 1, "none", None).await;
    let c = member(&bootstrap, &group, "explicit", "500");
    c.subscribe([topic.as_str()]).expect("subscribe");
    let mut counts = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while counts.len() < 2 {
        assert!(Instant::now() < deadline, "deliveries so far: {counts:?}");
        for r in c.poll(Duration::from_millis(500)).await.expect("poll") {
            counts.push(r.delivery_count);
            c.acknowledge(&r, AcknowledgeType::Release)
                .expect("release");
        }
    }
    assert_eq!(counts, vec![1, 2]);
    let _ = c.commit_sync().await.expect("commit");
    let more = c.poll(Duration::from_secs(2)).await.expect("poll");
    assert!(
        more.is_empty(),
        "archived after 2 deliveries, got {} more",
        more.len()
    );
    c.close().await.expect("close");
}

/// The Java `KafkaShareConsumer` (kafka-console-share-consumer) and a ferrokafka member in one
/// share group split the records of one partition: each record reaches exactly one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_java_share_consumer_and_ferrokafka_share_one_group() {
    use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
    use ferrokafka_testcontainers::{JvmRuntime, Tool};
    use std::process::Stdio;
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("share-java");
    let group = unique_topic("share-java-g");
    create(&bootstrap, &topic, 1, 1).await;
    group_configs(&bootstrap, &group, None).await;
    const N: usize = 3_000;
    let producer = Producer::new(
        ProducerConfig::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            // Small batches: the broker acquires whole batches, so big ones would go to
            // whichever member fetches first.
            ("batch.size", "512"),
        ])
        .expect("config"),
    )
    .expect("producer");
    let mut pending = Vec::new();
    for i in 0..N {
        pending.push(
            producer
                .send(ProducerRecord::new(&topic).value(format!("r-{i}")))
                .await
                .expect("send"),
        );
    }
    for p in pending {
        p.await.expect("delivered");
    }
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");

    // ferrokafka starts first and takes small batches slowly, so the Java member (which
    // starts in a second or two) finds records left to take.
    let c = member(&bootstrap, &group, "implicit", "20");
    c.subscribe([topic.as_str()]).expect("subscribe");
    let mut ours: Vec<String> = Vec::new();
    let value = |r: &ShareRecord| {
        String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()
    };
    let started = Instant::now();
    while ours.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "ferrokafka got nothing in 30 s"
        );
        ours.extend(
            c.poll(Duration::from_millis(300))
                .await
                .expect("poll")
                .iter()
                .map(value),
        );
    }
    let java = {
        let (b, t, g) = (bootstrap.clone(), topic.clone(), group.clone());
        crate::support::blocking(move || {
            let jvm = JvmRuntime::locate().expect("java and the Kafka jars");
            let mut c = jvm
                .kafka_tool(Tool::ConsoleShareConsumer)
                .expect("ConsoleShareConsumer");
            c.args(["--bootstrap-server", &b, "--topic", &t, "--group", &g])
                .args(["--timeout-ms", "8000"])
                .args(["--command-property", "max.poll.records=20"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            c.spawn().expect("start the Java share consumer")
        })
        .await
    };
    let mut idle_since = Instant::now();
    while idle_since.elapsed() < Duration::from_secs(4) {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "ferrokafka member still busy after 90 s"
        );
        let got = c.poll(Duration::from_millis(300)).await.expect("poll");
        if !got.is_empty() {
            idle_since = Instant::now();
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        ours.extend(got.iter().map(value));
    }
    let _ = c.commit_sync().await.expect("commit");
    let ours_state = format!(
        "ferrokafka member: assignment {:?}, metrics {:?}",
        c.assignment(),
        c.metrics().values
    );
    c.close().await.expect("close");
    let out = crate::support::blocking(move || {
        java.wait_with_output()
            .expect("the Java share consumer exits")
    })
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let theirs: Vec<String> = stdout
        .lines()
        .filter(|l| l.starts_with("r-"))
        .map(str::to_owned)
        .collect();
    let mut all: BTreeMap<String, usize> = BTreeMap::new();
    for v in ours.iter().chain(&theirs) {
        *all.entry(v.clone()).or_default() += 1;
    }
    let twice: Vec<_> = all.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(twice.is_empty(), "records delivered to both: {twice:?}");
    assert_eq!(
        all.len(),
        N,
        "every record once (ferrokafka {}, Java {}); Java stderr: {}",
        ours.len(),
        theirs.len(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !ours.is_empty() && !theirs.is_empty(),
        "both members took records: ferrokafka {}, Java {}; {ours_state}",
        ours.len(),
        theirs.len()
    );
    println!(
        "share: Java and ferrokafka split {N} records of one partition: ferrokafka {}, Java {}",
        ours.len(),
        theirs.len()
    );
}

/// A share consumer against a broker without share groups (share.version=0 on 4.x, or a 3.x
/// broker) fails with one readable line instead of retrying forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_consumer_fails_in_one_line_on_a_broker_without_share_groups() {
    let version = ferrokafka_testcontainers::KafkaVersion::current().expect("the Kafka version");
    let mut dedicated = None;
    // Kafka 4.2+ enables share groups by default: disable them on a broker of this test's own.
    // 4.1 (preview, off by default) and 3.x answer as they are.
    let bootstrap = if version.at_least(4, 2) {
        let kafka =
            crate::support::dedicated_with_features(&["disable", "--feature", "share.version"])
                .await;
        let b = kafka.bootstrap();
        dedicated = Some(kafka);
        b
    } else {
        shared_bootstrap()
    };
    let topic = unique_topic("noshare");
    create(&bootstrap, &topic, 1, 1).await;
    let c = member(&bootstrap, &unique_topic("noshare-g"), "implicit", "500");
    c.subscribe([topic.as_str()]).expect("subscribe");
    let started = Instant::now();
    let e = loop {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no error after 30 s"
        );
        match c.poll(Duration::from_millis(500)).await {
            Err(e) => break e,
            Ok(r) => assert!(r.is_empty()),
        }
    };
    let text = e.to_string();
    println!("share consumer on a broker without share groups ({version}): {text}");
    assert!(
        text.contains("share groups (KIP-932)") && !text.contains('\n'),
        "{text}"
    );
    assert!(e.is_fatal(), "{text}");
    // The line says what the broker is, as far as the protocol tells: older than 4.1 when it
    // lists no share-group API, or share groups switched off.
    let said = if version.at_least(4, 1) {
        "disabled"
    } else {
        "older than Apache Kafka 4.1"
    };
    assert!(text.contains(said), "{text}");
    c.close().await.expect("close");
    drop(dedicated);
}
