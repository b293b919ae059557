//! `mkdocs_writer`: the service's documentation site — the `documentation`
//! stage's first tool.
//!
//! Reads every artifact the run left in the workspace and writes `mkdocs.yml`
//! and one page per concern under `docs/`:
//!
//! | page | from |
//! |---|---|
//! | `index.md` | the backlog (items, kinds), the artifact inventory |
//! | `plan.md` | `session_plan.md`, `acceptance_criteria.md` (planner) |
//! | `api.md` | `openapi.yaml`: every operation with its auth, parameters, a request and a response example, and the schemas |
//! | `events.md` | `schemas/events/*.schema.json` and their examples, topics from the backlog |
//! | `data.md` | `migrations/*.sql`: tables and columns, and the SQL |
//! | `observability.md` | `app/telemetry.py` metrics, SLOs, `rules.yml`, `dashboard.json` |
//! | `security.md` | `openapi.yaml` security, the app's HSTS and TLS settings |
//! | `testing.md` | `tests/test_api.py` and `reports/bash_runner.json` |
//!
//! The navigation lists the decision records under `docs/adr/` and their
//! index `docs/adr/index.md` (written by `adr_manager`, the next tool). Pages
//! link only to pages, so `mkdocs build --strict` passes. A missing artifact
//! is said so on its page and listed in the output. Deterministic.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_model::adr;
use service_model::{Doc, GenInput, ItemKind, ServiceModel, doc, paths, source};
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

mod site;
pub use site::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MkdocsWriterOutput {
    pub config: String,
    /// `docs/<page>.md`, in navigation order.
    pub pages: Vec<String>,
    /// Decision records in the navigation.
    pub adrs: Vec<String>,
    /// Artifacts the pages are written from.
    pub artifacts: Vec<String>,
    /// Artifacts the run did not produce (their pages say so).
    pub missing: Vec<String>,
    pub files: Vec<String>,
}

pub struct MkdocsWriter;

impl Tool for MkdocsWriter {
    const NAME: &'static str = "mkdocs_writer";
    const DESCRIPTION: &'static str = "Writes mkdocs.yml and docs pages (API with examples, events, data, \
         observability, security, tests, plan) from every artifact of the run; builds with --strict.";
    type Input = GenInput;
    type Output = MkdocsWriterOutput;

    fn run(input: GenInput, cx: &Context) -> Result<MkdocsWriterOutput, ToolError> {
        let model = input.model(Self::NAME, cx)?;
        let site = site(&model);
        let mut out = source::Out::new();
        for (path, text) in &site.files {
            out.write(path, text)?;
        }
        for m in &site.missing {
            taylordash_sdk::log(Level::Warn, &format!("{m}: not in the workspace; its page says so"));
        }
        taylordash_sdk::log(
            Level::Info,
            &format!("{}: {} pages, {} decision records", paths::MKDOCS, site.pages.len(), site.adrs.len()),
        );
        Ok(MkdocsWriterOutput {
            config: paths::MKDOCS.into(),
            pages: site.pages,
            adrs: site.adrs,
            artifacts: site.artifacts,
            missing: site.missing,
            files: out.files,
        })
    }
}

export_tool!(MkdocsWriter);

#[cfg(test)]
mod tests;
