//! Produce and InitProducerId.

use crate::log::{code, split_batches, Appended, TRANSACTIONAL};
use crate::server::Ctx;
use kafka_protocol::messages::produce_response::{
    LeaderIdAndEpoch, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{
    BrokerId, InitProducerIdResponse, ProduceRequest, ProduceResponse, ProducerId,
};
use kafka_protocol::protocol::StrBytes;

/// Kafka's UNKNOWN_PRODUCER_ID.
const UNKNOWN_PRODUCER_ID: i16 = 59;

/// Handles a Produce request; `None` for acks=0 (the broker sends no response).
pub(super) fn produce(ctx: Ctx<'_>, req: ProduceRequest, version: i16) -> Option<ProduceResponse> {
    let acks = req.acks;
    let valid_acks = matches!(acks, -1..=1);
    let mut appended_any = false;
    let mut responses = Vec::with_capacity(req.topic_data.len());
    let targets: Vec<(&str, i32)> = req
        .topic_data
        .iter()
        .flat_map(|t| {
            t.partition_data
                .iter()
                .map(|p| (t.name.0.as_str(), p.index))
        })
        .collect();
    let fault = ctx.take_fault(0, &targets);
    let txn_id = req.transactional_id.as_ref().map(|t| t.0.as_str());
    {
        let mut state = ctx.shared.lock();
        let config = state.config.clone();
        for topic in req.topic_data {
            let name = topic.name.0.to_string();
            let mut partitions = Vec::with_capacity(topic.partition_data.len());
            for data in topic.partition_data {
                let mut resp = PartitionProduceResponse::default()
                    .with_index(data.index)
                    .with_base_offset(-1)
                    .with_log_append_time_ms(-1)
                    .with_log_start_offset(-1);
                let outcome =
                    if let Some(f) = fault.as_ref().filter(|f| f.covers(&name, data.index)) {
                        // Injected: answered with the error, nothing appended.
                        Err(f.code)
                    } else if !valid_acks {
                        Err(code::INVALID_REQUIRED_ACKS)
                    } else {
                        append(
                            &mut state,
                            &config,
                            ctx.node,
                            (&name, data.index),
                            txn_id.map(|id| (id, version >= 12)),
                            data.records,
                        )
                    };
                match outcome {
                    Ok((appended, log_start)) => {
                        let offset = match appended {
                            Appended::New(o) => {
                                appended_any = true;
                                o
                            }
                            Appended::Duplicate(o) => o,
                        };
                        resp = resp
                            .with_base_offset(offset)
                            .with_log_start_offset(log_start);
                    }
                    Err(e) => {
                        resp = resp.with_error_code(e);
                        // With a sequence error the broker reports the log start offset: Java's
                        // producer tells lost producer state (its batches gone below the log
                        // start) from a transient miss (-1) by it (KIP-360).
                        if matches!(e, code::OUT_OF_ORDER_SEQUENCE_NUMBER | UNKNOWN_PRODUCER_ID) {
                            if let Ok(p) = state.partition_mut(&name, data.index) {
                                resp = resp.with_log_start_offset(p.log.log_start());
                            }
                        }
                        // The current leader rides along from v10 (KIP-951).
                        if e == code::NOT_LEADER_OR_FOLLOWER && version >= 10 {
                            if let Ok(p) = state.partition_mut(&name, data.index) {
                                resp = resp.with_current_leader(
                                    LeaderIdAndEpoch::default()
                                        .with_leader_id(BrokerId(p.leader))
                                        .with_leader_epoch(p.leader_epoch),
                                );
                            }
                        }
                        if e == code::MESSAGE_TOO_LARGE {
                            resp = resp.with_error_message(Some(StrBytes::from_static_str(
                                "The request included a message larger than the max message size the server will accept.",
                            )));
                        }
                    }
                }
                partitions.push(resp);
            }
            responses.push(
                TopicProduceResponse::default()
                    .with_name(topic.name)
                    .with_partition_responses(partitions),
            );
        }
    }
    if appended_any {
        ctx.shared.data.notify_waiters();
    }
    if acks == 0 {
        return None;
    }
    Some(ProduceResponse::default().with_responses(responses))
}

/// Validates and appends one partition's records: (outcome, log start offset). `txn`: the
/// transactional id, and whether the request adds the partition to the transaction itself
/// (Produce v12+, transaction version 2).
fn append(
    state: &mut crate::state::ClusterState,
    config: &crate::MockConfig,
    node: i32,
    (topic, partition): (&str, i32),
    txn: Option<(&str, bool)>,
    records: Option<bytes::Bytes>,
) -> Result<(Appended, i64), i16> {
    let txns = &mut state.txns;
    let t = state
        .topics
        .get_mut(topic)
        .ok_or(code::UNKNOWN_TOPIC_OR_PARTITION)?;
    let max_message_bytes = t.max_message_bytes(config);
    let retention = t.retention_bytes(config);
    let p = usize::try_from(partition)
        .ok()
        .and_then(|i| t.partitions.get_mut(i))
        .ok_or(code::UNKNOWN_TOPIC_OR_PARTITION)?;
    if p.leader != node {
        return Err(code::NOT_LEADER_OR_FOLLOWER);
    }
    let records = records.ok_or(code::INVALID_RECORD)?;
    let batches = split_batches(&records)?;
    if batches.iter().any(|(_, b)| b.len() > max_message_bytes) {
        return Err(code::MESSAGE_TOO_LARGE);
    }
    if let Some((id, implicit_add)) = txn {
        if implicit_add {
            if let Some((h, _)) = batches.first() {
                crate::txn::add_partition_implicitly(
                    txns,
                    id,
                    h.producer_id,
                    h.producer_epoch,
                    (topic, partition),
                    tokio::time::Instant::now(),
                )?;
            }
        }
        check_transactional(txns, id, (topic, partition), &batches)?;
    }
    let appended = p.log.append(batches, p.leader_epoch)?;
    p.log.enforce_retention(retention);
    Ok((appended, p.log.log_start()))
}

/// A transactional Produce: the batches carry the transactional attribute and the id's
/// producer id; an older epoch is INVALID_PRODUCER_EPOCH; the partition must have been added to
/// the ongoing transaction (else INVALID_TXN_STATE, as Kafka 4's partition verification answers).
fn check_transactional(
    txns: &crate::txn::Txns,
    id: &str,
    (topic, partition): (&str, i32),
    batches: &[(crate::log::BatchHeader, bytes::Bytes)],
) -> Result<(), i16> {
    let t = txns.get(id).ok_or(code::INVALID_TXN_STATE)?;
    for (h, _) in batches {
        if h.attributes & TRANSACTIONAL == 0 || h.producer_id != t.producer_id {
            return Err(code::INVALID_TXN_STATE);
        }
        if h.producer_epoch < t.epoch {
            return Err(code::INVALID_PRODUCER_EPOCH);
        }
        if h.producer_epoch > t.epoch {
            return Err(code::INVALID_TXN_STATE);
        }
    }
    let added = t.phase == crate::txn::Phase::Ongoing
        && t.partitions.contains(&(topic.to_owned(), partition));
    if !added {
        return Err(code::INVALID_TXN_STATE);
    }
    Ok(())
}

/// InitProducerId without a transactional id (with one: `api::txn`).
pub(super) fn init_producer_id(ctx: Ctx<'_>) -> InitProducerIdResponse {
    let resp = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    // Without a transactional id the broker hands out a new producer id at epoch 0, also when
    // the client names its current one (KIP-360's bump for an idempotent producer).
    let mut state = ctx.shared.lock();
    let id = state.next_producer_id();
    resp.with_producer_id(ProducerId(id)).with_producer_epoch(0)
}
