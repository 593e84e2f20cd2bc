//! ElectLeaders (KIP-460): elect the preferred (or, unclean, any) replica as leader of
//! partitions. Forwarded to the controller, so any broker takes it. v1 added the election type
//! and a top-level error.

use std::collections::BTreeMap;

use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse};

use crate::protocol::requests::{by_topic, partition_result, topic_name};
use crate::types::TopicPartition;
use crate::{Error, Result};

/// Which replica an election may pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ElectionType {
    /// The preferred replica (the first in the replica list), if it is in sync.
    Preferred,
    /// Any live replica, even one out of sync (may lose records).
    Unclean,
}

impl ElectionType {
    const fn to_wire(self) -> i8 {
        match self {
            ElectionType::Preferred => 0,
            ElectionType::Unclean => 1,
        }
    }
}

impl std::fmt::Display for ElectionType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ElectionType::Preferred => "preferred",
            ElectionType::Unclean => "unclean",
        })
    }
}

/// The request electing leaders of `partitions` (`None`: every partition) at `version`;
/// `None` when the version cannot say the type (v0 only knows preferred elections).
pub(crate) fn request(
    election: ElectionType,
    partitions: Option<&[TopicPartition]>,
    timeout_ms: i32,
    version: i16,
) -> Option<ElectLeadersRequest> {
    if version < 1 && election != ElectionType::Preferred {
        return None;
    }
    let topic_partitions = partitions.map(|tps| {
        by_topic(tps.iter().map(|tp| (tp, tp.partition)))
            .into_iter()
            .map(|(t, ps)| {
                TopicPartitions::default()
                    .with_topic(topic_name(t))
                    .with_partitions(ps)
            })
            .collect()
    });
    let mut req = ElectLeadersRequest::default()
        .with_topic_partitions(topic_partitions)
        .with_timeout_ms(timeout_ms);
    if version >= 1 {
        req.election_type = election.to_wire();
    }
    Some(req)
}

/// Every partition's answer (`ELECTION_NOT_NEEDED` when the preferred replica already leads),
/// or the top-level error (v1+).
pub(crate) fn parse(resp: &ElectLeadersResponse) -> Result<BTreeMap<TopicPartition, Result<()>>> {
    if resp.error_code != 0 {
        return Err(Error::from_broker_code(resp.error_code).with_api("ElectLeaders"));
    }
    let mut out = BTreeMap::new();
    for t in &resp.replica_election_results {
        for p in &t.partition_result {
            let (topic, index, msg) =
                (t.topic.0.as_str(), p.partition_id, p.error_message.as_ref());
            let r = partition_result("ElectLeaders", topic, index, p.error_code, msg, || ());
            out.insert(TopicPartition::new(t.topic.0.as_str(), p.partition_id), r);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::{encodes, str_bytes};
    use kafka_protocol::messages::elect_leaders_response::{
        PartitionResult, ReplicaElectionResult,
    };

    #[test]
    fn election_type_only_from_v1_and_every_version_encodes() {
        let tps = [TopicPartition::new("a", 0), TopicPartition::new("a", 1)];
        for v in 0..=2 {
            let req = request(ElectionType::Preferred, Some(&tps), 1_000, v).unwrap();
            assert_eq!(req.topic_partitions.as_ref().unwrap()[0].partitions, [0, 1]);
            assert!(encodes(&req, v), "ElectLeaders v{v}");
            let all = request(ElectionType::Preferred, None, 1_000, v).unwrap();
            assert!(all.topic_partitions.is_none() && encodes(&all, v));
        }
        assert!(request(ElectionType::Unclean, None, 1_000, 0).is_none());
        let req = request(ElectionType::Unclean, None, 1_000, 2).unwrap();
        assert_eq!(req.election_type, 1);
    }

    #[test]
    fn parse_keeps_partition_errors_and_messages() {
        let resp = ElectLeadersResponse::default().with_replica_election_results(vec![
            ReplicaElectionResult::default()
                .with_topic(topic_name("a"))
                .with_partition_result(vec![
                    PartitionResult::default().with_partition_id(0),
                    PartitionResult::default()
                        .with_partition_id(1)
                        .with_error_code(84)
                        .with_error_message(Some(str_bytes("already"))),
                ]),
        ]);
        let m = parse(&resp).unwrap();
        assert!(m[&TopicPartition::new("a", 0)].is_ok());
        let e = m[&TopicPartition::new("a", 1)].as_ref().unwrap_err();
        assert_eq!(
            (e.broker_code(), e.broker_message()),
            (Some(84), Some("already"))
        );
        let e = parse(&ElectLeadersResponse::default().with_error_code(41)).unwrap_err();
        assert_eq!(e.broker_code(), Some(41));
    }
}
