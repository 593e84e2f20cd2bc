//! Request handlers, one module per family of APIs.

mod admin;
mod features;
mod fetch;
pub(crate) mod injected;
mod metadata;
mod produce;
mod txn;
pub(crate) mod versions;

use crate::groups;
use crate::server::{decode, encode, Close, Ctx};
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;

/// Kafka's error code for a SASL request out of place.
const ILLEGAL_SASL_STATE: i16 = 34;

/// Decodes the request body of `key` at `version`, runs its handler, encodes the answer.
/// `Ok(None)`: no answer (acks=0).
pub(crate) async fn dispatch(
    ctx: Ctx<'_>,
    key: ApiKey,
    version: i16,
    body: &mut Bytes,
) -> Result<Option<BytesMut>, Close> {
    match key {
        ApiKey::ApiVersions => {
            let _req: ApiVersionsRequest = decode(body, version)?;
            let (level, epoch) = {
                let state = ctx.shared.lock();
                (state.config.transaction_version, state.features_epoch)
            };
            encode(&versions::response(level, epoch), version)
        }
        ApiKey::Metadata => {
            let req: MetadataRequest = decode(body, version)?;
            encode(&metadata::metadata(ctx, req, version), version)
        }
        ApiKey::DescribeCluster => {
            let req: DescribeClusterRequest = decode(body, version)?;
            encode(&metadata::describe_cluster(ctx, req), version)
        }
        ApiKey::Produce => {
            let req: ProduceRequest = decode(body, version)?;
            match produce::produce(ctx, req, version) {
                Some(resp) => encode(&resp, version),
                None => Ok(None),
            }
        }
        ApiKey::Fetch => {
            let req: FetchRequest = decode(body, version)?;
            encode(&fetch::fetch(ctx, req, version).await, version)
        }
        ApiKey::ListOffsets => {
            let req: ListOffsetsRequest = decode(body, version)?;
            encode(&fetch::list_offsets(ctx, req, version), version)
        }
        ApiKey::InitProducerId => {
            let req: InitProducerIdRequest = decode(body, version)?;
            if let Some(code) = injected::whole(ctx, key) {
                return encode(&injected::init_producer_id(code), version);
            }
            if let Some(id) = req.transactional_id.as_ref() {
                let resp =
                    txn::init_producer_id(ctx, id.as_str(), req.transaction_timeout_ms, version);
                return encode(&resp, version);
            }
            encode(&produce::init_producer_id(ctx), version)
        }
        ApiKey::AddPartitionsToTxn => {
            let req: AddPartitionsToTxnRequest = decode(body, version)?;
            encode(&txn::add_partitions(ctx, req, version), version)
        }
        ApiKey::AddOffsetsToTxn => {
            let req: AddOffsetsToTxnRequest = decode(body, version)?;
            encode(&txn::add_offsets(ctx, req, version), version)
        }
        ApiKey::TxnOffsetCommit => {
            let req: TxnOffsetCommitRequest = decode(body, version)?;
            encode(&txn::txn_offset_commit(ctx, req, version), version)
        }
        ApiKey::EndTxn => {
            let req: EndTxnRequest = decode(body, version)?;
            encode(&txn::end_txn(ctx, req, version), version)
        }
        ApiKey::DescribeTransactions => {
            let req: DescribeTransactionsRequest = decode(body, version)?;
            encode(&txn::describe_transactions(ctx, req), version)
        }
        ApiKey::UpdateFeatures => {
            let req: UpdateFeaturesRequest = decode(body, version)?;
            encode(&features::update_features(ctx, req, version), version)
        }
        ApiKey::CreateTopics => {
            let req: CreateTopicsRequest = decode(body, version)?;
            encode(&admin::create_topics(ctx, req), version)
        }
        ApiKey::DeleteTopics => {
            let req: DeleteTopicsRequest = decode(body, version)?;
            encode(&admin::delete_topics(ctx, req), version)
        }
        ApiKey::CreatePartitions => {
            let req: CreatePartitionsRequest = decode(body, version)?;
            encode(&admin::create_partitions(ctx, req), version)
        }
        ApiKey::DescribeConfigs => {
            let req: DescribeConfigsRequest = decode(body, version)?;
            encode(&admin::describe_configs(ctx, req), version)
        }
        ApiKey::IncrementalAlterConfigs => {
            let req: IncrementalAlterConfigsRequest = decode(body, version)?;
            encode(&admin::incremental_alter_configs(ctx, req), version)
        }
        ApiKey::DeleteRecords => {
            let req: DeleteRecordsRequest = decode(body, version)?;
            encode(&admin::delete_records(ctx, req), version)
        }
        // Authentication happens before dispatch (`auth::Session`); here the connection is
        // authenticated or its listener has no SASL: Kafka's KafkaApis answers ILLEGAL_SASL_STATE.
        ApiKey::SaslHandshake => {
            let _req: SaslHandshakeRequest = decode(body, version)?;
            encode(
                &SaslHandshakeResponse::default().with_error_code(ILLEGAL_SASL_STATE),
                version,
            )
        }
        ApiKey::SaslAuthenticate => {
            let _req: SaslAuthenticateRequest = decode(body, version)?;
            let resp = SaslAuthenticateResponse::default()
                .with_error_code(ILLEGAL_SASL_STATE)
                .with_error_message(Some(kafka_protocol::protocol::StrBytes::from_static_str(
                    "SaslAuthenticate request received after successful authentication",
                )));
            encode(&resp, version)
        }
        _ => groups::dispatch(ctx, key, version, body).await,
    }
}
