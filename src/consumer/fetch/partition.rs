//! Per-partition fetch state: position, committed offset, watermarks and status.

use std::time::Instant;

use crate::types::{BrokerId, LeaderEpoch, Offset};
use crate::Error;

use super::{IsolationLevel, OffsetResetPolicy};

pub use crate::protocol::requests::offset_fetch::CommittedOffset;

/// Where to look an offset up with ListOffsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OffsetSpec {
    /// The log start offset (ListOffsets timestamp `-2`).
    Earliest,
    /// The log end offset, or the last stable offset for read_committed (timestamp `-1`).
    Latest,
    /// The first offset whose timestamp is at least this many ms since the epoch.
    Timestamp(i64),
}

impl OffsetSpec {
    /// The ListOffsets `timestamp` field for this spec.
    pub const fn to_wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::Timestamp(ts) => ts,
        }
    }
}

/// The position: the offset of the next record to hand out, and the leader epoch of the last
/// record handed out (`None` after a seek, or when the broker did not record one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FetchPosition {
    /// Next offset to hand out (and to fetch from).
    pub offset: Offset,
    /// Leader epoch of the last consumed record, if known (commit it with the offset).
    pub leader_epoch: Option<LeaderEpoch>,
}

impl FetchPosition {
    /// A position at `offset` with no known epoch.
    pub const fn new(offset: Offset) -> FetchPosition {
        FetchPosition {
            offset,
            leader_epoch: None,
        }
    }
}

/// What the coordinator is known to hold for a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Committed {
    /// Not read yet (no OffsetFetch answer, no commit by us).
    Unknown,
    /// The coordinator has no committed offset for the partition.
    NoOffset,
    /// The coordinator's committed offset.
    Known(CommittedOffset),
}

/// The fetch status of an assigned partition. Each variant carries only what is valid in it: a
/// position exists only while [`Fetchable`](FetchStatus::Fetchable).
///
/// ```text
///   assign ──(group)──► AwaitingCommitted ──on_committed(Some(o))──────────────► Fetchable(o)
///     │                      │ on_committed(None) (no committed offset)            ▲   │
///     │ (no group)           ▼                                                     │   │ OFFSET_OUT_OF_RANGE
///     └────────────────► AwaitingReset(spec) ──on_list_offsets(Ok)─────────────────┘   │ (earliest / latest)
///                            ▲      │ policy none / permanent ListOffsets error        │
///      seek_to_beginning/end/│      ▼                                                  │
///      timestamp ────────────┘   Failed(error) ◄──OFFSET_OUT_OF_RANGE (policy none)────┘
///
///   seek(o) from any status ──► Fetchable(o)
///   seek_to_committed: Known(o) ──► Fetchable(o); NoOffset ──► AwaitingReset(policy) or Failed;
///                      Unknown ──► AwaitingCommitted
///   pause / resume: a flag beside the status (a paused partition keeps its position, is not
///   fetched, and its buffered records are not handed out)
/// ```
#[derive(Debug, Clone)]
pub enum FetchStatus {
    /// Needs the group's committed offset (an OffsetFetch).
    AwaitingCommitted,
    /// Needs an offset looked up with ListOffsets.
    AwaitingReset(OffsetSpec),
    /// Has a position and can be fetched.
    Fetchable(FetchPosition),
    /// Cannot continue until the application seeks (e.g. `OFFSET_OUT_OF_RANGE` with
    /// `auto.offset.reset=none`). The error names the partition.
    Failed(Error),
}

/// A partition's retry backoff after a failed fetch or lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Retry {
    pub(super) not_before: Instant,
    pub(super) attempts: u32,
}

/// Everything the fetch path knows about one assigned partition.
///
/// Mutated only by [`Fetcher`](super::Fetcher): the application through its seek/pause methods,
/// the async layer through the response handlers.
#[derive(Debug, Clone)]
pub struct PartitionFetchState {
    pub(super) status: FetchStatus,
    pub(super) committed: Committed,
    pub(super) high_watermark: Option<Offset>,
    pub(super) log_start_offset: Option<Offset>,
    pub(super) last_stable_offset: Option<Offset>,
    pub(super) paused: bool,
    /// Changes on every seek, reset and assignment; responses to requests planned under an older
    /// generation are stale.
    pub(super) generation: u64,
    pub(super) retry: Option<Retry>,
    /// A Fetch including this partition is outstanding.
    pub(super) fetch_in_flight: bool,
    /// Completed fetches of this partition waiting in the buffer (at most
    /// [`MAX_BUFFERED_FETCHES`](super::fetcher::MAX_BUFFERED_FETCHES)).
    pub(super) buffered: u8,
    /// Where the next fetch starts while fetches are buffered: the offset after the last
    /// complete batch of the newest one (the position itself when nothing is buffered). It
    /// never moves the position; a seek, reset or failed decode clears it with the buffer.
    pub(super) fetch_ahead: Option<FetchPosition>,
    /// The token of the outstanding ListOffsets, if any.
    pub(super) list_offsets_token: Option<u64>,
    /// An OffsetFetch for this partition is outstanding.
    pub(super) offset_fetch_in_flight: bool,
    /// The leader the last fetch was planned for (node, leader epoch): a change is logged.
    pub(super) leader: Option<(BrokerId, LeaderEpoch)>,
    /// The stall in progress, if fetches of this partition fail without an answer from its
    /// leader (refused connect, lost connection, timeout); any answer ends it.
    pub(super) stall: Option<Stall>,
    /// The last fetch of it returned no records (it is caught up): fetching it alone would be a
    /// long poll (`fetch.max.wait.ms`) — see `fetch_plan`.
    pub(super) idle: bool,
}

/// Fetches of a partition failing because its leader cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stall {
    /// The node the failed fetches went to.
    pub node: BrokerId,
    /// When the first of them failed.
    pub since: Instant,
    /// Whether the stall was reported (once it lasted `request.timeout.ms`).
    pub reported: bool,
}

impl PartitionFetchState {
    pub(super) fn new(status: FetchStatus, generation: u64) -> PartitionFetchState {
        PartitionFetchState {
            status,
            committed: Committed::Unknown,
            high_watermark: None,
            log_start_offset: None,
            last_stable_offset: None,
            paused: false,
            generation,
            retry: None,
            fetch_in_flight: false,
            buffered: 0,
            fetch_ahead: None,
            list_offsets_token: None,
            offset_fetch_in_flight: false,
            leader: None,
            stall: None,
            idle: false,
        }
    }

    /// The stall in progress: fetches of this partition have failed without an answer from
    /// its leader since then (a broker that is down while the metadata still names it).
    pub fn stall(&self) -> Option<&Stall> {
        self.stall.as_ref()
    }

    /// The status.
    pub fn status(&self) -> &FetchStatus {
        &self.status
    }

    /// The position (next offset to hand out), when the partition has one.
    pub fn position(&self) -> Option<FetchPosition> {
        match self.status {
            FetchStatus::Fetchable(p) => Some(p),
            _ => None,
        }
    }

    /// The committed offset as last read or committed; `None` if unknown or if the coordinator
    /// has none.
    pub fn committed(&self) -> Option<&CommittedOffset> {
        match &self.committed {
            Committed::Known(c) => Some(c),
            Committed::Unknown | Committed::NoOffset => None,
        }
    }

    /// Whether the committed offset has been read (or committed) at all.
    pub fn committed_known(&self) -> bool {
        !matches!(self.committed, Committed::Unknown)
    }

    /// The high watermark from the last fetch response.
    pub fn high_watermark(&self) -> Option<Offset> {
        self.high_watermark
    }

    /// The log start offset from the last fetch response.
    pub fn log_start_offset(&self) -> Option<Offset> {
        self.log_start_offset
    }

    /// The last stable offset from the last fetch response.
    pub fn last_stable_offset(&self) -> Option<Offset> {
        self.last_stable_offset
    }

    /// Whether the application paused the partition.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Lag: the high watermark (the last stable offset for read_committed) minus the position,
    /// when both are known.
    pub fn lag(&self, isolation: IsolationLevel) -> Option<i64> {
        let end = match isolation {
            IsolationLevel::ReadUncommitted => self.high_watermark,
            IsolationLevel::ReadCommitted => self.last_stable_offset,
        }?;
        let position = self.position()?;
        Some(end.get().saturating_sub(position.offset.get()).max(0))
    }

    /// Moves to a new status that was not reached by consuming records: a new generation, no
    /// backoff, no pending lookup.
    pub(super) fn reposition(&mut self, status: FetchStatus, generation: u64) {
        self.status = status;
        self.generation = generation;
        self.retry = None;
        self.list_offsets_token = None;
        self.idle = false;
    }

    /// The status that applies the reset policy (for a missing or out-of-range offset).
    pub(super) fn reset_status(
        policy: OffsetResetPolicy,
        error: impl FnOnce() -> Error,
    ) -> FetchStatus {
        match policy {
            OffsetResetPolicy::Earliest => FetchStatus::AwaitingReset(OffsetSpec::Earliest),
            OffsetResetPolicy::Latest => FetchStatus::AwaitingReset(OffsetSpec::Latest),
            OffsetResetPolicy::None => FetchStatus::Failed(error()),
        }
    }

    /// Whether the partition is held back by a retry backoff at `now`.
    pub(super) fn backing_off(&self, now: Instant) -> bool {
        self.retry.is_some_and(|r| now < r.not_before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_uses_hw_or_lso_and_needs_a_position() {
        let mut s = PartitionFetchState::new(FetchStatus::AwaitingCommitted, 1);
        s.high_watermark = Some(Offset(100));
        s.last_stable_offset = Some(Offset(90));
        assert_eq!(s.lag(IsolationLevel::ReadUncommitted), None);
        s.status = FetchStatus::Fetchable(FetchPosition::new(Offset(40)));
        assert_eq!(s.lag(IsolationLevel::ReadUncommitted), Some(60));
        assert_eq!(s.lag(IsolationLevel::ReadCommitted), Some(50));
        s.status = FetchStatus::Fetchable(FetchPosition::new(Offset(120)));
        assert_eq!(s.lag(IsolationLevel::ReadUncommitted), Some(0));
    }

    #[test]
    fn committed_unknown_vs_none() {
        let mut s = PartitionFetchState::new(FetchStatus::AwaitingCommitted, 1);
        assert!(!s.committed_known());
        s.committed = Committed::NoOffset;
        assert!(s.committed_known());
        assert_eq!(s.committed(), None);
        s.committed = Committed::Known(CommittedOffset::new(Offset(7)));
        assert_eq!(s.committed().map(|c| c.offset), Some(Offset(7)));
    }

    #[test]
    fn offset_spec_wire_values() {
        assert_eq!(OffsetSpec::Earliest.to_wire(), -2);
        assert_eq!(OffsetSpec::Latest.to_wire(), -1);
        assert_eq!(OffsetSpec::Timestamp(5).to_wire(), 5);
    }
}
