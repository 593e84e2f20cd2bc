//! Describing the cluster and its topics.

use kafka_protocol::messages::{DescribeClusterRequest, MetadataRequest};

use super::wire::{describe_cluster, describe_topics};
use super::AdminClient;
use crate::connection::Purpose;
use crate::protocol::requests::metadata;
use crate::{ErrorKind, Result};

use super::{ClusterDescription, TopicDescription};

impl AdminClient {
    /// Describes the cluster: its id, its brokers and the controller, through DescribeCluster
    /// (Kafka 2.8+), or a Metadata request where the broker does not speak it.
    ///
    /// Under KRaft the "controller" is what brokers report to clients: a live broker (clients
    /// cannot reach the controller quorum), as in the Java admin client.
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// let cluster = admin.describe_cluster().await?;
    /// println!("{cluster}");
    /// for b in &cluster.brokers {
    ///     println!("  {b}");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn describe_cluster(&self) -> Result<ClusterDescription> {
        self.describe_cluster_with(false).await
    }

    /// Like [`describe_cluster`](Self::describe_cluster), also asking which operations the
    /// caller may perform on the cluster
    /// ([`authorized_operations`](ClusterDescription::authorized_operations)).
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn describe_cluster_with_authorized_operations(&self) -> Result<ClusterDescription> {
        self.describe_cluster_with(true).await
    }

    async fn describe_cluster_with(
        &self,
        authorized_operations: bool,
    ) -> Result<ClusterDescription> {
        let mut retry = self.retry("DescribeCluster");
        loop {
            let outcome = async {
                let conn = self.cluster.any_connection(Purpose::Control).await?;
                match conn.version_for::<DescribeClusterRequest>() {
                    Ok(_) => {
                        let resp = conn
                            .send(&describe_cluster::request(authorized_operations))
                            .await?;
                        describe_cluster::parse(&resp)
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::UnsupportedVersion { .. }) => {
                        let version = conn.version_for::<MetadataRequest>()?;
                        let mut req = metadata::request(Some(std::iter::empty::<&str>()), false);
                        req.include_cluster_authorized_operations =
                            authorized_operations && (8..=10).contains(&version);
                        let resp = conn.send(&req).await?;
                        describe_cluster::from_metadata(&resp)
                    }
                    Err(e) => Err(e),
                }
            }
            .await;
            match outcome {
                Ok(d) => return Ok(d),
                Err(e) => retry.after(e, &self.cluster).await?,
            }
        }
    }

    /// Describes topics: partitions, leaders, replicas, ISR, and (when
    /// `include_authorized_operations`) what the caller may do on each topic. One result per
    /// topic, in the order given; a topic that does not exist gets `UNKNOWN_TOPIC_OR_PARTITION`
    /// without failing the others.
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// for (name, d) in admin.describe_topics(&["orders"], false).await? {
    ///     match d {
    ///         Ok(d) => d.partitions.iter().for_each(|p| println!("{name}: {p}")),
    ///         Err(e) => println!("{name}: {e}"),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn describe_topics<S: AsRef<str>>(
        &self,
        topics: &[S],
        include_authorized_operations: bool,
    ) -> Result<Vec<(String, Result<TopicDescription>)>> {
        let names: Vec<&str> = topics.iter().map(AsRef::as_ref).collect();
        let mut retry = self.retry("Metadata");
        loop {
            let outcome = async {
                let conn = self.cluster.any_connection(Purpose::Control).await?;
                let version = conn.version_for::<MetadataRequest>()?;
                let req = describe_topics::describe_request(
                    names.iter().copied(),
                    include_authorized_operations,
                    version,
                );
                let resp = conn.send(&req).await?;
                Ok::<_, crate::Error>(describe_topics::parse_topics(&resp))
            }
            .await;
            let mut answers = match outcome {
                Ok(a) => a,
                Err(e) => {
                    retry.after(e, &self.cluster).await?;
                    continue;
                }
            };
            // A topic still electing its leaders answers LEADER_NOT_AVAILABLE at topic level.
            if let Some(e) = answers.iter().find_map(|(_, r)| match r {
                Err(e)
                    if e.is_retriable()
                        && e.broker_code() != Some(super::UNKNOWN_TOPIC_OR_PARTITION) =>
                {
                    Some(e.clone())
                }
                _ => None,
            }) {
                retry.after(e, &self.cluster).await?;
                continue;
            }
            return Ok(names
                .iter()
                .map(|n| {
                    let i = answers.iter().position(|(a, _)| a == n);
                    let r = match i {
                        Some(i) => answers.swap_remove(i).1.map_err(|e| {
                            if e.broker_code() == Some(super::UNKNOWN_TOPIC_OR_PARTITION) {
                                e.reclassify(crate::ErrorClass::ApplicationRecoverable)
                            } else {
                                e
                            }
                        }),
                        None => Err(
                            crate::Error::malformed("Metadata response omitted the topic")
                                .with_topic(*n),
                        ),
                    };
                    (n.to_string(), r)
                })
                .collect());
        }
    }
}
