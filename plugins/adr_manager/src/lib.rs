//! `adr_manager`: the index of the architecture decision records — the
//! `documentation` stage's second tool, after `mkdocs_writer` (whose
//! navigation lists the index).
//!
//! Reads every `docs/adr/NNNN-*.md` of the workspace (MADR, as `adr_writer`
//! writes them: front matter `status`, `backlog-item`, `supersedes`) and
//! writes `docs/adr/index.md`: one row per record with its title (linked),
//! its effective status — `superseded by [NNNN](…)` when a later record
//! supersedes it, whatever its file says, since records are never edited —
//! its backlog item and what it supersedes, then the problems found
//! (unknown or self supersedes, a supersedes cycle, duplicate numbers, a
//! missing title or status, an unknown status), each with its file and line.
//! Returns the records and the problems; problems do not fail the tool (the
//! index shows them). Deterministic.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_model::adr::{self, Adr};
use service_model::{Finding, paths, source::Out};
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

mod records;
pub use records::*;

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct AdrManagerInput {
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Record {
    pub number: u32,
    pub file: String,
    pub title: String,
    /// As the file says.
    pub status: String,
    /// What the index shows: `superseded by NNNN` when a later record says so.
    pub effective_status: String,
    pub item: Option<String>,
    pub supersedes: Vec<u32>,
    pub superseded_by: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AdrManagerOutput {
    pub index: String,
    pub records: Vec<Record>,
    pub problems: Vec<Finding>,
    pub files: Vec<String>,
}

pub struct AdrManager;

impl Tool for AdrManager {
    const NAME: &'static str = "adr_manager";
    const DESCRIPTION: &'static str = "Writes docs/adr/index.md: every decision record with its effective status and \
         supersedes links, and the problems found in the records.";
    type Input = AdrManagerInput;
    type Output = AdrManagerOutput;

    fn run(input: AdrManagerInput, cx: &Context) -> Result<AdrManagerOutput, ToolError> {
        service_model::log_envelope(Self::NAME, cx.envelope());
        service_model::log_ignored(Self::NAME, &input.other);
        let adrs = adr::read_all();
        let (records, problems) = manage(&adrs);
        let mut out = Out::new();
        out.write(paths::ADR_INDEX, &index_md(&records, &problems))?;
        for p in &problems {
            taylordash_sdk::log(Level::Warn, &format!("{}:{}: {}", p.file, p.location, p.message));
        }
        let superseded = records.iter().filter(|r| !r.superseded_by.is_empty()).count();
        taylordash_sdk::log(
            Level::Info,
            &format!("{}: {} records, {superseded} superseded, {} problem(s)", paths::ADR_INDEX, records.len(), problems.len()),
        );
        Ok(AdrManagerOutput { index: paths::ADR_INDEX.into(), records, problems, files: out.files })
    }
}

export_tool!(AdrManager);

#[cfg(test)]
mod tests;
