//! The seed's `context7_mcp + backend_dev` combination
//! (`pipelines/combination_context7_mcp_backend_dev.yaml`, verbatim) run by
//! the `taylordash` binary against a local Context7 stand-in: the MCP
//! server of `tests/mcp/context7_server.py` (the official Python SDK, in
//! the venv `tests/mcp/setup.sh` makes), on a free loopback port.
//!
//! - With `http` to that `127.0.0.1:PORT` granted to both context7 plugins,
//!   the research stage resolves the libraries of `context7.json`, writes
//!   their docs to `docs/libraries/`, and the backend stage after it sees
//!   them (fastapi_gen's journaled output lists them).
//! - With no server listening the run fails naming the endpoint.
//! - Without the grant nothing runs (preflight, exit 3), and a direct
//!   `invoke` is denied by the sandbox (exit 3), the plugin and the
//!   capability named.
//!
//! Without Python or the venv (no network to install `mcp`) the tests
//! print `SKIP: …` and pass.

mod common;

use common::mcp_venv::McpServer;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use serde_json::{Value, json};
use taylordash::store::Journal;

const PIPELINE: &str = "pipelines/combination_context7_mcp_backend_dev.yaml";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository root")
        .to_path_buf()
}

struct Env {
    root: tempfile::TempDir,
}

impl Env {
    /// A workspace with the example backlog and a `context7.json` naming
    /// `endpoint` and two libraries.
    fn new(endpoint: &str) -> Env {
        common::plugins_built();
        let root = tempfile::tempdir().expect("a temp dir");
        let env = Env { root };
        std::fs::create_dir_all(env.path("ws")).expect("the workspace");
        std::fs::create_dir_all(env.path("home")).expect("a home");
        std::fs::copy(
            repo().join("pipelines/examples/backlog.yaml"),
            env.path("ws/backlog.yaml"),
        )
        .expect("copying the backlog");
        let config = json!({ "endpoint": endpoint, "libraries": ["fastapi", "paho-mqtt"] });
        std::fs::write(env.path("ws/context7.json"), config.to_string())
            .expect("writing context7.json");
        env
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// A policy: `tester` is admin; each of `granted` may reach `host_port`.
    fn policy(&self, granted: &[&str], host_port: &str) -> String {
        let mut text = String::from("principals: { tester: admin }\nplugins:\n");
        for plugin in granted {
            text.push_str(&format!(
                "  {plugin}:\n    grants:\n      http: [\"{host_port}\"]\n"
            ));
        }
        if granted.is_empty() {
            text.push_str("  context7_resolve_library: {}\n");
        }
        let path = self.path("policy.yaml");
        std::fs::write(&path, text).expect("writing the policy");
        path.display().to_string()
    }

    fn taylordash(&self, policy: &str, args: &[&str]) -> Output {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_taylordash"))
            .args(["--policy", policy, "--as", "tester"])
            .args(args)
            .current_dir(repo())
            .env("HOME", self.path("home"))
            .env("XDG_CACHE_HOME", self.path("home/cache"))
            .env("XDG_STATE_HOME", self.path("home/state"))
            .env("TAYLORDASH_RUNS_DIR", self.path("runs"))
            .env("TAYLORDASH_AUDIT_LOG", self.path("audit.jsonl"))
            .env(
                "TAYLORDASH_PLUGINS_DIR",
                common::tool("context7_get_docs")
                    .parent()
                    .expect("target/plugins"),
            )
            .env_remove("TAYLORDASH_CRASH_AT")
            .output()
            .expect("running taylordash");
        eprintln!(
            "taylordash {args:?}: exit {:?} in {:.1} s",
            out.status.code(),
            started.elapsed().as_secs_f64()
        );
        out
    }

    fn run(&self, policy: &str) -> Output {
        let ws = self.path("ws").display().to_string();
        self.taylordash(policy, &["run", PIPELINE, "--workspace", &ws])
    }

    fn journal(&self, out: &Output) -> Journal {
        let id = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        assert!(id.starts_with("run-"), "the run id comes first: {id:?}");
        Journal::open(&self.path("runs").join(&id).join("journal.sqlite"))
            .expect("the run's journal")
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn task_output(j: &Journal, task: &str) -> Value {
    let row = j
        .task(task)
        .expect("reading the journal")
        .unwrap_or_else(|| panic!("no task {task}"));
    serde_json::from_str(row.output.as_deref().unwrap_or("null")).expect("a task's output is JSON")
}

#[test]
fn research_docs_reach_the_workspace_and_the_backend_stage_sees_them() {
    let Some(python) = common::mcp_venv::python() else { return };
    let server = McpServer::start(&python, "context7_server.py");
    let env = Env::new(&server.endpoint());
    let host_port = format!("127.0.0.1:{}", server.port);
    let policy = env.policy(
        &["context7_resolve_library", "context7_get_docs"],
        &host_port,
    );
    let out = env.run(&policy);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // The research stage: ids resolved, docs written with the corpus's text.
    let libraries: Value = serde_json::from_str(&env.read("ws/research/libraries.json"))
        .expect("libraries.json is JSON");
    let ids: Vec<&str> = libraries["libraries"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|l| l["id"].as_str())
        .collect();
    assert_eq!(ids, ["/tiangolo/fastapi", "/eclipse/paho.mqtt.python"]);
    let corpus = |f: &str| {
        std::fs::read_to_string(repo().join("tests/mcp/context7_corpus").join(f))
            .expect("the corpus")
    };
    assert_eq!(
        env.read("ws/docs/libraries/tiangolo_fastapi.md"),
        corpus("fastapi.md")
    );
    assert_eq!(
        env.read("ws/docs/libraries/eclipse_paho.mqtt.python.md"),
        corpus("paho-mqtt.md")
    );

    let j = env.journal(&out);
    assert_eq!(j.run().expect("the run").status, "completed");
    let docs = task_output(&j, "context7_mcp/context7_mcp/context7_get_docs#1");
    assert_eq!(
        docs["ids_from"], "previous",
        "the ids came from context7_resolve_library's output: {docs}"
    );
    assert_eq!(docs["endpoint"], server.endpoint());
    assert_eq!(
        docs["files"],
        json!([
            "docs/libraries/tiangolo_fastapi.md",
            "docs/libraries/eclipse_paho.mqtt.python.md"
        ])
    );
    let merged: Vec<String> = j
        .merges()
        .expect("merges")
        .into_iter()
        .map(|(path, _, _)| path)
        .collect();
    assert!(
        merged
            .iter()
            .any(|p| p == "docs/libraries/tiangolo_fastapi.md"),
        "{merged:?}"
    );

    // The backend stage ran after it, on a workspace holding the docs.
    let backend = task_output(&j, "backend_dev/backend_dev/fastapi_gen#1");
    assert_eq!(
        backend["research"],
        json!([
            "docs/libraries/eclipse_paho.mqtt.python.md",
            "docs/libraries/tiangolo_fastapi.md"
        ]),
        "fastapi_gen's output: {backend}"
    );
    assert!(
        env.path("ws/app/main.py").is_file() && env.path("ws/app/storage.py").is_file(),
        "the backend tools wrote the app"
    );
}

#[test]
fn with_no_server_listening_the_run_fails_naming_the_endpoint() {
    if common::mcp_venv::python().is_none() {
        return;
    }
    let port = common::free_port();
    let endpoint = format!("http://127.0.0.1:{port}/mcp");
    let env = Env::new(&endpoint);
    let policy = env.policy(
        &["context7_resolve_library", "context7_get_docs"],
        &format!("127.0.0.1:{port}"),
    );
    let out = env.run(&policy);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains(&format!("MCP server {endpoint} unreachable")),
        "{text}"
    );
    assert!(!env.path("ws/docs").exists(), "nothing merged");
    let j = env.journal(&out);
    let attempts = j
        .attempt_rows("context7_mcp/context7_mcp/context7_resolve_library#1")
        .expect("attempts");
    assert!(
        attempts.len() > 1,
        "a refused connection is retried: {} attempt(s)",
        attempts.len()
    );
    assert!(
        j.task("backend_dev/backend_dev/fastapi_gen#1")
            .expect("journal")
            .is_none(),
        "the backend stage never ran"
    );
}

#[test]
fn without_the_http_grant_nothing_runs_and_invoke_is_denied() {
    let Some(python) = common::mcp_venv::python() else { return };
    let server = McpServer::start(&python, "context7_server.py");
    let env = Env::new(&server.endpoint());
    let host_port = format!("127.0.0.1:{}", server.port);

    // Preflight: the pipeline's tools need the endpoint of context7.json.
    let policy = env.policy(&[], &host_port);
    let out = env.run(&policy);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stderr(&out);
    for plugin in ["context7_resolve_library", "context7_get_docs"] {
        let line = format!(
            "  - {plugin} (stage `context7_mcp`): http to `{host_port}` (the endpoint of context7.json)"
        );
        assert!(text.contains(&line), "{line}\n---\n{text}");
    }
    assert!(
        !env.path("ws/docs").exists() && !env.path("ws/app").exists(),
        "nothing ran"
    );

    // The sandbox: a grant for another port lets nothing through to this one.
    let policy = env.policy(&["context7_resolve_library"], "127.0.0.1:1");
    let plugin = common::tool("context7_resolve_library")
        .display()
        .to_string();
    let input = json!({ "library": "fastapi", "endpoint": server.endpoint() }).to_string();
    let ws = env.path("ws").display().to_string();
    let out = env.taylordash(
        &policy,
        &["invoke", &plugin, "--input", &input, "--workspace", &ws],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains("plugin `context7_resolve_library`: denied http"),
        "{text}"
    );
    assert!(text.contains(&host_port), "{text}");
}
