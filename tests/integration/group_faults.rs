//! Consumer groups under membership changes against a real broker: members joining one by one
//! under load, a clean leave and a SIGKILLed member (a child process); cooperative-sticky keeping
//! unaffected partitions; static members restarting without a rebalance.
//!
//! Members record what they do in a [`History`]; [`check`] asserts exclusive ownership, order,
//! no loss and bounded duplicates (see group_history.rs).

use crate::group_history::{
    check, now_ns, run_loop, wait_until, Ev, EvListener, Feed, History, Kind, Member, Sink,
};
use crate::producer::create;
use crate::support::{blocking, shared_bootstrap};
use ferrokafka::consumer::GroupGeneration;
use ferrokafka_testcontainers::unique_topic;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tells the test binary run as a child which member to be:
/// `bootstrap|topic|group|strategy|name[|max.poll.records[|pause ms after each poll[|ordered|handler
/// ms per record]]]` (strategy `consumer`: the KIP-848 protocol, see [`strategy_props`];
/// `ordered`: processing through `OrderedProcessor`, see chaos_ordered.rs).
const CHILD_ENV: &str = "FERROKAFKA_GROUP_CHILD";
/// The child commits after every this many records, so it dies with an uncommitted window.
const CHILD_COMMIT_EVERY: usize = 150;

fn processed(k: &Kind) -> bool {
    matches!(k, Kind::Processed { .. })
}

pub(crate) fn committed(k: &Kind) -> bool {
    matches!(k, Kind::Committed(_))
}

/// Records `member` processed since its last successful commit.
pub(crate) fn uncommitted(h: &History, member: &str) -> usize {
    let last_commit = h
        .snapshot()
        .iter()
        .filter(|e| e.member == member && committed(&e.kind))
        .map(|e| e.t)
        .max()
        .unwrap_or(0);
    h.count(member, last_commit, processed)
}

fn rebalance_event(k: &Kind) -> bool {
    matches!(k, Kind::Assigned(_) | Kind::Revoked(_) | Kind::Lost(_))
}

/// A group member run as a child process: prints its events (`EV ...` lines) on stdout until it
/// is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper: a group member run as a child process by the group_faults tests"]
async fn child_member() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let v: Vec<String> = spec.split('|').map(str::to_string).collect();
    let [bootstrap, topic, group, strategy, name, rest @ ..] = v.as_slice() else {
        panic!("bad {CHILD_ENV}: {spec}");
    };
    let max_poll = rest.first().map_or("500", String::as_str);
    let pause_ms: u64 = rest.get(1).map_or(0, |p| p.parse().expect("pause ms"));
    let member = name.clone();
    // println! panics once the parent is gone (broken pipe), which ends this process too.
    let sink: Sink = Arc::new(move |kind| {
        let ev = Ev {
            t: now_ns(),
            member: member.clone(),
            kind,
        };
        println!("{}", ev.to_line());
    });
    let mut props = strategy_props(strategy);
    props.push(("max.poll.records", max_poll));
    let c = crate::group::group_consumer(bootstrap, group, &props);
    c.subscribe_with_listener([topic.clone()], EvListener(sink.clone()))
        .expect("subscribe");
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    tokio::spawn(async move {
        // Never outlive a parent that failed to kill this process.
        tokio::time::sleep(Duration::from_secs(120)).await;
        s.store(true, std::sync::atomic::Ordering::Release);
    });
    let pause = Duration::from_millis(pause_ms);
    if rest.get(2).is_some_and(|m| m == "ordered") {
        let per_record: u64 = rest.get(3).map_or(0, |p| p.parse().expect("handler ms"));
        let per_record = Duration::from_millis(per_record);
        crate::chaos_ordered::ordered_loop(c, sink, stop, per_record, pause).await;
    } else {
        run_loop(c, sink, stop, CHILD_COMMIT_EVERY, pause).await;
    }
}

/// A member in a child process (this test binary running [`child_member`]); its stdout feeds
/// the history. Killed on drop.
pub(crate) struct ChildMember {
    proc: Option<std::process::Child>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl ChildMember {
    pub(crate) fn spawn(spec: &[&str], h: &History) -> ChildMember {
        let mut proc = Command::new(std::env::current_exe().expect("current_exe"))
            .args([
                "--ignored",
                "--exact",
                "group_faults::child_member",
                "--nocapture",
            ])
            .env(CHILD_ENV, spec.join("|"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the child member");
        let out = proc.stdout.take().expect("piped stdout");
        let h = h.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(ev) = Ev::parse(&line) {
                    h.push(ev);
                }
            }
        });
        ChildMember {
            proc: Some(proc),
            reader: Some(reader),
        }
    }

    /// SIGKILL; returns once every line it printed is in the history, with the time of death.
    pub(crate) async fn kill(mut self) -> u128 {
        let proc = self.proc.take();
        let reader = self.reader.take();
        blocking(move || {
            if let Some(mut p) = proc {
                p.kill().expect("SIGKILL the child");
                p.wait().expect("reap the child");
            }
            let died = now_ns();
            if let Some(r) = reader {
                r.join().expect("stdout reader");
            }
            died
        })
        .await
    }
}

impl Drop for ChildMember {
    fn drop(&mut self) {
        if let Some(p) = self.proc.as_mut() {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

/// The member settings for `strategy`: a classic assignor's name, or `consumer` for the KIP-848
/// protocol with the broker's default (uniform) assignor.
pub(crate) fn strategy_props(strategy: &str) -> Vec<(&'static str, &str)> {
    if strategy == "consumer" {
        vec![("group.protocol", "consumer")]
    } else {
        vec![("partition.assignment.strategy", strategy)]
    }
}

/// Members join one by one while a producer writes; one leaves cleanly, one is SIGKILLed.
async fn join_leave_and_kill(strategy: &str) {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("gf-members");
    create(&bootstrap, &topic, 6, 1).await;
    let t0 = Instant::now();
    let group = unique_topic("gf-members");
    let h = History::default();
    let feed = Feed::start(&bootstrap, &topic, 5);
    let extra = strategy_props(strategy);

    let a = Member::start(&bootstrap, &group, &topic, "A", &extra, &h, 100);
    wait_until(&h, "A owns all 6 partitions and consumes", 60, || {
        h.settled(&["A"], 6) && h.count("A", 0, processed) > 0
    })
    .await;
    let b = Member::start(&bootstrap, &group, &topic, "B", &extra, &h, 100);
    wait_until(&h, "A and B share the partitions", 60, || {
        h.settled(&["A", "B"], 6) && h.count("B", 0, processed) > 0
    })
    .await;
    let child = ChildMember::spawn(&[&bootstrap, &topic, &group, strategy, "C"], &h);
    wait_until(&h, "A, B and the child C share the partitions", 60, || {
        h.settled(&["A", "B", "C"], 6) && h.count("C", 0, committed) > 0
    })
    .await;

    // B leaves cleanly: its listener commits, LeaveGroup makes the others rebalance at once.
    let left = now_ns();
    let closing = Instant::now();
    b.close().await;
    eprintln!("{:.2} s to close B", closing.elapsed().as_secs_f64());
    wait_until(&h, "A and C share the partitions after B left", 60, || {
        h.settled(&["A", "C"], 6) && h.count("C", left, committed) > 0
    })
    .await;
    // Kill C while it holds records processed since its last commit.
    wait_until(&h, "C has an uncommitted window", 30, || {
        uncommitted(&h, "C") >= 20
    })
    .await;
    let c_owned = h.owned("C");
    let died = child.kill().await;
    let killed = Instant::now();
    wait_until(
        &h,
        "A owns everything after C's session expired",
        60,
        || h.settled(&["A"], 6),
    )
    .await;
    let takeover = killed.elapsed();
    let produced = feed.stop().await;
    wait_until(&h, "every produced record processed", 60, || {
        h.distinct_seqs() as u64 >= produced
    })
    .await;
    let closing = Instant::now();
    a.close().await;
    eprintln!("{:.2} s to close A", closing.elapsed().as_secs_f64());

    let r = check(&h.snapshot(), 6, produced, &[("C", died)]);
    let rebalances = h
        .snapshot()
        .iter()
        .filter(|e| matches!(&e.kind, Kind::Assigned(_)))
        .count();
    eprintln!(
        "[{strategy}] produced {produced}, processed {}, duplicates {} (C's uncommitted window at \
         death {} on {c_owned:?}), {} ownership periods, {} commits ({} refused mid-rebalance), \
         {rebalances} assignments; A took over {:.1} s after the kill; {:.1} s in all",
        r.processed,
        r.duplicates,
        r.uncommitted_at_death,
        r.periods.len(),
        r.commits,
        r.loop_commit_failures,
        takeover.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    // A took over C's partitions (cooperative: only those; eager: everything was reassigned).
    let taken: BTreeSet<i32> = r
        .periods
        .iter()
        .filter(|p| p.member == "A" && p.start > died)
        .map(|p| p.partition)
        .collect();
    if strategy != "range" {
        assert_eq!(taken, c_owned, "A was assigned exactly C's partitions");
    } else {
        assert!(taken.is_superset(&c_owned), "{taken:?} vs {c_owned:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_members_join_leave_and_one_is_killed_without_loss() {
    join_leave_and_kill("cooperative-sticky").await;
}

/// The same under KIP-848 (`group.protocol=consumer`): the broker assigns, revocations are
/// incremental, the takeover waits for the broker's session timeout (10 s in the harness).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_protocol_members_join_leave_and_one_is_killed_without_loss() {
    join_leave_and_kill("consumer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eager_members_join_leave_and_one_is_killed_without_loss() {
    join_leave_and_kill("range").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_keeps_unaffected_partitions_through_a_join() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("gf-sticky");
    create(&bootstrap, &topic, 6, 1).await;
    let group = unique_topic("gf-sticky");
    let h = History::default();
    let feed = Feed::start(&bootstrap, &topic, 5);
    let extra = [("partition.assignment.strategy", "cooperative-sticky")];
    let a = Member::start(&bootstrap, &group, &topic, "A", &extra, &h, 100);
    wait_until(&h, "A owns all 6 partitions", 60, || h.settled(&["A"], 6)).await;
    let b = Member::start(&bootstrap, &group, &topic, "B", &extra, &h, 100);
    wait_until(&h, "A and B share the partitions and consume", 60, || {
        h.settled(&["A", "B"], 6) && h.count("B", 0, processed) > 0
    })
    .await;
    let (a_before, b_before) = (h.owned("A"), h.owned("B"));
    let gen_before = a.consumer.group_generation().map(|g| g.generation_id);

    let joined = now_ns();
    let c = Member::start(&bootstrap, &group, &topic, "C", &extra, &h, 100);
    wait_until(&h, "A, B and C share the partitions", 60, || {
        h.settled(&["A", "B", "C"], 6)
    })
    .await;
    let settled = now_ns();
    let (a_after, b_after, c_after) = (h.owned("A"), h.owned("B"), h.owned("C"));
    // The consumers' own view agrees with what their listeners were told.
    for (m, owned) in [(&a, &a_after), (&b, &b_after), (&c, &c_after)] {
        let assigned: BTreeSet<i32> = m
            .consumer
            .assignment()
            .iter()
            .map(|tp| tp.partition)
            .collect();
        assert_eq!(&assigned, owned, "{}: assignment() vs listener", m.name);
    }
    // Keep going until every partition saw records after the rebalance.
    wait_until(
        &h,
        "records on every partition after the rebalance",
        60,
        || {
            let mut seen = BTreeSet::new();
            for e in h.snapshot().iter().filter(|e| e.t > settled) {
                if let Kind::Processed { partition, .. } = e.kind {
                    seen.insert(partition);
                }
            }
            seen.len() == 6
        },
    )
    .await;
    let checked = now_ns();
    let gen_after = a.consumer.group_generation().map(|g| g.generation_id);
    assert!(gen_after > gen_before, "C's join made new generations");

    let produced = feed.stop().await;
    wait_until(&h, "every produced record processed", 60, || {
        h.distinct_seqs() as u64 >= produced
    })
    .await;
    for m in [a, b, c] {
        m.close().await;
    }
    let r = check(&h.snapshot(), 6, produced, &[]);
    assert_eq!(r.duplicates, 0, "every handover was a clean revocation");

    eprintln!(
        "[sticky] A {a_before:?} -> {a_after:?}, B {b_before:?} -> {b_after:?}, C {c_after:?}; \
         generation {gen_before:?} -> {gen_after:?}; {produced} records"
    );
    assert_eq!((a_after.len(), b_after.len(), c_after.len()), (2, 2, 2));
    assert!(
        a_after.is_subset(&a_before),
        "A kept only its own partitions"
    );
    assert!(
        b_after.is_subset(&b_before),
        "B kept only its own partitions"
    );
    let moved: BTreeSet<i32> = a_before
        .difference(&a_after)
        .chain(b_before.difference(&b_after))
        .copied()
        .collect();
    assert_eq!(moved, c_after, "C got exactly what A and B gave up");
    for (m, before, after) in [("A", &a_before, &a_after), ("B", &b_before, &b_after)] {
        let window: Vec<Ev> = h
            .snapshot()
            .into_iter()
            .filter(|e| e.member == m && e.t > joined && e.t <= checked)
            .collect();
        let mut revoked = BTreeSet::new();
        for e in &window {
            match &e.kind {
                Kind::Revoked(ps) => revoked.extend(ps.iter().copied()),
                Kind::Assigned(ps) => assert!(ps.is_empty(), "{m} was assigned {ps:?}"),
                Kind::Lost(ps) => panic!("{m} lost {ps:?}"),
                _ => {}
            }
        }
        let gave_up: BTreeSet<i32> = before.difference(after).copied().collect();
        assert_eq!(
            revoked, gave_up,
            "{m}: only the moved partitions were revoked"
        );
        // Each kept partition: one ownership period from before C joined until the end, whose
        // offsets (contiguous, checked above) span the rebalance.
        for p in after {
            let periods: Vec<_> = r
                .periods
                .iter()
                .filter(|x| x.member == m && x.partition == *p)
                .collect();
            assert_eq!(periods.len(), 1, "{m} owned {p} once, throughout");
            let per = periods[0];
            assert!(per.start < joined && per.end > checked);
            assert!(
                per.processed.iter().any(|x| x.0 < joined),
                "{m}: {p} before"
            );
            assert!(
                per.processed.iter().any(|x| x.0 > settled),
                "{m}: {p} after"
            );
        }
    }
}

/// Closes (static: no LeaveGroup) or drops `goer`, starts `new_name` with the same
/// `group.instance.id`, and checks it gets the same partitions in the same generation while
/// `stayer` sees nothing. Returns the new member and, for a drop, when the old one died.
#[allow(clippy::too_many_arguments)]
async fn restart_static(
    bootstrap: &str,
    group: &str,
    topic: &str,
    h: &History,
    stayer: &Member,
    goer: Member,
    instance: &str,
    new_name: &str,
    drop_it: bool,
) -> (Member, Option<u128>) {
    let g_stay: GroupGeneration = stayer.consumer.group_generation().expect("stayer stable");
    let g_go = goer.consumer.group_generation().expect("goer stable");
    let parts = h.owned(&goer.name);
    let since = now_ns();
    let died = if drop_it {
        drop(goer.stop().await); // no close: no revocation, no commit, no LeaveGroup
        Some(now_ns())
    } else {
        goer.close().await;
        None
    };
    let extra = [
        ("partition.assignment.strategy", "range"),
        ("group.instance.id", instance),
    ];
    let restarted = Instant::now();
    let new = Member::start(bootstrap, group, topic, new_name, &extra, h, 100);
    wait_until(h, "the new instance is assigned", 30, || {
        !h.owned(new_name).is_empty() && new.consumer.group_generation().is_some()
    })
    .await;
    let back_in = restarted.elapsed();
    let g_new = new.consumer.group_generation().expect("stable");
    assert_eq!(h.owned(new_name), parts, "same partitions back");
    assert_eq!(g_new.generation_id, g_go.generation_id, "no new generation");
    assert_ne!(g_new.member_id, g_go.member_id, "a new member id");
    assert_eq!(g_new.leader, g_go.leader, "leadership follows the instance");
    // A rebalance would reach the stayer through its next heartbeat (every 500 ms): watch for
    // six intervals while both consume.
    wait_until(h, "the new instance consumes", 30, || {
        h.count(new_name, since, processed) > 0
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        h.count(&stayer.name, since, rebalance_event),
        0,
        "{} saw a rebalance",
        stayer.name
    );
    assert_eq!(stayer.consumer.group_generation(), Some(g_stay));
    eprintln!(
        "[static] {} ({}) {} -> {new_name}: partitions {parts:?} back in {:.2} s, generation {}",
        goer_label(drop_it),
        instance,
        g_go.member_id,
        back_in.as_secs_f64(),
        g_new.generation_id
    );
    (new, died)
}

fn goer_label(dropped: bool) -> &'static str {
    if dropped {
        "dropped"
    } else {
        "closed"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_members_restart_without_a_rebalance() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("gf-static");
    create(&bootstrap, &topic, 4, 1).await;
    let group = unique_topic("gf-static");
    let h = History::default();
    let feed = Feed::start(&bootstrap, &topic, 2);
    let (ia, ib) = (format!("{group}-a"), format!("{group}-b"));
    // range is eager: any rebalance would revoke everything from every member.
    let extra = |i: &str| {
        [
            ("partition.assignment.strategy", "range".to_string()),
            ("group.instance.id", i.to_string()),
        ]
    };
    let start = |name: &str, i: &str| {
        let e = extra(i);
        let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Member::start(&bootstrap, &group, &topic, name, &e, &h, 50)
    };
    let a = start("A", &ia);
    wait_until(&h, "A owns all 4 partitions", 60, || h.settled(&["A"], 4)).await;
    let b = start("B", &ib);
    wait_until(&h, "A and B share the partitions", 60, || {
        h.settled(&["A", "B"], 4)
            && a.consumer.group_generation().is_some()
            && b.consumer.group_generation().is_some()
    })
    .await;
    let a_leads = a.consumer.group_generation().is_some_and(|g| g.leader);
    let ((leader, li), (follower, fi)) = if a_leads {
        ((a, ia), (b, ib))
    } else {
        ((b, ib), (a, ia))
    };
    // The follower closes and comes back; then the leader's consumer is dropped and comes back.
    let (follower2, _) = restart_static(
        &bootstrap, &group, &topic, &h, &leader, follower, &fi, "F2", false,
    )
    .await;
    let leader_name = leader.name.clone();
    let (leader2, died) = restart_static(
        &bootstrap, &group, &topic, &h, &follower2, leader, &li, "L2", true,
    )
    .await;
    let died = died.expect("dropped");

    let produced = feed.stop().await;
    wait_until(&h, "every produced record processed", 60, || {
        h.distinct_seqs() as u64 >= produced
    })
    .await;
    follower2.close().await;
    leader2.close().await;
    let r = check(&h.snapshot(), 4, produced, &[(leader_name.as_str(), died)]);
    eprintln!(
        "[static] {produced} records, duplicates {} (dropped leader's uncommitted window {})",
        r.duplicates, r.uncommitted_at_death
    );
}
