//! The JSON the KPI page reads: what a [`Look`] holds, shaped for one
//! screen. The shapes are the page's contract (docs/observability.md).

use serde_json::{Value, json};

use crate::observe::Look;
use crate::store::RunSnapshot;

/// Runs listed on the page, newest first.
const RECENT_RUNS: usize = 20;

fn running(r: &RunSnapshot) -> bool {
    r.run.status == "running"
}

/// Tasks of running runs waiting for their first attempt.
pub fn queue_depth(look: &Look) -> u64 {
    look.runs.iter().filter(|r| running(r)).map(|r| r.pending.len() as u64).sum()
}

/// Dead letters not replayed yet (0 without a DLQ).
pub fn dlq_depth(path: &std::path::Path) -> u64 {
    if !path.is_file() {
        return 0;
    }
    match crate::bus::DlqStore::open(path).and_then(|s| s.list()) {
        Ok(entries) => entries.iter().filter(|e| e.replayed_at.is_none()).count() as u64,
        Err(e) => {
            tracing::warn!("cannot read the dead-letter queue: {e}");
            0
        }
    }
}

pub fn overview(look: &Look) -> Value {
    let s = &look.stats;
    let active_runs: Vec<Value> = look
        .runs
        .iter()
        .filter(|r| running(r))
        .map(|r| {
            let tasks: Vec<Value> = r
                .attempts
                .iter()
                .filter(|a| a.status == "running")
                .map(|a| json!({ "task_id": a.task_id, "stage": a.stage, "agent": a.agent, "tool": a.tool, "started_at": a.started_at }))
                .collect();
            json!({
                "id": r.run.id, "pipeline": r.run.pipeline, "status": r.run.status, "created_at": r.run.created_at,
                "stages_done": r.stages.iter().filter(|s| s.status == "done").count(),
                "stages_total": r.stages.len(),
                "running_tasks": tasks,
            })
        })
        .collect();
    let mut agents: std::collections::BTreeMap<&str, u64> = Default::default();
    for r in look.runs.iter().filter(|r| running(r)) {
        for a in r.attempts.iter().filter(|a| a.status == "running") {
            *agents.entry(a.agent.as_str()).or_default() += 1;
        }
    }
    let runs: Vec<Value> = look
        .runs
        .iter()
        .rev()
        .take(RECENT_RUNS)
        .map(|r| {
            json!({ "id": r.run.id, "pipeline": r.run.pipeline, "status": r.run.status, "created_at": r.run.created_at,
                    "updated_at": r.run.updated_at,
                    "duration_ms": (!running(r)).then_some(r.run.updated_at - r.run.created_at) })
        })
        .collect();
    let mut alerts: Vec<Value> = s.alerts.iter().map(|a| json!({ "at": a.at, "kind": a.kind, "message": a.message, "run": a.run })).collect();
    alerts.extend(
        s.detectors
            .iter()
            .filter(|d| d.fired)
            .map(|d| json!({ "at": s.generated_at, "kind": d.key, "message": format!("{}: {}", d.label, d.detail), "run": "" })),
    );
    json!({
        "generated_at": s.generated_at,
        "since_ms": s.since_ms,
        "kpis": s.kpis,
        "trend": s.trend,
        "latency": s.latency,
        "bottleneck": s.bottleneck.as_ref().map(|b| json!({ "stage": b.stage, "pipeline": b.pipeline, "seconds": b.seconds })),
        "active_runs": active_runs,
        "active_agents": agents.iter().map(|(agent, count)| json!({ "agent": agent, "count": count })).collect::<Vec<_>>(),
        "queue": [{ "priority": "default", "pending": queue_depth(look) }],
        "resources": s.agents.iter().map(|(agent, u)| json!({ "agent": agent, "tasks": u.tasks, "fuel": u.fuel,
            "memory_peak_bytes": u.memory_peak_bytes, "call_seconds": u.call_seconds })).collect::<Vec<_>>(),
        "runs": runs,
        "alerts": alerts,
        "detectors": s.detectors,
    })
}

/// A run's stages, tasks (with every attempt) and gate verdicts on one time axis.
pub fn timeline(look: &Look, id: &str) -> Option<Value> {
    let r = look.runs.iter().find(|r| r.run.id == id)?;
    let mut tasks: Vec<Value> = Vec::new();
    let mut order: Vec<&str> = Vec::new();
    for a in &r.attempts {
        if !order.contains(&a.task_id.as_str()) {
            order.push(&a.task_id);
        }
    }
    for task_id in order {
        let attempts: Vec<&crate::store::AttemptFact> = r.attempts.iter().filter(|a| a.task_id == task_id).collect();
        let first = attempts[0];
        tasks.push(json!({
            "task_id": task_id, "stage": first.stage, "agent": first.agent, "tool": first.tool, "status": first.task_status,
            "attempts": attempts.iter().map(|a| json!({ "attempt": a.attempt, "agent": a.agent, "status": a.status,
                "started_at": a.started_at, "duration_ms": a.duration_ms, "exit_code": a.exit_code, "error": a.error,
                "usage": a.usage })).collect::<Vec<_>>(),
        }));
    }
    for (task_id, stage, agent, tool) in &r.pending {
        tasks.push(json!({ "task_id": task_id, "stage": stage, "agent": agent, "tool": tool, "status": "pending", "attempts": [] }));
    }
    Some(json!({
        "id": r.run.id, "pipeline": r.run.pipeline, "status": r.run.status, "created_at": r.run.created_at,
        "updated_at": r.run.updated_at, "error": r.run.error, "trace_id": r.run.trace_id,
        "stages": r.stages,
        "tasks": tasks,
        "gates": r.gates.iter().map(|g| json!({ "stage": g.stage, "attempt": g.attempt, "gate": g.gate, "passed": g.passed })).collect::<Vec<_>>(),
    }))
}

/// Denials and quota breaches from the audit log, newest first.
pub fn refusals(look: &Look, limit: usize) -> Value {
    let entries: Vec<Value> = look
        .audit
        .iter()
        .rev()
        .filter(|e| e.decision == "deny")
        .take(limit)
        .map(|e| {
            json!({ "at": e.at, "principal": e.principal, "plugin": e.plugin, "capability": e.capability,
                    "decision": e.decision, "detail": e.detail, "run_id": e.run_id })
        })
        .collect();
    json!({ "entries": entries })
}
