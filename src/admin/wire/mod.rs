//! Admin-only request builders and response parsers, one file per Kafka API, next to the public
//! result types they produce (re-exported by [`crate::admin`]).
//!
//! They live here rather than in `protocol::requests` because nothing but the admin client sends
//! these APIs, and the public surface should not be defined in the protocol layer. The split
//! keeps the layers one-way: these files use `protocol::requests`'s shared helpers (`str_bytes`,
//! `topic_name`, `by_topic`, `topic_result`, …) and the protocol layer never names `admin`. APIs
//! that the consumer, producer or cluster also send (Metadata, ListOffsets, OffsetFetch,
//! OffsetCommit, FindCoordinator) stay in `protocol::requests`. Like there, nothing here does
//! I/O: the admin calls pick the version, call a builder, send, and hand the response to the
//! parser.
//!
//! | file | API |
//! |---|---|
//! | `create_topics.rs`, `delete_topics.rs`, `create_partitions.rs` | CreateTopics, DeleteTopics, CreatePartitions |
//! | `describe_cluster.rs` | DescribeCluster (and the Metadata fallback) |
//! | `describe_topics.rs` | Metadata as `describe_topics` asks and reads it (authorized operations, [`TopicDescription`](crate::admin::TopicDescription)s) |
//! | `delete_records.rs` | DeleteRecords |
//! | `list_groups.rs`, `describe_groups.rs`, `delete_groups.rs`, `offset_delete.rs` | ListGroups, DescribeGroups, DeleteGroups, OffsetDelete |
//! | `consumer_group_describe.rs` | ConsumerGroupDescribe (KIP-848 groups) |
//! | `share_group_describe.rs`, `describe_share_group_offsets.rs`, `alter_share_group_offsets.rs`, `delete_share_group_offsets.rs` | ShareGroupDescribe, DescribeShareGroupOffsets, AlterShareGroupOffsets, DeleteShareGroupOffsets (KIP-932 share groups) |
//! | `describe_configs.rs`, `incremental_alter_configs.rs` | DescribeConfigs, IncrementalAlterConfigs |
//! | `acls.rs` | DescribeAcls, CreateAcls, DeleteAcls |
//! | `describe_log_dirs.rs`, `elect_leaders.rs` | DescribeLogDirs, ElectLeaders |
//! | `transactions.rs` | DescribeProducers, ListTransactions, DescribeTransactions |

pub(crate) mod acls;
pub(crate) mod alter_share_group_offsets;
pub(crate) mod consumer_group_describe;
pub(crate) mod create_partitions;
pub(crate) mod create_topics;
pub(crate) mod delete_groups;
pub(crate) mod delete_records;
pub(crate) mod delete_share_group_offsets;
pub(crate) mod delete_topics;
pub(crate) mod describe_cluster;
pub(crate) mod describe_configs;
pub(crate) mod describe_groups;
pub(crate) mod describe_log_dirs;
pub(crate) mod describe_share_group_offsets;
pub(crate) mod describe_topics;
pub(crate) mod elect_leaders;
pub(crate) mod incremental_alter_configs;
pub(crate) mod list_groups;
pub(crate) mod offset_delete;
pub(crate) mod share_group_describe;
pub(crate) mod transactions;

use kafka_protocol::messages::{GroupId, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::protocol::requests::topic_result;
use crate::{Error, Result};

/// One group's answer, keyed by its id: `Ok(ok(id))` for error code 0, else the broker's error
/// naming the group, the API and the broker's message. DescribeGroups, ConsumerGroupDescribe and
/// ShareGroupDescribe answer in different `kafka-protocol` types with the same per-group error
/// fields, so the error side is written once here.
pub(crate) fn group_answer<T>(
    api: &'static str,
    group_id: &GroupId,
    code: i16,
    message: Option<&StrBytes>,
    ok: impl FnOnce(String) -> T,
) -> (String, Result<T>) {
    let id = group_id.0.to_string();
    if code != 0 {
        let e = Error::from_broker_code(code)
            .with_api(api)
            .with_detail(format!("group {id}"))
            .with_broker_message(message.map(|m| m.to_string()));
        return (id, Err(e));
    }
    let answer = ok(id.clone());
    (id, Ok(answer))
}

/// Every topic's answer, in response order, keyed by its name: `Ok` for error code 0, else the
/// broker's error (with its message) naming the topic. CreateTopics, CreatePartitions and
/// DeleteShareGroupOffsets answer in different `kafka-protocol` types with the same per-topic
/// fields `(name, error code, error message)`, so the mapping is written once here.
pub(crate) fn topic_answers<'a>(
    api: &'static str,
    answers: impl IntoIterator<Item = (&'a TopicName, i16, Option<&'a StrBytes>)>,
) -> Vec<(String, Result<()>)> {
    answers
        .into_iter()
        .map(|(name, code, message)| {
            let name = name.0.to_string();
            let result = topic_result(api, &name, code, message);
            (name, result)
        })
        .collect()
}
