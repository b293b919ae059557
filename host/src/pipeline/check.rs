//! Checks across the whole pipeline: names that must exist (tools, gate
//! plugins, roles, stages, agents), duplicates, dependency cycles, inputs no
//! earlier stage provides, and a `final` stage that is not last.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;

use crate::yaml::diagnostic::{Diagnostics, did_you_mean};
use super::model::{Named, Pipeline, ROLES};
use super::plan;

/// What exists outside the pipeline file.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Tool names available as plugins, and the directory they came from;
    /// `None` skips the tool check.
    pub tools: Option<(BTreeSet<String>, PathBuf)>,
    /// Roles callers may have (default: admin, maintainer, viewer).
    pub roles: Vec<String>,
}

impl Context {
    pub fn with_plugins_dir(dir: PathBuf) -> Self {
        let tools = crate::catalog::tool_names(&dir);
        Context { tools: Some((tools, dir)), roles: Vec::new() }
    }

    fn roles(&self) -> Vec<&str> {
        if self.roles.is_empty() {
            ROLES.to_vec()
        } else {
            self.roles.iter().map(String::as_str).collect()
        }
    }
}

pub fn check(p: &Pipeline, cx: &Context, diags: &mut Diagnostics) {
    let file = p.file.as_str();
    let roles = cx.roles();
    let stage_names: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
    let agent_names: HashSet<&str> = p.stages.iter().flat_map(|s| s.agents.iter().map(|a| a.name.as_str())).collect();
    let mut seen = HashMap::new();

    for stage in &p.stages {
        if let Some(pos) = seen.insert(stage.name.as_str(), stage.pos) {
            diags.push(file, stage.pos, format!("duplicate stage name `{}` (first defined at {pos})", stage.name));
        }
        for agent in &stage.agents {
            for role in &agent.rbac {
                if !roles.contains(&role.name.as_str()) {
                    let hint = did_you_mean(&role.name, roles.iter().copied());
                    diags.push(file, role.pos, format!("unknown role `{}`{hint}; roles are {}", role.name, roles.join(", ")));
                }
            }
            for tool in &agent.tools {
                check_tool(file, cx, tool, &format!("tool `{}`", tool.name), diags);
            }
        }
        check_reservations(file, &stage.agents, diags);
        for gate in &stage.gates {
            let named = Named { name: gate.plugin.clone(), pos: gate.pos };
            check_tool(file, cx, &named, &format!("gate `{}` needs plugin `{}`, which", gate.name, gate.plugin), diags);
        }
        if let Some(needs) = &stage.needs {
            for need in needs {
                if !stage_names.contains(&need.name.as_str()) {
                    let hint = did_you_mean(&need.name, stage_names.iter().copied());
                    diags.push(file, need.pos, format!("`needs` names unknown stage `{}`{hint}", need.name));
                } else if need.name == stage.name {
                    diags.push(file, need.pos, format!("stage `{}` needs itself", stage.name));
                }
            }
        }
        check_integration_points(p, stage, diags);
        if let Some(backup) = &stage.backup_agent
            && !agent_names.contains(backup.name.as_str())
        {
            let hint = did_you_mean(&backup.name, agent_names.iter().copied());
            diags.push(file, backup.pos, format!("`backup_agent` names unknown agent `{}`{hint}", backup.name));
        }
    }

    let last = p.stages.len().saturating_sub(1);
    for (i, stage) in p.stages.iter().enumerate() {
        if stage.is_final && i != last {
            diags.push(
                file,
                stage.pos,
                format!("stage `{}` is marked `final` but is not the last stage (`{}` follows it)", stage.name, p.stages[i + 1].name),
            );
        }
    }

    let deps = plan::dependencies(p);
    match plan::order(&deps) {
        Err(cycle) => {
            let names: Vec<&str> = cycle.iter().map(|&i| p.stages[i].name.as_str()).collect();
            let at = cycle.first().map(|&i| p.stages[i].pos).unwrap_or_default();
            diags.push(file, at, format!("dependency cycle: {}", names.join(" -> ")));
        }
        Ok(order) => check_inputs(p, &deps, &order, diags),
    }
}

/// Every integration point a stage opens with is served by some server of
/// `mcp_orchestration` (a point nobody serves is a typo, not a no-op).
fn check_integration_points(p: &Pipeline, stage: &super::model::Stage, diags: &mut Diagnostics) {
    for point in &stage.integration_points {
        if p.mcp_servers.iter().any(|s| s.serves(&point.name)) {
            continue;
        }
        let served: BTreeSet<&str> = p.mcp_servers.iter().flat_map(|s| s.points.iter().map(|n| n.name.as_str())).collect();
        let message = if served.is_empty() {
            format!("integration point `{}` of stage `{}`: the pipeline has no `mcp_orchestration` server to call", point.name, stage.name)
        } else {
            let hint = did_you_mean(&point.name, served.iter().copied());
            format!(
                "integration point `{}` of stage `{}` is served by no `mcp_orchestration` server{hint}; they serve {}",
                point.name,
                stage.name,
                served.into_iter().collect::<Vec<_>>().join(", ")
            )
        };
        diags.push(&p.file, point.pos, message);
    }
}

fn check_tool(file: &str, cx: &Context, tool: &Named, what: &str, diags: &mut Diagnostics) {
    let Some((tools, dir)) = &cx.tools else { return };
    if !tools.contains(&tool.name) {
        let hint = did_you_mean(&tool.name, tools.iter().map(String::as_str));
        diags.push(
            file,
            tool.pos,
            format!("{what} is not a plugin: no {}.wasm in {}{hint}", tool.name, dir.display()),
        );
    }
}

/// Inputs of a stage with dependencies must come from a stage that runs
/// before it; inputs of a stage without any are the run's inputs.
fn check_inputs(p: &Pipeline, deps: &[Vec<usize>], order: &[usize], diags: &mut Diagnostics) {
    let mut available: HashSet<&str> = HashSet::new();
    let mut names: HashSet<&str> = HashSet::new();
    for s in &p.stages {
        names.extend(s.inputs.iter().map(|n| n.name.as_str()));
        names.extend(s.outputs.iter().map(|n| n.name.as_str()));
        names.extend(s.gates.iter().map(|g| g.name.as_str()));
    }
    for &i in order {
        let stage = &p.stages[i];
        if deps[i].is_empty() {
            available.extend(stage.inputs.iter().map(|n| n.name.as_str()));
        } else {
            for input in &stage.inputs {
                if !available.contains(input.name.as_str()) {
                    diags.push(
                        &p.file,
                        input.pos,
                        format!(
                            "input `{}` of stage `{}` is produced by no stage that runs before it, and only the first stage's inputs come from the run",
                            input.name, stage.name
                        ),
                    );
                }
            }
        }
        available.extend(stage.outputs.iter().map(|n| n.name.as_str()));
        // A gate's verdict is an artifact named after the gate.
        available.extend(stage.gates.iter().map(|g| g.name.as_str()));
        if let Some(cond) = &stage.condition {
            let name = cond.name.trim_start_matches('!');
            if !names.contains(name) {
                diags.push(&p.file, cond.pos, format!("`if` names `{name}`, which is no input or output of this pipeline"));
            }
        }
    }
}

/// Two agents of one stage may not reserve the same path (or one inside the
/// other's directory); a reservation is a relative path inside the workspace.
fn check_reservations(file: &str, agents: &[super::model::Agent], diags: &mut Diagnostics) {
    use super::model::reserved_by;
    let mut taken: Vec<(&str, &Named)> = Vec::new();
    for agent in agents {
        for path in &agent.reserves {
            let p = path.name.as_str();
            if p.is_empty() || p.starts_with('/') || p.split('/').any(|c| c == "..") {
                diags.push(file, path.pos, format!("`reserves`: `{p}` must be a relative path inside the workspace"));
                continue;
            }
            let overlap = taken.iter().find(|(other, q)| *other != agent.name && (reserved_by(&q.name, p) || reserved_by(p, &q.name)));
            if let Some((other, q)) = overlap {
                diags.push(
                    file,
                    path.pos,
                    format!("`reserves`: `{p}` of agent `{}` overlaps `{}`, reserved by agent `{other}` at {}", agent.name, q.name, q.pos),
                );
            }
            taken.push((agent.name.as_str(), path));
        }
    }
}
