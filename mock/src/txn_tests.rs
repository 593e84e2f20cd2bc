//! Unit tests of the transaction coordinator's state (`txn.rs`).

use super::*;
use crate::state::{Broker, ClusterState};

fn state() -> ClusterState {
    state_at(2)
}

/// A cluster state with `transaction.version` finalized at `level`.
fn state_at(level: i16) -> ClusterState {
    let broker = Broker {
        id: 1,
        addr: "127.0.0.1:9092".parse().expect("addr"),
    };
    let config = crate::MockConfig::default().transaction_version(level);
    let mut s = ClusterState::new(config, vec![broker]);
    s.create_topic("t", 2, 1, BTreeMap::new()).expect("topic");
    s
}

fn tp(p: i32) -> (String, i32) {
    ("t".to_owned(), p)
}

#[test]
fn calls_out_of_order_and_stale_producers_are_refused() {
    let mut s = state();
    let now = Instant::now();
    assert_eq!(
        init(&mut s, "x", 0, now).err(),
        Some(code::INVALID_TRANSACTION_TIMEOUT)
    );
    let ((pid, epoch), wrote) = init(&mut s, "x", 60_000, now).expect("init");
    assert!(!wrote);
    // Nothing begun: no outcome to end, no group to commit offsets for.
    assert_eq!(
        end(&mut s, "x", (pid, epoch), true, false).err(),
        Some(code::INVALID_TXN_STATE)
    );
    let offset = ((tp(0)), (1, -1, None));
    assert_eq!(
        commit_offsets(&mut s, "x", (pid, epoch), "g", vec![offset.clone()], None).err(),
        Some(code::INVALID_TXN_STATE)
    );
    assert_eq!(
        add_partitions(&mut s, "x", pid + 1, epoch, &[tp(0)], now).err(),
        Some(code::INVALID_PRODUCER_ID_MAPPING)
    );
    assert_eq!(
        add_partitions(&mut s, "x", pid, epoch, &[tp(0), ("nope".into(), 0)], now),
        Ok(vec![
            OPERATION_NOT_ATTEMPTED,
            code::UNKNOWN_TOPIC_OR_PARTITION
        ])
    );
    assert_eq!(
        add_partitions(&mut s, "x", pid, epoch, &[tp(0), tp(1)], now),
        Ok(vec![code::NONE, code::NONE])
    );
    add_offsets(&mut s, "x", pid, epoch, "g", now).expect("add offsets");
    commit_offsets(&mut s, "x", (pid, epoch), "g", vec![offset], None).expect("offsets");
    let committed = end(&mut s, "x", (pid, epoch), true, false).expect("commit");
    assert_eq!(committed.offsets.len(), 1, "the group's offsets on commit");
    for p in 0..2 {
        let log = &s.partition_mut("t", p).expect("partition").log;
        assert_eq!(log.log_end(), 1, "one COMMIT marker");
    }
    // A retry of the commit is answered again; an abort now is out of order.
    let again = Ended {
        offsets: Vec::new(),
        producer: (pid, epoch),
    };
    assert_eq!(end(&mut s, "x", (pid, epoch), true, false), Ok(again));
    assert_eq!(
        end(&mut s, "x", (pid, epoch), false, false).err(),
        Some(code::INVALID_TXN_STATE)
    );
    // A new producer for the id: same producer id, next epoch; the old one is fenced.
    let ((pid2, epoch2), _) = init(&mut s, "x", 60_000, now).expect("init again");
    assert_eq!((pid2, epoch2), (pid, epoch + 1));
    assert_eq!(
        add_offsets(&mut s, "x", pid, epoch, "g", now).err(),
        Some(code::PRODUCER_FENCED)
    );
}

#[test]
fn a_transaction_past_its_timeout_is_aborted_at_a_bumped_epoch() {
    // The late commit: fenced under version 1; a retry of the abort under version 2.
    for (level, late_commit) in [(1, code::PRODUCER_FENCED), (2, code::INVALID_TXN_STATE)] {
        let mut s = state_at(level);
        let now = Instant::now();
        let ((pid, epoch), _) = init(&mut s, "x", 1_000, now).expect("init");
        add_partitions(&mut s, "x", pid, epoch, &[tp(0)], now).expect("add");
        assert!(!expire(&mut s, now + Duration::from_millis(999)));
        assert!(expire(&mut s, now + Duration::from_millis(1_000)));
        assert_eq!(
            s.partition_mut("t", 0).expect("p").log.log_end(),
            1,
            "ABORT marker"
        );
        assert_eq!(
            end(&mut s, "x", (pid, epoch), true, level == 2).err(),
            Some(late_commit),
            "level {level}"
        );
        assert!(!expire(&mut s, now + Duration::from_secs(10)), "once");
    }
}

/// The markers of `t`-`p`: (producer id, epoch) of each control batch, in offset order.
fn markers(s: &mut ClusterState, p: i32) -> Vec<(i64, i16)> {
    let log = &s.partition_mut("t", p).expect("partition").log;
    let mut out = Vec::new();
    for chunk in log.read(0, 1 << 20).unwrap_or_default() {
        for (h, _) in crate::log::split_batches(&chunk).expect("framing") {
            if h.attributes & 0x20 != 0 {
                out.push((h.producer_id, h.producer_epoch));
            }
        }
    }
    out
}

#[test]
fn version_2_bumps_the_epoch_on_every_end_and_answers_only_the_retry_after() {
    let mut s = state();
    let now = Instant::now();
    let ((pid, e0), _) = init(&mut s, "x", 60_000, now).expect("init");
    // Produce v12 adds the partition; TxnOffsetCommit v5 adds the group.
    add_partition_implicitly(&mut s.txns, "x", pid, e0, ("t", 0), now).expect("implicit add");
    let offset = (tp(1), (7, -1, None));
    commit_offsets(&mut s, "x", (pid, e0), "g", vec![offset], Some(now)).expect("v5 offsets");
    let ended = end(&mut s, "x", (pid, e0), true, true).expect("commit v5");
    assert_eq!(ended.producer, (pid, e0 + 1));
    assert_eq!(ended.offsets.len(), 1);
    assert_eq!(
        markers(&mut s, 0),
        vec![(pid, e0 + 1)],
        "marker at the bumped epoch"
    );
    // The retry names the old epoch and gets the same answer; the other outcome is refused.
    let retry = end(&mut s, "x", (pid, e0), true, true).expect("retry");
    assert_eq!(retry.producer, (pid, e0 + 1));
    assert_eq!(
        end(&mut s, "x", (pid, e0), false, true).err(),
        Some(code::INVALID_TXN_STATE)
    );
    // The new epoch with nothing begun is not a retry: Kafka answers PRODUCER_FENCED.
    assert_eq!(
        end(&mut s, "x", (pid, e0 + 1), true, true).err(),
        Some(code::PRODUCER_FENCED)
    );
    // The old epoch cannot add a partition; the new one can, and an abort bumps again.
    assert_eq!(
        add_partition_implicitly(&mut s.txns, "x", pid, e0, ("t", 0), now).err(),
        Some(code::INVALID_PRODUCER_EPOCH)
    );
    add_partition_implicitly(&mut s.txns, "x", pid, e0 + 1, ("t", 0), now).expect("add");
    let ended = end(&mut s, "x", (pid, e0 + 1), false, true).expect("abort v5");
    assert_eq!(ended.producer, (pid, e0 + 2));
    assert_eq!(markers(&mut s, 0), vec![(pid, e0 + 1), (pid, e0 + 2)]);
    // An abort of a transaction whose records never reached a leader: bumped, no marker.
    let ended = end(&mut s, "x", (pid, e0 + 2), false, true).expect("empty abort");
    assert_eq!(ended.producer, (pid, e0 + 3));
    assert_eq!(markers(&mut s, 0).len(), 2);
}

#[test]
fn version_2_at_the_last_epoch_hands_out_a_new_producer_id() {
    let mut s = state();
    let now = Instant::now();
    let ((pid, _), _) = init(&mut s, "x", 60_000, now).expect("init");
    let last = i16::MAX - 1;
    if let Some(t) = s.txns.get_mut("x") {
        t.epoch = last;
    }
    add_partition_implicitly(&mut s.txns, "x", pid, last, ("t", 0), now).expect("add");
    let ended = end(&mut s, "x", (pid, last), true, true).expect("commit");
    let (fresh, epoch) = ended.producer;
    assert_ne!(fresh, pid);
    assert_eq!(epoch, 0);
    // The marker closes the old producer id's transaction at the very last epoch.
    assert_eq!(markers(&mut s, 0), vec![(pid, i16::MAX)]);
    // A retry under the old producer id is still answered with the new one.
    let retry = end(&mut s, "x", (pid, last), true, true).expect("retry on overflow");
    assert_eq!(retry.producer, (fresh, 0));
    add_partition_implicitly(&mut s.txns, "x", fresh, 0, ("t", 0), now).expect("new id");
}
