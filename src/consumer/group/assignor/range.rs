//! Java's `RangeAssignor`: for each topic, the members subscribed to it (in `MemberInfo` order)
//! get contiguous ranges of partitions; with `n` partitions and `c` members each gets `n / c` and
//! the first `n % c` get one more.

use std::collections::BTreeSet;

use super::common::{count_of, empty_assignment, sorted, GroupAssignment, Member, PartitionCounts};
use crate::types::TopicPartition;

pub(super) fn assign(members: &[Member<'_>], counts: &PartitionCounts) -> GroupAssignment {
    let mut out = empty_assignment(members);
    let topics: BTreeSet<&str> = members
        .iter()
        .flat_map(|m| m.topics.iter().copied())
        .collect();
    for topic in topics {
        let consumers: Vec<&Member<'_>> = members
            .iter()
            .filter(|m| m.topics.contains(topic))
            .collect();
        let n = count_of(counts, topic) as usize;
        // `consumers` is non-empty: the topic came from some member's subscription.
        let c = consumers.len().max(1);
        let (per, extra) = (n / c, n % c);
        for (i, m) in consumers.iter().enumerate() {
            let start = per * i + i.min(extra);
            let len = per + usize::from(i < extra);
            if let Some(list) = out.get_mut(m.id) {
                // start + len <= n <= i32::MAX, so the casts cannot truncate.
                list.extend((start..start + len).map(|p| TopicPartition::new(topic, p as i32)));
            }
        }
    }
    sorted(out)
}
