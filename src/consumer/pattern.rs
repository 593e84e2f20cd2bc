//! `Consumer::subscribe_pattern`: subscribe to every topic whose name matches a regular
//! expression, now and as topics come and go.
//!
//! - `group.protocol=consumer` (KIP-848): the pattern goes to the broker
//!   (ConsumerGroupHeartbeat v1 `SubscribedTopicRegex`), which matches it with RE2/J against the
//!   cluster's topics and assigns the matches; new topics join the subscription on the
//!   broker's side.
//! - `classic`: the group task matches the pattern against the cluster metadata (all topics,
//!   refreshed every 5 s while subscribed this way; internal topics never match, as Java's
//!   default `exclude.internal.topics=true`) and rejoins when the matches change, as Java's
//!   classic consumer does on each metadata update.
//!
//! The pattern must match the whole topic name (Java's `Pattern.matcher(topic).matches()`,
//! RE2/J's full match); it is checked with the `regex` crate, whose syntax is RE2's.

use std::sync::Arc;

use super::group::Membership;
use super::listener::RebalanceListener;
use super::topic_pattern::TopicPattern;
use super::Consumer;
use crate::Result;

impl Consumer {
    /// Joins the consumer group (`group.id`) subscribed to every topic whose whole name matches
    /// `pattern` (RE2 syntax), including topics created later. Replaces any earlier
    /// subscription. Under `group.protocol=consumer` the broker matches the pattern (KIP-848);
    /// under `classic` the consumer matches it against the cluster's topics every 5 s. Internal
    /// topics never match.
    ///
    /// ```no_run
    /// # async fn f(consumer: ferrokafka::consumer::Consumer) -> ferrokafka::Result<()> {
    /// consumer.subscribe_pattern("orders-.*")?;
    /// let records = consumer.poll(std::time::Duration::from_secs(1)).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` for an empty or invalid pattern (naming it); otherwise as
    /// [`subscribe`](Self::subscribe). A pattern the broker refuses
    /// (`INVALID_REGULAR_EXPRESSION`) is reported by `poll`.
    pub fn subscribe_pattern(&self, pattern: &str) -> Result<()> {
        let compiled = TopicPattern::new(pattern)?;
        let md = self.inner.cluster.metadata();
        let classic_now = compiled.matches(&md);
        let source = compiled.source().to_owned();
        self.update_membership(Some(compiled), move |m, now| match m {
            Membership::Consumer(c) => c.subscribe_regex(now, source),
            Membership::Classic(c) => c.subscribe(now, classic_now),
        })?;
        // Refresh every topic's metadata at once, so a classic member's first matches do not
        // wait for the group task's next check (it joins once with what it knew until then).
        let cluster = self.inner.cluster.clone();
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(self.inner.gone().unless_gone(async move {
            if cluster
                .refresh(crate::cluster::TopicSelection::All)
                .await
                .is_ok()
            {
                if let Some(inner) = weak.upgrade() {
                    super::group_driver::apply_pattern(&inner, std::time::Instant::now());
                }
            }
        }));
        Ok(())
    }

    /// [`subscribe_pattern`](Self::subscribe_pattern) with a rebalance listener (it replaces
    /// any earlier one).
    ///
    /// # Errors
    /// As [`subscribe_pattern`](Self::subscribe_pattern).
    pub fn subscribe_pattern_with_listener(
        &self,
        pattern: &str,
        listener: impl RebalanceListener,
    ) -> Result<()> {
        *self
            .inner
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(listener));
        self.subscribe_pattern(pattern)
    }
}
