//! Reading the log back with plain Fetch requests (ferrokafka's connection layer and record batch
//! codec, no consumer code), so the check does not trust the client it checks.

use std::time::{Duration, Instant};

use ferrokafka::__private::cluster::{Cluster, TopicSelection};
use ferrokafka::__private::connection::Purpose;
use ferrokafka::__private::protocol::records::{DecodeOptions, RecordBatches};
use ferrokafka::config::ClientConfig;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::{parse_payload, LogRecord};
use crate::HarnessError;

/// Every data record of partitions `0..partitions` of `topic`, each partition in offset order, up
/// to its high watermark at the time it is reached; control records (transaction markers) are
/// skipped. Retries retriable errors (leader moves, a broker restarting) until `timeout`.
///
/// Pass [`crate::Kafka::direct_bootstrap`] to read past any fault proxy.
///
/// # Cancel safety
/// Cancel safe: it only reads.
pub async fn read_log(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> Result<Vec<LogRecord>, HarnessError> {
    let cfg = ClientConfig::builder()
        .bootstrap_servers(bootstrap)
        .client_id("ferrokafka-verifier")
        .request_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| HarnessError::ReadBack(format!("client config: {e}")))?;
    let cluster = Cluster::new(cfg);
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    for p in 0..partitions {
        read_partition(&cluster, topic, p, deadline, &mut out).await?;
    }
    Ok(out)
}

async fn read_partition(
    cluster: &Cluster,
    topic: &str,
    partition: i32,
    deadline: Instant,
    out: &mut Vec<LogRecord>,
) -> Result<(), HarnessError> {
    let mut offset = 0i64;
    let mut last_error = String::from("none");
    loop {
        if Instant::now() > deadline {
            return Err(HarnessError::ReadBack(format!(
                "{topic}-{partition}: not read to its end before the deadline (at offset {offset}; last error: {last_error})"
            )));
        }
        let conn = match cluster
            .leader_connection(topic, partition, Purpose::Fetch)
            .await
        {
            Ok((c, _)) => c,
            Err(e) if e.is_retriable() => {
                last_error = e.to_string();
                retry_pause(cluster, topic).await;
                continue;
            }
            Err(e) => return Err(HarnessError::ReadBack(format!("{topic}-{partition}: {e}"))),
        };
        let req = fetch_request(topic, partition, offset);
        let resp = match conn.send(&req).await {
            Ok(r) => r,
            Err(e) if e.is_retriable() => {
                last_error = e.to_string();
                retry_pause(cluster, topic).await;
                continue;
            }
            Err(e) => return Err(HarnessError::ReadBack(format!("{topic}-{partition}: {e}"))),
        };
        let Some(p) = resp
            .responses
            .first()
            .and_then(|t| t.partitions.iter().find(|p| p.partition_index == partition))
        else {
            last_error = "the response names no such partition".into();
            retry_pause(cluster, topic).await;
            continue;
        };
        if p.error_code != 0 {
            // NOT_LEADER, FENCED_LEADER_EPOCH, ... while leadership moves: look again.
            last_error = format!("error code {}", p.error_code);
            retry_pause(cluster, topic).await;
            continue;
        }
        let records = p.records.clone().unwrap_or_default();
        for batch in RecordBatches::new(records, DecodeOptions::default()) {
            let batch =
                batch.map_err(|e| HarnessError::ReadBack(format!("{topic}-{partition}: {e}")))?;
            if !batch.is_control() {
                let decoded = batch
                    .records()
                    .map_err(|e| HarnessError::ReadBack(format!("{topic}-{partition}: {e}")))?;
                for r in decoded {
                    let r =
                        r.map_err(|e| HarnessError::ReadBack(format!("{topic}-{partition}: {e}")))?;
                    // A fetch may start inside a batch: skip what was read already.
                    if r.offset >= offset {
                        out.push(LogRecord {
                            partition,
                            offset: r.offset,
                            id: r.value.as_deref().and_then(parse_payload),
                        });
                    }
                }
            }
            offset = offset.max(batch.next_offset());
        }
        if offset >= p.high_watermark {
            return Ok(());
        }
    }
}

async fn retry_pause(cluster: &Cluster, topic: &str) {
    let _ = cluster
        .refresh(TopicSelection::Topics(vec![topic.to_owned()]))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
}

fn fetch_request(topic: &str, partition: i32, offset: i64) -> FetchRequest {
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(100)
        .with_min_bytes(1)
        .with_max_bytes(8 << 20)
        .with_isolation_level(0)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_string(topic.to_owned())))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_current_leader_epoch(-1)
                .with_fetch_offset(offset)
                .with_last_fetched_epoch(-1)
                .with_log_start_offset(-1)
                .with_partition_max_bytes(4 << 20)])])
}
