//! Calling: the input's names checked, the call looked up in
//! `mcp_servers.json`, one MCP session, one `tools/call`, the answer written
//! to `/out/mcp/<server>/<point>.md` (and `.json` for structured content).

use serde_json::Value;
use taylordash_sdk::{Level, ToolError};

use mcp_client::{Endpoint, McpError, Net, Session, ToolResult};

use crate::config::{self, CONFIG_FILE, Servers};
use crate::{CallInput, CallOutput};

/// `mcp_servers.json` in the workspace, parsed and checked.
pub fn load() -> Result<Servers, ToolError> {
    let path = taylordash_sdk::workspace_dir().join(CONFIG_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ToolError::InvalidInput(format!(
                "{CONFIG_FILE}: not in the workspace; it names each MCP server's endpoint and the call to make at each integration point"
            )));
        }
        Err(e) => {
            return Err(ToolError::InvalidInput(format!(
                "{CONFIG_FILE}: cannot read it: {e}"
            )));
        }
    };
    config::parse(&text).map_err(ToolError::InvalidInput)
}

/// Make the call `mcp_servers.json` names for the input's server and point
/// through `net`; write its answer into the out dir.
pub fn call(input: CallInput, net: &mut dyn Net) -> Result<CallOutput, ToolError> {
    let CallInput {
        server,
        point,
        role,
    } = input;
    if !config::valid_name(&server) {
        return Err(ToolError::InvalidInput(config::bad_name("server", &server)));
    }
    if !config::valid_name(&point) {
        return Err(ToolError::InvalidInput(config::bad_name("point", &point)));
    }
    let servers = load()?;
    let (entry, call) = servers
        .call(&server, &point)
        .map_err(ToolError::InvalidInput)?;
    let endpoint = Endpoint::parse(&entry.endpoint)
        .map_err(|e| ToolError::InvalidInput(format!("{CONFIG_FILE}: server `{server}`: {e}")))?;
    let shown = endpoint.to_string();
    let tool = call.tool.clone();

    let answered = answer(
        net,
        endpoint,
        &tool,
        Value::Object(call.arguments.clone()),
    )
    .map_err(|e| match e {
        McpError::Tool { message, .. } => ToolError::Failed(format!(
            "MCP server `{server}` ({shown}): tool `{tool}` answered an error at `{point}`: {message}"
        )),
        other => at(&server, &point, other.into()),
    })?;

    let mut text = answered.text();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let dir = format!("mcp/{server}/{point}");
    let md = format!("{dir}.md");
    write_out(
        &md,
        &format!("<!-- mcp_call: server {server}, point {point}, tool {tool} -->\n{text}"),
    )?;
    let mut files = vec![md.clone()];
    if let Some(structured) = answered.structured.as_ref().filter(|v| !v.is_null()) {
        let json = format!("{dir}.json");
        let mut pretty = serde_json::to_string_pretty(structured).map_err(ToolError::failed)?;
        pretty.push('\n');
        write_out(&json, &pretty)?;
        files.push(json);
    }
    taylordash_sdk::log(
        Level::Info,
        &format!("{server} at {point}: {tool} → {md} ({} bytes)", text.len()),
    );
    Ok(CallOutput {
        server,
        point,
        role,
        endpoint: shown,
        tool,
        bytes: text.len() as u64,
        files,
    })
}

/// One session: open, call `tool`, close (also after a failed call).
fn answer(
    net: &mut dyn Net,
    endpoint: Endpoint,
    tool: &str,
    arguments: Value,
) -> Result<ToolResult, McpError> {
    let mut session = Session::open(
        net,
        endpoint,
        ("taylordash-mcp_call", env!("CARGO_PKG_VERSION")),
    )?;
    let result = session.call_tool(tool, arguments);
    session.close();
    result
}

/// `e` with the server and point in front, of the same kind (retryable
/// stays retryable).
fn at(server: &str, point: &str, e: ToolError) -> ToolError {
    let named = |m: String| format!("server `{server}` at `{point}`: {m}");
    match e {
        ToolError::InvalidInput(m) => ToolError::InvalidInput(named(m)),
        ToolError::Failed(m) => ToolError::Failed(named(m)),
        ToolError::Retryable(m) => ToolError::Retryable(named(m)),
    }
}

fn write_out(rel: &str, text: &str) -> Result<(), ToolError> {
    let path = taylordash_sdk::out_dir().join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| ToolError::Failed(format!("{rel}: {e}")))?;
    }
    std::fs::write(&path, text).map_err(|e| ToolError::Failed(format!("{rel}: {e}")))
}
