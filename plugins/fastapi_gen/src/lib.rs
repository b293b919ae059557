//! `fastapi_gen`: the FastAPI application of the service the backlog
//! describes — the `backend_dev` agent's first tool.
//!
//! Derives the service model from the run's backlog (`backlog` input, or
//! `backlog.json`/`.yaml`/`.yml` in the workspace; see `service_model`), the
//! same model `openapi_gen` turns into `openapi.yaml`, and writes the
//! package `app/`:
//!
//! - `models.py`: pydantic models mirroring `components.schemas` and the
//!   event JSON Schemas (same names, fields, patterns, lengths);
//! - `routers/<tag>.py`: one `APIRouter` per resource (list, create, get,
//!   update, delete), per event-publishing item and for `/metrics`, with
//!   async handlers; CRUD changes publish `<resource>.created/updated/deleted`;
//! - `repository.py`: the async in-memory repository (PostgreSQL's is
//!   `tsdb_adapter`'s `repository_pg.py`, selected by `DATABASE_URL`);
//! - `security.py`: every mutating endpoint depends on a bearer token
//!   (`<SERVICE>_API_TOKEN`, compared in constant time; none set = refused);
//!   with `<SERVICE>_OIDC_ISSUER` set instead an RS256 JWT of that issuer
//!   (PyJWT: signature against `<SERVICE>_OIDC_PUBLIC_KEY`[`_FILE`], `iss`,
//!   `aud` = `<SERVICE>_OIDC_AUDIENCE`, `exp`) whose `realm_access.roles`
//!   decide: `admin`/`maintainer` change data, `viewer` reads, and reads of
//!   the API need one of the three (`keycloak_admin` exports such a realm);
//! - `middleware.py`: HSTS (`Strict-Transport-Security`, two years,
//!   subdomains) and `nosniff` on every response;
//! - `settings.py`, `context.py` (W3C trace ids) and `main.py`
//!   (`create_app()` and `app`);
//! - `requirements.txt` (workspace root): what the app needs at run time,
//!   `pyjwt[crypto]` among it.
//!
//! The package imports `app/events.py` (`mqtt_client`) and `app/telemetry.py`
//! (`otel_instrument`), written by the tools after it in the same run.
//! Returns the modules and operations written, and the library research the
//! workspace holds (`docs/libraries/*.md`, fetched by `context7_get_docs`).
//! Deterministic.

mod templates;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_model::model::{EVENT_TYPE_PATTERN, SLUG_PATTERN, TRACE_ID_PATTERN};
use service_model::{
    GenInput, EndpointKind, EventType, Field, FieldType, Resource, ServiceModel, py,
    source::Out,
};
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

mod app;
pub use app::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FastapiGenOutput {
    /// The Python package written (`app`).
    pub package: String,
    /// `module: what it serves`, one per router module.
    pub routers: Vec<String>,
    /// `METHOD path operationId` of every route.
    pub operations: Vec<String>,
    /// Modules the package imports that other tools write.
    pub requires: Vec<String>,
    /// The environment variable holding the API token.
    pub token_env: String,
    /// Every file written into the out dir.
    pub files: Vec<String>,
    pub model: Value,
    /// The library research the workspace holds for the implementer:
    /// `docs/libraries/*.md` (what `context7_get_docs` fetched earlier in the
    /// run, e.g. in the `context7_mcp + backend_dev` combination), sorted;
    /// absent when there is none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub research: Vec<String>,
}

pub struct FastapiGen;

impl Tool for FastapiGen {
    const NAME: &'static str = "fastapi_gen";
    const DESCRIPTION: &'static str = "Generates the FastAPI app package app/ (routers, pydantic models, async \
         handlers, in-memory repository, bearer auth on mutating endpoints, HSTS) from the run's backlog.";
    type Input = GenInput;
    type Output = FastapiGenOutput;

    fn run(input: GenInput, cx: &Context) -> Result<FastapiGenOutput, ToolError> {
        let model = input.model(Self::NAME, cx)?;
        let app = generate(&model);
        let mut out = Out::new();
        for (path, text) in &app.files {
            out.write(path, text)?;
        }
        for r in &app.routers {
            taylordash_sdk::log(Level::Info, &format!("router {r}"));
        }
        let research = research_notes(&taylordash_sdk::workspace_dir());
        for doc in &research {
            taylordash_sdk::log(Level::Info, &format!("library research: {doc}"));
        }
        Ok(FastapiGenOutput {
            package: "app".into(),
            routers: app.routers,
            operations: model.endpoints.iter().map(|e| format!("{} {}", e.label(), e.operation_id)).collect(),
            requires: vec![
                "app/events.py (mqtt_client)".into(),
                "app/telemetry.py (otel_instrument)".into(),
            ],
            token_env: format!("{}_API_TOKEN", env_prefix(&model)),
            files: out.files,
            model: model.summary(),
            research,
        })
    }
}

export_tool!(FastapiGen);

#[cfg(test)]
mod tests;
