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

fn name_of(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

pub fn manage(adrs: &[Adr]) -> (Vec<Record>, Vec<Finding>) {
    let mut problems = Vec::new();
    let mut by_number: BTreeMap<u32, &Adr> = BTreeMap::new();
    for a in adrs {
        for (line, m) in &a.problems {
            problems.push(Finding::new(&a.file, format!("{line}:1"), m.clone()));
        }
        if let Some(first) = by_number.get(&a.number) {
            problems.push(Finding::new(&a.file, "1:1", format!("number {:04} is also {}", a.number, first.file)));
        } else {
            by_number.insert(a.number, a);
        }
    }
    let mut superseded_by: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for a in adrs {
        let line = supersedes_line(a);
        for s in &a.supersedes {
            if *s == a.number {
                problems.push(Finding::new(&a.file, format!("{line}:1"), format!("supersedes itself ({s:04})")));
            } else if !by_number.contains_key(s) {
                problems.push(Finding::new(&a.file, format!("{line}:1"), format!("supersedes {s:04}, which does not exist")));
            } else if a.status != "rejected" {
                superseded_by.entry(*s).or_default().push(a.number);
            }
        }
    }
    // A cycle (0003 supersedes 0004 supersedes 0003) leaves no decision standing.
    for a in adrs {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<u32> = a.supersedes.clone();
        while let Some(n) = stack.pop() {
            if n == a.number && !a.supersedes.contains(&a.number) {
                problems.push(Finding::new(&a.file, format!("{}:1", supersedes_line(a)), "supersedes cycle back to this record".to_string()));
                break;
            }
            if seen.insert(n)
                && let Some(b) = by_number.get(&n)
            {
                stack.extend(b.supersedes.iter().copied());
            }
        }
    }
    let records = adrs
        .iter()
        .map(|a| {
            let by = superseded_by.get(&a.number).cloned().unwrap_or_default();
            let effective = if by.is_empty() {
                if a.status.is_empty() { "unknown".to_string() } else { a.status.clone() }
            } else {
                format!("superseded by {}", by.iter().map(|n| format!("{n:04}")).collect::<Vec<_>>().join(", "))
            };
            Record {
                number: a.number,
                file: a.file.clone(),
                title: a.title.clone(),
                status: a.status.clone(),
                effective_status: effective,
                item: a.item.clone(),
                supersedes: a.supersedes.clone(),
                superseded_by: by,
            }
        })
        .collect();
    problems.sort();
    problems.dedup();
    (records, problems)
}

fn supersedes_line(a: &Adr) -> usize {
    a.supersedes_line
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn index_md(records: &[Record], problems: &[Finding]) -> String {
    let link = |n: u32| {
        records
            .iter()
            .find(|r| r.number == n)
            .map(|r| format!("[{n:04}]({})", name_of(&r.file)))
            .unwrap_or_else(|| format!("{n:04}"))
    };
    let mut md = String::from("# Architecture decision records\n\n");
    if records.is_empty() {
        md.push_str("No decisions recorded yet.\n");
        return md;
    }
    let accepted = records.iter().filter(|r| r.effective_status == "accepted").count();
    let superseded = records.iter().filter(|r| !r.superseded_by.is_empty()).count();
    md.push_str(&format!(
        "{} records: {accepted} accepted, {superseded} superseded. Records are never edited: a changed decision is a new \
         record that supersedes the old one, and this index (written by `adr_manager`) shows the effect.\n\n",
        records.len()
    ));
    md.push_str("| ADR | Decision | Status | Backlog item | Supersedes |\n|---|---|---|---|---|\n");
    for r in records {
        let status = if r.superseded_by.is_empty() {
            cell(&r.effective_status)
        } else {
            format!("superseded by {}", r.superseded_by.iter().map(|n| link(*n)).collect::<Vec<_>>().join(", "))
        };
        md.push_str(&format!(
            "| [{:04}]({}) | {} | {} | {} | {} |\n",
            r.number,
            name_of(&r.file),
            cell(if r.title.is_empty() { "(untitled)" } else { &r.title }),
            status,
            r.item.as_deref().map(|i| format!("`{i}`")).unwrap_or_default(),
            r.supersedes.iter().map(|n| link(*n)).collect::<Vec<_>>().join(", "),
        ));
    }
    if !problems.is_empty() {
        md.push_str("\n## Problems\n\n");
        for p in problems {
            md.push_str(&format!("* `{}` line {}: {}\n", name_of(&p.file), p.location.split(':').next().unwrap_or(""), p.message));
        }
    }
    md
}

#[cfg(test)]
mod tests;
