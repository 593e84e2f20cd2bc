//! Ordered at-least-once consumption with manual commits (product scenario 1).
//!
//! ```text
//! cargo run --example at_least_once_consumer
//! ```
//! A group consumer (`subscribe`) drives an [`OrderedProcessor`]: each record goes to a handler,
//! and its offset is committed only after the handler succeeded. The handler fails on one record
//! a few times (a simulated transient outage of a downstream service); the processor seeks that
//! partition back to its committed offset, which is the failed record, pauses it for a capped
//! backoff and retries it — so no later record of that partition is processed first, while the
//! other partitions carry on. The example then prints the committed offsets, produces a few more
//! records and starts a fresh consumer in the same group: it resumes from the committed offsets,
//! handing out only the new records.
//!
//! Uses `KAFKA_BOOTSTRAP_SERVERS`, or starts a local broker through the test harness.

use ferrokafka::admin::{AdminClient, NewTopic};
use ferrokafka::config::ClientConfig;
use ferrokafka::consumer::{Consumer, ConsumerConfig, FailurePolicy, OrderedProcessor};
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::{Offset, TopicPartition};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

const PARTITIONS: i32 = 3;
/// Records produced before the first run (spread round-robin over the partitions).
const FIRST_BATCH: usize = 30;
/// Records produced between the two runs.
const SECOND_BATCH: usize = 6;
/// The record the handler fails on, and how many times it fails before succeeding.
const POISON: &str = "order-13";
const FAILURES: u32 = 3;

/// What the handler saw, shared between its invocations and `main`.
#[derive(Default)]
struct Log {
    /// Records processed successfully, in processing order: (partition, offset, value).
    processed: Vec<(i32, i64, String)>,
    /// Failed attempts on the poison record so far.
    failures: u32,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // The processor logs each failed attempt at warn; the example prints its own.
                .unwrap_or_else(|_| "ferrokafka=error".into()),
        )
        .init();
    // Keep the harness handle alive for the whole run: dropping it stops a broker it started.
    let broker = ferrokafka_testcontainers::Kafka::shared()?;
    let bootstrap = broker.bootstrap();
    let topic = ferrokafka_testcontainers::unique_topic("orders");
    let group = ferrokafka_testcontainers::unique_topic("billing");
    let admin = AdminClient::new(
        ClientConfig::builder()
            .bootstrap_servers(&bootstrap)
            .build()?,
    );
    admin
        .create_topic(NewTopic::new(&topic, PARTITIONS, 1))
        .await?;
    admin
        .wait_for_topic(&topic, PARTITIONS as usize, Duration::from_secs(30))
        .await?;
    let producer = Producer::new(
        ProducerConfig::builder()
            .bootstrap_servers(&bootstrap)
            .build()?,
    )?;
    produce(&producer, &topic, 0..FIRST_BATCH).await?;
    println!("produced order-0..order-{} to {topic}", FIRST_BATCH - 1);

    // ----- run 1: process everything, with a transient failure on one record -----
    let consumer = group_consumer(&bootstrap, &group)?;
    consumer.subscribe([topic.clone()])?;
    let mut processor = OrderedProcessor::new(consumer.clone(), FailurePolicy::RetryForever)?
        .with_backoff(Duration::from_millis(200), Duration::from_secs(2));
    let log = Arc::new(Mutex::new(Log::default()));
    let all_done = Arc::new(Notify::new());
    let started = Instant::now();
    let handler = {
        let log = log.clone();
        let all_done = all_done.clone();
        move |record: ferrokafka::consumer::ConsumerRecord| {
            let log = log.clone();
            let all_done = all_done.clone();
            async move {
                let value = String::from_utf8_lossy(record.value.as_deref().unwrap_or_default())
                    .into_owned();
                let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                if value == POISON && log.failures < FAILURES {
                    log.failures += 1;
                    println!(
                        "  {:>5} ms  {value} (partition {} offset {}): attempt {} FAILED \
                         (downstream unavailable)",
                        started.elapsed().as_millis(),
                        record.partition,
                        record.offset.0,
                        log.failures
                    );
                    return Err(format!("downstream unavailable ({value})"));
                }
                if value == POISON {
                    println!(
                        "  {:>5} ms  {value} (partition {} offset {}): attempt {} succeeded",
                        started.elapsed().as_millis(),
                        record.partition,
                        record.offset.0,
                        log.failures + 1
                    );
                }
                log.processed
                    .push((record.partition, record.offset.0, value));
                if log.processed.len() == FIRST_BATCH {
                    all_done.notify_one();
                }
                Ok(())
            }
        }
    };
    println!("run 1: processing with FailurePolicy::RetryForever (backoff 200 ms .. 2 s)");
    tokio::time::timeout(
        Duration::from_secs(60),
        processor.run(handler, all_done.notified()),
    )
    .await
    .map_err(|_| "run 1 did not process every record within 60 s")??;

    let log = std::mem::take(&mut *log.lock().unwrap_or_else(|p| p.into_inner()));
    report_order(&log)?;
    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(&topic, p))
        .collect();
    println!("committed offsets after run 1 (next offset to consume):");
    let committed = consumer.committed(&tps).await?;
    for (tp, committed) in &committed {
        let show = |o: Option<Offset>| o.map_or_else(|| "none".to_owned(), |o| o.to_string());
        println!(
            "  {tp}: committed {}, position {}",
            show(committed.as_ref().map(|c| c.offset)),
            show(consumer.position(tp))
        );
    }
    consumer.close().await?;

    // ----- run 2: a restart resumes from the committed offsets -----
    produce(&producer, &topic, FIRST_BATCH..FIRST_BATCH + SECOND_BATCH).await?;
    println!(
        "produced order-{FIRST_BATCH}..order-{}; restarting a fresh consumer in group {group}",
        FIRST_BATCH + SECOND_BATCH - 1
    );
    let consumer = group_consumer(&bootstrap, &group)?;
    consumer.subscribe([topic.clone()])?;
    let mut firsts: BTreeMap<i32, i64> = BTreeMap::new();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < SECOND_BATCH {
        if Instant::now() > deadline {
            return Err(format!("run 2: only {} new records in 60 s", seen.len()).into());
        }
        for r in consumer.poll(Duration::from_millis(500)).await? {
            firsts.entry(r.partition).or_insert(r.offset.0);
            seen.push(String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned());
        }
    }
    consumer.commit_positions().await?;
    for (tp, committed) in &committed {
        let first = firsts.get(&tp.partition).copied();
        let committed = committed.as_ref().map(|c| c.offset.0);
        let show = |o: Option<i64>| o.map_or_else(|| "none".to_owned(), |o| o.to_string());
        println!(
            "  {tp}: first record after restart at offset {} (committed was {})",
            show(first),
            show(committed)
        );
        if first != committed {
            return Err(format!("{tp} did not resume from its committed offset").into());
        }
    }
    println!("run 2 read only the new records: {}", seen.join(", "));
    if seen.iter().any(|v| !is_new(v)) {
        return Err("run 2 re-read an already committed record".into());
    }
    consumer.close().await?;
    producer.close(Duration::from_secs(10)).await?;
    admin.delete_topics(&[&topic]).await?;
    println!("done");
    Ok(())
}

/// A group member that commits only what the application tells it to.
fn group_consumer(bootstrap: &str, group: &str) -> ferrokafka::Result<Consumer> {
    Consumer::new(ConsumerConfig::from_properties([
        ("bootstrap.servers", bootstrap),
        ("group.id", group),
        ("client.id", "at-least-once-example"),
        ("enable.auto.commit", "false"),
        // Only for a group with no committed offset yet: start from the beginning.
        ("auto.offset.reset", "earliest"),
    ])?)
}

/// Produces `order-<i>` for each `i`, to partition `i % PARTITIONS`, and waits for delivery.
async fn produce(
    producer: &Producer,
    topic: &str,
    range: std::ops::Range<usize>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut deliveries = Vec::new();
    for i in range {
        let record = ProducerRecord::new(topic)
            .partition(i as i32 % PARTITIONS)
            .value(format!("order-{i}"));
        deliveries.push(producer.send(record).await?);
    }
    for d in deliveries {
        d.await?;
    }
    Ok(())
}

/// The number in `order-<n>`.
fn order_number(value: &str) -> usize {
    value
        .strip_prefix("order-")
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX)
}

fn is_new(value: &str) -> bool {
    (FIRST_BATCH..FIRST_BATCH + SECOND_BATCH).contains(&order_number(value))
}

/// Prints the processing order and checks it: every record once, each partition in offset order
/// (in particular nothing after the poison record in its partition before it).
fn report_order(log: &Log) -> Result<(), Box<dyn std::error::Error>> {
    let poison_partition = (order_number(POISON) % PARTITIONS as usize) as i32;
    println!(
        "run 1: {} records processed, {} failed attempt(s) on {POISON}",
        log.processed.len(),
        log.failures
    );
    let mut by_partition: BTreeMap<i32, Vec<(i64, &str)>> = BTreeMap::new();
    for (p, o, v) in &log.processed {
        by_partition.entry(*p).or_default().push((*o, v));
    }
    for (p, records) in &by_partition {
        let in_order = records.windows(2).all(|w| w[0].0 + 1 == w[1].0);
        let values: Vec<&str> = records.iter().map(|(_, v)| *v).collect();
        println!(
            "  partition {p}: {} — {}",
            values.join(" "),
            if in_order {
                "in offset order, no gaps"
            } else {
                "OUT OF ORDER"
            }
        );
        if !in_order {
            return Err(format!("partition {p} processed out of order").into());
        }
    }
    let poison_at = log.processed.iter().position(|(_, _, v)| v == POISON);
    let later_first = poison_at.is_some_and(|at| {
        log.processed[..at]
            .iter()
            .any(|(p, _, v)| *p == poison_partition && order_number(v) > order_number(POISON))
    });
    println!(
        "  partition {poison_partition}: nothing after {POISON} was processed before it: {}",
        !later_first
    );
    // Records of the other partitions processed before the poison record finally succeeded:
    // they were not held up by it (the processor pauses only the failing partition).
    let others_before = poison_at.map_or(0, |at| {
        log.processed[..at]
            .iter()
            .filter(|(p, _, _)| *p != poison_partition)
            .count()
    });
    println!(
        "  other partitions kept going: {others_before} of their records were processed before \
         {POISON} succeeded"
    );
    if log.processed.len() != FIRST_BATCH || later_first || poison_at.is_none() {
        return Err("run 1 did not process every record exactly once in order".into());
    }
    Ok(())
}
