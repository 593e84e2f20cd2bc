//! Metric primitives shared by the clients: windowed rates, averages and maxima, computed the way
//! the Java client's `Metrics` does (two samples of `metrics.sample.window.ms` = 30 s each).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Length of one sample window (Java's `metrics.sample.window.ms` default).
pub const SAMPLE_WINDOW: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
struct Sample {
    start: Instant,
    count: u64,
    sum: f64,
    max: f64,
}

impl Sample {
    fn new(start: Instant) -> Sample {
        Sample {
            start,
            count: 0,
            sum: 0.0,
            max: f64::NAN,
        }
    }
}

#[derive(Debug)]
struct Window {
    prev: Sample,
    cur: Sample,
    total: u64,
    total_sum: f64,
}

/// A recorded quantity with a windowed rate, average and maximum, plus all-time totals.
///
/// ```
/// use ferrokafka::__private::metrics::Stat;
/// let s = Stat::new();
/// s.record(10.0);
/// s.record(30.0);
/// assert_eq!(s.avg(), 20.0);
/// assert_eq!(s.max(), 30.0);
/// assert_eq!(s.total_count(), 2);
/// ```
#[derive(Debug)]
pub struct Stat {
    w: Mutex<Window>,
    created: Instant,
}

impl Default for Stat {
    fn default() -> Self {
        Stat::new()
    }
}

impl Stat {
    /// An empty statistic.
    pub fn new() -> Stat {
        let now = Instant::now();
        Stat {
            w: Mutex::new(Window {
                prev: Sample::new(now),
                cur: Sample::new(now),
                total: 0,
                total_sum: 0.0,
            }),
            created: now,
        }
    }

    fn roll(w: &mut Window, now: Instant) {
        if now.duration_since(w.cur.start) >= SAMPLE_WINDOW {
            // A gap longer than two windows leaves nothing of the old samples.
            w.prev = if now.duration_since(w.cur.start) >= 2 * SAMPLE_WINDOW {
                Sample::new(now - SAMPLE_WINDOW)
            } else {
                w.cur
            };
            w.cur = Sample::new(now);
        }
    }

    /// Records one observation of `value` (use `1.0` for plain events).
    pub fn record(&self, value: f64) {
        self.record_n(1, value);
    }

    /// Records `n` events whose values add up to `sum` (e.g. `n` records of one batch).
    pub fn record_n(&self, n: u64, sum: f64) {
        let now = Instant::now();
        let mut w = self.w.lock().unwrap_or_else(|p| p.into_inner());
        Self::roll(&mut w, now);
        w.cur.count += n;
        w.cur.sum += sum;
        let per = if n > 0 { sum / n as f64 } else { sum };
        if w.cur.max.is_nan() || per > w.cur.max {
            w.cur.max = per;
        }
        w.total += n;
        w.total_sum += sum;
    }

    /// Events per second over the last one to two sample windows.
    pub fn rate(&self) -> f64 {
        let now = Instant::now();
        let mut w = self.w.lock().unwrap_or_else(|p| p.into_inner());
        Self::roll(&mut w, now);
        let start = w.prev.start.max(self.created);
        let secs = now.duration_since(start).as_secs_f64().max(1e-3);
        (w.prev.count + w.cur.count) as f64 / secs
    }

    /// Sum of values per second over the last one to two sample windows (e.g. bytes/s).
    pub fn value_rate(&self) -> f64 {
        let now = Instant::now();
        let mut w = self.w.lock().unwrap_or_else(|p| p.into_inner());
        Self::roll(&mut w, now);
        let start = w.prev.start.max(self.created);
        let secs = now.duration_since(start).as_secs_f64().max(1e-3);
        (w.prev.sum + w.cur.sum) / secs
    }

    /// Average value over the window (`NaN` when nothing was recorded, as Java reports).
    pub fn avg(&self) -> f64 {
        let mut w = self.w.lock().unwrap_or_else(|p| p.into_inner());
        Self::roll(&mut w, Instant::now());
        let n = w.prev.count + w.cur.count;
        if n == 0 {
            f64::NAN
        } else {
            (w.prev.sum + w.cur.sum) / n as f64
        }
    }

    /// Maximum value over the window (`NaN` when nothing was recorded).
    pub fn max(&self) -> f64 {
        let mut w = self.w.lock().unwrap_or_else(|p| p.into_inner());
        Self::roll(&mut w, Instant::now());
        match (w.prev.max.is_nan(), w.cur.max.is_nan()) {
            (true, true) => f64::NAN,
            (true, false) => w.cur.max,
            (false, true) => w.prev.max,
            (false, false) => w.prev.max.max(w.cur.max),
        }
    }

    /// Events recorded since creation.
    pub fn total_count(&self) -> u64 {
        self.w.lock().unwrap_or_else(|p| p.into_inner()).total
    }

    /// Sum of all values recorded since creation.
    pub fn total_sum(&self) -> f64 {
        self.w.lock().unwrap_or_else(|p| p.into_inner()).total_sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_stat_is_nan_and_zero_rate() {
        let s = Stat::new();
        assert!(s.avg().is_nan());
        assert!(s.max().is_nan());
        assert_eq!(s.rate(), 0.0);
    }

    #[test]
    fn batch_recording_counts_each_event() {
        let s = Stat::new();
        s.record_n(4, 400.0);
        assert_eq!(s.total_count(), 4);
        assert_eq!(s.avg(), 100.0);
        assert!(s.rate() > 0.0);
    }
}
