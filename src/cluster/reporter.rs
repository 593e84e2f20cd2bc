//! [`ErrorReporter`]: the application's error handler, rate-limited, shared by a client and its
//! [`Cluster`](super::Cluster) so that connection, DNS, authentication and metadata failures
//! reach it from whichever task meets them (issue #24: a producer pointed at `127.0.0.1:1` for
//! 60 s called its handler 0 times, because the metadata wait in `send` swallowed the failures).

use crate::{Error, ErrorHandler};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often the same failure (same kind, broker error code, broker and API) reaches the
/// handler at most. A cluster that is down fails every retry (every 50 ms-1 s per broker and
/// purpose); one call a second per failure is enough to alert on and cheap to log.
pub(crate) const REPORT_EVERY: Duration = Duration::from_secs(1);

/// What makes two failures "the same" for the rate limit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    kind: String,
    broker: Option<String>,
    api: Option<&'static str>,
}

fn key(e: &Error) -> Key {
    // The kind's name without its fields (`Disconnected { sent: true }` → `Disconnected`),
    // plus the broker error code, which is the kind for broker errors.
    let kind = format!("{:?}", e.kind());
    let kind = kind
        .split([' ', '(', '{'])
        .next()
        .unwrap_or_default()
        .to_owned()
        + &e.broker_code().map(|c| c.to_string()).unwrap_or_default();
    Key {
        kind,
        broker: e.context().broker.clone(),
        api: e.context().api,
    }
}

/// The application's error handler behind a rate limit of one call per [`REPORT_EVERY`] for
/// each distinct failure. Without a handler, reporting does nothing.
#[derive(Default)]
pub(crate) struct ErrorReporter {
    handler: Option<ErrorHandler>,
    last: Mutex<HashMap<Key, Instant>>,
}

impl std::fmt::Debug for ErrorReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorReporter")
            .field("handler", &self.handler.is_some())
            .finish()
    }
}

impl ErrorReporter {
    /// A reporter calling `handler` (none: reports are dropped).
    pub(super) fn new(handler: Option<ErrorHandler>) -> ErrorReporter {
        ErrorReporter {
            handler,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Hands `e` to the handler unless the same failure was handed over less than
    /// [`REPORT_EVERY`] ago. Never called with a lock of the caller's held: the handler is the
    /// application's code.
    pub(super) fn report(&self, e: &Error) {
        self.report_at(e, Instant::now());
    }

    fn report_at(&self, e: &Error, now: Instant) {
        let Some(handler) = &self.handler else {
            return;
        };
        {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            let k = key(e);
            if last
                .get(&k)
                .is_some_and(|at| now.saturating_duration_since(*at) < REPORT_EVERY)
            {
                return;
            }
            // Bounded: a client meets few distinct failures; forget old ones if it grows.
            if last.len() >= 1_024 {
                last.retain(|_, at| now.saturating_duration_since(*at) < REPORT_EVERY);
            }
            last.insert(k, now);
        }
        handler(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn the_same_failure_is_reported_once_per_second_distinct_ones_each() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let r = ErrorReporter::new(Some(Arc::new(move |_| {
            c.fetch_add(1, Ordering::Relaxed);
        })));
        let t0 = Instant::now();
        let refused = |b: &str| Error::new(ErrorKind::Connect).with_broker(b);
        for i in 0..100 {
            r.report_at(&refused("a:1"), t0 + Duration::from_millis(i * 5));
        }
        assert_eq!(calls.load(Ordering::Relaxed), 1, "100 in 0.5 s: one call");
        r.report_at(&refused("b:1"), t0);
        r.report_at(&Error::from_broker_code(6).with_broker("a:1"), t0);
        r.report_at(&Error::from_broker_code(3).with_broker("a:1"), t0);
        assert_eq!(
            calls.load(Ordering::Relaxed),
            4,
            "other broker, other codes: reported"
        );
        r.report_at(&refused("a:1"), t0 + Duration::from_millis(1_000));
        assert_eq!(calls.load(Ordering::Relaxed), 5, "again after a second");
        ErrorReporter::new(None).report(&refused("a:1")); // no handler: nothing happens
    }
}
