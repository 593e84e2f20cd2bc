//! Starts a real Apache Kafka for tests (placeholder).
