//! The server-side assignors: `uniform` (Kafka's default: balanced, sticky to the previous
//! target) and `range` (contiguous ranges of each topic, co-partitioned).

use super::{Assignment, Topics};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// A member as an assignor sees it.
#[derive(Debug, Clone)]
pub(crate) struct Subscriber {
    pub member_id: String,
    /// Range orders members by it: the instance id of a static member (stable across
    /// restarts), else the member id.
    pub order_key: String,
    /// The topic names it is subscribed to (regexes resolved), all in `topics`.
    pub topics: BTreeSet<String>,
}

/// The target assignment of every member (each one present, possibly empty).
pub(crate) fn assign(
    assignor: &str,
    members: &[Subscriber],
    topics: &Topics,
    previous: &BTreeMap<String, Assignment>,
) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = members
        .iter()
        .map(|m| (m.member_id.clone(), Assignment::new()))
        .collect();
    let owners = if assignor == "range" {
        range(members, topics)
    } else {
        uniform(members, topics, previous)
    };
    for ((topic, p), i) in owners {
        if let Some(m) = members.get(i) {
            if let Some(a) = out.get_mut(&m.member_id) {
                a.entry(topic).or_default().insert(p);
            }
        }
    }
    out
}

/// Each topic's partitions in contiguous ranges over its subscribers in `order_key` order, the
/// first `partitions % subscribers` one partition more.
fn range(members: &[Subscriber], topics: &Topics) -> BTreeMap<(Uuid, i32), usize> {
    let mut owners = BTreeMap::new();
    for (name, (id, count)) in topics {
        let mut subs: Vec<usize> = (0..members.len())
            .filter(|i| members[*i].topics.contains(name))
            .collect();
        if subs.is_empty() {
            continue;
        }
        subs.sort_by(|a, b| members[*a].order_key.cmp(&members[*b].order_key));
        let n = subs.len() as i32;
        let (quota, extra) = (count / n, count % n);
        let mut next = 0;
        for (k, i) in subs.iter().enumerate() {
            let take = quota + i32::from((k as i32) < extra);
            for p in next..next + take {
                owners.insert((*id, p), *i);
            }
            next += take;
        }
    }
    owners
}

/// Keeps every partition of the previous target its member is still subscribed to, gives the
/// others to the eligible member owning fewest, then moves partitions from the fullest members
/// to eligible ones with at least two fewer until none can move: balanced (floor/ceil when
/// subscriptions are the same) with as few moves as that allows.
fn uniform(
    members: &[Subscriber],
    topics: &Topics,
    previous: &BTreeMap<String, Assignment>,
) -> BTreeMap<(Uuid, i32), usize> {
    let names: BTreeMap<Uuid, &str> = topics
        .iter()
        .map(|(n, (id, _))| (*id, n.as_str()))
        .collect();
    let eligible = |i: usize, topic: Uuid| {
        names
            .get(&topic)
            .is_some_and(|n| members[i].topics.contains(*n))
    };
    let exists = |topic: Uuid, p: i32| {
        names
            .get(&topic)
            .and_then(|n| topics.get(*n))
            .is_some_and(|(_, count)| (0..*count).contains(&p))
    };
    let mut owners: BTreeMap<(Uuid, i32), usize> = BTreeMap::new();
    let mut counts = vec![0usize; members.len()];
    for (i, m) in members.iter().enumerate() {
        for (topic, ps) in previous.get(&m.member_id).into_iter().flatten() {
            for p in ps {
                let key = (*topic, *p);
                if exists(*topic, *p) && eligible(i, *topic) && !owners.contains_key(&key) {
                    owners.insert(key, i);
                    counts[i] += 1;
                }
            }
        }
    }
    for (name, (id, count)) in topics {
        for p in 0..*count {
            if owners.contains_key(&(*id, p)) {
                continue;
            }
            let best = (0..members.len())
                .filter(|i| members[*i].topics.contains(name))
                .min_by_key(|i| (counts[*i], *i));
            if let Some(i) = best {
                owners.insert((*id, p), i);
                counts[i] += 1;
            }
        }
    }
    // Each move lowers the sum of squared counts, so this ends.
    loop {
        let mut moved = false;
        let mut order: Vec<usize> = (0..members.len()).collect();
        order.sort_by_key(|i| std::cmp::Reverse(counts[*i]));
        'from: for a in order {
            let theirs: Vec<(Uuid, i32)> = owners
                .iter()
                .filter(|(_, o)| **o == a)
                .map(|(k, _)| *k)
                .rev()
                .collect();
            for (topic, p) in theirs {
                let to = (0..members.len())
                    .filter(|b| *b != a && eligible(*b, topic) && counts[*b] + 1 < counts[a])
                    .min_by_key(|b| (counts[*b], *b));
                if let Some(b) = to {
                    owners.insert((topic, p), b);
                    counts[a] -= 1;
                    counts[b] += 1;
                    moved = true;
                    break 'from;
                }
            }
        }
        if !moved {
            return owners;
        }
    }
}
