//! One file per Kafka API: the pure builders that turn the client's version-free request data
//! into `kafka-protocol` messages for a negotiated version, and the parsers that turn decoded
//! (guard-checked) responses back into the client's own types.
//!
//! Nothing here does I/O: the async shells (cluster, producer sender, consumer driver, group task,
//! coordinator) pick the version with `BrokerConnection::version_for`, call a builder, send, and
//! hand the response to the parser. The I/O-free cores (fetch, group membership, producer state)
//! produce and consume the version-free structs defined here, so the version rules of every API
//! sit in one file with its per-version unit tests.
//!
//! APIs that only the admin client sends (CreateTopics, DescribeConfigs, the ACL and group
//! admin calls, …) live in `admin::wire` instead, next to the public result types they produce:
//! the public surface is not defined in the protocol layer, and this layer never names `admin`.
//! Their files use the helpers below.
//!
//! | file | API | used by |
//! |---|---|---|
//! | `produce.rs` | Produce (frame writer: batches encoded in place; response parsed per partition) | producer sender |
//! | `fetch.rs` | Fetch v4–v12 | consumer driver, fetch core |
//! | `list_offsets.rs` | ListOffsets | consumer driver, admin |
//! | `metadata.rs` | Metadata (request; the response becomes `ClusterMetadata` in `cluster`, and the admin client's topic descriptions in `admin::wire::describe_topics`) | cluster, admin |
//! | `find_coordinator.rs` | FindCoordinator | consumer coordinator, admin |
//! | `offset_fetch.rs` | OffsetFetch (v8+ groups array) | consumer coordinator, admin |
//! | `offset_commit.rs` | OffsetCommit | consumer coordinator, admin |
//! | `init_producer_id.rs` | InitProducerId | producer sender |
//! | `sasl_handshake.rs`, `sasl_authenticate.rs` | SaslHandshake v1, SaslAuthenticate (KIP-152, KIP-368 session lifetime) | connection setup (`connection::sasl`) |
//! | `join_group.rs`, `sync_group.rs`, `heartbeat.rs`, `leave_group.rs` | classic group protocol | group membership core and group task |
//! | `consumer_group_heartbeat.rs` | ConsumerGroupHeartbeat (KIP-848 consumer protocol) | KIP-848 membership core and group task |
//! | `share_group_heartbeat.rs`, `share_fetch.rs` | ShareGroupHeartbeat, ShareFetch, ShareAcknowledge (KIP-932 share groups) | share consumer |

pub(crate) mod add_offsets_to_txn;
pub(crate) mod add_partitions_to_txn;
pub(crate) mod consumer_group_heartbeat;
pub(crate) mod end_txn;
pub(crate) mod fetch;
pub(crate) mod find_coordinator;
pub(crate) mod heartbeat;
pub(crate) mod init_producer_id;
pub(crate) mod join_group;
pub(crate) mod leave_group;
pub(crate) mod list_offsets;
pub(crate) mod metadata;
pub(crate) mod offset_commit;
pub(crate) mod offset_fetch;
pub mod produce;
pub(crate) mod sasl_authenticate;
pub(crate) mod sasl_handshake;
pub(crate) mod share_fetch;
pub(crate) mod share_group_heartbeat;
pub(crate) mod sync_group;
pub(crate) mod txn_offset_commit;

use std::collections::BTreeMap;

use kafka_protocol::messages::{GroupId, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::types::TopicPartition;

/// A `kafka-protocol` string from a borrowed one.
pub(crate) fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// A topic name on the wire.
pub(crate) fn topic_name(topic: &str) -> TopicName {
    TopicName(str_bytes(topic))
}

/// A group id on the wire.
pub(crate) fn group_id(group: &str) -> GroupId {
    GroupId(str_bytes(group))
}

/// Groups items by topic, keeping each topic's items in the order given; topics come out sorted
/// (requests list each topic once).
pub(crate) fn by_topic<'a, T>(
    items: impl IntoIterator<Item = (&'a TopicPartition, T)>,
) -> BTreeMap<&'a str, Vec<T>> {
    let mut m: BTreeMap<&str, Vec<T>> = BTreeMap::new();
    for (tp, item) in items {
        m.entry(tp.topic.as_str()).or_default().push(item);
    }
    m
}

/// A topic's answer: `Ok` for error code 0, else the broker's error naming the topic, the API
/// and the broker's message.
pub(crate) fn topic_result(
    api: &'static str,
    topic: &str,
    code: i16,
    message: Option<&StrBytes>,
) -> crate::Result<()> {
    if code == 0 {
        return Ok(());
    }
    Err(crate::Error::from_broker_code(code)
        .with_topic(topic)
        .with_api(api)
        .with_broker_message(message.map(|m| m.to_string())))
}

/// A partition's answer: `Ok(ok())` for error code 0, else the broker's error naming the
/// partition, the API and the broker's message.
pub(crate) fn partition_result<T>(
    api: &'static str,
    topic: &str,
    partition: i32,
    code: i16,
    message: Option<&StrBytes>,
    ok: impl FnOnce() -> T,
) -> crate::Result<T> {
    if code == 0 {
        return Ok(ok());
    }
    Err(crate::Error::from_broker_code(code)
        .with_partition(topic, partition)
        .with_api(api)
        .with_broker_message(message.map(|m| m.to_string())))
}

/// Test helper: whether `m` encodes at version `v` (kafka-protocol refuses a set field the
/// version lacks).
#[cfg(test)]
pub(crate) fn encodes<M: kafka_protocol::protocol::Encodable>(m: &M, v: i16) -> bool {
    m.encode(&mut bytes::BytesMut::new(), v).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_topic_groups_in_order() {
        let tps = [
            TopicPartition::new("b", 1),
            TopicPartition::new("a", 2),
            TopicPartition::new("b", 0),
        ];
        let m = by_topic(tps.iter().map(|tp| (tp, tp.partition)));
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            vec![("a", vec![2]), ("b", vec![1, 0])]
        );
    }
}
