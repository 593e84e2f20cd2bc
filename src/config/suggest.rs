//! "Did you mean …?" for unknown configuration keys (issue #24): the nearest known key by edit
//! distance. The lists are checked by a test against the builders themselves (every listed key
//! is accepted), so a key renamed there cannot linger here.

/// Keys of [`ClientConfigBuilder`](super::ClientConfigBuilder) and its security section.
pub(crate) const CLIENT_KEYS: &[&str] = &[
    "bootstrap.servers",
    "client.id",
    "request.timeout.ms",
    "socket.connection.setup.timeout.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
    "metadata.max.age.ms",
    "default.api.timeout.ms",
    "receive.message.max.bytes",
    "allow.auto.create.topics",
    "security.protocol",
    "sasl.mechanism",
    "sasl.jaas.config",
    "sasl.username",
    "sasl.password",
    "ssl.endpoint.identification.algorithm",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.certificates",
    "ssl.truststore.password",
    "ssl.ca.location",
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "ssl.keystore.password",
    "ssl.key.password",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.protocol",
];

/// Keys only a producer has.
pub(crate) const PRODUCER_KEYS: &[&str] = &[
    "acks",
    "enable.idempotence",
    "linger.ms",
    "batch.size",
    "buffer.memory",
    "max.block.ms",
    "max.in.flight.requests.per.connection",
    "retries",
    "delivery.timeout.ms",
    "compression.type",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.zstd.level",
    "max.request.size",
    "partitioner.ignore.keys",
    "partitioner.adaptive.partitioning.enable",
    "transactional.id",
    "transaction.timeout.ms",
];

/// Keys only a consumer has.
pub(crate) const CONSUMER_KEYS: &[&str] = &[
    "group.id",
    "group.instance.id",
    "group.protocol",
    "group.remote.assignor",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "partition.assignment.strategy",
    "client.rack",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "max.poll.records",
    "fetch.min.bytes",
    "fetch.max.wait.ms",
    "fetch.max.bytes",
    "max.partition.fetch.bytes",
    "isolation.level",
    "auto.offset.reset",
    "check.crcs",
];

/// The share consumer's own keys (`share::ShareConsumerConfig`).
pub(crate) const SHARE_CONSUMER_KEYS: &[&str] = &[
    "group.id",
    "share.acknowledgement.mode",
    "max.poll.records",
    "fetch.min.bytes",
    "fetch.max.wait.ms",
    "fetch.max.bytes",
    "max.partition.fetch.bytes",
    "client.rack",
    "check.crcs",
];

/// Edit distance (insertions, deletions, substitutions), case-insensitive, with `_` and `-`
/// counted as `.` (`bootstrap_servers` is one step from nothing).
fn distance(a: &str, b: &str) -> usize {
    let norm = |s: &str| -> Vec<char> {
        s.chars()
            .map(|c| match c {
                '_' | '-' => '.',
                c => c.to_ascii_lowercase(),
            })
            .collect()
    };
    let (a, b) = (norm(a), norm(b));
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The known key nearest to `key` if it is close enough to be a typo: at most 3 edits, and at
/// most a third of the key's length.
pub(crate) fn nearest(key: &str, lists: &[&[&'static str]]) -> Option<&'static str> {
    let limit = (key.chars().count() / 3).clamp(1, 3);
    lists
        .iter()
        .flat_map(|l| l.iter().copied())
        .map(|k| (distance(key, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// The error for an unknown key, with a suggestion when one is near.
pub(crate) fn unknown_key(key: &str, value: &str, lists: &[&[&'static str]]) -> crate::Error {
    let reason = match nearest(key, lists) {
        Some(k) => format!("unknown configuration key; did you mean {k}?"),
        None => "unknown configuration key".to_owned(),
    };
    crate::Error::config(key, value, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_nearest_key_and_strangers_get_none() {
        let all: &[&[&'static str]] = &[CLIENT_KEYS, PRODUCER_KEYS];
        for (typo, want) in [
            ("bootstrap.server", Some("bootstrap.servers")),
            ("bootstrap_servers", Some("bootstrap.servers")),
            ("Bootstrap.Servers", Some("bootstrap.servers")),
            ("linger_ms", Some("linger.ms")),
            ("ack", Some("acks")),
            ("request.timout.ms", Some("request.timeout.ms")),
            ("enable.idempotency", Some("enable.idempotence")),
            ("frobnicate", None),
            ("x", None),
        ] {
            assert_eq!(nearest(typo, all), want, "{typo}");
        }
        let e = unknown_key("bootstrap.server", "h:9092", all);
        assert!(
            e.to_string().contains("did you mean bootstrap.servers?"),
            "{e}"
        );
    }

    #[test]
    fn every_listed_key_is_accepted_by_its_builder() {
        // Values each key accepts; anything else is a config error naming the value, not an
        // unknown key.
        let value = |k: &str| -> &str {
            match k {
                "bootstrap.servers" => "h:9092",
                "security.protocol" => "PLAINTEXT",
                "sasl.mechanism" => "PLAIN",
                "acks" => "all",
                "compression.type" => "none",
                "isolation.level" => "read_committed",
                "auto.offset.reset" => "earliest",
                "group.protocol" => "classic",
                "partition.assignment.strategy" => "range",
                "ssl.endpoint.identification.algorithm" => "https",
                "ssl.protocol" => "TLSv1.3",
                k if k.ends_with(".ms") || k.ends_with(".bytes") || k.ends_with(".records") => {
                    "1000"
                }
                k if k.starts_with("enable.")
                    || k.starts_with("allow.")
                    || k == "check.crcs"
                    || k.starts_with("partitioner.") =>
                {
                    "true"
                }
                _ => "1",
            }
        };
        let unknown = |r: crate::Result<()>| {
            r.err()
                .is_some_and(|e| e.to_string().contains("unknown configuration key"))
        };
        for k in CLIENT_KEYS.iter().chain(PRODUCER_KEYS) {
            let mut b = crate::producer::ProducerConfig::builder();
            assert!(!unknown(b.set(k, value(k))), "producer does not know {k}");
        }
        for k in CLIENT_KEYS.iter().chain(CONSUMER_KEYS) {
            let mut b = crate::consumer::ConsumerConfig::builder();
            assert!(!unknown(b.set(k, value(k))), "consumer does not know {k}");
        }
    }
}
