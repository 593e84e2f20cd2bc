//! A group consumer dropped without `close()` must go quiet at once: its background tasks stop
//! (no more heartbeats), it logs its one WARN that it did not leave, and the coordinator evicts
//! it after `session.timeout.ms`, handing its partitions to the surviving member. Before the fix
//! the request tasks of the dropped consumer kept its shared state alive, and it went on
//! heartbeating (and holding its partition) for as long as a fetch was in flight at each turn of
//! its fetch loop: often for the rest of the process.

use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka_mock::{MockCluster, MockConfig};
use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

const TOPIC: &str = "drop-topic";
const SESSION_TIMEOUT: Duration = Duration::from_secs(6);
/// The consumer's WARN about being dropped without `close()`.
const DROP_WARN: &str = "consumer dropped without close()";

/// Every drop WARN logged: when, and its line (which names the group).
static DROP_WARNED: Mutex<Vec<(Instant, String)>> = Mutex::new(Vec::new());

/// A log writer that remembers when each drop WARN was written (the fmt layer writes each event
/// in one `write`). Logging goes to a process-wide subscriber: the consumer's tasks run on the
/// runtime's worker threads, where a thread-scoped subscriber would not see them.
struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let line = String::from_utf8_lossy(buf);
        if line.contains(DROP_WARN) {
            DROP_WARNED
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((Instant::now(), line.into_owned()));
        }
        std::io::stderr().write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_log() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        tracing::subscriber::set_global_default(
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::WARN)
                .with_writer(|| Capture)
                .with_ansi(false)
                .finish(),
        )
        .expect("the only global subscriber");
    });
}

/// The drop WARN of `group`'s consumer, if logged.
fn drop_warning(group: &str) -> Option<(Instant, String)> {
    let field = format!("group={group:?}");
    DROP_WARNED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .find(|(_, line)| line.contains(&field))
        .cloned()
}

fn consumer(bootstrap: &str, group: &str) -> Consumer {
    let c = Consumer::new(
        ConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap),
            ("group.id", group),
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "500"),
            ("auto.offset.reset", "earliest"),
        ])
        .expect("consumer config"),
    )
    .expect("consumer");
    c.subscribe([TOPIC]).expect("subscribe");
    c
}

fn partitions(c: &Consumer) -> BTreeSet<i32> {
    c.assignment().iter().map(|tp| tp.partition).collect()
}

/// Polls every consumer until `done` holds.
async fn poll_until(
    consumers: &[&Consumer],
    limit: Duration,
    what: &str,
    mut done: impl FnMut(&[&Consumer]) -> bool,
) -> Duration {
    let start = Instant::now();
    while !done(consumers) {
        assert!(
            start.elapsed() < limit,
            "not {what} within {limit:?} (assignments: {:?})",
            consumers.iter().map(|c| partitions(c)).collect::<Vec<_>>()
        );
        for c in consumers {
            c.poll(Duration::from_millis(100)).await.expect("poll");
        }
    }
    start.elapsed()
}

/// The brief's scenario: one broker, two partitions, one each; A is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_group_consumer_stops_heartbeating_and_its_partition_moves() {
    dropped_member_is_evicted(MockConfig::default(), 2, "g").await;
}

/// As above with two brokers and four partitions, so the dropped member fetches from two
/// leaders at once: before the fix each fetch task's reference kept the state alive while the
/// fetch loop planned the next one, so the member never went quiet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_member_fetching_from_two_brokers_stops_heartbeating() {
    dropped_member_is_evicted(MockConfig::default().brokers(2), 4, "g2").await;
}

/// Starts member A, then B (same group), waits until they share the partitions evenly, drops A
/// without `close()` and checks that B owns every partition within session.timeout.ms and a
/// margin, and that A's state was released (its drop WARN logged) at once.
async fn dropped_member_is_evicted(config: MockConfig, count: i32, group: &str) {
    capture_log();
    let cluster = MockCluster::start(config).await.expect("cluster");
    cluster.create_topic(TOPIC, count).expect("topic");
    let bootstrap = cluster.bootstrap();
    let all = count as usize;
    let half = all / 2;

    let a = consumer(&bootstrap, group);
    poll_until(&[&a], Duration::from_secs(20), "A assigned", |cs| {
        partitions(cs[0]).len() == all
    })
    .await;
    let b = consumer(&bootstrap, group);
    poll_until(&[&a, &b], Duration::from_secs(20), "split", |cs| {
        partitions(cs[0]).len() == half
            && partitions(cs[1]).len() == half
            && partitions(cs[0]).is_disjoint(&partitions(cs[1]))
    })
    .await;
    // Let both members run stable for a few heartbeats and fetch long polls, so requests of
    // every kind are in flight when A goes.
    let settle = Instant::now() + Duration::from_secs(2);
    while Instant::now() < settle {
        a.poll(Duration::from_millis(100)).await.expect("poll a");
        b.poll(Duration::from_millis(100)).await.expect("poll b");
    }
    assert_eq!(partitions(&a).len() + partitions(&b).len(), all);

    let dropped_at = Instant::now();
    drop(a);

    // B takes over A's partitions once the coordinator evicted A: after session.timeout.ms
    // without a heartbeat from A (plus B's next heartbeat and the rejoin: ~6.4 s here). Before
    // the fix a member fetching from two brokers took ~12 s or never went quiet.
    let limit = SESSION_TIMEOUT + Duration::from_secs(3);
    poll_until(&[&b], limit, "every partition on B", |cs| {
        partitions(cs[0]).len() == all
    })
    .await;
    let moved_after = dropped_at.elapsed();
    println!("{group}: B owns every partition {moved_after:?} after A was dropped");

    // A's tasks let go of its state at once: the WARN comes from dropping it.
    let (warned_at, line) = drop_warning(group)
        .unwrap_or_else(|| panic!("no {DROP_WARN:?} WARN within {moved_after:?} of the drop"));
    let warned_after = warned_at.saturating_duration_since(dropped_at);
    println!("{group}: the drop WARN came {warned_after:?} after the drop");
    assert!(
        warned_after < Duration::from_millis(200),
        "the dropped consumer's state lived on for {warned_after:?}: its tasks held it"
    );
    assert!(line.contains(&format!("owned_partitions={half}")), "{line}");
    // Documented: a dropped consumer does not leave; the group waits out the session timeout
    // (A's last heartbeat was at most heartbeat.interval.ms before the drop).
    assert!(
        moved_after >= SESSION_TIMEOUT - Duration::from_secs(1),
        "moved after only {moved_after:?}: did the dropped consumer leave?"
    );
    b.close().await.expect("close b");
}
