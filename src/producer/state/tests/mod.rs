//! Deterministic tests of the producer state machine: no sockets, no clocks; time is a parameter.
//! (Tests may `unwrap`/`expect`/index: a panic is a test failure.)
//!
//! One module per group of rules: this file holds the helpers and rules 1–3 (acks, retries),
//! [`kip360`] rules 4–5 (sequence resets), [`lifecycle`] rules 6–10, and [`simulation`] a
//! seeded random run against a model broker.

mod kip360;
mod lifecycle;
mod simulation;

use std::time::{Duration, Instant};

use super::*;
use crate::types::{Offset, ProducerEpoch, ProducerId, Sequence};

pub(super) const PID: ProducerId = ProducerId(1000);

pub(super) fn tp(p: i32) -> TopicPartition {
    TopicPartition::new("orders", p)
}

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(super) fn id(pid: i64, epoch: i16) -> ProducerIdAndEpoch {
    ProducerIdAndEpoch {
        producer_id: ProducerId(pid),
        epoch: ProducerEpoch(epoch),
    }
}

pub(super) fn stamp(pid: i64, epoch: i16, seq: i32) -> Stamp {
    Stamp {
        producer_id: ProducerId(pid),
        producer_epoch: ProducerEpoch(epoch),
        base_sequence: Sequence(seq),
    }
}

pub(super) fn ok(offset: i64) -> std::result::Result<PartitionAck, Error> {
    Ok(PartitionAck::from_wire(offset, -1, 0))
}

pub(super) fn broker(code: i16) -> std::result::Result<PartitionAck, Error> {
    Err(Error::from_broker_code(code))
}

pub(super) fn transport(kind: ErrorKind) -> std::result::Result<PartitionAck, Error> {
    Err(Error::new(kind))
}

/// An idempotent producer that already has producer id 1000, epoch `epoch`.
pub(super) fn ready_with(config: StateConfig, t0: Instant, epoch: i16) -> ProducerState {
    let mut st = ProducerState::new(config, t0).unwrap();
    assert!(matches!(
        st.poll_event(),
        Some(ProducerEvent::NeedProducerId { .. })
    ));
    st.on_init_producer_id(Ok(id(PID.get(), epoch)), t0);
    assert!(st.poll_event().is_none());
    st
}

pub(super) fn ready(t0: Instant) -> ProducerState {
    ready_with(pipelined(), t0, 0)
}

/// The default configuration, pipelining from the first batch (see
/// `StateConfig::first_batch_alone`).
pub(super) fn pipelined() -> StateConfig {
    StateConfig {
        first_batch_alone: false,
        ..StateConfig::default()
    }
}

pub(super) fn drain(st: &mut ProducerState) -> Vec<ProducerEvent> {
    std::iter::from_fn(|| st.poll_event()).collect()
}

/// Enqueues and sends a new one-record-per-`count` batch, returning its stamp.
pub(super) fn send_new(
    st: &mut ProducerState,
    p: &TopicPartition,
    b: u64,
    count: i32,
    now: Instant,
) -> Stamp {
    st.enqueue(p, BatchId(b), count, now).unwrap();
    send(st, p, b, false, now)
}

pub(super) fn send(
    st: &mut ProducerState,
    p: &TopicPartition,
    b: u64,
    retry: bool,
    now: Instant,
) -> Stamp {
    assert_eq!(
        st.next_sendable(p, now),
        SendDecision::Send {
            batch_id: BatchId(b),
            retry
        }
    );
    st.mark_sent(p, BatchId(b), now).unwrap()
}

pub(super) fn outcome_of(events: &[ProducerEvent], b: u64) -> Outcome {
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

pub(super) fn retry_at(events: &[ProducerEvent], b: u64) -> Instant {
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

pub(super) fn assert_persisted(o: &Outcome, offset: Option<i64>) {
    match o {
        Outcome::Persisted { base_offset, .. } => assert_eq!(*base_offset, offset.map(Offset)),
        other => panic!("expected Persisted, got {other:?}"),
    }
}

pub(super) fn assert_failed(o: &Outcome, expected: Persistence) -> Error {
    match o {
        Outcome::Failed { error, persistence } => {
            assert_eq!(*persistence, expected, "{error}");
            error.clone()
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}

pub(super) fn bumped_to(events: &[ProducerEvent]) -> Option<i16> {
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
        // NOT_LEADER_OR_FOLLOWER, and no answer at all: the broker may be down for good.
        let refresh_expected = matches!(&result, Err(e) if e.broker_code() == Some(6)
            || matches!(e.kind(), ErrorKind::Disconnected { .. } | ErrorKind::RequestTimeout));
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
            ..pipelined()
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
    // The broker wrote batch 1, but its response was lost.
    st.on_produce_response(
        &p,
        BatchId(1),
        transport(ErrorKind::RequestTimeout),
        t0 + ms(30),
    );
    st.enqueue(&p, BatchId(2), 1, t0 + ms(31)).unwrap();
    let at = retry_at(&drain(&mut st), 1);
    // The retry goes before the new batch, with the same sequence.
    assert_eq!(
        st.next_sendable(&p, t0 + ms(31)),
        SendDecision::Wait { until: Some(at) }
    );
    assert_eq!(send(&mut st, &p, 1, true, at), s1);
    st.on_produce_response(&p, BatchId(1), broker(46), at + ms(1));
    assert_persisted(&outcome_of(&drain(&mut st), 1), None);
    assert_eq!(send(&mut st, &p, 2, false, at + ms(1)), stamp(1000, 0, 2));
    assert_eq!(st.identity().current(), Some(id(1000, 0)));
}

#[test]
fn ack_of_a_later_batch_proves_earlier_ones_of_the_same_epoch_written() {
    let t0 = Instant::now();
    let mut st = ready(t0);
    let p = tp(0);
    send_new(&mut st, &p, 1, 2, t0);
    send_new(&mut st, &p, 2, 2, t0);
    send_new(&mut st, &p, 3, 1, t0);
    // 1's response was lost, 2 landed after it: the broker only appends in sequence order.
    st.on_produce_response(
        &p,
        BatchId(1),
        transport(ErrorKind::RequestTimeout),
        t0 + ms(30),
    );
    st.on_produce_response(&p, BatchId(2), ok(12), t0 + ms(31));
    let ev = drain(&mut st);
    let completed: Vec<BatchId> = ev
        .iter()
        .filter_map(|e| match e {
            ProducerEvent::Complete { batch_id, .. } => Some(*batch_id),
            _ => None,
        })
        .collect();
    assert_eq!(completed, vec![BatchId(1), BatchId(2)], "in order");
    assert_persisted(&outcome_of(&ev, 1), None);
    assert_persisted(&outcome_of(&ev, 2), Some(12));
    // Not retried: it could have left the broker's deduplication window.
    assert_eq!(st.partition(&p).unwrap().unacked_count(), 1);
    assert_eq!(st.next_sendable(&p, t0 + ms(500)), SendDecision::Idle);
    // Its late response is ignored.
    st.on_produce_response(&p, BatchId(1), broker(46), t0 + ms(40));
    assert!(st.poll_event().is_none());
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

#[test]
fn retries_limit_fails_the_batch_with_the_last_error() {
    let t0 = Instant::now();
    let config = StateConfig {
        retries: 2,
        ..pipelined()
    };
    let mut st = ready_with(config, t0, 0);
    let p = tp(0);
    send_new(&mut st, &p, 1, 1, t0);
    let mut now = t0;
    for attempt in 0..3 {
        st.on_produce_response(&p, BatchId(1), broker(19), now); // NOT_ENOUGH_REPLICAS
        let events = drain(&mut st);
        if attempt < 2 {
            now = retry_at(&events, 1);
            send(&mut st, &p, 1, true, now);
        } else {
            let e = assert_failed(&outcome_of(&events, 1), Persistence::NotPersisted);
            assert_eq!(e.broker_code(), Some(19));
        }
    }
}

#[test]
fn first_batch_of_an_epoch_goes_alone_until_acknowledged() {
    let t0 = Instant::now();
    let mut st = ready_with(StateConfig::default(), t0, 0);
    let p = tp(0);
    send_new(&mut st, &p, 1, 10, t0);
    st.enqueue(&p, BatchId(2), 10, t0).unwrap();
    assert_eq!(st.next_sendable(&p, t0), SendDecision::Wait { until: None });
    st.on_produce_response(&p, BatchId(1), ok(0), t0);
    drain(&mut st);
    // Acknowledged: pipelining starts.
    let s2 = send(&mut st, &p, 2, false, t0);
    assert_eq!(s2.base_sequence.0, 10);
    st.enqueue(&p, BatchId(3), 10, t0).unwrap();
    assert!(matches!(
        st.next_sendable(&p, t0),
        SendDecision::Send { .. }
    ));
}
