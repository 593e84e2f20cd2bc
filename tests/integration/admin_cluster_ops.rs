//! Admin calls about brokers, partitions, producers, transactions and KIP-848 groups, against a
//! real broker: describe log dirs, elect leaders (refused on a single node: the preferred
//! leader already leads), describe producers, list / describe transactions (written with the
//! raw transactional producer of `transactions.rs`), and describing a `consumer`-protocol group
//! joined with raw ConsumerGroupHeartbeat requests.

use crate::producer::create;
use crate::support::{config, shared_bootstrap};
use crate::transactions::RawTxnProducer;
use ferrokafka::__private::cluster::Cluster;
use ferrokafka::__private::connection::Purpose;
use ferrokafka::admin::{ElectionType, GroupProtocol};
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::{ProducerId, TopicPartition};
use ferrokafka_testcontainers::unique_topic;
use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::{
    ConsumerGroupHeartbeatRequest, FindCoordinatorRequest, GroupId, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use std::sync::Arc;
use std::time::{Duration, Instant};

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

async fn produce(bootstrap: &str, topic: &str, n: usize) {
    let producer = Producer::new(
        ProducerConfig::from_properties([("bootstrap.servers", bootstrap)]).expect("config"),
    )
    .expect("producer");
    let mut pending = Vec::new();
    for i in 0..n {
        let r = ProducerRecord::new(topic)
            .partition(0)
            .value(format!("v{i}"));
        pending.push(producer.send(r).await.expect("buffered"));
    }
    for f in pending {
        f.await.expect("delivered");
    }
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_dirs_and_leader_elections() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("adm-logdirs");
    let admin = create(&bootstrap, &topic, 1, 1).await;
    produce(&bootstrap, &topic, 20).await;
    let tp = TopicPartition::new(&topic, 0);

    let dirs = admin.describe_log_dirs().await.expect("describe log dirs");
    assert_eq!(dirs.len(), 1, "one broker");
    let (_, dirs) = dirs.into_iter().next().expect("one broker");
    let dirs = dirs.expect("the broker's log dirs");
    assert!(!dirs.is_empty());
    let replica = dirs
        .iter()
        .filter(|d| d.error.is_none())
        .flat_map(|d| d.replicas.iter())
        .find(|r| r.partition == tp)
        .expect("the topic's replica is in a log dir");
    assert!(replica.size > 0 && !replica.is_future, "{replica:?}");
    assert!(dirs.iter().all(|d| !d.to_string().contains('\n')));

    // A single node: the preferred replica already leads (ELECTION_NOT_NEEDED, 84); an
    // unknown partition is refused on its own.
    let gone = TopicPartition::new(unique_topic("adm-noelect"), 0);
    let r = admin
        .elect_leaders(ElectionType::Preferred, Some(&[tp.clone(), gone.clone()]))
        .await
        .expect("elect leaders");
    let e = r[&tp].as_ref().expect_err("not needed");
    assert_eq!(e.broker_code(), Some(84), "{e}");
    let e = r[&gone].as_ref().expect_err("unknown partition");
    assert_eq!(e.broker_code(), Some(UNKNOWN_TOPIC_OR_PARTITION), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producers_and_transactions_are_described() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("adm-txn");
    let admin = create(&bootstrap, &topic, 1, 1).await;
    let tp = TopicPartition::new(&topic, 0);
    let cluster = Cluster::new(config(&bootstrap));
    let txn_id = unique_topic("adm-txn-id");
    let mut txn = RawTxnProducer::init(Arc::clone(&cluster), txn_id.clone()).await;
    txn.begin(&topic).await;
    let base = txn.send(&topic, &["a", "b", "c"]).await;

    // The partition's leader knows the producer and its open transaction.
    let r = admin
        .describe_producers(&[tp.clone(), TopicPartition::new(&topic, 7)])
        .await
        .expect("describe producers");
    let producers = r[&tp].as_ref().expect("producers of p0");
    let p = producers
        .iter()
        .find(|p| p.producer_id == ProducerId(txn.producer_id))
        .unwrap_or_else(|| panic!("producer {} not in {producers:?}", txn.producer_id));
    assert_eq!(p.last_sequence, 2, "{p}");
    assert_eq!(p.current_transaction_start_offset.map(|o| o.0), Some(base));
    let e = r[&TopicPartition::new(&topic, 7)]
        .as_ref()
        .expect_err("no partition 7");
    assert_eq!(e.broker_code(), Some(UNKNOWN_TOPIC_OR_PARTITION), "{e}");

    let listed = admin.list_transactions().await.expect("list transactions");
    let l = listed
        .iter()
        .find(|t| t.transactional_id == txn_id)
        .expect("listed");
    assert_eq!(l.producer_id, ProducerId(txn.producer_id), "{l}");

    let unknown = unique_topic("adm-txn-unknown");
    let d = admin
        .describe_transactions(&[txn_id.as_str(), unknown.as_str()])
        .await
        .expect("describe transactions");
    let t = d[0].1.as_ref().expect("described");
    assert_eq!(
        (t.state.as_str(), t.partitions.as_slice()),
        ("Ongoing", std::slice::from_ref(&tp)),
        "{t}"
    );
    assert!(t.start_time_ms.is_some());
    // TRANSACTIONAL_ID_NOT_FOUND (105).
    let e = d[1].1.as_ref().expect_err("unknown id");
    assert_eq!(e.broker_code(), Some(105), "{e}");

    txn.end(true).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = admin
            .describe_transactions(&[&txn_id])
            .await
            .expect("describe after commit");
        let t = d[0].1.as_ref().expect("described");
        if t.state == "CompleteCommit" {
            assert!(t.partitions.is_empty(), "{t}");
            break;
        }
        assert!(Instant::now() < deadline, "still {t}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn hb(group: &str, member: &str, epoch: i32, topic: &str) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_owned())))
        .with_member_id(StrBytes::from_string(member.to_owned()))
        .with_member_epoch(epoch)
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_names(Some(vec![TopicName(StrBytes::from_string(
            topic.to_owned(),
        ))]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_protocol_groups_are_described() {
    let bootstrap = shared_bootstrap();
    let topic = unique_topic("adm-848");
    let admin = create(&bootstrap, &topic, 2, 1).await;
    let group = unique_topic("adm-848-group");
    let member = unique_topic("member");
    let cluster = Cluster::new(config(&bootstrap));

    // Join with ConsumerGroupHeartbeat (epoch 0), then heartbeat, acknowledging the
    // assignment, until the member owns both partitions.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut epoch = 0;
    let mut owned: Vec<TopicPartitions> = Vec::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "member never got both partitions"
        );
        let any = cluster
            .any_connection(Purpose::Control)
            .await
            .expect("conn");
        let v = any
            .version_for::<FindCoordinatorRequest>()
            .expect("version");
        let mut fc = FindCoordinatorRequest::default().with_key_type(0);
        if v >= 4 {
            fc.coordinator_keys = vec![StrBytes::from_string(group.clone())];
        } else {
            fc.key = StrBytes::from_string(group.clone());
        }
        let Ok(resp) = any.send(&fc).await else {
            continue;
        };
        let node = if v >= 4 {
            resp.coordinators
                .first()
                .map(|c| (c.error_code, c.node_id.0))
        } else {
            Some((resp.error_code, resp.node_id.0))
        };
        let Some((0, node)) = node else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let conn = cluster
            .connection_to(node, Purpose::Coordination)
            .await
            .expect("coordinator");
        let req = hb(&group, &member, epoch, &topic).with_topic_partitions(Some(owned.clone()));
        let resp = conn.send(&req).await.expect("heartbeat");
        assert!(
            [0, 14, 15, 16].contains(&resp.error_code),
            "heartbeat refused: {} {:?}",
            resp.error_code,
            resp.error_message
        );
        if resp.error_code != 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        epoch = resp.member_epoch;
        if let Some(a) = resp.assignment {
            owned = a
                .topic_partitions
                .iter()
                .map(|t| {
                    TopicPartitions::default()
                        .with_topic_id(t.topic_id)
                        .with_partitions(t.partitions.clone())
                })
                .collect();
        }
        if owned.iter().map(|t| t.partitions.len()).sum::<usize>() == 2 {
            // Acknowledge the assignment once more so the member is reconciled.
            let req = hb(&group, &member, epoch, &topic).with_topic_partitions(Some(owned.clone()));
            let resp = conn.send(&req).await.expect("ack heartbeat");
            assert_eq!(resp.error_code, 0, "{:?}", resp.error_message);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let d = admin
        .describe_consumer_groups(&[&group], true)
        .await
        .expect("describe");
    let g = d[0].1.as_ref().expect("described");
    assert_eq!(g.group_protocol, GroupProtocol::Consumer, "{g}");
    assert_eq!(g.members.len(), 1, "{g}");
    assert!(!g.protocol.is_empty(), "the broker's assignor: {g}");
    let m = &g.members[0];
    assert_eq!(
        (m.member_id.as_str(), m.client_id.as_str()),
        (member.as_str(), "ferrokafka-it")
    );
    let mut assigned = m.assignment.clone();
    assigned.sort();
    assert_eq!(
        assigned,
        vec![
            TopicPartition::new(&topic, 0),
            TopicPartition::new(&topic, 1)
        ],
        "{m}"
    );
    assert!(g.authorized_operations.is_some());
    assert!(admin
        .list_consumer_groups()
        .await
        .expect("list")
        .iter()
        .any(|l| l.group_id == group && l.group_type.as_deref() == Some("consumer")));

    // Leave (epoch -1); the group is then empty and can be deleted.
    let leave = hb(&group, &member, -1, &topic);
    let conn = cluster
        .connection_to(g.coordinator.0, Purpose::Coordination)
        .await
        .expect("coordinator");
    let resp = conn.send(&leave).await.expect("leave");
    assert_eq!(resp.error_code, 0, "{:?}", resp.error_message);
    let r = admin
        .delete_consumer_groups(&[&group])
        .await
        .expect("delete");
    assert!(r[0].1.is_ok(), "{:?}", r[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_are_refused_without_an_authorizer() {
    use ferrokafka::admin::{AclBinding, AclFilter, ResourceType};
    use ferrokafka::types::AclOperation;
    // The shared broker runs without `authorizer.class.name`: every ACL call is answered
    // SECURITY_DISABLED (54), per ACL or filter where the API answers that way, and at once
    // (not retried until the API timeout).
    let admin = ferrokafka::admin::AdminClient::new(config(&shared_bootstrap()));
    let started = Instant::now();
    let e = admin
        .describe_acls(&AclFilter::any())
        .await
        .expect_err("no authorizer");
    assert_eq!(e.broker_code(), Some(54), "{e}");
    assert!(!e.is_retriable(), "{e}");
    let acl = AclBinding::allow(
        ResourceType::Topic,
        "orders",
        "User:alice",
        AclOperation::Read,
    );
    let r = admin
        .create_acls(std::slice::from_ref(&acl))
        .await
        .expect("create call");
    assert_eq!(r[0].0, acl);
    assert_eq!(
        r[0].1.as_ref().expect_err("refused").broker_code(),
        Some(54)
    );
    let r = admin
        .delete_acls(&[acl.to_filter()])
        .await
        .expect("delete call");
    assert_eq!(
        r[0].1.as_ref().expect_err("refused").broker_code(),
        Some(54)
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// The leader of `tp` as a fresh describe_topics sees it, with the preferred replica and ISR.
async fn leadership(
    admin: &ferrokafka::admin::AdminClient,
    tp: &TopicPartition,
) -> Option<(Option<i32>, i32, Vec<i32>)> {
    let d = admin.describe_topics(&[&tp.topic], false).await.ok()?;
    let t = d.into_iter().next()?.1.ok()?;
    let p = t
        .partitions
        .into_iter()
        .find(|p| p.partition == tp.partition)?;
    Some((
        p.leader.map(|l| l.0),
        p.replicas.first()?.0,
        p.isr.iter().map(|b| b.0).collect(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferred_leader_election_in_a_3_node_cluster() {
    use crate::support::{blocking, dedicated};
    use ferrokafka::admin::NewTopic;
    use ferrokafka_testcontainers::Topology;
    let kafka = Arc::new(dedicated(Topology::Cluster3).await);
    let admin = ferrokafka::admin::AdminClient::new(config(&kafka.bootstrap()));
    let topic = unique_topic("adm-elect");
    admin
        .create_topic(NewTopic::new(&topic, 1, 3))
        .await
        .expect("create");
    admin
        .wait_for_topic(&topic, 1, Duration::from_secs(60))
        .await
        .expect("ready");
    let tp = TopicPartition::new(&topic, 0);
    let dirs = admin.describe_log_dirs().await.expect("log dirs");
    assert_eq!(dirs.len(), 3, "every broker answers");
    assert!(dirs.values().all(|d| d.is_ok()), "{dirs:?}");

    // Stop the preferred replica: leadership moves to another one.
    let (_, preferred, _) = leadership(&admin, &tp).await.expect("described");
    {
        let k = kafka.clone();
        blocking(move || k.stop_node(preferred))
            .await
            .expect("stop");
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some((Some(l), _, _)) = leadership(&admin, &tp).await {
            if l != preferred {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "leader never moved off {preferred}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Bring it back; once it is in sync again a preferred election returns leadership to it.
    {
        let k = kafka.clone();
        blocking(move || k.restart_node(preferred))
            .await
            .expect("restart");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some((_, _, isr)) = leadership(&admin, &tp).await {
            if isr.contains(&preferred) {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{preferred} never rejoined the ISR"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let r = admin
        .elect_leaders(ElectionType::Preferred, Some(std::slice::from_ref(&tp)))
        .await
        .expect("elect");
    assert!(r[&tp].is_ok(), "preferred election: {:?}", r[&tp]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some((Some(l), _, _)) = leadership(&admin, &tp).await {
            if l == preferred {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "leadership never returned to {preferred}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Now nothing to do: ELECTION_NOT_NEEDED (84), for an unclean election too.
    for kind in [ElectionType::Preferred, ElectionType::Unclean] {
        let r = admin
            .elect_leaders(kind, Some(std::slice::from_ref(&tp)))
            .await
            .expect("elect again");
        let e = r[&tp].as_ref().expect_err("not needed");
        assert_eq!(e.broker_code(), Some(84), "{kind:?}: {e}");
    }
}
