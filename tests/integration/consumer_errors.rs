//! A consumer says what is wrong: an unreachable cluster becomes a typed `poll` error within
//! `default.api.timeout.ms`, illegal topic names fail at `subscribe` / `assign`, unknown topics
//! reach the error handler, and the timed calls (`committed_within`, `position_within`,
//! `close_within`) keep their bounds and say when no broker could be reached.

use crate::consumer::produce;
use crate::producer::create;
use crate::support::shared_bootstrap;
use ferrokafka::consumer::{Consumer, ConsumerConfig};
use ferrokafka::types::{Offset, TopicPartition};
use ferrokafka::{Error, ErrorHandler, ErrorKind};
use ferrokafka_testcontainers::unique_topic;
use futures_util::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bound used by these tests instead of the 60 s default.
const API_TIMEOUT_MS: u64 = 2_000;

fn consumer_with(
    bootstrap: &str,
    extra: &[(&str, &str)],
    handler: Option<ErrorHandler>,
) -> Consumer {
    let api = API_TIMEOUT_MS.to_string();
    let mut props: Vec<(&str, &str)> = vec![
        ("bootstrap.servers", bootstrap),
        ("default.api.timeout.ms", api.as_str()),
        ("enable.auto.commit", "false"),
        ("auto.offset.reset", "earliest"),
        ("fetch.max.wait.ms", "100"),
    ];
    props.extend_from_slice(extra);
    Consumer::with_error_handler(
        ConsumerConfig::from_properties(props).expect("config"),
        handler,
    )
    .expect("consumer")
}

/// Collects what the error handler receives.
fn collecting() -> (ErrorHandler, Arc<Mutex<Vec<Error>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let handler: ErrorHandler = Arc::new(move |e: &Error| sink.lock().unwrap().push(e.clone()));
    (handler, seen)
}

/// Polls until an error or `limit`; returns the error and when it came.
async fn first_poll_error(c: &Consumer, limit: Duration) -> (Error, Duration) {
    let started = Instant::now();
    loop {
        match c.poll(Duration::from_millis(200)).await {
            Err(e) => return (e, started.elapsed()),
            Ok(records) => assert!(records.is_empty(), "records from an unreachable cluster"),
        }
        assert!(
            started.elapsed() < limit,
            "no error from poll within {limit:?} of pointing at an unreachable cluster"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_bootstrap_is_a_typed_poll_error_within_the_api_timeout() {
    let bound = Duration::from_millis(API_TIMEOUT_MS);
    // A refused port, in assign mode and in group mode, and a name that does not resolve.
    for (bootstrap, group) in [
        ("127.0.0.1:1", None),
        ("127.0.0.1:1", Some("g-unreachable")),
        ("no-such-host.invalid:9092", None),
    ] {
        let (handler, seen) = collecting();
        let extra: Vec<(&str, &str)> = group.iter().map(|g| ("group.id", *g)).collect();
        let c = consumer_with(bootstrap, &extra, Some(handler));
        match group {
            Some(_) => c.subscribe(["orders"]).expect("subscribe"),
            None => c
                .assign(&[TopicPartition::new("orders", 0)])
                .expect("assign"),
        }
        let (e, after) = first_poll_error(&c, bound * 4).await;
        println!("{bootstrap} group={group:?}: poll error after {after:?}: {e}");
        assert!(
            matches!(e.kind(), ErrorKind::Connect | ErrorKind::NoBrokerAvailable),
            "kind says no broker is reachable: {e}"
        );
        assert!(e.is_retriable(), "{e}");
        assert!(
            after >= bound - Duration::from_millis(300),
            "not before the bound: {after:?}"
        );
        assert!(
            after < bound * 3,
            "within the bound plus a retry cycle: {after:?}"
        );
        assert!(
            !seen.lock().unwrap().is_empty(),
            "the error handler heard of the failed connects"
        );
        // The stream says the same (it does not stay pending).
        let started = Instant::now();
        let item = tokio::time::timeout(bound * 4, c.stream().next())
            .await
            .expect("stream yields within the bound")
            .expect("an item");
        assert!(item.is_err(), "stream item is the error");
        println!("  stream error after {:?}", started.elapsed());
        c.close_within(Duration::from_secs(2)).await.ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_calls_keep_their_bound_and_say_no_broker_was_reachable() {
    let c = consumer_with("127.0.0.1:1", &[("group.id", "g-timed")], None);
    let tp = TopicPartition::new("orders", 0);
    let started = Instant::now();
    let e = c
        .committed_within(std::slice::from_ref(&tp), Duration::from_millis(1_500))
        .await
        .expect_err("nothing to reach");
    let took = started.elapsed();
    println!("committed_within(1.5 s) on a refused port: {took:?}: {e}");
    assert!(
        matches!(e.kind(), ErrorKind::Connect | ErrorKind::NoBrokerAvailable),
        "{e}"
    );
    assert!(took < Duration::from_secs(4), "{took:?}");

    c.assign(std::slice::from_ref(&tp)).expect("assign");
    let started = Instant::now();
    let e = c
        .position_within(&tp, Duration::from_millis(1_000))
        .await
        .expect_err("position cannot be known");
    println!(
        "position_within(1 s) on a refused port: {:?}: {e}",
        started.elapsed()
    );
    assert!(
        matches!(e.kind(), ErrorKind::Connect | ErrorKind::NoBrokerAvailable),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    let e = c
        .position_within(&TopicPartition::new("orders", 9), Duration::from_millis(10))
        .await
        .expect_err("not assigned");
    assert!(matches!(e.kind(), ErrorKind::InvalidArgument), "{e}");

    let started = Instant::now();
    c.close_within(Duration::from_millis(500)).await.ok();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "close_within keeps its bound"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn illegal_topic_names_fail_at_subscribe_and_assign() {
    let c = consumer_with(&shared_bootstrap(), &[("group.id", "g-names")], None);
    for bad in ["bad topic!", "", "..", "a/b"] {
        let e = c.subscribe([bad]).expect_err(bad);
        assert!(matches!(e.kind(), ErrorKind::InvalidArgument), "{bad}: {e}");
        assert!(e.to_string().contains("invalid topic name"), "{e}");
    }
    let e = c.subscribe(Vec::<String>::new()).expect_err("empty list");
    assert!(matches!(e.kind(), ErrorKind::InvalidArgument), "{e}");
    let a = consumer_with(&shared_bootstrap(), &[], None);
    let e = a
        .assign(&[TopicPartition::new("bad topic!", 0)])
        .expect_err("assign");
    assert!(matches!(e.kind(), ErrorKind::InvalidArgument), "{e}");
    assert!(a.assignment().is_empty(), "nothing was assigned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_topic_reaches_the_error_handler_and_a_real_one_flows() {
    let bootstrap = shared_bootstrap();
    let missing = unique_topic("c-missing");
    let present = unique_topic("c-present");
    let admin = create(&bootstrap, &present, 1, 1).await;
    produce(&bootstrap, &present, 10, "none", Some(0)).await;

    let (handler, seen) = collecting();
    let c = consumer_with(
        &bootstrap,
        &[
            ("group.id", &unique_topic("g-missing")),
            ("allow.auto.create.topics", "false"),
        ],
        Some(handler),
    );
    c.subscribe([missing.clone(), present.clone()])
        .expect("subscribe");
    let started = Instant::now();
    let mut records = 0;
    let mut warned = None;
    while started.elapsed() < Duration::from_secs(30) && (records < 10 || warned.is_none()) {
        records += c
            .poll(Duration::from_millis(200))
            .await
            .expect("poll")
            .len();
        if warned.is_none() {
            warned = seen
                .lock()
                .unwrap()
                .iter()
                .find(|e| e.topic() == Some(missing.as_str()))
                .map(|e| (e.clone(), started.elapsed()));
        }
    }
    let (e, after) = warned.expect("the missing topic was reported to the error handler");
    println!("missing topic reported after {after:?}: {e}");
    assert_eq!(e.broker_code(), Some(3), "UNKNOWN_TOPIC_OR_PARTITION: {e}");
    assert_eq!(records, 10, "the existing topic is consumed meanwhile");
    let tp = TopicPartition::new(&present, 0);
    assert_eq!(
        c.position_within(&tp, Duration::from_secs(5))
            .await
            .expect("position"),
        Offset(10)
    );
    c.commit_positions().await.expect("commit");
    let committed = c
        .committed_within(std::slice::from_ref(&tp), Duration::from_secs(5))
        .await
        .expect("committed");
    assert_eq!(committed[&tp].as_ref().map(|c| c.offset), Some(Offset(10)));
    c.close_within(Duration::from_secs(10))
        .await
        .expect("close");
    admin.delete_topics(&[&present]).await.ok();
}
