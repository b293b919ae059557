//! `perf_check`: the L4 (performance) quality gate of the seed's
//! multi-layer validation: a short load test of the generated FastAPI
//! service.
//!
//! Through the host's `exec` capability (the policy must grant the
//! interpreter), `python3 -B - CONFIG` runs the load generator embedded in
//! this plugin (`load.py`, sent as the command's stdin) in a scratch copy of
//! the workspace: it imports the app (`app.main:app`) in-process and drives
//! it with `httpx.AsyncClient(transport=httpx.ASGITransport(app=…))` after
//! its lifespan startup — no socket, so it also runs where the sandbox
//! allows no TCP (Landlock) — sending `requests` GETs (default 200) with
//! `concurrency` workers (default 10) to the service model's read
//! endpoints (its GET list endpoints, or `paths`), and prints
//! `{p50_ms, p95_ms, p99_ms, errors, requests, …, endpoints}`.
//!
//! Each endpoint's p95 is compared with its target: the input's `p95_ms`,
//! else `perf_check.json`'s, else the endpoint's latency SLO in the service
//! model (the backlog item's `slo.latency_p95_ms`, 250 ms for a list by
//! default), else 500 ms. A finding (`layer: "L4"`, with the figures) for
//! every endpoint over its target and for any failed request (non-2xx/3xx
//! or an exception). A generator that cannot run — no grant, no httpx, an
//! app that does not import — fails the gate with an error naming it.
//! Returns `{ passed, findings, checked, summary, target_p95_ms,
//! target_source, load }` and writes `reports/perf_check.json`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use taylordash_sdk::{Context, Tool, ToolError, export_tool};

mod load;

pub use load::*;

/// The workspace file that may configure the load test.
pub const CONFIG: &str = "perf_check.json";
pub const LAYER: &str = "L4";
pub const DEFAULT_PYTHON: &str = "python3";
pub const DEFAULT_APP: &str = "app.main:app";
pub const DEFAULT_REQUESTS: u32 = 200;
pub const DEFAULT_CONCURRENCY: u32 = 10;
/// The target when neither the input nor the service model names one.
pub const DEFAULT_P95_MS: u32 = 500;
/// The load generator, sent to the interpreter's stdin.
pub const LOAD_SCRIPT: &str = include_str!("load.py");

/// The load test's settings: the input's fields, or `perf_check.json`'s.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The p95 latency target in ms for every endpoint. Default: each
    /// endpoint's SLO in the service model, else 500.
    #[serde(default)]
    pub p95_ms: Option<u32>,
    /// Timed requests in all (default 200), spread round-robin over the endpoints.
    #[serde(default)]
    pub requests: Option<u32>,
    /// Requests in flight at once (default 10).
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// The interpreter to run (default `python3`; the policy must grant it).
    #[serde(default)]
    pub python: Option<String>,
    /// The ASGI app as `module:attribute` (default `app.main:app`).
    #[serde(default)]
    pub app: Option<String>,
    /// Paths to load instead of the service model's GET list endpoints.
    #[serde(default)]
    pub paths: Option<Vec<String>>,
    /// The backlog (a workspace path or an inline object). Default: the workspace's.
    #[serde(default)]
    pub backlog: Option<Value>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PerfInput {
    #[serde(default)]
    pub p95_ms: Option<u32>,
    #[serde(default)]
    pub requests: Option<u32>,
    #[serde(default)]
    pub concurrency: Option<u32>,
    #[serde(default)]
    pub python: Option<String>,
    #[serde(default)]
    pub app: Option<String>,
    #[serde(default)]
    pub paths: Option<Vec<String>>,
    #[serde(default)]
    pub backlog: Option<Value>,
    /// The gate's name in the pipeline (the orchestrator's gate input).
    #[serde(default)]
    pub gate: Option<String>,
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default)]
    pub attempt: Option<u32>,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub outputs: Option<Map<String, Value>>,
}

/// Latency figures of a set of requests (ms).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Figures {
    pub requests: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    #[serde(default)]
    pub max_ms: f64,
    #[serde(default)]
    pub mean_ms: f64,
}

/// What the load generator printed.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoadResult {
    #[serde(flatten)]
    pub total: Figures,
    #[serde(default)]
    pub concurrency: u32,
    #[serde(default)]
    pub duration_s: f64,
    #[serde(default)]
    pub rps: f64,
    /// Whether the app's lifespan startup ran.
    #[serde(default)]
    pub lifespan: bool,
    #[serde(default)]
    pub endpoints: BTreeMap<String, Figures>,
    #[serde(default)]
    pub error_samples: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PerfFinding {
    /// The app module (`app/main.py`).
    pub file: String,
    /// Always null: a finding about the service, not a line.
    pub line: Option<u32>,
    pub location: String,
    pub message: String,
    /// Always `L4`.
    pub layer: String,
    /// `GET /api/v1/projects`, or null for all of them.
    pub endpoint: Option<String>,
    pub target_p95_ms: u32,
    pub figures: Figures,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Target {
    pub path: String,
    pub p95_ms: u32,
    /// `input`, `perf_check.json`, `slo` (the service model) or `default`.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PerfOutput {
    pub passed: bool,
    pub findings: Vec<PerfFinding>,
    pub checked: Vec<String>,
    pub summary: String,
    /// The strictest endpoint target.
    pub target_p95_ms: u32,
    pub targets: Vec<Target>,
    pub load: LoadResult,
}

pub struct PerfCheck;

impl Tool for PerfCheck {
    const NAME: &'static str = "perf_check";
    const DESCRIPTION: &'static str = "Gate L4 (performance): a short load test of the generated FastAPI service \
         (in-process through httpx's ASGITransport, run by a granted python: `python3 -B -` with the generator on \
         stdin): `requests` GETs (200) with `concurrency` (10) to the service model's list endpoints; fails when an \
         endpoint's p95 exceeds its target (`p95_ms`, else the backlog's latency SLO, else 500 ms) or any request fails.";
    type Input = PerfInput;
    type Output = PerfOutput;

    fn run(input: PerfInput, cx: &Context) -> Result<PerfOutput, ToolError> {
        service_model::log_envelope(Self::NAME, cx.envelope());
        let own = Settings {
            p95_ms: input.p95_ms,
            requests: input.requests,
            concurrency: input.concurrency,
            python: input.python,
            app: input.app,
            paths: input.paths,
            backlog: input.backlog,
        };
        let file = exec_kit::load_config::<Settings>(CONFIG)?;
        load::check(own, file)
    }
}

export_tool!(PerfCheck);

#[cfg(test)]
mod tests;
