//! The ferrokafka side: the same workloads through ferrokafka's public API.

use crate::measure::{payload, Window, Workload};
use bytes::Bytes;
use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka::producer::{DeliveryFuture, Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::TopicPartition;
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error>;

/// Produces `w.messages` records and returns the summary line.
pub async fn produce(w: &Workload) -> Result<String, BoxError> {
    let mut props = vec![("bootstrap.servers".to_owned(), w.bootstrap.clone())];
    props.extend(w.props.iter().cloned());
    let producer = Producer::new(ProducerConfig::from_properties(props)?)?;
    let value = Bytes::from(payload(w.size));
    // Delivery futures are awaited in send order by one task, through a bounded channel, as
    // `perf` does (memory stays bounded; sends wait when it is full).
    let (tx, mut rx) = tokio::sync::mpsc::channel::<DeliveryFuture>(100_000);
    let collector = tokio::spawn(async move {
        let (mut ok, mut first_error) = (0u64, None);
        while let Some(d) = rx.recv().await {
            match d.await {
                Ok(_) => ok += 1,
                Err(e) => {
                    first_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        (ok, first_error)
    });
    let window = Window::start();
    for _ in 0..w.messages {
        let d = producer
            .send(ProducerRecord::new(w.topic.as_str()).value(value.clone()))
            .await?;
        if tx.send(d).await.is_err() {
            break;
        }
    }
    drop(tx);
    producer.flush().await?;
    let (ok, first_error) = collector.await?;
    let line = window.line("produce", "ferrokafka", ok, ok * w.size as u64, "");
    producer.close(Duration::from_secs(30)).await?;
    match first_error {
        Some(e) => Err(format!("{ok} of {} delivered; first error: {e}", w.messages).into()),
        None => Ok(line),
    }
}

/// Consumes `w.messages` records from the start of the topic and returns the summary line.
pub async fn consume(w: &Workload) -> Result<String, BoxError> {
    let mut props = vec![
        ("bootstrap.servers".to_owned(), w.bootstrap.clone()),
        ("auto.offset.reset".to_owned(), "earliest".to_owned()),
        ("enable.auto.commit".to_owned(), "false".to_owned()),
    ];
    if let Some(g) = &w.group {
        props.push(("group.id".to_owned(), g.clone()));
    }
    props.extend(w.props.iter().cloned());
    let consumer = Consumer::new(ConsumerConfig::from_properties(props)?)?;
    let begun = Instant::now();
    match &w.group {
        Some(_) => consumer.subscribe([w.topic.clone()])?,
        None => {
            let tps: Vec<TopicPartition> = (0..w.partitions)
                .map(|p| TopicPartition::new(&w.topic, p))
                .collect();
            consumer.assign(&tps)?;
        }
    }
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut window: Option<(Window, f64)> = None;
    while n < w.messages {
        let records = consumer.poll(Duration::from_millis(500)).await?;
        if window.is_none() && !records.is_empty() {
            window = Some((Window::start(), begun.elapsed().as_secs_f64()));
        }
        for r in &records {
            n += 1;
            bytes += r.value.as_ref().map_or(0, |v| v.len()) as u64;
        }
        if begun.elapsed() > Duration::from_secs(600) {
            return Err(format!("only {n} of {} records in 600 s", w.messages).into());
        }
    }
    let total = begun.elapsed().as_secs_f64();
    let (window, first) = window.ok_or("no records")?;
    let line = window.line(
        "consume",
        "ferrokafka",
        n,
        bytes,
        &format!(", first record after {first:.2} s, all after {total:.2} s"),
    );
    consumer.close().await?;
    Ok(line)
}
