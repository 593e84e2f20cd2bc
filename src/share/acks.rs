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
///
/// Offsets are kept in vectors, not ordered maps: a poll hands out hundreds of records and a
/// map insert per record and per step was a tenth of the share consumer's CPU. The vectors are
/// sorted where order matters (see [`Ledger::end_poll`] and [`Ledger::take_pending`]).
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// Records handed out by the last poll, sorted by offset once the poll ends: offset and its
    /// acknowledgement, if made.
    delivered: BTreeMap<SharePartition, Vec<(i64, Option<i8>)>>,
    /// Acknowledgements to send, by partition, in no particular order (a later entry for an
    /// offset wins).
    pending: BTreeMap<SharePartition, Vec<(i64, i8)>>,
}

impl Ledger {
    /// Records that `poll` handed out `offset`.
    pub(crate) fn delivered(&mut self, tp: SharePartition, offset: i64) {
        self.delivered.entry(tp).or_default().push((offset, None));
    }

    /// The poll that called [`delivered`](Self::delivered) is over: sorts its offsets so an
    /// acknowledgement finds its record by binary search.
    pub(crate) fn end_poll(&mut self) {
        for offsets in self.delivered.values_mut() {
            if !offsets.is_sorted_by_key(|(o, _)| *o) {
                offsets.sort_by_key(|(o, _)| *o);
            }
        }
    }

    /// Records that `offset` was acquired but holds no record to hand out.
    pub(crate) fn gap(&mut self, tp: SharePartition, offset: i64) {
        self.pending.entry(tp).or_default().push((offset, GAP));
    }

    /// Releases an acquired offset that is never handed out (undecodable, or buffered at close).
    pub(crate) fn release(&mut self, tp: SharePartition, offset: i64) {
        self.pending
            .entry(tp)
            .or_default()
            .push((offset, AcknowledgeType::Release.code()));
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
            .and_then(|v| {
                v.binary_search_by_key(&offset, |(o, _)| *o)
                    .ok()
                    .and_then(|i| v.get_mut(i))
            })
            .map(|(_, ack)| ack)
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
            .map(|v| v.iter().filter(|(_, a)| a.is_none()).count())
            .sum()
    }

    /// Ends the last poll's batch: with `implicit`, every record not acknowledged is accepted;
    /// the acknowledgements move to the pending ones.
    ///
    /// # Errors
    /// [`ErrorKind::IllegalState`] in explicit mode when a record is not acknowledged (the batch
    /// stays as it is).
    pub(crate) fn finish_batch(&mut self, implicit: bool) -> Result<()> {
        if !implicit {
            let open = self.unacknowledged();
            if open > 0 {
                return Err(Error::new(ErrorKind::IllegalState).with_detail(format!(
                    "{open} records of the last poll are not acknowledged \
                     (share.acknowledgement.mode=explicit wants every record acknowledged before the next poll)"
                )));
            }
        }
        let accept = AcknowledgeType::Accept.code();
        for (tp, offsets) in std::mem::take(&mut self.delivered) {
            let pending = self.pending.entry(tp).or_default();
            pending.extend(offsets.into_iter().map(|(o, a)| (o, a.unwrap_or(accept))));
        }
        Ok(())
    }

    /// Moves the acknowledgements made so far (records of the last poll included) to the
    /// pending ones, leaving records not acknowledged yet in the batch.
    pub(crate) fn flush_acknowledged(&mut self) {
        for (tp, offsets) in &mut self.delivered {
            let pending = self.pending.entry(*tp).or_default();
            offsets.retain(|(offset, ack)| match ack {
                Some(code) => {
                    pending.push((*offset, *code));
                    false
                }
                None => true,
            });
        }
        self.delivered.retain(|_, v| !v.is_empty());
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
            out.insert(*tp, batches(std::mem::take(offsets)));
            false
        });
        out
    }
}

/// Runs of consecutive offsets with the same type become one batch with one type. For an
/// offset listed twice the later entry wins.
pub(crate) fn batches(mut acks: Vec<(i64, i8)>) -> Vec<AckBatch> {
    // A stable sort keeps a later entry after an earlier one of the same offset.
    if !acks.is_sorted_by_key(|(o, _)| *o) {
        acks.sort_by_key(|(o, _)| *o);
    }
    let mut out: Vec<AckBatch> = Vec::new();
    for (offset, code) in acks {
        match out.last_mut() {
            Some(b) if b.last_offset == offset => {
                // The same offset again: the later acknowledgement replaces the earlier.
                if b.first_offset == offset {
                    b.types = vec![code];
                } else {
                    b.last_offset -= 1;
                    out.push(AckBatch {
                        first_offset: offset,
                        last_offset: offset,
                        types: vec![code],
                    });
                }
            }
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
    fn a_later_acknowledgement_of_an_offset_wins_and_out_of_order_offsets_sort() {
        let b = batches(vec![(5, 1), (3, 1), (4, 1), (4, 2), (6, 1)]);
        let spans: Vec<(i64, i64, i8)> = b
            .iter()
            .map(|b| (b.first_offset, b.last_offset, b.types[0]))
            .collect();
        assert_eq!(spans, vec![(3, 3, 1), (4, 4, 2), (5, 6, 1)]);
        // Delivered out of order in one poll: acknowledgeable once the poll ends.
        let mut l = Ledger::default();
        l.delivered(TP, 9);
        l.delivered(TP, 7);
        l.end_poll();
        l.acknowledge(TP, 7, AcknowledgeType::Accept).unwrap();
        l.acknowledge(TP, 9, AcknowledgeType::Reject).unwrap();
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
