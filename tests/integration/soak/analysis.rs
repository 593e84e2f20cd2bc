//! The soak's samples and what is judged from them (no I/O: unit-tested on recorded runs).

/// One sample line of the child: `SAMPLE t=.. rss_kib=.. fds=.. tasks=.. sent=.. persisted=..
/// consumed=.. p50_ms=.. p99_ms=.. max_ms=..`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sample {
    pub(crate) t: f64,
    pub(crate) rss_kib: u64,
    /// Open fds and alive tokio tasks, each the least and the most of the 10 s (read every
    /// second): the least is the process's standing count, the most adds what was in flight.
    pub(crate) fds: u64,
    pub(crate) fds_max: u64,
    pub(crate) tasks: u64,
    pub(crate) tasks_max: u64,
    pub(crate) sent: u64,
    pub(crate) persisted: u64,
    pub(crate) consumed: u64,
    pub(crate) p50_ms: u64,
    pub(crate) p99_ms: u64,
    pub(crate) max_ms: u64,
}

impl Sample {
    pub(crate) const CSV_HEADER: &'static str =
        "t_s,rss_kib,fds_min,fds_max,tasks_min,tasks_max,sent,persisted,consumed,p50_ms,p99_ms,max_ms";

    pub(crate) fn to_line(&self) -> String {
        format!(
            "SAMPLE t={:.1} rss_kib={} fds={} fds_max={} tasks={} tasks_max={} sent={} persisted={} \
             consumed={} p50_ms={} p99_ms={} max_ms={}",
            self.t,
            self.rss_kib,
            self.fds,
            self.fds_max,
            self.tasks,
            self.tasks_max,
            self.sent,
            self.persisted,
            self.consumed,
            self.p50_ms,
            self.p99_ms,
            self.max_ms
        )
    }

    pub(crate) fn parse(line: &str) -> Option<Sample> {
        let rest = line.strip_prefix("SAMPLE ")?;
        let mut s = Sample::default();
        for kv in rest.split_whitespace() {
            let (k, v) = kv.split_once('=')?;
            match k {
                "t" => s.t = v.parse().ok()?,
                _ => {
                    let v: u64 = v.parse().ok()?;
                    match k {
                        "rss_kib" => s.rss_kib = v,
                        "fds" => s.fds = v,
                        "fds_max" => s.fds_max = v,
                        "tasks" => s.tasks = v,
                        "tasks_max" => s.tasks_max = v,
                        "sent" => s.sent = v,
                        "persisted" => s.persisted = v,
                        "consumed" => s.consumed = v,
                        "p50_ms" => s.p50_ms = v,
                        "p99_ms" => s.p99_ms = v,
                        "max_ms" => s.max_ms = v,
                        _ => return None,
                    }
                }
            }
        }
        Some(s)
    }

    pub(crate) fn csv(&self) -> String {
        format!(
            "{:.1},{},{},{},{},{},{},{},{},{},{},{}",
            self.t,
            self.rss_kib,
            self.fds,
            self.fds_max,
            self.tasks,
            self.tasks_max,
            self.sent,
            self.persisted,
            self.consumed,
            self.p50_ms,
            self.p99_ms,
            self.max_ms
        )
    }
}

/// Least-squares slope of `y` over `x`.
pub(crate) fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        0.0
    } else {
        sxy / sxx
    }
}

/// A fault the parent injected, in the child's clock (seconds since its start).
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    pub(crate) at: f64,
    pub(crate) what: &'static str,
}

/// RSS growth (KiB) summed over the stretches without a fault from `from` seconds on, and their
/// total length (s): from 40 s after each fault's start (its 5-10 s and the catch-up after
/// them) to the next fault's start. A leak per record grows RSS there; a fault's high-water
/// mark does not (see [`Plan`]).
pub(crate) fn quiet_growth(samples: &[Sample], faults: &[Fault], from: f64) -> (i64, f64) {
    let starts = std::iter::once(20.0).chain(faults.iter().map(|f| f.at + 40.0));
    let ends = faults.iter().map(|f| f.at).chain(std::iter::once(f64::MAX));
    let (mut kib, mut secs) = (0i64, 0.0);
    for (start, end) in starts.zip(ends) {
        if start < from {
            continue;
        }
        let stretch: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.t >= start && s.t < end)
            .collect();
        if let (Some(a), Some(b)) = (stretch.first(), stretch.last()) {
            kib += b.rss_kib as i64 - a.rss_kib as i64;
            secs += b.t - a.t;
        }
    }
    (kib, secs)
}

/// The faults after which fds and tasks did not come back (empty: all did).
///
/// The ceiling is the steady state before any fault: the most of the standing counts (the least
/// of each 10 s: tasks come and go by several while nothing is wrong — commits, fetches,
/// retried requests in flight) from 15 s to the first fault. Both clients then hold every
/// connection they use (one per broker and purpose: the producer's control and produce
/// connections, the consumer's control, fetch, coordination and membership ones); after a
/// fault some of them reconnect only when next needed, so fewer is fine. A fault is over when
/// some sample after it (and its own 5-10 s) and before the next one is within the ceiling.
/// One fd or task kept per fault breaks it, a few faults in.
pub(crate) fn unrecovered(samples: &[Sample], faults: &[Fault]) -> Vec<String> {
    let first = faults.first().map_or(f64::MAX, |f| f.at);
    let steady = samples.iter().filter(|s| s.t >= 15.0 && s.t <= first);
    let (fds, tasks) = steady.fold((0, 0), |(f, t), s| (f.max(s.fds), t.max(s.tasks)));
    let mut unrecovered = Vec::new();
    for (i, f) in faults.iter().enumerate() {
        let until = faults.get(i + 1).map_or(f64::MAX, |n| n.at);
        let back = samples
            .iter()
            .any(|s| s.t > f.at + 10.0 && s.t < until && s.fds <= fds && s.tasks <= tasks);
        if !back {
            unrecovered.push(format!(
                "{} at {:.0} s (steady state before the faults: {fds} fds, {tasks} tasks)",
                f.what, f.at
            ));
        }
    }
    unrecovered
}

#[test]
fn slope_of_a_line_and_sample_lines_round_trip() {
    let pts: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 3.0 * i as f64 + 1.0)).collect();
    assert!((slope(&pts) - 3.0).abs() < 1e-9);
    let s = Sample {
        t: 10.5,
        rss_kib: 2048,
        fds: 12,
        fds_max: 13,
        tasks: 9,
        tasks_max: 11,
        sent: 50_000,
        persisted: 49_990,
        consumed: 49_000,
        p50_ms: 7,
        p99_ms: 40,
        max_ms: 120,
    };
    let back = Sample::parse(&s.to_line()).expect("parses");
    assert_eq!(back.to_line(), s.to_line());
}

/// Samples and faults from a CSV the soak wrote.
fn read_csv(text: &str) -> (Vec<Sample>, Vec<Fault>) {
    let mut samples = Vec::new();
    let mut faults = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# fault at ") {
            let (at, what) = rest.split_once(" s: ").expect("fault line");
            let what = [
                "reset all connections",
                "5 s blackhole",
                "10 s of 300-400 ms latency",
                "3 responses dropped",
                "responses stalled 5 s",
            ]
            .into_iter()
            .find(|k| *k == what)
            .expect("a known fault");
            faults.push(Fault {
                at: at.parse().expect("seconds"),
                what,
            });
        } else if let Some(first) = line.split(',').next().filter(|f| f.parse::<f64>().is_ok()) {
            let v: Vec<u64> = line
                .split(',')
                .skip(1)
                .map(|x| x.parse().expect("u64"))
                .collect();
            samples.push(Sample {
                t: first.parse().expect("t"),
                rss_kib: v[0],
                fds: v[1],
                fds_max: v[2],
                tasks: v[3],
                tasks_max: v[4],
                sent: v[5],
                persisted: v[6],
                consumed: v[7],
                p50_ms: v[8],
                p99_ms: v[9],
                max_ms: v[10],
            });
        }
    }
    (samples, faults)
}

/// The recovery check on a real run (a 250 s soak on a loaded machine: standing fds 15-18 and
/// tasks 11-15 while nothing leaked) passes, and fails once every fault keeps one fd or task.
#[test]
fn recovery_check_passes_a_real_run_and_fails_one_that_keeps_an_fd_per_fault() {
    let (samples, faults) = read_csv(include_str!("soak-250s-sample.csv"));
    assert_eq!((samples.len(), faults.len()), (25, 5));
    assert_eq!(unrecovered(&samples, &faults), Vec::<String>::new());
    for leak in [0, 1] {
        let leaking: Vec<Sample> = samples
            .iter()
            .map(|s| {
                let kept = faults.iter().filter(|f| f.at < s.t).count() as u64;
                let mut s = s.clone();
                if leak == 0 {
                    s.fds += kept;
                } else {
                    s.tasks += kept;
                }
                s
            })
            .collect();
        let caught = unrecovered(&leaking, &faults);
        assert!(
            caught.last().is_some_and(|c| c.starts_with(faults[4].what)),
            "{leak}: {caught:?}"
        );
    }
}

/// Steps at faults are not growth between them; a steady climb is, at its own rate.
#[test]
fn quiet_growth_counts_the_climb_between_faults_not_the_steps_at_them() {
    let faults: Vec<Fault> = [300.0, 500.0, 700.0]
        .into_iter()
        .map(|at| Fault {
            at,
            what: "5 s blackhole",
        })
        .collect();
    let run = |rss: &dyn Fn(f64) -> u64| -> Vec<Sample> {
        (1..=90)
            .map(|i| {
                let t = i as f64 * 10.0;
                Sample {
                    t,
                    rss_kib: rss(t),
                    ..Sample::default()
                }
            })
            .collect()
    };
    // 4 MiB more after each fault, flat otherwise.
    let steps = run(&|t| 40_000 + 4_096 * faults.iter().filter(|f| f.at < t).count() as u64);
    assert_eq!(quiet_growth(&steps, &faults, 0.0).0, 0);
    // 10 KiB a second (35.2 MiB an hour), no steps.
    let climb = run(&|t| 40_000 + (t * 10.0) as u64);
    let (kib, secs) = quiet_growth(&climb, &faults, 0.0);
    let mib_h = kib as f64 / 1024.0 / (secs / 3600.0);
    assert!((mib_h - 35.16).abs() < 0.1, "{mib_h}");
}
