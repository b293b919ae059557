//! `context7_get_docs`: the `context7_mcp` agent's second tool — the
//! documentation of the run's libraries, fetched from Context7 into
//! `docs/libraries/`.
//!
//! An MCP client (`mcp_client`): over the granted `wasi:http` it opens a
//! session with the MCP server at `endpoint` (the input's, else
//! `context7.json`'s in the workspace) and calls its `get-library-docs` tool
//! (`context7CompatibleLibraryID`, `topic`, `tokens`) once per library id.
//! The ids come from the input (`library_id` or `library_ids`), else from
//! the previous tool's output in the same agent (`context7_resolve_library`'s
//! `libraries[].id`, handed over in the envelope's `previous`), else from
//! `research/libraries.json` in the workspace. `topic` and `tokens` default
//! to `context7.json`'s (tokens: 5000).
//!
//! Each library's text is written to `docs/libraries/<id>.md` (the id's
//! slashes as `_`, trimmed: `/tiangolo/fastapi` →
//! `docs/libraries/tiangolo_fastapi.md`), merged into the workspace for the
//! agents after it. A server error, an `isError` result or an unreachable
//! server is a failure naming the endpoint (retryable when unreachable or
//! 5xx); an empty answer is a failure too.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use taylordash_sdk::{Context, Tool, ToolError, export_tool};

mod get_docs;
pub use get_docs::*;

/// Which libraries, on what, how much, and where.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocsInput {
    /// One Context7-compatible library id, e.g. `/tiangolo/fastapi`.
    #[serde(default)]
    pub library_id: Option<String>,
    /// Several ids (with or instead of `library_id`). Absent both: the
    /// previous tool's `libraries[].id`, else `research/libraries.json`.
    #[serde(default)]
    pub library_ids: Option<Vec<String>>,
    /// Focus the docs on a topic, e.g. `routing`; absent: `context7.json`'s.
    #[serde(default)]
    pub topic: Option<String>,
    /// Token budget per library (1 to 100000); absent: `context7.json`'s, else 5000.
    #[serde(default)]
    pub tokens: Option<u32>,
    /// The MCP endpoint, e.g. `http://127.0.0.1:8080/mcp`; absent: from
    /// `context7.json` in the workspace. The plugin must be granted its
    /// `host:port`.
    #[serde(default)]
    pub endpoint: Option<String>,
}

/// What was fetched and written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DocsOutput {
    /// The endpoint as used.
    pub endpoint: String,
    /// Where the ids came from: `input`, `previous` or `research/libraries.json`.
    pub ids_from: String,
    /// One entry per library, in order.
    pub documents: Vec<Document>,
    /// Files written into the out dir.
    pub files: Vec<String>,
}

/// One library's docs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Document {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    pub tokens: u32,
    /// `docs/libraries/<id>.md`.
    pub file: String,
    pub bytes: u64,
}

pub struct Context7GetDocs;

impl Tool for Context7GetDocs {
    const NAME: &'static str = "context7_get_docs";
    const DESCRIPTION: &'static str = "Fetches library documentation through an MCP server's get-library-docs tool \
         (streamable HTTP over granted wasi:http) into docs/libraries/<id>.md.";
    type Input = DocsInput;
    type Output = DocsOutput;

    fn run(input: DocsInput, cx: &Context) -> Result<DocsOutput, ToolError> {
        get_docs(input, cx, &mut mcp_client::sandbox_net())
    }
}

export_tool!(Context7GetDocs);

#[cfg(test)]
mod tests;
