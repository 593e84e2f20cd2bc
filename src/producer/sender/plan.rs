//! Request planning: takes ready batches from the accumulator into the state machine, groups
//! the batches the state machine offers into Produce requests per broker (at most one batch
//! per partition, up to `max.request.size`), encodes each request straight into its frame
//! and queues it on the connection in the sender's own order.

use super::{Msg, Sender};
use crate::cluster::ClusterMetadata;
use crate::connection::BrokerConnection;
use crate::producer::config::Acks;
use crate::producer::delivery::Persistence;
use crate::producer::state::{BatchId, SendDecision, Stamp};
use crate::protocol::records::{BatchParams, HeaderRef, RECORD_BATCH_OVERHEAD};
use crate::protocol::requests::produce::ProduceRequestWriter;
use crate::types::TopicPartition;
use crate::{Error, ErrorKind, Result};
use bytes::BytesMut;
use kafka_protocol::messages::ProduceRequest;
use std::collections::{BTreeMap, HashMap, HashSet};
use tokio::time::Instant;
use tracing::{info, warn};

/// One batch in a request being built: its partition, id and stamp.
type Planned = (TopicPartition, BatchId, Stamp);

impl Sender {
    /// Takes ready batches out of the accumulator and registers them with the state machine.
    /// Returns when the next lingering batch becomes ready.
    pub(super) fn drain_accumulator(
        &mut self,
        now: Instant,
        md: &ClusterMetadata,
    ) -> Option<Instant> {
        let leader_of = |t: &str, p: i32| md.leader(t, p).map(|(b, _)| b.node_id);
        let max_in_flight = self.shared.cfg.max_in_flight_requests_per_connection;
        let mut txn = self.shared.txn.as_ref().map(|t| t.manager());
        // Transaction version 2: the last EndTxn handed out a new epoch (or producer id). It
        // is taken under the same lock the drain below holds, and end_done stored it under
        // that lock before the application could begin the next transaction, so no batch of
        // the next transaction is drained (and stamped) under the old epoch.
        if let Some(next) = txn.as_mut().and_then(|m| m.take_next_producer()) {
            info!(
                producer_id = next.producer_id.0,
                epoch = next.epoch.0,
                "next transaction's producer epoch adopted"
            );
            self.state.adopt_producer_id(next);
        }
        // A partition takes a new batch only when the state machine has room for it, so
        // batches wait in the accumulator (where linger and memory accounting apply) rather
        // than in the state machine. Only busy partitions can be full; collecting them once
        // (borrowed) keeps the per-partition check free of allocations.
        let state = &self.state;
        let full: HashSet<(&str, i32)> = state
            .busy_partitions()
            .filter(|tp| {
                state
                    .partition(tp)
                    .is_some_and(|s| s.queued_count() > 0 || s.unacked_count() >= max_in_flight)
            })
            .map(|tp| (tp.topic.as_str(), tp.partition))
            .collect();
        // In a transaction a partition's batches wait in the accumulator until the partition
        // is in the transaction (transaction version 1: AddPartitionsToTxn answered; version
        // 2: at once, its leader adds it).
        let can_take = |t: &str, p: i32| {
            (full.is_empty() || !full.contains(&(t, p)))
                && txn
                    .as_ref()
                    .is_none_or(|m| m.is_added(&TopicPartition::new(t, p)))
        };
        let ready = self.shared.acc.ready(now, leader_of, can_take);
        let drained = self
            .shared
            .acc
            .drain(&ready.ready_nodes, now, leader_of, can_take);
        drop(txn);
        for topic in &ready.unknown_leader_topics {
            self.refresh(topic.clone());
        }
        for (_, batches) in drained {
            for b in batches {
                let id = BatchId(self.next_batch_id);
                self.next_batch_id += 1;
                let tp = TopicPartition::new(b.topic(), b.partition());
                let count = i32::try_from(b.record_count()).unwrap_or(i32::MAX);
                match self.state.enqueue(&tp, id, count, b.created().into_std()) {
                    Ok(()) => {
                        self.batches.insert(id, b);
                    }
                    Err(e) => self.fail_batch(b, e, Persistence::NotPersisted),
                }
            }
        }
        ready.next_ready
    }

    /// Plans and sends one or more Produce requests per broker for every batch the state
    /// machine offers.
    pub(super) async fn send_ready(&mut self, md: &ClusterMetadata) {
        let now = std::time::Instant::now();
        let max_request = self.shared.cfg.max_request_size;
        let busy: Vec<TopicPartition> = self.state.busy_partitions().cloned().collect();
        // node -> requests, each a list of batches with at most one per partition.
        let mut plan: BTreeMap<i32, Vec<(usize, Vec<Planned>)>> = BTreeMap::new();
        let mut conns: HashMap<i32, BrokerConnection> = HashMap::new();
        for tp in busy {
            let Some(node) = md.leader(&tp.topic, tp.partition).map(|(b, _)| b.node_id) else {
                self.refresh(tp.topic.clone());
                continue;
            };
            if let std::collections::hash_map::Entry::Vacant(slot) = conns.entry(node) {
                match self.connection(node, md) {
                    Some(c) => {
                        slot.insert(c);
                    }
                    None => continue,
                }
            }
            while let SendDecision::Send { batch_id, .. } = self.state.next_sendable(&tp, now) {
                let stamp = match self.state.mark_sent(&tp, batch_id, now) {
                    Ok(s) => s,
                    Err(e) => {
                        warn!(error = %e, "state machine refused its own offer");
                        break;
                    }
                };
                let size = self
                    .batches
                    .get(&batch_id)
                    .map_or(0, |b| b.estimated_size());
                let requests = plan.entry(node).or_default();
                let slot = requests.iter_mut().find(|(bytes, batches)| {
                    !batches.iter().any(|(t, _, _)| *t == tp)
                        && (batches.is_empty() || bytes + size <= max_request)
                });
                match slot {
                    Some((bytes, batches)) => {
                        *bytes += size;
                        batches.push((tp.clone(), batch_id, stamp));
                    }
                    None => requests.push((size, vec![(tp.clone(), batch_id, stamp)])),
                }
            }
        }
        for (node, requests) in plan {
            let Some(conn) = conns.get(&node).cloned() else {
                continue;
            };
            for (_, batches) in requests {
                self.send_request(node, &conn, batches).await;
            }
        }
    }

    /// Encodes one planned request and queues it on `conn`; a task waits for its answer.
    pub(super) async fn send_request(
        &mut self,
        node: i32,
        conn: &BrokerConnection,
        planned: Vec<Planned>,
    ) {
        let now = std::time::Instant::now();
        let ids: Vec<(TopicPartition, BatchId)> = planned
            .iter()
            .map(|(tp, id, _)| (tp.clone(), *id))
            .collect();
        let encoded = self.encode_request(conn, &planned);
        let (frame, correlation_id, version) = match encoded {
            Ok(v) => v,
            Err(e) => {
                // Never written: the batches fail (or retry) as "not sent".
                for (tp, id) in ids {
                    self.state.on_produce_response(&tp, id, Err(e.clone()), now);
                }
                return;
            }
        };
        let records: usize = planned
            .iter()
            .filter_map(|(_, id, _)| self.batches.get(id))
            .map(|b| b.record_count())
            .sum();
        self.shared
            .metrics
            .records_per_request
            .record(records as f64);
        self.shared.metrics.byte_rate.record(frame.len() as f64);
        self.requests_in_flight += 1;
        let acks = self.shared.cfg.acks;
        let timeout = self.shared.cfg.client.request_timeout;
        let order = self.order.entry(node).or_default();
        let seq = order.next_send;
        order.next_send += 1;
        let sent_at = Instant::now();
        // Queue the request here, in the sender's own order, and only wait for its response in
        // a separate task: requests queued from separate tasks could reach the socket out of
        // order, and a partition's batches must be written in sequence order.
        let queued = conn
            .enqueue_encoded::<ProduceRequest>(
                frame.freeze(),
                correlation_id,
                version,
                timeout,
                acks != Acks::None,
            )
            .await;
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let result = match queued {
                Ok(pending) => pending.wait().await,
                Err(e) => Err(e),
            };
            let _ = tx.send(Msg::Produce {
                node,
                seq,
                sent_at,
                batches: ids,
                result,
            });
        });
    }

    /// Encodes one Produce request, writing each batch straight into the frame.
    fn encode_request(
        &mut self,
        conn: &BrokerConnection,
        planned: &[Planned],
    ) -> Result<(BytesMut, i32, i16)> {
        let mut version = conn.version_for::<ProduceRequest>()?;
        let transactional_id = self.shared.cfg.transactional_id.as_deref();
        if let Some(txn) = &self.shared.txn {
            // Produce v12 makes the leader add the partition to the transaction (transaction
            // version 2); under version 1 the coordinator was told by AddPartitionsToTxn and
            // v11 is the most the dialect allows. The dialect changes only between
            // transactions, when none of these batches is left.
            version = version.min(txn.manager().transaction_version().max_produce_version());
        }
        let correlation_id = conn.next_correlation_id();
        let size: usize = planned
            .iter()
            .filter_map(|(_, id, _)| self.batches.get(id))
            .map(|b| b.estimated_size() + 16)
            .sum();
        let mut buf = BytesMut::with_capacity(size + 128);
        // Group by topic, keeping the planned order within each topic.
        let mut topics: BTreeMap<&str, Vec<&Planned>> = BTreeMap::new();
        for p in planned {
            topics.entry(p.0.topic.as_str()).or_default().push(p);
        }
        let timeout_ms =
            i32::try_from(self.shared.cfg.client.request_timeout.as_millis()).unwrap_or(i32::MAX);
        let mut w = ProduceRequestWriter::begin(
            &mut buf,
            version,
            correlation_id,
            conn.client_id(),
            transactional_id,
            self.shared.cfg.acks.as_i16(),
            timeout_ms,
            topics.len() as u32,
        )?;
        for (topic, parts) in &topics {
            w.topic(topic, parts.len() as u32)?;
            for (tp, id, stamp) in parts.iter().copied() {
                let batch = self.batches.get(id).ok_or_else(|| {
                    Error::new(ErrorKind::InvalidArgument).with_detail("planned batch vanished")
                })?;
                let params = BatchParams {
                    producer_id: stamp.producer_id.0,
                    producer_epoch: stamp.producer_epoch.0,
                    base_sequence: stamp.base_sequence.0,
                    transactional: self.shared.txn.is_some(),
                    compression: self.compression,
                    compression_level: self.compression_level,
                    ..BatchParams::default()
                };
                let encoder = &mut self.encoder;
                let metrics = &self.shared.metrics;
                w.partition(tp.partition, |out| {
                    let mut writer = encoder.start(out, params)?;
                    let mut headers: Vec<HeaderRef<'_>> = Vec::new();
                    for r in batch.records() {
                        headers.clear();
                        headers.extend(r.headers.iter().map(|h| (&h.key[..], h.value.as_deref())));
                        writer.append_next(
                            r.timestamp,
                            r.key.as_deref(),
                            r.value.as_deref(),
                            &headers,
                        )?;
                    }
                    let info = writer.finish()?;
                    metrics.batch_size.record(info.size_in_bytes as f64);
                    if info.uncompressed_records_size > 0 {
                        let compressed =
                            info.size_in_bytes.saturating_sub(RECORD_BATCH_OVERHEAD) as f64;
                        metrics
                            .compression_rate
                            .record(compressed / info.uncompressed_records_size as f64);
                    }
                    Ok(())
                })?;
            }
        }
        w.finish()?;
        Ok((buf, correlation_id, version))
    }
}
