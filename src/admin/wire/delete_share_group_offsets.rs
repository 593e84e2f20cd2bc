//! DeleteShareGroupOffsets (KIP-932): delete an empty share group's state for whole topics, sent
//! to the group's coordinator. Only v0 exists (Kafka 4.4 too). Answers are per topic.

use kafka_protocol::messages::delete_share_group_offsets_request::DeleteShareGroupOffsetsRequestTopic;
use kafka_protocol::messages::{DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsResponse};

use super::topic_answers;
use crate::protocol::requests::{group_id, topic_name};
use crate::{Error, Result};

/// The request deleting `group`'s offsets of `topics`.
pub(crate) fn request<'a>(
    group: &str,
    topics: impl IntoIterator<Item = &'a str>,
) -> DeleteShareGroupOffsetsRequest {
    DeleteShareGroupOffsetsRequest::default()
        .with_group_id(group_id(group))
        .with_topics(
            topics
                .into_iter()
                .map(|t| {
                    DeleteShareGroupOffsetsRequestTopic::default().with_topic_name(topic_name(t))
                })
                .collect(),
        )
}

/// Every topic's answer, in response order, or the group's error (`NON_EMPTY_GROUP` while it
/// has members, `GROUP_ID_NOT_FOUND`, coordinator errors), with the broker's message.
pub(crate) fn parse(resp: &DeleteShareGroupOffsetsResponse) -> Result<Vec<(String, Result<()>)>> {
    if resp.error_code != 0 {
        return Err(Error::from_broker_code(resp.error_code)
            .with_api("DeleteShareGroupOffsets")
            .with_broker_message(resp.error_message.as_ref().map(|m| m.to_string())));
    }
    Ok(topic_answers(
        "DeleteShareGroupOffsets",
        resp.responses
            .iter()
            .map(|t| (&t.topic_name, t.error_code, t.error_message.as_ref())),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;
    use kafka_protocol::messages::delete_share_group_offsets_response::DeleteShareGroupOffsetsResponseTopic as WireTopic;
    use kafka_protocol::protocol::StrBytes;

    #[test]
    fn request_encodes() {
        let req = request("g", ["a", "b"]);
        assert_eq!(req.group_id.0.as_str(), "g");
        assert_eq!(req.topics.len(), 2);
        assert!(encodes(&req, 0), "DeleteShareGroupOffsets v0");
    }

    #[test]
    fn parse_splits_group_and_topic_errors() {
        let resp = DeleteShareGroupOffsetsResponse::default().with_responses(vec![
            WireTopic::default().with_topic_name(topic_name("a")),
            WireTopic::default()
                .with_topic_name(topic_name("b"))
                .with_error_code(3)
                .with_error_message(Some(StrBytes::from_static_str("unknown topic"))),
        ]);
        let r = parse(&resp).unwrap();
        assert_eq!(r[0].0, "a");
        assert!(r[0].1.is_ok());
        let e = r[1].1.as_ref().unwrap_err();
        assert_eq!((e.broker_code(), e.topic()), (Some(3), Some("b")));
        assert_eq!(e.broker_message(), Some("unknown topic"));
        let e = parse(&DeleteShareGroupOffsetsResponse::default().with_error_code(69)).unwrap_err();
        assert_eq!(e.broker_code(), Some(69));
    }
}
