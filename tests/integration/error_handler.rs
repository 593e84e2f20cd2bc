//! The error handler hears of every failure to reach the cluster, rate-limited, on the producer,
//! the consumer and the admin client alike (issue #24, point 3: a producer pointed at
//! `127.0.0.1:1` or `kafka.invalid:9092` for 60 s called its handler 0 times). No broker needed:
//! one address refuses connections, the other does not resolve.

use ferrokafka::admin::AdminClient;
use ferrokafka::config::ClientConfig;
use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka::types::TopicPartition;
use ferrokafka::{Error, ErrorHandler, ErrorKind};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const REFUSED: &str = "127.0.0.1:1";
const UNRESOLVABLE: &str = "kafka.invalid:9092";

/// How long each client is left failing.
const FAILING: Duration = Duration::from_secs(3);

/// What the handler received: (when, error) of each call.
type Calls = Arc<Mutex<Vec<(Instant, Error)>>>;

/// A handler recording each call.
fn recording() -> (ErrorHandler, Calls) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let handler: ErrorHandler = Arc::new(move |e: &Error| {
        sink.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((Instant::now(), e.clone()));
    });
    (handler, seen)
}

/// Asserts the handler was called within a second of `started`, about connecting to
/// `bootstrap`, and at most once a second for each distinct failure.
fn check(what: &str, bootstrap: &str, started: Instant, calls: &[(Instant, Error)]) {
    let first = calls
        .first()
        .unwrap_or_else(|| panic!("{what} @ {bootstrap}: the handler was never called"));
    assert!(
        first.0.duration_since(started) < Duration::from_millis(1_500),
        "{what} @ {bootstrap}: first call after {:?}",
        first.0.duration_since(started)
    );
    assert!(
        calls.iter().any(|(_, e)| matches!(
            e.kind(),
            ErrorKind::Connect | ErrorKind::NoBrokerAvailable
        ) && e
            .to_string()
            .contains(bootstrap.split(':').next().unwrap_or(bootstrap))),
        "{what} @ {bootstrap}: no call names the failed connect: {:?}",
        calls.iter().map(|(_, e)| e.to_string()).collect::<Vec<_>>()
    );
    // Rate limit: the same failure (its text without the varying detail) at most once per
    // second, i.e. at most FAILING + 1 s worth of calls each.
    let mut per_failure: BTreeMap<String, usize> = BTreeMap::new();
    for (_, e) in calls {
        let key = format!(
            "{:?}|{:?}|{:?}",
            e.kind(),
            e.context().broker,
            e.context().api
        );
        *per_failure.entry(key).or_default() += 1;
    }
    let limit = FAILING.as_secs() as usize + 2;
    for (key, n) in &per_failure {
        assert!(
            *n <= limit,
            "{what} @ {bootstrap}: {n} calls for {key} in {FAILING:?} (limit one a second)"
        );
    }
    println!(
        "{what} @ {bootstrap}: {} calls, first after {:?}, distinct failures {}: {}",
        calls.len(),
        first.0.duration_since(started),
        per_failure.len(),
        first.1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_producer_reports_failed_connects_while_send_waits_for_metadata() {
    for bootstrap in [REFUSED, UNRESOLVABLE] {
        let (handler, seen) = recording();
        let p = Producer::with_error_handler(
            ProducerConfig::from_properties([
                ("bootstrap.servers", bootstrap),
                ("max.block.ms", &FAILING.as_millis().to_string()),
            ])
            .expect("config"),
            Some(handler),
        )
        .expect("producer");
        let started = Instant::now();
        let e = p
            .send(ProducerRecord::new("orders").value("v"))
            .await
            .expect_err("no cluster: send fails after max.block.ms");
        // It gives up when the next retry's backoff (at most 1 s) would pass the deadline.
        assert!(
            started.elapsed() >= FAILING - Duration::from_millis(1_200),
            "{e}"
        );
        check(
            "producer",
            bootstrap,
            started,
            &seen.lock().unwrap_or_else(|p| p.into_inner()),
        );
        p.close(Duration::from_secs(1)).await.ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_reports_failed_connects() {
    for bootstrap in [REFUSED, UNRESOLVABLE] {
        let (handler, seen) = recording();
        let c = Consumer::with_error_handler(
            ConsumerConfig::from_properties([
                ("bootstrap.servers", bootstrap),
                ("group.id", "g-handler"),
            ])
            .expect("config"),
            Some(handler),
        )
        .expect("consumer");
        let started = Instant::now();
        c.assign(&[TopicPartition::new("orders", 0)])
            .expect("assign");
        while started.elapsed() < FAILING {
            let _ = c.poll(Duration::from_millis(200)).await;
        }
        check(
            "consumer",
            bootstrap,
            started,
            &seen.lock().unwrap_or_else(|p| p.into_inner()),
        );
        c.close_within(Duration::from_secs(1)).await.ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_client_reports_failed_connects() {
    for bootstrap in [REFUSED, UNRESOLVABLE] {
        let (handler, seen) = recording();
        let admin = AdminClient::with_error_handler(
            ClientConfig::builder()
                .bootstrap_servers(bootstrap)
                .default_api_timeout(FAILING)
                .build()
                .expect("config"),
            Some(handler),
        );
        let started = Instant::now();
        let e = admin.list_topics().await.expect_err("no cluster");
        println!("admin @ {bootstrap}: {e}");
        check(
            "admin",
            bootstrap,
            started,
            &seen.lock().unwrap_or_else(|p| p.into_inner()),
        );
    }
}

/// Issue #24, point 4: a wrong address fails the optional readiness check within its timeout
/// (not at the first `send` after `max.block.ms`), and the right one passes it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_until_connected_fails_in_its_timeout_on_a_wrong_address_and_passes_on_the_right_one()
{
    let timeout = Duration::from_millis(1_500);
    for bootstrap in [REFUSED, UNRESOLVABLE] {
        let p = Producer::new(
            ProducerConfig::from_properties([("bootstrap.servers", bootstrap)]).expect("config"),
        )
        .expect("producer");
        let started = Instant::now();
        let e = p
            .wait_until_connected(timeout)
            .await
            .expect_err("nothing answers");
        let took = started.elapsed();
        println!("producer @ {bootstrap}: {e} after {took:?}");
        assert!(matches!(e.kind(), ErrorKind::Timeout), "{e}");
        assert!(
            e.to_string()
                .contains(bootstrap.split(':').next().unwrap_or(bootstrap)),
            "names the address: {e}"
        );
        assert!(took < timeout + Duration::from_millis(700), "{took:?}");
        let c = Consumer::new(
            ConsumerConfig::from_properties([("bootstrap.servers", bootstrap)]).expect("config"),
        )
        .expect("consumer");
        let e = c
            .wait_until_connected(timeout)
            .await
            .expect_err("nothing answers");
        assert!(matches!(e.kind(), ErrorKind::Timeout), "{e}");
    }
    let bootstrap = crate::support::shared_bootstrap();
    let p = Producer::new(
        ProducerConfig::from_properties([("bootstrap.servers", bootstrap.as_str())])
            .expect("config"),
    )
    .expect("producer");
    let started = Instant::now();
    p.wait_until_connected(Duration::from_secs(10))
        .await
        .expect("the real cluster answers");
    println!(
        "producer @ {bootstrap}: ready after {:?}",
        started.elapsed()
    );
    p.close(Duration::from_secs(1)).await.expect("close");
}
