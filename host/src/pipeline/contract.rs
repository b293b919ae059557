//! An agent's contract: what the seed's template variables say of one agent
//! of a pipeline (its tools, the inputs it expects, the outputs it
//! guarantees, its performance targets, the services it needs), and the
//! seed's `agent_contract_template` that `taylordash contracts` renders
//! into `contracts/<agent>.yaml`.
//!
//! The run's own variables (`OrchestrationState`, `TaskHistory`,
//! `MCPEndpoints`) are the orchestrator's: here they are `None`.

use serde_json::{Value, json};

use super::model::{Agent, Pipeline, Stage};

/// The seed's contract template, verbatim (used when the pipeline gives none).
pub const SEED_CONTRACT_TEMPLATE: [(&str, &str); 7] = [
    ("name", "{{.AgentName}}"),
    ("version", "{{.Version}}"),
    ("capabilities", "{{.Tools}}"),
    ("inputs", "{{.ExpectedInputs}}"),
    ("outputs", "{{.GuaranteedOutputs}}"),
    ("sla", "{{.PerformanceTargets}}"),
    ("dependencies", "{{.RequiredServices}}"),
];

/// The default wall-clock budget of a task (a stage's `timeout`).
pub const DEFAULT_TASK_TIMEOUT_SECS: u64 = 60;

/// Services a tool reaches, by tool name: what an operator must run (or
/// grant) for the agent to work.
fn services(tool: &str) -> &'static [&'static str] {
    match tool {
        "mqtt_client" => &["mqtt broker"],
        "tsdb_adapter" => &["postgresql/timescaledb"],
        "minio_client" | "minio_uploader" => &["s3 (minio)"],
        "context7_resolve_library" | "context7_get_docs" => &["context7 (mcp)"],
        "bash_runner" => &["exec: the test interpreter"],
        "keycloak_admin" => &["keycloak"],
        "traefik_hsts" => &["traefik"],
        "mosquitto_tls" => &["mqtt broker"],
        _ => &[],
    }
}

/// The value of template variable `name` for `agent` of `stage`; `None`
/// for the run's own variables.
pub fn agent_value(p: &Pipeline, stage: &Stage, agent: &Agent, name: &str) -> Option<Value> {
    let names = |v: &[super::Named]| Value::from(v.iter().map(|n| n.name.clone()).collect::<Vec<_>>());
    Some(match name {
        "AgentName" => json!(agent.name),
        "Version" => json!(env!("CARGO_PKG_VERSION")),
        "Tools" => names(&agent.tools),
        "ExpectedInputs" => {
            let mut inputs: Vec<String> = stage.inputs.iter().map(|n| n.name.clone()).collect();
            inputs.extend(p.shared_context.iter().cloned());
            inputs.extend(stage.handoff.iter().map(|n| n.name.clone()));
            json!(inputs)
        }
        "GuaranteedOutputs" => {
            let mut outputs: Vec<String> = stage.outputs.iter().map(|n| n.name.clone()).collect();
            if p.stages.last().is_some_and(|last| last.name == stage.name) {
                outputs.extend(p.outputs.iter().map(|n| n.name.clone()));
            }
            json!(outputs)
        }
        "PerformanceTargets" => json!({
            "response_time": format!("{}s", stage.timeout.map_or(DEFAULT_TASK_TIMEOUT_SECS, |t| t.as_secs())),
            "retries": stage.retries.unwrap_or(2),
        }),
        "RequiredServices" => {
            let mut out: Vec<&str> = Vec::new();
            for s in agent.tools.iter().flat_map(|t| services(&t.name)) {
                if !out.contains(s) {
                    out.push(s);
                }
            }
            json!(out)
        }
        "AvailableAgents" => Value::from(
            p.stages
                .iter()
                .flat_map(|s| s.agents.iter().map(move |a| (s, a)))
                .map(|(s, a)| json!({ "name": a.name, "stage": s.name, "tools": names(&a.tools), "role": a.role }))
                .collect::<Vec<_>>(),
        ),
        "RequiredChecks" => Value::from(stage.gates.iter().map(|g| g.name.clone()).collect::<Vec<_>>()),
        _ => return None,
    })
}

/// `contracts/<agent>.yaml` for `agent`: the pipeline's contract template
/// (else the seed's) rendered, as YAML text; `known` answers first (what
/// the tools' `describe` says of `Tools` and `Version`).
pub fn render(p: &Pipeline, stage: &Stage, agent: &Agent, known: impl Fn(&str) -> Option<Value>) -> String {
    let value = |v: &str| known(v).or_else(|| agent_value(p, stage, agent, v)).unwrap_or(Value::Null);
    // In the template's order (a JSON map would sort the keys).
    let fields: Vec<(String, Value)> = match &p.contract_template {
        Some(fields) => fields.iter().map(|f| (f.key.clone(), f.template.render_value(value))).collect(),
        None => SEED_CONTRACT_TEMPLATE
            .iter()
            .filter_map(|(key, text)| super::template::Template::parse(text).ok().map(|t| (key.to_string(), t.render_value(value))))
            .collect(),
    };
    let header = format!(
        "# The contract of agent `{}` (stage `{}` of {}), written by `taylordash contracts`.\n\
         # A run holds the agent to it: its outputs must be produced, and a task slower than\n\
         # sla.response_time is an `sla_breach` event and counted in taylordash_sla_breaches_total.\n",
        agent.name, stage.name, p.file
    );
    let body: String = fields
        .into_iter()
        .map(|(k, v)| yaml_text(&Value::Object(std::iter::once((k, v)).collect()), 0))
        .collect();
    header + &body
}

/// Block YAML for JSON values; strings are always quoted (JSON escapes are
/// valid in YAML's double-quoted style).
fn yaml_text(v: &Value, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::Object(m) if !m.is_empty() => out.push_str(&format!("{pad}{k}:\n{}", yaml_text(v, indent + 2))),
                    Value::Array(a) if !a.is_empty() => out.push_str(&format!("{pad}{k}:\n{}", yaml_text(v, indent + 2))),
                    _ => out.push_str(&format!("{pad}{k}: {}\n", scalar(v))),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        let inner = yaml_text(item, indent + 2);
                        out.push_str(&format!("{pad}- {}", inner.trim_start()));
                    }
                    _ => out.push_str(&format!("{pad}- {}\n", scalar(item))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        other => other.to_string(),
    }
}
