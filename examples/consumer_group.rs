//! A consumer group in one process: three members share a topic's partitions, one leaves midway
//! and the others take over its partitions without losing or repeating a record.
//!
//! ```text
//! cargo run --example consumer_group
//! ```
//! Each member is a [`Consumer`] on its own tokio task, subscribed with a [`RebalanceListener`]
//! that prints the partitions it is assigned and revoked, and commits its positions on
//! revocation (the listener runs inside `poll`, after every record handed out earlier was
//! processed, so the next owner starts exactly after them). The group uses the cooperative-sticky
//! assignor: when a member leaves, only its partitions move, and the others keep theirs (with
//! the default eager `range` assignor every member gives up everything at each rebalance).
//! Members also commit after each poll (`enable.auto.commit=false`). Once the group has formed,
//! a producer writes records; member `b` closes (revoking and committing its partitions, then
//! leaving the group) after it has read a share of them. At the end the example prints each member's count and checks that the members
//! together read every produced record exactly once.
//!
//! Uses `KAFKA_BOOTSTRAP_SERVERS`, or starts a local broker through the test harness.

use ferrokafka::admin::{AdminClient, NewTopic};
use ferrokafka::config::ClientConfig;
use ferrokafka::consumer::{Consumer, ConsumerConfig, ListenerFuture, RebalanceListener};
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::TopicPartition;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 6;
const RECORDS: usize = 3000;
const MEMBERS: [&str; 3] = ["a", "b", "c"];
/// Member `b` leaves after reading this many records.
const B_LEAVES_AFTER: usize = 300;

/// Prints a member's rebalances and commits on revocation.
struct Listener {
    member: &'static str,
    started: Instant,
}

fn names(tps: &[TopicPartition]) -> String {
    let mut ps: Vec<i32> = tps.iter().map(|tp| tp.partition).collect();
    ps.sort_unstable();
    let ps: Vec<String> = ps.iter().map(i32::to_string).collect();
    format!("[{}]", ps.join(", "))
}

impl RebalanceListener for Listener {
    fn on_partitions_revoked<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> ListenerFuture<'a> {
        Box::pin(async move {
            let outcome = match consumer.commit_positions().await {
                Ok(()) => "positions committed".to_owned(),
                Err(e) => format!("commit FAILED: {e}"),
            };
            println!(
                "{:>6} ms  [{}] revoked partitions {} ({outcome})",
                self.started.elapsed().as_millis(),
                self.member,
                names(partitions)
            );
        })
    }

    fn on_partitions_assigned<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> ListenerFuture<'a> {
        Box::pin(async move {
            let generation = consumer
                .group_generation()
                .map_or_else(|| "?".to_owned(), |g| g.generation_id.to_string());
            println!(
                "{:>6} ms  [{}] assigned partitions {} (generation {generation}); now owns {}",
                self.started.elapsed().as_millis(),
                self.member,
                names(partitions),
                names(&consumer.assignment())
            );
        })
    }

    fn on_partitions_lost<'a>(
        &'a self,
        _consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> ListenerFuture<'a> {
        Box::pin(async move {
            println!(
                "{:>6} ms  [{}] LOST partitions {} (cannot commit them any more)",
                self.started.elapsed().as_millis(),
                self.member,
                names(partitions)
            );
        })
    }
}

/// Every (partition, offset) read, with the members that read it.
type Seen = Arc<Mutex<HashMap<(i32, i64), Vec<&'static str>>>>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "ferrokafka=error".into()),
        )
        .init();
    // Keep the harness handle alive for the whole run: dropping it stops a broker it started.
    let broker = ferrokafka_testcontainers::Kafka::shared()?;
    let bootstrap = broker.bootstrap();
    let topic = ferrokafka_testcontainers::unique_topic("events");
    let group = ferrokafka_testcontainers::unique_topic("analytics");
    let admin = AdminClient::new(
        ClientConfig::builder()
            .bootstrap_servers(&bootstrap)
            .build()?,
    );
    admin
        .create_topic(NewTopic::new(&topic, PARTITIONS, 1))
        .await?;
    admin
        .wait_for_topic(&topic, PARTITIONS as usize, Duration::from_secs(30))
        .await?;
    println!(
        "topic {topic} ({PARTITIONS} partitions), group {group}, members {}",
        MEMBERS.join(", ")
    );

    let started = Instant::now();
    let seen: Seen = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut members = Vec::new();
    let mut handles = Vec::new();
    for member in MEMBERS {
        let consumer = Consumer::new(ConsumerConfig::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            ("group.id", group.as_str()),
            ("client.id", member),
            ("enable.auto.commit", "false"),
            ("auto.offset.reset", "earliest"),
            // Smaller batches than the default 500, so member `b` leaves midway through the data.
            ("max.poll.records", "100"),
            // Incremental rebalances: only partitions that move are revoked.
            ("partition.assignment.strategy", "cooperative-sticky"),
            // Members learn of a rebalance from their next heartbeat: check every second (the
            // default is 3 s) so the takeover shows quickly.
            ("heartbeat.interval.ms", "1000"),
        ])?)?;
        handles.push(consumer.clone());
        consumer.subscribe_with_listener([topic.clone()], Listener { member, started })?;
        let leave_after = (member == "b").then_some(B_LEAVES_AFTER);
        members.push(tokio::spawn(run_member(
            member,
            consumer,
            seen.clone(),
            stop.clone(),
            leave_after,
            started,
        )));
    }

    // Wait until the three members form one generation, then produce while they consume.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let generations: Vec<Option<i32>> = handles
            .iter()
            .map(|c| c.group_generation().map(|g| g.generation_id))
            .collect();
        let first = generations.first().copied().flatten();
        if first.is_some() && generations.iter().all(|g| *g == first) {
            let protocol = handles
                .first()
                .and_then(Consumer::group_generation)
                .map(|g| g.protocol)
                .unwrap_or_default();
            println!(
                "{:>6} ms  group formed: generation {}, assignor {protocol}; producing {RECORDS} \
                 records",
                started.elapsed().as_millis(),
                first.unwrap_or_default()
            );
            break;
        }
        if Instant::now() > deadline {
            return Err("the group did not form within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(handles);
    let producer = Producer::new(
        ProducerConfig::builder()
            .bootstrap_servers(&bootstrap)
            .build()?,
    )?;
    let mut deliveries = Vec::with_capacity(RECORDS);
    for i in 0..RECORDS {
        let record = ProducerRecord::new(&topic)
            .key(format!("user-{}", i % 97))
            .value(format!("event-{i}"));
        deliveries.push(producer.send(record).await?);
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for d in deliveries {
        d.await?;
    }
    producer.close(Duration::from_secs(10)).await?;
    println!(
        "{:>6} ms  produced {RECORDS} records",
        started.elapsed().as_millis()
    );

    // Wait until every record was read (or give up), then stop the remaining members.
    let deadline = Instant::now() + Duration::from_secs(60);
    while distinct(&seen) < RECORDS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "{:>6} ms  all {} records read; stopping the remaining members (close)",
        started.elapsed().as_millis(),
        distinct(&seen)
    );
    stop.store(true, Ordering::Release);
    let mut counts = Vec::new();
    for (member, task) in MEMBERS.iter().zip(members) {
        counts.push((*member, task.await??));
    }

    let total: usize = counts.iter().map(|(_, n)| n).sum();
    let duplicates = {
        let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.values().filter(|readers| readers.len() > 1).count()
    };
    println!("records read per member:");
    for (member, n) in &counts {
        println!("  {member}: {n}");
    }
    println!(
        "total {total} = produced {RECORDS}: {}; distinct records {}, read more than once {duplicates}",
        total == RECORDS,
        distinct(&seen)
    );
    admin.delete_topics(&[&topic]).await?;
    if total != RECORDS || duplicates != 0 {
        return Err("the group did not read every record exactly once".into());
    }
    Ok(())
}

fn distinct(seen: &Seen) -> usize {
    seen.lock().unwrap_or_else(|p| p.into_inner()).len()
}

/// One member's loop: poll, record what was read, commit; close after `leave_after` records (if
/// given) or once `stop` is set. Returns how many records the member read.
async fn run_member(
    member: &'static str,
    consumer: Consumer,
    seen: Seen,
    stop: Arc<AtomicBool>,
    leave_after: Option<usize>,
    started: Instant,
) -> ferrokafka::Result<usize> {
    let mut count = 0;
    while !stop.load(Ordering::Acquire) {
        let records = consumer.poll(Duration::from_millis(200)).await?;
        if records.is_empty() {
            continue;
        }
        count += records.len();
        {
            let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
            for r in &records {
                seen.entry((r.partition, r.offset.0))
                    .or_default()
                    .push(member);
            }
        }
        // A commit can be refused while the group rebalances; the revocation listener commits
        // these positions anyway before the partitions move, so a refusal here is only logged.
        if let Err(e) = consumer.commit_positions().await {
            println!(
                "{:>6} ms  [{member}] commit after poll refused ({e}); the listener commits on revoke",
                started.elapsed().as_millis()
            );
        }
        if leave_after.is_some_and(|n| count >= n) {
            println!(
                "{:>6} ms  [{member}] read {count} records; leaving the group (close)",
                started.elapsed().as_millis()
            );
            break;
        }
    }
    // Runs the listener's revocation (which commits) and sends LeaveGroup.
    consumer.close().await?;
    Ok(count)
}
