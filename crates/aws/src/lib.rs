//! AWS adapters: the single table on DynamoDB ([`DynamoTable`]), the blob
//! store on S3 ([`S3Blobs`]), long work on the upload queue and the state
//! machines ([`AwsJobs`]), progress to API Gateway WebSocket connections
//! ([`ConnectionsPublish`]). The store adapters translate AWS errors into
//! the store's own ([`StoreError`]): a failed condition is a conflict,
//! throttling is retryable, anything else keeps its cause.

mod dynamo;
mod jobs;
mod publish;
mod s3;

pub use dynamo::DynamoTable;
pub use jobs::AwsJobs;
pub use publish::ConnectionsPublish;
pub use s3::S3Blobs;

use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls;
use dtg_app::store::StoreError;

/// The SDK's HTTP client: HTTPS on rustls with ring, the TLS crypto every
/// HTTP client of this product uses. Give it to the SDK's configuration
/// (`aws_config::defaults(..).http_client(https_client())`).
#[must_use]
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// AWS error codes that mean "slow down and retry".
const THROTTLING: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "SlowDown",
    "ServiceUnavailable",
    "InternalServerError",
];

/// Translates an SDK error that is neither a conflict nor a not-found.
fn translate<E>(err: E, code: Option<&str>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    if code.is_some_and(|c| THROTTLING.contains(&c)) {
        StoreError::Throttled(Box::new(err))
    } else {
        StoreError::Unexpected(Box::new(err))
    }
}

/// Translates an SDK error by its AWS error code.
fn sdk_error<E>(err: E) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().map(str::to_owned);
    translate(err, code.as_deref())
}
