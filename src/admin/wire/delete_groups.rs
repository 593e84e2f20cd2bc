//! DeleteGroups: delete empty groups (and their committed offsets), sent to each group's
//! coordinator. The same fields in every version, v0–v2.

use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use crate::protocol::requests::group_id;
use crate::{Error, Result};

/// The request deleting `groups`.
pub(crate) fn request<'a>(groups: impl IntoIterator<Item = &'a str>) -> DeleteGroupsRequest {
    DeleteGroupsRequest::default().with_groups_names(groups.into_iter().map(group_id).collect())
}

/// Every group's answer, in response order (`NON_EMPTY_GROUP` for a group with members,
/// `GROUP_ID_NOT_FOUND` for one that does not exist).
pub(crate) fn parse(resp: &DeleteGroupsResponse) -> Vec<(String, Result<()>)> {
    resp.results
        .iter()
        .map(|r| {
            let g = r.group_id.0.to_string();
            let result = if r.error_code == 0 {
                Ok(())
            } else {
                Err(Error::from_broker_code(r.error_code)
                    .with_api("DeleteGroups")
                    .with_detail(format!("group {g}")))
            };
            (g, result)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;
    use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;

    #[test]
    fn request_encodes_and_parse_keeps_errors_per_group() {
        let req = request(["a", "b"]);
        assert_eq!(req.groups_names.len(), 2);
        for v in 0..=2 {
            assert!(encodes(&req, v), "DeleteGroups v{v}");
        }
        let resp = DeleteGroupsResponse::default().with_results(vec![
            DeletableGroupResult::default().with_group_id(group_id("a")),
            DeletableGroupResult::default()
                .with_group_id(group_id("b"))
                .with_error_code(68),
        ]);
        let r = parse(&resp);
        assert!(r[0].1.is_ok());
        let e = r[1].1.as_ref().unwrap_err();
        assert_eq!(e.broker_code(), Some(68));
        assert!(e.to_string().contains("group b"), "{e}");
    }
}
