//! Measuring agents: the seed's KPIs computed from the run journals and the
//! audit log (`kpi`; stage baselines in `stages`, anti-pattern detectors in
//! `detect`), their Prometheus exposition (`metrics`), OpenTelemetry
//! spans of a run (`trace`), and the orchestrator's own CPU clock (`cpu`).
//!
//! Nothing here drives a run: it reads what runs journaled, and writes only
//! the seed's manual triggers back (an event in the run's journal and a line
//! in the audit log). `stats`, `serve` and `/metrics` all go through
//! [`look`], so they never disagree.

pub mod cpu;
pub mod detect;
mod facts;
pub mod kpi;
pub mod metrics;
pub mod stages;
pub mod trace;


pub use kpi::Stats;
pub use stages::Alert;

use crate::audit::{AuditEvent, AuditLog};
use crate::store::RunSnapshot;

/// One sandbox call of a task attempt, as metrics and spans name it (the
/// dispatcher fills it from its task: this module sits below `dispatch`).
#[derive(Debug, Clone, Copy)]
pub struct CallFacts<'a> {
    pub run_id: &'a str,
    pub task_id: &'a str,
    pub stage: &'a str,
    pub agent: &'a str,
    pub tool: &'a str,
    pub attempt: u32,
    pub trace_id: &'a str,
    /// The attempt's span: the call's parent.
    pub span_id: &'a str,
}

/// Everything measured at one instant.
pub struct Look {
    pub runs: Vec<RunSnapshot>,
    pub audit: Vec<AuditEvent>,
    pub stats: Stats,
}

/// What to measure: the runs updated from `since_ms` to `now_ms` (only
/// `run`, when named), with the server's queue depth samples.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub since_ms: i64,
    pub now_ms: i64,
    pub run: Option<&'a str>,
    pub queue_samples: &'a [u64],
}

/// Measure `scope` over `runs` (every run of a directory, oldest first:
/// [`crate::store::read_runs`], or a server's [`crate::store::Snapshots`])
/// and the audit log.
pub fn look(runs: Vec<RunSnapshot>, audit: &AuditLog, scope: Scope<'_>) -> Look {
    let audit = audit.read().unwrap_or_else(|e| {
        tracing::warn!(path = %audit.path().display(), "cannot read the audit log: {e}");
        Vec::new()
    });
    let Scope { since_ms, now_ms, run, queue_samples } = scope;
    let stats = kpi::compute(&kpi::Window { runs: &runs, audit: &audit, now_ms, since_ms, queue_samples, only_run: run });
    Look { runs, audit, stats }
}

/// Record each alert of `stats` that concerns a run, once: a
/// `manual_trigger` event in that run's journal and an `alert` line in the
/// audit log. Returns the alerts raised now (not those raised before).
pub fn raise_triggers(stats: &Stats, journals: &crate::store::Journals, audit: &AuditLog) -> Vec<Alert> {
    let mut raised = Vec::new();
    for alert in stats.alerts.iter().filter(|a| !a.run.is_empty()) {
        let Ok(journal) = journals.open(&alert.run) else { continue };
        let data = serde_json::json!({ "kind": alert.kind, "message": alert.message });
        let seen = journal
            .events()
            .unwrap_or_default()
            .iter()
            .any(|e| e.kind == "manual_trigger" && serde_json::from_str::<serde_json::Value>(&e.data).ok().as_ref() == Some(&data));
        if seen {
            continue;
        }
        if let Err(e) = journal.event("manual_trigger", &data) {
            tracing::warn!("cannot journal a trigger: {e}");
            continue;
        }
        let (principal, trace_id) = journal.run().map(|r| (r.principal, r.trace_id)).unwrap_or_default();
        audit.append(&[AuditEvent {
            at: crate::store::now_ms(),
            principal,
            plugin: String::new(),
            capability: format!("trigger:{}", alert.kind),
            decision: "alert".into(),
            detail: alert.message.clone(),
            trace_id,
            run_id: alert.run.clone(),
            actor: String::new(),
            worker: String::new(),
        }]);
        raised.push(alert.clone());
    }
    raised
}
