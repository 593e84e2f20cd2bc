//! The I/O-free core of the consumer's fetch path: per-partition positions and committed offsets,
//! fetch request planning with incremental fetch sessions (KIP-227), fetch response handling, and
//! the lazy decoding of fetched records into [`ConsumerRecord`]s.
//!
//! The async layer sends the requests this core plans and feeds the responses back; every decision
//! is made here, with `now` passed in, so it is tested without sockets:
//!
//! ```text
//!  app ── assign / seek* / pause / resume ─────────►┐
//!  OffsetFetch ── offset_fetch_plan / on_committed ─►│            ──fetch_plan(now, leader_of)──► FetchPlan per broker
//!  ListOffsets ── list_offsets_plan / on_list_offsets►│  Fetcher  ──poll(max)──► records + partition errors
//!  Fetch ── on_fetch_response / on_fetch_error ─────►│            ──poll_event()──► RefreshMetadata
//!  commits ── on_committed ─────────────────────────►┘            ──poll_timeout()──► next retry
//! ```
//!
//! # Position vs committed
//! Each assigned partition keeps two separate offsets ([`PartitionFetchState`]):
//! - the **position**: in memory, the offset of the next record `poll` will hand out. It moves
//!   only when records are actually handed out (to `last handed out + 1`), or past control and
//!   aborted batches that follow the records handed out, or by a seek / offset reset.
//! - the **committed offset**: the coordinator's value, as last read with OffsetFetch or last
//!   committed by this consumer ([`Fetcher::on_committed`]); `None` until known. It never moves
//!   on its own: after a processing failure, [`Fetcher::seek_to_committed`] puts the position back
//!   on it (product scenario 1).
//!
//! # Decisions
//! - **One fetch in flight per broker, one fetch ahead per partition.** A partition with a
//!   completed fetch buffered is fetched again from the end of that fetch (the offset after
//!   its last complete batch, read from the batch headers), so the broker answers the next
//!   fetch while `poll` drains the current one; with two fetches buffered, or the buffered
//!   bytes at [`FetchConfig::max_buffered_bytes`], it waits. That is the prefetch bound:
//!   at most two responses' worth (2 × `max.partition.fetch.bytes`) per partition. The fetch
//!   offset is separate from the position: fetching ahead never moves the position, and a
//!   seek, reset or corrupt batch discards what was fetched ahead.
//! - **Stale responses are ignored.** Each seek, reset or (re)assignment gives the partition a new
//!   generation; a fetch or ListOffsets response planned under an older generation, or for a
//!   partition no longer assigned, is dropped. So a seek during an in-flight fetch never delivers
//!   records from the old position.
//! - **No leader-epoch validation (KIP-320).** The position carries the leader epoch of the last
//!   record handed out (for commits), and fetches carry the metadata's current leader epoch so the
//!   broker can answer `FENCED_LEADER_EPOCH` / `UNKNOWN_LEADER_EPOCH` (handled by a metadata
//!   refresh and retry), but there is no OffsetsForLeaderEpoch truncation check: send
//!   `last_fetched_epoch = -1`.
//! - **Topic names, not ids**: the plans suit Fetch up to v12. `protocol::requests::fetch` builds the
//!   `kafka-protocol` request from a [`FetchPlan`] and takes a (guard-checked)
//!   decoded response apart.
//! - Errors on one partition never stop the others: a corrupt batch is reported for its partition
//!   only and its position stays at the bad offset (the partition is fetched again after a
//!   backoff, so a persistently corrupt log keeps the consumer stuck there rather than skipping).

mod completed;
mod fetcher;
mod partition;
mod session;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use crate::protocol::requests::fetch::{
    AbortedTransaction, FetchPartition, FetchPlan, FetchResponseData, FetchResponsePartition,
};
pub use crate::types::IsolationLevel;
pub use completed::{CompletedFetch, ConsumerRecord};
pub use fetcher::{
    FetchEvent, Fetcher, ListOffsetsPartition, ListOffsetsPlan, ListOffsetsResult, PartitionError,
    Polled,
};
pub use partition::{
    CommittedOffset, FetchPosition, FetchStatus, OffsetSpec, PartitionFetchState, Stall,
};
pub use session::{FetchSession, SessionPartition, SessionRequest};

use crate::protocol::records::DecodeOptions;
use crate::retry::Backoff;

/// What to do when there is no valid position (`auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OffsetResetPolicy {
    /// Start from the log start offset.
    Earliest,
    /// Start from the end of the log (the default, as in Java).
    #[default]
    Latest,
    /// Fail the partition with an error naming it; the application must seek.
    None,
}

/// Settings of the fetch path, with the Java client's names and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchConfig {
    /// `fetch.min.bytes` (default 1).
    pub fetch_min_bytes: i32,
    /// `fetch.max.wait.ms` (default 500 ms).
    pub fetch_max_wait: Duration,
    /// `fetch.max.bytes`: the cap of one Fetch response (default 50 MiB).
    pub fetch_max_bytes: i32,
    /// `max.partition.fetch.bytes` (default 1 MiB).
    pub max_partition_fetch_bytes: i32,
    /// Bytes of fetched-but-not-polled records above which no new fetch is planned (default:
    /// `fetch.max.bytes`). One response may overshoot it; the next waits for `poll`.
    pub max_buffered_bytes: usize,
    /// `isolation.level` (default read_uncommitted).
    pub isolation_level: IsolationLevel,
    /// `auto.offset.reset` (default latest).
    pub auto_offset_reset: OffsetResetPolicy,
    /// `check.crcs` and the decompression cap used when decoding fetched batches.
    pub decode: DecodeOptions,
    /// Whether newly assigned partitions start from the group's committed offsets (true when a
    /// `group.id` is set). If false they start by `auto_offset_reset`.
    pub use_committed_offsets: bool,
    /// Backoff of a partition after a failed fetch or offset lookup (`retry.backoff.ms` 100 ms,
    /// `retry.backoff.max.ms` 1 s).
    pub retry_backoff: Backoff,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            fetch_min_bytes: 1,
            fetch_max_wait: Duration::from_millis(500),
            fetch_max_bytes: 50 * 1024 * 1024,
            max_partition_fetch_bytes: 1024 * 1024,
            max_buffered_bytes: 50 * 1024 * 1024,
            isolation_level: IsolationLevel::ReadUncommitted,
            auto_offset_reset: OffsetResetPolicy::Latest,
            decode: DecodeOptions::default(),
            use_committed_offsets: true,
            retry_backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(1)),
        }
    }
}
