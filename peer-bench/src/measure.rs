//! What the Rust clients' runs share: the workload, the CPU clock, the summary line
//! (franz/main.go mirrors the payload and the line for franz-go).

use std::time::Instant;

/// One workload, given to the child process that runs one client.
#[derive(Debug, Clone)]
pub struct Workload {
    /// `bootstrap.servers`.
    pub bootstrap: String,
    /// The topic to produce to or consume from.
    pub topic: String,
    /// Records to produce, or to consume before stopping.
    pub messages: u64,
    /// Value size in bytes (produce).
    pub size: usize,
    /// Client settings both clients understand under the same names (`batch.size`,
    /// `linger.ms`, `compression.type`, `acks`, `enable.idempotence`, `fetch.*`, …).
    pub props: Vec<(String, String)>,
    /// Group id for consume in group mode; `None` = assign every partition.
    pub group: Option<String>,
    /// Partitions of the topic (for assign mode).
    pub partitions: i32,
}

/// Process CPU time (user + system, all threads) in seconds, from `/proc/self/stat`; 0 if
/// unavailable. Resolution: one clock tick (10 ms with CLK_TCK = 100).
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some(rest) = stat.rfind(')').and_then(|i| stat.get(i + 1..)) else {
        return 0.0;
    };
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next().and_then(|f| f.parse().ok()).unwrap_or(0);
    let stime: u64 = fields.next().and_then(|f| f.parse().ok()).unwrap_or(0);
    // Linux reports in USER_HZ, 100 on every mainstream architecture.
    (utime + stime) as f64 / 100.0
}

/// The payload: pseudo-random uppercase letters from a fixed seed (as `perf` and Java's
/// ProducerPerformance), so compression ratios are the same for both clients.
pub fn payload(size: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'A' + (x % 26) as u8
        })
        .collect()
}

/// Start of the timed window: wall clock and CPU.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    start: Instant,
    cpu: f64,
}

impl Window {
    /// Starts now.
    pub fn start() -> Window {
        Window {
            start: Instant::now(),
            cpu: cpu_seconds(),
        }
    }

    /// The summary line of `kind` ("produce" / "consume") for `n` records of `bytes` bytes,
    /// in `perf`'s format; `extra` is appended (e.g. the time to the first record).
    pub fn line(&self, kind: &str, client: &str, n: u64, bytes: u64, extra: &str) -> String {
        let secs = self.start.elapsed().as_secs_f64().max(1e-9);
        let cpu = cpu_seconds() - self.cpu;
        let us = if n == 0 { 0.0 } else { cpu * 1e6 / n as f64 };
        format!(
            "{kind} {client}: {n} msgs, {:.0} msg/s, {:.2} MB/s, cpu {cpu:.2} s, {us:.2} us/msg{extra}",
            n as f64 / secs,
            bytes as f64 / secs / (1024.0 * 1024.0),
        )
    }
}

/// `(msg/s, us/msg)` of a summary line, for the medians.
pub fn parse_line(line: &str) -> Option<(f64, f64)> {
    let num_before = |unit: &str| -> Option<f64> {
        let end = line.find(unit)?;
        line[..end]
            .rsplit([' ', ','])
            .find(|s| !s.is_empty())?
            .parse()
            .ok()
    };
    Some((num_before(" msg/s")?, num_before(" us/msg")?))
}

/// The median of `v` (mean of the middle two for an even count); 0 for none.
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_summary_lines() {
        let l = "consume ferrokafka: 500000 msgs, 1234567 msg/s, 117.74 MB/s, cpu 0.21 s, 0.42 us/msg, first record after 0.31 s";
        assert_eq!(parse_line(l), Some((1234567.0, 0.42)));
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    /// The same literal is pinned in franz/main_test.go: every client sends identical bytes.
    #[test]
    fn payload_is_pinned() {
        assert_eq!(&payload(32)[..], b"LKKYMHDMDSRZNGVHMNBPLJKSFEPNHJPN");
        let sum: u64 = payload(100_000)
            .iter()
            .enumerate()
            .map(|(i, &b)| (i as u64 + 1) * u64::from(b))
            .sum();
        assert_eq!(sum, 387_252_262_896);
    }
}
