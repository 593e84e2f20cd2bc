//! Consume-transform-produce, exactly once: read `input`, upper-case each value, write it to
//! `output`, and commit the consumed offsets in the same transaction, as a member of a consumer
//! group.
//!
//! ```text
//! cargo run --example exactly_once [-- INPUT OUTPUT GROUP TRANSACTIONAL_ID]
//! ```
//! Without arguments it creates fresh topics, writes 1,000 records to the input and processes
//! them. Each `poll` becomes one transaction: the transformed records, then
//! `send_offsets_to_transaction` with the positions after the polled records and the consumer's
//! [`group_metadata`](ferrokafka::consumer::Consumer::group_metadata), then `commit_transaction`.
//! Output and offsets become visible together or not at all, so a run that crashes (or is killed)
//! mid-transaction leaves nothing behind: a second run with the same arguments starts at the last
//! committed offsets, and its `init_transactions` fences the dead run's producer and aborts its open
//! transaction. The consumer reads `read_committed`, so it also sees only committed input.
//! At the end the example reads the output back under `read_committed` and checks the count.
//!
//! Uses `KAFKA_BOOTSTRAP_SERVERS`, or starts a local broker through the test harness.

use ferrokafka::admin::{AdminClient, NewTopic};
use ferrokafka::config::ClientConfig;
use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::{Offset, TopicPartition};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 3;
const RECORDS: usize = 1000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Keep the harness handle alive for the whole run: dropping it stops a broker it started.
    let broker = ferrokafka_testcontainers::Kafka::shared()?;
    let bootstrap = broker.bootstrap();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let fresh = args.is_empty();
    let name = |i: usize, prefix: &str| {
        args.get(i)
            .cloned()
            .unwrap_or_else(|| ferrokafka_testcontainers::unique_topic(prefix))
    };
    let (input, output) = (name(0, "input"), name(1, "output"));
    let (group, txn_id) = (name(2, "eos-group"), name(3, "eos-writer"));
    let admin = AdminClient::new(
        ClientConfig::builder()
            .bootstrap_servers(&bootstrap)
            .build()?,
    );
    for t in [&input, &output] {
        // An existing topic is fine (a second run).
        let _ = admin.create_topic(NewTopic::new(t, PARTITIONS, 1)).await;
        admin.wait_for_topic(t, 1, Duration::from_secs(30)).await?;
    }
    if fresh {
        let p = Producer::new(
            ProducerConfig::builder()
                .bootstrap_servers(&bootstrap)
                .build()?,
        )?;
        for i in 0..RECORDS {
            let r = ProducerRecord::new(input.as_str())
                .key(format!("k{}", i % 17))
                .value(format!("record {i}"));
            p.send(r).await?;
        }
        p.flush().await?;
        println!("wrote {RECORDS} records to {input}");
    }
    println!("input {input}, output {output}, group {group}, transactional.id {txn_id}");

    let consumer = Consumer::new(ConsumerConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("group.id", group.as_str()),
        ("enable.auto.commit", "false"),
        ("auto.offset.reset", "earliest"),
        ("isolation.level", "read_committed"),
    ])?)?;
    consumer.subscribe([input.clone()])?;
    let producer = Producer::new(
        ProducerConfig::builder()
            .bootstrap_servers(&bootstrap)
            .transactional_id(&txn_id)
            .build()?,
    )?;
    producer.init_transactions().await?;

    let (mut processed, mut transactions) = (0usize, 0usize);
    let mut idle_since = Instant::now();
    while idle_since.elapsed() < Duration::from_secs(5) {
        let records = consumer.poll(Duration::from_millis(500)).await?;
        if records.is_empty() {
            continue;
        }
        idle_since = Instant::now();
        producer.begin_transaction()?;
        // The next offset to read per partition: what the group resumes from after a commit.
        let mut next: BTreeMap<TopicPartition, Offset> = BTreeMap::new();
        for r in &records {
            let value = r.value.as_deref().unwrap_or_default().to_ascii_uppercase();
            let mut out = ProducerRecord::new(output.as_str()).value(value);
            if let Some(k) = r.key.as_deref() {
                out = out.key(k.to_vec());
            }
            producer.send(out).await.map_err(|e| e.error)?;
            next.insert(
                TopicPartition::new(r.topic.as_ref(), r.partition),
                Offset(r.offset.0 + 1),
            );
        }
        let offsets: Vec<(TopicPartition, Offset)> = next.into_iter().collect();
        let outcome = async {
            producer
                .send_offsets_to_transaction(&offsets, &consumer.group_metadata()?)
                .await?;
            producer.commit_transaction().await
        }
        .await;
        if let Err(e) = outcome {
            // Nothing of this transaction is visible; a restart resumes from the last commit.
            if !e.is_fatal() {
                producer.abort_transaction().await?;
            }
            return Err(
                format!("transaction {transactions} failed ({e}); run again to resume").into(),
            );
        }
        processed += records.len();
        transactions += 1;
    }
    println!("processed {processed} records in {transactions} transactions");
    consumer.close().await?;
    producer.close(Duration::from_secs(10)).await?;

    // Read the output back as a read_committed consumer would.
    let reader = Consumer::new(ConsumerConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("auto.offset.reset", "earliest"),
        ("isolation.level", "read_committed"),
    ])?)?;
    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(&output, p))
        .collect();
    reader.assign(&tps)?;
    let mut seen = 0usize;
    let mut quiet = Instant::now();
    while quiet.elapsed() < Duration::from_secs(3) {
        let n = reader.poll(Duration::from_millis(300)).await?.len();
        if n > 0 {
            quiet = Instant::now();
        }
        seen += n;
    }
    reader.close().await?;
    println!("{output} holds {seen} committed records");
    if fresh && seen != RECORDS {
        return Err(format!("expected {RECORDS} output records, found {seen}").into());
    }
    Ok(())
}
