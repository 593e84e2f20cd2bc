//! The transaction coordinator's state (transaction version 1, KIP-98): per transactional id
//! its producer id and epoch, the transaction's partitions and groups, the offsets committed in
//! it. Every function takes the cluster state (the markers go into its partition logs) and the
//! time; no I/O. Fenced producers get `PRODUCER_FENCED`, which the handlers turn into
//! `INVALID_PRODUCER_EPOCH` for request versions older than KIP-588, as Kafka does.

use crate::log::code;
use crate::state::ClusterState;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::time::Instant;

/// Kafka's `transaction.max.timeout.ms` default (15 min).
const MAX_TIMEOUT_MS: i32 = 900_000;

/// An offset committed in a transaction: (offset, leader epoch, metadata).
pub(crate) type TxnOffset = (i64, i32, Option<String>);

/// Offsets by group, then (topic, partition).
pub(crate) type GroupOffsets = Vec<(String, Vec<((String, i32), TxnOffset)>)>;

/// Where a transactional id stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Empty,
    Ongoing,
    CompleteCommit,
    CompleteAbort,
}

/// One transactional id.
#[derive(Debug)]
pub(crate) struct Txn {
    pub producer_id: i64,
    pub epoch: i16,
    pub timeout: Duration,
    pub phase: Phase,
    pub started: Instant,
    pub partitions: BTreeSet<(String, i32)>,
    pub groups: BTreeSet<String>,
    pub offsets: BTreeMap<String, BTreeMap<(String, i32), TxnOffset>>,
}

/// The transactional ids the cluster knows.
pub(crate) type Txns = BTreeMap<String, Txn>;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// InitProducerId with a transactional id: a new id gets a new producer id at epoch 0; a known
/// one has its epoch bumped (fencing the previous producer) after an ongoing transaction of the
/// previous epoch is aborted. Returns (producer id, epoch) and whether markers were written.
pub(crate) fn init(
    state: &mut ClusterState,
    id: &str,
    timeout_ms: i32,
    now: Instant,
) -> Result<((i64, i16), bool), i16> {
    if timeout_ms <= 0 || timeout_ms > MAX_TIMEOUT_MS {
        return Err(code::INVALID_TRANSACTION_TIMEOUT);
    }
    let timeout = Duration::from_millis(timeout_ms as u64);
    let mut wrote = false;
    if state
        .txns
        .get(id)
        .is_some_and(|t| t.phase == Phase::Ongoing)
    {
        // The previous producer's transaction: aborted at the bumped epoch, which the new
        // producer is handed (so its batches and markers agree).
        bump(state, id);
        complete(state, id, false);
        wrote = true;
    } else if state.txns.contains_key(id) {
        bump(state, id);
    } else {
        let producer_id = state.next_producer_id();
        state.txns.insert(
            id.to_owned(),
            Txn {
                producer_id,
                epoch: 0,
                timeout,
                phase: Phase::Empty,
                started: now,
                partitions: BTreeSet::new(),
                groups: BTreeSet::new(),
                offsets: BTreeMap::new(),
            },
        );
    }
    let t = state.txns.get_mut(id).ok_or(code::INVALID_TXN_STATE)?;
    t.timeout = timeout;
    t.phase = Phase::Empty;
    Ok(((t.producer_id, t.epoch), wrote))
}

/// The next epoch of `id`; at the last epoch a new producer id starts at 0, as Kafka does.
fn bump(state: &mut ClusterState, id: &str) {
    let exhausted = state.txns.get(id).is_some_and(|t| t.epoch >= i16::MAX - 1);
    let fresh = exhausted.then(|| state.next_producer_id());
    if let Some(t) = state.txns.get_mut(id) {
        match fresh {
            Some(pid) => {
                t.producer_id = pid;
                t.epoch = 0;
            }
            None => t.epoch += 1,
        }
    }
}

/// The transaction of `id` as `producer_id` at `epoch` sees it: PRODUCER_FENCED for an older
/// epoch, INVALID_PRODUCER_ID_MAPPING for another producer id or an unknown id.
pub(crate) fn current<'a>(
    txns: &'a mut Txns,
    id: &str,
    producer_id: i64,
    epoch: i16,
) -> Result<&'a mut Txn, i16> {
    let t = txns.get_mut(id).ok_or(code::INVALID_PRODUCER_ID_MAPPING)?;
    if t.producer_id != producer_id {
        return Err(code::INVALID_PRODUCER_ID_MAPPING);
    }
    if t.epoch != epoch {
        return Err(code::PRODUCER_FENCED);
    }
    Ok(t)
}

/// Starts the transaction if none is ongoing; a completed one cannot be added to.
fn ensure_ongoing(t: &mut Txn, now: Instant) {
    if t.phase != Phase::Ongoing {
        t.phase = Phase::Ongoing;
        t.started = now;
        t.partitions.clear();
        t.groups.clear();
        t.offsets.clear();
    }
}

/// AddPartitionsToTxn: every partition must exist (else the request adds none:
/// UNKNOWN_TOPIC_OR_PARTITION for the missing ones, OPERATION_NOT_ATTEMPTED for the others).
pub(crate) fn add_partitions(
    state: &mut ClusterState,
    id: &str,
    producer_id: i64,
    epoch: i16,
    partitions: &[(String, i32)],
    now: Instant,
) -> Result<Vec<i16>, i16> {
    let exists: Vec<bool> = partitions
        .iter()
        .map(|(t, p)| state.partition_mut(t, *p).is_ok())
        .collect();
    let t = current(&mut state.txns, id, producer_id, epoch)?;
    if exists.iter().any(|e| !e) {
        return Ok(exists
            .iter()
            .map(|e| {
                if *e {
                    OPERATION_NOT_ATTEMPTED
                } else {
                    code::UNKNOWN_TOPIC_OR_PARTITION
                }
            })
            .collect());
    }
    ensure_ongoing(t, now);
    t.partitions.extend(partitions.iter().cloned());
    Ok(vec![code::NONE; partitions.len()])
}

/// Kafka's OPERATION_NOT_ATTEMPTED.
const OPERATION_NOT_ATTEMPTED: i16 = 55;

/// AddOffsetsToTxn: the group joins the transaction.
pub(crate) fn add_offsets(
    state: &mut ClusterState,
    id: &str,
    producer_id: i64,
    epoch: i16,
    group: &str,
    now: Instant,
) -> Result<(), i16> {
    let t = current(&mut state.txns, id, producer_id, epoch)?;
    ensure_ongoing(t, now);
    t.groups.insert(group.to_owned());
    Ok(())
}

/// TxnOffsetCommit: offsets held in the transaction until it commits. The group must have been
/// added (AddOffsetsToTxn) first.
pub(crate) fn commit_offsets(
    state: &mut ClusterState,
    id: &str,
    producer_id: i64,
    epoch: i16,
    group: &str,
    offsets: Vec<((String, i32), TxnOffset)>,
) -> Result<(), i16> {
    let t = current(&mut state.txns, id, producer_id, epoch)?;
    if t.phase != Phase::Ongoing || !t.groups.contains(group) {
        return Err(code::INVALID_TXN_STATE);
    }
    t.offsets
        .entry(group.to_owned())
        .or_default()
        .extend(offsets);
    Ok(())
}

/// EndTxn: writes the markers; on commit returns the offsets to make visible in the groups.
/// A retry of the completed outcome is answered again; the other outcome is INVALID_TXN_STATE.
pub(crate) fn end(
    state: &mut ClusterState,
    id: &str,
    producer_id: i64,
    epoch: i16,
    commit: bool,
) -> Result<GroupOffsets, i16> {
    let phase = current(&mut state.txns, id, producer_id, epoch)?.phase;
    match (phase, commit) {
        (Phase::Ongoing, _) => Ok(complete(state, id, commit)),
        (Phase::CompleteCommit, true) | (Phase::CompleteAbort, false) => Ok(Vec::new()),
        _ => Err(code::INVALID_TXN_STATE),
    }
}

/// Aborts every ongoing transaction older than its timeout at a bumped epoch (the producer is
/// fenced, as Kafka's coordinator does under transaction version 1). Whether any was aborted.
pub(crate) fn expire(state: &mut ClusterState, now: Instant) -> bool {
    let expired: Vec<String> = state
        .txns
        .iter()
        .filter(|(_, t)| t.phase == Phase::Ongoing && now >= t.started + t.timeout)
        .map(|(id, _)| id.clone())
        .collect();
    for id in &expired {
        tracing::debug!(transactional_id = %id, "transaction timed out; aborted");
        bump(state, id);
        complete(state, id, false);
    }
    !expired.is_empty()
}

/// Ends the ongoing transaction of `id`: a marker in each of its partitions at its current
/// epoch; the committed offsets when `commit`.
fn complete(state: &mut ClusterState, id: &str, commit: bool) -> GroupOffsets {
    let Some(t) = state.txns.get_mut(id) else {
        return Vec::new();
    };
    t.phase = if commit {
        Phase::CompleteCommit
    } else {
        Phase::CompleteAbort
    };
    let (pid, epoch) = (t.producer_id, t.epoch);
    let partitions = std::mem::take(&mut t.partitions);
    let offsets = std::mem::take(&mut t.offsets);
    t.groups.clear();
    let now = now_ms();
    for (topic, p) in &partitions {
        if let Ok(part) = state.partition_mut(topic, *p) {
            let leader_epoch = part.leader_epoch;
            part.log
                .write_marker(pid, epoch, commit, 0, leader_epoch, now);
        }
    }
    if !commit {
        return Vec::new();
    }
    offsets
        .into_iter()
        .map(|(g, o)| (g, o.into_iter().collect()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Broker, ClusterState};

    fn state() -> ClusterState {
        let broker = Broker {
            id: 1,
            addr: "127.0.0.1:9092".parse().expect("addr"),
        };
        let mut s = ClusterState::new(crate::MockConfig::default(), vec![broker]);
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
            end(&mut s, "x", pid, epoch, true).err(),
            Some(code::INVALID_TXN_STATE)
        );
        let offset = ((tp(0)), (1, -1, None));
        assert_eq!(
            commit_offsets(&mut s, "x", pid, epoch, "g", vec![offset.clone()]).err(),
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
        commit_offsets(&mut s, "x", pid, epoch, "g", vec![offset]).expect("offsets");
        let committed = end(&mut s, "x", pid, epoch, true).expect("commit");
        assert_eq!(committed.len(), 1, "the group's offsets on commit");
        for p in 0..2 {
            let log = &s.partition_mut("t", p).expect("partition").log;
            assert_eq!(log.log_end(), 1, "one COMMIT marker");
        }
        // A retry of the commit is answered again; an abort now is out of order.
        assert_eq!(end(&mut s, "x", pid, epoch, true), Ok(Vec::new()));
        assert_eq!(
            end(&mut s, "x", pid, epoch, false).err(),
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
        let mut s = state();
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
            end(&mut s, "x", pid, epoch, true).err(),
            Some(code::PRODUCER_FENCED)
        );
        assert!(!expire(&mut s, now + Duration::from_secs(10)), "once");
    }
}
