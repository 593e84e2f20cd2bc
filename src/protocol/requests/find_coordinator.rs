//! FindCoordinator: which broker coordinates a group (or, later, a transactional id). v4+ asks
//! for a batch of keys (`coordinator_keys`) and answers one entry per key; earlier versions carry
//! one `key` and answer at the top level.

use kafka_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};

use super::str_bytes;
use crate::{Error, Result};

/// The `key_type` of a FindCoordinator request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoordinatorType {
    /// A consumer group (`0`).
    Group,
    /// A transactional id (`1`): its transaction coordinator.
    Transaction,
}

impl CoordinatorType {
    /// The wire value.
    pub const fn to_wire(self) -> i8 {
        match self {
            CoordinatorType::Group => 0,
            CoordinatorType::Transaction => 1,
        }
    }
}

/// The request for one `key` at `version`.
pub(crate) fn request(
    key: &str,
    key_type: CoordinatorType,
    version: i16,
) -> FindCoordinatorRequest {
    let mut req = FindCoordinatorRequest::default().with_key_type(key_type.to_wire());
    if version >= 4 {
        req.coordinator_keys = vec![str_bytes(key)];
    } else {
        req.key = str_bytes(key);
    }
    req
}

/// The coordinator's node id, or the broker's error (with its message) for the one key asked.
pub(crate) fn parse(resp: &FindCoordinatorResponse, version: i16) -> Result<i32> {
    let (code, node, msg) = if version >= 4 {
        match resp.coordinators.first() {
            Some(c) => (c.error_code, c.node_id.0, c.error_message.clone()),
            None => return Err(Error::malformed("FindCoordinator answered no coordinator")),
        }
    } else {
        (resp.error_code, resp.node_id.0, resp.error_message.clone())
    };
    if code != 0 {
        return Err(Error::from_broker_code(code)
            .with_api("FindCoordinator")
            .with_broker_message(msg.map(|m| m.to_string())));
    }
    Ok(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::messages::find_coordinator_response::Coordinator;
    use kafka_protocol::messages::BrokerId;
    use kafka_protocol::protocol::Encodable;

    #[test]
    fn every_version_encodes_and_parses() {
        for v in 0..=6 {
            let req = request("g", CoordinatorType::Group, v);
            assert!(req.encode(&mut BytesMut::new(), v).is_ok(), "v{v}");
            let resp = if v >= 4 {
                FindCoordinatorResponse::default().with_coordinators(vec![Coordinator::default()
                    .with_key(str_bytes("g"))
                    .with_node_id(BrokerId(3))])
            } else {
                FindCoordinatorResponse::default().with_node_id(BrokerId(3))
            };
            assert_eq!(parse(&resp, v).ok(), Some(3), "v{v}");
        }
    }

    #[test]
    fn errors_keep_the_broker_message() {
        let resp =
            FindCoordinatorResponse::default().with_coordinators(vec![Coordinator::default()
                .with_error_code(15)
                .with_error_message(Some(str_bytes("loading")))]);
        let e = parse(&resp, 4).unwrap_err();
        assert_eq!(
            (e.broker_code(), e.broker_message()),
            (Some(15), Some("loading"))
        );
        assert!(parse(&FindCoordinatorResponse::default(), 4).is_err());
    }
}
