//! Configs of topics and brokers: describe, incrementally alter.

use std::collections::BTreeMap;

use futures_util::future::join_all;

use super::wire::{describe_configs, incremental_alter_configs};
use super::{AdminClient, AlterConfigOp, ConfigEntry, ConfigResource};
use crate::connection::{BrokerConnection, Purpose};
use crate::types::BrokerId;
use crate::{Error, Result};

/// Splits resources by the broker that must answer: a broker's own configs go to that broker,
/// topic configs to any broker (`None`).
fn by_target<'a, T>(
    items: impl IntoIterator<Item = (&'a ConfigResource, T)>,
) -> BTreeMap<Option<BrokerId>, Vec<(&'a ConfigResource, T)>> {
    let mut m: BTreeMap<Option<BrokerId>, Vec<(&ConfigResource, T)>> = BTreeMap::new();
    for (r, t) in items {
        m.entry(r.broker()).or_default().push((r, t));
    }
    m
}

impl AdminClient {
    async fn config_connection(&self, target: Option<BrokerId>) -> Result<BrokerConnection> {
        match target {
            Some(b) => self.cluster.connection_to(b.0, Purpose::Control).await,
            None => self.cluster.any_connection(Purpose::Control).await,
        }
    }

    /// Describes every config of topics and brokers. One result per resource, in the order
    /// given, each with its entries sorted by name; a topic that does not exist gets
    /// `UNKNOWN_TOPIC_OR_PARTITION` without failing the others.
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// use ferrokafka::admin::ConfigResource;
    /// let topic = ConfigResource::Topic("orders".into());
    /// for (resource, entries) in admin.describe_configs(&[topic]).await? {
    ///     for e in entries? {
    ///         println!("{resource}: {e}");
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn describe_configs(
        &self,
        resources: &[ConfigResource],
    ) -> Result<Vec<(ConfigResource, Result<Vec<ConfigEntry>>)>> {
        let groups = by_target(resources.iter().map(|r| (r, ())));
        let asks = groups.into_iter().map(|(target, rs)| async move {
            let rs: Vec<&ConfigResource> = rs.into_iter().map(|(r, _)| r).collect();
            let mut retry = self.retry("DescribeConfigs");
            loop {
                let outcome = async {
                    let conn = self.config_connection(target).await?;
                    let resp = conn
                        .send(&describe_configs::request(rs.iter().copied()))
                        .await?;
                    Ok::<_, Error>(describe_configs::parse(&resp))
                }
                .await;
                match outcome {
                    Ok(answers) => return Ok(answers),
                    Err(e) => retry.after(e, &self.cluster).await?,
                }
            }
        });
        let mut answers: BTreeMap<ConfigResource, Result<Vec<ConfigEntry>>> = BTreeMap::new();
        for r in join_all(asks).await {
            answers.extend(r?);
        }
        Ok(resources
            .iter()
            .map(|r| {
                let a = answers.remove(r).unwrap_or_else(|| {
                    Err(Error::malformed(format!(
                        "DescribeConfigs response omitted {r}"
                    )))
                });
                (r.clone(), a)
            })
            .collect())
    }

    /// Changes single configs of topics and brokers, leaving their other configs alone
    /// (KIP-339). One result per resource, in the order given: an invalid value gets
    /// `INVALID_CONFIG` with the broker's reason, without failing the other resources.
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// use ferrokafka::admin::{AlterConfigOp, ConfigResource};
    /// let topic = ConfigResource::Topic("orders".into());
    /// let ops = vec![AlterConfigOp::set("retention.ms", "86400000")];
    /// for (resource, r) in admin.incremental_alter_configs(&[(topic, ops)]).await? {
    ///     r?;
    ///     println!("{resource} altered");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: the broker may apply the changes after the future is
    /// dropped.
    pub async fn incremental_alter_configs(
        &self,
        changes: &[(ConfigResource, Vec<AlterConfigOp>)],
    ) -> Result<Vec<(ConfigResource, Result<()>)>> {
        let groups = by_target(changes.iter().map(|(r, ops)| (r, ops.as_slice())));
        let asks = groups.into_iter().map(|(target, rs)| async move {
            let mut retry = self.retry("IncrementalAlterConfigs");
            loop {
                let outcome = async {
                    let conn = self.config_connection(target).await?;
                    let req = incremental_alter_configs::request(rs.iter().copied(), false);
                    let resp = conn.send(&req).await?;
                    Ok::<_, Error>(incremental_alter_configs::parse(&resp))
                }
                .await;
                match outcome {
                    Ok(answers) => return Ok(answers),
                    Err(e) => retry.after(e, &self.cluster).await?,
                }
            }
        });
        let mut answers: BTreeMap<ConfigResource, Result<()>> = BTreeMap::new();
        for r in join_all(asks).await {
            answers.extend(r?);
        }
        Ok(changes
            .iter()
            .map(|(r, _)| {
                let a = answers.remove(r).unwrap_or_else(|| {
                    Err(Error::malformed(format!(
                        "IncrementalAlterConfigs response omitted {r}"
                    )))
                });
                (r.clone(), a)
            })
            .collect())
    }
}
