//! A share-group member SIGKILLed in the middle of a batch: the records it had acquired and not
//! acknowledged go to the other member (its share session dies with its connection), and every
//! record is processed — none lost; a record is processed twice only if the killed member had it
//! without its acknowledgement confirmed.

use crate::consumer::produce;
use crate::producer::create;
use crate::share::{group_configs, member, seq};
use crate::support::shared_bootstrap;
use ferrokafka::share::AcknowledgeType;
use ferrokafka_testcontainers::unique_topic;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "FERROKAFKA_SHARE_CHILD";

/// The child process, killed and reaped however the test ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A share member run as a child process: prints `GOT <seq>` for each record handed to it and
/// `DONE <seq>` once its acceptance is confirmed by the broker, until it is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper: a share-group member run as a child process by share_faults"]
async fn child_share_member() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let v: Vec<&str> = spec.split('|').collect();
    let [bootstrap, topic, group] = v.as_slice() else {
        panic!("bad {CHILD_ENV}: {spec}");
    };
    let c = member(bootstrap, group, "explicit", "50");
    c.subscribe([*topic]).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let got = c.poll(Duration::from_millis(300)).await.expect("poll");
        for r in &got {
            println!("GOT {}", seq(r));
        }
        // "Processing": long enough that a kill lands inside a batch.
        tokio::time::sleep(Duration::from_millis(100)).await;
        for r in &got {
            c.acknowledge(r, AcknowledgeType::Accept)
                .expect("acknowledge");
        }
        let results = c.commit_sync().await.expect("commit");
        if results.values().all(|r| r.is_ok()) {
            for r in &got {
                println!("DONE {}", seq(r));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_member_s_records_go_to_the_others_and_none_is_lost() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("share-kill");
    let group = unique_topic("share-kill-g");
    create(&bootstrap, &topic, 1, 1).await;
    // A 30 s lock (the default) would also do; the session's end on the connection is what
    // releases the killed member's records at once.
    group_configs(&bootstrap, &group, None).await;
    const N: u64 = 3_000;
    produce(&bootstrap, &topic, N, "none", None).await;

    let got = Arc::new(Mutex::new(BTreeSet::new()));
    let done = Arc::new(Mutex::new(BTreeSet::new()));
    let mut proc = Child(
        Command::new(std::env::current_exe().expect("current_exe"))
            .args([
                "--ignored",
                "--exact",
                "share_faults::child_share_member",
                "--nocapture",
            ])
            .env(CHILD_ENV, format!("{bootstrap}|{topic}|{group}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the child member"),
    );
    let out = proc.0.stdout.take().expect("piped stdout");
    let reader = {
        let (got, done) = (got.clone(), done.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(s) = line
                    .strip_prefix("GOT ")
                    .and_then(|s| s.parse::<u64>().ok())
                {
                    got.lock().unwrap().insert(s);
                } else if let Some(s) = line
                    .strip_prefix("DONE ")
                    .and_then(|s| s.parse::<u64>().ok())
                {
                    done.lock().unwrap().insert(s);
                }
            }
        })
    };
    // Our member runs alongside; the child is killed once it has confirmed a few batches and
    // holds one it has not.
    let ours = member(&bootstrap, &group, "explicit", "50");
    ours.subscribe([topic.as_str()]).expect("subscribe");
    let mut processed: Vec<(u64, u16)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut killed = false;
    let mut in_flight_at_kill = BTreeSet::new();
    loop {
        assert!(Instant::now() < deadline, "still running after 60 s");
        if !killed {
            let (g, d) = (got.lock().unwrap().clone(), done.lock().unwrap().clone());
            if d.len() >= 100 && g.len() > d.len() {
                proc.0.kill().expect("SIGKILL the child");
                proc.0.wait().expect("reap");
                killed = true;
                in_flight_at_kill = g.difference(&d).copied().collect();
            }
        }
        let batch = ours.poll(Duration::from_millis(200)).await.expect("poll");
        for r in &batch {
            ours.acknowledge(r, AcknowledgeType::Accept)
                .expect("acknowledge");
        }
        let results = ours.commit_sync().await.expect("commit");
        assert!(results.values().all(|r| r.is_ok()), "{results:?}");
        processed.extend(batch.iter().map(|r| (seq(r), r.delivery_count)));
        let mine: BTreeSet<u64> = processed.iter().map(|p| p.0).collect();
        if killed && mine.union(&done.lock().unwrap()).count() as u64 == N {
            break;
        }
    }
    reader.join().expect("reader");
    let (child_got, child_done) = (got.lock().unwrap().clone(), done.lock().unwrap().clone());
    // The child's last lines may not have been read before the kill; what it printed after
    // the snapshot still counts as its own.
    let mine: BTreeSet<u64> = processed.iter().map(|p| p.0).collect();
    let all: BTreeSet<u64> = mine.union(&child_done).copied().collect();
    assert_eq!(all.len() as u64, N, "none lost");
    let mut twice: Vec<u64> = mine.intersection(&child_done).copied().collect();
    twice.sort_unstable();
    assert!(
        twice.is_empty(),
        "confirmed by the child and processed again: {twice:?}"
    );
    let unconfirmed: BTreeSet<u64> = child_got.difference(&child_done).copied().collect();
    assert!(
        !unconfirmed.is_empty(),
        "the child held records when killed"
    );
    assert!(
        unconfirmed.is_subset(&mine),
        "the killed member's records came to ours"
    );
    let redelivered = processed.iter().filter(|p| p.1 >= 2).count();
    assert!(
        redelivered >= in_flight_at_kill.len().min(1),
        "redeliveries: {redelivered}"
    );
    println!(
        "share kill: {N} records, child confirmed {} and held {} when killed, ours processed {} ({} redelivered), lost 0, processed twice 0",
        child_done.len(),
        unconfirmed.len(),
        mine.len(),
        redelivered
    );
    ours.close().await.expect("close");
}
