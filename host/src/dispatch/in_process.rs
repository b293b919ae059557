//! [`InProcess`]: runs a task in this process through one shared sandbox,
//! under the policy's quotas and grants for the caller, auditing each call.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{Dispatch, Task, TaskError, TaskResult, Usage};
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
    /// Counts every call for `/metrics` (a worker's `--metrics`).
    metrics: Option<Arc<crate::observe::metrics::Live>>,
    /// Reports every call as a span (a child of the task's attempt span).
    otlp: Option<Arc<crate::observe::trace::Otlp>>,
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
            metrics: None,
            otlp: None,
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

    /// Count every call in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::observe::metrics::Live>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Export a span for every call.
    pub fn with_tracing(mut self, otlp: Option<Arc<crate::observe::trace::Otlp>>) -> Self {
        self.otlp = otlp;
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
        let started = std::time::Instant::now();
        let started_at = std::time::SystemTime::now();
        let result = self.call(task);
        // The sandbox's time: loading the plugin (compiling it, or reading
        // the cache) and the call; the rest of an attempt is coordination.
        let sandbox_time = started.elapsed();
        let events = call_events(&subject, result.as_ref());
        if let Some(log) = &self.audit {
            log.append(&events);
        }
        let usage = result.as_ref().ok().map(|out| Usage {
            fuel: out.fuel_used,
            memory_peak: out.memory_peak,
            call_ms: sandbox_time.as_millis() as u64,
            bytes_in: task.input.len() as u64,
            bytes_out: out.output.len() as u64,
            ..Usage::default()
        });
        let facts = crate::observe::CallFacts {
            run_id: &task.run_id,
            task_id: &task.task_id,
            stage: &task.stage,
            agent: &task.agent,
            tool: &task.tool,
            attempt: task.attempt,
            trace_id: &task.trace_id,
            span_id: &task.span_id,
        };
        if let Some(metrics) = &self.metrics {
            metrics.record(&facts, sandbox_time.as_secs_f64(), usage.as_ref(), &events);
        }
        if let Some(otlp) = &self.otlp {
            let error = result.as_ref().err().map(|e| e.to_string());
            let span = crate::observe::trace::call_span(&facts, started_at, std::time::SystemTime::now(), usage.as_ref(), &events, error.as_deref());
            otlp.send(span.into_iter().collect());
        }
        let out = result?;
        let usage = usage.unwrap_or_default();
        Ok(TaskResult { output: out.output, logs: out.logs, events: out.events, usage, ack: None })
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
