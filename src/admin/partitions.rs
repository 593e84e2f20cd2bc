//! Partitions: adding partitions, looking offsets up, deleting records.

use std::collections::BTreeMap;
use std::fmt;

use kafka_protocol::messages::ListOffsetsRequest;

use super::wire::{create_partitions, delete_records};
use super::AdminClient;
use crate::protocol::requests::list_offsets;
use crate::types::{BrokerId, IsolationLevel, LeaderEpoch, Offset, TopicPartition};
use crate::{Error, ErrorKind, Result};

use super::ListedOffset;

/// A new partition count for a topic ([`AdminClient::create_partitions`]).
///
/// ```
/// use ferrokafka::admin::NewPartitions;
/// let p = NewPartitions::increase_to("orders", 12);
/// assert_eq!(p.total_count, 12);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewPartitions {
    /// The topic.
    pub topic: String,
    /// The new total number of partitions (more than the topic has now).
    pub total_count: i32,
    /// Replicas of each new partition, in order (`None`: the controller places them).
    pub assignments: Option<Vec<Vec<BrokerId>>>,
}

impl NewPartitions {
    /// Raises `topic` to `total_count` partitions, placed by the controller.
    pub fn increase_to(topic: impl Into<String>, total_count: i32) -> NewPartitions {
        NewPartitions {
            topic: topic.into(),
            total_count,
            assignments: None,
        }
    }

    /// Places the new partitions' replicas (one list of brokers per new partition).
    pub fn assignments(mut self, assignments: Vec<Vec<BrokerId>>) -> NewPartitions {
        self.assignments = Some(assignments);
        self
    }
}

/// Which offset [`AdminClient::list_offsets`] looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The log end offset (the high watermark; the last stable offset under `read_committed`).
    Latest,
    /// The first offset whose record timestamp is at or after this time (ms since the epoch).
    Timestamp(i64),
    /// The offset of the record with the largest timestamp (KIP-734; ListOffsets v7+).
    MaxTimestamp,
}

impl OffsetSpec {
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::Timestamp(t) => t,
            OffsetSpec::MaxTimestamp => -3,
        }
    }
}

impl fmt::Display for OffsetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OffsetSpec::Earliest => f.write_str("earliest"),
            OffsetSpec::Latest => f.write_str("latest"),
            OffsetSpec::Timestamp(t) => write!(f, "timestamp {t}"),
            OffsetSpec::MaxTimestamp => f.write_str("max-timestamp"),
        }
    }
}

impl AdminClient {
    /// Raises topics' partition counts. One result per topic, in the order given;
    /// `INVALID_PARTITIONS` when the count is not larger than the current one,
    /// `UNKNOWN_TOPIC_OR_PARTITION` for a topic that does not exist.
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// use ferrokafka::admin::NewPartitions;
    /// for (topic, r) in admin.create_partitions(&[NewPartitions::increase_to("orders", 6)]).await? {
    ///     r?;
    ///     println!("{topic} now has 6 partitions");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: the controller may add the partitions after the future is
    /// dropped.
    pub async fn create_partitions(
        &self,
        topics: &[NewPartitions],
    ) -> Result<Vec<(String, Result<()>)>> {
        let timeout_ms = self.timeout_ms();
        self.per_topic(
            "CreatePartitions",
            topics,
            |t| &t.topic,
            |pending, _version| {
                create_partitions::request(
                    pending
                        .iter()
                        .map(|t| (t.topic.as_str(), t.total_count, t.assignments.as_deref())),
                    timeout_ms,
                    false,
                )
            },
            create_partitions::parse,
        )
        .await
    }

    /// Looks up offsets per partition (`read_uncommitted`), from each partition's leader. One
    /// result per partition: a partition of an unknown topic gets
    /// `UNKNOWN_TOPIC_OR_PARTITION` without failing the others.
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// use ferrokafka::admin::OffsetSpec;
    /// use ferrokafka::types::TopicPartition;
    /// let tp = TopicPartition::new("orders", 0);
    /// let ends = admin.list_offsets(&[(tp.clone(), OffsetSpec::Latest)]).await?;
    /// println!("end of {tp}: {}", ends[&tp].as_ref().map_err(Clone::clone)?.offset);
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn list_offsets(
        &self,
        partitions: &[(TopicPartition, OffsetSpec)],
    ) -> Result<BTreeMap<TopicPartition, Result<ListedOffset>>> {
        self.list_offsets_with(partitions, IsolationLevel::ReadUncommitted)
            .await
    }

    /// Like [`list_offsets`](Self::list_offsets) under an isolation level: under
    /// `ReadCommitted`, `Latest` is the last stable offset.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn list_offsets_with(
        &self,
        partitions: &[(TopicPartition, OffsetSpec)],
        isolation_level: IsolationLevel,
    ) -> Result<BTreeMap<TopicPartition, Result<ListedOffset>>> {
        let specs: BTreeMap<TopicPartition, OffsetSpec> = partitions.iter().cloned().collect();
        let tps: Vec<TopicPartition> = specs.keys().cloned().collect();
        let timeout_ms = self.timeout_ms();
        let specs = &specs;
        Ok(self
            .per_leader("ListOffsets", &tps, |conn, tps| async move {
                let version = conn.version_for::<ListOffsetsRequest>()?;
                let max_ts = tps
                    .iter()
                    .any(|tp| specs.get(tp) == Some(&OffsetSpec::MaxTimestamp));
                if max_ts && version < 7 {
                    return Err(Error::new(ErrorKind::UnsupportedVersion {
                        api: "ListOffsets",
                        client: (7, 7),
                        broker: conn
                            .versions()
                            .broker_range(kafka_protocol::messages::ApiKey::ListOffsets),
                    })
                    .with_detail("max-timestamp lookups need ListOffsets v7 (Kafka 3.0)"));
                }
                let req = list_offsets::request(
                    tps.iter().filter_map(|tp| {
                        specs
                            .get(tp)
                            .map(|spec| (tp, LeaderEpoch::UNKNOWN, spec.wire()))
                    }),
                    isolation_level,
                    timeout_ms,
                );
                let resp = conn.send(&req).await?;
                Ok(list_offsets::parse_listed(&resp))
            })
            .await)
    }

    /// Deletes every record before the given offset of each partition (`Offset(-1)`: up to the
    /// high watermark), on each partition's leader. One result per partition: the new log
    /// start offset, or the partition's error (`OFFSET_OUT_OF_RANGE` past the high watermark,
    /// `UNKNOWN_TOPIC_OR_PARTITION`, …).
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// use ferrokafka::types::{Offset, TopicPartition};
    /// let tp = TopicPartition::new("orders", 0);
    /// let r = admin.delete_records(&[(tp.clone(), Offset(100))]).await?;
    /// println!("{tp} now starts at {:?}", r[&tp]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: the leader may delete the records after the future is
    /// dropped.
    pub async fn delete_records(
        &self,
        before: &[(TopicPartition, Offset)],
    ) -> Result<BTreeMap<TopicPartition, Result<Offset>>> {
        let offsets: BTreeMap<TopicPartition, Offset> = before.iter().cloned().collect();
        let tps: Vec<TopicPartition> = offsets.keys().cloned().collect();
        let timeout_ms = self.timeout_ms();
        let offsets = &offsets;
        Ok(self
            .per_leader("DeleteRecords", &tps, |conn, tps| async move {
                let req = delete_records::request(
                    // Every partition sent has an offset (they come from `offsets`' keys).
                    tps.iter()
                        .filter_map(|tp| offsets.get(tp).map(|o| (tp, *o))),
                    timeout_ms,
                );
                let resp = conn.send(&req).await?;
                Ok(delete_records::parse(&resp))
            })
            .await)
    }
}
