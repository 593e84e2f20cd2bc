//! OffsetFetch: the committed offsets of a group's partitions. v8+ (KIP-709) batches groups;
//! this client asks for one group at a time, so it sends one entry and reads the first.

use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse};
use kafka_protocol::protocol::StrBytes;

use super::{by_topic, group_id, partition_result, topic_name};
use crate::types::{LeaderEpoch, Offset, TopicPartition};
use crate::{Error, Result};

/// A committed offset as the group coordinator holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommittedOffset {
    /// The offset of the next record to consume.
    pub offset: Offset,
    /// The leader epoch committed with it, if any.
    pub leader_epoch: Option<LeaderEpoch>,
    /// The commit's metadata string.
    pub metadata: Option<String>,
}

/// One line: `offset 42`, with the leader epoch and metadata when there are some.
impl std::fmt::Display for CommittedOffset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "offset {}", self.offset)?;
        if let Some(e) = self.leader_epoch {
            write!(f, " leader epoch {e}")?;
        }
        if let Some(m) = self.metadata.as_deref().filter(|m| !m.is_empty()) {
            write!(f, " metadata {m:?}")?;
        }
        Ok(())
    }
}

impl CommittedOffset {
    /// A committed offset without epoch or metadata.
    pub const fn new(offset: Offset) -> CommittedOffset {
        CommittedOffset {
            offset,
            leader_epoch: None,
            metadata: None,
        }
    }
}

/// The request for `tps` of `group` at `version` (v8+ carries it as one entry of `groups`).
/// `require_stable` (KIP-447, v7+; ignored below) makes the broker answer
/// UNSTABLE_OFFSET_COMMIT for a partition with offsets pending in an open transaction.
pub(crate) fn request(
    group: &str,
    tps: &[TopicPartition],
    version: i16,
    require_stable: bool,
) -> OffsetFetchRequest {
    let topics = by_topic(tps.iter().map(|tp| (tp, tp.partition)));
    let mut req = OffsetFetchRequest::default();
    req.require_stable = require_stable && version >= 7;
    if version >= 8 {
        req.groups = vec![OffsetFetchRequestGroup::default()
            .with_group_id(group_id(group))
            .with_member_epoch(-1)
            .with_topics(Some(
                topics
                    .iter()
                    .map(|(t, ps)| {
                        OffsetFetchRequestTopics::default()
                            .with_name(topic_name(t))
                            .with_partition_indexes(ps.clone())
                    })
                    .collect(),
            ))];
    } else {
        req.group_id = group_id(group);
        req.topics = Some(
            topics
                .iter()
                .map(|(t, ps)| {
                    OffsetFetchRequestTopic::default()
                        .with_name(topic_name(t))
                        .with_partition_indexes(ps.clone())
                })
                .collect(),
        );
    }
    req
}

/// Each partition's committed offset (`None`: nothing committed), or the first error: the
/// group's, else a partition's (the consumer's view of [`parse_partitions`]).
pub(crate) fn parse(
    resp: &OffsetFetchResponse,
    version: i16,
) -> Result<Vec<(TopicPartition, Option<CommittedOffset>)>> {
    parse_partitions(resp, version)?
        .into_iter()
        .map(|(tp, r)| r.map(|c| (tp, c)))
        .collect()
}

/// The request for every committed offset of `group` (`topics` null, v2+) at `version`, as
/// the admin client's `list_consumer_group_offsets` asks.
pub(crate) fn request_all(group: &str, version: i16) -> OffsetFetchRequest {
    let mut req = OffsetFetchRequest::default();
    if version >= 8 {
        req.groups = vec![OffsetFetchRequestGroup::default()
            .with_group_id(group_id(group))
            .with_member_epoch(-1)
            .with_topics(None)];
    } else {
        req.group_id = group_id(group);
        req.topics = None;
    }
    req
}

/// Every partition's committed offset (`None`: nothing committed) or its own error; `Err`
/// only for the group's error (the admin client's per-partition view; [`parse`] stops at the
/// first error for the consumer).
pub(crate) fn parse_partitions(
    resp: &OffsetFetchResponse,
    version: i16,
) -> Result<Vec<(TopicPartition, Result<Option<CommittedOffset>>)>> {
    // v8+ answers per group, older versions at the top level; the partition fields are the same,
    // so both are flattened into one list and checked by one loop.
    type Row<'a> = (&'a str, i32, i16, i64, i32, Option<&'a StrBytes>);
    let (group_code, rows): (i16, Vec<Row<'_>>) = if version >= 8 {
        let g = resp
            .groups
            .first()
            .ok_or_else(|| Error::malformed("OffsetFetch answered no group"))?;
        let rows = g.topics.iter().flat_map(|t| {
            t.partitions.iter().map(move |p| {
                let (offset, epoch) = (p.committed_offset, p.committed_leader_epoch);
                let name = t.name.0.as_str();
                (
                    name,
                    p.partition_index,
                    p.error_code,
                    offset,
                    epoch,
                    p.metadata.as_ref(),
                )
            })
        });
        (g.error_code, rows.collect())
    } else {
        let rows = resp.topics.iter().flat_map(|t| {
            t.partitions.iter().map(move |p| {
                let (offset, epoch) = (p.committed_offset, p.committed_leader_epoch);
                let name = t.name.0.as_str();
                (
                    name,
                    p.partition_index,
                    p.error_code,
                    offset,
                    epoch,
                    p.metadata.as_ref(),
                )
            })
        });
        (resp.error_code, rows.collect())
    };
    if group_code != 0 {
        return Err(Error::from_broker_code(group_code).with_api("OffsetFetch"));
    }
    Ok(rows
        .into_iter()
        .map(|(topic, p, code, offset, epoch, meta)| {
            let r = partition_result("OffsetFetch", topic, p, code, None, || {
                (offset >= 0).then(|| CommittedOffset {
                    offset: Offset(offset),
                    leader_epoch: (epoch >= 0).then_some(LeaderEpoch(epoch)),
                    metadata: meta.map(|m| m.to_string()),
                })
            });
            (TopicPartition::new(topic, p), r)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::encodes;
    use super::*;
    use kafka_protocol::messages::offset_fetch_response::{
        OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
        OffsetFetchResponseTopic, OffsetFetchResponseTopics,
    };

    fn tps() -> Vec<TopicPartition> {
        vec![TopicPartition::new("t", 0), TopicPartition::new("t", 1)]
    }

    /// A response at `version` for partitions 0 (offset 5, epoch 3, metadata "m") and 1
    /// (nothing committed), with `group_code` and partition 1's `p1_code`.
    fn response(version: i16, group_code: i16, p1_code: i16) -> OffsetFetchResponse {
        let mut resp = OffsetFetchResponse::default();
        let meta = Some(StrBytes::from_static_str("m"));
        if version >= 8 {
            let parts = vec![
                OffsetFetchResponsePartitions::default()
                    .with_partition_index(0)
                    .with_committed_offset(5)
                    .with_committed_leader_epoch(3)
                    .with_metadata(meta),
                OffsetFetchResponsePartitions::default()
                    .with_partition_index(1)
                    .with_committed_offset(-1)
                    .with_error_code(p1_code),
            ];
            resp.groups = vec![OffsetFetchResponseGroup::default()
                .with_group_id(group_id("g"))
                .with_error_code(group_code)
                .with_topics(vec![OffsetFetchResponseTopics::default()
                    .with_name(topic_name("t"))
                    .with_partitions(parts)])];
        } else {
            let parts = vec![
                OffsetFetchResponsePartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(5)
                    .with_committed_leader_epoch(3)
                    .with_metadata(meta),
                OffsetFetchResponsePartition::default()
                    .with_partition_index(1)
                    .with_committed_offset(-1)
                    .with_error_code(p1_code),
            ];
            resp.error_code = group_code;
            resp.topics = vec![OffsetFetchResponseTopic::default()
                .with_name(topic_name("t"))
                .with_partitions(parts)];
        }
        resp
    }

    #[test]
    fn every_version_encodes_and_parses_the_same() {
        for v in 1..=9 {
            assert!(encodes(&request("g", &tps(), v, false), v), "v{v}");
            // require_stable only exists from v7: asking for it below must still encode.
            let stable = request("g", &tps(), v, true);
            assert_eq!(stable.require_stable, v >= 7, "v{v}");
            assert!(encodes(&stable, v), "v{v}");
            let got = parse(&response(v, 0, 0), v).unwrap();
            let want_epoch = (v >= 5).then_some(LeaderEpoch(3));
            assert_eq!(got.len(), 2, "v{v}");
            let first = got[0].1.as_ref().expect("partition 0 committed");
            assert_eq!(first.offset, Offset(5), "v{v}");
            // The field exists from v5; older responses still decode it here, so check the
            // value round-trips only where the wire carries it.
            if want_epoch.is_some() {
                assert_eq!(first.leader_epoch, want_epoch, "v{v}");
            }
            assert_eq!(first.metadata.as_deref(), Some("m"), "v{v}");
            assert_eq!(got[1], (TopicPartition::new("t", 1), None), "v{v}");
        }
    }

    #[test]
    fn group_and_partition_errors_in_both_layouts() {
        for v in [7, 8] {
            // 16 = NOT_COORDINATOR for the group, 3 = UNKNOWN_TOPIC_OR_PARTITION for p1.
            let e = parse(&response(v, 16, 0), v).unwrap_err();
            assert!(e.to_string().contains("OffsetFetch"), "v{v}: {e}");
            assert!(e.is_retriable(), "v{v}: {e}");
            let e = parse(&response(v, 0, 3), v).unwrap_err();
            assert_eq!(
                (e.topic(), e.partition()),
                (Some("t"), Some(1)),
                "v{v}: {e}"
            );
            assert_eq!(e.broker_code(), Some(3), "v{v}: {e}");
        }
        let empty = OffsetFetchResponse::default();
        assert!(
            parse(&empty, 8).is_err(),
            "v8 without a group entry is malformed"
        );
    }

    #[test]
    fn request_all_is_null_topics_at_every_version() {
        // Null topics ("every partition") exists from v2; Kafka 4.x negotiates v9.
        for v in 2..=9 {
            let req = request_all("g", v);
            if v >= 8 {
                assert!(req.groups[0].topics.is_none());
            } else {
                assert!(req.topics.is_none());
            }
            assert!(encodes(&req, v), "OffsetFetch v{v}");
        }
    }

    #[test]
    fn parse_partitions_keeps_partition_errors_apart() {
        for v in [7, 8] {
            let r = parse_partitions(&response(v, 0, 3), v).unwrap();
            assert_eq!(
                r[0].1.as_ref().unwrap().as_ref().map(|c| c.offset),
                Some(Offset(5)),
                "v{v}"
            );
            assert_eq!(r[1].1.as_ref().unwrap_err().broker_code(), Some(3), "v{v}");
            let e = parse_partitions(&response(v, 16, 0), v).unwrap_err();
            assert_eq!(e.broker_code(), Some(16), "v{v}");
        }
        let r = parse_partitions(&response(9, 0, 0), 9).unwrap();
        assert_eq!(r[1].1.as_ref().unwrap(), &None);
        assert!(parse_partitions(&OffsetFetchResponse::default(), 9).is_err());
    }
}
