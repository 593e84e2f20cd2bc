//! Partition assignors: pure, deterministic functions from the members' subscriptions and the
//! topics' partition counts to one assignment per member. The group leader runs the one the
//! coordinator chose.
//!
//! | strategy | Java class | protocol | behaviour |
//! |---|---|---|---|
//! | [`AssignmentStrategy::Range`] | `RangeAssignor` | eager | per topic, contiguous ranges; the first members get one extra |
//! | [`AssignmentStrategy::RoundRobin`] | `RoundRobinAssignor` | eager | all partitions sorted, dealt round-robin to the members subscribed to each topic |
//! | [`AssignmentStrategy::CooperativeSticky`] | `CooperativeStickyAssignor` | cooperative (and eager) | keeps valid owned partitions, balances within one, moves as few as possible; under the cooperative protocol a moving partition is withheld for one rebalance |
//!
//! Members are ordered as Java's `MemberInfo`: static members (with `group.instance.id`) first,
//! by instance id, then dynamic members by member id. Range and round-robin depend on that order.
//!
//! Not done: rack-aware assignment (KIP-881); `client.rack` is carried in the subscription only.

mod common;
mod range;
mod roundrobin;
mod sticky;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::collections::BTreeSet;

use super::metadata::Subscription;
use common::Member;

pub use common::{GroupAssignment, PartitionCounts};

/// How a group moves partitions between members during a rebalance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RebalanceProtocol {
    /// Every member gives up all its partitions before rejoining (stop-the-world).
    Eager,
    /// Members keep their partitions while rejoining; only partitions that move are revoked, and
    /// they reach their new owner in a follow-up rebalance (KIP-429).
    Cooperative,
}

/// A built-in assignor (`partition.assignment.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssignmentStrategy {
    /// `range` (Java `RangeAssignor`).
    Range,
    /// `roundrobin` (Java `RoundRobinAssignor`).
    RoundRobin,
    /// `cooperative-sticky` (Java `CooperativeStickyAssignor`).
    CooperativeSticky,
}

impl AssignmentStrategy {
    /// The protocol name sent in JoinGroup (the same as Java's, so mixed groups agree).
    pub fn name(self) -> &'static str {
        match self {
            AssignmentStrategy::Range => "range",
            AssignmentStrategy::RoundRobin => "roundrobin",
            AssignmentStrategy::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// The strategy with protocol name `name` (as chosen by the coordinator).
    pub fn from_name(name: &str) -> Option<AssignmentStrategy> {
        [
            AssignmentStrategy::Range,
            AssignmentStrategy::RoundRobin,
            AssignmentStrategy::CooperativeSticky,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }

    /// Parses a `partition.assignment.strategy` entry: the protocol name or the Java class name.
    pub fn from_config_name(name: &str) -> Option<AssignmentStrategy> {
        let short = name.rsplit('.').next().unwrap_or(name);
        match short {
            "RangeAssignor" => Some(AssignmentStrategy::Range),
            "RoundRobinAssignor" => Some(AssignmentStrategy::RoundRobin),
            "CooperativeStickyAssignor" => Some(AssignmentStrategy::CooperativeSticky),
            _ => AssignmentStrategy::from_name(name),
        }
    }

    /// Whether the strategy supports the cooperative protocol.
    pub fn supports_cooperative(self) -> bool {
        self == AssignmentStrategy::CooperativeSticky
    }

    /// Computes the assignment. `protocol` is the group's rebalance protocol: under
    /// `RebalanceProtocol::Cooperative`, `cooperative-sticky` withholds partitions that change
    /// owner (the owner revokes them first; they are assigned in the follow-up rebalance).
    pub fn assign(
        self,
        members: &[GroupMember],
        partition_counts: &PartitionCounts,
        protocol: RebalanceProtocol,
    ) -> GroupAssignment {
        let ordered = ordered_members(members);
        match self {
            AssignmentStrategy::Range => range::assign(&ordered, partition_counts),
            AssignmentStrategy::RoundRobin => roundrobin::assign(&ordered, partition_counts),
            AssignmentStrategy::CooperativeSticky => {
                let target = sticky::assign(&ordered, partition_counts);
                match protocol {
                    RebalanceProtocol::Eager => target,
                    RebalanceProtocol::Cooperative => sticky::withhold_transfers(&ordered, target),
                }
            }
        }
    }
}

/// The group's rebalance protocol for a list of strategies: cooperative only if every one
/// supports it (Java picks the highest protocol all configured assignors support).
pub fn rebalance_protocol(strategies: &[AssignmentStrategy]) -> RebalanceProtocol {
    if !strategies.is_empty() && strategies.iter().all(|s| s.supports_cooperative()) {
        RebalanceProtocol::Cooperative
    } else {
        RebalanceProtocol::Eager
    }
}

/// One member as the leader sees it in the JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// The member id the coordinator gave it.
    pub member_id: String,
    /// Its `group.instance.id`, if static.
    pub group_instance_id: Option<String>,
    /// Its decoded subscription.
    pub subscription: Subscription,
}

fn member_order(a: &GroupMember, b: &GroupMember) -> Ordering {
    match (&a.group_instance_id, &b.group_instance_id) {
        (Some(x), Some(y)) => x.cmp(y).then_with(|| a.member_id.cmp(&b.member_id)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.member_id.cmp(&b.member_id),
    }
}

fn ordered_members(members: &[GroupMember]) -> Vec<Member<'_>> {
    let mut sorted: Vec<&GroupMember> = members.iter().collect();
    sorted.sort_by(|a, b| member_order(a, b));
    // The coordinator never repeats a member id; if it did, the first one wins.
    let mut seen = BTreeSet::new();
    sorted
        .into_iter()
        .filter(|m| seen.insert(m.member_id.as_str()))
        .map(|m| Member {
            id: &m.member_id,
            topics: m.subscription.topics.iter().map(String::as_str).collect(),
            owned: &m.subscription.owned_partitions,
            generation: m.subscription.generation_id,
        })
        .collect()
}
