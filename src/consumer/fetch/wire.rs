//! Conversions between the fetch core's plans and the `kafka-protocol` Fetch messages (topic
//! names, Fetch v4 to v12). Decode responses through the crate's guarded decoder first.

use std::collections::BTreeMap;

use kafka_protocol::messages::fetch_request::{
    FetchPartition as WirePartition, FetchTopic, ForgottenTopic,
};
use kafka_protocol::messages::{BrokerId as WireBrokerId, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::types::{Offset, ProducerId, TopicPartition};

use super::{AbortedTransaction, FetchPlan, FetchResponseData, FetchResponsePartition};

fn topic_name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_owned()))
}

impl FetchPlan {
    /// The consumer's Fetch request for this plan (`replica_id = -1`, `last_fetched_epoch = -1`:
    /// no KIP-320 divergence check; `log_start_offset = -1`; no rack).
    pub fn to_request(&self) -> FetchRequest {
        let mut topics: BTreeMap<&str, Vec<WirePartition>> = BTreeMap::new();
        for p in &self.partitions {
            topics.entry(p.tp.topic.as_str()).or_default().push(
                WirePartition::default()
                    .with_partition(p.tp.partition)
                    .with_current_leader_epoch(p.current_leader_epoch.get())
                    .with_fetch_offset(p.fetch_offset.get())
                    .with_last_fetched_epoch(-1)
                    .with_log_start_offset(-1)
                    .with_partition_max_bytes(p.partition_max_bytes),
            );
        }
        let mut forgotten: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for tp in &self.forgotten {
            forgotten
                .entry(tp.topic.as_str())
                .or_default()
                .push(tp.partition);
        }
        let max_wait_ms = i32::try_from(self.max_wait.as_millis()).unwrap_or(i32::MAX);
        FetchRequest::default()
            .with_replica_id(WireBrokerId(-1))
            .with_max_wait_ms(max_wait_ms)
            .with_min_bytes(self.min_bytes)
            .with_max_bytes(self.max_bytes)
            .with_isolation_level(self.isolation_level.to_wire())
            .with_session_id(self.session_id)
            .with_session_epoch(self.session_epoch)
            .with_topics(
                topics
                    .into_iter()
                    .map(|(t, ps)| {
                        FetchTopic::default()
                            .with_topic(topic_name(t))
                            .with_partitions(ps)
                    })
                    .collect(),
            )
            .with_forgotten_topics_data(
                forgotten
                    .into_iter()
                    .map(|(t, ps)| {
                        ForgottenTopic::default()
                            .with_topic(topic_name(t))
                            .with_partitions(ps)
                    })
                    .collect(),
            )
    }
}

impl FetchResponseData {
    /// Takes a decoded Fetch response apart (records stay zero-copy `Bytes`).
    pub fn from_response(response: FetchResponse) -> FetchResponseData {
        let mut partitions = Vec::new();
        for topic in response.responses {
            let name: &str = &topic.topic.0;
            for p in topic.partitions {
                partitions.push(FetchResponsePartition {
                    tp: TopicPartition::new(name, p.partition_index),
                    error_code: p.error_code,
                    high_watermark: p.high_watermark,
                    last_stable_offset: p.last_stable_offset,
                    log_start_offset: p.log_start_offset,
                    aborted_transactions: p
                        .aborted_transactions
                        .unwrap_or_default()
                        .into_iter()
                        .map(|a| AbortedTransaction {
                            producer_id: ProducerId(a.producer_id.0),
                            first_offset: Offset(a.first_offset),
                        })
                        .collect(),
                    records: p.records.unwrap_or_default(),
                });
            }
        }
        FetchResponseData {
            error_code: response.error_code,
            session_id: response.session_id,
            partitions,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kafka_protocol::messages::fetch_response::{
        AbortedTransaction as WireAborted, FetchableTopicResponse, PartitionData,
    };

    use super::super::{FetchPartition, IsolationLevel};
    use super::*;
    use crate::types::{BrokerId, LeaderEpoch};

    #[test]
    fn plan_to_request_groups_by_topic() {
        let tp = |t: &str, p| TopicPartition::new(t, p);
        let part = |t: &str, p, o| FetchPartition {
            tp: tp(t, p),
            fetch_offset: Offset(o),
            current_leader_epoch: LeaderEpoch(4),
            partition_max_bytes: 1024,
        };
        let plan = FetchPlan {
            broker: BrokerId(1),
            session_id: 9,
            session_epoch: 3,
            partitions: vec![part("a", 0, 10), part("a", 1, 11), part("b", 0, 12)],
            forgotten: vec![tp("c", 2)],
            max_wait: Duration::from_millis(500),
            min_bytes: 1,
            max_bytes: 1 << 20,
            isolation_level: IsolationLevel::ReadCommitted,
        };
        let r = plan.to_request();
        assert_eq!(
            (
                r.session_id,
                r.session_epoch,
                r.isolation_level,
                r.max_wait_ms
            ),
            (9, 3, 1, 500)
        );
        assert_eq!(r.replica_id.0, -1);
        assert_eq!(r.topics.len(), 2);
        assert_eq!(&*r.topics[0].topic.0, "a");
        assert_eq!(r.topics[0].partitions[1].fetch_offset, 11);
        assert_eq!(r.topics[0].partitions[1].current_leader_epoch, 4);
        assert_eq!(r.forgotten_topics_data[0].partitions, vec![2]);
    }

    #[test]
    fn response_is_taken_apart() {
        let resp = FetchResponse::default()
            .with_session_id(5)
            .with_responses(vec![FetchableTopicResponse::default()
                .with_topic(topic_name("a"))
                .with_partitions(vec![PartitionData::default()
                    .with_partition_index(2)
                    .with_high_watermark(10)
                    .with_aborted_transactions(Some(vec![WireAborted::default()
                        .with_producer_id(kafka_protocol::messages::ProducerId(7))
                        .with_first_offset(3)]))
                    .with_records(Some(bytes::Bytes::from_static(b"xyz")))])]);
        let d = FetchResponseData::from_response(resp);
        assert_eq!(d.session_id, 5);
        let p = &d.partitions[0];
        assert_eq!(
            (p.tp.partition, p.high_watermark, p.records.len()),
            (2, 10, 3)
        );
        assert_eq!(p.aborted_transactions[0].producer_id, ProducerId(7));
    }
}
