//! The payloads of bus messages and the header around them.
//!
//! ```json
//! { "msg_id": "…", "run_id": "run-…", "task_id": "build/a/echo#1", "agent_id": "a", "tool": "echo",
//!   "attempt": 1, "seq": 1, "trace_id": "<32 hex>", "span_id": "<16 hex>", "deadline": 1767225600000,
//!   "payload": { … } }
//! ```
//!
//! The host's `bus` module encodes, checks, signs and publishes these; only
//! the shapes live here.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The common header of every bus message, around a payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message<P> {
    /// The idempotency key: one per task attempt, kept on redelivery; a
    /// result carries its task's `msg_id`.
    pub msg_id: String,
    pub run_id: String,
    pub task_id: String,
    pub agent_id: String,
    pub tool: String,
    pub attempt: u32,
    /// Deliveries of this attempt, from 1; a result carries the `seq` it answers.
    pub seq: u64,
    pub trace_id: String,
    /// The task's span; a result's is the worker's span.
    pub span_id: String,
    /// A result's parent span: the task's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    /// Unix milliseconds; a worker skips a task past it.
    pub deadline: u64,
    pub payload: P,
}

impl<P> Message<P> {
    /// The same header around another payload.
    pub fn with_payload<Q>(&self, payload: Q) -> Message<Q> {
        Message {
            msg_id: self.msg_id.clone(),
            run_id: self.run_id.clone(),
            task_id: self.task_id.clone(),
            agent_id: self.agent_id.clone(),
            tool: self.tool.clone(),
            attempt: self.attempt,
            seq: self.seq,
            trace_id: self.trace_id.clone(),
            span_id: self.span_id.clone(),
            parent_span_id: self.parent_span_id.clone(),
            deadline: self.deadline,
            payload,
        }
    }
}

/// What a worker needs of a task besides the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskPayload {
    /// The tool's JSON input, as text (its own fields and the [`Envelope`](crate::Envelope)).
    pub input: String,
    pub timeout_ms: u64,
    pub stage: String,
    /// The run's workspace (read-only `/workspace`); a path on the shared filesystem.
    pub workspace: PathBuf,
    /// The task's staging directory (`/out`); a path on the shared filesystem.
    pub staging: PathBuf,
    /// The workspace by content, for a worker that does not share the
    /// orchestrator's filesystem: it fetches the blobs from `blobs_from`.
    /// Absent when the orchestrator ships no files (one machine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Manifest>,
    /// The bus node that serves the blobs of `files` (`blobs/get/<node>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blobs_from: Option<String>,
}

/// A directory's regular files by content: relative path (with `/`) →
/// digest, size and mode. What a worker without the shared filesystem
/// materialises as `/workspace`, and what it sends back of `/out`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub files: BTreeMap<String, ManifestEntry>,
}

/// One file of a [`Manifest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Hex sha256 of the content.
    pub sha256: String,
    pub size: u64,
    /// Unix permission bits; only executable (`0o755`) or not (`0o644`) is kept.
    pub mode: u32,
}

impl Manifest {
    pub fn total_bytes(&self) -> u64 {
        self.files.values().map(|e| e.size).sum()
    }
}

/// A log line a tool wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireLog {
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: String,
    pub message: String,
}

/// An event a tool emitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireEvent {
    pub topic: String,
    pub payload: String,
}

/// What a successful call cost, as the sandbox measured it: the journal
/// keeps it per attempt, `stats`, `/metrics` and traces report it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// Fuel (wasm instructions, roughly) the call consumed.
    pub fuel: u64,
    /// Peak linear memory of the component, bytes.
    pub memory_peak: u64,
    /// Time in the sandbox (loading the plugin, then the call), milliseconds;
    /// the rest of an attempt is coordination.
    pub call_ms: u64,
    /// Bytes of the tool's input and of its JSON output.
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// For a worker without the shared filesystem: workspace blobs found in
    /// its cache, workspace blobs it fetched, `/out` blobs the orchestrator
    /// fetched back, and the bytes fetched both ways.
    pub blobs_cached: u64,
    pub blobs_fetched: u64,
    pub blobs_out: u64,
    pub bytes_moved: u64,
}

/// A task's outcome, as a worker reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ResultPayload {
    Ok {
        output: String,
        logs: Vec<WireLog>,
        events: Vec<WireEvent>,
        /// Absent from older workers: zeroes.
        #[serde(default)]
        usage: Usage,
        /// The tool's `/out` by content, when the worker's staging directory
        /// is not the orchestrator's: the orchestrator fetches the blobs
        /// from `blobs_from` and verifies them before its merge.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        out: Option<Manifest>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        blobs_from: Option<String>,
    },
    /// `exit_code` is an [`ExitCode`](crate::ExitCode) number.
    Failed { message: String, exit_code: i32, retryable: bool, timed_out: bool },
    /// Not an outcome: `worker` took the task and runs it. Sent when it
    /// starts and again whenever the worker's connection comes back, so an
    /// orchestrator whose own connection dropped re-sends only the tasks no
    /// worker holds (a held task re-sent could run twice).
    Claimed { worker: String },
}

impl ResultPayload {
    /// Whether this result reports success.
    pub fn is_ok(&self) -> bool {
        matches!(self, ResultPayload::Ok { .. })
    }
}

/// What goes to the dead-letter topic: the task and why it is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DlqPayload {
    pub reason: String,
    pub deliveries: u64,
    pub task: TaskPayload,
}

/// A gate's outcome as published on the gates' status topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateStatus {
    pub stage: String,
    pub gate: String,
    pub task_id: String,
    pub passed: bool,
    /// The gate's whole answer.
    pub report: Value,
}

pub type TaskMessage = Message<TaskPayload>;
pub type ResultMessage = Message<ResultPayload>;
