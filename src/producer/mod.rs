//! The producer: configuration, partitioning, the record accumulator that batches records per
//! partition, the I/O-free send-path state machine, and the async shell on top of them.

pub mod accumulator;
pub mod batch;
pub mod config;
pub mod partitioner;
pub mod record;
pub mod state;
