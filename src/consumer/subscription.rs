//! Group-managed consumption: [`Consumer::subscribe`], the rebalance listener's events (run
//! from `poll`), and leaving the group on close.

use super::client::Consumer;
use super::commit::commit_positions;
use super::group::Membership;
use super::listener::RebalanceListener;
use super::shared::Core;
use super::shared::ListenerEvent;
use crate::types::TopicPartition;
use crate::{Error, ErrorKind, Result};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The member's place in its group, as [`Consumer::group_generation`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupGeneration {
    /// The generation id (it increases with every rebalance of the group); under
    /// `group.protocol=consumer` (KIP-848) the member epoch, which increases with every new
    /// assignment of this member.
    pub generation_id: i32,
    /// This member's id.
    pub member_id: String,
    /// Whether this member computed the group's assignment (never under KIP-848: the broker
    /// assigns).
    pub leader: bool,
    /// The assignor the group uses; `consumer` under KIP-848.
    pub protocol: String,
}

impl Consumer {
    /// Joins the consumer group (`group.id`) and consumes the partitions of `topics` the group
    /// assigns to this member. Calling it again changes the subscription (and rejoins).
    ///
    /// Partitions start from the group's committed offset, or by `auto.offset.reset`. Rebalances
    /// happen in the background (heartbeats every `heartbeat.interval.ms`); the application
    /// learns about them through a [`RebalanceListener`]
    /// ([`subscribe_with_listener`](Self::subscribe_with_listener)) whose methods run inside
    /// `poll`. A member that does not poll for `max.poll.interval.ms` leaves the group and
    /// rejoins on its next poll.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// use ferrokafka::consumer::{Consumer, ConsumerConfig};
    /// use std::time::Duration;
    /// let consumer = Consumer::new(ConsumerConfig::from_properties([
    ///     ("bootstrap.servers", "127.0.0.1:9092"),
    ///     ("group.id", "billing"),
    ///     ("partition.assignment.strategy", "cooperative-sticky"),
    /// ])?)?;
    /// consumer.subscribe(["orders"])?;
    /// loop {
    ///     for record in consumer.poll(Duration::from_secs(1)).await? {
    ///         println!("{}-{}@{}", record.topic, record.partition, record.offset);
    ///     }
    /// }
    /// # }
    /// ```
    ///
    /// # Errors
    /// A [`Config`](ErrorKind::Config) error naming `group.id` without one;
    /// [`InvalidArgument`](ErrorKind::InvalidArgument) for an empty topic list, an illegal topic
    /// name ([`validate_topic_name`](crate::types::validate_topic_name), as Java's
    /// `InvalidTopicException`), or after [`assign`](Self::assign). A legal name of a topic that
    /// does not exist is accepted (it may be created later); it is warned about (and handed to
    /// the error handler) every 30 s until it exists.
    pub fn subscribe<I, S>(&self, topics: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let topics: Vec<String> = topics.into_iter().map(Into::into).collect();
        if topics.is_empty() {
            return Err(Error::new(ErrorKind::InvalidArgument)
                .with_detail("subscribe() needs at least one topic"));
        }
        for t in &topics {
            crate::types::validate_topic_name(t)?;
        }
        self.inner.cluster.track_topics(&topics);
        self.update_membership(None, |m, now| m.subscribe(now, topics.iter().cloned()))
    }

    /// Creates the group membership (and its task) on the first call, then applies `change`
    /// to it and records `pattern` (`None` for a list of topics): `subscribe` and
    /// `subscribe_pattern` differ only in what they subscribe to.
    pub(super) fn update_membership(
        &self,
        pattern: Option<super::topic_pattern::TopicPattern>,
        change: impl FnOnce(&mut Membership, Instant),
    ) -> Result<()> {
        let cfg = &self.inner.cfg;
        let group_id = cfg.group_id.clone().ok_or_else(|| {
            Error::config(
                "group.id",
                "",
                "subscribe() needs a group.id (or use assign())",
            )
        })?;
        let now = Instant::now();
        let start_task = {
            let mut core = self.inner.lock();
            if core.group.is_none() && core.fetcher.assignment().next().is_some() {
                return Err(Error::new(ErrorKind::InvalidArgument).with_detail(
                    "subscribe() on a consumer with a manual assignment; use a separate consumer",
                ));
            }
            let start = core.group.is_none();
            if start {
                core.group = Some(Membership::new(
                    group_id,
                    cfg.group.clone(),
                    cfg.client.retry_backoff,
                    now,
                )?);
                core.group_epoch += 1;
            }
            if let Some(m) = core.group.as_mut() {
                change(m, now);
            }
            core.group_pattern = pattern;
            start.then_some(core.group_epoch)
        };
        if let Some(epoch) = start_task {
            tokio::spawn(super::group_driver::run(Arc::downgrade(&self.inner), epoch));
        }
        self.inner.group_wake.notify_one();
        Ok(())
    }

    /// [`subscribe`](Self::subscribe) with a rebalance listener (it replaces any earlier one).
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub fn subscribe_with_listener<I, S>(
        &self,
        topics: I,
        listener: impl RebalanceListener,
    ) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        *self
            .inner
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(listener));
        self.subscribe(topics)
    }

    /// Leaves the group (as [`close`](Self::close) does: revocation through the listener, then
    /// LeaveGroup unless the member is static) and drops the subscription and its partitions.
    /// The consumer stays usable: `subscribe` joins again (as a new member), or `assign` takes
    /// partitions manually. Offsets are not committed here; commit first if needed.
    ///
    /// # Cancel safety
    /// Cancel safe, but a cancelled call may leave the group unannounced.
    pub async fn unsubscribe(&self) {
        self.leave_group().await;
        let mut core = self.inner.lock();
        if core.group.take().is_some() {
            let all: Vec<TopicPartition> = core.fetcher.assignment().cloned().collect();
            core.fetcher.unassign(&all);
            core.listener_events.clear();
            core.seen_generation = None;
            core.rebalance_started = None;
        }
        drop(core);
        // The group task ends when it finds no membership.
        self.inner.group_wake.notify_one();
    }

    /// The subscribed topics (empty without [`subscribe`](Self::subscribe)).
    pub fn subscription(&self) -> Vec<String> {
        self.inner
            .lock()
            .group
            .as_ref()
            .map(|m| m.subscription().iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The member's current generation while it is stable in its group; `None` while it joins
    /// or rebalances, and without [`subscribe`](Self::subscribe).
    pub fn group_generation(&self) -> Option<GroupGeneration> {
        let core = self.inner.lock();
        let g = core.group.as_ref()?.generation()?;
        Some(GroupGeneration {
            generation_id: g.generation_id,
            member_id: g.member_id.clone(),
            leader: g.leader,
            protocol: g.protocol_name.clone(),
        })
    }

    /// Tells the membership the application polled (restarts `max.poll.interval.ms`; rejoins
    /// after a poll timeout).
    pub(super) fn group_on_poll(&self) {
        let wake = {
            let mut core = self.inner.lock();
            match core.group.as_mut() {
                Some(m) => {
                    m.on_poll(Instant::now());
                    m.has_actions()
                }
                None => false,
            }
        };
        if wake {
            self.inner.group_wake.notify_one();
        }
    }

    /// Runs the queued rebalance listener events, in order. A revocation removes the partitions
    /// from the consumer once the listener returned (auto-commit first commits their positions),
    /// then lets the group task go on.
    pub(super) async fn run_listener_events(&self) {
        loop {
            let Some(event) = self.inner.lock().listener_events.pop_front() else {
                return;
            };
            let listener = self
                .inner
                .listener
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            match event {
                ListenerEvent::Revoked(tps) => {
                    // Even if this future is dropped mid-listener, the partitions go and the
                    // group task resumes: a stuck revocation would stall the whole group.
                    let _release = RevokeGuard {
                        consumer: self,
                        tps: &tps,
                    };
                    if self.inner.cfg.enable_auto_commit {
                        if let Err(e) = commit_positions(&self.inner, Some(&tps)).await {
                            tracing::warn!(error = %e, "auto-commit on revocation failed");
                        }
                    }
                    if let Some(l) = listener {
                        l.on_partitions_revoked(self, &tps).await;
                    }
                }
                ListenerEvent::Assigned(tps) => {
                    if let Some(l) = listener {
                        l.on_partitions_assigned(self, &tps).await;
                    }
                }
                ListenerEvent::Lost(tps) => {
                    if let Some(l) = listener {
                        l.on_partitions_lost(self, &tps).await;
                    }
                }
            }
        }
    }

    /// Leaves the group for `close`: queues the revocation and LeaveGroup, runs the listener,
    /// and waits (up to `request.timeout.ms`) for the LeaveGroup's answer.
    pub(super) async fn leave_group(&self) {
        let deadline = Instant::now() + self.inner.cfg.client.request_timeout;
        // A rebalance with a JoinGroup or SyncGroup out finishes first (bounded by the same
        // deadline): the coordinator is forming a new generation, and the revocation's commit
        // would carry the old one and be refused (ILLEGAL_GENERATION), leaving the next owner
        // to process the uncommitted records again.
        self.run_listener_events_until(deadline, |core| {
            !core
                .group
                .as_ref()
                .is_some_and(Membership::rebalance_in_flight)
        })
        .await;
        {
            let mut core = self.inner.lock();
            match core.group.as_mut() {
                Some(m) => m.close(Instant::now()),
                None => return,
            }
        }
        self.inner.group_wake.notify_one();
        self.run_listener_events_until(deadline, |core| {
            core.listener_events.is_empty()
                && core.group.as_ref().is_none_or(|m| {
                    // A static member is `Closed` at once: wait until the group task took its
                    // `Revoked` too, or close would skip the listener.
                    !m.revoking() && !m.has_actions() && m.has_left()
                })
        })
        .await;
    }

    /// Runs listener events as they come until `done` holds or `deadline` passes.
    async fn run_listener_events_until(&self, deadline: Instant, done: impl Fn(&Core) -> bool) {
        loop {
            self.run_listener_events().await;
            if done(&self.inner.lock()) || Instant::now() >= deadline {
                return;
            }
            let notified = self.inner.data.notified();
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
    }
}

/// Finishes a revocation when dropped: removes the partitions and releases the group task.
struct RevokeGuard<'a> {
    consumer: &'a Consumer,
    tps: &'a [TopicPartition],
}

impl Drop for RevokeGuard<'_> {
    fn drop(&mut self) {
        let inner = &self.consumer.inner;
        {
            let mut core = inner.lock();
            core.fetcher.unassign(self.tps);
            if let Some(m) = core.group.as_mut() {
                m.revocation_done(Instant::now());
            }
        }
        inner.group_wake.notify_one();
    }
}
