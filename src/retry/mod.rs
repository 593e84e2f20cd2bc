//! Deadline-bounded retries, shared by every layer that retries a request: admin calls, the
//! group coordinator's offset requests, the producer's wait for a topic's metadata and the
//! group task's partition-count lookup.
//!
//! One place computes the wait (a [`Backoff`] with its [`Jitter`]) and decides whether the
//! deadline leaves room for it; the call sites only say which errors are worth another attempt
//! and which error to give up with. The deadline check is Java's: give up when *waiting out the
//! next backoff* would reach the deadline, rather than sleep past it and try once more.
//!
//! A leaf of the shared layer (it imports only `error`), so the connection, cluster, producer,
//! consumer and admin layers and the I/O-free state machines can all use it. `backoff.rs` holds
//! the one [`Backoff`] policy and its [`Jitter`].

mod backoff;

use crate::{Error, ErrorKind};
pub use backoff::Backoff;
pub(crate) use backoff::Jitter;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// The waits between the attempts of one operation, until an optional deadline.
#[derive(Debug)]
pub(crate) struct Retry {
    /// `None`: no deadline of its own (the caller stops retrying on a condition instead).
    deadline: Option<Instant>,
    backoff: Backoff,
    jitter: Jitter,
    /// Failed attempts so far: the backoff's exponent.
    attempt: u32,
}

impl Retry {
    /// Retries waiting out `backoff` (with draws from `jitter`) until `deadline`.
    pub(crate) fn new(deadline: Option<Instant>, backoff: Backoff, jitter: Jitter) -> Retry {
        Retry {
            deadline,
            backoff,
            jitter,
            attempt: 0,
        }
    }

    /// Counts a failed attempt and returns the wait before the next one, or `None` when waiting
    /// it out would reach the deadline (the caller then gives up with its own timeout error).
    pub(crate) fn next_wait(&mut self) -> Option<Duration> {
        let wait = self.backoff.delay_from(self.attempt, &mut self.jitter);
        self.attempt = self.attempt.saturating_add(1);
        match self.deadline {
            Some(deadline) if Instant::now() + wait >= deadline => None,
            _ => Some(wait),
        }
    }

    /// [`next_wait`](Self::next_wait), sleeping it out: `false` (at once) if the deadline
    /// leaves no room for another attempt.
    pub(crate) async fn wait(&mut self) -> bool {
        match self.next_wait() {
            Some(wait) => {
                tokio::time::sleep(wait).await;
                true
            }
            None => false,
        }
    }
}

/// Why [`retry_until`] stopped without a result.
#[derive(Debug)]
pub(crate) enum GaveUp<E> {
    /// The error was not worth another attempt.
    Permanent(E),
    /// Another attempt would have passed the deadline; the last error.
    Deadline(E),
}

/// Runs `op` until it succeeds, an error is not `is_retriable`, or the deadline leaves no room
/// for the next backoff. `is_retriable` sees every error (a call site may also forget a cached
/// coordinator there, or stop on a condition of its own).
pub(crate) async fn retry_until<T, E, F, Fut>(
    mut retry: Retry,
    mut is_retriable: impl FnMut(&E) -> bool,
    mut op: F,
) -> Result<T, GaveUp<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if !is_retriable(&e) => return Err(GaveUp::Permanent(e)),
            Err(e) => {
                if !retry.wait().await {
                    return Err(GaveUp::Deadline(e));
                }
            }
        }
    }
}

/// The error a request retried until its deadline (`default.api.timeout.ms` unless the call
/// took its own timeout) gives up with; admin calls and the coordinator's offset requests word it
/// the same way. When no broker could be reached at all (the last attempt failed to connect, or
/// found no broker) the kind says so — `Connect` / `NoBrokerAvailable` — rather than `Timeout`,
/// so a caller can tell "wrong address or cluster down" from "slow cluster" without parsing text.
pub(crate) fn api_timeout(api: &'static str, last: &Error) -> Error {
    let kind = match last.kind() {
        ErrorKind::Connect => ErrorKind::Connect,
        ErrorKind::NoBrokerAvailable => ErrorKind::NoBrokerAvailable,
        _ => ErrorKind::Timeout,
    };
    // When the kind carries over, the last error's text would repeat it ("no broker available:
    // timed out retrying; last error: no broker available: ..."): say it once.
    let prefix = format!("{}: ", Error::new(kind.clone()));
    let last = last.to_string();
    let last = last.strip_prefix(&prefix).unwrap_or(&last);
    Error::new(kind)
        .with_api(api)
        .with_detail(format!("timed out retrying; last error: {last}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(ms: u64) -> Backoff {
        Backoff::new(Duration::from_millis(ms), Duration::from_millis(ms))
    }

    #[tokio::test]
    async fn retries_until_success_or_permanent_error() {
        let mut calls = 0;
        let r: Result<u32, GaveUp<u32>> = retry_until(
            Retry::new(None, fixed(1), Jitter::None),
            |_| true,
            || {
                calls += 1;
                let n = calls;
                async move {
                    if n < 3 {
                        Err(n)
                    } else {
                        Ok(n)
                    }
                }
            },
        )
        .await;
        assert!(matches!(r, Ok(3)));

        let r: Result<(), GaveUp<&str>> = retry_until(
            Retry::new(None, fixed(1), Jitter::None),
            |e| *e != "fatal",
            || async { Err("fatal") },
        )
        .await;
        assert!(matches!(r, Err(GaveUp::Permanent("fatal"))));

        // A wait that would reach the deadline is not started: the last error comes back.
        let soon = Instant::now() + Duration::from_millis(50);
        let r: Result<(), GaveUp<u32>> = retry_until(
            Retry::new(Some(soon), fixed(60_000), Jitter::None),
            |_| true,
            || async { Err(7) },
        )
        .await;
        assert!(matches!(r, Err(GaveUp::Deadline(7))));
    }

    #[test]
    fn giving_up_keeps_a_connect_failure_in_the_kind() {
        let refused = Error::new(ErrorKind::Connect).with_detail("connection refused");
        let e = api_timeout("OffsetFetch", &refused);
        assert!(matches!(e.kind(), ErrorKind::Connect), "{e}");
        assert!(e.to_string().contains("connection refused"), "{e}");
        let e = api_timeout("OffsetFetch", &Error::new(ErrorKind::NoBrokerAvailable));
        assert!(matches!(e.kind(), ErrorKind::NoBrokerAvailable), "{e}");
        // The kind is said once (issue #24).
        let e = api_timeout(
            "Metadata",
            &Error::new(ErrorKind::NoBrokerAvailable).with_detail("could not connect to broker"),
        );
        assert_eq!(
            e.to_string().matches("no broker available").count(),
            1,
            "{e}"
        );
        assert!(e.to_string().contains("could not connect to broker"), "{e}");
        let e = api_timeout("OffsetFetch", &Error::from_broker_code(15));
        assert!(matches!(e.kind(), ErrorKind::Timeout), "{e}");
    }

    #[test]
    fn next_wait_counts_attempts_and_respects_the_deadline() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1_000));
        let far = Instant::now() + Duration::from_secs(3_600);
        let mut r = Retry::new(Some(far), b, Jitter::None);
        let waits: Vec<_> = (0..5).map(|_| r.next_wait()).collect();
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(waits, [ms(100), ms(200), ms(400), ms(800), ms(1_000)]);
        let near = Instant::now() + Duration::from_millis(150);
        let mut r = Retry::new(Some(near), b, Jitter::None);
        assert_eq!(r.next_wait(), ms(100));
        assert_eq!(r.next_wait(), None, "200 ms would pass the deadline");
        let mut r = Retry::new(None, b, Jitter::None);
        for _ in 0..40 {
            assert!(r.next_wait().is_some(), "no deadline: never gives up");
        }
    }
}
