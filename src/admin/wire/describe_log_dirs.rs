//! DescribeLogDirs: a broker's log directories and the replicas in each (sent to each broker,
//! which answers for itself). v3 added a top-level error, v4 the directories' total and usable
//! bytes.

use std::fmt;

use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse};

use crate::types::TopicPartition;
use crate::{Error, Result};

/// One replica in a log directory.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplicaLogInfo {
    /// The partition.
    pub partition: TopicPartition,
    /// Its size on disk, in bytes.
    pub size: i64,
    /// How far this replica's log end is behind the high watermark (or, for a future replica,
    /// behind the current one).
    pub offset_lag: i64,
    /// Whether this is a future replica (being moved into this directory).
    pub is_future: bool,
}

impl fmt::Display for ReplicaLogInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} bytes, offset lag {}",
            self.partition, self.size, self.offset_lag
        )?;
        if self.is_future {
            f.write_str(" (future)")?;
        }
        Ok(())
    }
}

/// One log directory of a broker.
///
/// `Display` prints one line: `/var/kafka: 12 replica(s), 1048576 bytes`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LogDirDescription {
    /// The directory's path on the broker.
    pub path: String,
    /// The directory's error (`KAFKA_STORAGE_ERROR` for an offline directory), if any.
    pub error: Option<Error>,
    /// Its replicas.
    pub replicas: Vec<ReplicaLogInfo>,
    /// The volume's total size in bytes (v4+), when known.
    pub total_bytes: Option<i64>,
    /// The volume's usable bytes (v4+), when known.
    pub usable_bytes: Option<i64>,
}

impl LogDirDescription {
    /// The sum of its replicas' sizes.
    pub fn replica_bytes(&self) -> i64 {
        self.replicas
            .iter()
            .map(|r| r.size)
            .fold(0, i64::saturating_add)
    }
}

impl fmt::Display for LogDirDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} replica(s), {} bytes",
            self.path,
            self.replicas.len(),
            self.replica_bytes()
        )?;
        if let Some(e) = &self.error {
            write!(f, " ({e})")?;
        }
        Ok(())
    }
}

/// The request for every log directory and replica (`topics` null).
pub(crate) fn request() -> DescribeLogDirsRequest {
    DescribeLogDirsRequest::default().with_topics(None)
}

/// The broker's directories, or its top-level error (v3+).
pub(crate) fn parse(resp: &DescribeLogDirsResponse) -> Result<Vec<LogDirDescription>> {
    if resp.error_code != 0 {
        return Err(Error::from_broker_code(resp.error_code).with_api("DescribeLogDirs"));
    }
    Ok(resp
        .results
        .iter()
        .map(|d| LogDirDescription {
            path: d.log_dir.to_string(),
            error: (d.error_code != 0).then(|| {
                Error::from_broker_code(d.error_code)
                    .with_api("DescribeLogDirs")
                    .with_detail(format!("log dir {}", d.log_dir.as_str()))
            }),
            replicas: d
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions.iter().map(|p| ReplicaLogInfo {
                        partition: TopicPartition::new(t.name.0.as_str(), p.partition_index),
                        size: p.partition_size,
                        offset_lag: p.offset_lag,
                        is_future: p.is_future_key,
                    })
                })
                .collect(),
            total_bytes: (d.total_bytes >= 0).then_some(d.total_bytes),
            usable_bytes: (d.usable_bytes >= 0).then_some(d.usable_bytes),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::{encodes, str_bytes, topic_name};
    use kafka_protocol::messages::describe_log_dirs_response::{
        DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
    };

    #[test]
    fn request_encodes_and_parse_flattens_replicas() {
        for v in 1..=4 {
            assert!(encodes(&request(), v), "DescribeLogDirs v{v}");
        }
        let resp = DescribeLogDirsResponse::default().with_results(vec![
            DescribeLogDirsResult::default()
                .with_log_dir(str_bytes("/d1"))
                .with_total_bytes(100)
                .with_usable_bytes(-1)
                .with_topics(vec![DescribeLogDirsTopic::default()
                    .with_name(topic_name("a"))
                    .with_partitions(vec![
                        DescribeLogDirsPartition::default()
                            .with_partition_index(0)
                            .with_partition_size(10),
                        DescribeLogDirsPartition::default()
                            .with_partition_index(1)
                            .with_partition_size(5),
                    ])]),
            DescribeLogDirsResult::default()
                .with_log_dir(str_bytes("/d2"))
                .with_error_code(56),
        ]);
        let dirs = parse(&resp).unwrap();
        assert_eq!(dirs[0].replicas.len(), 2);
        assert_eq!(
            (dirs[0].total_bytes, dirs[0].usable_bytes),
            (Some(100), None)
        );
        assert_eq!(dirs[0].to_string(), "/d1: 2 replica(s), 15 bytes");
        assert_eq!(
            dirs[0].replicas[0].to_string(),
            "a-0: 10 bytes, offset lag 0"
        );
        assert_eq!(
            dirs[1].error.as_ref().and_then(|e| e.broker_code()),
            Some(56)
        );
        let e = parse(&DescribeLogDirsResponse::default().with_error_code(31)).unwrap_err();
        assert_eq!(e.broker_code(), Some(31));
    }
}
