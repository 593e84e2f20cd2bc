//! The consumer: fetching with prefetch, explicit positions and committed offsets, and ordered
//! at-least-once processing. The async shell builds on an I/O-free fetch core.
//!
//! Per assigned partition there are two offsets, never confused:
//! - the **position** ([`Consumer::position`]): in memory, the next offset `poll` hands out. It
//!   moves only past records actually handed out, or on a seek.
//! - the **committed offset** ([`Consumer::committed`]): what the group coordinator holds. It
//!   moves only on a commit.
//!
//! After a processing failure, [`Consumer::seek_to_committed`] puts the position back on the
//! committed offset so the failed record is handed out again instead of the next one.
//! [`OrderedProcessor`] packages that loop.

mod client;
mod commit;
mod config;
mod coordinator;
mod driver;
pub(crate) mod fetch;
pub(crate) mod group;
mod group_driver;
mod listener;
mod metrics;
mod ordered;
mod pattern;
mod reachability;
mod shared;
mod stream;
mod subscription;
mod topic_pattern;

pub use crate::protocol::records::{Header, HeaderIter, RecordHeaders, TimestampType};
pub use crate::protocol::requests::offset_commit::OffsetToCommit;
pub use crate::types::ConsumerGroupMetadata;
pub use client::{Committed, Consumer, PositionState};
pub use config::{ConsumerConfig, ConsumerConfigBuilder};
pub use fetch::{CommittedOffset, ConsumerRecord, FetchConfig, IsolationLevel, OffsetResetPolicy};
pub use group::{AssignmentStrategy, GroupConfig};
pub use listener::{ListenerFuture, RebalanceListener};
pub use metrics::ConsumerMetrics;
pub use ordered::{FailurePolicy, OrderedProcessor, ProcessingError};
pub use stream::MessageStream;
pub use subscription::GroupGeneration;
