//! Offset commits: which offsets (positions of records already handed out, never beyond them)
//! and under which group identity (the current generation, or the one being revoked).

use super::coordinator::{is_group_error, CommitIdentity, OffsetToCommit};
use super::fetch::CommittedOffset;
use super::shared::{Core, Inner};
use crate::error::code::{GROUP_AUTHORIZATION_FAILED, STALE_MEMBER_EPOCH};
use crate::types::TopicPartition;
use crate::{Error, ErrorKind, Result};
use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Instant;

/// Commits the position of each assigned partition (only those in `only`, if given) that has one
/// and whose committed offset differs: the offsets of records already handed to the application.
pub(super) async fn commit_positions(
    inner: &Arc<Inner>,
    only: Option<&[TopicPartition]>,
) -> Result<()> {
    commit_offsets(inner, positions_to_commit(inner, only)).await
}

/// The positions [`commit_positions`] commits.
fn positions_to_commit(
    inner: &Inner,
    only: Option<&[TopicPartition]>,
) -> BTreeMap<TopicPartition, OffsetToCommit> {
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
}

/// The identity a commit carries: none outside group management, else what the membership
/// says ([`GroupMembership::commit_identity`](super::group::GroupMembership::commit_identity):
/// the stable generation, the revoked one while the listener runs, or `REBALANCE_IN_PROGRESS`).
fn commit_identity(core: &Core) -> Result<CommitIdentity> {
    core.group
        .as_ref()
        .map_or_else(|| Ok(CommitIdentity::default()), |m| m.commit_identity())
}

/// Commits `offsets` and records them as the committed offsets.
pub(super) async fn commit_offsets(
    inner: &Arc<Inner>,
    offsets: BTreeMap<TopicPartition, OffsetToCommit>,
) -> Result<()> {
    commit_offsets_of(&Arc::downgrade(inner), offsets).await
}

/// The consumer's state for a commit under way, or `Closed` once it was dropped.
fn upgrade(weak: &Weak<Inner>) -> Result<Arc<Inner>> {
    weak.upgrade().ok_or_else(|| {
        Error::new(ErrorKind::Closed).with_detail("the consumer was dropped during the commit")
    })
}

/// [`commit_offsets`] holding the consumer's state only between requests, never while one is
/// out: a background commit (auto-commit) must not keep a dropped consumer alive.
async fn commit_offsets_of(
    weak: &Weak<Inner>,
    offsets: BTreeMap<TopicPartition, OffsetToCommit>,
) -> Result<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    let (coordinator, mut identity) = {
        let inner = upgrade(weak)?;
        let coordinator = inner.coordinator.clone().ok_or_else(|| {
            Error::new(ErrorKind::InvalidArgument)
                .with_detail("committing offsets needs a group.id")
        })?;
        let identity = commit_identity(&inner.lock())?;
        (coordinator, identity)
    };
    let started = Instant::now();
    let mut result = coordinator.commit(&offsets, &identity).await;
    // KIP-848: the member epoch moved on while the commit was out (a new assignment came with
    // a heartbeat); the member still owns what it commits, so go again under the new epoch, as
    // Java's consumer does. A classic generation change is a real refusal and is not retried.
    for _ in 0..3 {
        let stale = result
            .as_ref()
            .is_err_and(|e| e.broker_code() == Some(STALE_MEMBER_EPOCH));
        if !stale {
            break;
        }
        let fresh = commit_identity(&upgrade(weak)?.lock())?;
        if fresh == identity {
            break;
        }
        identity = fresh;
        result = coordinator.commit(&offsets, &identity).await;
    }
    let inner = upgrade(weak)?;
    inner
        .metrics
        .commit_latency_ms
        .record(started.elapsed().as_secs_f64() * 1000.0);
    if let Err(e) = &result {
        // A denied group stops the member too (fatal, like a denied JoinGroup).
        if is_group_error(e.broker_code()) || e.broker_code() == Some(GROUP_AUTHORIZATION_FAILED) {
            report_group_error(&inner, &identity, e);
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

/// When the next auto-commit is due, if auto-commit is on.
pub(super) fn auto_commit_due(inner: &Arc<Inner>, now: Instant) -> Option<Instant> {
    if !inner.cfg.enable_auto_commit || inner.coordinator.is_none() {
        return None;
    }
    let (due, rebalancing) = {
        let core = inner.lock();
        let rebalancing = core
            .group
            .as_ref()
            .is_some_and(|m| m.generation().is_none());
        (core.next_auto_commit, rebalancing)
    };
    // While the member rejoins there is no generation to commit under; the revocation path
    // commits what needs committing.
    if now >= due && !rebalancing {
        let next = now + inner.cfg.auto_commit_interval;
        inner.lock().next_auto_commit = next;
        // Holds only a `Weak` while the commit is out, and ends with the consumer: a dropped
        // consumer neither commits nor stays alive for an auto-commit.
        let weak = Arc::downgrade(inner);
        let offsets = positions_to_commit(inner, None);
        tokio::spawn(inner.gone().unless_gone(async move {
            if let Err(e) = commit_offsets_of(&weak, offsets).await {
                tracing::warn!(error = %e, "auto-commit failed");
                if let Some(inner) = weak.upgrade() {
                    inner.notify_error_handler(&e);
                }
            }
        }));
        return Some(next);
    }
    Some(due)
}
