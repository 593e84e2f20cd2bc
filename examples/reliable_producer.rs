//! A producer that survives broker failures and tells you what happened to every record.
//!
//! ```text
//! cargo run --example reliable_producer
//! ```
//! acks=all with idempotence (no duplicates on retry, order kept), retries with exponential
//! backoff until `delivery.timeout.ms`, and a delivery report per record:
//! - `Persisted`: acknowledged by every in-sync replica — done;
//! - `NotPersisted`: certainly not written — log it and send it to a dead-letter topic (or
//!   retry later: resending cannot duplicate it);
//! - `PossiblyPersisted`: the outcome is unknown (a timeout after the request was written) —
//!   alert, and rely on the unique `id` header for downstream dedupe if you resend.
//!
//! Uses `KAFKA_BOOTSTRAP_SERVERS`, or starts a local broker through the test harness.

use ferrokafka::admin::{AdminClient, NewTopic};
use ferrokafka::config::ClientConfig;
use ferrokafka::producer::{DeliveryError, Persistence, Producer, ProducerConfig, ProducerRecord};
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "ferrokafka=warn".into()),
        )
        .init();
    let broker = ferrokafka_testcontainers::Kafka::shared()?;
    let bootstrap = broker.bootstrap();
    let topic = ferrokafka_testcontainers::unique_topic("payments");
    let dead_letters = format!("{topic}.dlq");
    let admin = AdminClient::new(
        ClientConfig::builder()
            .bootstrap_servers(&bootstrap)
            .build()?,
    );
    for t in [&topic, &dead_letters] {
        admin.create_topic(NewTopic::new(t, 3, 1)).await?;
        admin.wait_for_topic(t, 3, Duration::from_secs(30)).await?;
    }

    // The Java client's names; these are also the defaults, spelled out for the reader.
    let cfg = ProducerConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("client.id", "payments-writer"),
        ("acks", "all"),
        ("enable.idempotence", "true"),
        ("max.in.flight.requests.per.connection", "5"),
        ("retry.backoff.ms", "100"),
        ("retry.backoff.max.ms", "1000"),
        ("delivery.timeout.ms", "120000"),
        ("compression.type", "lz4"),
    ])?;
    // Errors besides delivery results (retries, fatal errors, metadata failures) go to the
    // application's own log pipeline.
    let producer = Producer::with_error_handler(
        cfg,
        Some(Arc::new(|e: &ferrokafka::Error| {
            tracing::warn!(
                retriable = e.is_retriable(),
                fatal = e.is_fatal(),
                "producer: {e}"
            );
        })),
    )?;

    let mut deliveries = Vec::new();
    for i in 0..1000u32 {
        let record = ProducerRecord::new(&topic)
            .key(format!("account-{}", i % 17))
            .value(format!("{{\"payment\": {i}, \"cents\": {}}}", i * 100))
            // A unique id lets consumers drop duplicates if a PossiblyPersisted record is resent.
            .header("id", format!("payment-{i}"));
        match producer.send(record).await {
            Ok(delivery) => deliveries.push(delivery),
            // Refused before sending (too large, producer closed or failed, no metadata in
            // max.block.ms): NotPersisted, safe to handle like a failed delivery.
            Err(e) => handle_failure(&producer, &dead_letters, e).await,
        }
    }
    let (mut ok, mut failed) = (0, 0);
    for delivery in deliveries {
        match delivery.await {
            Ok(meta) => {
                ok += 1;
                tracing::debug!(partition = meta.partition, offset = %meta.offset, "persisted");
            }
            Err(e) => {
                failed += 1;
                handle_failure(&producer, &dead_letters, e).await;
            }
        }
    }
    let m = producer.metrics();
    println!(
        "{ok} persisted, {failed} failed; record-send-rate {:.0}/s, record-retry-total {}, batch-size-avg {:.0} B, request-latency-avg {:.1} ms",
        m.get("record-send-rate").unwrap_or(0.0),
        m.get("record-retry-total").unwrap_or(0.0),
        m.get("batch-size-avg").unwrap_or(0.0),
        m.get("request-latency-avg").unwrap_or(0.0),
    );
    producer.close(Duration::from_secs(30)).await?;
    Ok(())
}

async fn handle_failure(producer: &Producer, dead_letters: &str, e: DeliveryError) {
    match e.persistence {
        Persistence::PossiblyPersisted => {
            // Unknown outcome: alert a human; do not blindly resend.
            tracing::error!(error = %e.error, "ALERT: record possibly persisted; check downstream");
        }
        Persistence::NotPersisted | Persistence::Persisted => {
            tracing::warn!(
                retriable = e.error.is_retriable(),
                error = %e.error,
                "record not persisted; sending it to the dead-letter topic"
            );
            let mut dlq = ProducerRecord::new(dead_letters)
                .header("error", e.error.to_string())
                .header("original-topic", e.record.topic.clone());
            if let Some(k) = e.record.key.clone() {
                dlq = dlq.key(k);
            }
            if let Some(v) = e.record.value.clone() {
                dlq = dlq.value(v);
            }
            if let Ok(d) = producer.send(dlq).await {
                let _ = d.await;
            }
        }
    }
}
