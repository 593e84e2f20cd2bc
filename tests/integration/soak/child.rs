//! The soak's client, run as a child process: a paced idempotent producer and a group
//! consumer, sampling its own RSS, fds, tokio tasks and end-to-end latency.

use super::analysis::Sample;
use super::{CHILD_ENV, PARTITIONS, RATE, SAMPLE_EVERY, WINDOW};
use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka::producer::{DeliveryFuture, Persistence, Producer, ProducerConfig, ProducerRecord};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Micro-seconds since the child's start: the send time the payload carries.
fn micros(t0: Instant) -> u64 {
    t0.elapsed().as_micros() as u64
}

/// Latencies in ms, one counter a millisecond up to 60 s (the last counts everything above).
struct Histogram(Vec<u64>);

impl Histogram {
    fn new() -> Histogram {
        Histogram(vec![0; 60_001])
    }
    fn add(&mut self, ms: u64) {
        let i = (ms as usize).min(self.0.len() - 1);
        self.0[i] += 1;
    }
    fn count(&self) -> u64 {
        self.0.iter().sum()
    }
    fn quantile(&self, q: f64) -> u64 {
        let n = self.count();
        if n == 0 {
            return 0;
        }
        let rank = ((n as f64) * q).ceil() as u64;
        let mut seen = 0;
        for (ms, c) in self.0.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return ms as u64;
            }
        }
        (self.0.len() - 1) as u64
    }
    fn max(&self) -> u64 {
        self.0.iter().rposition(|&c| c > 0).unwrap_or(0) as u64
    }
    fn clear(&mut self) {
        self.0.iter_mut().for_each(|c| *c = 0);
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64)
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    persisted: AtomicU64,
    possibly: AtomicU64,
    not_persisted: AtomicU64,
    consumed: AtomicU64,
    distinct: AtomicU64,
    redelivered: AtomicU64,
}

/// The soak's client: paced idempotent producer and a group consumer, sampling itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper: the soak's client, run as a child process by soak_through_proxy_faults_…"]
async fn child_soak_client() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let v: Vec<&str> = spec.split('|').collect();
    let [bootstrap, topic, group, secs] = v.as_slice() else {
        panic!("bad {CHILD_ENV}: {spec}");
    };
    let secs: u64 = secs.parse().expect("seconds");
    let t0 = Instant::now();
    // Never outlive a parent that failed to wait for this process.
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(secs + 600)).await;
        std::process::exit(3);
    });
    let producer = Producer::new(
        ProducerConfig::from_properties([
            ("bootstrap.servers", *bootstrap),
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("linger.ms", "5"),
            ("request.timeout.ms", "5000"),
            ("delivery.timeout.ms", "120000"),
            ("reconnect.backoff.max.ms", "1000"),
        ])
        .expect("producer config"),
    )
    .expect("producer");
    let consumer = Consumer::new(
        ConsumerConfig::from_properties([
            ("bootstrap.servers", *bootstrap),
            ("group.id", *group),
            ("auto.offset.reset", "earliest"),
            ("enable.auto.commit", "false"),
            ("request.timeout.ms", "5000"),
            ("reconnect.backoff.max.ms", "1000"),
        ])
        .expect("consumer config"),
    )
    .expect("consumer");
    consumer.subscribe([topic.to_string()]).expect("subscribe");
    let c = Arc::new(Counters::default());
    let window = Arc::new(Mutex::new((Histogram::new(), Histogram::new())));
    println!("START");

    // Deliveries resolve in order of sending, mostly: one task awaits them in turn.
    let (dtx, mut drx) = tokio::sync::mpsc::channel::<DeliveryFuture>(100_000);
    let resolver = {
        let c = c.clone();
        tokio::spawn(async move {
            while let Some(f) = drx.recv().await {
                let p = match f.await {
                    Ok(m) => m.persistence,
                    Err(e) => e.persistence,
                };
                match p {
                    Persistence::Persisted => &c.persisted,
                    Persistence::PossiblyPersisted => &c.possibly,
                    _ => &c.not_persisted,
                }
                .fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let stop_consuming = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (c, window, stop) = (c.clone(), window.clone(), stop_consuming.clone());
        tokio::spawn(async move {
            // Per partition the producer's sequence numbers only grow (idempotent, in order):
            // a record at or below the highest seen is a redelivery.
            let mut highest = vec![-1i64; PARTITIONS as usize];
            let mut last_commit = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let records = match consumer.poll(Duration::from_millis(200)).await {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("soak client: poll: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let now = micros(t0);
                {
                    let mut w = window.lock().expect("histograms");
                    for r in &records {
                        let Some(v) = r.value.as_ref().filter(|v| v.len() >= 16) else {
                            continue;
                        };
                        let seq = u64::from_be_bytes(v[..8].try_into().expect("8 bytes")) as i64;
                        let sent = u64::from_be_bytes(v[8..16].try_into().expect("8 bytes"));
                        let ms = now.saturating_sub(sent) / 1000;
                        w.0.add(ms);
                        w.1.add(ms);
                        c.consumed.fetch_add(1, Ordering::Relaxed);
                        let h = &mut highest[r.partition.clamp(0, PARTITIONS - 1) as usize];
                        if seq > *h {
                            *h = seq;
                            c.distinct.fetch_add(1, Ordering::Relaxed);
                        } else {
                            c.redelivered.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                if last_commit.elapsed() >= Duration::from_secs(1) {
                    last_commit = Instant::now();
                    if let Err(e) = consumer.commit_positions().await {
                        eprintln!("soak client: commit: {e}");
                    }
                }
            }
            let _ = consumer.commit_positions().await;
            consumer.close().await.expect("close the consumer");
        })
    };
    let sampler = {
        let (c, window) = (c.clone(), window.clone());
        tokio::spawn(async move {
            let mut next = SAMPLE_EVERY;
            let mut window_end = WINDOW;
            let tasks = || {
                tokio::runtime::Handle::current()
                    .metrics()
                    .num_alive_tasks() as u64
            };
            loop {
                // fds and tasks every second, kept as the least and most of the 10 s.
                let (mut fds, mut alive) = ((u64::MAX, 0), (u64::MAX, 0));
                loop {
                    let (f, a) = (open_fds(), tasks());
                    fds = (fds.0.min(f), fds.1.max(f));
                    alive = (alive.0.min(a), alive.1.max(a));
                    if t0.elapsed() >= next {
                        break;
                    }
                    let second = Duration::from_secs(1).min(next.saturating_sub(t0.elapsed()));
                    tokio::time::sleep(second).await;
                }
                let (p50, p99, max, win) = {
                    let mut w = window.lock().expect("histograms");
                    let r = (w.0.quantile(0.5), w.0.quantile(0.99), w.0.max());
                    w.0.clear();
                    let win = (t0.elapsed() + Duration::from_secs(1) >= window_end).then(|| {
                        let line = format!(
                            "WINDOW {}-{} s: {} records, latency p50 {} ms, p99 {} ms, max {} ms",
                            (window_end - WINDOW).as_secs(),
                            window_end.as_secs(),
                            w.1.count(),
                            w.1.quantile(0.5),
                            w.1.quantile(0.99),
                            w.1.max()
                        );
                        w.1.clear();
                        line
                    });
                    (r.0, r.1, r.2, win)
                };
                let s = Sample {
                    t: t0.elapsed().as_secs_f64(),
                    rss_kib: rss_kib(),
                    fds: fds.0,
                    fds_max: fds.1,
                    tasks: alive.0,
                    tasks_max: alive.1,
                    sent: c.sent.load(Ordering::Relaxed),
                    persisted: c.persisted.load(Ordering::Relaxed),
                    consumed: c.consumed.load(Ordering::Relaxed),
                    p50_ms: p50,
                    p99_ms: p99,
                    max_ms: max,
                };
                // println! panics once the parent is gone (broken pipe), which ends this process.
                println!("{}", s.to_line());
                if let Some(line) = win {
                    println!("{line}");
                    window_end += WINDOW;
                }
                next += SAMPLE_EVERY;
            }
        })
    };

    // The stream: RATE records a second for `secs`, each carrying its sequence number and its
    // send time.
    let end = Duration::from_secs(secs);
    let mut seq = 0u64;
    let mut pad = vec![0u8; 100];
    while t0.elapsed() < end {
        let due = Duration::from_micros(seq * 1_000_000 / RATE);
        if let Some(wait) = due.checked_sub(t0.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        pad[..8].copy_from_slice(&seq.to_be_bytes());
        pad[8..16].copy_from_slice(&micros(t0).to_be_bytes());
        let record = ProducerRecord::new(*topic)
            .partition((seq % PARTITIONS as u64) as i32)
            .value(pad.clone());
        match producer.send(record).await {
            Ok(f) => dtx.send(f).await.expect("resolver"),
            Err(e) => {
                match e.persistence {
                    Persistence::Persisted => &c.persisted,
                    Persistence::PossiblyPersisted => &c.possibly,
                    _ => &c.not_persisted,
                }
                .fetch_add(1, Ordering::Relaxed);
            }
        }
        c.sent.fetch_add(1, Ordering::Relaxed);
        seq += 1;
    }
    drop(dtx);
    producer
        .close(Duration::from_secs(60))
        .await
        .expect("close the producer");
    resolver.await.expect("resolver");
    // Read on until every persisted record arrived (or a minute passed).
    let drain = Instant::now();
    while c.distinct.load(Ordering::Relaxed) < c.persisted.load(Ordering::Relaxed)
        && drain.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_consuming.store(true, Ordering::Relaxed);
    reader.await.expect("consumer task");
    sampler.abort();
    let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
    println!(
        "DONE sent={} persisted={} possibly={} not={} consumed={} distinct={} redelivered={}",
        l(&c.sent),
        l(&c.persisted),
        l(&c.possibly),
        l(&c.not_persisted),
        l(&c.consumed),
        l(&c.distinct),
        l(&c.redelivered)
    );
}

#[test]
fn histogram_quantiles() {
    let mut h = Histogram::new();
    for ms in 1..=100 {
        h.add(ms);
    }
    assert_eq!((h.quantile(0.5), h.quantile(0.99), h.max()), (50, 99, 100));
}
