//! Exponential backoff with jitter, as the Java client computes it
//! (`ExponentialBackoff`: base × 2^attempts, capped, ±20 % jitter).
//!
//! Every retry wait in the crate comes from a [`Backoff`] (the policy) and a [`Jitter`] (where
//! its random draws come from), so the reconnect, metadata, admin, coordinator, fetch and
//! producer retries all compute their waits the same way.

use std::time::Duration;

/// Jitter applied to every backoff, as a fraction of it (Java uses 0.2).
pub(super) const JITTER: f64 = 0.2;

/// An exponential backoff policy: `base * 2^(attempt)`, capped at `max`, with ±20 % jitter.
///
/// ```
/// use ferrokafka::__private::retry::Backoff;
/// use std::time::Duration;
/// let b = Backoff::new(Duration::from_millis(50), Duration::from_millis(1000));
/// assert!(b.delay(0) >= Duration::from_millis(40) && b.delay(0) <= Duration::from_millis(60));
/// assert!(b.delay(30) <= Duration::from_millis(1200));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
}

impl Backoff {
    /// A policy starting at `base` and capped at `max`.
    pub const fn new(base: Duration, max: Duration) -> Backoff {
        Backoff { base, max }
    }

    /// The delay before attempt number `attempt + 1` after `attempt` consecutive failures
    /// (0 = after the first failure), with jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_with(attempt, fastrand::f64())
    }

    /// [`delay`](Self::delay) with the draw taken from `jitter`: seeded in the deterministic
    /// state machines, none for the group protocol's fixed waits.
    pub(crate) fn delay_from(&self, attempt: u32, jitter: &mut Jitter) -> Duration {
        match jitter {
            Jitter::Global => self.delay(attempt),
            Jitter::Seeded(rng) => self.delay_with(attempt, rng.f64()),
            Jitter::None => self.capped(attempt),
        }
    }

    /// [`delay`](Self::delay) with the random draw given (`0.0..1.0`), for deterministic tests.
    pub fn delay_with(&self, attempt: u32, random: f64) -> Duration {
        let Some(capped) = self.capped_secs(attempt) else {
            return Duration::ZERO;
        };
        let factor = 1.0 - JITTER + 2.0 * JITTER * random.clamp(0.0, 1.0);
        Duration::from_secs_f64(capped * factor)
    }

    /// The delay without jitter. A policy with `base == max` gives exactly `base` every time
    /// (the group protocol's `retry.backoff.ms` waits, which Java does not jitter either).
    fn capped(&self, attempt: u32) -> Duration {
        // Exact, without a round trip through f64, where the answer is `base` anyway.
        if self.base.is_zero() {
            return Duration::ZERO;
        }
        if attempt == 0 || self.base >= self.max {
            return self.base;
        }
        self.capped_secs(attempt)
            .map_or(Duration::ZERO, Duration::from_secs_f64)
    }

    /// `base * 2^attempt` capped at `max`, in seconds; `None` for a zero base.
    fn capped_secs(&self, attempt: u32) -> Option<f64> {
        let base = self.base.as_secs_f64();
        let max = self.max.as_secs_f64();
        if base <= 0.0 {
            return None;
        }
        // 2^attempt overflows nothing as f64; cap the exponent so the product stays finite.
        let exp = base * 2f64.powi(attempt.min(62) as i32);
        Some(exp.min(max.max(base)))
    }
}

/// Where a backoff's jitter draws come from.
///
/// Three sources used to live side by side (a private SplitMix64 in the producer state machine,
/// the global `fastrand` generator in the fetcher, none in the group protocol); they are the
/// variants of this one type.
#[derive(Debug, Clone)]
pub(crate) enum Jitter {
    /// The thread's global `fastrand` generator (the connection pool, admin and consumer
    /// retries, the fetcher).
    Global,
    /// A seeded generator: the same seed gives the same delays, so the deterministic
    /// simulations of the producer state machine replay exactly.
    Seeded(fastrand::Rng),
    /// No jitter: the delay is exactly the policy's (the group protocol's fixed
    /// `retry.backoff.ms` waits).
    None,
}

impl Jitter {
    /// A generator seeded with `seed`.
    pub(crate) fn seeded(seed: u64) -> Jitter {
        Jitter::Seeded(fastrand::Rng::with_seed(seed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_with_jitter_bounds() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        assert_eq!(b.delay_with(0, 0.5), Duration::from_millis(100));
        assert_eq!(b.delay_with(1, 0.5), Duration::from_millis(200));
        assert_eq!(b.delay_with(3, 0.5), Duration::from_millis(800));
        assert_eq!(b.delay_with(4, 0.5), Duration::from_millis(1000));
        assert_eq!(b.delay_with(u32::MAX, 0.5), Duration::from_millis(1000));
        assert_eq!(b.delay_with(0, 0.0), Duration::from_millis(80));
        assert_eq!(b.delay_with(0, 1.0), Duration::from_millis(120));
        let z = Backoff::new(Duration::ZERO, Duration::ZERO);
        assert_eq!(z.delay(5), Duration::ZERO);
    }

    #[test]
    fn jitter_sources_seeded_global_and_none() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        let run = |seed| {
            let mut j = Jitter::seeded(seed);
            (0..8).map(|a| b.delay_from(a, &mut j)).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7), "same seed, same delays");
        assert_ne!(run(7), run(8), "the seed drives the draws");
        for (a, d) in run(7).into_iter().enumerate() {
            let nominal = b.delay_with(a as u32, 0.5);
            assert!(
                d >= nominal.mul_f64(0.8) && d <= nominal.mul_f64(1.2),
                "{a}: {d:?}"
            );
        }
        let g = b.delay_from(2, &mut Jitter::Global);
        assert!(g >= Duration::from_millis(320) && g <= Duration::from_millis(480));
        assert_eq!(
            b.delay_from(0, &mut Jitter::None),
            Duration::from_millis(100)
        );
        assert_eq!(
            b.delay_from(3, &mut Jitter::None),
            Duration::from_millis(800)
        );
        let fixed = Backoff::new(Duration::from_millis(100), Duration::from_millis(100));
        assert_eq!(
            fixed.delay_from(9, &mut Jitter::None),
            Duration::from_millis(100)
        );
    }
}
