//! `minio_client`: the app's S3-compatible artifact storage — the
//! `backend_dev` agent's fourth tool.
//!
//! Derives the service model from the run's backlog (`backlog` input, or
//! `backlog.json`/`.yaml`/`.yml` in the workspace; see `service_model`) and
//! writes `app/storage.py`: `S3Storage`, an async client of any S3-compatible
//! server (MinIO, AWS S3, moto) over httpx — `ensure_bucket`, `put`, `get`,
//! `list`, `delete`, keys `artifacts/<run>/<path>` — signing every request
//! with AWS Signature Version 4 (path-style, implemented with the standard
//! library: `sign()`), HTTPS by default, credentials from the environment
//! only (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optional
//! `AWS_SESSION_TOKEN`), endpoint, bucket and region from `S3_ENDPOINT`,
//! `S3_BUCKET` (default `<service>-artifacts`), `S3_REGION`.
//!
//! Returns the module and its settings. Deterministic.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_model::{GenInput, ServiceModel, names, paths, py, source::Out};
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

mod client;
pub use client::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MinioClientOutput {
    pub module: String,
    /// The bucket used when `S3_BUCKET` is unset.
    pub default_bucket: String,
    /// Environment variables the module reads.
    pub env: Vec<String>,
    pub files: Vec<String>,
    pub model: Value,
}

pub struct MinioClient;

impl Tool for MinioClient {
    const NAME: &'static str = "minio_client";
    const DESCRIPTION: &'static str = "Generates app/storage.py, the app's async S3-compatible (MinIO) artifact \
         storage client with SigV4 signing, HTTPS by default and credentials from the environment.";
    type Input = GenInput;
    type Output = MinioClientOutput;

    fn run(input: GenInput, cx: &Context) -> Result<MinioClientOutput, ToolError> {
        let model = input.model(Self::NAME, cx)?;
        let mut out = Out::new();
        out.write(paths::STORAGE_MODULE, &storage_py(&model))?;
        let bucket = default_bucket(&model);
        taylordash_sdk::log(Level::Info, &format!("{}: bucket {bucket} by default", paths::STORAGE_MODULE));
        Ok(MinioClientOutput {
            module: paths::STORAGE_MODULE.into(),
            default_bucket: bucket,
            env: ENV.iter().map(|s| s.to_string()).collect(),
            files: out.files,
            model: model.summary(),
        })
    }
}

export_tool!(MinioClient);

#[cfg(test)]
mod tests;
