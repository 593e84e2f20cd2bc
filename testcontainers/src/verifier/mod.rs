//! An independent checker for chaos runs: what the clients reported against what the log holds.
//!
//! Producers write records made by [`payload`] (a producer number and a per-producer sequence, so
//! every record names itself) and note each delivery outcome in a [`ProduceLedger`]. After the run,
//! [`read_log`] reads every partition back with plain Fetch requests (no consumer code involved)
//! and [`ProduceLedger::check`] counts:
//!
//! - **lost**: acknowledged `Persisted` but not in the log;
//! - **duplicated**: extra copies of a record in the log;
//! - **reordered**: records of one producer in a partition whose sequence is below one before them
//!   (send order per partition is sequence order, because each producer numbers its sends);
//! - **possibly persisted**: found in the log or not (both are correct outcomes);
//! - **ghosts**: reported `NotPersisted` yet in the log (a client bug).
//!
//! A consumer notes every record it processed in a [`ConsumeLedger`]; [`ConsumeLedger::check`]
//! counts log offsets never processed, forward jumps past unprocessed offsets (order broken) and
//! redeliveries.
//!
//! The checks are pure functions over these records, unit-tested without a broker.

mod check;
mod read;

pub use check::{ConsumeLedger, ConsumeReport, Outcome, ProduceLedger, ProduceReport};
pub use read::read_log;

/// Marks a value written by [`payload`].
const MAGIC: &[u8; 4] = b"FKv1";

/// Who wrote a record and its place in that writer's sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId {
    /// The writing producer, numbered by the test.
    pub producer: u32,
    /// The producer's send sequence, increasing in send order.
    pub seq: u64,
}

impl std::fmt::Display for RecordId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.producer, self.seq)
    }
}

/// A record value naming itself: `FKv1`, producer (u32 BE), sequence (u64 BE), then `pad` bytes
/// (to reach realistic record sizes).
pub fn payload(id: RecordId, pad: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + pad);
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&id.producer.to_be_bytes());
    v.extend_from_slice(&id.seq.to_be_bytes());
    v.resize(16 + pad, b'.');
    v
}

/// The [`RecordId`] in a value written by [`payload`]; `None` for anything else.
pub fn parse_payload(value: &[u8]) -> Option<RecordId> {
    let rest = value.strip_prefix(MAGIC)?;
    let producer = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
    let seq = u64::from_be_bytes(rest.get(4..12)?.try_into().ok()?);
    Some(RecordId { producer, seq })
}

/// One data record of the log as [`read_log`] found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRecord {
    /// The partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// What [`parse_payload`] made of its value (`None`: not written by [`payload`]).
    pub id: Option<RecordId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_rejects_foreign_values() {
        let id = RecordId {
            producer: 7,
            seq: u64::MAX - 1,
        };
        let v = payload(id, 84);
        assert_eq!(v.len(), 100);
        assert_eq!(parse_payload(&v), Some(id));
        assert_eq!(parse_payload(b"FKv1short"), None);
        assert_eq!(parse_payload(b"hello world, not ours"), None);
        assert_eq!(parse_payload(&[]), None);
    }
}
