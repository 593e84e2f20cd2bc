//! Talking to the group coordinator: OffsetFetch and OffsetCommit, version-aware, retried on
//! the coordinator found (cached, and looked up again when it moves) by
//! [`Cluster::coordinator_connection`].

use super::fetch::CommittedOffset;
use crate::cluster::{Cluster, CoordinatorType};
use crate::connection::BrokerConnection;
use crate::error::code::{
    FENCED_INSTANCE_ID, FENCED_MEMBER_EPOCH, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS,
    STALE_MEMBER_EPOCH, UNKNOWN_MEMBER_ID,
};
use crate::protocol::requests::{offset_commit, offset_fetch};
use crate::retry::{api_timeout, retry_until, GaveUp, Retry};
use crate::retry::{Backoff, Jitter};
use crate::types::TopicPartition;
use crate::{Error, ErrorKind, Result};
use kafka_protocol::messages::OffsetFetchRequest;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

pub(super) use crate::protocol::requests::offset_commit::{CommitIdentity, OffsetToCommit};

/// OffsetFetch and OffsetCommit for one group, on its coordinator (the cluster view caches it).
#[derive(Debug, Clone)]
pub(crate) struct Coordinator {
    cluster: Arc<Cluster>,
    group: String,
    /// OffsetFetch asks for stable offsets only (`require_stable`, v7+), as Java does under
    /// `read_committed`: a partition whose offsets an open transaction is committing answers
    /// UNSTABLE_OFFSET_COMMIT (retried) until that transaction ends. Without it a member taking
    /// over a partition from a transactional processor starts at the offsets before that
    /// transaction, and re-processes its records once the transaction commits.
    require_stable: bool,
}

/// The group moved on from the generation a commit carried (FENCED_INSTANCE_ID: another
/// instance took this static member's place, which is fatal).
pub(crate) fn is_group_error(code: Option<i16>) -> bool {
    matches!(
        code,
        Some(
            ILLEGAL_GENERATION
                | UNKNOWN_MEMBER_ID
                | REBALANCE_IN_PROGRESS
                | FENCED_INSTANCE_ID
                | FENCED_MEMBER_EPOCH
                | STALE_MEMBER_EPOCH
        )
    )
}

impl Coordinator {
    pub(super) fn new(cluster: Arc<Cluster>, group: String, require_stable: bool) -> Coordinator {
        Coordinator {
            cluster,
            group,
            require_stable,
        }
    }

    /// A connection to the group's coordinator, looking it up if it is not cached.
    pub(super) async fn connection(&self) -> Result<BrokerConnection> {
        self.cluster
            .coordinator_connection(CoordinatorType::Group, &self.group)
            .await
    }

    /// Runs `op` against the coordinator, rediscovering it and retrying retriable errors until
    /// `timeout` (`default.api.timeout.ms` when `None`).
    async fn with_retries<T, F, Fut>(
        &self,
        api: &'static str,
        timeout: Option<Duration>,
        op: F,
    ) -> Result<T>
    where
        F: Fn(BrokerConnection) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let cfg = self.cluster.config();
        let deadline = Instant::now() + timeout.unwrap_or(cfg.default_api_timeout);
        let op = &op;
        // The deadline also bounds one attempt: a connect, reconnect backoff or request in
        // flight when it passes is abandoned. The call then fails with the last error an attempt
        // did finish with (a refused connect, say), else with a request timeout.
        let last_error: Mutex<Option<Error>> = Mutex::new(None);
        let last_error = &last_error;
        let attempt = || async move {
            let run = async { op(self.connection().await?).await };
            match tokio::time::timeout_at(deadline, run).await {
                Ok(r) => {
                    if let Err(e) = &r {
                        *last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
                    }
                    r
                }
                Err(_) => Err(last_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone()
                    .unwrap_or_else(|| {
                        Error::new(ErrorKind::RequestTimeout)
                            .with_api(api)
                            .with_detail("the call's timeout passed during the attempt")
                    })),
            }
        };
        let waits = Retry::new(
            Some(deadline),
            Backoff::new(cfg.retry_backoff, cfg.retry_backoff_max),
            Jitter::Global,
        );
        let result = retry_until(
            waits,
            |e: &Error| {
                // Also when the coordinator cannot be reached: it may be down for good while
                // another broker already took its groups over.
                self.cluster
                    .on_coordinator_error(CoordinatorType::Group, &self.group, e);
                // A group error (the generation moved on) is not retried with the same
                // generation: the membership must rejoin first.
                e.is_retriable() && !is_group_error(e.broker_code())
            },
            attempt,
        )
        .await;
        result.map_err(|gave_up| match gave_up {
            GaveUp::Permanent(e) => super::group::fatal_if_group_denied(e, &self.group),
            GaveUp::Deadline(e) => api_timeout(api, &e),
        })
    }

    /// The group's committed offsets for `tps` (`None`: nothing committed).
    pub(super) async fn fetch_offsets(
        &self,
        tps: &[TopicPartition],
        timeout: Option<Duration>,
    ) -> Result<Vec<(TopicPartition, Option<CommittedOffset>)>> {
        let group = self.group.clone();
        let stable = self.require_stable;
        self.with_retries("OffsetFetch", timeout, |conn| {
            let group = group.clone();
            async move { offset_fetch(&conn, &group, tps, stable).await }
        })
        .await
    }

    /// Commits `offsets`; per-partition errors fail the call with the first one (after retries
    /// of retriable ones).
    pub(super) async fn commit(
        &self,
        offsets: &BTreeMap<TopicPartition, OffsetToCommit>,
        identity: &CommitIdentity,
    ) -> Result<()> {
        let group = self.group.clone();
        self.with_retries("OffsetCommit", None, |conn| {
            let group = group.clone();
            async move { offset_commit(&conn, &group, offsets, identity).await }
        })
        .await
    }
}

async fn offset_fetch(
    conn: &BrokerConnection,
    group: &str,
    tps: &[TopicPartition],
    require_stable: bool,
) -> Result<Vec<(TopicPartition, Option<CommittedOffset>)>> {
    let version = conn.version_for::<OffsetFetchRequest>()?;
    let resp = conn
        .send(&offset_fetch::request(group, tps, version, require_stable))
        .await?;
    offset_fetch::parse(&resp, version)
}

async fn offset_commit(
    conn: &BrokerConnection,
    group: &str,
    offsets: &BTreeMap<TopicPartition, OffsetToCommit>,
    identity: &CommitIdentity,
) -> Result<()> {
    let resp = conn
        .send(&offset_commit::request(group, offsets, identity))
        .await?;
    offset_commit::parse(&resp)
}
