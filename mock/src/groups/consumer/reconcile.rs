//! Reconciliation of one member towards its target assignment (Kafka's
//! `CurrentAssignmentBuilder`): what it keeps, what it must revoke first, what it is given now,
//! and at which epoch.

use super::{Assignment, Member, MemberState};
use std::collections::BTreeSet;
use uuid::Uuid;

/// The partitions a heartbeat reported as owned (`None`: not reported, as in a partial request).
pub(crate) type Owned<'a> = Option<&'a [(Uuid, Vec<i32>)]>;

/// Whether `owned` still holds any partition of `revoking`. Not reported counts as still held:
/// the coordinator only moves on from what the member said.
fn still_owns(owned: Owned<'_>, revoking: &Assignment) -> bool {
    let Some(owned) = owned else {
        return true;
    };
    owned.iter().any(|(topic, ps)| {
        revoking
            .get(topic)
            .is_some_and(|r| ps.iter().any(|p| r.contains(p)))
    })
}

/// Whether every partition of `owned` is in `assigned` (`None`: no).
pub(crate) fn is_subset(owned: Owned<'_>, assigned: &Assignment) -> bool {
    let Some(owned) = owned else {
        return false;
    };
    owned.iter().all(|(topic, ps)| {
        assigned
            .get(topic)
            .is_some_and(|a| ps.iter().all(|p| a.contains(p)))
    })
}

/// The next state of `m` towards `target` at `target_epoch`; `taken(topic, p)` says whether
/// another member owns a partition. The member is changed in place; its epoch history too.
pub(crate) fn reconcile(
    m: &mut Member,
    target_epoch: i32,
    target: &Assignment,
    owned: Owned<'_>,
    taken: impl Fn(Uuid, i32) -> bool,
) {
    match m.state {
        MemberState::Stable if m.epoch == target_epoch => {}
        MemberState::Stable | MemberState::UnreleasedPartitions => {
            let epoch = m.epoch;
            next(m, epoch, target_epoch, target, owned, &taken);
        }
        MemberState::UnrevokedPartitions => {
            if still_owns(owned, &m.revoking) {
                return;
            }
            // Revoked: the member moves past the epoch it revoked at.
            let epoch = m.epoch.wrapping_add(1);
            next(m, epoch, target_epoch, target, owned, &taken);
        }
    }
}

/// As Kafka's `updateMemberEpoch`: the epoch it had becomes the previous one, also when equal.
fn set_epoch(m: &mut Member, epoch: i32) {
    m.previous_epoch = m.epoch;
    m.epoch = epoch;
}

fn next(
    m: &mut Member,
    epoch: i32,
    target_epoch: i32,
    target: &Assignment,
    owned: Owned<'_>,
    taken: &impl Fn(Uuid, i32) -> bool,
) {
    let mut keep = Assignment::new();
    let mut revoke = Assignment::new();
    let mut add = Assignment::new();
    let mut unreleased = false;
    let topics: BTreeSet<Uuid> = target.keys().chain(m.assigned.keys()).copied().collect();
    for topic in topics {
        let want = target.get(&topic).cloned().unwrap_or_default();
        let has = m.assigned.get(&topic).cloned().unwrap_or_default();
        let kept: BTreeSet<i32> = has.intersection(&want).copied().collect();
        let gone: BTreeSet<i32> = has.difference(&kept).copied().collect();
        let mut new: BTreeSet<i32> = want.difference(&kept).copied().collect();
        let before = new.len();
        new.retain(|p| !taken(topic, *p));
        unreleased |= new.len() != before;
        if !kept.is_empty() {
            keep.insert(topic, kept);
        }
        if !gone.is_empty() {
            revoke.insert(topic, gone);
        }
        if !new.is_empty() {
            add.insert(topic, new);
        }
    }
    if !revoke.is_empty() && still_owns(owned, &revoke) {
        // Revoke first, at the current epoch; nothing new until the member has let go.
        m.state = MemberState::UnrevokedPartitions;
        set_epoch(m, epoch);
        m.assigned = keep;
        m.revoking = revoke;
        return;
    }
    for (topic, ps) in add {
        keep.entry(topic).or_default().extend(ps);
    }
    m.state = if unreleased {
        MemberState::UnreleasedPartitions
    } else {
        MemberState::Stable
    };
    set_epoch(m, target_epoch);
    m.assigned = keep;
    m.revoking = Assignment::new();
}
