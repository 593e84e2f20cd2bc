//! The librdkafka side, through the `rdkafka` crate's lowest-overhead APIs (`BaseProducer`
//! with a delivery callback, `BaseConsumer::poll`), as `rdkafka_performance` uses librdkafka.

use crate::measure::{payload, Window, Workload};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error>;

#[derive(Default)]
struct Deliveries {
    ok: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut first) = self.first_error.lock() {
                    first.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }
}

fn config(w: &Workload) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &w.bootstrap);
    for (k, v) in &w.props {
        c.set(k, v);
    }
    c
}

/// Produces `w.messages` records and returns the summary line.
pub fn produce(w: &Workload) -> Result<String, BoxError> {
    let producer: BaseProducer<Deliveries> = config(w).create_with_context(Deliveries::default())?;
    let value = payload(w.size);
    let window = Window::start();
    for _ in 0..w.messages {
        loop {
            match producer.send(BaseRecord::<(), [u8]>::to(&w.topic).payload(&value[..])) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    // As rdkafka_performance: serve delivery reports until there is room.
                    producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(120))?;
    let ctx = producer.context();
    let ok = ctx.ok.load(Ordering::Relaxed);
    let line = window.line("produce", "librdkafka", ok, ok * w.size as u64, "");
    let failed = ctx.failed.load(Ordering::Relaxed);
    if failed > 0 {
        let first = ctx.first_error.lock().ok().and_then(|f| f.clone());
        return Err(format!(
            "{failed} records failed; first error: {}",
            first.unwrap_or_default()
        )
        .into());
    }
    Ok(line)
}

/// Consumes `w.messages` records from the start of the topic and returns the summary line.
pub fn consume(w: &Workload) -> Result<String, BoxError> {
    let mut c = config(w);
    c.set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        // librdkafka needs a group id even to assign; it is not used for a group then.
        .set(
            "group.id",
            w.group.as_deref().unwrap_or("peer-bench-assign"),
        );
    let consumer: BaseConsumer = c.create()?;
    let begun = Instant::now();
    match &w.group {
        Some(_) => consumer.subscribe(&[&w.topic])?,
        None => {
            let mut tpl = TopicPartitionList::new();
            for p in 0..w.partitions {
                tpl.add_partition_offset(&w.topic, p, Offset::Beginning)?;
            }
            consumer.assign(&tpl)?;
        }
    }
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut window: Option<(Window, f64)> = None;
    while n < w.messages {
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                if window.is_none() {
                    window = Some((Window::start(), begun.elapsed().as_secs_f64()));
                }
                n += 1;
                bytes += m.payload_len() as u64;
            }
            Some(Err(e)) => return Err(e.into()),
            None => {}
        }
        if begun.elapsed() > Duration::from_secs(600) {
            return Err(format!("only {n} of {} records in 600 s", w.messages).into());
        }
    }
    let total = begun.elapsed().as_secs_f64();
    let (window, first) = window.ok_or("no records")?;
    Ok(window.line(
        "consume",
        "librdkafka",
        n,
        bytes,
        &format!(", first record after {first:.2} s, all after {total:.2} s"),
    ))
}
