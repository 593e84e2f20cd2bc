//! Rules 4 and 5: KIP-360 sequence resets after out-of-order / unknown-producer errors and holes.

use std::time::{Duration, Instant};

use super::*;

// ---- rule 4: KIP-360 ----

fn out_of_order_resets_after_in_flight_drain(code: i16) {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let p = tp(0);
    send_new(&mut st, &p, 1, 2, t0);
    send_new(&mut st, &p, 2, 2, t0);
    send_new(&mut st, &p, 3, 2, t0);
    // The broker lost the producer's state: the oldest batch is rejected.
    st.on_produce_response(&p, BatchId(1), broker(code), t0 + ms(1));
    let ev = drain(&mut st);
    assert!(ev
        .iter()
        .all(|e| !matches!(e, ProducerEvent::Complete { .. })));
    assert_eq!(bumped_to(&ev), None, "waits for 2 and 3");
    assert_eq!(
        st.partition(&p).unwrap().sync(),
        PartitionSync::NeedsReset { from: 0 }
    );
    st.enqueue(&p, BatchId(4), 1, t0 + ms(1)).unwrap();
    assert_eq!(
        st.next_sendable(&p, t0 + ms(500)),
        SendDecision::Wait { until: None }
    );
    st.on_produce_response(&p, BatchId(2), broker(code), t0 + ms(2));
    assert_eq!(bumped_to(&drain(&mut st)), None, "3 still outstanding");
    st.on_produce_response(
        &p,
        BatchId(3),
        transport(ErrorKind::RequestTimeout),
        t0 + ms(3),
    );
    let ev = drain(&mut st);
    assert_eq!(bumped_to(&ev), Some(1));
    let part = st.partition(&p).unwrap();
    assert_eq!(part.stamp_of(BatchId(1)), Some(stamp(1000, 1, 0)));
    assert_eq!(part.stamp_of(BatchId(2)), Some(stamp(1000, 1, 2)));
    assert_eq!(part.stamp_of(BatchId(3)), Some(stamp(1000, 1, 4)));
    assert_eq!(part.next_sequence(), Sequence(6));
    // Resume in the original order; nothing lost.
    let now = t0 + Duration::from_secs(2);
    for (b, seq) in [(1u64, 0), (2, 2), (3, 4)] {
        assert_eq!(send(&mut st, &p, b, true, now), stamp(1000, 1, seq));
        st.on_produce_response(&p, BatchId(b), ok(seq as i64), now);
    }
    assert_eq!(send(&mut st, &p, 4, false, now), stamp(1000, 1, 6));
    st.on_produce_response(&p, BatchId(4), ok(6), now);
    let ev = drain(&mut st);
    for b in 1..=4 {
        assert!(matches!(outcome_of(&ev, b), Outcome::Persisted { .. }));
    }
}

#[test]
fn out_of_order_sequence_on_oldest_batch_bumps_epoch_after_in_flight_drain() {
    out_of_order_resets_after_in_flight_drain(45);
}

#[test]
fn unknown_producer_id_on_oldest_batch_bumps_epoch_after_in_flight_drain() {
    out_of_order_resets_after_in_flight_drain(59);
}

#[test]
fn exhausted_epoch_asks_for_a_new_producer_id_then_restamps() {
    let t0 = Instant::now();
    let mut st = ready_with(pipelined(), t0, i16::MAX);
    let p = tp(0);
    send_new(&mut st, &p, 1, 3, t0);
    st.on_produce_response(&p, BatchId(1), broker(45), t0 + ms(1));
    let ev = drain(&mut st);
    assert!(ev
        .iter()
        .any(|e| matches!(e, ProducerEvent::NeedProducerId { .. })));
    assert!(matches!(
        st.identity(),
        ProducerIdState::Initializing { .. }
    ));
    let later = t0 + Duration::from_secs(1);
    assert_eq!(
        st.next_sendable(&p, later),
        SendDecision::Wait { until: None }
    );
    st.on_init_producer_id(Ok(id(2000, 0)), later);
    assert_eq!(send(&mut st, &p, 1, true, later), stamp(2000, 0, 0));
    assert_eq!(st.partition(&p).unwrap().next_sequence(), Sequence(3));
}

#[test]
fn other_partitions_finish_under_the_old_epoch_before_starting_at_zero() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let (p0, p1) = (tp(0), tp(1));
    send_new(&mut st, &p1, 10, 1, t0);
    send_new(&mut st, &p1, 11, 1, t0);
    send_new(&mut st, &p0, 1, 1, t0);
    st.on_produce_response(&p0, BatchId(1), broker(59), t0);
    assert_eq!(bumped_to(&drain(&mut st)), Some(1));
    // p1 still has batches under epoch 0: its new batch waits for them.
    st.enqueue(&p1, BatchId(12), 1, t0).unwrap();
    assert_eq!(
        st.next_sendable(&p1, t0),
        SendDecision::Wait { until: None }
    );
    st.on_produce_response(&p1, BatchId(10), ok(0), t0);
    assert_eq!(
        st.next_sendable(&p1, t0),
        SendDecision::Wait { until: None }
    );
    st.on_produce_response(&p1, BatchId(11), ok(1), t0);
    assert_eq!(send(&mut st, &p1, 12, false, t0), stamp(1000, 1, 0));
    // p0 was re-stamped directly.
    assert_eq!(
        st.partition(&p0).unwrap().stamp_of(BatchId(1)),
        Some(stamp(1000, 1, 0))
    );
}

#[test]
fn two_partitions_needing_a_reset_share_one_bump() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let (p0, p1) = (tp(0), tp(1));
    send_new(&mut st, &p0, 1, 1, t0);
    send_new(&mut st, &p1, 2, 1, t0);
    st.on_produce_response(&p0, BatchId(1), broker(59), t0);
    st.on_produce_response(&p1, BatchId(2), broker(59), t0);
    let ev = drain(&mut st);
    let bumps = ev
        .iter()
        .filter(|e| matches!(e, ProducerEvent::EpochBumped { .. }))
        .count();
    assert_eq!(bumps, 1);
    for (p, b) in [(&p0, 1), (&p1, 2)] {
        assert_eq!(
            st.partition(p).unwrap().stamp_of(BatchId(b)),
            Some(stamp(1000, 1, 0))
        );
    }
}

// ---- rule 5: permanent per-batch errors ----

#[test]
fn permanent_errors_fail_only_that_batch() {
    for (code, persistence) in [
        (10, Persistence::NotPersisted),
        (18, Persistence::NotPersisted),
        (87, Persistence::NotPersisted),
        (29, Persistence::NotPersisted),
        (17, Persistence::NotPersisted),
        (-1, Persistence::PossiblyPersisted),
    ] {
        let t0 = Instant::now();
        let mut st = ready(t0);
        let (p0, p1) = (tp(0), tp(1));
        send_new(&mut st, &p1, 10, 1, t0);
        send_new(&mut st, &p0, 1, 5, t0);
        st.on_produce_response(&p0, BatchId(1), broker(code), t0);
        let ev = drain(&mut st);
        let e = assert_failed(&outcome_of(&ev, 1), persistence);
        assert_eq!(e.broker_code(), Some(code));
        // Sequences 0..=4 are gone: p0 starts over under a new epoch (Java bumps too).
        assert_eq!(bumped_to(&ev), Some(1), "code {code}");
        assert_eq!(send_new(&mut st, &p0, 2, 1, t0), stamp(1000, 1, 0));
        // p1 is unaffected.
        st.on_produce_response(&p1, BatchId(10), ok(3), t0);
        assert_persisted(&outcome_of(&drain(&mut st), 10), Some(3));
    }
}

#[test]
fn permanent_error_with_later_batches_in_flight_restamps_them_once_they_return() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let p = tp(0);
    send_new(&mut st, &p, 1, 1, t0);
    send_new(&mut st, &p, 2, 2, t0);
    send_new(&mut st, &p, 3, 3, t0);
    st.on_produce_response(&p, BatchId(2), broker(10), t0);
    let ev = drain(&mut st);
    assert_failed(&outcome_of(&ev, 2), Persistence::NotPersisted);
    assert_eq!(bumped_to(&ev), None, "1 and 3 are outstanding");
    st.on_produce_response(&p, BatchId(1), ok(0), t0);
    st.on_produce_response(&p, BatchId(3), broker(45), t0);
    let ev = drain(&mut st);
    assert_persisted(&outcome_of(&ev, 1), Some(0));
    assert_eq!(bumped_to(&ev), Some(1));
    let now = t0 + Duration::from_secs(1);
    assert_eq!(send(&mut st, &p, 3, true, now), stamp(1000, 1, 0));
}

#[test]
fn reset_waits_for_an_earlier_batch_still_retrying() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let p = tp(0);
    let s1 = send_new(&mut st, &p, 1, 1, t0);
    send_new(&mut st, &p, 2, 1, t0);
    send_new(&mut st, &p, 3, 1, t0);
    st.on_produce_response(&p, BatchId(1), transport(ErrorKind::RequestTimeout), t0);
    st.on_produce_response(&p, BatchId(2), broker(87), t0);
    st.on_produce_response(&p, BatchId(3), broker(45), t0);
    let ev = drain(&mut st);
    assert_eq!(
        bumped_to(&ev),
        None,
        "1 may still land under its old sequence"
    );
    let now = t0 + Duration::from_secs(1);
    // Only 1 (before the hole) may go; 3 waits to be re-stamped.
    assert_eq!(send(&mut st, &p, 1, true, now), s1);
    assert_eq!(
        st.next_sendable(&p, now),
        SendDecision::Wait { until: None }
    );
    st.on_produce_response(&p, BatchId(1), ok(0), now);
    assert_eq!(bumped_to(&drain(&mut st)), Some(1));
    assert_eq!(send(&mut st, &p, 3, true, now), stamp(1000, 1, 0));
}
