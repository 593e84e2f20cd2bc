//! The classic group coordinator: FindCoordinator, JoinGroup / SyncGroup / Heartbeat /
//! LeaveGroup, OffsetCommit / OffsetFetch, ListGroups / DescribeGroups / DeleteGroups.

use crate::server::{Close, Ctx, Shared};
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;
use std::sync::Arc;

/// Groups and their committed offsets.
#[derive(Debug, Default)]
pub(crate) struct Groups {}

/// Handles the group APIs.
pub(crate) async fn dispatch(
    _ctx: Ctx<'_>,
    key: ApiKey,
    version: i16,
    _body: &mut Bytes,
) -> Result<Option<BytesMut>, Close> {
    Err(Close::Unsupported(format!("{key:?} v{version} is not served")))
}

/// Expires members whose session timed out; runs for the cluster's lifetime.
pub(crate) async fn background(_shared: Arc<Shared>) {}
