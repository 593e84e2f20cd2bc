//! The I/O-free core of the producer's send path: idempotence (KIP-98), retries, the KIP-360
//! epoch bump, and delivery timeouts.
//!
//! The async sender moves bytes and runs timers; every decision is made here. Inputs are method
//! calls with `now` passed in, outputs are polled, in the style of quinn-proto and rustls:
//!
//! ```text
//!  accumulator ──enqueue(tp, batch, records, created_at)──►┐
//!  sender loop ──next_sendable(tp, now) / mark_sent(..)───►│  ProducerState  ──poll_event()──► Complete / Retry /
//!  responses  ──on_produce_response(tp, batch, result)───►│                    RefreshMetadata / NeedProducerId /
//!  InitProducerId ──on_init_producer_id(result, now)─────►│                    EpochBumped / Fatal
//!  timer      ──on_delivery_timeout_check(now)───────────►┘  ──poll_timeout()──► next wake-up
//! ```
//!
//! # Lifecycle of a batch
//! 1. The accumulator closes a batch and registers it with [`ProducerState::enqueue`]. It is
//!    *queued*: no sequence yet.
//! 2. The sender asks [`ProducerState::next_sendable`]; when it says `Send`, the sender calls
//!    [`ProducerState::mark_sent`], which stamps `(producer_id, epoch, base_sequence)` the first
//!    time and returns the stamp to write into the batch header. The stamp is kept across
//!    retries; a sequence range is never given to other records.
//! 3. The response goes to [`ProducerState::on_produce_response`]; the batch completes, or waits
//!    for a retry (a `Retry` event; `next_sendable` offers it again after its backoff).
//! 4. [`ProducerState::on_delivery_timeout_check`] fails batches older than
//!    `delivery.timeout.ms` that are not outstanding.
//!
//! # What happens to unacknowledged batches on a sequence reset (KIP-360)
//! After `OUT_OF_ORDER_SEQUENCE_NUMBER` / `UNKNOWN_PRODUCER_ID` on a partition's oldest
//! unresolved batch, or a batch failing for certain (a hole in the sequences), the partition stops
//! taking new batches. Its outstanding requests are awaited (their responses are recorded; the
//! ones after the gap come back out of order and wait). When none is outstanding, the producer
//! bumps its epoch locally (or asks for a new id when the epoch is exhausted), and every
//! unresolved batch of that partition is re-stamped from sequence 0 under the new epoch, in its
//! original order, and retried. Batches of other partitions keep their old stamps until they
//! resolve; a partition's first new batch under the new epoch starts at sequence 0 and waits for
//! the old ones. Acknowledged batches are never re-sent; no batch is dropped silently.
//!
//! # Decisions (and where they differ from Java's `TransactionManager`)
//! - **Epoch bump is local.** Like Java's `bumpIdempotentProducerEpoch`, a non-transactional
//!   producer increments its epoch without a request (the broker accepts a higher epoch that
//!   starts at sequence 0); InitProducerId is sent only at start and when the epoch reaches
//!   `i16::MAX`. Unlike Java, the re-stamp waits until the partition has no request outstanding,
//!   so a response never refers to a stamp that has since been replaced.
//! - **A permanently failed batch leaves a hole**; like Java's idempotent path
//!   (`requestIdempotentEpochBumpForPartition`, not the transactional
//!   `adjustSequencesDueToFailedBatch`), the partition's sequences are reset, once the batches
//!   stamped before the hole have resolved.
//! - **An acknowledgement proves its predecessors.** The broker appends one producer's batches
//!   in sequence order within an epoch, so when a batch is acknowledged, every earlier batch of
//!   the partition with the same id and epoch is completed as `Persisted` (offset unknown) even
//!   if its own response was lost. Retrying it instead could send it after it has left the
//!   broker's 5-batch deduplication window, get `OUT_OF_ORDER_SEQUENCE_NUMBER`, and re-stamp a
//!   batch that is already in the log (the seeded model-broker simulation in the tests found
//!   exactly this).
//! - **Persistence of a failed batch** is `NotPersisted` only when no attempt can have been
//!   written: never sent, `Disconnected { sent: false }`, or a broker error that rejects before
//!   appending. Any timeout, a connection lost after writing, `REQUEST_TIMED_OUT`,
//!   `NOT_ENOUGH_REPLICAS_AFTER_APPEND` or `UNKNOWN_SERVER_ERROR` makes it `PossiblyPersisted`
//!   for good. (Stricter than "sent ⇒ possibly": a batch that was sent and rejected with
//!   `NOT_ENOUGH_REPLICAS` every time is `NotPersisted`.)
//! - **Outstanding batches are not expired** by the delivery timeout; the response or the
//!   request timeout decides (see [`ProducerState::on_delivery_timeout_check`]).
//! - **Classification** follows [`Error`]: `is_fatal()` codes (`PRODUCER_FENCED`,
//!   `INVALID_PRODUCER_EPOCH`, `CLUSTER_AUTHORIZATION_FAILED`, `TRANSACTIONAL_ID_AUTHORIZATION_FAILED`,
//!   `UNSUPPORTED_VERSION`) are fatal; `is_retriable()` ones are retried; the rest fail the batch.
//!   Java instead treats `INVALID_PRODUCER_EPOCH` on a produce as a batch failure plus epoch bump
//!   for idempotent producers; here it cannot arise from this client's own bumps (a partition
//!   switches epoch only after its old-epoch batches resolve), so it means another writer.
//! - **Simplified:** `UNKNOWN_PRODUCER_ID` is handled like `OUT_OF_ORDER_SEQUENCE_NUMBER`; Java's
//!   extra check against the response's `log_start_offset` (retry without a bump when it is -1)
//!   is not done.
//! - **Without idempotence** batches carry no sequence; retries go before new batches but a
//!   retried batch may land after later ones (as in Java with `max.in.flight > 1`).

mod config;
mod events;
mod identity;
mod partition;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

pub use config::{Acks, StateConfig};
pub use events::{BatchId, Outcome, PartitionAck, ProducerEvent, SendDecision, Stamp};
pub use identity::{ProducerIdAndEpoch, ProducerIdState};
pub use partition::{LastAck, PartitionState, PartitionSync};

use crate::producer::Persistence;
use crate::retry::{Backoff, Jitter};
use crate::types::{Sequence, TopicPartition};
use crate::{Error, ErrorKind, Result};
use partition::{DecideContext, Phase, QueuedBatch, StampedBatch};

// DUPLICATE_SEQUENCE_NUMBER: the broker already has this batch; a success.
use crate::error::code::{
    DUPLICATE_SEQUENCE_NUMBER, NOT_ENOUGH_REPLICAS_AFTER_APPEND, OUT_OF_ORDER_SEQUENCE_NUMBER,
    REQUEST_TIMED_OUT, UNKNOWN_PRODUCER_ID, UNKNOWN_SERVER_ERROR,
};

/// The producer's send-path state: identity plus one [`PartitionState`] per partition.
#[derive(Debug)]
pub struct ProducerState {
    config: StateConfig,
    backoff: Backoff,
    identity: ProducerIdState,
    partitions: BTreeMap<TopicPartition, PartitionState>,
    events: VecDeque<ProducerEvent>,
    /// Seeded from `jitter_seed`, so a simulation replays the same delays.
    jitter: Jitter,
}

impl ProducerState {
    /// A new state machine. With idempotence it starts `Initializing` and the first event is
    /// [`ProducerEvent::NeedProducerId`].
    pub fn new(config: StateConfig, now: Instant) -> Result<ProducerState> {
        config.validate()?;
        let mut events = VecDeque::new();
        let identity = if config.idempotence {
            events.push_back(ProducerEvent::NeedProducerId { not_before: now });
            ProducerIdState::Initializing { attempts: 0 }
        } else {
            ProducerIdState::Disabled
        };
        Ok(ProducerState {
            backoff: Backoff::new(config.retry_backoff, config.retry_backoff_max),
            jitter: Jitter::seeded(config.jitter_seed),
            config,
            identity,
            partitions: BTreeMap::new(),
            events,
        })
    }

    /// The producer's identity.
    pub fn identity(&self) -> &ProducerIdState {
        &self.identity
    }

    /// A partition's state, once a batch was registered for it.
    pub fn partition(&self, tp: &TopicPartition) -> Option<&PartitionState> {
        self.partitions.get(tp)
    }

    /// Partitions with queued or unresolved batches.
    pub fn busy_partitions(&self) -> impl Iterator<Item = &TopicPartition> {
        self.partitions
            .iter()
            .filter(|(_, p)| !p.is_empty())
            .map(|(tp, _)| tp)
    }

    /// Batches registered and not completed yet, over all partitions (0 once a flush is done).
    pub fn incomplete_batches(&self) -> usize {
        self.partitions
            .values()
            .map(|p| p.queued_count() + p.unacked_count())
            .sum()
    }

    /// Gives up on everything, e.g. on a forced close: the producer becomes
    /// [`ProducerIdState::Fatal`] with `error` and every batch fails as after a fatal error
    /// (queued `NotPersisted`, outstanding `PossiblyPersisted`). A no-op if already fatal.
    pub fn abort(&mut self, error: Error) {
        self.enter_fatal(error);
    }

    /// Registers a closed batch of `record_count` records, created (first record appended) at
    /// `created_at`. `batch_id` must be new. After a fatal error the batch fails at once
    /// (a `Complete` event with `NotPersisted`).
    pub fn enqueue(
        &mut self,
        tp: &TopicPartition,
        batch_id: BatchId,
        record_count: i32,
        created_at: Instant,
    ) -> Result<()> {
        if record_count < 1 {
            return Err(Error::new(ErrorKind::InvalidArgument)
                .with_detail(format!("batch {batch_id:?} has {record_count} records")));
        }
        if let ProducerIdState::Fatal(error) = &self.identity {
            self.events.push_back(ProducerEvent::Complete {
                partition: tp.clone(),
                batch_id,
                outcome: Outcome::Failed {
                    error: error.clone(),
                    persistence: Persistence::NotPersisted,
                },
            });
            return Ok(());
        }
        self.partitions
            .entry(tp.clone())
            .or_insert_with(PartitionState::new)
            .queued
            .push_back(QueuedBatch {
                id: batch_id,
                record_count,
                created_at,
            });
        Ok(())
    }

    fn decide_context(&self) -> DecideContext {
        DecideContext {
            idempotent: self.config.idempotence,
            max_in_flight: self.config.max_in_flight,
            current: self.identity.current(),
            first_batch_alone: self.config.first_batch_alone,
        }
    }

    /// What may be sent next on `tp` (see [`SendDecision`]). Does not change anything.
    pub fn next_sendable(&self, tp: &TopicPartition, now: Instant) -> SendDecision {
        if self.identity.fatal_error().is_some() {
            return SendDecision::Idle;
        }
        match self.partitions.get(tp) {
            Some(p) => p.decide(&self.decide_context(), now),
            None => SendDecision::Idle,
        }
    }

    /// Whether [`next_sendable`](Self::next_sendable) says `Send`.
    pub fn can_send(&self, tp: &TopicPartition, now: Instant) -> bool {
        matches!(self.next_sendable(tp, now), SendDecision::Send { .. })
    }

    /// Marks `batch_id` as handed to the connection and returns the stamp to write into its
    /// header (assigned now for a first send, kept for a retry). The batch must be the one
    /// [`next_sendable`](Self::next_sendable) offers; otherwise `InvalidArgument`.
    pub fn mark_sent(
        &mut self,
        tp: &TopicPartition,
        batch_id: BatchId,
        now: Instant,
    ) -> Result<Stamp> {
        let offered = self.next_sendable(tp, now);
        let retry = match offered {
            SendDecision::Send { batch_id: b, retry } if b == batch_id => retry,
            other => {
                return Err(Error::new(ErrorKind::InvalidArgument).with_detail(format!(
                    "batch {batch_id:?} of {tp} is not sendable now ({other:?})"
                )))
            }
        };
        let current = self.identity.current();
        let idempotent = self.config.idempotence;
        let Some(part) = self.partitions.get_mut(tp) else {
            return Err(Error::new(ErrorKind::InvalidArgument).with_detail(format!("{tp} unknown")));
        };
        if retry {
            let Some(batch) = part.unacked.iter_mut().find(|b| b.id == batch_id) else {
                return Err(Error::new(ErrorKind::InvalidArgument)
                    .with_detail(format!("batch {batch_id:?} not unresolved")));
            };
            batch.phase = Phase::Outstanding;
            return Ok(batch.stamp);
        }
        let Some(queued) = part.queued.pop_front() else {
            return Err(Error::new(ErrorKind::InvalidArgument)
                .with_detail(format!("batch {batch_id:?} not queued")));
        };
        let stamp = match (idempotent, current) {
            (true, Some(identity)) => {
                if part.stamped_with != Some(identity) {
                    // First batch under a new identity: `decide` guaranteed nothing stamped
                    // under the old one is unresolved, so the sequences start over.
                    part.next_sequence = Sequence(0);
                    part.stamped_with = Some(identity);
                    part.last_ack = None;
                    part.last_ack_position = None;
                }
                let stamp = Stamp {
                    producer_id: identity.producer_id,
                    producer_epoch: identity.epoch,
                    base_sequence: part.next_sequence,
                };
                part.next_sequence = part.next_sequence.add(queued.record_count);
                stamp
            }
            _ => Stamp::NONE,
        };
        part.unacked.push_back(StampedBatch {
            id: queued.id,
            record_count: queued.record_count,
            created_at: queued.created_at,
            stamp,
            position: part.next_position,
            phase: Phase::Outstanding,
            failed_attempts: 0,
            possibly_written: false,
            last_error: None,
        });
        part.next_position += 1;
        Ok(stamp)
    }

    /// Records the outcome of one attempt of `batch_id`: `Ok` with the partition's response
    /// (with `acks=0`, `Ok(PartitionAck::default())` once the request is written), or `Err`
    /// with the partition's broker error code (`Error::from_broker_code`) or a transport error
    /// (`Disconnected { sent }`, `RequestTimeout`, ...). Responses for batches that are not
    /// outstanding (e.g. after a fatal error) are ignored.
    pub fn on_produce_response(
        &mut self,
        tp: &TopicPartition,
        batch_id: BatchId,
        result: std::result::Result<PartitionAck, Error>,
        now: Instant,
    ) {
        let Some(part) = self.partitions.get_mut(tp) else {
            return;
        };
        let Some(index) = part
            .unacked
            .iter()
            .position(|b| b.id == batch_id && b.phase == Phase::Outstanding)
        else {
            return;
        };
        match result {
            Ok(ack) => self.complete_acked(tp, index, Some(ack)),
            Err(e) if e.broker_code() == Some(DUPLICATE_SEQUENCE_NUMBER) => {
                self.complete_acked(tp, index, None)
            }
            Err(e) => self.failed_attempt(tp, index, e, now),
        }
        self.reconcile(tp, now);
    }

    fn complete_acked(&mut self, tp: &TopicPartition, index: usize, ack: Option<PartitionAck>) {
        let acks_none = self.config.acks == Acks::None;
        let Some(part) = self.partitions.get_mut(tp) else {
            return;
        };
        let Some(batch) = part.unacked.remove(index) else {
            return;
        };
        if self.config.idempotence {
            // The broker appends a producer's batches only in sequence order within an epoch,
            // so an earlier batch under the same stamp identity is in the log too, even if its
            // own response was lost. Completing it now also keeps it from being retried after
            // it has left the broker's 5-batch deduplication window (it would come back out of
            // order and be re-stamped: a duplicate).
            let earlier = part
                .unacked
                .iter()
                .take(index)
                .take_while(|b| same_identity(&b.stamp, &batch.stamp))
                .count();
            for implied in part.unacked.drain(..earlier) {
                self.events.push_back(ProducerEvent::Complete {
                    partition: tp.clone(),
                    batch_id: implied.id,
                    outcome: Outcome::Persisted {
                        base_offset: None,
                        log_append_time_ms: None,
                        log_start_offset: None,
                    },
                });
            }
        }
        let ack = ack.unwrap_or_default();
        part.note_acked(
            batch.position,
            LastAck {
                last_sequence: batch.stamp.last_sequence(batch.record_count),
                base_offset: ack.base_offset,
            },
        );
        let outcome = if acks_none {
            Outcome::Unacknowledged
        } else {
            Outcome::Persisted {
                base_offset: ack.base_offset,
                log_append_time_ms: ack.log_append_time_ms,
                log_start_offset: ack.log_start_offset,
            }
        };
        self.events.push_back(ProducerEvent::Complete {
            partition: tp.clone(),
            batch_id: batch.id,
            outcome,
        });
    }

    fn failed_attempt(&mut self, tp: &TopicPartition, index: usize, error: Error, now: Instant) {
        let idempotent = self.config.idempotence;
        let timeout = self.config.delivery_timeout;
        let Some(part) = self.partitions.get_mut(tp) else {
            return;
        };
        let Some(batch) = part.unacked.get_mut(index) else {
            return;
        };
        batch.failed_attempts = batch.failed_attempts.saturating_add(1);
        batch.possibly_written |= may_have_been_written(&error);
        batch.last_error = Some(error.clone());
        let position = batch.position;
        let expired = now >= batch.created_at + timeout;
        let attempts = batch.failed_attempts;
        let retries = self.config.retries;

        if error.is_fatal() {
            self.fail_stamped(tp, index, error.clone());
            self.enter_fatal(error);
            return;
        }
        if error.needs_leader_lookup() {
            self.events.push_back(ProducerEvent::RefreshMetadata {
                topic: tp.topic.clone(),
            });
        }
        let sequence_error = idempotent
            && matches!(
                error.broker_code(),
                Some(OUT_OF_ORDER_SEQUENCE_NUMBER | UNKNOWN_PRODUCER_ID)
            );
        if sequence_error {
            part.note_sequence_error(position, index == 0);
        }
        if !(error.is_retriable() || sequence_error) {
            self.fail_stamped(tp, index, error);
        } else if expired {
            let timeout = delivery_timeout_error(&error, tp);
            self.fail_stamped(tp, index, timeout);
        } else if !sequence_error && attempts > retries {
            // `retries` exhausted (sequence resets do not count: they are the producer's own
            // recovery, not a retry of a failed write).
            self.fail_stamped(tp, index, error);
        } else {
            let delay = self.backoff_delay(self.attempts_of(tp, index));
            let not_before = now + delay;
            let Some(batch) = self
                .partitions
                .get_mut(tp)
                .and_then(|p| p.unacked.get_mut(index))
            else {
                return;
            };
            batch.phase = Phase::AwaitingRetry { not_before };
            self.events.push_back(ProducerEvent::Retry {
                partition: tp.clone(),
                batch_id: batch.id,
                not_before,
                error,
            });
        }
    }

    fn attempts_of(&self, tp: &TopicPartition, index: usize) -> u32 {
        self.partitions
            .get(tp)
            .and_then(|p| p.unacked.get(index))
            .map_or(1, |b| b.failed_attempts)
    }

    /// Fails the stamped batch at `index` with `error`; its persistence follows from its
    /// attempts, and its sequences become a hole or unresolved.
    fn fail_stamped(&mut self, tp: &TopicPartition, index: usize, error: Error) {
        let idempotent = self.config.idempotence;
        let Some(part) = self.partitions.get_mut(tp) else {
            return;
        };
        let Some(batch) = part.unacked.remove(index) else {
            return;
        };
        if idempotent {
            part.note_failed(batch.position, batch.possibly_written);
        }
        self.events.push_back(ProducerEvent::Complete {
            partition: tp.clone(),
            batch_id: batch.id,
            outcome: Outcome::Failed {
                error,
                persistence: persistence_of(&batch),
            },
        });
    }

    /// Enters the fatal state: every queued batch fails `NotPersisted`, every outstanding one
    /// `PossiblyPersisted`, every one awaiting a retry according to its attempts.
    fn enter_fatal(&mut self, error: Error) {
        if self.identity.fatal_error().is_some() {
            return;
        }
        self.identity = ProducerIdState::Fatal(error.clone());
        self.events.push_back(ProducerEvent::Fatal(error.clone()));
        for (tp, part) in &mut self.partitions {
            for batch in part.unacked.drain(..) {
                let persistence = if batch.phase == Phase::Outstanding {
                    Persistence::PossiblyPersisted
                } else {
                    persistence_of(&batch)
                };
                self.events.push_back(ProducerEvent::Complete {
                    partition: tp.clone(),
                    batch_id: batch.id,
                    outcome: Outcome::Failed {
                        error: error.clone(),
                        persistence,
                    },
                });
            }
            for queued in part.queued.drain(..) {
                self.events.push_back(ProducerEvent::Complete {
                    partition: tp.clone(),
                    batch_id: queued.id,
                    outcome: Outcome::Failed {
                        error: error.clone(),
                        persistence: Persistence::NotPersisted,
                    },
                });
            }
        }
    }

    /// Runs a partition's pending sequence reset if it can run now; after an identity change,
    /// every partition's.
    fn reconcile(&mut self, tp: &TopicPartition, now: Instant) {
        if !self.config.idempotence {
            return;
        }
        if self.reconcile_one(tp, now) {
            let all: Vec<TopicPartition> = self
                .partitions
                .iter()
                .filter(|(_, p)| p.reset_ready())
                .map(|(tp, _)| tp.clone())
                .collect();
            for other in all {
                self.reconcile_one(&other, now);
            }
        }
    }

    /// Returns whether the identity changed.
    fn reconcile_one(&mut self, tp: &TopicPartition, now: Instant) -> bool {
        let Some(part) = self.partitions.get_mut(tp) else {
            return false;
        };
        part.give_up_unresolved();
        if !part.reset_ready() {
            return false;
        }
        let Some(current) = self.identity.current() else {
            // Initializing: the reset runs when the new id arrives.
            return false;
        };
        let mut changed = false;
        if part.stamped_with == Some(current) {
            // The broker has seen this epoch on this partition: sequence 0 needs a higher one.
            match ProducerIdState::bumped(current) {
                Some(bumped) => {
                    self.identity = bumped;
                    changed = true;
                }
                None => {
                    self.identity = ProducerIdState::Initializing { attempts: 0 };
                    self.events
                        .push_back(ProducerEvent::NeedProducerId { not_before: now });
                    return true;
                }
            }
        }
        let Some(identity) = self.identity.current() else {
            return changed;
        };
        if changed {
            self.events.push_back(ProducerEvent::EpochBumped {
                producer_id: identity.producer_id,
                epoch: identity.epoch,
            });
        }
        part.restamp(identity);
        changed
    }

    /// Starts over under a producer id and epoch handed out between two transactions (EndTxn
    /// v5, transaction version 2 / KIP-890 part 2: the coordinator bumps the epoch on every
    /// EndTxn, and hands out a new producer id at epoch 0 once the epoch is exhausted). Every
    /// partition's sequences restart at 0, as Java's `resetSequenceNumbers`: the broker
    /// accepts sequence 0 under the new epoch. The previous transaction's batches are all
    /// resolved by then (commit and abort wait for them), so nothing stamped is re-stamped;
    /// a partition that still has unresolved batches keeps them (it would need a KIP-360
    /// reset anyway). Ignored after a fatal error, or without idempotence.
    pub fn adopt_producer_id(&mut self, id: ProducerIdAndEpoch) {
        if matches!(
            self.identity,
            ProducerIdState::Fatal(_) | ProducerIdState::Disabled
        ) {
            return;
        }
        self.identity = ProducerIdState::Ready {
            producer_id: id.producer_id,
            epoch: id.epoch,
        };
        for part in self.partitions.values_mut() {
            if part.unacked.is_empty() {
                part.restamp(id);
            }
        }
        self.partitions.retain(|_, p| !p.is_empty());
    }

    /// Records the result of the InitProducerId request asked for by
    /// [`ProducerEvent::NeedProducerId`]. Ignored unless the producer is `Initializing`.
    /// A retriable error asks again after a backoff; any other error is fatal.
    pub fn on_init_producer_id(
        &mut self,
        result: std::result::Result<ProducerIdAndEpoch, Error>,
        now: Instant,
    ) {
        let ProducerIdState::Initializing { attempts } = self.identity else {
            return;
        };
        let result = result.and_then(|id| {
            if id.producer_id.get() < 0 || id.epoch.get() < 0 {
                Err(Error::malformed(format!(
                    "InitProducerId returned producer id {} epoch {}",
                    id.producer_id, id.epoch
                )))
            } else {
                Ok(id)
            }
        });
        match result {
            Ok(id) => {
                self.identity = ProducerIdState::Ready {
                    producer_id: id.producer_id,
                    epoch: id.epoch,
                };
                let ready: Vec<TopicPartition> = self.partitions.keys().cloned().collect();
                for tp in ready {
                    self.reconcile_one(&tp, now);
                }
            }
            Err(e) if e.is_retriable() => {
                let delay = self.backoff_delay(attempts.saturating_add(1));
                self.identity = ProducerIdState::Initializing {
                    attempts: attempts.saturating_add(1),
                };
                self.events.push_back(ProducerEvent::NeedProducerId {
                    not_before: now + delay,
                });
            }
            Err(e) => self.enter_fatal(e),
        }
    }

    /// Fails batches whose `delivery.timeout.ms` has passed: queued ones `NotPersisted`, ones
    /// awaiting a retry according to their attempts. Outstanding batches are not expired here:
    /// their response (or the request timeout, reported as `RequestTimeout`) decides, because
    /// with idempotence their fate decides whether later sequences are valid (Java expires
    /// sent batches too, then has to treat their sequences as unresolved; waiting costs at
    /// most `request.timeout.ms`).
    pub fn on_delivery_timeout_check(&mut self, now: Instant) {
        let timeout = self.config.delivery_timeout;
        let tps: Vec<TopicPartition> = self.partitions.keys().cloned().collect();
        for tp in tps {
            let Some(part) = self.partitions.get_mut(&tp) else {
                continue;
            };
            let mut expired_queued = Vec::new();
            part.queued.retain(|q| {
                let keep = now < q.created_at + timeout;
                if !keep {
                    expired_queued.push(q.id);
                }
                keep
            });
            for batch_id in expired_queued {
                self.events.push_back(ProducerEvent::Complete {
                    partition: tp.clone(),
                    batch_id,
                    outcome: Outcome::Failed {
                        error: Error::new(ErrorKind::Timeout)
                            .with_detail("delivery.timeout.ms passed before the batch was sent")
                            .with_partition(tp.topic.clone(), tp.partition),
                        persistence: Persistence::NotPersisted,
                    },
                });
            }
            while let Some((index, error)) = self.first_expired_retry(&tp, now) {
                self.fail_stamped(&tp, index, error);
            }
            self.reconcile(&tp, now);
        }
    }

    /// The first batch of `tp` awaiting a retry whose delivery timeout has passed, with the
    /// error to fail it with.
    fn first_expired_retry(&self, tp: &TopicPartition, now: Instant) -> Option<(usize, Error)> {
        let timeout = self.config.delivery_timeout;
        let part = self.partitions.get(tp)?;
        let index = part.unacked.iter().position(|b| {
            matches!(b.phase, Phase::AwaitingRetry { .. }) && now >= b.created_at + timeout
        })?;
        let error = match part.unacked.get(index).and_then(|b| b.last_error.as_ref()) {
            Some(last) => delivery_timeout_error(last, tp),
            None => Error::new(ErrorKind::Timeout)
                .with_detail("delivery.timeout.ms passed")
                .with_partition(tp.topic.clone(), tp.partition),
        };
        Some((index, error))
    }

    /// The next instant at which [`on_delivery_timeout_check`](Self::on_delivery_timeout_check)
    /// or [`next_sendable`](Self::next_sendable) may give a different answer by time alone.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.partitions
            .values()
            .filter_map(|p| p.next_timer(self.config.delivery_timeout))
            .min()
    }

    /// The earliest `delivery.timeout.ms` deadline [`on_delivery_timeout_check`](Self::on_delivery_timeout_check)
    /// acts on: of a queued batch or one awaiting a retry (outstanding batches wait for their
    /// response, as in Java).
    pub fn next_delivery_deadline(&self) -> Option<Instant> {
        let timeout = self.config.delivery_timeout;
        self.partitions
            .values()
            .flat_map(|p| {
                let queued = p.queued.front().map(|q| q.created_at + timeout);
                let stamped = p.unacked.iter().filter_map(move |b| match b.phase {
                    Phase::AwaitingRetry { .. } => Some(b.created_at + timeout),
                    Phase::Outstanding => None,
                });
                queued.into_iter().chain(stamped)
            })
            .min()
    }

    /// The earliest retry backoff that ends after `now`. A backoff that has already ended is
    /// left out: if its batch was not sent at `now`, something else blocks it (requests in
    /// flight, a sequence reset, no producer id) and a response or event, not time, unblocks it.
    pub fn next_retry_after(&self, now: Instant) -> Option<Instant> {
        self.partitions
            .values()
            .flat_map(|p| {
                p.unacked.iter().filter_map(|b| match b.phase {
                    Phase::AwaitingRetry { not_before } if not_before > now => Some(not_before),
                    _ => None,
                })
            })
            .min()
    }

    /// The next output, oldest first.
    pub fn poll_event(&mut self) -> Option<ProducerEvent> {
        self.events.pop_front()
    }

    /// The backoff before attempt `failed_attempts + 1`, with a seeded ±20 % jitter.
    fn backoff_delay(&mut self, failed_attempts: u32) -> Duration {
        self.backoff
            .delay_from(failed_attempts.saturating_sub(1), &mut self.jitter)
    }

    /// Test hook: starts `tp`'s sequences at `sequence` (to reach the wrap at `i32::MAX`).
    #[cfg(test)]
    pub(crate) fn set_next_sequence(&mut self, tp: &TopicPartition, sequence: Sequence) {
        if let Some(part) = self.partitions.get_mut(tp) {
            part.next_sequence = sequence;
            part.stamped_with = self.identity.current();
        }
    }
}

/// Whether an attempt that failed with `error` may still have written the batch. Only a broker
/// error that rejected the batch before appending it rules that out; `REQUEST_TIMED_OUT` and
/// `NOT_ENOUGH_REPLICAS_AFTER_APPEND` come after the leader appended, `UNKNOWN_SERVER_ERROR` says
/// nothing, and a transport error after the request was written leaves it open.
fn may_have_been_written(error: &Error) -> bool {
    match error.kind() {
        ErrorKind::Broker(code) => matches!(
            code.0,
            UNKNOWN_SERVER_ERROR | REQUEST_TIMED_OUT | NOT_ENOUGH_REPLICAS_AFTER_APPEND
        ),
        ErrorKind::Disconnected { sent } => *sent,
        ErrorKind::Connect | ErrorKind::NoBrokerAvailable => false,
        _ => true,
    }
}

fn same_identity(a: &Stamp, b: &Stamp) -> bool {
    a.producer_id == b.producer_id && a.producer_epoch == b.producer_epoch
}

fn persistence_of(batch: &StampedBatch) -> Persistence {
    if batch.possibly_written {
        Persistence::PossiblyPersisted
    } else {
        Persistence::NotPersisted
    }
}

fn delivery_timeout_error(last: &Error, tp: &TopicPartition) -> Error {
    Error::new(ErrorKind::Timeout)
        .with_detail(format!(
            "delivery.timeout.ms passed; last attempt failed with: {last}"
        ))
        .with_partition(tp.topic.clone(), tp.partition)
}
