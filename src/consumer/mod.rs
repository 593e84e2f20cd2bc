//! The consumer: classic consumer group membership and its assignors.
pub mod group;
