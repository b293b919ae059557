//! OpenTelemetry traces over OTLP/HTTP (protobuf): one trace per run, the
//! trace id the run journaled and sent with every task (`traceparent`).
//!
//! The orchestrator's spans — run → stage → agent → task → attempt — are
//! built from the run's journal when the run ends ([`run_spans`]): the ids
//! are the journal's own (task and attempt span ids are the ones the bus
//! envelope carries), so the sandbox call a worker reports ([`call_span`],
//! a child of the attempt) lands in the same tree from another process.
//! Spans go to a background thread that batches and exports them
//! ([`Otlp`]); without `--otlp` or `OTEL_EXPORTER_OTLP_ENDPOINT` nothing is
//! built and nothing runs.

use std::borrow::Cow;
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};
use sha2::{Digest, Sha256};

use super::CallFacts;
use crate::audit::AuditEvent;
use taylordash_protocol::bus::Usage;
use crate::store::{AttemptFact, RunSnapshot};

/// Spans waiting for the exporter thread; past this, new ones are dropped (and counted).
const QUEUE: usize = 4096;
/// Spans sent in one request.
const BATCH: usize = 512;
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the exporter gathers spans after the first of a burst (the
/// SDK's batch processor waits 5 s; a CLI run wants its spans out sooner,
/// and its exit waits at most this long for them).
const LINGER: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("--otlp {url}: {message}")]
    Endpoint { url: String, message: String },
}

/// Where spans go: `--otlp URL`, else the standard variables
/// (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as is, `OTEL_EXPORTER_OTLP_ENDPOINT`
/// + `/v1/traces`), with `OTEL_SERVICE_NAME` (default `taylordash`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpSettings {
    pub traces_url: String,
    pub service: String,
}

impl OtlpSettings {
    pub fn resolve(flag: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let set = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let traces_url = match flag {
            Some(url) => traces_path(url),
            None => set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| set("OTEL_EXPORTER_OTLP_ENDPOINT").map(|u| traces_path(&u)))?,
        };
        Some(OtlpSettings { traces_url, service: set("OTEL_SERVICE_NAME").unwrap_or_else(|| "taylordash".into()) })
    }
}

/// A base URL gets the OTLP/HTTP traces path; a full one is kept.
fn traces_path(url: &str) -> String {
    let url = url.trim_end_matches('/');
    if url.ends_with("/v1/traces") { url.to_string() } else { format!("{url}/v1/traces") }
}

/// The exporter: a thread that batches spans and posts them.
pub struct Otlp {
    tx: Mutex<Option<mpsc::SyncSender<SpanData>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    dropped: std::sync::atomic::AtomicU64,
}

impl Otlp {
    pub fn start(settings: &OtlpSettings) -> Result<Self, TraceError> {
        let bad = |message: String| TraceError::Endpoint { url: settings.traces_url.clone(), message };
        if !settings.traces_url.starts_with("http://") && !settings.traces_url.starts_with("https://") {
            return Err(bad("an OTLP/HTTP endpoint is an http:// or https:// URL".into()));
        }
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| bad(e.to_string()))?;
        let mut exporter = runtime
            .block_on(async {
                opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_http_client(opentelemetry_http::hyper::HyperClient::with_default_connector(EXPORT_TIMEOUT, None))
                    .with_protocol(Protocol::HttpBinary)
                    .with_endpoint(settings.traces_url.clone())
                    .with_timeout(EXPORT_TIMEOUT)
                    .build()
            })
            .map_err(|e| bad(e.to_string()))?;
        exporter.set_resource(&Resource::builder_empty().with_service_name(settings.service.clone()).build());
        let (tx, rx) = mpsc::sync_channel::<SpanData>(QUEUE);
        let url = settings.traces_url.clone();
        let thread = std::thread::Builder::new()
            .name("otlp".into())
            .spawn(move || {
                // Block for the first span of a burst, then sleep LINGER and
                // take what came meanwhile: one request per burst, and no
                // wake-up of this thread per span sent (a sender finds no
                // receiver waiting while it sleeps).
                while let Ok(first) = rx.recv() {
                    std::thread::sleep(LINGER);
                    let mut batch = vec![first];
                    batch.extend(rx.try_iter());
                    for chunk in batch.chunks(BATCH) {
                        if let Err(e) = runtime.block_on(exporter.export(chunk.to_vec())) {
                            tracing::warn!("OTLP export to {url} failed: {e}");
                        }
                    }
                }
            })
            .map_err(|e| bad(e.to_string()))?;
        Ok(Otlp { tx: Mutex::new(Some(tx)), thread: Mutex::new(Some(thread)), dropped: Default::default() })
    }

    /// Queue spans for export; never blocks (a full queue drops them, counted).
    pub fn send(&self, spans: Vec<SpanData>) {
        let guard = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tx) = guard.as_ref() else { return };
        for span in spans {
            if tx.try_send(span).is_err() {
                let n = self.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n == 0 {
                    tracing::warn!("the OTLP exporter is behind: spans are being dropped");
                }
            }
        }
    }

    /// Export what is queued, then stop (the process is about to end).
    pub fn shutdown(&self) {
        drop(self.tx.lock().unwrap_or_else(|p| p.into_inner()).take());
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Otlp {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("taylordash").with_version(env!("CARGO_PKG_VERSION")).build()
}

fn time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

/// A span id derived from the run and a path in it: the same on every export
/// of the same run (a resumed run's spans replace, not duplicate, its earlier ones).
fn derived_id(run: &str, path: &str) -> SpanId {
    let digest = Sha256::digest(format!("{run}/{path}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    SpanId::from_bytes(bytes)
}

fn hex_span(id: &str) -> SpanId {
    SpanId::from_hex(id).unwrap_or(SpanId::INVALID)
}

struct Span {
    trace: TraceId,
    id: SpanId,
    parent: SpanId,
    name: String,
    start: i64,
    end: i64,
    attributes: Vec<KeyValue>,
    error: Option<String>,
}

impl Span {
    /// A span of the orchestrator's tree: it names its run.
    fn run_data(self, kind: SpanKind, run: &RunSnapshot) -> SpanData {
        let mut span = self.data(kind, false);
        span.attributes.push(KeyValue::new("taylordash.run_id", run.run.id.clone()));
        span
    }

    fn data(self, kind: SpanKind, remote_parent: bool) -> SpanData {
        SpanData {
            span_context: SpanContext::new(self.trace, self.id, TraceFlags::SAMPLED, false, TraceState::default()),
            parent_span_id: self.parent,
            parent_span_is_remote: remote_parent,
            span_kind: kind,
            name: Cow::Owned(self.name),
            start_time: time(self.start),
            end_time: time(self.end.max(self.start)),
            attributes: self.attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: match self.error {
                Some(message) => Status::error(message),
                None => Status::Ok,
            },
            instrumentation_scope: scope(),
        }
    }
}

/// The quota kind an attempt's error names (`quota exceeded: <kind> (limit …)`).
fn breached(error: &str) -> Option<&str> {
    let rest = &error[error.find("quota exceeded: ")? + "quota exceeded: ".len()..];
    rest.split([' ', ',', ')']).next().filter(|k| !k.is_empty())
}

fn usage_attributes(usage: &Usage, attributes: &mut Vec<KeyValue>) {
    attributes.extend([
        KeyValue::new("taylordash.fuel", usage.fuel as i64),
        KeyValue::new("taylordash.memory_peak_bytes", usage.memory_peak as i64),
        KeyValue::new("taylordash.call_ms", usage.call_ms as i64),
        KeyValue::new("taylordash.bytes_in", usage.bytes_in as i64),
        KeyValue::new("taylordash.bytes_out", usage.bytes_out as i64),
    ]);
}

fn attempt_span(run: &RunSnapshot, trace: TraceId, a: &AttemptFact, now: i64) -> SpanData {
    let mut attributes = vec![
        KeyValue::new("taylordash.task_id", a.task_id.clone()),
        KeyValue::new("taylordash.tool", a.tool.clone()),
        KeyValue::new("taylordash.agent", a.agent.clone()),
        KeyValue::new("taylordash.stage", a.stage.clone()),
        KeyValue::new("taylordash.attempt", i64::from(a.attempt)),
        KeyValue::new("taylordash.outcome", a.status.clone()),
        KeyValue::new("taylordash.wall_ms", a.duration_ms.unwrap_or(now - a.started_at)),
    ];
    if let Some(code) = a.exit_code {
        attributes.push(KeyValue::new("taylordash.exit_code", i64::from(code)));
    }
    if let Some(usage) = &a.usage {
        usage_attributes(usage, &mut attributes);
    }
    if let Some(kind) = a.error.as_deref().and_then(breached) {
        attributes.push(KeyValue::new("taylordash.quota_breached", kind.to_string()));
    }
    Span {
        trace,
        id: hex_span(&a.span_id),
        parent: hex_span(&a.task_span_id),
        name: format!("attempt {} {}", a.attempt, a.tool),
        start: a.started_at,
        end: a.started_at + a.duration_ms.unwrap_or(now - a.started_at),
        attributes,
        error: a.error.clone().filter(|_| a.status == "failed"),
    }
    .run_data(SpanKind::Producer, run)
}



/// The orchestrator's spans of a run: run → stage → agent → task → attempt.
pub fn run_spans(run: &RunSnapshot, now: i64) -> Vec<SpanData> {
    let Ok(trace) = TraceId::from_hex(&run.run.trace_id) else { return Vec::new() };
    let id = &run.run.id;
    let root = derived_id(id, "");
    let end = if run.run.status == "running" { now } else { run.run.updated_at };
    let mut spans = vec![
        Span {
            trace,
            id: root,
            parent: SpanId::INVALID,
            name: format!("run {}", run.run.pipeline),
            start: run.run.created_at,
            end,
            attributes: vec![
                KeyValue::new("taylordash.pipeline", run.run.pipeline.clone()),
                KeyValue::new("taylordash.status", run.run.status.clone()),
                KeyValue::new("taylordash.principal", run.run.principal.clone()),
                KeyValue::new("taylordash.role", run.run.role.clone()),
            ],
            error: run.run.error.clone(),
        }
        .run_data(SpanKind::Internal, run),
    ];
    for s in &run.stages {
        let stage_id = derived_id(id, &s.stage);
        let start = s.started_at.unwrap_or(run.run.created_at);
        let mut attributes = vec![
            KeyValue::new("taylordash.stage", s.stage.clone()),
            KeyValue::new("taylordash.status", s.status.clone()),
            KeyValue::new("taylordash.attempt", i64::from(s.attempt)),
        ];
        let verdicts: Vec<String> = run
            .gates
            .iter()
            .filter(|g| g.stage == s.stage)
            .map(|g| format!("{}#{}={}", g.gate, g.attempt, if g.passed { "pass" } else { "fail" }))
            .collect();
        if !verdicts.is_empty() {
            attributes.push(KeyValue::new("taylordash.gates", verdicts.join(",")));
        }
        spans.push(
            Span {
                trace,
                id: stage_id,
                parent: root,
                name: format!("stage {}", s.stage),
                start,
                end: s.finished_at.unwrap_or(end),
                attributes,
                error: (s.status == "failed").then(|| format!("stage {} failed", s.stage)),
            }
            .run_data(SpanKind::Internal, run),
        );
        // One agent span per agent of the stage; one task span per task.
        let mut agents: Vec<&str> = Vec::new();
        let mut tasks: Vec<&str> = Vec::new();
        for a in run.attempts.iter().filter(|a| a.stage == s.stage) {
            if !tasks.contains(&a.task_id.as_str()) {
                tasks.push(&a.task_id);
            }
            if !agents.contains(&a.agent.as_str()) {
                agents.push(&a.agent);
            }
        }
        let window = |of: &dyn Fn(&AttemptFact) -> bool| {
            let picked: Vec<&AttemptFact> = run.attempts.iter().filter(|a| a.stage == s.stage && of(a)).collect();
            let start = picked.iter().map(|a| a.started_at).min().unwrap_or(start);
            let end = picked.iter().map(|a| a.started_at + a.duration_ms.unwrap_or(now - a.started_at)).max().unwrap_or(start);
            (picked, start, end)
        };
        for agent in &agents {
            let (_, a_start, a_end) = window(&|a| a.agent == *agent);
            spans.push(
                Span {
                    trace,
                    id: derived_id(id, &format!("{}/{agent}", s.stage)),
                    parent: stage_id,
                    name: format!("agent {agent}"),
                    start: a_start,
                    end: a_end,
                    attributes: vec![KeyValue::new("taylordash.agent", agent.to_string()), KeyValue::new("taylordash.stage", s.stage.clone())],
                    error: None,
                }
                .run_data(SpanKind::Internal, run),
            );
        }
        for task in &tasks {
            let (attempts, t_start, t_end) = window(&|a| a.task_id == *task);
            let first = attempts[0];
            // A task reassigned to a backup agent sits under the agent it was planned for.
            let agent = derived_id(id, &format!("{}/{}", s.stage, first.agent));
            spans.push(
                Span {
                    trace,
                    id: hex_span(&first.task_span_id),
                    parent: agent,
                    name: format!("task {}", first.tool),
                    start: t_start,
                    end: t_end,
                    attributes: vec![
                        KeyValue::new("taylordash.task_id", task.to_string()),
                        KeyValue::new("taylordash.tool", first.tool.clone()),
                        KeyValue::new("taylordash.agent", first.agent.clone()),
                        KeyValue::new("taylordash.stage", s.stage.clone()),
                        KeyValue::new("taylordash.status", first.task_status.clone()),
                        KeyValue::new("taylordash.attempts", attempts.len() as i64),
                    ],
                    error: None,
                }
                .run_data(SpanKind::Internal, run),
            );
            spans.extend(attempts.iter().map(|a| attempt_span(run, trace, a, now)));
        }
    }
    spans
}

/// The sandbox call of one task attempt, as the process that ran it saw it:
/// a child of the attempt span the task's envelope named.
pub fn call_span(task: &CallFacts<'_>, started: SystemTime, ended: SystemTime, usage: Option<&Usage>, audit: &[AuditEvent], error: Option<&str>) -> Option<SpanData> {
    let trace = TraceId::from_hex(task.trace_id).ok()?;
    let parent = hex_span(task.span_id);
    let ms = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let mut attributes = vec![
        KeyValue::new("taylordash.run_id", task.run_id.to_string()),
        KeyValue::new("taylordash.task_id", task.task_id.to_string()),
        KeyValue::new("taylordash.tool", task.tool.to_string()),
        KeyValue::new("taylordash.agent", task.agent.to_string()),
        KeyValue::new("taylordash.stage", task.stage.to_string()),
        KeyValue::new("taylordash.attempt", i64::from(task.attempt)),
        KeyValue::new("taylordash.outcome", if usage.is_some() { "succeeded" } else { "failed" }),
        KeyValue::new("taylordash.wall_ms", ms(ended) - ms(started)),
    ];
    if let Some(usage) = usage {
        usage_attributes(usage, &mut attributes);
    }
    let denials: Vec<String> = audit.iter().filter(|e| e.decision == "deny").map(|e| format!("{}: {}", e.capability, e.detail)).collect();
    let grants: Vec<String> = audit.iter().filter(|e| e.decision == "allow").map(|e| format!("{}: {}", e.capability, e.detail)).collect();
    if let Some(kind) = audit.iter().find_map(|e| e.capability.strip_prefix("quota:")) {
        attributes.push(KeyValue::new("taylordash.quota_breached", kind.to_string()));
    }
    if !denials.is_empty() {
        attributes.push(KeyValue::new("taylordash.denials", denials.join("; ")));
    }
    if !grants.is_empty() {
        attributes.push(KeyValue::new("taylordash.grants_used", grants.join("; ")));
    }
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).ok()?;
    Some(
        Span {
            trace,
            id: SpanId::from_bytes(id),
            parent,
            name: format!("call {}", task.tool),
            start: ms(started),
            end: ms(ended),
            attributes,
            error: error.map(str::to_string),
        }
        .data(SpanKind::Consumer, true),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_variables_name_the_endpoint() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(OtlpSettings::resolve(None, env(&[])), None);
        let s = OtlpSettings::resolve(None, env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/"), ("OTEL_SERVICE_NAME", "w1")]));
        assert_eq!(s, Some(OtlpSettings { traces_url: "http://127.0.0.1:4318/v1/traces".into(), service: "w1".into() }));
        let s = OtlpSettings::resolve(None, env(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://h:1/custom")])).unwrap();
        assert_eq!(s.traces_url, "http://h:1/custom");
        let s = OtlpSettings::resolve(Some("http://h:2"), env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://other")])).unwrap();
        assert_eq!((s.traces_url.as_str(), s.service.as_str()), ("http://h:2/v1/traces", "taylordash"));
    }

    #[test]
    fn a_breach_names_its_quota_kind() {
        assert_eq!(breached("plugin `x` refused: quota exceeded: fuel (limit 10)"), Some("fuel"));
        assert_eq!(breached("tool failed"), None);
    }
}
