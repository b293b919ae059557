//! `adr_writer`: the session's architecture decisions as numbered MADR
//! records — the `planning` stage's second tool, after `planner`.
//!
//! Reads the backlog (`backlog` input, or `backlog.json`/`.yaml`/`.yml` in
//! the workspace), the last run's `failures` and the `snapshot` (inline or
//! workspace files, as the planner takes them) and, when the planner ran
//! first, its session plan from `previous` (task order and actions). Writes
//! one `docs/adr/NNNN-<title>.md` (MADR 4: front matter `status`,
//! `decision-makers`, `backlog-item`, `supersedes`; context, drivers,
//! considered options, outcome, consequences, confirmation) per backlog item
//! that decides something (a resource, event contracts, event publishing,
//! metrics, documentation), in plan order, plus `0001` "Record architecture
//! decisions" when the workspace has no ADRs yet.
//!
//! Numbers continue after the workspace's highest ADR. An item that already
//! has an ADR (same `backlog-item`) gets no second one, unless the last run
//! failed a check on it: then the new ADR supersedes the old. Dates are left
//! out so the same inputs give the same bytes.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_model::adr::{self, Adr};
use service_model::{Item, ItemKind, ServiceModel, load_model, log_notes, names, paths, source};
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

mod adrs;
pub use adrs::*;

/// The planning stage's inputs.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AdrWriterInput {
    /// The backlog: a workspace-relative `.json`/`.yaml`/`.yml` path or an
    /// inline object. Default: `backlog.json`, `backlog.yaml` or
    /// `backlog.yml` in the workspace root.
    #[serde(default)]
    pub backlog: Option<Value>,
    /// The last run's failures, `{ "failures": [ { "check", "message", "item"? } ] }`: path or inline.
    #[serde(default)]
    pub failures: Option<Value>,
    /// What exists, `{ "files": [...], "services"?: [...] }`: path or inline.
    #[serde(default)]
    pub snapshot: Option<Value>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WrittenAdr {
    pub number: u32,
    pub file: String,
    pub title: String,
    pub status: String,
    /// The backlog item decided (none for 0001).
    pub item: Option<String>,
    /// ADR numbers this one supersedes.
    pub supersedes: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AdrWriterOutput {
    pub adrs: Vec<WrittenAdr>,
    /// Items left alone, and why.
    pub skipped: Vec<String>,
    pub files: Vec<String>,
}

pub struct AdrWriter;

impl Tool for AdrWriter {
    const NAME: &'static str = "adr_writer";
    const DESCRIPTION: &'static str = "Writes numbered MADR decision records docs/adr/NNNN-title.md for the session's \
         backlog items, in plan order, superseding a decision the last run's failures call into question.";
    type Input = AdrWriterInput;
    type Output = AdrWriterOutput;

    fn run(input: AdrWriterInput, cx: &Context) -> Result<AdrWriterOutput, ToolError> {
        service_model::log_envelope(Self::NAME, cx.envelope());
        service_model::log_ignored(Self::NAME, &input.other);
        let model = load_model(input.backlog.as_ref())?;
        log_notes(Self::NAME, &model);
        let failures = match &input.failures {
            Some(src) if !src.is_null() => source::load::<RawFailures>("failures", src)?.0.failures,
            _ => Vec::new(),
        };
        for (i, f) in failures.iter().enumerate() {
            if let Some(item) = &f.item
                && model.item(item).is_none()
            {
                return Err(ToolError::InvalidInput(format!("failures: failures[{i}].item: unknown backlog item `{item}`")));
            }
        }
        let snapshot = match &input.snapshot {
            Some(src) if !src.is_null() => source::load::<RawSnapshot>("snapshot", src)?.0.files.unwrap_or_default(),
            _ => Vec::new(),
        };
        let plan = Plan::from_previous(cx.envelope().previous.as_ref(), &model, &failures);
        let existing = adr::read_all();
        let records = decide(&model, &plan, &failures, &snapshot, &existing);

        let mut out = source::Out::new();
        let mut adrs = Vec::new();
        for r in &records.write {
            out.write(&r.file, &r.text)?;
            taylordash_sdk::log(Level::Info, &format!("{}: {} ({})", r.file, r.meta.title, r.meta.status));
            adrs.push(r.meta.clone());
        }
        for s in &records.skipped {
            taylordash_sdk::log(Level::Info, &format!("skipped {s}"));
        }
        Ok(AdrWriterOutput { adrs, skipped: records.skipped, files: out.files })
    }
}

export_tool!(AdrWriter);

#[cfg(test)]
mod tests;
