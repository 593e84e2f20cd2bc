//! The in-process mock cluster (`ferrokafka-mock`) accepted by other clients: kcat (librdkafka)
//! and the Java console tools (the Java client) produce to it and read back exactly what they
//! wrote, with and without a consumer group. kcat must be installed (`.ci/run` installs Debian's
//! `kcat`); the Java tools come from the harness's cache (Java and Maven). Without them these
//! tests fail, naming what is missing: they never pass without running. kcat also goes through
//! the mock's SASL (PLAIN, SCRAM) and TLS listeners, and reads, under read_committed, only the
//! committed transactions the ferrokafka producer wrote, under both transaction versions.

use ferrokafka_mock::{ApiKey, MockCluster, MockConfig, SecurityProtocol};
use ferrokafka_testcontainers::{JvmRuntime, Tool};
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn kcat() -> Command {
    let ok = Command::new("kcat")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "kcat is not installed (apt-get install kcat; .ci/run installs it)"
    );
    // `timeout`: a kcat that waits forever fails the test instead of hanging it.
    let mut c = Command::new("timeout");
    c.arg("60")
        .arg("kcat")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn run_with_input(mut cmd: Command, input: &str) -> Output {
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn check(what: &str, out: &Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn lines(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

#[test]
fn kcat_produces_and_consumes_every_codec_with_and_without_a_group() {
    let cluster = MockCluster::start_in_thread(MockConfig::default().brokers(3)).expect("mock");
    let b = cluster.bootstrap();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("kcat-{codec}");
        // One partition: kcat's output order is then the log's order.
        cluster.create_topic(&topic, 1).expect("topic");
        let sent = lines(codec, 500);
        let mut p = kcat();
        p.args([
            "-b",
            &b,
            "-P",
            "-t",
            &topic,
            "-z",
            codec,
            "-X",
            "enable.idempotence=true",
        ]);
        check(
            &format!("kcat -P -z {codec}"),
            &run_with_input(p, &(sent.join("\n") + "\n")),
        );
        assert_eq!(
            cluster.high_watermark(&topic, 0),
            Some(500),
            "{codec}: all written"
        );

        let mut c = kcat();
        c.args(["-b", &b, "-C", "-t", &topic, "-o", "beginning", "-e", "-q"]);
        let read = check(&format!("kcat -C {codec}"), &c.output().expect("kcat -C"));
        assert_eq!(
            read.lines().collect::<Vec<_>>(),
            sent,
            "{codec}: read back exactly"
        );

        let mut g = kcat();
        g.args([
            "-b",
            &b,
            "-G",
            &format!("g-{codec}"),
            "-o",
            "beginning",
            "-e",
            "-q",
        ])
        .args(["-X", "auto.offset.reset=earliest", &topic]);
        let read = check(&format!("kcat -G {codec}"), &g.output().expect("kcat -G"));
        assert_eq!(
            read.lines().collect::<Vec<_>>(),
            sent,
            "{codec}: read back in a group"
        );
    }
}

#[test]
fn java_console_tools_produce_and_consume_every_codec_in_a_group() {
    let cluster = MockCluster::start_in_thread(MockConfig::default().brokers(3)).expect("mock");
    let b = cluster.bootstrap();
    let jvm = JvmRuntime::locate().expect("Java and the Kafka jars (the harness resolves them)");
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("java-{codec}");
        cluster.create_topic(&topic, 3).expect("topic");
        let sent = lines(&topic, 200);
        let mut p = jvm
            .kafka_tool(Tool::ConsoleProducer)
            .expect("ConsoleProducer");
        p.args(["--bootstrap-server", &b, "--topic", &topic])
            .args(["--producer-property", "enable.idempotence=true"])
            .args(["--producer-property", &format!("compression.type={codec}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        check(
            &format!("ConsoleProducer {codec}"),
            &run_with_input(p, &(sent.join("\n") + "\n")),
        );
        let total: i64 = (0..3)
            .map(|p| cluster.high_watermark(&topic, p).unwrap_or(0))
            .sum();
        assert_eq!(total, 200, "{codec}: all 200 written");

        let mut c = jvm
            .kafka_tool(Tool::ConsoleConsumer)
            .expect("ConsoleConsumer");
        c.args(["--bootstrap-server", &b, "--topic", &topic])
            .args(["--group", &format!("java-group-{codec}")])
            .args([
                "--from-beginning",
                "--max-messages",
                "200",
                "--timeout-ms",
                "30000",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let read = check(
            &format!("ConsoleConsumer {codec}"),
            &c.output().expect("ConsoleConsumer"),
        );
        let mut got: Vec<String> = read.lines().map(str::to_owned).collect();
        got.sort();
        let mut want = sent.clone();
        want.sort();
        assert_eq!(got, want, "{codec}: the group read every record once");
    }
}

/// kcat (librdkafka's SASL and TLS) through the mock's SASL_PLAINTEXT listener with PLAIN and
/// SCRAM-SHA-256, its SSL listener trusting the generated CA from a file (`ssl.ca.location`),
/// and SASL_SSL with SCRAM-SHA-512; a wrong password fails kcat with the broker's message.
#[test]
fn kcat_produces_and_consumes_over_sasl_and_tls() {
    let dir = std::env::temp_dir().join(format!("ferrokafka-mock-kcat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ca = dir.join("ca.pem");
    let ca_file = ca.display().to_string();
    let sasl = |m: &str| {
        vec![
            format!("sasl.mechanisms={m}"),
            "sasl.username=alice".to_owned(),
            "sasl.password=alice-secret".to_owned(),
        ]
    };
    let tls = vec![format!("ssl.ca.location={ca_file}")];
    let cases = [
        (SecurityProtocol::SaslPlaintext, sasl("PLAIN")),
        (SecurityProtocol::SaslPlaintext, sasl("SCRAM-SHA-256")),
        (SecurityProtocol::Ssl, tls.clone()),
        (
            SecurityProtocol::SaslSsl,
            [sasl("SCRAM-SHA-512"), tls.clone()].concat(),
        ),
    ];
    for (protocol, settings) in cases {
        let cluster = MockCluster::start_in_thread(
            MockConfig::default()
                .security_protocol(protocol)
                .sasl_user("alice", "alice-secret"),
        )
        .expect("mock");
        if protocol.is_tls() {
            cluster.write_ca_certificate(&ca).expect("CA file");
        }
        let what = format!("{protocol} {}", settings[0]);
        let kcat_with = |settings: &[String]| {
            let mut k = kcat();
            k.args(["-b", &cluster.bootstrap()])
                .args(["-X", &format!("security.protocol={protocol}")]);
            for s in settings {
                k.args(["-X", s]);
            }
            k
        };
        let topic = "kcat-secure";
        cluster.create_topic(topic, 1).expect("topic");
        let sent = lines(&what, 100);
        let mut p = kcat_with(&settings);
        p.args(["-P", "-t", topic]);
        check(
            &format!("kcat -P over {what}"),
            &run_with_input(p, &(sent.join("\n") + "\n")),
        );
        assert_eq!(cluster.high_watermark(topic, 0), Some(100), "{what}");
        let mut c = kcat_with(&settings);
        c.args(["-C", "-t", topic, "-o", "beginning", "-e", "-q"]);
        let read = check(&format!("kcat -C over {what}"), &c.output().expect("kcat"));
        assert_eq!(read.lines().collect::<Vec<_>>(), sent, "{what}: read back");

        if protocol.is_sasl() {
            let wrong: Vec<String> = settings
                .iter()
                .map(|s| s.replace("alice-secret", "wrong"))
                .collect();
            let mut l = kcat_with(&wrong);
            l.args(["-L", "-m", "5"]);
            let out = l.output().expect("kcat -L");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{what}: wrong password accepted");
            assert!(err.contains("Authentication failed"), "{what}: {err}");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The Java client's KIP-848 consumer (`group.protocol=consumer`, the AsyncKafkaConsumer) in a
/// group on the mock: Kafka's ConsoleConsumer reads every record once, commits on close (v9,
/// with its member epoch), and a second run of the same group resumes from those commits.
#[test]
fn java_console_consumer_in_a_kip848_group_reads_once_and_resumes_from_its_commits() {
    let cluster = MockCluster::start_in_thread(
        MockConfig::default()
            .brokers(3)
            .consumer_group_heartbeat_interval(std::time::Duration::from_millis(500)),
    )
    .expect("mock");
    let b = cluster.bootstrap();
    let jvm = JvmRuntime::locate().expect("Java and the Kafka jars (the harness resolves them)");
    let topic = "java-848";
    cluster.create_topic(topic, 3).expect("topic");
    let produce = |sent: &[String]| {
        let mut p = jvm
            .kafka_tool(Tool::ConsoleProducer)
            .expect("ConsoleProducer");
        p.args(["--bootstrap-server", &b, "--topic", topic])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        check(
            "ConsoleProducer",
            &run_with_input(p, &(sent.join("\n") + "\n")),
        );
    };
    // KIP-1147 (Kafka 4.2) renamed --consumer-property; the old name prints a deprecation
    // line on stdout, among the records.
    let property_option = if jvm.version.at_least(4, 2) {
        "--command-property"
    } else {
        "--consumer-property"
    };
    let consume = |n: usize| {
        let mut c = jvm
            .kafka_tool(Tool::ConsoleConsumer)
            .expect("ConsoleConsumer");
        c.args(["--bootstrap-server", &b, "--topic", topic])
            .args(["--group", "java-848-group"])
            .args([property_option, "group.protocol=consumer"])
            .args(["--from-beginning", "--timeout-ms", "30000"])
            .args(["--max-messages", &n.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let read = check("ConsoleConsumer", &c.output().expect("ConsoleConsumer"));
        let mut got: Vec<String> = read.lines().map(str::to_owned).collect();
        got.sort();
        got
    };
    let first = lines("first", 200);
    produce(&first);
    let mut want = first.clone();
    want.sort();
    assert_eq!(consume(200), want, "the first run read every record once");
    let second = lines("second", 100);
    produce(&second);
    let mut want = second.clone();
    want.sort();
    assert_eq!(
        consume(100),
        want,
        "the second run resumed from the first run's commits"
    );
    // It spoke KIP-848: ConsumerGroupHeartbeat (68), no classic JoinGroup, commits at v9.
    let log = cluster.requests();
    assert!(log.iter().any(|r| r.api == ApiKey::Other(68)));
    assert!(!log.iter().any(|r| r.api == ApiKey::JoinGroup));
    assert!(log
        .iter()
        .any(|r| r.api == ApiKey::OffsetCommit && r.version == 9));
}

/// Writes to `topic`-0 with the ferrokafka transactional producer: committed `c1-*`, aborted
/// `ab-*`, committed `c2-*`, then an aborted transaction left as the log's last word (its
/// ABORT marker is the last batch, so a reader's end of partition sits behind a marker).
fn write_transactions(bootstrap: &str, topic: &str, id: &str) {
    use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let cfg = ProducerConfig::from_properties([
            ("bootstrap.servers", bootstrap),
            ("transactional.id", id),
            ("linger.ms", "1"),
        ])
        .expect("config");
        let p = Producer::new(cfg).expect("producer");
        p.init_transactions().await.expect("init");
        for (prefix, commit) in [("c1", true), ("ab", false), ("c2", true), ("ab2", false)] {
            p.begin_transaction().expect("begin");
            for value in lines(prefix, 10) {
                let r = ProducerRecord::new(topic).partition(0).value(value);
                p.send(r).await.expect("send").await.expect("written");
            }
            if commit {
                p.commit_transaction().await.expect("commit");
            } else {
                p.abort_transaction().await.expect("abort");
            }
        }
        p.close(std::time::Duration::from_secs(5))
            .await
            .expect("close");
    });
}

#[test]
fn kcat_read_committed_skips_aborted_transactions_under_both_versions() {
    for level in [2, 1] {
        let config = MockConfig::default().brokers(3).transaction_version(level);
        let cluster = MockCluster::start_in_thread(config).expect("mock");
        let b = cluster.bootstrap();
        let topic = "kcat-txn";
        cluster.create_topic(topic, 1).expect("topic");
        write_transactions(&b, topic, "kcat-txn-id");
        // 40 records and 4 markers.
        assert_eq!(cluster.high_watermark(topic, 0), Some(44), "level {level}");

        let read = |isolation: &str| {
            let mut c = kcat();
            c.args(["-b", &b, "-C", "-t", topic, "-o", "beginning", "-e", "-q"])
                .args(["-X", &format!("isolation.level={isolation}")]);
            let out = check(&format!("kcat -C {isolation}"), &c.output().expect("kcat"));
            out.lines().map(str::to_owned).collect::<Vec<_>>()
        };
        let mut committed = lines("c1", 10);
        committed.extend(lines("c2", 10));
        assert_eq!(read("read_committed"), committed, "level {level}");
        let mut all = lines("c1", 10);
        all.extend(lines("ab", 10));
        all.extend(lines("c2", 10));
        all.extend(lines("ab2", 10));
        assert_eq!(read("read_uncommitted"), all, "level {level}");
    }
}
