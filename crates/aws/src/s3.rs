//! The blob store on S3: uploads and attachments, with presigned URLs the
//! browser (or any plain HTTP client) uses directly.

use std::time::{Duration, UNIX_EPOCH};

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use dtg_app::store::{Blobs, Result, StoreError, Timestamp};

use crate::{sdk_error, translate};

/// The blob store on one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Blobs {
    client: Client,
    bucket: String,
}

impl S3Blobs {
    /// A blob store over a client, for the named bucket.
    #[must_use]
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// Creates the bucket if it does not exist; for local runs and tests.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when it cannot be created.
    pub async fn create_if_missing(&self) -> Result<()> {
        if self
            .client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        self.client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    fn presigning(expires_in: Duration, now: Timestamp) -> Result<PresigningConfig> {
        let start = UNIX_EPOCH + Duration::from_secs(u64::try_from(now).unwrap_or(0));
        PresigningConfig::builder()
            .start_time(start)
            .expires_in(expires_in)
            .build()
            .map_err(|e| StoreError::Unexpected(Box::new(e)))
    }
}

impl Blobs for S3Blobs {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => {
                let data = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| StoreError::Unexpected(Box::new(e)))?;
                Ok(Some(data.into_bytes().to_vec()))
            }
            Err(e) if matches!(e.code(), Some("NoSuchKey" | "NotFound")) => Ok(None),
            Err(e) => {
                let code = e.code().map(str::to_owned);
                Err(translate(e, code.as_deref()))
            }
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        expires_in: Duration,
        now: Timestamp,
    ) -> Result<String> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .presigned(Self::presigning(expires_in, now)?)
            .await
            .map_err(|e| StoreError::Unexpected(Box::new(e)))?;
        Ok(request.uri().to_owned())
    }

    async fn presign_get(&self, key: &str, expires_in: Duration, now: Timestamp) -> Result<String> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(Self::presigning(expires_in, now)?)
            .await
            .map_err(|e| StoreError::Unexpected(Box::new(e)))?;
        Ok(request.uri().to_owned())
    }
}
