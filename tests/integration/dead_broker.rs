//! Leadership moving while consumers read (issue #23), on dedicated 3-node clusters (topic
//! replication 3, 6 partitions). Before the fix, a consumer kept retrying the dead leader of a
//! third of its partitions until `metadata.max.age.ms` (5 min) or the broker's return: those
//! partitions were not read for the whole outage (this test, run on that code, timed out with
//! every consumer stuck at 8,511 of 13,680 records).
//!
//! - A broker SIGKILLed and kept down for the rest of the test: five consumers of the same topic
//!   read it side by side while a producer keeps writing — a classic group member, a KIP-848
//!   group member (`group.protocol=consumer`), an `assign`ed consumer without a group, an
//!   `OrderedProcessor`, and an `assign`ed consumer started right after the kill (its offset
//!   lookups go to the dead leader first). The node killed is the coordinator of the groups
//!   (their ids are chosen to share one `__consumer_offsets` partition), so the coordinator's
//!   death is covered too. While it is down, admin calls (list offsets, group lag) must answer.
//! - A controlled shutdown, the node's return, and a preferred-leader election.
//!
//! Each consumer must process every record, in order per partition, none twice, and no
//! partition may go longer than [`STALL_BOUND`] without progress while its leader is up.

use crate::group::group_consumer;
use crate::group_faults::strategy_props;
use crate::group_history::Feed;
use crate::group_history::{check, now_ns, wait_until, History, Kind, Member};
use crate::producer::create;
use crate::support::{blocking, dedicated};
use ferrokafka::admin::{AdminClient, ElectionType, OffsetSpec};
use ferrokafka::consumer::{Consumer, ConsumerConfig, FailurePolicy, OrderedProcessor};
use ferrokafka::types::{BrokerId, TopicPartition};
use ferrokafka_testcontainers::{unique_topic, Topology};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 6;

/// How long the node stays down before the producer stops (it stays down after that too, until
/// the cluster is dropped at the end of the test).
const OUTAGE: Duration = Duration::from_secs(30);

/// The longest a partition may go without progress after its new leader is elected. What the
/// client needs: a failed fetch (connection refused) asks for a metadata refresh, which waits
/// `retry.backoff.ms` doubling up to `retry.backoff.max.ms` (1 s) per consecutive refresh, and
/// the partition's own fetch backoff is at most 1 s: ~2-3 s. A group whose coordinator died also
/// has to find the new one and may rebalance (`session.timeout.ms` 10 s). 20 s is under
/// [`OUTAGE`] — a consumer that waits for the broker's return fails — and far under
/// `metadata.max.age.ms` (300 s).
const STALL_BOUND: Duration = Duration::from_secs(20);

/// Java's `String.hashCode` modulo 50 (`offsets.topic.num.partitions`): the `__consumer_offsets`
/// partition, hence the coordinator, of a group id.
fn offsets_partition(group: &str) -> i32 {
    let h = group
        .encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
    (h & 0x7fff_ffff) % 50
}

/// `{base}-{what}-{n}` with the smallest `n` whose coordinator partition is `partition`.
fn group_on(base: &str, what: &str, partition: i32) -> String {
    (0..)
        .map(|n| format!("{base}-{what}-{n}"))
        .find(|g| offsets_partition(g) == partition)
        .expect("some suffix hashes there")
}

/// An `assign`ed consumer (no group) reading every partition from the beginning; its events go
/// to `h` as one ownership period ended by `Lost`, so `check` applies (no commits to check).
fn start_assigned(
    name: &str,
    bootstrap: &str,
    topic: &str,
    h: &History,
    stop: Arc<AtomicBool>,
) -> (Consumer, tokio::task::JoinHandle<()>) {
    // request.timeout.ms 2 s (30 s by default): a partition whose leader died is then reported
    // stalled (`fetch-stalled-partitions`) before the controller elects its new leader.
    let consumer = Consumer::new(
        ConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap),
            ("auto.offset.reset", "earliest"),
            ("fetch.max.wait.ms", "100"),
            ("request.timeout.ms", "2000"),
        ])
        .expect("config"),
    )
    .expect("consumer");
    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(topic, p))
        .collect();
    consumer.assign(&tps).expect("assign");
    let sink = h.sink(name);
    sink(Kind::Assigned((0..PARTITIONS).collect()));
    let handle = consumer.clone();
    let task = tokio::spawn(async move {
        while !stop.load(Ordering::Acquire) {
            match consumer.poll(Duration::from_millis(100)).await {
                Ok(records) => {
                    for r in &records {
                        sink(processed(r));
                    }
                }
                Err(e) => sink(Kind::PollError(e.to_string())),
            }
        }
        sink(Kind::Lost((0..PARTITIONS).collect()));
        consumer.close().await.expect("close");
    });
    (handle, task)
}

/// An `OrderedProcessor` member of `group` (its handler records each record; the processor
/// commits after each round). Its revocations are recorded as `Lost`: its commits are its own,
/// not recorded, so `check` must not expect them.
fn start_ordered(
    bootstrap: &str,
    topic: &str,
    group: &str,
    h: &History,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let consumer = group_consumer(bootstrap, group, &[]);
    let sink = h.sink("ordered");
    consumer
        .subscribe_with_listener([topic.to_string()], OwnershipOnly(sink.clone()))
        .expect("subscribe");
    let mut processor =
        OrderedProcessor::new(consumer.clone(), FailurePolicy::RetryForever).expect("processor");
    tokio::spawn(async move {
        let handler_sink = sink.clone();
        let stopped = {
            let stop = stop.clone();
            async move {
                while !stop.load(Ordering::Acquire) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        let result = processor
            .run(
                move |r| {
                    handler_sink(processed(&r));
                    async { Ok::<(), std::convert::Infallible>(()) }
                },
                stopped,
            )
            .await;
        if let Err(e) = result {
            sink(Kind::PollError(format!("ordered processor: {e}")));
        }
        // Closing revokes what it owns: the listener records that as `Lost`.
        consumer.close().await.expect("close");
    })
}

/// Records assignments and losses only, as `Assigned` / `Lost` (the ordered processor's
/// commits are not recorded, so its revocations are not "clean" ones `check` could verify).
struct OwnershipOnly(crate::group_history::Sink);

impl ferrokafka::consumer::RebalanceListener for OwnershipOnly {
    fn on_partitions_revoked<'a>(
        &'a self,
        _consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> ferrokafka::consumer::ListenerFuture<'a> {
        (self.0)(Kind::Lost(
            partitions.iter().map(|tp| tp.partition).collect(),
        ));
        Box::pin(async {})
    }
    fn on_partitions_assigned<'a>(
        &'a self,
        _consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> ferrokafka::consumer::ListenerFuture<'a> {
        (self.0)(Kind::Assigned(
            partitions.iter().map(|tp| tp.partition).collect(),
        ));
        Box::pin(async {})
    }
}

fn processed(r: &ferrokafka::consumer::ConsumerRecord) -> Kind {
    let v = r.value.as_ref().expect("numbered records have values");
    Kind::Processed {
        partition: r.partition,
        offset: r.offset.0,
        seq: u64::from_be_bytes(v[..8].try_into().expect("8-byte sequence number")),
    }
}

/// The partitions' leaders from a fresh Metadata request (`None`: no leader right now).
async fn leaders(admin: &AdminClient, topic: &str) -> BTreeMap<i32, Option<i32>> {
    let Ok(md) = admin
        .cluster()
        .refresh(ferrokafka::__private::cluster::TopicSelection::Topics(
            vec![topic.to_string()],
        ))
        .await
    else {
        return BTreeMap::new();
    };
    md.topic(topic)
        .map(|t| {
            t.partitions
                .iter()
                .map(|p| (p.partition, p.leader))
                .collect()
        })
        .unwrap_or_default()
}

/// The longest time, over `member`'s partitions, without a record processed while the
/// partition's new leader was up (after `elected`); gaps are measured between `killed` and the
/// last record of the partition. Returns (partition, ms).
fn longest_stall(h: &History, member: &str, killed: u128, elected: u128) -> (i32, u128) {
    let mut by_partition: BTreeMap<i32, Vec<u128>> = BTreeMap::new();
    for e in h.snapshot().iter().filter(|e| e.member == member) {
        if let Kind::Processed { partition, .. } = e.kind {
            if e.t >= killed {
                by_partition.entry(partition).or_default().push(e.t);
            }
        }
    }
    let mut worst = (-1, 0u128);
    for (p, mut ts) in by_partition {
        ts.sort_unstable();
        let mut prev = killed;
        for t in ts {
            if t > elected {
                let stalled = (t - prev.max(elected)) / 1_000_000;
                if stalled > worst.1 {
                    worst = (p, stalled);
                }
            }
            prev = t;
        }
    }
    worst
}

/// The scenario of issue #23, every consumer kind at once (see the module docs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_move_to_new_leaders_while_a_broker_stays_down() {
    let kafka = Arc::new(dedicated(Topology::Cluster3).await);
    let bootstrap = kafka.bootstrap();
    let topic = unique_topic("dead-broker");
    let admin = create(&bootstrap, &topic, PARTITIONS, 3).await;
    let classic = format!("{topic}-classic");
    let slot = offsets_partition(&classic);
    let kip848 = group_on(&topic, "848", slot);
    let ordered = group_on(&topic, "ordered", slot);

    let h = History::default();
    let feed = Feed::start(&bootstrap, &topic, 5);
    let stop = Arc::new(AtomicBool::new(false));
    let a = Member::start(&bootstrap, &classic, &topic, "classic", &[], &h, 200);
    let b = Member::start(
        &bootstrap,
        &kip848,
        &topic,
        "kip848",
        &strategy_props("consumer"),
        &h,
        200,
    );
    let (assign_consumer, assigned) =
        start_assigned("assign", &bootstrap, &topic, &h, stop.clone());
    let ord = start_ordered(&bootstrap, &topic, &ordered, &h, stop.clone());
    let members = ["classic", "kip848", "assign", "ordered"];
    reading_every_partition(&h, &members).await;

    // The victim: the groups' coordinator (it also leads about a third of the partitions).
    let described = admin
        .describe_consumer_groups(&[&classic, &kip848, &ordered], false)
        .await
        .expect("describe groups");
    let coordinators: Vec<BrokerId> = described
        .iter()
        .map(|(_, d)| d.as_ref().expect("group described").coordinator)
        .collect();
    let victim = coordinators[0].0;
    let before = leaders(&admin, &topic).await;
    let led: Vec<i32> = before
        .iter()
        .filter(|(_, l)| **l == Some(victim))
        .map(|(p, _)| *p)
        .collect();
    eprintln!(
        "killing node {victim} (coordinator of {:?}; leader of partitions {led:?}) and keeping it down",
        coordinators
    );
    assert!(!led.is_empty(), "the victim leads none of {before:?}");
    let k = kafka.clone();
    blocking(move || k.kill_node(victim)).await.expect("kill");
    let killed = now_ns();
    let t_kill = Instant::now();
    // A consumer that starts now, while the metadata still names the dead leaders: its offset
    // lookups (ListOffsets for auto.offset.reset) go to the dead node first.
    let (_, late) = start_assigned("late", &bootstrap, &topic, &h, stop.clone());

    // When every partition has a live leader again (the controller fences the dead broker after
    // broker.session.timeout.ms, 3 s in the harness).
    let mut stalled_max = 0.0f64;
    let elected = loop {
        stalled_max = stalled_max.max(
            assign_consumer
                .metrics()
                .get("fetch-stalled-partitions")
                .unwrap_or(0.0),
        );
        let now = leaders(&admin, &topic).await;
        if now.len() == PARTITIONS as usize && now.values().all(|l| l.is_some_and(|l| l != victim))
        {
            break now_ns();
        }
        assert!(
            t_kill.elapsed() < Duration::from_secs(60),
            "no new leaders within 60 s: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let election_ms = (elected - killed) / 1_000_000;
    eprintln!("new leaders elected {election_ms} ms after the kill");
    // The stall was exposed while it lasted (request.timeout.ms 2 s for this consumer; the
    // election takes 3-5 s here), for each partition the dead node led; and it ends.
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(3) {
        stalled_max = stalled_max.max(
            assign_consumer
                .metrics()
                .get("fetch-stalled-partitions")
                .unwrap_or(0.0),
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("fetch-stalled-partitions peaked at {stalled_max}");
    assert_eq!(
        stalled_max,
        led.len() as f64,
        "every partition the dead node led was reported stalled"
    );

    // Admin calls answer while the node is down.
    let t = Instant::now();
    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(&topic, p))
        .collect();
    let asks: Vec<(TopicPartition, OffsetSpec)> = tps
        .iter()
        .map(|tp| (tp.clone(), OffsetSpec::Latest))
        .collect();
    let ends = admin
        .list_offsets(&asks)
        .await
        .expect("list offsets with a node down");
    assert_eq!(ends.len(), PARTITIONS as usize);
    for (tp, end) in &ends {
        end.as_ref()
            .unwrap_or_else(|e| panic!("{tp}: list offsets with a node down: {e}"));
    }
    let lag = admin
        .consumer_group_lag(&classic)
        .await
        .expect("group lag with its coordinator down");
    assert!(!lag.is_empty());
    eprintln!(
        "admin list_offsets + consumer_group_lag with node {victim} down: {} ms",
        t.elapsed().as_millis()
    );

    let remaining = OUTAGE.saturating_sub(t_kill.elapsed());
    tokio::time::sleep(remaining).await;
    let produced = feed.stop().await;
    eprintln!("{produced} records produced, node {victim} still down");
    let members = ["classic", "kip848", "assign", "ordered", "late"];
    all_processed(&h, &members, produced).await;
    assert_eq!(
        assign_consumer.metrics().get("fetch-stalled-partitions"),
        Some(0.0),
        "no partition stalled once the new leaders answer"
    );
    assert!(
        !kafka.is_running(victim),
        "the victim stayed down for the whole test"
    );
    stop.store(true, Ordering::Release);
    a.close().await;
    b.close().await;
    assigned.await.expect("assign task");
    ord.await.expect("ordered task");
    late.await.expect("late task");
    let lines = verify(&h, &members, produced, killed, elected);
    println!(
        "dead broker (node {victim} killed and kept down, leaders elected after {election_ms} ms):\n  {}",
        lines.join("\n  ")
    );
}

/// Waits until each of `members` has processed a record of every partition.
async fn reading_every_partition(h: &History, members: &[&str]) {
    wait_until(h, "every consumer reads every partition", 90, || {
        let snap = h.snapshot();
        members.iter().all(|m| {
            (0..PARTITIONS).all(|p| {
                snap.iter().any(|e| {
                    e.member == *m
                        && matches!(e.kind, Kind::Processed { partition, .. } if partition == p)
                })
            })
        })
    })
    .await;
}

/// Waits (60 s at most each) until each of `members` has processed `produced` distinct records.
async fn all_processed(h: &History, members: &[&str], produced: u64) {
    for m in members {
        let seen = || {
            let mut s = std::collections::HashSet::new();
            for e in h.snapshot().iter().filter(|e| e.member == *m) {
                if let Kind::Processed { seq, .. } = e.kind {
                    s.insert(seq);
                }
            }
            s.len() as u64
        };
        wait_until(
            h,
            &format!("{m} processed all {produced} records"),
            60,
            || seen() >= produced,
        )
        .await;
    }
}

/// Checks each member's history (every record, in order per partition, none twice: no member
/// died, so no redelivery is allowed) and its longest stall after `elected` (the fault at
/// `from`); returns one line per member.
fn verify(h: &History, members: &[&str], produced: u64, from: u128, elected: u128) -> Vec<String> {
    let events = h.snapshot();
    let mut lines = Vec::new();
    for m in members {
        let mine: Vec<_> = events.iter().filter(|e| e.member == *m).cloned().collect();
        let r = check(&mine, PARTITIONS, produced, &[]);
        assert_eq!(r.duplicates, 0, "{m}: records processed twice");
        let (p, stall_ms) = longest_stall(h, m, from, elected);
        lines.push(format!(
            "{m}: {} records, 0 lost, 0 duplicated; longest stall {stall_ms} ms (partition {p})",
            r.processed
        ));
        assert!(
            stall_ms <= STALL_BOUND.as_millis(),
            "{m}: partition {p} made no progress for {stall_ms} ms while its leader was up"
        );
    }
    lines
}

/// A controlled shutdown (SIGTERM: the controller moves leadership away first), the node's
/// return, and a preferred-leader election moving leadership back, while a group member and an
/// assigned consumer read: no partition stalls longer than [`STALL_BOUND`], nothing is lost or
/// read twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controlled_shutdown_and_preferred_leader_election_stall_no_partition() {
    let kafka = Arc::new(dedicated(Topology::Cluster3).await);
    let bootstrap = kafka.bootstrap();
    let topic = unique_topic("leader-moves");
    let admin = create(&bootstrap, &topic, PARTITIONS, 3).await;
    let group = format!("{topic}-group");
    let h = History::default();
    let feed = Feed::start(&bootstrap, &topic, 5);
    let stop = Arc::new(AtomicBool::new(false));
    let a = Member::start(&bootstrap, &group, &topic, "group", &[], &h, 200);
    let (_, assigned) = start_assigned("assign", &bootstrap, &topic, &h, stop.clone());
    let members = ["group", "assign"];
    reading_every_partition(&h, &members).await;

    let before = leaders(&admin, &topic).await;
    let victim = before
        .get(&0)
        .copied()
        .flatten()
        .expect("partition 0 has a leader");
    let from = now_ns();
    let t = Instant::now();
    let k = kafka.clone();
    blocking(move || k.stop_node(victim))
        .await
        .expect("controlled shutdown");
    eprintln!(
        "node {victim} shut down (controlled) in {} ms; leaders now {:?}",
        t.elapsed().as_millis(),
        leaders(&admin, &topic).await
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let k = kafka.clone();
    blocking(move || k.restart_node(victim))
        .await
        .expect("restart");
    // Back in every partition's ISR, then leadership goes back to the preferred replicas.
    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(&topic, p))
        .collect();
    let in_sync = Instant::now();
    loop {
        let md = admin
            .cluster()
            .refresh(ferrokafka::__private::cluster::TopicSelection::Topics(
                vec![topic.clone()],
            ))
            .await;
        let caught_up = md.ok().and_then(|md| {
            md.topic(&topic)
                .map(|t| t.partitions.iter().all(|p| p.isr.contains(&victim)))
        });
        if caught_up == Some(true) {
            break;
        }
        assert!(
            in_sync.elapsed() < Duration::from_secs(60),
            "node {victim} not back in sync within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elected = admin
        .elect_leaders(ElectionType::Preferred, Some(&tps))
        .await
        .expect("preferred leader election");
    let moved = elected.values().filter(|r| r.is_ok()).count();
    // The election is applied by the controller and reaches each broker's metadata cache a
    // moment later: the broker asked first may still answer with the old leaders.
    let propagated = Instant::now();
    let after = loop {
        let after = leaders(&admin, &topic).await;
        if after.values().any(|l| *l == Some(victim)) {
            break after;
        }
        assert!(
            propagated.elapsed() < Duration::from_secs(30),
            "node {victim} leads again within 30 s of the preferred election ({moved} moved): {after:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!(
        "preferred leader election moved {moved} leaders; seen after {} ms; leaders now {after:?}",
        propagated.elapsed().as_millis()
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let produced = feed.stop().await;
    all_processed(&h, &members, produced).await;
    stop.store(true, Ordering::Release);
    a.close().await;
    assigned.await.expect("assign task");
    // Leadership moved without an outage: every gap counts from the shutdown on.
    let lines = verify(&h, &members, produced, from, from);
    println!(
        "controlled shutdown of node {victim}, restart, preferred election ({produced} records):\n  {}",
        lines.join("\n  ")
    );
}
