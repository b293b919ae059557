//! The run's side of agent contracts and template variables: the response
//! time a run holds each agent to (`sla.response_time` of
//! `contracts/<agent>.yaml` in the workspace, as `taylordash contracts`
//! writes it and an operator tightens it), and the value of every template
//! variable for one task ([`pipeline::contract`] gives the agent's own; the
//! run's — `OrchestrationState`, `TaskHistory`, `MCPEndpoints` — are here).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::pipeline::{self, Pipeline, Stage};
use crate::units::parse_duration;

/// Where the agent contracts live in a workspace.
pub const CONTRACTS_DIR: &str = "contracts";

/// Agent name → the response time its contract promises. A contract that
/// cannot be read is reported and ignored: the run is not the place to fail
/// on it (`taylordash contracts` rewrites it).
pub fn response_times(p: &Pipeline, workspace: &Path) -> BTreeMap<String, Duration> {
    let mut out = BTreeMap::new();
    for agent in p.stages.iter().flat_map(|s| s.agents.iter()) {
        let path = workspace.join(CONTRACTS_DIR).join(format!("{}.yaml", agent.name));
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let sla = serde_yaml_ng::from_str::<Value>(&text)
            .map_err(|e| e.to_string())
            .and_then(|doc| doc["sla"]["response_time"].as_str().map(str::to_string).ok_or_else(|| "no sla.response_time".to_string()))
            .and_then(|t| parse_duration(&t).map_err(|e| e.to_string()));
        match sla {
            Ok(d) => {
                out.insert(agent.name.clone(), d);
            }
            Err(e) => tracing::warn!("{}: {e}; the agent's response time is not checked", path.display()),
        }
    }
    out
}

/// What the run knows at one task, for its own template variables.
pub struct RunFacts<'a> {
    pub run_id: &'a str,
    pub attempt: u32,
    /// `(task id, status)` of the run's tasks so far.
    pub tasks: Vec<(String, String)>,
    pub workspace: &'a Path,
}

/// The value of template variable `name` for `agent` of `stage` at this task.
pub fn value(p: &Pipeline, stage: &Stage, agent: &str, run: &RunFacts<'_>, name: &str) -> Value {
    let own = stage.agents.iter().find(|a| a.name == agent).and_then(|a| pipeline::contract::agent_value(p, stage, a, name));
    if let Some(v) = own {
        return v;
    }
    match name {
        "OrchestrationState" => json!({ "run_id": run.run_id, "stage": stage.name, "attempt": run.attempt, "agent": agent }),
        "TaskHistory" => Value::from(run.tasks.iter().map(|(id, status)| json!({ "task": id, "status": status })).collect::<Vec<_>>()),
        "MCPEndpoints" => {
            let endpoint = std::fs::read_to_string(run.workspace.join("context7.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|d| d["endpoint"].as_str().map(|e| json!({ "server": "context7", "endpoint": e })));
            Value::from(endpoint.into_iter().collect::<Vec<_>>())
        }
        _ => Value::Null,
    }
}
