//! Producer and consumer benchmark, modelled on librdkafka's `rdkafka_performance` and Java's
//! `org.apache.kafka.tools.ProducerPerformance` / `ConsumerPerformance`.
//!
//! ```text
//! cargo run --release --example perf -- produce [--bootstrap H:P] [--topic T] [--partitions 3]
//!     [--replication-factor 1] [--messages 1000000] [--size 100] [--acks 0|1|all]
//!     [--idempotence true|false] [--compression none|gzip|snappy|lz4|zstd] [--linger-ms 5]
//!     [--batch-size 16384] [--rate 0] [--delivery callback|future] [--window 100000]
//!     [--producer-prop key=value]...
//!     [--config-file FILE] [--transactional-id ID --transaction-records 1000]
//! cargo run --release --example perf -- consume [--bootstrap H:P] [--topic T] [--messages 1000000]
//!     [--size 100] [--partitions 3] [--compression none] [--group G] [--config-file FILE]
//!     [--isolation-level read_uncommitted|read_committed] [--share-group G]
//!     [--max-poll-records 500]
//!
//! `--config-file FILE` (like ProducerPerformance's `--producer.config`) is a Java properties
//! file applied to every client the run creates (producer, consumer, admin): security settings
//! (`security.protocol`, `ssl.*`, `sasl.*`) and any client key. Its `bootstrap.servers` is used
//! when `--bootstrap` is not given. E.g. with `kafka-test-cluster start --security sasl_ssl`:
//! `perf produce --config-file "$(kafka-test-cluster client-config --user alice)" --topic alice-perf`.
//! ```
//!
//! Without `--bootstrap` a local single-node broker is started through the test harness
//! (`ferrokafka_testcontainers::Kafka::shared`, which honours `KAFKA_BOOTSTRAP_SERVERS`).
//! Without `--topic` a fresh topic is created; a given topic is created if it does not exist.
//!
//! What `produce` measures, and how:
//! - Payload: `--size` pseudo-random uppercase letters, generated once from a fixed seed, the same
//!   bytes for every record, no key (as `ProducerPerformance` does), so compression ratios are
//!   comparable with the Java tool.
//! - The clock and the CPU counters start just before the first `send` (after the topic exists and
//!   the producer is built; the first send still waits for the topic's metadata, as in Java) and
//!   stop when every record has completed (`flush`).
//! - msg/s = records delivered / elapsed; MB/s = payload bytes (`--size` × records) / 2^20 /
//!   elapsed, as `ProducerPerformance` counts MB.
//! - CPU: user + system time of this process (every thread) from `/proc/self/stat` fields 14 and
//!   15 (`utime`, `stime`), in clock ticks; ticks per second come from `getconf CLK_TCK`, and are
//!   assumed to be 100 (the Linux value on every mainstream architecture) when that fails. The
//!   resolution is one tick (10 ms). On systems without `/proc` the CPU figures read 0.
//! - Delivery reports: `--delivery callback` (the default) sends with
//!   `Producer::send_with_callback`, a closure per record that records the latency and counts
//!   (what a high-volume producer uses; librdkafka's delivery callback and franz-go's promise
//!   are the same shape); `--delivery future` sends with `Producer::send` and awaits each
//!   `DeliveryFuture` as described next.
//! - Latency: from the `send` call to the observation of its delivery, for one record in 16
//!   (reading the clock twice for every record would cost ~5 % of a 100-byte record's CPU).
//!   With callbacks, when the callback runs. With futures, delivery futures go, in
//!   send order, through a bounded channel (`--window` entries: memory stays bounded, and sends
//!   wait when it is full) to one collector task that awaits them in that order. A record that
//!   completed before an earlier-sent one is therefore observed when the earlier one completes;
//!   against one broker (one connection, responses in request order, and full batches drained
//!   before later ones) the difference is small, and it can only overstate latency.
//!   Latencies go into a fixed log-bucket histogram (exact below 64 µs, then 32 buckets per power
//!   of two: ≤ 3.2 % relative error); p50/p99 are bucket midpoints.
//!
//! - With `--transactional-id ID` the producer is transactional: `init_transactions` before the
//!   clock starts, then a transaction is committed after every `--transaction-records` records
//!   (and at the end); the commits (each a flush plus EndTxn) are inside the measured time.
//!
//! What `consume` measures, and how:
//! - Without `--topic`, a fresh topic is created and pre-filled with `--messages` records of
//!   `--size` bytes (`'x'`, no key) before anything is timed; a given topic is read as it is.
//! - Without `--group` the consumer assigns itself every partition (`assign`, no group, nothing
//!   committed). With `--group G` it subscribes (`subscribe`, group-managed: it joins group `G`,
//!   which assigns it the partitions; `auto.offset.reset=earliest`, so a group with no committed
//!   offsets reads from the start) and commits its positions once at the end (timed). With
//!   `--share-group G` a share-group member (KIP-932) reads instead, accepting every record
//!   (implicit acknowledgement), from the earliest offset; its final `commit_sync` is timed.
//! - The clock and the CPU counters start when the first `poll` returns records (as
//!   `rdkafka_performance -C` starts at the first message), so connecting, the group join and
//!   the first fetch's round trip are excluded, and those first records count. Records the first
//!   fetch responses brought in before that moment (at most `max.partition.fetch.bytes` per
//!   partition) are counted without their fetch time: a bias of a few percent on short runs.
//!   The clock stops after the `--messages`-th record (and, with a group, the final commit).
//! - msg/s = records / elapsed; MB/s = value bytes / 2^20 / elapsed; CPU as for `produce`, and
//!   µs/msg = CPU time / records.

use bytes::Bytes;
use ferrokafka::admin::{AdminClient, NewTopic};
use ferrokafka::config::ClientConfig;
use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka::producer::{
    DeliveryFuture, DeliveryResult, Producer, ProducerConfig, ProducerRecord,
};
use ferrokafka::types::TopicPartition;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: perf produce [--bootstrap H:P] [--topic T] [--partitions N] \
[--replication-factor R] [--messages M] [--size BYTES] [--acks 0|1|all] [--idempotence true|false] \
[--compression none|gzip|snappy|lz4|zstd] [--linger-ms L] [--batch-size B] [--rate MSGS_PER_S] \
[--delivery callback|future] [--window N] [--producer-prop key=value]... [--config-file FILE] \
[--transactional-id ID] [--transaction-records N]\n       perf consume [--bootstrap H:P] [--topic T] [--messages M] [--size BYTES] [--group G] \
[--partitions N] [--compression C] [--config-file FILE] \
[--isolation-level read_uncommitted|read_committed]   (without --topic: creates and pre-fills a topic, untimed)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("produce") => {}
        Some("consume") => return consume_main(args.get(1..).unwrap_or_default()),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    let opts = match ProduceOpts::parse(args.get(1..).unwrap_or_default()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("perf: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    run(produce(opts))
}

/// Runs a subcommand on the default multi-threaded runtime (one worker per core), as an
/// application would, and turns its outcome into the exit code.
fn run<E: std::fmt::Display>(job: impl std::future::Future<Output = Result<(), E>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("perf: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(job) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("perf: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Options of `perf produce`.
#[derive(Debug, Clone, PartialEq)]
struct ProduceOpts {
    bootstrap: Option<String>,
    /// Properties from `--config-file`, applied to every client.
    file_props: Vec<(String, String)>,
    topic: Option<String>,
    partitions: i32,
    replication_factor: i16,
    messages: u64,
    size: usize,
    acks: String,
    idempotence: String,
    compression: String,
    linger_ms: u64,
    batch_size: usize,
    /// Messages per second; 0 = unlimited.
    rate: u64,
    /// Delivery futures kept outstanding at most (the collector's channel capacity).
    window: usize,
    /// `--delivery`: how delivery reports are received.
    delivery: Delivery,
    /// Extra producer properties (Java names), applied after the flags.
    extra: Vec<(String, String)>,
    /// `--transactional-id`: produce in transactions.
    transactional_id: Option<String>,
    /// `--transaction-records`: records per transaction.
    transaction_records: u64,
}

impl Default for ProduceOpts {
    fn default() -> Self {
        ProduceOpts {
            bootstrap: None,
            file_props: Vec::new(),
            topic: None,
            partitions: 3,
            replication_factor: 1,
            messages: 1_000_000,
            size: 100,
            acks: "all".into(),
            idempotence: "true".into(),
            compression: "none".into(),
            linger_ms: 5,
            batch_size: 16384,
            rate: 0,
            window: 100_000,
            delivery: Delivery::Callback,
            extra: Vec::new(),
            transactional_id: None,
            transaction_records: 1000,
        }
    }
}

impl ProduceOpts {
    fn parse(args: &[String]) -> Result<ProduceOpts, String> {
        fn num<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{flag}: {v:?} is not a valid number"))
        }
        let mut o = ProduceOpts::default();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            // Accept both `--flag value` and `--flag=value`.
            let (flag, inline) = match flag.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
                _ => (flag.as_str(), None),
            };
            let mut value = || -> Result<String, String> {
                match &inline {
                    Some(v) => Ok(v.clone()),
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| format!("{flag} needs a value")),
                }
            };
            match flag {
                "--bootstrap" => o.bootstrap = Some(value()?),
                "--config-file" => o.file_props = read_properties(&value()?)?,
                "--topic" => o.topic = Some(value()?),
                "--partitions" => o.partitions = num(flag, &value()?)?,
                "--replication-factor" => o.replication_factor = num(flag, &value()?)?,
                "--messages" => o.messages = num(flag, &value()?)?,
                "--size" => o.size = num(flag, &value()?)?,
                "--acks" => o.acks = value()?,
                "--idempotence" => o.idempotence = value()?,
                "--compression" => o.compression = value()?,
                "--linger-ms" => o.linger_ms = num(flag, &value()?)?,
                "--batch-size" => o.batch_size = num(flag, &value()?)?,
                "--rate" => o.rate = num(flag, &value()?)?,
                "--window" => o.window = num(flag, &value()?)?,
                "--delivery" => {
                    o.delivery = match value()?.as_str() {
                        "callback" => Delivery::Callback,
                        "future" => Delivery::Future,
                        v => return Err(format!("--delivery {v:?}: expected callback or future")),
                    }
                }
                "--transactional-id" => o.transactional_id = Some(value()?),
                "--transaction-records" => o.transaction_records = num(flag, &value()?)?,
                "--producer-prop" => {
                    let kv = value()?;
                    let (k, v) = kv
                        .split_once('=')
                        .ok_or_else(|| format!("--producer-prop {kv:?}: expected key=value"))?;
                    o.extra.push((k.to_owned(), v.to_owned()));
                }
                other => return Err(format!("unknown flag {other:?}")),
            }
        }
        if o.partitions < 1 {
            return Err("--partitions must be at least 1".into());
        }
        if o.transaction_records == 0 {
            return Err("--transaction-records must be at least 1".into());
        }
        if o.window < 1 {
            return Err("--window must be at least 1".into());
        }
        Ok(o)
    }

    /// The producer configuration, by Java property names.
    fn producer_config(&self, bootstrap: &str) -> ferrokafka::Result<ProducerConfig> {
        let mut props: Vec<(String, String)> = vec![
            ("bootstrap.servers".into(), bootstrap.to_owned()),
            ("client.id".into(), "ferrokafka-perf".into()),
            ("acks".into(), self.acks.clone()),
            ("enable.idempotence".into(), self.idempotence.clone()),
            ("compression.type".into(), self.compression.clone()),
            ("linger.ms".into(), self.linger_ms.to_string()),
            ("batch.size".into(), self.batch_size.to_string()),
        ];
        props.extend(
            self.file_props
                .iter()
                .filter(|(k, _)| k != "bootstrap.servers")
                .cloned(),
        );
        if let Some(id) = &self.transactional_id {
            props.push(("transactional.id".into(), id.clone()));
        }
        props.extend(self.extra.iter().cloned());
        ProducerConfig::from_properties(props)
    }
}

/// Reads a Java properties file: `key=value` or `key: value` lines, `#`/`!` comments, blank
/// lines skipped (no line continuations or escapes).
fn read_properties(path: &str) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--config-file {path}: {e}"))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let cut = line
            .find(['=', ':'])
            .ok_or_else(|| format!("--config-file {path}:{}: expected key=value", n + 1))?;
        let (k, v) = line.split_at(cut);
        out.push((k.trim().to_owned(), v[1..].trim_start().to_owned()));
    }
    Ok(out)
}

/// `bootstrap.servers` of a `--config-file`.
fn file_bootstrap(props: &[(String, String)]) -> Option<String> {
    props
        .iter()
        .find(|(k, _)| k == "bootstrap.servers")
        .map(|(_, v)| v.clone())
}

/// An admin (or any client) configuration: `bootstrap` plus every client key of the
/// `--config-file` (producer- or consumer-only keys are skipped).
fn admin_config(bootstrap: &str, file: &[(String, String)]) -> ferrokafka::Result<ClientConfig> {
    let mut b = ClientConfig::builder()
        .bootstrap_servers(bootstrap)
        .client_id("ferrokafka-perf-admin");
    for (k, v) in file.iter().filter(|(k, _)| k != "bootstrap.servers") {
        b.try_set(k, v)?;
    }
    b.build()
}

/// `size` pseudo-random uppercase letters from a fixed seed (xorshift64), like the payload
/// `ProducerPerformance` builds (`'A' + random.nextInt(26)`).
fn payload(size: usize) -> Bytes {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'A' + (x % 26) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

/// `perf produce`'s counters (one run per process).
static PROGRESS: OnceLock<Progress> = OnceLock::new();

/// The counters, from a delivery callback (which captures nothing to reach them).
fn progress_of_produce() -> &'static Progress {
    PROGRESS.get_or_init(Progress::default)
}

/// Counters shared by the send loop, the collector and the progress printer.
struct Progress {
    delivered: AtomicU64,
    failed: AtomicBool,
    first_error: Mutex<Option<String>>,
    /// Latency from `send` to the delivery report, µs.
    latency: Histogram,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            delivered: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            first_error: Mutex::new(None),
            latency: Histogram::new(),
        }
    }
}

impl Progress {
    /// Counts one record's delivery report; `t0`, when its latency is sampled, is when it was
    /// sent.
    fn delivered(&self, t0: Option<Instant>, result: DeliveryResult) {
        match result {
            Ok(_) => {
                if let Some(t0) = t0 {
                    self.latency
                        .record(u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX));
                }
                self.delivered.fetch_add(1, Ordering::Release);
            }
            Err(e) => self.fail(e.to_string()),
        }
    }

    fn fail(&self, e: String) {
        self.failed.store(true, Ordering::Release);
        self.first_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(e);
    }
}

async fn produce(opts: ProduceOpts) -> Result<(), String> {
    // Keep the harness handle alive for the whole run: it owns the broker it may have started.
    let bootstrap = match opts
        .bootstrap
        .clone()
        .or_else(|| file_bootstrap(&opts.file_props))
    {
        Some(b) => b,
        None => {
            let kafka = tokio::task::spawn_blocking(ferrokafka_testcontainers::Kafka::shared)
                .await
                .map_err(|e| format!("harness start-up task: {e}"))?
                .map_err(|e| format!("starting a local broker: {e}"))?;
            kafka.bootstrap()
        }
    };
    let topic = opts
        .topic
        .clone()
        .unwrap_or_else(|| ferrokafka_testcontainers::unique_topic("perf"));
    let cfg = opts
        .producer_config(&bootstrap)
        .map_err(|e| format!("producer config: {e}"))?;
    create_topic(&bootstrap, &topic, &opts).await?;
    println!(
        "perf: bootstrap {bootstrap}, topic {topic} ({} partitions), {} messages of {} B, \
         acks={} idempotence={} compression={} linger.ms={} batch.size={} rate={}",
        opts.partitions,
        opts.messages,
        opts.size,
        opts.acks,
        opts.idempotence,
        opts.compression,
        opts.linger_ms,
        opts.batch_size,
        if opts.rate == 0 {
            "unlimited".to_owned()
        } else {
            format!("{}/s", opts.rate)
        }
    );

    let producer = Producer::new(cfg).map_err(|e| format!("creating the producer: {e}"))?;
    let transactional = opts.transactional_id.is_some();
    if transactional {
        producer
            .init_transactions()
            .await
            .map_err(|e| format!("init_transactions: {e}"))?;
        println!(
            "perf: transactional, {} records per transaction",
            opts.transaction_records
        );
    }
    let value = payload(opts.size);
    let progress: &'static Progress = PROGRESS.get_or_init(Progress::default);
    // With futures: awaited in send order by one collector task, at most `--window` of them
    // outstanding. With callbacks: `buffer.memory` bounds what is outstanding.
    let (tx, rx) = tokio::sync::mpsc::channel::<(Option<Instant>, DeliveryFuture)>(opts.window);
    let collector = tokio::spawn(collect(rx, progress));
    let callbacks = opts.delivery == Delivery::Callback;
    let ticker = tokio::spawn(print_progress(progress, opts.size));

    let cpu_start = cpu_ticks();
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < opts.messages && !progress.failed.load(Ordering::Acquire) {
        if opts.rate > 0 {
            // Like Java's ThroughputThrottler: stay on the schedule start + i / rate.
            let due = start + Duration::from_secs_f64(sent as f64 / opts.rate as f64);
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
        }
        if transactional && sent.is_multiple_of(opts.transaction_records) {
            if sent > 0 {
                producer
                    .commit_transaction()
                    .await
                    .map_err(|e| format!("commit_transaction after {sent} records: {e}"))?;
            }
            producer
                .begin_transaction()
                .map_err(|e| format!("begin_transaction: {e}"))?;
        }
        let record = ProducerRecord::new(topic.as_str()).value(value.clone());
        // Latency is sampled (two clock reads per sampled record, ~5 % of a 100-byte record's
        // CPU if done for each).
        let t0 = sent.is_multiple_of(LATENCY_SAMPLE).then(Instant::now);
        if callbacks {
            // The counters are a static, so the closure of an unsampled record captures
            // nothing: a zero-sized closure costs `send_with_callback` no allocation (one
            // capturing an `Arc` costs a small `Box` per record, allocated here and freed on the
            // producer's task: ~10 % of a 100-byte record's CPU with glibc's malloc).
            let sent_ok = match t0 {
                None => {
                    producer
                        .send_with_callback(record, |result| {
                            progress_of_produce().delivered(None, result)
                        })
                        .await
                }
                Some(t0) => {
                    producer
                        .send_with_callback(record, move |result| {
                            progress_of_produce().delivered(Some(t0), result)
                        })
                        .await
                }
            };
            if let Err(e) = sent_ok {
                progress.fail(format!("send of record {sent} failed: {e}"));
            }
        } else {
            match producer.send(record).await {
                Ok(delivery) => {
                    if tx.send((t0, delivery)).await.is_err() {
                        break; // the collector ended: only after a panic, reported below
                    }
                }
                Err(e) => progress.fail(format!("send of record {sent} failed: {e}")),
            }
        }
        sent += 1;
    }
    drop(tx);
    let flushed = if transactional && sent > 0 {
        producer.commit_transaction().await
    } else {
        producer.flush().await
    };
    collector
        .await
        .map_err(|e| format!("collector task: {e}"))?;
    let hist = &progress.latency;
    let elapsed = start.elapsed();
    let cpu_end = cpu_ticks();
    ticker.abort();
    let _ = ticker.await;
    let closed = producer.close(Duration::from_secs(30)).await;

    if let Some(e) = progress
        .first_error
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    {
        return Err(format!(
            "{} of {sent} records delivered; first error: {e}",
            progress.delivered.load(Ordering::Acquire)
        ));
    }
    flushed.map_err(|e| format!("flush: {e}"))?;
    closed.map_err(|e| format!("close: {e}"))?;

    let n = progress.delivered.load(Ordering::Acquire);
    let secs = elapsed.as_secs_f64().max(1e-9);
    let cpu = match (cpu_start, cpu_end) {
        (Some(a), Some(b)) => b.saturating_sub(a) as f64 / clock_ticks_per_second() as f64,
        _ => 0.0,
    };
    let per_msg_us = if n == 0 { 0.0 } else { cpu * 1e6 / n as f64 };
    println!(
        "produce: {n} msgs, {:.0} msg/s, {:.2} MB/s, cpu {cpu:.2} s, {per_msg_us:.2} us/msg, \
         p50 {:.2} ms, p99 {:.2} ms",
        n as f64 / secs,
        (n as f64 * opts.size as f64) / (1024.0 * 1024.0) / secs,
        hist.percentile(0.50) as f64 / 1000.0,
        hist.percentile(0.99) as f64 / 1000.0,
    );
    Ok(())
}

async fn create_topic(bootstrap: &str, topic: &str, opts: &ProduceOpts) -> Result<(), String> {
    let admin = AdminClient::new(
        admin_config(bootstrap, &opts.file_props).map_err(|e| format!("admin config: {e}"))?,
    );
    match admin
        .create_topic(NewTopic::new(
            topic,
            opts.partitions,
            opts.replication_factor,
        ))
        .await
    {
        Ok(()) => {}
        // A given `--topic` may exist already.
        Err(e) if e.broker_error() == Some(ferrokafka::BrokerErrorCode::TOPIC_ALREADY_EXISTS) => {}
        Err(e) => return Err(format!("creating topic {topic}: {e}")),
    }
    admin
        .wait_for_topic(
            topic,
            usize::try_from(opts.partitions).unwrap_or(1),
            Duration::from_secs(60),
        )
        .await
        .map_err(|e| format!("waiting for topic {topic}: {e}"))?;
    Ok(())
}

/// Awaits delivery futures in send order, counting successes, keeping the first failure and
/// recording latencies.
async fn collect(
    mut rx: tokio::sync::mpsc::Receiver<(Option<Instant>, DeliveryFuture)>,
    progress: &'static Progress,
) {
    while let Some((t0, delivery)) = rx.recv().await {
        progress.delivered(t0, delivery.await);
    }
}

/// Prints one line a second, as `ProducerPerformance` does every 5 s.
async fn print_progress(progress: &'static Progress, size: usize) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate
    let mut last = (Instant::now(), 0u64);
    loop {
        tick.tick().await;
        let now = Instant::now();
        let n = progress.delivered.load(Ordering::Acquire);
        let secs = now.duration_since(last.0).as_secs_f64().max(1e-9);
        let rate = n.saturating_sub(last.1) as f64 / secs;
        println!(
            "{n} records delivered, {rate:.1} records/sec ({:.2} MB/sec)",
            rate * size as f64 / (1024.0 * 1024.0)
        );
        last = (now, n);
    }
}

/// CPU time (user + system) of this process in clock ticks, from `/proc/self/stat`.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_cpu_ticks(&stat)
}

/// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` line. The command name (field 2)
/// is in parentheses and may hold spaces or parentheses itself, so fields are counted after the
/// last `)`; the first field there is field 3 (`state`).
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`); 100, the Linux value, if that cannot be run.
fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t: &u64| t > 0)
        .unwrap_or(100)
}

/// A fixed log-bucket histogram of microsecond values: exact below 64, then 32 buckets per power
/// of two (so a bucket is at most 1/32 of its lower bound wide), covering all of `u64`.
struct Histogram {
    counts: Vec<AtomicU64>,
    total: AtomicU64,
}

/// Values below this are counted exactly (one bucket each).
const EXACT: u64 = 64;
/// Buckets per power of two above `EXACT`.
const SUB_BUCKETS: u64 = 32;
/// Buckets needed for `u64::MAX`: `bucket(u64::MAX) + 1`.
const BUCKETS: usize = 58 * SUB_BUCKETS as usize + 64;

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            total: AtomicU64::new(0),
        }
    }

    fn bucket(v: u64) -> usize {
        if v < EXACT {
            return v as usize;
        }
        // Keep the top 6 bits (32..=63) of v; `shift` counts the dropped ones (>= 1).
        let shift = 63 - u64::from(v.leading_zeros()) - 5;
        let top = v >> shift;
        (shift * SUB_BUCKETS + top) as usize
    }

    /// The lower bound and width of bucket `i`.
    fn bounds(i: usize) -> (u64, u64) {
        let i = i as u64;
        if i < EXACT {
            return (i, 1);
        }
        let shift = i / SUB_BUCKETS - 1;
        let top = i % SUB_BUCKETS + SUB_BUCKETS;
        (top << shift, 1 << shift)
    }

    /// Counts `v` (from any thread: delivery callbacks run on the producer's sender task).
    fn record(&self, v: u64) {
        if let Some(c) = self.counts.get(Self::bucket(v)) {
            c.fetch_add(1, Ordering::Relaxed);
            self.total.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The value at quantile `q` (0..=1): the midpoint of the bucket holding it; 0 when empty.
    fn percentile(&self, q: f64) -> u64 {
        let total = self.total.load(Ordering::Relaxed);
        if total == 0 {
            return 0;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c.load(Ordering::Relaxed);
            if seen >= rank {
                let (lo, width) = Self::bounds(i);
                return lo + width / 2;
            }
        }
        0
    }
}

/// `perf produce` measures the latency of one record in this many.
const LATENCY_SAMPLE: u64 = 16;

/// How `perf produce` receives delivery reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// `Producer::send_with_callback`: a closure per record (capturing the send time and the
    /// shared counters), called on the producer's sender task. The default: what a
    /// high-volume producer uses.
    Callback,
    /// `Producer::send`: a `DeliveryFuture` per record, awaited by a collector task.
    Future,
}

/// Options of `perf consume`.
#[derive(Debug, Clone, PartialEq)]
struct ConsumeOpts {
    bootstrap: Option<String>,
    /// Properties from `--config-file`, applied to every client.
    file_props: Vec<(String, String)>,
    topic: Option<String>,
    messages: u64,
    size: usize,
    group: Option<String>,
    partitions: i32,
    compression: String,
    /// `--isolation-level`: `read_uncommitted` (the default) or `read_committed`.
    isolation_level: String,
    /// `--share-group G`: read as a member of share group `G` (KIP-932) instead.
    share_group: Option<String>,
    /// `--max-poll-records` (default 500).
    max_poll_records: String,
}

impl ConsumeOpts {
    fn parse(args: &[String]) -> Result<ConsumeOpts, String> {
        let mut o = ConsumeOpts {
            bootstrap: None,
            file_props: Vec::new(),
            topic: None,
            messages: 1_000_000,
            size: 100,
            group: None,
            partitions: 3,
            compression: "none".into(),
            isolation_level: "read_uncommitted".into(),
            share_group: None,
            max_poll_records: "500".into(),
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let num = |v: &str| {
                v.parse::<u64>()
                    .map_err(|_| format!("{flag}: not a number: {v}"))
            };
            match flag.as_str() {
                "--bootstrap" => o.bootstrap = Some(value.clone()),
                "--config-file" => o.file_props = read_properties(value)?,
                "--topic" => o.topic = Some(value.clone()),
                "--messages" => o.messages = num(value)?,
                "--size" => o.size = num(value)? as usize,
                "--group" => o.group = Some(value.clone()),
                "--partitions" => o.partitions = num(value)? as i32,
                "--compression" => o.compression = value.clone(),
                "--isolation-level" => o.isolation_level = value.clone(),
                "--share-group" => o.share_group = Some(value.clone()),
                "--max-poll-records" => o.max_poll_records = num(value)?.to_string(),
                other => return Err(format!("unknown flag {other}")),
            }
        }
        Ok(o)
    }
}

fn consume_main(args: &[String]) -> ExitCode {
    let opts = match ConsumeOpts::parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("perf: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    run(consume(opts))
}

async fn consume(opts: ConsumeOpts) -> Result<(), Box<dyn std::error::Error>> {
    let _broker;
    let bootstrap = match opts
        .bootstrap
        .clone()
        .or_else(|| file_bootstrap(&opts.file_props))
    {
        Some(b) => b,
        None => {
            _broker = ferrokafka_testcontainers::Kafka::shared()?;
            _broker.bootstrap()
        }
    };
    let admin = AdminClient::new(admin_config(&bootstrap, &opts.file_props)?);
    let file: Vec<(&str, &str)> = opts
        .file_props
        .iter()
        .filter(|(k, _)| k != "bootstrap.servers")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let topic = match &opts.topic {
        Some(t) => t.clone(),
        None => {
            // Pre-fill a fresh topic (not timed).
            let t = ferrokafka_testcontainers::unique_topic("perf-consume");
            admin
                .create_topic(NewTopic::new(&t, opts.partitions, 1))
                .await?;
            admin
                .wait_for_topic(&t, opts.partitions as usize, Duration::from_secs(60))
                .await?;
            let producer = Producer::new(ProducerConfig::from_properties(
                [
                    ("bootstrap.servers", bootstrap.as_str()),
                    ("compression.type", opts.compression.as_str()),
                    ("linger.ms", "10"),
                    ("batch.size", "65536"),
                ]
                .into_iter()
                .chain(file.iter().copied()),
            )?)?;
            let payload = bytes::Bytes::from(vec![b'x'; opts.size]);
            let mut pending = std::collections::VecDeque::new();
            for _ in 0..opts.messages {
                pending.push_back(
                    producer
                        .send(ProducerRecord::new(&t).value(payload.clone()))
                        .await?,
                );
                if pending.len() > 50_000 {
                    if let Some(f) = pending.pop_front() {
                        f.await?;
                    }
                }
            }
            for f in pending {
                f.await?;
            }
            producer.close(Duration::from_secs(30)).await?;
            println!(
                "pre-filled {t} with {} x {} B records",
                opts.messages, opts.size
            );
            t
        }
    };
    let md = admin
        .wait_for_topic(&topic, 1, Duration::from_secs(60))
        .await?;
    let tps: Vec<TopicPartition> = md
        .partitions
        .iter()
        .map(|p| TopicPartition::new(&topic, p.partition))
        .collect();
    if let Some(g) = &opts.share_group {
        return consume_share(&opts, &admin, &bootstrap, &file, &topic, g).await;
    }
    let mut props = vec![
        ("bootstrap.servers".to_owned(), bootstrap.clone()),
        ("max.poll.records".to_owned(), opts.max_poll_records.clone()),
        ("auto.offset.reset".to_owned(), "earliest".to_owned()),
        ("enable.auto.commit".to_owned(), "false".to_owned()),
        ("isolation.level".to_owned(), opts.isolation_level.clone()),
    ];
    if let Some(g) = &opts.group {
        props.push(("group.id".to_owned(), g.clone()));
    }
    props.extend(file.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let consumer = Consumer::new(ConsumerConfig::from_properties(props)?)?;
    let ticks = clock_ticks_per_second();
    let begun = Instant::now();
    match &opts.group {
        // Group-managed: the group assigns the partitions (the join happens in `poll`).
        Some(_) => consumer.subscribe([topic.clone()])?,
        None => consumer.assign(&tps)?,
    }
    let (mut n, mut bytes) = (0u64, 0u64);
    // (clock, CPU ticks) at the first record.
    let mut start: Option<(Instant, u64)> = None;
    let mut last_report = Instant::now();
    while n < opts.messages {
        let records = consumer.poll(Duration::from_millis(500)).await?;
        if start.is_none() && !records.is_empty() {
            start = Some((Instant::now(), cpu_ticks().unwrap_or(0)));
            println!(
                "first record after {:.2} s ({})",
                begun.elapsed().as_secs_f64(),
                match consumer.group_generation() {
                    Some(g) => format!(
                        "group {}, generation {}, {} partitions assigned",
                        opts.group.as_deref().unwrap_or(""),
                        g.generation_id,
                        consumer.assignment().len()
                    ),
                    None => format!("{} partitions assigned", tps.len()),
                }
            );
        }
        for r in records {
            n += 1;
            bytes += r.value.as_ref().map_or(0, |v| v.len()) as u64;
        }
        if n > 0 && last_report.elapsed() >= Duration::from_secs(1) {
            println!("{n} records consumed");
            last_report = Instant::now();
        }
        if begun.elapsed() > Duration::from_secs(600) {
            return Err(format!("only {n} of {} records in 600 s", opts.messages).into());
        }
    }
    if opts.group.is_some() {
        consumer.commit_positions().await?;
    }
    // `n` reached `--messages` (≥ 1 here unless it is 0), so the first record set `start`.
    let (t0, cpu0) = start.unwrap_or((Instant::now(), cpu_ticks().unwrap_or(0)));
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_ticks().unwrap_or(cpu0).saturating_sub(cpu0) as f64 / ticks as f64;
    consumer.close().await?;
    println!(
        "consume: {n} msgs, {:.0} msg/s, {:.2} MB/s, cpu {:.2} s, {:.2} us/msg",
        n as f64 / secs,
        bytes as f64 / secs / (1024.0 * 1024.0),
        cpu,
        cpu * 1e6 / n.max(1) as f64
    );
    Ok(())
}

/// `perf consume --share-group G`: one share-group member with implicit acknowledgement (every
/// poll accepts the previous one's records); the group reads from the earliest offset
/// (`share.auto.offset.reset=earliest`, set before the member joins). Timed as the consumer is,
/// from the first record to the `--messages`-th, plus the final `commit_sync`.
async fn consume_share(
    opts: &ConsumeOpts,
    admin: &AdminClient,
    bootstrap: &str,
    file: &[(&str, &str)],
    topic: &str,
    group: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    use ferrokafka::admin::{AlterConfigOp, ConfigResource};
    use ferrokafka::share::{ShareConsumer, ShareConsumerConfig};
    for (r, res) in admin
        .incremental_alter_configs(&[(
            ConfigResource::Group(group.to_owned()),
            vec![AlterConfigOp::set("share.auto.offset.reset", "earliest")],
        )])
        .await?
    {
        res.map_err(|e| format!("{r}: {e}"))?;
    }
    let consumer = ShareConsumer::new(ShareConsumerConfig::from_properties(
        [
            ("bootstrap.servers", bootstrap),
            ("group.id", group),
            ("max.poll.records", opts.max_poll_records.as_str()),
        ]
        .into_iter()
        .chain(file.iter().copied()),
    )?)?;
    consumer.subscribe([topic])?;
    let ticks = clock_ticks_per_second();
    let begun = Instant::now();
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut start: Option<(Instant, u64)> = None;
    let mut last_report = Instant::now();
    while n < opts.messages {
        let records = consumer.poll(Duration::from_millis(500)).await?;
        if start.is_none() && !records.is_empty() {
            start = Some((Instant::now(), cpu_ticks().unwrap_or(0)));
            println!(
                "first record after {:.2} s (share group {group}, {} partitions assigned)",
                begun.elapsed().as_secs_f64(),
                consumer.assignment().len()
            );
        }
        for r in &records {
            n += 1;
            bytes += r.value.as_ref().map_or(0, |v| v.len()) as u64;
        }
        if n > 0 && last_report.elapsed() >= Duration::from_secs(1) {
            println!("{n} records consumed");
            last_report = Instant::now();
        }
        if begun.elapsed() > Duration::from_secs(600) {
            return Err(format!("only {n} of {} records in 600 s", opts.messages).into());
        }
    }
    consumer.commit_sync().await?;
    let (t0, cpu0) = start.unwrap_or((Instant::now(), cpu_ticks().unwrap_or(0)));
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_ticks().unwrap_or(cpu0).saturating_sub(cpu0) as f64 / ticks as f64;
    let m = consumer.metrics();
    consumer.close().await?;
    println!(
        "consume (share group): {n} msgs, {:.0} msg/s, {:.2} MB/s, cpu {:.2} s, {:.2} us/msg, \
         {:.0} records per fetch, fetch latency avg {:.1} ms",
        n as f64 / secs,
        bytes as f64 / secs / (1024.0 * 1024.0),
        cpu,
        cpu * 1e6 / n.max(1) as f64,
        m.get("records-per-request-avg").unwrap_or(f64::NAN),
        m.get("fetch-latency-avg").unwrap_or(f64::NAN),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_flags_and_defaults() {
        let o = ProduceOpts::parse(&[]).unwrap();
        assert_eq!(o, ProduceOpts::default());
        let o = ProduceOpts::parse(&args(
            "--bootstrap h:1 --topic t --partitions 6 --messages 10 --size=1024 --acks 1 \
             --idempotence false --compression lz4 --linger-ms 0 --batch-size 1000 --rate 5 \
             --producer-prop buffer.memory=1000000",
        ))
        .unwrap();
        assert_eq!(o.bootstrap.as_deref(), Some("h:1"));
        assert_eq!((o.partitions, o.messages, o.size), (6, 10, 1024));
        assert_eq!((o.linger_ms, o.batch_size, o.rate), (0, 1000, 5));
        assert_eq!(o.extra, vec![("buffer.memory".into(), "1000000".into())]);
        assert!(o.producer_config("h:1").is_ok());
        assert!(ProduceOpts::parse(&args("--size")).is_err());
        assert!(ProduceOpts::parse(&args("--size x")).is_err());
        assert!(ProduceOpts::parse(&args("--bogus 1")).is_err());
        assert!(ProduceOpts::parse(&args("--partitions 0")).is_err());
        let bad = ProduceOpts::parse(&args("--compression brotli")).unwrap();
        assert!(bad.producer_config("h:1").is_err());
    }

    #[test]
    fn payload_is_fixed_letters() {
        let p = payload(1000);
        assert_eq!(p.len(), 1000);
        assert!(p.iter().all(u8::is_ascii_uppercase));
        assert_eq!(p, payload(1000));
    }

    #[test]
    fn parses_proc_stat() {
        // Field 2 may contain spaces and parentheses.
        let line = "4242 (perf (x) y) R 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0 3 0 100 0 0";
        assert_eq!(parse_cpu_ticks(line), Some(175));
        assert_eq!(parse_cpu_ticks("garbage"), None);
        assert!(cpu_ticks().is_some());
    }

    #[test]
    fn histogram_buckets_are_contiguous_and_tight() {
        let mut prev = 0;
        for v in (0..200_000u64).chain([u64::MAX / 3, u64::MAX]) {
            let b = Histogram::bucket(v);
            assert!(b < BUCKETS);
            let (lo, width) = Histogram::bounds(b);
            assert!(
                lo <= v && v - lo < width,
                "v {v} bucket {b} lo {lo} width {width}"
            );
            assert!(width == 1 || width * SUB_BUCKETS <= lo);
            if v < 200_000 {
                assert!(b == prev || b == prev + 1 || v == 0);
                prev = b;
            }
        }
    }

    #[test]
    fn histogram_percentiles() {
        let h = Histogram::new();
        assert_eq!(h.percentile(0.5), 0);
        for v in 1..=10_000u64 {
            h.record(v);
        }
        let p50 = h.percentile(0.50) as f64;
        let p99 = h.percentile(0.99) as f64;
        assert!((p50 - 5000.0).abs() / 5000.0 < 0.04, "{p50}");
        assert!((p99 - 9900.0).abs() / 9900.0 < 0.04, "{p99}");
    }
}
