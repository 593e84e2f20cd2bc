//! Randomness from std only, cluster ids and unique topic names.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// 64 random-enough bits without a `rand` dependency: `RandomState` is seeded from the OS once per
/// thread, and the counter, clock and pid make successive calls (and processes) differ.
pub(crate) fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    h.finish()
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding (the encoding Kafka uses for `Uuid.toString()`).
pub(crate) fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        // A chunk of k bytes yields k + 1 significant characters.
        for i in 0..=chunk.len() {
            let idx = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(BASE64URL[idx as usize]));
        }
    }
    out
}

/// A new KRaft cluster id: 16 random bytes as 22 base64url characters, like Kafka's
/// `Uuid.randomUuid()`. Never starts with `-` (the storage tool's argument parser would read it as an
/// option) and is never the reserved all-zero or metadata-topic id.
pub fn random_cluster_id() -> String {
    loop {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&random_u64().to_be_bytes());
        bytes[8..].copy_from_slice(&random_u64().to_be_bytes());
        let reserved = bytes[..15].iter().all(|&b| b == 0) && bytes[15] <= 1;
        let id = base64url(&bytes);
        if !reserved && !id.starts_with('-') {
            return id;
        }
    }
}

static TOPIC_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A topic name unique within this process and across processes: `<prefix>-<pid>-<counter>-<random>`.
///
/// Characters of `prefix` outside Kafka's legal set (`[a-zA-Z0-9._-]`) become `_`; the prefix is
/// shortened so the whole name stays within Kafka's 249-character limit.
pub fn unique_topic(prefix: &str) -> String {
    let clean: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect();
    let clean = if clean.is_empty() || clean == "." || clean == ".." {
        "topic".to_string()
    } else {
        clean
    };
    let n = TOPIC_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{clean}-{}-{n}-{:08x}",
        std::process::id(),
        random_u64() as u32
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn base64url_matches_known_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64url(&[0u8; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
    }

    #[test]
    fn cluster_id_format() {
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            let id = random_cluster_id();
            assert_eq!(id.len(), 22, "{id}");
            assert!(!id.starts_with('-'), "{id}");
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            // 16 bytes = 128 bits: the last character carries only 2 bits, so it is one of A, Q, g, w.
            assert!(
                matches!(id.as_bytes()[21], b'A' | b'Q' | b'g' | b'w'),
                "{id}"
            );
            assert!(seen.insert(id));
        }
    }

    #[test]
    fn unique_topic_names() {
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            let t = unique_topic("my test/topic");
            assert!(t.starts_with("my_test_topic-"), "{t}");
            assert!(t.contains(&format!("-{}-", std::process::id())));
            assert!(t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-'));
            assert!(seen.insert(t));
        }
        assert!(unique_topic("").starts_with("topic-"));
        assert!(unique_topic("..").starts_with("topic-"));
        assert!(unique_topic(&"x".repeat(1000)).len() <= 249);
    }
}
