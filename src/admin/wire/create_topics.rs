//! CreateTopics: new topics with their partition count, replication factor and configs. KRaft
//! brokers forward the request to the controller, so any broker can take it.

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};

use super::topic_answers;
use crate::protocol::requests::{str_bytes, topic_name};
use crate::Result;

/// A topic to create, version-free (the admin client's `NewTopic` maps onto it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopicToCreate<'a> {
    /// Topic name.
    pub name: &'a str,
    /// Partitions (`-1`: the broker's `num.partitions`).
    pub partitions: i32,
    /// Replication factor (`-1`: the broker's `default.replication.factor`).
    pub replication_factor: i16,
    /// Topic configs, `(key, value)`.
    pub configs: Vec<(&'a str, &'a str)>,
}

/// The request creating `topics`, giving the controller `timeout_ms` to finish (every version
/// this client speaks, v2–v7, carries the same fields; v4+ accepts `-1` defaults).
pub(crate) fn request<'a>(
    topics: impl IntoIterator<Item = TopicToCreate<'a>>,
    timeout_ms: i32,
) -> CreateTopicsRequest {
    CreateTopicsRequest::default()
        .with_timeout_ms(timeout_ms)
        .with_topics(
            topics
                .into_iter()
                .map(|t| {
                    CreatableTopic::default()
                        .with_name(topic_name(t.name))
                        .with_num_partitions(t.partitions)
                        .with_replication_factor(t.replication_factor)
                        .with_configs(
                            t.configs
                                .iter()
                                .map(|(k, v)| {
                                    CreatableTopicConfig::default()
                                        .with_name(str_bytes(k))
                                        .with_value(Some(str_bytes(v)))
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
}

/// Every topic's answer, in response order: `Ok` when created, else the broker's error (with its
/// message) naming the topic.
pub(crate) fn parse(resp: &CreateTopicsResponse) -> Vec<(String, Result<()>)> {
    let answers = resp.topics.iter();
    topic_answers(
        "CreateTopics",
        answers.map(|r| (&r.name, r.error_code, r.error_message.as_ref())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;
    use kafka_protocol::messages::create_topics_response::CreatableTopicResult;

    #[test]
    fn request_carries_every_topic_and_encodes_at_every_version() {
        let req = request(
            [
                TopicToCreate {
                    name: "a",
                    partitions: 3,
                    replication_factor: 1,
                    configs: vec![("retention.ms", "1000")],
                },
                TopicToCreate {
                    name: "b",
                    partitions: -1,
                    replication_factor: -1,
                    configs: vec![],
                },
            ],
            30_000,
        );
        assert_eq!(req.timeout_ms, 30_000);
        assert_eq!(req.topics.len(), 2);
        assert_eq!(req.topics[0].name.0.as_str(), "a");
        assert_eq!(req.topics[0].num_partitions, 3);
        assert_eq!(req.topics[0].configs[0].name.as_str(), "retention.ms");
        assert_eq!(
            req.topics[0].configs[0].value.as_ref().map(|v| v.as_str()),
            Some("1000")
        );
        assert_eq!(req.topics[1].replication_factor, -1);
        for v in 2..=7 {
            assert!(encodes(&req, v), "CreateTopics v{v}");
        }
    }

    #[test]
    fn parse_keeps_each_topics_error_and_message() {
        let resp = CreateTopicsResponse::default().with_topics(vec![
            CreatableTopicResult::default().with_name(topic_name("ok")),
            CreatableTopicResult::default()
                .with_name(topic_name("dup"))
                .with_error_code(36)
                .with_error_message(Some(str_bytes("exists"))),
        ]);
        let r = parse(&resp);
        assert_eq!(r.len(), 2);
        assert!(r[0].1.is_ok());
        let e = r[1].1.as_ref().unwrap_err();
        assert_eq!(
            (e.broker_code(), e.topic(), e.broker_message()),
            (Some(36), Some("dup"), Some("exists"))
        );
    }
}
