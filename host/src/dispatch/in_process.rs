//! [`InProcess`]: runs a task in this process through one shared sandbox,
//! under the policy's quotas and grants for the caller, auditing each call.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{Dispatch, Task, TaskError, TaskResult};
use crate::audit::{AuditLog, Subject, call_events};
use crate::policy::{Caller, Policy};
use crate::sandbox::{Call, CallContext, Grants, Plugin, Quotas, Sandbox, SandboxError, resolve_plugin};

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
        if let Some(policy) = self.policy.as_deref()
            && !policy.may_call(&task.tool, &self.caller.role)
        {
            let refusal = role_refusal(&task.tool, &self.caller);
            if let Some(log) = &self.audit {
                log.append(&[subject.event("rbac", "deny", refusal.message.clone())]);
            }
            return Err(refusal);
        }
        let result = self.call(task);
        if let Some(log) = &self.audit {
            log.append(&call_events(&subject, result.as_ref()));
        }
        let out = result?;
        Ok(TaskResult { output: out.output, logs: out.logs, events: out.events, ack: None })
    }
}

/// A caller whose role the plugin's `roles` do not list (exit 3).
pub fn role_refusal(tool: &str, caller: &Caller) -> TaskError {
    TaskError {
        message: format!(
            "denied: plugin `{tool}` may not be called by `{}` (role `{}`): its policy entry's `roles` do not list the role",
            caller.principal, caller.role
        ),
        exit_code: taylordash_protocol::ExitCode::Denied.code(),
        retryable: false,
        timed_out: false,
    }
}

impl InProcess {
    fn call(&self, task: &Task) -> Result<crate::sandbox::CallOutcome, SandboxError> {
        let plugin = self.plugin(&task.tool)?;
        // The stage's timeout bounds the call; a policy may only lower it.
        let base = Quotas { timeout: task.timeout, ..Quotas::default() };
        let (q, grants) = crate::policy::call_limits(self.policy.as_deref(), &task.tool, &self.caller.role, base)
            .unwrap_or((base, Grants::default()));
        let quotas = Quotas { timeout: q.timeout.min(task.timeout), ..q };
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
