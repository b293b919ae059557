//! Resource conflicts between the agents of one stage (the seed's "Advanced
//! Coordination Strategies"): detected when a task's `/out` holds a path
//! another agent wrote first with higher priority, or reserved
//! (`reserves:`); resolved by priority queuing — the losing task is rolled
//! back whole (none of its files merge: agent state rollback) and runs
//! again after the winner, told the conflict as feedback; escalated to human
//! review when the second run claims the path again. Every step is a
//! `decision` event in the journal (`taylordash audit --decisions`).

use serde_json::{Value, json};
use taylordash_protocol::{FailedGate, Feedback};

use super::merge::{Action, PlannedFile};
use crate::pipeline::Stage;

/// The pseudo-gate name conflict feedback goes under.
pub const FEEDBACK_GATE: &str = "resource_conflict";

/// A path a task lost to another agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lost {
    pub path: String,
    pub winner: String,
    /// Lost to a reservation rather than to priority.
    pub reserved: bool,
}

/// `(agent, path)` of every reservation in `stage`.
pub fn reservations(stage: &Stage) -> Vec<(String, String)> {
    stage.agents.iter().flat_map(|a| a.reserves.iter().map(|r| (a.name.clone(), r.name.clone()))).collect()
}

/// The paths of a planned merge that belong to another agent.
pub fn lost(planned: &[PlannedFile]) -> Vec<Lost> {
    planned
        .iter()
        .filter_map(|f| match &f.action {
            Action::KeepOther { winner, reserved } => Some(Lost { path: f.rel.clone(), winner: winner.clone(), reserved: *reserved }),
            _ => None,
        })
        .collect()
}

fn why(l: &Lost) -> String {
    if l.reserved {
        format!("`{}` is reserved by agent `{}`", l.path, l.winner)
    } else {
        format!("`{}` was written first by agent `{}`, which has priority", l.path, l.winner)
    }
}

/// One line naming every lost path and why.
pub fn summary(lost: &[Lost]) -> String {
    lost.iter().map(why).collect::<Vec<_>>().join("; ")
}

/// What the rolled-back task is told when it runs again.
pub fn feedback(lost: &[Lost]) -> Feedback {
    let findings: Vec<Value> = lost
        .iter()
        .map(|l| json!({ "file": l.path, "message": format!("{}: leave it to them; write your work elsewhere", why(l)) }))
        .collect();
    Feedback { failed_gates: vec![FailedGate { gate: FEEDBACK_GATE.into(), report: json!({ "passed": false, "findings": findings }) }] }
}

/// The journal's `decision` event for a rollback (`escalated`: the second
/// time, when the run halts for review instead).
pub fn decision(stage: &str, task: &str, loser: &str, lost: &[Lost], escalated: bool) -> Value {
    let detection = if lost.iter().all(|l| l.reserved) { "resource_reservation" } else { "concurrent_file_access" };
    let resolution = if escalated { "escalated_to_human_review" } else { "agent_state_rollback_then_priority_queuing" };
    json!({
        "detection": detection,
        "resolution": resolution,
        "stage": stage,
        "task": task,
        "path": lost.first().map(|l| l.path.clone()),
        "paths": lost.iter().map(|l| l.path.clone()).collect::<Vec<_>>(),
        "kept": lost.first().map(|l| l.winner.clone()),
        "discarded": loser,
    })
}
