//! A partition whose leader cannot be reached (issue #23): the leader is looked up again after
//! every failed fetch, the partition moves to the new leader as soon as the metadata names it,
//! and a stall is reported once, then its end.

use super::*;
use crate::{Error, ErrorKind};
use std::time::Duration;
use std::time::Instant;

fn new_leader(_: &TopicPartition) -> Option<(BrokerId, LeaderEpoch)> {
    Some((BrokerId(2), LeaderEpoch(6)))
}

fn refreshes(f: &mut Fetcher) -> Vec<TopicPartition> {
    let mut out = Vec::new();
    while let Some(e) = f.poll_event() {
        if let FetchEvent::RefreshMetadata { tp, .. } = e {
            out.push(tp);
        }
    }
    out
}

#[test]
fn a_fetch_that_reaches_no_broker_looks_the_leader_up_again() {
    let now = Instant::now();
    for kind in [
        ErrorKind::Connect,
        ErrorKind::Disconnected { sent: true },
        ErrorKind::Disconnected { sent: false },
        ErrorKind::RequestTimeout,
        ErrorKind::NoBrokerAvailable,
    ] {
        let label = format!("{kind:?}");
        let mut f = fetcher_at(&[0, 1], 7);
        assert_eq!(f.fetch_plan(now, leader).len(), 1);
        f.on_fetch_error(BrokerId(1), &Error::new(kind), now);
        assert_eq!(refreshes(&mut f), vec![tp(0), tp(1)], "{label}");
        // After the backoff the partitions go to whichever leader the metadata names now, from
        // the same position: nothing skipped, nothing read twice.
        assert!(
            f.poll_timeout(now).is_some(),
            "{label}: a retry is scheduled"
        );
        // Past both partitions' (jittered) backoffs.
        let plans = f.fetch_plan(now + Duration::from_secs(1), new_leader);
        assert_eq!(plans.len(), 1, "{label}");
        assert_eq!(plans[0].broker, BrokerId(2), "{label}");
        let parts: Vec<(i32, i64, i32)> = plans[0]
            .partitions
            .iter()
            .map(|p| {
                (
                    p.tp.partition,
                    p.fetch_offset.get(),
                    p.current_leader_epoch.0,
                )
            })
            .collect();
        assert_eq!(parts, vec![(0, 7, 6), (1, 7, 6)], "{label}");
        let moved: Vec<_> = std::iter::from_fn(|| f.poll_event())
            .filter_map(|e| match e {
                FetchEvent::LeaderChanged { tp, from, to } => Some((tp, from, to)),
                _ => None,
            })
            .collect();
        assert_eq!(moved.len(), 2, "{label}: one line per partition");
        assert_eq!(
            (moved[0].1, moved[0].2),
            ((BrokerId(1), LeaderEpoch(5)), (BrokerId(2), LeaderEpoch(6)))
        );
    }
}

#[test]
fn an_error_the_broker_answered_with_needs_no_lookup_unless_it_says_so() {
    let now = Instant::now();
    let mut f = fetcher_at(&[0], 0);
    f.fetch_plan(now, leader);
    // An undecodable response: the broker is up, the leader has not moved.
    f.on_fetch_error(BrokerId(1), &Error::malformed("bad frame"), now);
    assert!(refreshes(&mut f).is_empty());
    assert!(f.state(&tp(0)).expect("assigned").stall().is_none());
}

#[test]
fn a_stall_is_reported_once_after_the_bound_and_its_end_once() {
    let t0 = Instant::now();
    let bound = Duration::from_secs(30);
    let mut f = fetcher_at(&[0], 3);
    let mut now = t0;
    // The dead leader is retried (the metadata still names it) for 40 s.
    while now < t0 + Duration::from_secs(40) {
        if !f.fetch_plan(now, leader).is_empty() {
            f.on_fetch_error(BrokerId(1), &Error::new(ErrorKind::Connect), now);
        }
        f.poll_stalls(now, bound);
        now += Duration::from_millis(100);
    }
    let events: Vec<FetchEvent> = std::iter::from_fn(|| f.poll_event()).collect();
    let stalls: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            FetchEvent::Stalled { tp, stall } => Some((tp.clone(), *stall)),
            _ => None,
        })
        .collect();
    assert_eq!(stalls.len(), 1, "reported once: {events:?}");
    assert_eq!(stalls[0].0, tp(0));
    assert_eq!((stalls[0].1.node, stalls[0].1.since), (BrokerId(1), t0));
    assert_eq!(f.stalled_partitions(now, bound), 1);
    assert_eq!(f.stalled_partitions(t0 + Duration::from_secs(10), bound), 0);
    assert_eq!(pos(&f, 0), 3, "the position does not move");

    // The new leader answers: the stall ends (reported once), the records are handed out.
    let wake = f.poll_timeout(now).unwrap_or(now);
    let plans = f.fetch_plan(wake, new_leader);
    assert_eq!(plans[0].broker, BrokerId(2));
    f.on_fetch_response(
        BrokerId(2),
        response(0, vec![data(tp(0), 5, records(3, 2))]),
        wake,
    );
    let ended = std::iter::from_fn(|| f.poll_event())
        .filter(|e| matches!(e, FetchEvent::StallEnded { .. }))
        .count();
    assert_eq!(ended, 1);
    assert_eq!(f.stalled_partitions(wake, bound), 0);
    assert_eq!(offsets(&f.poll(10, wake)), vec![3, 4]);
}

#[test]
fn list_offsets_to_an_unreachable_leader_looks_it_up_again() {
    let now = Instant::now();
    let mut f = Fetcher::new(config());
    f.assign([tp(0)]);
    let plans = f.list_offsets_plan(now, leader);
    let token = plans[0].partitions[0].token;
    f.on_list_offsets(&tp(0), token, Err(Error::new(ErrorKind::Connect)), now);
    assert_eq!(refreshes(&mut f), vec![tp(0)]);
    let wake = f.poll_timeout(now).expect("backing off");
    let plans = f.list_offsets_plan(wake, new_leader);
    assert_eq!(plans[0].broker, BrokerId(2));
}
