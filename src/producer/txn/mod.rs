//! The I/O-free transaction state machine of a transactional producer (KIP-98, KIP-447,
//! KIP-890): which calls are legal when, which transaction dialect a transaction speaks, which
//! partitions must be added to the transaction before their first batch is sent, which producer
//! epoch the next transaction uses, and what each coordinator error means for the transaction.
//!
//! ```text
//!  Uninitialized ──init_transactions──► Initializing ──InitProducerId ok──► Ready ◄─────────┐
//!        ▲                                  │ error (not fatal)               │ begin        │
//!        └──────────────────────────────────┘                                 ▼              │
//!                                       ┌────────────────────────────── InTransaction        │
//!                                       │ batch failed / abortable          │    │ commit    │
//!                                       │ coordinator error                 │    ▼           │
//!                                       ▼                   abort           │  Committing ──EndTxn ok──┤
//!                               AbortableError(e) ──abort──► Aborting ◄─────┘    │ batch failed /     │
//!                                       ▲                       │                │ abortable EndTxn   │
//!                                       └───────────────────────┼────────────────┘                   │
//!                                                               └──EndTxn(abort) ok──────────────────┘
//!  (EndTxn ok under transaction version 2 also hands out the next transaction's producer id and
//!   epoch: end_done keeps them until the sender takes them with take_next_producer)
//!  any state ── PRODUCER_FENCED, INVALID_PRODUCER_EPOCH, TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
//!               INVALID_TXN_STATE, a fatal produce error ──► Fatal(e) (final: create a new producer)
//! ```
//!
//! Partitions: `send` notes each record's partition ([`TransactionManager::add_partition`]);
//! the sender drains a partition's batches only once [`TransactionManager::is_added`] says the
//! partition is in the transaction.
//!
//! Two dialects, chosen per transaction by [`TransactionVersion`] from the finalized feature
//! `transaction.version` the brokers report in ApiVersions (as Java's
//! `TransactionManager.maybeUpdateTransactionV2Enabled`: when `init_transactions` completes and
//! when a transaction ends, never inside a transaction):
//!
//! ```text
//!                         transaction.version < 2 (or absent)      transaction.version >= 2
//!                         TransactionVersion::V1                   TransactionVersion::V2 (KIP-890 part 2)
//!  first batch of a       AddPartitionsToTxn at the coordinator    none: Produce v12 makes the
//!  partition              first (poll_add_request); Produce <= v11 leader add it implicitly
//!  send_offsets_to_txn    AddOffsetsToTxn, then TxnOffsetCommit     TxnOffsetCommit v5 alone (the group
//!                         <= v4                                    coordinator adds the group)
//!  EndTxn                 <= v4; the epoch stays                   v5; the coordinator bumps the epoch
//!                                                                  (or, when it is exhausted, hands out
//!                                                                  a new producer id at epoch 0) and the
//!                                                                  answer carries it: end_done keeps it,
//!                                                                  the sender adopts it (take_next_producer)
//!                                                                  before it drains the next transaction
//!  after abort with a     InitProducerId bump (KIP-360)            nothing: EndTxn already bumped
//!  local epoch bump
//! ```
//!
//! A producer whose cluster moves from version 1 to 2 while it lives bumps its epoch with an
//! InitProducerId after the last version 1 EndTxn ([`TransactionManager::upgrade_bump_needed`]),
//! as Java does, and adopts the result like an EndTxn v5 answer.

use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, Instant};

use super::state::ProducerIdAndEpoch;
use crate::cluster::coordinator_moved;
use crate::error::code::{CONCURRENT_TRANSACTIONS, OPERATION_NOT_ATTEMPTED, TRANSACTION_ABORTABLE};

/// A coordinator's answer to a request that does not fit the transaction's state.
const INVALID_TXN_STATE: i16 = 48;
use crate::types::TopicPartition;
use crate::{Error, ErrorKind, Result};

#[cfg(test)]
mod tests;

/// Java's `AddPartitionsToTxnHandler` retries CONCURRENT_TRANSACTIONS after 20 ms instead of
/// `retry.backoff.ms`: the coordinator answers it only while the previous transaction's markers
/// are being written, which takes a few milliseconds.
pub(crate) const CONCURRENT_TRANSACTIONS_BACKOFF: Duration = Duration::from_millis(20);

/// The name of the finalized feature that selects the transaction dialect (KIP-890).
pub(crate) const TRANSACTION_VERSION_FEATURE: &str = "transaction.version";

/// The transaction protocol one transaction speaks; see the module doc's table. Named after
/// the broker feature `transaction.version` (levels 0 and 1 are the same client dialect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransactionVersion {
    /// Explicit AddPartitionsToTxn / AddOffsetsToTxn, one epoch for every transaction.
    V1,
    /// KIP-890 part 2: implicit adds, an epoch bump per EndTxn.
    V2,
}

impl TransactionVersion {
    /// The dialect the brokers' finalized `transaction.version` level asks for.
    pub(crate) fn from_feature_level(level: Option<i16>) -> TransactionVersion {
        match level {
            Some(l) if l >= 2 => TransactionVersion::V2,
            _ => TransactionVersion::V1,
        }
    }

    /// Produce v12 is the first version with which the leader adds the partition itself. A
    /// version 1 producer stays at v11, as Java's: it has told the coordinator with
    /// AddPartitionsToTxn, and its transactions must not depend on implicit adds.
    pub(crate) fn max_produce_version(self) -> i16 {
        match self {
            TransactionVersion::V1 => 11,
            TransactionVersion::V2 => 12,
        }
    }

    /// TxnOffsetCommit v5 makes the group coordinator add the group itself.
    pub(crate) fn max_txn_offset_commit_version(self) -> i16 {
        match self {
            TransactionVersion::V1 => 4,
            TransactionVersion::V2 => 5,
        }
    }

    /// EndTxn v5 bumps the epoch and returns it.
    pub(crate) fn max_end_txn_version(self) -> i16 {
        match self {
            TransactionVersion::V1 => crate::protocol::requests::end_txn::TV1_MAX_VERSION,
            TransactionVersion::V2 => crate::protocol::requests::end_txn::TV2_MIN_VERSION,
        }
    }

    /// Whether partitions and groups are put into the transaction by AddPartitionsToTxn and
    /// AddOffsetsToTxn requests to the coordinator.
    pub(crate) fn adds_explicitly(self) -> bool {
        self == TransactionVersion::V1
    }
}

/// Where the transaction is; see the module diagram. Variants carry only what holds in them.
#[derive(Debug, Clone)]
pub(crate) enum TxnState {
    Uninitialized,
    Initializing,
    Ready,
    InTransaction,
    Committing,
    Aborting,
    /// The transaction cannot commit; `abort_transaction` makes the producer usable again.
    AbortableError(Error),
    /// The producer cannot go on (fenced, not authorized); final.
    Fatal(Error),
}

impl fmt::Display for TxnState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TxnState::Uninitialized => "uninitialized",
            TxnState::Initializing => "initializing",
            TxnState::Ready => "ready",
            TxnState::InTransaction => "in transaction",
            TxnState::Committing => "committing",
            TxnState::Aborting => "aborting",
            TxnState::AbortableError(_) => "abortable error",
            TxnState::Fatal(_) => "fatal error",
        })
    }
}

/// What a coordinator error asks of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxnAction {
    /// Send the same request again after this long.
    Retry(Duration),
    /// The coordinator moved: FindCoordinator again, then retry.
    RefindCoordinator,
    /// The transaction must be aborted.
    Abortable,
    /// The producer is done.
    Fatal,
}

/// What an error from a transaction coordinator (or a group coordinator answering
/// TxnOffsetCommit) means, following Java's `TransactionManager` handlers.
pub(crate) fn classify(e: &Error, retry_backoff: Duration) -> TxnAction {
    match e.broker_code() {
        Some(CONCURRENT_TRANSACTIONS) => TxnAction::Retry(CONCURRENT_TRANSACTIONS_BACKOFF),
        // NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, or the coordinator cannot be reached
        // (killed, or the connection dropped): ask again who it is, as Java's Sender does when
        // the coordinator node is not ready. Retrying the same node would wait out
        // max.block.ms against a broker that may never return.
        _ if coordinator_moved(e) => TxnAction::RefindCoordinator,
        // Another partition of the same request failed; this one was not looked at.
        Some(OPERATION_NOT_ATTEMPTED) => TxnAction::Retry(retry_backoff),
        Some(TRANSACTION_ABORTABLE) => TxnAction::Abortable,
        // PRODUCER_FENCED, INVALID_PRODUCER_EPOCH, TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        // INVALID_TXN_STATE, CLUSTER_AUTHORIZATION_FAILED: the table classifies them fatal.
        _ if e.is_fatal() => TxnAction::Fatal,
        // COORDINATOR_LOAD_IN_PROGRESS, UNKNOWN_TOPIC_OR_PARTITION, timeouts, disconnects.
        _ if e.is_retriable() => TxnAction::Retry(retry_backoff),
        // TOPIC/GROUP_AUTHORIZATION_FAILED, INVALID_PRODUCER_ID_MAPPING, UNKNOWN_MEMBER_ID, …
        _ => TxnAction::Abortable,
    }
}

/// The transaction state of one producer. Owned by [`Shared`](crate::producer) behind a mutex;
/// every method is a short, non-blocking step.
#[derive(Debug)]
pub(crate) struct TransactionManager {
    state: TxnState,
    /// Partitions the coordinator has in the current transaction.
    added: BTreeSet<TopicPartition>,
    /// Partitions with records that wait for their AddPartitionsToTxn.
    pending: BTreeSet<TopicPartition>,
    /// Partitions of the AddPartitionsToTxn request in flight (at most one request).
    in_flight: BTreeSet<TopicPartition>,
    /// No AddPartitionsToTxn before this (a retry backoff).
    add_not_before: Option<Instant>,
    /// Offsets were added (AddOffsetsToTxn answered ok, or a version 2 TxnOffsetCommit went
    /// out): EndTxn is needed even without data.
    offsets_added: bool,
    retry_backoff: Duration,
    /// The dialect of the open (or next) transaction; changes only when init completes and
    /// when a transaction ends.
    version: TransactionVersion,
    /// The newest `transaction.version` level seen in an ApiVersions answer, and the epoch of
    /// the finalized features it came with (`-1`: none seen).
    feature_level: Option<i16>,
    features_epoch: i64,
    /// The producer id and epoch an EndTxn v5 handed out, until the sender takes them
    /// ([`take_next_producer`](Self::take_next_producer)).
    next_producer: Option<ProducerIdAndEpoch>,
}

impl TransactionManager {
    pub(crate) fn new(retry_backoff: Duration) -> TransactionManager {
        TransactionManager {
            state: TxnState::Uninitialized,
            added: BTreeSet::new(),
            pending: BTreeSet::new(),
            in_flight: BTreeSet::new(),
            add_not_before: None,
            offsets_added: false,
            retry_backoff,
            version: TransactionVersion::V1,
            feature_level: None,
            features_epoch: -1,
            next_producer: None,
        }
    }

    pub(crate) fn state(&self) -> &TxnState {
        &self.state
    }

    /// The dialect of the open (or, in `Ready`, the last) transaction.
    pub(crate) fn transaction_version(&self) -> TransactionVersion {
        self.version
    }

    /// Notes the finalized features of an ApiVersions answer: the `transaction.version` level
    /// at feature `epoch`. Only a newer epoch replaces what was seen (brokers that have not
    /// caught up with a feature change report an older epoch). Takes effect when
    /// `init_transactions` completes or the open transaction ends.
    pub(crate) fn observe_finalized_features(
        &mut self,
        epoch: i64,
        transaction_version: Option<i16>,
    ) {
        if epoch > self.features_epoch {
            self.features_epoch = epoch;
            self.feature_level = transaction_version;
        }
    }

    fn choose_version(&mut self) {
        let chosen = TransactionVersion::from_feature_level(self.feature_level);
        if chosen != self.version {
            tracing::info!(?chosen, level = ?self.feature_level, "transaction dialect changed");
        }
        self.version = chosen;
    }

    /// Whether the transaction being ended is the last one of version 1 and the next will be
    /// version 2. Java then bumps the epoch with an InitProducerId after the EndTxn, so that
    /// nothing of the version 1 transaction (its explicitly added partitions) carries over to
    /// the first version 2 one under the same epoch.
    pub(crate) fn upgrade_bump_needed(&self) -> bool {
        self.version == TransactionVersion::V1
            && TransactionVersion::from_feature_level(self.feature_level) == TransactionVersion::V2
    }

    /// The producer id and epoch the last EndTxn handed out, once: the sender restarts its
    /// sequences under them before it drains a batch of the next transaction.
    pub(crate) fn take_next_producer(&mut self) -> Option<ProducerIdAndEpoch> {
        self.next_producer.take()
    }

    fn illegal(&self, call: &str, needs: &str) -> Error {
        if let TxnState::Fatal(e) = &self.state {
            return e.clone();
        }
        Error::new(ErrorKind::IllegalState).with_detail(format!(
            "{call} is not allowed while the transaction is {}: {needs}",
            self.state
        ))
    }

    /// `init_transactions` starts (or resumes after a dropped future).
    pub(crate) fn start_init(&mut self) -> Result<()> {
        match self.state {
            TxnState::Uninitialized | TxnState::Initializing => {
                self.state = TxnState::Initializing;
                Ok(())
            }
            _ => Err(self.illegal("init_transactions", "call it once, first")),
        }
    }

    /// InitProducerId answered (after the caller's retries); returns what the caller reports.
    pub(crate) fn init_done(&mut self, result: Result<()>) -> Result<()> {
        if !matches!(self.state, TxnState::Initializing) {
            return Err(self.illegal("init_transactions", "it already finished"));
        }
        match result {
            Ok(()) => {
                self.state = TxnState::Ready;
                self.choose_version();
                Ok(())
            }
            Err(e) if e.is_fatal() => Err(self.enter_fatal(e)),
            Err(e) => {
                // Not fatal (a timeout, say): init_transactions may be called again.
                self.state = TxnState::Uninitialized;
                Err(e)
            }
        }
    }

    pub(crate) fn begin(&mut self) -> Result<()> {
        match self.state {
            TxnState::Ready => {
                self.state = TxnState::InTransaction;
                self.added.clear();
                self.pending.clear();
                self.in_flight.clear();
                self.add_not_before = None;
                self.offsets_added = false;
                Ok(())
            }
            TxnState::Uninitialized | TxnState::Initializing => {
                Err(self.illegal("begin_transaction", "call init_transactions first"))
            }
            _ => Err(self.illegal(
                "begin_transaction",
                "commit or abort the open transaction first",
            )),
        }
    }

    /// Whether a record may be sent now: only inside a transaction that can still commit.
    pub(crate) fn check_send(&self) -> Result<()> {
        match &self.state {
            TxnState::InTransaction => Ok(()),
            TxnState::AbortableError(e) => Err(e
                .clone()
                .with_detail("the transaction can no longer commit: call abort_transaction")),
            _ => Err(self.illegal("send", "call begin_transaction first")),
        }
    }

    /// Notes that a record went to `tp`; returns whether it must still be added by an
    /// AddPartitionsToTxn. With transaction version 2 the partition counts as added at once:
    /// its leader adds it when the first batch arrives.
    pub(crate) fn add_partition(&mut self, tp: &TopicPartition) -> bool {
        if self.version == TransactionVersion::V2 {
            self.added.insert(tp.clone());
            return false;
        }
        if self.added.contains(tp) || self.in_flight.contains(tp) {
            return false;
        }
        self.pending.insert(tp.clone())
    }

    /// Whether batches of `tp` may be sent (the coordinator has it in the transaction).
    pub(crate) fn is_added(&self, tp: &TopicPartition) -> bool {
        self.added.contains(tp)
    }

    /// The partitions of the next AddPartitionsToTxn request, if one is due: one request at
    /// a time (so the coordinator sees the partitions in order), after any retry backoff, and
    /// only while the transaction can still commit.
    pub(crate) fn poll_add_request(&mut self, now: Instant) -> Option<Vec<TopicPartition>> {
        let open = matches!(self.state, TxnState::InTransaction | TxnState::Committing);
        if !open || !self.in_flight.is_empty() || self.pending.is_empty() {
            return None;
        }
        if self.add_not_before.is_some_and(|t| now < t) {
            return None;
        }
        self.add_not_before = None;
        self.in_flight = std::mem::take(&mut self.pending);
        Some(self.in_flight.iter().cloned().collect())
    }

    /// When a pending AddPartitionsToTxn becomes due (for the sender's timer).
    pub(crate) fn next_add_at(&self) -> Option<Instant> {
        if self.pending.is_empty() || !self.in_flight.is_empty() {
            return None;
        }
        self.add_not_before
    }

    /// The answer to the request [`poll_add_request`](Self::poll_add_request) handed out:
    /// per-partition errors, or the request's error. Returns the action taken; on a retry the
    /// partitions wait again, on an abortable or fatal error the state changes.
    pub(crate) fn on_add_partitions(
        &mut self,
        result: Result<Vec<(TopicPartition, Option<Error>)>>,
        now: Instant,
    ) -> Option<TxnAction> {
        let errors: Vec<Error> = match result {
            Ok(parts) => {
                let mut errors = Vec::new();
                for (tp, e) in parts {
                    match e {
                        None => {
                            if self.in_flight.remove(&tp) {
                                self.added.insert(tp);
                            }
                        }
                        Some(e) => errors.push(e),
                    }
                }
                errors
            }
            Err(e) => vec![e],
        };
        // The most severe error decides (OPERATION_NOT_ATTEMPTED partitions, retriable, only
        // wait for the one that failed).
        let mut worst: Option<(TxnAction, Error)> = None;
        for e in errors {
            let a = classify(&e, self.retry_backoff);
            let rank = |a: &TxnAction| match a {
                TxnAction::Retry(_) => 0,
                TxnAction::RefindCoordinator => 1,
                TxnAction::Abortable => 2,
                TxnAction::Fatal => 3,
            };
            if worst.as_ref().is_none_or(|(w, _)| rank(&a) > rank(w)) {
                worst = Some((a, e));
            }
        }
        // Partitions neither added nor failed (missing from the answer) are asked again.
        let left = std::mem::take(&mut self.in_flight);
        self.pending.extend(left);
        let (action, e) = worst?;
        match action {
            TxnAction::Retry(d) => self.add_not_before = Some(now + d),
            TxnAction::RefindCoordinator => self.add_not_before = Some(now + self.retry_backoff),
            TxnAction::Abortable => {
                self.fail(e);
            }
            TxnAction::Fatal => {
                self.enter_fatal(e);
            }
        }
        Some(action)
    }

    /// `send_offsets_to_transaction` may run.
    pub(crate) fn check_offsets(&self) -> Result<()> {
        match &self.state {
            TxnState::InTransaction => Ok(()),
            TxnState::AbortableError(e) => Err(e
                .clone()
                .with_detail("the transaction can no longer commit: call abort_transaction")),
            _ => Err(self.illegal(
                "send_offsets_to_transaction",
                "call begin_transaction first",
            )),
        }
    }

    /// AddOffsetsToTxn succeeded (transaction version 1), or a TxnOffsetCommit is about to be
    /// sent (version 2, which adds the group implicitly): the coordinator may know of the
    /// transaction, so it must be ended with EndTxn.
    pub(crate) fn offsets_added(&mut self) {
        self.offsets_added = true;
    }

    /// A batch of the transaction failed: the transaction cannot commit (fatal errors end the
    /// producer). Ignored while aborting (the batches being failed are the abort's own).
    pub(crate) fn on_batch_failed(&mut self, e: &Error) {
        match self.state {
            TxnState::InTransaction | TxnState::Committing => {
                if e.is_fatal() {
                    self.enter_fatal(e.clone());
                } else {
                    self.state = TxnState::AbortableError(e.clone());
                }
            }
            _ => {}
        }
    }

    /// Applies an error's class to the state and returns it for the caller to report:
    /// fatal errors end the producer, everything else makes the transaction abortable.
    pub(crate) fn fail(&mut self, e: Error) -> Error {
        if e.is_fatal() {
            return self.enter_fatal(e);
        }
        if matches!(self.state, TxnState::InTransaction | TxnState::Committing) {
            self.state = TxnState::AbortableError(e.clone());
        }
        e
    }

    pub(crate) fn enter_fatal(&mut self, e: Error) -> Error {
        if let TxnState::Fatal(first) = &self.state {
            return first.clone();
        }
        let e = explain_fencing(e);
        self.state = TxnState::Fatal(e.clone());
        e
    }

    /// `commit_transaction` starts (or resumes after a dropped future).
    pub(crate) fn start_commit(&mut self) -> Result<()> {
        match &self.state {
            TxnState::InTransaction | TxnState::Committing => {
                self.state = TxnState::Committing;
                Ok(())
            }
            TxnState::AbortableError(e) => Err(e
                .clone()
                .with_detail("the transaction cannot commit: call abort_transaction")),
            _ => Err(self.illegal("commit_transaction", "call begin_transaction first")),
        }
    }

    /// `abort_transaction` starts (or resumes). A commit that started cannot turn into an
    /// abort: its EndTxn may already be applied.
    pub(crate) fn start_abort(&mut self) -> Result<()> {
        match self.state {
            TxnState::InTransaction | TxnState::AbortableError(_) | TxnState::Aborting => {
                self.state = TxnState::Aborting;
                self.pending.clear();
                Ok(())
            }
            _ => Err(self.illegal(
                "abort_transaction",
                "only an open (or failed) transaction can be aborted",
            )),
        }
    }

    /// Whether the coordinator knows of this transaction, so EndTxn must be sent. A
    /// transaction in which nothing was added ends locally, as in Java.
    pub(crate) fn needs_end_txn(&self) -> bool {
        !self.added.is_empty() || !self.in_flight.is_empty() || self.offsets_added
    }

    /// The commit's flush is done: a batch that failed meanwhile made the state abortable.
    pub(crate) fn check_commit_after_flush(&self) -> Result<()> {
        match &self.state {
            TxnState::Committing => Ok(()),
            TxnState::AbortableError(e) => Err(e
                .clone()
                .with_detail("a record of the transaction failed: call abort_transaction")),
            _ => Err(self.illegal("commit_transaction", "")),
        }
    }

    /// EndTxn answered (after the caller's retries), or was not needed. `Ok(Some(..))`: the
    /// coordinator bumped the epoch (EndTxn v5, transaction version 2) or, the epoch being
    /// exhausted, handed out a new producer id; the next transaction uses it, so it is kept
    /// for the sender ([`take_next_producer`](Self::take_next_producer)).
    pub(crate) fn end_done(&mut self, result: Result<Option<ProducerIdAndEpoch>>) -> Result<()> {
        let committing = matches!(self.state, TxnState::Committing);
        if !committing && !matches!(self.state, TxnState::Aborting) {
            return Err(self.illegal("ending the transaction", ""));
        }
        match result {
            Ok(next) => {
                if next.is_some() {
                    self.next_producer = next;
                }
                self.state = TxnState::Ready;
                // The next transaction's dialect is fixed here (Java decides it when it
                // completes a transaction), so begin_transaction stays a local step.
                self.choose_version();
                self.added.clear();
                self.pending.clear();
                self.in_flight.clear();
                self.offsets_added = false;
                Ok(())
            }
            Err(e)
                if committing
                    && self.version == TransactionVersion::V2
                    && e.broker_code() == Some(INVALID_TXN_STATE) =>
            {
                // A Kafka 4.x coordinator that aborted the transaction on its own (bumping the
                // epoch) takes a late EndTxn(commit) for a retry of the abort and answers
                // INVALID_TXN_STATE instead of PRODUCER_FENCED (KAFKA-20785). Fatal either way,
                // as in Java; the reason is named so the operator looks at the timeout.
                Err(self.enter_fatal(e.with_detail(
                    "the coordinator has already aborted this transaction, most likely because \
                     transaction.timeout.ms passed; create a new producer",
                )))
            }
            Err(e) if e.is_fatal() => Err(self.enter_fatal(e)),
            Err(e) if committing && classify(&e, self.retry_backoff) == TxnAction::Abortable => {
                self.state = TxnState::AbortableError(e.clone());
                Err(e)
            }
            // A timeout: the state stays, so the same call can be made again.
            Err(e) => Err(e),
        }
    }
}

/// PRODUCER_FENCED / INVALID_PRODUCER_EPOCH say only that this producer's epoch is old. The
/// two ways it gets old are named, so an operator reading the line knows where to look.
fn explain_fencing(e: Error) -> Error {
    match e.broker_code() {
        Some(90 | 47) => e.with_detail(
            "this producer's epoch is fenced: another producer with the same transactional.id \
             called init_transactions, or the broker aborted the open transaction because \
             transaction.timeout.ms passed; create a new producer",
        ),
        _ => e,
    }
}
