//! DescribeCluster (KIP-700): the brokers, the controller and the cluster id, answered by any
//! broker. Brokers that do not speak it (before Kafka 2.8) are described from a Metadata
//! response instead ([`from_metadata`]).

use std::fmt;

use kafka_protocol::messages::{DescribeClusterRequest, DescribeClusterResponse, MetadataResponse};

use crate::types::{AclOperation, BrokerId};
use crate::{Error, Result};

/// A broker as the cluster describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrokerDescription {
    /// Node id.
    pub id: BrokerId,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: u16,
    /// Rack (`broker.rack`), if set.
    pub rack: Option<String>,
}

impl fmt::Display for BrokerDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "broker {} at {}:{}", self.id, self.host, self.port)?;
        if let Some(r) = &self.rack {
            write!(f, " rack {r}")?;
        }
        Ok(())
    }
}

/// The cluster: its id, its brokers and its controller.
///
/// `Display` prints one line: `cluster <id>: 3 broker(s), controller 1`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterDescription {
    /// The cluster id (empty if a pre-0.10.1 broker answered the Metadata fallback).
    pub cluster_id: String,
    /// The controller as the broker reports it: under KRaft, brokers report a random live
    /// broker (clients cannot reach the controller quorum); `None` if none is known.
    pub controller: Option<BrokerId>,
    /// The brokers, sorted by id.
    pub brokers: Vec<BrokerDescription>,
    /// What the caller may do on the cluster, when asked for (`None` if not asked or the
    /// broker did not say).
    pub authorized_operations: Option<Vec<AclOperation>>,
}

impl fmt::Display for ClusterDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cluster {}: {} broker(s), controller ",
            self.cluster_id,
            self.brokers.len()
        )?;
        match self.controller {
            Some(c) => write!(f, "{c}"),
            None => f.write_str("unknown"),
        }
    }
}

/// The request for the brokers (`endpoint_type` 1, the default), with the caller's authorized
/// operations on the cluster when `include_authorized_operations`. The same fields in every
/// version, v0–v2.
pub(crate) fn request(include_authorized_operations: bool) -> DescribeClusterRequest {
    DescribeClusterRequest::default()
        .with_include_cluster_authorized_operations(include_authorized_operations)
}

fn port(port: i32, id: i32) -> Result<u16> {
    u16::try_from(port).map_err(|_| Error::malformed(format!("broker {id} advertises port {port}")))
}

/// The cluster described, or the broker's error.
pub(crate) fn parse(resp: &DescribeClusterResponse) -> Result<ClusterDescription> {
    if resp.error_code != 0 {
        return Err(Error::from_broker_code(resp.error_code)
            .with_api("DescribeCluster")
            .with_broker_message(resp.error_message.as_ref().map(|m| m.to_string())));
    }
    let mut brokers = resp
        .brokers
        .iter()
        .map(|b| {
            Ok(BrokerDescription {
                id: BrokerId(b.broker_id.0),
                host: b.host.to_string(),
                port: port(b.port, b.broker_id.0)?,
                rack: b.rack.as_ref().map(|r| r.to_string()),
            })
        })
        .collect::<Result<Vec<_>>>()
        .map_err(|e| e.with_api("DescribeCluster"))?;
    brokers.sort_by_key(|b| b.id);
    Ok(ClusterDescription {
        cluster_id: resp.cluster_id.to_string(),
        controller: (resp.controller_id.0 >= 0).then_some(BrokerId(resp.controller_id.0)),
        brokers,
        authorized_operations: AclOperation::from_bit_field(resp.cluster_authorized_operations),
    })
}

/// The cluster as a Metadata response describes it (the fallback for brokers without
/// DescribeCluster). Metadata carries the cluster's authorized operations only in v8–v10.
pub(crate) fn from_metadata(resp: &MetadataResponse) -> Result<ClusterDescription> {
    let mut brokers = resp
        .brokers
        .iter()
        .map(|b| {
            Ok(BrokerDescription {
                id: BrokerId(b.node_id.0),
                host: b.host.to_string(),
                port: port(b.port, b.node_id.0)?,
                rack: b.rack.as_ref().map(|r| r.to_string()),
            })
        })
        .collect::<Result<Vec<_>>>()
        .map_err(|e| e.with_api("Metadata"))?;
    brokers.sort_by_key(|b| b.id);
    Ok(ClusterDescription {
        cluster_id: resp
            .cluster_id
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_default(),
        controller: (resp.controller_id.0 >= 0).then_some(BrokerId(resp.controller_id.0)),
        brokers,
        authorized_operations: AclOperation::from_bit_field(resp.cluster_authorized_operations),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::{encodes, str_bytes};
    use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
    use kafka_protocol::messages::metadata_response::MetadataResponseBroker;
    use kafka_protocol::messages::BrokerId as WireBrokerId;

    #[test]
    fn request_encodes_at_every_version() {
        for ops in [false, true] {
            let req = request(ops);
            assert_eq!(req.include_cluster_authorized_operations, ops);
            for v in 0..=2 {
                assert!(encodes(&req, v), "DescribeCluster v{v}");
            }
        }
    }

    #[test]
    fn parse_sorts_brokers_and_reads_operations() {
        let resp = DescribeClusterResponse::default()
            .with_cluster_id(str_bytes("c1"))
            .with_controller_id(WireBrokerId(2))
            .with_cluster_authorized_operations(1 << 8)
            .with_brokers(vec![
                DescribeClusterBroker::default()
                    .with_broker_id(WireBrokerId(2))
                    .with_host(str_bytes("h2"))
                    .with_port(9093),
                DescribeClusterBroker::default()
                    .with_broker_id(WireBrokerId(1))
                    .with_host(str_bytes("h1"))
                    .with_port(9092)
                    .with_rack(Some(str_bytes("r1"))),
            ]);
        let d = parse(&resp).unwrap();
        assert_eq!(d.cluster_id, "c1");
        assert_eq!(d.controller, Some(BrokerId(2)));
        assert_eq!(d.brokers[0].id, BrokerId(1));
        assert_eq!(d.brokers[0].rack.as_deref(), Some("r1"));
        assert_eq!(d.authorized_operations, Some(vec![AclOperation::Describe]));
        assert_eq!(d.to_string(), "cluster c1: 2 broker(s), controller 2");
        assert_eq!(d.brokers[0].to_string(), "broker 1 at h1:9092 rack r1");
    }

    #[test]
    fn errors_and_bad_ports_are_errors() {
        let e = parse(
            &DescribeClusterResponse::default()
                .with_error_code(31)
                .with_error_message(Some(str_bytes("no"))),
        )
        .unwrap_err();
        assert_eq!(
            (e.broker_code(), e.broker_message()),
            (Some(31), Some("no"))
        );
        let bad = DescribeClusterResponse::default()
            .with_brokers(vec![DescribeClusterBroker::default().with_port(-5)]);
        assert!(parse(&bad).is_err());
        let md = MetadataResponse::default()
            .with_controller_id(WireBrokerId(-1))
            .with_cluster_authorized_operations(i32::MIN)
            .with_brokers(vec![MetadataResponseBroker::default()
                .with_node_id(WireBrokerId(7))
                .with_host(str_bytes("h"))
                .with_port(1)]);
        let d = from_metadata(&md).unwrap();
        assert_eq!((d.controller, d.brokers.len()), (None, 1));
        assert_eq!(d.authorized_operations, None);
        assert_eq!(d.to_string(), "cluster : 1 broker(s), controller unknown");
    }
}
