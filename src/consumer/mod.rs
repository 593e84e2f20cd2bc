//! The consumer: fetching, positions and committed offsets, and ordered at-least-once
//! processing. The async shell builds on the I/O-free [`fetch`] core.

mod config;
pub mod fetch;

pub use config::{ConsumerConfig, ConsumerConfigBuilder};
pub use fetch::{ConsumerRecord, IsolationLevel, OffsetResetPolicy};
