//! Choosing a partition for a record, compatible with the Java client.
//!
//! The order of decisions is Java's (`KafkaProducer.partition` and `BuiltInPartitioner`):
//!
//! 1. a partition set on the record is used as is (it must exist);
//! 2. otherwise a user [`Partitioner`], when configured, may choose one;
//! 3. otherwise a record with a key (and `partitioner.ignore.keys=false`) goes to
//!    `toPositive(murmur2(key)) % numPartitions` ([`partition_for_key`]), over *all* partitions,
//!    available or not, so the same key always lands in the same partition;
//! 4. otherwise (no key, or keys ignored) the record goes to the topic's current *sticky*
//!    partition ([`StickyPartitioner`], KIP-794).
//!
//! `murmur2` is checked against the Java client's `Utils.murmur2` and
//! `BuiltInPartitioner.partitionForKey` for 91 keys (`protocol-tests/golden/murmur2.txt`).

use crate::cluster::ClusterMetadata;
use fastrand::Rng;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

/// The partitions of one topic as the partitioner sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionsInfo {
    num_partitions: i32,
    /// Shared: a clone (one per `send`, from [`PartitionsCache`]) costs a reference count.
    available: Arc<[i32]>,
}

impl PartitionsInfo {
    /// `num_partitions` partitions, of which `available` (those with a leader) can take records
    /// now. Indexes outside `0..num_partitions` are dropped; duplicates are removed.
    pub fn new(num_partitions: i32, available: impl IntoIterator<Item = i32>) -> PartitionsInfo {
        let mut available: Vec<i32> = available
            .into_iter()
            .filter(|p| (0..num_partitions).contains(p))
            .collect();
        available.sort_unstable();
        available.dedup();
        PartitionsInfo {
            num_partitions: num_partitions.max(0),
            available: available.into(),
        }
    }

    /// `n` partitions, all available.
    pub fn all_available(n: i32) -> PartitionsInfo {
        PartitionsInfo::new(n, 0..n)
    }

    /// From a metadata snapshot's topic: available partitions are those with a leader.
    pub fn from_topic(topic: &crate::cluster::TopicInfo) -> PartitionsInfo {
        let n = i32::try_from(topic.partitions.len()).unwrap_or(i32::MAX);
        PartitionsInfo::new(
            n,
            topic
                .partitions
                .iter()
                .filter(|p| p.leader.is_some())
                .map(|p| p.partition),
        )
    }

    /// Number of partitions of the topic.
    pub fn num_partitions(&self) -> i32 {
        self.num_partitions
    }

    /// Partitions with a leader, ascending.
    pub fn available(&self) -> &[i32] {
        &self.available
    }

    /// Whether `p` is a partition of the topic.
    pub fn contains(&self, p: i32) -> bool {
        (0..self.num_partitions).contains(&p)
    }

    /// Whether `p` has a leader.
    pub fn is_available(&self, p: i32) -> bool {
        self.available.binary_search(&p).is_ok()
    }
}

/// Each topic's [`PartitionsInfo`], built once per metadata snapshot instead of on every
/// `send` (a profile put the sorted `Vec` built per record at ~7 % of a 100-byte record's CPU).
/// Holds the snapshot it was built from, so a pointer comparison tells whether it is current
/// (the snapshot cannot be freed and its address reused while held).
#[derive(Debug, Default)]
pub(crate) struct PartitionsCache {
    inner: Mutex<Option<Cached>>,
}

#[derive(Debug)]
struct Cached {
    snapshot: Arc<ClusterMetadata>,
    /// Scanned linearly: for the few topics a producer usually writes, cheaper than hashing
    /// the name (a `HashMap` with SipHash was ~3 % of a 100-byte record's CPU).
    topics: Vec<(String, PartitionsInfo)>,
}

/// Topics cached per snapshot at most; a producer writing to more computes the others' per
/// `send`, as before the cache.
const CACHED_TOPICS: usize = 16;

impl PartitionsCache {
    /// The partitions of `topic` in `snapshot`; `None` when the snapshot lists none.
    pub(crate) fn get(
        &self,
        snapshot: &Arc<ClusterMetadata>,
        topic: &str,
    ) -> Option<PartitionsInfo> {
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let cached = match &mut *guard {
            Some(c) if Arc::ptr_eq(&c.snapshot, snapshot) => c,
            other => other.insert(Cached {
                snapshot: snapshot.clone(),
                topics: Vec::new(),
            }),
        };
        if let Some((_, p)) = cached.topics.iter().find(|(name, _)| name == topic) {
            return Some(p.clone());
        }
        let t = snapshot.topic(topic).filter(|t| !t.partitions.is_empty())?;
        let info = PartitionsInfo::from_topic(t);
        if cached.topics.len() < CACHED_TOPICS {
            cached.topics.push((topic.to_owned(), info.clone()));
        }
        Some(info)
    }
}

/// A user-supplied partitioner (Java's `partitioner.class`), set with
/// [`ProducerConfigBuilder::partitioner`](super::config::ProducerConfigBuilder::partitioner).
///
/// It is called for every record that has no explicit partition. Returning `None` hands the record
/// to the built-in logic (murmur2 of the key, or sticky when keyless), so a partitioner can
/// override only some records. A returned partition outside `0..num_partitions` fails the send
/// with an `InvalidArgument` error.
///
/// ```
/// use ferrokafka::producer::{Partitioner, PartitionsInfo};
/// #[derive(Debug)]
/// struct AuditToZero;
/// impl Partitioner for AuditToZero {
///     fn partition(&self, topic: &str, _key: Option<&[u8]>, _value: Option<&[u8]>,
///                  _partitions: &PartitionsInfo) -> Option<i32> {
///         (topic == "audit").then_some(0)
///     }
/// }
/// ```
pub trait Partitioner: Send + Sync + fmt::Debug {
    /// The partition for this record, or `None` for the built-in choice.
    fn partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        partitions: &PartitionsInfo,
    ) -> Option<i32>;
}

/// Java's `Utils.murmur2`: 32-bit MurmurHash2 with seed `0x9747b28c`, reading the input as
/// little-endian 4-byte words, then the 1 to 3 tail bytes (each masked with `0xff`, so bytes
/// `>= 0x80` are not sign-extended), then the final mixes.
///
/// ```
/// use ferrokafka::__private::producer::murmur2;
/// assert_eq!(murmur2(b""), 275646681);
/// assert_eq!(murmur2(b"a"), -1563381124);
/// ```
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    // Java computes in `int` and truncates the length to 32 bits the same way.
    let mut h: u32 = SEED ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        // `chunks_exact(4)` yields slices of exactly 4 bytes, so these indexes are in bounds.
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    // Java's `switch (length % 4)` falls through from case 3 to case 1, xoring byte i at bit 8*i,
    // and multiplies once.
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, b) in tail.iter().enumerate().rev() {
            h ^= u32::from(*b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Java's `Utils.toPositive`: clears the sign bit (not `abs`, which overflows for `i32::MIN`).
pub fn to_positive(x: i32) -> i32 {
    x & 0x7fff_ffff
}

/// The partition Java's producer picks for a keyed record:
/// `toPositive(murmur2(key)) % num_partitions`. `num_partitions` must be positive; 0 gives 0.
pub fn partition_for_key(key: &[u8], num_partitions: i32) -> i32 {
    if num_partitions <= 0 {
        return 0;
    }
    to_positive(murmur2(key)) % num_partitions
}

/// Keyless partitioning for one topic, in the style of KIP-794 (Java's `BuiltInPartitioner`).
///
/// Records stick to one partition until about `batch.size` bytes have been appended to it *and*
/// its last batch is full (or `2 × batch.size` bytes regardless), then a new partition is chosen
/// among the *available* ones (those with a leader; all partitions when none has one). This
/// fills whole batches instead of spreading tiny ones over every partition.
///
/// The choice is uniform, or, with adaptive partitioning (Java's
/// `partitioner.adaptive.partitioning.enable=true`, the default), weighted towards partitions
/// with shorter queues: partition `p` gets weight `max_queue + 1 - queue(p)`, where `queue` is
/// the number of batches waiting in the accumulator, as in Java. Java's
/// `partitioner.availability.timeout.ms` (excluding partitions whose broker is slow) is not
/// implemented and only `0` is accepted.
#[derive(Debug)]
pub struct StickyPartitioner {
    current: Option<i32>,
    produced_bytes: usize,
    rng: Rng,
}

impl Default for StickyPartitioner {
    fn default() -> Self {
        StickyPartitioner::new()
    }
}

impl StickyPartitioner {
    /// A partitioner with a randomly seeded generator.
    pub fn new() -> StickyPartitioner {
        StickyPartitioner::with_seed(fastrand::u64(..))
    }

    /// A partitioner with a fixed seed, for reproducible tests.
    pub fn with_seed(seed: u64) -> StickyPartitioner {
        StickyPartitioner {
            current: None,
            produced_bytes: 0,
            rng: Rng::with_seed(seed),
        }
    }

    /// The current sticky partition, if one was chosen.
    pub fn current(&self) -> Option<i32> {
        self.current
    }

    /// The partition for the next keyless record: the sticky one if it is still usable, or a new
    /// choice. `queue_len(p)` is the number of batches queued for `p` (return 0 for a uniform
    /// choice). Returns `None` only when the topic has no partitions.
    pub fn partition(
        &mut self,
        partitions: &PartitionsInfo,
        queue_len: impl Fn(i32) -> usize,
    ) -> Option<i32> {
        if let Some(p) = self.current {
            let usable = if partitions.available().is_empty() {
                partitions.contains(p)
            } else {
                partitions.is_available(p)
            };
            if usable {
                return Some(p);
            }
        }
        self.choose(partitions, queue_len)
    }

    /// Records that `bytes` were appended to `partition`. When the sticky partition has received
    /// at least `batch_size` bytes and `last_batch_full` (its open batch closed), or at least
    /// `2 × batch_size` bytes, the next call to [`partition`](Self::partition) chooses anew.
    pub fn on_append(
        &mut self,
        partition: i32,
        bytes: usize,
        batch_size: usize,
        last_batch_full: bool,
    ) {
        if self.current != Some(partition) {
            return;
        }
        self.produced_bytes = self.produced_bytes.saturating_add(bytes);
        if (self.produced_bytes >= batch_size && last_batch_full)
            || self.produced_bytes >= batch_size.saturating_mul(2)
        {
            self.current = None;
        }
    }

    fn choose(
        &mut self,
        partitions: &PartitionsInfo,
        queue_len: impl Fn(i32) -> usize,
    ) -> Option<i32> {
        self.produced_bytes = 0;
        let all: Vec<i32>;
        let candidates = if partitions.available().is_empty() {
            all = (0..partitions.num_partitions()).collect();
            &all[..]
        } else {
            partitions.available()
        };
        let chosen = match candidates.len() {
            0 => None,
            1 => candidates.first().copied(),
            n => {
                let lens: Vec<usize> = candidates.iter().map(|p| queue_len(*p)).collect();
                let max = lens.iter().copied().max().unwrap_or(0);
                let total: u64 = lens.iter().map(|l| (max - l + 1) as u64).sum();
                if total == n as u64 {
                    // All queues equal: uniform.
                    candidates.get(self.rng.usize(..n)).copied()
                } else {
                    let mut pick = self.rng.u64(..total);
                    let mut found = None;
                    for (p, l) in candidates.iter().zip(&lens) {
                        let w = (max - l + 1) as u64;
                        if pick < w {
                            found = Some(*p);
                            break;
                        }
                        pick -= w;
                    }
                    found
                }
            }
        };
        self.current = chosen;
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_known_values() {
        // From the Java client (see protocol-tests/golden/murmur2.txt for the full list).
        assert_eq!(murmur2(b""), 275646681);
        assert_eq!(murmur2(b"a"), -1563381124);
        assert_eq!(murmur2(b"ab"), 316155434);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(partition_for_key(b"a", 100), 24);
        assert_eq!(partition_for_key(b"a", 0), 0);
    }

    #[test]
    fn partitions_info_filters_and_sorts() {
        let p = PartitionsInfo::new(4, [3, 1, 1, 9, -1]);
        assert_eq!(p.available(), &[1, 3]);
        assert!(p.contains(0) && !p.contains(4));
        assert!(p.is_available(3) && !p.is_available(0));
    }

    #[test]
    fn sticky_stays_until_batch_full_then_switches_among_available() {
        let info = PartitionsInfo::new(6, [1, 4]);
        let mut s = StickyPartitioner::with_seed(7);
        let first = s.partition(&info, |_| 0).unwrap();
        assert!(first == 1 || first == 4);
        // Enough bytes but the batch is not full yet: stay.
        s.on_append(first, 100, 100, false);
        assert_eq!(s.partition(&info, |_| 0), Some(first));
        // Batch full: switch on the next record.
        s.on_append(first, 1, 100, true);
        assert_eq!(s.current(), None);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let p = s.partition(&info, |_| 0).unwrap();
            seen.insert(p);
            s.on_append(p, 250, 100, false); // 2 × batch.size forces a switch
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![1, 4]);
    }

    #[test]
    fn sticky_leaves_a_partition_that_lost_its_leader() {
        let mut s = StickyPartitioner::with_seed(1);
        let p = s
            .partition(&PartitionsInfo::all_available(3), |_| 0)
            .unwrap();
        let others: Vec<i32> = (0..3).filter(|x| *x != p).collect();
        let info = PartitionsInfo::new(3, others.clone());
        let q = s.partition(&info, |_| 0).unwrap();
        assert!(others.contains(&q));
        // No partition has a leader: fall back to all partitions.
        let none = PartitionsInfo::new(3, []);
        assert!(s.partition(&none, |_| 0).is_some());
        assert_eq!(s.partition(&PartitionsInfo::new(0, []), |_| 0), None);
    }

    #[test]
    fn adaptive_prefers_short_queues() {
        let info = PartitionsInfo::all_available(2);
        let mut s = StickyPartitioner::with_seed(3);
        let mut counts = [0usize; 2];
        for _ in 0..3000 {
            s.current = None;
            // Partition 0 has 9 batches queued, partition 1 none: weights 1 and 10.
            let p = s.partition(&info, |p| if p == 0 { 9 } else { 0 }).unwrap();
            counts[p as usize] += 1;
        }
        assert!(counts[1] > counts[0] * 5, "{counts:?}");
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;
    use crate::cluster::{PartitionInfo, TopicInfo};
    use crate::types::LeaderEpoch;

    /// A snapshot with `topics`, each of `n` partitions; partition 1 of each has no leader.
    fn snapshot(topics: &[&str], n: i32) -> Arc<ClusterMetadata> {
        let mut md = ClusterMetadata::empty();
        for t in topics {
            let partitions = (0..n)
                .map(|p| PartitionInfo {
                    partition: p,
                    leader: (p != 1).then_some(1),
                    leader_epoch: LeaderEpoch(0),
                    replicas: vec![1],
                    isr: vec![1],
                    offline_replicas: vec![],
                    error_code: 0,
                })
                .collect();
            md.topics.insert(
                (*t).to_owned(),
                TopicInfo {
                    name: (*t).to_owned(),
                    topic_id: None,
                    is_internal: false,
                    error_code: 0,
                    partitions,
                },
            );
        }
        Arc::new(md)
    }

    #[test]
    fn answers_per_snapshot_and_follows_a_new_one() {
        let cache = PartitionsCache::default();
        let a = snapshot(&["t"], 3);
        let p = cache.get(&a, "t").expect("known");
        assert_eq!((p.num_partitions(), p.available()), (3, &[0, 2][..]));
        assert_eq!(cache.get(&a, "t"), Some(p));
        assert_eq!(cache.get(&a, "unknown"), None);
        // A new snapshot (the topic grew) replaces what was cached.
        let b = snapshot(&["t"], 5);
        let p = cache.get(&b, "t").expect("known");
        assert_eq!((p.num_partitions(), p.available()), (5, &[0, 2, 3, 4][..]));
    }

    #[test]
    fn more_topics_than_it_caches_still_get_their_partitions() {
        let names: Vec<String> = (0..CACHED_TOPICS + 5).map(|i| format!("t{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let md = snapshot(&refs, 2);
        let cache = PartitionsCache::default();
        for _ in 0..2 {
            for n in &refs {
                assert_eq!(
                    cache.get(&md, n).map(|p| p.num_partitions()),
                    Some(2),
                    "{n}"
                );
            }
        }
    }
}
