//! The classic group coordinator: FindCoordinator, JoinGroup / SyncGroup / Heartbeat /
//! LeaveGroup, OffsetCommit / OffsetFetch, ListGroups / DescribeGroups / DeleteGroups; and in
//! [`consumer`] the KIP-848 one (ConsumerGroupHeartbeat / ConsumerGroupDescribe), whose groups
//! live in the same map (a `Group` with `consumer` set) and share the offset APIs.
//!
//! The rules are Kafka's classic group protocol (`ClassicGroup` / `GroupCoordinator`), written
//! from its documented behaviour:
//! - Each group lives on the broker `coordinator_for(group)` picks; a group request sent to
//!   another broker gets NOT_COORDINATOR.
//! - Membership changes go Empty/Stable → PreparingRebalance → (everyone rejoined, or the
//!   longest rebalance timeout passed) → CompletingRebalance with generation + 1 → (the
//!   leader's SyncGroup) → Stable.
//! - Kafka delays the first rebalance of an empty group by `group.initial.rebalance.delay.ms`
//!   (3 s) to gather members; the mock uses no delay so tests stay fast: the first member forms
//!   generation 1 alone and the next one to join starts generation 2.
//! - Session timeouts must be within Kafka's default bounds (6 s to 30 min). A background task
//!   expires silent members every [`TICK`].
//!
//! The state machine (`group`, `join`, `membership`, `offsets`) takes the time as an argument
//! and does no I/O; waiting requests are answered through oneshot channels, so no lock is held
//! across an `.await`, and a request whose connection goes away just drops its receiver.

mod admin;
pub(crate) mod consumer;
mod group;
mod handlers;
mod join;
mod membership;
mod offset_delete;
mod offsets;
mod rebalance;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_offsets;

use crate::api::injected;
use crate::server::{decode, encode, Close, Ctx, Shared};
use bytes::{Bytes, BytesMut};
use group::Group;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often session and rebalance timeouts are checked.
const TICK: Duration = Duration::from_millis(100);

/// Groups (with their committed offsets), by group id.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    map: Mutex<HashMap<String, Group>>,
}

impl Groups {
    /// Runs `f` on the groups. Never held across an `.await`. A panic while it was held is a
    /// bug of the mock; the state is used anyway, as the cluster state is.
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Group>) -> R) -> R {
        let mut groups = self.map.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut groups)
    }
}

fn str(s: String) -> StrBytes {
    StrBytes::from_string(s)
}

/// Whether this connection's broker coordinates `group`.
fn is_coordinator(ctx: Ctx<'_>, group: &str) -> bool {
    let state = ctx.shared.lock();
    // `coordinator_for` needs a broker; a cluster always has one, this only keeps it that way.
    !state.brokers.is_empty() && state.coordinator_for(group).id == ctx.node
}

/// Handles the group APIs.
pub(crate) async fn dispatch(
    ctx: Ctx<'_>,
    key: ApiKey,
    version: i16,
    body: &mut Bytes,
) -> Result<Option<BytesMut>, Close> {
    match key {
        ApiKey::FindCoordinator => {
            let req: FindCoordinatorRequest = decode(body, version)?;
            if let Some(code) = injected::whole(ctx, key) {
                return encode(&injected::find_coordinator(&req, version, code), version);
            }
            encode(&admin::find_coordinator(ctx, req, version), version)
        }
        ApiKey::JoinGroup => {
            let req: JoinGroupRequest = decode(body, version)?;
            if let Some(code) = injected::whole(ctx, key) {
                return encode(&injected::join_group(&req, code), version);
            }
            encode(&handlers::join_group(ctx, req, version).await, version)
        }
        ApiKey::SyncGroup => {
            let req: SyncGroupRequest = decode(body, version)?;
            if let Some(code) = injected::whole(ctx, key) {
                return encode(&SyncGroupResponse::default().with_error_code(code), version);
            }
            encode(&handlers::sync_group(ctx, req, version).await, version)
        }
        ApiKey::Heartbeat => {
            let req: HeartbeatRequest = decode(body, version)?;
            if let Some(code) = injected::whole(ctx, key) {
                return encode(&HeartbeatResponse::default().with_error_code(code), version);
            }
            encode(&handlers::heartbeat(ctx, req), version)
        }
        ApiKey::LeaveGroup => {
            let req: LeaveGroupRequest = decode(body, version)?;
            if let Some(code) = injected::whole(ctx, key) {
                return encode(
                    &LeaveGroupResponse::default().with_error_code(code),
                    version,
                );
            }
            encode(&handlers::leave_group(ctx, req, version), version)
        }
        ApiKey::OffsetCommit => {
            let req: OffsetCommitRequest = decode(body, version)?;
            if let Some(code) = injected::whole(ctx, key) {
                return encode(&injected::offset_commit(&req, code), version);
            }
            encode(&offsets::offset_commit(ctx, req, version), version)
        }
        ApiKey::OffsetFetch => {
            let req: OffsetFetchRequest = decode(body, version)?;
            if let Some(code) = injected::whole(ctx, key) {
                return encode(&injected::offset_fetch(&req, version, code), version);
            }
            encode(&offsets::offset_fetch(ctx, req, version), version)
        }
        ApiKey::ListGroups => {
            let req: ListGroupsRequest = decode(body, version)?;
            encode(&admin::list_groups(ctx, req), version)
        }
        ApiKey::DescribeGroups => {
            let req: DescribeGroupsRequest = decode(body, version)?;
            encode(&admin::describe_groups(ctx, req), version)
        }
        ApiKey::DeleteGroups => {
            let req: DeleteGroupsRequest = decode(body, version)?;
            encode(&admin::delete_groups(ctx, req), version)
        }
        ApiKey::ConsumerGroupHeartbeat => {
            let req: ConsumerGroupHeartbeatRequest = decode(body, version)?;
            if let Some(code) = injected::whole(ctx, key) {
                return encode(
                    &ConsumerGroupHeartbeatResponse::default().with_error_code(code),
                    version,
                );
            }
            let resp = consumer::handlers::consumer_group_heartbeat(ctx, req, version);
            encode(&resp, version)
        }
        ApiKey::ConsumerGroupDescribe => {
            let req: ConsumerGroupDescribeRequest = decode(body, version)?;
            if let Some(code) = injected::whole(ctx, key) {
                return encode(&injected::consumer_group_describe(&req, code), version);
            }
            encode(
                &consumer::handlers::consumer_group_describe(ctx, req),
                version,
            )
        }
        ApiKey::OffsetDelete => {
            let req: OffsetDeleteRequest = decode(body, version)?;
            encode(&offset_delete::offset_delete(ctx, req), version)
        }
        _ => Err(Close::Unsupported(format!(
            "{key:?} v{version} is not served"
        ))),
    }
}

/// Expires members whose session timed out (classic and KIP-848), fences KIP-848 members past
/// their revocation deadline, completes rebalances whose timeout passed and
/// aborts transactions past their `transaction.timeout.ms`; runs for the cluster's lifetime.
pub(crate) async fn background(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = tokio::time::Instant::now();
        shared.groups.with(|groups| {
            for (id, g) in groups.iter_mut() {
                let mut expired = g.tick(now);
                if let Some(cg) = g.consumer.as_deref_mut() {
                    expired += cg.tick(now);
                }
                if expired > 0 {
                    tracing::debug!(group = %id, expired, "members' sessions expired");
                }
            }
        });
        // Transactions past their timeout are aborted (the groups lock is released first).
        if crate::txn::expire(&mut shared.lock(), now) {
            shared.data.notify_waiters();
        }
    }
}
