//! The requests this client sends, tied to their responses, API keys and names.
//!
//! `kafka-protocol` only links a request to its response type when both its `client` and
//! `broker` features are on; [`ApiRequest`] does it for the client side alone.

use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Message};

/// A request this client can send, with its response type.
pub trait ApiRequest: Encodable + HeaderVersion + Message + Send + Sync + 'static {
    /// The API key.
    const KEY: ApiKey;
    /// The API name, as in Kafka's documentation (`Metadata`).
    const NAME: &'static str;
    /// The response type.
    type Response: Decodable + HeaderVersion + Send + 'static;
}

macro_rules! api_requests {
    ($( $req:ident => $resp:ident, $key:ident; )*) => {
        $(
            impl ApiRequest for $req {
                const KEY: ApiKey = ApiKey::$key;
                const NAME: &'static str = stringify!($key);
                type Response = $resp;
            }
        )*

        /// The APIs this client sends.
        pub(crate) const CLIENT_APIS: &[ApiKey] = &[$(ApiKey::$key),*];

        /// The name of an API key (`Fetch`), or `"Unknown"`.
        pub(crate) fn api_name(key: i16) -> &'static str {
            $( if key == ApiKey::$key as i16 { return stringify!($key); } )*
            "Unknown"
        }
    };
}

api_requests! {
    ProduceRequest => ProduceResponse, Produce;
    FetchRequest => FetchResponse, Fetch;
    ListOffsetsRequest => ListOffsetsResponse, ListOffsets;
    MetadataRequest => MetadataResponse, Metadata;
    OffsetCommitRequest => OffsetCommitResponse, OffsetCommit;
    OffsetFetchRequest => OffsetFetchResponse, OffsetFetch;
    FindCoordinatorRequest => FindCoordinatorResponse, FindCoordinator;
    JoinGroupRequest => JoinGroupResponse, JoinGroup;
    HeartbeatRequest => HeartbeatResponse, Heartbeat;
    LeaveGroupRequest => LeaveGroupResponse, LeaveGroup;
    SyncGroupRequest => SyncGroupResponse, SyncGroup;
    DescribeGroupsRequest => DescribeGroupsResponse, DescribeGroups;
    ListGroupsRequest => ListGroupsResponse, ListGroups;
    ApiVersionsRequest => ApiVersionsResponse, ApiVersions;
    CreateTopicsRequest => CreateTopicsResponse, CreateTopics;
    DeleteTopicsRequest => DeleteTopicsResponse, DeleteTopics;
    DeleteRecordsRequest => DeleteRecordsResponse, DeleteRecords;
    InitProducerIdRequest => InitProducerIdResponse, InitProducerId;
    OffsetForLeaderEpochRequest => OffsetForLeaderEpochResponse, OffsetForLeaderEpoch;
    AddPartitionsToTxnRequest => AddPartitionsToTxnResponse, AddPartitionsToTxn;
    AddOffsetsToTxnRequest => AddOffsetsToTxnResponse, AddOffsetsToTxn;
    EndTxnRequest => EndTxnResponse, EndTxn;
    TxnOffsetCommitRequest => TxnOffsetCommitResponse, TxnOffsetCommit;
    DescribeConfigsRequest => DescribeConfigsResponse, DescribeConfigs;
    DescribeAclsRequest => DescribeAclsResponse, DescribeAcls;
    CreateAclsRequest => CreateAclsResponse, CreateAcls;
    DeleteAclsRequest => DeleteAclsResponse, DeleteAcls;
    CreatePartitionsRequest => CreatePartitionsResponse, CreatePartitions;
    DeleteGroupsRequest => DeleteGroupsResponse, DeleteGroups;
    IncrementalAlterConfigsRequest => IncrementalAlterConfigsResponse, IncrementalAlterConfigs;
    OffsetDeleteRequest => OffsetDeleteResponse, OffsetDelete;
    DescribeClusterRequest => DescribeClusterResponse, DescribeCluster;
    DescribeLogDirsRequest => DescribeLogDirsResponse, DescribeLogDirs;
    ElectLeadersRequest => ElectLeadersResponse, ElectLeaders;
    DescribeProducersRequest => DescribeProducersResponse, DescribeProducers;
    DescribeTransactionsRequest => DescribeTransactionsResponse, DescribeTransactions;
    ListTransactionsRequest => ListTransactionsResponse, ListTransactions;
    ConsumerGroupHeartbeatRequest => ConsumerGroupHeartbeatResponse, ConsumerGroupHeartbeat;
    ConsumerGroupDescribeRequest => ConsumerGroupDescribeResponse, ConsumerGroupDescribe;
    ShareGroupHeartbeatRequest => ShareGroupHeartbeatResponse, ShareGroupHeartbeat;
    ShareGroupDescribeRequest => ShareGroupDescribeResponse, ShareGroupDescribe;
    ShareFetchRequest => ShareFetchResponse, ShareFetch;
    ShareAcknowledgeRequest => ShareAcknowledgeResponse, ShareAcknowledge;
    DescribeShareGroupOffsetsRequest => DescribeShareGroupOffsetsResponse, DescribeShareGroupOffsets;
    AlterShareGroupOffsetsRequest => AlterShareGroupOffsetsResponse, AlterShareGroupOffsets;
    DeleteShareGroupOffsetsRequest => DeleteShareGroupOffsetsResponse, DeleteShareGroupOffsets;
    SaslHandshakeRequest => SaslHandshakeResponse, SaslHandshake;
    SaslAuthenticateRequest => SaslAuthenticateResponse, SaslAuthenticate;
}
