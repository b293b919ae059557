//! The seed's `mcp_orchestration` block (verbatim: context7,
//! code_generation, testing with their integration points and performance
//! targets) driven by the `taylordash` binary: each stage that names an
//! integration point calls the servers serving it through the sandboxed
//! `mcp_call` plugin before its agents run, the answers land in
//! `mcp/<server>/<point>.md`, each answer is an `mcp_call` event timed
//! against its target, and a slow one is an `mcp_target_breach` counted in
//! `taylordash_mcp_target_breaches_total`. The servers are the stand-in
//! `tests/mcp/orchestration_server.py`, the agents the `probe` test plugin.
//! A server's error fails the run naming the server and point; a missing
//! grant stops it before anything runs (preflight, exit 3).

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::mcp_venv::{McpServer, python};
use serde_json::{Value, json};
use taylordash::store::Journal;

const PIPELINE: &str = r#"# The seed's MCP Server Orchestration, verbatim:
mcp_orchestration:
  context7:
    role: "knowledge_provider"
    integration_points: ["pre_implementation", "code_review"]
    performance_target: "< 5s response"

  code_generation:
    role: "template_provider"
    integration_points: ["architecture_phase", "implementation_phase"]
    performance_target: "< 2s generation"

  testing:
    role: "validation_provider"
    integration_points: ["qa_phase", "deployment_gate"]
    performance_target: "< 10s validation"

orchestration_flow:
  stages:
    - stage: "architecture"
      agent: "architect"
      tools: ["probe"]
      rbac: ["admin"]
      integration_points: ["architecture_phase"]
    - stage: "build"
      agent: "dev"
      tools: ["probe"]
      rbac: ["admin"]
      integration_points: ["pre_implementation", "implementation_phase"]
    - stage: "qa"
      agent: "qa"
      tools: ["probe"]
      rbac: ["admin"]
      integration_points: ["qa_phase"]
"#;

struct Env {
    root: tempfile::TempDir,
}

impl Env {
    /// A workspace with `mcp_servers.json` (every server at `endpoint`, the
    /// calls `calls` gives) and a plugins directory of `probe` and `mcp_call`.
    fn new(endpoint: &str, calls: Value) -> Env {
        let env = Env { root: tempfile::tempdir().expect("a temp dir") };
        for dir in ["ws", "plugins", "home"] {
            std::fs::create_dir_all(env.path(dir)).expect("a directory");
        }
        std::fs::copy(common::test_plugin("probe"), env.path("plugins/probe.wasm")).expect("the probe");
        std::fs::copy(common::tool("mcp_call"), env.path("plugins/mcp_call.wasm")).expect("mcp_call");
        let Value::Object(calls) = calls else { panic!("calls by server") };
        let servers: serde_json::Map<String, Value> =
            calls.into_iter().map(|(server, calls)| (server, json!({ "endpoint": endpoint, "calls": calls }))).collect();
        std::fs::write(env.path("ws/mcp_servers.json"), Value::Object(servers).to_string()).expect("mcp_servers.json");
        std::fs::write(env.path("ws/probe.json"), "{}").expect("probe.json");
        std::fs::write(env.path("pipeline.yaml"), PIPELINE).expect("the pipeline");
        env
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// `tester` is admin; `mcp_call` may reach `granted`.
    fn policy(&self, granted: Option<&str>) -> String {
        let grant = granted.map(|g| format!("{{ grants: {{ http: [\"{g}\"] }} }}")).unwrap_or_else(|| "{}".into());
        let path = self.path("policy.yaml");
        std::fs::write(&path, format!("principals: {{ tester: admin }}\nplugins:\n  mcp_call: {grant}\n")).expect("the policy");
        path.display().to_string()
    }

    fn run(&self, policy: &str) -> Output {
        let out = common::taylordash_in(self.root.path())
            .args(["--policy", policy, "--as", "tester", "run", "--broker", "in-process"])
            .arg(self.path("pipeline.yaml"))
            .arg("--workspace")
            .arg(self.path("ws"))
            .env("TAYLORDASH_PLUGINS_DIR", self.path("plugins"))
            .output()
            .expect("running taylordash");
        eprintln!("taylordash run: exit {:?}\n{}", out.status.code(), String::from_utf8_lossy(&out.stderr));
        out
    }

    fn journal(&self) -> Journal {
        let runs = std::fs::read_dir(self.path("runs")).expect("the runs directory");
        let run = runs.filter_map(Result::ok).find(|e| e.file_name().to_string_lossy().starts_with("run-")).expect("a run");
        Journal::open(&run.path().join("journal.sqlite")).expect("its journal")
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path("ws").join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }
}

#[test]
fn each_stage_asks_its_servers_first_and_every_answer_is_held_to_its_target() {
    let Some(python) = python() else { return };
    common::plugins_built();
    let server = McpServer::start(&python, "orchestration_server.py");
    let env = Env::new(
        &server.endpoint(),
        json!({
            "context7": { "pre_implementation": { "tool": "templates", "arguments": { "kind": "fastapi" } } },
            "code_generation": {
                "architecture_phase": { "tool": "validate", "arguments": { "seconds": 2.3 } },
                "implementation_phase": { "tool": "templates", "arguments": { "kind": "router" } }
            },
            "testing": { "qa_phase": { "tool": "validate" } }
        }),
    );
    let out = env.run(&env.policy(Some(&server.host_port())));
    assert_eq!(out.status.code(), Some(0));

    // The answers, in the workspace for the agents.
    assert!(env.read("mcp/context7/pre_implementation.md").ends_with("template for fastapi\n"));
    assert!(env.read("mcp/code_generation/architecture_phase.md").ends_with("validated after 2.3s\n"));
    assert!(env.read("mcp/code_generation/implementation_phase.md").ends_with("template for router\n"));
    assert!(env.read("mcp/testing/qa_phase.md").ends_with("validated after 0s\n"));

    // Before the stage's agents: the calls are the stage's first tasks.
    let j = env.journal();
    let build: Vec<String> = j.tasks().unwrap().into_iter().filter(|t| t.stage == "build").map(|t| t.task_id).collect();
    assert_eq!(
        build,
        ["build/mcp:context7/pre_implementation#1", "build/mcp:code_generation/implementation_phase#1", "build/dev/probe#1"]
    );

    // Every answer timed against its target; the 2.3 s one missed `< 2s generation`.
    let events = j.events().unwrap();
    let of = |kind: &str| -> Vec<Value> {
        events.iter().filter(|e| e.kind == kind).map(|e| serde_json::from_str(&e.data).unwrap()).collect()
    };
    let calls = of("mcp_call");
    let seen: Vec<(&str, &str, u64)> = calls
        .iter()
        .map(|c| (c["server"].as_str().unwrap(), c["point"].as_str().unwrap(), c["target_ms"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("code_generation", "architecture_phase", 2000),
            ("context7", "pre_implementation", 5000),
            ("code_generation", "implementation_phase", 2000),
            ("testing", "qa_phase", 10000),
        ]
    );
    let breaches = of("mcp_target_breach");
    assert_eq!(breaches.len(), 1, "{breaches:?}");
    assert_eq!((breaches[0]["server"].as_str(), breaches[0]["point"].as_str()), (Some("code_generation"), Some("architecture_phase")));
    assert!(breaches[0]["ms"].as_u64().unwrap() >= 2300);

    // ...and where Prometheus scrapes.
    let snapshot = j.snapshot().unwrap();
    let audit = taylordash::audit::AuditLog::new(env.path("audit.jsonl"));
    let scope = taylordash::observe::Scope { since_ms: 0, now_ms: i64::MAX, run: None, queue_samples: &[] };
    let look = taylordash::observe::look(vec![snapshot], &audit, scope);
    let text = taylordash::observe::metrics::encode(&taylordash::observe::metrics::from_look(&look, 0));
    assert!(
        text.contains("taylordash_mcp_target_breaches_total{point=\"architecture_phase\",server=\"code_generation\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("taylordash_mcp_call_seconds_count{point=\"qa_phase\",server=\"testing\"} 1\n"), "{text}");
}

#[test]
fn a_server_error_fails_the_run_and_a_missing_grant_stops_it_first() {
    let Some(python) = python() else { return };
    common::plugins_built();
    let server = McpServer::start(&python, "orchestration_server.py");
    let env = Env::new(
        &server.endpoint(),
        json!({
            "context7": { "pre_implementation": { "tool": "templates", "arguments": { "kind": "x" } } },
            "code_generation": {
                "architecture_phase": { "tool": "broken" },
                "implementation_phase": { "tool": "templates", "arguments": { "kind": "y" } }
            },
            "testing": { "qa_phase": { "tool": "validate" } }
        }),
    );
    let denied = env.run(&env.policy(None));
    assert_eq!(denied.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&denied.stderr);
    let hp = server.host_port();
    assert!(
        stderr.contains(&format!(
            "  - mcp_call (stage `architecture`, `build`, `qa`): http to `{hp}` (the endpoint of `code_generation` in mcp_servers.json)\n"
        )),
        "{stderr}"
    );
    assert!(stderr.ends_with(&format!("  mcp_call:\n    grants:\n      http: [\"{hp}\"]\n")), "one grant in the snippet: {stderr}");
    let ran = std::fs::read_dir(env.path("runs")).map(|d| d.filter_map(Result::ok).any(|e| e.file_name().to_string_lossy().starts_with("run-")));
    assert!(!ran.unwrap_or(false), "nothing ran");

    let out = env.run(&env.policy(Some(&server.host_port())));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "MCP server `code_generation` ({}): tool `broken` answered an error at `architecture_phase`",
            server.endpoint()
        )),
        "{stderr}"
    );
    assert!(!env.path("ws/mcp/context7").exists(), "the run stopped at the first stage");
}
