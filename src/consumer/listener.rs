//! The rebalance listener: the application's hook into group rebalances.

use super::Consumer;
use crate::types::TopicPartition;
use std::future::Future;
use std::pin::Pin;

/// A boxed future returned by [`RebalanceListener`] methods.
pub type ListenerFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Called around group rebalances, from inside [`Consumer::poll`] (and `recv`, the stream, and
/// [`Consumer::close`]) — never concurrently with the application's own processing, exactly as
/// the Java consumer calls `ConsumerRebalanceListener` from `poll()`.
///
/// Because revocation runs inside `poll`, every record handed out earlier has been processed by
/// the time `on_partitions_revoked` runs, so committing the positions there
/// ([`Consumer::commit_positions`]) is safe: the next owner starts exactly after them. The
/// rebalance waits for the listener (the JoinGroup is sent after it returns), so keep it short:
/// the group waits at most `max.poll.interval.ms` for this member.
///
/// ```no_run
/// use ferrokafka::consumer::{Consumer, ListenerFuture, RebalanceListener};
/// use ferrokafka::types::TopicPartition;
///
/// struct CommitOnRevoke;
///
/// impl RebalanceListener for CommitOnRevoke {
///     fn on_partitions_revoked<'a>(
///         &'a self,
///         consumer: &'a Consumer,
///         partitions: &'a [TopicPartition],
///     ) -> ListenerFuture<'a> {
///         Box::pin(async move {
///             if let Err(e) = consumer.commit_positions().await {
///                 eprintln!("commit on revoke of {partitions:?} failed: {e}");
///             }
///         })
///     }
/// }
/// ```
pub trait RebalanceListener: Send + Sync + 'static {
    /// The member gives up `partitions` (eager protocol: every owned partition at the start of
    /// each rebalance; cooperative: only those moving to another member). Their offsets can
    /// still be committed here. Runs before the partitions are removed from the consumer.
    fn on_partitions_revoked<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> ListenerFuture<'a> {
        let _ = (consumer, partitions);
        Box::pin(async {})
    }

    /// `partitions` were added to the assignment (eager: the whole new assignment; cooperative:
    /// only the added partitions, possibly none). Runs before any of their records is handed out;
    /// seeking here decides where consumption starts.
    fn on_partitions_assigned<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> ListenerFuture<'a> {
        let _ = (consumer, partitions);
        Box::pin(async {})
    }

    /// `partitions` were lost without a clean revocation (session expired, generation fenced,
    /// `max.poll.interval.ms` exceeded): another member may own them already, so their offsets
    /// can no longer be committed. The default calls
    /// [`on_partitions_revoked`](Self::on_partitions_revoked), as Java does.
    fn on_partitions_lost<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> ListenerFuture<'a> {
        self.on_partitions_revoked(consumer, partitions)
    }
}
