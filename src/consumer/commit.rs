//! Offset commits: which offsets (positions of records already handed out, never beyond them)
//! and under which group identity (the current generation, or the one being revoked).

use super::client::{Core, Inner};
use super::coordinator::{is_group_error, CommitIdentity, OffsetToCommit};
use super::fetch::CommittedOffset;
use crate::error::code::REBALANCE_IN_PROGRESS;
use crate::types::TopicPartition;
use crate::{Error, ErrorKind, Result};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Commits the position of each assigned partition (only those in `only`, if given) that has one
/// and whose committed offset differs: the offsets of records already handed to the application.
pub(super) async fn commit_positions(
    inner: &Arc<Inner>,
    only: Option<&[TopicPartition]>,
) -> Result<()> {
    let offsets: BTreeMap<TopicPartition, OffsetToCommit> = {
        let core = inner.lock();
        core.fetcher
            .assignment()
            .filter(|tp| only.is_none_or(|o| o.contains(tp)))
            .filter_map(|tp| {
                let p = core.fetcher.position(tp)?;
                if core
                    .fetcher
                    .committed(tp)
                    .is_some_and(|c| c.offset == p.offset)
                {
                    return None;
                }
                Some((
                    tp.clone(),
                    OffsetToCommit {
                        offset: p.offset,
                        leader_epoch: p.leader_epoch,
                        metadata: None,
                    },
                ))
            })
            .collect()
    };
    commit_offsets(inner, offsets).await
}

/// The identity a commit carries: none outside group management; the stable generation; or,
/// while a revocation is being handled (the rebalance listener runs), the generation the revoked
/// partitions were assigned in — the coordinator accepts it until the next generation forms,
/// which is what lets the listener commit on revoke. Any other commit while the member
/// rebalances fails here with the retriable `REBALANCE_IN_PROGRESS` instead of going out under a
/// generation the coordinator may already have replaced (Java's consumer does the same).
fn commit_identity(core: &Core) -> Result<CommitIdentity> {
    let Some(m) = core.group.as_ref() else {
        return Ok(CommitIdentity::default());
    };
    let usable = m.generation().is_some() || core.revoke_pending;
    match m.commit_generation().filter(|_| usable) {
        Some((generation, member_id)) => Ok(CommitIdentity {
            generation,
            member_id: member_id.to_owned(),
            group_instance_id: m.group_instance_id().map(str::to_owned),
        }),
        None => Err(Error::from_broker_code(REBALANCE_IN_PROGRESS)
            .with_api("OffsetCommit")
            .with_detail("the member is (re)joining its group; commit again after the next poll")),
    }
}

/// Commits `offsets` and records them as the committed offsets.
pub(super) async fn commit_offsets(
    inner: &Arc<Inner>,
    offsets: BTreeMap<TopicPartition, OffsetToCommit>,
) -> Result<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    let coordinator = inner.coordinator.as_ref().ok_or_else(|| {
        Error::new(ErrorKind::InvalidArgument).with_detail("committing offsets needs a group.id")
    })?;
    let identity = commit_identity(&inner.lock())?;
    let started = Instant::now();
    let result = coordinator.commit(&offsets, &identity).await;
    inner
        .metrics
        .commit_latency_ms
        .record(started.elapsed().as_secs_f64() * 1000.0);
    if let Err(e) = &result {
        if is_group_error(e.broker_code()) {
            report_group_error(inner, &identity, e);
        }
    }
    result?;
    let mut core = inner.lock();
    for (tp, o) in offsets {
        core.fetcher.on_committed(
            &tp,
            Some(CommittedOffset {
                offset: o.offset,
                leader_epoch: o.leader_epoch,
                metadata: o.metadata,
            }),
        );
    }
    Ok(())
}

/// A commit refused because the generation moved on tells the membership, unless the commit
/// carried an older identity than the member's current one (then the news is stale).
fn report_group_error(inner: &Arc<Inner>, identity: &CommitIdentity, e: &Error) {
    let Some(code) = e.broker_code() else {
        return;
    };
    let mut core = inner.lock();
    if let Some(m) = core.group.as_mut() {
        if identity.generation >= 0 && identity.generation == m.generation_id() {
            let _ = m.on_commit_error(Instant::now(), code);
            drop(core);
            inner.group_wake.notify_one();
        }
    }
}
