//! Exponential backoff with jitter, as the Java client computes it
//! (`ExponentialBackoff`: base × 2^attempts, capped, ±20 % jitter).

use std::time::Duration;

/// Jitter applied to every backoff, as a fraction of it (Java uses 0.2).
pub const JITTER: f64 = 0.2;

/// An exponential backoff policy: `base * 2^(attempt)`, capped at `max`, with ±20 % jitter.
///
/// ```
/// use ferrokafka::config::Backoff;
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

    /// [`delay`](Self::delay) with the random draw given (`0.0..1.0`), for deterministic tests.
    pub fn delay_with(&self, attempt: u32, random: f64) -> Duration {
        let base = self.base.as_secs_f64();
        let max = self.max.as_secs_f64();
        if base <= 0.0 {
            return Duration::ZERO;
        }
        // 2^attempt overflows nothing as f64; cap the exponent so the product stays finite.
        let exp = base * 2f64.powi(attempt.min(62) as i32);
        let capped = exp.min(max.max(base));
        let factor = 1.0 - JITTER + 2.0 * JITTER * random.clamp(0.0, 1.0);
        Duration::from_secs_f64(capped * factor)
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
}
