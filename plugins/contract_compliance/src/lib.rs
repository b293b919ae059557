//! `contract_compliance`: the validation stage's contract gate.
//!
//! Checks the workspace's contracts, every finding with its file and
//! `line:col (JSON pointer)`:
//!
//! 1. `openapi.yaml` against the official OpenAPI 3.1 schema
//!    (`oas-3.1-schema.json`, spec.openapis.org/oas/3.1/schema/2022-10-07,
//!    Apache-2.0), then what that schema cannot say: unique operationIds,
//!    every `{param}` of a path declared `in: path` and required (and no
//!    undeclared ones), a 2xx response per operation, `$ref`s that resolve,
//!    security requirements naming declared schemes, `components.schemas`
//!    that are valid JSON Schemas, and every request/response `example`
//!    valid against its schema;
//! 2. every event schema (`schemas/events/*.schema.json`, `contracts/**/*.schema.json`)
//!    against the JSON Schema meta-schema;
//! 3. every event example (`events/**`, `schemas/events/examples/**`, JSON or
//!    YAML) against the schema(s) admitting its `type`, formats asserted;
//! 4. each event schema and the OpenAPI component of the same name agree.
//!
//! The validator is the toolkit's `json_schema`, shared with `jsonschema_lint`.
//! Returns `{ passed, findings, checked, summary }`.

#[allow(dead_code)]
use json_schema as validator;

use std::collections::BTreeMap;

use serde_json::Value;
use service_model::locate::{self, Locations};
use service_model::{Finding, GateInput, GateOutput, finish_gate, names, paths, source};
use taylordash_sdk::{Context, Tool, ToolError, export_tool};
use validator::{Formats, Store, Validator};

mod checks;
pub use checks::*;

pub struct ContractCompliance;

impl Tool for ContractCompliance {
    const NAME: &'static str = "contract_compliance";
    const DESCRIPTION: &'static str = "Gate: openapi.yaml is valid OpenAPI 3.1 (official schema plus semantic checks, \
         examples included) and every event schema and event example holds; every finding with file and location.";
    type Input = GateInput;
    type Output = GateOutput;

    fn run(_input: GateInput, cx: &Context) -> Result<GateOutput, ToolError> {
        service_model::log_envelope(Self::NAME, cx.envelope());
        let mut c = Checker::new()?;
        let doc = c.openapi();
        let schemas = c.event_schemas();
        c.examples(&schemas);
        if let Some((doc, loc)) = &doc {
            c.consistency(doc, loc, &schemas);
        }
        let what = format!(
            "{} valid, {} event schema(s), {} example(s)",
            paths::OPENAPI,
            schemas.len(),
            c.examples_checked
        );
        finish_gate(Self::NAME, c.findings, c.checked, &what)
    }
}

export_tool!(ContractCompliance);

#[cfg(test)]
mod tests;
