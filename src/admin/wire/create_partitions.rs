//! CreatePartitions: raise topics' partition counts (KRaft brokers forward it to the
//! controller). The same fields in every version, v0–v3.

use kafka_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use kafka_protocol::messages::{
    BrokerId as WireBrokerId, CreatePartitionsRequest, CreatePartitionsResponse,
};

use super::topic_answers;
use crate::protocol::requests::topic_name;
use crate::types::BrokerId;
use crate::Result;

/// The request raising each `(topic, new total count, replica assignment of the new
/// partitions)` (no assignment: the controller places them).
pub(crate) fn request<'a>(
    topics: impl IntoIterator<Item = (&'a str, i32, Option<&'a [Vec<BrokerId>]>)>,
    timeout_ms: i32,
    validate_only: bool,
) -> CreatePartitionsRequest {
    CreatePartitionsRequest::default()
        .with_timeout_ms(timeout_ms)
        .with_validate_only(validate_only)
        .with_topics(
            topics
                .into_iter()
                .map(|(t, count, assignments)| {
                    CreatePartitionsTopic::default()
                        .with_name(topic_name(t))
                        .with_count(count)
                        .with_assignments(assignments.map(|a| {
                            a.iter()
                                .map(|replicas| {
                                    CreatePartitionsAssignment::default().with_broker_ids(
                                        replicas.iter().map(|b| WireBrokerId(b.0)).collect(),
                                    )
                                })
                                .collect()
                        }))
                })
                .collect(),
        )
}

/// Every topic's answer, in response order.
pub(crate) fn parse(resp: &CreatePartitionsResponse) -> Vec<(String, Result<()>)> {
    let answers = resp.results.iter();
    topic_answers(
        "CreatePartitions",
        answers.map(|r| (&r.name, r.error_code, r.error_message.as_ref())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::{encodes, str_bytes};
    use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;

    #[test]
    fn request_encodes_at_every_version() {
        let assignment = [vec![BrokerId(1)], vec![BrokerId(2)]];
        let req = request(
            [("a", 4, None), ("b", 2, Some(&assignment[..]))],
            10_000,
            true,
        );
        assert!(req.validate_only);
        assert_eq!(req.topics[0].count, 4);
        assert!(req.topics[0].assignments.is_none());
        let b = req.topics[1].assignments.as_ref().unwrap();
        assert_eq!(b[1].broker_ids, vec![WireBrokerId(2)]);
        for v in 0..=3 {
            assert!(encodes(&req, v), "CreatePartitions v{v}");
        }
    }

    #[test]
    fn parse_keeps_each_topics_error() {
        let resp = CreatePartitionsResponse::default().with_results(vec![
            CreatePartitionsTopicResult::default().with_name(topic_name("a")),
            CreatePartitionsTopicResult::default()
                .with_name(topic_name("b"))
                .with_error_code(37)
                .with_error_message(Some(str_bytes("fewer"))),
        ]);
        let r = parse(&resp);
        assert!(r[0].1.is_ok());
        let e = r[1].1.as_ref().unwrap_err();
        assert_eq!(
            (e.broker_code(), e.topic(), e.broker_message()),
            (Some(37), Some("b"), Some("fewer"))
        );
    }
}
