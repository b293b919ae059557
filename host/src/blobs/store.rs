//! An S3-compatible artifact store for blobs (`--artifacts s3://bucket/prefix`),
//! through `object_store`: for large workspaces and many workers, blobs go
//! to the store instead of over the bus. Objects are named by digest under
//! the prefix (`<prefix>/<sha256>`), so an unchanged file is uploaded once
//! for every run and worker; every download is verified against its digest.
//!
//! Endpoint, region and credentials come from the standard AWS variables
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) unless given in
//! [`StoreOptions`]; an `http://` endpoint (a server on loopback) is allowed.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};

use super::{BlobError, is_digest, verified};

/// Where the store is, beyond what the AWS variables say.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// `s3://bucket[/prefix]`.
    pub url: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Access key id and secret (default: the AWS variables).
    pub credentials: Option<(String, String)>,
}

/// An S3-compatible store of blobs named by digest.
#[derive(Clone)]
pub struct ArtifactStore {
    url: String,
    prefix: String,
    store: Arc<dyn ObjectStore>,
    runtime: Arc<tokio::runtime::Runtime>,
    /// Digests known to be in the store (uploaded or seen by this process).
    present: Arc<Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for ArtifactStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactStore").field("url", &self.url).finish_non_exhaustive()
    }
}


impl ArtifactStore {
    pub fn open(opts: &StoreOptions) -> Result<ArtifactStore, BlobError> {
        let bad = |reason: String| BlobError::BadStore { url: opts.url.clone(), reason };
        let rest = opts.url.strip_prefix("s3://").ok_or_else(|| bad("use s3://bucket/prefix".into()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket".into()));
        }
        let prefix = prefix.trim_matches('/').to_string();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        let endpoint = opts.endpoint.clone().or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        if let Some(endpoint) = endpoint {
            builder = builder.with_allow_http(endpoint.starts_with("http://")).with_endpoint(endpoint);
        }
        if let Some(region) = &opts.region {
            builder = builder.with_region(region);
        }
        if let Some((id, secret)) = &opts.credentials {
            builder = builder.with_access_key_id(id).with_secret_access_key(secret);
        }
        let store = builder.build().map_err(|e| bad(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("artifacts")
            .enable_all()
            .build()
            .map_err(|e| bad(e.to_string()))?;
        let url = if prefix.is_empty() { format!("s3://{bucket}") } else { format!("s3://{bucket}/{prefix}") };
        Ok(ArtifactStore { url, prefix, store: Arc::new(store), runtime: Arc::new(runtime), present: Arc::default() })
    }

    /// `s3://bucket[/prefix]`: what tasks and results name as `blobs_from`.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn path(&self, sha256: &str) -> Result<ObjectPath, BlobError> {
        if !is_digest(sha256) {
            return Err(BlobError::unavailable(sha256, "not a sha256 digest"));
        }
        Ok(if self.prefix.is_empty() { ObjectPath::from(sha256) } else { ObjectPath::from(format!("{}/{sha256}", self.prefix)) })
    }

    /// Make sure the store holds blob `sha256`; `bytes` is asked for only
    /// when it does not. Returns whether it was uploaded.
    pub fn ensure(&self, sha256: &str, bytes: impl FnOnce() -> Result<Vec<u8>, BlobError>) -> Result<bool, BlobError> {
        if self.present.lock().unwrap_or_else(|p| p.into_inner()).contains(sha256) {
            return Ok(false);
        }
        let path = self.path(sha256)?;
        let there = self.runtime.block_on(self.store.head(&path));
        let uploaded = match there {
            Ok(_) => false,
            Err(object_store::Error::NotFound { .. }) => {
                let bytes = verified(sha256, bytes()?)?;
                self.runtime
                    .block_on(self.store.put(&path, PutPayload::from(bytes)))
                    .map_err(|e| BlobError::unavailable(sha256, format!("upload to {}: {e}", self.url)))?;
                true
            }
            Err(e) => return Err(BlobError::unavailable(sha256, format!("{}: {e}", self.url))),
        };
        self.present.lock().unwrap_or_else(|p| p.into_inner()).insert(sha256.to_string());
        Ok(uploaded)
    }

    /// Blob `sha256`, verified against its digest.
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>, BlobError> {
        let path = self.path(sha256)?;
        let bytes = self
            .runtime
            .block_on(async { self.store.get(&path).await?.bytes().await })
            .map_err(|e| BlobError::unavailable(sha256, format!("{}: {e}", self.url)))?;
        verified(sha256, bytes.to_vec())
    }
}
