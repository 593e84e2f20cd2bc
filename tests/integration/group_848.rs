//! KIP-848 consumer groups (`group.protocol=consumer`) against a real broker: `OrderedProcessor`
//! over the new protocol, the group as the admin client describes it, a consumer-protocol
//! member joining a classic group (whatever the broker decides, asserted), and the time from
//! joining to the first record under both protocols, side by side. The join / leave / SIGKILL
//! scenario under KIP-848 is in group_faults.rs with the classic ones.

use crate::consumer::produce;
use crate::group::group_consumer;
use crate::producer::create;
use crate::support::shared_bootstrap;
use ferrokafka::admin::{AdminClient, GroupProtocol};
use ferrokafka::config::ClientConfig;
use ferrokafka::consumer::{Consumer, ConsumerRecord, FailurePolicy, OrderedProcessor};
use ferrokafka::types::{Offset, TopicPartition};
use ferrokafka_testcontainers::unique_topic;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const CONSUMER: [(&str, &str); 1] = [("group.protocol", "consumer")];

fn seq(r: &ConsumerRecord) -> u64 {
    u64::from_be_bytes(
        r.value.as_ref().expect("value")[..8]
            .try_into()
            .expect("8 bytes"),
    )
}

fn admin(bootstrap: &str) -> AdminClient {
    AdminClient::new(
        ClientConfig::builder()
            .bootstrap_servers(bootstrap)
            .build()
            .expect("admin config"),
    )
}

/// Polls `c` until it owns `n` partitions (and keeps polling so the group task runs).
async fn until_owned(c: &Consumer, n: usize, secs: u64) -> Vec<ConsumerRecord> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut got = Vec::new();
    while c.assignment().len() != n {
        assert!(
            Instant::now() < deadline,
            "owns {:?}, not {n} partitions",
            c.assignment()
        );
        got.extend(c.poll(Duration::from_millis(100)).await.expect("poll"));
    }
    got
}

/// At-least-once in order over KIP-848: a record that fails three times is retried from the
/// committed offset before anything after it; everything is processed once and committed; the
/// admin client describes the group as a `consumer`-protocol group with this member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_processor_over_the_consumer_protocol_retries_in_order_and_commits() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("k848-alo");
    create(&bootstrap, &topic, 3, 1).await;
    const PER_PARTITION: u64 = 200;
    for p in 0..3 {
        produce(&bootstrap, &topic, PER_PARTITION, "none", Some(p)).await;
    }
    let group = unique_topic("k848-alo");
    let c = group_consumer(&bootstrap, &group, &CONSUMER);
    c.subscribe([topic.clone()]).expect("subscribe");
    let mut processor = OrderedProcessor::new(c.clone(), FailurePolicy::RetryForever)
        .expect("processor")
        .with_backoff(Duration::from_millis(50), Duration::from_millis(200));
    const K: u64 = 77;
    let mut failures = 0;
    let mut done: BTreeMap<i32, Vec<u64>> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while done.values().map(Vec::len).sum::<usize>() < 3 * PER_PARTITION as usize {
        assert!(Instant::now() < deadline, "processed {done:?}");
        let mut handler = |r: ConsumerRecord| {
            let s = seq(&r);
            let fail = r.partition == 1 && s == K && failures < 3;
            if fail {
                failures += 1;
            } else {
                done.entry(r.partition).or_default().push(s);
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
    assert_eq!(failures, 3);
    for p in 0..3 {
        assert_eq!(
            done.get(&p).cloned().unwrap_or_default(),
            (0..PER_PARTITION).collect::<Vec<_>>(),
            "partition {p}: exactly 0..N, in order"
        );
    }
    let tps: Vec<TopicPartition> = (0..3).map(|p| TopicPartition::new(&topic, p)).collect();
    let committed = c.committed(&tps).await.expect("committed");
    for tp in &tps {
        assert_eq!(
            committed[tp].as_ref().map(|o| o.offset),
            Some(Offset(PER_PARTITION as i64)),
            "{tp}"
        );
    }
    let g = c.group_generation().expect("stable in its group");
    assert_eq!(g.protocol, "consumer");
    assert!(g.generation_id > 0, "member epoch {}", g.generation_id);
    let described = admin(&bootstrap)
        .describe_consumer_groups(&[group.as_str()], false)
        .await
        .expect("describe");
    let d = described[0].1.as_ref().expect("the group");
    assert_eq!(d.group_protocol, GroupProtocol::Consumer, "{d}");
    assert_eq!(d.members.len(), 1, "{d}");
    assert_eq!(d.members[0].member_id, g.member_id, "{d}");
    assert_eq!(d.members[0].assignment.len(), 3, "{d}");
    c.close().await.expect("close");
    eprintln!(
        "k848 ordered: {} records, {failures} failures retried in place; {d}",
        3 * PER_PARTITION
    );
}

/// A `consumer`-protocol member joins a group whose one member speaks the classic protocol.
/// Kafka 4.x converts the group (`group.consumer.migration.policy`, default `bidirectional`)
/// and serves both; a broker that refuses says so with an error. Either way: no partition is
/// owned by both members, and everything is consumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_protocol_member_joining_a_classic_group_is_served_or_refused_clearly() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("k848-mixed");
    create(&bootstrap, &topic, 4, 1).await;
    let group = unique_topic("k848-mixed");
    let classic = group_consumer(
        &bootstrap,
        &group,
        &[("partition.assignment.strategy", "cooperative-sticky")],
    );
    classic
        .subscribe([topic.clone()])
        .expect("subscribe classic");
    until_owned(&classic, 4, 60).await;
    let modern = group_consumer(&bootstrap, &group, &CONSUMER);
    modern
        .subscribe([topic.clone()])
        .expect("subscribe consumer");
    let deadline = Instant::now() + Duration::from_secs(60);
    let outcome = loop {
        assert!(Instant::now() < deadline, "neither served nor refused");
        classic
            .poll(Duration::from_millis(50))
            .await
            .expect("classic poll");
        match modern.poll(Duration::from_millis(50)).await {
            Err(e) => break Err(e),
            Ok(_) => {
                let (a, b): (BTreeSet<_>, BTreeSet<_>) = (
                    classic.assignment().into_iter().collect(),
                    modern.assignment().into_iter().collect(),
                );
                assert!(a.is_disjoint(&b), "both own {:?}", a.intersection(&b));
                if a.len() + b.len() == 4 && !a.is_empty() && !b.is_empty() {
                    break Ok((a.len(), b.len()));
                }
            }
        }
    };
    match outcome {
        Ok((a, b)) => {
            let described = admin(&bootstrap)
                .describe_consumer_groups(&[group.as_str()], false)
                .await
                .expect("describe");
            let d = described[0].1.as_ref().expect("the group");
            eprintln!(
                "k848 mixed: served: classic member {a}, consumer member {b} partitions; {d}"
            );
            assert_eq!(d.members.len(), 2, "{d}");
        }
        Err(e) => {
            eprintln!("k848 mixed: refused: {e}");
            assert!(e.broker_code().is_some(), "a broker refusal, named: {e}");
            assert!(!e.is_retriable(), "{e}");
        }
    }
    // Records produced now reach whoever owns their partition, once.
    produce(&bootstrap, &topic, 400, "none", None).await;
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 400 {
        assert!(Instant::now() < deadline, "consumed {} of 400", seen.len());
        for c in [&classic, &modern] {
            for r in c.poll(Duration::from_millis(50)).await.unwrap_or_default() {
                assert!(seen.insert(seq(&r)), "record {} consumed twice", seq(&r));
            }
        }
    }
    modern.close().await.expect("close consumer member");
    classic.close().await.expect("close classic member");
}

/// From `subscribe` to the first record, a fresh group each time, classic then consumer
/// protocol, alternating, three rounds; the medians go to the log (a measurement, not a
/// timed assertion).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_from_joining_to_the_first_record_classic_and_consumer_protocol() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("k848-join");
    create(&bootstrap, &topic, 3, 1).await;
    produce(&bootstrap, &topic, 300, "none", None).await;
    let mut times: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for _ in 0..3 {
        for (name, extra) in [
            ("classic", &[("group.protocol", "classic")][..]),
            ("consumer", &CONSUMER[..]),
        ] {
            let c = group_consumer(&bootstrap, &unique_topic("k848-join"), extra);
            let started = Instant::now();
            c.subscribe([topic.clone()]).expect("subscribe");
            let deadline = started + Duration::from_secs(60);
            loop {
                assert!(Instant::now() < deadline, "{name}: no record in 60 s");
                if !c
                    .poll(Duration::from_millis(20))
                    .await
                    .expect("poll")
                    .is_empty()
                {
                    break;
                }
            }
            times.entry(name).or_default().push(started.elapsed());
            c.close().await.expect("close");
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let classic = median(times.get_mut("classic").expect("classic"));
    let consumer = median(times.get_mut("consumer").expect("consumer"));
    eprintln!(
        "k848 join to first record (median of 3): classic {} ms, consumer {} ms",
        classic.as_millis(),
        consumer.as_millis()
    );
}

/// `subscribe_pattern` under `protocol`: the matching topics are consumed, a topic created
/// later that matches joins, one that does not match never does. Incremental rebalances
/// (KIP-848, or cooperative-sticky for the classic protocol) keep the partitions already owned,
/// so each record is consumed once although nothing is committed.
async fn pattern_subscription(protocol: &str) {
    let bootstrap = shared_bootstrap();
    let base = unique_topic(&format!("pat-{protocol}"));
    let (a, b, late, other) = (
        format!("{base}-a"),
        format!("{base}-b"),
        format!("{base}-late"),
        format!("{base}x-other"),
    );
    for t in [&a, &b, &other] {
        create(&bootstrap, t, 1, 1).await;
        produce(&bootstrap, t, 10, "none", None).await;
    }
    let mut extra = vec![("group.protocol", protocol)];
    if protocol == "classic" {
        extra.push(("partition.assignment.strategy", "cooperative-sticky"));
    }
    let c = group_consumer(&bootstrap, &unique_topic("pat"), &extra);
    c.subscribe_pattern(&format!("{}-.*", regex_escape(&base)))
        .expect("subscribe_pattern");
    let mut per_topic: BTreeMap<String, usize> = BTreeMap::new();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    let mut created_late = None;
    while per_topic.get(&late).copied().unwrap_or(0) < 10 {
        assert!(
            Instant::now() < deadline,
            "{protocol}: consumed {per_topic:?}, owns {:?}",
            c.assignment()
        );
        for r in c.poll(Duration::from_millis(100)).await.expect("poll") {
            *per_topic.entry(r.topic.to_string()).or_default() += 1;
        }
        let first_two = per_topic.get(&a) == Some(&10) && per_topic.get(&b) == Some(&10);
        if first_two && created_late.is_none() {
            create(&bootstrap, &late, 1, 1).await;
            produce(&bootstrap, &late, 10, "none", None).await;
            created_late = Some(Instant::now());
        }
    }
    let picked_up = created_late.map(|t| t.elapsed()).unwrap_or_default();
    assert_eq!(
        per_topic.get(&other),
        None,
        "{protocol}: a topic outside the pattern"
    );
    assert_eq!(per_topic.len(), 3, "{per_topic:?}");
    assert!(
        per_topic.values().all(|n| *n == 10),
        "{protocol}: each record once: {per_topic:?}"
    );
    eprintln!(
        "k848 pattern [{protocol}]: {per_topic:?}; a topic created later was consumed {:.1} s after its creation",
        picked_up.as_secs_f64()
    );
    c.close().await.expect("close");
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|ch| {
            let special = "\\.+*?()|[]{}^$-".contains(ch);
            special
                .then_some('\\')
                .into_iter()
                .chain(std::iter::once(ch))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pattern_subscription_under_the_consumer_protocol_is_matched_by_the_broker() {
    pattern_subscription("consumer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pattern_subscription_under_the_classic_protocol_follows_new_topics() {
    pattern_subscription("classic").await;
}

/// Static membership under KIP-848: a member with `group.instance.id` that closes (leave with
/// epoch −2) and comes back within the session gets its partitions back, and the other member
/// sees no rebalance at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_consumer_protocol_member_restarts_without_moving_partitions() {
    use crate::group_history::{now_ns, wait_until, History, Kind, Member};
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("k848-static");
    create(&bootstrap, &topic, 4, 1).await;
    let group = unique_topic("k848-static");
    let h = History::default();
    let (ia, ib) = (format!("{group}-a"), format!("{group}-b"));
    let start = |name: &str, instance: &str| {
        Member::start(
            &bootstrap,
            &group,
            &topic,
            name,
            &[
                ("group.protocol", "consumer"),
                ("group.instance.id", instance),
            ],
            &h,
            50,
        )
    };
    let a = start("A", &ia);
    wait_until(&h, "A owns all 4 partitions", 60, || h.settled(&["A"], 4)).await;
    let b = start("B", &ib);
    wait_until(&h, "A and B share the partitions", 60, || {
        h.settled(&["A", "B"], 4)
    })
    .await;
    let b_parts = h.owned("B");
    let since = now_ns();
    b.close().await;
    let b2 = start("B2", &ib);
    wait_until(&h, "B2 is assigned", 30, || !h.owned("B2").is_empty()).await;
    assert_eq!(h.owned("B2"), b_parts, "the same partitions back");
    // Several heartbeat intervals (1 s in the harness) with both in the group.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let a_events = h.count("A", since, |k| {
        matches!(k, Kind::Assigned(_) | Kind::Revoked(_) | Kind::Lost(_))
    });
    assert_eq!(a_events, 0, "A saw a rebalance");
    eprintln!(
        "k848 static: B's partitions {b_parts:?} came back to the restarted instance; A untouched"
    );
    b2.close().await;
    a.close().await;
}

/// A broker without KIP-848: Kafka 3.9 (its new group coordinator is off unless
/// `group.coordinator.rebalance.protocols` says otherwise), or on 4.x a dedicated broker whose
/// `group.version` feature is downgraded to 0. A `group.protocol=consumer` member stops at its
/// first heartbeat with one line naming the fix, within seconds — never a hang — and a classic
/// member of the same group consumes there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_protocol_member_fails_in_one_line_on_a_broker_without_kip_848() {
    let version = ferrokafka_testcontainers::KafkaVersion::current().expect("the Kafka version");
    let mut dedicated = None;
    let bootstrap = if version.at_least(4, 0) {
        let kafka =
            crate::support::dedicated_with_features(&["downgrade", "--feature", "group.version=0"])
                .await;
        let b = kafka.bootstrap();
        dedicated = Some(kafka);
        b
    } else {
        shared_bootstrap()
    };
    let topic = unique_topic("no848");
    create(&bootstrap, &topic, 2, 1).await;
    produce(&bootstrap, &topic, 20, "none", None).await;
    let group = unique_topic("no848");

    let modern = group_consumer(&bootstrap, &group, &CONSUMER);
    modern.subscribe([topic.clone()]).expect("subscribe");
    let started = Instant::now();
    let error = loop {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "Kafka {version}: no error after 30 s (owns {:?})",
            modern.assignment()
        );
        match modern.poll(Duration::from_millis(200)).await {
            Err(e) => break e,
            Ok(records) => assert!(records.is_empty(), "Kafka {version}: records served"),
        }
    };
    let line = error.to_string();
    eprintln!(
        "Kafka {version}: group.protocol=consumer failed after {:?}: {line}",
        started.elapsed()
    );
    assert!(line.contains("KIP-848"), "{line}");
    assert!(line.contains("group.protocol=classic"), "{line}");
    assert!(!line.contains('\n'), "one line: {line}");
    assert!(!error.is_retriable(), "{line}");
    // It does not try again: the next poll returns at once and the member owns nothing.
    let again = tokio::time::timeout(
        Duration::from_secs(5),
        modern.poll(Duration::from_millis(200)),
    )
    .await
    .expect("the next poll returns");
    assert!(
        again.as_ref().map_or(true, Vec::is_empty) && modern.assignment().is_empty(),
        "Kafka {version}: the member rejoined: {again:?}"
    );
    modern.close().await.ok();

    // The advice holds: a classic member of the same group reads all 20 records.
    let classic = group_consumer(&bootstrap, &group, &[]);
    classic
        .subscribe([topic.clone()])
        .expect("subscribe classic");
    let mut n = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while n < 20 {
        assert!(Instant::now() < deadline, "classic read {n} of 20");
        n += classic
            .poll(Duration::from_millis(200))
            .await
            .expect("classic poll")
            .len();
    }
    classic.close().await.ok();
    drop(dedicated);
}
