//! Finding and reaching the producer's coordinators. Both the application-facing
//! transactional calls (`transaction.rs`) and the sender task (AddPartitionsToTxn) need them;
//! they live here, depending only on [`Shared`], so that the sender does not import the file
//! that extends the `Producer` handle (which itself imports the sender).

use kafka_protocol::messages::FindCoordinatorRequest;

use super::shared::Shared;
use crate::connection::{BrokerConnection, Purpose};
use crate::protocol::requests::find_coordinator::{self, CoordinatorType};
use crate::{Error, ErrorKind, Result};

/// FindCoordinator for `key`, from any broker.
pub(super) async fn find(shared: &Shared, key: &str, key_type: CoordinatorType) -> Result<i32> {
    let conn = shared.cluster.any_connection(Purpose::Control).await?;
    let version = conn.version_for::<FindCoordinatorRequest>()?;
    let req = find_coordinator::request(key, key_type, version);
    let resp = conn
        .send_version(&req, version, shared.cfg.client.request_timeout)
        .await?;
    find_coordinator::parse(&resp, version)
}

/// A connection to the transaction coordinator, looking it up first if it is not known.
pub(super) async fn coordinator_connection(shared: &Shared) -> Result<BrokerConnection> {
    let (txn, id) = match (&shared.txn, &shared.cfg.transactional_id) {
        (Some(t), Some(id)) => (t, id),
        _ => return Err(not_transactional()),
    };
    let node = match txn.coordinator() {
        Some(n) => n,
        None => {
            let n = find(shared, id, CoordinatorType::Transaction).await?;
            txn.set_coordinator(Some(n));
            n
        }
    };
    shared
        .cluster
        .connection_to(node, Purpose::Coordination)
        .await
}

/// The error of a transactional call on a producer without a `transactional.id`.
pub(super) fn not_transactional() -> Error {
    Error::new(ErrorKind::IllegalState)
        .with_detail("the producer has no transactional.id: transactions are not available")
}
