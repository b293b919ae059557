//! `review/scope.json`: what `review_scope` found the change brings in and
//! `review_comments` comments on.
//!
//! ```json
//! { "files": ["app/main.py"],
//!   "libraries": [ { "name": "httpx", "import": "httpx",
//!                    "occurrences": [ { "file": "app/main.py", "line": 12 } ] } ] }
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Where `review_scope` writes it (relative to `/out` and the workspace).
pub const SCOPE_FILE: &str = "review/scope.json";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeFile {
    /// The changed paths, in diff order.
    #[serde(default)]
    pub files: Vec<String>,
    /// The libraries new to the repository, sorted by name.
    #[serde(default)]
    pub libraries: Vec<ScopeLibrary>,
}

/// A library the change imports and the rest of the repository does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeLibrary {
    /// What to look up: the distribution name (`pyyaml`) where the import
    /// name differs (`yaml`), else the import name (`httpx`, `@scope/pkg`).
    pub name: String,
    /// The name the code imports (`yaml`).
    pub import: String,
    /// Every added line importing it, in diff order.
    pub occurrences: Vec<Occurrence>,
}

/// A line of a changed file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Occurrence {
    pub file: String,
    pub line: usize,
}

impl ScopeFile {
    /// `review/scope.json` of `workspace`: `Ok(None)` when absent, an error
    /// naming the file when it cannot be read or parsed.
    pub fn load(workspace: &Path) -> Result<Option<ScopeFile>, String> {
        let text = match std::fs::read_to_string(workspace.join(SCOPE_FILE)) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{SCOPE_FILE}: cannot read it: {e}")),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| format!("{SCOPE_FILE}: {e}"))
    }

    /// The library names, in file order.
    pub fn names(&self) -> Vec<String> {
        self.libraries.iter().map(|l| l.name.clone()).collect()
    }
}
