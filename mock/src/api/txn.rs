//! The transaction coordinator's APIs: InitProducerId with a transactional id,
//! AddPartitionsToTxn (v0-3), AddOffsetsToTxn, TxnOffsetCommit (v5: the group joins the
//! transaction implicitly), EndTxn (v5: the epoch is bumped and handed back; transaction
//! version 2), DescribeTransactions.
//! Each is answered by the broker `coordinator_for` the id (the group's, for TxnOffsetCommit);
//! another broker answers NOT_COORDINATOR.

use crate::log::code;
use crate::server::Ctx;
use crate::txn;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::*;
use tokio::time::Instant;

/// PRODUCER_FENCED as a request of this version knows it: INVALID_PRODUCER_EPOCH below
/// `fenced_from` (KIP-588's versions).
fn versioned(code: i16, version: i16, fenced_from: i16) -> i16 {
    if code == code::PRODUCER_FENCED && version < fenced_from {
        code::INVALID_PRODUCER_EPOCH
    } else {
        code
    }
}

fn is_coordinator(ctx: Ctx<'_>, state: &crate::state::ClusterState, key: &str) -> bool {
    !state.brokers.is_empty() && state.coordinator_for(key).id == ctx.node
}

/// InitProducerId with a transactional id.
pub(super) fn init_producer_id(
    ctx: Ctx<'_>,
    id: &str,
    timeout_ms: i32,
    version: i16,
) -> InitProducerIdResponse {
    let resp = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let outcome = {
        let mut state = ctx.shared.lock();
        if !is_coordinator(ctx, &state, id) {
            Err(code::NOT_COORDINATOR)
        } else {
            txn::init(&mut state, id, timeout_ms, Instant::now())
        }
    };
    match outcome {
        Ok(((pid, epoch), wrote)) => {
            if wrote {
                ctx.shared.data.notify_waiters();
            }
            resp.with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch)
        }
        Err(e) => resp.with_error_code(versioned(e, version, 4)),
    }
}

pub(super) fn add_partitions(
    ctx: Ctx<'_>,
    req: AddPartitionsToTxnRequest,
    version: i16,
) -> AddPartitionsToTxnResponse {
    let id = req.v3_and_below_transactional_id.0.to_string();
    let wanted: Vec<(String, i32)> = req
        .v3_and_below_topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.name.0.to_string(), *p)))
        .collect();
    let codes = {
        let mut state = ctx.shared.lock();
        if !is_coordinator(ctx, &state, &id) {
            Err(code::NOT_COORDINATOR)
        } else {
            txn::add_partitions(
                &mut state,
                &id,
                req.v3_and_below_producer_id.0,
                req.v3_and_below_producer_epoch,
                &wanted,
                Instant::now(),
            )
        }
    };
    let codes = match codes {
        Ok(c) => c,
        Err(e) => vec![versioned(e, version, 2); wanted.len()],
    };
    let mut i = 0usize;
    let results = req
        .v3_and_below_topics
        .iter()
        .map(|t| {
            let parts = t
                .partitions
                .iter()
                .map(|p| {
                    let c = codes.get(i).copied().unwrap_or(code::NONE);
                    i += 1;
                    AddPartitionsToTxnPartitionResult::default()
                        .with_partition_index(*p)
                        .with_partition_error_code(c)
                })
                .collect();
            AddPartitionsToTxnTopicResult::default()
                .with_name(t.name.clone())
                .with_results_by_partition(parts)
        })
        .collect();
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results)
}

pub(super) fn add_offsets(
    ctx: Ctx<'_>,
    req: AddOffsetsToTxnRequest,
    version: i16,
) -> AddOffsetsToTxnResponse {
    let id = req.transactional_id.0.to_string();
    let mut state = ctx.shared.lock();
    let outcome = if !is_coordinator(ctx, &state, &id) {
        Err(code::NOT_COORDINATOR)
    } else {
        txn::add_offsets(
            &mut state,
            &id,
            req.producer_id.0,
            req.producer_epoch,
            req.group_id.0.as_str(),
            Instant::now(),
        )
    };
    let code = outcome
        .err()
        .map_or(code::NONE, |e| versioned(e, version, 2));
    AddOffsetsToTxnResponse::default().with_error_code(code)
}

pub(super) fn txn_offset_commit(
    ctx: Ctx<'_>,
    req: TxnOffsetCommitRequest,
    version: i16,
) -> TxnOffsetCommitResponse {
    let group = req.group_id.0.to_string();
    let mut offsets = Vec::new();
    for t in &req.topics {
        for p in &t.partitions {
            offsets.push((
                (t.name.0.to_string(), p.partition_index),
                (
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.committed_metadata.as_ref().map(|m| m.to_string()),
                ),
            ));
        }
    }
    // A KIP-848 group checks the committing member first (the groups lock, then the state's).
    let member_error =
        ctx.shared
            .groups
            .txn_commit_error(&group, req.member_id.as_str(), req.generation_id);
    let outcome = {
        let mut state = ctx.shared.lock();
        if !is_coordinator(ctx, &state, &group) {
            Err(code::NOT_COORDINATOR)
        } else if member_error != code::NONE {
            Err(member_error)
        } else if offsets
            .iter()
            .any(|((t, p), _)| state.partition_mut(t, *p).is_err())
        {
            Err(code::UNKNOWN_TOPIC_OR_PARTITION)
        } else {
            txn::commit_offsets(
                &mut state,
                req.transactional_id.0.as_str(),
                (req.producer_id.0, req.producer_epoch),
                &group,
                offsets,
                // v5 (transaction version 2): no AddOffsetsToTxn came; the group is added here.
                (version >= 5).then(Instant::now),
            )
        }
    };
    // The group coordinator answers a stale epoch with INVALID_PRODUCER_EPOCH.
    let code = outcome.err().map_or(code::NONE, |e| versioned(e, 0, 1));
    let topics = req
        .topics
        .iter()
        .map(|t| {
            TxnOffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            TxnOffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(code)
                        })
                        .collect(),
                )
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}

pub(super) fn end_txn(ctx: Ctx<'_>, req: EndTxnRequest, version: i16) -> EndTxnResponse {
    let id = req.transactional_id.0.to_string();
    let outcome = {
        let mut state = ctx.shared.lock();
        if !is_coordinator(ctx, &state, &id) {
            Err(code::NOT_COORDINATOR)
        } else {
            txn::end(
                &mut state,
                &id,
                (req.producer_id.0, req.producer_epoch),
                req.committed,
                version >= 5,
            )
        }
    };
    let resp = EndTxnResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    match outcome {
        Ok(ended) => {
            // Markers written: read_committed fetches waiting on the LSO may answer now.
            ctx.shared.data.notify_waiters();
            for (group, offsets) in ended.offsets {
                ctx.shared.groups.commit_transactional(&group, offsets);
            }
            if version >= 5 {
                // The producer id and epoch of the producer's next transaction.
                let (pid, epoch) = ended.producer;
                return resp
                    .with_producer_id(ProducerId(pid))
                    .with_producer_epoch(epoch);
            }
            resp
        }
        Err(e) => resp.with_error_code(versioned(e, version, 2)),
    }
}

/// DescribeTransactions: each id's state as Kafka names it, its producer id and epoch, timeout,
/// start time and partitions; TRANSACTIONAL_ID_NOT_FOUND for an unknown id, NOT_COORDINATOR when
/// another broker coordinates it.
pub(super) fn describe_transactions(
    ctx: Ctx<'_>,
    req: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
    use kafka_protocol::protocol::StrBytes;
    let state = ctx.shared.lock();
    let now = Instant::now();
    let wall_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let states = req
        .transactional_ids
        .into_iter()
        .map(|id| {
            let described = TransactionState::default()
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1)
                .with_transaction_start_time_ms(-1);
            let key = id.0.to_string();
            let described = described.with_transactional_id(id);
            if !is_coordinator(ctx, &state, &key) {
                return described.with_error_code(code::NOT_COORDINATOR);
            }
            let Some(t) = state.txns.get(&key) else {
                return described.with_error_code(TRANSACTIONAL_ID_NOT_FOUND);
            };
            let name = match t.phase {
                txn::Phase::Empty => "Empty",
                txn::Phase::Ongoing => "Ongoing",
                txn::Phase::CompleteCommit => "CompleteCommit",
                txn::Phase::CompleteAbort => "CompleteAbort",
            };
            let mut topics: Vec<TopicData> = Vec::new();
            for (topic, p) in &t.partitions {
                match topics.last_mut() {
                    Some(last) if last.topic.0.as_str() == topic => last.partitions.push(*p),
                    _ => topics.push(
                        TopicData::default()
                            .with_topic(TopicName(StrBytes::from_string(topic.clone())))
                            .with_partitions(vec![*p]),
                    ),
                }
            }
            let start_ms = if t.phase == txn::Phase::Ongoing {
                wall_ms - now.saturating_duration_since(t.started).as_millis() as i64
            } else {
                -1
            };
            described
                .with_transaction_state(StrBytes::from_static_str(name))
                .with_transaction_timeout_ms(t.timeout.as_millis() as i32)
                .with_transaction_start_time_ms(start_ms)
                .with_producer_id(ProducerId(t.producer_id))
                .with_producer_epoch(t.epoch)
                .with_topics(topics)
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}

/// Kafka's TRANSACTIONAL_ID_NOT_FOUND.
const TRANSACTIONAL_ID_NOT_FOUND: i16 = 105;
