//! `mcp_call`: the call the orchestrator makes at a pipeline's integration
//! point — any MCP server's tool, as the workspace's `mcp_servers.json`
//! names it.
//!
//! An MCP client (`mcp_client`): the input names a `server` and an
//! integration `point` (and optionally the `role` the server plays there,
//! only echoed). `mcp_servers.json` gives the server's `endpoint` and, for
//! the point, the `tool` to call and its `arguments` ([`config`]). Over the
//! granted `wasi:http` the plugin opens one session with the endpoint, calls
//! the tool once and ends the session.
//!
//! The answer's text is written to `mcp/<server>/<point>.md` behind a
//! one-line header naming server, point and tool; structured content, when
//! the server sends it, to `mcp/<server>/<point>.json` (pretty JSON). Both
//! are merged into the workspace for the agents after it.
//!
//! A missing or malformed `mcp_servers.json`, an unknown server or point,
//! or a bad name is invalid input naming the file, server and point. An
//! `isError` result is a failure naming server, endpoint, tool and point;
//! a server error or an unreachable server is a failure naming the server
//! and point (retryable when unreachable or 5xx).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use taylordash_sdk::{Context, Tool, ToolError, export_tool};

mod call;
pub mod config;
pub use call::*;

/// Which server, at which integration point.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallInput {
    /// A server named in `mcp_servers.json`, e.g. `context7` (1 to 64
    /// characters of A-Z, a-z, 0-9, _ and -).
    pub server: String,
    /// The integration point, e.g. `pre_implementation`: which of the
    /// server's `calls` to make (same characters as `server`).
    pub point: String,
    /// The role the server plays here, e.g. `knowledge_provider`; only
    /// echoed in the output.
    #[serde(default)]
    pub role: Option<String>,
}

/// What was called and written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CallOutput {
    pub server: String,
    pub point: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The endpoint as used.
    pub endpoint: String,
    /// The MCP tool called.
    pub tool: String,
    /// Length of the answer's text as written (newline-terminated), header excluded.
    pub bytes: u64,
    /// Files written into the out dir: `mcp/<server>/<point>.md`, then
    /// `mcp/<server>/<point>.json` when the answer had structured content.
    pub files: Vec<String>,
}

pub struct McpCall;

impl Tool for McpCall {
    const NAME: &'static str = "mcp_call";
    const DESCRIPTION: &'static str = "Calls the MCP tool that mcp_servers.json names for a server and integration point \
         (streamable HTTP over granted wasi:http); writes the answer to mcp/<server>/<point>.md.";
    type Input = CallInput;
    type Output = CallOutput;

    fn run(input: CallInput, _cx: &Context) -> Result<CallOutput, ToolError> {
        call(input, &mut mcp_client::sandbox_net())
    }
}

export_tool!(McpCall);

#[cfg(test)]
mod tests;
