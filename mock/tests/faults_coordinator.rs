//! Deterministic fault tests of issue #28 driven by the ferrokafka client: a group or
//! transaction coordinator that moves (NOT_COORDINATOR), a rebalance that starts while a member
//! commits, a partition leader whose broker goes down. Each waits on conditions with deadlines,
//! never on a quiet period, and asserts counts, order and offsets.

mod common;

use common::{call, s};
use ferrokafka::consumer::{Consumer, ConsumerConfig, FailurePolicy, OrderedProcessor};
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::{Offset, TopicPartition};
use ferrokafka::ErrorClass;
use ferrokafka_mock::{ApiKey, Control, Fault, MockCluster, MockConfig};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse, GroupId};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> Producer {
    let mut props = vec![
        ("bootstrap.servers", bootstrap),
        ("linger.ms", "1"),
        ("retry.backoff.ms", "10"),
        ("retry.backoff.max.ms", "50"),
        ("reconnect.backoff.ms", "10"),
        ("reconnect.backoff.max.ms", "50"),
        ("max.block.ms", "5000"),
    ];
    props.extend_from_slice(extra);
    Producer::new(ProducerConfig::from_properties(props).expect("producer config"))
        .expect("producer")
}

fn group_consumer(bootstrap: &str, group: &str, client_id: &str) -> Consumer {
    Consumer::new(
        ConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap),
            ("group.id", group),
            ("client.id", client_id),
            ("auto.offset.reset", "earliest"),
            ("enable.auto.commit", "false"),
            ("fetch.max.wait.ms", "50"),
            ("heartbeat.interval.ms", "100"),
            ("retry.backoff.ms", "10"),
            ("reconnect.backoff.ms", "10"),
            ("reconnect.backoff.max.ms", "50"),
        ])
        .expect("consumer config"),
    )
    .expect("consumer")
}

/// Writes `n` records `v{i}` to each partition of `topic`, in order, and waits for them all.
async fn produce(bootstrap: &str, topic: &str, partitions: i32, n: usize) {
    let p = producer(
        bootstrap,
        &[("enable.idempotence", "true"), ("acks", "all")],
    );
    let mut ds = Vec::new();
    for part in 0..partitions {
        for i in 0..n {
            let r = ProducerRecord::new(topic)
                .partition(part)
                .value(format!("v{i}"));
            ds.push(p.send(r).await.expect("send"));
        }
    }
    for d in ds {
        d.await.expect("delivered");
    }
    p.close(Duration::from_secs(5)).await.expect("close");
}

/// The committed offset of each of `tps` (`None`: nothing committed).
async fn committed(c: &Consumer, tps: &[TopicPartition]) -> Vec<Option<i64>> {
    let m = c.committed(tps).await.expect("committed");
    tps.iter()
        .map(|tp| m.get(tp).cloned().flatten().map(|o| o.offset.0))
        .collect()
}

fn count(control: &Control, api: ApiKey, broker: Option<i32>) -> usize {
    control
        .requests()
        .iter()
        .filter(|r| r.api == api && broker.is_none_or(|b| r.broker == b))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_processor_stays_on_a_failing_record_while_the_group_coordinator_moves() {
    let cluster = MockCluster::start(MockConfig::default().brokers(3))
        .await
        .expect("mock cluster");
    cluster.create_topic("ordered", 1).expect("topic");
    let bootstrap = cluster.bootstrap();
    produce(&bootstrap, "ordered", 1, 20).await;
    let group = "ordered-group";
    let control = cluster.control();
    let old = control.coordinator(group).expect("coordinator");
    let new = old % 3 + 1;

    let consumer = group_consumer(&bootstrap, group, "ordered");
    consumer.subscribe(["ordered"]).expect("subscribe");
    let mut processor = OrderedProcessor::new(consumer.clone(), FailurePolicy::RetryForever)
        .expect("processor")
        .with_backoff(Duration::from_millis(10), Duration::from_millis(40));

    // Offset 5 fails three times; at its first failure the coordinator moves, so the commit of
    // 0..4's successor, the heartbeats and the rewind's OffsetFetch meet NOT_COORDINATOR.
    let attempts: Arc<Mutex<Vec<i64>>> = Arc::default();
    let done: Arc<Mutex<Vec<i64>>> = Arc::default();
    let mut handler = {
        let (attempts, done, control) = (attempts.clone(), done.clone(), control.clone());
        move |record: ferrokafka::consumer::ConsumerRecord| {
            let (attempts, done, control) = (attempts.clone(), done.clone(), control.clone());
            async move {
                let offset = record.offset.0;
                let tries = {
                    let mut a = attempts.lock().expect("attempts");
                    a.push(offset);
                    a.iter().filter(|o| **o == offset).count()
                };
                if offset == 5 && tries <= 3 {
                    if tries == 1 {
                        control.move_coordinator(group, new).expect("move");
                    }
                    return Err(format!("transient failure {tries} on 5"));
                }
                done.lock().expect("done").push(offset);
                Ok(())
            }
        }
    };
    let tp = TopicPartition::new("ordered", 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(
            Instant::now() < deadline,
            "done {:?}",
            done.lock().expect("done")
        );
        if let Err(e) = processor.poll_and_process(&mut handler).await {
            panic!("processing stopped: {e}");
        }
        let finished = done.lock().expect("done").len() == 20;
        if finished && committed(&consumer, std::slice::from_ref(&tp)).await == [Some(20)] {
            break;
        }
    }

    assert_eq!(
        *done.lock().expect("done"),
        (0..20).collect::<Vec<i64>>(),
        "every record processed once, in order"
    );
    let attempts = attempts.lock().expect("attempts").clone();
    let first_five = attempts.iter().position(|o| *o == 5).expect("5 tried");
    let last_five = attempts.iter().rposition(|o| *o == 5).expect("5 tried");
    assert_eq!(
        attempts.iter().filter(|o| **o == 5).count(),
        4,
        "3 failures and a success: {attempts:?}"
    );
    assert!(
        attempts[first_five..last_five].iter().all(|o| *o == 5),
        "no later record handed out while 5 was failing: {attempts:?}"
    );
    assert_eq!(control.coordinator(group), Some(new));
    assert!(
        count(&control, ApiKey::OffsetCommit, Some(new)) > 0,
        "commits followed the coordinator to broker {new}"
    );
    consumer.close().await.expect("close");
}

/// A commit refused by a rebalance (REBALANCE_IN_PROGRESS, which the processor logs and goes
/// on from) in the round where a record fails: the rewind must go to the failed record, not to
/// the older committed offset. It went to the committed offset — the completed records between
/// it and the failed one were handed to the handler a second time by the same owner, with no
/// handover to explain it (issue #30's ordered chaos test: a member processed offsets up to 714
/// of a partition, then 710 again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_processor_after_a_refused_commit_rewinds_to_the_failed_record_only() {
    let cluster = MockCluster::start(MockConfig::default())
        .await
        .expect("mock cluster");
    cluster.create_topic("refused", 1).expect("topic");
    let bootstrap = cluster.bootstrap();
    produce(&bootstrap, "refused", 1, 20).await;
    let control = cluster.control();
    let consumer = Consumer::new(
        ConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            ("group.id", "refused-group"),
            ("auto.offset.reset", "earliest"),
            ("enable.auto.commit", "false"),
            ("fetch.max.wait.ms", "50"),
            // Rounds of 5: 0..4 is committed before 5..9, in which 7 fails.
            ("max.poll.records", "5"),
            ("retry.backoff.ms", "10"),
        ])
        .expect("consumer config"),
    )
    .expect("consumer");
    let tp = TopicPartition::new("refused", 0);
    consumer.assign(std::slice::from_ref(&tp)).expect("assign");
    let mut processor = OrderedProcessor::new(consumer.clone(), FailurePolicy::RetryForever)
        .expect("processor")
        .with_backoff(Duration::from_millis(10), Duration::from_millis(40));
    // Offset 7 fails once; the commit of 5 and 6 at the end of that round is refused.
    let attempts: Arc<Mutex<Vec<i64>>> = Arc::default();
    let mut handler = {
        let (attempts, control) = (attempts.clone(), control.clone());
        move |record: ferrokafka::consumer::ConsumerRecord| {
            let (attempts, control) = (attempts.clone(), control.clone());
            async move {
                let offset = record.offset.0;
                let first = {
                    let mut a = attempts.lock().expect("attempts");
                    a.push(offset);
                    a.iter().filter(|o| **o == offset).count() == 1
                };
                if offset == 7 && first {
                    control.fail_next(ApiKey::OffsetCommit, 1, 27);
                    return Err("transient failure on 7".to_string());
                }
                Ok(())
            }
        }
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !attempts.lock().expect("attempts").contains(&19) {
        assert!(Instant::now() < deadline, "{:?}", attempts.lock());
        processor
            .poll_and_process(&mut handler)
            .await
            .expect("round");
    }
    assert!(control.pending_faults().is_empty(), "a commit was refused");
    let attempts = attempts.lock().expect("attempts").clone();
    let mut expected: Vec<i64> = (0..=7).collect();
    expected.extend(7..20);
    assert_eq!(
        attempts, expected,
        "after 7 failed only 7 is attempted again, nothing before it"
    );
    consumer.close().await.expect("close");
}

/// The group's state as DescribeGroups reports it.
async fn group_state(cluster: &MockCluster, control: &Control, group: &str) -> String {
    let node = control.coordinator(group).expect("coordinator");
    let addr = cluster.broker_addrs()[(node - 1) as usize];
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let resp: DescribeGroupsResponse = call(
        &mut conn,
        kafka_protocol::messages::ApiKey::DescribeGroups,
        5,
        &DescribeGroupsRequest::default().with_groups(vec![GroupId(s(group))]),
    )
    .await;
    resp.groups
        .first()
        .map(|g| g.group_state.to_string())
        .unwrap_or_default()
}

/// Polls `c` until `pred` holds on what it read (10 s at most).
async fn poll_until(
    c: &Consumer,
    seen: &mut Vec<(i32, i64)>,
    pred: impl Fn(&[(i32, i64)]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pred(seen) {
        assert!(Instant::now() < deadline, "read {seen:?}");
        for r in c.poll(Duration::from_millis(50)).await.expect("poll") {
            seen.push((r.partition, r.offset.0));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_during_a_rebalance_and_only_the_uncommitted_window_is_read_again() {
    let cluster = MockCluster::start(MockConfig::default().brokers(3))
        .await
        .expect("mock cluster");
    cluster.create_topic("rebal", 2).expect("topic");
    let bootstrap = cluster.bootstrap();
    produce(&bootstrap, "rebal", 2, 10).await;
    let group = "rebal-group";
    let control = cluster.control();
    let coordinator = control.coordinator(group).expect("coordinator");
    let tps = [
        TopicPartition::new("rebal", 0),
        TopicPartition::new("rebal", 1),
    ];
    let commit = |c: &Consumer, o: i64| {
        let (c, offsets) = (
            c.clone(),
            [(tps[0].clone(), Offset(o)), (tps[1].clone(), Offset(o))],
        );
        async move { c.commit(&offsets).await }
    };

    // A owns both partitions, reads everything and commits offset 4 of each.
    let a = group_consumer(&bootstrap, group, "member-a");
    a.subscribe(["rebal"]).expect("subscribe a");
    let mut read_a = Vec::new();
    poll_until(&a, &mut read_a, |s| s.len() >= 20).await;
    commit(&a, 4).await.expect("first commit");

    // A does not hear of the coming rebalance yet: its heartbeats are answered NONE and not
    // applied (a heartbeat in flight when B joins), so what follows does not hang on when A's
    // next heartbeat happens to fall.
    control.inject(Fault::errors(ApiKey::Heartbeat, 1_000, 0).on_broker(coordinator));
    let b = group_consumer(&bootstrap, group, "member-b");
    b.subscribe(["rebal"]).expect("subscribe b");
    let b_task = {
        let b = b.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(10);
            while b.assignment().is_empty() {
                assert!(Instant::now() < deadline, "b got no partition");
                for r in b.poll(Duration::from_millis(50)).await.expect("poll b") {
                    seen.push((r.partition, r.offset.0));
                }
            }
            seen
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while group_state(&cluster, &control, group).await != "PreparingRebalance" {
        assert!(Instant::now() < deadline, "no rebalance started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // While members rejoin (PreparingRebalance) the current generation may still commit, as on
    // Kafka: a member commits what it processed before giving its partitions up.
    commit(&a, 7)
        .await
        .expect("a commit of the current generation while the group prepares a rebalance");
    // Once the joins are complete and the leader computes the assignment (CompletingRebalance)
    // commits are refused; that window is too short to hit by timing, so it is injected.
    control.inject(Fault::errors(ApiKey::OffsetCommit, 1, 27).on_broker(coordinator));
    let refused = commit(&a, 10)
        .await
        .expect_err("a commit while the assignment is computed is refused");
    assert_eq!(
        refused.broker_code(),
        Some(27),
        "REBALANCE_IN_PROGRESS: {refused}"
    );
    // Not retried by the client: the application commits again after its next poll.
    assert_eq!(
        refused.class(),
        ErrorClass::ApplicationRecoverable,
        "{refused}"
    );
    assert_eq!(
        committed(&a, &tps).await,
        vec![Some(7), Some(7)],
        "the refused commit left the accepted one"
    );

    // A hears of the rebalance and rejoins; each member reads its partition from offset 7 again.
    control.clear_faults();
    let mine_a: BTreeSet<i32> = a_assignment(&a, &mut read_a).await;
    let mut seen_b = b_task.await.expect("b task");
    let mine_b: BTreeSet<i32> = b.assignment().iter().map(|tp| tp.partition).collect();
    assert_eq!(mine_a.len() + mine_b.len(), 2, "a {mine_a:?} b {mine_b:?}");
    assert!(mine_a.is_disjoint(&mine_b));
    // What A read once the new assignment came (in the same polls) is part of the second pass.
    let mut again_a = read_a.split_off(20);
    poll_until(&a, &mut again_a, |s| s.len() >= 3 * mine_a.len()).await;
    poll_until(&b, &mut seen_b, |s| s.len() >= 3 * mine_b.len()).await;
    let mut again: Vec<(i32, i64)> = again_a.into_iter().chain(seen_b).collect();
    again.sort_unstable();
    let expected: Vec<(i32, i64)> = (0..2).flat_map(|p| (7..10).map(move |o| (p, o))).collect();
    assert_eq!(
        again, expected,
        "read again: exactly the uncommitted window 7..9 of each partition, once"
    );
    a.commit_positions().await.expect("commit a");
    b.commit_positions().await.expect("commit b");
    assert_eq!(committed(&a, &tps).await, vec![Some(10), Some(10)]);
    a.close().await.expect("close a");
    b.close().await.expect("close b");
}

/// Polls `a` until it is in the new generation (an assignment of one partition), and returns
/// its partitions; what it read meanwhile is appended to `read`.
async fn a_assignment(a: &Consumer, read: &mut Vec<(i32, i64)>) -> BTreeSet<i32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mine: BTreeSet<i32> = a.assignment().iter().map(|tp| tp.partition).collect();
        if mine.len() == 1 {
            return mine;
        }
        assert!(Instant::now() < deadline, "a still owns {mine:?}");
        for r in a.poll(Duration::from_millis(50)).await.expect("poll a") {
            read.push((r.partition, r.offset.0));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_whose_coordinator_moves_mid_commit_commits_once() {
    let cluster = MockCluster::start(MockConfig::default().brokers(3))
        .await
        .expect("mock cluster");
    cluster.create_topic("txn-move", 1).expect("topic");
    let bootstrap = cluster.bootstrap();
    let control = cluster.control();
    let id = "moving-txn";
    let p = producer(&bootstrap, &[("transactional.id", id)]);
    p.init_transactions().await.expect("init");
    let old = control.coordinator(id).expect("coordinator");
    let new = old % 3 + 1;

    for round in 0..2 {
        p.begin_transaction().expect("begin");
        let mut ds = Vec::new();
        for i in 0..10 {
            let r = ProducerRecord::new("txn-move")
                .partition(0)
                .value(format!("r{round}-{i}"));
            ds.push(p.send(r).await.expect("send"));
        }
        for d in ds {
            d.await.expect("written");
        }
        if round == 0 {
            // The old coordinator applies the commit but its answer is lost; the coordinator
            // then moves: the retried EndTxn goes to the new one, which finds it committed.
            control.inject(Fault::drop_after(ApiKey::EndTxn, 1).on_broker(old));
            control.move_coordinator(id, new).expect("move");
        } else {
            // The coordinator moves back before the commit: NOT_COORDINATOR, find, commit.
            control.move_coordinator(id, old).expect("move back");
        }
        p.commit_transaction().await.expect("commit");
    }
    assert!(
        control.pending_faults().is_empty(),
        "the dropped EndTxn happened"
    );
    assert!(count(&control, ApiKey::EndTxn, Some(new)) >= 1);

    let c = Consumer::new(
        ConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            ("auto.offset.reset", "earliest"),
            ("isolation.level", "read_committed"),
            ("fetch.max.wait.ms", "50"),
        ])
        .expect("consumer config"),
    )
    .expect("consumer");
    c.assign(&[TopicPartition::new("txn-move", 0)])
        .expect("assign");
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < 20 {
        assert!(Instant::now() < deadline, "{got:?}");
        for r in c.poll(Duration::from_millis(50)).await.expect("poll") {
            got.push(String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned());
        }
    }
    let expected: Vec<String> = (0..2)
        .flat_map(|round| (0..10).map(move |i| format!("r{round}-{i}")))
        .collect();
    assert_eq!(got, expected, "both transactions committed once, in order");
    // 20 records and 2 COMMIT markers: no third marker from the retried EndTxn.
    assert_eq!(cluster.high_watermark("txn-move", 0), Some(22));
    c.close().await.expect("close");
    p.close(Duration::from_secs(5))
        .await
        .expect("close producer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_fetching_from_a_broker_that_goes_down_moves_to_the_new_leader() {
    let cluster = MockCluster::start(MockConfig::default().brokers(3))
        .await
        .expect("mock cluster");
    cluster.create_topic("down", 3).expect("topic");
    let bootstrap = cluster.bootstrap();
    let control = cluster.control();
    let group = "down-group";
    // The broker that goes down leads partition 0 and does not coordinate the group (the
    // coordinator going down is the coordinator test's case).
    let coordinator = control.coordinator(group).expect("coordinator");
    let (mut victim, _) = cluster.leader("down", 0).expect("leader");
    if victim == coordinator {
        victim = coordinator % 3 + 1;
        cluster.move_leader("down", 0, victim).expect("move");
    }
    produce(&bootstrap, "down", 3, 20).await;

    let c = group_consumer(&bootstrap, group, "survivor");
    c.subscribe(["down"]).expect("subscribe");
    let mut seen = Vec::new();
    poll_until(&c, &mut seen, |s| s.len() >= 60).await;
    c.commit_positions().await.expect("commit");

    // The broker goes down and stays down; its partitions get new leaders on the others.
    assert!(control.set_broker_down(victim));
    let survivor = (victim % 3) + 1;
    let survivor = if survivor == victim {
        survivor % 3 + 1
    } else {
        survivor
    };
    for part in 0..3 {
        if cluster.leader("down", part).map(|l| l.0) == Some(victim) {
            cluster.move_leader("down", part, survivor).expect("move");
        }
    }
    produce(&bootstrap, "down", 3, 20).await;
    poll_until(&c, &mut seen, |s| s.len() >= 120).await;

    let mut per_partition: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for (p, o) in &seen {
        per_partition.entry(*p).or_default().push(*o);
    }
    for part in 0..3 {
        assert_eq!(
            per_partition.get(&part).cloned().unwrap_or_default(),
            (0..40).collect::<Vec<i64>>(),
            "partition {part}: no gap, no duplicate, in order"
        );
    }
    assert!(
        count(&control, ApiKey::Fetch, Some(survivor)) > 0,
        "fetched from the new leader"
    );
    c.commit_positions().await.expect("commit after");
    let tps: Vec<TopicPartition> = (0..3).map(|p| TopicPartition::new("down", p)).collect();
    assert_eq!(committed(&c, &tps).await, vec![Some(40); 3]);
    c.close().await.expect("close");
}
