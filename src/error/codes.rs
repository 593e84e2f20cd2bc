//! The KIP-1050 classification of every broker error code.
//!
//! [`ERROR_TABLE`] is the single source of truth: one row per code that the `kafka-protocol` crate
//! knows, with Kafka's name (as spelled in Java's `Errors.java`) and the [`ErrorClass`] the client
//! reports. [`broker_error_name`] and `class_of_code` both read it; a compile-time check keeps it
//! sorted by code with no duplicates, and the tests at the bottom keep it in step with
//! `kafka-protocol`'s `ResponseError`.
//!
//! How the classes were chosen:
//! - **RefreshRetriable**: Java's `RefreshRetriableException` family (KIP-1050), i.e. every
//!   `InvalidMetadataException` subclass plus the coordinator-lookup errors, and `NOT_CONTROLLER`
//!   (Java's admin client drops its cached controller and refreshes metadata on it).
//! - **Retriable**: the other `RetriableException` subclasses, plus the KIP-360 sequence errors
//!   (see their rows).
//! - **TransactionAbortable**: errors after which aborting the transaction (and bumping the epoch)
//!   lets the same producer continue.
//! - **Fatal**: the client instance cannot continue: fenced producer or static member, failed
//!   authentication, cluster/transactional-id authorization, a broker too old for the request.
//!   KIP-1050's Java `ApplicationRecoverableException` ("fatal to the producer, restart it") maps
//!   here for `PRODUCER_FENCED`, `INVALID_PRODUCER_EPOCH` and `FENCED_INSTANCE_ID`; its
//!   group-generation members (`ILLEGAL_GENERATION`, `UNKNOWN_MEMBER_ID`) are recovered by a rejoin
//!   and stay ApplicationRecoverable here.
//! - **InvalidConfiguration**: a client setting or a request parameter is invalid.
//! - **ApplicationRecoverable**: everything else, permanent for this request. This also covers
//!   group-membership codes (the group layer rejoins) and codes that only brokers and controllers
//!   exchange among themselves, which a client should never receive.
//!
//! The class is a per-code default. Layers that know more (the transactional producer, the group
//! member) may [`reclassify`](super::Error::reclassify): e.g. inside a transaction almost every
//! produce error makes the transaction abortable, as in Java's `TransactionManager`.

use std::fmt;
use ErrorClass::{
    ApplicationRecoverable, Fatal, InvalidConfiguration, RefreshRetriable, Retriable,
    TransactionAbortable,
};

/// What the caller should do about an error (KIP-1050 classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// Transient: retrying the same request may succeed (e.g. `REQUEST_TIMED_OUT`,
    /// `NOT_ENOUGH_REPLICAS`, a dropped connection).
    Retriable,
    /// Transient, but the client's metadata is stale: refresh it, then retry (e.g.
    /// `NOT_LEADER_OR_FOLLOWER`, `UNKNOWN_TOPIC_OR_PARTITION`).
    RefreshRetriable,
    /// The ongoing transaction must be aborted; the client itself stays usable.
    TransactionAbortable,
    /// Permanent for this request, but the client stays usable and the application chooses what to
    /// do (e.g. `MESSAGE_TOO_LARGE`, `INVALID_RECORD`, `TOPIC_AUTHORIZATION_FAILED`).
    ApplicationRecoverable,
    /// The configuration or the request's parameters are invalid (e.g. `INVALID_CONFIG`,
    /// `INVALID_REPLICATION_FACTOR`, a bad client property). Retrying will not help.
    InvalidConfiguration,
    /// The client instance cannot continue (e.g. `PRODUCER_FENCED`, `CLUSTER_AUTHORIZATION_FAILED`,
    /// `UNSUPPORTED_VERSION`). Create a new one once the cause is fixed.
    Fatal,
}

impl ErrorClass {
    /// Whether retrying the same operation may succeed.
    pub const fn is_retriable(self) -> bool {
        matches!(self, ErrorClass::Retriable | ErrorClass::RefreshRetriable)
    }
}

/// A broker error code (`int16`) with its Kafka name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BrokerErrorCode(pub i16);

impl BrokerErrorCode {
    /// The Kafka name of the code (`NOT_LEADER_OR_FOLLOWER`), or `UNKNOWN_CODE` for codes this
    /// client does not know.
    pub fn name(self) -> &'static str {
        broker_error_name(self.0)
    }
}

impl fmt::Display for BrokerErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// Writes [`ERROR_TABLE`] and, from the same rows, a named constant on [`BrokerErrorCode`] per
/// code (`BrokerErrorCode::TOPIC_ALREADY_EXISTS`), so a name and its value exist once.
macro_rules! error_table {
    ($( ($code:expr, $name:ident, $class:ident) ),* $(,)?) => {
        pub(crate) const ERROR_TABLE: &[(i16, &str, ErrorClass)] = &[
            $( ($code, stringify!($name), $class) ),*
        ];

        /// Every broker error code by its Kafka name, for matching on
        /// [`ErrorKind::Broker`](crate::ErrorKind::Broker) or comparing with
        /// [`Error::broker_error`](crate::Error::broker_error).
        impl BrokerErrorCode {
            $(
                #[doc = concat!("`", stringify!($name), "` (", stringify!($code), "), classified ", stringify!($class), ".")]
                pub const $name: BrokerErrorCode = BrokerErrorCode($code);
            )*
        }
    };
}

// Every broker error code known to `kafka-protocol` 0.18: `(code, Kafka name, class)`, sorted
// by code.
error_table! {
    // Not a RetriableException in Java: an unexpected broker-side failure is not known to be
    // transient.
    (-1, UNKNOWN_SERVER_ERROR, ApplicationRecoverable),
    // The consumer resolves it with auto.offset.reset.
    (1, OFFSET_OUT_OF_RANGE, ApplicationRecoverable),
    // A RetriableException in Java: the corruption may have happened in transit.
    (2, CORRUPT_MESSAGE, Retriable),
    (3, UNKNOWN_TOPIC_OR_PARTITION, RefreshRetriable),
    // Derived from fetch.max.bytes / max.partition.fetch.bytes.
    (4, INVALID_FETCH_SIZE, InvalidConfiguration),
    // Product requirement: retriable. An InvalidMetadataException in Java.
    (5, LEADER_NOT_AVAILABLE, RefreshRetriable),
    (6, NOT_LEADER_OR_FOLLOWER, RefreshRetriable),
    (7, REQUEST_TIMED_OUT, Retriable),
    // Not retriable in Java nor in kafka-protocol; modern brokers do not send it to clients.
    (8, BROKER_NOT_AVAILABLE, ApplicationRecoverable),
    (9, REPLICA_NOT_AVAILABLE, RefreshRetriable),
    // The producer first splits the batch; a single record this large is the application's call.
    (10, MESSAGE_TOO_LARGE, ApplicationRecoverable),
    // Broker-to-broker only.
    (11, STALE_CONTROLLER_EPOCH, ApplicationRecoverable),
    (12, OFFSET_METADATA_TOO_LARGE, ApplicationRecoverable),
    // An InvalidMetadataException in Java: the broker may have gone away, so refresh first.
    (13, NETWORK_EXCEPTION, RefreshRetriable),
    (14, COORDINATOR_LOAD_IN_PROGRESS, Retriable),
    // KIP-1050: RefreshRetriableException; retry after a new FindCoordinator.
    (15, COORDINATOR_NOT_AVAILABLE, RefreshRetriable),
    (16, NOT_COORDINATOR, RefreshRetriable),
    // The topic name is invalid.
    (17, INVALID_TOPIC_EXCEPTION, InvalidConfiguration),
    (18, RECORD_LIST_TOO_LARGE, ApplicationRecoverable),
    (19, NOT_ENOUGH_REPLICAS, Retriable),
    (20, NOT_ENOUGH_REPLICAS_AFTER_APPEND, Retriable),
    // The acks setting.
    (21, INVALID_REQUIRED_ACKS, InvalidConfiguration),
    // Group membership: recovered by rejoining the group.
    (22, ILLEGAL_GENERATION, ApplicationRecoverable),
    // partition.assignment.strategy (or protocol type) incompatible with the group's members.
    (23, INCONSISTENT_GROUP_PROTOCOL, InvalidConfiguration),
    // The group.id setting.
    (24, INVALID_GROUP_ID, InvalidConfiguration),
    // Group membership: rejoin with an empty member id.
    (25, UNKNOWN_MEMBER_ID, ApplicationRecoverable),
    // The session.timeout.ms setting against the broker's group.{min,max}.session.timeout.ms.
    (26, INVALID_SESSION_TIMEOUT, InvalidConfiguration),
    // Group membership: rejoin.
    (27, REBALANCE_IN_PROGRESS, ApplicationRecoverable),
    (28, INVALID_COMMIT_OFFSET_SIZE, ApplicationRecoverable),
    (29, TOPIC_AUTHORIZATION_FAILED, ApplicationRecoverable),
    (30, GROUP_AUTHORIZATION_FAILED, ApplicationRecoverable),
    // Fatal in Java's TransactionManager; idempotent produce needs IDEMPOTENT_WRITE on the cluster.
    (31, CLUSTER_AUTHORIZATION_FAILED, Fatal),
    // A record's timestamp is outside message.timestamp.*.max.ms.
    (32, INVALID_TIMESTAMP, ApplicationRecoverable),
    // Authentication failures end the connection and the client (Java: AuthenticationException).
    (33, UNSUPPORTED_SASL_MECHANISM, Fatal),
    (34, ILLEGAL_SASL_STATE, Fatal),
    (35, UNSUPPORTED_VERSION, Fatal),
    (36, TOPIC_ALREADY_EXISTS, ApplicationRecoverable),
    (37, INVALID_PARTITIONS, InvalidConfiguration),
    (38, INVALID_REPLICATION_FACTOR, InvalidConfiguration),
    (39, INVALID_REPLICA_ASSIGNMENT, InvalidConfiguration),
    (40, INVALID_CONFIG, InvalidConfiguration),
    // Java's admin client clears its cached controller and refreshes metadata.
    (41, NOT_CONTROLLER, RefreshRetriable),
    // The request's parameters are invalid (or the client sent something malformed).
    (42, INVALID_REQUEST, InvalidConfiguration),
    // Fatal in Java's TransactionManager: the broker's message format is too old.
    (43, UNSUPPORTED_FOR_MESSAGE_FORMAT, Fatal),
    (44, POLICY_VIOLATION, InvalidConfiguration),
    // KIP-360: the idempotent producer bumps its epoch and retries, so this never reaches the
    // application; it is retriable only *after* that bump, never by a blind resend. Inside a
    // transaction the producer reclassifies it as TransactionAbortable (Java does the same).
    (45, OUT_OF_ORDER_SEQUENCE_NUMBER, Retriable),
    // The producer treats it as success: the batch was already written. Never surfaced.
    (46, DUPLICATE_SEQUENCE_NUMBER, ApplicationRecoverable),
    // Another producer bumped the epoch: fatal for a transactional producer (Java maps it to
    // PRODUCER_FENCED on coordinator responses; KIP-1050 says restart the producer). On a produce
    // response Java only aborts the transaction; the producer may reclassify accordingly.
    (47, INVALID_PRODUCER_EPOCH, Fatal),
    // Fatal in Java's TransactionManager: the client's transaction state machine is broken.
    (48, INVALID_TXN_STATE, Fatal),
    // KIP-360: abort, then InitProducerId with the current id/epoch gets a new mapping (or a fatal
    // PRODUCER_FENCED if another instance owns it). Java: abortableErrorIfPossible.
    (49, INVALID_PRODUCER_ID_MAPPING, TransactionAbortable),
    // transaction.timeout.ms exceeds the broker's transaction.max.timeout.ms.
    (50, INVALID_TRANSACTION_TIMEOUT, InvalidConfiguration),
    // A RetriableException in Java (kafka-protocol says otherwise): the previous EndTxn is still
    // completing.
    (51, CONCURRENT_TRANSACTIONS, Retriable),
    // Broker-to-broker only (WriteTxnMarkers).
    (52, TRANSACTION_COORDINATOR_FENCED, ApplicationRecoverable),
    (53, TRANSACTIONAL_ID_AUTHORIZATION_FAILED, Fatal),
    // The broker has no authorizer: ACL operations cannot succeed, other requests can.
    (54, SECURITY_DISABLED, ApplicationRecoverable),
    // A batched request failed on a sibling item; that sibling's error is the one to act on.
    (55, OPERATION_NOT_ATTEMPTED, ApplicationRecoverable),
    (56, KAFKA_STORAGE_ERROR, RefreshRetriable),
    // A log directory named in the request does not exist on the broker.
    (57, LOG_DIR_NOT_FOUND, InvalidConfiguration),
    (58, SASL_AUTHENTICATION_FAILED, Fatal),
    // KIP-360: the broker lost the producer's state (retention). The idempotent producer resets
    // sequences / bumps its epoch and retries; inside a transaction it is abortable. As for
    // OUT_OF_ORDER_SEQUENCE_NUMBER, retriable only by the producer after that bump.
    (59, UNKNOWN_PRODUCER_ID, Retriable),
    // Admin: a conflicting reassignment; the application decides whether to wait.
    (60, REASSIGNMENT_IN_PROGRESS, ApplicationRecoverable),
    (61, DELEGATION_TOKEN_AUTH_DISABLED, ApplicationRecoverable),
    (62, DELEGATION_TOKEN_NOT_FOUND, ApplicationRecoverable),
    (63, DELEGATION_TOKEN_OWNER_MISMATCH, ApplicationRecoverable),
    // Only this operation is refused on a PLAINTEXT / one-way-TLS / token-authenticated channel.
    (64, DELEGATION_TOKEN_REQUEST_NOT_ALLOWED, ApplicationRecoverable),
    (65, DELEGATION_TOKEN_AUTHORIZATION_FAILED, ApplicationRecoverable),
    (66, DELEGATION_TOKEN_EXPIRED, ApplicationRecoverable),
    (67, INVALID_PRINCIPAL_TYPE, InvalidConfiguration),
    (68, NON_EMPTY_GROUP, ApplicationRecoverable),
    (69, GROUP_ID_NOT_FOUND, ApplicationRecoverable),
    // Fetch sessions (KIP-227): the fetcher starts a new full session and retries.
    (70, FETCH_SESSION_ID_NOT_FOUND, Retriable),
    (71, INVALID_FETCH_SESSION_EPOCH, Retriable),
    (72, LISTENER_NOT_FOUND, RefreshRetriable),
    // The broker has delete.topic.enable=false.
    (73, TOPIC_DELETION_DISABLED, ApplicationRecoverable),
    (74, FENCED_LEADER_EPOCH, RefreshRetriable),
    // Not an InvalidMetadataException in Java: the *broker* is behind our metadata, so the
    // fetcher just retries; a metadata refresh would not help.
    (75, UNKNOWN_LEADER_EPOCH, Retriable),
    // The request version cannot carry the topic's compression codec (e.g. zstd).
    (76, UNSUPPORTED_COMPRESSION_TYPE, ApplicationRecoverable),
    // Broker-to-controller only.
    (77, STALE_BROKER_EPOCH, ApplicationRecoverable),
    // The new leader's high watermark has not caught up yet.
    (78, OFFSET_NOT_AVAILABLE, Retriable),
    // Group membership (KIP-394): rejoin with the member id the broker assigned.
    (79, MEMBER_ID_REQUIRED, ApplicationRecoverable),
    (80, PREFERRED_LEADER_NOT_AVAILABLE, RefreshRetriable),
    // The group is full; rejoining later may work once members leave. The app decides.
    (81, GROUP_MAX_SIZE_REACHED, ApplicationRecoverable),
    // Another instance registered with this group.instance.id: this consumer is a zombie.
    (82, FENCED_INSTANCE_ID, Fatal),
    (83, ELIGIBLE_LEADERS_NOT_AVAILABLE, RefreshRetriable),
    // An InvalidMetadataException in Java; the admin layer treats it as "already done".
    (84, ELECTION_NOT_NEEDED, RefreshRetriable),
    (85, NO_REASSIGNMENT_IN_PROGRESS, ApplicationRecoverable),
    (86, GROUP_SUBSCRIBED_TO_TOPIC, ApplicationRecoverable),
    (87, INVALID_RECORD, ApplicationRecoverable),
    (88, UNSTABLE_OFFSET_COMMIT, Retriable),
    (89, THROTTLING_QUOTA_EXCEEDED, Retriable),
    (90, PRODUCER_FENCED, Fatal),
    (91, RESOURCE_NOT_FOUND, ApplicationRecoverable),
    // The request names the same resource twice.
    (92, DUPLICATE_RESOURCE, InvalidConfiguration),
    // The SCRAM credential's parameters (e.g. iterations) are unacceptable.
    (93, UNACCEPTABLE_CREDENTIAL, InvalidConfiguration),
    // KRaft voters only.
    (94, INCONSISTENT_VOTER_SET, ApplicationRecoverable),
    // UpdateFeatures: the requested feature level is invalid.
    (95, INVALID_UPDATE_VERSION, InvalidConfiguration),
    (96, FEATURE_UPDATE_FAILED, ApplicationRecoverable),
    // Broker-to-controller forwarding only.
    (97, PRINCIPAL_DESERIALIZATION_FAILURE, ApplicationRecoverable),
    // KRaft snapshot fetching only.
    (98, SNAPSHOT_NOT_FOUND, ApplicationRecoverable),
    (99, POSITION_OUT_OF_RANGE, ApplicationRecoverable),
    (100, UNKNOWN_TOPIC_ID, RefreshRetriable),
    // Broker registration (controller-side) only.
    (101, DUPLICATE_BROKER_REGISTRATION, ApplicationRecoverable),
    (102, BROKER_ID_NOT_REGISTERED, ApplicationRecoverable),
    (103, INCONSISTENT_TOPIC_ID, RefreshRetriable),
    // Broker/controller only.
    (104, INCONSISTENT_CLUSTER_ID, ApplicationRecoverable),
    (105, TRANSACTIONAL_ID_NOT_FOUND, ApplicationRecoverable),
    (106, FETCH_SESSION_TOPIC_ID_ERROR, Retriable),
    // AlterPartition (broker-to-controller) only.
    (107, INELIGIBLE_REPLICA, ApplicationRecoverable),
    (108, NEW_LEADER_ELECTED, ApplicationRecoverable),
    // Follower fetches only (tiered storage).
    (109, OFFSET_MOVED_TO_TIERED_STORAGE, ApplicationRecoverable),
    // KIP-848 group membership: drop the assignment and rejoin.
    (110, FENCED_MEMBER_EPOCH, ApplicationRecoverable),
    // KIP-848 static membership: fatal in Java's consumer, like FENCED_INSTANCE_ID.
    (111, UNRELEASED_INSTANCE_ID, Fatal),
    // The group.remote.assignor setting.
    (112, UNSUPPORTED_ASSIGNOR, InvalidConfiguration),
    // KIP-848 group membership: wait for the next heartbeat's epoch, then retry.
    (113, STALE_MEMBER_EPOCH, ApplicationRecoverable),
    // bootstrap.servers vs bootstrap.controllers points at the wrong kind of endpoint.
    (114, MISMATCHED_ENDPOINT_TYPE, InvalidConfiguration),
    (115, UNSUPPORTED_ENDPOINT_TYPE, InvalidConfiguration),
    (116, UNKNOWN_CONTROLLER_ID, ApplicationRecoverable),
    // KIP-714 telemetry: the reporter fetches a new subscription; never surfaced.
    (117, UNKNOWN_SUBSCRIPTION_ID, ApplicationRecoverable),
    (118, TELEMETRY_TOO_LARGE, ApplicationRecoverable),
    // Broker registration only.
    (119, INVALID_REGISTRATION, ApplicationRecoverable),
    // KIP-890: abort the transaction and the producer continues.
    (120, TRANSACTION_ABORTABLE, TransactionAbortable),
    // Share groups (KIP-932): this acknowledgement cannot be applied.
    (121, INVALID_RECORD_STATE, ApplicationRecoverable),
    (122, SHARE_SESSION_NOT_FOUND, Retriable),
    (123, INVALID_SHARE_SESSION_EPOCH, Retriable),
    // Share coordinator internal.
    (124, FENCED_STATE_EPOCH, ApplicationRecoverable),
    // KRaft voter changes.
    (125, INVALID_VOTER_KEY, ApplicationRecoverable),
    (126, DUPLICATE_VOTER, ApplicationRecoverable),
    (127, VOTER_NOT_FOUND, ApplicationRecoverable),
    // The application's subscription pattern.
    (128, INVALID_REGULAR_EXPRESSION, InvalidConfiguration),
    // KIP-1102: the client's metadata is stale beyond repair; re-resolve bootstrap.servers and
    // fetch metadata again, then retry. Java handles it in NetworkClient (not a RetriableException).
    (129, REBOOTSTRAP_REQUIRED, RefreshRetriable),
    (130, STREAMS_INVALID_TOPOLOGY, InvalidConfiguration),
    (131, STREAMS_INVALID_TOPOLOGY_EPOCH, ApplicationRecoverable),
    // Streams group membership: rejoin with the current topology.
    (132, STREAMS_TOPOLOGY_FENCED, ApplicationRecoverable),
    (133, SHARE_SESSION_LIMIT_REACHED, Retriable),
}

// Compile-time invariant that `entry` relies on: codes strictly increase (sorted, no duplicates).
const _: () = {
    let mut i = 1;
    while i < ERROR_TABLE.len() {
        assert!(
            ERROR_TABLE[i - 1].0 < ERROR_TABLE[i].0,
            "ERROR_TABLE must be sorted by code without duplicates"
        );
        i += 1;
    }
};

/// Names for the broker error codes the client's layers act on, so no layer writes a bare
/// number or keeps its own copy. Each name and value is written once, in the macro call below;
/// a test checks every one against [`ERROR_TABLE`] (same code, same Kafka name).
pub(crate) mod code {
    macro_rules! codes {
        ($($name:ident = $value:expr),* $(,)?) => {
            $(
                #[doc = concat!("`", stringify!($name), "`.")]
                pub(crate) const $name: i16 = $value;
            )*
            /// Every constant with its name, for the test against the table.
            #[cfg(test)]
            pub(super) const ALL: &[(i16, &str)] = &[$(($name, stringify!($name))),*];
        };
    }

    codes! {
        UNKNOWN_SERVER_ERROR = -1,
        OFFSET_OUT_OF_RANGE = 1,
        UNKNOWN_TOPIC_OR_PARTITION = 3,
        LEADER_NOT_AVAILABLE = 5,
        REQUEST_TIMED_OUT = 7,
        MESSAGE_TOO_LARGE = 10,
        COORDINATOR_LOAD_IN_PROGRESS = 14,
        COORDINATOR_NOT_AVAILABLE = 15,
        NOT_COORDINATOR = 16,
        NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
        ILLEGAL_GENERATION = 22,
        INCONSISTENT_GROUP_PROTOCOL = 23,
        UNKNOWN_MEMBER_ID = 25,
        REBALANCE_IN_PROGRESS = 27,
        GROUP_AUTHORIZATION_FAILED = 30,
        CLUSTER_AUTHORIZATION_FAILED = 31,
        UNSUPPORTED_SASL_MECHANISM = 33,
        ILLEGAL_SASL_STATE = 34,
        UNSUPPORTED_VERSION = 35,
        OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
        DUPLICATE_SEQUENCE_NUMBER = 46,
        CONCURRENT_TRANSACTIONS = 51,
        OPERATION_NOT_ATTEMPTED = 55,
        SASL_AUTHENTICATION_FAILED = 58,
        UNKNOWN_PRODUCER_ID = 59,
        GROUP_ID_NOT_FOUND = 69,
        FETCH_SESSION_ID_NOT_FOUND = 70,
        INVALID_FETCH_SESSION_EPOCH = 71,
        UNKNOWN_LEADER_EPOCH = 75,
        MEMBER_ID_REQUIRED = 79,
        FENCED_INSTANCE_ID = 82,
        FENCED_MEMBER_EPOCH = 110,
        UNRELEASED_INSTANCE_ID = 111,
        STALE_MEMBER_EPOCH = 113,
        TRANSACTION_ABORTABLE = 120,
        SHARE_SESSION_NOT_FOUND = 122,
        INVALID_SHARE_SESSION_EPOCH = 123,
        SHARE_SESSION_LIMIT_REACHED = 133,
    }
}

/// The table row for `code`. A binary search over ~130 sorted rows: at most 8 comparisons.
fn entry(code: i16) -> Option<&'static (i16, &'static str, ErrorClass)> {
    ERROR_TABLE
        .binary_search_by_key(&code, |&(c, _, _)| c)
        .ok()
        .and_then(|i| ERROR_TABLE.get(i))
}

/// The Kafka name of a broker error code (`NOT_LEADER_OR_FOLLOWER`), `NONE` for 0, or
/// `UNKNOWN_CODE` for a code this client does not know.
pub(super) fn broker_error_name(code: i16) -> &'static str {
    match entry(code) {
        Some(&(_, name, _)) => name,
        None if code == 0 => "NONE",
        None => "UNKNOWN_CODE",
    }
}

/// The KIP-1050 class of a broker error code. Codes this client does not know (newer brokers)
/// are permanent for the request but not fatal: Java likewise treats an unknown code as a
/// non-retriable `UnknownServerException`.
pub(crate) fn class_of_code(code: i16) -> ErrorClass {
    match entry(code) {
        Some(&(_, _, class)) => class,
        None => ApplicationRecoverable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use kafka_protocol::error::ResponseError;
    use std::collections::{BTreeMap, BTreeSet};

    /// Every code `kafka-protocol` knows, with its own variant, from the whole `i16` range.
    fn known_codes() -> BTreeMap<i16, ResponseError> {
        (i16::MIN..=i16::MAX)
            .filter_map(|c| match ResponseError::try_from_code(c) {
                Some(ResponseError::Unknown(_)) | None => None,
                Some(e) => Some((c, e)),
            })
            .collect()
    }

    /// `UnknownTopicOrPartition` -> `UNKNOWN_TOPIC_OR_PARTITION`.
    fn upper_snake(camel: &str) -> String {
        let mut out = String::new();
        for (i, ch) in camel.chars().enumerate() {
            if ch.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_uppercase());
        }
        out
    }

    #[test]
    fn table_covers_exactly_the_codes_kafka_protocol_knows() {
        let known = known_codes();
        let mut seen = BTreeSet::new();
        for &(code, name, _) in ERROR_TABLE {
            assert!(seen.insert(code), "code {code} ({name}) appears twice");
            assert!(
                known.contains_key(&code),
                "table lists {code} ({name}), which kafka-protocol does not know"
            );
        }
        let missing: Vec<_> = known.keys().filter(|c| !seen.contains(c)).collect();
        assert!(
            missing.is_empty(),
            "codes missing from ERROR_TABLE: {missing:?}"
        );
        assert_eq!(ERROR_TABLE.len(), known.len());
        // Sanity: the crate really knows ~130 codes from -1 up.
        assert!(known.len() >= 130, "only {} codes known", known.len());
        assert_eq!(known.keys().next(), Some(&-1));
    }

    #[test]
    fn names_match_kafka_protocol_variants_and_are_unique() {
        let known = known_codes();
        let mut names = BTreeSet::new();
        for &(code, name, _) in ERROR_TABLE {
            assert!(names.insert(name), "name {name} appears twice");
            assert!(
                name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{name} is not UPPER_SNAKE"
            );
            if let Some(variant) = known.get(&code) {
                assert_eq!(upper_snake(&variant.to_string()), name, "code {code}");
            }
        }
    }

    #[test]
    fn well_known_names() {
        assert_eq!(broker_error_name(-1), "UNKNOWN_SERVER_ERROR");
        assert_eq!(broker_error_name(5), "LEADER_NOT_AVAILABLE");
        assert_eq!(broker_error_name(6), "NOT_LEADER_OR_FOLLOWER");
        assert_eq!(broker_error_name(10), "MESSAGE_TOO_LARGE");
        assert_eq!(broker_error_name(40), "INVALID_CONFIG");
        assert_eq!(broker_error_name(90), "PRODUCER_FENCED");
        assert_eq!(broker_error_name(120), "TRANSACTION_ABORTABLE");
        assert_eq!(broker_error_name(0), "NONE");
    }

    #[test]
    fn required_facts() {
        let lna = Error::from_broker_code(5);
        assert!(lna.is_retriable());
        assert!(!lna.is_fatal());

        let ic = Error::from_broker_code(40);
        assert_eq!(ic.class(), InvalidConfiguration);
        assert!(!ic.is_retriable());
        assert!(!ic.is_fatal());

        let nl = Error::from_broker_code(6);
        assert!(nl.needs_metadata_refresh());
        assert!(nl.is_retriable());

        let fenced = Error::from_broker_code(90);
        assert!(fenced.is_fatal());
        assert!(!fenced.is_retriable());

        assert_eq!(class_of_code(120), TransactionAbortable);
        assert_eq!(class_of_code(31), Fatal);
        assert_eq!(class_of_code(10), ApplicationRecoverable);
        assert_eq!(class_of_code(7), Retriable);
    }

    #[test]
    fn unknown_codes_are_permanent_not_fatal() {
        for code in [-2, 134, 999, 9999, i16::MIN, i16::MAX] {
            assert_eq!(broker_error_name(code), "UNKNOWN_CODE", "code {code}");
            assert_eq!(class_of_code(code), ApplicationRecoverable, "code {code}");
            let e = Error::from_broker_code(code);
            assert!(!e.is_retriable() && !e.is_fatal());
        }
        // 0 (NONE) is not an error; if it is ever wrapped, it is not retried either.
        assert_eq!(class_of_code(0), ApplicationRecoverable);
    }

    /// Codes where our retriability differs from `kafka-protocol`'s `is_retriable()`, and why.
    const RETRIABILITY_DIFFERS: &[(i16, &str)] = &[
        (
            45,
            "OUT_OF_ORDER_SEQUENCE_NUMBER: KIP-360 epoch bump, then retry",
        ),
        (51, "CONCURRENT_TRANSACTIONS: a RetriableException in Java"),
        (
            59,
            "UNKNOWN_PRODUCER_ID: KIP-360 epoch bump / sequence reset, then retry",
        ),
        (
            129,
            "REBOOTSTRAP_REQUIRED: KIP-1102 rebootstrap, then retry",
        ),
    ];

    #[test]
    fn retriability_agrees_with_kafka_protocol_except_allow_listed() {
        let allowed: BTreeMap<i16, &str> = RETRIABILITY_DIFFERS.iter().copied().collect();
        let mut differing = BTreeSet::new();
        for (code, variant) in known_codes() {
            if class_of_code(code).is_retriable() != variant.is_retriable() {
                assert!(
                    allowed.contains_key(&code),
                    "{} ({code}): ours retriable={}, kafka-protocol={}; fix or allow-list it",
                    broker_error_name(code),
                    class_of_code(code).is_retriable(),
                    variant.is_retriable()
                );
                differing.insert(code);
            }
        }
        // Keep the allow-list honest: every entry must still differ.
        let stale: Vec<_> = allowed.keys().filter(|c| !differing.contains(c)).collect();
        assert!(
            stale.is_empty(),
            "allow-listed codes that no longer differ: {stale:?}"
        );
    }

    #[test]
    fn named_codes_match_the_table() {
        for &(value, name) in code::ALL {
            let row = ERROR_TABLE.iter().find(|&&(_, n, _)| n == name);
            assert_eq!(row.map(|r| r.0), Some(value), "code::{name}");
        }
    }

    #[test]
    fn lookup_agrees_with_a_linear_scan() {
        for code in -5..=200 {
            let linear = ERROR_TABLE.iter().find(|e| e.0 == code);
            assert_eq!(entry(code), linear, "code {code}");
        }
    }
}
