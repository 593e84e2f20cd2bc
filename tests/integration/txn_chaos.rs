//! Consume-transform-produce, exactly once, under a crash: three members of one group (child
//! processes, each a read_committed consumer and a transactional producer) copy the input topic to
//! the output topic, one transaction per poll with the consumed offsets inside it (KIP-447). One
//! member is SIGKILLed mid-run, its open transaction is aborted by the broker when
//! `transaction.timeout.ms` passes, and the others take over its partitions from the offsets of
//! its last committed transaction. The output under read_committed must hold every input record
//! exactly once, in input order per partition.
//!
//! 100,000 records by default; `FERROKAFKA_CHAOS_FULL=1` runs 1,000,000.

use crate::producer::create;
use crate::support::{blocking, shared_bootstrap};
use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::{Offset, TopicPartition};
use ferrokafka_testcontainers::unique_topic;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tells the test binary run as a child which member to be:
/// `bootstrap|input|output|group|transactional.id`.
const CHILD_ENV: &str = "FERROKAFKA_EOS_CHILD";
const PARTITIONS: i32 = 3;
/// Short, so the killed member's open transaction is aborted by the broker soon (the
/// coordinator checks for expired transactions every 10 s by default).
const TRANSACTION_TIMEOUT_MS: &str = "10000";

fn records() -> u64 {
    if std::env::var_os("FERROKAFKA_CHAOS_FULL").is_some() {
        1_000_000
    } else {
        100_000
    }
}

/// The value of the `seq`-th record of partition `p`: fixed width, so order and identity are
/// both in the bytes.
fn value(p: i32, seq: u64) -> String {
    format!("{p}:{seq:08}")
}

fn child_consumer(bootstrap: &str, group: &str) -> Consumer {
    Consumer::new(
        ConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap),
            ("group.id", group),
            ("isolation.level", "read_committed"),
            ("enable.auto.commit", "false"),
            ("auto.offset.reset", "earliest"),
            ("fetch.max.wait.ms", "100"),
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "500"),
            ("partition.assignment.strategy", "cooperative-sticky"),
        ])
        .expect("consumer config"),
    )
    .expect("consumer")
}

/// One transaction: `records` copied to `output` (same partition), their next offsets sent to
/// the transaction with the consumer's group metadata, then commit.
async fn copy_in_transaction(
    c: &Consumer,
    p: &Producer,
    output: &str,
    records: &[ferrokafka::consumer::ConsumerRecord],
) -> ferrokafka::Result<()> {
    p.begin_transaction()?;
    let mut next: BTreeMap<TopicPartition, Offset> = BTreeMap::new();
    for r in records {
        let out = ProducerRecord::new(output)
            .partition(r.partition)
            .value(r.value.clone().unwrap_or_default());
        p.send(out).await.map_err(|e| e.error)?;
        next.insert(
            TopicPartition::new(r.topic.as_ref(), r.partition),
            Offset(r.offset.0 + 1),
        );
    }
    let offsets: Vec<(TopicPartition, Offset)> = next.into_iter().collect();
    p.send_offsets_to_transaction(&offsets, &c.group_metadata()?)
        .await?;
    p.commit_transaction().await
}

/// A member run as a child process: prints `EOS committed <records>` after each committed
/// transaction until it is killed (or 240 s pass).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper: an exactly-once member run as a child process by the txn_chaos test"]
async fn eos_child_member() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let v: Vec<String> = spec.split('|').map(str::to_string).collect();
    let [bootstrap, input, output, group, txn_id] = v.as_slice() else {
        panic!("bad {CHILD_ENV}: {spec}");
    };
    let c = child_consumer(bootstrap, group);
    c.subscribe([input.clone()]).expect("subscribe");
    let p = Producer::new(
        ProducerConfig::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            ("transactional.id", txn_id.as_str()),
            ("transaction.timeout.ms", TRANSACTION_TIMEOUT_MS),
            ("linger.ms", "5"),
            ("retry.backoff.ms", "50"),
        ])
        .expect("producer config"),
    )
    .expect("producer");
    p.init_transactions().await.expect("init_transactions");
    let give_up = Instant::now() + Duration::from_secs(240);
    while Instant::now() < give_up {
        let batch = match c.poll(Duration::from_millis(500)).await {
            Ok(b) => b,
            Err(e) if e.is_fatal() => panic!("{txn_id}: poll: {e}"),
            Err(e) => {
                eprintln!("{txn_id}: poll: {e}");
                continue;
            }
        };
        if batch.is_empty() {
            continue;
        }
        match copy_in_transaction(&c, &p, output, &batch).await {
            Ok(()) => println!("EOS committed {}", batch.len()),
            Err(e) if e.is_fatal() => panic!("{txn_id}: transaction: {e}"),
            Err(e) => {
                // A rebalance moved the generation on (the offsets were refused) or a send
                // failed: nothing of this transaction becomes visible. Abort, then go back to
                // the committed offsets so the same records are processed again.
                eprintln!("{txn_id}: transaction aborted: {e}");
                if let Err(e) = p.abort_transaction().await {
                    panic!("{txn_id}: abort: {e}");
                }
                let owned = c.assignment();
                if let Err(e) = c.seek_to_committed(&owned).await {
                    eprintln!("{txn_id}: seek_to_committed: {e}");
                }
            }
        }
    }
}

/// A member in a child process; adds the records its committed transactions carried to
/// `committed`. Killed on drop.
struct EosChild {
    proc: std::process::Child,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl EosChild {
    fn spawn(spec: [&str; 5], committed: Arc<AtomicU64>) -> EosChild {
        let mut proc = Command::new(std::env::current_exe().expect("current_exe"))
            .args([
                "--ignored",
                "--exact",
                "txn_chaos::eos_child_member",
                "--nocapture",
            ])
            .env(CHILD_ENV, spec.join("|"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the child member");
        let out = proc.stdout.take().expect("piped stdout");
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("EOS committed ") {
                    committed.fetch_add(n.trim().parse().unwrap_or(0), Ordering::Relaxed);
                }
            }
        });
        EosChild {
            proc,
            reader: Some(reader),
        }
    }

    async fn kill(mut self) {
        let reader = self.reader.take();
        let _ = self.proc.kill();
        let _ = self.proc.wait();
        if let Some(r) = reader {
            blocking(move || r.join().expect("stdout reader")).await;
        }
    }
}

impl Drop for EosChild {
    fn drop(&mut self) {
        let _ = self.proc.kill();
        let _ = self.proc.wait();
    }
}

/// Reads the output under read_committed until `want` records arrived and 3 s passed without
/// more (to see duplicates), or `limit` passed. Values per partition, in log order.
async fn read_output(
    bootstrap: &str,
    output: &str,
    want: u64,
    limit: Duration,
) -> BTreeMap<i32, Vec<String>> {
    let c = Consumer::new(
        ConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap),
            ("auto.offset.reset", "earliest"),
            ("enable.auto.commit", "false"),
            ("fetch.max.wait.ms", "100"),
            ("isolation.level", "read_committed"),
        ])
        .expect("reader config"),
    )
    .expect("reader");
    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(output, p))
        .collect();
    c.assign(&tps).expect("assign");
    let mut got: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    let (mut n, deadline) = (0u64, Instant::now() + limit);
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline {
        let batch = c.poll(Duration::from_millis(300)).await.expect("poll");
        if !batch.is_empty() {
            quiet_since = Instant::now();
        }
        for r in batch {
            let v = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
            got.entry(r.partition).or_default().push(v);
            n += 1;
        }
        if n >= want && quiet_since.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    c.close().await.expect("close reader");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_transform_produce_with_a_member_killed_mid_transaction_is_exactly_once() {
    let bootstrap = shared_bootstrap();
    let n = records();
    let (input, output) = (unique_topic("eos-in"), unique_topic("eos-out"));
    let group = unique_topic("eos-group");
    create(&bootstrap, &input, PARTITIONS, 1).await;
    create(&bootstrap, &output, PARTITIONS, 1).await;

    // The input: record i goes to partition i % 3 as that partition's (i / 3)-th record.
    let started = Instant::now();
    let writer = Producer::new(
        ProducerConfig::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            ("linger.ms", "5"),
            ("batch.size", "262144"),
        ])
        .expect("producer config"),
    )
    .expect("producer");
    let mut expected: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for i in 0..n {
        let (p, seq) = ((i % PARTITIONS as u64) as i32, i / PARTITIONS as u64);
        let v = value(p, seq);
        writer
            .send(ProducerRecord::new(&input).partition(p).value(v.clone()))
            .await
            .expect("send input");
        expected.entry(p).or_default().push(v);
    }
    writer.flush().await.expect("flush input");
    writer.close(Duration::from_secs(10)).await.expect("close");
    eprintln!("eos: wrote {n} input records in {:?}", started.elapsed());

    let committed: Vec<Arc<AtomicU64>> = (0..3).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let total_committed = || -> u64 { committed.iter().map(|c| c.load(Ordering::Relaxed)).sum() };
    let ids: Vec<String> = (0..3).map(|i| format!("{group}-txn-{i}")).collect();
    let mut members: Vec<Option<EosChild>> = ids
        .iter()
        .zip(&committed)
        .map(|(id, c)| {
            Some(EosChild::spawn(
                [&bootstrap, &input, &output, &group, id],
                c.clone(),
            ))
        })
        .collect();

    // Kill member 0 once a quarter of the input is through and it has committed work of its
    // own: it is then almost always inside a transaction (it opens the next one right after
    // each commit), owning partitions whose next offsets are pending in that transaction.
    let deadline = Instant::now() + Duration::from_secs(120);
    while total_committed() < n / 4 || committed[0].load(Ordering::Relaxed) == 0 {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} records committed after 120 s",
            total_committed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Some(m) = members[0].take() {
        m.kill().await;
    }
    let killed_at = Instant::now();
    let per_member: Vec<u64> = committed
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .collect();
    eprintln!("eos: member 0 SIGKILLed; records committed per member so far {per_member:?}");

    let got = read_output(&bootstrap, &output, n, Duration::from_secs(240)).await;
    for m in members.iter_mut() {
        if let Some(m) = m.take() {
            m.kill().await;
        }
    }

    let (mut lost, mut duplicated, mut reordered, mut total) = (0u64, 0u64, 0u64, 0u64);
    for p in 0..PARTITIONS {
        let want = expected.get(&p).map(Vec::as_slice).unwrap_or_default();
        let have = got.get(&p).map(Vec::as_slice).unwrap_or_default();
        total += have.len() as u64;
        let mut seen = std::collections::HashSet::new();
        for v in have {
            if !seen.insert(v.as_str()) {
                duplicated += 1;
            }
        }
        lost += want.iter().filter(|v| !seen.contains(v.as_str())).count() as u64;
        // Order: the values seen, first occurrences only, must be the input's order.
        let mut firsts = Vec::with_capacity(have.len());
        let mut once = std::collections::HashSet::new();
        for v in have {
            if once.insert(v.as_str()) {
                firsts.push(v.as_str());
            }
        }
        reordered += firsts.windows(2).filter(|w| w[0] > w[1]).count() as u64;
    }
    eprintln!(
        "eos: records {n}, output {total}, lost {lost}, duplicated {duplicated}, reordered \
         {reordered}, read back {} s after the kill, {:.1} s in all",
        killed_at.elapsed().as_secs(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        (lost, duplicated, reordered),
        (0, 0, 0),
        "exactly once violated"
    );
    assert_eq!(total, n);
}

/// The partition of `__transaction_state` (50 partitions by default) that holds
/// `transactional_id`: Java's `String.hashCode`, made non-negative, modulo the count.
fn transaction_state_partition(transactional_id: &str) -> i32 {
    let h = transactional_id
        .encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
    (h & 0x7fff_ffff) % 50
}

/// `n` records `<prefix>-<i>` in one transaction, spread over the topic's partitions; waits
/// until each is written (so the partitions are in the transaction on the broker).
async fn send_all(p: &Producer, topic: &str, prefix: &str, n: usize) {
    let mut pending = Vec::with_capacity(n);
    for i in 0..n {
        let r = ProducerRecord::new(topic)
            .partition((i % PARTITIONS as usize) as i32)
            .value(format!("{prefix}-{i:05}"));
        pending.push(p.send(r).await.map_err(|e| e.error).expect("send"));
    }
    for d in pending {
        d.await.map_err(|e| e.error).expect("written");
    }
}

/// The transaction coordinator of an open transaction is SIGKILLed in a 3-node cluster; the
/// commit that follows goes to the new coordinator. The transaction becomes visible as a whole
/// or not at all (whichever the producer reports), and the transactions before and after it
/// are whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_coordinator_killed_mid_transaction_commits_or_aborts_as_a_whole() {
    let kafka =
        Arc::new(crate::support::dedicated(ferrokafka_testcontainers::Topology::Cluster3).await);
    let bootstrap = kafka.bootstrap();
    let topic = unique_topic("eos-coord");
    let admin = create(&bootstrap, &topic, PARTITIONS, 3).await;
    let id = unique_topic("eos-coord-txn");
    let producer = |id: &str| {
        Producer::new(
            ProducerConfig::from_properties([
                ("bootstrap.servers", bootstrap.as_str()),
                ("transactional.id", id),
                ("linger.ms", "5"),
                ("max.block.ms", "90000"),
                ("request.timeout.ms", "10000"),
                ("retry.backoff.ms", "100"),
            ])
            .expect("producer config"),
        )
        .expect("producer")
    };
    let p = producer(&id);
    p.init_transactions().await.expect("init");
    let (_, init_epoch) = settled_epoch(&admin, &id).await;
    const N: usize = 1000;
    p.begin_transaction().expect("begin a");
    send_all(&p, &topic, "a", N).await;
    p.commit_transaction().await.expect("commit a");

    p.begin_transaction().expect("begin b");
    send_all(&p, &topic, "b", N).await;
    // The coordinator: the leader of the transactional id's __transaction_state partition.
    let state = admin
        .describe_topics(&["__transaction_state"], false)
        .await
        .expect("describe __transaction_state");
    let part = transaction_state_partition(&id);
    let coordinator = state
        .first()
        .and_then(|(_, t)| t.as_ref().ok())
        .and_then(|t| t.partitions.iter().find(|p| p.partition == part))
        .and_then(|p| p.leader)
        .expect("coordinator of the transactional id")
        .0;
    {
        let k = kafka.clone();
        blocking(move || k.kill_node(coordinator))
            .await
            .expect("kill the coordinator");
    }
    let started = Instant::now();
    let outcome = p.commit_transaction().await;
    eprintln!(
        "eos: coordinator node {coordinator} killed; commit after {:.1?}: {}",
        started.elapsed(),
        match &outcome {
            Ok(()) => "committed".to_owned(),
            Err(e) => e.to_string(),
        }
    );
    let (p, b_committed) = match outcome {
        Ok(()) => (p, true),
        Err(e) if !e.is_fatal() => {
            p.abort_transaction().await.expect("abort b");
            (p, false)
        }
        Err(_) => {
            // A fatal error (say the epoch was bumped): a new producer's init_transactions
            // completes or aborts what was open.
            let q = producer(&id);
            q.init_transactions().await.expect("init after fatal");
            (q, false)
        }
    };
    p.begin_transaction().expect("begin c");
    send_all(&p, &topic, "c", N).await;
    p.commit_transaction().await.expect("commit c");
    p.close(Duration::from_secs(10)).await.expect("close");
    // Kafka 4.1 runs transaction version 2: each of the three transactions' EndTxn (or the new
    // producer's InitProducerId) bumped the epoch, and the producer went on under each.
    let (_, end_epoch) = settled_epoch(&admin, &id).await;
    eprintln!("eos: producer epoch {init_epoch} after init, {end_epoch} at the end");
    assert!(
        end_epoch >= init_epoch + 2,
        "transaction version 2 bumps per EndTxn: {init_epoch} -> {end_epoch}"
    );

    let want = if b_committed { 3 * N } else { 2 * N } as u64;
    let got = read_output(&bootstrap, &topic, want, Duration::from_secs(90)).await;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for v in got.values().flatten() {
        *counts.entry(v.split('-').next().unwrap_or("")).or_default() += 1;
    }
    let b = counts.get("b").copied().unwrap_or(0);
    eprintln!("eos: read_committed sees {counts:?}");
    assert_eq!(counts.get("a"), Some(&N), "{counts:?}");
    assert_eq!(counts.get("c"), Some(&N), "{counts:?}");
    // Whole or nothing, and what the producer said.
    assert_eq!(b, if b_committed { N } else { 0 }, "{counts:?}");
}

/// The coordinator's producer id and epoch for `id` once no transaction is open.
async fn settled_epoch(admin: &ferrokafka::admin::AdminClient, id: &str) -> (i64, i16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let d = admin
            .describe_transactions(&[id])
            .await
            .expect("describe transactions");
        if let Some(Ok(t)) = d.first().map(|(_, r)| r) {
            if matches!(
                t.state.as_str(),
                "Empty" | "CompleteCommit" | "CompleteAbort"
            ) {
                return (t.producer_id.0, t.producer_epoch.0);
            }
        }
        assert!(
            Instant::now() < deadline,
            "transaction of {id} never settled: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
