//! `review_comments`: the code-review pipeline's final step — the
//! `enhanced_review_comments` artifact, `review/enhanced_review_comments.md`.
//!
//! Comments only on what the change touched (`review/diff.json`, written by
//! `taylordash review --base REV --head REV`), each tied to a changed file
//! and a line, a range of lines, or the file as a whole:
//!
//! 1. **library** — every added line importing a library new to the
//!    repository (`review/scope.json` from `review_scope`; without it, the
//!    `libraries` input located on the added lines), with its Context7 id
//!    (`research/libraries.json`, from `context7_resolve_library`) and its
//!    docs (`docs/libraries/<id>.md`, from `context7_get_docs`);
//! 2. **security** (blocking) — each finding of a security gate (a gate whose
//!    name contains `security`) on an added line, or about a whole file the
//!    change added or modified;
//! 3. **gate** — the same for the other gates' findings (not blocking);
//! 4. **architecture** — each FastAPI route decorator on an added line
//!    whose operation `openapi.yaml` does not declare (path parameter names
//!    ignored, a router's `prefix` applied), or one note per file adding
//!    routes when there is no `openapi.yaml` to check them against;
//! 5. **coverage** — added lines of changed non-test Python files that
//!    coverage.py's JSON report (`reports/coverage.json`) lists as missing,
//!    grouped into ranges, or a whole file the report does not know.
//!
//! Gate findings elsewhere are counted, not listed. The verdict is
//! `changes_requested` when a comment is blocking, else `approve`. Only
//! `review/diff.json` is required; every other file is optional, and one
//! that does not parse is logged and treated as absent (`openapi.yaml`'s
//! error is reported on the files adding routes, the coverage report's in
//! the closing line).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use service_model::source::Out;
use taylordash_sdk::protocol::GateVerdict as GateOutput;
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

use review_kit::Diff;

mod render;
mod review;
pub use render::*;
pub use review::*;

/// Every key is optional.
///
/// The gates' verdicts arrive under the gates' names (`security_check`,
/// `contract_compliance`, …), so every key but `libraries` is read as a
/// gate verdict. No `deny_unknown_fields`: serde does not support it
/// together with `flatten`, and the flattened map takes every other key
/// anyway — a key whose value is no verdict (a typo such as `librarys`)
/// is still refused, by name.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ReviewCommentsInput {
    /// The libraries new to the repository (`review_scope`'s output): used
    /// when `review/scope.json` is absent, located on the added lines.
    #[serde(default)]
    pub libraries: Option<Vec<String>>,
    /// Gate verdicts (`{passed, findings, checked, summary}`) by gate name.
    #[serde(flatten, deserialize_with = "gate_verdicts")]
    pub gates: BTreeMap<String, GateOutput>,
}

fn gate_verdicts<'de, D: Deserializer<'de>>(de: D) -> Result<BTreeMap<String, GateOutput>, D::Error> {
    let raw = BTreeMap::<String, Value>::deserialize(de)?;
    raw.into_iter()
        .map(|(name, value)| match serde_json::from_value::<GateOutput>(value) {
            Ok(verdict) => Ok((name, verdict)),
            Err(e) => Err(serde::de::Error::custom(format!(
                "`{name}` is neither `libraries` nor a gate's verdict ({{\"passed\": …, \"findings\": […]}}): {e}"
            ))),
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No blocking comment.
    Approve,
    /// At least one blocking (security) comment.
    ChangesRequested,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReviewCommentsOutput {
    pub verdict: Verdict,
    /// Comments written.
    pub comments: usize,
    /// Of them, blocking (security findings on the change).
    pub blocking: usize,
    /// Files written into the out dir (`review/enhanced_review_comments.md`).
    pub files: Vec<String>,
}

pub struct ReviewComments;

impl Tool for ReviewComments {
    const NAME: &'static str = "review_comments";
    const DESCRIPTION: &'static str = "Code review, final step: comments on the change's lines (review/diff.json) — new \
         libraries with their Context7 ids and docs, security (blocking) and other gate findings, FastAPI routes \
         outside openapi.yaml, changed lines no test runs (reports/coverage.json); writes \
         review/enhanced_review_comments.md.";
    type Input = ReviewCommentsInput;
    type Output = ReviewCommentsOutput;

    fn run(input: ReviewCommentsInput, _cx: &Context) -> Result<ReviewCommentsOutput, ToolError> {
        let workspace = taylordash_sdk::workspace_dir();
        let diff = Diff::load(&workspace).map_err(|e| ToolError::InvalidInput(e.explained()))?;
        let sources = Sources::load(&workspace);
        for warning in &sources.warnings {
            taylordash_sdk::log(Level::Warn, warning);
        }
        let review = Review::new(&workspace, &diff, &sources, &input);
        let mut out = Out::new();
        out.write(REPORT_FILE, &render(&review))?;
        let (comments, blocking) = (review.comments.len(), review.blocking());
        let verdict = if blocking > 0 { Verdict::ChangesRequested } else { Verdict::Approve };
        for c in review.comments.iter().filter(|c| c.kind.blocking()) {
            taylordash_sdk::log(Level::Info, &format!("{} {}: {}", c.location(), c.kind.name(), c.text));
        }
        taylordash_sdk::log(Level::Info, &format!("{}: {} ({REPORT_FILE})", review.range, headline_text(&review)));
        Ok(ReviewCommentsOutput { verdict, comments, blocking, files: out.files })
    }
}

export_tool!(ReviewComments);

#[cfg(test)]
mod tests;
