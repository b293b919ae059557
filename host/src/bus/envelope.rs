//! The envelope every bus message carries (DESIGN.md, "Bus"), its JSON
//! encoding, and the MQTT v5 properties that go with it.
//!
//! ```json
//! { "msg_id": "…", "run_id": "run-…", "task_id": "build/a/echo#1", "agent_id": "a", "tool": "echo",
//!   "attempt": 1, "seq": 1, "trace_id": "<32 hex>", "span_id": "<16 hex>", "deadline": 1767225600000,
//!   "payload": { … } }
//! ```
//!
//! - `msg_id` is the idempotency key: one per task attempt, kept when the
//!   same attempt is delivered again; a result carries its task's `msg_id`.
//! - `seq` counts deliveries of that attempt (1, 2, … when a task past its
//!   deadline is published again); a result carries the `seq` it answers.
//! - `deadline` is Unix milliseconds; a worker skips a task past it.
//! - `trace_id`/`span_id` are W3C ids; the same pair travels as the
//!   `traceparent` user property (`00-<trace_id>-<span_id>-01`). A result's
//!   `span_id` is the worker's span and `parent_span_id` the task's.
//!
//! Decoding checks the size before parsing and the fields after, and says
//! what was wrong: a bad message is rejected, never a crash.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::dispatch::{Task, TaskError, TaskResult};
use crate::sandbox::{Event, LogLine};

/// The largest MQTT packet we send, accept, or let the embedded broker
/// carry (the v5 CONNECT maximum packet size). Fits a tool's default output
/// quota (4 MiB) and log quota (1 MiB) even with JSON escaping.
pub const MAX_PACKET: u32 = 16 << 20;
/// The largest envelope (JSON bytes) we publish or accept by default:
/// the packet limit less room for the topic and properties.
pub const MAX_MESSAGE: usize = (MAX_PACKET as usize) - (64 << 10);
/// The user property that carries the W3C trace context.
pub const TRACEPARENT: &str = "traceparent";
const MAX_ID: usize = 1024;

/// Why an envelope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("message of {len} bytes exceeds the limit of {max} bytes")]
    Oversized { len: usize, max: usize },
    #[error("malformed envelope: {0}")]
    Malformed(String),
    #[error("invalid envelope: {0}")]
    Invalid(String),
}

/// The common header of every message, around a payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<P> {
    pub msg_id: String,
    pub run_id: String,
    pub task_id: String,
    pub agent_id: String,
    pub tool: String,
    pub attempt: u32,
    pub seq: u64,
    pub trace_id: String,
    pub span_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    /// Unix milliseconds.
    pub deadline: u64,
    pub payload: P,
}

/// What a worker needs of a [`Task`] besides the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskPayload {
    /// The tool's JSON input, as text.
    pub input: String,
    pub timeout_ms: u64,
    pub stage: String,
    /// The run's workspace (read-only `/workspace`); a path on the shared filesystem.
    pub workspace: PathBuf,
    /// The task's staging directory (`/out`); a path on the shared filesystem.
    pub staging: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireLog {
    pub level: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireEvent {
    pub topic: String,
    pub payload: String,
}

/// A task's outcome, as a worker reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ResultPayload {
    Ok { output: String, logs: Vec<WireLog>, events: Vec<WireEvent> },
    Failed { message: String, exit_code: i32, retryable: bool, timed_out: bool },
}

/// What goes to `orchestrator/dlq`: the task and why it is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DlqPayload {
    pub reason: String,
    pub deliveries: u64,
    pub task: TaskPayload,
}

pub type TaskEnvelope = Envelope<TaskPayload>;
pub type ResultEnvelope = Envelope<ResultPayload>;

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) && s.bytes().any(|b| b != b'0')
}

/// `00-<trace_id>-<span_id>-01`, when both ids have the W3C form
/// (32 and 16 lowercase hex digits, not all zero).
pub fn traceparent(trace_id: &str, span_id: &str) -> Option<String> {
    (is_hex(trace_id, 32) && is_hex(span_id, 16)).then(|| format!("00-{trace_id}-{span_id}-01"))
}

/// `(trace_id, parent span_id)` of a `traceparent` value.
pub fn parse_traceparent(value: &str) -> Option<(String, String)> {
    let mut parts = value.split('-');
    let (version, trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || version != "00" || flags.len() != 2 || !is_hex(trace, 32) || !is_hex(span, 16) {
        return None;
    }
    Some((trace.to_string(), span.to_string()))
}

/// A fresh W3C span id.
pub fn new_span_id() -> String {
    super::hex_id(16)
}

impl<P: Serialize + DeserializeOwned> Envelope<P> {
    /// JSON bytes, refused when larger than `max`.
    pub fn encode(&self, max: usize) -> Result<Vec<u8>, EnvelopeError> {
        let bytes = serde_json::to_vec(self).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        if bytes.len() > max {
            return Err(EnvelopeError::Oversized { len: bytes.len(), max });
        }
        Ok(bytes)
    }

    /// Parse and check an envelope received from the network.
    pub fn decode(bytes: &[u8], max: usize) -> Result<Self, EnvelopeError> {
        if bytes.len() > max {
            return Err(EnvelopeError::Oversized { len: bytes.len(), max });
        }
        let env: Self = serde_json::from_slice(bytes).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        env.check()?;
        Ok(env)
    }

    fn check(&self) -> Result<(), EnvelopeError> {
        let invalid = |m: String| Err(EnvelopeError::Invalid(m));
        if self.msg_id.is_empty() || self.msg_id.len() > 128 {
            return invalid(format!("msg_id must be 1 to 128 bytes, not {}", self.msg_id.len()));
        }
        for (name, v) in [
            ("run_id", &self.run_id),
            ("task_id", &self.task_id),
            ("agent_id", &self.agent_id),
            ("tool", &self.tool),
            ("trace_id", &self.trace_id),
            ("span_id", &self.span_id),
        ] {
            if v.len() > MAX_ID {
                return invalid(format!("{name} is longer than {MAX_ID} bytes"));
            }
            if v.chars().any(char::is_control) {
                return invalid(format!("{name} contains control characters"));
            }
        }
        if self.seq == 0 {
            return invalid("seq starts at 1".into());
        }
        Ok(())
    }

    /// The `traceparent` of this message, if its ids have the W3C form.
    pub fn traceparent(&self) -> Option<String> {
        traceparent(&self.trace_id, &self.span_id)
    }

    /// The v5 properties this message is published with: JSON content type,
    /// the `traceparent` user property, and (for requests) the response
    /// topic and correlation data, and an expiry.
    pub fn properties(&self, response_topic: Option<String>, correlation: Option<Bytes>, expiry: Option<Duration>) -> PublishProperties {
        PublishProperties {
            payload_format_indicator: Some(1),
            content_type: Some("application/json".into()),
            response_topic,
            correlation_data: correlation,
            message_expiry_interval: expiry.map(|d| d.as_secs().clamp(1, u32::MAX as u64) as u32),
            user_properties: self.traceparent().map(|t| vec![(TRACEPARENT.to_string(), t)]).unwrap_or_default(),
            ..PublishProperties::default()
        }
    }

    /// The same header around another payload.
    pub fn with_payload<Q>(&self, payload: Q) -> Envelope<Q> {
        Envelope {
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

impl TaskEnvelope {
    /// The envelope of delivery `seq` of `task`, due by `deadline` (Unix ms).
    pub fn for_task(task: &Task, msg_id: &str, seq: u64, deadline: u64) -> Self {
        Envelope {
            msg_id: msg_id.to_string(),
            run_id: task.run_id.clone(),
            task_id: task.task_id.clone(),
            agent_id: task.agent.clone(),
            tool: task.tool.clone(),
            attempt: task.attempt,
            seq,
            trace_id: task.trace_id.clone(),
            span_id: task.span_id.clone(),
            parent_span_id: None,
            deadline,
            payload: TaskPayload {
                input: task.input.clone(),
                timeout_ms: task.timeout.as_millis().min(u64::MAX as u128) as u64,
                stage: task.stage.clone(),
                workspace: task.workspace.clone(),
                staging: task.staging.clone(),
            },
        }
    }

    /// The task a worker runs.
    pub fn to_task(&self) -> Task {
        Task {
            run_id: self.run_id.clone(),
            task_id: self.task_id.clone(),
            stage: self.payload.stage.clone(),
            agent: self.agent_id.clone(),
            tool: self.tool.clone(),
            attempt: self.attempt,
            input: self.payload.input.clone(),
            trace_id: self.trace_id.clone(),
            span_id: self.span_id.clone(),
            timeout: Duration::from_millis(self.payload.timeout_ms),
            workspace: self.payload.workspace.clone(),
            staging: self.payload.staging.clone(),
        }
    }
}

fn static_level(level: &str) -> &'static str {
    match level {
        "trace" => "trace",
        "debug" => "debug",
        "warn" => "warn",
        "error" => "error",
        _ => "info",
    }
}

impl ResultPayload {
    pub fn from_outcome(outcome: &Result<TaskResult, TaskError>) -> Self {
        match outcome {
            Ok(r) => ResultPayload::Ok {
                output: r.output.clone(),
                logs: r.logs.iter().map(|l| WireLog { level: l.level.to_string(), message: l.message.clone() }).collect(),
                events: r.events.iter().map(|e| WireEvent { topic: e.topic.clone(), payload: e.payload.clone() }).collect(),
            },
            Err(e) => ResultPayload::failed(e),
        }
    }

    pub fn failed(e: &TaskError) -> Self {
        ResultPayload::Failed { message: e.message.clone(), exit_code: e.exit_code, retryable: e.retryable, timed_out: e.timed_out }
    }

    /// Back into what [`Dispatch::run`](crate::dispatch::Dispatch::run) returns (without an ack).
    pub fn into_outcome(self) -> Result<TaskResult, TaskError> {
        match self {
            ResultPayload::Ok { output, logs, events } => Ok(TaskResult {
                output,
                logs: logs.into_iter().map(|l| LogLine { level: static_level(&l.level), message: l.message }).collect(),
                events: events.into_iter().map(|e| Event { topic: e.topic, payload: e.payload }).collect(),
                ack: None,
            }),
            ResultPayload::Failed { message, exit_code, retryable, timed_out } => {
                Err(TaskError { message, exit_code, retryable, timed_out })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> Task {
        Task {
            run_id: "run-1".into(),
            task_id: "s/a/echo#1".into(),
            stage: "s".into(),
            agent: "a".into(),
            tool: "echo".into(),
            attempt: 1,
            input: r#"{"x":1}"#.into(),
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            span_id: "b7ad6b7169203331".into(),
            timeout: Duration::from_millis(1500),
            workspace: "/w".into(),
            staging: "/s".into(),
        }
    }

    #[test]
    fn round_trips_and_carries_the_traceparent() {
        let env = TaskEnvelope::for_task(&task(), "m1", 1, 42);
        let bytes = env.encode(MAX_MESSAGE).unwrap();
        let back = TaskEnvelope::decode(&bytes, MAX_MESSAGE).unwrap();
        assert_eq!(back, env);
        assert_eq!(back.to_task().timeout, Duration::from_millis(1500));
        let props = env.properties(Some("r".into()), Some(Bytes::from_static(b"m1")), Some(Duration::from_secs(3)));
        assert_eq!(props.user_properties, vec![(TRACEPARENT.into(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into())]);
        assert_eq!(
            parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            Some(("0af7651916cd43dd8448eb211c80319c".into(), "b7ad6b7169203331".into()))
        );
        assert_eq!(parse_traceparent("00-00000000000000000000000000000000-b7ad6b7169203331-01"), None);
    }

    #[test]
    fn bad_messages_say_why() {
        assert!(matches!(TaskEnvelope::decode(b"not json", 100), Err(EnvelopeError::Malformed(_))));
        assert!(matches!(TaskEnvelope::decode(&[b' '; 101], 100), Err(EnvelopeError::Oversized { len: 101, max: 100 })));
        let mut env = TaskEnvelope::for_task(&task(), "", 1, 0);
        let bytes = serde_json::to_vec(&env).unwrap();
        assert!(matches!(TaskEnvelope::decode(&bytes, MAX_MESSAGE), Err(EnvelopeError::Invalid(_))));
        env.msg_id = "m".into();
        env.seq = 0;
        let bytes = serde_json::to_vec(&env).unwrap();
        assert!(matches!(TaskEnvelope::decode(&bytes, MAX_MESSAGE), Err(EnvelopeError::Invalid(_))));
        assert!(matches!(env.encode(10), Err(EnvelopeError::Oversized { .. })));
    }

    #[test]
    fn results_keep_the_task_error() {
        let e = TaskError { message: "boom".into(), exit_code: 4, retryable: true, timed_out: true };
        let p = ResultPayload::failed(&e);
        let back = serde_json::from_str::<ResultPayload>(&serde_json::to_string(&p).unwrap()).unwrap();
        let err = back.into_outcome().err().unwrap();
        assert_eq!((err.message.as_str(), err.exit_code, err.retryable, err.timed_out), ("boom", 4, true, true));
    }
}
