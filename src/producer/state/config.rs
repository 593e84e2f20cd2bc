//! Settings of the producer state machine.

use std::time::Duration;

use crate::{Error, Result};

pub use crate::producer::config::Acks;

/// Settings of the state machine (a subset of the producer's configuration).
#[derive(Debug, Clone)]
pub struct StateConfig {
    /// `enable.idempotence` (default `true`). Requires `acks=all` and `max_in_flight <= 5`.
    pub idempotence: bool,
    /// `acks` (default `all`).
    pub acks: Acks,
    /// `max.in.flight.requests.per.connection` (default 5): the most batches of one partition
    /// that may be unresolved (outstanding or awaiting a retry) at once.
    pub max_in_flight: usize,
    /// `delivery.timeout.ms` (default 120 s): the time from a batch's creation after which it is
    /// failed instead of retried.
    pub delivery_timeout: Duration,
    /// `retry.backoff.ms` (default 100 ms): the first retry's backoff.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms` (default 1 s): the backoff's cap.
    pub retry_backoff_max: Duration,
    /// `retries` (default `u32::MAX`, i.e. bounded by `delivery_timeout` only): how many times a
    /// batch is retried after retriable errors before it fails with the last one.
    pub retries: u32,
    /// Send one batch at a time on a partition until the broker acknowledged one of this
    /// producer id and epoch there (default `true`). A broker with no state for the producer on
    /// a partition accepts the first batch it sees whatever its sequence, so without this a later
    /// batch that overtakes the first one (a reconnect, a retry) would be written and the first
    /// one rejected as out of order, leaving a hole. Tests of pipelined scenarios turn it off to
    /// keep their set-up short; the async producer always leaves it on.
    pub first_batch_alone: bool,
    /// Seed of the backoff jitter (±20 %). A fixed seed makes runs reproducible.
    pub jitter_seed: u64,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            idempotence: true,
            acks: Acks::All,
            max_in_flight: 5,
            delivery_timeout: Duration::from_secs(120),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_millis(1000),
            retries: u32::MAX,
            first_batch_alone: true,
            jitter_seed: 0x5eed,
        }
    }
}

impl StateConfig {
    /// Checks the settings' interactions (Java rejects the same combinations).
    pub fn validate(&self) -> Result<()> {
        if self.max_in_flight == 0 {
            return Err(Error::config(
                "max.in.flight.requests.per.connection",
                "0",
                "must be at least 1",
            ));
        }
        if self.idempotence && self.max_in_flight > 5 {
            return Err(Error::config(
                "max.in.flight.requests.per.connection",
                self.max_in_flight.to_string(),
                "must be at most 5 with enable.idempotence=true (the broker deduplicates only the last 5 batches)",
            ));
        }
        if self.idempotence && self.acks != Acks::All {
            return Err(Error::config(
                "acks",
                format!("{:?}", self.acks),
                "must be all with enable.idempotence=true",
            ));
        }
        Ok(())
    }
}
