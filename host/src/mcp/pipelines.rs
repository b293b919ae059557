//! Pipelines as tools: every `*.yaml` of `--pipelines DIR` that validates is
//! a tool `pipeline_<file stem>`, whose arguments name the run's inputs.
//! A call runs the pipeline through the orchestrator (journal, gates,
//! retries, resume) in the output directory, reports each finished stage as
//! `notifications/progress` when the client sent a progress token, stops
//! the run when the client cancels (the journal says `cancelled`), and
//! returns the run id, its status and `agents.json`.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use rmcp::model::{CallToolResult, ContentBlock as Content, ProgressNotificationParam, ProgressToken};
use rmcp::service::{Peer, RoleServer};
use serde_json::{Map, Value, json};
use taylordash_protocol::StageStatus;
use tokio_util::sync::CancellationToken;

use super::{Gateway, GatewayError};
use crate::dispatch::InProcess;
use crate::orchestrator::{Orchestrator, RunObserver, RunOptions, RunStatus};
use crate::pipeline::{self, Pipeline};
use crate::policy::{Caller, Policy};

/// Tool names of pipelines start with this.
pub const PREFIX: &str = "pipeline_";

/// One pipeline tool.
pub struct PipelineTool {
    pub name: String,
    pub pipeline: Pipeline,
    pub source: String,
    /// The run's inputs (the entry stages' `inputs`).
    pub inputs: Vec<String>,
}

#[derive(Default)]
pub struct Pipelines(pub Vec<Arc<PipelineTool>>);

impl Pipelines {
    /// Read the pipelines of `dir`; one that does not validate is left out
    /// with a warning (it names the file, line and field).
    pub fn read(dir: &Path, plugins_dir: &Path, policy: Option<&Policy>) -> Result<Self, GatewayError> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| GatewayError::Usage(format!("--pipelines {}: {e}", dir.display())))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml") && p.is_file())
            .collect();
        files.sort();
        let mut cx = pipeline::Context::with_plugins_dir(plugins_dir.to_path_buf());
        if let Some(policy) = policy {
            cx.roles = policy.roles().iter().map(|r| r.to_string()).collect();
        }
        let mut tools = Vec::new();
        for file in files {
            let Ok(source) = std::fs::read_to_string(&file) else { continue };
            match pipeline::parse(&file.display().to_string(), &source, &cx) {
                Ok(pipeline) => {
                    let stem = crate::catalog::plugin_name(&file);
                    let inputs = crate::orchestrator::run::entry_inputs(&pipeline);
                    tools.push(Arc::new(PipelineTool { name: format!("{PREFIX}{stem}"), pipeline, source, inputs }));
                }
                Err(d) => tracing::warn!("pipeline not served as a tool:\n{d}"),
            }
        }
        Ok(Pipelines(tools))
    }

    pub fn get(&self, name: &str) -> Option<Arc<PipelineTool>> {
        self.0.iter().find(|t| t.name == name).cloned()
    }
}

impl PipelineTool {
    pub fn description(&self) -> String {
        format!(
            "Run the pipeline {} ({} stages: {}) in the gateway's output directory, through the orchestrator (journal, gates, retries); returns the run id, its status and agents.json.",
            self.pipeline.file,
            self.pipeline.stages.len(),
            self.pipeline.stages.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
        )
    }

    pub fn input_schema(&self) -> Map<String, Value> {
        let properties: Map<String, Value> = self
            .inputs
            .iter()
            .map(|name| {
                let doc = format!("The run input `{name}`: a file in the workspace, by relative path (default: the file named `{name}.<ext>`).");
                (name.clone(), json!({ "type": "string", "description": doc }))
            })
            .collect();
        let schema = json!({ "type": "object", "properties": properties, "additionalProperties": false });
        schema.as_object().cloned().unwrap_or_default()
    }

    pub fn output_schema() -> Map<String, Value> {
        let schema = json!({
            "type": "object",
            "properties": {
                "run_id": { "type": "string" },
                "status": { "type": "string", "enum": ["completed", "failed", "needs_review", "cancelled"] },
                "error": { "type": ["string", "null"] },
                "agents": { "description": "agents.json: each agent's state after the run" }
            },
            "required": ["run_id", "status"]
        });
        schema.as_object().cloned().unwrap_or_default()
    }

    /// Whether `caller` may run every stage (the pipeline's RBAC).
    pub fn allows(&self, caller: &Caller) -> bool {
        crate::orchestrator::run::check_rbac(&self.pipeline, &caller.principal, &caller.role).is_ok()
    }
}

/// Turns a run's stages into progress notifications and a cancelled
/// request (or the call timeout) into a stopped run.
struct Observer {
    stages: tokio::sync::mpsc::UnboundedSender<(String, StageStatus, usize, usize)>,
    cancel: CancellationToken,
}

impl RunObserver for Observer {
    fn stage_finished(&self, stage: &str, status: StageStatus, finished: usize, total: usize) {
        let _ = self.stages.send((stage.to_string(), status, finished, total));
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// What a call needs besides the gateway and the tool.
pub struct CallRequest {
    pub caller: Caller,
    pub arguments: Map<String, Value>,
    pub progress: Option<(ProgressToken, Peer<RoleServer>)>,
    pub cancel: CancellationToken,
}

/// Run `tool` for the request; the answer is a tool result either way.
pub async fn call_pipeline(gateway: &Arc<Gateway>, tool: Arc<PipelineTool>, request: CallRequest) -> Result<CallToolResult, String> {
    let CallRequest { caller, arguments, progress, cancel } = request;
    let inputs = run_inputs(&tool, &gateway.options.out, &arguments)?;
    let (stages_tx, mut stages_rx) = tokio::sync::mpsc::unbounded_channel();
    let run_cancel = cancel.child_token();
    let timeout = gateway.limits.limits().call_timeout;
    let timer = {
        let run_cancel = run_cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            run_cancel.cancel();
        })
    };
    let forward = tokio::spawn(async move {
        while let Some((stage, status, finished, total)) = stages_rx.recv().await {
            if let Some((token, peer)) = &progress {
                let param = ProgressNotificationParam::new(token.clone(), finished as f64)
                    .with_total(total as f64)
                    .with_message(format!("stage `{stage}` {status}"));
                let _ = peer.notify_progress(param).await;
            }
        }
    });
    let observer = Arc::new(Observer { stages: stages_tx, cancel: run_cancel });
    let gw = Arc::clone(gateway);
    let run_tool = Arc::clone(&tool);
    let outcome = tokio::task::spawn_blocking(move || run(&gw, &run_tool, caller, inputs, observer)).await;
    timer.abort();
    // The observer (and its sender) dropped with the run: the forwarder ends
    // once it has sent every stage.
    let _ = forward.await;
    match outcome {
        Ok(result) => result,
        Err(e) => Err(format!("the run's thread ended abnormally: {e}")),
    }
}

fn run(gw: &Gateway, tool: &PipelineTool, caller: Caller, inputs: Vec<(String, PathBuf)>, observer: Arc<Observer>) -> Result<CallToolResult, String> {
    let workspace = &gw.options.out;
    if let Err(missing) = crate::preflight::check(&tool.pipeline, workspace, gw.policy.as_deref(), &caller.principal, &caller.role) {
        return Err(missing.to_string());
    }
    let dispatch = InProcess::new(Arc::clone(&gw.sandbox), gw.options.plugins_dir.clone())
        .with_policy(gw.policy.clone(), caller.clone())
        .with_audit(gw.audit.clone());
    let opts = RunOptions {
        workspace: workspace.clone(),
        principal: caller.principal.clone(),
        role: caller.role.clone(),
        inputs,
        runs_dir: gw.options.runs_dir.clone(),
        quiet: true,
    };
    let outcome = Orchestrator::new(&dispatch)
        .with_journal(gw.options.journal.clone())
        .with_audit(gw.audit.clone())
        .with_observer(observer)
        .start(&tool.pipeline, &tool.source, &opts)
        .map_err(|e| e.to_string())?;
    let (status, error) = match &outcome.status {
        RunStatus::Completed => ("completed", None),
        RunStatus::Failed(m) => ("failed", Some(m.clone())),
        RunStatus::NeedsReview(m) => ("needs_review", Some(m.clone())),
        RunStatus::Cancelled => ("cancelled", Some("cancelled by the client or the call timeout (`taylordash resume` continues it)".to_string())),
    };
    let agents: Value = std::fs::read_to_string(outcome.run_dir.join("agents.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let body = json!({ "run_id": outcome.run_id, "status": status, "error": error, "agents": agents });
    let mut content = vec![Content::text(body.to_string())];
    if let Some(e) = &error {
        content.insert(0, Content::text(format!("run {} {status}: {e}", outcome.run_id)));
    }
    let mut result = if error.is_some() { CallToolResult::error(content) } else { CallToolResult::success(content) };
    result.structured_content = Some(body);
    Ok(result)
}

/// The arguments as `--input` files: each a relative path inside the
/// workspace (a client names files there, never elsewhere on the host).
fn run_inputs(tool: &PipelineTool, workspace: &Path, arguments: &Map<String, Value>) -> Result<Vec<(String, PathBuf)>, String> {
    let mut inputs = Vec::new();
    for (name, value) in arguments {
        if !tool.inputs.contains(name) {
            return Err(format!("`{}` takes no input `{name}`; its inputs are: {}", tool.name, tool.inputs.join(", ")));
        }
        let Some(rel) = value.as_str() else {
            return Err(format!("input `{name}`: expected a path relative to the workspace, got {value}"));
        };
        let path = Path::new(rel);
        let inside = !rel.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        let resolved = workspace.join(path).canonicalize().ok().filter(|p| inside && p.starts_with(workspace));
        match resolved {
            Some(p) if p.is_file() => inputs.push((name.clone(), p)),
            _ => return Err(format!("input `{name}`: `{rel}` is not a file inside the workspace")),
        }
    }
    Ok(inputs)
}
