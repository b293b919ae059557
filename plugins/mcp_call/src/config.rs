//! `mcp_servers.json`: which MCP server answers at which integration point.
//!
//! The workspace file maps a server name to its `endpoint` and its `calls`,
//! one per integration point (`pre_implementation`, `code_review`, …), each
//! naming the MCP tool to call and its `arguments` (a JSON object, `{}` when
//! absent):
//!
//! ```json
//! {
//!   "context7": {
//!     "endpoint": "http://127.0.0.1:8931/mcp",
//!     "calls": {
//!       "pre_implementation": { "tool": "resolve-library-id", "arguments": { "libraryName": "fastapi" } }
//!     }
//!   }
//! }
//! ```
//!
//! [`parse`] takes the file's text and checks everything a call relies on
//! (unknown keys, server and point names, endpoints, tool names, argument
//! objects), so a mistake anywhere in the file is reported before any call;
//! [`Servers::call`] finds the call for one server and point. Every message
//! starts with `mcp_servers.json: ` and names the server and point it is
//! about.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use mcp_client::{Endpoint, one_line};

/// The workspace file, relative to the workspace.
pub const CONFIG_FILE: &str = "mcp_servers.json";

/// The longest server or integration point name.
pub const MAX_NAME: usize = 64;

/// The longest MCP tool name (the protocol's recommended limit).
pub const MAX_TOOL: usize = 128;

/// The whole file: server name → server.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Servers(pub BTreeMap<String, Server>);

/// One MCP server: where it listens and what to call at each integration point.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// Its streamable HTTP endpoint, e.g. `http://127.0.0.1:8931/mcp`.
    pub endpoint: String,
    /// Integration point → the call made there.
    #[serde(default)]
    pub calls: BTreeMap<String, Call>,
}

/// One call: an MCP tool and its arguments.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Call {
    /// The MCP tool's name, e.g. `resolve-library-id`.
    pub tool: String,
    /// The tool's arguments by name; `{}` when absent.
    #[serde(default, deserialize_with = "object")]
    pub arguments: Map<String, Value>,
}

/// `arguments`: a JSON object, nothing else (a string or list is a mistake
/// worth a clear message, not serde's "expected a map").
fn object<'de, D: Deserializer<'de>>(de: D) -> Result<Map<String, Value>, D::Error> {
    match Value::deserialize(de)? {
        Value::Object(map) => Ok(map),
        other => Err(serde::de::Error::custom(format!(
            "must be a JSON object of the tool's arguments by name, not {}",
            kind(&other)
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Whether `name` may name a server or an integration point: 1 to
/// [`MAX_NAME`] characters of `A-Z a-z 0-9 _ -` (it becomes a path
/// component of `mcp/<server>/<point>.md`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `what` (`server`, `point`, `integration point`) `name`, refused: the
/// message for a name [`valid_name`] rejects.
pub fn bad_name(what: &str, name: &str) -> String {
    format!(
        "{what} `{}` is not 1 to {MAX_NAME} characters of A-Z, a-z, 0-9, _ and -",
        one_line(name, MAX_NAME + 16)
    )
}

/// Whether `tool` may name an MCP tool: 1 to [`MAX_TOOL`] characters of
/// `A-Z a-z 0-9 _ - . /`.
pub fn valid_tool(tool: &str) -> bool {
    !tool.is_empty()
        && tool.len() <= MAX_TOOL
        && tool
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
}

/// Parse and check `mcp_servers.json`'s text.
pub fn parse(text: &str) -> Result<Servers, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let servers: Servers = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            format!("{CONFIG_FILE}: {}", e.into_inner())
        } else {
            format!("{CONFIG_FILE}: {path}: {}", e.into_inner())
        }
    })?;
    de.end().map_err(|e| format!("{CONFIG_FILE}: {e}"))?;
    for (name, server) in &servers.0 {
        if !valid_name(name) {
            return Err(format!("{CONFIG_FILE}: {}", bad_name("server", name)));
        }
        Endpoint::parse(&server.endpoint)
            .map_err(|e| format!("{CONFIG_FILE}: server `{name}`: {e}"))?;
        for (point, call) in &server.calls {
            if !valid_name(point) {
                return Err(format!(
                    "{CONFIG_FILE}: server `{name}`: {}",
                    bad_name("integration point", point)
                ));
            }
            if !valid_tool(&call.tool) {
                return Err(format!(
                    "{CONFIG_FILE}: server `{name}`, point `{point}`: tool `{}` is not 1 to {MAX_TOOL} characters of A-Z, a-z, 0-9, _, -, . and /",
                    one_line(&call.tool, MAX_TOOL + 16)
                ));
            }
        }
    }
    Ok(servers)
}

impl Servers {
    /// The server `server` and its call at `point`; either missing is an
    /// error listing what the file has instead.
    pub fn call(&self, server: &str, point: &str) -> Result<(&Server, &Call), String> {
        let Some(found) = self.0.get(server) else {
            return Err(format!(
                "{CONFIG_FILE}: no server `{server}` (it names: {})",
                listing(self.0.keys())
            ));
        };
        let Some(call) = found.calls.get(point) else {
            return Err(format!(
                "{CONFIG_FILE}: server `{server}` has no call for integration point `{point}` (it has: {})",
                listing(found.calls.keys())
            ));
        };
        Ok((found, call))
    }
}

/// `a, b, c` (sorted, as the maps are), or `none`.
fn listing<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}
