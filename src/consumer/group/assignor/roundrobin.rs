//! Java's `RoundRobinAssignor`: all partitions of the subscribed topics, sorted by topic then
//! partition, are dealt to the members in `MemberInfo` order, skipping members not subscribed to
//! the partition's topic.

use std::collections::BTreeSet;

use super::common::{count_of, empty_assignment, sorted, GroupAssignment, Member, PartitionCounts};
use crate::types::TopicPartition;

pub(super) fn assign(members: &[Member<'_>], counts: &PartitionCounts) -> GroupAssignment {
    let mut out = empty_assignment(members);
    if members.is_empty() {
        return out;
    }
    let topics: BTreeSet<&str> = members
        .iter()
        .flat_map(|m| m.topics.iter().copied())
        .collect();
    let mut next = 0usize;
    for topic in topics {
        for p in 0..count_of(counts, topic) {
            // Some member subscribes to `topic` (it came from a subscription), so the search
            // over one full circle finds it.
            let found = (0..members.len())
                .map(|k| (next + k) % members.len())
                .find(|&i| members[i].topics.contains(topic));
            if let Some(i) = found {
                if let Some(list) = out.get_mut(members[i].id) {
                    list.push(TopicPartition::new(topic, p));
                }
                next = (i + 1) % members.len();
            }
        }
    }
    sorted(out)
}
