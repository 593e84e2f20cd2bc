//! Share groups (KIP-932): list, describe, delete, and their start offsets, as Java's `Admin`
//! does (`listGroups` for share groups, `describeShareGroups`, `listShareGroupOffsets`,
//! `alterShareGroupOffsets`, `deleteShareGroupOffsets`, `deleteShareGroups`).

use std::collections::BTreeMap;
use std::fmt;

use futures_util::future::join_all;
use kafka_protocol::messages::{
    AlterShareGroupOffsetsRequest, DeleteShareGroupOffsetsRequest,
    DescribeShareGroupOffsetsRequest, ShareGroupDescribeRequest,
};

use super::groups::{first_retriable, in_group};
use super::wire::describe_share_group_offsets::SharePartitionOffset;
use super::wire::share_group_describe::{self, DescribedShareGroup};
use super::wire::{
    alter_share_group_offsets, delete_share_group_offsets, describe_share_group_offsets,
};
use super::{AdminClient, ListedGroup};
use crate::types::{AclOperation, BrokerId, Offset, TopicPartition};
use crate::{Error, Result};

/// A described share group.
///
/// `Display` prints one line: `share group g (Stable, epoch 3) on coordinator 1: 2 member(s)`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShareGroupDescription {
    /// The group id.
    pub group_id: String,
    /// The state: `Empty`, `Stable` or `Dead`.
    pub state: String,
    /// The group epoch (bumped on every membership or subscription change).
    pub group_epoch: i32,
    /// The epoch of the group's current target assignment.
    pub assignment_epoch: i32,
    /// The broker's share-group assignor (`simple`).
    pub assignor: String,
    /// The coordinator that described it.
    pub coordinator: BrokerId,
    /// The members and their assignments.
    pub members: Vec<ShareMemberDescription>,
    /// What the caller may do on the group, when asked for.
    pub authorized_operations: Option<Vec<AclOperation>>,
}

impl fmt::Display for ShareGroupDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "share group {} ({}, epoch {}) on coordinator {}: {} member(s)",
            self.group_id,
            self.state,
            self.group_epoch,
            self.coordinator,
            self.members.len()
        )
    }
}

/// A member of a described share group.
///
/// `Display` prints one line: `member m1 client c host /127.0.0.1 epoch 2: 1 partition(s)`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShareMemberDescription {
    /// The member id (chosen by the member, a UUID).
    pub member_id: String,
    /// Its `client.id`.
    pub client_id: String,
    /// Its host as the coordinator saw it.
    pub host: String,
    /// Its `client.rack`, if set.
    pub rack: Option<String>,
    /// Its member epoch.
    pub member_epoch: i32,
    /// The topics it subscribes to.
    pub subscribed_topics: Vec<String>,
    /// Its assigned partitions (other members may be assigned the same ones: a share group
    /// hands out records, not partitions).
    pub assignment: Vec<TopicPartition>,
}

impl fmt::Display for ShareMemberDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "member {} client {} host {}",
            self.member_id, self.client_id, self.host
        )?;
        if let Some(r) = &self.rack {
            write!(f, " rack {r}")?;
        }
        write!(
            f,
            " epoch {}: {} partition(s)",
            self.member_epoch,
            self.assignment.len()
        )
    }
}

fn share_description(coordinator: BrokerId, g: DescribedShareGroup) -> ShareGroupDescription {
    ShareGroupDescription {
        group_id: g.group_id,
        state: g.state,
        group_epoch: g.group_epoch,
        assignment_epoch: g.assignment_epoch,
        assignor: g.assignor,
        coordinator,
        members: g
            .members
            .into_iter()
            .map(|m| ShareMemberDescription {
                member_id: m.member_id,
                client_id: m.client_id,
                host: m.client_host,
                rack: m.rack_id,
                member_epoch: m.member_epoch,
                subscribed_topics: m.subscribed_topics,
                assignment: m.assignment,
            })
            .collect(),
        authorized_operations: g.authorized_operations,
    }
}

impl AdminClient {
    /// Lists every share group of every broker: ListGroups with the type filter `share`
    /// (Java's `listGroups(ListGroupsOptions.forShareGroups())`). Each group's
    /// [`state`](ListedGroup::state) is `Empty`, `Stable` or `Dead`. Fails if a broker could not
    /// be asked, and with an [`UnsupportedVersion`](crate::ErrorKind::UnsupportedVersion)
    /// error on a broker whose ListGroups is below v5 (no type filter; share groups need Kafka
    /// 4.1 anyway).
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// for g in admin.list_share_groups().await? {
    ///     println!("{g}");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn list_share_groups(&self) -> Result<Vec<ListedGroup>> {
        self.list_groups_of_types(&["share"]).await
    }

    /// Describes share groups with ShareGroupDescribe (v1, Kafka 4.1+), each on its
    /// coordinator. One result per group, in the order given; a group that does not exist, or
    /// that is not a share group, gets `GROUP_ID_NOT_FOUND`.
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// for (group, d) in admin.describe_share_groups(&["orders-workers"], false).await? {
    ///     let d = d?;
    ///     println!("{d}");
    ///     d.members.iter().for_each(|m| println!("  {m}: {:?}", m.assignment));
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn describe_share_groups<S: AsRef<str>>(
        &self,
        groups: &[S],
        include_authorized_operations: bool,
    ) -> Result<Vec<(String, Result<ShareGroupDescription>)>> {
        let asks = groups.iter().map(|g| {
            let group = g.as_ref();
            async move {
                let r = self
                    .on_coordinator(group, "ShareGroupDescribe", |conn| async move {
                        let coordinator = BrokerId(conn.node_id().unwrap_or(-1));
                        conn.version_for::<ShareGroupDescribeRequest>()?;
                        let req =
                            share_group_describe::request([group], include_authorized_operations);
                        let resp = conn.send(&req).await?;
                        let answer = share_group_describe::parse(&resp)
                            .into_iter()
                            .find(|(id, _)| id == group)
                            .map(|(_, r)| r)
                            .unwrap_or_else(|| {
                                Err(Error::malformed(
                                    "ShareGroupDescribe response omitted the group",
                                ))
                            })?;
                        Ok(share_description(coordinator, answer))
                    })
                    .await
                    .map_err(|e| in_group(e, group));
                (group.to_owned(), r)
            }
        });
        Ok(join_all(asks).await)
    }

    /// Deletes share groups and their state, each on its coordinator: DeleteGroups, as for
    /// consumer groups ([`delete_consumer_groups`](AdminClient::delete_consumer_groups)). One
    /// result per group, in the order given: `NON_EMPTY_GROUP` while it has members,
    /// `GROUP_ID_NOT_FOUND` if it does not exist.
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: the coordinator may delete the groups after the future is
    /// dropped.
    pub async fn delete_share_groups<S: AsRef<str>>(
        &self,
        groups: &[S],
    ) -> Result<Vec<(String, Result<()>)>> {
        self.delete_consumer_groups(groups).await
    }

    /// `group`'s start offset per partition (DescribeShareGroupOffsets): of `partitions`, or of
    /// every partition the group has state for when `None`. Partitions without a start offset
    /// (never consumed by the group) are not listed. A partition the broker could not answer
    /// for gets its own error. A group that does not exist has no offsets: Kafka 4.4 answers
    /// with none (an empty map), not `GROUP_ID_NOT_FOUND`.
    ///
    /// The start offset is the one the share coordinator has stored, which may lag behind the
    /// acknowledgements: Kafka 4.4 still reports `0` for a partition whose records were all
    /// accepted (it keeps them as acknowledged state above the start offset).
    ///
    /// Java's `listShareGroupOffsets` also reports each partition's lag on brokers that answer
    /// DescribeShareGroupOffsets v1 (KIP-1226); `kafka-protocol` 0.18 speaks v0 only, so no lag
    /// is reported.
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// for (tp, offset) in admin.list_share_group_offsets("orders-workers", None).await? {
    ///     println!("{tp}: {:?}", offset.map(|o| o.start_offset));
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn list_share_group_offsets(
        &self,
        group: &str,
        partitions: Option<&[TopicPartition]>,
    ) -> Result<BTreeMap<TopicPartition, Result<SharePartitionOffset>>> {
        self.on_coordinator(group, "DescribeShareGroupOffsets", |conn| async move {
            conn.version_for::<DescribeShareGroupOffsetsRequest>()?;
            let req = describe_share_group_offsets::request(group, partitions);
            let resp = conn.send(&req).await?;
            let parts = describe_share_group_offsets::parse(&resp, group)?;
            // A coordinator that moved or is loading answers so for every partition: retry.
            if let Some(e) = first_retriable(parts.values()) {
                return Err(e);
            }
            Ok(parts
                .into_iter()
                .filter_map(|(tp, r)| match r {
                    Ok(Some(o)) => Some((tp, Ok(o))),
                    Ok(None) => None,
                    Err(e) => Some((tp, Err(e))),
                })
                .collect())
        })
        .await
        .map_err(|e| in_group(e, group))
    }

    /// Sets `group`'s start offsets (AlterShareGroupOffsets): the next records the group
    /// delivers on each partition start there. The group must be empty: one with members
    /// fails the call with `NON_EMPTY_GROUP`. One result per partition.
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// use ferrokafka::types::{Offset, TopicPartition};
    /// let r = admin
    ///     .alter_share_group_offsets(
    ///         "orders-workers",
    ///         &[(TopicPartition::new("orders", 0), Offset(0))],
    ///     )
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: the coordinator may store the offsets after the future is
    /// dropped.
    pub async fn alter_share_group_offsets(
        &self,
        group: &str,
        offsets: &[(TopicPartition, Offset)],
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        self.on_coordinator(group, "AlterShareGroupOffsets", |conn| async move {
            conn.version_for::<AlterShareGroupOffsetsRequest>()?;
            let resp = conn
                .send(&alter_share_group_offsets::request(group, offsets))
                .await?;
            let answers = alter_share_group_offsets::parse(&resp)?;
            if let Some(e) = first_retriable(answers.values()) {
                return Err(e);
            }
            Ok(answers)
        })
        .await
        .map_err(|e| in_group(e, group))
    }

    /// Deletes `group`'s state of whole topics (DeleteShareGroupOffsets): the group starts
    /// over on them as `share.auto.offset.reset` says. The group must be empty: one with
    /// members fails the call with `NON_EMPTY_GROUP`. One result per topic.
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// for (topic, r) in admin.delete_share_group_offsets("orders-workers", &["orders"]).await? {
    ///     r?;
    ///     println!("{topic}: deleted");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: the coordinator may delete the offsets after the future is
    /// dropped.
    pub async fn delete_share_group_offsets<S: AsRef<str>>(
        &self,
        group: &str,
        topics: &[S],
    ) -> Result<BTreeMap<String, Result<()>>> {
        self.on_coordinator(group, "DeleteShareGroupOffsets", |conn| async move {
            conn.version_for::<DeleteShareGroupOffsetsRequest>()?;
            let req = delete_share_group_offsets::request(group, topics.iter().map(|t| t.as_ref()));
            let resp = conn.send(&req).await?;
            let answers = delete_share_group_offsets::parse(&resp)?;
            if let Some(e) = first_retriable(answers.iter().map(|(_, r)| r)) {
                return Err(e);
            }
            Ok(answers.into_iter().collect())
        })
        .await
        .map_err(|e| in_group(e, group))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::wire::share_group_describe::DescribedShareMember;

    #[test]
    fn descriptions_display_on_one_line() {
        let g = share_description(
            BrokerId(1),
            DescribedShareGroup {
                group_id: "g".into(),
                state: "Stable".into(),
                group_epoch: 3,
                assignment_epoch: 3,
                assignor: "simple".into(),
                members: vec![DescribedShareMember {
                    member_id: "m1".into(),
                    rack_id: None,
                    member_epoch: 2,
                    client_id: "c".into(),
                    client_host: "/127.0.0.1".into(),
                    subscribed_topics: vec!["t".into()],
                    assignment: vec![TopicPartition::new("t", 0)],
                }],
                authorized_operations: None,
            },
        );
        assert_eq!(
            g.to_string(),
            "share group g (Stable, epoch 3) on coordinator 1: 1 member(s)"
        );
        let mut m = g.members[0].clone();
        assert_eq!(
            m.to_string(),
            "member m1 client c host /127.0.0.1 epoch 2: 1 partition(s)"
        );
        m.rack = Some("r1".into());
        assert!(
            m.to_string().contains("host /127.0.0.1 rack r1 epoch 2"),
            "{m}"
        );
    }
}
