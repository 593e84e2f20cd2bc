//! Consumer groups: list, describe, delete, their committed offsets, and lag.

pub use crate::types::GroupProtocol;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use futures_util::future::join_all;
use kafka_protocol::messages::{
    ApiKey, ConsumerGroupDescribeRequest, DescribeGroupsRequest, ListGroupsRequest,
    OffsetFetchRequest,
};

use super::wire::consumer_group_describe::{self, DescribedConsumerGroup};
use super::wire::describe_groups::{self, DescribedGroup};
use super::wire::{delete_groups, list_groups, offset_delete};
use super::{AdminClient, CommittedOffset, ListedGroup, OffsetSpec};
use crate::connection::Purpose;
use crate::consumer::group::metadata::Assignment;
use crate::error::code::{GROUP_ID_NOT_FOUND, UNSUPPORTED_VERSION};
use crate::protocol::requests::offset_commit::{self, CommitIdentity, OffsetToCommit};
use crate::protocol::requests::offset_fetch;
use crate::types::{AclOperation, BrokerId, Offset, TopicPartition};
use crate::{Error, ErrorKind, Result};

/// A described consumer group.
///
/// `Display` prints one line: `group g (classic, Stable, range) on coordinator 1: 2 member(s)`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupDescription {
    /// The group id.
    pub group_id: String,
    /// The state: classic groups `Stable`, `Empty`, `PreparingRebalance`,
    /// `CompletingRebalance` or `Dead`; `consumer`-protocol groups `Empty`, `Assigning`,
    /// `Reconciling`, `Stable` or `Dead`.
    pub state: String,
    /// The rebalance protocol the group uses.
    pub group_protocol: GroupProtocol,
    /// The protocol type (`consumer` for consumer groups).
    pub protocol_type: String,
    /// The assignor: for classic consumer groups the protocol the members chose (`range`,
    /// `cooperative-sticky`, …), for `consumer`-protocol groups the broker's (`uniform`, `range`).
    pub protocol: String,
    /// The coordinator that described it.
    pub coordinator: BrokerId,
    /// The members and their assignments.
    pub members: Vec<MemberDescription>,
    /// What the caller may do on the group, when asked for.
    pub authorized_operations: Option<Vec<AclOperation>>,
}

impl fmt::Display for GroupDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "group {} ({}, {}",
            self.group_id, self.group_protocol, self.state
        )?;
        if !self.protocol.is_empty() {
            write!(f, ", {}", self.protocol)?;
        }
        write!(
            f,
            ") on coordinator {}: {} member(s)",
            self.coordinator,
            self.members.len()
        )
    }
}

/// A member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberDescription {
    /// The member id the coordinator gave it.
    pub member_id: String,
    /// Its `group.instance.id` (static membership).
    pub group_instance_id: Option<String>,
    /// Its `client.id`.
    pub client_id: String,
    /// Its host as the coordinator saw it.
    pub host: String,
    /// Its assigned partitions (consumer groups; empty for other protocol types).
    pub assignment: Vec<TopicPartition>,
}

impl fmt::Display for MemberDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "member {} client {} host {}: {} partition(s)",
            self.member_id,
            self.client_id,
            self.host,
            self.assignment.len()
        )
    }
}

/// One partition's lag in a group, as `kafka-consumer-groups --describe` prints it.
///
/// `Display` prints one line: `orders-0 committed 40 end 42 lag 2`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionLag {
    /// The partition.
    pub partition: TopicPartition,
    /// The group's committed offset (`None`: nothing committed).
    pub committed: Option<Offset>,
    /// The partition's log end offset (high watermark).
    pub log_end: Offset,
    /// `log_end - committed`, never negative; `None` when nothing is committed.
    pub lag: Option<i64>,
    /// The member the partition is assigned to, if any (as `kafka-consumer-groups` prints
    /// CONSUMER-ID, HOST and CLIENT-ID).
    pub member: Option<MemberDescription>,
}

impl fmt::Display for PartitionLag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} committed ", self.partition)?;
        match self.committed {
            Some(c) => write!(f, "{c}")?,
            None => f.write_str("-")?,
        }
        write!(f, " end {} lag ", self.log_end)?;
        match self.lag {
            Some(l) => write!(f, "{l}")?,
            None => f.write_str("-")?,
        }
        if let Some(m) = &self.member {
            write!(f, " member {} client {}", m.member_id, m.client_id)?;
        }
        Ok(())
    }
}

/// The first retriable error among per-partition answers: a coordinator that moved or is
/// loading answers so for every partition, and the whole request is then retried.
pub(super) fn first_retriable<'a, T: 'a>(
    answers: impl IntoIterator<Item = &'a Result<T>>,
) -> Option<Error> {
    answers.into_iter().find_map(|r| match r {
        Err(e) if e.is_retriable() => Some(e.clone()),
        _ => None,
    })
}

/// Group-level errors name the group in their detail (the error context has no group field).
pub(super) fn in_group(e: Error, group: &str) -> Error {
    if e.to_string().contains(group) {
        e
    } else {
        e.with_detail(format!("group {group}"))
    }
}

/// The error for a type-filtered ListGroups on a broker below v5 (which would list every group
/// unfiltered): `UnsupportedVersion`, naming the group types asked for.
fn type_filter_unsupported(types: &[String], broker: Option<(i16, i16)>) -> Error {
    let max = crate::protocol::versions::client_range(ApiKey::ListGroups).1;
    Error::new(ErrorKind::UnsupportedVersion {
        api: "ListGroups",
        client: (5, max),
        broker,
    })
    .with_detail(format!(
        "listing {} groups needs the type filter of ListGroups v5 (KIP-848)",
        types.join(", ")
    ))
}

/// A classic group's description, decoding consumer-protocol member assignments (with the
/// consumer's bounded decoder: these bytes come from other clients).
fn classic_description(coordinator: BrokerId, g: DescribedGroup) -> Result<GroupDescription> {
    let consumer = g.protocol_type == "consumer";
    let members = g
        .members
        .into_iter()
        .map(|m| {
            let assignment = if consumer {
                Assignment::decode(&m.assignment)
                    .map_err(|e| {
                        e.with_api("DescribeGroups").with_detail(format!(
                            "group {}: member {} has a malformed assignment",
                            g.group_id, m.member_id
                        ))
                    })?
                    .partitions
            } else {
                Vec::new()
            };
            Ok(MemberDescription {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                client_id: m.client_id,
                host: m.client_host,
                assignment,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(GroupDescription {
        group_id: g.group_id,
        state: g.state,
        group_protocol: GroupProtocol::Classic,
        protocol_type: g.protocol_type,
        protocol: g.protocol,
        coordinator,
        members,
        authorized_operations: g.authorized_operations,
    })
}

/// A KIP-848 group's description.
fn consumer_description(coordinator: BrokerId, g: DescribedConsumerGroup) -> GroupDescription {
    GroupDescription {
        group_id: g.group_id,
        state: g.state,
        group_protocol: GroupProtocol::Consumer,
        protocol_type: "consumer".to_owned(),
        protocol: g.assignor,
        coordinator,
        members: g
            .members
            .into_iter()
            .map(|m| MemberDescription {
                member_id: m.member_id,
                group_instance_id: m.instance_id,
                client_id: m.client_id,
                host: m.client_host,
                assignment: m.assignment,
            })
            .collect(),
        authorized_operations: g.authorized_operations,
    }
}

impl AdminClient {
    /// Lists every group of every broker (each broker lists the groups it coordinates), as
    /// ListGroups reports them: consumer groups of both protocols, and groups of other
    /// protocol types (Connect, …); filter on
    /// [`protocol_type`](ListedGroup::protocol_type) or [`group_type`](ListedGroup::group_type).
    /// Fails if a broker could not be asked (a partial list would look complete).
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// for g in admin.list_consumer_groups().await? {
    ///     println!("{g}");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn list_consumer_groups(&self) -> Result<Vec<ListedGroup>> {
        self.list_groups_of_types(&[]).await
    }

    /// ListGroups on every broker, with a type filter when `types` is not empty (which then
    /// needs ListGroups v5: without it an older broker would list every group).
    pub(super) async fn list_groups_of_types(&self, types: &[&str]) -> Result<Vec<ListedGroup>> {
        let types: Vec<String> = types.iter().map(|t| (*t).to_owned()).collect();
        let types = &types;
        let cluster = self.describe_cluster().await?;
        let asks = cluster.brokers.iter().map(|b| async move {
            let mut retry = self.retry("ListGroups");
            loop {
                let outcome = async {
                    let conn = self.cluster.connection_to(b.id.0, Purpose::Control).await?;
                    let version = conn.version_for::<ListGroupsRequest>()?;
                    if !types.is_empty() && version < 5 {
                        let broker = conn.versions().broker_range(ApiKey::ListGroups);
                        return Err(type_filter_unsupported(types, broker));
                    }
                    let resp = conn
                        .send(&list_groups::request(&[], types, version))
                        .await?;
                    list_groups::parse(&resp, version)
                }
                .await;
                match outcome {
                    Ok(groups) => return Ok(groups),
                    Err(e) => {
                        retry
                            .after(e.with_broker(b.id.to_string()), &self.cluster)
                            .await?
                    }
                }
            }
        });
        let mut all = BTreeSet::new();
        for r in join_all(asks).await {
            all.extend(r?);
        }
        Ok(all.into_iter().collect())
    }

    /// Describes consumer groups of both rebalance protocols, each from its coordinator:
    /// ConsumerGroupDescribe for KIP-848 groups (where the broker speaks it), DescribeGroups
    /// for classic ones. One result per group, in the order given; a group that does not exist
    /// is described in state `Dead` with no members, or gets `GROUP_ID_NOT_FOUND`, as the broker
    /// answers.
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// for (group, d) in admin.describe_consumer_groups(&["billing"], false).await? {
    ///     let d = d?;
    ///     println!("{d}");
    ///     d.members.iter().for_each(|m| println!("  {m}"));
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn describe_consumer_groups<S: AsRef<str>>(
        &self,
        groups: &[S],
        include_authorized_operations: bool,
    ) -> Result<Vec<(String, Result<GroupDescription>)>> {
        let asks = groups.iter().map(|g| {
            let group = g.as_ref();
            async move {
                let r = self
                    .on_coordinator(group, "DescribeGroups", |conn| async move {
                        let coordinator = BrokerId(conn.node_id().unwrap_or(-1));
                        // KIP-848 groups first (as Java 4.x does): a classic group answers
                        // GROUP_ID_NOT_FOUND there and is described with DescribeGroups; so is
                        // every group of a Kafka 3.x broker that lists the API but answers
                        // UNSUPPORTED_VERSION without its new group coordinator.
                        if conn.version_for::<ConsumerGroupDescribeRequest>().is_ok() {
                            let req = consumer_group_describe::request(
                                [group],
                                include_authorized_operations,
                            );
                            let resp = conn.send(&req).await?;
                            let answer = consumer_group_describe::parse(&resp)
                                .into_iter()
                                .find(|(id, _)| id == group)
                                .map(|(_, r)| r)
                                .unwrap_or_else(|| {
                                    Err(Error::malformed(
                                        "ConsumerGroupDescribe response omitted the group",
                                    ))
                                });
                            match answer {
                                Ok(g) => return Ok(consumer_description(coordinator, g)),
                                Err(e)
                                    if matches!(
                                        e.broker_code(),
                                        Some(GROUP_ID_NOT_FOUND | UNSUPPORTED_VERSION)
                                    ) => {}
                                Err(e) => return Err(e),
                            }
                        }
                        let version = conn.version_for::<DescribeGroupsRequest>()?;
                        let req = describe_groups::request(
                            [group],
                            include_authorized_operations,
                            version,
                        );
                        let resp = conn.send(&req).await?;
                        let answer = describe_groups::parse(&resp)
                            .into_iter()
                            .find(|(id, _)| id == group)
                            .map(|(_, r)| r)
                            .unwrap_or_else(|| {
                                Err(Error::malformed(
                                    "DescribeGroups response omitted the group",
                                ))
                            })?;
                        classic_description(coordinator, answer)
                    })
                    .await
                    .map_err(|e| in_group(e, group));
                (group.to_owned(), r)
            }
        });
        Ok(join_all(asks).await)
    }

    /// Deletes consumer groups and their committed offsets, each on its coordinator. One
    /// result per group, in the order given: `NON_EMPTY_GROUP` while it has members,
    /// `GROUP_ID_NOT_FOUND` if it does not exist. DeleteGroups deletes share groups (KIP-932)
    /// too; [`delete_share_groups`](AdminClient::delete_share_groups) is the same call under
    /// the share-group name.
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: the coordinator may delete the groups after the future is
    /// dropped.
    pub async fn delete_consumer_groups<S: AsRef<str>>(
        &self,
        groups: &[S],
    ) -> Result<Vec<(String, Result<()>)>> {
        let asks = groups.iter().map(|g| {
            let group = g.as_ref();
            async move {
                let r = self
                    .on_coordinator(group, "DeleteGroups", |conn| async move {
                        let resp = conn.send(&delete_groups::request([group])).await?;
                        delete_groups::parse(&resp)
                            .into_iter()
                            .find(|(id, _)| id == group)
                            .map(|(_, r)| r)
                            .unwrap_or_else(|| {
                                Err(Error::malformed("DeleteGroups response omitted the group"))
                            })
                    })
                    .await
                    .map_err(|e| in_group(e, group));
                (group.to_owned(), r)
            }
        });
        Ok(join_all(asks).await)
    }

    /// Every committed offset of `group`, per partition (partitions with nothing committed
    /// are not listed). A group that does not exist has no offsets: an empty map.
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// for (tp, committed) in admin.list_consumer_group_offsets("billing").await? {
    ///     println!("{tp}: {:?}", committed.map(|c| c.offset));
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn list_consumer_group_offsets(
        &self,
        group: &str,
    ) -> Result<BTreeMap<TopicPartition, Result<CommittedOffset>>> {
        self.on_coordinator(group, "OffsetFetch", |conn| async move {
            let version = conn.version_for::<OffsetFetchRequest>()?;
            let resp = conn
                .send(&offset_fetch::request_all(group, version))
                .await?;
            let parts = offset_fetch::parse_partitions(&resp, version)?;
            // A retriable group-level code comes back as the call's Err (retried above); a
            // retriable partition code (UNSTABLE_OFFSET_COMMIT) retries the whole fetch too.
            if let Some(e) = first_retriable(parts.iter().map(|(_, r)| r)) {
                return Err(e);
            }
            Ok(parts
                .into_iter()
                .filter_map(|(tp, r)| match r {
                    Ok(Some(c)) => Some((tp, Ok(c))),
                    Ok(None) => None,
                    Err(e) => Some((tp, Err(e))),
                })
                .collect())
        })
        .await
        .map_err(|e| in_group(e, group))
    }

    /// Sets `group`'s committed offsets (on its coordinator, as a commit from outside the
    /// group). The group must have no active members: a live group refuses with
    /// `UNKNOWN_MEMBER_ID`. One result per partition.
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// use ferrokafka::types::{Offset, TopicPartition};
    /// let r = admin
    ///     .alter_consumer_group_offsets("billing", &[(TopicPartition::new("orders", 0), Offset(0))])
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: the coordinator may store the offsets after the future is
    /// dropped.
    pub async fn alter_consumer_group_offsets(
        &self,
        group: &str,
        offsets: &[(TopicPartition, Offset)],
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        let to_commit: BTreeMap<TopicPartition, OffsetToCommit> = offsets
            .iter()
            .map(|(tp, o)| (tp.clone(), OffsetToCommit::new(*o)))
            .collect();
        let to_commit = &to_commit;
        self.on_coordinator(group, "OffsetCommit", |conn| async move {
            let req = offset_commit::request(group, to_commit, &CommitIdentity::default());
            let resp = conn.send(&req).await?;
            let answers = offset_commit::parse_partitions(&resp);
            // Coordinator moves show on every partition: retry the whole commit.
            if let Some(e) = first_retriable(answers.values()) {
                return Err(e);
            }
            Ok(answers)
        })
        .await
        .map_err(|e| in_group(e, group))
    }

    /// Deletes `group`'s committed offsets of some partitions (KIP-496). A partition of a
    /// topic the group still consumes refuses with `GROUP_SUBSCRIBED_TO_TOPIC`; a group that
    /// does not exist fails the call with `GROUP_ID_NOT_FOUND`.
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: the coordinator may delete the offsets after the future is
    /// dropped.
    pub async fn delete_consumer_group_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        self.on_coordinator(group, "OffsetDelete", |conn| async move {
            let resp = conn
                .send(&offset_delete::request(group, partitions))
                .await?;
            let answers = offset_delete::parse(&resp)?;
            if let Some(e) = first_retriable(answers.values()) {
                return Err(e);
            }
            Ok(answers)
        })
        .await
        .map_err(|e| in_group(e, group))
    }

    /// The lag of `group` on every partition it has committed offsets for or has assigned to
    /// a member: committed offset against log end offset, with the owning member, as
    /// `kafka-consumer-groups --describe` prints it. A partition whose offsets could not be
    /// read gets its own error.
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// for (tp, lag) in admin.consumer_group_lag("billing").await? {
    ///     match lag {
    ///         Ok(l) => println!("{l}"),
    ///         Err(e) => println!("{tp}: {e}"),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn consumer_group_lag(
        &self,
        group: &str,
    ) -> Result<BTreeMap<TopicPartition, Result<PartitionLag>>> {
        let committed = self.list_consumer_group_offsets(group).await?;
        // Who owns what: partitions assigned but never committed are listed too (lag unknown).
        let mut owners: BTreeMap<TopicPartition, MemberDescription> = BTreeMap::new();
        let described = self.describe_consumer_groups(&[group], false).await?;
        match described.into_iter().next().map(|(_, r)| r) {
            Some(Ok(d)) => {
                for m in d.members {
                    for tp in &m.assignment {
                        owners.insert(tp.clone(), m.clone());
                    }
                }
            }
            Some(Err(e)) if e.broker_code() == Some(GROUP_ID_NOT_FOUND) => {}
            Some(Err(e)) => return Err(e),
            None => {}
        }
        let partitions: BTreeSet<TopicPartition> =
            committed.keys().chain(owners.keys()).cloned().collect();
        let specs: Vec<(TopicPartition, OffsetSpec)> = partitions
            .iter()
            .map(|tp| (tp.clone(), OffsetSpec::Latest))
            .collect();
        let mut ends = self.list_offsets(&specs).await?;
        let mut committed = committed;
        Ok(partitions
            .into_iter()
            .map(|tp| {
                let end = ends.remove(&tp).unwrap_or_else(|| {
                    Err(Error::malformed("ListOffsets omitted the partition")
                        .with_partition(tp.topic.clone(), tp.partition))
                });
                let committed = committed.remove(&tp).transpose();
                let member = owners.remove(&tp);
                let r = committed.and_then(|c| {
                    let end = end?.offset;
                    let c = c.map(|c| c.offset);
                    Ok(PartitionLag {
                        partition: tp.clone(),
                        committed: c,
                        log_end: end,
                        lag: c.map(|c| end.0.saturating_sub(c.0).max(0)),
                        member,
                    })
                });
                (tp, r)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_display_on_one_line() {
        let m = MemberDescription {
            member_id: "m1".into(),
            group_instance_id: None,
            client_id: "c".into(),
            host: "/127.0.0.1".into(),
            assignment: vec![TopicPartition::new("t", 0)],
        };
        let g = GroupDescription {
            group_id: "g".into(),
            state: "Stable".into(),
            group_protocol: GroupProtocol::Consumer,
            protocol_type: "consumer".into(),
            protocol: "uniform".into(),
            coordinator: BrokerId(1),
            members: vec![m.clone()],
            authorized_operations: None,
        };
        assert_eq!(
            g.to_string(),
            "group g (consumer, Stable, uniform) on coordinator 1: 1 member(s)"
        );
        assert_eq!(
            m.to_string(),
            "member m1 client c host /127.0.0.1: 1 partition(s)"
        );
        let lag = PartitionLag {
            partition: TopicPartition::new("t", 0),
            committed: None,
            log_end: Offset(7),
            lag: None,
            member: Some(m),
        };
        assert_eq!(
            lag.to_string(),
            "t-0 committed - end 7 lag - member m1 client c"
        );
    }

    #[test]
    fn a_type_filter_below_list_groups_v5_is_unsupported() {
        let e = type_filter_unsupported(&["share".to_owned()], Some((0, 4)));
        assert!(
            matches!(
                e.kind(),
                ErrorKind::UnsupportedVersion {
                    api: "ListGroups",
                    broker: Some((0, 4)),
                    ..
                }
            ),
            "{e:?}"
        );
        let s = e.to_string();
        assert!(s.contains("listing share groups needs"), "{s}");
        assert!(s.contains("broker range 0..=4"), "{s}");
    }

    #[test]
    fn classic_assignments_are_decoded_and_malformed_ones_refused() {
        let assignment = Assignment {
            partitions: vec![TopicPartition::new("t", 1)],
            user_data: None,
        }
        .encode()
        .expect("encode");
        let member = |bytes: bytes::Bytes| describe_groups::DescribedMember {
            member_id: "m".into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "h".into(),
            assignment: bytes,
        };
        let group = |protocol_type: &str, bytes| DescribedGroup {
            group_id: "g".into(),
            state: "Stable".into(),
            protocol_type: protocol_type.into(),
            protocol: "range".into(),
            members: vec![member(bytes)],
            authorized_operations: None,
        };
        let d = classic_description(BrokerId(1), group("consumer", assignment)).expect("ok");
        assert_eq!(d.members[0].assignment, vec![TopicPartition::new("t", 1)]);
        // A hostile count in another client's assignment bytes is an error, not an allocation.
        let hostile = bytes::Bytes::from_static(&[0, 3, 0x7f, 0xff, 0xff, 0xff]);
        let e = classic_description(BrokerId(1), group("consumer", hostile.clone()))
            .expect_err("malformed");
        assert!(e.to_string().contains("malformed assignment"), "{e}");
        // Other protocol types (Connect, …) have their own formats: not decoded.
        let d = classic_description(BrokerId(1), group("connect", hostile)).expect("ok");
        assert!(d.members[0].assignment.is_empty());
    }
}
