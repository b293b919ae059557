//! The seed's anti-pattern detectors: orchestrator overload (its own CPU
//! share), context thrashing (a task asked again and again), resource
//! starvation (queue depth rising).

use serde::Serialize;

use super::facts::{group_tasks, ratio};
use crate::store::{AttemptFact, RunSnapshot};

/// A task attempted this often in one run counts as context thrashing.
const THRASHING_ATTEMPTS: u32 = 3;

/// One of the seed's anti-pattern detectors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detector {
    pub key: &'static str,
    pub label: &'static str,
    pub fired: bool,
    pub detail: String,
}

pub(super) fn detectors(runs: &[&RunSnapshot], attempts: &[(&RunSnapshot, &AttemptFact)], queue_samples: &[u64]) -> Vec<Detector> {
    // Orchestrator overload: the orchestrator's own CPU (journaled at run end)
    // against the tools' time; the seed: "orchestrator doing specialist work".
    let (mut orchestrator_ms, mut tool_ms) = (0u64, 0u64);
    for r in runs {
        if let Some(cpu) = r.events.iter().rev().find(|e| e.kind == "orchestrator_cpu")
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&cpu.data)
        {
            orchestrator_ms += v.get("coordination_cpu_ms").and_then(|x| x.as_u64()).unwrap_or(0);
            tool_ms += v.get("tool_ms").and_then(|x| x.as_u64()).unwrap_or(0);
        }
    }
    let share = ratio(orchestrator_ms as f64, (orchestrator_ms + tool_ms) as f64);
    let thrashing: Vec<String> = group_tasks(attempts)
        .into_iter()
        .filter(|(_, g)| g.len() as u32 >= THRASHING_ATTEMPTS)
        .map(|((run, task), g)| format!("{task} ({} attempts, run {run})", g.len()))
        .collect();
    let rising = queue_samples.len() >= 5 && queue_samples.windows(2).rev().take(4).all(|p| p[1] > p[0]);
    vec![
        Detector {
            key: "orchestrator_overload",
            label: "Orchestrator overload",
            fired: share.is_some_and(|s| s > 0.5),
            detail: match share {
                Some(s) => format!("orchestrator CPU {:.1}% of orchestrator + tool time (fires above 50%)", s * 100.0),
                None => "no run in the window journaled its CPU time".to_string(),
            },
        },
        Detector {
            key: "context_thrashing",
            label: "Context thrashing",
            fired: !thrashing.is_empty(),
            detail: if thrashing.is_empty() {
                format!("no task attempted {THRASHING_ATTEMPTS} or more times")
            } else {
                format!("tasks asked again and again for their context: {}", thrashing.join(", "))
            },
        },
        Detector {
            key: "resource_starvation",
            label: "Resource starvation",
            fired: rising,
            detail: match queue_samples.last() {
                Some(depth) if rising => format!("queue depth rising for 5 samples, now {depth}"),
                Some(depth) => format!("queue depth {depth}, not rising"),
                None => "one look: the queue depth trend needs `taylordash serve`'s samples".to_string(),
            },
        },
    ]
}
