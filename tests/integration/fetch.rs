//! A minimal raw-protocol reader for tests: fetches a partition from offset 0 with plain Fetch
//! requests and decodes it with ferrokafka's record batch codec. (The consumer API is separate
//! work; the tests need an independent way to read back what was produced.)

use bytes::Bytes;
use ferrokafka::__private::cluster::{Cluster, TopicSelection};
use ferrokafka::__private::connection::Purpose;
use ferrokafka::__private::protocol::records::{DecodeOptions, RecordBatches};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One record read back.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub offset: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

impl Fetched {
    pub fn header(&self, key: &str) -> Option<&Bytes> {
        self.headers
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.as_ref())
    }
}

/// Reads every record of `topic`/`partition` up to its high watermark.
pub async fn read_partition(cluster: &Arc<Cluster>, topic: &str, partition: i32) -> Vec<Fetched> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut out = Vec::new();
    let mut offset = 0i64;
    loop {
        assert!(
            Instant::now() < deadline,
            "reading {topic}-{partition} took too long"
        );
        let (conn, _) = match cluster
            .leader_connection(topic, partition, Purpose::Fetch)
            .await
        {
            Ok(c) => c,
            Err(e) if e.is_retriable() => {
                let _ = cluster
                    .refresh(TopicSelection::Topics(vec![topic.to_owned()]))
                    .await;
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(e) => panic!("no leader for {topic}-{partition}: {e}"),
        };
        let req = FetchRequest::default()
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
                    .with_partition_max_bytes(4 << 20)])]);
        let resp = match conn.send(&req).await {
            Ok(r) => r,
            Err(e) if e.is_retriable() => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(e) => panic!("fetch failed: {e}"),
        };
        let p = &resp.responses[0].partitions[0];
        if p.error_code != 0 {
            let _ = cluster
                .refresh(TopicSelection::Topics(vec![topic.to_owned()]))
                .await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        let records = p.records.clone().unwrap_or_default();
        for batch in RecordBatches::new(records, DecodeOptions::default()) {
            let batch = batch.expect("valid batch");
            if batch.is_control() {
                offset = batch.next_offset();
                continue;
            }
            for r in batch.records().expect("records") {
                let r = r.expect("record");
                if r.offset < offset {
                    continue;
                }
                out.push(Fetched {
                    offset: r.offset,
                    key: r.key.clone(),
                    value: r.value.clone(),
                    headers: r
                        .headers
                        .iter()
                        .map(|h| (String::from_utf8_lossy(&h.key).into_owned(), h.value))
                        .collect(),
                });
            }
            offset = batch.next_offset();
        }
        if offset >= p.high_watermark {
            return out;
        }
    }
}
