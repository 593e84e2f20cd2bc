//! EndTxn: commits or aborts the producer's transaction.
//!
//! Two dialects (see `producer::txn::TransactionVersion`): transaction version 1 speaks
//! up to v4 and keeps the producer epoch; transaction version 2 (KIP-890 part 2) speaks v5,
//! with which the coordinator bumps the epoch on every EndTxn and answers with the producer id
//! and epoch to use for the next transaction (a new producer id at epoch 0 once the epoch is
//! exhausted).

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse, ProducerId as WireProducerId};

use super::init_producer_id::TxnProducer;
use crate::types::{ProducerEpoch, ProducerId};
use crate::{Error, Result};

/// The highest version of the transaction version 1 dialect.
pub(crate) const TV1_MAX_VERSION: i16 = 4;

/// The first version of the transaction version 2 dialect (the answer carries the next
/// producer id and epoch).
pub(crate) const TV2_MIN_VERSION: i16 = 5;

/// Commit (`committed`) or abort.
pub(crate) fn request(producer: &TxnProducer, committed: bool) -> EndTxnRequest {
    EndTxnRequest::default()
        .with_transactional_id(producer.wire_id())
        .with_producer_id(WireProducerId(producer.producer_id.0))
        .with_producer_epoch(producer.epoch.0)
        .with_committed(committed)
}

/// The broker's error, or the producer id and epoch it handed out for the next transaction.
/// Those come only with v5+ (below, and from a v5 answer that leaves them at their `-1`
/// default, `None`: the producer keeps its epoch, as Java does for a coordinator that did not
/// bump it).
pub(crate) fn parse(
    resp: &EndTxnResponse,
    version: i16,
) -> Result<Option<(ProducerId, ProducerEpoch)>> {
    if resp.error_code != 0 {
        return Err(Error::from_broker_code(resp.error_code).with_api("EndTxn"));
    }
    if version < TV2_MIN_VERSION || resp.producer_id.0 < 0 {
        return Ok(None);
    }
    if resp.producer_epoch < 0 {
        return Err(Error::malformed(format!(
            "EndTxn returned producer id {} with epoch {}",
            resp.producer_id.0, resp.producer_epoch
        ))
        .with_api("EndTxn"));
    }
    Ok(Some((
        ProducerId(resp.producer_id.0),
        ProducerEpoch(resp.producer_epoch),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;

    #[test]
    fn encodes_every_version_and_parses() {
        let p = TxnProducer {
            transactional_id: "tx".into(),
            producer_id: ProducerId(4),
            epoch: ProducerEpoch(1),
        };
        let req = request(&p, true);
        assert!(req.committed);
        for v in 0..=TV2_MIN_VERSION {
            assert!(encodes(&req, v), "v{v}");
        }
        assert_eq!(parse(&EndTxnResponse::default(), 4).ok(), Some(None));
        let e = parse(&EndTxnResponse::default().with_error_code(90), 5).unwrap_err();
        assert!(e.is_fatal());
    }

    #[test]
    fn v5_hands_out_the_next_producer_id_and_epoch() {
        let resp = EndTxnResponse::default()
            .with_producer_id(WireProducerId(4))
            .with_producer_epoch(2);
        assert_eq!(
            parse(&resp, 5).ok(),
            Some(Some((ProducerId(4), ProducerEpoch(2))))
        );
        // Below v5 the fields do not exist on the wire: whatever the struct holds is ignored.
        assert_eq!(parse(&resp, 4).ok(), Some(None));
        // The defaults (-1) mean the coordinator did not hand out a new epoch.
        assert_eq!(parse(&EndTxnResponse::default(), 5).ok(), Some(None));
        // Epoch overflow: a new producer id at epoch 0.
        let fresh = EndTxnResponse::default()
            .with_producer_id(WireProducerId(9))
            .with_producer_epoch(0);
        assert_eq!(
            parse(&fresh, 5).ok(),
            Some(Some((ProducerId(9), ProducerEpoch(0))))
        );
        let bad = EndTxnResponse::default()
            .with_producer_id(WireProducerId(9))
            .with_producer_epoch(-3);
        assert!(parse(&bad, 5).is_err());
    }
}
