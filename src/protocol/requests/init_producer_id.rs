//! InitProducerId: a producer id and epoch for an idempotent or transactional producer.

use kafka_protocol::messages::{
    InitProducerIdRequest, InitProducerIdResponse, ProducerId as WireProducerId, TransactionalId,
};

use crate::error::code::CLUSTER_AUTHORIZATION_FAILED;
use crate::types::{ProducerEpoch, ProducerId};
use crate::{Error, Result};

/// The request of an idempotent, non-transactional producer: no transactional id and the
/// `transaction_timeout_ms` Java sends for that case (`i32::MAX`); no current id or epoch, so
/// the broker hands out a new producer id.
pub(crate) fn idempotent_request() -> InitProducerIdRequest {
    InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(i32::MAX)
        .with_producer_id(WireProducerId(-1))
        .with_producer_epoch(-1)
}

/// The request of a transactional producer: its transactional id and `transaction.timeout.ms`.
/// The producer id and epoch are `-1`, so the coordinator bumps the epoch of whatever producer
/// held the id before (fencing it) and aborts its open transaction.
pub(crate) fn transactional_request(
    transactional_id: &str,
    timeout_ms: i32,
) -> InitProducerIdRequest {
    InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(super::str_bytes(transactional_id))))
        .with_transaction_timeout_ms(timeout_ms)
        .with_producer_id(WireProducerId(-1))
        .with_producer_epoch(-1)
}

/// The KIP-360 form: asks the coordinator to bump the epoch of `current` (the producer keeps
/// its id) after a transaction whose sequence numbers can no longer be trusted was aborted.
pub(crate) fn transactional_bump_request(
    current: &TxnProducer,
    timeout_ms: i32,
) -> InitProducerIdRequest {
    transactional_request(&current.transactional_id, timeout_ms)
        .with_producer_id(WireProducerId(current.producer_id.0))
        .with_producer_epoch(current.epoch.0)
}

/// Who is writing a transaction: the fields every transactional request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TxnProducer {
    /// `transactional.id`.
    pub transactional_id: String,
    /// The producer id InitProducerId granted.
    pub producer_id: ProducerId,
    /// Its epoch.
    pub epoch: ProducerEpoch,
}

impl TxnProducer {
    pub(crate) fn wire_id(&self) -> TransactionalId {
        TransactionalId(super::str_bytes(&self.transactional_id))
    }
}

/// The producer id and epoch granted, or the broker's error.
pub(crate) fn parse(resp: &InitProducerIdResponse) -> Result<(ProducerId, ProducerEpoch)> {
    if resp.error_code == CLUSTER_AUTHORIZATION_FAILED {
        return Err(Error::from_broker_code(resp.error_code)
            .with_api("InitProducerId")
            .with_detail(
                "the idempotent producer needs IDEMPOTENT_WRITE on the cluster (or WRITE on a \
                 topic): grant it, or set enable.idempotence=false",
            ));
    }
    if resp.error_code != 0 {
        return Err(Error::from_broker_code(resp.error_code).with_api("InitProducerId"));
    }
    Ok((
        ProducerId(resp.producer_id.0),
        ProducerEpoch(resp.producer_epoch),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::protocol::Encodable;

    #[test]
    fn cluster_authorization_failure_says_what_to_grant() {
        let resp = InitProducerIdResponse::default().with_error_code(CLUSTER_AUTHORIZATION_FAILED);
        let e = parse(&resp).unwrap_err();
        assert!(e.is_fatal());
        let s = e.to_string();
        assert!(
            s.contains("IDEMPOTENT_WRITE") && s.contains("enable.idempotence=false"),
            "{s}"
        );
    }

    #[test]
    fn transactional_request_carries_id_and_timeout() {
        let req = transactional_request("tx-1", 60_000);
        assert_eq!(
            req.transactional_id.as_ref().map(|t| t.0.as_str()),
            Some("tx-1")
        );
        assert_eq!(req.transaction_timeout_ms, 60_000);
        for v in 0..=5 {
            assert!(req.encode(&mut BytesMut::new(), v).is_ok(), "v{v}");
        }
    }

    #[test]
    fn idempotent_request_encodes_at_every_version_and_parses() {
        let req = idempotent_request();
        for v in 0..=5 {
            assert!(
                req.encode(&mut BytesMut::new(), v).is_ok(),
                "InitProducerId v{v}"
            );
        }
        let ok = InitProducerIdResponse::default()
            .with_producer_id(WireProducerId(7))
            .with_producer_epoch(2);
        assert_eq!(parse(&ok).ok(), Some((ProducerId(7), ProducerEpoch(2))));
        let e = parse(&InitProducerIdResponse::default().with_error_code(15)).unwrap_err();
        assert_eq!(
            (e.broker_code(), e.api()),
            (Some(15), Some("InitProducerId"))
        );
    }
}
