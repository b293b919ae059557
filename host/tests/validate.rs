//! `taylordash validate` semantics through the library: every rule gives
//! its exact `file:line:col: message`, all problems are reported at once,
//! and the seed's documents are read verbatim.

use std::collections::BTreeSet;
use std::path::PathBuf;

use taylordash::pipeline::{self, Context};

fn cx() -> Context {
    let tools: BTreeSet<String> = ["planner", "probe", "echo"].iter().map(|s| s.to_string()).collect();
    Context { tools: Some((tools, PathBuf::from("plugins-dir"))), roles: Vec::new() }
}

fn problems(yaml: &str) -> Vec<String> {
    match pipeline::parse("p.yaml", yaml, &cx()) {
        Ok(_) => Vec::new(),
        Err(d) => d.0.iter().map(|d| d.to_string()).collect(),
    }
}

const GOOD: &str = r#"
orchestration_flow:
  entry: "t"
  stages:
    - stage: "plan"
      agent: "pm"
      tools: ["planner"]
      rbac: ["admin"]
      inputs: ["backlog"]
      outputs: ["session_plan"]
    - stage: "build"
      agent: "dev"
      tools: ["probe"]
      rbac: ["admin", "maintainer"]
      inputs: ["session_plan"]
      final: true
"#;

#[test]
fn a_good_pipeline_has_no_problems() {
    assert_eq!(problems(GOOD), Vec::<String>::new());
}

#[test]
fn unknown_keys_get_a_did_you_mean() {
    let yaml = GOOD.replace("      agent: \"pm\"", "      agnet: \"pm\"");
    assert_eq!(
        problems(&yaml),
        // Read on as the `agent` it misspells: no follow-on about a stage
        // without an agent or about stage-level `tools`.
        ["p.yaml:6:7: unknown key `agnet` in a stage (did you mean \"agent\"?)"]
    );
}

#[test]
fn wrong_types_are_named() {
    let yaml = GOOD.replace("      final: true", "      final: \"yes\"").replace("rbac: [\"admin\"]", "rbac: \"admin\"");
    assert_eq!(
        problems(&yaml),
        ["p.yaml:8:13: `rbac` must be a list of names, found a string", "p.yaml:16:14: `final` must be true or false, found a string"]
    );
}

#[test]
fn unknown_tools_and_roles_are_named_with_suggestions() {
    let yaml = GOOD.replace("[\"planner\"]", "[\"planer\", \"fastapi_gen\"]").replace("[\"admin\", \"maintainer\"]", "[\"admin\", \"maintaner\"]");
    assert_eq!(
        problems(&yaml),
        [
            "p.yaml:7:15: tool `planer` is not a plugin: no planer.wasm in plugins-dir (did you mean \"planner\"?)",
            "p.yaml:7:25: tool `fastapi_gen` is not a plugin: no fastapi_gen.wasm in plugins-dir",
            "p.yaml:14:23: unknown role `maintaner` (did you mean \"maintainer\"?); roles are admin, maintainer, viewer",
        ]
    );
}

#[test]
fn duplicate_stages_and_unprovided_inputs() {
    let yaml = GOOD.replace("stage: \"build\"", "stage: \"plan\"").replace("inputs: [\"session_plan\"]", "inputs: [\"session_plan\", \"wishes\"]");
    assert_eq!(
        problems(&yaml),
        [
            "p.yaml:11:7: duplicate stage name `plan` (first defined at 5:7)",
            "p.yaml:15:32: input `wishes` of stage `plan` is produced by no stage that runs before it, and only the first stage's inputs come from the run",
        ]
    );
}

#[test]
fn cycles_are_named_in_order() {
    let yaml = r#"
orchestration_flow:
  stages:
    - { stage: "a", agent: "x", tools: ["echo"], rbac: ["admin"], needs: ["c"] }
    - { stage: "b", agent: "x", tools: ["echo"], rbac: ["admin"], needs: ["a"] }
    - { stage: "c", agent: "x", tools: ["echo"], rbac: ["admin"], needs: ["b"] }
"#;
    assert_eq!(problems(yaml), ["p.yaml:4:7: dependency cycle: a -> b -> c -> a"]);
}

#[test]
fn a_final_stage_must_be_last() {
    let yaml = GOOD.replace("      outputs: [\"session_plan\"]", "      outputs: [\"session_plan\"]\n      final: true");
    assert_eq!(
        problems(&yaml),
        ["p.yaml:5:7: stage `plan` is marked `final` but is not the last stage (`build` follows it)"]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let yaml = GOOD.replace("agent: \"pm\"", "agent: \"pm\"\n      paralel: true").replace("[\"probe\"]", "[\"nope\"]").replace("[\"admin\"]", "[\"root\"]");
    assert_eq!(problems(&yaml).len(), 3, "{:?}", problems(&yaml));
}

#[test]
fn yaml_bombs_are_refused_quickly() {
    let laughs = "a: &a [\"lol\",\"lol\",\"lol\"]\nb: &b [*a,*a,*a]\nc: &c [*b,*b,*b]\n";
    assert_eq!(problems(laughs), ["p.yaml:1:4: anchors (`&name`) are not supported in pipelines"]);
    let deep = format!("orchestration_flow: {}{}", "[".repeat(10_000), "]".repeat(10_000));
    let started = std::time::Instant::now();
    let p = problems(&deep);
    assert_eq!(p.len(), 1);
    assert!(p[0].starts_with("p.yaml:1:") && p[0].contains("nesting too deep"), "{p:?}");
    let mut nested = String::from("x");
    for _ in 0..100 {
        nested = format!("{{k: {nested}}}");
    }
    let p = problems(&format!("orchestration_flow: {nested}"));
    assert_eq!(p, ["p.yaml:1:273: nesting deeper than 64 levels"]);
    assert!(started.elapsed().as_secs() < 2);
}

#[test]
fn template_variables_are_checked_where_they_are_written() {
    let doc = "combination: \"a\"\nagents:\n  a:\n    tools: [\"planner\"]\ncoordination: sequential_execution\n\
               template_integration:\n  orchestrator_context: \"{{.OrchestrationState}}\"\n  roster: \"agents: {{.AvailableAgent}}\"\n\
               agent_contract_template:\n  name: \"{{.AgentName}}\"\n  sla: \"{{.PerformanceTargets | json}}\"\n  deps: \"{{.RequiredServices\"\n";
    assert_eq!(
        problems(doc),
        [
            "p.yaml:8:20: `template_integration.roster`: unknown template variable `.AvailableAgent` (did you mean \"AvailableAgents\"?); \
             known: OrchestrationState, AvailableAgents, TaskHistory, RequiredChecks, MCPEndpoints, AgentName, Version, Tools, \
             ExpectedInputs, GuaranteedOutputs, PerformanceTargets, RequiredServices",
            "p.yaml:11:9: `agent_contract_template.sla`: `{{.PerformanceTargets | json}}`: only variables (`{{.Name}}`) are supported: no \
             actions, functions or pipes",
            "p.yaml:12:10: `agent_contract_template.deps`: `{{` is never closed by `}}`",
        ]
    );
}

#[test]
fn the_seed_documents_parse_verbatim() {
    let dir = xtask::workspace_root().join("pipelines");
    let no_tool_check = Context::default();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let p = pipeline::load(&path, &no_tool_check).unwrap_or_else(|d| panic!("{d}"));
            assert!(!p.stages.is_empty());
            let name = path.file_name().unwrap().to_string_lossy();
            if name == "orchestration_flow.yaml" || name.starts_with("combination_") {
                seen += 1;
            }
        }
    }
    assert_eq!(seen, 5, "the flow and four combinations (other pipelines parse too)");
    let flow = pipeline::load(&dir.join("orchestration_flow.yaml"), &no_tool_check).unwrap();
    let names: Vec<&str> = flow.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["planning", "execution", "validation", "documentation"]);
    assert!(flow.policies.add_only && flow.policies.docs_required && flow.policies.trace_required);
    assert!(flow.stages[1].parallel);
    assert_eq!(flow.stages[1].agents.len(), 3);
    assert_eq!(flow.stages[2].gates.iter().filter(|g| g.security).count(), 1);
}
