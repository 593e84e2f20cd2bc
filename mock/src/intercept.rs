//! Interceptors (issue #28): a test's own function that sees each request of an API before the
//! broker applies it and decides what happens to it — pass it on, delay it, answer it with an
//! error, or close the connection before or after applying it. Where a [`Fault`](crate::Fault)
//! is "the next N requests", an interceptor decides per request from what it sees (the 3rd
//! Produce of one client, every Fetch of partition 2 after offset 100 was written, ...).

use crate::fault::ApiKey;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// A request as an interceptor sees it (before the broker applied it).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InterceptedRequest {
    /// The broker (node id) the request reached.
    pub broker: i32,
    /// The API.
    pub api: ApiKey,
    /// The API version the request was sent at.
    pub version: i16,
    /// The client's `client.id` (empty when the header had none).
    pub client_id: String,
    /// The (topic, partition) pairs the request names, for Produce, Fetch (by name, before
    /// v13), ListOffsets, OffsetCommit, OffsetFetch and Metadata (partition -1: the whole
    /// topic); empty for other APIs.
    pub targets: Vec<(String, i32)>,
}

/// What an interceptor does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// The broker serves it as usual (later interceptors of the API still see it).
    Pass,
    /// The broker serves it after this delay (a `tokio::time::sleep`: a paused test clock
    /// applies); this connection's later requests wait behind it, as on a broker.
    Delay(Duration),
    /// Answered with this error code in the API's own response shape, not applied — as
    /// [`Fault::errors`](crate::Fault::errors) answers, for the same APIs: Produce, Fetch,
    /// ListOffsets, Metadata (per partition / topic, all of the request's), and the
    /// whole-request APIs of the group and transaction coordinators (FindCoordinator, JoinGroup,
    /// SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, InitProducerId,
    /// ConsumerGroupHeartbeat, ConsumerGroupDescribe). Other APIs
    /// are served as usual. Code 0 answers NONE without applying the request.
    Error(i16),
    /// The connection is closed before the request is applied: not persisted.
    DropBefore,
    /// The request is applied, then the connection is closed without an answer: the "possibly
    /// persisted" case.
    DropAfter,
}

/// Identifies an interceptor, to remove it ([`Control::remove_interceptor`](crate::Control)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InterceptorId(u64);

type Interceptor = Arc<dyn Fn(&InterceptedRequest) -> Verdict + Send + Sync>;

/// The registered interceptors, by API.
#[derive(Default)]
pub(crate) struct Interceptors {
    next_id: Mutex<u64>,
    list: Mutex<Vec<(InterceptorId, i16, Interceptor)>>,
}

impl std::fmt::Debug for Interceptors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interceptors")
            .field("registered", &lock(&self.list).len())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Interceptors {
    pub fn add(&self, api: i16, f: Interceptor) -> InterceptorId {
        let id = {
            let mut next = lock(&self.next_id);
            *next += 1;
            InterceptorId(*next)
        };
        lock(&self.list).push((id, api, f));
        id
    }

    pub fn remove(&self, id: InterceptorId) -> bool {
        let mut list = lock(&self.list);
        let before = list.len();
        list.retain(|(i, _, _)| *i != id);
        list.len() != before
    }

    pub fn clear(&self) {
        lock(&self.list).clear();
    }

    /// Whether any interceptor is registered for `api` (cheap: before the request is looked
    /// into).
    pub fn any_for(&self, api: i16) -> bool {
        lock(&self.list).iter().any(|(_, a, _)| *a == api)
    }

    /// The verdict on `req`: the first interceptor of its API (in the order they were added)
    /// that does not pass it. The functions run without any lock of the mock held, so they may
    /// call the control API.
    pub fn judge(&self, req: &InterceptedRequest) -> Verdict {
        let api = req.api.key();
        let matching: Vec<Interceptor> = lock(&self.list)
            .iter()
            .filter(|(_, a, _)| *a == api)
            .map(|(_, _, f)| f.clone())
            .collect();
        matching
            .iter()
            .map(|f| f(req))
            .find(|v| *v != Verdict::Pass)
            .unwrap_or(Verdict::Pass)
    }
}
