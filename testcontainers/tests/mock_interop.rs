//! The in-process mock cluster (`ferrokafka-mock`) accepted by other clients: kcat (librdkafka)
//! and the Java console tools (the Java client) produce to it and read back exactly what they
//! wrote, with and without a consumer group. kcat must be installed (`.ci/run` installs Debian's
//! `kcat`); the Java tools come from the harness's cache (Java and Maven). Without them these
//! tests fail, naming what is missing: they never pass without running.

use ferrokafka_mock::{MockCluster, MockConfig};
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
