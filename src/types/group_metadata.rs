//! [`ConsumerGroupMetadata`]: the group membership a transactional producer commits offsets
//! under (KIP-447). Plain data shared by the consumer (which hands it out) and the producer
//! (which sends it): here in the shared layer, so neither imports the other for it.

use std::fmt;

/// Which member of which group generation consumed the records whose offsets a transaction
/// commits; from [`Consumer::group_metadata`](crate::consumer::Consumer::group_metadata), passed to
/// [`Producer::send_offsets_to_transaction`](crate::producer::Producer::send_offsets_to_transaction).
/// The group coordinator refuses the commit if the member is no longer in that generation, so a
/// member that was rebalanced away cannot commit offsets for partitions it lost.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerGroupMetadata {
    /// `group.id`.
    pub group_id: String,
    /// The generation the member is in (`-1` outside group management).
    pub generation_id: i32,
    /// The member id the coordinator gave (empty outside group management).
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    /// Metadata for a group the consumer is not a member of (no generation check): what a
    /// consumer using `assign` with a `group.id` commits under.
    pub fn new(group_id: impl Into<String>) -> ConsumerGroupMetadata {
        ConsumerGroupMetadata {
            group_id: group_id.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}

impl fmt::Display for ConsumerGroupMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "group {} generation {} member {}",
            self.group_id, self.generation_id, self.member_id
        )?;
        if let Some(i) = &self.group_instance_id {
            write!(f, " (instance {i})")?;
        }
        Ok(())
    }
}
