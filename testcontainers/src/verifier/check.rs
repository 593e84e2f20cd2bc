//! The pure checks: ledgers of what clients reported, compared with the log read back.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use super::{LogRecord, RecordId};

/// What the producer reported for one record (ferrokafka's `Persistence`, with a send error that
/// never reached the broker counted as `NotPersisted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Acknowledged by the broker.
    Persisted,
    /// Failed, but an attempt may have been written.
    PossiblyPersisted,
    /// Failed, and no attempt could have been written.
    NotPersisted,
}

/// Every record a run sent: its partition and reported outcome.
#[derive(Debug, Default, Clone)]
pub struct ProduceLedger {
    sent: HashMap<RecordId, (i32, Outcome)>,
}

impl ProduceLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes that `id` was sent to `partition` and ended as `outcome` (the last note wins).
    pub fn record(&mut self, id: RecordId, partition: i32, outcome: Outcome) {
        self.sent.insert(id, (partition, outcome));
    }

    /// Records noted so far.
    pub fn len(&self) -> usize {
        self.sent.len()
    }

    /// Whether nothing was noted.
    pub fn is_empty(&self) -> bool {
        self.sent.is_empty()
    }

    /// Compares the ledger with `log` (every data record of every partition the run wrote to, in
    /// offset order per partition, as [`super::read_log`] returns it).
    pub fn check(&self, log: &[LogRecord], duration: Duration) -> ProduceReport {
        let mut r = ProduceReport {
            records: self.sent.len() as u64,
            duration,
            ..ProduceReport::default()
        };
        let mut copies: HashMap<RecordId, u64> = HashMap::new();
        // Highest sequence seen so far per (partition, producer).
        let mut high: HashMap<(i32, u32), u64> = HashMap::new();
        for rec in log {
            let Some(id) = rec.id else {
                r.foreign += 1;
                continue;
            };
            let n = copies.entry(id).or_default();
            *n += 1;
            if *n > 1 {
                r.duplicated += 1;
                // A duplicate is counted once, not again as a reorder.
                continue;
            }
            match self.sent.get(&id) {
                None => r.foreign += 1,
                Some((p, _)) if *p != rec.partition => r.wrong_partition += 1,
                Some(_) => {}
            }
            let h = high.entry((rec.partition, id.producer)).or_insert(id.seq);
            if id.seq < *h {
                r.reordered += 1;
            } else {
                *h = id.seq;
            }
        }
        for (id, (_, outcome)) in &self.sent {
            let found = copies.contains_key(id);
            match (outcome, found) {
                (Outcome::Persisted, false) => {
                    r.lost += 1;
                    if r.first_lost.is_none_or(|f| *id < f) {
                        r.first_lost = Some(*id);
                    }
                }
                (Outcome::Persisted, true) => r.persisted += 1,
                (Outcome::PossiblyPersisted, true) => r.possibly_found += 1,
                (Outcome::PossiblyPersisted, false) => r.possibly_not_found += 1,
                (Outcome::NotPersisted, true) => r.ghosts += 1,
                (Outcome::NotPersisted, false) => r.not_persisted += 1,
            }
        }
        r
    }
}

/// The producer-side verdict; [`fmt::Display`] is the one line a chaos run prints.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProduceReport {
    /// Records sent (noted in the ledger).
    pub records: u64,
    /// Acknowledged and found.
    pub persisted: u64,
    /// Acknowledged but missing from the log.
    pub lost: u64,
    /// The smallest lost record, for the failure message.
    pub first_lost: Option<RecordId>,
    /// Extra copies in the log.
    pub duplicated: u64,
    /// Records below a sequence already seen from the same producer in the same partition.
    pub reordered: u64,
    /// PossiblyPersisted and in the log.
    pub possibly_found: u64,
    /// PossiblyPersisted and not in the log.
    pub possibly_not_found: u64,
    /// NotPersisted and not in the log.
    pub not_persisted: u64,
    /// NotPersisted yet in the log: the client claimed too much.
    pub ghosts: u64,
    /// Records in a partition other than the one the ledger says.
    pub wrong_partition: u64,
    /// Log records not in the ledger (or not written by `payload`).
    pub foreign: u64,
    /// How long the run took (given by the test).
    pub duration: Duration,
}

impl ProduceReport {
    /// No loss, no duplicate, no reorder, no ghost, nothing misplaced or foreign.
    pub fn is_clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.reordered == 0
            && self.ghosts == 0
            && self.wrong_partition == 0
            && self.foreign == 0
    }
}

impl fmt::Display for ProduceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "records {}, lost {}, duplicated {}, reordered {}, possibly persisted {} (found {} / not found {}), not persisted {}, ghosts {}, duration {:.1} s",
            self.records,
            self.lost,
            self.duplicated,
            self.reordered,
            self.possibly_found + self.possibly_not_found,
            self.possibly_found,
            self.possibly_not_found,
            self.not_persisted,
            self.ghosts,
            self.duration.as_secs_f64()
        )?;
        if self.wrong_partition + self.foreign > 0 {
            write!(
                f,
                ", wrong partition {}, foreign {}",
                self.wrong_partition, self.foreign
            )?;
        }
        if let Some(id) = self.first_lost {
            write!(f, ", first lost {id}")?;
        }
        Ok(())
    }
}

/// Every delivery a consumer processed, in processing order per partition.
#[derive(Debug, Default, Clone)]
pub struct ConsumeLedger {
    processed: BTreeMap<i32, Vec<i64>>,
}

impl ConsumeLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes that the record at `partition`/`offset` was processed (again, if it was before).
    pub fn record(&mut self, partition: i32, offset: i64) {
        self.processed.entry(partition).or_default().push(offset);
    }

    /// Deliveries noted so far.
    pub fn len(&self) -> usize {
        self.processed.values().map(Vec::len).sum()
    }

    /// Whether nothing was noted.
    pub fn is_empty(&self) -> bool {
        self.processed.is_empty()
    }

    /// Compares the deliveries with `log`. Per partition, each delivery must be the next data offset
    /// after the previous delivery, or a rewind to an offset already processed (a redelivery after
    /// a seek, rebalance or restart); a jump forward past an unprocessed offset breaks the order.
    pub fn check(&self, log: &[LogRecord], duration: Duration) -> ConsumeReport {
        let mut r = ConsumeReport {
            duration,
            ..ConsumeReport::default()
        };
        let mut offsets: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        for rec in log {
            offsets.entry(rec.partition).or_default().push(rec.offset);
        }
        r.records = log.len() as u64;
        for (p, log_offsets) in &offsets {
            let deliveries = self.processed.get(p).map(Vec::as_slice).unwrap_or(&[]);
            let mut seen = HashSet::new();
            // Index in `log_offsets` of the next offset expected.
            let mut next = 0usize;
            for &o in deliveries {
                r.deliveries += 1;
                if !seen.insert(o) {
                    r.redelivered += 1;
                }
                match log_offsets.binary_search(&o) {
                    Err(_) => r.unknown += 1,
                    Ok(i) if i == next => next = i + 1,
                    Ok(i) if i < next => next = i + 1, // a rewind
                    Ok(i) => {
                        r.out_of_order += 1;
                        next = i + 1;
                    }
                }
            }
            r.missing += log_offsets.iter().filter(|o| !seen.contains(o)).count() as u64;
        }
        r.unknown += self
            .processed
            .iter()
            .filter(|(p, _)| !offsets.contains_key(p))
            .map(|(_, d)| d.len() as u64)
            .sum::<u64>();
        r
    }
}

/// The consumer-side verdict; [`fmt::Display`] is one line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ConsumeReport {
    /// Data records in the log.
    pub records: u64,
    /// Deliveries processed (redeliveries included).
    pub deliveries: u64,
    /// Log records never processed.
    pub missing: u64,
    /// Deliveries of a record processed before.
    pub redelivered: u64,
    /// Forward jumps past unprocessed offsets.
    pub out_of_order: u64,
    /// Deliveries of offsets the log does not hold.
    pub unknown: u64,
    /// How long the run took (given by the test).
    pub duration: Duration,
}

impl ConsumeReport {
    /// Everything processed, in order, nothing made up (redeliveries allowed).
    pub fn is_clean(&self) -> bool {
        self.missing == 0 && self.out_of_order == 0 && self.unknown == 0
    }
}

impl fmt::Display for ConsumeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "records {}, processed {}, missing {}, out of order {}, redelivered {}, unknown {}, duration {:.1} s",
            self.records,
            self.deliveries,
            self.missing,
            self.out_of_order,
            self.redelivered,
            self.unknown,
            self.duration.as_secs_f64()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(producer: u32, seq: u64) -> RecordId {
        RecordId { producer, seq }
    }

    fn log(entries: &[(i32, i64, u64)]) -> Vec<LogRecord> {
        entries
            .iter()
            .map(|&(partition, offset, seq)| LogRecord {
                partition,
                offset,
                id: Some(id(0, seq)),
            })
            .collect()
    }

    const D: Duration = Duration::from_secs(2);

    #[test]
    fn a_clean_run_is_clean() {
        let mut l = ProduceLedger::new();
        for s in 0..4 {
            l.record(id(0, s), (s % 2) as i32, Outcome::Persisted);
        }
        let r = l.check(&log(&[(0, 0, 0), (0, 1, 2), (1, 0, 1), (1, 1, 3)]), D);
        assert!(r.is_clean(), "{r}");
        assert_eq!(r.persisted, 4);
        assert_eq!(
            r.to_string(),
            "records 4, lost 0, duplicated 0, reordered 0, possibly persisted 0 (found 0 / not found 0), not persisted 0, ghosts 0, duration 2.0 s"
        );
    }

    #[test]
    fn counts_lost_duplicated_reordered_and_ghosts() {
        let mut l = ProduceLedger::new();
        for s in 0..6 {
            l.record(id(0, s), 0, Outcome::Persisted);
        }
        l.record(id(0, 6), 0, Outcome::PossiblyPersisted);
        l.record(id(0, 7), 0, Outcome::PossiblyPersisted);
        l.record(id(0, 8), 0, Outcome::NotPersisted);
        l.record(id(0, 9), 0, Outcome::NotPersisted);
        // 1 lost; 3 twice; 5 before 4; 6 found, 7 not; 8 is a ghost.
        let r = l.check(
            &log(&[
                (0, 0, 0),
                (0, 1, 2),
                (0, 2, 3),
                (0, 3, 3),
                (0, 4, 5),
                (0, 5, 4),
                (0, 6, 6),
                (0, 7, 8),
            ]),
            D,
        );
        assert_eq!(r.lost, 1);
        assert_eq!(r.first_lost, Some(id(0, 1)));
        assert_eq!(r.duplicated, 1);
        assert_eq!(r.reordered, 1);
        assert_eq!((r.possibly_found, r.possibly_not_found), (1, 1));
        assert_eq!((r.ghosts, r.not_persisted), (1, 1));
        assert!(!r.is_clean());
        assert!(r.to_string().ends_with(", first lost 0/1"), "{r}");
    }

    #[test]
    fn producers_are_ordered_independently_and_foreign_records_counted() {
        let mut l = ProduceLedger::new();
        l.record(id(1, 5), 0, Outcome::Persisted);
        l.record(id(2, 0), 0, Outcome::Persisted);
        l.record(id(2, 1), 1, Outcome::Persisted);
        let mut records = vec![
            LogRecord {
                partition: 0,
                offset: 0,
                id: Some(id(1, 5)),
            },
            LogRecord {
                partition: 0,
                offset: 1,
                id: Some(id(2, 0)),
            },
            LogRecord {
                partition: 0,
                offset: 2,
                id: None,
            },
        ];
        // Another producer's lower sequence is no reorder.
        let r = l.check(&records, D);
        assert_eq!((r.reordered, r.foreign, r.lost), (0, 1, 1));
        records.push(LogRecord {
            partition: 0,
            offset: 3,
            id: Some(id(2, 1)),
        });
        let r = l.check(&records, D);
        assert_eq!((r.wrong_partition, r.lost), (1, 0));
    }

    #[test]
    fn consumer_redeliveries_are_counted_and_skips_are_not_order() {
        let records = log(&[(0, 0, 0), (0, 1, 1), (0, 3, 2), (1, 0, 3), (1, 1, 4)]);
        let mut c = ConsumeLedger::new();
        // Partition 0: offset 2 is a gap in the log (a control record), so 1 → 3 is in order;
        // then a rewind to 1 (redelivery of 1 and 3).
        for o in [0, 1, 3, 1, 3] {
            c.record(0, o);
        }
        c.record(1, 0);
        let r = c.check(&records, D);
        assert_eq!(r.redelivered, 2);
        assert_eq!(r.out_of_order, 0);
        assert_eq!(r.missing, 1, "1/1 never processed");
        assert!(!r.is_clean());
        c.record(1, 1);
        let r = c.check(&records, D);
        assert!(r.is_clean(), "{r}");
        assert_eq!(
            r.to_string(),
            "records 5, processed 7, missing 0, out of order 0, redelivered 2, unknown 0, duration 2.0 s"
        );
    }

    #[test]
    fn consumer_jump_forward_and_made_up_offsets_are_caught() {
        let records = log(&[(0, 0, 0), (0, 1, 1), (0, 2, 2)]);
        let mut c = ConsumeLedger::new();
        for o in [0, 2, 1, 9] {
            c.record(0, o);
        }
        c.record(5, 0);
        let r = c.check(&records, D);
        assert_eq!(r.out_of_order, 1, "0 → 2 skipped 1");
        assert_eq!(r.unknown, 2, "offset 9 and partition 5");
        assert_eq!(r.missing, 0);
    }
}
