//! The acknowledgement ledger of a share consumer, free of I/O: which records the last `poll`
//! handed out, how each was acknowledged, and which acknowledgements still wait to be sent.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::protocol::requests::share_fetch::AckBatch;
use crate::{Error, ErrorKind, Result};

/// How a record of a share group is acknowledged (KIP-932 `AcknowledgeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AcknowledgeType {
    /// Processed: the record is done for the whole group.
    Accept,
    /// Not processed, hand it out again (to this member or another); its delivery count grows.
    Release,
    /// Cannot be processed: never hand it out again.
    Reject,
}

impl AcknowledgeType {
    /// The code on the wire.
    pub(crate) fn code(self) -> i8 {
        match self {
            AcknowledgeType::Accept => 1,
            AcknowledgeType::Release => 2,
            AcknowledgeType::Reject => 3,
        }
    }
}

/// The code of an acquired offset that holds no record (a control record, a record removed by
/// compaction or an aborted transaction): acknowledged so the broker can move on.
pub(crate) const GAP: i8 = 0;

/// A partition of a share group, by topic id (the share APIs address topics by id only).
pub(crate) type SharePartition = (Uuid, i32);

/// See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// Records handed out by the last poll: offset → its acknowledgement, if made.
    delivered: BTreeMap<SharePartition, BTreeMap<i64, Option<i8>>>,
    /// Acknowledgements to send, by partition and offset.
    pending: BTreeMap<SharePartition, BTreeMap<i64, i8>>,
}

impl Ledger {
    /// Records that `poll` handed out `offset`.
    pub(crate) fn delivered(&mut self, tp: SharePartition, offset: i64) {
        self.delivered.entry(tp).or_default().insert(offset, None);
    }

    /// Records that `offset` was acquired but holds no record to hand out.
    pub(crate) fn gap(&mut self, tp: SharePartition, offset: i64) {
        self.pending.entry(tp).or_default().insert(offset, GAP);
    }

    /// Releases an acquired offset that is never handed out (undecodable, or buffered at close).
    pub(crate) fn release(&mut self, tp: SharePartition, offset: i64) {
        self.pending
            .entry(tp)
            .or_default()
            .insert(offset, AcknowledgeType::Release.code());
    }

    /// Acknowledges a record handed out by the last poll.
    ///
    /// # Errors
    /// [`ErrorKind::IllegalState`] when the record was not handed out by the last poll, or was
    /// acknowledged already.
    pub(crate) fn acknowledge(
        &mut self,
        tp: SharePartition,
        offset: i64,
        how: AcknowledgeType,
    ) -> Result<()> {
        let slot = self
            .delivered
            .get_mut(&tp)
            .and_then(|m| m.get_mut(&offset))
            .ok_or_else(|| {
                Error::new(ErrorKind::IllegalState).with_detail(format!(
                    "offset {offset} of partition {} was not handed out by the last poll",
                    tp.1
                ))
            })?;
        if let Some(code) = slot {
            return Err(Error::new(ErrorKind::IllegalState).with_detail(format!(
                "offset {offset} of partition {} is acknowledged already (type {code})",
                tp.1
            )));
        }
        *slot = Some(how.code());
        Ok(())
    }

    /// Records of the last poll not acknowledged yet.
    pub(crate) fn unacknowledged(&self) -> usize {
        self.delivered
            .values()
            .map(|m| m.values().filter(|a| a.is_none()).count())
            .sum()
    }

    /// Ends the last poll's batch: with `implicit`, every record not acknowledged is accepted;
    /// the acknowledgements move to the pending ones.
    ///
    /// # Errors
    /// [`ErrorKind::IllegalState`] in explicit mode when a record is not acknowledged (the batch
    /// stays as it is).
    pub(crate) fn finish_batch(&mut self, implicit: bool) -> Result<()> {
        let open = self.unacknowledged();
        if !implicit && open > 0 {
            return Err(Error::new(ErrorKind::IllegalState).with_detail(format!(
                "{open} records of the last poll are not acknowledged \
                 (share.acknowledgement.mode=explicit wants every record acknowledged before the next poll)"
            )));
        }
        for (tp, offsets) in std::mem::take(&mut self.delivered) {
            let pending = self.pending.entry(tp).or_default();
            for (offset, ack) in offsets {
                pending.insert(offset, ack.unwrap_or(AcknowledgeType::Accept.code()));
            }
        }
        Ok(())
    }

    /// Moves the acknowledgements made so far (records of the last poll included) to the
    /// pending ones, leaving records not acknowledged yet in the batch.
    pub(crate) fn flush_acknowledged(&mut self) {
        for (tp, offsets) in &mut self.delivered {
            let pending = self.pending.entry(*tp).or_default();
            offsets.retain(|offset, ack| match ack {
                Some(code) => {
                    pending.insert(*offset, *code);
                    false
                }
                None => true,
            });
        }
        self.delivered.retain(|_, m| !m.is_empty());
    }

    /// Whether acknowledgements wait to be sent.
    #[cfg(test)]
    pub(crate) fn has_pending(&self) -> bool {
        self.pending.values().any(|m| !m.is_empty())
    }

    /// Takes the pending acknowledgements of the partitions `keep` selects, as batches.
    pub(crate) fn take_pending(
        &mut self,
        mut keep: impl FnMut(&SharePartition) -> bool,
    ) -> BTreeMap<SharePartition, Vec<AckBatch>> {
        let mut out = BTreeMap::new();
        self.pending.retain(|tp, offsets| {
            if offsets.is_empty() {
                return false;
            }
            if !keep(tp) {
                return true;
            }
            out.insert(*tp, batches(offsets));
            false
        });
        out
    }
}

/// Runs of consecutive offsets with the same type become one batch with one type.
pub(crate) fn batches(acks: &BTreeMap<i64, i8>) -> Vec<AckBatch> {
    let mut out: Vec<AckBatch> = Vec::new();
    for (&offset, &code) in acks {
        match out.last_mut() {
            Some(b) if b.last_offset + 1 == offset && b.types == [code] => b.last_offset = offset,
            _ => out.push(AckBatch {
                first_offset: offset,
                last_offset: offset,
                types: vec![code],
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: SharePartition = (Uuid::from_u128(1), 0);

    #[test]
    fn implicit_mode_accepts_what_was_not_acknowledged_and_batches_runs() {
        let mut l = Ledger::default();
        for o in 10..15 {
            l.delivered(TP, o);
        }
        l.gap(TP, 15);
        l.acknowledge(TP, 12, AcknowledgeType::Release).unwrap();
        l.finish_batch(true).unwrap();
        let sent = l.take_pending(|_| true);
        let b = &sent[&TP];
        let spans: Vec<(i64, i64, i8)> = b
            .iter()
            .map(|b| (b.first_offset, b.last_offset, b.types[0]))
            .collect();
        assert_eq!(
            spans,
            vec![(10, 11, 1), (12, 12, 2), (13, 14, 1), (15, 15, 0)]
        );
        assert!(!l.has_pending());
    }

    #[test]
    fn misuse_is_a_typed_error_and_changes_nothing() {
        let mut l = Ledger::default();
        l.delivered(TP, 1);
        l.delivered(TP, 2);
        let e = l.acknowledge(TP, 9, AcknowledgeType::Accept).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::IllegalState), "{e}");
        l.acknowledge(TP, 1, AcknowledgeType::Reject).unwrap();
        let e = l.acknowledge(TP, 1, AcknowledgeType::Accept).unwrap_err();
        assert!(e.to_string().contains("acknowledged already"), "{e}");
        // Explicit mode: the next poll is refused while offset 2 is open.
        let e = l.finish_batch(false).unwrap_err();
        assert!(e.to_string().contains("1 records"), "{e}");
        assert_eq!(l.unacknowledged(), 1);
        // Acknowledgements made so far can be sent without closing the batch.
        l.flush_acknowledged();
        assert_eq!(l.take_pending(|_| true)[&TP][0].types, vec![3]);
        l.acknowledge(TP, 2, AcknowledgeType::Accept).unwrap();
        l.finish_batch(false).unwrap();
        assert_eq!(l.unacknowledged(), 0);
        // A record from an earlier poll is no longer acknowledgeable.
        assert!(l.acknowledge(TP, 2, AcknowledgeType::Accept).is_err());
    }

    #[test]
    fn pending_acknowledgements_of_other_partitions_stay() {
        let mut l = Ledger::default();
        let other = (Uuid::from_u128(2), 3);
        l.gap(TP, 1);
        l.gap(other, 1);
        let sent = l.take_pending(|tp| *tp == other);
        assert_eq!(sent.len(), 1);
        assert!(l.has_pending());
    }
}
