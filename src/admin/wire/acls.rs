//! ACLs: DescribeAcls, CreateAcls and DeleteAcls (v1–v3 carry the same fields; v1 added
//! resource pattern types, KIP-290). A broker without an authorizer answers
//! `SECURITY_DISABLED`.

use std::fmt;

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::protocol::requests::str_bytes;
use crate::types::AclOperation;
use crate::{Error, Result};

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal => $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum $name {
            /// A code this client does not know (`0`, or newer than this client).
            Unknown,
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// The wire code.
            pub const fn to_wire(self) -> i8 {
                match self {
                    $name::Unknown => 0,
                    $($name::$variant => $code,)*
                }
            }

            /// The value of a wire code (`Unknown` for codes this client does not know).
            pub const fn from_wire(code: i8) -> $name {
                match code {
                    $($code => $name::$variant,)*
                    _ => $name::Unknown,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self {
                    $name::Unknown => "UNKNOWN",
                    $($name::$variant => $text,)*
                })
            }
        }
    };
}

wire_enum!(
    /// The kind of resource an ACL is about.
    ResourceType {
        /// Matches any type, in filters.
        Any = 1 => "ANY",
        /// A topic.
        Topic = 2 => "TOPIC",
        /// A consumer group.
        Group = 3 => "GROUP",
        /// The cluster (name `kafka-cluster`).
        Cluster = 4 => "CLUSTER",
        /// A transactional id.
        TransactionalId = 5 => "TRANSACTIONAL_ID",
        /// A delegation token.
        DelegationToken = 6 => "DELEGATION_TOKEN",
        /// A user (for delegation tokens).
        User = 7 => "USER",
    }
);

wire_enum!(
    /// How an ACL's resource name matches resource names (KIP-290).
    PatternType {
        /// Matches any pattern type, in filters.
        Any = 1 => "ANY",
        /// In filters: every ACL that applies to the name (literal, wildcard or prefix).
        Match = 2 => "MATCH",
        /// The name itself (or `*`, every resource).
        Literal = 3 => "LITERAL",
        /// Every name starting with it.
        Prefixed = 4 => "PREFIXED",
    }
);

wire_enum!(
    /// Whether an ACL allows or denies.
    AclPermission {
        /// Matches either, in filters.
        Any = 1 => "ANY",
        /// Denies the operation.
        Deny = 2 => "DENY",
        /// Allows the operation.
        Allow = 3 => "ALLOW",
    }
);

/// One ACL: a resource pattern and an access control entry.
///
/// `Display` prints one line:
/// `ALLOW User:alice READ on TOPIC orders (LITERAL) from *`.
///
/// ```
/// use ferrokafka::admin::{AclBinding, ResourceType};
/// use ferrokafka::types::AclOperation;
/// let acl = AclBinding::allow(ResourceType::Topic, "orders", "User:alice", AclOperation::Read);
/// assert_eq!(acl.to_string(), "ALLOW User:alice READ on TOPIC orders (LITERAL) from *");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub struct AclBinding {
    /// The resource type.
    pub resource_type: ResourceType,
    /// The resource name (`*` with a literal pattern: every resource of the type).
    pub resource_name: String,
    /// How the name matches.
    pub pattern_type: PatternType,
    /// The principal (`User:alice`).
    pub principal: String,
    /// The host the principal connects from (`*`: any).
    pub host: String,
    /// The operation.
    pub operation: AclOperation,
    /// Allow or deny.
    pub permission: AclPermission,
}

impl AclBinding {
    /// An ACL allowing `principal` to perform `operation` on the resource named `name` (a
    /// literal pattern) from any host.
    pub fn allow(
        resource_type: ResourceType,
        name: impl Into<String>,
        principal: impl Into<String>,
        operation: AclOperation,
    ) -> AclBinding {
        AclBinding {
            resource_type,
            resource_name: name.into(),
            pattern_type: PatternType::Literal,
            principal: principal.into(),
            host: "*".to_owned(),
            operation,
            permission: AclPermission::Allow,
        }
    }

    /// The same ACL denying instead of allowing.
    pub fn deny(mut self) -> AclBinding {
        self.permission = AclPermission::Deny;
        self
    }

    /// The same ACL with another pattern type (e.g. [`PatternType::Prefixed`]).
    pub fn pattern(mut self, pattern_type: PatternType) -> AclBinding {
        self.pattern_type = pattern_type;
        self
    }

    /// The same ACL from one host only.
    pub fn host(mut self, host: impl Into<String>) -> AclBinding {
        self.host = host.into();
        self
    }

    /// The filter matching exactly this ACL.
    pub fn to_filter(&self) -> AclFilter {
        AclFilter {
            resource_type: self.resource_type,
            resource_name: Some(self.resource_name.clone()),
            pattern_type: self.pattern_type,
            principal: Some(self.principal.clone()),
            host: Some(self.host.clone()),
            operation: self.operation,
            permission: self.permission,
        }
    }
}

impl fmt::Display for AclBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} on {} {} ({}) from {}",
            self.permission,
            self.principal,
            self.operation,
            self.resource_type,
            self.resource_name,
            self.pattern_type,
            self.host
        )
    }
}

/// A filter over ACLs: `Any` and `None` fields match everything.
///
/// ```
/// use ferrokafka::admin::{AclFilter, ResourceType};
/// let f = AclFilter::any().resource(ResourceType::Topic, "orders").principal("User:alice");
/// assert_eq!(f.to_string(), "ANY User:alice ANY on TOPIC orders (ANY) from (any host)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub struct AclFilter {
    /// The resource type (`Any`: every type).
    pub resource_type: ResourceType,
    /// The resource name (`None`: every name).
    pub resource_name: Option<String>,
    /// The pattern type (`Any`: every type; `Match`: every ACL that applies to the name).
    pub pattern_type: PatternType,
    /// The principal (`None`: every principal).
    pub principal: Option<String>,
    /// The host (`None`: every host).
    pub host: Option<String>,
    /// The operation (`Any`: every operation).
    pub operation: AclOperation,
    /// The permission (`Any`: both).
    pub permission: AclPermission,
}

impl AclFilter {
    /// The filter matching every ACL.
    pub fn any() -> AclFilter {
        AclFilter {
            resource_type: ResourceType::Any,
            resource_name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermission::Any,
        }
    }

    /// Only ACLs on this resource type and name.
    pub fn resource(mut self, resource_type: ResourceType, name: impl Into<String>) -> AclFilter {
        self.resource_type = resource_type;
        self.resource_name = Some(name.into());
        self
    }

    /// Only ACLs of this principal.
    pub fn principal(mut self, principal: impl Into<String>) -> AclFilter {
        self.principal = Some(principal.into());
        self
    }

    /// Only ACLs of this pattern type.
    pub fn pattern(mut self, pattern_type: PatternType) -> AclFilter {
        self.pattern_type = pattern_type;
        self
    }

    /// Only ACLs for this operation.
    pub fn operation(mut self, operation: AclOperation) -> AclFilter {
        self.operation = operation;
        self
    }
}

impl fmt::Display for AclFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} on {} {} ({}) from {}",
            self.permission,
            self.principal.as_deref().unwrap_or("(any principal)"),
            self.operation,
            self.resource_type,
            self.resource_name.as_deref().unwrap_or("(any name)"),
            self.pattern_type,
            self.host.as_deref().unwrap_or("(any host)")
        )
    }
}

fn opt(s: &Option<String>) -> Option<StrBytes> {
    s.as_deref().map(str_bytes)
}

/// The DescribeAcls request for `filter`.
pub(crate) fn describe_request(filter: &AclFilter) -> DescribeAclsRequest {
    DescribeAclsRequest::default()
        .with_resource_type_filter(filter.resource_type.to_wire())
        .with_resource_name_filter(opt(&filter.resource_name))
        .with_pattern_type_filter(filter.pattern_type.to_wire())
        .with_principal_filter(opt(&filter.principal))
        .with_host_filter(opt(&filter.host))
        .with_operation(filter.operation.to_wire())
        .with_permission_type(filter.permission.to_wire())
}

/// The ACLs described, or the broker's error (`SECURITY_DISABLED` without an authorizer).
pub(crate) fn parse_describe(resp: &DescribeAclsResponse) -> Result<Vec<AclBinding>> {
    if resp.error_code != 0 {
        return Err(Error::from_broker_code(resp.error_code)
            .with_api("DescribeAcls")
            .with_broker_message(resp.error_message.as_ref().map(|m| m.to_string())));
    }
    Ok(resp
        .resources
        .iter()
        .flat_map(|r| {
            r.acls.iter().map(|a| AclBinding {
                resource_type: ResourceType::from_wire(r.resource_type),
                resource_name: r.resource_name.to_string(),
                pattern_type: PatternType::from_wire(r.pattern_type),
                principal: a.principal.to_string(),
                host: a.host.to_string(),
                operation: AclOperation::from_wire(a.operation),
                permission: AclPermission::from_wire(a.permission_type),
            })
        })
        .collect())
}

/// The CreateAcls request for `acls`.
pub(crate) fn create_request(acls: &[AclBinding]) -> CreateAclsRequest {
    CreateAclsRequest::default().with_creations(
        acls.iter()
            .map(|a| {
                AclCreation::default()
                    .with_resource_type(a.resource_type.to_wire())
                    .with_resource_name(str_bytes(&a.resource_name))
                    .with_resource_pattern_type(a.pattern_type.to_wire())
                    .with_principal(str_bytes(&a.principal))
                    .with_host(str_bytes(&a.host))
                    .with_operation(a.operation.to_wire())
                    .with_permission_type(a.permission.to_wire())
            })
            .collect(),
    )
}

/// One answer per ACL, in request order; `Err` if the answer count does not match.
pub(crate) fn parse_create(resp: &CreateAclsResponse, sent: usize) -> Result<Vec<Result<()>>> {
    if resp.results.len() != sent {
        return Err(Error::malformed(format!(
            "CreateAcls answered {} results for {sent} ACLs",
            resp.results.len()
        )));
    }
    Ok(resp
        .results
        .iter()
        .map(|r| {
            if r.error_code == 0 {
                Ok(())
            } else {
                Err(Error::from_broker_code(r.error_code)
                    .with_api("CreateAcls")
                    .with_broker_message(r.error_message.as_ref().map(|m| m.to_string())))
            }
        })
        .collect())
}

/// The DeleteAcls request for `filters`.
pub(crate) fn delete_request(filters: &[AclFilter]) -> DeleteAclsRequest {
    DeleteAclsRequest::default().with_filters(
        filters
            .iter()
            .map(|f| {
                DeleteAclsFilter::default()
                    .with_resource_type_filter(f.resource_type.to_wire())
                    .with_resource_name_filter(opt(&f.resource_name))
                    .with_pattern_type_filter(f.pattern_type.to_wire())
                    .with_principal_filter(opt(&f.principal))
                    .with_host_filter(opt(&f.host))
                    .with_operation(f.operation.to_wire())
                    .with_permission_type(f.permission.to_wire())
            })
            .collect(),
    )
}

/// The ACLs one delete filter matched, each with its own result.
pub type DeletedAcls = Vec<(AclBinding, Result<()>)>;

/// Per filter, in request order: the ACLs it matched, each with its own result, or the
/// filter's error; `Err` if the answer count does not match.
pub(crate) fn parse_delete(
    resp: &DeleteAclsResponse,
    sent: usize,
) -> Result<Vec<Result<DeletedAcls>>> {
    if resp.filter_results.len() != sent {
        return Err(Error::malformed(format!(
            "DeleteAcls answered {} results for {sent} filters",
            resp.filter_results.len()
        )));
    }
    Ok(resp
        .filter_results
        .iter()
        .map(|fr| {
            if fr.error_code != 0 {
                return Err(Error::from_broker_code(fr.error_code)
                    .with_api("DeleteAcls")
                    .with_broker_message(fr.error_message.as_ref().map(|m| m.to_string())));
            }
            Ok(fr
                .matching_acls
                .iter()
                .map(|m| {
                    let binding = AclBinding {
                        resource_type: ResourceType::from_wire(m.resource_type),
                        resource_name: m.resource_name.to_string(),
                        pattern_type: PatternType::from_wire(m.pattern_type),
                        principal: m.principal.to_string(),
                        host: m.host.to_string(),
                        operation: AclOperation::from_wire(m.operation),
                        permission: AclPermission::from_wire(m.permission_type),
                    };
                    let r = if m.error_code == 0 {
                        Ok(())
                    } else {
                        Err(Error::from_broker_code(m.error_code)
                            .with_api("DeleteAcls")
                            .with_broker_message(m.error_message.as_ref().map(|s| s.to_string())))
                    };
                    (binding, r)
                })
                .collect())
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::requests::encodes;
    use kafka_protocol::messages::create_acls_response::AclCreationResult;
    use kafka_protocol::messages::delete_acls_response::{
        DeleteAclsFilterResult, DeleteAclsMatchingAcl,
    };
    use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};

    fn alice() -> AclBinding {
        AclBinding::allow(
            ResourceType::Topic,
            "orders",
            "User:alice",
            AclOperation::Read,
        )
    }

    #[test]
    fn codes_round_trip() {
        for c in 0..9 {
            for (w, back) in [
                (ResourceType::from_wire(c).to_wire(), c),
                (PatternType::from_wire(c).to_wire(), c),
                (AclPermission::from_wire(c).to_wire(), c),
            ] {
                assert!(w == back || w == 0, "code {c}");
            }
        }
        assert_eq!(ResourceType::from_wire(2), ResourceType::Topic);
        assert_eq!(PatternType::from_wire(4), PatternType::Prefixed);
        assert_eq!(AclPermission::from_wire(-3), AclPermission::Unknown);
    }

    #[test]
    fn requests_encode_at_every_version() {
        let f = alice().to_filter();
        for v in 1..=3 {
            assert!(encodes(&describe_request(&f), v), "DescribeAcls v{v}");
            assert!(encodes(&describe_request(&AclFilter::any()), v));
            assert!(encodes(&create_request(&[alice()]), v), "CreateAcls v{v}");
            assert!(
                encodes(&delete_request(std::slice::from_ref(&f)), v),
                "DeleteAcls v{v}"
            );
        }
        let req = describe_request(&AclFilter::any());
        assert!(req.resource_name_filter.is_none() && req.principal_filter.is_none());
        assert_eq!((req.resource_type_filter, req.operation), (1, 1));
        let c = &create_request(&[alice().deny().pattern(PatternType::Prefixed)]).creations[0];
        assert_eq!(
            (c.permission_type, c.resource_pattern_type, c.operation),
            (2, 4, 3)
        );
    }

    #[test]
    fn parsers_keep_errors_per_resource() {
        let resp =
            DescribeAclsResponse::default().with_resources(vec![DescribeAclsResource::default()
                .with_resource_type(2)
                .with_resource_name(str_bytes("orders"))
                .with_pattern_type(3)
                .with_acls(vec![AclDescription::default()
                    .with_principal(str_bytes("User:alice"))
                    .with_host(str_bytes("*"))
                    .with_operation(3)
                    .with_permission_type(3)])]);
        assert_eq!(parse_describe(&resp).unwrap(), vec![alice()]);
        let e = parse_describe(&DescribeAclsResponse::default().with_error_code(54)).unwrap_err();
        assert_eq!(e.broker_code(), Some(54));

        let resp = CreateAclsResponse::default().with_results(vec![
            AclCreationResult::default(),
            AclCreationResult::default().with_error_code(42),
        ]);
        let r = parse_create(&resp, 2).unwrap();
        assert!(r[0].is_ok());
        assert_eq!(r[1].as_ref().unwrap_err().broker_code(), Some(42));
        assert!(parse_create(&resp, 3).is_err(), "count mismatch");

        let resp = DeleteAclsResponse::default().with_filter_results(vec![
            DeleteAclsFilterResult::default().with_matching_acls(vec![
                DeleteAclsMatchingAcl::default()
                    .with_resource_type(2)
                    .with_resource_name(str_bytes("orders"))
                    .with_pattern_type(3)
                    .with_principal(str_bytes("User:alice"))
                    .with_host(str_bytes("*"))
                    .with_operation(3)
                    .with_permission_type(3),
            ]),
            DeleteAclsFilterResult::default().with_error_code(54),
        ]);
        let r = parse_delete(&resp, 2).unwrap();
        let m = r[0].as_ref().unwrap();
        assert_eq!(m[0].0, alice());
        assert!(m[0].1.is_ok());
        assert_eq!(r[1].as_ref().unwrap_err().broker_code(), Some(54));
    }
}
