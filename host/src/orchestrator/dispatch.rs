//! How the orchestrator hands a task to something that runs it. The
//! in-process implementation calls the sandbox on the orchestrator's own
//! threads; the MQTT transport implements the same trait over the bus.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::policy::{Policy, PluginPolicy};
use crate::sandbox::{Call, CallContext, Event, Grants, LogLine, Plugin, Quotas, Sandbox, SandboxError, resolve_plugin};

/// One tool call of a run.
#[derive(Debug, Clone)]
pub struct Task {
    pub run_id: String,
    pub task_id: String,
    pub stage: String,
    pub agent: String,
    pub tool: String,
    pub attempt: u32,
    /// JSON input for the tool.
    pub input: String,
    pub trace_id: String,
    pub span_id: String,
    /// Wall-clock budget of this attempt.
    pub timeout: Duration,
    /// The run's workspace, mounted read-only.
    pub workspace: PathBuf,
    /// A fresh directory the tool's `/out` is mounted on.
    pub staging: PathBuf,
}

/// Called once the orchestrator has durably journaled a result: a transport
/// acknowledges the result message only then, so a crash in between means
/// redelivery, never loss.
pub type Ack = Box<dyn FnOnce() + Send>;

/// What a finished task returned.
pub struct TaskResult {
    pub output: String,
    pub logs: Vec<LogLine>,
    pub events: Vec<Event>,
    pub ack: Option<Ack>,
}

/// Why a task failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct TaskError {
    pub message: String,
    /// The exit code the failure means (DESIGN.md).
    pub exit_code: i32,
    pub retryable: bool,
    pub timed_out: bool,
}

impl From<SandboxError> for TaskError {
    fn from(e: SandboxError) -> Self {
        let timed_out = matches!(
            &e,
            SandboxError::Quota { breach, .. } if breach.kind == crate::sandbox::QuotaKind::Timeout
        );
        TaskError { message: e.to_string(), exit_code: e.exit_code(), retryable: e.is_retryable(), timed_out }
    }
}

pub trait Dispatch: Send + Sync {
    fn run(&self, task: &Task) -> Result<TaskResult, TaskError>;
}

/// Runs tasks in this process, through one shared sandbox.
pub struct InProcess {
    sandbox: Arc<Sandbox>,
    plugins_dir: PathBuf,
    loaded: Mutex<HashMap<String, Arc<Plugin>>>,
    policy: Option<Arc<Policy>>,
    /// The caller's role: decides which of a plugin's grants apply.
    role: String,
}

impl InProcess {
    pub fn new(sandbox: Arc<Sandbox>, plugins_dir: PathBuf, policy: Option<Arc<Policy>>, role: String) -> Self {
        InProcess { sandbox, plugins_dir, loaded: Mutex::new(HashMap::new()), policy, role }
    }

    fn plugin_policy(&self, tool: &str) -> Option<&PluginPolicy> {
        self.policy.as_ref().and_then(|p| p.plugins.get(tool))
    }

    fn plugin(&self, tool: &str) -> Result<Arc<Plugin>, SandboxError> {
        if let Some(p) = self.loaded.lock().ok().and_then(|m| m.get(tool).cloned()) {
            return Ok(p);
        }
        let digest = self.plugin_policy(tool).and_then(|p| p.digest.as_deref());
        let plugin = Arc::new(self.sandbox.load_pinned(&resolve_plugin(tool, &self.plugins_dir)?, digest)?);
        if let Ok(mut m) = self.loaded.lock() {
            m.insert(tool.to_string(), plugin.clone());
        }
        Ok(plugin)
    }
}

impl Dispatch for InProcess {
    fn run(&self, task: &Task) -> Result<TaskResult, TaskError> {
        let plugin = self.plugin(&task.tool)?;
        // The stage's timeout bounds the call; a policy may only lower it.
        let (quotas, grants) = match (self.policy.as_deref(), self.plugin_policy(&task.tool)) {
            (Some(policy), Some(pp)) => {
                let q = pp.quotas(&Quotas { timeout: task.timeout, ..Quotas::default() }).unwrap_or_default();
                (Quotas { timeout: q.timeout.min(task.timeout), ..q }, pp.grants(policy, &self.role))
            }
            _ => (Quotas { timeout: task.timeout, ..Quotas::default() }, Grants::default()),
        };
        let call = Call {
            input: &task.input,
            context: CallContext {
                run_id: task.run_id.clone(),
                task_id: task.task_id.clone(),
                agent_id: task.agent.clone(),
                trace_id: task.trace_id.clone(),
                span_id: task.span_id.clone(),
                attempt: task.attempt,
            },
            quotas,
            grants,
            workspace: Some(&task.workspace),
        };
        let out = self.sandbox.call(&plugin, &call, Some(&task.staging))?;
        Ok(TaskResult { output: out.output, logs: out.logs, events: out.events, ack: None })
    }
}
