//! The transactional calls of [`Producer`] (KIP-98, KIP-447): `init_transactions`,
//! `begin_transaction`, `send_offsets_to_transaction`, `commit_transaction`,
//! `abort_transaction`. They drive the I/O-free [`TransactionManager`](super::txn) and talk to
//! the transaction coordinator (and, for offsets, the group coordinator) in the caller's task.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Instant as StdInstant;

use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, EndTxnRequest, InitProducerIdRequest, TxnOffsetCommitRequest,
};
use tokio::time::Instant;

use super::client::Producer;
use super::coordinator::{coordinator_connection, not_transactional, on_coordinator_action};
use super::metrics::add_elapsed;
use super::shared::Txn;
use super::state::ProducerIdAndEpoch;
use super::txn::{classify, TxnAction, TRANSACTION_VERSION_FEATURE};
use crate::cluster::CoordinatorType;
use crate::connection::BrokerConnection;
use crate::error::code::FENCED_INSTANCE_ID;
use crate::protocol::requests::init_producer_id::{self, TxnProducer};
use crate::protocol::requests::offset_commit::{CommitIdentity, OffsetToCommit};
use crate::protocol::requests::{add_offsets_to_txn, end_txn, txn_offset_commit};
use crate::types::ConsumerGroupMetadata;
use crate::types::{Offset, ProducerEpoch, ProducerId, TopicPartition};
use crate::{Error, ErrorKind, Result};

/// Hands the coordinator's finalized `transaction.version` to the state machine, which picks
/// the dialect of the next transaction from it (Java reads the same from its ApiVersions).
fn observe_features(txn: &Txn, conn: &BrokerConnection) {
    let versions = conn.versions();
    txn.manager().observe_finalized_features(
        versions.finalized_features_epoch(),
        versions.finalized_feature(TRANSACTION_VERSION_FEATURE),
    );
}

impl Producer {
    fn txn(&self) -> Result<&Txn> {
        self.shared.txn.as_ref().ok_or_else(not_transactional)
    }

    /// Runs `call` against the transaction coordinator until it succeeds, retrying
    /// CONCURRENT_TRANSACTIONS (after 20 ms), coordinator moves (after a new FindCoordinator)
    /// and retriable errors, for at most `max.block.ms`. Abortable and fatal errors return.
    async fn with_coordinator<T, F, Fut>(&self, api: &'static str, mut call: F) -> Result<T>
    where
        F: FnMut(BrokerConnection) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let txn = self.txn()?;
        let deadline = Instant::now() + self.shared.cfg.max_block;
        loop {
            let result = match coordinator_connection(&self.shared).await {
                Ok(conn) => {
                    observe_features(txn, &conn);
                    call(conn).await
                }
                Err(e) => Err(e),
            };
            let e = match result {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let backoff = self.shared.cfg.client.retry_backoff;
            let wait = match classify(&e, backoff) {
                TxnAction::Retry(d) => d,
                TxnAction::RefindCoordinator => {
                    on_coordinator_action(&self.shared, TxnAction::RefindCoordinator);
                    backoff
                }
                TxnAction::Abortable | TxnAction::Fatal => return Err(e),
            };
            if Instant::now() + wait >= deadline {
                return Err(Error::new(ErrorKind::Timeout)
                    .with_api(api)
                    .with_detail(format!("not done within max.block.ms; last error: {e}")));
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// The producer id and epoch for transactional requests (set by `init_transactions`).
    fn txn_producer(&self) -> Result<TxnProducer> {
        self.txn()?.producer().ok_or_else(|| {
            Error::new(ErrorKind::IllegalState).with_detail("call init_transactions first")
        })
    }

    /// Registers the `transactional.id` with its coordinator and gets a producer id and
    /// epoch for it (InitProducerId). The coordinator bumps the epoch, which **fences** any
    /// earlier producer with the same id (its next transactional call fails with
    /// `PRODUCER_FENCED` or `INVALID_PRODUCER_EPOCH`) and aborts a transaction it left open.
    /// Call once, before any other transactional call.
    ///
    /// # Errors
    /// `IllegalState` without a `transactional.id` or when called twice; a fatal error
    /// (`TRANSACTIONAL_ID_AUTHORIZATION_FAILED`, …) ends the producer; a `Timeout` after
    /// `max.block.ms` leaves it uninitialized, so the call can be made again.
    ///
    /// # Cancel safety
    /// Cancel safe in effect: a dropped call can be made again; the broker may already have
    /// bumped the epoch, and the next call bumps it again.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
    /// let producer = Producer::new(
    ///     ProducerConfig::builder()
    ///         .bootstrap_servers("127.0.0.1:9092")
    ///         .transactional_id("orders-writer-1")
    ///         .build()?,
    /// )?;
    /// producer.init_transactions().await?;
    /// producer.begin_transaction()?;
    /// producer.send(ProducerRecord::new("orders").value("a")).await?;
    /// producer.send(ProducerRecord::new("audit").value("a")).await?;
    /// producer.commit_transaction().await?; // both records, or (after abort) neither
    /// # Ok(()) }
    /// ```
    pub async fn init_transactions(&self) -> Result<()> {
        let started = StdInstant::now();
        let txn = self.txn()?;
        let _op = txn.op.lock().await;
        txn.manager().start_init()?;
        let id = self.shared.cfg.transactional_id.clone().unwrap_or_default();
        let timeout_ms =
            i32::try_from(self.shared.cfg.transaction_timeout.as_millis()).unwrap_or(i32::MAX);
        let req = init_producer_id::transactional_request(&id, timeout_ms);
        let result = self
            .with_coordinator("InitProducerId", |conn| {
                let req = &req;
                async move {
                    let resp = conn.send::<InitProducerIdRequest>(req).await?;
                    init_producer_id::parse(&resp)
                }
            })
            .await;
        let result = result.map(|(producer_id, epoch)| {
            tracing::info!(producer_id = producer_id.0, epoch = epoch.0, transactional_id = %id,
                "transactional producer initialized");
            txn.producer.send_replace(Some(TxnProducer {
                transactional_id: id.clone(),
                producer_id,
                epoch,
            }));
        });
        let r = txn.manager().init_done(result);
        self.note_fatal(&r);
        add_elapsed(&self.shared.metrics.txn_init_ns, started);
        r
    }

    /// Records a fatal transactional error as the producer's fatal error, so every send fails.
    fn note_fatal<T>(&self, r: &Result<T>) {
        if let Err(e) = r {
            if e.is_fatal() {
                self.shared.set_fatal(e);
            }
        }
    }

    /// Starts a transaction: records sent from now until `commit_transaction` or
    /// `abort_transaction` are part of it. Local: nothing is sent until the first record.
    ///
    /// # Errors
    /// `IllegalState` before `init_transactions` or while a transaction is open; the fatal
    /// error after one.
    pub fn begin_transaction(&self) -> Result<()> {
        let started = StdInstant::now();
        let r = self.txn()?.manager().begin();
        add_elapsed(&self.shared.metrics.txn_begin_ns, started);
        r
    }

    /// Commits a consumer group's offsets as part of the transaction (KIP-447): the group
    /// sees them only if the transaction commits. `offsets` are the next offsets to consume
    /// (last processed + 1); `group` comes from
    /// [`Consumer::group_metadata`](crate::consumer::Consumer::group_metadata), so the group
    /// coordinator refuses the commit
    /// of a member that was rebalanced away (`ILLEGAL_GENERATION`, `UNKNOWN_MEMBER_ID`,
    /// `FENCED_INSTANCE_ID`: abortable).
    ///
    /// # Errors
    /// `IllegalState` outside a transaction; an abortable error (the transaction must be
    /// aborted) or a fatal one (the producer is done); `Timeout` after `max.block.ms`.
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: the offsets may be in the transaction after the future is
    /// dropped. Calling it again with the same offsets is harmless.
    pub async fn send_offsets_to_transaction(
        &self,
        offsets: &[(TopicPartition, Offset)],
        group: &ConsumerGroupMetadata,
    ) -> Result<()> {
        let started = StdInstant::now();
        let txn = self.txn()?;
        let _op = txn.op.lock().await;
        txn.manager().check_offsets()?;
        let producer = self.txn_producer()?;
        let r = self.send_offsets(&producer, offsets, group).await;
        let r = r.map_err(|e| {
            // A fenced group member is not a fenced producer: the transaction aborts.
            let e = if e.broker_code() == Some(FENCED_INSTANCE_ID) {
                Error::new(ErrorKind::IllegalState)
                    .with_api("TxnOffsetCommit")
                    .with_detail(format!("the consumer was fenced: {e}"))
            } else {
                e
            };
            txn.manager().fail(e)
        });
        self.note_fatal(&r);
        add_elapsed(&self.shared.metrics.txn_send_offsets_ns, started);
        r
    }

    async fn send_offsets(
        &self,
        producer: &TxnProducer,
        offsets: &[(TopicPartition, Offset)],
        group: &ConsumerGroupMetadata,
    ) -> Result<()> {
        let txn = self.txn()?;
        let version = txn.manager().transaction_version();
        if version.adds_explicitly() {
            let req = add_offsets_to_txn::request(producer, &group.group_id);
            self.with_coordinator("AddOffsetsToTxn", |conn| {
                let req = &req;
                async move {
                    let resp = conn.send::<AddOffsetsToTxnRequest>(req).await?;
                    add_offsets_to_txn::parse(&resp)
                }
            })
            .await?;
        }
        // Transaction version 2: TxnOffsetCommit v5 makes the group coordinator add the group
        // to the transaction itself. The coordinator may know of the transaction from the
        // moment the request is sent, so EndTxn is due from here on whatever the answer.
        txn.manager().offsets_added();
        let offsets: BTreeMap<TopicPartition, OffsetToCommit> = offsets
            .iter()
            .map(|(tp, o)| (tp.clone(), OffsetToCommit::new(*o)))
            .collect();
        let member = CommitIdentity {
            generation: group.generation_id,
            member_id: group.member_id.clone(),
            group_instance_id: group.group_instance_id.clone(),
        };
        let req = txn_offset_commit::request(producer, &group.group_id, &member, &offsets);
        let deadline = Instant::now() + self.shared.cfg.max_block;
        let backoff = self.shared.cfg.client.retry_backoff;
        let cluster = &self.shared.cluster;
        loop {
            let r = async {
                let conn = cluster
                    .coordinator_connection(CoordinatorType::Group, &group.group_id)
                    .await?;
                let version = conn
                    .version_for::<TxnOffsetCommitRequest>()?
                    .min(version.max_txn_offset_commit_version());
                let req = txn_offset_commit::request_for_version(req.clone(), version);
                let resp = conn
                    .send_version(&req, version, self.shared.cfg.client.request_timeout)
                    .await?;
                txn_offset_commit::parse(&resp)
            }
            .await;
            let e = match r {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let wait = match classify(&e, backoff) {
                TxnAction::Retry(d) => d,
                TxnAction::RefindCoordinator => {
                    cluster.forget_coordinator(CoordinatorType::Group, &group.group_id);
                    backoff
                }
                TxnAction::Abortable | TxnAction::Fatal => return Err(e),
            };
            if Instant::now() + wait >= deadline {
                return Err(Error::new(ErrorKind::Timeout)
                    .with_api("TxnOffsetCommit")
                    .with_detail(format!("not done within max.block.ms; last error: {e}")));
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Commits the transaction: first sends every buffered record and waits for all of them
    /// (as [`flush`](Self::flush)), then EndTxn(commit). When it returns `Ok`, every record of
    /// the transaction and the offsets sent with it are visible to `read_committed` readers.
    ///
    /// # Errors
    /// If a record of the transaction failed, or the coordinator answers an abortable error,
    /// the commit fails and the transaction must be aborted (`abort_transaction`). A fatal
    /// error (`PRODUCER_FENCED`, `INVALID_PRODUCER_EPOCH`: another producer with the same
    /// `transactional.id` took over) ends the producer: create a new one. A `Timeout` (after
    /// `max.block.ms`) leaves the outcome open: call `commit_transaction` again.
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: the commit may complete after the future is dropped; call
    /// `commit_transaction` again to learn the outcome (a retried EndTxn is idempotent).
    pub async fn commit_transaction(&self) -> Result<()> {
        let started = StdInstant::now();
        let txn = self.txn()?;
        let _op = txn.op.lock().await;
        txn.manager().start_commit()?;
        self.flush().await?;
        txn.manager().check_commit_after_flush()?;
        let mut r = self.end_transaction(true).await;
        if matches!(r, Ok(None)) {
            r = self.bump_epoch_for_upgrade().await;
        }
        self.adopt_next_producer(&r);
        let r = txn.manager().end_done(r);
        self.note_fatal(&r);
        add_elapsed(&self.shared.metrics.txn_commit_ns, started);
        r
    }

    /// Aborts the transaction: records not yet sent fail at once with `TransactionAborted`
    /// (`NotPersisted`), records in flight are waited for, then EndTxn(abort) makes every
    /// record of the transaction invisible to `read_committed` readers and discards its
    /// offsets. Also the way out of an abortable error.
    ///
    /// # Errors
    /// `IllegalState` with no open transaction or once a commit started; a fatal error ends
    /// the producer; a `Timeout` leaves the abort pending: call it again.
    ///
    /// # Cancel safety
    /// Cancel safe in effect: the transaction stays aborting; call `abort_transaction` again.
    pub async fn abort_transaction(&self) -> Result<()> {
        let started = StdInstant::now();
        let txn = self.txn()?;
        let _op = txn.op.lock().await;
        txn.manager().start_abort()?;
        self.shared.wake.notify_one();
        self.flush().await?;
        let mut r = self.end_transaction(false).await;
        match &r {
            // Transaction version 2: EndTxn bumped the epoch at the coordinator, which covers
            // any bump the sender made on its own; the next transaction uses the new one.
            Ok(Some(_)) => {
                txn.local_bump
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take();
            }
            Ok(None) => r = self.bump_epoch_after_abort().await.map(|()| None),
            Err(_) => {}
        }
        if matches!(r, Ok(None)) {
            r = self.bump_epoch_for_upgrade().await;
        }
        self.adopt_next_producer(&r);
        let r = txn.manager().end_done(r);
        self.note_fatal(&r);
        add_elapsed(&self.shared.metrics.txn_abort_ns, started);
        r
    }

    /// After a failed batch the sender's state machine bumped the epoch locally (KIP-360, to
    /// restart sequence numbers); the coordinator must make the same bump before the next
    /// transaction writes with it: InitProducerId with the current producer id and epoch
    /// (as Java's `TransactionManager` does when an abort follows such an error).
    async fn bump_epoch_after_abort(&self) -> Result<()> {
        let txn = self.txn()?;
        let local = txn
            .local_bump
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let current = self.txn_producer()?;
        let Some(local) = local.filter(|e| *e != current.epoch) else {
            return Ok(());
        };
        let (producer_id, epoch) = self.bump_at_coordinator(&current).await?;
        if producer_id != current.producer_id || epoch != local {
            return Err(Error::new(ErrorKind::IllegalState)
                .with_api("InitProducerId")
                .with_detail(format!(
                    "the coordinator bumped producer {} to epoch {epoch}, the sender to {local}: \
                     create a new producer",
                    current.producer_id,
                )));
        }
        txn.producer
            .send_replace(Some(TxnProducer { epoch, ..current }));
        Ok(())
    }

    /// InitProducerId with the current producer id and epoch (KIP-360): the coordinator bumps
    /// the epoch (or hands out a new producer id once it is exhausted).
    async fn bump_at_coordinator(
        &self,
        current: &TxnProducer,
    ) -> Result<(ProducerId, ProducerEpoch)> {
        let timeout_ms =
            i32::try_from(self.shared.cfg.transaction_timeout.as_millis()).unwrap_or(i32::MAX);
        let req = init_producer_id::transactional_bump_request(current, timeout_ms);
        self.with_coordinator("InitProducerId", |conn| {
            let req = &req;
            async move {
                let resp = conn.send::<InitProducerIdRequest>(req).await?;
                init_producer_id::parse(&resp)
            }
        })
        .await
    }

    /// The cluster moved to transaction version 2 during the transaction that just ended (a
    /// version 1 one): bump the epoch at the coordinator with InitProducerId before the first
    /// version 2 transaction, as Java does, so that it starts clean under a new epoch. The
    /// result is adopted like an EndTxn v5 answer.
    async fn bump_epoch_for_upgrade(&self) -> Result<Option<ProducerIdAndEpoch>> {
        if !self.txn()?.manager().upgrade_bump_needed() {
            return Ok(None);
        }
        let current = self.txn_producer()?;
        let (producer_id, epoch) = self.bump_at_coordinator(&current).await?;
        tracing::info!(
            producer_id = producer_id.0,
            epoch = epoch.0,
            "transaction version 2 from the next transaction on: epoch bumped"
        );
        Ok(Some(ProducerIdAndEpoch { producer_id, epoch }))
    }

    /// The producer id and epoch an EndTxn v5 handed out become the ones transactional
    /// requests carry (the sender takes them from the state machine in `end_done`).
    fn adopt_next_producer(&self, r: &Result<Option<ProducerIdAndEpoch>>) {
        let (Ok(Some(next)), Some(txn)) = (r, &self.shared.txn) else {
            return;
        };
        txn.producer.send_if_modified(|p| {
            let Some(current) = p else {
                return false;
            };
            tracing::debug!(
                producer_id = next.producer_id.0,
                epoch = next.epoch.0,
                previous_producer_id = current.producer_id.0,
                previous_epoch = current.epoch.0,
                "EndTxn handed out the producer id and epoch of the next transaction"
            );
            current.producer_id = next.producer_id;
            current.epoch = next.epoch;
            true
        });
    }

    /// EndTxn, unless nothing was added (the coordinator then knows of no transaction).
    /// Returns the producer id and epoch of the next transaction when the coordinator bumped
    /// them (transaction version 2).
    async fn end_transaction(&self, commit: bool) -> Result<Option<ProducerIdAndEpoch>> {
        let txn = self.txn()?;
        if !txn.manager().needs_end_txn() {
            return Ok(None);
        }
        let max_version = txn.manager().transaction_version().max_end_txn_version();
        let producer = self.txn_producer()?;
        let req = end_txn::request(&producer, commit);
        let next = self
            .with_coordinator("EndTxn", |conn| {
                let req = &req;
                async move {
                    let version = conn.version_for::<EndTxnRequest>()?.min(max_version);
                    let timeout = self.shared.cfg.client.request_timeout;
                    let resp = conn.send_version(req, version, timeout).await?;
                    end_txn::parse(&resp, version)
                }
            })
            .await?;
        Ok(next.map(|(producer_id, epoch)| ProducerIdAndEpoch { producer_id, epoch }))
    }
}
