//! `ferrokafka-mock`: runs an in-process Kafka cluster until Ctrl-C, for trying a client by hand
//! (`kcat -b <bootstrap> -L`) or for tests in another language.
//!
//! ```text
//! ferrokafka-mock [--brokers N] [--port P] [--partitions N] [--topic NAME[:PARTITIONS]]...
//!                 [--security-protocol PLAINTEXT|SASL_PLAINTEXT|SSL|SASL_SSL]
//!                 [--sasl-user USER:PASSWORD]... [--sasl-mechanisms M1,M2] [--ca-file PATH]
//!                 [--consumer-session-timeout-ms MS] [--consumer-heartbeat-interval-ms MS]
//! ```
//! The last two are the KIP-848 groups' `group.consumer.session.timeout.ms` /
//! `group.consumer.heartbeat.interval.ms` (Kafka's 45,000 / 5,000 by default).
//! Prints `bootstrap.servers=<host:port,...>` on its first line; with `--ca-file`, writes the
//! generated CA certificate there (for `ssl.ca.location`).

use ferrokafka_mock::{MockCluster, MockConfig, SecurityProtocol};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: ferrokafka-mock [--brokers N] [--port P] [--partitions N] [--topic NAME[:PARTITIONS]]... [--security-protocol PLAINTEXT|SASL_PLAINTEXT|SSL|SASL_SSL] [--sasl-user USER:PASSWORD]... [--sasl-mechanisms M1,M2] [--ca-file PATH] [--consumer-session-timeout-ms MS] [--consumer-heartbeat-interval-ms MS]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferrokafka-mock: {e}\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "ferrokafka_mock=info".into()),
        )
        .init();
    let mut config = MockConfig::default();
    let mut topics = Vec::new();
    let mut ca_file = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--brokers" => config = config.brokers(parse(&value("--brokers")?)?),
            "--port" => config = config.port(parse(&value("--port")?)?),
            "--partitions" => config = config.default_partitions(parse(&value("--partitions")?)?),
            "--topic" => {
                let spec = value("--topic")?;
                let (name, partitions) = match spec.split_once(':') {
                    Some((n, p)) => (n.to_owned(), parse(p)?),
                    None => (spec, 1),
                };
                topics.push((name, partitions));
            }
            "--security-protocol" => {
                let p = match value("--security-protocol")?.to_ascii_uppercase().as_str() {
                    "PLAINTEXT" => SecurityProtocol::Plaintext,
                    "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
                    "SSL" => SecurityProtocol::Ssl,
                    "SASL_SSL" => SecurityProtocol::SaslSsl,
                    other => return Err(format!("unknown security protocol {other:?}")),
                };
                config = config.security_protocol(p);
            }
            "--sasl-user" => {
                let spec = value("--sasl-user")?;
                let (user, password) = spec
                    .split_once(':')
                    .ok_or_else(|| format!("--sasl-user {spec:?}: expected USER:PASSWORD"))?;
                config = config.sasl_user(user, password);
            }
            "--sasl-mechanisms" => {
                let list = value("--sasl-mechanisms")?;
                let names: Vec<&str> = list.split(',').map(str::trim).collect();
                config = config.sasl_mechanisms(&names);
            }
            "--ca-file" => ca_file = Some(value("--ca-file")?),
            "--consumer-session-timeout-ms" => {
                let ms = parse(&value("--consumer-session-timeout-ms")?)?;
                config = config.consumer_group_session_timeout(Duration::from_millis(ms));
            }
            "--consumer-heartbeat-interval-ms" => {
                let ms = parse(&value("--consumer-heartbeat-interval-ms")?)?;
                config = config.consumer_group_heartbeat_interval(Duration::from_millis(ms));
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
    rt.block_on(async move {
        let cluster = MockCluster::start(config)
            .await
            .map_err(|e| format!("cannot listen: {e}"))?;
        for (name, partitions) in topics {
            cluster
                .create_topic(&name, partitions)
                .map_err(|e| format!("topic {name}: {e}"))?;
        }
        if let Some(path) = ca_file {
            cluster
                .write_ca_certificate(&path)
                .map_err(|e| format!("--ca-file {path}: {e}"))?;
        }
        println!("bootstrap.servers={}", cluster.bootstrap());
        tokio::signal::ctrl_c()
            .await
            .map_err(|e| format!("waiting for Ctrl-C: {e}"))?;
        Ok(())
    })
}

fn parse<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("{s:?} is not a number"))
}
