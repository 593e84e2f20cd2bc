//! Dropped connections (issue #28): the topics and partitions a request names, read before its
//! handler runs, for the scoping of a [`Fault::drop_before`](crate::Fault::drop_before) or
//! [`Fault::drop_after`](crate::Fault::drop_after) rule.

use crate::server::decode;
use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

/// (topic, partition) pairs the request names; partition -1 for a whole topic (Metadata). Empty
/// for APIs without topics, or a body that does not decode (its handler then closes the
/// connection anyway). Fetch v13+ names topics by id only: a topic-scoped rule does not match it.
pub(crate) fn targets(key: ApiKey, version: i16, body: &Bytes) -> Vec<(String, i32)> {
    let mut body = body.clone();
    let body = &mut body;
    let name = |n: &StrBytes| n.to_string();
    match key {
        ApiKey::Produce => decode::<ProduceRequest>(body, version)
            .map(|r| {
                r.topic_data
                    .iter()
                    .flat_map(|t| t.partition_data.iter().map(|p| (name(&t.name.0), p.index)))
                    .collect()
            })
            .unwrap_or_default(),
        ApiKey::Fetch => decode::<FetchRequest>(body, version)
            .map(|r| {
                r.topics
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| (name(&t.topic.0), p.partition)))
                    .collect()
            })
            .unwrap_or_default(),
        ApiKey::ListOffsets => decode::<ListOffsetsRequest>(body, version)
            .map(|r| {
                r.topics
                    .iter()
                    .flat_map(|t| {
                        t.partitions
                            .iter()
                            .map(|p| (name(&t.name.0), p.partition_index))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        ApiKey::Metadata => decode::<MetadataRequest>(body, version)
            .map(|r| {
                r.topics
                    .iter()
                    .flatten()
                    .filter_map(|t| Some((name(&t.name.as_ref()?.0), -1)))
                    .collect()
            })
            .unwrap_or_default(),
        ApiKey::OffsetCommit => decode::<OffsetCommitRequest>(body, version)
            .map(|r| {
                r.topics
                    .iter()
                    .flat_map(|t| {
                        t.partitions
                            .iter()
                            .map(|p| (name(&t.name.0), p.partition_index))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        ApiKey::OffsetFetch => decode::<OffsetFetchRequest>(body, version)
            .map(|r| {
                let old = r
                    .topics
                    .iter()
                    .flatten()
                    .map(|t| (&t.name, &t.partition_indexes));
                let new = r
                    .groups
                    .iter()
                    .flat_map(|g| g.topics.iter().flatten())
                    .map(|t| (&t.name, &t.partition_indexes));
                old.chain(new)
                    .flat_map(|(n, ps)| ps.iter().map(|p| (name(&n.0), *p)))
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}
