//! [`Fetcher`]: the assigned partitions, the fetch sessions, the buffer of completed fetches.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use crate::error::code::OFFSET_OUT_OF_RANGE;
use crate::retry::Jitter;
use crate::types::{BrokerId, LeaderEpoch, Offset, TopicPartition};
use crate::{Error, ErrorKind, Result};

use super::partition::{Committed, Retry};
use super::{
    CommittedOffset, CompletedFetch, ConsumerRecord, FetchConfig, FetchPartition, FetchPlan,
    FetchPosition, FetchResponseData, FetchSession, FetchStatus, IsolationLevel, OffsetSpec,
    PartitionFetchState,
};
pub use crate::protocol::requests::list_offsets::ListOffsetsResult;

/// One partition of a planned ListOffsets request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsPartition {
    /// The partition.
    pub tp: TopicPartition,
    /// What to look up (its `to_wire()` is the request's `timestamp`).
    pub spec: OffsetSpec,
    /// `current_leader_epoch`, from metadata.
    pub current_leader_epoch: LeaderEpoch,
    /// Hand back to [`Fetcher::on_list_offsets`] with the answer.
    pub token: u64,
}

/// A ListOffsets request to send to one broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsPlan {
    /// The partitions' leader.
    pub broker: BrokerId,
    /// `isolation_level` (read_committed makes "latest" the last stable offset).
    pub isolation_level: IsolationLevel,
    /// The partitions.
    pub partitions: Vec<ListOffsetsPartition>,
}

/// An error of one partition, for the application.
#[derive(Debug, Clone)]
pub struct PartitionError {
    /// The partition.
    pub tp: TopicPartition,
    /// What happened (its context names the partition too).
    pub error: Error,
}

/// What [`Fetcher::poll`] hands out.
#[derive(Debug, Default)]
pub struct Polled {
    /// Records, in offset order per partition.
    pub records: Vec<ConsumerRecord>,
    /// Errors since the last poll, per partition; other partitions are unaffected.
    pub errors: Vec<PartitionError>,
}

/// Something the async layer must do.
#[derive(Debug, Clone)]
pub enum FetchEvent {
    /// The partition's leader moved or is unknown to the broker: refresh metadata. The partition
    /// is retried after its backoff with whatever leader `leader_of` then returns.
    RefreshMetadata {
        /// The partition.
        tp: TopicPartition,
        /// The error that showed it.
        error: Error,
    },
    /// The partition is fetched from another leader than before (logged at INFO, as Java does).
    LeaderChanged {
        /// The partition.
        tp: TopicPartition,
        /// The previous leader and its epoch.
        from: (BrokerId, LeaderEpoch),
        /// The new leader and its epoch.
        to: (BrokerId, LeaderEpoch),
    },
    /// Fetches of the partition have failed for `request.timeout.ms` (the bound given to
    /// [`Fetcher::poll_stalls`]) without an answer from its leader: reported once per stall.
    Stalled {
        /// The partition.
        tp: TopicPartition,
        /// The stall.
        stall: super::Stall,
    },
    /// A reported stall ended: the partition's leader (the same or a new one) answered.
    StallEnded {
        /// The partition.
        tp: TopicPartition,
        /// The stall that ended.
        stall: super::Stall,
    },
}

/// Completed fetches one partition may have buffered before it is fetched again: the one `poll`
/// is draining and one fetched ahead, so the broker is already answering the next fetch while
/// the application processes the current records (librdkafka keeps fetching the same way; Java
/// waits until a partition's buffer is drained, which leaves the broker idle in between).
pub(crate) const MAX_BUFFERED_FETCHES: u8 = 2;

/// The fetch path's state: see the `consumer::fetch` module docs.
#[derive(Debug)]
pub struct Fetcher {
    config: FetchConfig,
    partitions: BTreeMap<TopicPartition, PartitionFetchState>,
    sessions: HashMap<BrokerId, FetchSession>,
    /// The outstanding Fetch per broker: each partition's fetch offset and generation.
    in_flight: HashMap<BrokerId, BTreeMap<TopicPartition, (Offset, u64)>>,
    completed: VecDeque<CompletedFetch>,
    buffered_bytes: usize,
    errors: Vec<PartitionError>,
    events: VecDeque<FetchEvent>,
    /// Source of generations and ListOffsets tokens (never reused).
    counter: u64,
    /// Draws of the retry backoff's jitter (the global generator, as before).
    jitter: Jitter,
}

fn not_assigned(tp: &TopicPartition) -> Error {
    Error::new(ErrorKind::InvalidArgument)
        .with_partition(&tp.topic, tp.partition)
        .with_detail(format!("partition {tp} is not assigned to this consumer"))
}

fn no_offset(tp: &TopicPartition) -> Error {
    Error::config(
        "auto.offset.reset",
        "none",
        format!("no committed offset for partition {tp}; seek to a position"),
    )
    .with_partition(&tp.topic, tp.partition)
}

fn out_of_range(tp: &TopicPartition, offset: Offset) -> Error {
    Error::from_broker_code(OFFSET_OUT_OF_RANGE)
        .with_partition(&tp.topic, tp.partition)
        .with_detail(format!(
            "fetch offset {offset} is out of range for partition {tp} and auto.offset.reset is none"
        ))
}

fn opt_offset(v: i64) -> Option<Offset> {
    (v >= 0).then_some(Offset(v))
}

impl Fetcher {
    /// A fetcher with no assigned partitions.
    pub fn new(config: FetchConfig) -> Fetcher {
        Fetcher {
            config,
            partitions: BTreeMap::new(),
            sessions: HashMap::new(),
            in_flight: HashMap::new(),
            completed: VecDeque::new(),
            buffered_bytes: 0,
            errors: Vec::new(),
            events: VecDeque::new(),
            counter: 0,
            jitter: Jitter::Global,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    fn next_id(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    // ----- assignment -----

    /// Sets the assignment to exactly `tps`. Partitions already assigned keep their state; new
    /// ones start `AwaitingCommitted` (or by `auto.offset.reset` without a group); the others are
    /// dropped with their buffered records.
    pub fn assign(&mut self, tps: impl IntoIterator<Item = TopicPartition>) {
        let wanted: std::collections::BTreeSet<TopicPartition> = tps.into_iter().collect();
        let gone: Vec<TopicPartition> = self
            .partitions
            .keys()
            .filter(|tp| !wanted.contains(tp))
            .cloned()
            .collect();
        self.unassign(&gone);
        for tp in wanted {
            if self.partitions.contains_key(&tp) {
                continue;
            }
            let status = if self.config.use_committed_offsets {
                FetchStatus::AwaitingCommitted
            } else {
                self.reset_status(&tp)
            };
            let generation = self.next_id();
            self.partitions
                .insert(tp.clone(), PartitionFetchState::new(status, generation));
            self.report_if_failed(&tp);
        }
    }

    /// Removes partitions from the assignment, with their buffered records; responses still in
    /// flight for them are ignored.
    pub fn unassign(&mut self, tps: &[TopicPartition]) {
        for tp in tps {
            self.partitions.remove(tp);
            self.discard_completed(tp);
        }
    }

    /// The assigned partitions, in order.
    pub fn assignment(&self) -> impl Iterator<Item = &TopicPartition> {
        self.partitions.keys()
    }

    /// Everything known about an assigned partition.
    pub fn state(&self, tp: &TopicPartition) -> Option<&PartitionFetchState> {
        self.partitions.get(tp)
    }

    // ----- application: positions -----

    /// The position (next offset `poll` hands out), if the partition has one.
    pub fn position(&self, tp: &TopicPartition) -> Option<FetchPosition> {
        self.partitions
            .get(tp)
            .and_then(PartitionFetchState::position)
    }

    /// The committed offset as last read or committed, if known (see
    /// [`PartitionFetchState::committed_known`] to tell "unknown" from "none").
    pub fn committed(&self, tp: &TopicPartition) -> Option<&CommittedOffset> {
        self.partitions
            .get(tp)
            .and_then(PartitionFetchState::committed)
    }

    /// Lag of the partition (high watermark, or last stable offset for read_committed, minus the
    /// position), once both are known.
    pub fn lag(&self, tp: &TopicPartition) -> Option<i64> {
        let isolation = self.config.isolation_level;
        self.partitions.get(tp).and_then(|s| s.lag(isolation))
    }

    /// Moves the position to `offset`. Records buffered or in flight from the old position are
    /// discarded. Errors if the partition is not assigned.
    pub fn seek(&mut self, tp: &TopicPartition, offset: Offset) -> Result<()> {
        self.reposition(tp, FetchStatus::Fetchable(FetchPosition::new(offset)))
    }

    /// Looks up the log start offset of each partition and moves there.
    pub fn seek_to_beginning(&mut self, tps: &[TopicPartition]) -> Result<()> {
        self.check_assigned(tps)?;
        for tp in tps {
            self.reposition(tp, FetchStatus::AwaitingReset(OffsetSpec::Earliest))?;
        }
        Ok(())
    }

    /// Looks up the end offset (the last stable offset for read_committed) and moves there.
    pub fn seek_to_end(&mut self, tps: &[TopicPartition]) -> Result<()> {
        self.check_assigned(tps)?;
        for tp in tps {
            self.reposition(tp, FetchStatus::AwaitingReset(OffsetSpec::Latest))?;
        }
        Ok(())
    }

    /// Looks up the first offset with a timestamp at or after `timestamp_ms` and moves there (to
    /// the end if there is none).
    pub fn seek_to_timestamp(&mut self, tp: &TopicPartition, timestamp_ms: i64) -> Result<()> {
        self.reposition(
            tp,
            FetchStatus::AwaitingReset(OffsetSpec::Timestamp(timestamp_ms)),
        )
    }

    /// Moves each partition's position back to its committed offset (product scenario 1: after
    /// a processing failure, re-deliver from the last commit). Uses the committed offset as last
    /// read or committed; if it is not known yet the partition waits for an OffsetFetch; if the
    /// coordinator has none, `auto.offset.reset` applies.
    pub fn seek_to_committed(&mut self, tps: &[TopicPartition]) -> Result<()> {
        self.check_assigned(tps)?;
        for tp in tps {
            let status = match self.partitions.get(tp).map(|s| &s.committed) {
                Some(Committed::Known(c)) => FetchStatus::Fetchable(FetchPosition {
                    offset: c.offset,
                    leader_epoch: c.leader_epoch,
                }),
                Some(Committed::NoOffset) => self.reset_status(tp),
                Some(Committed::Unknown) | None => FetchStatus::AwaitingCommitted,
            };
            self.reposition(tp, status)?;
            self.report_if_failed(tp);
        }
        Ok(())
    }

    /// Puts a failed partition's position back on the failed record `otherwise`: its committed
    /// offset when one is known (everything before the record was committed), else `otherwise`
    /// itself. A partition with nothing committed yet (the failure is on the first record
    /// processed in it) must not fall back to `auto.offset.reset`: `latest` would skip the failed
    /// record (and anything produced since), `none` would fail the partition.
    pub fn seek_to_committed_or(&mut self, tp: &TopicPartition, otherwise: Offset) -> Result<()> {
        if self.committed(tp).is_some() {
            self.seek_to_committed(std::slice::from_ref(tp))
        } else {
            self.seek(tp, otherwise)
        }
    }

    /// Stops fetching and handing out records of the partitions; positions are kept.
    pub fn pause(&mut self, tps: &[TopicPartition]) {
        for tp in tps {
            if let Some(s) = self.partitions.get_mut(tp) {
                s.paused = true;
            }
        }
    }

    /// Undoes [`pause`](Self::pause).
    pub fn resume(&mut self, tps: &[TopicPartition]) {
        for tp in tps {
            if let Some(s) = self.partitions.get_mut(tp) {
                s.paused = false;
            }
        }
    }

    fn check_assigned(&self, tps: &[TopicPartition]) -> Result<()> {
        match tps.iter().find(|tp| !self.partitions.contains_key(*tp)) {
            Some(tp) => Err(not_assigned(tp)),
            None => Ok(()),
        }
    }

    fn reposition(&mut self, tp: &TopicPartition, status: FetchStatus) -> Result<()> {
        let generation = self.next_id();
        let state = self
            .partitions
            .get_mut(tp)
            .ok_or_else(|| not_assigned(tp))?;
        state.reposition(status, generation);
        self.discard_completed(tp);
        Ok(())
    }

    fn reset_status(&self, tp: &TopicPartition) -> FetchStatus {
        PartitionFetchState::reset_status(self.config.auto_offset_reset, || no_offset(tp))
    }

    fn report_if_failed(&mut self, tp: &TopicPartition) {
        if let Some(FetchStatus::Failed(e)) = self.partitions.get(tp).map(|s| &s.status) {
            let error = e.clone();
            self.errors.push(PartitionError {
                tp: tp.clone(),
                error,
            });
        }
    }

    fn discard_completed(&mut self, tp: &TopicPartition) {
        let mut freed = 0;
        self.completed.retain(|c| {
            let keep = c.topic_partition() != tp;
            if !keep {
                freed += c.size();
            }
            keep
        });
        self.buffered_bytes = self.buffered_bytes.saturating_sub(freed);
        if let Some(s) = self.partitions.get_mut(tp) {
            s.buffered = 0;
            s.fetch_ahead = None;
        }
    }

    fn backoff(
        config: &FetchConfig,
        jitter: &mut Jitter,
        state: &mut PartitionFetchState,
        now: Instant,
    ) {
        let attempts = state.retry.map_or(0, |r| r.attempts.saturating_add(1));
        state.retry = Some(Retry {
            not_before: now + config.retry_backoff.delay_from(attempts, jitter),
            attempts,
        });
    }

    /// Queues a [`FetchEvent::Stalled`] for each partition whose stall has lasted `bound` and
    /// was not reported yet.
    pub fn poll_stalls(&mut self, now: Instant, bound: std::time::Duration) {
        for (tp, s) in &mut self.partitions {
            let Some(stall) = s.stall.as_mut() else {
                continue;
            };
            if now.saturating_duration_since(stall.since) < bound {
                continue;
            }
            if !stall.reported {
                stall.reported = true;
                self.events.push_back(FetchEvent::Stalled {
                    tp: tp.clone(),
                    stall: *stall,
                });
            }
        }
    }

    /// How many assigned partitions have been stalled (see [`PartitionFetchState::stall`]) for
    /// at least `bound`.
    pub fn stalled_partitions(&self, now: Instant, bound: std::time::Duration) -> usize {
        self.partitions
            .values()
            .filter_map(|s| s.stall.as_ref())
            .filter(|st| now.saturating_duration_since(st.since) >= bound)
            .count()
    }

    /// A fetch of the partition got an answer: a stall in progress ends.
    fn end_stall(
        events: &mut VecDeque<FetchEvent>,
        tp: &TopicPartition,
        s: &mut PartitionFetchState,
    ) {
        if let Some(stall) = s.stall.take() {
            if stall.reported {
                events.push_back(FetchEvent::StallEnded {
                    tp: tp.clone(),
                    stall,
                });
            }
        }
    }

    // ----- committed offsets (OffsetFetch, commits) -----

    /// Partitions that need an OffsetFetch now; they are marked in flight until
    /// [`on_committed`](Self::on_committed) or [`on_offset_fetch_failed`](Self::on_offset_fetch_failed).
    pub fn offset_fetch_plan(&mut self, now: Instant) -> Vec<TopicPartition> {
        let mut out = Vec::new();
        for (tp, s) in &mut self.partitions {
            if matches!(s.status, FetchStatus::AwaitingCommitted)
                && !s.offset_fetch_in_flight
                && !s.backing_off(now)
            {
                s.offset_fetch_in_flight = true;
                out.push(tp.clone());
            }
        }
        out
    }

    /// The coordinator's committed offset for `tp` (from OffsetFetch, or after a successful
    /// commit); `None` = it has none (OffsetFetch answered `-1`). A partition waiting for it gets
    /// its position from it (or from `auto.offset.reset` when there is none); otherwise only the
    /// committed value changes, never the position.
    pub fn on_committed(&mut self, tp: &TopicPartition, committed: Option<CommittedOffset>) {
        let Some(s) = self.partitions.get_mut(tp) else {
            return;
        };
        s.offset_fetch_in_flight = false;
        s.committed = match committed {
            Some(c) => Committed::Known(c),
            None => Committed::NoOffset,
        };
        if matches!(s.status, FetchStatus::AwaitingCommitted) {
            // Cannot fail: the partition is assigned.
            let _ = self.seek_to_committed(std::slice::from_ref(tp));
        }
    }

    /// The OffsetFetch for `tps` failed. Retriable errors back off and retry; others fail the
    /// partitions.
    pub fn on_offset_fetch_failed(&mut self, tps: &[TopicPartition], error: &Error, now: Instant) {
        for tp in tps {
            let Some(s) = self.partitions.get_mut(tp) else {
                continue;
            };
            s.offset_fetch_in_flight = false;
            if !matches!(s.status, FetchStatus::AwaitingCommitted) {
                continue;
            }
            if error.is_retriable() {
                Self::backoff(&self.config, &mut self.jitter, s, now);
            } else {
                s.status =
                    FetchStatus::Failed(error.clone().with_partition(&tp.topic, tp.partition));
                self.report_if_failed(tp);
            }
        }
    }

    // ----- offset resets (ListOffsets) -----

    /// ListOffsets requests for the partitions awaiting a reset, grouped by leader. Partitions
    /// without a known leader are skipped (refresh metadata). Each is marked in flight.
    pub fn list_offsets_plan(
        &mut self,
        now: Instant,
        leader_of: impl Fn(&TopicPartition) -> Option<(BrokerId, LeaderEpoch)>,
    ) -> Vec<ListOffsetsPlan> {
        let mut by_broker: BTreeMap<BrokerId, Vec<ListOffsetsPartition>> = BTreeMap::new();
        let mut counter = self.counter;
        for (tp, s) in &mut self.partitions {
            let FetchStatus::AwaitingReset(spec) = s.status else {
                continue;
            };
            if s.list_offsets_token.is_some() || s.backing_off(now) {
                continue;
            }
            let Some((broker, epoch)) = leader_of(tp) else {
                continue;
            };
            counter += 1;
            s.list_offsets_token = Some(counter);
            by_broker
                .entry(broker)
                .or_default()
                .push(ListOffsetsPartition {
                    tp: tp.clone(),
                    spec,
                    current_leader_epoch: epoch,
                    token: counter,
                });
        }
        self.counter = counter;
        let isolation_level = self.config.isolation_level;
        by_broker
            .into_iter()
            .map(|(broker, partitions)| ListOffsetsPlan {
                broker,
                isolation_level,
                partitions,
            })
            .collect()
    }

    /// The ListOffsets answer for `tp` (with the plan's `token`). Ignored if the partition was
    /// repositioned since. A timestamp with no offset moves to the end; a retriable error backs
    /// off (and asks for a metadata refresh when the leader moved); another error fails the
    /// partition.
    pub fn on_list_offsets(
        &mut self,
        tp: &TopicPartition,
        token: u64,
        result: Result<ListOffsetsResult>,
        now: Instant,
    ) {
        let Some(s) = self.partitions.get_mut(tp) else {
            return;
        };
        let FetchStatus::AwaitingReset(spec) = s.status else {
            return;
        };
        if s.list_offsets_token != Some(token) {
            return;
        }
        s.list_offsets_token = None;
        let status = match result {
            Ok(r) if r.offset.get() >= 0 => FetchStatus::Fetchable(FetchPosition {
                offset: r.offset,
                leader_epoch: r.leader_epoch,
            }),
            Ok(_) if matches!(spec, OffsetSpec::Timestamp(_)) => {
                FetchStatus::AwaitingReset(OffsetSpec::Latest)
            }
            Ok(_) => {
                Self::backoff(&self.config, &mut self.jitter, s, now);
                return;
            }
            Err(e) => {
                let e = e.with_partition(&tp.topic, tp.partition);
                if e.needs_leader_lookup() {
                    self.events.push_back(FetchEvent::RefreshMetadata {
                        tp: tp.clone(),
                        error: e.clone(),
                    });
                }
                if e.is_retriable() {
                    Self::backoff(&self.config, &mut self.jitter, s, now);
                    return;
                }
                FetchStatus::Failed(e)
            }
        };
        // Cannot fail: the partition is assigned.
        let _ = self.reposition(tp, status);
        self.report_if_failed(tp);
    }
}

mod fetching;
