//! The seed's MCP integration points: which `mcp_orchestration` servers a
//! stage calls before its agents run, what the `mcp_call` plugin is told,
//! and what the orchestrator journals about each answer.
//!
//! The call itself is an ordinary task of the `mcp_call` plugin (a sandboxed
//! MCP client granted the server's `host:port`), run by a pseudo-agent
//! `mcp:<server>`; its answer lands in the workspace as
//! `mcp/<server>/<point>.md`, for the stage's agents to read. Each answer is
//! held to the server's `performance_target`: an `mcp_call` event always, an
//! `mcp_target_breach` event (and `taylordash_mcp_target_breaches_total`)
//! when slower. A failed call fails the stage like any task.

use serde_json::{Map, Value, json};

use crate::pipeline::mcp::McpServer;
use crate::pipeline::{Pipeline, Stage};

/// The plugin that makes every integration-point call.
pub const PLUGIN: &str = "mcp_call";

/// One call: a server at one of the stage's points.
#[derive(Debug, Clone, Copy)]
pub struct PointCall<'p> {
    pub server: &'p McpServer,
    pub point: &'p str,
}

impl<'p> PointCall<'p> {
    /// The pseudo-agent that runs it, as the journal and events name it.
    pub fn agent(&self) -> String {
        format!("mcp:{}", self.server.name)
    }

    pub fn task_id(&self, stage: &Stage) -> String {
        format!("{}/{}/{}#1", stage.name, self.agent(), self.point)
    }

    /// The `mcp_call` plugin's input.
    pub fn input(&self) -> Map<String, Value> {
        let mut input = Map::new();
        input.insert("server".into(), json!(self.server.name));
        input.insert("point".into(), json!(self.point));
        if let Some(role) = &self.server.role {
            input.insert("role".into(), json!(role));
        }
        input
    }

    /// The `mcp_call` event, and whether the answer missed its target.
    pub fn measured(&self, stage: &Stage, ms: i64) -> (Value, bool) {
        let target_ms = self.server.target.map(|t| t.as_millis() as u64);
        let breached = target_ms.is_some_and(|t| ms.max(0) as u64 > t);
        let event = json!({
            "stage": stage.name,
            "server": self.server.name,
            "point": self.point,
            "ms": ms,
            "target_ms": target_ms,
        });
        (event, breached)
    }
}

/// The calls a stage opens with: for each of its points in order, every
/// server serving it in the order `mcp_orchestration` lists them.
pub fn calls<'p>(pipeline: &'p Pipeline, stage: &'p Stage) -> Vec<PointCall<'p>> {
    stage
        .integration_points
        .iter()
        .flat_map(|point| {
            pipeline
                .mcp_servers
                .iter()
                .filter(|s| s.serves(&point.name))
                .map(|server| PointCall { server, point: point.name.as_str() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Context;

    const FLOW: &str = r#"
mcp_orchestration:
  context7:
    role: "knowledge_provider"
    integration_points: ["pre_implementation", "code_review"]
    performance_target: "< 5s response"
  testing:
    integration_points: ["qa_phase", "pre_implementation"]
orchestration_flow:
  stages:
    - stage: "build"
      agent: "dev"
      tools: ["planner"]
      rbac: ["admin"]
      integration_points: ["pre_implementation"]
    - stage: "qa"
      agent: "qa"
      tools: ["planner"]
      rbac: ["admin"]
      integration_points: ["qa_phase"]
"#;

    fn pipeline() -> Pipeline {
        crate::pipeline::parse("flow.yaml", FLOW, &Context::default()).expect("the flow is valid")
    }

    #[test]
    fn a_stage_calls_every_server_of_its_points_in_declared_order() {
        let p = pipeline();
        let names = |s: &Stage| calls(&p, s).iter().map(|c| format!("{}@{}", c.server.name, c.point)).collect::<Vec<_>>();
        assert_eq!(names(&p.stages[0]), ["context7@pre_implementation", "testing@pre_implementation"]);
        assert_eq!(names(&p.stages[1]), ["testing@qa_phase"]);
    }

    #[test]
    fn the_plugin_is_told_the_server_point_and_role_and_the_answer_is_timed() {
        let p = pipeline();
        let call = calls(&p, &p.stages[0])[0];
        assert_eq!(call.task_id(&p.stages[0]), "build/mcp:context7/pre_implementation#1");
        assert_eq!(
            Value::Object(call.input()),
            json!({ "server": "context7", "point": "pre_implementation", "role": "knowledge_provider" })
        );
        assert!(!call.measured(&p.stages[0], 5000).1);
        let (event, breached) = call.measured(&p.stages[0], 5001);
        assert!(breached);
        assert_eq!(event["target_ms"], 5000);
        let untimed = calls(&p, &p.stages[0])[1];
        assert!(!untimed.measured(&p.stages[0], 1_000_000).1, "no target, no breach");
    }

    #[test]
    fn a_point_no_server_serves_is_a_validation_error_with_a_hint() {
        let text = FLOW.replace(r#"integration_points: ["qa_phase"]"#, r#"integration_points: ["qa_phaze"]"#);
        let err = crate::pipeline::parse("flow.yaml", &text, &Context::default()).expect_err("a typo");
        assert_eq!(
            err.to_string().trim(),
            "flow.yaml:20:28: integration point `qa_phaze` of stage `qa` is served by no `mcp_orchestration` server \
             (did you mean \"qa_phase\"?); they serve code_review, pre_implementation, qa_phase"
        );
    }

    #[test]
    fn a_bad_target_is_a_validation_error_at_its_place() {
        let text = FLOW.replace("< 5s response", "5s response");
        let err = crate::pipeline::parse("flow.yaml", &text, &Context::default()).expect_err("no bound");
        assert_eq!(
            err.to_string().trim(),
            "flow.yaml:6:25: `mcp_orchestration.context7.performance_target`: expected `< DURATION [what]`, such as \
             `< 5s response`, not `5s response`"
        );
    }
}
