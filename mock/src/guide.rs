//! A guide to testing an application with the mock cluster: the control API and three worked
//! examples (a producer retrying NOT_LEADER_OR_FOLLOWER, a rebalance with a listener that commits
//! on revocation, a transaction aborted by a fault). The examples are compiled and run as
//! doctests of this crate. The same text is `docs/testing-your-application.md`.
#![doc = include_str!("../../docs/testing-your-application.md")]
