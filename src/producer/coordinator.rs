//! Reaching the producer's transaction coordinator. Both the application-facing transactional
//! calls (`transaction.rs`) and the sender task (AddPartitionsToTxn) need it; it lives here,
//! depending only on [`Shared`], so that the sender does not import the file that extends the
//! `Producer` handle (which itself imports the sender). The lookup and its cache are the cluster
//! view's ([`Cluster::coordinator_connection`](crate::cluster::Cluster::coordinator_connection)).

use super::shared::Shared;
use super::txn::TxnAction;
use crate::cluster::CoordinatorType;
use crate::connection::BrokerConnection;
use crate::{Error, ErrorKind, Result};

/// A connection to the transaction coordinator (cached by the cluster view, looked up first if
/// it is not known).
pub(super) async fn coordinator_connection(shared: &Shared) -> Result<BrokerConnection> {
    let id = transactional_id(shared)?;
    shared
        .cluster
        .coordinator_connection(CoordinatorType::Transaction, id)
        .await
}

/// Forgets the transaction coordinator when `action` says it moved.
pub(super) fn on_coordinator_action(shared: &Shared, action: TxnAction) {
    if let (TxnAction::RefindCoordinator, Some(id)) = (action, &shared.cfg.transactional_id) {
        shared
            .cluster
            .forget_coordinator(CoordinatorType::Transaction, id);
    }
}

fn transactional_id(shared: &Shared) -> Result<&str> {
    match (&shared.txn, &shared.cfg.transactional_id) {
        (Some(_), Some(id)) => Ok(id),
        _ => Err(not_transactional()),
    }
}

/// The error of a transactional call on a producer without a `transactional.id`.
pub(super) fn not_transactional() -> Error {
    Error::new(ErrorKind::IllegalState)
        .with_detail("the producer has no transactional.id: transactions are not available")
}
