//! The sender's part of a transaction: failing what is left in the accumulator when the
//! transaction aborts, sending AddPartitionsToTxn, and telling the transaction manager what the
//! sender learnt (added partitions, an epoch bumped by the state machine).

use super::{Msg, Sender};
use crate::producer::coordinator;
use crate::producer::delivery::Persistence;
use crate::producer::txn::TxnState;
use crate::protocol::requests::add_partitions_to_txn;
use crate::types::{ProducerEpoch, TopicPartition};
use crate::{Error, ErrorKind, Result};
use tokio::time::Instant;

impl Sender {
    /// The sender's part of a transaction: batches still in the accumulator fail when the
    /// transaction is aborting or can no longer commit (as Java's `abortUndrainedBatches`),
    /// and pending partitions go out in one AddPartitionsToTxn request. Returns when the next
    /// add is due (a retry backoff).
    pub(super) fn drive_transaction(&mut self, now: Instant) -> Option<Instant> {
        let shared = self.shared.clone();
        let txn = shared.txn.as_ref()?;
        let (abort_error, request) = {
            let mut m = txn.manager();
            let abort_error = match m.state() {
                TxnState::Aborting => Some(
                    Error::new(ErrorKind::TransactionAborted)
                        .with_detail("abort_transaction was called before the record was sent"),
                ),
                TxnState::AbortableError(e) => Some(e.clone()),
                _ => None,
            };
            let producer = txn.producer();
            let request =
                producer.and_then(|p| m.poll_add_request(now.into_std()).map(|parts| (p, parts)));
            (abort_error, request)
        };
        if let Some(e) = abort_error {
            for b in self.shared.acc.abort_all() {
                self.fail_batch(b, e.clone(), Persistence::NotPersisted);
            }
        }
        if let Some((producer, partitions)) = request {
            let shared = shared.clone();
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let r = async {
                    let conn = coordinator::coordinator_connection(&shared).await?;
                    let version = conn
                        .version_for::<kafka_protocol::messages::AddPartitionsToTxnRequest>()?
                        .min(add_partitions_to_txn::MAX_CLIENT_VERSION);
                    let req = add_partitions_to_txn::request(&producer, &partitions);
                    let timeout = shared.cfg.client.request_timeout;
                    let resp = conn.send_version(&req, version, timeout).await?;
                    Ok(add_partitions_to_txn::parse(&resp, &partitions))
                }
                .await;
                let _ = tx.send(Msg::AddedPartitions(r));
            });
        }
        let next = txn.manager().next_add_at();
        next.map(Instant::from_std)
    }

    /// Hands the answer to AddPartitionsToTxn to the transaction manager.
    pub(super) fn on_added_partitions(
        &mut self,
        result: Result<Vec<(TopicPartition, Option<Error>)>>,
        now: std::time::Instant,
    ) {
        if let Some(txn) = &self.shared.txn {
            let action = txn.manager().on_add_partitions(result, now);
            if let Some(action) = action {
                coordinator::on_coordinator_action(&self.shared, action);
            }
        }
    }

    /// Notes an epoch the state machine bumped on its own, for `abort_transaction` to ask the
    /// coordinator for the same bump.
    pub(super) fn note_local_bump(&self, epoch: ProducerEpoch) {
        if let Some(txn) = &self.shared.txn {
            *txn.local_bump.lock().unwrap_or_else(|p| p.into_inner()) = Some(epoch);
        }
    }
}
