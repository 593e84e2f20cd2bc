//! The producer: I/O-free state machines first, the async shell on top of them.
pub mod state;
