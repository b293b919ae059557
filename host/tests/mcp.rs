//! `taylordash mcp` against the official MCP clients (issue 13): the Python
//! SDK (PyPI `mcp`) over stdio and streamable HTTP, the TypeScript SDK (npm
//! `@modelcontextprotocol/sdk`) over HTTP with a token. The clients run as
//! `tests/mcp/client.py` / `client.mjs`, scenario drivers that print one JSON
//! line per step; `tests/mcp/setup.sh` installs them (a test that cannot
//! says SKIP and why).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};

/// The seed's tools, every one of which `tools/list` must hold.
const SEED_TOOLS: [&str; 16] = [
    "planner", "openapi_gen", "jsonschema_lint", "fastapi_gen", "pytest_asyncio", "bash_runner", "mqtt_client",
    "tsdb_adapter", "minio_client", "minio_uploader", "otel_instrument", "prom_rules", "grafana_panels",
    "mkdocs_writer", "adr_writer", "security_check",
];

/// The repository root (this test's own, whatever build shares the target dir).
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ has a parent").to_path_buf()
}

/// The official clients, installed once per test binary; `None` when they cannot be.
fn clients() -> Option<&'static (PathBuf, PathBuf)> {
    static CLIENTS: OnceLock<Option<(PathBuf, PathBuf)>> = OnceLock::new();
    CLIENTS
        .get_or_init(|| {
            let root = repo();
            let setup = Command::new("bash").arg("tests/mcp/setup.sh").current_dir(&root).output();
            match setup {
                Ok(o) if o.status.success() => Some((root.join("target/mcp-venv/bin/python"), root.join("tests/mcp"))),
                Ok(o) => {
                    eprintln!("SKIP: tests/mcp/setup.sh failed, the MCP clients are not installed:\n{}", String::from_utf8_lossy(&o.stderr));
                    None
                }
                Err(e) => {
                    eprintln!("SKIP: cannot run tests/mcp/setup.sh: {e}");
                    None
                }
            }
        })
        .as_ref()
}

/// A gateway's world: plugins (the seed's, plus test plugins), a workspace
/// with the example inputs, a policy, pipelines, a shared component cache.
struct Rig {
    root: tempfile::TempDir,
}

impl Rig {
    fn new(policy: &str) -> Self {
        common::plugins_built();
        let root = tempfile::tempdir().expect("a temp dir");
        let rig = Rig { root };
        for dir in ["plugins", "ws", "pipelines", "spare"] {
            std::fs::create_dir_all(rig.path(dir)).expect("a dir");
        }
        for tool in SEED_TOOLS {
            std::fs::copy(common::tool(tool), rig.path(&format!("plugins/{tool}.wasm"))).expect("copying a plugin");
        }
        for tool in ["echo", "adversary"] {
            std::fs::copy(common::test_plugin(tool), rig.path(&format!("plugins/{tool}.wasm"))).expect("copying a test plugin");
        }
        std::fs::copy(common::test_plugin("probe"), rig.path("spare/probe.wasm")).expect("copying probe");
        copy_dir(&repo().join("pipelines/examples"), &rig.path("ws"));
        std::fs::write(rig.path("policy.yaml"), policy).expect("writing the policy");
        rig
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// `taylordash … mcp` with this rig's directories; `extra` goes after `mcp`.
    fn server_args(&self, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "--plugins-dir".into(),
            self.path("plugins").display().to_string(),
            "--policy".into(),
            self.path("policy.yaml").display().to_string(),
            "--as".into(),
            "alice".into(),
            "mcp".into(),
            "--workspace".into(),
            self.path("ws").display().to_string(),
            "--pipelines".into(),
            self.path("pipelines").display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    fn env(&self, cmd: &mut Command) {
        let cache = repo().join("target/tmp/mcp-test-cache");
        cmd.env("TAYLORDASH_CACHE_DIR", cache)
            .env("TAYLORDASH_RUNS_DIR", self.path("runs"))
            .env("TAYLORDASH_AUDIT_LOG", self.path("audit.jsonl"))
            .env("NO_COLOR", "1");
    }

    /// The Python client over stdio, the server started by the client.
    fn python_stdio(&self, steps: Value) -> Vec<Value> {
        let (python, dir) = clients().expect("checked by the caller");
        let mut cmd = Command::new(python);
        cmd.arg(dir.join("client.py")).arg("stdio").arg("--").arg(env!("CARGO_BIN_EXE_taylordash")).args(self.server_args(&[]));
        self.env(&mut cmd);
        drive(cmd, &steps)
    }

    /// The server over HTTP on a free loopback port; its URL.
    fn http_server(&self) -> (Server, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_taylordash"));
        cmd.args(self.server_args(&["--http", "127.0.0.1:0"])).stdout(Stdio::null()).stderr(Stdio::piped());
        self.env(&mut cmd);
        let mut child = cmd.spawn().expect("starting taylordash mcp --http");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let url = loop {
            let line = lines.next().expect("the server printed its address before exiting").expect("stderr line");
            if let Some(rest) = line.strip_prefix("mcp: serving streamable HTTP at ") {
                break rest.trim().to_string();
            }
        };
        // Keep draining stderr so the server never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        (Server(child), url)
    }

    fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.path("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// Killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("reading a dir").flatten() {
        let dest = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&dest).expect("a dir");
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).expect("copying a file");
        }
    }
}

/// Run a driver with `steps` on stdin; its JSON lines, killed after 3 minutes.
fn drive(mut cmd: Command, steps: &Value) -> Vec<Value> {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("starting an MCP client");
    child.stdin.take().expect("stdin").write_all(steps.to_string().as_bytes()).expect("writing the steps");
    let pid = child.id();
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(180));
        // SAFETY: kill(2) on a pid we started; at worst it names a process that already exited.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    });
    let out = child.wait_with_output().expect("waiting for the client");
    drop(watchdog);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Value> = stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(!lines.is_empty(), "the client printed nothing; stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("client stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    lines
}

fn names(list: &Value) -> Vec<String> {
    list["tools"].as_array().map(|t| t.iter().filter_map(|t| t["name"].as_str().map(String::from)).collect()).unwrap_or_default()
}

fn text_of(result: &Value) -> String {
    result["content"].as_array().map(|c| c.iter().filter_map(|t| t.as_str().map(String::from).or_else(|| t["text"].as_str().map(String::from))).collect::<Vec<_>>().join("\n")).unwrap_or_default()
}

const ADMIN_POLICY: &str = "principals: { alice: admin }\nplugins:\n  adversary:\n    quotas: { timeout: 1s, fuel: 1000000000000000 }\n";

/// The CLI's answer for the same call, to compare structured content with.
fn invoke(rig: &Rig, tool: &str, input: &Value) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_taylordash"));
    cmd.args(["--plugins-dir", &rig.path("plugins").display().to_string(), "invoke", tool, "--input", &input.to_string()])
        .args(["--workspace", &rig.path("ws").display().to_string(), "--out", &rig.path("cli-out").display().to_string()]);
    rig.env(&mut cmd);
    let out = cmd.output().expect("taylordash invoke");
    assert!(out.status.success(), "invoke {tool}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("invoke prints JSON")
}

#[test]
fn python_client_over_stdio_lists_calls_and_survives_a_runaway_tool() {
    if clients().is_none() {
        return;
    }
    let rig = Rig::new(ADMIN_POLICY);
    let lint: Value = serde_json::from_str(&std::fs::read_to_string(rig.path("ws/jsonschema_lint-input.json")).unwrap()).unwrap();
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(rig.path("ws/planner-input.json")).unwrap()).unwrap();
    let out = rig.python_stdio(json!([
        { "op": "list_tools" },
        { "op": "call", "tool": "jsonschema_lint", "arguments": lint },
        { "op": "call", "tool": "planner", "arguments": plan },
        { "op": "call", "tool": "planner", "arguments": { "backlog": 42 } },
        { "op": "call", "tool": "no_such_tool", "arguments": {} },
        { "op": "call", "tool": "adversary", "arguments": { "attack": "loop_forever" } },
        { "op": "call", "tool": "echo", "arguments": { "still": "alive" } }
    ]));
    assert_eq!(out.len(), 8, "{out:#?}");
    let init = &out[0];
    assert!(init["protocolVersion"].as_str().is_some_and(|v| v >= "2025-11-25"), "{init}");
    assert_eq!(init["serverInfo"]["name"], "taylordash");

    let listed = names(&out[1]);
    for tool in SEED_TOOLS.iter().chain(&["echo", "adversary"]) {
        assert!(listed.iter().any(|n| n == tool), "{tool} missing from {listed:?}");
    }
    for tool in out[1]["tools"].as_array().unwrap() {
        assert_eq!(tool["inputSchema"]["type"], "object", "{}", tool["name"]);
        if !tool["outputSchema"].is_null() {
            assert_eq!(tool["outputSchema"]["type"], "object", "{}", tool["name"]);
        }
    }
    let adversary = out[1]["tools"].as_array().unwrap().iter().find(|t| t["name"] == "adversary").unwrap();
    assert_eq!(adversary["annotations"]["openWorldHint"], false, "no grants: a closed world");

    assert_eq!(out[2]["isError"], false, "{}", out[2]);
    assert_eq!(out[2]["structuredContent"], invoke(&rig, "jsonschema_lint", &lint), "the CLI's output, as structured content");
    assert_eq!(out[3]["isError"], false, "{}", out[3]);
    assert_eq!(out[3]["structuredContent"], invoke(&rig, "planner", &plan));

    assert_eq!(out[4]["code"], -32602, "invalid arguments are a protocol error: {}", out[4]);
    assert!(out[4]["error"].as_str().unwrap_or_default().contains("backlog"), "{}", out[4]);
    assert_eq!(out[5]["code"], -32602, "an unknown tool: {}", out[5]);

    assert_eq!(out[6]["isError"], true, "{}", out[6]);
    let message = text_of(&out[6]);
    assert!(message.contains("plugin `adversary`: quota exceeded: timeout"), "{message}");
    assert!(out[6]["elapsed_ms"].as_u64().unwrap() < 2000, "back within 2 s: {}", out[6]);
    assert_eq!(out[7]["isError"], false, "the next call works: {}", out[7]);
    assert_eq!(out[7]["structuredContent"], json!({ "still": "alive" }));

    let audit = rig.audit();
    let calls: Vec<&Value> = audit.iter().filter(|e| e["capability"] == "mcp:call").collect();
    assert!(calls.len() >= 4, "every call is audited: {calls:#?}");
    assert!(calls.iter().any(|e| e["plugin"] == "adversary" && e["decision"] == "failed" && e["principal"] == "alice"), "{calls:#?}");
    assert!(calls.iter().any(|e| e["plugin"] == "jsonschema_lint" && e["detail"].as_str().unwrap_or_default().contains("fuel")), "{calls:#?}");
}

/// A policy with two tokens: `alice` (admin) and `val` (viewer); the
/// adversary is for admins and maintainers only.
fn token_policy() -> (String, &'static str, &'static str) {
    use sha2::Digest;
    let (admin, viewer) = ("td_admin_token_for_tests", "td_viewer_token_for_tests");
    let digest = |t: &str| hex::encode(sha2::Sha256::digest(t.as_bytes()));
    let policy = format!(
        "principals: {{ alice: admin, val: viewer }}\nmcp_tokens:\n  \"sha256:{}\": alice\n  \"sha256:{}\": val\nplugins:\n  adversary:\n    roles: [admin, maintainer]\n    quotas: {{ timeout: 1s, fuel: 1000000000000000 }}\n",
        digest(admin),
        digest(viewer)
    );
    (policy, admin, viewer)
}

fn python_http(url: &str, extra: &[&str], steps: Value) -> Vec<Value> {
    let (python, dir) = clients().expect("checked by the caller");
    let mut cmd = Command::new(python);
    cmd.arg(dir.join("client.py")).arg("http").arg(url).args(extra);
    drive(cmd, &steps)
}

#[test]
fn http_needs_a_token_checks_the_origin_and_hides_what_a_viewer_may_not_call() {
    if clients().is_none() {
        return;
    }
    let (policy, admin, viewer) = token_policy();
    let rig = Rig::new(&policy);
    let (_server, url) = rig.http_server();

    let as_viewer = python_http(&url, &["--token", viewer], json!([
        { "op": "list_tools" },
        { "op": "call", "tool": "adversary", "arguments": { "attack": "loop_forever" } },
        { "op": "call", "tool": "echo", "arguments": { "hello": "viewer" } }
    ]));
    let listed = names(&as_viewer[1]);
    assert!(!listed.iter().any(|n| n == "adversary"), "a viewer does not see a maintainer-only tool: {listed:?}");
    assert!(listed.iter().any(|n| n == "echo"), "{listed:?}");
    assert_eq!(as_viewer[2]["isError"], true, "{}", as_viewer[2]);
    assert!(text_of(&as_viewer[2]).contains("denied: `val` (role `viewer`) may not call `adversary`"), "{}", as_viewer[2]);
    assert_eq!(as_viewer[3]["structuredContent"], json!({ "hello": "viewer" }));

    let as_admin = python_http(&url, &["--token", admin], json!([{ "op": "list_tools" }]));
    assert!(names(&as_admin[1]).iter().any(|n| n == "adversary"), "an admin sees it");

    let anonymous = python_http(&url, &[], json!([{ "op": "list_tools" }]));
    assert_eq!(anonymous[0]["http_status"], 401, "no token: {}", anonymous[0]);
    let forged = python_http(&url, &["--token", "td_not_a_token"], json!([{ "op": "list_tools" }]));
    assert_eq!(forged[0]["http_status"], 401, "unknown token: {}", forged[0]);
    let evil = python_http(&url, &["--token", admin, "--header", "Origin: http://evil.example"], json!([{ "op": "list_tools" }]));
    assert_eq!(evil[0]["http_status"], 403, "a foreign Origin: {}", evil[0]);

    let audit = rig.audit();
    let denied = |capability: &str| audit.iter().filter(|e| e["capability"] == capability && e["decision"] == "deny").count();
    assert!(denied("mcp:auth") >= 2, "{audit:#?}");
    assert!(denied("mcp:origin") >= 1, "{audit:#?}");
    assert!(audit.iter().any(|e| e["capability"] == "rbac" && e["principal"] == "val" && e["plugin"] == "adversary"), "{audit:#?}");
}

#[test]
fn typescript_client_over_http_with_a_token_lists_every_tool_and_calls_one() {
    if clients().is_none() {
        return;
    }
    let (policy, admin, _) = token_policy();
    let rig = Rig::new(&policy);
    let (_server, url) = rig.http_server();
    let (_, dir) = clients().unwrap();
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("client.mjs")).args(["http", &url, "--token", admin]);
    let out = drive(cmd, &json!([
        { "op": "list_tools" },
        { "op": "call", "tool": "echo", "arguments": { "from": "typescript" } },
        { "op": "call", "tool": "fastapi_gen", "arguments": { "backlog": 1 } }
    ]));
    assert!(out[1]["error"].is_null(), "the TypeScript SDK accepts the whole list: {}", out[1]);
    let listed = names(&out[1]);
    for tool in SEED_TOOLS {
        assert!(listed.iter().any(|n| n == tool), "{tool} missing from {listed:?}");
    }
    assert_eq!(out[2]["structuredContent"], json!({ "from": "typescript" }), "{}", out[2]);
    assert!(out[3]["code"] == -32602 || out[3]["isError"] == true, "bad arguments are refused: {}", out[3]);
}

#[test]
fn a_plugin_dropped_into_the_directory_is_served_and_a_removed_one_is_gone() {
    if clients().is_none() {
        return;
    }
    let rig = Rig::new(ADMIN_POLICY);
    let spare = rig.path("spare/probe.wasm").display().to_string();
    let dropped = rig.path("plugins/probe.wasm").display().to_string();
    std::fs::write(rig.path("ws/probe.json"), json!({ "agents": {} }).to_string()).unwrap();
    let out = rig.python_stdio(json!([
        { "op": "list_tools" },
        { "op": "copy", "from": spare, "to": dropped },
        { "op": "wait_list_changed", "timeout_s": 10 },
        { "op": "list_tools" },
        { "op": "call", "tool": "probe", "arguments": {} },
        { "op": "remove", "path": dropped },
        { "op": "wait_list_changed", "timeout_s": 10 },
        { "op": "list_tools" }
    ]));
    assert!(!names(&out[1]).contains(&"probe".to_string()));
    assert_eq!(out[3]["arrived"], true, "list_changed after the copy: {}", out[3]);
    assert!(out[3]["elapsed_ms"].as_u64().unwrap() < 2500, "within 2 s of the copy: {}", out[3]);
    assert!(names(&out[4]).contains(&"probe".to_string()), "{}", out[4]);
    assert_eq!(out[5]["isError"], false, "the new tool is callable: {}", out[5]);
    assert_eq!(out[7]["arrived"], true, "list_changed after the removal: {}", out[7]);
    assert!(!names(&out[8]).contains(&"probe".to_string()), "{}", out[8]);
}

#[test]
fn a_plugin_refused_by_its_digest_pin_is_not_listed_and_the_refusal_is_audited() {
    if clients().is_none() {
        return;
    }
    let pin = format!("sha256:{}", "0".repeat(64));
    let rig = Rig::new(&format!("principals: {{ alice: admin }}\nplugins:\n  echo:\n    digest: \"{pin}\"\n"));
    let out = rig.python_stdio(json!([{ "op": "list_tools" }, { "op": "call", "tool": "echo", "arguments": {} }]));
    assert!(!names(&out[1]).contains(&"echo".to_string()), "{}", out[1]);
    assert_eq!(out[2]["code"], -32602, "not served, so unknown: {}", out[2]);
    assert!(rig.audit().iter().any(|e| e["capability"] == "digest" && e["plugin"] == "echo" && e["decision"] == "deny"));
}

/// Three stages of probe agents; `slow` takes its time.
const PIPELINE: &str = "orchestration_flow:\n  stages:\n    - stage: \"one\"\n      agent: \"first\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n    - stage: \"two\"\n      agent: \"slow\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n    - stage: \"three\"\n      agent: \"last\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n";

fn run_status(rig: &Rig) -> Vec<(String, String)> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_taylordash"));
    cmd.args(["runs", "list", "--json"]);
    rig.env(&mut cmd);
    let out = cmd.output().expect("runs list");
    let runs: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    runs.as_array()
        .map(|r| r.iter().map(|r| (r["id"].as_str().unwrap_or_default().to_string(), r["status"].as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default()
}

#[test]
fn a_pipeline_tool_reports_progress_per_stage_and_stops_when_cancelled() {
    if clients().is_none() {
        return;
    }
    let rig = Rig::new(ADMIN_POLICY);
    std::fs::copy(rig.path("spare/probe.wasm"), rig.path("plugins/probe.wasm")).unwrap();
    std::fs::write(rig.path("pipelines/three.yaml"), PIPELINE).unwrap();
    std::fs::write(rig.path("ws/probe.json"), json!({ "agents": { "slow": { "sleep_ms": 1500 } } }).to_string()).unwrap();
    let out = rig.python_stdio(json!([
        { "op": "list_tools" },
        { "op": "call", "tool": "pipeline_three", "arguments": {}, "progress": true, "timeout_s": 60 },
        { "op": "call", "tool": "pipeline_three", "arguments": {}, "cancel_after_ms": 700 },
        { "op": "sleep", "ms": 2500 }
    ]));
    assert!(names(&out[1]).contains(&"pipeline_three".to_string()), "{}", out[1]);
    let done = &out[2];
    assert_eq!(done["isError"], false, "{done}");
    assert_eq!(done["structuredContent"]["status"], "completed", "{done}");
    let progress = done["progress"].as_array().expect("progress notifications");
    assert_eq!(progress.len(), 3, "one per stage: {done}");
    assert_eq!(progress[2]["progress"], 3.0);
    assert_eq!(progress[2]["total"], 3.0);
    assert_eq!(out[3]["cancelled"], true, "{}", out[3]);
    let runs = run_status(&rig);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().any(|(_, s)| s == "completed"), "{runs:?}");
    assert!(runs.iter().any(|(_, s)| s == "cancelled"), "the journal says cancelled: {runs:?}");
    let audit = rig.audit();
    assert!(
        audit.iter().any(|e| e["capability"] == "mcp:call" && e["plugin"] == "pipeline_three" && e["decision"] == "ok"),
        "a pipeline call is audited too: {audit:#?}"
    );
}

/// `plugins.<tool>.roles` binds every door, not only the gateway: `invoke`
/// refuses a caller of another role (exit 3, audited).
#[test]
fn plugin_roles_bind_invoke_too() {
    let rig = Rig::new("principals: { alice: admin, val: viewer }\nplugins:\n  echo:\n    roles: [admin]\n");
    let run = |who: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_taylordash"));
        cmd.args(["--plugins-dir", &rig.path("plugins").display().to_string(), "--policy", &rig.path("policy.yaml").display().to_string()])
            .args(["--as", who, "invoke", "echo", "--input", "{\"a\":1}", "--workspace", &rig.path("ws").display().to_string()]);
        rig.env(&mut cmd);
        cmd.output().expect("taylordash invoke")
    };
    let viewer = run("val");
    assert_eq!(viewer.status.code(), Some(3), "{}", String::from_utf8_lossy(&viewer.stderr));
    assert_eq!(
        String::from_utf8_lossy(&viewer.stderr).trim(),
        "error: denied: plugin `echo` may not be called by `val` (role `viewer`): its policy entry's `roles` do not list the role"
    );
    let admin = run("alice");
    assert!(admin.status.success(), "{}", String::from_utf8_lossy(&admin.stderr));
    assert!(rig.audit().iter().any(|e| e["capability"] == "rbac" && e["principal"] == "val" && e["decision"] == "deny"));
}
