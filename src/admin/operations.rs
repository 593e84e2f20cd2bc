//! Operations on brokers and partitions: log directories, leader elections, and the
//! transaction-inspection calls (producers on a partition, transactions and their state).

use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::join_all;
use kafka_protocol::messages::ElectLeadersRequest;

use super::wire::describe_log_dirs::{self, LogDirDescription};
use super::wire::elect_leaders::{self, ElectionType};
use super::wire::transactions::{
    self, ListedTransaction, ProducerDescription, TransactionDescription,
};
use super::{AdminClient, Retry};
use crate::cluster::CoordinatorType;
use crate::connection::{BrokerConnection, Purpose};
use crate::types::{BrokerId, TopicPartition};
use crate::{Error, ErrorKind, Result};

impl AdminClient {
    /// Asks every broker with `ask` (each retried on its own until `default.api.timeout.ms`):
    /// one answer per broker, by id.
    async fn every_broker<T, F, Fut>(
        &self,
        api: &'static str,
        ask: F,
    ) -> Result<BTreeMap<BrokerId, Result<T>>>
    where
        F: Fn(BrokerConnection) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let cluster = self.describe_cluster().await?;
        let ask = &ask;
        let asks = cluster.brokers.iter().map(|b| async move {
            let mut retry: Retry = self.retry(api);
            let r = loop {
                let outcome = async {
                    let conn = self.cluster.connection_to(b.id.0, Purpose::Control).await?;
                    ask(conn).await
                }
                .await;
                match outcome {
                    Ok(v) => break Ok(v),
                    Err(e) => {
                        if let Err(e) = retry.after(e, &self.cluster).await {
                            break Err(e.with_broker(b.id.to_string()));
                        }
                    }
                }
            };
            (b.id, r)
        });
        Ok(join_all(asks).await.into_iter().collect())
    }

    /// Describes every broker's log directories and the replicas in each: one result per
    /// broker (a broker that could not be asked gets its error, the others still answer).
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// for (broker, dirs) in admin.describe_log_dirs().await? {
    ///     for d in dirs? {
    ///         println!("broker {broker}: {d}");
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn describe_log_dirs(
        &self,
    ) -> Result<BTreeMap<BrokerId, Result<Vec<LogDirDescription>>>> {
        self.every_broker("DescribeLogDirs", |conn| async move {
            let resp = conn.send(&describe_log_dirs::request()).await?;
            describe_log_dirs::parse(&resp)
        })
        .await
    }

    /// Elects leaders of `partitions` (`None`: every partition whose preferred replica is not
    /// the leader). One result per partition: `ELECTION_NOT_NEEDED` when the preferred replica
    /// already leads, `UNKNOWN_TOPIC_OR_PARTITION`, `PREFERRED_LEADER_NOT_AVAILABLE`, …
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// use ferrokafka::admin::ElectionType;
    /// for (tp, r) in admin.elect_leaders(ElectionType::Preferred, None).await? {
    ///     println!("{tp}: {r:?}");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: the controller may elect after the future is dropped.
    pub async fn elect_leaders(
        &self,
        election: ElectionType,
        partitions: Option<&[TopicPartition]>,
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        let timeout_ms = self.timeout_ms();
        let mut retry = self.retry("ElectLeaders");
        loop {
            let outcome = async {
                let conn = self.cluster.any_connection(Purpose::Control).await?;
                let version = conn.version_for::<ElectLeadersRequest>()?;
                let req = elect_leaders::request(election, partitions, timeout_ms, version)
                    .ok_or_else(|| {
                        Error::new(ErrorKind::InvalidArgument)
                            .with_api("ElectLeaders")
                            .with_detail("unclean elections need ElectLeaders v1 (Kafka 2.4)")
                    })?;
                let resp = conn.send(&req).await?;
                elect_leaders::parse(&resp)
            }
            .await;
            match outcome {
                Ok(answers) => return Ok(answers),
                Err(e) => retry.after(e, &self.cluster).await?,
            }
        }
    }

    /// The active producers (idempotent and transactional) of each partition, from its
    /// leader: producer id, epoch, last sequence, and the start of its open transaction.
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// use ferrokafka::types::TopicPartition;
    /// let tp = TopicPartition::new("orders", 0);
    /// for p in admin.describe_producers(&[tp.clone()]).await?.remove(&tp).into_iter().flatten().flatten() {
    ///     println!("{tp}: {p}");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn describe_producers(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Result<Vec<ProducerDescription>>>> {
        let tps: Vec<TopicPartition> = partitions
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        Ok(self
            .per_leader("DescribeProducers", &tps, |conn, tps| async move {
                let resp = conn
                    .send(&transactions::describe_producers_request(&tps))
                    .await?;
                Ok(transactions::parse_describe_producers(&resp))
            })
            .await)
    }

    /// Lists every transactional id of the cluster with its producer id and state (each broker
    /// lists those it coordinates). Fails if a broker could not be asked.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn list_transactions(&self) -> Result<Vec<ListedTransaction>> {
        let per_broker = self
            .every_broker("ListTransactions", |conn| async move {
                let resp = conn
                    .send(&transactions::list_transactions_request())
                    .await?;
                transactions::parse_list_transactions(&resp)
            })
            .await?;
        let mut all = BTreeSet::new();
        for (_, r) in per_broker {
            all.extend(r?);
        }
        Ok(all.into_iter().collect())
    }

    /// Describes transactional ids, each from its transaction coordinator: state, producer id
    /// and epoch, timeout, and the partitions of the open transaction. One result per id, in
    /// the order given (`TRANSACTIONAL_ID_NOT_FOUND` for an unknown one).
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// for (id, d) in admin.describe_transactions(&["payments-1"]).await? {
    ///     println!("{id}: {}", d?);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn describe_transactions<S: AsRef<str>>(
        &self,
        transactional_ids: &[S],
    ) -> Result<Vec<(String, Result<TransactionDescription>)>> {
        let asks = transactional_ids.iter().map(|id| {
            let id = id.as_ref();
            async move {
                let mut retry = self.retry("DescribeTransactions");
                let r = loop {
                    let outcome = async {
                        let conn = self
                            .cluster
                            .coordinator_connection(CoordinatorType::Transaction, id)
                            .await?;
                        let resp = conn
                            .send(&transactions::describe_transactions_request([id]))
                            .await?;
                        transactions::parse_describe_transactions(&resp)
                            .into_iter()
                            .find(|(t, _)| t == id)
                            .map(|(_, r)| r)
                            .unwrap_or_else(|| {
                                Err(Error::malformed(
                                    "DescribeTransactions response omitted the transactional id",
                                ))
                            })
                    }
                    .await;
                    match outcome {
                        Ok(d) => break Ok(d),
                        Err(e) => {
                            self.cluster
                                .on_coordinator_error(CoordinatorType::Transaction, id, &e);
                            if let Err(e) = retry.after(e, &self.cluster).await {
                                break Err(e);
                            }
                        }
                    }
                };
                (id.to_owned(), r)
            }
        });
        Ok(join_all(asks).await)
    }
}
