//! The offset APIs' member checks for KIP-848 groups (Kafka's `ConsumerGroup`
//! `validateOffsetCommit` / `validateOffsetFetch`): the member epoch plays the generation.

use super::ConsumerGroup;
use crate::groups::group::Group;
use crate::groups::offsets::CommitParams;
use crate::log::code;
use std::collections::HashMap;

/// Kafka's STALE_MEMBER_EPOCH: a consumer-protocol member committing at another epoch.
pub(crate) const STALE_MEMBER_EPOCH: i16 = 113;

/// Kafka's `ConsumerGroup.validateOffsetCommit`: a commit outside group management (epoch < 0)
/// while the group has no members, or a member at its current epoch with OffsetCommit v9+.
pub(crate) fn consumer_commit_error(cg: &ConsumerGroup, c: &CommitParams) -> i16 {
    if c.generation < 0 && cg.members.is_empty() {
        return code::NONE;
    }
    let Some(m) = cg.members.get(&c.member_id) else {
        return code::UNKNOWN_MEMBER_ID;
    };
    if c.version < 9 {
        code::UNSUPPORTED_VERSION
    } else if c.generation != m.epoch {
        STALE_MEMBER_EPOCH
    } else {
        code::NONE
    }
}

/// Kafka's `ConsumerGroup.validateOffsetFetch` (OffsetFetch v9+ names the member): no member
/// id and epoch < 0 (an admin client, or a client that does not say) is always answered.
pub(crate) fn fetch_error(
    groups: &HashMap<String, Group>,
    group_id: &str,
    member_id: Option<&str>,
    epoch: i32,
) -> i16 {
    let Some(cg) = groups.get(group_id).and_then(|g| g.consumer.as_deref()) else {
        return code::NONE;
    };
    if member_id.is_none() && epoch < 0 {
        return code::NONE;
    }
    match cg.members.get(member_id.unwrap_or_default()) {
        None => code::UNKNOWN_MEMBER_ID,
        Some(m) if m.epoch != epoch => STALE_MEMBER_EPOCH,
        Some(_) => code::NONE,
    }
}

impl crate::groups::Groups {
    /// TxnOffsetCommit's membership check for a KIP-848 group, as Kafka's: a commit outside
    /// group management (generation < 0) while the group has no members, else a member at its
    /// epoch (a stale one is ILLEGAL_GENERATION for transactional commits). Other groups: NONE.
    pub(crate) fn txn_commit_error(&self, group_id: &str, member_id: &str, generation: i32) -> i16 {
        self.with(|groups| {
            let Some(cg) = groups.get(group_id).and_then(|g| g.consumer.as_deref()) else {
                return code::NONE;
            };
            match consumer_commit_error(
                cg,
                &CommitParams {
                    member_id: member_id.to_owned(),
                    instance_id: None,
                    generation,
                    // Transactional commits are not held to OffsetCommit's v9 floor.
                    version: i16::MAX,
                },
            ) {
                STALE_MEMBER_EPOCH => code::ILLEGAL_GENERATION,
                e => e,
            }
        })
    }
}
