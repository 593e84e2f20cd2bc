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
//! | `describe_configs.rs`, `incremental_alter_configs.rs` | DescribeConfigs, IncrementalAlterConfigs |
//! | `acls.rs` | DescribeAcls, CreateAcls, DeleteAcls |
//! | `describe_log_dirs.rs`, `elect_leaders.rs` | DescribeLogDirs, ElectLeaders |
//! | `transactions.rs` | DescribeProducers, ListTransactions, DescribeTransactions |

pub(crate) mod acls;
pub(crate) mod consumer_group_describe;
pub(crate) mod create_partitions;
pub(crate) mod create_topics;
pub(crate) mod delete_groups;
pub(crate) mod delete_records;
pub(crate) mod delete_topics;
pub(crate) mod describe_cluster;
pub(crate) mod describe_configs;
pub(crate) mod describe_groups;
pub(crate) mod describe_log_dirs;
pub(crate) mod describe_topics;
pub(crate) mod elect_leaders;
pub(crate) mod incremental_alter_configs;
pub(crate) mod list_groups;
pub(crate) mod offset_delete;
pub(crate) mod transactions;
