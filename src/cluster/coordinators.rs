//! The coordinator cache behind the one FindCoordinator path ([`Cluster::coordinator`] and its
//! siblings in `cluster/mod.rs`): which broker coordinates a group or a transactional id, cached
//! per cluster view and forgotten when an answer says the coordinator moved. Groups (offset
//! commits and fetches, membership), transactions and the admin client all look coordinators up
//! through it, so NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE and an unreachable coordinator are
//! handled in one place.
//!
//! Lookups of one key are serialized (franz-go's `loadCoordinators` does the same): callers that
//! miss the cache at once wait for the first one's answer instead of each sending a
//! FindCoordinator. The cache does no I/O itself: the lookup is passed in.
//!
//! [`Cluster::coordinator`]: super::Cluster::coordinator

use crate::error::code::{COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR};
use crate::{Error, Result};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

pub(crate) use crate::protocol::requests::find_coordinator::CoordinatorType;

/// When [`Coordinators::load`] runs its lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Only when no coordinator is cached (offset commits, transactions, admin calls).
    IfUnknown,
    /// Every time (the group membership, whose state machine decides itself when its
    /// coordinator moved).
    Always,
}

/// The cached coordinators of one cluster view.
#[derive(Debug, Default)]
pub(crate) struct Coordinators {
    slots: Mutex<HashMap<(CoordinatorType, String), Arc<Slot>>>,
}

#[derive(Debug, Default)]
struct Slot {
    node: Mutex<Option<i32>>,
    /// Held across one lookup of this key.
    lookup: tokio::sync::Mutex<()>,
}

impl Slot {
    fn get(&self) -> Option<i32> {
        *self.node.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, node: Option<i32>) {
        *self.node.lock().unwrap_or_else(|p| p.into_inner()) = node;
    }
}

impl Coordinators {
    fn slot(&self, key_type: CoordinatorType, key: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry((key_type, key.to_owned())).or_default().clone()
    }

    /// The coordinator of `key`: with [`Lookup::IfUnknown`] the cached node, else the answer of
    /// `lookup`; with [`Lookup::Always`] the answer of `lookup` whatever is cached. The answer is
    /// cached (nothing when the lookup fails). A caller that arrives while another looks the key
    /// up waits for that answer.
    ///
    /// # Cancel safety
    /// Cancel safe (a cancelled lookup caches nothing).
    pub(super) async fn load<F, Fut>(
        &self,
        key_type: CoordinatorType,
        key: &str,
        when: Lookup,
        lookup: F,
    ) -> Result<i32>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<i32>>,
    {
        let slot = self.slot(key_type, key);
        let force = when == Lookup::Always;
        if let (false, Some(node)) = (force, slot.get()) {
            return Ok(node);
        }
        let _lookup = slot.lookup.lock().await;
        if force {
            slot.set(None);
        } else if let Some(node) = slot.get() {
            // Another caller looked it up while this one waited.
            return Ok(node);
        }
        let node = lookup().await?;
        slot.set(Some(node));
        Ok(node)
    }

    /// Forgets the cached coordinator of `key`.
    pub(super) fn forget(&self, key_type: CoordinatorType, key: &str) {
        self.slot(key_type, key).set(None);
    }
}

/// Whether `e`, answered by (or on the way to) a coordinator, means the coordinator must be
/// looked up again: it says it no longer coordinates the key (NOT_COORDINATOR), is not available
/// (COORDINATOR_NOT_AVAILABLE), or cannot be reached — it may be down for good while another
/// broker already took its keys over (Java's `markCoordinatorUnknown` cases).
pub(crate) fn coordinator_moved(e: &Error) -> bool {
    matches!(
        e.broker_code(),
        Some(NOT_COORDINATOR | COORDINATOR_NOT_AVAILABLE)
    ) || e.is_connectivity_failure()
}

/// How a key type is named in error details.
pub(crate) fn label(key_type: CoordinatorType) -> &'static str {
    match key_type {
        CoordinatorType::Group => "group",
        CoordinatorType::Transaction => "transactional id",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::code::COORDINATOR_LOAD_IN_PROGRESS;
    use crate::ErrorKind;

    #[test]
    fn moved_on_not_coordinator_not_available_and_unreachable_only() {
        assert!(coordinator_moved(&Error::from_broker_code(NOT_COORDINATOR)));
        assert!(coordinator_moved(&Error::from_broker_code(
            COORDINATOR_NOT_AVAILABLE
        )));
        assert!(coordinator_moved(&Error::new(ErrorKind::Disconnected {
            sent: true
        })));
        // Still loading the group or transaction log: the same node answers once it is done.
        assert!(!coordinator_moved(&Error::from_broker_code(
            COORDINATOR_LOAD_IN_PROGRESS
        )));
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .map(|rt| rt.block_on(f))
            .unwrap_or_else(|e| panic!("runtime: {e}"))
    }

    #[test]
    fn cached_until_forgotten_and_a_failed_lookup_caches_nothing() {
        let c = Coordinators::default();
        let g = CoordinatorType::Group;
        block_on(async {
            assert_eq!(
                c.load(g, "k", Lookup::IfUnknown, || async { Ok(1) })
                    .await
                    .ok(),
                Some(1)
            );
            // Cached: the lookup is not run.
            assert_eq!(
                c.load(g, "k", Lookup::IfUnknown, || async { Ok(9) })
                    .await
                    .ok(),
                Some(1)
            );
            c.forget(g, "k");
            assert!(c
                .load(g, "k", Lookup::IfUnknown, || async {
                    Err(Error::from_broker_code(15))
                })
                .await
                .is_err());
            assert_eq!(
                c.load(g, "k", Lookup::IfUnknown, || async { Ok(2) })
                    .await
                    .ok(),
                Some(2)
            );
            // A refresh asks whatever is cached.
            assert_eq!(
                c.load(g, "k", Lookup::Always, || async { Ok(3) })
                    .await
                    .ok(),
                Some(3)
            );
            assert_eq!(
                c.load(g, "k", Lookup::IfUnknown, || async { Ok(9) })
                    .await
                    .ok(),
                Some(3)
            );
        });
    }

    #[test]
    fn concurrent_misses_share_one_lookup() {
        let c = Coordinators::default();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let lookup = || async {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::task::yield_now().await;
            Ok(4)
        };
        let (a, b) = block_on(async {
            tokio::join!(
                c.load(CoordinatorType::Transaction, "t", Lookup::IfUnknown, lookup),
                c.load(CoordinatorType::Transaction, "t", Lookup::IfUnknown, lookup)
            )
        });
        assert_eq!((a.ok(), b.ok()), (Some(4), Some(4)));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn keys_of_each_type_have_their_own_slot() {
        let c = Coordinators::default();
        c.slot(CoordinatorType::Group, "k").set(Some(1));
        c.slot(CoordinatorType::Transaction, "k").set(Some(2));
        assert_eq!(c.slot(CoordinatorType::Group, "k").get(), Some(1));
        assert_eq!(c.slot(CoordinatorType::Transaction, "k").get(), Some(2));
        c.slot(CoordinatorType::Group, "k").set(None);
        assert_eq!(c.slot(CoordinatorType::Group, "k").get(), None);
        assert_eq!(c.slot(CoordinatorType::Transaction, "k").get(), Some(2));
    }
}
