//! AddOffsetsToTxn: tells the transaction coordinator that a group's offsets will be committed
//! in the transaction (so the commit marker also goes to that group's `__consumer_offsets`
//! partition).

use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, ProducerId as WireProducerId,
};

use super::group_id;
use super::init_producer_id::TxnProducer;
use crate::{Error, Result};

/// The request adding `group`.
pub(crate) fn request(producer: &TxnProducer, group: &str) -> AddOffsetsToTxnRequest {
    AddOffsetsToTxnRequest::default()
        .with_transactional_id(producer.wire_id())
        .with_producer_id(WireProducerId(producer.producer_id.0))
        .with_producer_epoch(producer.epoch.0)
        .with_group_id(group_id(group))
}

/// `Ok` or the broker's error.
pub(crate) fn parse(resp: &AddOffsetsToTxnResponse) -> Result<()> {
    match resp.error_code {
        0 => Ok(()),
        c => Err(Error::from_broker_code(c).with_api("AddOffsetsToTxn")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;
    use crate::types::{ProducerEpoch, ProducerId};

    #[test]
    fn encodes_at_every_version_and_parses() {
        let p = TxnProducer {
            transactional_id: "tx".into(),
            producer_id: ProducerId(4),
            epoch: ProducerEpoch(1),
        };
        let req = request(&p, "g");
        for v in 0..=4 {
            assert!(encodes(&req, v), "v{v}");
        }
        assert!(parse(&AddOffsetsToTxnResponse::default()).is_ok());
        let e = parse(&AddOffsetsToTxnResponse::default().with_error_code(51)).unwrap_err();
        assert_eq!(
            (e.broker_code(), e.api()),
            (Some(51), Some("AddOffsetsToTxn"))
        );
    }
}
