//! Accumulator tests: batching, readiness with fake time, draining, memory, blocking, flush.

use super::*;
use crate::ErrorClass;

const T0_MS: i64 = 1_700_000_000_000;

fn cfg() -> AccumulatorConfig {
    AccumulatorConfig {
        batch_size: 16_384,
        linger: Duration::from_millis(5),
        buffer_memory: 1 << 20,
        max_block: Duration::from_millis(50),
        max_request_size: 1 << 20,
        partitioner: None,
        ignore_keys: false,
        adaptive: false,
    }
}

/// A record of exactly `value_len` value bytes, timestamp fixed so sizes are predictable.
fn rec(topic: &str, partition: i32, value_len: usize) -> ProducerRecord {
    ProducerRecord::new(topic)
        .partition(partition)
        .value(vec![b'x'; value_len])
        .timestamp(T0_MS)
}

fn all(n: i32) -> PartitionsInfo {
    PartitionsInfo::all_available(n)
}

/// Leader of partition p is node p % 2 (0 or 1).
fn two_nodes(_: &str, p: i32) -> Option<i32> {
    Some(p % 2)
}

fn yes(_: &str, _: i32) -> bool {
    true
}

fn nodes(ns: &[i32]) -> BTreeSet<i32> {
    ns.iter().copied().collect()
}

#[test]
fn batches_close_at_batch_size() {
    // Each record: 100-byte value at deltas < 64 is 1+1+1+1+1+(1+100)+1 = 107 bytes... computed
    // exactly from record_size to avoid depending on the arithmetic here.
    let one = rec("t", 0, 100).encoded_size(0, 0);
    let mut c = cfg();
    c.batch_size = RECORD_BATCH_OVERHEAD + 3 * one;
    let acc = Accumulator::new(c);
    let now = Instant::now();
    let mut outcomes = Vec::new();
    for i in 0..7 {
        outcomes.push(acc.try_append(rec("t", 0, 100), i, &all(1), now).unwrap());
    }
    let new: Vec<bool> = outcomes.iter().map(|o| o.new_batch).collect();
    assert_eq!(new, [true, false, false, true, false, false, true]);
    assert!(outcomes[2].batch_full && outcomes[5].batch_full && !outcomes[6].batch_full);
    acc.begin_flush();
    let mut sizes = Vec::new();
    loop {
        let ready = acc.ready(now, two_nodes, yes);
        let mut drained = acc.drain(&ready.ready_nodes, now, two_nodes, yes);
        let Some(batches) = drained.remove(&0) else {
            break;
        };
        for b in batches {
            sizes.push((b.record_count(), b.estimated_size()));
            let completions: Vec<i32> = b.records().iter().map(|r| r.completion).collect();
            assert!(
                completions.windows(2).all(|w| w[0] + 1 == w[1]),
                "order kept"
            );
        }
    }
    assert_eq!(
        sizes,
        [
            (3, RECORD_BATCH_OVERHEAD + 3 * one),
            (3, RECORD_BATCH_OVERHEAD + 3 * one),
            (1, RECORD_BATCH_OVERHEAD + one)
        ]
    );
}

#[test]
fn batch_size_tracks_exact_encoded_size() {
    let acc = Accumulator::new(cfg());
    let now = Instant::now();
    let records = [
        rec("t", 0, 10),
        rec("t", 0, 0)
            .key("k")
            .header("h", "v")
            .timestamp(T0_MS + 5),
        rec("t", 0, 300).timestamp(T0_MS - 1_000_000),
    ];
    let mut want = RECORD_BATCH_OVERHEAD;
    for (i, r) in records.iter().enumerate() {
        want += r.encoded_size(r.timestamp.unwrap() - T0_MS, i as i32);
        acc.try_append(r.clone(), (), &all(1), now).unwrap();
    }
    let b = acc.abort_all().pop().unwrap();
    assert_eq!(b.estimated_size(), want);
    assert_eq!(b.base_timestamp(), T0_MS);
    assert_eq!(b.max_timestamp(), T0_MS + 5);
}

#[test]
fn a_record_larger_than_batch_size_gets_a_batch_of_its_own() {
    let mut c = cfg();
    c.batch_size = 200;
    let acc = Accumulator::new(c);
    let now = Instant::now();
    assert!(
        acc.try_append(rec("t", 0, 10), (), &all(1), now)
            .unwrap()
            .new_batch
    );
    let big = acc.try_append(rec("t", 0, 500), (), &all(1), now).unwrap();
    assert!(big.new_batch && big.batch_full);
    assert!(
        acc.try_append(rec("t", 0, 10), (), &all(1), now)
            .unwrap()
            .new_batch
    );
    let counts: Vec<usize> = acc.abort_all().iter().map(|b| b.record_count()).collect();
    assert_eq!(counts, [1, 1, 1]);
}

#[test]
fn linger_readiness_with_fake_time() {
    let acc = Accumulator::new(cfg());
    let t0 = Instant::now();
    acc.try_append(rec("t", 1, 10), (), &all(2), t0).unwrap();
    let r = acc.ready(t0, two_nodes, yes);
    assert!(r.ready_nodes.is_empty());
    assert_eq!(r.next_ready, Some(t0 + Duration::from_millis(5)));
    let r = acc.ready(t0 + Duration::from_millis(4), two_nodes, yes);
    assert!(r.ready_nodes.is_empty());
    let r = acc.ready(t0 + Duration::from_millis(5), two_nodes, yes);
    assert_eq!(r.ready_nodes, nodes(&[1]));
    assert_eq!(r.next_ready, None);
    // A muted partition is never ready.
    let r = acc.ready(t0 + Duration::from_secs(1), two_nodes, |_, _| false);
    assert!(r.ready_nodes.is_empty());
}

#[test]
fn a_full_batch_is_ready_before_linger() {
    let mut c = cfg();
    c.linger = Duration::from_secs(60);
    c.batch_size = 100;
    let acc = Accumulator::new(c);
    let t0 = Instant::now();
    acc.try_append(rec("t", 0, 10), (), &all(1), t0).unwrap();
    assert!(acc.ready(t0, two_nodes, yes).ready_nodes.is_empty());
    acc.try_append(rec("t", 0, 90), (), &all(1), t0).unwrap(); // does not fit: closes the first
    assert_eq!(acc.ready(t0, two_nodes, yes).ready_nodes, nodes(&[0]));
}

#[test]
fn flush_and_close_make_everything_ready() {
    let mut c = cfg();
    c.linger = Duration::from_secs(60);
    let acc = Accumulator::new(c);
    let t0 = Instant::now();
    for p in 0..4 {
        acc.try_append(rec("t", p, 10), p, &all(4), t0).unwrap();
    }
    assert!(acc.ready(t0, two_nodes, yes).ready_nodes.is_empty());
    acc.begin_flush();
    assert!(acc.flush_in_progress());
    assert_eq!(acc.ready(t0, two_nodes, yes).ready_nodes, nodes(&[0, 1]));
    acc.end_flush();
    assert!(!acc.flush_in_progress());
    assert!(acc.ready(t0, two_nodes, yes).ready_nodes.is_empty());
    acc.close();
    assert!(acc.is_closed());
    assert_eq!(acc.ready(t0, two_nodes, yes).ready_nodes, nodes(&[0, 1]));
    let e = acc.try_append(rec("t", 0, 10), 7, &all(4), t0).unwrap_err();
    assert_eq!(e.error.kind(), &ErrorKind::Closed);
    assert_eq!(e.completion, 7);
    assert!(acc.has_undrained());
    let drained = acc.drain(&nodes(&[0, 1]), t0, two_nodes, yes);
    assert_eq!(drained.values().map(Vec::len).sum::<usize>(), 4);
    assert!(!acc.has_undrained());
}

#[test]
fn drain_groups_by_leader_and_respects_max_request_size() {
    let mut c = cfg();
    c.linger = Duration::ZERO;
    let acc = Accumulator::new(c);
    let t0 = Instant::now();
    for p in 0..6 {
        acc.try_append(rec("a", p, 100), p, &all(6), t0).unwrap();
    }
    acc.try_append(rec("b", 0, 100), 100, &all(1), t0).unwrap();
    let leader = |t: &str, p: i32| if t == "b" { Some(2) } else { two_nodes(t, p) };
    let ready = acc.ready(t0, leader, yes);
    assert_eq!(ready.ready_nodes, nodes(&[0, 1, 2]));
    let drained = acc.drain(&nodes(&[0, 1]), t0, leader, yes);
    let parts = |n: i32| -> Vec<(String, i32)> {
        drained[&n]
            .iter()
            .map(|b| (b.topic().to_owned(), b.partition()))
            .collect()
    };
    assert_eq!(
        parts(0),
        [("a".into(), 0), ("a".into(), 2), ("a".into(), 4)]
    );
    assert_eq!(
        parts(1),
        [("a".into(), 1), ("a".into(), 3), ("a".into(), 5)]
    );
    assert!(!drained.contains_key(&2), "node 2 was not asked for");

    // max.request.size fits two batches: the rest waits for the next request, and the next
    // drain starts where this one stopped.
    let one = drained[&0][0].estimated_size();
    let mut c = cfg();
    c.linger = Duration::ZERO;
    c.max_request_size = 2 * one + 1;
    let acc = Accumulator::new(c);
    for p in [0, 2, 4] {
        acc.try_append(rec("a", p, 100), p, &all(6), t0).unwrap();
    }
    let d1 = acc.drain(&nodes(&[0]), t0, two_nodes, yes);
    let p1: Vec<i32> = d1[&0].iter().map(|b| b.partition()).collect();
    assert_eq!(p1, [0, 2]);
    for p in [0, 2] {
        acc.try_append(rec("a", p, 100), p, &all(6), t0).unwrap();
    }
    let d2 = acc.drain(&nodes(&[0]), t0, two_nodes, yes);
    let p2: Vec<i32> = d2[&0].iter().map(|b| b.partition()).collect();
    assert_eq!(
        p2,
        [4, 0],
        "round-robin resumes at the partition left behind"
    );

    // One batch larger than max.request.size still goes, alone.
    let mut c = cfg();
    c.max_request_size = 1000;
    c.batch_size = 100;
    let acc = Accumulator::new(c);
    acc.try_append(rec("a", 0, 900), 0, &all(6), t0).unwrap();
    acc.try_append(rec("a", 2, 10), 2, &all(6), t0).unwrap();
    let d = acc.drain(&nodes(&[0]), t0, two_nodes, yes);
    assert_eq!(d[&0].len(), 1);
}

#[test]
fn drain_skips_partitions_the_caller_cannot_send_to() {
    let acc = Accumulator::new(cfg());
    let t0 = Instant::now();
    for p in [0, 2] {
        acc.try_append(rec("a", p, 10), p, &all(4), t0).unwrap();
    }
    let d = acc.drain(&nodes(&[0]), t0, two_nodes, |_, p| p != 0);
    let got: Vec<i32> = d[&0].iter().map(|b| b.partition()).collect();
    assert_eq!(got, [2]);
    let d = acc.drain(&nodes(&[0]), t0, two_nodes, yes);
    assert_eq!(d[&0][0].partition(), 0);
}

#[test]
fn unknown_leaders_are_reported() {
    let acc = Accumulator::new(cfg());
    let t0 = Instant::now();
    acc.try_append(rec("orphan", 0, 10), (), &all(1), t0)
        .unwrap();
    let r = acc.ready(t0 + Duration::from_secs(1), |_, _| None, yes);
    assert!(r.ready_nodes.is_empty());
    assert_eq!(
        r.unknown_leader_topics.into_iter().collect::<Vec<_>>(),
        ["orphan"]
    );
}

#[test]
fn memory_accounting_returns_to_full() {
    let acc = Accumulator::new(cfg());
    let full = acc.available_memory();
    assert_eq!(full, 1 << 20);
    let t0 = Instant::now();
    let r = rec("t", 0, 1000);
    let reserved = r.estimated_size();
    for _ in 0..3 {
        acc.try_append(r.clone(), (), &all(2), t0).unwrap();
    }
    acc.try_append(rec("t", 1, 1000), (), &all(2), t0).unwrap();
    assert_eq!(acc.available_memory(), full - 4 * reserved);
    let drained = acc.drain(&nodes(&[0, 1]), t0, two_nodes, yes);
    // Drained batches still hold their memory until completed.
    assert_eq!(acc.available_memory(), full - 4 * reserved);
    let mut batches: Vec<_> = drained.into_values().flatten().collect();
    assert_eq!(batches[0].reserved_memory(), 3 * reserved);
    // Completing through into_records releases; recycling keeps the Vec's capacity.
    let records = batches.remove(0).into_records();
    assert_eq!(records.len(), 3);
    assert_eq!(acc.available_memory(), full - reserved);
    acc.recycle(records);
    drop(batches);
    assert_eq!(acc.available_memory(), full);
    // An expired batch releases its memory when dropped.
    acc.try_append(r.clone(), (), &all(2), t0).unwrap();
    assert_eq!(acc.available_memory(), full - reserved);
    assert!(acc
        .expired_batches(t0 + Duration::from_secs(1), Duration::from_secs(2))
        .is_empty());
    let expired = acc.expired_batches(t0 + Duration::from_secs(2), Duration::from_secs(2));
    assert_eq!(expired.len(), 1);
    drop(expired);
    assert_eq!(acc.available_memory(), full);
}

#[test]
fn oversized_records_fail_at_once_without_blocking() {
    let mut c = cfg();
    c.max_request_size = 1000;
    c.buffer_memory = 5000;
    let acc = Accumulator::new(c);
    let t0 = Instant::now();
    let e = acc
        .try_append(rec("t", 0, 2000), 9, &all(1), t0)
        .unwrap_err();
    assert_eq!(e.error.class(), ErrorClass::ApplicationRecoverable);
    assert!(
        matches!(
            e.error.kind(),
            crate::ErrorKind::RecordTooLarge {
                limit_key: "max.request.size",
                limit: 1000,
                ..
            }
        ),
        "{}",
        e.error
    );
    assert_eq!(
        e.error.broker_code(),
        None,
        "client-side, not the broker's code"
    );
    assert!(
        e.error.to_string().starts_with("record too large: ")
            && e.error.to_string().contains("max.request.size"),
        "{}",
        e.error
    );
    assert_eq!((e.completion, e.record.value.unwrap().len()), (9, 2000));

    let mut c = cfg();
    c.buffer_memory = 1000;
    let acc = Accumulator::new(c);
    let e = acc
        .try_append(rec("t", 0, 2000), 9, &all(1), t0)
        .unwrap_err();
    assert!(e.error.to_string().contains("buffer.memory"), "{}", e.error);
    assert_eq!(e.error.class(), ErrorClass::ApplicationRecoverable);
}

#[test]
fn bad_partitions_are_rejected() {
    let acc = Accumulator::new(cfg());
    let t0 = Instant::now();
    let e = acc.try_append(rec("t", 3, 1), (), &all(3), t0).unwrap_err();
    assert_eq!(e.error.kind(), &ErrorKind::InvalidArgument);
    assert_eq!(e.error.partition(), Some(3));
    let e = acc.try_append(rec("t", 0, 1), (), &all(0), t0).unwrap_err();
    assert!(e.error.needs_metadata_refresh());
    assert_eq!(acc.available_memory(), 1 << 20, "nothing stays reserved");
}

#[derive(Debug)]
struct EvenOnly;
impl Partitioner for EvenOnly {
    fn partition(
        &self,
        _: &str,
        key: Option<&[u8]>,
        _: Option<&[u8]>,
        _: &PartitionsInfo,
    ) -> Option<i32> {
        key.filter(|k| k == b"even").map(|_| 2)
    }
}

#[test]
fn partition_choice_follows_java_order() {
    let mut c = cfg();
    c.partitioner = Some(Arc::new(EvenOnly));
    let acc = Accumulator::new(c);
    let t0 = Instant::now();
    let info = all(8);
    let keyed = |k: &str| ProducerRecord::new("t").key(k.to_owned()).value("v");
    // Explicit partition wins over everything.
    assert_eq!(
        acc.try_append(keyed("even").partition(5), (), &info, t0)
            .unwrap()
            .partition,
        5
    );
    // Then the user partitioner.
    assert_eq!(
        acc.try_append(keyed("even"), (), &info, t0)
            .unwrap()
            .partition,
        2
    );
    // Then murmur2 of the key.
    let want = partition_for_key(b"user-42", 8);
    assert_eq!(
        acc.try_append(keyed("user-42"), (), &info, t0)
            .unwrap()
            .partition,
        want
    );
}

#[test]
fn keyless_records_stick_until_the_batch_is_full() {
    let mut c = cfg();
    c.batch_size = 1000;
    let acc = Accumulator::new(c);
    let t0 = Instant::now();
    let info = PartitionsInfo::new(6, [0, 2, 3, 5]);
    let keyless = || {
        ProducerRecord::new("t")
            .value(vec![0u8; 90])
            .timestamp(T0_MS)
    };
    let mut runs: Vec<(i32, usize)> = Vec::new();
    for _ in 0..300 {
        let a = acc.try_append(keyless(), (), &info, t0).unwrap();
        assert!(info.is_available(a.partition));
        match runs.last_mut() {
            Some((p, n)) if *p == a.partition => *n += 1,
            _ => runs.push((a.partition, 1)),
        }
    }
    // A record is 99 bytes: a partition keeps the records until at least batch.size (1000)
    // bytes went to it, so every run but the last has at least 11 records; and it does move on
    // (after 2 × batch.size at the latest, as nothing drains here).
    let one = keyless().encoded_size(0, 0);
    assert_eq!(one, 99);
    assert!(runs.len() >= 3, "{runs:?}");
    for (_, n) in &runs[..runs.len() - 1] {
        assert!(*n >= 11, "{runs:?}");
    }
    let used: BTreeSet<i32> = runs.iter().map(|(p, _)| *p).collect();
    assert!(used.len() >= 2, "{runs:?}");
    // ignore.keys: keyed records are sticky too.
    let mut c = cfg();
    c.ignore_keys = true;
    let acc = Accumulator::new(c);
    let ps: BTreeSet<i32> = (0..5)
        .map(|i| {
            let r = ProducerRecord::new("t").key(format!("k{i}")).value("v");
            acc.try_append(r, (), &info, t0).unwrap().partition
        })
        .collect();
    assert_eq!(ps.len(), 1);
}

#[test]
fn records_without_timestamp_get_wall_clock_time() {
    let acc = Accumulator::new(cfg());
    let before = wall_clock_ms();
    acc.try_append(
        ProducerRecord::new("t").partition(0),
        (),
        &all(1),
        Instant::now(),
    )
    .unwrap();
    let b = acc.abort_all().pop().unwrap();
    assert!(b.records()[0].timestamp >= before);
}

#[tokio::test]
async fn append_waits_for_room_then_times_out() {
    let one = rec("t", 0, 400).estimated_size();
    let mut c = cfg();
    c.buffer_memory = one * 2 + 100;
    c.max_block = Duration::from_millis(50);
    let acc = Arc::new(Accumulator::new(c));
    let info = all(1);
    acc.append(rec("t", 0, 400), 1, &info).await.unwrap();
    acc.append(rec("t", 0, 400), 2, &info).await.unwrap();
    // Full: the third waits max.block.ms, then fails naming it.
    let start = std::time::Instant::now();
    let e = acc.append(rec("t", 0, 400), 3, &info).await.unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(45));
    assert_eq!(e.error.kind(), &ErrorKind::Timeout);
    assert!(e.error.to_string().contains("max.block.ms"), "{}", e.error);
    assert_eq!(e.completion, 3);

    // Room that appears while waiting lets the append through.
    let releaser = {
        let acc = acc.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let batches = acc.abort_all();
            drop(batches);
        })
    };
    let waited = acc.append(rec("t", 0, 400), 4, &info).await;
    assert!(waited.is_ok(), "{waited:?}");
    releaser.await.unwrap();
}

#[tokio::test]
async fn a_waiting_append_makes_batches_ready_and_close_wakes_it() {
    let one = rec("t", 0, 400).estimated_size();
    let mut c = cfg();
    c.buffer_memory = one + 100;
    c.linger = Duration::from_secs(60);
    c.max_block = Duration::from_secs(30);
    let acc = Arc::new(Accumulator::new(c));
    acc.append(rec("t", 0, 400), 1, &all(1)).await.unwrap();
    let waiter = {
        let acc = acc.clone();
        tokio::spawn(async move { acc.append(rec("t", 0, 400), 2, &all(1)).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Someone waits for memory: batches are sent without lingering.
    let now = Instant::now();
    assert_eq!(acc.ready(now, two_nodes, yes).ready_nodes, nodes(&[0]));
    acc.close();
    let e = waiter.await.unwrap().unwrap_err();
    assert_eq!(e.error.kind(), &ErrorKind::Closed);
}

#[test]
fn huge_durations_do_not_overflow() {
    let mut c = cfg();
    c.linger = Duration::MAX;
    let acc = Accumulator::new(c);
    let t0 = Instant::now();
    acc.try_append(rec("t", 0, 10), (), &all(1), t0).unwrap();
    let r = acc.ready(t0, two_nodes, yes);
    assert!(r.ready_nodes.is_empty() && r.next_ready.is_none());
    assert!(acc.expired_batches(t0, Duration::MAX).is_empty());
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Append { partition: i32, value_len: usize },
        Drain { node: i32 },
        Flush,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..4i32, 0..300usize)
                .prop_map(|(partition, value_len)| Op::Append { partition, value_len }),
            2 => (0..2i32).prop_map(|node| Op::Drain { node }),
            1 => Just(Op::Flush),
        ]
    }

    proptest! {
        /// Whatever the interleaving of appends, drains and flushes: every record is delivered
        /// exactly once, in append order per partition; batches respect batch.size unless they
        /// hold one record; requests respect max.request.size unless they hold one batch; and
        /// all memory comes back.
        #[test]
        fn records_are_delivered_once_in_order_and_memory_returns(
            ops in proptest::collection::vec(op(), 1..120)
        ) {
            let mut c = cfg();
            c.batch_size = 400;
            c.max_request_size = 1200;
            c.buffer_memory = 1 << 24;
            c.linger = Duration::ZERO;
            let acc = Accumulator::new(c);
            let t0 = Instant::now();
            let mut next_id = 0u32;
            let mut delivered: Vec<(i32, u32)> = Vec::new();
            let check = |batches: Vec<ProducerBatch<u32>>, acc: &Accumulator<u32>,
                             delivered: &mut Vec<(i32, u32)>| {
                let total: usize = batches.iter().map(ProducerBatch::estimated_size).sum();
                prop_assert!(total <= 1200 || batches.len() == 1);
                for b in batches {
                    prop_assert!(b.estimated_size() <= 400 || b.record_count() == 1);
                    let p = b.partition();
                    let records = b.into_records();
                    delivered.extend(records.iter().map(|r| (p, r.completion)));
                    acc.recycle(records);
                }
                Ok(())
            };
            for op in ops {
                match op {
                    Op::Append { partition, value_len } => {
                        acc.try_append(rec("t", partition, value_len), next_id, &all(4), t0)
                            .map_err(|e| TestCaseError::fail(e.error.to_string()))?;
                        next_id += 1;
                    }
                    Op::Drain { node } => {
                        let mut d = acc.drain(&nodes(&[node]), t0, two_nodes, yes);
                        let batches = d.remove(&node).unwrap_or_default();
                        check(batches, &acc, &mut delivered)?;
                    }
                    Op::Flush => {
                        acc.begin_flush();
                        acc.end_flush();
                    }
                }
            }
            // Drain the rest.
            loop {
                let d = acc.drain(&nodes(&[0, 1]), t0, two_nodes, yes);
                if d.is_empty() {
                    break;
                }
                for (_, batches) in d {
                    check(batches, &acc, &mut delivered)?;
                }
            }
            prop_assert_eq!(delivered.len(), next_id as usize);
            for p in 0..4 {
                let ids: Vec<u32> =
                    delivered.iter().filter(|(q, _)| *q == p).map(|(_, id)| *id).collect();
                prop_assert!(
                    ids.windows(2).all(|w| w[0] < w[1]),
                    "partition {} out of order: {:?}",
                    p,
                    ids
                );
            }
            prop_assert_eq!(acc.available_memory(), 1 << 24);
        }
    }
}

#[test]
fn new_batch_vector_is_sized_for_the_batch_but_at_most_batch_size_bytes() {
    let slot = std::mem::size_of::<BatchRecord<u64>>();
    // 120-byte records: (16384 - 61) / 120 of them fit.
    assert_eq!(initial_capacity::<u64>(16_384, 120), 136);
    // Tiny records: capped at batch.size bytes of slots.
    assert_eq!(initial_capacity::<u64>(16_384, 8), 16_384 / slot);
    // A record larger than the batch still gets its slot.
    assert_eq!(initial_capacity::<u64>(16_384, 1 << 20), 1);
    assert_eq!(initial_capacity::<u64>(0, 0), 1);

    let acc: Accumulator<u64> = Accumulator::new(cfg());
    let appended = acc.try_append(rec("t", 0, 100), 0, &all(1), Instant::now());
    assert!(appended.is_ok_and(|a| a.new_batch));
    let batches = acc.abort_all();
    let records = batches.into_iter().next().map(ProducerBatch::into_records);
    let first = record_size(None, Some(&bytes::Bytes::from(vec![0; 100])), &[], 0, 0);
    assert!(records.is_some_and(|r| r.capacity() == (16_384 - 61) / first));
}
