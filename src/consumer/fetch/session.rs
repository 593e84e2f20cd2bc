//! Incremental fetch sessions (KIP-227), one per broker.
//!
//! ```text
//!                 build (full: every partition)
//!   ┌──────────────► (id 0, epoch 0) ──response ok, session_id X≠0──► (X, 1)
//!   │                      │ response ok, session_id 0                  │ build: only new/changed
//!   │                      ▼ (broker made no session)                   ▼ partitions + forgotten
//!   │                 (0, 0) again                                  (X, n) ──ok──► (X, n+1)
//!   │                                                                   │
//!   ├──── FETCH_SESSION_ID_NOT_FOUND (70) / INVALID_FETCH_SESSION_EPOCH (71) / other session id
//!   │
//!   └──── request failed or other top-level error: (X, 0) = full fetch that replaces session X
//!   close: (X, -1) ends session X
//! ```
//! The wire pairs, as KIP-227 defines them: `(0, 0)` full fetch creating a session; `(X, 0)` full
//! fetch replacing session X; `(X, n > 0)` incremental; `(X, -1)` closes X. Epochs wrap from
//! `i32::MAX` to 1.
//!
//! The set of partitions in the broker's session is updated when a request is built (as the Java
//! client does): if that request fails, the next one is a full fetch, which re-sends everything.

use std::collections::BTreeMap;

use crate::error::code::{FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH};
use crate::types::{LeaderEpoch, Offset, TopicPartition};

const INITIAL_EPOCH: i32 = 0;
const FINAL_EPOCH: i32 = -1;

/// What a session remembers of a partition, and what makes it "changed" when it differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPartition {
    /// Offset to fetch from.
    pub fetch_offset: Offset,
    /// The leader epoch the client believes current (from metadata), for fencing.
    pub current_leader_epoch: LeaderEpoch,
    /// `partition_max_bytes`.
    pub partition_max_bytes: i32,
}

/// The session part of one Fetch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRequest {
    /// `session_id`.
    pub session_id: i32,
    /// `session_epoch`.
    pub session_epoch: i32,
    /// Partitions to put in `topics`: all of them for a full fetch, only new or changed ones for
    /// an incremental fetch.
    pub partitions: Vec<(TopicPartition, SessionPartition)>,
    /// Partitions to put in `forgotten_topics_data` (incremental fetches only).
    pub forgotten: Vec<TopicPartition>,
}

impl SessionRequest {
    /// Whether this is a full fetch (every wanted partition listed).
    pub fn is_full(&self) -> bool {
        self.session_epoch == INITIAL_EPOCH || self.session_epoch == FINAL_EPOCH
    }
}

/// The client side of one broker's fetch session.
#[derive(Debug, Clone, Default)]
pub struct FetchSession {
    session_id: i32,
    /// The epoch of the next request.
    next_epoch: i32,
    /// The partitions (and their last sent values) the broker's session holds, as of the last
    /// built request.
    partitions: BTreeMap<TopicPartition, SessionPartition>,
}

impl FetchSession {
    /// No session yet: the next request is a full fetch `(0, 0)`.
    pub fn new() -> FetchSession {
        FetchSession::default()
    }

    /// The current session id (0 = none).
    pub fn session_id(&self) -> i32 {
        self.session_id
    }

    /// The epoch the next request will carry.
    pub fn next_epoch(&self) -> i32 {
        self.next_epoch
    }

    /// The partitions the broker's session holds, as of the last built request.
    pub fn partitions(&self) -> impl Iterator<Item = (&TopicPartition, &SessionPartition)> {
        self.partitions.iter()
    }

    /// Builds the next request for the partitions wanted now (in any order).
    pub fn build(
        &mut self,
        wanted: impl IntoIterator<Item = (TopicPartition, SessionPartition)>,
    ) -> SessionRequest {
        let wanted: BTreeMap<TopicPartition, SessionPartition> = wanted.into_iter().collect();
        let full = self.next_epoch == INITIAL_EPOCH;
        let (partitions, forgotten) = if full {
            let all = wanted.iter().map(|(tp, p)| (tp.clone(), *p)).collect();
            (all, Vec::new())
        } else {
            let changed = wanted
                .iter()
                .filter(|(tp, p)| self.partitions.get(*tp) != Some(*p))
                .map(|(tp, p)| (tp.clone(), *p))
                .collect();
            let forgotten = self
                .partitions
                .keys()
                .filter(|tp| !wanted.contains_key(*tp))
                .cloned()
                .collect();
            (changed, forgotten)
        };
        self.partitions = wanted;
        SessionRequest {
            session_id: self.session_id,
            session_epoch: self.next_epoch,
            partitions,
            forgotten,
        }
    }

    /// Handles the top-level `error_code` and `session_id` of the response to the request built
    /// last. Returns whether the response's partition data may be used (false on a session
    /// error: the partitions are simply fetched again with a full request).
    pub fn on_response(&mut self, error_code: i16, response_session_id: i32) -> bool {
        match error_code {
            0 => {}
            FETCH_SESSION_ID_NOT_FOUND | INVALID_FETCH_SESSION_EPOCH => {
                self.reset();
                return false;
            }
            _ => {
                self.on_request_failed();
                return false;
            }
        }
        if self.next_epoch == INITIAL_EPOCH {
            // A full fetch: the broker created a session (id != 0) or declined to (id 0, e.g. its
            // session cache is full), in which case the next request is full again.
            self.session_id = response_session_id;
            self.next_epoch = if response_session_id == 0 {
                INITIAL_EPOCH
            } else {
                1
            };
        } else if response_session_id != self.session_id {
            // Not the session we spoke to: start over rather than guess.
            self.reset();
            return false;
        } else {
            self.next_epoch = if self.next_epoch == i32::MAX {
                1
            } else {
                self.next_epoch + 1
            };
        }
        true
    }

    /// The request was not answered (disconnect, timeout): the broker may or may not have
    /// advanced the session, so the next request is a full fetch replacing it, `(X, 0)`.
    pub fn on_request_failed(&mut self) {
        self.next_epoch = INITIAL_EPOCH;
    }

    /// Forgets the session: the next request is `(0, 0)`.
    pub fn reset(&mut self) {
        self.session_id = 0;
        self.next_epoch = INITIAL_EPOCH;
        self.partitions.clear();
    }

    /// The `(session_id, epoch)` of a request closing the session, if there is one; the session
    /// is forgotten.
    pub fn close(&mut self) -> Option<(i32, i32)> {
        let id = self.session_id;
        self.reset();
        (id != 0).then_some((id, FINAL_EPOCH))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    fn sp(offset: i64) -> SessionPartition {
        SessionPartition {
            fetch_offset: Offset(offset),
            current_leader_epoch: LeaderEpoch(3),
            partition_max_bytes: 1024,
        }
    }

    fn names(v: &[(TopicPartition, SessionPartition)]) -> Vec<i32> {
        v.iter().map(|(t, _)| t.partition).collect()
    }

    #[test]
    fn full_then_incremental_then_forgotten() {
        let mut s = FetchSession::new();
        let r = s.build([(tp(0), sp(10)), (tp(1), sp(20))]);
        assert_eq!((r.session_id, r.session_epoch), (0, 0));
        assert!(r.is_full());
        assert_eq!(names(&r.partitions), vec![0, 1]);
        assert!(s.on_response(0, 77));
        assert_eq!((s.session_id(), s.next_epoch()), (77, 1));

        // Nothing changed: an empty incremental request.
        let r = s.build([(tp(0), sp(10)), (tp(1), sp(20))]);
        assert_eq!((r.session_id, r.session_epoch), (77, 1));
        assert!(r.partitions.is_empty() && r.forgotten.is_empty());
        assert!(s.on_response(0, 77));

        // Partition 0 advanced, 1 removed, 2 added.
        let r = s.build([(tp(0), sp(15)), (tp(2), sp(0))]);
        assert_eq!(r.session_epoch, 2);
        assert!(!r.is_full());
        assert_eq!(names(&r.partitions), vec![0, 2]);
        assert_eq!(r.forgotten, vec![tp(1)]);
        assert!(s.on_response(0, 77));
        assert_eq!(s.next_epoch(), 3);

        // A changed max bytes or leader epoch counts as a change.
        let mut changed = sp(15);
        changed.current_leader_epoch = LeaderEpoch(4);
        let r = s.build([(tp(0), changed), (tp(2), sp(0))]);
        assert_eq!(names(&r.partitions), vec![0]);
    }

    #[test]
    fn session_errors_reset_to_a_full_fetch() {
        for code in [FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH] {
            let mut s = FetchSession::new();
            s.build([(tp(0), sp(1))]);
            assert!(s.on_response(0, 9));
            s.build([(tp(0), sp(2))]);
            assert!(!s.on_response(code, 0));
            let r = s.build([(tp(0), sp(2)), (tp(1), sp(5))]);
            assert_eq!((r.session_id, r.session_epoch), (0, 0));
            assert_eq!(names(&r.partitions), vec![0, 1]);
            assert!(r.forgotten.is_empty());
        }
    }

    #[test]
    fn failed_request_replaces_the_session_with_a_full_fetch() {
        let mut s = FetchSession::new();
        s.build([(tp(0), sp(1))]);
        assert!(s.on_response(0, 9));
        s.build([(tp(0), sp(2))]);
        s.on_request_failed();
        let r = s.build([(tp(0), sp(2))]);
        assert_eq!((r.session_id, r.session_epoch), (9, 0));
        assert_eq!(names(&r.partitions), vec![0]);
        assert!(s.on_response(0, 10));
        assert_eq!((s.session_id(), s.next_epoch()), (10, 1));
    }

    #[test]
    fn broker_without_session_and_mismatched_id() {
        let mut s = FetchSession::new();
        s.build([(tp(0), sp(1))]);
        assert!(s.on_response(0, 0)); // sessionless full fetch: data is valid
        assert_eq!(s.build([(tp(0), sp(1))]).session_epoch, 0);
        assert!(s.on_response(0, 5));
        s.build([(tp(0), sp(1))]);
        assert!(!s.on_response(0, 6)); // someone else's session
        assert_eq!((s.session_id(), s.next_epoch()), (0, 0));
    }

    #[test]
    fn epoch_wraps_to_one_and_close() {
        let mut s = FetchSession::new();
        s.build([(tp(0), sp(1))]);
        assert!(s.on_response(0, 5));
        s.next_epoch = i32::MAX;
        s.build([(tp(0), sp(1))]);
        assert!(s.on_response(0, 5));
        assert_eq!(s.next_epoch(), 1);
        assert_eq!(s.close(), Some((5, -1)));
        assert_eq!(s.close(), None);
    }
}
