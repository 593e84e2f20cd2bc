//! ACLs: describe, create and delete with filters. The broker needs an authorizer
//! (`authorizer.class.name`); without one every call answers `SECURITY_DISABLED`.

use super::wire::acls::{self, AclBinding, AclFilter, DeletedAcls};
use super::AdminClient;
use crate::connection::Purpose;
use crate::Result;

impl AdminClient {
    /// The ACLs matching `filter` (`AclFilter::any()`: every ACL).
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// use ferrokafka::admin::{AclFilter, ResourceType};
    /// for acl in admin.describe_acls(&AclFilter::any().resource(ResourceType::Topic, "orders")).await? {
    ///     println!("{acl}");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// The broker's error for the filter: `SECURITY_DISABLED` without an authorizer,
    /// `CLUSTER_AUTHORIZATION_FAILED` without `DESCRIBE` on the cluster.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn describe_acls(&self, filter: &AclFilter) -> Result<Vec<AclBinding>> {
        let mut retry = self.retry("DescribeAcls");
        loop {
            let outcome = async {
                let conn = self.cluster.any_connection(Purpose::Control).await?;
                let resp = conn.send(&acls::describe_request(filter)).await?;
                acls::parse_describe(&resp)
            }
            .await;
            match outcome {
                Ok(a) => return Ok(a),
                Err(e) => retry.after(e, &self.cluster).await?,
            }
        }
    }

    /// Creates ACLs. One result per ACL, in the order given (creating an ACL that exists
    /// succeeds).
    ///
    /// ```no_run
    /// # async fn f(admin: ferrokafka::admin::AdminClient) -> ferrokafka::Result<()> {
    /// use ferrokafka::admin::{AclBinding, ResourceType};
    /// use ferrokafka::types::AclOperation;
    /// let read = AclBinding::allow(ResourceType::Topic, "orders", "User:alice", AclOperation::Read);
    /// for (acl, r) in admin.create_acls(&[read]).await? {
    ///     r?;
    ///     println!("created {acl}");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: the controller may create the ACLs after the future is
    /// dropped.
    pub async fn create_acls(
        &self,
        bindings: &[AclBinding],
    ) -> Result<Vec<(AclBinding, Result<()>)>> {
        let mut retry = self.retry("CreateAcls");
        loop {
            let outcome = async {
                let conn = self.cluster.any_connection(Purpose::Control).await?;
                let resp = conn.send(&acls::create_request(bindings)).await?;
                acls::parse_create(&resp, bindings.len())
            }
            .await;
            match outcome {
                Ok(results) => return Ok(bindings.iter().cloned().zip(results).collect()),
                Err(e) => retry.after(e, &self.cluster).await?,
            }
        }
    }

    /// Deletes every ACL matching each filter. Per filter, in the order given: the ACLs it
    /// deleted, each with its own result, or the filter's error.
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: the controller may delete the ACLs after the future is
    /// dropped.
    pub async fn delete_acls(
        &self,
        filters: &[AclFilter],
    ) -> Result<Vec<(AclFilter, Result<DeletedAcls>)>> {
        let mut retry = self.retry("DeleteAcls");
        loop {
            let outcome = async {
                let conn = self.cluster.any_connection(Purpose::Control).await?;
                let resp = conn.send(&acls::delete_request(filters)).await?;
                acls::parse_delete(&resp, filters.len())
            }
            .await;
            match outcome {
                Ok(results) => return Ok(filters.iter().cloned().zip(results).collect()),
                Err(e) => retry.after(e, &self.cluster).await?,
            }
        }
    }
}
