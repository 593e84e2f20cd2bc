//! ListGroups: the groups one broker coordinates (the admin client asks every broker). v4 added
//! a state filter and the state in the answer (KIP-518), v5 a type filter and the group type
//! (`classic` / `consumer`, KIP-848; `share`, KIP-932).

use std::fmt;

use kafka_protocol::messages::{ListGroupsRequest, ListGroupsResponse};

use crate::protocol::requests::str_bytes;
use crate::{Error, Result};

/// A group as ListGroups lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub struct ListedGroup {
    /// The group id.
    pub group_id: String,
    /// The protocol type (`consumer` for consumer groups, `connect`, … ; empty for a group
    /// that only stores offsets).
    pub protocol_type: String,
    /// The group's state (`Stable`, `Empty`, …; v4+), `None` from older brokers.
    pub state: Option<String>,
    /// The group's type (`classic`, `consumer`, `share`, …; v5+), `None` from older brokers.
    pub group_type: Option<String>,
}

impl fmt::Display for ListedGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "group {}", self.group_id)?;
        if !self.protocol_type.is_empty() {
            write!(f, " protocol type {}", self.protocol_type)?;
        }
        if let Some(s) = &self.state {
            write!(f, " state {s}")?;
        }
        if let Some(t) = &self.group_type {
            write!(f, " type {t}")?;
        }
        Ok(())
    }
}

/// The request at `version`, filtering by state (v4+) and type (v5+) where the version has the
/// field; the filters are dropped below it (the caller filters the answer itself).
pub(crate) fn request(states: &[String], types: &[String], version: i16) -> ListGroupsRequest {
    let mut req = ListGroupsRequest::default();
    if version >= 4 {
        req.states_filter = states.iter().map(|s| str_bytes(s)).collect();
    }
    if version >= 5 {
        req.types_filter = types.iter().map(|s| str_bytes(s)).collect();
    }
    req
}

/// The groups listed, or the broker's error.
pub(crate) fn parse(resp: &ListGroupsResponse, version: i16) -> Result<Vec<ListedGroup>> {
    if resp.error_code != 0 {
        return Err(Error::from_broker_code(resp.error_code).with_api("ListGroups"));
    }
    Ok(resp
        .groups
        .iter()
        .map(|g| ListedGroup {
            group_id: g.group_id.0.to_string(),
            protocol_type: g.protocol_type.to_string(),
            state: (version >= 4).then(|| g.group_state.to_string()),
            group_type: (version >= 5).then(|| g.group_type.to_string()),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::{encodes, group_id};
    use kafka_protocol::messages::list_groups_response::ListedGroup as WireGroup;

    #[test]
    fn filters_only_where_the_version_has_them() {
        let states = vec!["Stable".to_owned()];
        let types = vec!["classic".to_owned()];
        for v in 0..=5 {
            let req = request(&states, &types, v);
            assert_eq!(req.states_filter.len(), usize::from(v >= 4), "v{v}");
            assert_eq!(req.types_filter.len(), usize::from(v >= 5), "v{v}");
            assert!(encodes(&req, v), "ListGroups v{v}");
        }
    }

    #[test]
    fn parse_reads_state_and_type_by_version() {
        let resp = ListGroupsResponse::default().with_groups(vec![WireGroup::default()
            .with_group_id(group_id("g"))
            .with_protocol_type(str_bytes("consumer"))
            .with_group_state(str_bytes("Empty"))
            .with_group_type(str_bytes("classic"))]);
        let g = &parse(&resp, 5).unwrap()[0];
        assert_eq!(
            (g.state.as_deref(), g.group_type.as_deref()),
            (Some("Empty"), Some("classic"))
        );
        assert_eq!(
            g.to_string(),
            "group g protocol type consumer state Empty type classic"
        );
        assert_eq!(parse(&resp, 3).unwrap()[0].state, None);
        let e = parse(&ListGroupsResponse::default().with_error_code(14), 5).unwrap_err();
        assert_eq!(e.broker_code(), Some(14));
    }
}
