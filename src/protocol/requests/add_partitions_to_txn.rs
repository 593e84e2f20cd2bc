//! AddPartitionsToTxn (client dialect, v3 and below): puts partitions into the producer's open
//! transaction before their first batch is written. v4+ is the broker-to-broker verification
//! form (KIP-890 part 1), so the client caps the version at 3.

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ProducerId as WireProducerId,
};

use super::init_producer_id::TxnProducer;
use super::{by_topic, partition_result, topic_name};
use crate::types::TopicPartition;
use crate::{Error, Result};

/// The highest version a producer sends.
pub(crate) const MAX_CLIENT_VERSION: i16 = 3;

/// One request adding every partition in `partitions`.
pub(crate) fn request(
    producer: &TxnProducer,
    partitions: &[TopicPartition],
) -> AddPartitionsToTxnRequest {
    let topics = by_topic(partitions.iter().map(|tp| (tp, tp.partition)))
        .into_iter()
        .map(|(t, parts)| {
            AddPartitionsToTxnTopic::default()
                .with_name(topic_name(t))
                .with_partitions(parts)
        })
        .collect();
    AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(producer.wire_id())
        .with_v3_and_below_producer_id(WireProducerId(producer.producer_id.0))
        .with_v3_and_below_producer_epoch(producer.epoch.0)
        .with_v3_and_below_topics(topics)
}

/// Each asked partition's result (`None` = added). A partition missing from the answer is
/// reported as a malformed response for that partition.
pub(crate) fn parse(
    resp: &AddPartitionsToTxnResponse,
    asked: &[TopicPartition],
) -> Vec<(TopicPartition, Option<Error>)> {
    asked
        .iter()
        .map(|tp| {
            let code = resp
                .results_by_topic_v3_and_below
                .iter()
                .filter(|t| t.name.0.as_str() == tp.topic)
                .flat_map(|t| &t.results_by_partition)
                .find(|p| p.partition_index == tp.partition)
                .map(|p| p.partition_error_code);
            let result: Result<()> = match code {
                Some(c) => partition_result(
                    "AddPartitionsToTxn",
                    &tp.topic,
                    tp.partition,
                    c,
                    None,
                    || (),
                ),
                None => Err(Error::malformed(
                    "partition missing from the AddPartitionsToTxn response",
                )
                .with_partition(tp.topic.clone(), tp.partition)),
            };
            (tp.clone(), result.err())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;
    use crate::types::{ProducerEpoch, ProducerId};
    use kafka_protocol::messages::add_partitions_to_txn_response::{
        AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
    };

    #[test]
    fn batches_partitions_per_topic_and_parses_per_partition() {
        let p = TxnProducer {
            transactional_id: "tx".into(),
            producer_id: ProducerId(4),
            epoch: ProducerEpoch(1),
        };
        let asked = [
            TopicPartition::new("a", 0),
            TopicPartition::new("b", 1),
            TopicPartition::new("a", 2),
        ];
        let req = request(&p, &asked);
        assert_eq!(req.v3_and_below_topics.len(), 2);
        assert_eq!(req.v3_and_below_topics[0].partitions, vec![0, 2]);
        for v in 0..=MAX_CLIENT_VERSION {
            assert!(encodes(&req, v), "v{v}");
        }
        let resp = AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(vec![
            AddPartitionsToTxnTopicResult::default()
                .with_name(topic_name("a"))
                .with_results_by_partition(vec![
                    AddPartitionsToTxnPartitionResult::default().with_partition_index(0),
                    AddPartitionsToTxnPartitionResult::default()
                        .with_partition_index(2)
                        .with_partition_error_code(51),
                ]),
        ]);
        let r = parse(&resp, &asked);
        assert!(r[0].1.is_none());
        assert!(
            r[1].1.as_ref().is_some_and(|e| e.broker_code().is_none()),
            "missing partition"
        );
        assert_eq!(r[2].1.as_ref().and_then(|e| e.broker_code()), Some(51));
    }
}
