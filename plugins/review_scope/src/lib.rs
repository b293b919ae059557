//! `review_scope`: the code-review pipeline's first step — which libraries
//! the change brings into the repository, so that the `context7` stage
//! researches exactly those ("context7 analyzes unfamiliar libraries").
//!
//! Reads `review/diff.json` (written by `taylordash review --base REV --head
//! REV` beside the exported head tree; see `review_kit::diff`) and, on every
//! added line of a Python or JavaScript/TypeScript file, the packages it
//! imports (`review_kit::imports`). A package is *unfamiliar* when it is
//!
//! - not Python's standard library (for `.py` files),
//! - not local: no `<name>/` directory, nor `<name>.py` (Python) or
//!   `<name>.js`/`.ts`/… (JavaScript) file, at the workspace root or under
//!   `src/`,
//! - and imported on no line of the workspace's files of the same language
//!   that the change did not add (hidden directories, `__pycache__`,
//!   `node_modules`, virtualenvs and `review/` are not walked).
//!
//! Its name is the distribution name where the import name differs
//! (`yaml` → `pyyaml`, `review_kit::python::DISTRIBUTIONS`), else the import
//! name. Writes `review/scope.json` (`review_kit::scope`): the changed files
//! and, per library sorted by name, the added lines importing it in diff
//! order. Returns the changed files and the library names; the pipeline
//! runs its context7 stage only when `libraries` is not empty (`if:`), and
//! hands it on as `context7_resolve_library`'s `libraries` input.
//!
//! A missing or malformed `review/diff.json` is invalid input.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use service_model::source::Out;
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

use review_kit::{Diff, SCOPE_FILE};
pub use review_kit::{Occurrence, ScopeFile};

mod scope;
pub use scope::*;

/// Nothing to set: the change is `review/diff.json` in the workspace.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewScopeInput {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReviewScopeOutput {
    /// The changed paths, in diff order (as in `review/scope.json`).
    pub files: Vec<String>,
    /// The libraries new to the repository, sorted: what context7 should
    /// look up; empty when there are none, or no `context7.json` says where
    /// Context7 is (review/scope.json lists them all the same).
    #[serde(default)]
    pub libraries: Vec<String>,
}

/// The workspace file naming the Context7 server (the context7 tools' configuration).
pub const CONTEXT7_CONFIG: &str = "context7.json";

pub struct ReviewScope;

impl Tool for ReviewScope {
    const NAME: &'static str = "review_scope";
    const DESCRIPTION: &'static str = "Code review, first step: the libraries the change (review/diff.json) imports \
         that are neither Python's standard library, nor local, nor imported elsewhere in the repository; writes \
         review/scope.json and returns their names for context7.";
    type Input = ReviewScopeInput;
    type Output = ReviewScopeOutput;

    fn run(_input: ReviewScopeInput, _cx: &Context) -> Result<ReviewScopeOutput, ToolError> {
        let workspace = taylordash_sdk::workspace_dir();
        let diff = Diff::load(&workspace).map_err(|e| ToolError::InvalidInput(e.explained()))?;
        let scope = scope_of(&workspace, &diff);
        let json = serde_json::to_string_pretty(&scope).map_err(ToolError::failed)?;
        Out::new().write(SCOPE_FILE, &(json + "\n"))?;
        let found = scope.names();
        // Without a Context7 server there is nobody to ask: the libraries
        // stay in review/scope.json (and the review says "not looked up").
        let libraries = if workspace.join(CONTEXT7_CONFIG).exists() {
            found.clone()
        } else {
            if !found.is_empty() {
                taylordash_sdk::log(
                    Level::Warn,
                    &format!("no {CONTEXT7_CONFIG} in the workspace: {} not looked up", found.join(", ")),
                );
            }
            Vec::new()
        };
        let libraries_found = found;
        taylordash_sdk::log(
            Level::Info,
            &format!(
                "{}: {} changed file(s); {}",
                diff.range(),
                scope.files.len(),
                if libraries_found.is_empty() {
                    "no library new to the repository".to_string()
                } else {
                    format!("{} library(ies) new to the repository: {}", libraries_found.len(), libraries_found.join(", "))
                }
            ),
        );
        Ok(ReviewScopeOutput { files: scope.files, libraries })
    }
}

export_tool!(ReviewScope);

#[cfg(test)]
mod tests;
