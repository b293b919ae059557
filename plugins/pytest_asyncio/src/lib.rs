//! `pytest_asyncio`: the test suite of the generated service — the
//! `qa_tests` agent's first tool.
//!
//! Derives the service model from the run's backlog (`backlog` input, or
//! `backlog.json`/`.yaml`/`.yml` in the workspace; see `service_model`) and
//! writes `tests/test_api.py`: pytest-asyncio tests driving the generated
//! FastAPI app in-process through `httpx.ASGITransport`, so
//! `python3 -m pytest` from the workspace root runs them with no server.
//!
//! Per endpoint: `test_<operationId>` (the success path with the OpenAPI
//! examples, the MQTT event it publishes) and its failure paths (401 without
//! the bearer token on mutating endpoints, 422 on an invalid body or id, 404,
//! 409; for event publishing the last run's failure: no `trace_id` → 422).
//! Per contract: the event examples and every event the app publishes
//! validate against `schemas/events/*.schema.json`, the app serves exactly
//! the operations of `openapi.yaml` with bearer security on the mutating
//! ones, every response carries HSTS, `/metrics` exposes every metric.
//! Contract tests needing `jsonschema` or `yaml` skip (visibly) without them.
//!
//! Also writes `tests/requirements.txt`. Returns the test names. Deterministic.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_model::{
    Endpoint, EndpointKind, GenInput, Resource, ServiceModel, paths, py, source::Out,
};
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

mod suite;
pub use suite::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PytestAsyncioOutput {
    /// The test module.
    pub suite: String,
    /// How to run it, from the workspace root.
    pub command: String,
    /// Test names, in file order.
    pub tests: Vec<String>,
    /// `operationId: [tests]`.
    pub by_endpoint: BTreeMap<String, Vec<String>>,
    /// The contract tests.
    pub contracts: Vec<String>,
    pub files: Vec<String>,
    pub model: Value,
}

pub struct PytestAsyncio;

impl Tool for PytestAsyncio {
    const NAME: &'static str = "pytest_asyncio";
    const DESCRIPTION: &'static str = "Generates tests/test_api.py, a pytest-asyncio + httpx suite with one test per \
         endpoint and per contract, run in-process against the generated app.";
    type Input = GenInput;
    type Output = PytestAsyncioOutput;

    fn run(input: GenInput, cx: &Context) -> Result<PytestAsyncioOutput, ToolError> {
        let model = input.model(Self::NAME, cx)?;
        let suite = suite(&model);
        let mut out = Out::new();
        out.write(paths::TESTS, &suite.text)?;
        out.write(paths::TEST_REQUIREMENTS, REQUIREMENTS)?;
        let tests: Vec<String> = suite.tests.iter().map(|(name, _)| name.clone()).collect();
        let mut by_endpoint: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut contracts = Vec::new();
        for (name, op) in &suite.tests {
            match op {
                Some(op) => by_endpoint.entry(op.clone()).or_default().push(name.clone()),
                None => contracts.push(name.clone()),
            }
        }
        taylordash_sdk::log(
            Level::Info,
            &format!(
                "{}: {} tests ({} endpoints, {} contract tests)",
                paths::TESTS,
                tests.len(),
                by_endpoint.len(),
                contracts.len()
            ),
        );
        Ok(PytestAsyncioOutput {
            suite: paths::TESTS.into(),
            command: "python3 -m pytest -q".into(),
            tests,
            by_endpoint,
            contracts,
            files: out.files,
            model: model.summary(),
        })
    }
}

export_tool!(PytestAsyncio);

#[cfg(test)]
mod tests;
