//! OffsetDelete (KIP-496): removes a group's committed offsets for some partitions, refusing
//! those of topics the group's members are subscribed to.

use super::group::{Group, State};
use super::is_coordinator;
use crate::log::code;
use crate::server::Ctx;
use bytes::Buf;
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{
    ConsumerProtocolSubscription, OffsetDeleteRequest, OffsetDeleteResponse,
};
use kafka_protocol::protocol::Decodable;
use std::collections::BTreeSet;

/// GROUP_SUBSCRIBED_TO_TOPIC.
const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;

/// The topics the members of a consumer group subscribe to, read from their JoinGroup metadata
/// (the consumer protocol's Subscription, versions 0-3). Metadata that does not decode counts
/// as no subscription.
fn subscribed_topics(group: &Group) -> BTreeSet<String> {
    let protocol = group.protocol.clone().unwrap_or_default();
    let mut topics = BTreeSet::new();
    for m in &group.members {
        let mut meta = m.metadata_for(&protocol);
        if meta.len() < 2 {
            continue;
        }
        let version = meta.get_i16();
        if !(0..=3).contains(&version) {
            continue;
        }
        if let Ok(sub) = ConsumerProtocolSubscription::decode(&mut meta, version) {
            topics.extend(sub.topics.iter().map(|t| t.to_string()));
        }
    }
    topics
}

pub(super) fn offset_delete(ctx: Ctx<'_>, req: OffsetDeleteRequest) -> OffsetDeleteResponse {
    let group_id = req.group_id.0.to_string();
    if !is_coordinator(ctx, &group_id) {
        return OffsetDeleteResponse::default().with_error_code(code::NOT_COORDINATOR);
    }
    ctx.shared.groups.with(|groups| {
        let Some(group) = groups.get_mut(&group_id) else {
            return OffsetDeleteResponse::default().with_error_code(code::GROUP_ID_NOT_FOUND);
        };
        // An active group that is not a consumer group: its topics are unknown, so nothing may go.
        let active = group.state != State::Empty;
        let consumer = group.protocol_type.as_deref() == Some("consumer");
        if active && !consumer {
            return OffsetDeleteResponse::default().with_error_code(code::NON_EMPTY_GROUP);
        }
        let subscribed = if active {
            subscribed_topics(group)
        } else if let Some(cg) = group.consumer.as_deref().filter(|c| !c.members.is_empty()) {
            // A KIP-848 group with members: the topics their subscriptions resolve to.
            cg.subscribed.keys().cloned().collect()
        } else {
            BTreeSet::new()
        };
        let topics = req
            .topics
            .into_iter()
            .map(|t| {
                let name = t.name.0.to_string();
                let refused = subscribed.contains(&name);
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let mut r = OffsetDeleteResponsePartition::default()
                            .with_partition_index(p.partition_index);
                        if refused {
                            r = r.with_error_code(GROUP_SUBSCRIBED_TO_TOPIC);
                        } else {
                            group.offsets.remove(&(name.clone(), p.partition_index));
                        }
                        r
                    })
                    .collect();
                OffsetDeleteResponseTopic::default()
                    .with_name(t.name)
                    .with_partitions(partitions)
            })
            .collect();
        OffsetDeleteResponse::default().with_topics(topics)
    })
}
