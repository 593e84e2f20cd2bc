//! Completion: maps a Produce answer (parsed by `protocol::requests::produce`) onto the
//! request's batches for the state machine, and completes every record of a batch with the
//! outcome the state machine decided, or with a failure the sender decided itself (expired or
//! aborted in the accumulator).

use super::Sender;
use crate::producer::batch::ProducerBatch;
use crate::producer::delivery::{DeliveryError, Persistence, RecordMetadata};
use crate::producer::record::ProducerRecord;
use crate::producer::shared::Completion;
use crate::producer::state::{BatchId, Outcome, PartitionAck};
use crate::protocol::requests::produce;
use crate::types::{Offset, TopicPartition};
use crate::{Error, ErrorKind};
use kafka_protocol::messages::ProduceResponse;
use tokio::time::Instant;

impl Sender {
    /// Hands each batch of an answered request its partition's answer.
    pub(super) fn on_response(
        &mut self,
        node: i32,
        batches: Vec<(TopicPartition, BatchId)>,
        resp: ProduceResponse,
        now: std::time::Instant,
    ) {
        let parsed = produce::parse_response(&resp);
        self.shared
            .metrics
            .produce_throttle_time_ms
            .record(f64::from(parsed.throttle_time_ms));
        for (tp, id) in batches {
            let result = parsed
                .partition(&tp.topic, tp.partition)
                .map(|a| {
                    PartitionAck::from_wire(a.base_offset, a.log_append_time_ms, a.log_start_offset)
                })
                .map_err(|e| e.with_broker(node.to_string()));
            self.state.on_produce_response(&tp, id, result, now);
        }
    }

    /// Completes every record of a batch with the state machine's outcome.
    pub(super) fn complete(&mut self, id: BatchId, outcome: Outcome) {
        let Some(batch) = self.batches.remove(&id) else {
            return;
        };
        match outcome {
            Outcome::Persisted {
                base_offset,
                log_append_time_ms,
                ..
            } => self.succeed(
                batch,
                base_offset,
                log_append_time_ms,
                Persistence::Persisted,
            ),
            Outcome::Unacknowledged => {
                self.succeed(batch, None, None, Persistence::PossiblyPersisted)
            }
            Outcome::Failed { error, persistence } => self.fail_batch(batch, error, persistence),
        }
    }

    /// Completes a batch's records with their metadata (offsets counted from the base).
    pub(super) fn succeed(
        &mut self,
        batch: ProducerBatch<Completion>,
        base_offset: Option<Offset>,
        log_append_time: Option<i64>,
        persistence: Persistence,
    ) {
        let topic = batch.topic_name();
        let partition = batch.partition();
        let records = batch.into_records();
        let n = records.len() as u64;
        for (i, r) in records.into_iter().enumerate() {
            let meta = RecordMetadata {
                topic: topic.clone(),
                partition,
                offset: base_offset.map_or(Offset::UNKNOWN, |o| Offset(o.0 + i as i64)),
                timestamp: log_append_time.unwrap_or(r.timestamp),
                persistence,
            };
            r.completion.complete(Ok(meta));
        }
        self.shared.records_completed(n);
        self.shared.metrics.record_send.record_n(n, n as f64);
        self.shared
            .metrics
            .topic(&topic, |t| t.record_send_total += n);
    }

    /// Fails a batch's records, handing each record back in its error.
    pub(super) fn fail_batch(
        &mut self,
        batch: ProducerBatch<Completion>,
        error: Error,
        p: Persistence,
    ) {
        if let Some(txn) = &self.shared.txn {
            txn.manager().on_batch_failed(&error);
        }
        let topic = batch.topic().to_owned();
        let partition = batch.partition();
        let records = batch.into_records();
        let n = records.len() as u64;
        for r in records {
            let mut record = ProducerRecord::new(topic.clone());
            record.partition = Some(partition);
            record.key = r.key;
            record.value = r.value;
            record.headers = r.headers;
            record.timestamp = Some(r.timestamp);
            r.completion.complete(Err(DeliveryError {
                error: error.clone(),
                persistence: p,
                record: Box::new(record),
            }));
        }
        self.shared.records_completed(n);
        self.shared.metrics.record_error.record_n(n, n as f64);
        self.shared
            .metrics
            .topic(&topic, |t| t.record_error_total += n);
    }

    /// Fails accumulator batches older than `delivery.timeout.ms` (never sent: NotPersisted).
    pub(super) fn expire_undrained(&mut self, now: Instant) {
        let timeout = self.shared.cfg.delivery_timeout;
        for b in self.shared.acc.expired_batches(now, timeout) {
            let e = Error::new(ErrorKind::Timeout)
                .with_partition(b.topic(), b.partition())
                .with_detail(
                    "delivery.timeout.ms passed before the batch could be sent (no leader or no connection)",
                );
            self.fail_batch(b, e, Persistence::NotPersisted);
        }
    }
}
