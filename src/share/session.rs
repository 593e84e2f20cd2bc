//! A share session with one broker, free of I/O: its epoch and the partitions in it, and what
//! the next ShareFetch or ShareAcknowledge must list.
//!
//! Epoch 0 opens a session and lists every partition to fetch; each later request carries the
//! next epoch (1, 2, …, wrapping to 1) and lists only partitions added or acknowledged in, with
//! the ones to drop as forgotten. A session error (`SHARE_SESSION_NOT_FOUND`,
//! `INVALID_SHARE_SESSION_EPOCH`) or a failed request resets it, so the next fetch opens a new one.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::acks::SharePartition;
use crate::protocol::requests::share_fetch::{AckBatch, SharePartitionRequest, OPEN_EPOCH};

/// See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct ShareSession {
    /// The epoch of the next request.
    epoch: i32,
    /// The partitions the broker holds in the session.
    partitions: BTreeSet<SharePartition>,
}

/// The partitions of the next request and the epoch to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionRequest {
    /// The epoch to send.
    pub epoch: i32,
    /// Partitions to list, by topic id, with their acknowledgements.
    pub topics: Vec<(Uuid, Vec<SharePartitionRequest>)>,
    /// Partitions to drop from the session, by topic id.
    pub forgotten: Vec<(Uuid, Vec<i32>)>,
}

impl ShareSession {
    /// Whether a session is open on the broker.
    pub(crate) fn is_open(&self) -> bool {
        self.epoch != OPEN_EPOCH
    }

    /// The next ShareFetch: fetching `wanted`, acknowledging `acks`. Acknowledgements of a
    /// partition not wanted any more are listed too (the broker takes them before forgetting).
    pub(crate) fn fetch(
        &self,
        wanted: &BTreeSet<SharePartition>,
        mut acks: BTreeMap<SharePartition, Vec<AckBatch>>,
    ) -> SessionRequest {
        let mut listed: BTreeMap<Uuid, Vec<SharePartitionRequest>> = BTreeMap::new();
        let full = !self.is_open();
        for tp in wanted {
            let acks = acks.remove(tp).unwrap_or_default();
            if full || !self.partitions.contains(tp) || !acks.is_empty() {
                listed.entry(tp.0).or_default().push(SharePartitionRequest {
                    partition: tp.1,
                    acks,
                });
            }
        }
        let mut forgotten: BTreeMap<Uuid, Vec<i32>> = BTreeMap::new();
        if !full {
            for tp in self.partitions.difference(wanted) {
                forgotten.entry(tp.0).or_default().push(tp.1);
            }
        }
        // Acknowledgements for partitions leaving the session: in a fetch they would put the
        // partition back, so they go by ShareAcknowledge instead (see `acknowledge`).
        debug_assert!(acks.keys().all(|tp| !wanted.contains(tp)));
        SessionRequest {
            epoch: self.epoch,
            topics: listed.into_iter().collect(),
            forgotten: forgotten.into_iter().collect(),
        }
    }

    /// A ShareAcknowledge of `acks` (needs an open session).
    pub(crate) fn acknowledge(
        &self,
        acks: BTreeMap<SharePartition, Vec<AckBatch>>,
    ) -> SessionRequest {
        let mut listed: BTreeMap<Uuid, Vec<SharePartitionRequest>> = BTreeMap::new();
        for (tp, acks) in acks {
            listed.entry(tp.0).or_default().push(SharePartitionRequest {
                partition: tp.1,
                acks,
            });
        }
        SessionRequest {
            epoch: self.epoch,
            topics: listed.into_iter().collect(),
            forgotten: Vec::new(),
        }
    }

    /// The broker answered a fetch for `wanted` without a session error.
    pub(crate) fn fetched(&mut self, wanted: &BTreeSet<SharePartition>) {
        self.partitions = wanted.clone();
        self.advance();
    }

    /// The broker answered an acknowledgement without a session error.
    pub(crate) fn acknowledged(&mut self) {
        self.advance();
    }

    /// The session is gone (session error, failed request, closed): the next fetch opens one.
    pub(crate) fn reset(&mut self) {
        self.epoch = OPEN_EPOCH;
        self.partitions.clear();
    }

    fn advance(&mut self) {
        self.epoch = if self.epoch == i32::MAX {
            1
        } else {
            self.epoch + 1
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(t: u128, p: i32) -> SharePartition {
        (Uuid::from_u128(t), p)
    }

    #[test]
    fn a_session_opens_full_then_lists_only_changes() {
        let mut s = ShareSession::default();
        let wanted: BTreeSet<_> = [tp(1, 0), tp(1, 1)].into();
        let r = s.fetch(&wanted, BTreeMap::new());
        assert_eq!(r.epoch, 0);
        assert_eq!(r.topics[0].1.len(), 2);
        s.fetched(&wanted);
        // Nothing changed: nothing listed, epoch 1.
        let r = s.fetch(&wanted, BTreeMap::new());
        assert_eq!((r.epoch, r.topics.len(), r.forgotten.len()), (1, 0, 0));
        s.fetched(&wanted);
        // Acks on 1-0, 1-1 dropped, 2-0 added.
        let next: BTreeSet<_> = [tp(1, 0), tp(2, 0)].into();
        let acks = [(
            tp(1, 0),
            vec![AckBatch {
                first_offset: 0,
                last_offset: 4,
                types: vec![1],
            }],
        )]
        .into();
        let r = s.fetch(&next, acks);
        assert_eq!(r.epoch, 2);
        let listed: Vec<(Uuid, i32, usize)> = r
            .topics
            .iter()
            .flat_map(|(id, ps)| ps.iter().map(move |p| (*id, p.partition, p.acks.len())))
            .collect();
        assert_eq!(
            listed,
            vec![(Uuid::from_u128(1), 0, 1), (Uuid::from_u128(2), 0, 0)]
        );
        assert_eq!(r.forgotten, vec![(Uuid::from_u128(1), vec![1])]);
        // A session error: the next fetch opens a new session listing everything.
        s.reset();
        let r = s.fetch(&next, BTreeMap::new());
        assert_eq!((r.epoch, r.topics.len()), (0, 2));
    }

    #[test]
    fn the_epoch_wraps_to_one() {
        let mut s = ShareSession {
            epoch: i32::MAX,
            partitions: BTreeSet::new(),
        };
        s.acknowledged();
        assert_eq!(s.epoch, 1);
    }
}
