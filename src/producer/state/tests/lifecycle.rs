//! Rules 6–10: fatal errors, sequence wrap, in-flight limit, non-idempotent mode, delivery timeout.

use std::time::{Duration, Instant};

use super::*;

// ---- rule 6: fatal errors ----

#[test]
fn fatal_errors_fail_every_batch_and_later_ones() {
    for code in [90, 47, 31, 53, 35] {
        let t0 = Instant::now();
        let mut st = ready(t0);
        let (p0, p1) = (tp(0), tp(1));
        send_new(&mut st, &p0, 1, 1, t0);
        send_new(&mut st, &p0, 2, 1, t0);
        send_new(&mut st, &p1, 3, 1, t0);
        st.enqueue(&p1, BatchId(4), 1, t0).unwrap();
        st.on_produce_response(&p0, BatchId(2), transport(ErrorKind::RequestTimeout), t0);
        st.on_produce_response(&p0, BatchId(1), broker(code), t0);
        let ev = drain(&mut st);
        let fatal = ev
            .iter()
            .filter(|e| matches!(e, ProducerEvent::Fatal(e) if e.broker_code() == Some(code)))
            .count();
        assert_eq!(fatal, 1, "code {code}");
        assert_failed(&outcome_of(&ev, 1), Persistence::NotPersisted);
        assert_failed(&outcome_of(&ev, 2), Persistence::PossiblyPersisted);
        assert_failed(&outcome_of(&ev, 3), Persistence::PossiblyPersisted);
        assert_failed(&outcome_of(&ev, 4), Persistence::NotPersisted);
        assert!(st.identity().fatal_error().is_some());
        // Later batches fail at once; late responses are ignored.
        st.enqueue(&p1, BatchId(5), 1, t0).unwrap();
        st.on_produce_response(&p1, BatchId(3), ok(0), t0);
        let ev = drain(&mut st);
        assert_eq!(ev.len(), 1);
        let e = assert_failed(&outcome_of(&ev, 5), Persistence::NotPersisted);
        assert_eq!(e.broker_code(), Some(code));
        assert_eq!(st.next_sendable(&p1, t0), SendDecision::Idle);
    }
}

#[test]
fn init_producer_id_retries_retriable_errors_and_stops_on_fatal_ones() {
    let t0 = Instant::now();
    let mut st = ProducerState::new(StateConfig::default(), t0).unwrap();
    assert!(matches!(
        st.poll_event(),
        Some(ProducerEvent::NeedProducerId { not_before }) if not_before == t0
    ));
    let p = tp(0);
    st.enqueue(&p, BatchId(1), 1, t0).unwrap();
    assert_eq!(st.next_sendable(&p, t0), SendDecision::Wait { until: None });
    // COORDINATOR_NOT_AVAILABLE (15) is retriable.
    st.on_init_producer_id(Err(Error::from_broker_code(15)), t0);
    match st.poll_event() {
        Some(ProducerEvent::NeedProducerId { not_before }) => assert!(not_before > t0),
        other => panic!("{other:?}"),
    }
    st.on_init_producer_id(Err(Error::from_broker_code(31)), t0);
    let ev = drain(&mut st);
    assert!(matches!(ev.first(), Some(ProducerEvent::Fatal(_))));
    assert_failed(&outcome_of(&ev, 1), Persistence::NotPersisted);
}

// ---- rule 7: sequence wrap ----

#[test]
fn sequences_wrap_at_i32_max() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let p = tp(0);
    st.enqueue(&p, BatchId(1), 5, t0).unwrap();
    st.set_next_sequence(&p, Sequence(i32::MAX - 2));
    let s1 = send(&mut st, &p, 1, false, t0);
    assert_eq!(s1, stamp(1000, 0, i32::MAX - 2));
    assert_eq!(s1.last_sequence(5), Sequence(1));
    assert_eq!(send_new(&mut st, &p, 2, 1, t0), stamp(1000, 0, 2));
    st.on_produce_response(&p, BatchId(1), ok(0), t0);
    assert_eq!(
        st.partition(&p).unwrap().last_ack().unwrap().last_sequence,
        Sequence(1)
    );
}

// ---- rule 8: in-flight limit and ordering ----

#[test]
fn never_more_than_max_in_flight_unresolved_batches() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let p = tp(0);
    for b in 1..=5 {
        send_new(&mut st, &p, b, 1, t0);
    }
    st.enqueue(&p, BatchId(6), 1, t0).unwrap();
    assert!(!st.can_send(&p, t0));
    assert_eq!(st.next_sendable(&p, t0), SendDecision::Wait { until: None });
    assert!(st.mark_sent(&p, BatchId(6), t0).is_err());
    // A batch awaiting a retry still counts.
    st.on_produce_response(&p, BatchId(5), broker(7), t0);
    // Only the retry of 5 could go, and not before 1..=4 resolve.
    assert_eq!(
        st.next_sendable(&p, t0 + Duration::from_secs(1)),
        SendDecision::Wait { until: None }
    );
    st.on_produce_response(&p, BatchId(1), ok(0), t0);
    assert_eq!(st.partition(&p).unwrap().unacked_count(), 4);
    // Room again, but the retry of 5 must go (in order) before 6.
    let later = t0 + Duration::from_secs(1);
    assert_eq!(
        st.next_sendable(&p, later),
        SendDecision::Wait { until: None }
    );
    for b in 2..=4 {
        st.on_produce_response(&p, BatchId(b), ok(b as i64 - 1), later);
    }
    assert_eq!(send(&mut st, &p, 5, true, later), stamp(1000, 0, 4));
    st.on_produce_response(&p, BatchId(5), ok(4), later);
    assert_eq!(send(&mut st, &p, 6, false, later), stamp(1000, 0, 5));
}

// ---- rule 9: without idempotence ----

fn plain(acks: Acks) -> StateConfig {
    StateConfig {
        idempotence: false,
        acks,
        max_in_flight: 5,
        ..pipelined()
    }
}

#[test]
fn non_idempotent_batches_carry_no_sequence_and_still_retry() {
    let t0 = Instant::now();
    let mut st = ProducerState::new(plain(Acks::Leader), t0).unwrap();
    assert!(st.poll_event().is_none(), "no InitProducerId");
    assert!(matches!(st.identity(), ProducerIdState::Disabled));
    let p = tp(0);
    assert_eq!(send_new(&mut st, &p, 1, 3, t0), Stamp::NONE);
    assert_eq!(send_new(&mut st, &p, 2, 3, t0), Stamp::NONE);
    st.on_produce_response(&p, BatchId(2), broker(19), t0);
    let at = retry_at(&drain(&mut st), 2);
    // Without sequences there is no ordering constraint to wait for.
    assert_eq!(send(&mut st, &p, 2, true, at), Stamp::NONE);
    st.on_produce_response(&p, BatchId(2), ok(9), at);
    st.on_produce_response(&p, BatchId(1), broker(10), at);
    let ev = drain(&mut st);
    assert_persisted(&outcome_of(&ev, 2), Some(9));
    assert_failed(&outcome_of(&ev, 1), Persistence::NotPersisted);
    assert_eq!(bumped_to(&ev), None);
    // Delivery timeout applies too.
    send_new(&mut st, &p, 3, 1, at);
    st.on_produce_response(
        &p,
        BatchId(3),
        transport(ErrorKind::RequestTimeout),
        t0 + Duration::from_secs(200),
    );
    assert_failed(
        &outcome_of(&drain(&mut st), 3),
        Persistence::PossiblyPersisted,
    );
}

#[test]
fn acks_zero_completes_unacknowledged() {
    let t0 = Instant::now();
    let mut st = ProducerState::new(plain(Acks::None), t0).unwrap();
    let p = tp(0);
    send_new(&mut st, &p, 1, 1, t0);
    st.on_produce_response(&p, BatchId(1), Ok(PartitionAck::default()), t0);
    assert!(matches!(
        outcome_of(&drain(&mut st), 1),
        Outcome::Unacknowledged
    ));
}

#[test]
fn config_rejects_idempotence_without_acks_all_or_with_too_many_in_flight() {
    let bad_acks = StateConfig {
        acks: Acks::Leader,
        ..pipelined()
    };
    assert!(bad_acks
        .validate()
        .unwrap_err()
        .to_string()
        .contains("acks"));
    let too_many = StateConfig {
        max_in_flight: 6,
        ..pipelined()
    };
    assert!(ProducerState::new(too_many, Instant::now()).is_err());
    assert!(plain(Acks::None).validate().is_ok());
}

// ---- rule 10: delivery timeout ----

#[test]
fn queued_batch_past_delivery_timeout_fails_not_persisted() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let p = tp(0);
    st.enqueue(&p, BatchId(1), 1, t0).unwrap();
    assert_eq!(st.poll_timeout(), Some(t0 + Duration::from_secs(120)));
    st.on_delivery_timeout_check(t0 + Duration::from_secs(119));
    assert!(st.poll_event().is_none());
    st.on_delivery_timeout_check(t0 + Duration::from_secs(120));
    let e = assert_failed(&outcome_of(&drain(&mut st), 1), Persistence::NotPersisted);
    assert_eq!(e.kind(), &ErrorKind::Timeout);
    // Never stamped: no hole, no bump, the next batch continues at 0.
    assert_eq!(send_new(&mut st, &p, 2, 1, t0), stamp(1000, 0, 0));
}

#[test]
fn outstanding_batch_is_not_expired_early_but_by_its_response() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let p = tp(0);
    send_new(&mut st, &p, 1, 1, t0);
    let late = t0 + Duration::from_secs(500);
    st.on_delivery_timeout_check(late);
    assert!(st.poll_event().is_none());
    assert_eq!(st.poll_timeout(), None);
    st.on_produce_response(&p, BatchId(1), ok(5), late);
    assert_persisted(&outcome_of(&drain(&mut st), 1), Some(5));
}

#[test]
fn unresolved_sequence_is_resolved_by_a_later_ack() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let p = tp(0);
    send_new(&mut st, &p, 1, 1, t0);
    let later = t0 + Duration::from_secs(100);
    send_new(&mut st, &p, 2, 1, later);
    st.on_produce_response(&p, BatchId(1), transport(ErrorKind::RequestTimeout), later);
    st.on_delivery_timeout_check(t0 + Duration::from_secs(120));
    let ev = drain(&mut st);
    assert_failed(&outcome_of(&ev, 1), Persistence::PossiblyPersisted);
    assert_eq!(
        st.partition(&p).unwrap().sync(),
        PartitionSync::Unresolved { last_unknown: 0 }
    );
    let now = t0 + Duration::from_secs(121);
    st.enqueue(&p, BatchId(3), 1, now).unwrap();
    assert_eq!(
        st.next_sendable(&p, now),
        SendDecision::Wait { until: None }
    );
    // 2 landed, so 1 did too: in sync again, no bump.
    st.on_produce_response(&p, BatchId(2), ok(1), now);
    assert_eq!(st.partition(&p).unwrap().sync(), PartitionSync::InSync);
    assert_eq!(send(&mut st, &p, 3, false, now), stamp(1000, 0, 2));
    assert_eq!(bumped_to(&drain(&mut st)), None);
}

#[test]
fn unresolved_sequence_then_out_of_order_resets() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let p = tp(0);
    send_new(&mut st, &p, 1, 1, t0);
    let later = t0 + Duration::from_secs(100);
    send_new(&mut st, &p, 2, 1, later);
    st.on_produce_response(&p, BatchId(1), transport(ErrorKind::RequestTimeout), later);
    st.on_delivery_timeout_check(t0 + Duration::from_secs(120));
    drain(&mut st);
    // 2 is out of order, so 1 was never written.
    st.on_produce_response(&p, BatchId(2), broker(45), t0 + Duration::from_secs(121));
    assert_eq!(bumped_to(&drain(&mut st)), Some(1));
    assert_eq!(
        st.partition(&p).unwrap().stamp_of(BatchId(2)),
        Some(stamp(1000, 1, 0))
    );
}

#[test]
fn unresolved_sequence_with_nothing_left_resets() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let p = tp(0);
    send_new(&mut st, &p, 1, 1, t0);
    let after = t0 + Duration::from_secs(121);
    st.on_produce_response(
        &p,
        BatchId(1),
        transport(ErrorKind::Disconnected { sent: true }),
        after,
    );
    let ev = drain(&mut st);
    assert_failed(&outcome_of(&ev, 1), Persistence::PossiblyPersisted);
    assert_eq!(bumped_to(&ev), Some(1));
    assert_eq!(send_new(&mut st, &p, 2, 1, after), stamp(1000, 1, 0));
}

#[test]
fn poll_timeout_reports_the_earliest_backoff() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let p = tp(0);
    send_new(&mut st, &p, 1, 1, t0);
    st.on_produce_response(&p, BatchId(1), broker(7), t0);
    let at = retry_at(&drain(&mut st), 1);
    assert_eq!(st.poll_timeout(), Some(at));
}

#[test]
fn timers_for_the_sender_leave_out_backoffs_already_over() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let p = tp(0);
    send_new(&mut st, &p, 1, 1, t0);
    send_new(&mut st, &p, 2, 1, t0);
    st.on_produce_response(&p, BatchId(2), broker(7), t0);
    let at = retry_at(&drain(&mut st), 2);
    assert_eq!(st.next_retry_after(t0), Some(at));
    // Batch 2's backoff is over but it waits for batch 1 (retry in order): no timer, so the
    // sender does not wake for it until batch 1's response.
    assert_eq!(st.next_retry_after(at), None);
    assert!(!st.can_send(&p, at));
    assert_eq!(
        st.next_delivery_deadline(),
        Some(t0 + Duration::from_secs(120))
    );
}

#[test]
fn abort_fails_everything_and_incomplete_batches_counts_down() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let (p0, p1) = (tp(0), tp(1));
    send_new(&mut st, &p0, 1, 1, t0);
    st.enqueue(&p1, BatchId(2), 1, t0).unwrap();
    assert_eq!(st.incomplete_batches(), 2);
    assert_eq!(st.busy_partitions().count(), 2);
    st.abort(Error::new(ErrorKind::Closed).with_detail("close(0)"));
    let ev = drain(&mut st);
    assert_failed(&outcome_of(&ev, 1), Persistence::PossiblyPersisted);
    assert_failed(&outcome_of(&ev, 2), Persistence::NotPersisted);
    assert_eq!(st.incomplete_batches(), 0);
    assert_eq!(st.busy_partitions().count(), 0);
}

// ---- transaction version 2: a new epoch (or producer id) between transactions ----

#[test]
fn an_adopted_epoch_restarts_every_partition_at_sequence_zero() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let (a, b) = (tp(0), tp(1));
    assert_eq!(send_new(&mut st, &a, 1, 3, t0), stamp(1000, 0, 0));
    assert_eq!(send_new(&mut st, &b, 2, 2, t0), stamp(1000, 0, 0));
    st.on_produce_response(&a, BatchId(1), ok(10), t0);
    st.on_produce_response(&b, BatchId(2), ok(20), t0);
    drain(&mut st);
    // EndTxn v5 bumped the epoch.
    st.adopt_producer_id(id(1000, 1));
    assert_eq!(st.identity().current(), Some(id(1000, 1)));
    assert_eq!(send_new(&mut st, &a, 3, 1, t0), stamp(1000, 1, 0));
    assert_eq!(send_new(&mut st, &b, 4, 1, t0), stamp(1000, 1, 0));
    st.on_produce_response(&a, BatchId(3), ok(13), t0);
    st.on_produce_response(&b, BatchId(4), ok(22), t0);
    drain(&mut st);
    // The epoch was exhausted: a new producer id at epoch 0.
    st.adopt_producer_id(id(2000, 0));
    assert_eq!(send_new(&mut st, &a, 5, 1, t0), stamp(2000, 0, 0));
    assert!(bumped_to(&drain(&mut st)).is_none(), "no local bump event");
}

#[test]
fn an_adopted_epoch_does_not_revive_a_fatal_producer() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    st.abort(Error::from_broker_code(90));
    st.adopt_producer_id(id(1000, 1));
    assert!(st.identity().fatal_error().is_some());
}
