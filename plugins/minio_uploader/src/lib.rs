//! `minio_uploader`: uploads the run's final artifacts from the workspace to an
//! S3-compatible endpoint (MinIO, moto, S3) — the `documentation` stage's last
//! step of the orchestration flow.
//!
//! Each file is sent as one path-style `PUT {endpoint}/{bucket}/{prefix}/{path}`
//! over `wasi:http`, signed with AWS Signature Version 4 ([`sigv4`]): the
//! payload's SHA-256 is signed (`x-amz-content-sha256`), so the server checks
//! the bytes it stores; `Content-Type` follows the file's extension. With
//! `create_bucket` the bucket is created first (`PUT /{bucket}`; an existing
//! bucket this key owns is fine). Every response status is checked: a 5xx is
//! [`ToolError::Retryable`], a 4xx is [`ToolError::Failed`] naming the key,
//! the status and an excerpt of the server's answer.
//!
//! The host lets the request out only when the plugin is granted the
//! endpoint's exact `host:port` (`grants: { http: ["127.0.0.1:9000"] }`); an
//! internal address only by its IP literal.
//!
//! Files: the given workspace-relative `files` in their order, or, without
//! `files`, every regular file under the workspace whose path has no hidden
//! (`.`-prefixed) component, sorted by path. The credentials file is never
//! uploaded. All files are checked before the first request.
//!
//! Credentials come inline (`access_key`, `secret_key`) or from a workspace
//! JSON file (`credentials_file`: `{ "access_key", "secret_key" }`); the
//! secret appears in no log line, error or output.
//!
//! Endpoint, bucket and credentials that the input leaves out come from
//! `minio_uploader.json` in the workspace (the input's keys; the input wins
//! key by key). The file is never uploaded. With neither the input nor the
//! file naming any of them, uploading is skipped (a warning, and the output
//! `{ "skipped": "…" }`): it is optional for a local run. Output and logs are
//! deterministic; only the `x-amz-date` header (and so the signature) follows
//! the wall clock.

pub mod net;
pub mod sigv4;

use std::fmt::Write as _;
use std::path::{Component, Path};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

use net::{HttpRequest, HttpResponse, Net, NetError};
use sigv4::Credentials;

mod upload;
pub use upload::*;

// ---------------------------------------------------------------------------
// Input and output types

/// Where to upload what, and with which key.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploaderInput {
    /// `http://host:port` or `https://host:port` of the S3 API, without a path
    /// (requests are path-style). The plugin must be granted this `host:port`.
    /// Absent: from `minio_uploader.json` in the workspace.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The bucket (S3 naming rules: 3–63 lowercase letters, digits, `.`, `-`).
    /// Absent: from `minio_uploader.json` in the workspace.
    #[serde(default)]
    pub bucket: Option<String>,
    /// The signing region (default `us-east-1`, MinIO's default).
    #[serde(default)]
    pub region: Option<String>,
    /// The access key id (with `secret_key`; or use `credentials_file`).
    #[serde(default)]
    pub access_key: Option<String>,
    /// The secret access key. Never logged or returned.
    #[serde(default)]
    pub secret_key: Option<Secret>,
    /// A workspace-relative JSON file `{ "access_key", "secret_key" }`,
    /// instead of the inline keys. It is never uploaded.
    #[serde(default)]
    pub credentials_file: Option<String>,
    /// Key prefix, e.g. the run id; empty: keys are the file paths.
    #[serde(default)]
    pub prefix: String,
    /// Workspace-relative files to upload, in this order; absent: every
    /// non-hidden regular file under the workspace, sorted.
    #[serde(default)]
    pub files: Option<Vec<String>>,
    /// Create the bucket first (an existing bucket owned by these
    /// credentials is fine).
    #[serde(default)]
    pub create_bucket: bool,
}

const DEFAULT_REGION: &str = "us-east-1";

/// The workspace config file read for what the input leaves out; never uploaded.
pub const CONFIG_FILE: &str = "minio_uploader.json";

/// Why uploading was skipped when nothing names an endpoint.
pub const SKIPPED: &str = "no endpoint configured: put minio_uploader.json in the workspace or pass endpoint/bucket/credentials";

/// A secret string: deserialised like a string, shown as `<redacted>`.
#[derive(Clone, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The tool's output: what was uploaded, or why nothing was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum UploaderResult {
    Uploaded(UploaderOutput),
    Skipped {
        /// Why nothing was uploaded.
        skipped: String,
    },
}

/// What was uploaded where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UploaderOutput {
    /// One entry per file, in upload order.
    pub uploaded: Vec<UploadedObject>,
    pub bucket: String,
    /// The endpoint as used: `scheme://host[:port]`.
    pub endpoint: String,
}

/// One stored object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UploadedObject {
    /// The object key (`prefix/path`).
    pub key: String,
    /// Bytes sent.
    pub bytes: u64,
    /// Lowercase hex SHA-256 of the bytes (signed as `x-amz-content-sha256`).
    pub sha256: String,
    /// The server's ETag, without quotes (MD5 hex for a single-part PUT).
    pub etag: String,
}

// ---------------------------------------------------------------------------
// The tool

pub struct MinioUploader;

impl Tool for MinioUploader {
    const NAME: &'static str = "minio_uploader";
    const DESCRIPTION: &'static str = "Uploads the run's final artifacts to an S3-compatible endpoint over granted wasi:http, SigV4-signed.";
    type Input = UploaderInput;
    type Output = UploaderResult;

    fn run(input: UploaderInput, _cx: &Context) -> Result<UploaderResult, ToolError> {
        match configure(input)? {
            Some(input) => upload(input, &mut net::Sandbox).map(UploaderResult::Uploaded),
            None => {
                taylordash_sdk::log(Level::Warn, &format!("upload skipped: {SKIPPED}"));
                Ok(UploaderResult::Skipped {
                    skipped: SKIPPED.to_string(),
                })
            }
        }
    }
}

fn has_credentials(input: &UploaderInput) -> bool {
    input.access_key.is_some() || input.secret_key.is_some() || input.credentials_file.is_some()
}

/// Fill what the input leaves out from [`CONFIG_FILE`]; `None` when neither
/// names an endpoint, a bucket or credentials (uploading is skipped).
pub fn configure(mut input: UploaderInput) -> Result<Option<UploaderInput>, ToolError> {
    let complete = input.endpoint.is_some() && input.bucket.is_some() && has_credentials(&input);
    if complete {
        return Ok(Some(input));
    }
    let path = taylordash_sdk::workspace_dir().join(CONFIG_FILE);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let nothing =
                input.endpoint.is_none() && input.bucket.is_none() && !has_credentials(&input);
            // Part of a configuration is a mistake, not a local run: the
            // missing key is named by `upload`.
            return Ok(if nothing { None } else { Some(input) });
        }
        Err(e) => return Err(invalid(format!("{CONFIG_FILE}: cannot read it: {e}"))),
    };
    // Where the file is wrong, never what it holds (it may hold the secret).
    let file: UploaderInput = serde_json::from_slice(&text).map_err(|e| {
        let msg = e.to_string();
        let what = if e.is_data()
            && (msg.starts_with("unknown field") || msg.starts_with("missing field"))
        {
            msg
        } else if e.is_data() {
            format!(
                "a value has the wrong type (line {}, column {})",
                e.line(),
                e.column()
            )
        } else {
            format!("not JSON (line {}, column {})", e.line(), e.column())
        };
        invalid(format!("{CONFIG_FILE}: {what}"))
    })?;
    if input.endpoint.is_none() {
        input.endpoint = file.endpoint;
    }
    if input.bucket.is_none() {
        input.bucket = file.bucket;
    }
    if input.region.is_none() {
        input.region = file.region;
    }
    if !has_credentials(&input) {
        input.access_key = file.access_key;
        input.secret_key = file.secret_key;
        input.credentials_file = file.credentials_file;
    }
    if input.prefix.is_empty() {
        input.prefix = file.prefix;
    }
    if input.files.is_none() {
        input.files = file.files;
    }
    input.create_bucket |= file.create_bucket;
    Ok(Some(input))
}

export_tool!(MinioUploader);

#[cfg(test)]
mod tests;
