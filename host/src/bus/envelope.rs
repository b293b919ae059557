//! The envelope every bus message carries (docs/architecture.md, "The bus contract"), its JSON
//! encoding, and the MQTT v5 properties that go with it. The shapes (header
//! and payloads) are `taylordash_protocol::bus`'s; this module adds the
//! wire: [`Wire`], [`TaskWire`], [`ResultWire`].
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

use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::dispatch::{Task, TaskError, TaskResult};
use taylordash_protocol::ExitCode;
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

pub use taylordash_protocol::bus::{
    DlqPayload, GateStatus, Message as Envelope, ResultPayload, TaskPayload, WireEvent, WireLog,
};

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

/// The wire side of a bus message (the shapes are the protocol crate's):
/// size-checked JSON, field checks on receipt, MQTT v5 properties.
pub trait Wire: Sized {
    /// JSON bytes, refused when larger than `max`.
    fn encode(&self, max: usize) -> Result<Vec<u8>, EnvelopeError>;
    /// Parse and check an envelope received from the network.
    fn decode(bytes: &[u8], max: usize) -> Result<Self, EnvelopeError>;
    /// The `traceparent` of this message, if its ids have the W3C form.
    fn traceparent(&self) -> Option<String>;
    /// The v5 properties this message is published with: JSON content type,
    /// the `traceparent` user property, and (for requests) the response
    /// topic and correlation data, and an expiry.
    fn properties(&self, response_topic: Option<String>, correlation: Option<Bytes>, expiry: Option<Duration>) -> PublishProperties;
}

impl<P: Serialize + DeserializeOwned> Wire for Envelope<P> {
    fn encode(&self, max: usize) -> Result<Vec<u8>, EnvelopeError> {
        let bytes = serde_json::to_vec(self).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        if bytes.len() > max {
            return Err(EnvelopeError::Oversized { len: bytes.len(), max });
        }
        Ok(bytes)
    }

    fn decode(bytes: &[u8], max: usize) -> Result<Self, EnvelopeError> {
        if bytes.len() > max {
            return Err(EnvelopeError::Oversized { len: bytes.len(), max });
        }
        let env: Self = serde_json::from_slice(bytes).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        check(&env)?;
        Ok(env)
    }

    fn traceparent(&self) -> Option<String> {
        traceparent(&self.trace_id, &self.span_id)
    }

    fn properties(&self, response_topic: Option<String>, correlation: Option<Bytes>, expiry: Option<Duration>) -> PublishProperties {
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
}

/// The header's fields hold what the bus accepts.
fn check<P>(env: &Envelope<P>) -> Result<(), EnvelopeError> {
    let invalid = |m: String| Err(EnvelopeError::Invalid(m));
    if env.msg_id.is_empty() || env.msg_id.len() > 128 {
        return invalid(format!("msg_id must be 1 to 128 bytes, not {}", env.msg_id.len()));
    }
    for (name, v) in [
        ("run_id", &env.run_id),
        ("task_id", &env.task_id),
        ("agent_id", &env.agent_id),
        ("tool", &env.tool),
        ("trace_id", &env.trace_id),
        ("span_id", &env.span_id),
    ] {
        if v.len() > MAX_ID {
            return invalid(format!("{name} is longer than {MAX_ID} bytes"));
        }
        if v.chars().any(char::is_control) {
            return invalid(format!("{name} contains control characters"));
        }
    }
    if env.seq == 0 {
        return invalid("seq starts at 1".into());
    }
    Ok(())
}

/// A [`TaskEnvelope`] from and to the orchestrator's [`Task`].
pub trait TaskWire {
    /// The envelope of delivery `seq` of `task`, due by `deadline` (Unix ms).
    fn for_task(task: &Task, msg_id: &str, seq: u64, deadline: u64) -> Self;
    /// The task a worker runs.
    fn to_task(&self) -> Task;
}

impl TaskWire for TaskEnvelope {
    fn for_task(task: &Task, msg_id: &str, seq: u64, deadline: u64) -> Self {
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
                files: None,
                blobs_from: None,
            },
        }
    }

    fn to_task(&self) -> Task {
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

/// A [`ResultPayload`] from and to what [`Dispatch::run`](crate::orchestrator::Dispatch::run) returns.
pub trait ResultWire {
    fn from_outcome(outcome: &Result<TaskResult, TaskError>) -> Self;
    fn failed(e: &TaskError) -> Self;
    /// Back into what [`Dispatch::run`](crate::orchestrator::Dispatch::run) returns (without an ack).
    fn into_outcome(self) -> Result<TaskResult, TaskError>;
}

impl ResultWire for ResultPayload {
    fn from_outcome(outcome: &Result<TaskResult, TaskError>) -> Self {
        match outcome {
            Ok(r) => ResultPayload::Ok {
                output: r.output.clone(),
                logs: r.logs.iter().map(|l| WireLog { level: l.level.to_string(), message: l.message.clone() }).collect(),
                events: r.events.iter().map(|e| WireEvent { topic: e.topic.clone(), payload: e.payload.clone() }).collect(),
                usage: r.usage,
                out: None,
                blobs_from: None,
            },
            Err(e) => ResultPayload::failed(e),
        }
    }

    fn failed(e: &TaskError) -> Self {
        ResultPayload::Failed { message: e.message.clone(), exit_code: e.exit_code, retryable: e.retryable, timed_out: e.timed_out }
    }

    /// Back into what [`Dispatch::run`](crate::dispatch::Dispatch::run) returns (without an ack).
    fn into_outcome(self) -> Result<TaskResult, TaskError> {
        match self {
            ResultPayload::Ok { output, logs, events, usage, .. } => Ok(TaskResult {
                output,
                logs: logs.into_iter().map(|l| LogLine { level: static_level(&l.level), message: l.message }).collect(),
                events: events.into_iter().map(|e| Event { topic: e.topic, payload: e.payload }).collect(),
                usage,
                ack: None,
            }),
            ResultPayload::Failed { message, exit_code, retryable, timed_out } => {
                Err(TaskError { message, exit_code, retryable, timed_out })
            }
            // The dispatcher takes claims before they could be read as results.
            ResultPayload::Claimed { worker } => Err(TaskError {
                message: format!("worker {worker} claimed the task; a claim is not its result"),
                exit_code: ExitCode::Failed.code(),
                retryable: true,
                timed_out: false,
            }),
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
