//! Metadata: brokers, topics, partitions and leaders. The response becomes the cluster layer's
//! `ClusterMetadata` (`ClusterMetadata::from_response`), which owns the merge rules; the admin
//! client's topic descriptions are built in `admin::wire::describe_topics` from the same request.

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::MetadataRequest;

use super::topic_name;

/// The request for `topics` (`None`: every topic in the cluster), letting the broker create a
/// missing topic when `allow_auto_topic_creation` (`allow.auto.create.topics`) is on.
pub(crate) fn request<'a>(
    topics: Option<impl IntoIterator<Item = &'a str>>,
    allow_auto_topic_creation: bool,
) -> MetadataRequest {
    let topics = topics.map(|ts| {
        ts.into_iter()
            .map(|t| MetadataRequestTopic::default().with_name(Some(topic_name(t))))
            .collect()
    });
    MetadataRequest::default()
        .with_topics(topics)
        .with_allow_auto_topic_creation(allow_auto_topic_creation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::protocol::Encodable;

    #[test]
    fn all_topics_is_null_and_named_topics_encode_at_every_version() {
        assert!(request(None::<Vec<&str>>, true).topics.is_none());
        let req = request(Some(["a", "b"]), false);
        let names: Vec<&str> = req
            .topics
            .iter()
            .flatten()
            .filter_map(|t| t.name.as_ref().map(|n| n.0.as_str()))
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert!(!req.allow_auto_topic_creation);
        for v in 4..=12 {
            assert!(req.encode(&mut BytesMut::new(), v).is_ok(), "Metadata v{v}");
        }
    }
}
