//! Instrumented group members and the checker of what they did, for the group fault tests.
//!
//! Every member (in this process, or a child process printing its events on stdout) records
//! listener calls, processed records and commits as timestamped [`Ev`]s in one [`History`]. The
//! timestamps are wall-clock nanoseconds, comparable between the test process and its children
//! (one machine). [`check`] then rebuilds each member's ownership periods per partition and
//! asserts exclusive ownership, in-order processing, no loss, and duplicates only from an
//! uncommitted window of a member that died.

use crate::group::group_consumer;
use crate::producer::numbered;
use ferrokafka::consumer::{Consumer, ConsumerRecord, ListenerFuture, RebalanceListener};
use ferrokafka::producer::{Producer, ProducerConfig};
use ferrokafka::types::{Offset, TopicPartition};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::task::JoinHandle;

/// Wall-clock nanoseconds since the epoch.
pub fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos()
}

/// What a member did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `on_partitions_assigned` (logged when it starts).
    Assigned(Vec<i32>),
    /// `on_partitions_revoked` (logged when it ends, after its commit).
    Revoked(Vec<i32>),
    /// `on_partitions_lost`.
    Lost(Vec<i32>),
    /// A record handed out by poll and processed.
    Processed {
        partition: i32,
        offset: i64,
        seq: u64,
    },
    /// An attempt to process a record that failed (chaos_ordered.rs: the record must be
    /// attempted again before any later record of its partition).
    Failed {
        partition: i32,
        offset: i64,
        seq: u64,
    },
    /// A successful commit: (partition, next offset to consume).
    Committed(Vec<(i32, i64)>),
    /// A failed commit (`listener`: from `on_partitions_revoked`).
    CommitFailed { listener: bool, error: String },
    /// `poll` returned an error.
    PollError(String),
}

/// One event of one member.
#[derive(Debug, Clone)]
pub struct Ev {
    pub t: u128,
    pub member: String,
    pub kind: Kind,
}

fn join(ps: &[i32]) -> String {
    if ps.is_empty() {
        return "-".into();
    }
    ps.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

fn split(s: &str) -> Option<Vec<i32>> {
    if s == "-" {
        return Some(Vec::new());
    }
    s.split(',').map(|p| p.parse().ok()).collect()
}

/// `partition offset seq`, the payload of a `P` or `X` line.
fn record_of(s: &str) -> Option<(i32, i64, u64)> {
    let v: Vec<&str> = s.split(' ').collect();
    let [p, o, s] = v.as_slice() else {
        return None;
    };
    Some((p.parse().ok()?, o.parse().ok()?, s.parse().ok()?))
}

impl Ev {
    /// The line a child process prints: `EV <member> <t> <tag> <payload>`.
    pub fn to_line(&self) -> String {
        let payload = match &self.kind {
            Kind::Assigned(ps) => format!("A {}", join(ps)),
            Kind::Revoked(ps) => format!("R {}", join(ps)),
            Kind::Lost(ps) => format!("L {}", join(ps)),
            Kind::Processed {
                partition,
                offset,
                seq,
            } => format!("P {partition} {offset} {seq}"),
            Kind::Failed {
                partition,
                offset,
                seq,
            } => format!("X {partition} {offset} {seq}"),
            Kind::Committed(offs) => {
                let s: Vec<String> = offs.iter().map(|(p, o)| format!("{p}:{o}")).collect();
                format!(
                    "C {}",
                    if s.is_empty() {
                        "-".into()
                    } else {
                        s.join(",")
                    }
                )
            }
            Kind::CommitFailed { listener, error } => {
                format!(
                    "F {} {}",
                    if *listener { "l" } else { "p" },
                    error.replace('\n', " ")
                )
            }
            Kind::PollError(e) => format!("E {}", e.replace('\n', " ")),
        };
        format!("EV {} {} {payload}", self.member, self.t)
    }

    /// Parses [`to_line`](Self::to_line); `None` for anything else (harness output, or a line cut
    /// short by SIGKILL).
    pub fn parse(line: &str) -> Option<Ev> {
        let mut it = line.splitn(5, ' ');
        if it.next()? != "EV" {
            return None;
        }
        let member = it.next()?.to_string();
        let t: u128 = it.next()?.parse().ok()?;
        let tag = it.next()?;
        let rest = it.next()?;
        let kind = match tag {
            "A" => Kind::Assigned(split(rest)?),
            "R" => Kind::Revoked(split(rest)?),
            "L" => Kind::Lost(split(rest)?),
            "P" => {
                let (partition, offset, seq) = record_of(rest)?;
                Kind::Processed {
                    partition,
                    offset,
                    seq,
                }
            }
            "X" => {
                let (partition, offset, seq) = record_of(rest)?;
                Kind::Failed {
                    partition,
                    offset,
                    seq,
                }
            }
            "C" if rest == "-" => Kind::Committed(Vec::new()),
            "C" => Kind::Committed(
                rest.split(',')
                    .map(|po| {
                        let (p, o) = po.split_once(':')?;
                        Some((p.parse().ok()?, o.parse().ok()?))
                    })
                    .collect::<Option<_>>()?,
            ),
            "F" => {
                let (l, e) = rest.split_once(' ')?;
                Kind::CommitFailed {
                    listener: l == "l",
                    error: e.into(),
                }
            }
            "E" => Kind::PollError(rest.into()),
            _ => return None,
        };
        Some(Ev { t, member, kind })
    }
}

/// Where a member's events go.
pub type Sink = Arc<dyn Fn(Kind) + Send + Sync>;

/// Every member's events, in the order they were recorded.
#[derive(Default, Clone)]
pub struct History(pub Arc<Mutex<Vec<Ev>>>);

impl History {
    pub fn push(&self, ev: Ev) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(ev);
    }

    pub fn snapshot(&self) -> Vec<Ev> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A sink recording `member`'s events here.
    pub fn sink(&self, member: &str) -> Sink {
        let h = self.clone();
        let member = member.to_string();
        Arc::new(move |kind| {
            h.push(Ev {
                t: now_ns(),
                member: member.clone(),
                kind,
            })
        })
    }

    /// The partitions `member` owns according to its listener calls so far.
    pub fn owned(&self, member: &str) -> BTreeSet<i32> {
        let mut owned = BTreeSet::new();
        for e in self.snapshot().iter().filter(|e| e.member == member) {
            match &e.kind {
                Kind::Assigned(ps) => owned.extend(ps.iter().copied()),
                Kind::Revoked(ps) | Kind::Lost(ps) => {
                    for p in ps {
                        owned.remove(p);
                    }
                }
                _ => {}
            }
        }
        owned
    }

    /// `member`'s events matching `f` recorded after `since`.
    pub fn count(&self, member: &str, since: u128, f: impl Fn(&Kind) -> bool) -> usize {
        self.snapshot()
            .iter()
            .filter(|e| e.member == member && e.t > since && f(&e.kind))
            .count()
    }

    /// The distinct sequence numbers processed by anyone.
    pub fn distinct_seqs(&self) -> usize {
        let mut s = BTreeSet::new();
        for e in self.snapshot() {
            if let Kind::Processed { seq, .. } = e.kind {
                s.insert(seq);
            }
        }
        s.len()
    }

    /// Whether `members` own disjoint, non-empty sets covering all `partitions`.
    pub fn settled(&self, members: &[&str], partitions: i32) -> bool {
        let mut all = BTreeSet::new();
        for m in members {
            let o = self.owned(m);
            if o.is_empty() || !o.is_disjoint(&all) {
                return false;
            }
            all.extend(o);
        }
        all == (0..partitions).collect()
    }

    /// A one-line summary per member, for failure messages.
    pub fn summary(&self) -> String {
        let mut members: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for e in self.snapshot() {
            let m = members.entry(e.member.clone()).or_default();
            match e.kind {
                Kind::Processed { .. } => m.0 += 1,
                _ => m.1 += 1,
            }
        }
        let mut last: BTreeMap<i32, (i64, String)> = BTreeMap::new();
        for e in self.snapshot() {
            if let Kind::Processed {
                partition, offset, ..
            } = e.kind
            {
                last.insert(partition, (offset, e.member.clone()));
            }
        }
        let members = members
            .iter()
            .map(|(name, (p, o))| {
                format!(
                    "{name}: owns {:?}, {p} processed, {o} other events",
                    self.owned(name)
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        // Where each partition stands: a partition stuck behind the others shows here.
        let last: Vec<String> = last
            .iter()
            .map(|(p, (o, m))| format!("{p}@{o} by {m}"))
            .collect();
        format!("{members}; last processed {}", last.join(", "))
    }
}

/// Polls `cond` every 50 ms until it holds; panics after `secs` naming `what`.
pub async fn wait_until(h: &History, what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for: {what}\n{}",
            h.summary()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waited = Duration::from_secs(secs) - deadline.saturating_duration_since(Instant::now());
    eprintln!("{:.2} s until: {what}", waited.as_secs_f64());
}

pub(crate) fn seq_of(r: &ConsumerRecord) -> u64 {
    let v = r.value.as_ref().expect("numbered records have values");
    u64::from_be_bytes(v[..8].try_into().expect("8-byte sequence number"))
}

/// Commits the positions of `only` (all assigned partitions if `None`) and records the outcome.
/// `commit` with explicit offsets, so what is recorded is exactly what was committed.
async fn commit_recorded(
    c: &Consumer,
    sink: &Sink,
    only: Option<&[TopicPartition]>,
    listener: bool,
) {
    let tps = match only {
        Some(tps) => tps.to_vec(),
        None => c.assignment(),
    };
    let offsets: Vec<(TopicPartition, Offset)> = tps
        .into_iter()
        .filter_map(|tp| c.position(&tp).map(|o| (tp, o)))
        .collect();
    if offsets.is_empty() {
        return;
    }
    match c.commit(&offsets).await {
        Ok(()) => sink(Kind::Committed(
            offsets.iter().map(|(tp, o)| (tp.partition, o.0)).collect(),
        )),
        Err(e) => sink(Kind::CommitFailed {
            listener,
            error: e.to_string(),
        }),
    }
}

/// Records the listener calls; commits the revoked partitions' positions on revocation.
pub struct EvListener(pub Sink);

impl RebalanceListener for EvListener {
    fn on_partitions_revoked<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> ListenerFuture<'a> {
        Box::pin(async move {
            commit_recorded(consumer, &self.0, Some(partitions), true).await;
            (self.0)(Kind::Revoked(
                partitions.iter().map(|tp| tp.partition).collect(),
            ));
        })
    }
    fn on_partitions_assigned<'a>(
        &'a self,
        _consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> ListenerFuture<'a> {
        (self.0)(Kind::Assigned(
            partitions.iter().map(|tp| tp.partition).collect(),
        ));
        Box::pin(async {})
    }
    fn on_partitions_lost<'a>(
        &'a self,
        _consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> ListenerFuture<'a> {
        (self.0)(Kind::Lost(
            partitions.iter().map(|tp| tp.partition).collect(),
        ));
        Box::pin(async {})
    }
}

/// The processing loop of every member: poll, record each record, commit every `commit_every`
/// records, take `pause` after each poll's records, until `stop`. (A pause is slow processing:
/// a backlog then lasts long enough for faults to hit it, and a member spends most of its time
/// holding records it has not committed yet instead of committing.)
pub async fn run_loop(
    c: Consumer,
    sink: Sink,
    stop: Arc<AtomicBool>,
    commit_every: usize,
    pause: Duration,
) {
    let mut since_commit = 0;
    while !stop.load(Ordering::Acquire) {
        let records = match c.poll(Duration::from_millis(100)).await {
            Ok(r) => r,
            Err(e) => {
                sink(Kind::PollError(e.to_string()));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        since_commit += records.len();
        for r in &records {
            sink(Kind::Processed {
                partition: r.partition,
                offset: r.offset.0,
                seq: seq_of(r),
            });
        }
        if since_commit >= commit_every {
            since_commit = 0;
            commit_recorded(&c, &sink, None, false).await;
        }
        if !pause.is_zero() && !records.is_empty() {
            tokio::time::sleep(pause).await;
        }
    }
}

/// A group member running [`run_loop`] in a task of this process.
pub struct Member {
    pub name: String,
    pub consumer: Consumer,
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Member {
    pub fn start(
        bootstrap: &str,
        group: &str,
        topic: &str,
        name: &str,
        extra: &[(&str, &str)],
        h: &History,
        commit_every: usize,
    ) -> Member {
        Member::start_paced(
            bootstrap,
            group,
            topic,
            name,
            extra,
            h,
            commit_every,
            Duration::ZERO,
        )
    }

    /// Like [`start`](Self::start), running [`run_loop`] with `pause`.
    #[allow(clippy::too_many_arguments)]
    pub fn start_paced(
        bootstrap: &str,
        group: &str,
        topic: &str,
        name: &str,
        extra: &[(&str, &str)],
        h: &History,
        commit_every: usize,
        pause: Duration,
    ) -> Member {
        Member::start_with(bootstrap, group, topic, name, extra, h, |c, sink, stop| {
            run_loop(c, sink, stop, commit_every, pause)
        })
    }

    /// A member subscribed with an [`EvListener`] whose processing loop is `body(consumer,
    /// sink, stop)` (it must end soon after `stop` is set).
    pub fn start_with<F, Fut>(
        bootstrap: &str,
        group: &str,
        topic: &str,
        name: &str,
        extra: &[(&str, &str)],
        h: &History,
        body: F,
    ) -> Member
    where
        F: FnOnce(Consumer, Sink, Arc<AtomicBool>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let consumer = group_consumer(bootstrap, group, extra);
        let sink = h.sink(name);
        consumer
            .subscribe_with_listener([topic.to_string()], EvListener(sink.clone()))
            .expect("subscribe");
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(body(consumer.clone(), sink, stop.clone()));
        Member {
            name: name.into(),
            consumer,
            stop,
            task,
        }
    }

    /// Stops the processing loop (after its current poll) and hands back the consumer.
    pub async fn stop(self) -> Consumer {
        self.stop.store(true, Ordering::Release);
        self.task.await.expect("member loop");
        self.consumer
    }

    /// Stops the loop and closes the consumer (revocation through the listener, LeaveGroup).
    pub async fn close(self) {
        let c = self.stop().await;
        c.close().await.expect("close");
    }
}

/// A producer writing numbered records (sequence numbers from 0) until stopped.
pub struct Feed {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    task: JoinHandle<u64>,
}

impl Feed {
    /// Sends `per_tick` records every 10 ms.
    pub fn start(bootstrap: &str, topic: &str, per_tick: u64) -> Feed {
        Feed::start_from(bootstrap, topic, per_tick, 0)
    }

    /// Like [`start`](Self::start), numbering from `first` (a feed following an earlier one on
    /// the same topic).
    pub fn start_from(bootstrap: &str, topic: &str, per_tick: u64, first: u64) -> Feed {
        let producer = Producer::new(
            ProducerConfig::from_properties([("bootstrap.servers", bootstrap), ("linger.ms", "5")])
                .expect("config"),
        )
        .expect("producer");
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(first));
        let (s, n, topic) = (stop.clone(), sent.clone(), topic.to_string());
        let task = tokio::spawn(async move {
            let mut pending = Vec::new();
            let mut seq = first;
            while !s.load(Ordering::Acquire) {
                for _ in 0..per_tick {
                    pending.push(
                        producer
                            .send(numbered(&topic, seq))
                            .await
                            .expect("buffered"),
                    );
                    seq += 1;
                }
                n.store(seq, Ordering::Release);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            for f in pending {
                f.await.expect("delivered");
            }
            producer
                .close(Duration::from_secs(10))
                .await
                .expect("close");
            seq
        });
        Feed { stop, sent, task }
    }

    /// The next sequence number (records handed to the producer so far, plus `first`).
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Acquire)
    }

    /// What [`sent`](Self::sent) reads, for a task of its own.
    pub fn sent_counter(&self) -> Arc<AtomicU64> {
        self.sent.clone()
    }

    /// Stops and waits until every record sent was acknowledged; returns how many there are.
    pub async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Release);
        self.task.await.expect("producer task")
    }
}

/// One member's ownership of one partition, from its assignment to its revocation (or loss, or
/// death).
#[derive(Debug, Clone)]
pub struct Period {
    pub member: String,
    pub partition: i32,
    pub start: u128,
    pub end: u128,
    /// Ended by `on_partitions_revoked` (which commits), not by a loss or death.
    pub clean: bool,
    /// (time, offset, seq) of each processed record.
    pub processed: Vec<(u128, i64, u64)>,
    /// (time, committed offset).
    pub commits: Vec<(u128, i64)>,
}

/// What [`check`] measured.
#[derive(Debug)]
pub struct Report {
    pub periods: Vec<Period>,
    /// Records processed a second time.
    pub duplicates: usize,
    /// Records the dead members had processed beyond their last commit (the bound on duplicates).
    pub uncommitted_at_death: usize,
    pub processed: usize,
    pub commits: usize,
    /// Commits refused outside the listener (during rebalances; harmless).
    pub loop_commit_failures: usize,
}

/// Checks the history of a topic with `partitions` partitions into which `produced` numbered
/// records were written. `deaths`: members that died (killed or dropped without close) and when;
/// every other member must have had all its partitions revoked or lost by the end.
///
/// Asserts: no partition owned by two members at once; records processed only by their
/// partition's owner; within each ownership period offsets contiguous and sequence numbers
/// increasing; a clean revocation commits everything processed; each new owner starts at or
/// after the last commit and at or before the first unprocessed offset; every produced record
/// processed; duplicates exactly the overlaps at handovers, and none of them below the
/// committed offset.
pub fn check(events: &[Ev], partitions: i32, produced: u64, deaths: &[(&str, u128)]) -> Report {
    let mut evs = events.to_vec();
    evs.sort_by_key(|e| e.t);
    let mut open: BTreeMap<(String, i32), Period> = BTreeMap::new();
    let mut periods = Vec::new();
    let mut loop_commit_failures = 0;
    for e in &evs {
        let m = &e.member;
        match &e.kind {
            Kind::Assigned(ps) => {
                for &p in ps {
                    let key = (m.clone(), p);
                    assert!(!open.contains_key(&key), "{m} assigned {p} while owning it");
                    open.insert(
                        key,
                        Period {
                            member: m.clone(),
                            partition: p,
                            start: e.t,
                            end: u128::MAX,
                            clean: false,
                            processed: Vec::new(),
                            commits: Vec::new(),
                        },
                    );
                }
            }
            Kind::Revoked(ps) | Kind::Lost(ps) => {
                for &p in ps {
                    let mut period = open
                        .remove(&(m.clone(), p))
                        .unwrap_or_else(|| panic!("{m} gave up {p} without owning it"));
                    period.end = e.t;
                    period.clean = matches!(e.kind, Kind::Revoked(_));
                    periods.push(period);
                }
            }
            Kind::Processed {
                partition,
                offset,
                seq,
            } => open
                .get_mut(&(m.clone(), *partition))
                .unwrap_or_else(|| {
                    panic!("{m} processed {partition}@{offset} while not owning the partition")
                })
                .processed
                .push((e.t, *offset, *seq)),
            Kind::Failed {
                partition, offset, ..
            } => assert!(
                open.contains_key(&(m.clone(), *partition)),
                "{m} attempted {partition}@{offset} while not owning the partition"
            ),
            Kind::Committed(offs) => {
                for &(p, o) in offs {
                    open.get_mut(&(m.clone(), p))
                        .unwrap_or_else(|| panic!("{m} committed {p}@{o} while not owning it"))
                        .commits
                        .push((e.t, o));
                }
            }
            Kind::CommitFailed {
                listener: true,
                error,
            } => {
                panic!("{m}: commit in on_partitions_revoked failed: {error}")
            }
            Kind::CommitFailed {
                listener: false,
                error,
            } => {
                eprintln!("{m}: commit refused (rebalance): {error}");
                loop_commit_failures += 1;
            }
            Kind::PollError(err) => panic!("{m}: poll failed: {err}"),
        }
    }
    for ((m, p), mut period) in open {
        let Some((_, died)) = deaths.iter().find(|(d, _)| *d == m) else {
            let mine: Vec<String> = evs
                .iter()
                .filter(|e| e.member == m && !matches!(e.kind, Kind::Processed { .. }))
                .map(Ev::to_line)
                .collect();
            panic!(
                "{m} still owned {p} at the end of the test:\n{}",
                mine.join("\n")
            );
        };
        period.end = *died;
        periods.push(period);
    }
    periods.sort_by_key(|p| (p.partition, p.start));

    let mut duplicates = 0usize;
    let mut uncommitted_at_death = 0usize;
    for p in 0..partitions {
        let ps: Vec<&Period> = periods.iter().filter(|x| x.partition == p).collect();
        for w in ps.windows(2) {
            assert!(
                w[1].start >= w[0].end,
                "partition {p} owned by {} and {} at once ({}..{} vs {}..{})",
                w[0].member,
                w[1].member,
                w[0].start,
                w[0].end,
                w[1].start,
                w[1].end
            );
        }
        // The next offset nobody processed yet, and the highest commit so far.
        let mut frontier = 0i64;
        let mut committed = 0i64;
        for per in ps {
            let who = format!("{} ({p}, {}..{})", per.member, per.start, per.end);
            for w in per.processed.windows(2) {
                assert_eq!(w[1].1, w[0].1 + 1, "{who}: offsets not contiguous");
                assert!(w[1].2 > w[0].2, "{who}: sequence numbers out of order");
            }
            if let (Some(first), Some(last)) = (per.processed.first(), per.processed.last()) {
                assert!(
                    first.1 <= frontier,
                    "{who}: started at {}, records from {frontier} lost",
                    first.1
                );
                assert!(
                    first.1 >= committed,
                    "{who}: started at {} below the committed offset {committed}",
                    first.1
                );
                duplicates += (frontier - first.1) as usize;
                frontier = frontier.max(last.1 + 1);
            }
            for &(_, c) in &per.commits {
                assert!(
                    c <= frontier,
                    "{who}: committed {c} beyond what was processed ({frontier})"
                );
                committed = committed.max(c);
            }
            if per.clean {
                if let Some(last) = per.processed.last() {
                    assert_eq!(
                        committed,
                        last.1 + 1,
                        "{who}: revoked without committing everything processed"
                    );
                }
            } else if deaths.iter().any(|(d, _)| *d == per.member) {
                uncommitted_at_death += (frontier - committed) as usize;
            }
        }
    }

    let mut count: HashMap<u64, usize> = HashMap::new();
    for per in &periods {
        for &(_, _, seq) in &per.processed {
            *count.entry(seq).or_default() += 1;
        }
    }
    let processed: usize = count.values().sum();
    let missing: Vec<u64> = (0..produced)
        .filter(|s| !count.contains_key(s))
        .take(10)
        .collect();
    assert!(
        missing.is_empty(),
        "records never processed (first 10): {missing:?}"
    );
    assert_eq!(
        count.len() as u64,
        produced,
        "processed sequence numbers never produced"
    );
    assert_eq!(
        processed - count.len(),
        duplicates,
        "duplicates by sequence number vs by offset"
    );
    assert!(
        duplicates <= uncommitted_at_death,
        "{duplicates} duplicates > uncommitted {uncommitted_at_death}"
    );
    let commits = periods.iter().map(|p| p.commits.len()).sum();
    Report {
        periods,
        duplicates,
        uncommitted_at_death,
        processed,
        commits,
        loop_commit_failures,
    }
}

#[test]
fn event_lines_round_trip() {
    for kind in [
        Kind::Assigned(vec![0, 3]),
        Kind::Revoked(vec![]),
        Kind::Lost(vec![5]),
        Kind::Processed {
            partition: 2,
            offset: 17,
            seq: 99,
        },
        Kind::Failed {
            partition: 5,
            offset: 0,
            seq: 7,
        },
        Kind::Committed(vec![(1, 4), (2, 0)]),
        Kind::Committed(vec![]),
        Kind::CommitFailed {
            listener: true,
            error: "REBALANCE_IN_PROGRESS: x y".into(),
        },
        Kind::PollError("boom".into()),
    ] {
        let ev = Ev {
            t: 12345,
            member: "C".into(),
            kind,
        };
        let back = Ev::parse(&ev.to_line()).expect("parses");
        assert_eq!((back.t, back.member, back.kind), (ev.t, ev.member, ev.kind));
    }
    assert!(Ev::parse("EV C 12 P 1 2").is_none(), "a line cut short");
    assert!(Ev::parse("running 1 test").is_none());
}
