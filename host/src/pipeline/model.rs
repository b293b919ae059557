//! The pipeline model and its reading from a YAML tree.
//!
//! Two document shapes are accepted verbatim from the seed: an
//! `orchestration_flow` (stages) and a specialist-agent `combination` (agents
//! plus a coordination style, turned here into stages). Reading never stops
//! at the first problem: each is recorded with its position and reading goes
//! on, so `taylordash validate` reports every problem at once.

use std::time::Duration;

pub use crate::yaml::Named;
use crate::units::parse_duration;
use crate::yaml::diagnostic::{Diagnostics, did_you_mean};
use crate::yaml::reader::{Reader, Wording};
use crate::yaml::{Node, Pos, Value};
use super::mcp::{self, McpServer};
use super::template::Template;

#[derive(Debug, Clone, PartialEq)]
pub struct Policies {
    /// Merging a task's /out never overwrites or deletes a workspace file.
    pub add_only: bool,
    /// The run fails unless some documentation artifact was produced.
    pub docs_required: bool,
    /// Every task carries trace ids.
    pub trace_required: bool,
    /// Consecutive failed attempts after which the run halts for review.
    pub max_consecutive_failures: u32,
    /// No progress for this long flags circular coordination.
    pub stall_timeout: Duration,
}

impl Default for Policies {
    fn default() -> Self {
        Policies {
            add_only: false,
            docs_required: false,
            trace_required: false,
            max_consecutive_failures: 3,
            stall_timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub name: String,
    pub pos: Pos,
    pub tools: Vec<Named>,
    /// Roles that may run this agent.
    pub rbac: Vec<Named>,
    pub role: Option<String>,
    /// Paths only this agent may write in its stage (`app/` reserves a
    /// directory): another agent's write there is rolled back.
    pub reserves: Vec<Named>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    pub name: String,
    pub pos: Pos,
    /// The plugin that runs the check (default: the gate's name).
    pub plugin: String,
    /// A failing security gate halts the run for human review at once.
    pub security: bool,
    /// `blocking: false`: the verdict is reported (an event, and an artifact
    /// named after the gate for later stages) but never fails the stage.
    pub blocking: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub factor: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { initial: Duration::from_millis(200), max: Duration::from_secs(10), factor: 2.0 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub name: String,
    pub pos: Pos,
    pub agents: Vec<Agent>,
    pub inputs: Vec<Named>,
    pub outputs: Vec<Named>,
    pub parallel: bool,
    pub coordination: Option<Named>,
    pub gates: Vec<Gate>,
    pub is_final: bool,
    /// Explicit dependencies; `None` means "the previous stage".
    pub needs: Option<Vec<Named>>,
    pub timeout: Option<Duration>,
    /// Retries of a failed task or failed gates; `None`: the default.
    pub retries: Option<u32>,
    pub backoff: Backoff,
    pub backup_agent: Option<Named>,
    /// Run only when this input or artifact exists (`!name`: when it does not).
    pub condition: Option<Named>,
    /// Artifacts the earlier stages must have produced before this one
    /// starts (a combination's `handoff_artifacts`, handed to its last agent).
    pub handoff: Vec<Named>,
    /// Integration points the stage opens with: every `mcp_orchestration`
    /// server serving one is called before the stage's agents run.
    pub integration_points: Vec<Named>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// The file as given (used in diagnostics).
    pub file: String,
    pub name: String,
    pub policies: Policies,
    pub stages: Vec<Stage>,
    pub shared_context: Vec<String>,
    /// Artifacts the whole run must have produced (a combination's `outputs`).
    pub outputs: Vec<Named>,
    /// The seed's `template_integration`: rendered per task into the tool's
    /// `shared_context` under each key.
    pub template_integration: Vec<TemplateField>,
    /// The seed's `agent_contract_template`, when the document gives one
    /// (`taylordash contracts` renders it per agent; else the seed's).
    pub contract_template: Option<Vec<TemplateField>>,
    /// The seed's `mcp_orchestration` servers.
    pub mcp_servers: Vec<McpServer>,
}

/// One key of a template block: `orchestrator_context: "{{.OrchestrationState}}"`.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateField {
    pub key: String,
    pub pos: Pos,
    pub template: Template,
}

pub const ROLES: [&str; 3] = ["admin", "maintainer", "viewer"];
pub const COORDINATIONS: [&str; 5] = [
    "event_driven",
    "parallel_execution",
    "sequential_execution",
    "sequential_handoff",
    "sequential_research_to_implementation",
];
/// Top-level blocks of a flow document besides `orchestration_flow`.
const DOCUMENT_KEYS: [&str; 3] = ["orchestration_flow", "mcp_orchestration", "context7_code_review"];
const REVIEW_KEYS: [&str; 3] = ["trigger", "workflow", "output"];
const FLOW_KEYS: [&str; 6] =
    ["entry", "policies", "stages", "shared_context", "template_integration", "agent_contract_template"];
const POLICY_KEYS: [&str; 5] =
    ["add_only", "docs_required", "trace_required", "max_consecutive_failures", "stall_timeout"];
const STAGE_KEYS: [&str; 18] = [
    "stage", "agent", "agents", "tools", "rbac", "inputs", "outputs", "parallel", "coordination", "gates",
    "final", "needs", "timeout", "retries", "backoff", "backup_agent", "if", "integration_points",
];
const AGENT_KEYS: [&str; 5] = ["name", "tools", "rbac", "role", "reserves"];
const GATE_KEYS: [&str; 4] = ["gate", "plugin", "security", "blocking"];
const BACKOFF_KEYS: [&str; 3] = ["initial", "max", "factor"];
const COMBINATION_KEYS: [&str; 10] = [
    "combination", "success_rate", "use_cases", "agents", "coordination", "shared_context",
    "handoff_artifacts", "outputs", "template_integration", "agent_contract_template",
];
const COMBINATION_AGENT_KEYS: [&str; 5] = ["tools", "role", "integration", "rbac", "reserves"];

/// Read a pipeline document (either shape). Problems go to `diags`.
pub fn read(file: &str, root: &Node, diags: &mut Diagnostics) -> Pipeline {
    let mut r = Reader::new(file, diags, Wording::Field);
    let mut pipeline = Pipeline {
        file: file.to_string(),
        name: String::new(),
        policies: Policies::default(),
        stages: Vec::new(),
        shared_context: Vec::new(),
        outputs: Vec::new(),
        template_integration: Vec::new(),
        contract_template: None,
        mcp_servers: Vec::new(),
    };
    let Value::Map(top) = &root.value else {
        r.wrong_type(root, "the document", "a mapping");
        return pipeline;
    };
    let is_combination = top.iter().any(|(k, _)| k.as_str() == Some("combination"));
    if is_combination {
        read_combination(&mut r, root, &mut pipeline);
    } else {
        let mut saw_flow = false;
        for (key, v) in r.fields(root, "the document", &DOCUMENT_KEYS) {
            match key {
                "orchestration_flow" => {
                    saw_flow = true;
                    read_flow(&mut r, v, &mut pipeline);
                }
                "mcp_orchestration" => pipeline.mcp_servers = mcp::read(&mut r, v),
                "context7_code_review" => read_review(&mut r, v, &mut pipeline),
                _ => {}
            }
        }
        if !saw_flow {
            r.error(root.pos, "expected `orchestration_flow:` or `combination:`");
        }
    }
    pipeline
}

fn read_flow(r: &mut Reader<'_>, flow: &Node, p: &mut Pipeline) {
    let mut saw_stages = false;
    for (key, v) in r.fields(flow, "orchestration_flow", &FLOW_KEYS) {
        match key {
            "entry" => p.name = r.string(v, "entry").unwrap_or_default(),
            "policies" => read_policies(r, v, &mut p.policies),
            "shared_context" => p.shared_context = r.strings(v, "shared_context"),
            "template_integration" => p.template_integration = read_templates(r, v, key),
            "agent_contract_template" => p.contract_template = Some(read_templates(r, v, key)),
            "stages" => {
                saw_stages = true;
                match &v.value {
                    Value::Seq(items) => p.stages = items.iter().filter_map(|s| read_stage(r, s)).collect(),
                    _ => r.wrong_type(v, "stages", "a list of stages"),
                }
            }
            _ => {}
        }
    }
    if !saw_stages {
        r.error(flow.pos, "orchestration_flow has no `stages`");
    }
}

fn read_policies(r: &mut Reader<'_>, node: &Node, policies: &mut Policies) {
    for (key, v) in r.fields(node, "policies", &POLICY_KEYS) {
        match key {
            "add_only" => policies.add_only = r.boolean(v, key).unwrap_or(policies.add_only),
            "docs_required" => policies.docs_required = r.boolean(v, key).unwrap_or(policies.docs_required),
            "trace_required" => policies.trace_required = r.boolean(v, key).unwrap_or(policies.trace_required),
            "max_consecutive_failures" => {
                policies.max_consecutive_failures = r.count(v, key).unwrap_or(policies.max_consecutive_failures)
            }
            "stall_timeout" => policies.stall_timeout = duration(r, v, key).unwrap_or(policies.stall_timeout),
            _ => {}
        }
    }
}

fn read_stage(r: &mut Reader<'_>, node: &Node) -> Option<Stage> {
    let entries = r.fields_recovering(node, "a stage", &STAGE_KEYS);
    if entries.is_empty() && !matches!(node.value, Value::Map(_)) {
        return None;
    }
    let mut stage = Stage {
        name: String::new(),
        pos: node.pos,
        agents: Vec::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        parallel: false,
        coordination: None,
        gates: Vec::new(),
        is_final: false,
        needs: None,
        timeout: None,
        retries: None,
        backoff: Backoff::default(),
        backup_agent: None,
        condition: None,
        handoff: Vec::new(),
        integration_points: Vec::new(),
    };
    let mut single_agent: Option<Named> = None;
    let mut stage_tools: Option<Vec<Named>> = None;
    let mut stage_rbac: Option<Vec<Named>> = None;
    let mut agents_node: Option<&Node> = None;
    for (key, v) in entries {
        match key {
            "stage" => stage.name = r.string(v, "stage").unwrap_or_default(),
            "agent" => single_agent = r.named(v, "agent"),
            "agents" => agents_node = Some(v),
            "tools" => stage_tools = Some(r.names(v, "tools")),
            "rbac" => stage_rbac = Some(r.names(v, "rbac")),
            "inputs" => stage.inputs = r.names(v, "inputs"),
            "outputs" => stage.outputs = r.names(v, "outputs"),
            "parallel" => stage.parallel = r.boolean(v, key).unwrap_or(false),
            "coordination" => stage.coordination = r.named(v, key),
            "gates" => stage.gates = read_gates(r, v),
            "final" => stage.is_final = r.boolean(v, key).unwrap_or(false),
            "needs" => stage.needs = Some(r.names(v, "needs")),
            "timeout" => stage.timeout = duration(r, v, key),
            "retries" => stage.retries = r.count(v, key),
            "backoff" => stage.backoff = read_backoff(r, v),
            "backup_agent" => stage.backup_agent = r.named(v, key),
            "if" => stage.condition = r.named(v, key),
            "integration_points" => stage.integration_points = r.names(v, key),
            _ => {}
        }
    }
    if stage.name.is_empty() {
        r.error(node.pos, "a stage needs a name: `stage: <name>`");
    }
    let stage_rbac_or = |rbac: Option<Vec<Named>>| rbac.or_else(|| stage_rbac.clone()).unwrap_or_default();
    match (single_agent, agents_node) {
        (Some(_), Some(agents)) => r.error(agents.pos, "a stage has either `agent` or `agents`, not both"),
        (Some(agent), None) => stage.agents.push(Agent {
            name: agent.name,
            pos: agent.pos,
            tools: stage_tools.take().unwrap_or_default(),
            rbac: stage_rbac_or(None),
            role: None,
            reserves: Vec::new(),
        }),
        (None, Some(agents)) => match &agents.value {
            Value::Seq(items) => {
                for item in items {
                    let mut agent =
                        Agent { name: String::new(), pos: item.pos, tools: Vec::new(), rbac: Vec::new(), role: None, reserves: Vec::new() };
                    let mut rbac = None;
                    for (key, v) in r.fields_recovering(item, "an agent", &AGENT_KEYS) {
                        match key {
                            "name" => agent.name = r.string(v, "name").unwrap_or_default(),
                            "tools" => agent.tools = r.names(v, "tools"),
                            "rbac" => rbac = Some(r.names(v, "rbac")),
                            "role" => agent.role = r.string(v, "role"),
                            "reserves" => agent.reserves = r.names(v, "reserves"),
                            _ => {}
                        }
                    }
                    if agent.name.is_empty() {
                        r.error(item.pos, "an agent needs a `name`");
                    }
                    agent.rbac = stage_rbac_or(rbac);
                    stage.agents.push(agent);
                }
            }
            _ => r.wrong_type(agents, "agents", "a list of agents"),
        },
        (None, None) => r.error(node.pos, format!("stage `{}` has no `agent` or `agents`", stage.name)),
    }
    if let Some(tools) = stage_tools
        && (stage.agents.len() != 1 || !stage.agents[0].tools.is_empty())
        && let Some(t) = tools.first()
    {
        r.error(t.pos, "stage-level `tools` belong with a single `agent`; give each of `agents` its own `tools`");
    }
    if let Some(c) = &stage.coordination
        && !COORDINATIONS.contains(&c.name.as_str())
    {
        let hint = did_you_mean(&c.name, COORDINATIONS);
        r.error(c.pos, format!("unknown coordination `{}`{hint}", c.name));
    }
    Some(stage)
}

fn read_gates(r: &mut Reader<'_>, node: &Node) -> Vec<Gate> {
    let Value::Seq(items) = &node.value else {
        r.wrong_type(node, "gates", "a list of gates");
        return Vec::new();
    };
    let mut gates = Vec::new();
    for item in items {
        if let Value::Map(_) = item.value {
            let mut gate = Gate { name: String::new(), pos: item.pos, plugin: String::new(), security: false, blocking: true };
            let mut security = None;
            for (key, v) in r.fields(item, "a gate", &GATE_KEYS) {
                match key {
                    "gate" => gate.name = r.string(v, key).unwrap_or_default(),
                    "plugin" => gate.plugin = r.string(v, key).unwrap_or_default(),
                    "security" => security = r.boolean(v, key),
                    "blocking" => gate.blocking = r.boolean(v, key).unwrap_or(true),
                    _ => {}
                }
            }
            if gate.name.is_empty() {
                r.error(item.pos, "a gate needs a name: `gate: <name>`");
                continue;
            }
            if gate.plugin.is_empty() {
                gate.plugin = gate.name.clone();
            }
            gate.security = security.unwrap_or_else(|| is_security_gate(&gate.name));
            gates.push(gate);
        } else if let Some(n) = r.named(item, "gates") {
            gates.push(Gate { plugin: n.name.clone(), security: is_security_gate(&n.name), name: n.name, pos: n.pos, blocking: true });
        }
    }
    gates
}

/// Gates named for security halt the run when they fail, as the seed asks
/// ("security_violations: any security gate failure" → manual review).
fn is_security_gate(name: &str) -> bool {
    name.contains("security")
}

fn read_backoff(r: &mut Reader<'_>, node: &Node) -> Backoff {
    let mut backoff = Backoff::default();
    if !matches!(node.value, Value::Map(_)) {
        if let Some(d) = duration(r, node, "backoff") {
            backoff.initial = d;
        }
        return backoff;
    }
    for (key, v) in r.fields(node, "backoff", &BACKOFF_KEYS) {
        match key {
            "initial" => backoff.initial = duration(r, v, key).unwrap_or(backoff.initial),
            "max" => backoff.max = duration(r, v, key).unwrap_or(backoff.max),
            "factor" => match v.as_str().and_then(|t| t.parse::<f64>().ok()).filter(|f| *f >= 1.0) {
                Some(f) => backoff.factor = f,
                None => r.wrong_type(v, "factor", "a number of at least 1"),
            },
            _ => {}
        }
    }
    backoff
}

/// A combination document: its agents become stages, by coordination style.
fn read_combination(r: &mut Reader<'_>, root: &Node, p: &mut Pipeline) {
    let mut agents: Vec<Agent> = Vec::new();
    let mut coordination: Option<Named> = None;
    let mut outputs: Vec<Named> = Vec::new();
    let mut handoff: Vec<Named> = Vec::new();
    for (key, v) in r.fields(root, "a combination", &COMBINATION_KEYS) {
        match key {
            "combination" => p.name = r.string(v, key).unwrap_or_default(),
            "success_rate" | "integration" => {
                r.string(v, key);
            }
            "use_cases" => {
                r.strings(v, key);
            }
            "shared_context" => p.shared_context = r.strings(v, key),
            "template_integration" => p.template_integration = read_templates(r, v, key),
            "agent_contract_template" => p.contract_template = Some(read_templates(r, v, key)),
            "handoff_artifacts" => handoff = r.names(v, key),
            "outputs" => outputs = r.names(v, key),
            "coordination" => coordination = r.named(v, key),
            "agents" => {
                let Value::Map(entries) = &v.value else {
                    r.wrong_type(v, "agents", "a mapping of agent name to agent");
                    continue;
                };
                for (name_node, body) in entries {
                    let Some(name) = r.string(name_node, "agent name") else { continue };
                    let mut agent =
                        Agent { name, pos: name_node.pos, tools: Vec::new(), rbac: Vec::new(), role: None, reserves: Vec::new() };
                    let mut rbac = None;
                    for (key, v) in r.fields(body, "an agent", &COMBINATION_AGENT_KEYS) {
                        match key {
                            "tools" => agent.tools = r.names(v, key),
                            "role" => agent.role = r.string(v, key),
                            "integration" => {
                                r.string(v, key);
                            }
                            "rbac" => rbac = Some(r.names(v, key)),
                            "reserves" => agent.reserves = r.names(v, key),
                            _ => {}
                        }
                    }
                    agent.rbac = rbac.unwrap_or_else(|| default_rbac(agent.pos));
                    agents.push(agent);
                }
            }
            _ => {}
        }
    }
    let Some(coordination) = coordination else {
        r.error(root.pos, "a combination needs a `coordination`");
        return;
    };
    if !COORDINATIONS.contains(&coordination.name.as_str()) {
        let hint = did_you_mean(&coordination.name, COORDINATIONS);
        r.error(coordination.pos, format!("unknown coordination `{}`{hint}", coordination.name));
        return;
    }
    let stage = |name: String, pos: Pos, agents: Vec<Agent>, parallel: bool| Stage {
        name,
        pos,
        agents,
        inputs: Vec::new(),
        outputs: Vec::new(),
        parallel,
        coordination: Some(coordination.clone()),
        gates: Vec::new(),
        is_final: false,
        needs: None,
        timeout: None,
        retries: None,
        backoff: Backoff::default(),
        backup_agent: None,
        condition: None,
        handoff: Vec::new(),
        integration_points: Vec::new(),
    };
    let sequential = coordination.name.starts_with("sequential");
    if sequential {
        p.stages = agents.into_iter().map(|a| stage(a.name.clone(), a.pos, vec![a], false)).collect();
    } else {
        p.stages = vec![stage("combination".into(), root.pos, agents, true)];
    }
    p.outputs = outputs;
    // What the agents hand over must exist before the last one starts; with
    // one parallel stage there is no hand-over inside the run, so the
    // artifacts must exist at its end.
    let stages = p.stages.len();
    if sequential && stages > 1 {
        p.stages[stages - 1].handoff = handoff;
    } else {
        p.outputs.extend(handoff);
    }
}

/// The seed's `context7_code_review` block (`trigger`, `workflow`, `output`):
/// its `output` is an artifact the run must produce. The workflow's steps
/// are prose; the flow's stages are what runs them.
fn read_review(r: &mut Reader<'_>, node: &Node, p: &mut Pipeline) {
    for (key, v) in r.fields(node, "context7_code_review", &REVIEW_KEYS) {
        let field = format!("context7_code_review.{key}");
        match key {
            "trigger" => {
                r.string(v, &field);
            }
            "workflow" => {
                r.strings(v, &field);
            }
            "output" => p.outputs.extend(r.named(v, &field)),
            _ => {}
        }
    }
}

/// A block of templates (`key: "text with {{.Variables}}"`); each problem is
/// reported where it is written.
fn read_templates(r: &mut Reader<'_>, node: &Node, what: &str) -> Vec<TemplateField> {
    let mut out = Vec::new();
    for (key_node, key, v) in r.mapping(node, what) {
        let field = format!("{what}.{key}");
        let Some(text) = r.string(v, &field) else { continue };
        match Template::parse(&text) {
            Ok(template) => out.push(TemplateField { key: key.to_string(), pos: key_node.pos, template }),
            Err(e) => {
                let quoted = matches!(v.value, Value::Scalar { plain: false, .. });
                r.error(offset_pos(v.pos, quoted, &text, e.offset), format!("`{field}`: {}", e.message));
            }
        }
    }
    out
}

/// Where character `offset` of a scalar's text was written (exact for
/// one-line scalars, the usual place of a template).
fn offset_pos(start: Pos, quoted: bool, text: &str, offset: usize) -> Pos {
    let before: String = text.chars().take(offset).collect();
    match before.rfind('\n') {
        None => Pos { line: start.line, col: start.col + usize::from(quoted) + offset },
        Some(nl) => Pos { line: start.line + before.matches('\n').count(), col: before[nl + 1..].chars().count() + 1 },
    }
}

/// Whether `path` (workspace-relative) falls under `reserved` (a file, or a
/// directory when it ends in `/`).
pub fn reserved_by(reserved: &str, path: &str) -> bool {
    match reserved.strip_suffix('/') {
        Some(dir) => path.starts_with(reserved) || path == dir,
        None => path == reserved,
    }
}

/// A duration such as `30s`.
fn duration(r: &mut Reader<'_>, node: &Node, field: &str) -> Option<Duration> {
    let text = node.as_str().filter(|_| !matches!(node.value, Value::Seq(_) | Value::Map(_)));
    match text.map(parse_duration) {
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => {
            r.error(node.pos, format!("`{field}`: {e}"));
            None
        }
        None => {
            r.wrong_type(node, field, "a duration such as 30s");
            None
        }
    }
}

/// Roles that may run an agent whose document names none: the two that may
/// change a workspace. A viewer must be named explicitly.
fn default_rbac(pos: Pos) -> Vec<Named> {
    ["admin", "maintainer"].iter().map(|r| Named { name: r.to_string(), pos }).collect()
}
