//! The Fetch half of [`Fetcher`]: planning requests, handling responses, `poll`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use crate::error::code::{
    FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH, OFFSET_OUT_OF_RANGE,
};
use crate::types::{BrokerId, LeaderEpoch, TopicPartition};
use crate::Error;

use super::super::{
    CompletedFetch, FetchPosition, FetchStatus, IsolationLevel, PartitionFetchState,
    SessionPartition, Stall,
};
use super::opt_offset;
use super::MAX_BUFFERED_FETCHES;
use super::{
    out_of_range, FetchEvent, FetchPartition, FetchPlan, FetchResponseData, Fetcher,
    PartitionError, Polled,
};
use crate::protocol::records::next_offset_after;
use crate::types::Offset;

impl Fetcher {
    /// Fetch requests to send now, one per broker with no fetch outstanding, for the partitions
    /// that are fetchable, not paused, not backing off, not already in flight and without
    /// buffered records. Nothing is planned while the buffered bytes are at
    /// [`max_buffered_bytes`](super::super::FetchConfig::max_buffered_bytes). `leader_of` gives a
    /// partition's leader and its leader epoch from metadata; partitions without one are skipped.
    pub fn fetch_plan(
        &mut self,
        now: Instant,
        leader_of: impl Fn(&TopicPartition) -> Option<(BrokerId, LeaderEpoch)>,
    ) -> Vec<FetchPlan> {
        if self.buffered_bytes >= self.config.max_buffered_bytes {
            return Vec::new();
        }
        let max_bytes = self.config.max_partition_fetch_bytes;
        let mut wanted: BTreeMap<BrokerId, Vec<(TopicPartition, SessionPartition, u64)>> =
            BTreeMap::new();
        // Brokers leading a partition that has data but is held back by its own buffer (the
        // application has not drained it yet).
        let mut held: BTreeSet<BrokerId> = BTreeSet::new();
        for (tp, s) in &mut self.partitions {
            let FetchStatus::Fetchable(position) = s.status else {
                continue;
            };
            if s.paused || s.fetch_in_flight || s.backing_off(now) {
                continue;
            }
            // Fetch ahead of buffered records, from the end of the newest buffered fetch; if
            // that end is unknown (no complete batch in it), wait for it to be drained.
            let from = match (s.buffered, s.fetch_ahead) {
                (b, _) if b >= MAX_BUFFERED_FETCHES => None,
                (0, _) => Some(position),
                (_, Some(ahead)) => Some(ahead),
                (_, None) => None,
            };
            let Some((broker, epoch)) = leader_of(tp) else {
                continue;
            };
            let Some(from) = from else {
                held.insert(broker);
                continue;
            };
            if self.in_flight.contains_key(&broker) {
                continue;
            }
            match s.leader.replace((broker, epoch)) {
                Some(from) if from.0 != broker => {
                    self.events.push_back(FetchEvent::LeaderChanged {
                        tp: tp.clone(),
                        from,
                        to: (broker, epoch),
                    })
                }
                _ => {}
            }
            let sp = SessionPartition {
                fetch_offset: from.offset,
                current_leader_epoch: epoch,
                partition_max_bytes: max_bytes,
            };
            wanted
                .entry(broker)
                .or_default()
                .push((tp.clone(), sp, s.generation));
        }
        // Issue #26: a fetch of caught-up partitions only is a long poll (the broker holds it
        // for fetch.max.wait.ms, 500 ms by default), and while it is out no other fetch goes to
        // that broker — so a partition of the same broker whose buffer the application is
        // draining would wait for it, though the broker has its next records ready: a consumer
        // of uneven partitions slowed 5-10x. Such a fetch is not sent while a partition of that
        // broker is held back by its buffer; the drain wakes the fetch task, and the next plan
        // asks for that partition and the idle ones together, answered at once.
        let partitions = &self.partitions;
        wanted.retain(|broker, parts| {
            !held.contains(broker)
                || !parts
                    .iter()
                    .all(|(tp, _, _)| partitions.get(tp).is_some_and(|s| s.idle))
        });
        let mut plans = Vec::with_capacity(wanted.len());
        for (broker, parts) in wanted {
            let session = self.sessions.entry(broker).or_default();
            let request = session.build(parts.iter().map(|(tp, sp, _)| (tp.clone(), *sp)));
            let mut flight = BTreeMap::new();
            for (tp, sp, generation) in parts {
                if let Some(s) = self.partitions.get_mut(&tp) {
                    s.fetch_in_flight = true;
                }
                flight.insert(tp, (sp.fetch_offset, generation));
            }
            self.in_flight.insert(broker, flight);
            plans.push(FetchPlan {
                broker,
                session_id: request.session_id,
                session_epoch: request.session_epoch,
                partitions: request
                    .partitions
                    .into_iter()
                    .map(|(tp, sp)| FetchPartition {
                        tp,
                        fetch_offset: sp.fetch_offset,
                        current_leader_epoch: sp.current_leader_epoch,
                        partition_max_bytes: sp.partition_max_bytes,
                    })
                    .collect(),
                forgotten: request.forgotten,
                max_wait: self.config.fetch_max_wait,
                min_bytes: self.config.fetch_min_bytes,
                max_bytes: self.config.fetch_max_bytes,
                isolation_level: self.config.isolation_level,
            });
        }
        plans
    }

    /// Handles the response to the Fetch planned for `broker`. Partition data is used only if
    /// the partition is still assigned and has not been repositioned since the request was
    /// planned; otherwise it is dropped.
    pub fn on_fetch_response(
        &mut self,
        broker: BrokerId,
        response: FetchResponseData,
        now: Instant,
    ) {
        let Some(flight) = self.in_flight.remove(&broker) else {
            return; // not ours (e.g. after close)
        };
        for tp in flight.keys() {
            if let Some(s) = self.partitions.get_mut(tp) {
                s.fetch_in_flight = false;
            }
        }
        let session = self.sessions.entry(broker).or_default();
        if !session.on_response(response.error_code, response.session_id) {
            if matches!(
                response.error_code,
                0 | FETCH_SESSION_ID_NOT_FOUND | INVALID_FETCH_SESSION_EPOCH
            ) {
                return; // session reset: the next plan is a full fetch, at once
            }
            let error = Error::from_broker_code(response.error_code)
                .with_broker(broker.to_string())
                .with_api("Fetch");
            self.fail_flight(&flight, &error, now);
            return;
        }
        // An incremental fetch session's response leaves out the partitions with nothing new
        // (KIP-227): those are caught up, as an empty answer would say.
        if response.partitions.len() < flight.len() {
            self.mark_left_out_idle(&flight, &response.partitions);
        }
        for p in response.partitions {
            let Some(&(fetch_offset, generation)) = flight.get(&p.tp) else {
                continue; // not requested
            };
            let Some(s) = self.partitions.get_mut(&p.tp) else {
                continue; // unassigned since
            };
            let FetchStatus::Fetchable(position) = s.status else {
                continue;
            };
            let expected = match (s.buffered, s.fetch_ahead) {
                (0, _) => position,
                (_, Some(ahead)) => ahead,
                (_, None) => continue,
            };
            // The leader answered for the partition: whatever the answer, it is reachable.
            Self::end_stall(&mut self.events, &p.tp, s);
            if s.generation != generation || expected.offset != fetch_offset {
                continue; // repositioned since: stale
            }
            match p.error_code {
                0 => {
                    s.retry = None;
                    s.high_watermark = opt_offset(p.high_watermark);
                    s.last_stable_offset = opt_offset(p.last_stable_offset);
                    s.log_start_offset = opt_offset(p.log_start_offset);
                    s.idle = p.records.is_empty();
                    if p.records.is_empty() {
                        continue;
                    }
                    let aborted = match self.config.isolation_level {
                        IsolationLevel::ReadCommitted => p.aborted_transactions,
                        IsolationLevel::ReadUncommitted => Vec::new(),
                    };
                    s.fetch_ahead = next_offset_after(&p.records).map(|next| FetchPosition {
                        offset: Offset(next),
                        leader_epoch: expected.leader_epoch,
                    });
                    let completed = CompletedFetch::new(
                        p.tp,
                        generation,
                        expected,
                        p.records,
                        aborted,
                        self.config.isolation_level,
                        self.config.decode,
                    );
                    s.buffered = s.buffered.saturating_add(1);
                    self.buffered_bytes += completed.size();
                    self.completed.push_back(completed);
                }
                OFFSET_OUT_OF_RANGE => {
                    let tp = p.tp;
                    let status =
                        PartitionFetchState::reset_status(self.config.auto_offset_reset, || {
                            out_of_range(&tp, fetch_offset)
                        });
                    // Cannot fail: the partition is assigned.
                    let _ = self.reposition(&tp, status);
                    self.report_if_failed(&tp);
                }
                code => {
                    let error = Error::from_broker_code(code)
                        .with_partition(&p.tp.topic, p.tp.partition)
                        .with_broker(broker.to_string())
                        .with_api("Fetch");
                    Self::backoff(&self.config, &mut self.jitter, s, now);
                    if error.needs_leader_lookup() {
                        self.events
                            .push_back(FetchEvent::RefreshMetadata { tp: p.tp, error });
                    } else {
                        self.errors.push(PartitionError { tp: p.tp, error });
                    }
                }
            }
        }
    }

    /// Marks the partitions a fetch asked for but its (incremental) response left out as caught
    /// up, if the answer is still for their current position.
    fn mark_left_out_idle(
        &mut self,
        flight: &BTreeMap<TopicPartition, (Offset, u64)>,
        answered: &[super::super::FetchResponsePartition],
    ) {
        let present: BTreeSet<&TopicPartition> = answered.iter().map(|p| &p.tp).collect();
        for (tp, &(fetch_offset, generation)) in flight {
            if present.contains(tp) {
                continue;
            }
            let Some(s) = self.partitions.get_mut(tp) else {
                continue;
            };
            let expected = match (&s.status, s.buffered, s.fetch_ahead) {
                (FetchStatus::Fetchable(position), 0, _) => Some(position.offset),
                (FetchStatus::Fetchable(_), _, Some(ahead)) => Some(ahead.offset),
                _ => None,
            };
            if s.generation == generation && expected == Some(fetch_offset) {
                s.idle = true;
            }
        }
    }

    /// The Fetch to `broker` failed as a whole (disconnect, timeout, undecodable response): its
    /// partitions back off, and the session's next request is a full fetch.
    pub fn on_fetch_error(&mut self, broker: BrokerId, error: &Error, now: Instant) {
        let Some(flight) = self.in_flight.remove(&broker) else {
            return;
        };
        if let Some(session) = self.sessions.get_mut(&broker) {
            session.on_request_failed();
        }
        for tp in flight.keys() {
            let Some(s) = self.partitions.get_mut(tp) else {
                continue;
            };
            if !error.is_connectivity_failure() {
                Self::end_stall(&mut self.events, tp, s);
                continue;
            }
            // A stall goes on when the next leader cannot be reached either.
            match s.stall.as_mut() {
                Some(stall) => stall.node = broker,
                None => {
                    s.stall = Some(Stall {
                        node: broker,
                        since: now,
                        reported: false,
                    })
                }
            }
        }
        self.fail_flight(&flight, error, now);
    }

    fn fail_flight(
        &mut self,
        flight: &BTreeMap<TopicPartition, (crate::types::Offset, u64)>,
        error: &Error,
        now: Instant,
    ) {
        for tp in flight.keys() {
            let Some(s) = self.partitions.get_mut(tp) else {
                continue;
            };
            s.fetch_in_flight = false;
            Self::backoff(&self.config, &mut self.jitter, s, now);
            // A broker that cannot be reached may be down for good while its partitions are led
            // elsewhere: look the leader up again rather than wait for metadata.max.age.ms.
            if error.needs_leader_lookup() {
                self.events.push_back(FetchEvent::RefreshMetadata {
                    tp: tp.clone(),
                    error: error.clone(),
                });
            }
        }
    }

    /// Hands out up to `max_records` records (`max.poll.records`) across partitions, in the order
    /// their fetches completed, and the partition errors since the last poll. A partition's
    /// position moves to after the last record handed out (and past control or aborted batches
    /// that follow it), never further. A corrupt batch ends that partition's records with an
    /// error, its position staying at the bad offset; it is fetched again after a backoff.
    /// Paused partitions keep their buffered records.
    pub fn poll(&mut self, max_records: usize, now: Instant) -> Polled {
        let mut out = Polled {
            records: Vec::new(),
            errors: std::mem::take(&mut self.errors),
        };
        let mut remaining = max_records;
        let mut kept = VecDeque::with_capacity(self.completed.len());
        while let Some(mut fetch) = self.completed.pop_front() {
            let tp = fetch.topic_partition().clone();
            let state = self.partitions.get_mut(&tp);
            let Some(s) = state.filter(|s| s.generation == fetch.generation()) else {
                self.buffered_bytes = self.buffered_bytes.saturating_sub(fetch.size());
                continue; // stale (eager discards make this rare)
            };
            if s.paused || remaining == 0 {
                kept.push_back(fetch);
                continue;
            }
            while remaining > 0 {
                match fetch.next_record() {
                    Ok(Some(record)) => {
                        out.records.push(record);
                        remaining -= 1;
                    }
                    Ok(None) => break,
                    Err(error) => {
                        Self::backoff(&self.config, &mut self.jitter, s, now);
                        // Fetches buffered ahead of the bad batch must not be handed out: a
                        // new generation makes them (and one in flight) stale.
                        self.counter += 1;
                        s.generation = self.counter;
                        s.buffered = 1; // this one, released below
                        s.fetch_ahead = None;
                        out.errors.push(PartitionError {
                            tp: tp.clone(),
                            error,
                        });
                        break;
                    }
                }
            }
            if let FetchStatus::Fetchable(_) = s.status {
                s.status = FetchStatus::Fetchable(fetch.position());
            }
            if fetch.is_done() {
                s.buffered = s.buffered.saturating_sub(1);
                if s.buffered == 0 {
                    s.fetch_ahead = None;
                }
                self.buffered_bytes = self.buffered_bytes.saturating_sub(fetch.size());
            } else {
                kept.push_back(fetch);
            }
        }
        self.completed = kept;
        out
    }

    /// The next thing the async layer must do, if any.
    pub fn poll_event(&mut self) -> Option<FetchEvent> {
        self.events.pop_front()
    }

    /// The earliest time after `now` at which a partition's backoff ends (plan again then).
    pub fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        self.partitions
            .values()
            .filter_map(|s| s.retry.map(|r| r.not_before))
            .filter(|t| *t > now)
            .min()
    }

    /// Bytes of fetched records not yet handed out.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered_bytes
    }

    /// Whether a Fetch to `broker` is outstanding.
    pub fn fetch_in_flight(&self, broker: BrokerId) -> bool {
        self.in_flight.contains_key(&broker)
    }

    /// Ends every fetch session: `(broker, session_id, epoch = -1)` for each one to close with
    /// a final Fetch (no partitions needed). Outstanding fetches are forgotten.
    pub fn close_sessions(&mut self) -> Vec<(BrokerId, i32, i32)> {
        self.in_flight.clear();
        for s in self.partitions.values_mut() {
            s.fetch_in_flight = false;
        }
        let mut out: Vec<_> = self
            .sessions
            .iter_mut()
            .filter_map(|(b, s)| s.close().map(|(id, epoch)| (*b, id, epoch)))
            .collect();
        out.sort();
        out
    }
}
