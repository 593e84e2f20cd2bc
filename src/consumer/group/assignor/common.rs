//! What the assignors share: the input and output types and small helpers. A leaf: the
//! strategies (`range.rs`, `roundrobin.rs`, `sticky.rs`) and the dispatch in `mod.rs` import it.

use std::collections::{BTreeMap, BTreeSet};

use crate::types::TopicPartition;

/// Topic name → number of partitions, as known to the leader from metadata. Topics missing here
/// (unknown, deleted, not authorized) get no partitions assigned.
pub type PartitionCounts = BTreeMap<String, i32>;

/// Member id → the partitions assigned to it (sorted). Every member of the input appears.
pub type GroupAssignment = BTreeMap<String, Vec<TopicPartition>>;

/// A member prepared for the assignors: topics as a set, in Java's `MemberInfo` order.
#[derive(Debug)]
pub(crate) struct Member<'a> {
    pub(crate) id: &'a str,
    pub(crate) topics: BTreeSet<&'a str>,
    pub(crate) owned: &'a [TopicPartition],
    pub(crate) generation: i32,
}

/// Partition count of `topic`, 0 when unknown or negative.
pub(crate) fn count_of(counts: &PartitionCounts, topic: &str) -> i32 {
    counts.get(topic).copied().unwrap_or(0).max(0)
}

/// An empty assignment for every member.
pub(crate) fn empty_assignment(members: &[Member<'_>]) -> GroupAssignment {
    members
        .iter()
        .map(|m| (m.id.to_string(), Vec::new()))
        .collect()
}

/// Sorts every member's partitions (the output contract).
pub(crate) fn sorted(mut a: GroupAssignment) -> GroupAssignment {
    for v in a.values_mut() {
        v.sort();
    }
    a
}
