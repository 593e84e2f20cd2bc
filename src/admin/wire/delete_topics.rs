//! DeleteTopics by name. v6 moved the names into `topics` (entries that may also name a topic
//! by id); earlier versions carry `topic_names`.

use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse};

use crate::protocol::requests::{topic_name, topic_result};
use crate::Result;

/// The request deleting `names` at `version`, giving the controller `timeout_ms`.
pub(crate) fn request<'a>(
    names: impl IntoIterator<Item = &'a str>,
    timeout_ms: i32,
    version: i16,
) -> DeleteTopicsRequest {
    let mut req = DeleteTopicsRequest::default().with_timeout_ms(timeout_ms);
    if version >= 6 {
        req.topics = names
            .into_iter()
            .map(|n| DeleteTopicState::default().with_name(Some(topic_name(n))))
            .collect();
    } else {
        req.topic_names = names.into_iter().map(topic_name).collect();
    }
    req
}

/// Every named topic's answer, in response order (entries without a name, which only a
/// delete-by-id answers, are skipped): `Ok` when deleted, else the broker's error naming it.
pub(crate) fn parse(resp: &DeleteTopicsResponse) -> Vec<(String, Result<()>)> {
    resp.responses
        .iter()
        .filter_map(|r| {
            let name = r.name.as_ref()?.0.to_string();
            let result = topic_result(
                "DeleteTopics",
                &name,
                r.error_code,
                r.error_message.as_ref(),
            );
            Some((name, result))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;
    use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;

    #[test]
    fn names_move_into_topics_at_v6_and_every_version_encodes() {
        for v in 1..=6 {
            let req = request(["a", "b"], 5_000, v);
            let names: Vec<String> = if v >= 6 {
                assert!(req.topic_names.is_empty());
                req.topics
                    .iter()
                    .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
                    .collect()
            } else {
                assert!(req.topics.is_empty());
                req.topic_names.iter().map(|n| n.0.to_string()).collect()
            };
            assert_eq!(names, ["a", "b"], "v{v}");
            assert_eq!(req.timeout_ms, 5_000);
            assert!(encodes(&req, v), "DeleteTopics v{v}");
        }
        // The v6 shape does not encode below v6: the builder must pick by version.
        assert!(!encodes(&request(["a"], 5_000, 6), 5));
    }

    #[test]
    fn parse_keeps_errors_and_skips_nameless_entries() {
        let resp = DeleteTopicsResponse::default().with_responses(vec![
            DeletableTopicResult::default().with_name(Some(topic_name("ok"))),
            DeletableTopicResult::default()
                .with_name(Some(topic_name("gone")))
                .with_error_code(3),
            DeletableTopicResult::default()
                .with_name(None)
                .with_error_code(100),
        ]);
        let r = parse(&resp);
        assert_eq!(r.len(), 2);
        assert!(r[0].1.is_ok());
        let e = r[1].1.as_ref().unwrap_err();
        assert_eq!((e.broker_code(), e.topic()), (Some(3), Some("gone")));
    }
}
