//! Fetch (long polls) and ListOffsets.

use crate::fault::Hit;
use crate::log::code;
use crate::server::Ctx;
use crate::state::Partition;
use bytes::BytesMut;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{
    BrokerId, FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse, ProducerId,
};
use std::time::Duration;
use tokio::time::Instant;

/// FETCH_SESSION_ID_NOT_FOUND: the mock never creates fetch sessions.
const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
/// The longest a fetch waits, whatever it asks (a broker bounds it by the request timeout).
const MAX_WAIT: Duration = Duration::from_secs(30);

/// The leader-epoch check a broker makes on Fetch and ListOffsets (KIP-320): -1 skips it.
fn check_epoch(p: &Partition, current_leader_epoch: i32) -> Result<(), i16> {
    if current_leader_epoch < 0 || current_leader_epoch == p.leader_epoch {
        Ok(())
    } else if current_leader_epoch < p.leader_epoch {
        Err(code::FENCED_LEADER_EPOCH)
    } else {
        Err(code::UNKNOWN_LEADER_EPOCH)
    }
}

pub(super) async fn fetch(ctx: Ctx<'_>, req: FetchRequest, version: i16) -> FetchResponse {
    if req.session_id != 0 {
        // An incremental fetch on a session the mock never handed out.
        return FetchResponse::default().with_error_code(FETCH_SESSION_ID_NOT_FOUND);
    }
    let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0)).min(MAX_WAIT);
    let deadline = Instant::now() + wait;
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0);
    let targets: Vec<(&str, i32)> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (t.topic.0.as_str(), p.partition))
        })
        .collect();
    let fault = ctx.take_fault(1, &targets);
    loop {
        // Registered before the log is read, so an append between the read and the wait
        // still wakes this poll.
        let notified = ctx.shared.data.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (resp, bytes, errors) = read(ctx, &req, version, fault.as_ref());
        if bytes >= min_bytes.max(1) || errors || Instant::now() >= deadline {
            return resp;
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// One pass over the requested partitions: (response, record bytes, any partition error).
fn read(
    ctx: Ctx<'_>,
    req: &FetchRequest,
    version: i16,
    fault: Option<&Hit>,
) -> (FetchResponse, usize, bool) {
    let mut state = ctx.shared.lock();
    let max_bytes = if version >= 3 {
        usize::try_from(req.max_bytes).unwrap_or(0)
    } else {
        usize::MAX
    };
    let read_committed = req.isolation_level == 1;
    let mut total = 0usize;
    let mut errors = false;
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let name = t.topic.0.to_string();
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for fp in &t.partitions {
            let mut out = PartitionData::default()
                .with_partition_index(fp.partition)
                .with_high_watermark(-1)
                .with_last_stable_offset(-1)
                .with_log_start_offset(-1)
                .with_preferred_read_replica(BrokerId(-1))
                .with_aborted_transactions(read_committed.then(Vec::new));
            let injected = fault.filter(|f| f.covers(&name, fp.partition));
            let answer = state.partition_mut(&name, fp.partition).and_then(|p| {
                if let Some(f) = injected {
                    return Err(f.code);
                }
                if p.leader != ctx.node {
                    return Err(code::NOT_LEADER_OR_FOLLOWER);
                }
                check_epoch(p, fp.current_leader_epoch)?;
                Ok(p)
            });
            match answer {
                Err(e) => {
                    errors = true;
                    out = out.with_error_code(e);
                }
                Ok(p) => {
                    let hw = p.log.log_end();
                    let lso = p.log.last_stable_offset();
                    // read_committed: only below the LSO, with the aborted transactions of the
                    // range so the consumer can drop their records.
                    let end = if read_committed { lso } else { i64::MAX };
                    out = out
                        .with_high_watermark(hw)
                        .with_last_stable_offset(lso)
                        .with_log_start_offset(p.log.log_start());
                    // The first partition with data gets at least one batch whatever the
                    // limits (KIP-74); the others only while the response has room.
                    let room = max_bytes.saturating_sub(total);
                    let part_max = usize::try_from(fp.partition_max_bytes).unwrap_or(0);
                    let limit = if total == 0 {
                        part_max.min(max_bytes).max(1)
                    } else {
                        part_max.min(room)
                    };
                    if limit == 0 && total > 0 {
                        // No room left: an empty answer, the client asks again.
                    } else {
                        if read_committed {
                            let aborted = p
                                .log
                                .aborted_between(fp.fetch_offset, lso)
                                .into_iter()
                                .map(|(pid, first)| {
                                    AbortedTransaction::default()
                                        .with_producer_id(ProducerId(pid))
                                        .with_first_offset(first)
                                })
                                .collect();
                            out = out.with_aborted_transactions(Some(aborted));
                        }
                        match p.log.read_below(fp.fetch_offset, limit, end) {
                            Err(e) => {
                                errors = true;
                                out = out.with_error_code(e);
                            }
                            Ok(batches) if !batches.is_empty() => {
                                let len: usize = batches.iter().map(|b| b.len()).sum();
                                let mut buf = BytesMut::with_capacity(len);
                                for b in batches {
                                    buf.extend_from_slice(&b);
                                }
                                total += len;
                                out = out.with_records(Some(buf.freeze()));
                            }
                            Ok(_) => {}
                        }
                    }
                }
            }
            partitions.push(out);
        }
        topics.push(
            FetchableTopicResponse::default()
                .with_topic(t.topic.clone())
                .with_topic_id(t.topic_id)
                .with_partitions(partitions),
        );
    }
    (
        FetchResponse::default()
            .with_session_id(0)
            .with_responses(topics),
        total,
        errors,
    )
}

pub(super) fn list_offsets(
    ctx: Ctx<'_>,
    req: ListOffsetsRequest,
    version: i16,
) -> ListOffsetsResponse {
    let targets: Vec<(&str, i32)> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (t.name.0.as_str(), p.partition_index))
        })
        .collect();
    let fault = ctx.take_fault(2, &targets);
    let read_committed = req.isolation_level == 1;
    let mut state = ctx.shared.lock();
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let name = t.name.0.to_string();
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for lp in t.partitions {
            let out = ListOffsetsPartitionResponse::default()
                .with_partition_index(lp.partition_index)
                .with_timestamp(-1)
                .with_offset(-1)
                .with_leader_epoch(-1);
            let injected = fault
                .as_ref()
                .filter(|f| f.covers(&name, lp.partition_index));
            let answer = state
                .partition_mut(&name, lp.partition_index)
                .and_then(|p| {
                    if let Some(f) = injected {
                        return Err(f.code);
                    }
                    if p.leader != ctx.node {
                        return Err(code::NOT_LEADER_OR_FOLLOWER);
                    }
                    check_epoch(p, lp.current_leader_epoch)?;
                    let (offset, ts) = match lp.timestamp {
                        -2 => (p.log.log_start(), -1),
                        -1 if read_committed => (p.log.last_stable_offset(), -1),
                        -1 => (p.log.log_end(), -1),
                        -3 => p.log.max_timestamp().unwrap_or((-1, -1)),
                        ts if ts >= 0 => p.log.offset_for_timestamp(ts).unwrap_or((-1, -1)),
                        _ => return Err(code::INVALID_REQUEST),
                    };
                    Ok((offset, ts, p.leader_epoch))
                });
            partitions.push(match answer {
                // The leader epoch is in the answer from v4.
                Ok((offset, ts, epoch)) => out
                    .with_offset(offset)
                    .with_timestamp(ts)
                    .with_leader_epoch(if version >= 4 { epoch } else { -1 }),
                Err(e) => out.with_error_code(e),
            });
        }
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions),
        );
    }
    ListOffsetsResponse::default().with_topics(topics)
}
