//! The sticky assignment behind `cooperative-sticky` (KIP-54 goals, KIP-429 cooperative rules).
//!
//! 1. **Keep what is still valid.** A member keeps an owned partition when it still subscribes to
//!    the topic and the partition still exists. When several members claim one partition, the
//!    claim from the highest generation wins; a tie at the highest generation keeps it with
//!    nobody (two owners in one generation means something went wrong).
//! 2. **Place the rest.** Unowned partitions, those with the fewest eligible members first, go to
//!    the eligible member with the fewest partitions (ties: `MemberInfo` order).
//! 3. **Balance by moving as little as possible.** While some partition sits on a member with at
//!    least two more partitions than another member eligible for it, move one such partition
//!    (preferring ones the member did not own before) to the least loaded eligible member. Every
//!    move lowers the sum of squared counts, so this ends; with identical subscriptions it ends
//!    with every member within one of the others.
//!
//! Under the cooperative protocol [`withhold_transfers`] then removes every partition that some
//! other member claims to own: that member revokes it after this rebalance and rejoins, and the
//! follow-up rebalance assigns it (unowned by then) to its new member. A partition therefore
//! never has two owners at once.
//!
//! Unlike Java's `AbstractStickyAssignor`, this does not read the previous assignment from user
//! data (only the v1+ `owned_partitions`), and for heterogeneous subscriptions it aims for
//! "no movable partition improves balance", not Java's exact result.

use std::collections::{BTreeMap, BTreeSet};

use super::common::{count_of, sorted, GroupAssignment, Member, PartitionCounts};
use crate::types::TopicPartition;

pub(super) fn assign(members: &[Member<'_>], counts: &PartitionCounts) -> GroupAssignment {
    let eligible = |i: usize, tp: &TopicPartition| -> bool {
        members[i].topics.contains(tp.topic.as_str()) && tp.partition < count_of(counts, &tp.topic)
    };
    // Topic → members subscribed to it (indices, in member order).
    let mut subscribers: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, m) in members.iter().enumerate() {
        for t in &m.topics {
            subscribers.entry(t).or_default().push(i);
        }
    }

    // 1. Valid owned partitions, with conflicts resolved by generation.
    let mut claims: BTreeMap<&TopicPartition, Vec<(i32, usize)>> = BTreeMap::new();
    for (i, m) in members.iter().enumerate() {
        let mut mine = BTreeSet::new();
        for tp in m.owned.iter().filter(|tp| tp.partition >= 0) {
            if mine.insert(tp) && eligible(i, tp) {
                claims.entry(tp).or_default().push((m.generation, i));
            }
        }
    }
    let mut assigned: Vec<BTreeSet<TopicPartition>> = vec![BTreeSet::new(); members.len()];
    let mut placed: BTreeSet<TopicPartition> = BTreeSet::new();
    for (tp, mut c) in claims {
        c.sort_by_key(|claim| std::cmp::Reverse(claim.0));
        let unique = c.len() == 1 || c.get(1).map(|s| s.0) != c.first().map(|f| f.0);
        if let (true, Some(&(_, i))) = (unique, c.first()) {
            assigned[i].insert(tp.clone());
            placed.insert(tp.clone());
        }
    }
    let originally: Vec<BTreeSet<TopicPartition>> = assigned.clone();

    // 2. Everything else, most constrained first.
    let mut rest: Vec<TopicPartition> = subscribers
        .keys()
        .flat_map(|t| (0..count_of(counts, t)).map(move |p| TopicPartition::new(*t, p)))
        .filter(|tp| !placed.contains(tp))
        .collect();
    rest.sort_by_key(|tp| {
        (
            subscribers.get(tp.topic.as_str()).map_or(0, Vec::len),
            tp.clone(),
        )
    });
    for tp in rest {
        let target = subscribers
            .get(tp.topic.as_str())
            .and_then(|s| s.iter().copied().min_by_key(|&i| (assigned[i].len(), i)));
        if let Some(i) = target {
            assigned[i].insert(tp);
        }
    }

    // 3. Balance. Each move strictly lowers the sum of squared counts, which is bounded, so the
    // loop ends; the explicit bound is a second guard.
    let total: usize = assigned.iter().map(BTreeSet::len).sum();
    for _ in 0..=total.saturating_mul(total).max(1) {
        let Some((from, tp, to)) = find_move(&assigned, &subscribers, &originally) else {
            break;
        };
        assigned[from].remove(&tp);
        assigned[to].insert(tp);
    }

    let mut out: GroupAssignment = BTreeMap::new();
    for (i, set) in assigned.into_iter().enumerate() {
        out.insert(members[i].id.to_string(), set.into_iter().collect());
    }
    sorted(out)
}

/// The next balancing move: from the most loaded member that has a partition some eligible member
/// holds at least two fewer than it, to the least loaded such member.
fn find_move(
    assigned: &[BTreeSet<TopicPartition>],
    subscribers: &BTreeMap<&str, Vec<usize>>,
    originally: &[BTreeSet<TopicPartition>],
) -> Option<(usize, TopicPartition, usize)> {
    let mut by_load: Vec<usize> = (0..assigned.len()).collect();
    by_load.sort_by_key(|&i| (std::cmp::Reverse(assigned[i].len()), i));
    for from in by_load {
        let load = assigned[from].len();
        // Per topic: the least loaded subscriber, computed once.
        let mut best: BTreeMap<&str, Option<usize>> = BTreeMap::new();
        let mut candidates: Vec<(&TopicPartition, usize)> = Vec::new();
        for tp in &assigned[from] {
            let to = *best.entry(tp.topic.as_str()).or_insert_with(|| {
                subscribers
                    .get(tp.topic.as_str())
                    .and_then(|s| s.iter().copied().min_by_key(|&i| (assigned[i].len(), i)))
            });
            if let Some(to) = to {
                if assigned[to].len() + 1 < load {
                    candidates.push((tp, to));
                }
            }
        }
        // Prefer partitions the member did not own before this rebalance; then the highest.
        let pick = candidates
            .into_iter()
            .max_by_key(|(tp, _)| (!originally[from].contains(*tp), (*tp).clone()));
        if let Some((tp, to)) = pick {
            return Some((from, tp.clone(), to));
        }
    }
    None
}

/// Cooperative protocol: removes from `target` every partition that a member other than its
/// target owner claims to own. Those are revoked by their owner first and assigned in the
/// follow-up rebalance.
pub(super) fn withhold_transfers(
    members: &[Member<'_>],
    target: GroupAssignment,
) -> GroupAssignment {
    let mut claimed_by: BTreeMap<&TopicPartition, BTreeSet<&str>> = BTreeMap::new();
    for m in members {
        for tp in m.owned {
            claimed_by.entry(tp).or_default().insert(m.id);
        }
    }
    target
        .into_iter()
        .map(|(member, parts)| {
            let keep = parts
                .into_iter()
                .filter(|tp| {
                    claimed_by
                        .get(tp)
                        .is_none_or(|owners| owners.iter().all(|o| *o == member))
                })
                .collect();
            (member, keep)
        })
        .collect()
}
