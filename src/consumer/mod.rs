//! The consumer: fetching, positions and committed offsets (the async shell builds on [`fetch`]).
pub mod fetch;
