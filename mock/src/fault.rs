//! Fault injection and the request log (issue #28): errors for the next N matching requests,
//! brokers set down and up, and every request each broker received.
//!
//! The rules live in [`Faults`], next to the cluster state in `server::Shared`; the handlers ask
//! [`Faults::take`] once per request, after decoding it and before applying it.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

/// How many requests the log keeps (the oldest are dropped first).
pub const REQUEST_LOG_CAPACITY: usize = 10_000;

/// The Kafka APIs a [`Fault`] can name (their wire keys); any other by [`ApiKey::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiKey {
    /// Produce (0).
    Produce,
    /// Fetch (1).
    Fetch,
    /// ListOffsets (2).
    ListOffsets,
    /// Metadata (3).
    Metadata,
    /// OffsetCommit (8).
    OffsetCommit,
    /// OffsetFetch (9).
    OffsetFetch,
    /// FindCoordinator (10).
    FindCoordinator,
    /// JoinGroup (11).
    JoinGroup,
    /// Heartbeat (12).
    Heartbeat,
    /// LeaveGroup (13).
    LeaveGroup,
    /// SyncGroup (14).
    SyncGroup,
    /// DescribeGroups (15).
    DescribeGroups,
    /// ApiVersions (18).
    ApiVersions,
    /// InitProducerId (22).
    InitProducerId,
    /// AddPartitionsToTxn (24).
    AddPartitionsToTxn,
    /// AddOffsetsToTxn (25).
    AddOffsetsToTxn,
    /// EndTxn (26).
    EndTxn,
    /// TxnOffsetCommit (28).
    TxnOffsetCommit,
    /// Any other API, by its key.
    Other(i16),
}

const NAMED: [(ApiKey, i16); 18] = [
    (ApiKey::Produce, 0),
    (ApiKey::Fetch, 1),
    (ApiKey::ListOffsets, 2),
    (ApiKey::Metadata, 3),
    (ApiKey::OffsetCommit, 8),
    (ApiKey::OffsetFetch, 9),
    (ApiKey::FindCoordinator, 10),
    (ApiKey::JoinGroup, 11),
    (ApiKey::Heartbeat, 12),
    (ApiKey::LeaveGroup, 13),
    (ApiKey::SyncGroup, 14),
    (ApiKey::DescribeGroups, 15),
    (ApiKey::ApiVersions, 18),
    (ApiKey::InitProducerId, 22),
    (ApiKey::AddPartitionsToTxn, 24),
    (ApiKey::AddOffsetsToTxn, 25),
    (ApiKey::EndTxn, 26),
    (ApiKey::TxnOffsetCommit, 28),
];

impl ApiKey {
    /// The API's key on the wire.
    pub fn key(self) -> i16 {
        match self {
            ApiKey::Other(k) => k,
            named => NAMED
                .iter()
                .find(|(a, _)| *a == named)
                .map_or(-1, |(_, k)| *k),
        }
    }
}

impl From<i16> for ApiKey {
    fn from(key: i16) -> ApiKey {
        NAMED
            .iter()
            .find(|(_, k)| *k == key)
            .map_or(ApiKey::Other(key), |(a, _)| *a)
    }
}

impl From<ApiKey> for i16 {
    fn from(api: ApiKey) -> i16 {
        api.key()
    }
}

/// What a [`Fault`] does to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Answered with this code, not applied.
    Error(i16),
    /// The connection is closed, the request not applied.
    DropBefore,
    /// The request is applied, then the connection closed instead of answering.
    DropAfter,
}

/// A fault to inject: the next `n` requests of an API, optionally only those reaching one broker
/// or naming one topic / partition, are answered with an error code in the API's own response
/// shape and not applied ([`Fault::errors`]), or have their connection closed before or after
/// being applied ([`Fault::drop_before`], [`Fault::drop_after`]).
///
/// ```
/// use ferrokafka_mock::{ApiKey, Fault};
/// // The next 2 Produce requests for orders-1 get NOT_LEADER_OR_FOLLOWER (6).
/// let fault = Fault::errors(ApiKey::Produce, 2, 6).on_partition("orders", 1);
/// # let _ = fault;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    api: i16,
    remaining: u32,
    action: Action,
    broker: Option<i32>,
    topic: Option<String>,
    partition: Option<i32>,
}

impl Fault {
    /// The next `n` requests of `api` are answered with `error_code`.
    pub fn errors(api: impl Into<ApiKey>, n: u32, error_code: i16) -> Fault {
        Fault {
            api: api.into().key(),
            remaining: n,
            action: Action::Error(error_code),
            broker: None,
            topic: None,
            partition: None,
        }
    }

    /// The next `n` requests of `api` are not applied: the broker closes the connection when one
    /// arrives. On the wire the client sees its request unanswered and the connection reset (EOF
    /// on read); it has nothing persisted (for a Produce: not appended, safe to retry). Drop rules
    /// are tried before error rules.
    pub fn drop_before(api: impl Into<ApiKey>, n: u32) -> Fault {
        Fault {
            action: Action::DropBefore,
            ..Fault::errors(api, n, 0)
        }
    }

    /// The next `n` requests of `api` are applied (a Produce appended, an OffsetCommit stored, a
    /// JoinGroup joined...) and then, instead of the response, the connection is closed. On the
    /// wire the client sees the same reset as for [`Fault::drop_before`], but the request took
    /// effect: the "possibly persisted" case, where an idempotent producer's retry must be
    /// recognised as a duplicate (the mock answers it with the original offset).
    pub fn drop_after(api: impl Into<ApiKey>, n: u32) -> Fault {
        Fault {
            action: Action::DropAfter,
            ..Fault::errors(api, n, 0)
        }
    }

    /// Only requests reaching broker `id` count.
    pub fn on_broker(mut self, id: i32) -> Fault {
        self.broker = Some(id);
        self
    }

    /// Only requests naming `topic` count, and only its partitions (or its Metadata entry) get
    /// the error; the request's other topics are served normally.
    pub fn on_topic(mut self, topic: impl Into<String>) -> Fault {
        self.topic = Some(topic.into());
        self.partition = None;
        self
    }

    /// Only requests naming this partition count, and only it gets the error.
    pub fn on_partition(mut self, topic: impl Into<String>, partition: i32) -> Fault {
        self.topic = Some(topic.into());
        self.partition = Some(partition);
        self
    }

    /// How many more matching requests this fault answers.
    pub fn remaining(&self) -> u32 {
        self.remaining
    }

    fn matches(&self, api: i16, node: i32, targets: &[(&str, i32)]) -> bool {
        self.remaining > 0
            && self.api == api
            && self.broker.is_none_or(|b| b == node)
            && (self.topic.is_none() || targets.iter().any(|(t, p)| self.covers(t, *p)))
    }

    /// Partition -1 in a target: the whole topic (Metadata).
    fn covers(&self, topic: &str, partition: i32) -> bool {
        self.topic.as_deref().is_none_or(|t| t == topic)
            && (partition == -1 || self.partition.is_none_or(|p| p == partition))
    }
}

/// A fault that matched a request: its code, and which parts of the request it covers.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub code: i16,
    topic: Option<String>,
    partition: Option<i32>,
}

impl Hit {
    /// An error for every part of the request (an interceptor's [`Verdict::Error`]).
    ///
    /// [`Verdict::Error`]: crate::Verdict::Error
    pub fn all(code: i16) -> Hit {
        Hit {
            code,
            topic: None,
            partition: None,
        }
    }

    /// Whether this partition of the request gets the error.
    pub fn covers(&self, topic: &str, partition: i32) -> bool {
        self.topic.as_deref().is_none_or(|t| t == topic)
            && self.partition.is_none_or(|p| p == partition)
    }

    /// Whether this topic of the request gets the error (Metadata).
    pub fn covers_topic(&self, topic: &str) -> bool {
        self.topic.as_deref().is_none_or(|t| t == topic)
    }
}

/// One request a broker received, as its header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// The broker (node id) the request reached.
    pub broker: i32,
    /// The API.
    pub api: ApiKey,
    /// The API version the request was sent at.
    pub version: i16,
    /// The client's `client.id` (empty when the header had none).
    pub client_id: String,
    /// The request's correlation id.
    pub correlation_id: i32,
}

/// The fault rules, the request log and which brokers are up.
#[derive(Debug)]
pub(crate) struct Faults {
    rules: Mutex<Vec<Fault>>,
    log: Mutex<VecDeque<RequestRecord>>,
    /// One per broker, by node id - 1: `true` while it is up (brokers can be added).
    up: Mutex<Vec<watch::Sender<bool>>>,
    /// One per broker: the delay before each of its responses.
    rtt: Mutex<Vec<Duration>>,
}

fn is_drop(action: Action) -> bool {
    matches!(action, Action::DropBefore | Action::DropAfter)
}

fn use_up(rules: &mut Vec<Fault>, i: usize) {
    if let Some(rule) = rules.get_mut(i) {
        rule.remaining = rule.remaining.saturating_sub(1);
        if rule.remaining == 0 {
            rules.remove(i);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Faults {
    pub fn new(brokers: usize) -> Faults {
        Faults {
            rules: Mutex::new(Vec::new()),
            log: Mutex::new(VecDeque::new()),
            up: Mutex::new((0..brokers).map(|_| watch::Sender::new(true)).collect()),
            rtt: Mutex::new(vec![Duration::ZERO; brokers]),
        }
    }

    /// Makes room for one more broker (the next node id), up, without delay.
    pub fn add_broker(&self) {
        lock(&self.up).push(watch::Sender::new(true));
        lock(&self.rtt).push(Duration::ZERO);
    }

    pub fn inject(&self, fault: Fault) {
        if fault.remaining > 0 {
            lock(&self.rules).push(fault);
        }
    }

    pub fn pending(&self) -> Vec<Fault> {
        lock(&self.rules).clone()
    }

    pub fn clear_faults(&self) {
        lock(&self.rules).clear();
    }

    /// The first error rule matching a request of `api` on `node` naming `targets` (topic,
    /// partition, -1 for a whole topic; empty for APIs without topics), used up by one.
    pub fn take(&self, api: i16, node: i32, targets: &[(&str, i32)]) -> Option<Hit> {
        let mut rules = lock(&self.rules);
        let i = rules
            .iter()
            .position(|r| matches!(r.action, Action::Error(_)) && r.matches(api, node, targets))?;
        let hit = match rules[i].action {
            Action::Error(code) => Hit {
                code,
                topic: rules[i].topic.clone(),
                partition: rules[i].partition,
            },
            _ => return None,
        };
        use_up(&mut rules, i);
        Some(hit)
    }

    /// Whether a drop rule is pending for `api` (cheap: before the request is looked into).
    pub fn drops_pending(&self, api: i16) -> bool {
        lock(&self.rules)
            .iter()
            .any(|r| r.api == api && is_drop(r.action))
    }

    /// The first drop rule matching a request, used up by one: `Some(true)` to drop after
    /// applying it, `Some(false)` before.
    pub fn take_drop(&self, api: i16, node: i32, targets: &[(&str, i32)]) -> Option<bool> {
        let mut rules = lock(&self.rules);
        let i = rules
            .iter()
            .position(|r| is_drop(r.action) && r.matches(api, node, targets))?;
        let after = rules[i].action == Action::DropAfter;
        use_up(&mut rules, i);
        Some(after)
    }

    /// Sets the delay before each response of broker `node`; false if there is no such broker.
    pub fn set_rtt(&self, node: i32, rtt: Duration) -> bool {
        let mut all = lock(&self.rtt);
        match usize::try_from(node - 1).ok().and_then(|i| all.get_mut(i)) {
            Some(slot) => {
                *slot = rtt;
                true
            }
            None => false,
        }
    }

    /// The delay before each response of broker `node` (zero: none).
    pub fn rtt(&self, node: i32) -> Duration {
        let all = lock(&self.rtt);
        usize::try_from(node - 1)
            .ok()
            .and_then(|i| all.get(i))
            .map_or(Duration::ZERO, |d| *d)
    }

    pub fn record(&self, r: RequestRecord) {
        let mut log = lock(&self.log);
        if log.len() >= REQUEST_LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(r);
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.log).iter().cloned().collect()
    }

    pub fn clear_requests(&self) {
        lock(&self.log).clear();
    }

    /// Runs `f` on broker `node`'s up/down sender, `None` if there is no such broker.
    fn with_slot<T>(&self, node: i32, f: impl FnOnce(&watch::Sender<bool>) -> T) -> Option<T> {
        let all = lock(&self.up);
        usize::try_from(node - 1)
            .ok()
            .and_then(|i| all.get(i))
            .map(f)
    }

    /// Sets a broker up or down; false if there is no such broker.
    pub fn set_up(&self, node: i32, up: bool) -> bool {
        self.with_slot(node, |s| {
            s.send_replace(up);
        })
        .is_some()
    }

    pub fn is_up(&self, node: i32) -> bool {
        self.with_slot(node, |s| *s.borrow()).unwrap_or(true)
    }

    /// Watches a broker's up/down state (`None`: no such broker).
    pub fn watch(&self, node: i32) -> Option<watch::Receiver<bool>> {
        self.with_slot(node, watch::Sender::subscribe)
    }
}

#[cfg(test)]
#[path = "fault_tests.rs"]
mod tests;
