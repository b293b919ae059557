//! Resource conflicts between the agents of one stage (the seed's "Advanced
//! Coordination Strategies"): detected when a task's `/out` holds a path
//! another agent wrote first with higher priority, or reserved
//! (`reserves:`); resolved by priority queuing — the losing task is rolled
//! back whole (none of its files merge: agent state rollback) and runs
//! again after the winner, told the conflict as feedback; escalated to human
//! review when the second run claims the path again. And decision conflicts:
//! agents typing one contract field differently, settled on the gates'
//! evidence or escalated. Every step is a `decision` event in the journal
//! (`taylordash audit --decisions`).

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

// Decision conflicts: two agents declaring different types for one field of
// the same contract. A tool declares what it decided in its JSON output as
// `contract_fields: { "<contract>": { "<field>": "<type>" } }`.

/// One field two or more agents typed differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contradiction {
    pub contract: String,
    pub field: String,
    /// `(agent, type)`, in agent order, one per distinct claim.
    pub claims: Vec<(String, String)>,
}

/// The contradictions among `outputs` (`(agent, tool output)`).
pub fn contradictions(outputs: &[(String, Value)]) -> Vec<Contradiction> {
    let mut claims: std::collections::BTreeMap<(String, String), Vec<(String, String)>> = Default::default();
    for (agent, output) in outputs {
        let Some(contracts) = output.get("contract_fields").and_then(Value::as_object) else { continue };
        for (contract, fields) in contracts {
            for (field, ty) in fields.as_object().into_iter().flatten() {
                let ty = ty.as_str().map(str::to_string).unwrap_or_else(|| ty.to_string());
                let entry = claims.entry((contract.clone(), field.clone())).or_default();
                if !entry.iter().any(|(a, t)| a == agent && *t == ty) {
                    entry.push((agent.clone(), ty));
                }
            }
        }
    }
    claims
        .into_iter()
        .filter(|(_, c)| c.iter().any(|(_, t)| *t != c[0].1))
        .map(|((contract, field), claims)| Contradiction { contract, field, claims })
        .collect()
}

/// How a contradiction was settled on the gates' evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arbitration {
    /// Only `losers`' files drew gate findings: `kept`'s claim stands.
    Kept { kept: String, losers: Vec<String> },
    /// No evidence tells them apart (no findings, or findings on every side).
    Undecidable,
}

/// Settle `c` given which agents' files drew gate findings.
pub fn arbitrate(c: &Contradiction, faulted: &[String]) -> Arbitration {
    let (bad, good): (Vec<&(String, String)>, Vec<&(String, String)>) = c.claims.iter().partition(|(a, _)| faulted.contains(a));
    match (good.as_slice(), bad.is_empty()) {
        ([(kept, _)], false) => Arbitration::Kept { kept: kept.clone(), losers: bad.iter().map(|(a, _)| a.clone()).collect() },
        _ => Arbitration::Undecidable,
    }
}

/// The journal's `decision` event for a contradiction.
pub fn contradiction_decision(stage: &str, c: &Contradiction, a: &Arbitration) -> Value {
    let claims: Vec<Value> = c.claims.iter().map(|(agent, ty)| json!({ "agent": agent, "type": ty })).collect();
    let (resolution, kept, discarded) = match a {
        Arbitration::Kept { kept, losers } => ("arbitrated_on_gate_evidence", Some(kept.clone()), Some(losers.join(", "))),
        Arbitration::Undecidable => ("escalated_to_human_review", None, None),
    };
    json!({
        "detection": "contradictory_outputs",
        "resolution": resolution,
        "stage": stage,
        "path": format!("{}.{}", c.contract, c.field),
        "claims": claims,
        "kept": kept,
        "discarded": discarded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contradictions_are_found_and_settled_only_on_one_sided_evidence() {
        let out = |fields: Value| json!({ "contract_fields": { "project_event": fields } });
        let outputs = vec![
            ("api".to_string(), out(json!({ "priority": "integer", "title": "string" }))),
            ("models".to_string(), out(json!({ "priority": "string", "title": "string" }))),
        ];
        let found = contradictions(&outputs);
        assert_eq!(
            found,
            [Contradiction {
                contract: "project_event".into(),
                field: "priority".into(),
                claims: vec![("api".into(), "integer".into()), ("models".into(), "string".into())],
            }]
        );
        assert_eq!(arbitrate(&found[0], &["models".into()]), Arbitration::Kept { kept: "api".into(), losers: vec!["models".into()] });
        assert_eq!(arbitrate(&found[0], &[]), Arbitration::Undecidable);
        assert_eq!(arbitrate(&found[0], &["api".into(), "models".into()]), Arbitration::Undecidable);
        assert!(contradictions(&outputs[..1]).is_empty());
    }
}
