//! The transaction-inspection APIs of KIP-664: DescribeProducers (a partition's active
//! idempotent/transactional producers, from its leader), ListTransactions (the transactional ids
//! a broker coordinates) and DescribeTransactions (one transactional id's state, from its
//! transaction coordinator).

use std::collections::BTreeMap;
use std::fmt;

use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::{
    DescribeProducersRequest, DescribeProducersResponse, DescribeTransactionsRequest,
    DescribeTransactionsResponse, ListTransactionsRequest, ListTransactionsResponse,
    TransactionalId,
};

use crate::protocol::requests::{by_topic, str_bytes, topic_name};
use crate::types::{Offset, ProducerEpoch, ProducerId, TopicPartition};
use crate::{Error, Result};

/// A producer with state on a partition.
///
/// `Display` prints one line: `producer 7 epoch 0 last sequence 9`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerDescription {
    /// The producer id.
    pub producer_id: ProducerId,
    /// Its epoch (wider than [`ProducerEpoch`] on this API's wire: an `int32`).
    pub producer_epoch: i32,
    /// The last sequence number it wrote (`-1`: none).
    pub last_sequence: i32,
    /// The timestamp of its last write (ms).
    pub last_timestamp: i64,
    /// The epoch of the transaction coordinator that wrote its last marker, if any.
    pub coordinator_epoch: Option<i32>,
    /// The first offset of its open transaction, if one is open.
    pub current_transaction_start_offset: Option<Offset>,
}

impl fmt::Display for ProducerDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "producer {} epoch {} last sequence {}",
            self.producer_id, self.producer_epoch, self.last_sequence
        )?;
        if let Some(o) = self.current_transaction_start_offset {
            write!(f, " open transaction from offset {o}")?;
        }
        Ok(())
    }
}

/// A transaction as ListTransactions lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub struct ListedTransaction {
    /// The transactional id.
    pub transactional_id: String,
    /// Its current producer id.
    pub producer_id: ProducerId,
    /// Its state (`Empty`, `Ongoing`, `PrepareCommit`, `CompleteCommit`, …).
    pub state: String,
}

impl fmt::Display for ListedTransaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "transactional id {} producer {} state {}",
            self.transactional_id, self.producer_id, self.state
        )
    }
}

/// A described transaction.
///
/// `Display` prints one line: `transactional id t producer 7 epoch 0 state Ongoing: 1 partition(s)`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionDescription {
    /// The transactional id.
    pub transactional_id: String,
    /// Its state.
    pub state: String,
    /// `transaction.timeout.ms` of its producer.
    pub timeout_ms: i32,
    /// When the open transaction started (ms), if one is open.
    pub start_time_ms: Option<i64>,
    /// Its producer id.
    pub producer_id: ProducerId,
    /// Its producer epoch.
    pub producer_epoch: ProducerEpoch,
    /// The partitions in the open transaction.
    pub partitions: Vec<TopicPartition>,
}

impl fmt::Display for TransactionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "transactional id {} producer {} epoch {} state {}: {} partition(s)",
            self.transactional_id,
            self.producer_id,
            self.producer_epoch,
            self.state,
            self.partitions.len()
        )
    }
}

/// The DescribeProducers request for `partitions` (only v0 exists).
pub(crate) fn describe_producers_request(
    partitions: &[TopicPartition],
) -> DescribeProducersRequest {
    DescribeProducersRequest::default().with_topics(
        by_topic(partitions.iter().map(|tp| (tp, tp.partition)))
            .into_iter()
            .map(|(t, ps)| {
                TopicRequest::default()
                    .with_name(topic_name(t))
                    .with_partition_indexes(ps)
            })
            .collect(),
    )
}

/// Every partition's producers, or its error.
pub(crate) fn parse_describe_producers(
    resp: &DescribeProducersResponse,
) -> BTreeMap<TopicPartition, Result<Vec<ProducerDescription>>> {
    let mut out = BTreeMap::new();
    for t in &resp.topics {
        for p in &t.partitions {
            let tp = TopicPartition::new(t.name.0.as_str(), p.partition_index);
            let r = if p.error_code != 0 {
                Err(Error::from_broker_code(p.error_code)
                    .with_partition(tp.topic.clone(), tp.partition)
                    .with_api("DescribeProducers")
                    .with_broker_message(p.error_message.as_ref().map(|m| m.to_string())))
            } else {
                Ok(p.active_producers
                    .iter()
                    .map(|s| ProducerDescription {
                        producer_id: ProducerId(s.producer_id.0),
                        producer_epoch: s.producer_epoch,
                        last_sequence: s.last_sequence,
                        last_timestamp: s.last_timestamp,
                        coordinator_epoch: (s.coordinator_epoch >= 0)
                            .then_some(s.coordinator_epoch),
                        current_transaction_start_offset: (s.current_txn_start_offset >= 0)
                            .then_some(Offset(s.current_txn_start_offset)),
                    })
                    .collect())
            };
            out.insert(tp, r);
        }
    }
    out
}

/// The ListTransactions request for every transaction the broker coordinates.
pub(crate) fn list_transactions_request() -> ListTransactionsRequest {
    ListTransactionsRequest::default()
}

/// The transactions listed, or the broker's error.
pub(crate) fn parse_list_transactions(
    resp: &ListTransactionsResponse,
) -> Result<Vec<ListedTransaction>> {
    if resp.error_code != 0 {
        return Err(Error::from_broker_code(resp.error_code).with_api("ListTransactions"));
    }
    Ok(resp
        .transaction_states
        .iter()
        .map(|t| ListedTransaction {
            transactional_id: t.transactional_id.0.to_string(),
            producer_id: ProducerId(t.producer_id.0),
            state: t.transaction_state.to_string(),
        })
        .collect())
}

/// The DescribeTransactions request for `ids` (only v0 exists).
pub(crate) fn describe_transactions_request<'a>(
    ids: impl IntoIterator<Item = &'a str>,
) -> DescribeTransactionsRequest {
    DescribeTransactionsRequest::default().with_transactional_ids(
        ids.into_iter()
            .map(|id| TransactionalId(str_bytes(id)))
            .collect(),
    )
}

/// Every transactional id's description, or its error (`TRANSACTIONAL_ID_NOT_FOUND`, …).
pub(crate) fn parse_describe_transactions(
    resp: &DescribeTransactionsResponse,
) -> Vec<(String, Result<TransactionDescription>)> {
    resp.transaction_states
        .iter()
        .map(|t| {
            let id = t.transactional_id.0.to_string();
            if t.error_code != 0 {
                let e = Error::from_broker_code(t.error_code)
                    .with_api("DescribeTransactions")
                    .with_detail(format!("transactional id {id}"));
                return (id, Err(e));
            }
            let d = TransactionDescription {
                transactional_id: id.clone(),
                state: t.transaction_state.to_string(),
                timeout_ms: t.transaction_timeout_ms,
                start_time_ms: (t.transaction_start_time_ms >= 0)
                    .then_some(t.transaction_start_time_ms),
                producer_id: ProducerId(t.producer_id.0),
                producer_epoch: ProducerEpoch(t.producer_epoch),
                partitions: t
                    .topics
                    .iter()
                    .flat_map(|td| {
                        td.partitions
                            .iter()
                            .map(|p| TopicPartition::new(td.topic.0.as_str(), *p))
                    })
                    .collect(),
            };
            (id, Ok(d))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;
    use kafka_protocol::messages::describe_producers_response::{
        PartitionResponse, ProducerState, TopicResponse,
    };
    use kafka_protocol::messages::describe_transactions_response::{
        TopicData, TransactionState as Described,
    };
    use kafka_protocol::messages::list_transactions_response::TransactionState as Listed;
    use kafka_protocol::messages::ProducerId as WireProducerId;

    #[test]
    fn requests_encode_at_every_version() {
        let tps = [TopicPartition::new("a", 0)];
        assert!(encodes(&describe_producers_request(&tps), 0));
        for v in 0..=2 {
            assert!(
                encodes(&list_transactions_request(), v),
                "ListTransactions v{v}"
            );
        }
        assert!(encodes(&describe_transactions_request(["t"]), 0));
    }

    #[test]
    fn parsers_keep_per_resource_errors() {
        let resp = DescribeProducersResponse::default().with_topics(vec![TopicResponse::default()
            .with_name(topic_name("a"))
            .with_partitions(vec![
                PartitionResponse::default()
                    .with_partition_index(0)
                    .with_active_producers(vec![ProducerState::default()
                        .with_producer_id(WireProducerId(7))
                        .with_last_sequence(9)
                        .with_coordinator_epoch(-1)
                        .with_current_txn_start_offset(-1)]),
                PartitionResponse::default()
                    .with_partition_index(1)
                    .with_error_code(6),
            ])]);
        let m = parse_describe_producers(&resp);
        let p = &m[&TopicPartition::new("a", 0)].as_ref().unwrap()[0];
        assert_eq!(p.to_string(), "producer 7 epoch 0 last sequence 9");
        assert_eq!(p.current_transaction_start_offset, None);
        assert!(m[&TopicPartition::new("a", 1)].is_err());

        let l =
            ListTransactionsResponse::default().with_transaction_states(vec![Listed::default()
                .with_transactional_id(TransactionalId(str_bytes("t")))
                .with_producer_id(WireProducerId(3))
                .with_transaction_state(str_bytes("Empty"))]);
        let l = parse_list_transactions(&l).unwrap();
        assert_eq!(
            l[0].to_string(),
            "transactional id t producer 3 state Empty"
        );
        assert!(
            parse_list_transactions(&ListTransactionsResponse::default().with_error_code(15))
                .is_err()
        );

        let d = DescribeTransactionsResponse::default().with_transaction_states(vec![
            Described::default()
                .with_transactional_id(TransactionalId(str_bytes("t")))
                .with_transaction_state(str_bytes("Ongoing"))
                .with_transaction_start_time_ms(5)
                .with_producer_id(WireProducerId(3))
                .with_topics(vec![TopicData::default()
                    .with_topic(topic_name("a"))
                    .with_partitions(vec![0])]),
            Described::default()
                .with_transactional_id(TransactionalId(str_bytes("x")))
                .with_error_code(105),
        ]);
        let d = parse_describe_transactions(&d);
        let t = d[0].1.as_ref().unwrap();
        assert_eq!(t.partitions, vec![TopicPartition::new("a", 0)]);
        assert_eq!(
            t.to_string(),
            "transactional id t producer 3 epoch 0 state Ongoing: 1 partition(s)"
        );
        assert_eq!(d[1].1.as_ref().unwrap_err().broker_code(), Some(105));
    }
}
