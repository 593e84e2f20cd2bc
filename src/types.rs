//! Newtypes for the numbers Kafka passes around, so an offset is never mistaken for an epoch.

use std::fmt;

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
