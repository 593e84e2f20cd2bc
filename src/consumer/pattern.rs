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

use std::collections::BTreeSet;
use std::sync::Arc;

use super::group::Membership;
use super::listener::RebalanceListener;
use super::Consumer;
use crate::cluster::ClusterMetadata;
use crate::{Error, ErrorKind, Result};

/// A compiled topic pattern and its source text.
#[derive(Debug, Clone)]
pub(crate) struct TopicPattern {
    source: String,
    /// The source anchored at both ends (`^(?:…)$`): a full match, as Java.
    full: regex::Regex,
}

impl TopicPattern {
    /// Compiles `pattern`.
    ///
    /// # Errors
    /// `InvalidArgument` naming the pattern and what is wrong with it.
    pub(crate) fn new(pattern: &str) -> Result<TopicPattern> {
        if pattern.is_empty() {
            return Err(Error::new(ErrorKind::InvalidArgument)
                .with_detail("subscribe_pattern() needs a non-empty pattern"));
        }
        let full = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
            Error::new(ErrorKind::InvalidArgument).with_detail(format!(
                "subscribe_pattern({pattern:?}): not a valid regular expression: {}",
                first_line(&e.to_string())
            ))
        })?;
        Ok(TopicPattern {
            source: pattern.to_owned(),
            full,
        })
    }

    /// The pattern as given.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// The non-internal topics of `md` whose whole name matches.
    pub(crate) fn matches(&self, md: &ClusterMetadata) -> BTreeSet<String> {
        md.topics
            .values()
            .filter(|t| !t.is_internal && t.error_code == 0 && self.full.is_match(&t.name))
            .map(|t| t.name.clone())
            .collect()
    }
}

/// The regex crate's errors span lines (a caret under the pattern); keep the line that says
/// what is wrong.
fn first_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .or_else(|| s.lines().next())
        .unwrap_or("")
        .trim()
        .to_owned()
}

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
        tokio::spawn(async move {
            if cluster
                .refresh(crate::cluster::TopicSelection::All)
                .await
                .is_ok()
            {
                if let Some(inner) = weak.upgrade() {
                    super::group_driver::apply_pattern(&inner, std::time::Instant::now());
                }
            }
        });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_names_and_bad_ones_are_named() {
        let p = TopicPattern::new("orders-.*").unwrap();
        assert!(p.full.is_match("orders-eu"));
        assert!(!p.full.is_match("old-orders-eu"), "a full match, as Java");
        let p = TopicPattern::new("a|b").unwrap();
        assert!(p.full.is_match("a") && p.full.is_match("b") && !p.full.is_match("ab"));
        let e = TopicPattern::new("orders-(").unwrap_err();
        let line = e.to_string();
        assert!(line.contains("orders-(") && !line.contains('\n'), "{line}");
        assert!(TopicPattern::new("").is_err());
    }
}
