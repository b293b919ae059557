//! Running one task: the [`Task`] a run hands over, the [`TaskResult`] or
//! [`TaskError`] it gets back, and the [`Dispatch`] seam between them.
//!
//! [`InProcess`] runs a task through the sandbox on the caller's threads; the
//! bus implements the same trait over MQTT (`bus::MqttDispatch`) and its
//! workers run what they receive through `InProcess`. Neither the
//! orchestrator nor the bus is imported here: both depend on this module.

mod in_process;

pub use in_process::{InProcess, role_refusal};

use std::path::PathBuf;
use std::time::Duration;

use crate::sandbox::{Event, LogLine, SandboxError};
pub use taylordash_protocol::bus::Usage;

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

impl Task {
    /// What the envelope tells the tool about this call.
    pub fn info(&self) -> taylordash_protocol::TaskInfo {
        taylordash_protocol::TaskInfo {
            run_id: self.run_id.clone(),
            task_id: self.task_id.clone(),
            stage: self.stage.clone(),
            agent: self.agent.clone(),
            tool: self.tool.clone(),
            attempt: self.attempt,
            trace_id: self.trace_id.clone(),
            span_id: self.span_id.clone(),
        }
    }
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
    /// What the call cost (zeroes from a worker too old to say).
    pub usage: Usage,
    pub ack: Option<Ack>,
}

/// Why a task failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct TaskError {
    pub message: String,
    /// The exit code the failure means (docs/architecture.md, "Exit codes").
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

    /// What the transport did that a run's journal should tell (a worker
    /// pool that grew or shrank): (event kind, data), each once. Default: nothing.
    fn take_events(&self) -> Vec<(String, serde_json::Value)> {
        Vec::new()
    }

    /// An attempt sent again is answered from the memory of whoever ran it,
    /// not run twice (a bus: the idempotency key is derived from the run,
    /// task and attempt). Resuming a run sends its unfinished attempts again
    /// only then; otherwise it starts new ones. Default: no.
    fn resends_attempts(&self) -> bool {
        false
    }

    /// Run an attempt a previous orchestrator sent and never saw end (with
    /// [`resends_attempts`](Self::resends_attempts)): it may still be running
    /// somewhere. Default: [`run`](Self::run).
    fn run_resent(&self, task: &Task) -> Result<TaskResult, TaskError> {
        self.run(task)
    }
}
