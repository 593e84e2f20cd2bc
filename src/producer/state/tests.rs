//! Deterministic tests of the producer state machine: no sockets, no clocks; time is a parameter.
//! (Tests may `unwrap`/`expect`/index: a panic is a test failure.)

use std::time::{Duration, Instant};

use super::*;
use crate::types::{ProducerEpoch, ProducerId, Sequence};

const PID: ProducerId = ProducerId(1000);

fn tp(p: i32) -> TopicPartition {
    TopicPartition::new("orders", p)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn id(pid: i64, epoch: i16) -> ProducerIdAndEpoch {
    ProducerIdAndEpoch {
        producer_id: ProducerId(pid),
        epoch: ProducerEpoch(epoch),
    }
}

fn stamp(pid: i64, epoch: i16, seq: i32) -> Stamp {
    Stamp {
        producer_id: ProducerId(pid),
        producer_epoch: ProducerEpoch(epoch),
        base_sequence: Sequence(seq),
    }
}

fn ok(offset: i64) -> std::result::Result<PartitionAck, Error> {
    Ok(PartitionAck::from_wire(offset, -1, 0))
}

fn broker(code: i16) -> std::result::Result<PartitionAck, Error> {
    Err(Error::from_broker_code(code))
}

fn transport(kind: ErrorKind) -> std::result::Result<PartitionAck, Error> {
    Err(Error::new(kind))
}

/// An idempotent producer that already has producer id 1000, epoch `epoch`.
fn ready_with(config: StateConfig, t0: Instant, epoch: i16) -> ProducerState {
    let mut st = ProducerState::new(config, t0).unwrap();
    assert!(matches!(
        st.poll_event(),
        Some(ProducerEvent::NeedProducerId { .. })
    ));
    st.on_init_producer_id(Ok(id(PID.get(), epoch)), t0);
    assert!(st.poll_event().is_none());
    st
}

fn ready(t0: Instant) -> ProducerState {
    ready_with(StateConfig::default(), t0, 0)
}

fn drain(st: &mut ProducerState) -> Vec<ProducerEvent> {
    std::iter::from_fn(|| st.poll_event()).collect()
}

/// Enqueues and sends a new one-record-per-`count` batch, returning its stamp.
fn send_new(st: &mut ProducerState, p: &TopicPartition, b: u64, count: i32, now: Instant) -> Stamp {
    st.enqueue(p, BatchId(b), count, now).unwrap();
    send(st, p, b, false, now)
}

fn send(st: &mut ProducerState, p: &TopicPartition, b: u64, retry: bool, now: Instant) -> Stamp {
    assert_eq!(
        st.next_sendable(p, now),
        SendDecision::Send {
            batch_id: BatchId(b),
            retry
        }
    );
    st.mark_sent(p, BatchId(b), now).unwrap()
}

fn outcome_of(events: &[ProducerEvent], b: u64) -> Outcome {
    events
        .iter()
        .find_map(|e| match e {
            ProducerEvent::Complete {
                batch_id, outcome, ..
            } if *batch_id == BatchId(b) => Some(outcome.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("batch {b} not completed in {events:?}"))
}

fn retry_at(events: &[ProducerEvent], b: u64) -> Instant {
    events
        .iter()
        .find_map(|e| match e {
            ProducerEvent::Retry {
                batch_id,
                not_before,
                ..
            } if *batch_id == BatchId(b) => Some(*not_before),
            _ => None,
        })
        .unwrap_or_else(|| panic!("batch {b} not retried in {events:?}"))
}

fn assert_persisted(o: &Outcome, offset: Option<i64>) {
    match o {
        Outcome::Persisted { base_offset, .. } => assert_eq!(*base_offset, offset.map(Offset)),
        other => panic!("expected Persisted, got {other:?}"),
    }
}

fn assert_failed(o: &Outcome, expected: Persistence) -> Error {
    match o {
        Outcome::Failed { error, persistence } => {
            assert_eq!(*persistence, expected, "{error}");
            error.clone()
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}

fn bumped_to(events: &[ProducerEvent]) -> Option<i16> {
    events.iter().find_map(|e| match e {
        ProducerEvent::EpochBumped { epoch, .. } => Some(epoch.get()),
        _ => None,
    })
}

// ---- rule 1: success and DUPLICATE_SEQUENCE_NUMBER ----

#[test]
fn success_is_persisted_with_offsets_and_sequences_advance() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let p = tp(0);
    assert_eq!(send_new(&mut st, &p, 1, 3, t0), stamp(1000, 0, 0));
    assert_eq!(send_new(&mut st, &p, 2, 2, t0), stamp(1000, 0, 3));
    st.on_produce_response(&p, BatchId(1), Ok(PartitionAck::from_wire(40, 1234, 7)), t0);
    let ev = drain(&mut st);
    match outcome_of(&ev, 1) {
        Outcome::Persisted {
            base_offset,
            log_append_time_ms,
            log_start_offset,
        } => {
            assert_eq!(base_offset, Some(Offset(40)));
            assert_eq!(log_append_time_ms, Some(1234));
            assert_eq!(log_start_offset, Some(Offset(7)));
        }
        o => panic!("{o:?}"),
    }
    let part = st.partition(&p).unwrap();
    assert_eq!(part.last_ack().unwrap().last_sequence, Sequence(2));
    assert_eq!(part.next_sequence(), Sequence(5));
    assert_eq!(part.unacked_count(), 1);
}

#[test]
fn duplicate_sequence_number_is_a_success_with_unknown_offset() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let p = tp(0);
    send_new(&mut st, &p, 1, 1, t0);
    st.on_produce_response(&p, BatchId(1), broker(46), t0);
    let ev = drain(&mut st);
    assert_persisted(&outcome_of(&ev, 1), None);
    assert_eq!(ev.len(), 1);
}

// ---- rule 2: retriable errors keep the stamp, until delivery.timeout.ms ----

#[test]
fn retriable_errors_retry_with_the_same_stamp() {
    let cases = [
        broker(7),
        broker(19),
        broker(20),
        broker(6),
        broker(2),
        transport(ErrorKind::Disconnected { sent: true }),
        transport(ErrorKind::Disconnected { sent: false }),
        transport(ErrorKind::RequestTimeout),
    ];
    for result in cases {
        let label = format!("{result:?}");
        let t0 = Instant::now();
        let mut st = ready(t0);
        let p = tp(0);
        let first = send_new(&mut st, &p, 1, 4, t0);
        let refresh_expected = matches!(&result, Err(e) if e.broker_code() == Some(6)
            || matches!(e.kind(), ErrorKind::Disconnected { .. }));
        st.on_produce_response(&p, BatchId(1), result, t0 + ms(5));
        let ev = drain(&mut st);
        let at = retry_at(&ev, 1);
        assert!(at > t0 + ms(5), "{label}");
        let refreshed = ev
            .iter()
            .any(|e| matches!(e, ProducerEvent::RefreshMetadata { topic } if topic == "orders"));
        assert_eq!(refreshed, refresh_expected, "{label}");
        // Not before the backoff ends; then the same stamp again.
        assert_eq!(
            st.next_sendable(&p, at - ms(1)),
            SendDecision::Wait { until: Some(at) },
            "{label}"
        );
        assert_eq!(send(&mut st, &p, 1, true, at), first, "{label}");
        st.on_produce_response(&p, BatchId(1), ok(0), at + ms(1));
        assert_persisted(&outcome_of(&drain(&mut st), 1), Some(0));
        assert_eq!(st.identity().current(), Some(id(1000, 0)), "{label}");
    }
}

#[test]
fn retries_end_at_delivery_timeout_possibly_persisted_after_a_timeout() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let p = tp(0);
    send_new(&mut st, &p, 1, 1, t0);
    let mut now = t0;
    let mut attempts = 1;
    // Keep timing out until the delivery timeout (120 s) passes.
    loop {
        now += Duration::from_secs(30);
        st.on_produce_response(&p, BatchId(1), transport(ErrorKind::RequestTimeout), now);
        let ev = drain(&mut st);
        if now >= t0 + Duration::from_secs(120) {
            let e = assert_failed(&outcome_of(&ev, 1), Persistence::PossiblyPersisted);
            assert_eq!(e.kind(), &ErrorKind::Timeout);
            assert!(e.to_string().contains("request timed out"), "{e}");
            break;
        }
        send(&mut st, &p, 1, true, retry_at(&ev, 1));
        attempts += 1;
    }
    assert_eq!(attempts, 4);
}

#[test]
fn rejected_attempts_expire_as_not_persisted_and_reset_the_sequences() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let p = tp(0);
    send_new(&mut st, &p, 1, 2, t0);
    st.on_produce_response(&p, BatchId(1), broker(19), t0 + ms(1));
    assert!(drain(&mut st)
        .iter()
        .any(|e| matches!(e, ProducerEvent::Retry { .. })));
    st.on_delivery_timeout_check(t0 + Duration::from_secs(120));
    let ev = drain(&mut st);
    let e = assert_failed(&outcome_of(&ev, 1), Persistence::NotPersisted);
    assert!(e.to_string().contains("NOT_ENOUGH_REPLICAS"), "{e}");
    // Sequences 0..=1 are now a hole: the next batch starts at 0 under a bumped epoch.
    assert_eq!(bumped_to(&ev), Some(1));
    let later = t0 + Duration::from_secs(121);
    assert_eq!(send_new(&mut st, &p, 2, 1, later), stamp(1000, 1, 0));
}

#[test]
fn never_written_batch_expires_not_persisted() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let p = tp(0);
    send_new(&mut st, &p, 1, 1, t0);
    let after = t0 + Duration::from_secs(121);
    st.on_produce_response(
        &p,
        BatchId(1),
        transport(ErrorKind::Disconnected { sent: false }),
        after,
    );
    assert_failed(&outcome_of(&drain(&mut st), 1), Persistence::NotPersisted);
}

#[test]
fn backoff_grows_is_capped_and_jitter_is_seeded() {
    let t0 = Instant::now();
    let run = |seed: u64| {
        let config = StateConfig {
            jitter_seed: seed,
            ..StateConfig::default()
        };
        let mut st = ready_with(config, t0, 0);
        let p = tp(0);
        send_new(&mut st, &p, 1, 1, t0);
        let mut now = t0;
        let mut delays = Vec::new();
        for _ in 0..6 {
            st.on_produce_response(&p, BatchId(1), broker(7), now);
            let at = retry_at(&drain(&mut st), 1);
            delays.push(at - now);
            now = at;
            send(&mut st, &p, 1, true, now);
        }
        delays
    };
    let a = run(1);
    assert_eq!(a, run(1), "same seed, same delays");
    assert_ne!(a, run(2), "the seed drives the jitter");
    let nominal = [100u64, 200, 400, 800, 1000, 1000];
    for (d, n) in a.iter().zip(nominal) {
        assert!(
            *d >= ms(n * 8 / 10) && *d <= ms(n * 12 / 10),
            "{d:?} vs {n} ms"
        );
    }
}

// ---- rule 3: a request that timed out in flight but was written ----

#[test]
fn timed_out_request_that_was_written_is_retried_with_its_sequence_and_deduplicated() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let p = tp(0);
    let s1 = send_new(&mut st, &p, 1, 2, t0);
    let s2 = send_new(&mut st, &p, 2, 2, t0);
    // The broker wrote batch 1, but its response was lost; batch 2 landed after it.
    st.on_produce_response(
        &p,
        BatchId(1),
        transport(ErrorKind::RequestTimeout),
        t0 + ms(30),
    );
    st.on_produce_response(&p, BatchId(2), ok(12), t0 + ms(31));
    st.enqueue(&p, BatchId(3), 1, t0 + ms(31)).unwrap();
    let ev = drain(&mut st);
    assert_persisted(&outcome_of(&ev, 2), Some(12));
    let at = retry_at(&ev, 1);
    // The retry goes before the new batch, with the same sequence.
    assert_eq!(
        st.next_sendable(&p, t0 + ms(31)),
        SendDecision::Wait { until: Some(at) }
    );
    assert_eq!(send(&mut st, &p, 1, true, at), s1);
    st.on_produce_response(&p, BatchId(1), broker(46), at + ms(1));
    assert_persisted(&outcome_of(&drain(&mut st), 1), None);
    // A late duplicate ack of the older batch does not move the last ack back.
    assert_eq!(
        st.partition(&p).unwrap().last_ack().unwrap().last_sequence,
        s2.base_sequence.add(1)
    );
    assert_eq!(send(&mut st, &p, 3, false, at + ms(1)), stamp(1000, 0, 4));
    assert_eq!(st.identity().current(), Some(id(1000, 0)));
}

#[test]
fn later_batches_out_of_order_behind_a_retry_are_retried_in_order_with_their_sequences() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let p = tp(0);
    let s1 = send_new(&mut st, &p, 1, 1, t0);
    let s2 = send_new(&mut st, &p, 2, 1, t0);
    let s3 = send_new(&mut st, &p, 3, 1, t0);
    // Batch 1 never reached the broker, so 2 and 3 are out of order.
    st.on_produce_response(
        &p,
        BatchId(1),
        transport(ErrorKind::RequestTimeout),
        t0 + ms(1),
    );
    st.on_produce_response(&p, BatchId(2), broker(45), t0 + ms(1));
    st.on_produce_response(&p, BatchId(3), broker(45), t0 + ms(1));
    let ev = drain(&mut st);
    assert_eq!(bumped_to(&ev), None, "not the oldest: no reset");
    let late = t0 + Duration::from_secs(5);
    assert_eq!(send(&mut st, &p, 1, true, late), s1);
    // 2's backoff is over, but it waits for 1.
    assert_eq!(
        st.next_sendable(&p, late),
        SendDecision::Wait { until: None }
    );
    st.on_produce_response(&p, BatchId(1), ok(0), late);
    assert_eq!(send(&mut st, &p, 2, true, late), s2);
    assert_eq!(
        st.next_sendable(&p, late),
        SendDecision::Wait { until: None }
    );
    st.on_produce_response(&p, BatchId(2), ok(1), late);
    assert_eq!(send(&mut st, &p, 3, true, late), s3);
    st.on_produce_response(&p, BatchId(3), ok(2), late);
    let ev = drain(&mut st);
    for b in 1..=3 {
        assert_persisted(&outcome_of(&ev, b), Some(b as i64 - 1));
    }
    assert_eq!(st.partition(&p).unwrap().sync(), PartitionSync::InSync);
}

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
    let mut st = ready_with(StateConfig::default(), t0, i16::MAX);
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
        ..StateConfig::default()
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
        ..StateConfig::default()
    };
    assert!(bad_acks
        .validate()
        .unwrap_err()
        .to_string()
        .contains("acks"));
    let too_many = StateConfig {
        max_in_flight: 6,
        ..StateConfig::default()
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
