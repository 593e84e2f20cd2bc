//! Newtypes for the numbers Kafka passes around, so an offset is never mistaken for an epoch.

use std::fmt;

mod compression;
mod group_metadata;

pub use compression::CompressionType;
pub use group_metadata::ConsumerGroupMetadata;

/// How many bytes of a key, value or header a `Debug` or `Display` shows: a person reads the
/// start of it and its size, never a dump (a 2 MB value printed whole was 2,000,000 characters
/// on stderr through `main() -> Result<(), Box<dyn Error>>`).
pub(crate) const PREVIEW_BYTES: usize = 32;

/// Formats bytes as their first [`PREVIEW_BYTES`] (ASCII-escaped, `b"..."`), followed by `…`
/// and the total size when there is more.
pub(crate) struct Preview<'a>(pub &'a [u8]);

impl fmt::Debug for Preview<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = &self.0[..self.0.len().min(PREVIEW_BYTES)];
        write!(f, "b\"{}\"", shown.escape_ascii())?;
        if shown.len() < self.0.len() {
            write!(f, "… ({} B)", self.0.len())?;
        }
        Ok(())
    }
}

/// [`Preview`] of an optional value: `None` or the preview.
pub(crate) struct OptPreview<'a>(pub Option<&'a [u8]>);

impl fmt::Debug for OptPreview<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("None"),
            Some(b) => Preview(b).fmt(f),
        }
    }
}

macro_rules! newtype {
    ($(#[$meta:meta])* $name:ident($inner:ty)) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub $inner);

        impl $name {
            /// The raw wire value.
            #[inline]
            pub const fn get(self) -> $inner {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl From<$inner> for $name {
            fn from(v: $inner) -> Self {
                Self(v)
            }
        }
    };
}

newtype!(
    /// An offset in a partition's log (`int64` on the wire).
    ///
    /// ```
    /// use ferrokafka::types::Offset;
    /// assert_eq!(Offset(41).next(), Offset(42));
    /// ```
    Offset(i64)
);
newtype!(
    /// A partition's leader epoch (`int32`); `-1` means unknown.
    LeaderEpoch(i32)
);
newtype!(
    /// A broker's node id (`int32`).
    BrokerId(i32)
);
newtype!(
    /// A partition index within a topic (`int32`).
    PartitionId(i32)
);
newtype!(
    /// An idempotent producer's id (`int64`); `-1` means none.
    ProducerId(i64)
);
newtype!(
    /// An idempotent producer's epoch (`int16`); `-1` means none.
    ProducerEpoch(i16)
);
newtype!(
    /// A per-partition record sequence number of an idempotent producer (`int32`, wraps at `i32::MAX`).
    Sequence(i32)
);
newtype!(
    /// A request's correlation id (`int32`).
    CorrelationId(i32)
);

impl Offset {
    /// An offset nobody knows (`-1` on the wire, as Java's `-1` offsets).
    pub const UNKNOWN: Offset = Offset(-1);

    /// The offset after this one.
    #[inline]
    pub const fn next(self) -> Offset {
        Offset(self.0 + 1)
    }
}

impl LeaderEpoch {
    /// The "unknown epoch" sentinel (`-1`).
    pub const UNKNOWN: LeaderEpoch = LeaderEpoch(-1);
}

impl ProducerId {
    /// The "no producer id" sentinel (`-1`).
    pub const NONE: ProducerId = ProducerId(-1);
}

impl ProducerEpoch {
    /// The "no epoch" sentinel (`-1`).
    pub const NONE: ProducerEpoch = ProducerEpoch(-1);
}

impl Sequence {
    /// The "no sequence" sentinel (`-1`) used by non-idempotent batches.
    pub const NONE: Sequence = Sequence(-1);

    /// The sequence `n` records after this one, wrapping at `i32::MAX` as the broker does.
    ///
    /// ```
    /// use ferrokafka::types::Sequence;
    /// assert_eq!(Sequence(i32::MAX).add(1), Sequence(0));
    /// assert_eq!(Sequence(5).add(3), Sequence(8));
    /// ```
    #[inline]
    pub const fn add(self, n: i32) -> Sequence {
        // Kafka increments sequences modulo 2^31 (DefaultRecordBatch.incrementSequence).
        let next = self.0 as i64 + n as i64;
        if next > i32::MAX as i64 {
            Sequence((next - i32::MAX as i64 - 1) as i32)
        } else {
            Sequence(next as i32)
        }
    }
}

/// A topic and partition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// Builds a topic-partition.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// Which records a consumer may read (`isolation.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IsolationLevel {
    /// All records up to the high watermark, including those of open and aborted transactions.
    #[default]
    ReadUncommitted,
    /// Only records up to the last stable offset, without aborted transactions' records.
    ReadCommitted,
}

impl IsolationLevel {
    /// The wire value (`0` / `1`) used by Fetch and ListOffsets.
    pub const fn to_wire(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }
}

/// An operation an ACL can allow or deny; admin describe calls report the operations the caller
/// may perform on a cluster, topic or group as a set of these (KIP-430 "authorized operations").
///
/// ```
/// use ferrokafka::types::AclOperation;
/// assert_eq!(AclOperation::from_wire(3), AclOperation::Read);
/// assert_eq!(AclOperation::Read.to_string(), "READ");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum AclOperation {
    /// An operation this client does not know (`0`, or a code added after this client).
    Unknown,
    /// Matches any operation, in filters (`1`).
    Any,
    /// Every operation (`2`).
    All,
    /// `3`.
    Read,
    /// `4`.
    Write,
    /// `5`.
    Create,
    /// `6`.
    Delete,
    /// `7`.
    Alter,
    /// `8`.
    Describe,
    /// `9`.
    ClusterAction,
    /// `10`.
    DescribeConfigs,
    /// `11`.
    AlterConfigs,
    /// `12`.
    IdempotentWrite,
    /// `13`.
    CreateTokens,
    /// `14`.
    DescribeTokens,
    /// `15`.
    TwoPhaseCommit,
}

impl AclOperation {
    const ALL: [AclOperation; 16] = [
        AclOperation::Unknown,
        AclOperation::Any,
        AclOperation::All,
        AclOperation::Read,
        AclOperation::Write,
        AclOperation::Create,
        AclOperation::Delete,
        AclOperation::Alter,
        AclOperation::Describe,
        AclOperation::ClusterAction,
        AclOperation::DescribeConfigs,
        AclOperation::AlterConfigs,
        AclOperation::IdempotentWrite,
        AclOperation::CreateTokens,
        AclOperation::DescribeTokens,
        AclOperation::TwoPhaseCommit,
    ];

    /// The operation of a wire code (`Unknown` for codes this client does not know).
    pub fn from_wire(code: i8) -> AclOperation {
        usize::try_from(code)
            .ok()
            .and_then(|i| AclOperation::ALL.get(i).copied())
            .unwrap_or(AclOperation::Unknown)
    }

    /// The wire code.
    pub fn to_wire(self) -> i8 {
        // The discriminants are the wire codes, in order.
        self as i8
    }

    /// The operations in a KIP-430 bit field (bit `n` set: operation `n` is allowed); `None`
    /// for `i32::MIN`, which the broker sends when the operations were not asked for.
    pub fn from_bit_field(bits: i32) -> Option<Vec<AclOperation>> {
        if bits == i32::MIN {
            return None;
        }
        Some(
            (0..32)
                .filter(|b| bits & (1 << b) != 0)
                .map(|b| AclOperation::from_wire(b as i8))
                .filter(|op| *op != AclOperation::Unknown)
                .collect(),
        )
    }
}

impl fmt::Display for AclOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AclOperation::Unknown => "UNKNOWN",
            AclOperation::Any => "ANY",
            AclOperation::All => "ALL",
            AclOperation::Read => "READ",
            AclOperation::Write => "WRITE",
            AclOperation::Create => "CREATE",
            AclOperation::Delete => "DELETE",
            AclOperation::Alter => "ALTER",
            AclOperation::Describe => "DESCRIBE",
            AclOperation::ClusterAction => "CLUSTER_ACTION",
            AclOperation::DescribeConfigs => "DESCRIBE_CONFIGS",
            AclOperation::AlterConfigs => "ALTER_CONFIGS",
            AclOperation::IdempotentWrite => "IDEMPOTENT_WRITE",
            AclOperation::CreateTokens => "CREATE_TOKENS",
            AclOperation::DescribeTokens => "DESCRIBE_TOKENS",
            AclOperation::TwoPhaseCommit => "TWO_PHASE_COMMIT",
        })
    }
}

/// The longest legal topic name (Java's `Topic.MAX_NAME_LENGTH`).
pub const MAX_TOPIC_NAME_LENGTH: usize = 249;

/// Checks a topic name by Kafka's rules (Java's `Topic.validate`): 1 to 249 characters from
/// `a-z A-Z 0-9 . _ -`, and not `.` or `..`.
///
/// ```
/// use ferrokafka::types::validate_topic_name;
/// assert!(validate_topic_name("orders.v2_eu-1").is_ok());
/// let err = validate_topic_name("bad topic!").unwrap_err();
/// assert!(err.to_string().contains("bad topic!"));
/// ```
///
/// # Errors
/// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument), naming the topic and the
/// rule it breaks.
pub fn validate_topic_name(name: &str) -> crate::Result<()> {
    let why = if name.is_empty() {
        Some("is empty".to_owned())
    } else if name == "." || name == ".." {
        Some("cannot be \".\" or \"..\"".to_owned())
    } else if name.len() > MAX_TOPIC_NAME_LENGTH {
        Some(format!(
            "is {} characters long, more than the maximum {MAX_TOPIC_NAME_LENGTH}",
            name.len()
        ))
    } else {
        name.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            .map(|c| {
                format!("contains {c:?}: only ASCII letters, digits, '.', '_' and '-' are legal")
            })
    };
    match why {
        None => Ok(()),
        Some(why) => Err(crate::Error::new(crate::ErrorKind::InvalidArgument)
            .with_topic(name)
            .with_detail(format!("invalid topic name {name:?}: it {why}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_operation_codes_and_bit_fields() {
        for (i, op) in AclOperation::ALL.iter().enumerate() {
            assert_eq!(op.to_wire() as usize, i);
            assert_eq!(AclOperation::from_wire(i as i8), *op);
        }
        assert_eq!(AclOperation::from_wire(-1), AclOperation::Unknown);
        assert_eq!(AclOperation::from_wire(99), AclOperation::Unknown);
        assert_eq!(AclOperation::from_bit_field(i32::MIN), None);
        assert_eq!(
            AclOperation::from_bit_field((1 << 3) | (1 << 8)),
            Some(vec![AclOperation::Read, AclOperation::Describe])
        );
        // Unknown bits (20) are dropped rather than reported as `Unknown`.
        assert_eq!(AclOperation::from_bit_field(1 << 20), Some(vec![]));
    }
}

#[cfg(test)]
mod topic_name_tests {
    use super::*;

    #[test]
    fn kafka_topic_name_rules() {
        for ok in ["a", "orders", "a.b_c-D9", &"x".repeat(249)] {
            assert!(validate_topic_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "bad topic!", "a/b", "é", &"x".repeat(250)] {
            let e = validate_topic_name(bad).unwrap_err();
            assert!(
                matches!(e.kind(), crate::ErrorKind::InvalidArgument),
                "{bad}"
            );
            assert_eq!(e.topic(), Some(bad));
        }
    }
}

/// The rebalance protocol of a group (`group.protocol`): what a consumer speaks, and what an
/// admin description reports.
///
/// ```
/// use ferrokafka::types::GroupProtocol;
/// assert_eq!(GroupProtocol::from_config_name("CONSUMER"), Some(GroupProtocol::Consumer));
/// assert_eq!(GroupProtocol::Classic.to_string(), "classic");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GroupProtocol {
    /// The classic protocol: JoinGroup / SyncGroup, client-side assignment.
    Classic,
    /// The KIP-848 `consumer` protocol: ConsumerGroupHeartbeat, broker-side assignment.
    Consumer,
}

impl GroupProtocol {
    /// The protocol named by a `group.protocol` value (case-insensitive, as Java).
    pub fn from_config_name(name: &str) -> Option<GroupProtocol> {
        if name.eq_ignore_ascii_case("classic") {
            Some(GroupProtocol::Classic)
        } else if name.eq_ignore_ascii_case("consumer") {
            Some(GroupProtocol::Consumer)
        } else {
            None
        }
    }
}

impl fmt::Display for GroupProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GroupProtocol::Classic => "classic",
            GroupProtocol::Consumer => "consumer",
        })
    }
}
