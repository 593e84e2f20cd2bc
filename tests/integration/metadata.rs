//! Cluster metadata against real brokers, including a leader change in a 3-node cluster.

use crate::support::{blocking, config, dedicated, shared_bootstrap};
use ferrokafka::__private::cluster::TopicSelection;
use ferrokafka::admin::{AdminClient, NewTopic};
use ferrokafka_testcontainers::{unique_topic, Topology};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_topic_shows_in_metadata() {
    let admin = AdminClient::new(config(&shared_bootstrap()));
    let topic = unique_topic("md");
    admin
        .create_topic(NewTopic::new(&topic, 4, 1))
        .await
        .expect("create");
    let t = admin
        .wait_for_topic(&topic, 4, Duration::from_secs(30))
        .await
        .expect("leaders elected");
    assert_eq!(t.partitions.len(), 4);
    assert!(t.topic_id.is_some(), "Kafka 4 assigns topic ids");
    assert!(!t.is_internal);
    let md = admin.cluster().metadata();
    for (i, p) in t.partitions.iter().enumerate() {
        assert_eq!(p.partition, i as i32);
        let leader = p.leader.expect("leader");
        assert!(md.brokers.contains_key(&leader));
        assert_eq!(p.replicas, vec![leader]);
        assert_eq!(p.isr, vec![leader]);
        assert!(p.leader_epoch.0 >= 0);
        let (b, epoch) = md.leader(&topic, p.partition).expect("leader lookup");
        assert_eq!((b.node_id, epoch), (leader, p.leader_epoch));
    }
    // A refresh asking about another topic keeps this one (partial refresh merges).
    let md = admin
        .cluster()
        .refresh(TopicSelection::Topics(vec![unique_topic("absent")]))
        .await
        .expect("refresh");
    assert!(md.topic(&topic).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_moves_when_its_broker_is_killed_in_a_3_node_cluster() {
    let kafka = Arc::new(dedicated(Topology::Cluster3).await);
    let admin = AdminClient::new(config(&kafka.bootstrap()));
    let topic = unique_topic("failover");
    admin
        .create_topic(NewTopic::new(&topic, 3, 3).config("min.insync.replicas", "2"))
        .await
        .expect("create");
    let t = admin
        .wait_for_topic(&topic, 3, Duration::from_secs(60))
        .await
        .expect("ready");
    let p0 = t.partition(0).expect("partition 0").clone();
    assert_eq!(p0.replicas.len(), 3);
    let old_leader = p0.leader.expect("leader");

    {
        let k = kafka.clone();
        blocking(move || k.kill_node(old_leader))
            .await
            .expect("kill");
    }
    // Within the broker session timeout the controller elects a new leader with a higher epoch.
    let deadline = Instant::now() + Duration::from_secs(60);
    let moved = loop {
        if let Ok(md) = admin
            .cluster()
            .refresh(TopicSelection::Topics(vec![topic.clone()]))
            .await
        {
            if let Some(p) = md.topic(&topic).and_then(|t| t.partition(0)) {
                if p.leader.is_some_and(|l| l != old_leader) {
                    break p.clone();
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "leader never moved off node {old_leader}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(moved.leader_epoch > p0.leader_epoch, "{moved:?} vs {p0:?}");
    assert!(!moved.isr.contains(&old_leader));

    {
        let k = kafka.clone();
        blocking(move || k.restart_node(old_leader))
            .await
            .expect("restart");
    }
    // The restarted node rejoins the ISR.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(md) = admin
            .cluster()
            .refresh(TopicSelection::Topics(vec![topic.clone()]))
            .await
        {
            if let Some(p) = md.topic(&topic).and_then(|t| t.partition(0)) {
                if p.isr.contains(&old_leader) {
                    break;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "node {old_leader} never rejoined the ISR"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
