//! The ferrokafka side: the same workloads through ferrokafka's public API.

use crate::measure::{payload, Window, Workload};
use bytes::Bytes;
use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::TopicPartition;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error>;

/// Produces `w.messages` records and returns the summary line.
pub async fn produce(w: &Workload) -> Result<String, BoxError> {
    let mut props = vec![("bootstrap.servers".to_owned(), w.bootstrap.clone())];
    props.extend(w.props.iter().cloned());
    let producer = Producer::new(ProducerConfig::from_properties(props)?)?;
    let value = Bytes::from(payload(w.size));
    // A delivery callback per record (`send_with_callback`), as the librdkafka side uses a
    // delivery report callback and the franz-go side a promise: what a high-volume producer
    // uses. `buffer.memory` bounds what is outstanding. The counters are a static, so the
    // closure captures nothing and costs no allocation (as the librdkafka side's callback and
    // the franz-go side's promise allocate nothing per record).
    let outcome = OUTCOME.get_or_init(Outcome::default);
    let window = Window::start();
    for _ in 0..w.messages {
        producer
            .send_with_callback(
                ProducerRecord::new(w.topic.as_str()).value(value.clone()),
                |result| {
                    let o = OUTCOME.get_or_init(Outcome::default);
                    match result {
                        Ok(_) => {
                            o.ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            let mut first = o.first_error.lock().unwrap_or_else(|p| p.into_inner());
                            first.get_or_insert_with(|| e.to_string());
                        }
                    }
                },
            )
            .await?;
    }
    producer.flush().await?;
    let ok = outcome.ok.load(Ordering::Acquire);
    let line = window.line("produce", "ferrokafka", ok, ok * w.size as u64, "");
    producer.close(Duration::from_secs(30)).await?;
    let first_error = outcome
        .first_error
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    match first_error {
        Some(e) => Err(format!("{ok} of {} delivered; first error: {e}", w.messages).into()),
        None => Ok(line),
    }
}

/// What the delivery callbacks count (one produce run per child process).
static OUTCOME: OnceLock<Outcome> = OnceLock::new();

/// What the delivery callbacks count.
#[derive(Default)]
struct Outcome {
    ok: AtomicU64,
    first_error: Mutex<Option<String>>,
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
