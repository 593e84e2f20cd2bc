//! Uneven partitions on one broker (issue #26): a fetch of caught-up partitions only (a long
//! poll) is not sent while a partition of the same broker waits for the application to drain its
//! buffer, so that partition's next fetch is not held behind the long poll.

use super::*;
use std::time::Instant;

fn partitions_of(plans: &[FetchPlan]) -> Vec<i32> {
    plans
        .iter()
        .flat_map(|p| p.partitions.iter().map(|x| x.tp.partition))
        .collect()
}

#[test]
fn no_long_poll_of_idle_partitions_while_a_busy_one_is_held_by_its_buffer() {
    let now = Instant::now();
    let mut f = fetcher_at(&[0, 1, 2], 0);
    // Round 1: partition 0 has data, 1 and 2 are caught up.
    assert_eq!(partitions_of(&f.fetch_plan(now, leader)), vec![0, 1, 2]);
    f.on_fetch_response(
        BrokerId(1),
        response(
            0,
            vec![
                data(tp(0), 100, records(0, 10)),
                data(tp(1), 0, Bytes::new()),
                data(tp(2), 0, Bytes::new()),
            ],
        ),
        now,
    );
    // Round 2: 0 fetches ahead (one buffered), with the idle ones.
    assert_eq!(partitions_of(&f.fetch_plan(now, leader)), vec![0, 1, 2]);
    f.on_fetch_response(
        BrokerId(1),
        response(
            0,
            vec![
                data(tp(0), 100, records(10, 10)),
                data(tp(1), 0, Bytes::new()),
                data(tp(2), 0, Bytes::new()),
            ],
        ),
        now,
    );
    // Partition 0 holds two fetches: only 1 and 2 could go, and that would be a long poll the
    // broker holds while 0's next records wait behind it. Nothing is sent.
    assert!(f.fetch_plan(now, leader).is_empty());
    // The application drains one fetch: 0 goes again, with 1 and 2.
    assert_eq!(offsets(&f.poll(15, now)), (0..15).collect::<Vec<_>>());
    assert_eq!(partitions_of(&f.fetch_plan(now, leader)), vec![0, 1, 2]);
}

#[test]
fn idle_partitions_are_long_polled_when_nothing_is_held() {
    let now = Instant::now();
    let mut f = fetcher_at(&[0, 1], 0);
    f.fetch_plan(now, leader);
    f.on_fetch_response(
        BrokerId(1),
        response(
            0,
            vec![data(tp(0), 0, Bytes::new()), data(tp(1), 0, Bytes::new())],
        ),
        now,
    );
    // Everything caught up, nothing buffered: the usual long poll.
    assert_eq!(partitions_of(&f.fetch_plan(now, leader)), vec![0, 1]);
}

#[test]
fn a_held_partition_on_another_broker_does_not_stop_this_one() {
    let now = Instant::now();
    let two = |tp: &TopicPartition| {
        Some((
            BrokerId(if tp.partition == 0 { 1 } else { 2 }),
            LeaderEpoch(5),
        ))
    };
    let mut f = fetcher_at(&[0, 1], 0);
    for round in 0..2 {
        let plans = f.fetch_plan(now, two);
        assert_eq!(plans.len(), 2, "round {round}");
        f.on_fetch_response(
            BrokerId(1),
            response(0, vec![data(tp(0), 100, records(round * 10, 10))]),
            now,
        );
        f.on_fetch_response(
            BrokerId(2),
            response(0, vec![data(tp(1), 0, Bytes::new())]),
            now,
        );
    }
    // Partition 0 (broker 1) is held by its buffer; partition 1 (broker 2) is idle but alone on
    // its broker: its long poll holds nobody back.
    let plans = f.fetch_plan(now, two);
    assert_eq!(partitions_of(&plans), vec![1]);
    assert_eq!(plans[0].broker, BrokerId(2));
}
