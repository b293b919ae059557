//! One `tools/call` of a plugin: the caller's quotas and grants from the
//! policy (exactly as `invoke` applies them), the sandbox call with
//! `/workspace` read-only and a fresh `/out`, the merge of `/out` into the
//! output directory, the audit events — and the answer as an MCP result.

use std::sync::Arc;
use std::time::Instant;

use rmcp::model::{CallToolResult, ContentBlock as Content};
use serde_json::{Map, Value, json};

use super::Gateway;
use super::registry::Entry;
use crate::audit::call_events;
use crate::policy::Caller;
use crate::sandbox::{Call, CallContext, Quotas, SandboxError, TaskOutcome, ToolFailure};

/// Why a call is a protocol error rather than a tool result.
pub enum CallError {
    /// The arguments are not what the tool takes (JSON-RPC -32602).
    InvalidArguments(String),
}

/// Run `entry` with `arguments` for `caller` on a blocking thread.
pub async fn call_plugin(
    gateway: &Arc<Gateway>,
    entry: Arc<Entry>,
    caller: &Caller,
    arguments: Map<String, Value>,
) -> Result<CallToolResult, CallError> {
    let gw = Arc::clone(gateway);
    let caller = caller.clone();
    let input = Value::Object(arguments).to_string();
    let joined = tokio::task::spawn_blocking(move || run(&gw, &entry, &caller, &input)).await;
    match joined {
        Ok(result) => result,
        Err(e) => Ok(error_result(format!("sandbox: the call's thread ended abnormally: {e}"))),
    }
}

fn run(gw: &Gateway, entry: &Entry, caller: &Caller, input: &str) -> Result<CallToolResult, CallError> {
    let name = entry.plugin.name.as_str();
    let (quotas, grants) = match crate::policy::call_limits(gw.policy.as_deref(), name, &caller.role, Quotas::default()) {
        Ok(limits) => limits,
        Err(e) => return Ok(error_result(format!("policy for `{name}`: {e}"))),
    };
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let call = Call {
        input,
        context: CallContext { trace_id: trace_id.clone(), agent_id: caller.principal.clone(), ..CallContext::default() },
        quotas,
        grants,
        workspace: Some(&gw.options.workspace),
    };
    let started = Instant::now();
    let result = gw.sandbox.run_task(&entry.plugin, &call, &gw.options.out, gw.options.add_only);
    let subject = crate::audit::Subject { trace_id, ..caller.subject(name) };
    let mut events = call_events(&subject, result.as_ref().map(|t| &t.call));
    let routine = events.is_empty() && result.is_ok();
    events.push(subject.event("mcp:call", if result.is_ok() { "ok" } else { "failed" }, summary(&result, started)));
    if routine {
        gw.audit.append_routine(&events);
    } else {
        gw.audit.append(&events);
    }
    match result {
        Ok(task) => Ok(success(entry, task)),
        Err(SandboxError::Tool { failure: ToolFailure::InvalidInput(why), .. }) => {
            Err(CallError::InvalidArguments(format!("invalid arguments for `{name}`: {why}")))
        }
        Err(e) => Ok(error_result(e.to_string())),
    }
}

/// What the audit event of a call says: outcome, fuel, time, files.
fn summary(result: &Result<TaskOutcome, SandboxError>, started: Instant) -> String {
    let ms = started.elapsed().as_millis();
    match result {
        Ok(t) => format!("ok: fuel {}, {ms} ms, {} file(s) written", t.call.fuel_used, t.merged.len()),
        Err(e) => format!("exit {}: {e} ({ms} ms)", e.exit_code()),
    }
}

/// The tool's JSON as structured content (when its schema is an object's)
/// and as text for older clients, then the files written.
fn success(entry: &Entry, task: TaskOutcome) -> CallToolResult {
    let output: Value = serde_json::from_str(&task.call.output).unwrap_or(Value::Null);
    let mut content = vec![Content::text(task.call.output)];
    if !task.merged.is_empty() {
        content.push(Content::text(format!("files written: {}", task.merged.join(", "))));
    }
    let mut result = CallToolResult::success(content);
    if entry.output_schema.is_some() && output.is_object() {
        result.structured_content = Some(output);
    }
    let mut meta = rmcp::model::MetaObject::new();
    meta.insert("taylordash/files".into(), json!(task.merged));
    meta.insert("taylordash/fuel".into(), json!(task.call.fuel_used));
    result.with_meta(Some(meta))
}

/// A failed call: `isError` with the CLI's one-line message.
pub fn error_result(message: String) -> CallToolResult {
    CallToolResult::error(vec![Content::text(message)])
}
