//! The transaction state machine without sockets.

use super::*;
use crate::error::code::{
    COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR,
    OPERATION_NOT_ATTEMPTED,
};

// Codes only these tests name.
const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
const GROUP_AUTHORIZATION_FAILED: i16 = 30;
const INVALID_PRODUCER_EPOCH: i16 = 47;
const INVALID_TXN_STATE: i16 = 48;
const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
const PRODUCER_FENCED: i16 = 90;

const BACKOFF: Duration = Duration::from_millis(100);

fn tp(p: i32) -> TopicPartition {
    TopicPartition::new("t", p)
}

fn code(c: i16) -> Error {
    Error::from_broker_code(c)
}

fn ready() -> TransactionManager {
    let mut m = TransactionManager::new(BACKOFF);
    m.start_init().unwrap();
    m.init_done(Ok(())).unwrap();
    m
}

fn kind(e: &Error) -> &ErrorKind {
    e.kind()
}

#[test]
fn calls_are_legal_only_in_their_states() {
    let mut m = TransactionManager::new(BACKOFF);
    assert!(matches!(
        kind(&m.begin().unwrap_err()),
        ErrorKind::IllegalState
    ));
    assert!(matches!(
        kind(&m.check_send().unwrap_err()),
        ErrorKind::IllegalState
    ));
    assert!(m.start_commit().is_err() && m.start_abort().is_err());
    m.start_init().unwrap();
    // A dropped init_transactions future resumes.
    m.start_init().unwrap();
    m.init_done(Ok(())).unwrap();
    assert!(m.start_init().is_err(), "init twice");
    let e = m.check_send().unwrap_err();
    assert!(e.to_string().contains("begin_transaction"), "{e}");
    assert!(m.check_offsets().is_err());
    m.begin().unwrap();
    assert!(m.begin().is_err(), "nested begin");
    m.check_send().unwrap();
    m.check_offsets().unwrap();
    m.start_commit().unwrap();
    assert!(m.check_send().is_err(), "send while committing");
    assert!(
        m.start_abort().is_err(),
        "a started commit cannot turn into an abort"
    );
    m.start_commit().unwrap(); // resumed
    m.check_commit_after_flush().unwrap();
    assert!(!m.needs_end_txn(), "nothing was added");
    m.end_done(Ok(None)).unwrap();
    assert!(matches!(m.state(), TxnState::Ready));
    m.begin().unwrap();
    m.start_abort().unwrap();
    m.end_done(Ok(None)).unwrap();
    m.begin().unwrap();
}

#[test]
fn init_errors_retry_or_end_the_producer() {
    let mut m = TransactionManager::new(BACKOFF);
    m.start_init().unwrap();
    assert!(m.init_done(Err(Error::new(ErrorKind::Timeout))).is_err());
    assert!(matches!(m.state(), TxnState::Uninitialized));
    m.start_init().unwrap();
    let e = m
        .init_done(Err(code(TRANSACTIONAL_ID_AUTHORIZATION_FAILED)))
        .unwrap_err();
    assert!(e.is_fatal());
    assert!(matches!(m.state(), TxnState::Fatal(_)));
    // Every later call reports the fatal error itself.
    assert_eq!(
        m.begin().unwrap_err().broker_code(),
        Some(TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
    );
}

#[test]
fn partitions_are_added_once_before_their_batches_go_out() {
    let now = Instant::now();
    let mut m = ready();
    m.begin().unwrap();
    assert!(m.add_partition(&tp(0)));
    assert!(!m.add_partition(&tp(0)), "already pending");
    assert!(m.add_partition(&tp(1)));
    assert!(!m.is_added(&tp(0)));
    let req = m.poll_add_request(now).unwrap();
    assert_eq!(req, vec![tp(0), tp(1)]);
    // One request at a time; a partition noted meanwhile waits for the next one.
    assert!(m.add_partition(&tp(2)));
    assert!(!m.add_partition(&tp(1)), "in flight");
    assert_eq!(m.poll_add_request(now), None);
    assert_eq!(
        m.on_add_partitions(Ok(vec![(tp(0), None), (tp(1), None)]), now),
        None
    );
    assert!(m.is_added(&tp(0)) && m.is_added(&tp(1)) && !m.is_added(&tp(2)));
    assert!(!m.add_partition(&tp(0)), "already added");
    assert_eq!(m.poll_add_request(now), Some(vec![tp(2)]));
    m.on_add_partitions(Ok(vec![(tp(2), None)]), now);
    assert!(m.needs_end_txn());
    m.start_commit().unwrap();
    m.end_done(Ok(None)).unwrap();
    // The next transaction starts with nothing added.
    m.begin().unwrap();
    assert!(!m.is_added(&tp(0)) && !m.needs_end_txn());
}

#[test]
fn concurrent_transactions_is_retried_after_20_ms() {
    let now = Instant::now();
    let mut m = ready();
    m.begin().unwrap();
    m.add_partition(&tp(0));
    m.add_partition(&tp(1));
    m.poll_add_request(now).unwrap();
    let action = m.on_add_partitions(
        Ok(vec![
            (tp(0), Some(code(CONCURRENT_TRANSACTIONS))),
            (tp(1), Some(code(OPERATION_NOT_ATTEMPTED))),
        ]),
        now,
    );
    assert_eq!(
        action,
        Some(TxnAction::Retry(CONCURRENT_TRANSACTIONS_BACKOFF))
    );
    assert_eq!(m.next_add_at(), Some(now + Duration::from_millis(20)));
    assert_eq!(m.poll_add_request(now + Duration::from_millis(19)), None);
    let again = m.poll_add_request(now + Duration::from_millis(20)).unwrap();
    assert_eq!(again, vec![tp(0), tp(1)]);
    assert!(matches!(m.state(), TxnState::InTransaction));
}

#[test]
fn coordinator_moves_and_transport_errors_are_retried_or_refound() {
    let now = Instant::now();
    let mut m = ready();
    m.begin().unwrap();
    m.add_partition(&tp(0));
    for e in [
        code(NOT_COORDINATOR),
        code(COORDINATOR_NOT_AVAILABLE),
        code(COORDINATOR_LOAD_IN_PROGRESS),
        Error::new(ErrorKind::Disconnected { sent: true }),
        Error::new(ErrorKind::Connect),
        Error::new(ErrorKind::NoBrokerAvailable),
        Error::new(ErrorKind::RequestTimeout),
    ] {
        let t = now + Duration::from_secs(10);
        m.poll_add_request(t).unwrap();
        // A coordinator that does not answer is looked up again (it may be dead for good; a
        // request timeout counts, as Java's Sender refinds after a disconnect and its timeouts
        // are disconnects); one that answers it is loading is asked again.
        let expected = if matches!(
            e.broker_code(),
            Some(NOT_COORDINATOR | COORDINATOR_NOT_AVAILABLE)
        ) || e.is_connectivity_failure()
        {
            TxnAction::RefindCoordinator
        } else {
            TxnAction::Retry(BACKOFF)
        };
        assert_eq!(m.on_add_partitions(Err(e), now), Some(expected));
        assert!(matches!(m.state(), TxnState::InTransaction));
    }
}

#[test]
fn error_classes_follow_java() {
    for (c, action) in [
        (
            CONCURRENT_TRANSACTIONS,
            TxnAction::Retry(CONCURRENT_TRANSACTIONS_BACKOFF),
        ),
        (COORDINATOR_LOAD_IN_PROGRESS, TxnAction::Retry(BACKOFF)),
        (NOT_COORDINATOR, TxnAction::RefindCoordinator),
        (COORDINATOR_NOT_AVAILABLE, TxnAction::RefindCoordinator),
        (PRODUCER_FENCED, TxnAction::Fatal),
        (INVALID_PRODUCER_EPOCH, TxnAction::Fatal),
        (TRANSACTIONAL_ID_AUTHORIZATION_FAILED, TxnAction::Fatal),
        (INVALID_TXN_STATE, TxnAction::Fatal),
        (TRANSACTION_ABORTABLE, TxnAction::Abortable),
        (TOPIC_AUTHORIZATION_FAILED, TxnAction::Abortable),
        (GROUP_AUTHORIZATION_FAILED, TxnAction::Abortable),
    ] {
        assert_eq!(classify(&code(c), BACKOFF), action, "code {c}");
    }
}

#[test]
fn abortable_errors_allow_only_abort() {
    let now = Instant::now();
    let mut m = ready();
    m.begin().unwrap();
    m.add_partition(&tp(0));
    m.poll_add_request(now).unwrap();
    let action = m.on_add_partitions(
        Ok(vec![(tp(0), Some(code(TOPIC_AUTHORIZATION_FAILED)))]),
        now,
    );
    assert_eq!(action, Some(TxnAction::Abortable));
    let e = m.check_send().unwrap_err();
    assert_eq!(e.broker_code(), Some(TOPIC_AUTHORIZATION_FAILED));
    assert!(e.to_string().contains("abort_transaction"), "{e}");
    assert!(m.start_commit().is_err() && m.check_offsets().is_err());
    assert_eq!(m.poll_add_request(now), None, "nothing more is added");
    m.start_abort().unwrap();
    m.end_done(Ok(None)).unwrap();
    m.begin().unwrap();
    m.check_send().unwrap();
}

#[test]
fn a_failed_batch_makes_the_commit_fail_and_a_fenced_one_ends_the_producer() {
    let mut m = ready();
    m.begin().unwrap();
    m.start_commit().unwrap();
    m.on_batch_failed(&Error::new(ErrorKind::Timeout));
    assert!(m.check_commit_after_flush().is_err());
    m.start_abort().unwrap();
    // Batches failed by the abort itself change nothing.
    m.on_batch_failed(&Error::new(ErrorKind::Timeout));
    m.end_done(Ok(None)).unwrap();
    m.begin().unwrap();
    m.on_batch_failed(&code(PRODUCER_FENCED));
    assert!(matches!(m.state(), TxnState::Fatal(_)));
    assert_eq!(
        m.start_abort().unwrap_err().broker_code(),
        Some(PRODUCER_FENCED)
    );
}

#[test]
fn end_txn_errors() {
    let mut m = ready();
    m.begin().unwrap();
    m.start_commit().unwrap();
    // A timeout keeps the state: commit_transaction can be called again.
    assert!(m.end_done(Err(Error::new(ErrorKind::Timeout))).is_err());
    m.start_commit().unwrap();
    assert!(m.end_done(Err(code(TRANSACTION_ABORTABLE))).is_err());
    assert!(matches!(m.state(), TxnState::AbortableError(_)));
    m.start_abort().unwrap();
    let fenced = m.end_done(Err(code(INVALID_PRODUCER_EPOCH))).unwrap_err();
    assert!(fenced.is_fatal());
    // The line names both causes of a fenced epoch.
    let line = fenced.to_string();
    assert!(
        line.contains("transactional.id") && line.contains("transaction.timeout.ms"),
        "{line}"
    );
    assert!(matches!(m.state(), TxnState::Fatal(_)));
}

fn pid(id: i64, epoch: i16) -> ProducerIdAndEpoch {
    ProducerIdAndEpoch {
        producer_id: crate::types::ProducerId(id),
        epoch: crate::types::ProducerEpoch(epoch),
    }
}

#[test]
fn dialect_follows_the_transaction_version_feature() {
    assert_eq!(
        TransactionVersion::from_feature_level(None),
        TransactionVersion::V1
    );
    assert_eq!(
        TransactionVersion::from_feature_level(Some(0)),
        TransactionVersion::V1
    );
    assert_eq!(
        TransactionVersion::from_feature_level(Some(1)),
        TransactionVersion::V1
    );
    assert_eq!(
        TransactionVersion::from_feature_level(Some(2)),
        TransactionVersion::V2
    );
    assert_eq!(
        TransactionVersion::from_feature_level(Some(3)),
        TransactionVersion::V2
    );
    let (v1, v2) = (TransactionVersion::V1, TransactionVersion::V2);
    assert_eq!(
        (v1.max_produce_version(), v2.max_produce_version()),
        (11, 12)
    );
    assert_eq!(
        (
            v1.max_txn_offset_commit_version(),
            v2.max_txn_offset_commit_version()
        ),
        (4, 5)
    );
    assert_eq!((v1.max_end_txn_version(), v2.max_end_txn_version()), (4, 5));
    assert!(v1.adds_explicitly() && !v2.adds_explicitly());
}

#[test]
fn without_the_feature_the_producer_speaks_version_1() {
    let mut m = TransactionManager::new(BACKOFF);
    // A broker reporting no finalized features (Kafka 3.x without transaction.version).
    m.observe_finalized_features(-1, None);
    m.start_init().unwrap();
    m.init_done(Ok(())).unwrap();
    m.begin().unwrap();
    assert_eq!(m.transaction_version(), TransactionVersion::V1);
    assert!(m.add_partition(&tp(0)), "V1 adds with AddPartitionsToTxn");
    assert!(!m.is_added(&tp(0)));
    // Level 1 is still the version 1 dialect.
    let mut m = TransactionManager::new(BACKOFF);
    m.observe_finalized_features(5, Some(1));
    m.start_init().unwrap();
    m.init_done(Ok(())).unwrap();
    m.begin().unwrap();
    assert_eq!(m.transaction_version(), TransactionVersion::V1);
}

#[test]
fn version_2_adds_partitions_implicitly_and_still_ends_with_end_txn() {
    let mut m = TransactionManager::new(BACKOFF);
    m.observe_finalized_features(7, Some(2));
    m.start_init().unwrap();
    m.init_done(Ok(())).unwrap();
    assert_eq!(m.transaction_version(), TransactionVersion::V2);
    m.begin().unwrap();
    assert!(!m.needs_end_txn(), "nothing sent yet");
    assert!(!m.add_partition(&tp(0)), "no AddPartitionsToTxn");
    assert!(m.is_added(&tp(0)), "the batch may go out at once");
    assert_eq!(m.poll_add_request(Instant::now()), None);
    assert_eq!(m.next_add_at(), None);
    assert!(m.needs_end_txn());
    m.start_commit().unwrap();
    m.check_commit_after_flush().unwrap();
    m.end_done(Ok(Some(pid(3, 1)))).unwrap();
    assert!(matches!(m.state(), TxnState::Ready));
    assert_eq!(m.take_next_producer(), Some(pid(3, 1)));
    assert_eq!(m.take_next_producer(), None, "handed out once");
    // Offsets alone: the group is added by TxnOffsetCommit, EndTxn is still due.
    m.begin().unwrap();
    m.check_offsets().unwrap();
    m.offsets_added();
    assert!(m.needs_end_txn());
}

#[test]
fn every_end_txn_of_version_2_hands_out_the_next_epoch_and_overflow_a_new_id() {
    let mut m = TransactionManager::new(BACKOFF);
    m.observe_finalized_features(1, Some(2));
    m.start_init().unwrap();
    m.init_done(Ok(())).unwrap();
    // Commit, then abort: each bumps.
    m.begin().unwrap();
    m.add_partition(&tp(0));
    m.start_commit().unwrap();
    m.end_done(Ok(Some(pid(3, 1)))).unwrap();
    m.begin().unwrap();
    m.add_partition(&tp(1));
    m.start_abort().unwrap();
    m.end_done(Ok(Some(pid(3, 2)))).unwrap();
    // Only the newest one matters to the sender.
    assert_eq!(m.take_next_producer(), Some(pid(3, 2)));
    // The epoch was exhausted: the coordinator hands out a new producer id at epoch 0.
    m.begin().unwrap();
    m.add_partition(&tp(0));
    m.start_commit().unwrap();
    m.end_done(Ok(Some(pid(11, 0)))).unwrap();
    assert_eq!(m.take_next_producer(), Some(pid(11, 0)));
    // A coordinator that did not bump (an EndTxn below v5): nothing to adopt.
    m.begin().unwrap();
    m.add_partition(&tp(0));
    m.start_commit().unwrap();
    m.end_done(Ok(None)).unwrap();
    assert_eq!(m.take_next_producer(), None);
    // A failed EndTxn adopts nothing.
    m.begin().unwrap();
    m.add_partition(&tp(0));
    m.start_commit().unwrap();
    assert!(m.end_done(Err(Error::new(ErrorKind::Timeout))).is_err());
    assert_eq!(m.take_next_producer(), None);
}

#[test]
fn the_dialect_changes_only_between_transactions() {
    let mut m = ready();
    m.begin().unwrap();
    assert_eq!(m.transaction_version(), TransactionVersion::V1);
    assert!(m.add_partition(&tp(0)));
    assert!(!m.upgrade_bump_needed());
    // The cluster finalizes transaction.version 2 mid-transaction (an upgrade).
    m.observe_finalized_features(10, Some(2));
    assert_eq!(m.transaction_version(), TransactionVersion::V1);
    assert!(
        m.add_partition(&tp(1)),
        "still V1 until the transaction ends"
    );
    // The last V1 transaction ends with an extra epoch bump (InitProducerId), as in Java.
    assert!(m.upgrade_bump_needed());
    m.start_abort().unwrap();
    m.end_done(Ok(Some(pid(3, 2)))).unwrap();
    assert_eq!(m.take_next_producer(), Some(pid(3, 2)));
    assert_eq!(m.transaction_version(), TransactionVersion::V2);
    assert!(!m.upgrade_bump_needed(), "already V2");
    m.begin().unwrap();
    assert_eq!(m.transaction_version(), TransactionVersion::V2);
    // An answer with an older feature epoch (a broker that has not caught up) is ignored.
    m.observe_finalized_features(9, Some(1));
    m.start_abort().unwrap();
    m.end_done(Ok(None)).unwrap();
    m.begin().unwrap();
    assert_eq!(m.transaction_version(), TransactionVersion::V2);
    // A newer epoch that downgrades takes effect when the transaction ends, without a bump.
    m.observe_finalized_features(11, Some(0));
    assert!(!m.upgrade_bump_needed());
    m.start_abort().unwrap();
    m.end_done(Ok(None)).unwrap();
    assert_eq!(m.transaction_version(), TransactionVersion::V1);
    m.begin().unwrap();
    assert_eq!(m.transaction_version(), TransactionVersion::V1);
    // A failed end keeps the dialect of the transaction still open.
    m.observe_finalized_features(12, Some(2));
    m.start_commit().unwrap();
    assert!(m.end_done(Err(Error::new(ErrorKind::Timeout))).is_err());
    assert_eq!(m.transaction_version(), TransactionVersion::V1);
}

#[test]
fn a_commit_after_the_coordinator_aborted_says_why_under_version_2() {
    let mut m = TransactionManager::new(BACKOFF);
    m.observe_finalized_features(1, Some(2));
    m.start_init().unwrap();
    m.init_done(Ok(())).unwrap();
    m.begin().unwrap();
    m.add_partition(&tp(0));
    m.start_commit().unwrap();
    let e = m.end_done(Err(code(INVALID_TXN_STATE))).unwrap_err();
    assert!(e.is_fatal());
    assert!(e.to_string().contains("transaction.timeout.ms"), "{e}");
    assert!(matches!(m.state(), TxnState::Fatal(_)));
}
