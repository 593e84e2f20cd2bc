//! DeleteRecords: move partitions' log start offsets forward (sent to each partition's leader).
//! The same fields in every version, v0–v2.

use std::collections::BTreeMap;

use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use crate::protocol::requests::{by_topic, partition_result, topic_name};
use crate::types::{Offset, TopicPartition};
use crate::Result;

/// The request deleting every record before each partition's offset (`-1`: up to the high
/// watermark).
pub(crate) fn request<'a>(
    partitions: impl IntoIterator<Item = (&'a TopicPartition, Offset)>,
    timeout_ms: i32,
) -> DeleteRecordsRequest {
    let topics = by_topic(partitions.into_iter().map(|(tp, offset)| {
        (
            tp,
            DeleteRecordsPartition::default()
                .with_partition_index(tp.partition)
                .with_offset(offset.0),
        )
    }));
    DeleteRecordsRequest::default()
        .with_timeout_ms(timeout_ms)
        .with_topics(
            topics
                .into_iter()
                .map(|(t, ps)| {
                    DeleteRecordsTopic::default()
                        .with_name(topic_name(t))
                        .with_partitions(ps)
                })
                .collect(),
        )
}

/// Every partition's new low watermark (log start offset), or its error.
pub(crate) fn parse(resp: &DeleteRecordsResponse) -> BTreeMap<TopicPartition, Result<Offset>> {
    let mut out = BTreeMap::new();
    for t in &resp.topics {
        for p in &t.partitions {
            let (topic, index) = (t.name.0.as_str(), p.partition_index);
            let r = partition_result("DeleteRecords", topic, index, p.error_code, None, || {
                Offset(p.low_watermark)
            });
            out.insert(TopicPartition::new(t.name.0.as_str(), p.partition_index), r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;
    use kafka_protocol::messages::delete_records_response::{
        DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
    };

    #[test]
    fn request_groups_by_topic_and_encodes_at_every_version() {
        let a0 = TopicPartition::new("a", 0);
        let a1 = TopicPartition::new("a", 1);
        let req = request([(&a0, Offset(5)), (&a1, Offset(-1))], 3_000);
        assert_eq!(req.topics.len(), 1);
        assert_eq!(req.topics[0].partitions[1].offset, -1);
        for v in 0..=2 {
            assert!(encodes(&req, v), "DeleteRecords v{v}");
        }
    }

    #[test]
    fn parse_keeps_watermarks_and_errors_per_partition() {
        let resp =
            DeleteRecordsResponse::default().with_topics(vec![DeleteRecordsTopicResult::default()
                .with_name(topic_name("a"))
                .with_partitions(vec![
                    DeleteRecordsPartitionResult::default()
                        .with_partition_index(0)
                        .with_low_watermark(5),
                    DeleteRecordsPartitionResult::default()
                        .with_partition_index(1)
                        .with_error_code(1),
                ])]);
        let m = parse(&resp);
        assert_eq!(
            m[&TopicPartition::new("a", 0)].as_ref().ok(),
            Some(&Offset(5))
        );
        let e = m[&TopicPartition::new("a", 1)].as_ref().unwrap_err();
        assert_eq!((e.broker_code(), e.partition()), (Some(1), Some(1)));
    }
}
