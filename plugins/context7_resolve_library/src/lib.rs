//! `context7_resolve_library`: the `context7_mcp` agent's first tool — which
//! Context7 library ids the run's libraries are.
//!
//! An MCP client (`mcp_client`): over the granted `wasi:http` it opens a
//! session with the MCP server at `endpoint` (the input's, else
//! `context7.json`'s in the workspace) and calls its `resolve-library-id`
//! tool (`libraryName`) once per library. The libraries come from the input
//! (`library` or `libraries`), else from `context7.json`'s `libraries`.
//!
//! Output: per library its best match's id and title (and the other
//! matches' ids), the names that matched nothing; the same list is written
//! to `research/libraries.json`, which `context7_get_docs` reads when it
//! does not run right after this tool. Fails when no library resolves; a
//! server error, an `isError` result or an unreachable server is a failure
//! naming the endpoint (retryable when unreachable or 5xx).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use taylordash_sdk::{Context, Tool, ToolError, export_tool};

use mcp_client::context7::ResolvedLibrary;

mod resolve;
pub use resolve::*;

/// What to resolve, and where.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveInput {
    /// One library name, e.g. `fastapi`.
    #[serde(default)]
    pub library: Option<String>,
    /// Several library names (with or instead of `library`).
    #[serde(default)]
    pub libraries: Option<Vec<String>>,
    /// The MCP endpoint, e.g. `http://127.0.0.1:8080/mcp`; absent: from
    /// `context7.json` in the workspace. The plugin must be granted its
    /// `host:port`.
    #[serde(default)]
    pub endpoint: Option<String>,
}

/// What resolved to what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResolveOutput {
    /// The endpoint as used.
    pub endpoint: String,
    /// One entry per resolved name, in the order asked.
    pub libraries: Vec<ResolvedLibrary>,
    /// Names the server found no library for.
    pub unresolved: Vec<String>,
    /// Files written into the out dir (`research/libraries.json`).
    pub files: Vec<String>,
}

pub struct Context7ResolveLibrary;

impl Tool for Context7ResolveLibrary {
    const NAME: &'static str = "context7_resolve_library";
    const DESCRIPTION: &'static str = "Resolves library names to Context7 library ids through an MCP server's \
         resolve-library-id tool (streamable HTTP over granted wasi:http); writes research/libraries.json.";
    type Input = ResolveInput;
    type Output = ResolveOutput;

    fn run(input: ResolveInput, _cx: &Context) -> Result<ResolveOutput, ToolError> {
        resolve(input, &mut mcp_client::sandbox_net())
    }
}

export_tool!(Context7ResolveLibrary);

#[cfg(test)]
mod tests;
