//! Integration tests against a real Apache Kafka (one test binary).
