//! The transaction state machine without sockets.

use super::*;
use crate::error::code::{COORDINATOR_LOAD_IN_PROGRESS, OPERATION_NOT_ATTEMPTED};

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
    m.end_done(Ok(())).unwrap();
    assert!(matches!(m.state(), TxnState::Ready));
    m.begin().unwrap();
    m.start_abort().unwrap();
    m.end_done(Ok(())).unwrap();
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
    m.end_done(Ok(())).unwrap();
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
        // An unreachable coordinator is looked up again (it may be dead for good); a slow
        // one is asked again.
        let expected = if matches!(
            e.broker_code(),
            Some(NOT_COORDINATOR | COORDINATOR_NOT_AVAILABLE)
        ) || matches!(
            e.kind(),
            ErrorKind::Disconnected { .. } | ErrorKind::Connect | ErrorKind::NoBrokerAvailable
        ) {
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
    m.end_done(Ok(())).unwrap();
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
    m.end_done(Ok(())).unwrap();
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
