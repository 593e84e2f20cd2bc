//! Unit tests of `fault`: scoping, counts, drops, the log bound, up/down and RTT slots.

use super::*;

#[test]
fn scoping_counts_and_the_log_bound() {
    let f = Faults::new(2);
    f.inject(Fault::errors(ApiKey::Produce, 2, 6).on_partition("t", 1));
    f.inject(Fault::errors(ApiKey::Heartbeat, 1, 27).on_broker(2));
    assert!(f.take(0, 1, &[("t", 0)]).is_none(), "another partition");
    assert!(f.take(0, 1, &[("u", 1)]).is_none(), "another topic");
    assert!(f.take(1, 1, &[("t", 1)]).is_none(), "another API");
    let hit = f.take(0, 1, &[("t", 0), ("t", 1)]).expect("matches");
    assert!(hit.covers("t", 1) && !hit.covers("t", 0));
    assert_eq!(f.pending()[0].remaining(), 1);
    assert!(f.take(0, 2, &[("t", 1)]).is_some());
    assert!(f.take(0, 2, &[("t", 1)]).is_none(), "used up");
    assert!(f.take(12, 1, &[]).is_none(), "another broker");
    assert_eq!(f.take(12, 2, &[]).map(|h| h.code), Some(27));
    assert!(f.pending().is_empty());
    assert_eq!(ApiKey::from(22), ApiKey::InitProducerId);
    assert_eq!(ApiKey::from(60), ApiKey::Other(60));
    assert_eq!(i16::from(ApiKey::SyncGroup), 14);

    for i in 0..REQUEST_LOG_CAPACITY as i32 + 5 {
        f.record(RequestRecord {
            broker: 1,
            api: ApiKey::Fetch,
            version: 12,
            client_id: String::new(),
            correlation_id: i,
        });
    }
    let log = f.requests();
    assert_eq!(log.len(), REQUEST_LOG_CAPACITY);
    assert_eq!(log[0].correlation_id, 5, "the oldest dropped");
    f.clear_requests();
    assert!(f.requests().is_empty());
    assert!(f.is_up(1) && f.set_up(1, false) && !f.is_up(1));
    assert!(!f.set_up(3, false), "no broker 3");
}

#[test]
fn drop_rules_are_separate_from_error_rules_and_rtt_slots() {
    let f = Faults::new(2);
    f.inject(Fault::errors(ApiKey::Produce, 1, 6));
    f.inject(Fault::drop_after(ApiKey::Produce, 1).on_partition("t", 1));
    f.inject(Fault::drop_before(ApiKey::OffsetCommit, 2).on_broker(2));
    assert!(f.drops_pending(0) && f.drops_pending(8) && !f.drops_pending(1));
    assert_eq!(f.take_drop(0, 1, &[("t", 0)]), None, "another partition");
    assert_eq!(f.take_drop(0, 1, &[("t", 1)]), Some(true), "after");
    assert!(!f.drops_pending(0), "used up");
    assert_eq!(f.take(0, 1, &[("t", 1)]).map(|h| h.code), Some(6));
    assert_eq!(f.take_drop(8, 1, &[]), None, "another broker");
    assert_eq!(f.take_drop(8, 2, &[]), Some(false), "before");
    assert!(f.take(8, 2, &[]).is_none(), "a drop rule is no error rule");
    assert_eq!(f.pending()[0].remaining(), 1);

    assert_eq!(f.rtt(1), Duration::ZERO);
    assert!(f.set_rtt(2, Duration::from_millis(5)));
    assert_eq!(
        (f.rtt(1), f.rtt(2)),
        (Duration::ZERO, Duration::from_millis(5))
    );
    assert!(!f.set_rtt(3, Duration::from_millis(5)) && f.rtt(3).is_zero());
}
