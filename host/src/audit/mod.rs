//! The audit trail: every grant used, denial, quota breach, signature result
//! and role decision, as one JSON object per line, appended and never
//! rewritten. `taylordash audit` reads it back.
//!
//! With a shared journal (`--journal postgres://…`) every event is also
//! written to that database's `audit` table ([`shared`]), and read back from
//! it: `taylordash audit` on any orchestrator shows the whole fleet's trail.
//!
//! This module owns the file and the event shape; the decisions it records
//! are made elsewhere (policy, sandbox, bus). It imports no policy: a
//! caller becomes a [`Subject`] through `Caller::subject` in `policy`.

mod shared;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::sandbox::{SandboxError, CallOutcome};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Unix milliseconds.
    pub at: i64,
    pub principal: String,
    pub plugin: String,
    /// `exec`, `network`, `env`, `fs`, `quota:<kind>`, `digest`, `signature`, `rbac`.
    pub capability: String,
    /// `allow` or `deny`.
    pub decision: String,
    pub detail: String,
    #[serde(default)]
    pub trace_id: String,
    #[serde(default)]
    pub run_id: String,
    /// Who really acted, when not `principal`: the OS account of an admin
    /// acting `--as` another principal (`identity: os`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub actor: String,
    /// The worker that wrote the event: its `--identity`, else its bus
    /// username, else its MQTT client id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub worker: String,
}

/// Who and where, for the events of one call or run.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub principal: String,
    pub plugin: String,
    pub trace_id: String,
    pub run_id: String,
    /// See [`AuditEvent::actor`].
    pub actor: String,
    /// See [`AuditEvent::worker`].
    pub worker: String,
}

impl Subject {
    pub fn event(&self, capability: impl Into<String>, decision: &str, detail: impl Into<String>) -> AuditEvent {
        AuditEvent {
            at: crate::store::now_ms(),
            principal: self.principal.clone(),
            plugin: self.plugin.clone(),
            capability: capability.into(),
            decision: decision.to_string(),
            detail: detail.into(),
            trace_id: self.trace_id.clone(),
            run_id: self.run_id.clone(),
            actor: self.actor.clone(),
            worker: self.worker.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
    /// The fleet's trail in the shared journal's database, when there is one.
    shared: Option<Arc<shared::SharedTrail>>,
}

impl AuditLog {
    pub fn new(path: PathBuf) -> Self {
        AuditLog { path, shared: None }
    }

    /// Also write every event to the `audit` table of the PostgreSQL
    /// database at `url` (connected on first use), and read the trail from
    /// there.
    pub fn with_shared_trail(mut self, url: &str) -> Self {
        self.shared = Some(Arc::new(shared::SharedTrail::start(url)));
        self
    }

    /// `$TAYLORDASH_AUDIT_LOG`, else `$XDG_STATE_HOME/taylordash/audit.jsonl`,
    /// else `~/.local/state/taylordash/audit.jsonl`.
    pub fn default_path() -> PathBuf {
        crate::paths::env_path("TAYLORDASH_AUDIT_LOG").unwrap_or_else(|| crate::paths::state_dir().join("audit.jsonl"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append events, durably (`fdatasync`); a failure to audit is logged
    /// loudly, never swallowed silently.
    pub fn append(&self, events: &[AuditEvent]) {
        self.write(events, true);
    }

    /// Append routine events (a call that went well and used no grant)
    /// without waiting for the disk: a crash may lose the last of them, never
    /// a denial or a grant, which go through [`AuditLog::append`]. The
    /// fsync costs more than a whole sandboxed call.
    pub fn append_routine(&self, events: &[AuditEvent]) {
        self.write(events, false);
    }

    fn write(&self, events: &[AuditEvent], durable: bool) {
        if events.is_empty() {
            return;
        }
        if let Some(shared) = &self.shared {
            shared.append(events, durable);
        }
        let mut text = String::new();
        for e in events {
            if let Ok(line) = serde_json::to_string(e) {
                text.push_str(&line);
                text.push('\n');
            }
        }
        let result = (|| -> std::io::Result<()> {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            // One write per batch on an O_APPEND file: concurrent writers never interleave lines.
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
            f.write_all(text.as_bytes())?;
            if durable { f.sync_data() } else { Ok(()) }
        })();
        if let Err(e) = result {
            tracing::error!(path = %self.path.display(), error = %e, "could not write the audit log");
        }
    }

    /// Every event, oldest first: the shared trail's when there is one,
    /// else this file's.
    pub fn read(&self) -> std::io::Result<Vec<AuditEvent>> {
        if let Some(shared) = &self.shared {
            return shared.read().map_err(std::io::Error::other);
        }
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
    }
}

/// The audit events a sandbox call's outcome means.
pub fn call_events(subject: &Subject, result: Result<&CallOutcome, &SandboxError>) -> Vec<AuditEvent> {
    match result {
        Ok(outcome) => {
            let mut events: Vec<AuditEvent> =
                outcome.grants_used.iter().map(|(cap, detail)| subject.event(*cap, "allow", detail.clone())).collect();
            events.extend(outcome.denials.iter().map(|d| subject.event(d.capability, "deny", d.detail.clone())));
            events
        }
        Err(e) => match e {
            SandboxError::Denied { denial, .. } => vec![subject.event(denial.capability, "deny", denial.detail.clone())],
            SandboxError::Quota { breach, .. } => vec![subject.event(format!("quota:{}", breach.kind), "deny", breach.to_string())],
            SandboxError::DigestMismatch { .. } => vec![subject.event("digest", "deny", e.to_string())],
            SandboxError::Untrusted(m) => vec![subject.event("signature", "deny", m.clone())],
            SandboxError::UnsupportedImport { import, .. } => vec![subject.event("import", "deny", import.clone())],
            SandboxError::Merge { merge, .. } => vec![subject.event("fs", "deny", merge.to_string())],
            _ => Vec::new(),
        },
    }
}
