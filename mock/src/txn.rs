//! The transaction coordinator's state: per transactional id its producer id and epoch, the
//! transaction's partitions and groups, the offsets committed in it. Every function takes the
//! cluster state (the markers go into its partition logs) and the time; no I/O. Fenced producers
//! get `PRODUCER_FENCED`, which the handlers turn into `INVALID_PRODUCER_EPOCH` for request
//! versions older than KIP-588, as Kafka does.
//!
//! Both transaction versions, chosen per request as Kafka 4.x does: version 1 (KIP-98) keeps
//! the epoch across transactions; version 2 (KIP-890 part 2, EndTxn v5) bumps it on every commit
//! and abort, writes the markers at the bumped epoch (so the ended transaction's producer is
//! fenced from its partitions), and hands the new epoch back; at the last epoch the markers go
//! out at `i16::MAX` and the next transaction gets a new producer id at epoch 0.

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
    /// Whether the last transaction ended with a version 2 EndTxn (an epoch bump): a retry of
    /// it then names the epoch before the bump.
    pub bumped_on_end: bool,
    /// The producer id before a version 2 EndTxn at the last epoch handed out a new one.
    pub previous_producer_id: Option<i64>,
}

/// What an EndTxn ended: the offsets to make visible in the groups (on commit), and the
/// producer id and epoch for the next transaction.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Ended {
    pub offsets: GroupOffsets,
    pub producer: (i64, i16),
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
        complete(state, id, false, false);
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
                bumped_on_end: false,
                previous_producer_id: None,
            },
        );
    }
    let t = state.txns.get_mut(id).ok_or(code::INVALID_TXN_STATE)?;
    t.timeout = timeout;
    t.phase = Phase::Empty;
    t.bumped_on_end = false;
    t.previous_producer_id = None;
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

/// A transactional Produce v12+ (transaction version 2): the leader adds the partition to the
/// transaction itself, as Kafka's does through its coordinator; the producer must be the
/// current one (else INVALID_PRODUCER_EPOCH for an older epoch, as Produce knows fencing).
pub(crate) fn add_partition_implicitly(
    txns: &mut Txns,
    id: &str,
    producer_id: i64,
    epoch: i16,
    partition: (&str, i32),
    now: Instant,
) -> Result<(), i16> {
    let t = current(txns, id, producer_id, epoch).map_err(|e| match e {
        code::PRODUCER_FENCED => code::INVALID_PRODUCER_EPOCH,
        _ => code::INVALID_TXN_STATE,
    })?;
    ensure_ongoing(t, now);
    t.partitions.insert((partition.0.to_owned(), partition.1));
    Ok(())
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

/// TxnOffsetCommit: offsets held in the transaction until it commits. Under transaction version
/// 1 the group must have been added (AddOffsetsToTxn) first; with `add_group` (TxnOffsetCommit
/// v5, version 2) the group coordinator adds it.
pub(crate) fn commit_offsets(
    state: &mut ClusterState,
    id: &str,
    (producer_id, epoch): (i64, i16),
    group: &str,
    offsets: Vec<((String, i32), TxnOffset)>,
    add_group: Option<Instant>,
) -> Result<(), i16> {
    let t = current(&mut state.txns, id, producer_id, epoch)?;
    if let Some(now) = add_group {
        ensure_ongoing(t, now);
        t.groups.insert(group.to_owned());
    }
    if t.phase != Phase::Ongoing || !t.groups.contains(group) {
        return Err(code::INVALID_TXN_STATE);
    }
    t.offsets
        .entry(group.to_owned())
        .or_default()
        .extend(offsets);
    Ok(())
}

/// EndTxn: writes the markers; `bump` (EndTxn v5, transaction version 2) at the next epoch.
/// A retry of the completed outcome is answered again; the other outcome is INVALID_TXN_STATE.
/// After a version 2 end only a retry is legal (it names the epoch before the bump, or the
/// previous producer id at the last epoch); the current epoch is then PRODUCER_FENCED, as
/// Kafka's coordinator answers.
pub(crate) fn end(
    state: &mut ClusterState,
    id: &str,
    (producer_id, epoch): (i64, i16),
    commit: bool,
    bump: bool,
) -> Result<Ended, i16> {
    let t = state
        .txns
        .get(id)
        .ok_or(code::INVALID_PRODUCER_ID_MAPPING)?;
    let same_outcome = matches!(
        (t.phase, commit),
        (Phase::CompleteCommit, true) | (Phase::CompleteAbort, false)
    );
    let completed = matches!(t.phase, Phase::CompleteCommit | Phase::CompleteAbort);
    // The current epoch's abort after a version 2 end: a new (empty) transaction, below.
    let empty_abort = bump && !commit && (t.producer_id, t.epoch) == (producer_id, epoch);
    if t.bumped_on_end && completed && !empty_abort {
        let retry = (t.producer_id == producer_id && i32::from(epoch) + 1 == i32::from(t.epoch))
            || (t.previous_producer_id == Some(producer_id)
                && epoch == i16::MAX - 1
                && t.epoch == 0);
        return match (retry, same_outcome) {
            (true, true) => Ok(Ended {
                offsets: Vec::new(),
                producer: (t.producer_id, t.epoch),
            }),
            (true, false) => Err(code::INVALID_TXN_STATE),
            (false, _) if t.producer_id != producer_id => Err(code::INVALID_PRODUCER_ID_MAPPING),
            (false, _) => Err(code::PRODUCER_FENCED),
        };
    }
    let t = current(&mut state.txns, id, producer_id, epoch)?;
    let producer = (t.producer_id, t.epoch);
    if bump && !commit && t.phase != Phase::Ongoing {
        // A version 2 producer aborts a transaction none of whose Produce requests may have
        // reached a leader (it cannot know): the coordinator bumps the epoch, fencing any such
        // request still on its way, and completes the abort with no partition to mark.
        t.phase = Phase::Ongoing;
        t.partitions.clear();
    }
    match t.phase {
        Phase::Ongoing => {
            let offsets = complete(state, id, commit, bump);
            let t = state.txns.get(id).ok_or(code::INVALID_TXN_STATE)?;
            Ok(Ended {
                offsets,
                producer: (t.producer_id, t.epoch),
            })
        }
        _ if same_outcome => Ok(Ended {
            offsets: Vec::new(),
            producer,
        }),
        _ => Err(code::INVALID_TXN_STATE),
    }
}

/// Aborts every ongoing transaction older than its timeout at a bumped epoch, fencing the
/// producer. Kafka's coordinator records the cluster's transaction version with that abort, so
/// under version 2 the producer's late EndTxn at the old epoch reads as a retry of the abort:
/// a commit gets INVALID_TXN_STATE (KAFKA-20785), not PRODUCER_FENCED. Whether any was aborted.
pub(crate) fn expire(state: &mut ClusterState, now: Instant) -> bool {
    let version_2 = state.config.transaction_version >= 2;
    let expired: Vec<String> = state
        .txns
        .iter()
        .filter(|(_, t)| t.phase == Phase::Ongoing && now >= t.started + t.timeout)
        .map(|(id, _)| id.clone())
        .collect();
    for id in &expired {
        tracing::debug!(transactional_id = %id, "transaction timed out; aborted");
        bump(state, id);
        complete(state, id, false, false);
        if let Some(t) = state.txns.get_mut(id) {
            t.bumped_on_end = version_2;
        }
    }
    !expired.is_empty()
}

/// Ends the ongoing transaction of `id`: a marker in each of its partitions at its current
/// epoch, or with `bump` (transaction version 2) at the next one, after which a new producer id
/// at epoch 0 takes over if that was the last epoch; the committed offsets when `commit`.
fn complete(state: &mut ClusterState, id: &str, commit: bool, bump: bool) -> GroupOffsets {
    let exhausted = bump && state.txns.get(id).is_some_and(|t| t.epoch >= i16::MAX - 1);
    let fresh = exhausted.then(|| state.next_producer_id());
    let Some(t) = state.txns.get_mut(id) else {
        return Vec::new();
    };
    t.bumped_on_end = bump;
    t.previous_producer_id = None;
    if bump {
        t.epoch = t.epoch.saturating_add(1);
    }
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
    if let (Some(fresh), Some(t)) = (fresh, state.txns.get_mut(id)) {
        t.previous_producer_id = Some(t.producer_id);
        t.producer_id = fresh;
        t.epoch = 0;
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
#[path = "txn_tests.rs"]
mod tests;
