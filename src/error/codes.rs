//! The KIP-1050 classification of every broker error code.
//!
//! PLACEHOLDER: filled in by the error-table work.

use super::ErrorClass;

/// The Kafka name of a broker error code (`NOT_LEADER_OR_FOLLOWER`).
pub fn broker_error_name(code: i16) -> &'static str {
    match code {
        5 => "LEADER_NOT_AVAILABLE",
        6 => "NOT_LEADER_OR_FOLLOWER",
        40 => "INVALID_CONFIG",
        _ => "UNKNOWN_CODE",
    }
}

pub(crate) fn class_of_code(code: i16) -> ErrorClass {
    match code {
        5 => ErrorClass::Retriable,
        6 => ErrorClass::RefreshRetriable,
        40 => ErrorClass::InvalidConfiguration,
        _ => ErrorClass::ApplicationRecoverable,
    }
}
