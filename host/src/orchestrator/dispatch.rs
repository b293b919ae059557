//! How the orchestrator hands a task to something that runs it. The
//! in-process implementation calls the sandbox on the orchestrator's own
//! threads; the MQTT transport implements the same trait over the bus.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::audit::{AuditLog, Subject, call_events};
use crate::policy::{Caller, Policy, PluginPolicy};
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

    /// The orchestrator gave up on `task` (its retry budget is spent, or
    /// the failure is final): a transport with a dead-letter queue records
    /// it there, to be replayed once the cause is fixed. Default: nothing.
    fn gave_up(&self, _task: &Task, _error: &TaskError) {}
}

/// Runs tasks in this process, through one shared sandbox.
pub struct InProcess {
    sandbox: Arc<Sandbox>,
    plugins_dir: PathBuf,
    loaded: Mutex<HashMap<String, Arc<Plugin>>>,
    policy: Option<Arc<Policy>>,
    /// The caller: their role decides which of a plugin's grants apply.
    caller: Caller,
    audit: Option<AuditLog>,
    /// The worker identity named in every audit event (empty: not a worker).
    worker: String,
}

impl InProcess {
    /// No policy: default quotas, no grants, the local user as admin.
    pub fn new(sandbox: Arc<Sandbox>, plugins_dir: PathBuf) -> Self {
        InProcess {
            sandbox,
            plugins_dir,
            loaded: Mutex::new(HashMap::new()),
            policy: None,
            caller: crate::policy::caller(None, None),
            audit: None,
            worker: String::new(),
        }
    }

    pub fn with_policy(mut self, policy: Option<Arc<Policy>>, caller: Caller) -> Self {
        self.policy = policy;
        self.caller = caller;
        self
    }

    pub fn with_audit(mut self, audit: AuditLog) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Calls run for a worker: its identity goes into their audit events.
    pub fn with_worker(mut self, identity: impl Into<String>) -> Self {
        self.worker = identity.into();
        self
    }

    fn plugin_policy(&self, tool: &str) -> Option<&PluginPolicy> {
        self.policy.as_ref().and_then(|p| p.plugins.get(tool))
    }

    fn plugin(&self, tool: &str) -> Result<Arc<Plugin>, SandboxError> {
        if let Some(p) = self.loaded.lock().ok().and_then(|m| m.get(tool).cloned()) {
            return Ok(p);
        }
        let path = resolve_plugin(tool, &self.plugins_dir)?;
        let policy = self.policy.as_deref();
        let plugin = Arc::new(self.sandbox.load_checked(&path, |name, sha| Ok(crate::policy::admit(policy, &path, name, sha)?))?);
        if let Ok(mut m) = self.loaded.lock() {
            m.insert(tool.to_string(), plugin.clone());
        }
        Ok(plugin)
    }
}

impl Dispatch for InProcess {
    fn run(&self, task: &Task) -> Result<TaskResult, TaskError> {
        let subject = Subject {
            trace_id: task.trace_id.clone(),
            run_id: task.run_id.clone(),
            worker: self.worker.clone(),
            ..self.caller.subject(task.tool.clone())
        };
        let result = self.call(task);
        if let Some(log) = &self.audit {
            log.append(&call_events(&subject, result.as_ref()));
        }
        let out = result?;
        Ok(TaskResult { output: out.output, logs: out.logs, events: out.events, ack: None })
    }
}

impl InProcess {
    fn call(&self, task: &Task) -> Result<crate::sandbox::CallOutcome, SandboxError> {
        let plugin = self.plugin(&task.tool)?;
        // The stage's timeout bounds the call; a policy may only lower it.
        let (quotas, grants) = match (self.policy.as_deref(), self.plugin_policy(&task.tool)) {
            (Some(policy), Some(pp)) => {
                let q = pp.quotas(&Quotas { timeout: task.timeout, ..Quotas::default() }).unwrap_or_default();
                (Quotas { timeout: q.timeout.min(task.timeout), ..q }, pp.grants(policy, &self.caller.role))
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
        self.sandbox.call(&plugin, &call, Some(&task.staging))
    }
}
