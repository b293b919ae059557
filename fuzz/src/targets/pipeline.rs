//! `pipeline`: the positioned YAML reader (`taylordash::yaml::parse`) and
//! pipeline reading and validation (`taylordash::pipeline::parse`), on text
//! mutated from `pipelines/*.yaml` and the seed document's YAML.
//!
//! Properties (a panic is a crash):
//! - neither panics, whatever the bytes (invalid UTF-8 is read lossily, as
//!   a file's text would be after `read_to_string` fails over to an error);
//! - the reader keeps its limits: with small [`Limits`] an accepted tree is
//!   never deeper than `max_depth` collections nor has more than
//!   `max_nodes` nodes, and every position is 1-based;
//! - every diagnostic names the file given and a 1-based position;
//! - a pipeline that validates has an acyclic stage graph:
//!   `plan::order(plan::dependencies(p))` succeeds and is a permutation of
//!   its stages (validation is what promises the planner no cycles);
//! - the per-agent contract of a valid pipeline renders without panicking,
//!   and so does every template it holds.

use std::collections::BTreeSet;
use std::path::PathBuf;

use taylordash::pipeline::{self, Context, contract, plan};
use taylordash::yaml::{self, Limits, Node, Value};

use super::depth_and_nodes;
use crate::engine::{Feedback, Target};

const FILE: &str = "fuzz.yaml";

/// The tools of this repository's plugins and test plugins: the catalogue a
/// pipeline is checked against (so that "unknown tool" is one finding among
/// others, not every pipeline's).
const TOOLS: &[&str] = &[
    "adr_manager", "adr_writer", "bash_runner", "context7_get_docs", "context7_resolve_library",
    "contract_compliance", "fastapi_gen", "grafana_panels", "healthcheck_gen", "jsonschema_lint",
    "keycloak_admin", "lint_check", "mcp_call", "minio_client", "minio_uploader", "mkdocs_writer",
    "mosquitto_tls", "mqtt_client", "observability_check", "openapi_gen", "otel_instrument",
    "perf_check", "planner", "prom_rules", "pytest_asyncio", "review_comments", "review_scope",
    "security_check", "security_scan", "traefik_hsts", "tsdb_adapter", "echo", "hello", "probe",
];

const DICTIONARY: &[&str] = &[
    "name: ", "stages:", "- name: ", "agents:", "tools: [", "tool: ", "rbac: [admin]", "needs: [", "inputs: [",
    "outputs: [", "parallel: true", "final: true", "gates:", "plugin: ", "coordination: ", "timeout: ",
    "retries: ", "backoff: ", "backup_agent: ", "condition: ", "handoff_artifacts: [", "integration_points: [",
    "reserves: [", "role: ", "shared_context: [", "template_integration:", "agent_contract_template:",
    "mcp_orchestration:", "servers:", "performance_target: ", "{{.AgentName}}", "{{.OrchestrationState}}",
    "{{", "}}", "&a ", "*a", "!!str ", "? ", "|\n", ">-\n", "---\n", "...\n", "[", "]", "{", "}", ", ", ": ",
    "\"", "'", "#", "\t", "~", "null", "true", "1s", "500ms", "2m", "-1", "99999999999999999999", "policies:",
    "max_retries: ", "sla:", "parallel_execution", "sequential_handoff", "event_driven", "!", "\\u0000",
];

pub fn target() -> Target {
    Target {
        name: "pipeline",
        run,
        generate: None,
        seeds: Vec::new,
        dictionary: DICTIONARY,
        max_len: 64 << 10,
    }
}

fn context() -> Context {
    let tools: BTreeSet<String> = TOOLS.iter().map(|t| t.to_string()).collect();
    Context { tools: Some((tools, PathBuf::from("target/plugins"))), roles: Vec::new() }
}

fn check_positions(node: &Node) {
    assert!(node.pos.line >= 1 && node.pos.col >= 1, "a node at {:?}", node.pos);
    match &node.value {
        Value::Scalar { .. } => {}
        Value::Seq(items) => items.iter().for_each(check_positions),
        Value::Map(entries) => entries.iter().for_each(|(k, v)| {
            check_positions(k);
            check_positions(v);
        }),
    }
}

pub fn run(input: &[u8], fb: &mut Feedback) {
    let text = String::from_utf8_lossy(input);

    // The reader under small limits.
    let limits = Limits { max_bytes: 32 << 10, max_depth: 8, max_nodes: 200 };
    match yaml::parse(&text, limits) {
        Ok(Some(root)) => {
            let (depth, nodes) = depth_and_nodes(&root);
            assert!(depth <= limits.max_depth, "a tree {depth} deep passed max_depth {}", limits.max_depth);
            assert!(nodes <= limits.max_nodes, "{nodes} nodes passed max_nodes {}", limits.max_nodes);
            check_positions(&root);
            fb.note(("yaml-ok", depth.min(9), root.kind()));
        }
        Ok(None) => fb.note("yaml-empty"),
        Err(e) => {
            assert!(e.pos.line >= 1 && e.pos.col >= 1, "a YAML error at {:?}", e.pos);
            fb.note_message(&e.message);
        }
    }

    // Reading and validation, as `taylordash validate` does.
    let cx = context();
    match pipeline::parse(FILE, &text, &cx) {
        Ok(p) => {
            fb.note(("valid", p.stages.len().min(8)));
            let deps = plan::dependencies(&p);
            let order = plan::order(&deps).unwrap_or_else(|cycle| panic!("a valid pipeline has a stage cycle {cycle:?}"));
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..p.stages.len()).collect::<Vec<_>>(), "the plan is not a permutation of the stages");
            for stage in &p.stages {
                for agent in &stage.agents {
                    let _ = contract::render(&p, stage, agent, |_| None);
                }
            }
            for field in p.template_integration.iter().chain(p.contract_template.iter().flatten()) {
                let _ = field.template.render(|v| serde_json::Value::String(v.to_string()));
            }
        }
        Err(diags) => {
            assert!(!diags.is_empty(), "refused without a diagnostic");
            for d in &diags.0 {
                assert_eq!(d.file, FILE);
                assert!(d.pos.line >= 1 && d.pos.col >= 1, "a diagnostic at {:?}: {}", d.pos, d.message);
                fb.note_message(&d.message);
            }
        }
    }
}
