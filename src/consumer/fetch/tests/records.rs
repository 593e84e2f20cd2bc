//! Records and responses: transactions, max.poll.records, lag, errors, sessions, buffering.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::*;

/// Offsets 0-2: txn of producer 7 (aborted); 3: its ABORT marker; 4-5: txn of producer 8;
/// 6: its COMMIT marker; 7: a plain record; 8-9: producer 7 again, aborted, at the end.
fn transactional_log() -> (Bytes, Vec<AbortedTransaction>) {
    let mut b = BytesMut::new();
    put_batch(&mut b, txn(0, 7), 3);
    put_marker(&mut b, 3, 7, 0);
    put_batch(&mut b, txn(4, 8), 2);
    put_marker(&mut b, 6, 8, 1);
    put_batch(&mut b, plain(7), 1);
    put_batch(&mut b, txn(8, 7), 2);
    let aborted = vec![
        AbortedTransaction {
            producer_id: ProducerId(7),
            first_offset: Offset(8),
        },
        AbortedTransaction {
            producer_id: ProducerId(7),
            first_offset: Offset(0),
        },
    ];
    (b.freeze(), aborted)
}

#[test]
fn read_committed_hides_aborted_transactions_and_control_records() {
    let now = Instant::now();
    let mut f = Fetcher::new(FetchConfig {
        isolation_level: IsolationLevel::ReadCommitted,
        ..config()
    });
    f.assign([tp(0)]);
    f.seek(&tp(0), Offset(0)).expect("assigned");
    let (log, aborted) = transactional_log();
    f.fetch_plan(now, leader);
    let mut part = data(tp(0), 10, log);
    part.last_stable_offset = 10;
    part.aborted_transactions = aborted;
    f.on_fetch_response(BrokerId(1), response(0, vec![part]), now);
    assert_eq!(offsets(&f.poll(100, now)), vec![4, 5, 7]);
    assert_eq!(pos(&f, 0), 10, "moved past the trailing aborted batch");
}

#[test]
fn read_uncommitted_shows_aborted_data_but_no_control_records() {
    let now = Instant::now();
    let mut f = fetcher_at(&[0], 0);
    let (log, aborted) = transactional_log();
    f.fetch_plan(now, leader);
    let mut part = data(tp(0), 10, log);
    part.aborted_transactions = aborted;
    f.on_fetch_response(BrokerId(1), response(0, vec![part]), now);
    assert_eq!(offsets(&f.poll(100, now)), vec![0, 1, 2, 4, 5, 7, 8, 9]);
    assert_eq!(pos(&f, 0), 10);
}

#[test]
fn position_moves_past_control_batches_only_after_earlier_records_are_handed_out() {
    let now = Instant::now();
    let mut f = fetcher_at(&[0], 4);
    let (log, _) = transactional_log();
    f.fetch_plan(now, leader);
    f.on_fetch_response(BrokerId(1), response(0, vec![data(tp(0), 10, log)]), now);
    assert_eq!(offsets(&f.poll(2, now)), vec![4, 5]);
    assert_eq!(pos(&f, 0), 6, "the COMMIT marker at 6 is not passed yet");
    assert_eq!(offsets(&f.poll(1, now)), vec![7]);
    assert_eq!(pos(&f, 0), 8);
}

#[test]
fn max_poll_records_spans_partitions() {
    let now = Instant::now();
    let mut f = fetcher_at(&[0, 1], 0);
    f.fetch_plan(now, leader);
    f.on_fetch_response(
        BrokerId(1),
        response(
            0,
            vec![data(tp(0), 5, records(0, 5)), data(tp(1), 5, records(0, 5))],
        ),
        now,
    );
    let p = f.poll(7, now);
    assert_eq!(p.records.len(), 7);
    assert_eq!(p.records.iter().filter(|r| r.partition == 1).count(), 2);
    assert_eq!((pos(&f, 0), pos(&f, 1)), (5, 2));
    let p = f.poll(7, now);
    assert_eq!(offsets(&p), vec![2, 3, 4]);
    assert_eq!((pos(&f, 0), pos(&f, 1)), (5, 5));
    assert_eq!(f.poll(0, now).records.len(), 0);
}

#[test]
fn lag_follows_the_high_watermark_or_last_stable_offset() {
    let now = Instant::now();
    for (isolation, expected) in [
        (IsolationLevel::ReadUncommitted, 96),
        (IsolationLevel::ReadCommitted, 46),
    ] {
        let mut f = Fetcher::new(FetchConfig {
            isolation_level: isolation,
            ..config()
        });
        f.assign([tp(0)]);
        assert_eq!(f.lag(&tp(0)), None);
        f.seek(&tp(0), Offset(0)).expect("assigned");
        assert_eq!(f.lag(&tp(0)), None, "no high watermark yet");
        f.fetch_plan(now, leader);
        let mut part = data(tp(0), 100, records(0, 10));
        part.last_stable_offset = 50;
        f.on_fetch_response(BrokerId(1), response(0, vec![part]), now);
        f.poll(4, now);
        assert_eq!(f.lag(&tp(0)), Some(expected));
    }
}

#[test]
fn records_fetched_ahead_of_a_corrupt_batch_are_never_handed_out() {
    let now = Instant::now();
    let mut f = fetcher_at(&[0], 0);
    let mut b = BytesMut::new();
    put_batch(&mut b, plain(0), 3);
    put_batch(&mut b, plain(3), 3);
    let last = b.len() - 1;
    b[last] ^= 0xff; // breaks the second batch's CRC; its header still says 3..6
    f.fetch_plan(now, leader);
    f.on_fetch_response(
        BrokerId(1),
        response(0, vec![data(tp(0), 9, b.freeze())]),
        now,
    );
    let plans = f.fetch_plan(now, leader);
    assert_eq!(plans[0].partitions[0].fetch_offset, Offset(6), "ahead");
    f.on_fetch_response(
        BrokerId(1),
        response(0, vec![data(tp(0), 9, records(6, 3))]),
        now,
    );
    let p = f.poll(100, now);
    assert_eq!(offsets(&p), vec![0, 1, 2]);
    assert_eq!(p.errors.len(), 1);
    assert_eq!(pos(&f, 0), 3, "stuck at the bad batch");
    assert!(f.poll(100, now).records.is_empty(), "6..9 dropped");
    assert_eq!(f.buffered_bytes(), 0);
    let later = now + Duration::from_secs(5);
    let plans = f.fetch_plan(later, leader);
    assert_eq!(plans[0].partitions[0].fetch_offset, Offset(3));
}

#[test]
fn a_corrupt_batch_fails_only_its_partition_and_keeps_the_position() {
    let now = Instant::now();
    let mut f = fetcher_at(&[0, 1], 0);
    let mut b = BytesMut::new();
    put_batch(&mut b, plain(0), 3);
    put_batch(&mut b, plain(3), 3);
    let last = b.len() - 1;
    b[last] ^= 0xff; // breaks the second batch's CRC
    f.fetch_plan(now, leader);
    f.on_fetch_response(
        BrokerId(1),
        response(
            0,
            vec![data(tp(0), 6, b.freeze()), data(tp(1), 2, records(0, 2))],
        ),
        now,
    );
    let p = f.poll(100, now);
    assert_eq!(p.records.iter().filter(|r| r.partition == 0).count(), 3);
    assert_eq!(p.records.iter().filter(|r| r.partition == 1).count(), 2);
    assert_eq!(p.errors.len(), 1);
    assert_eq!(p.errors[0].tp, tp(0));
    assert_eq!(p.errors[0].error.partition(), Some(0));
    assert_eq!(pos(&f, 0), 3, "stuck at the bad batch");
    assert_eq!(f.buffered_bytes(), 0);
    // Refetched from 3 after the backoff; partition 1 at once.
    let plans = f.fetch_plan(now, leader);
    assert_eq!(
        plans[0]
            .partitions
            .iter()
            .map(|p| p.tp.partition)
            .collect::<Vec<_>>(),
        vec![1]
    );
}

#[test]
fn leader_errors_refresh_metadata_and_back_off() {
    let now = Instant::now();
    for code in [3, 6, 56, 74, 75] {
        let mut f = fetcher_at(&[0], 0);
        f.fetch_plan(now, leader);
        let e = FetchResponsePartition::error(tp(0), code);
        f.on_fetch_response(BrokerId(1), response(0, vec![e]), now);
        let Some(FetchEvent::RefreshMetadata { tp: t, error }) = f.poll_event() else {
            panic!("code {code}: expected a metadata refresh");
        };
        assert_eq!((t, error.broker_code()), (tp(0), Some(code)));
        assert!(f.poll(10, now).errors.is_empty());
        assert!(f.fetch_plan(now, leader).is_empty(), "backing off");
        let wake = f.poll_timeout(now).expect("a retry is scheduled");
        assert!(wake > now);
        assert_eq!(f.fetch_plan(wake, leader).len(), 1);
        assert_eq!(pos(&f, 0), 0);
    }
}

#[test]
fn other_partition_errors_reach_the_application() {
    let now = Instant::now();
    let mut f = fetcher_at(&[0], 0);
    f.fetch_plan(now, leader);
    let e = FetchResponsePartition::error(tp(0), 29); // TOPIC_AUTHORIZATION_FAILED
    f.on_fetch_response(BrokerId(1), response(0, vec![e]), now);
    let p = f.poll(10, now);
    assert_eq!(p.errors.len(), 1);
    assert_eq!(p.errors[0].error.broker_code(), Some(29));
    assert!(f.poll_event().is_none());
}

#[test]
fn fetch_sessions_full_incremental_forgotten_and_reset() {
    let now = Instant::now();
    let mut f = fetcher_at(&[0, 1, 2], 0);
    let ids = |p: &FetchPlan| {
        p.partitions
            .iter()
            .map(|p| p.tp.partition)
            .collect::<Vec<_>>()
    };

    let plan = f.fetch_plan(now, leader).remove(0);
    assert_eq!((plan.session_id, plan.session_epoch), (0, 0));
    assert_eq!(ids(&plan), vec![0, 1, 2]);
    f.on_fetch_response(
        BrokerId(1),
        response(42, vec![data(tp(0), 3, records(0, 3))]),
        now,
    );
    f.poll(100, now);

    // Only partition 0 moved: an incremental fetch with just it.
    let plan = f.fetch_plan(now, leader).remove(0);
    assert_eq!((plan.session_id, plan.session_epoch), (42, 1));
    assert_eq!(ids(&plan), vec![0]);
    assert_eq!(plan.partitions[0].fetch_offset, Offset(3));
    assert!(plan.forgotten.is_empty());
    f.on_fetch_response(BrokerId(1), response(42, vec![]), now);

    // Pausing partition 2 removes it from the session.
    f.pause(&[tp(2)]);
    let plan = f.fetch_plan(now, leader).remove(0);
    assert_eq!(plan.session_epoch, 2);
    assert!(plan.partitions.is_empty());
    assert_eq!(plan.forgotten, vec![tp(2)]);

    // The broker lost the session: the next fetch is full again.
    let lost = FetchResponseData {
        error_code: 70,
        session_id: 0,
        partitions: vec![],
    };
    f.on_fetch_response(BrokerId(1), lost, now);
    let plan = f.fetch_plan(now, leader).remove(0);
    assert_eq!((plan.session_id, plan.session_epoch), (0, 0));
    assert_eq!(ids(&plan), vec![0, 1]);

    // A failed request: full fetch replacing the session.
    f.on_fetch_response(BrokerId(1), response(43, vec![]), now);
    f.fetch_plan(now, leader);
    f.on_fetch_error(
        BrokerId(1),
        &crate::Error::new(crate::ErrorKind::RequestTimeout),
        now,
    );
    let later = now + Duration::from_secs(5);
    let plan = f.fetch_plan(later, leader).remove(0);
    assert_eq!((plan.session_id, plan.session_epoch), (43, 0));
    assert_eq!(f.close_sessions(), vec![(BrokerId(1), 43, -1)]);
}

#[test]
fn partitions_are_grouped_by_leader_and_buffer_bound_holds_fetches() {
    let now = Instant::now();
    let mut f = Fetcher::new(FetchConfig {
        max_buffered_bytes: 10,
        ..config()
    });
    f.assign([tp(0), tp(1)]);
    f.seek(&tp(0), Offset(0)).expect("assigned");
    f.seek(&tp(1), Offset(0)).expect("assigned");
    let by_partition = |t: &TopicPartition| Some((BrokerId(t.partition + 1), LeaderEpoch(1)));
    let plans = f.fetch_plan(now, by_partition);
    assert_eq!(
        plans.iter().map(|p| p.broker).collect::<Vec<_>>(),
        vec![BrokerId(1), BrokerId(2)]
    );
    f.on_fetch_response(
        BrokerId(1),
        response(0, vec![data(tp(0), 9, records(0, 9))]),
        now,
    );
    f.on_fetch_response(BrokerId(2), response(0, vec![]), now);
    assert!(
        f.fetch_plan(now, by_partition).is_empty(),
        "over max_buffered_bytes"
    );
    f.poll(100, now);
    assert_eq!(f.fetch_plan(now, by_partition).len(), 2);
    assert!(f.fetch_in_flight(BrokerId(2)));
}

#[test]
fn compressed_batches_and_offset_gaps_decode_lazily() {
    use crate::protocol::records::Compression;
    let now = Instant::now();
    let mut f = fetcher_at(&[0], 0);
    let mut b = BytesMut::new();
    let mut enc = RecordBatchEncoder::new();
    let params = BatchParams {
        compression: Compression::Lz4,
        ..plain(0)
    };
    let mut w = enc.start(&mut b, params).expect("valid params");
    // Offsets 0 and 2 only, as after compaction.
    w.append(0, 1, None, Some(b"a"), &[(&b"h"[..], Some(&b"1"[..]))])
        .expect("append");
    w.append(2, 2, None, None, &[]).expect("append");
    w.finish().expect("finish");
    put_batch(
        &mut b,
        BatchParams {
            compression: Compression::Gzip,
            ..plain(3)
        },
        2,
    );
    f.fetch_plan(now, leader);
    f.on_fetch_response(
        BrokerId(1),
        response(0, vec![data(tp(0), 5, b.freeze())]),
        now,
    );
    let p = f.poll(1, now);
    assert_eq!(offsets(&p), vec![0]);
    assert_eq!(p.records[0].headers.iter().count(), 1);
    assert_eq!(pos(&f, 0), 1);
    let p = f.poll(1, now);
    assert_eq!(offsets(&p), vec![2]);
    assert_eq!(p.records[0].value, None, "a tombstone");
    assert_eq!(offsets(&f.poll(10, now)), vec![3, 4]);
    assert_eq!(pos(&f, 0), 5);
}

#[test]
fn offset_fetch_failures_retry_or_fail() {
    let now = Instant::now();
    let mut f = Fetcher::new(FetchConfig::default());
    f.assign([tp(0), tp(1)]);
    let tps = f.offset_fetch_plan(now);
    assert_eq!(tps.len(), 2);
    f.on_offset_fetch_failed(&tps[..1], &crate::Error::from_broker_code(15), now); // COORDINATOR_NOT_AVAILABLE
    f.on_offset_fetch_failed(&tps[1..], &crate::Error::from_broker_code(30), now); // GROUP_AUTHORIZATION_FAILED
    assert!(f.offset_fetch_plan(now).is_empty(), "backing off");
    assert_eq!(
        f.offset_fetch_plan(now + Duration::from_secs(5)),
        vec![tp(0)]
    );
    let p = f.poll(10, now);
    assert_eq!(p.errors.len(), 1);
    assert_eq!(p.errors[0].tp, tp(1));
    // A commit's leader epoch travels into the position.
    let committed = CommittedOffset {
        offset: Offset(8),
        leader_epoch: Some(LeaderEpoch(3)),
        metadata: None,
    };
    f.on_committed(&tp(0), Some(committed));
    assert_eq!(
        f.position(&tp(0)).and_then(|p| p.leader_epoch),
        Some(LeaderEpoch(3))
    );
}

proptest::proptest! {
    /// However `poll` is sliced, every record is handed out once, in order, and the position is
    /// always the offset after the last one handed out.
    #[test]
    fn polls_hand_out_each_record_once_in_order(
        sizes in proptest::collection::vec(1i64..6, 1..6),
        maxes in proptest::collection::vec(0usize..5, 1..30),
        start in 0i64..4,
    ) {
        let now = Instant::now();
        let mut f = fetcher_at(&[0], start);
        let mut b = BytesMut::new();
        let mut base = 0;
        for n in &sizes {
            put_batch(&mut b, plain(base), *n);
            base += n;
        }
        f.fetch_plan(now, leader);
        f.on_fetch_response(BrokerId(1), response(0, vec![data(tp(0), base, b.freeze())]), now);
        let mut seen = Vec::new();
        for m in maxes.iter().chain(std::iter::once(&usize::MAX)) {
            let p = f.poll(*m, now);
            proptest::prop_assert!(p.records.len() <= *m);
            seen.extend(offsets(&p));
            if let Some(last) = seen.last() {
                proptest::prop_assert_eq!(pos(&f, 0), last + 1);
            }
        }
        proptest::prop_assert_eq!(seen, (start.min(base)..base).collect::<Vec<_>>());
        proptest::prop_assert_eq!(pos(&f, 0), base.max(start));
    }
}

#[test]
fn a_partial_batch_alone_is_an_error_not_a_silent_loop() {
    let now = Instant::now();
    let mut f = fetcher_at(&[0], 0);
    let whole = records(0, 3);
    let partial = whole.slice(..whole.len() - 5);
    f.fetch_plan(now, leader);
    f.on_fetch_response(BrokerId(1), response(0, vec![data(tp(0), 3, partial)]), now);
    let p = f.poll(10, now);
    assert!(p.records.is_empty());
    assert_eq!(p.errors.len(), 1);
    assert_eq!(p.errors[0].error.broker_code(), Some(10));
    assert_eq!(pos(&f, 0), 0);

    // A partial batch after whole ones is normal: the next fetch starts there.
    let mut b = BytesMut::new();
    put_batch(&mut b, plain(0), 2);
    put_batch(&mut b, plain(2), 2);
    let cut = b.len() - 3;
    let later = now + Duration::from_secs(5);
    f.fetch_plan(later, leader);
    f.on_fetch_response(
        BrokerId(1),
        response(0, vec![data(tp(0), 4, b.freeze().slice(..cut))]),
        later,
    );
    let p = f.poll(10, later);
    assert_eq!((offsets(&p), p.errors.len()), (vec![0, 1], 0));
    assert_eq!(pos(&f, 0), 2);
}

/// Issue #24: `Debug` and `Display` of a consumed record show the start of the payload and its
/// size, never the payload.
#[test]
fn debug_and_display_of_a_huge_record_are_short() {
    use crate::protocol::records::HeaderRef;
    let now = Instant::now();
    let mut b = BytesMut::new();
    let mut enc = RecordBatchEncoder::new();
    let mut w = enc.start(&mut b, plain(0)).expect("valid params");
    let value = vec![b'v'; 2_000_000];
    let big = vec![b'h'; 10_000];
    let headers: Vec<HeaderRef<'_>> = (0..10)
        .map(|_| -> HeaderRef<'_> { (b"trace".as_slice(), Some(big.as_slice())) })
        .collect();
    w.append_next(1_000, Some(b"customer-7"), Some(&value), &headers)
        .expect("append");
    w.finish().expect("finish");
    let mut f = fetcher_at(&[0], 0);
    f.fetch_plan(now, leader);
    f.on_fetch_response(
        BrokerId(1),
        response(0, vec![data(tp(0), 1, b.freeze())]),
        now,
    );
    let polled = f.poll(10, now);
    let r = &polled.records[0];
    let d = format!("{r:?}");
    assert!(d.len() < 1_000, "{} chars: {d}", d.len());
    assert!(d.contains("(2000000 B)") && d.contains("6 more"), "{d}");
    assert_eq!(
        r.to_string(),
        r#"orders-0@0 key=b"customer-7" value=2000000 B headers=10"#
    );
}
