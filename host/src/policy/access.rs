//! Who may do what under a policy: which stages of a pipeline each principal
//! may run, and which powerful grants (exec, env) each would get.
//!
//! The rules are the ones applied at run time, restated for a report: an
//! agent admits a caller whose role its `rbac` names (the orchestrator's
//! `check_rbac`, which refuses a whole run unless every agent admits the
//! caller), and a plugin's exec/env grants reach a caller only when the role
//! is at least `max_role_to_grant` ([`PluginPolicy::powerful_allowed`]). A
//! pipeline has no field that asks for capabilities: what a call gets comes
//! from the policy alone, so there is nothing in a pipeline to widen a grant.

use serde::Serialize;

use super::{PluginPolicy, Policy};
use crate::pipeline::Pipeline;

/// What one principal may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    /// `None`: anyone the policy does not name (they have no role).
    pub principal: Option<String>,
    /// `None`: no role.
    pub role: Option<String>,
    /// The stages with at least one agent this principal may run.
    pub stages: Vec<StageAccess>,
    /// Whether every agent of every stage admits the principal: a run is
    /// refused before anything starts otherwise.
    pub may_run_pipeline: bool,
    /// The plugins with powerful grants this principal's stages use (or,
    /// without a pipeline, every such plugin of the policy).
    pub grants: Vec<PowerfulGrant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageAccess {
    pub stage: String,
    /// The agents of the stage this principal may run.
    pub agents: Vec<String>,
    /// Whether that is every agent of the stage.
    pub all_agents: bool,
}

/// A plugin's powerful grants, as one caller would (not) get them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PowerfulGrant {
    pub plugin: String,
    pub granted: bool,
    /// `max_role_to_grant` (default: admin).
    pub needs_role: String,
    pub exec: Vec<String>,
    pub env: Vec<String>,
}

/// Everyone the policy names, then anyone else.
fn callers(policy: &Policy) -> Vec<(Option<String>, Option<String>)> {
    let mut out: Vec<_> = policy.principals.iter().map(|(p, r)| (Some(p.clone()), Some(r.clone()))).collect();
    out.push((None, None));
    out
}

fn powerful(policy: &Policy, role: Option<&str>, plugin: &str, pp: &PluginPolicy) -> PowerfulGrant {
    PowerfulGrant {
        plugin: plugin.to_string(),
        granted: role.is_some_and(|r| pp.powerful_allowed(policy, r)),
        needs_role: pp.needed_role().to_string(),
        exec: pp.grants.exec.as_ref().map(|e| e.programs.clone()).unwrap_or_default(),
        env: pp.grants.env.clone(),
    }
}

/// Which stages of `pipeline` each principal may run, and the powerful
/// grants of the plugins those stages use.
pub fn pipeline_access(policy: &Policy, pipeline: &Pipeline) -> Vec<Access> {
    callers(policy)
        .into_iter()
        .map(|(principal, role)| {
            let admits = |rbac: &[crate::pipeline::Named]| role.as_deref().is_some_and(|r| rbac.iter().any(|n| n.name == r));
            let mut stages = Vec::new();
            let mut plugins: Vec<&str> = Vec::new();
            let mut everything = true;
            for stage in &pipeline.stages {
                let agents: Vec<_> = stage.agents.iter().filter(|a| admits(&a.rbac)).collect();
                everything &= agents.len() == stage.agents.len();
                if agents.is_empty() {
                    continue;
                }
                // Gates run on behalf of the stage, hence of its caller.
                let used = agents.iter().flat_map(|a| a.tools.iter().map(|t| t.name.as_str()));
                for plugin in used.chain(stage.gates.iter().map(|g| g.plugin.as_str())) {
                    if !plugins.contains(&plugin) {
                        plugins.push(plugin);
                    }
                }
                stages.push(StageAccess {
                    stage: stage.name.clone(),
                    agents: agents.iter().map(|a| a.name.clone()).collect(),
                    all_agents: agents.len() == stage.agents.len(),
                });
            }
            let grants = plugins
                .into_iter()
                .filter_map(|name| policy.plugins.get(name).map(|pp| (name, pp)))
                .filter(|(_, pp)| pp.has_powerful_grants())
                .map(|(name, pp)| powerful(policy, role.as_deref(), name, pp))
                .collect();
            Access { principal, role, stages, may_run_pipeline: everything && !pipeline.stages.is_empty(), grants }
        })
        .collect()
}

/// Without a pipeline: the powerful grants of every plugin of the policy,
/// as each principal would get them.
pub fn policy_access(policy: &Policy) -> Vec<Access> {
    callers(policy)
        .into_iter()
        .map(|(principal, role)| {
            let grants = policy
                .plugins
                .iter()
                .filter(|(_, pp)| pp.has_powerful_grants())
                .map(|(name, pp)| powerful(policy, role.as_deref(), name, pp))
                .collect();
            Access { principal, role, stages: Vec::new(), may_run_pipeline: false, grants }
        })
        .collect()
}
