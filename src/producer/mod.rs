//! The producer: configuration, partitioning, and the record accumulator that batches records
//! per partition before they are sent.

pub mod accumulator;
pub mod batch;
pub mod config;
pub mod partitioner;
pub mod record;
