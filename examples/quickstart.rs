//! Quickstart: connect to Kafka, create a topic, describe the cluster and its topics, produce
//! records, consume them back with a consumer group and print the group's lag.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//! Uses `KAFKA_BOOTSTRAP_SERVERS` when set; otherwise starts a local single-node Apache Kafka
//! through the test harness (Docker if reachable, else a KRaft broker from Maven Central jars,
//! else — no Docker and no Java — the in-process mock cluster of `ferrokafka-mock`). The first
//! line says which (`FERROKAFKA_KAFKA_BACKEND=mock` picks the mock).

use ferrokafka::admin::{AdminClient, NewTopic};
use ferrokafka::config::ClientConfig;
use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use std::time::Duration;

/// Records produced, then consumed back.
const RECORDS: usize = 10;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "ferrokafka=info".into()),
        )
        .init();

    // Keep the harness handle alive for the whole run: dropping it stops a broker it started.
    let broker = ferrokafka_testcontainers::Kafka::shared()?;
    let bootstrap = broker.bootstrap();
    println!("broker: {}; bootstrap.servers = {bootstrap}", broker.kind());

    let cfg = ClientConfig::builder()
        .bootstrap_servers(&bootstrap)
        .client_id("ferrokafka-quickstart")
        .build()?;
    let admin = AdminClient::new(cfg);

    let topic = ferrokafka_testcontainers::unique_topic("quickstart");
    admin.create_topic(NewTopic::new(&topic, 3, 1)).await?;
    let info = admin
        .wait_for_topic(&topic, 3, Duration::from_secs(30))
        .await?;
    println!(
        "created topic {topic} with {} partitions",
        info.partitions.len()
    );

    let cluster = admin.describe_cluster().await?;
    println!("{cluster}");
    for b in &cluster.brokers {
        println!("  {b}");
    }
    let user_topics: Vec<String> = admin
        .list_topics()
        .await?
        .into_iter()
        .filter(|t| !t.is_internal)
        .map(|t| t.name)
        .collect();
    for (name, d) in admin.describe_topics(&user_topics, false).await? {
        match d {
            Ok(d) => {
                println!("  {d}");
                for p in &d.partitions {
                    println!("    {p}");
                }
            }
            // A topic deleted between the listing and the description.
            Err(e) => println!("  topic {name}: {e}"),
        }
    }

    // Produce: acks=all, idempotent (the defaults); each send resolves to a delivery report.
    let producer = Producer::new(
        ProducerConfig::builder()
            .bootstrap_servers(&bootstrap)
            .build()?,
    )?;
    let mut deliveries = Vec::new();
    for i in 0..RECORDS {
        let record = ProducerRecord::new(&topic)
            .key(format!("key-{i}"))
            .value(format!("hello {i}"));
        deliveries.push(producer.send(record).await?);
    }
    for d in deliveries {
        let m = d.await?;
        println!("  delivered to {m}");
    }
    producer.close(Duration::from_secs(10)).await?;

    // Consume what was produced: a fresh group (nothing committed yet) starts each partition at
    // the beginning (`auto.offset.reset=earliest`); the group assigns this member all 3
    // partitions. Records come out in offset order per partition.
    let group = ferrokafka_testcontainers::unique_topic("quickstart-group");
    let consumer = Consumer::new(ConsumerConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("group.id", group.as_str()),
        ("auto.offset.reset", "earliest"),
        ("enable.auto.commit", "false"),
    ])?)?;
    consumer.subscribe([topic.clone()])?;
    let started = std::time::Instant::now();
    let mut read = 0;
    while read < RECORDS {
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!("consumed only {read} of {RECORDS} records in 30 s").into());
        }
        for r in consumer.poll(Duration::from_millis(500)).await? {
            read += 1;
            println!(
                "  consumed {}-{}@{}: {} = {}",
                r.topic,
                r.partition,
                r.offset.0,
                String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()),
                String::from_utf8_lossy(r.value.as_deref().unwrap_or_default())
            );
        }
    }
    consumer.commit_positions().await?;
    let generation = consumer.group_generation();
    let partitions: Vec<String> = consumer
        .assignment()
        .iter()
        .map(|tp| tp.partition.to_string())
        .collect();
    println!(
        "consumed {read} of {RECORDS} records in {:.1} s (group {group}, generation {}, \
         partitions {}); positions committed",
        started.elapsed().as_secs_f64(),
        generation.map_or_else(|| "none".to_owned(), |g| g.generation_id.to_string()),
        partitions.join(", ")
    );
    consumer.close().await?;

    // What `kafka-consumer-groups --describe` shows: committed offset, log end and lag.
    for (tp, lag) in admin.consumer_group_lag(&group).await? {
        match lag {
            Ok(l) => println!("  {l}"),
            Err(e) => println!("  {tp}: {e}"),
        }
    }

    admin.delete_topics(&[&topic]).await?;
    println!("deleted topic {topic}");
    Ok(())
}
