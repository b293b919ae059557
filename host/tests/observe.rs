//! Observability against the real parts: `taylordash serve` scraped by a
//! real Prometheus during and after a run of the seed flow (PromQL counts
//! that equal the journal's, a non-empty latency histogram, `promtool check
//! metrics` without a finding), the KPI page in headless Chromium (every KPI
//! with a number and its target, a screenshot, a run started while the page
//! is open shown without a reload), and a run over the bus with two worker
//! processes exporting OTLP/HTTP to a receiver built on the OpenTelemetry
//! project's protobuf types (one trace, the run → stage → agent → task →
//! attempt → call tree, fuel and memory on the calls).
//!
//! A part this machine lacks makes its test say SKIP and why; `.ci/run`
//! installs them all (`bash tests/observe/setup.sh`, Debian's prometheus and chromium).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use taylordash::store::Journal;

/// A child process whose output lines are collected as they come.
struct Proc {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
        let lines = Arc::new(Mutex::new(Vec::new()));
        for out in [Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>, Box::new(child.stderr.take().unwrap())] {
            let l = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    l.lock().unwrap().push(line);
                }
            });
        }
        Proc { child, lines }
    }

    /// The first line containing `what`, waiting up to `secs`.
    fn wait_for(&mut self, what: &str, secs: u64) -> String {
        let until = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(line) = self.lines.lock().unwrap().iter().find(|l| l.contains(what)) {
                return line.clone();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("exited ({status}) before printing `{what}`:\n{}", self.text());
            }
            assert!(Instant::now() < until, "no `{what}` within {secs} s:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    fn stdin(&mut self) -> &mut ChildStdin {
        self.child.stdin.as_mut().expect("piped stdin")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn skip(test: &str, why: &str) {
    eprintln!("SKIP: {test}: {why}");
}

struct Env {
    home: tempfile::TempDir,
    plugins: PathBuf,
}

impl Env {
    fn new(plugins: PathBuf) -> Self {
        common::plugins_built();
        Env { home: tempfile::tempdir().unwrap(), plugins }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.home.path().join(rel)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_taylordash"));
        cmd.args(args)
            .current_dir(self.home.path())
            .env("HOME", self.home.path())
            .env("USER", "tester")
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("TAYLORDASH_RUNS_DIR", self.path("runs"))
            .env("TAYLORDASH_AUDIT_LOG", self.path("audit.jsonl"))
            .env("TAYLORDASH_PLUGINS_DIR", &self.plugins)
            .env_remove("TAYLORDASH_BROKER")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        cmd
    }

    fn write(&self, rel: &str, text: &str) -> String {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// `taylordash serve` on a free port; its address.
    fn serve(&self) -> (Proc, String) {
        let mut serve = Proc::spawn(self.cmd(&["serve", "--listen", "127.0.0.1:0"]));
        let line = serve.wait_for("serving http://", 30);
        let addr = line.split("http://").nth(1).unwrap().split('/').next().unwrap().to_string();
        (serve, addr)
    }

    /// The seed flow's workspace and a policy for it; bash_runner's tests are one quick command.
    fn seed_flow(&self) -> String {
        for name in ["backlog.yaml", "failures.json", "snapshot.json"] {
            std::fs::create_dir_all(self.path("ws")).unwrap();
            std::fs::copy(root().join("pipelines/examples").join(name), self.path("ws").join(name)).unwrap();
        }
        self.write("ws/bash_runner.json", r#"{"commands": [{"program": "python3", "args": ["-c", "print('1 passed')"]}]}"#);
        self.write("policy.yaml", "principals: { tester: admin }\nplugins:\n  bash_runner:\n    grants:\n      exec: { programs: [python3] }\n")
    }
}

/// One plain HTTP/1.0 GET: `(status, body)`.
fn get(addr: &str, path: &str, accept: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: {accept}\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, body.to_string())
}

fn query_escape(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A PromQL instant query's first value (None: no series).
fn promql(prometheus: &str, q: &str) -> Option<f64> {
    let (status, body) = get(prometheus, &format!("/api/v1/query?query={}", query_escape(q)), "application/json");
    assert_eq!(status, 200, "{q}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["data"]["result"].as_array()?.first()?["value"][1].as_str()?.parse().ok()
}

fn wait_until(what: &str, secs: u64, mut check: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < until, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn have(program: &str) -> bool {
    Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// The run id `taylordash run` printed first.
fn run_id(out: &[u8]) -> String {
    String::from_utf8_lossy(out).lines().next().unwrap_or_default().trim().to_string()
}

#[test]
fn prometheus_scrapes_serve_during_and_after_the_seed_flow() {
    const TEST: &str = "prometheus_scrapes_serve_during_and_after_the_seed_flow";
    if !have("prometheus") || !have("promtool") {
        return skip(TEST, "Debian's `prometheus` package is not installed (`.ci/run` installs it)");
    }
    let env = Env::new(root().join("target/plugins"));
    let policy = env.seed_flow();
    let (_serve, addr) = env.serve();
    let port = free_port();
    let config = env.write(
        "prometheus.yml",
        &format!(
            "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\nscrape_configs:\n  - job_name: taylordash\n    static_configs: [{{ targets: [\"{addr}\"] }}]\n"
        ),
    );
    let mut prom = Proc::spawn({
        let mut c = Command::new("prometheus");
        c.arg(format!("--config.file={config}"))
            .arg(format!("--storage.tsdb.path={}", env.path("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"));
        c
    });
    let prometheus = format!("127.0.0.1:{port}");
    prom.wait_for("Server is ready to receive web requests", 60);
    let ws = env.path("ws").display().to_string();
    let run = env.cmd(&["--policy", &policy, "run", "pipelines/orchestration_flow.yaml", "--workspace", &ws, "--broker", "in-process"])
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // During the run: Prometheus sees the run running.
    wait_until("Prometheus scraped a running run", 60, || promql(&prometheus, "taylordash_runs{status=\"running\"}") == Some(1.0));
    let out = run.wait_with_output().unwrap();
    assert!(out.status.success(), "the seed flow failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let id = run_id(&out.stdout);
    let journal = Journal::open(&env.path("runs").join(&id).join("journal.sqlite")).unwrap();
    let snapshot = journal.snapshot().unwrap();
    let finished = snapshot.attempts.iter().filter(|a| a.status != "running").count() as f64;
    let succeeded = snapshot.attempts.iter().filter(|a| a.status == "succeeded").count() as f64;
    // After it: the counts equal the journal's, the histogram holds every task.
    wait_until("Prometheus scraped the finished run", 30, || promql(&prometheus, "taylordash_runs{status=\"completed\"}") == Some(1.0));
    wait_until("task counts", 30, || promql(&prometheus, "sum(taylordash_tasks_total)") == Some(finished));
    assert_eq!(promql(&prometheus, "sum(taylordash_tasks_total{outcome=\"succeeded\"})"), Some(succeeded));
    assert_eq!(promql(&prometheus, "sum(taylordash_tasks_total{tool=\"planner\",agent=\"project_manager\"})"), Some(1.0));
    assert_eq!(promql(&prometheus, "sum(taylordash_task_duration_seconds_count)"), Some(finished));
    let p90 = promql(&prometheus, "histogram_quantile(0.9, sum by (le) (taylordash_task_duration_seconds_bucket))").unwrap();
    assert!(p90 > 0.0, "a latency quantile from the histogram: {p90}");
    assert!(promql(&prometheus, "sum(taylordash_tool_fuel_total)").unwrap() > 0.0, "fuel was measured");
    assert_eq!(promql(&prometheus, "taylordash_kpi_completion_ratio"), Some(1.0));
    assert_eq!(promql(&prometheus, "taylordash_kpi_target_met{kpi=\"trace_correlation\"}"), Some(1.0));
    // The exposition itself passes promtool's lint, in the classic text format.
    let (status, text) = get(&addr, "/metrics", "text/plain");
    assert_eq!(status, 200);
    let mut promtool = Command::new("promtool").args(["check", "metrics"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    promtool.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let lint = promtool.wait_with_output().unwrap();
    let findings = format!("{}{}", String::from_utf8_lossy(&lint.stdout), String::from_utf8_lossy(&lint.stderr));
    assert!(lint.status.success() && findings.trim().is_empty(), "promtool check metrics:\n{findings}\n--- exposition:\n{text}");
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let family = line.split_whitespace().nth(2).unwrap();
        assert!(text.contains(&format!("# HELP {family} ")), "no HELP for {family}");
    }
}

#[test]
fn the_kpi_page_in_chromium_shows_every_kpi_and_follows_new_runs() {
    const TEST: &str = "the_kpi_page_in_chromium_shows_every_kpi_and_follows_new_runs";
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return skip(TEST, &format!("no Chromium at {chromium} (Debian's `chromium`; `.ci/run` installs it)"));
    }
    if !root().join("tests/observe/node_modules/playwright-core").is_dir() {
        return skip(TEST, "tests/observe/node_modules is missing: run `bash tests/observe/setup.sh`");
    }
    let env = Env::new(common::test_plugin("probe").parent().unwrap().to_path_buf());
    env.write("ws/probe.json", &json!({ "agents": { "slow": { "sleep_ms": 300 } } }).to_string());
    let pipeline = env.write(
        "p.yaml",
        "orchestration_flow:\n  stages:\n    - stage: \"one\"\n      agent: \"first\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n    - stage: \"two\"\n      agent: \"slow\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n      gates: [{ gate: \"check\", plugin: \"probe\" }]\n",
    );
    let run = |env: &Env| {
        let out = env.cmd(&["run", &pipeline, "--workspace", "ws", "--broker", "in-process", "-q"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        run_id(&out.stdout)
    };
    let first = run(&env);
    let (_serve, addr) = env.serve();
    let shots = root().join("target/observe");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("dashboard.png");
    let mut browser = Proc::spawn({
        let mut c = Command::new("node");
        c.arg(root().join("tests/observe/browser.mjs")).arg(format!("http://{addr}")).arg(&shot).env("CHROMIUM", &chromium);
        c
    });
    let loaded = browser.wait_for("\"event\":\"loaded\"", 60);
    let loaded: Value = serde_json::from_str(&loaded).unwrap();
    let kpis = loaded["kpis"].as_object().unwrap();
    for (key, target) in [("completion_rate", "> 95%"), ("quality_score", "> 90%"), ("response_time_p90", "< 30 s"), ("agent_idle_time", "< 5%")] {
        let tile = &kpis[key];
        assert!(tile["target"].as_str().unwrap().contains(target), "{key}: {tile}");
        assert!(tile["value"].as_str().unwrap().chars().any(|c| c.is_ascii_digit()), "{key} shows a number: {tile}");
    }
    assert_eq!(kpis["completion_rate"]["value"], "100.0%");
    for key in ["throughput", "trace_correlation", "event_latency_p95", "context_retention"] {
        assert!(kpis.contains_key(key), "tile {key}: {loaded}");
    }
    browser.wait_for("\"event\":\"ready\"", 30);
    assert!(shot.is_file(), "a screenshot at {}", shot.display());
    // The first run is listed; a run started now appears without a reload.
    writeln!(browser.stdin(), "{first}").unwrap();
    browser.wait_for(&format!("\"run\":\"{first}\""), 30);
    let second = run(&env);
    writeln!(browser.stdin(), "{second}").unwrap();
    let seen = browser.wait_for(&format!("\"run\":\"{second}\""), 30);
    assert!(seen.contains("\"event\":\"seen\""), "{seen}\n{}", browser.text());
    drop(browser.child.stdin.take());
    let status = browser.child.wait().unwrap();
    assert!(status.success(), "{}", browser.text());
    eprintln!("screenshots: {} and its -live twin", shot.display());
}

#[test]
fn a_run_over_the_bus_exports_one_trace_with_the_workers_calls_in_it() {
    const TEST: &str = "a_run_over_the_bus_exports_one_trace_with_the_workers_calls_in_it";
    let python = root().join("target/observe-venv/bin/python");
    if !python.exists() {
        return skip(TEST, "target/observe-venv is missing: run `bash tests/observe/setup.sh`");
    }
    let env = Env::new(common::test_plugin("probe").parent().unwrap().to_path_buf());
    let spans_file = env.path("spans.jsonl");
    let mut receiver = Proc::spawn({
        let mut c = Command::new(&python);
        c.arg(root().join("tests/observe/otlp_receiver.py")).arg(&spans_file);
        c
    });
    let otlp = receiver.wait_for("listening http://", 30).trim_start_matches("listening ").to_string();
    let port = free_port();
    let mut broker = Proc::spawn(env.cmd(&["broker", "--port", &port.to_string()]));
    let url = format!("mqtt://127.0.0.1:{port}");
    broker.wait_for(&url, 30);
    let key = env.write("bus.key", &"5a".repeat(32));
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let metrics: Vec<String> = (0..2).map(|_| format!("127.0.0.1:{}", free_port())).collect();
    let mut workers: Vec<Proc> = (1..=2)
        .map(|n| {
            let mut c = env.cmd(&["worker", "--broker", &url, "--bus-key", &key, "--session-expiry", "2", "--otlp", &otlp, "--metrics", &metrics[n - 1]]);
            c.env("OTEL_SERVICE_NAME", format!("worker-{n}"));
            Proc::spawn(c)
        })
        .collect();
    for w in &mut workers {
        w.wait_for("ready", 30);
    }
    env.write("ws/probe.json", &json!({ "agents": { "a": { "sleep_ms": 50 }, "b": { "sleep_ms": 50 } } }).to_string());
    let pipeline = env.write(
        "p.yaml",
        "orchestration_flow:\n  stages:\n    - stage: \"fan\"\n      parallel: true\n      agents:\n        - { name: \"a\", tools: [\"probe\"], rbac: [\"admin\"] }\n        - { name: \"b\", tools: [\"probe\"], rbac: [\"admin\"] }\n    - stage: \"last\"\n      agent: \"c\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n",
    );
    let out = env
        .cmd(&["run", &pipeline, "--workspace", "ws", "--broker", &url, "--workers", "0", "--bus-key", &key, "--otlp", &otlp, "-q"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let id = run_id(&out.stdout);
    // The workers export as they go; stop them so their queues are flushed... by waiting for the spans.
    let read = || -> Vec<Value> {
        std::fs::read_to_string(&spans_file).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    wait_until("1 run, 2 stages, 3 agents, 3 tasks, 3 attempts and 3 calls", 30, || read().len() >= 15);
    let spans = read();
    let journal = Journal::open(&env.path("runs").join(&id).join("journal.sqlite")).unwrap();
    let trace = journal.run().unwrap().trace_id;
    assert!(spans.iter().all(|s| s["trace_id"] == trace.as_str()), "one trace, the run's: {spans:#?}");
    let named = |prefix: &str| -> Vec<&Value> { spans.iter().filter(|s| s["name"].as_str().unwrap().starts_with(prefix)).collect() };
    let by_id = |id: &str| spans.iter().find(|s| s["span_id"] == id);
    let parent_name = |s: &Value| -> String {
        by_id(s["parent_span_id"].as_str().unwrap()).map(|p| p["name"].as_str().unwrap().split(' ').next().unwrap().to_string()).unwrap_or_default()
    };
    let runs = named("run ");
    assert_eq!(runs.len(), 1, "{spans:#?}");
    assert_eq!(runs[0]["parent_span_id"], "", "the run is the root");
    assert_eq!(runs[0]["service"], "taylordash");
    for (kind, parent, count) in [("stage ", "run", 2), ("agent ", "stage", 3), ("task ", "agent", 3), ("attempt ", "task", 3), ("call ", "attempt", 3)] {
        let these = named(kind);
        assert_eq!(these.len(), count, "{kind}spans: {these:#?}");
        for s in these {
            assert_eq!(parent_name(s), parent, "the parent of {}", s["name"]);
        }
    }
    let calls = named("call ");
    let services: std::collections::BTreeSet<&str> = calls.iter().map(|s| s["service"].as_str().unwrap()).collect();
    assert!(services.iter().all(|s| s.starts_with("worker-")), "calls come from the worker processes: {services:?}");
    for s in calls.iter().chain(named("attempt ").iter()) {
        let a = &s["attributes"];
        assert!(a["taylordash.fuel"].as_i64().unwrap() > 0, "fuel on {}: {a}", s["name"]);
        assert!(a["taylordash.memory_peak_bytes"].as_i64().unwrap() > 0, "memory on {}: {a}", s["name"]);
        assert_eq!(a["taylordash.outcome"], "succeeded");
    }
    // Each worker counted its own calls on its /metrics: three between them.
    let counted: f64 = metrics
        .iter()
        .map(|addr| {
            let (status, text) = get(addr, "/metrics", "text/plain");
            assert_eq!(status, 200, "{text}");
            text.lines()
                .filter(|l| l.starts_with("taylordash_tasks_total{") && l.contains("outcome=\"succeeded\"") && l.contains("tool=\"probe\""))
                .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
                .sum::<f64>()
        })
        .sum();
    assert_eq!(counted, 3.0, "the workers' /metrics");
    drop(workers);
    drop(receiver);
}

#[test]
fn serve_refuses_a_public_address_unless_told() {
    let env = Env::new(root().join("target/plugins"));
    let out = env.cmd(&["serve", "--listen", "0.0.0.0:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "error: --listen 0.0.0.0:0 is not a loopback address; add --public to listen there\n");
}

#[test]
fn the_api_answers_for_an_empty_runs_directory_and_an_unknown_run() {
    let env = Env::new(root().join("target/plugins"));
    let (_serve, addr) = env.serve();
    let (status, body) = get(&addr, "/api/overview", "application/json");
    assert_eq!(status, 200);
    let overview: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(overview["runs"], json!([]));
    let kpis = overview["kpis"].as_array().unwrap();
    assert_eq!(kpis.len(), 18, "every seed KPI has a tile");
    assert!(kpis.iter().all(|k| k["value"].is_null() && k["display"] == "—" && k["meets"].is_null()), "no data, no verdict: {kpis:#?}");
    let (status, body) = get(&addr, "/api/runs/run-nope", "application/json");
    assert_eq!((status, body.as_str()), (404, r#"{"error":"no run `run-nope`"}"#));
    let (status, page) = get(&addr, "/", "text/html");
    assert_eq!(status, 200);
    assert!(page.contains("<html"), "{page}");
    for external in ["src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(!page.contains(external), "the page loads nothing from elsewhere ({external})");
    }
}
