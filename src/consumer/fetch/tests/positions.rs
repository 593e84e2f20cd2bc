//! Positions, seeks, pause, committed offsets and offset resets.

use std::time::{Duration, Instant};

use super::*;

#[test]
fn position_advances_only_for_records_handed_out() {
    let now = Instant::now();
    let mut f = fetcher_at(&[0], 0);
    let plans = f.fetch_plan(now, leader);
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].partitions[0].fetch_offset, Offset(0));
    assert_eq!(plans[0].partitions[0].current_leader_epoch, LeaderEpoch(5));
    f.on_fetch_response(
        BrokerId(1),
        response(0, vec![data(tp(0), 10, records(0, 10))]),
        now,
    );
    assert_eq!(pos(&f, 0), 0, "a response alone moves nothing");

    let p = f.poll(3, now);
    assert_eq!(offsets(&p), vec![0, 1, 2]);
    assert_eq!(pos(&f, 0), 3);
    assert_eq!(
        f.position(&tp(0)).and_then(|p| p.leader_epoch),
        Some(LeaderEpoch(5))
    );
    assert_eq!(p.records[1].value.as_deref(), Some(&b"v1"[..]));
    assert_eq!(&*p.records[1].topic, "orders");
    // Fetched ahead from the end of the buffered records, the position staying at 3.
    let plans = f.fetch_plan(now, leader);
    assert_eq!(plans[0].partitions[0].fetch_offset, Offset(10));
    assert_eq!(pos(&f, 0), 3, "fetching ahead moves no position");
    f.on_fetch_response(
        BrokerId(1),
        response(0, vec![data(tp(0), 20, records(10, 10))]),
        now,
    );
    assert!(
        f.fetch_plan(now, leader).is_empty(),
        "two buffered fetches block a third"
    );

    let p = f.poll(100, now);
    assert_eq!(offsets(&p), (3..20).collect::<Vec<_>>());
    assert_eq!(pos(&f, 0), 20);
    assert_eq!(f.buffered_bytes(), 0);
    let plans = f.fetch_plan(now, leader);
    assert_eq!(plans[0].partitions[0].fetch_offset, Offset(20));
}

#[test]
fn a_seek_discards_what_was_fetched_ahead() {
    let now = Instant::now();
    let mut f = fetcher_at(&[0], 0);
    f.fetch_plan(now, leader);
    f.on_fetch_response(
        BrokerId(1),
        response(0, vec![data(tp(0), 20, records(0, 10))]),
        now,
    );
    f.fetch_plan(now, leader); // ahead, from 10
    f.on_fetch_response(
        BrokerId(1),
        response(0, vec![data(tp(0), 20, records(10, 10))]),
        now,
    );
    assert_eq!(offsets(&f.poll(4, now)), vec![0, 1, 2, 3]);
    f.seek(&tp(0), Offset(2)).expect("assigned");
    assert_eq!(f.buffered_bytes(), 0);
    let plans = f.fetch_plan(now, leader);
    assert_eq!(plans[0].partitions[0].fetch_offset, Offset(2));
    // A fetch-ahead response still in flight when the seek happened is stale.
    f.on_fetch_response(
        BrokerId(1),
        response(0, vec![data(tp(0), 20, records(0, 10))]),
        now,
    );
    assert_eq!(offsets(&f.poll(100, now)), (2..10).collect::<Vec<_>>());
}

#[test]
fn records_below_the_position_are_skipped() {
    let now = Instant::now();
    let mut f = fetcher_at(&[0], 5);
    f.fetch_plan(now, leader);
    f.on_fetch_response(
        BrokerId(1),
        response(0, vec![data(tp(0), 10, records(0, 10))]),
        now,
    );
    assert_eq!(offsets(&f.poll(100, now)), vec![5, 6, 7, 8, 9]);
    assert_eq!(pos(&f, 0), 10);
}

#[test]
fn seek_during_an_in_flight_fetch_discards_the_stale_response() {
    let now = Instant::now();
    let mut f = fetcher_at(&[0], 0);
    f.fetch_plan(now, leader);
    f.seek(&tp(0), Offset(100)).expect("assigned");
    f.on_fetch_response(
        BrokerId(1),
        response(0, vec![data(tp(0), 200, records(0, 10))]),
        now,
    );
    assert!(f.poll(100, now).records.is_empty());
    assert_eq!(pos(&f, 0), 100);
    let plans = f.fetch_plan(now, leader);
    assert_eq!(plans[0].partitions[0].fetch_offset, Offset(100));

    // A seek also drops records already buffered.
    f.on_fetch_response(
        BrokerId(1),
        response(0, vec![data(tp(0), 200, records(100, 5))]),
        now,
    );
    assert_eq!(f.buffered_bytes(), records(100, 5).len());
    f.seek(&tp(0), Offset(3)).expect("assigned");
    assert_eq!(f.buffered_bytes(), 0);
    assert!(f.poll(100, now).records.is_empty());
    assert_eq!(pos(&f, 0), 3);
}

#[test]
fn responses_for_unassigned_partitions_are_ignored() {
    let now = Instant::now();
    let mut f = fetcher_at(&[0, 1], 0);
    f.fetch_plan(now, leader);
    assert!(
        f.fetch_plan(now, leader).is_empty(),
        "one fetch in flight per broker"
    );
    f.assign([tp(1)]);
    f.on_fetch_response(
        BrokerId(1),
        response(
            0,
            vec![data(tp(0), 9, records(0, 3)), data(tp(1), 9, records(0, 2))],
        ),
        now,
    );
    let p = f.poll(100, now);
    assert!(p.records.iter().all(|r| r.partition == 1));
    assert_eq!(offsets(&p), vec![0, 1]);
    assert_eq!(f.state(&tp(0)).map(|_| ()), None);
}

#[test]
fn pause_stops_planning_and_delivery_but_keeps_the_position() {
    let now = Instant::now();
    let mut f = fetcher_at(&[0, 1], 0);
    f.fetch_plan(now, leader);
    f.on_fetch_response(
        BrokerId(1),
        response(
            0,
            vec![data(tp(0), 4, records(0, 4)), data(tp(1), 4, records(0, 4))],
        ),
        now,
    );
    f.pause(&[tp(0)]);
    let p = f.poll(100, now);
    assert!(p.records.iter().all(|r| r.partition == 1));
    assert_eq!(pos(&f, 0), 0);
    let plans = f.fetch_plan(now, leader);
    assert_eq!(
        plans[0]
            .partitions
            .iter()
            .map(|p| p.tp.partition)
            .collect::<Vec<_>>(),
        vec![1]
    );
    assert!(f.state(&tp(0)).is_some_and(PartitionFetchState::is_paused));
    f.resume(&[tp(0)]);
    assert_eq!(offsets(&f.poll(100, now)), vec![0, 1, 2, 3]);
    assert_eq!(pos(&f, 0), 4);
}

#[test]
fn seek_to_committed_redelivers_from_the_coordinators_offset() {
    let now = Instant::now();
    let mut f = Fetcher::new(FetchConfig::default()); // with a group
    f.assign([tp(0)]);
    assert!(matches!(
        f.state(&tp(0)).map(|s| s.status()),
        Some(FetchStatus::AwaitingCommitted)
    ));
    assert!(f.fetch_plan(now, leader).is_empty());
    assert_eq!(f.offset_fetch_plan(now), vec![tp(0)]);
    assert!(f.offset_fetch_plan(now).is_empty(), "already in flight");
    f.on_committed(&tp(0), Some(CommittedOffset::new(Offset(42))));
    assert_eq!(pos(&f, 0), 42);

    f.fetch_plan(now, leader);
    f.on_fetch_response(
        BrokerId(1),
        response(0, vec![data(tp(0), 50, records(42, 8))]),
        now,
    );
    let p = f.poll(1, now);
    assert_eq!(offsets(&p), vec![42]);
    // Processing 42 fails; the app polls again and would get 43 ...
    assert_eq!(offsets(&f.poll(1, now)), vec![43]);
    assert_eq!(f.committed(&tp(0)).map(|c| c.offset), Some(Offset(42)));
    // ... so it seeks back to the committed offset and gets 42 again.
    f.seek_to_committed(&[tp(0)]).expect("assigned");
    assert_eq!(pos(&f, 0), 42);
    assert!(
        f.poll(10, now).records.is_empty(),
        "buffered records from 44 were dropped"
    );
    f.fetch_plan(now, leader);
    f.on_fetch_response(
        BrokerId(1),
        response(0, vec![data(tp(0), 50, records(42, 8))]),
        now,
    );
    assert_eq!(offsets(&f.poll(1, now)), vec![42]);

    // A successful commit changes committed, never the position.
    f.on_committed(&tp(0), Some(CommittedOffset::new(Offset(43))));
    assert_eq!(pos(&f, 0), 43);
    assert_eq!(f.committed(&tp(0)).map(|c| c.offset), Some(Offset(43)));
    f.on_committed(&tp(0), Some(CommittedOffset::new(Offset(40))));
    assert_eq!(pos(&f, 0), 43);
}

#[test]
fn seek_to_committed_when_unknown_or_none() {
    let now = Instant::now();
    let mut f = fetcher_at(&[0], 7);
    f.seek_to_committed(&[tp(0)]).expect("assigned");
    assert!(matches!(
        f.state(&tp(0)).map(|s| s.status()),
        Some(FetchStatus::AwaitingCommitted)
    ));
    assert_eq!(f.offset_fetch_plan(now), vec![tp(0)]);
    f.on_committed(&tp(0), None); // the group has no offset: auto.offset.reset (latest)
    assert!(matches!(
        f.state(&tp(0)).map(|s| s.status()),
        Some(FetchStatus::AwaitingReset(OffsetSpec::Latest))
    ));
    assert!(f
        .state(&tp(0))
        .is_some_and(PartitionFetchState::committed_known));
    assert!(f.seek_to_committed(&[tp(9)]).is_err(), "not assigned");
}

#[test]
fn offset_out_of_range_resets_by_policy() {
    let now = Instant::now();
    for (policy, spec) in [
        (OffsetResetPolicy::Earliest, OffsetSpec::Earliest),
        (OffsetResetPolicy::Latest, OffsetSpec::Latest),
    ] {
        let mut f = Fetcher::new(FetchConfig {
            auto_offset_reset: policy,
            ..config()
        });
        f.assign([tp(0)]);
        f.seek(&tp(0), Offset(500)).expect("assigned");
        f.fetch_plan(now, leader);
        let oor = FetchResponsePartition::error(tp(0), 1);
        f.on_fetch_response(BrokerId(1), response(0, vec![oor]), now);
        let plans = f.list_offsets_plan(now, leader);
        assert_eq!(plans.len(), 1);
        let lp = &plans[0].partitions[0];
        assert_eq!(lp.spec, spec);
        assert!(f.list_offsets_plan(now, leader).is_empty(), "in flight");
        let result = ListOffsetsResult {
            offset: Offset(17),
            leader_epoch: Some(LeaderEpoch(5)),
        };
        f.on_list_offsets(&tp(0), lp.token, Ok(result), now);
        assert_eq!(pos(&f, 0), 17);
    }
}

#[test]
fn offset_out_of_range_with_policy_none_fails_the_partition_by_name() {
    let now = Instant::now();
    let mut f = Fetcher::new(FetchConfig {
        auto_offset_reset: OffsetResetPolicy::None,
        ..config()
    });
    f.assign([tp(0), tp(1)]);
    let p = f.poll(10, now);
    assert_eq!(p.errors.len(), 2, "no committed offset and policy none");
    assert!(p.errors[0].error.to_string().contains("orders-0"));
    f.seek(&tp(0), Offset(500)).expect("assigned");
    f.seek(&tp(1), Offset(0)).expect("assigned");
    f.fetch_plan(now, leader);
    let oor = FetchResponsePartition::error(tp(0), 1);
    f.on_fetch_response(
        BrokerId(1),
        response(0, vec![oor, data(tp(1), 3, records(0, 3))]),
        now,
    );
    let p = f.poll(10, now);
    assert_eq!(offsets(&p), vec![0, 1, 2], "the other partition continues");
    assert_eq!(p.errors.len(), 1);
    let e = &p.errors[0].error;
    assert_eq!(e.partition(), Some(0));
    assert_eq!(e.topic(), Some("orders"));
    assert!(e.to_string().contains("500"));
    assert!(matches!(
        f.state(&tp(0)).map(|s| s.status()),
        Some(FetchStatus::Failed(_))
    ));
    assert!(f.list_offsets_plan(now, leader).is_empty());
    f.seek(&tp(0), Offset(0)).expect("a seek recovers");
    assert_eq!(pos(&f, 0), 0);
}

#[test]
fn list_offsets_answers_after_a_reposition_are_ignored() {
    let now = Instant::now();
    let mut f = fetcher_at(&[0], 0);
    f.seek_to_timestamp(&tp(0), 1_234).expect("assigned");
    let plans = f.list_offsets_plan(now, leader);
    let token = plans[0].partitions[0].token;
    assert_eq!(plans[0].partitions[0].spec, OffsetSpec::Timestamp(1_234));
    f.seek_to_beginning(&[tp(0)]).expect("assigned");
    let ok = |o| {
        Ok(ListOffsetsResult {
            offset: Offset(o),
            leader_epoch: None,
        })
    };
    f.on_list_offsets(&tp(0), token, ok(99), now);
    assert_eq!(f.position(&tp(0)), None, "stale answer ignored");
    let plans = f.list_offsets_plan(now, leader);
    let lp = &plans[0].partitions[0];
    assert_eq!(lp.spec, OffsetSpec::Earliest);
    f.on_list_offsets(&tp(0), lp.token, ok(3), now);
    assert_eq!(pos(&f, 0), 3);

    // A timestamp past the last record answers -1: go to the end.
    f.seek_to_timestamp(&tp(0), 9_999).expect("assigned");
    let token = f.list_offsets_plan(now, leader)[0].partitions[0].token;
    f.on_list_offsets(&tp(0), token, ok(-1), now);
    assert!(matches!(
        f.state(&tp(0)).map(|s| s.status()),
        Some(FetchStatus::AwaitingReset(OffsetSpec::Latest))
    ));
    // A retriable error retries after a backoff.
    let token = f.list_offsets_plan(now, leader)[0].partitions[0].token;
    f.on_list_offsets(&tp(0), token, Err(crate::Error::from_broker_code(6)), now);
    assert!(matches!(
        f.poll_event(),
        Some(FetchEvent::RefreshMetadata { .. })
    ));
    assert!(f.list_offsets_plan(now, leader).is_empty());
    assert_eq!(
        f.list_offsets_plan(now + Duration::from_secs(5), leader)
            .len(),
        1
    );
}
