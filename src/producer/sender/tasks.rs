//! The background tasks the loop starts and never waits for: a metadata refresh, the
//! producer id, a connection. Each reports back through the loop's channel; the sets
//! `refreshing` and `connecting` keep one task per topic or node.

use super::{Msg, Sender};
use crate::cluster::{ClusterMetadata, TopicSelection};
use crate::connection::{BrokerConnection, Purpose};
use crate::producer::state::ProducerIdAndEpoch;
use crate::protocol::requests::init_producer_id;
use std::collections::BTreeSet;
use tokio::time::Instant;

impl Sender {
    /// Refreshes `topic`'s metadata in a task, unless a refresh of it is under way.
    pub(super) fn refresh(&mut self, topic: String) {
        if !self.refreshing.insert(topic.clone()) {
            return;
        }
        let cluster = self.shared.cluster.clone();
        let tx = self.tx.clone();
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let r = cluster
                .refresh_after_error(TopicSelection::Topics(vec![topic.clone()]))
                .await;
            if let Err(e) = r {
                shared.report(&e);
            }
            let _ = tx.send(Msg::Refreshed { topic });
        });
    }

    /// Gets a producer id in a task (idempotent: InitProducerId, not before `not_before`;
    /// transactional: waits for the one `init_transactions` got).
    pub(super) fn init_producer_id(&mut self, not_before: Instant) {
        let tx = self.tx.clone();
        if let Some(txn) = &self.shared.txn {
            // The transactional producer's id comes from init_transactions (InitProducerId with
            // the transactional id, at its coordinator): wait for it.
            let mut rx = txn.producer.subscribe();
            tokio::spawn(async move {
                let Ok(p) = rx.wait_for(Option::is_some).await.map(|p| p.clone()) else {
                    return;
                };
                if let Some(p) = p {
                    let id = ProducerIdAndEpoch {
                        producer_id: p.producer_id,
                        epoch: p.epoch,
                    };
                    let _ = tx.send(Msg::ProducerId(Ok(id)));
                }
            });
            return;
        }
        let cluster = self.shared.cluster.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(not_before).await;
            let r = async {
                let conn = cluster.any_connection(Purpose::Control).await?;
                let resp = conn.send(&init_producer_id::idempotent_request()).await?;
                let (producer_id, epoch) = init_producer_id::parse(&resp)
                    .map_err(|e| e.with_broker(conn.addr().to_string()))?;
                Ok(ProducerIdAndEpoch { producer_id, epoch })
            }
            .await;
            let _ = tx.send(Msg::ProducerId(r));
        });
    }

    /// A live produce connection to `node`, or `None` while one is being opened (the sender
    /// is woken when it is).
    pub(super) fn connection(
        &mut self,
        node: i32,
        md: &ClusterMetadata,
    ) -> Option<BrokerConnection> {
        let broker = md.brokers.get(&node)?;
        if let Some(c) = self
            .shared
            .cluster
            .pool()
            .existing(&broker.addr, Purpose::Produce)
        {
            return Some(c);
        }
        if self.connecting.insert(node) {
            let cluster = self.shared.cluster.clone();
            let tx = self.tx.clone();
            let shared = self.shared.clone();
            let topics: Vec<String> = self
                .batches
                .values()
                .map(|b| b.topic().to_owned())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            tokio::spawn(async move {
                if let Err(e) = cluster.connection_to(node, Purpose::Produce).await {
                    // The broker may be gone for good: the leaders may have moved.
                    shared.report(&e);
                    let _ = cluster
                        .refresh_after_error(TopicSelection::Topics(topics))
                        .await;
                }
                let _ = tx.send(Msg::Connected { node });
            });
        }
        None
    }
}
