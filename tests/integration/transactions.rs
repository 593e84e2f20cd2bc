//! Transactions against a real broker: `isolation.level=read_committed` hides an aborted
//! transaction and shows a committed one; `read_uncommitted` shows both; control records are
//! never handed out.
//!
//! ferrokafka has no transactional producer, so the transactions are written with raw protocol
//! calls in the order Java's `TransactionManager` uses: FindCoordinator (TRANSACTION),
//! InitProducerId, AddPartitionsToTxn, Produce with the transactional id, EndTxn. The client
//! speaks the pre-KIP-890-part-2 ("transaction version 1") dialect, as Java does when it does
//! not opt into version 2: AddPartitionsToTxn v3 or lower (v4+ is broker to broker), Produce at
//! most v11 (v12 lets the leader add partitions implicitly) and EndTxn at most v4 (v5 bumps the
//! epoch on every commit or abort). So one producer id and epoch serve both transactions and
//! sequence numbers simply continue.

use crate::producer::create;
use crate::support::shared_bootstrap;
use bytes::BytesMut;
use ferrokafka::__private::cluster::Cluster;
use ferrokafka::__private::connection::{BrokerConnection, Purpose};
use ferrokafka::__private::protocol::records::{BatchParams, RecordBatchEncoder};
use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka::types::{Offset, TopicPartition};
use ferrokafka_testcontainers::unique_topic;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, EndTxnRequest, FindCoordinatorRequest, InitProducerIdRequest,
    ProduceRequest, ProducerId, TopicName, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(15);
/// Errors the coordinator answers while it is (re)loading or finishing the previous transaction
/// (COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR,
/// CONCURRENT_TRANSACTIONS): retried.
const RETRY_CODES: [i16; 4] = [14, 15, 16, 51];

/// A transactional producer spoken in raw requests: one transactional id, one producer id and
/// epoch, and the next sequence number for the single partition it writes.
pub(crate) struct RawTxnProducer {
    cluster: Arc<Cluster>,
    transactional_id: String,
    coordinator: i32,
    pub(crate) producer_id: i64,
    epoch: i16,
    sequence: i32,
}

/// Runs `op` until it answers error code 0, retrying [`RETRY_CODES`] and retriable transport
/// errors for up to 60 s; returns the successful result.
async fn retry<T, F, Fut>(what: &str, mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ferrokafka::Result<(i16, T)>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let outcome = op().await;
        match outcome {
            Ok((0, v)) => return v,
            Ok((code, _)) if RETRY_CODES.contains(&code) => {}
            Ok((code, _)) => panic!("{what}: error code {code}"),
            Err(e) if e.is_retriable() => {}
            Err(e) => panic!("{what}: {e}"),
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still failing after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl RawTxnProducer {
    /// FindCoordinator(TRANSACTION) then InitProducerId.
    pub(crate) async fn init(cluster: Arc<Cluster>, transactional_id: String) -> RawTxnProducer {
        // The first transactional request creates __transaction_state: retry until it is led.
        let coordinator = retry("FindCoordinator", || async {
            let conn = cluster.any_connection(Purpose::Control).await?;
            let mut req = FindCoordinatorRequest::default().with_key_type(1);
            let v4 = conn.version_for::<FindCoordinatorRequest>()? >= 4;
            if v4 {
                req.coordinator_keys = vec![StrBytes::from_string(transactional_id.clone())];
            } else {
                req.key = StrBytes::from_string(transactional_id.clone());
            }
            let resp = conn.send(&req).await?;
            Ok(match (v4, resp.coordinators.first()) {
                (true, Some(c)) => (c.error_code, c.node_id.0),
                (true, None) => panic!("FindCoordinator answered no coordinator"),
                (false, _) => (resp.error_code, resp.node_id.0),
            })
        })
        .await;
        let mut p = RawTxnProducer {
            cluster,
            transactional_id,
            coordinator,
            producer_id: -1,
            epoch: -1,
            sequence: 0,
        };
        let req = InitProducerIdRequest::default()
            .with_transactional_id(Some(p.txn_id()))
            .with_transaction_timeout_ms(60_000)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
        let (id, epoch) = retry("InitProducerId", || async {
            let resp = p.coordinator_conn().await?.send(&req).await?;
            Ok((resp.error_code, (resp.producer_id.0, resp.producer_epoch)))
        })
        .await;
        p.producer_id = id;
        p.epoch = epoch;
        p
    }

    fn txn_id(&self) -> TransactionalId {
        TransactionalId(StrBytes::from_string(self.transactional_id.clone()))
    }

    async fn coordinator_conn(&self) -> ferrokafka::Result<BrokerConnection> {
        self.cluster
            .connection_to(self.coordinator, Purpose::Coordination)
            .await
    }

    /// AddPartitionsToTxn (v3 or lower) for `topic`/0: begins a transaction. Retries
    /// CONCURRENT_TRANSACTIONS, answered until the previous transaction's markers are written.
    pub(crate) async fn begin(&self, topic: &str) {
        let req = AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(self.txn_id())
            .with_v3_and_below_producer_id(ProducerId(self.producer_id))
            .with_v3_and_below_producer_epoch(self.epoch)
            .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(topic_name(topic))
                .with_partitions(vec![0])]);
        retry("AddPartitionsToTxn", || async {
            let conn = self.coordinator_conn().await?;
            let version = conn.version_for::<AddPartitionsToTxnRequest>()?.min(3);
            let resp = conn.send_version(&req, version, TIMEOUT).await?;
            let code = resp
                .results_by_topic_v3_and_below
                .iter()
                .flat_map(|t| &t.results_by_partition)
                .map(|p| p.partition_error_code)
                .find(|c| *c != 0)
                .unwrap_or(0);
            Ok((code, ()))
        })
        .await;
    }

    /// Produces `values` as one transactional batch (next sequence numbers); returns its base
    /// offset.
    pub(crate) async fn send(&mut self, topic: &str, values: &[&str]) -> i64 {
        let params = BatchParams {
            producer_id: self.producer_id,
            producer_epoch: self.epoch,
            base_sequence: self.sequence,
            transactional: true,
            ..BatchParams::default()
        };
        let offset = produce(&self.cluster, topic, params, Some(self.txn_id()), values).await;
        self.sequence += values.len() as i32;
        offset
    }

    /// EndTxn (v4 or lower): commits or aborts the open transaction.
    pub(crate) async fn end(&self, committed: bool) {
        let req = EndTxnRequest::default()
            .with_transactional_id(self.txn_id())
            .with_producer_id(ProducerId(self.producer_id))
            .with_producer_epoch(self.epoch)
            .with_committed(committed);
        retry("EndTxn", || async {
            let conn = self.coordinator_conn().await?;
            let version = conn.version_for::<EndTxnRequest>()?.min(4);
            Ok((
                conn.send_version(&req, version, TIMEOUT).await?.error_code,
                (),
            ))
        })
        .await;
    }
}

fn topic_name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_owned()))
}

/// Encodes `values` into one batch with `params` and produces it to `topic`/0 (acks=-1, at most
/// Produce v11); returns the batch's base offset. Not retried: a duplicate would shift offsets.
async fn produce(
    cluster: &Arc<Cluster>,
    topic: &str,
    params: BatchParams,
    transactional_id: Option<TransactionalId>,
    values: &[&str],
) -> i64 {
    let mut records = BytesMut::new();
    let mut encoder = RecordBatchEncoder::new();
    let mut batch = encoder.start(&mut records, params).expect("batch params");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    for v in values {
        batch
            .append_next(now, None, Some(v.as_bytes()), &[])
            .expect("append");
    }
    batch.finish().expect("finish batch");
    let req = ProduceRequest::default()
        .with_transactional_id(transactional_id)
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic_name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records.freeze()))])]);
    let (conn, _) = cluster
        .leader_connection(topic, 0, Purpose::Produce)
        .await
        .expect("leader");
    let version = conn
        .version_for::<ProduceRequest>()
        .expect("version")
        .min(11);
    let resp = conn
        .send_version(&req, version, TIMEOUT)
        .await
        .expect("produce");
    let p = &resp.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 0, "produce {values:?}: {:?}", p.error_message);
    p.base_offset
}

/// Produces `values` as a plain (non-idempotent, non-transactional) batch.
async fn produce_plain(cluster: &Arc<Cluster>, topic: &str, values: &[&str]) -> i64 {
    produce(cluster, topic, BatchParams::default(), None, values).await
}

/// Consumes `tp` from the beginning with `isolation` (and `extra` settings) until the position
/// reaches `end`, then polls once more (nothing may follow); returns `(offset, value)` of every
/// record.
async fn consume_all(
    bootstrap: &str,
    tp: &TopicPartition,
    isolation: &str,
    extra: &[(&str, &str)],
    end: i64,
) -> (Consumer, Vec<(i64, String)>) {
    let mut props = vec![
        ("bootstrap.servers", bootstrap),
        ("auto.offset.reset", "earliest"),
        ("enable.auto.commit", "false"),
        ("fetch.max.wait.ms", "100"),
        ("isolation.level", isolation),
    ];
    props.extend_from_slice(extra);
    let c =
        Consumer::new(ConsumerConfig::from_properties(props).expect("config")).expect("consumer");
    c.assign(std::slice::from_ref(tp)).expect("assign");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got: Vec<(i64, String)> = Vec::new();
    let mut last_round = false;
    loop {
        let before = c.position(tp).map_or(0, |o| o.0);
        let records = c
            .poll(Duration::from_millis(if last_round { 500 } else { 200 }))
            .await
            .expect("poll");
        let after = c.position(tp).map_or(0, |o| o.0);
        for r in &records {
            // Nothing below the position is handed out, and the position moves past every
            // record handed out.
            assert!(
                r.offset.0 >= before && r.offset.0 < after,
                "{isolation}: {r:?}"
            );
            let value = r.value.as_deref().map(String::from_utf8_lossy);
            got.push((r.offset.0, value.unwrap_or_default().into_owned()));
        }
        if last_round {
            return (c, got);
        }
        last_round = after == end;
        assert!(
            Instant::now() < deadline,
            "{isolation}: position {after}, never reached {end}; got {got:?}\n  {}",
            c.debug_state(tp)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_committed_hides_aborted_transactions_and_control_records() {
    let started = Instant::now();
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("txn-isolation");
    let admin = create(&bootstrap, &topic, 1, 1).await;
    let cluster = Arc::clone(admin.cluster());
    let mut txn = RawTxnProducer::init(Arc::clone(&cluster), unique_topic("txn-id")).await;
    assert!(txn.producer_id >= 0 && txn.epoch >= 0);

    // The log this builds (offsets are asserted as it goes):
    //   0-1 p0 p1 | 2-3 a0 a1 (txn) | 4 p2 | 5 a2 (txn) | 6 ABORT
    //   7-8 c0 c1 (txn) | 9 p3 | 10 c2 (txn) | 11 COMMIT            high watermark 12
    assert_eq!(produce_plain(&cluster, &topic, &["p0", "p1"]).await, 0);
    txn.begin(&topic).await;
    assert_eq!(txn.send(&topic, &["a0", "a1"]).await, 2);
    assert_eq!(produce_plain(&cluster, &topic, &["p2"]).await, 4);
    assert_eq!(txn.send(&topic, &["a2"]).await, 5);
    txn.end(false).await;
    // AddPartitionsToTxn answers CONCURRENT_TRANSACTIONS until the abort marker is written, so
    // the second transaction starts after it (offset 6).
    txn.begin(&topic).await;
    assert_eq!(txn.send(&topic, &["c0", "c1"]).await, 7);
    assert_eq!(produce_plain(&cluster, &topic, &["p3"]).await, 9);
    assert_eq!(txn.send(&topic, &["c2"]).await, 10);
    txn.end(true).await;
    let end = 12;

    let tp = TopicPartition::new(&topic, 0);
    let committed: Vec<(i64, String)> = [
        (0, "p0"),
        (1, "p1"),
        (4, "p2"),
        (7, "c0"),
        (8, "c1"),
        (9, "p3"),
        (10, "c2"),
    ]
    .iter()
    .map(|(o, v)| (*o, (*v).to_owned()))
    .collect();
    let uncommitted: Vec<(i64, String)> = [
        (0, "p0"),
        (1, "p1"),
        (2, "a0"),
        (3, "a1"),
        (4, "p2"),
        (5, "a2"),
        (7, "c0"),
        (8, "c1"),
        (9, "p3"),
        (10, "c2"),
    ]
    .iter()
    .map(|(o, v)| (*o, (*v).to_owned()))
    .collect();

    // Whole-log fetches; then one batch per fetch (1 byte: the broker still returns the first
    // batch whole), so aborted-transaction tracking crosses fetch boundaries, and one record per
    // poll, so the position is checked after every record.
    let one_at_a_time = [
        ("max.partition.fetch.bytes", "1"),
        ("max.poll.records", "1"),
    ];
    for extra in [&[][..], &one_at_a_time[..]] {
        for (isolation, expected) in [
            ("read_committed", &committed),
            ("read_uncommitted", &uncommitted),
        ] {
            let (c, got) = consume_all(&bootstrap, &tp, isolation, extra, end).await;
            assert_eq!(&got, expected, "{isolation} {extra:?}");
            // Control records (offsets 6 and 11) are never handed out, and the position moved
            // past the trailing commit marker: it equals the high watermark, so no lag.
            assert!(got.iter().all(|(o, _)| *o != 6 && *o != 11));
            assert_eq!(c.position(&tp), Some(Offset(end)), "{isolation}");
            assert_eq!(c.lag(&tp), Some(0), "{isolation}");
            let consumed = c.metrics().get("records-consumed-total");
            assert_eq!(consumed, Some(expected.len() as f64), "{isolation}");
            c.close().await.expect("close");
        }
    }
    eprintln!("transactions test took {:?}", started.elapsed());
}
