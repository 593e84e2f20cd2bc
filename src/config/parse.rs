//! Parsers for property values, shared by every client's `set` (client, producer, consumer,
//! group): one copy of each rule, and every error names the key and the value.

use crate::{Error, Result};
use std::fmt;
use std::time::Duration;

/// A broker's `host:port`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BrokerAddress {
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl BrokerAddress {
    /// Builds an address.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        BrokerAddress {
            host: host.into(),
            port,
        }
    }
}

impl fmt::Display for BrokerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

pub(crate) fn parse_bootstrap(key: &str, value: &str) -> Result<Vec<BrokerAddress>> {
    let mut out = Vec::new();
    for part in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        // Java accepts an optional "PLAINTEXT://" style prefix in some places; strip a scheme.
        let part = part.split_once("://").map_or(part, |(_, rest)| rest);
        let (host, port) = if let Some(rest) = part.strip_prefix('[') {
            let (h, p) = rest
                .split_once("]:")
                .ok_or_else(|| Error::config(key, value, format!("{part:?} is not [ipv6]:port")))?;
            (h, p)
        } else {
            part.rsplit_once(':')
                .ok_or_else(|| Error::config(key, value, format!("{part:?} is not host:port")))?
        };
        if host.is_empty() {
            return Err(Error::config(
                key,
                value,
                format!("{part:?} has an empty host"),
            ));
        }
        let port: u16 =
            port.parse().ok().filter(|p| *p != 0).ok_or_else(|| {
                Error::config(key, value, format!("{part:?} has an invalid port"))
            })?;
        out.push(BrokerAddress::new(host, port));
    }
    if out.is_empty() {
        return Err(Error::config(
            key,
            value,
            "at least one host:port is required",
        ));
    }
    Ok(out)
}

pub(crate) fn parse_ms(key: &str, value: &str) -> Result<Duration> {
    let v = value.trim();
    let ms: u64 = v
        .parse()
        .map_err(|_| Error::config(key, value, "expected a non-negative number of milliseconds"))?;
    Ok(Duration::from_millis(ms))
}

pub(crate) fn parse_usize(key: &str, value: &str) -> Result<usize> {
    value
        .trim()
        .parse()
        .map_err(|_| Error::config(key, value, "expected a non-negative integer"))
}

/// An `int` property (Java's `ConfigDef.Type.INT`) within `min..=max`.
pub(crate) fn parse_int(key: &str, value: &str, min: i32, max: i32) -> Result<i32> {
    let v: i32 = value
        .trim()
        .parse()
        .map_err(|_| Error::config(key, value, "expected an integer"))?;
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(Error::config(
            key,
            value,
            format!("must be between {min} and {max}"),
        ))
    }
}

/// A comma-separated list (Java's `ConfigDef.Type.LIST`): entries trimmed, empty ones dropped.
pub(crate) fn parse_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A string property whose empty value means "not set" (`group.id`, `client.rack`, ...).
pub(crate) fn parse_optional(value: &str) -> Option<String> {
    Some(value.to_owned()).filter(|s| !s.is_empty())
}

/// A boolean, case-insensitive as Java's `ConfigDef.Type.BOOLEAN`.
pub(crate) fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::config(key, value, "expected true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_lists() {
        let v = parse_bootstrap("b", " a:1, PLAINTEXT://b:2 ,[::1]:3").unwrap();
        assert_eq!(
            v,
            vec![
                BrokerAddress::new("a", 1),
                BrokerAddress::new("b", 2),
                BrokerAddress::new("::1", 3)
            ]
        );
        assert_eq!(v[2].to_string(), "[::1]:3");
        for bad in ["", "a", "a:", ":1", "a:0", "a:70000", "[::1]"] {
            assert!(parse_bootstrap("b", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn scalars_name_key_and_value() {
        assert_eq!(parse_ms("k", " 250 ").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_int("k", "7", 0, 9).unwrap(), 7);
        assert_eq!(parse_usize("k", "3").unwrap(), 3);
        assert!(parse_bool("k", "TRUE").unwrap());
        assert!(!parse_bool("k", "false").unwrap());
        assert_eq!(parse_list(" a, ,b "), vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(parse_optional(""), None);
        for err in [
            parse_ms("linger.ms", "-1").unwrap_err(),
            parse_int("linger.ms", "10", 0, 9).unwrap_err(),
            parse_int("linger.ms", "x", 0, 9).unwrap_err(),
            parse_usize("linger.ms", "-1").unwrap_err(),
            parse_bool("linger.ms", "yes").unwrap_err(),
        ] {
            assert!(err.to_string().contains("linger.ms"), "{err}");
        }
    }
}
