//! Integration tests against a real Apache Kafka (one test binary).
//!
//! The broker comes from `ferrokafka-testcontainers`: `KAFKA_BOOTSTRAP_SERVERS` if set, else a
//! Docker engine, else a local KRaft broker from Maven Central jars. Tests that kill brokers
//! start their own dedicated cluster; the others share one single-node broker per process.

mod admin;
mod admin_cluster_ops;
mod admin_ops;
mod chaos;
mod chaos_cluster;
mod chaos_combined;
mod chaos_ordered;
mod churn;
mod connection;
mod consumer;
mod consumer_api;
mod consumer_errors;
mod consumer_reset;
mod dead_broker;
mod drop_safety;
mod error_handler;
mod fetch;
mod group;
mod group_848;
mod group_coordinator;
mod group_faults;
mod group_history;
mod hostile;
mod metadata;
mod producer;
mod producer_callback;
mod producer_faults;
mod security;
mod share;
mod share_admin;
mod share_faults;
mod soak;
mod support;
mod transactions;
mod txn_chaos;
mod txn_producer;
