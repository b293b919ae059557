//! `openapi_gen`: the API and event contracts of the service the backlog
//! describes — the `architecture_contracts` agent's first tool.
//!
//! Derives the service model from the run's backlog (`backlog` input, or
//! `backlog.json`/`.yaml`/`.yml` in the workspace; see `service_model`) and
//! writes:
//!
//! - `openapi.yaml`: an OpenAPI 3.1.0 document with one operation per
//!   endpoint (CRUD per resource, event publishing, metrics), request and
//!   response schemas under `components.schemas`, request and response
//!   examples, and a `bearerAuth` security requirement on every mutating
//!   operation;
//! - `schemas/events/<event>.schema.json`: a JSON Schema (2020-12) per event
//!   type published on MQTT, the same schema `components.schemas` embeds;
//! - `schemas/events/examples/<type>.json`: one valid example per event type.
//!
//! Returns the operations, the files and the model summary. The same
//! backlog always gives byte-identical files.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_model::{
    GenInput, Doc, EndpointKind, EventType, Resource, ServiceModel, doc, paths, source::Out,
};
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

mod spec;
pub use spec::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OpenapiGenOutput {
    /// The OpenAPI document's path.
    pub openapi: String,
    /// `METHOD path operationId`, in document order.
    pub operations: Vec<String>,
    /// The event JSON Schema files.
    pub event_schemas: Vec<String>,
    /// The event example files.
    pub event_examples: Vec<String>,
    /// Every file written into the out dir.
    pub files: Vec<String>,
    /// The service model the files came from.
    pub model: Value,
}

pub struct OpenapiGen;

impl Tool for OpenapiGen {
    const NAME: &'static str = "openapi_gen";
    const DESCRIPTION: &'static str = "Generates openapi.yaml (OpenAPI 3.1) and the event JSON Schemas with examples \
         from the run's backlog.";
    type Input = GenInput;
    type Output = OpenapiGenOutput;

    fn run(input: GenInput, cx: &Context) -> Result<OpenapiGenOutput, ToolError> {
        let model = input.model(Self::NAME, cx)?;
        let mut out = Out::new();

        let document = openapi(&model);
        out.write(paths::OPENAPI, &document.to_yaml_text())?;
        let mut event_schemas = Vec::new();
        let mut event_examples = Vec::new();
        for event in &model.events {
            out.write(&event.schema_file(), &event.schema().to_json_text())?;
            event_schemas.push(event.schema_file());
            for (stem, example) in event.examples(&model) {
                let path = format!("{}/{stem}.json", paths::EVENT_EXAMPLES);
                out.write(&path, &model.example_doc(&example).to_json_text())?;
                event_examples.push(path);
            }
        }
        let operations: Vec<String> =
            model.endpoints.iter().map(|e| format!("{} {}", e.label(), e.operation_id)).collect();
        taylordash_sdk::log(
            Level::Info,
            &format!(
                "{}: {} operation(s), {} event schema(s), {} example(s) from {}",
                paths::OPENAPI,
                operations.len(),
                event_schemas.len(),
                event_examples.len(),
                model.source
            ),
        );
        Ok(OpenapiGenOutput {
            openapi: paths::OPENAPI.to_string(),
            operations,
            event_schemas,
            event_examples,
            files: out.files,
            model: model.summary(),
        })
    }
}

export_tool!(OpenapiGen);

#[cfg(test)]
mod tests;
