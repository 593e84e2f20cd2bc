//! EndTxn: commits or aborts the producer's transaction. The client caps the version at 4: v5
//! (transaction version 2, KIP-890 part 2) bumps the epoch on every EndTxn, which this client
//! does not track yet.

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse, ProducerId as WireProducerId};

use super::init_producer_id::TxnProducer;
use crate::{Error, Result};

/// The highest version a producer sends (transaction version 1).
pub const MAX_CLIENT_VERSION: i16 = 4;

/// Commit (`committed`) or abort.
pub fn request(producer: &TxnProducer, committed: bool) -> EndTxnRequest {
    EndTxnRequest::default()
        .with_transactional_id(producer.wire_id())
        .with_producer_id(WireProducerId(producer.producer_id.0))
        .with_producer_epoch(producer.epoch.0)
        .with_committed(committed)
}

/// `Ok` or the broker's error.
pub fn parse(resp: &EndTxnResponse) -> Result<()> {
    match resp.error_code {
        0 => Ok(()),
        c => Err(Error::from_broker_code(c).with_api("EndTxn")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;
    use crate::types::{ProducerEpoch, ProducerId};

    #[test]
    fn encodes_up_to_the_client_cap_and_parses() {
        let p = TxnProducer {
            transactional_id: "tx".into(),
            producer_id: ProducerId(4),
            epoch: ProducerEpoch(1),
        };
        let req = request(&p, true);
        assert!(req.committed);
        for v in 0..=MAX_CLIENT_VERSION {
            assert!(encodes(&req, v), "v{v}");
        }
        assert!(parse(&EndTxnResponse::default()).is_ok());
        let e = parse(&EndTxnResponse::default().with_error_code(90)).unwrap_err();
        assert!(e.is_fatal());
    }
}
