use super::*;
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;
use taylordash_sdk::exec::{self, Command};
use taylordash_sdk::testing::Harness;

fn example(h: &Harness) {
    let backlog = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/examples/backlog.yaml");
    h.write_workspace("backlog.yaml", std::fs::read(backlog).unwrap());
}

fn grant(h: &Harness, status: i32, stdout: String) -> Rc<RefCell<Vec<Command>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    h.grant_exec(move |cmd| {
        s.borrow_mut().push(cmd.clone());
        Ok(exec::Output { status, stdout: stdout.clone(), stderr: String::new() })
    });
    seen
}

fn result(p50: f64, p95: f64, p99: f64, errors: u64, samples: &[&str]) -> String {
    let fig = json!({ "requests": 200, "errors": errors, "p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "max_ms": p99 + 1.0, "mean_ms": p50 });
    let mut all = fig.clone();
    let extra = json!({ "concurrency": 10, "duration_s": 0.5, "rps": 400.0, "lifespan": true,
                        "endpoints": { "/api/v1/projects": fig }, "error_samples": samples });
    all.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    format!("{all}\n")
}

fn gate() -> Value {
    json!({ "gate": "perf_check", "stage": "execution", "attempt": 1, "files": [], "outputs": {} })
}

#[test]
fn under_the_slo_passes_and_runs_the_embedded_generator() {
    let h = Harness::new();
    example(&h);
    let seen = grant(&h, 0, result(3.1, 12.5, 20.25, 0, &[]));
    let out = h.run::<PerfCheck>(gate()).unwrap();
    assert!(out.passed, "{:?}", out.findings);
    assert_eq!(out.targets, [Target { path: "/api/v1/projects".into(), p95_ms: 250, source: "slo".into() }]);
    assert_eq!(out.target_p95_ms, 250);
    assert_eq!((out.load.total.p95_ms, out.load.total.requests, out.load.total.errors), (12.5, 200, 0));
    assert_eq!(out.summary, "perf_check: passed: p95 12.5 ms within the 250 ms target, 200 requests, 0 errors (2 files checked)");
    assert_eq!(out.checked, ["backlog.yaml", "app/main.py"]);
    let cmds = seen.borrow();
    assert_eq!(cmds[0].program, "python3");
    assert_eq!(
        cmds[0].args,
        ["-B", "-", r#"{"app":"app.main:app","concurrency":10,"paths":["/api/v1/projects"],"requests":200}"#]
    );
    assert_eq!(cmds[0].stdin.as_deref(), Some(LOAD_SCRIPT));
    assert!(LOAD_SCRIPT.contains("httpx.ASGITransport(app=app)"));
    let report: PerfOutput = serde_json::from_str(&h.out_file("reports/perf_check.json")).unwrap();
    assert_eq!(report, out);
}

#[test]
fn over_the_slo_fails_with_the_figures() {
    let h = Harness::new();
    example(&h);
    grant(&h, 0, result(120.0, 312.4, 401.9, 0, &[]));
    let out = h.run::<PerfCheck>(gate()).unwrap();
    assert!(!out.passed);
    assert_eq!(out.findings.len(), 1);
    let f = &out.findings[0];
    assert_eq!(
        f.message,
        "GET /api/v1/projects: p95 312.4 ms over the 250 ms target (the backlog's latency SLO); \
         p50 120 ms, p95 312.4 ms, p99 401.9 ms, 200 requests, 0 errors"
    );
    assert_eq!((f.file.as_str(), f.layer.as_str(), f.line, f.target_p95_ms), ("app/main.py", "L4", None, 250));
    assert_eq!((f.figures.p50_ms, f.figures.p95_ms, f.figures.p99_ms), (120.0, 312.4, 401.9));
    assert_eq!(out.summary, "perf_check: 1 finding(s) in 1 file(s)");
}

#[test]
fn the_input_target_wins_and_errors_fail() {
    let h = Harness::new();
    example(&h);
    grant(&h, 0, result(120.0, 312.4, 401.9, 0, &[]));
    let out = h.run::<PerfCheck>(json!({ "p95_ms": 400 })).unwrap();
    assert!(out.passed);
    assert_eq!(out.targets[0].source, "input");

    let h = Harness::new();
    example(&h);
    grant(&h, 0, result(1.0, 2.0, 3.0, 7, &["GET /api/v1/projects: HTTP 500", "GET /api/v1/projects: ReadError: boom"]));
    let out = h.run::<PerfCheck>(json!({})).unwrap();
    assert!(!out.passed);
    assert_eq!(
        out.findings.iter().map(|f| f.message.as_str()).collect::<Vec<_>>(),
        ["GET /api/v1/projects: 7 of 200 requests failed (HTTP 500, ReadError: boom); p50 1 ms, p95 2 ms, p99 3 ms, 200 requests, 7 errors"]
    );
}

#[test]
fn the_config_file_names_the_interpreter_and_paths_without_a_backlog() {
    let h = Harness::new();
    h.write_workspace(CONFIG, r#"{"python": "/opt/venv/bin/python3", "requests": 50, "concurrency": 5, "paths": ["/health"], "app": "svc.api:application"}"#);
    let out_text = result(1.0, 2.0, 3.0, 0, &[]).replace("/api/v1/projects", "/health");
    let seen = grant(&h, 0, out_text);
    let out = h.run::<PerfCheck>(json!({})).unwrap();
    assert!(out.passed);
    assert_eq!(out.targets, [Target { path: "/health".into(), p95_ms: 500, source: "default".into() }]);
    assert_eq!(out.checked, ["svc/api.py"]);
    let cmds = seen.borrow();
    assert_eq!(cmds[0].program, "/opt/venv/bin/python3");
    assert_eq!(cmds[0].args[2], r#"{"app":"svc.api:application","concurrency":5,"paths":["/health"],"requests":50}"#);
}

#[test]
fn a_generator_that_cannot_run_is_a_clear_error() {
    let h = Harness::new();
    example(&h);
    let err = h.run::<PerfCheck>(json!({})).unwrap_err();
    let ToolError::Failed(m) = err else { panic!("{err:?}") };
    assert!(
        m.starts_with("perf_check: cannot run the load generator `python3 -B - {")
            && m.ends_with(
                "`: exec denied: the tool has no exec grant (program `python3`); grant the program in the policy \
                 (plugins: { perf_check: { grants: { exec: { programs: [python3] } } } }) or name another command in `perf_check.json`"
            ),
        "{m}"
    );

    let h = Harness::new();
    example(&h);
    grant(&h, 3, "{\"error\": \"httpx is not importable by /usr/bin/python3: No module named 'httpx'\"}\n".into());
    assert_eq!(
        h.run::<PerfCheck>(json!({})).unwrap_err(),
        ToolError::Failed("perf_check: the load generator could not test the app: httpx is not importable by /usr/bin/python3: No module named 'httpx'".into())
    );

    let h = Harness::new();
    example(&h);
    h.grant_exec(|_| Ok(exec::Output { status: 1, stdout: String::new(), stderr: "Traceback…\nMemoryError\n".into() }));
    let err = h.run::<PerfCheck>(json!({ "requests": 10 })).unwrap_err();
    assert!(matches!(&err, ToolError::Failed(m) if m.ends_with("exited 1 without a result: Traceback…\nMemoryError")), "{err:?}");
}

#[test]
fn bad_settings_are_invalid_input() {
    let h = Harness::new();
    assert!(matches!(h.run::<PerfCheck>(json!({})).unwrap_err(),
        ToolError::InvalidInput(m) if m.starts_with("perf_check: no endpoints to load (name `paths`, or give a backlog): backlog: no `backlog` input")));
    example(&h);
    assert_eq!(h.run::<PerfCheck>(json!({ "requests": 0 })).unwrap_err(), ToolError::InvalidInput("requests: must be 1 to 100000, got 0 (from input)".into()));
    h.write_workspace(CONFIG, r#"{"concurrency": 5000}"#);
    assert_eq!(h.run::<PerfCheck>(json!({})).unwrap_err(), ToolError::InvalidInput("concurrency: must be 1 to 1000, got 5000 (from perf_check.json)".into()));
    h.write_workspace(CONFIG, r#"{"paths": ["api"]}"#);
    assert_eq!(h.run::<PerfCheck>(json!({})).unwrap_err(), ToolError::InvalidInput("paths: `api` is not an absolute URL path (from perf_check.json)".into()));
    h.write_workspace(CONFIG, r#"{"app": "x; rm -rf /"}"#);
    assert_eq!(h.run::<PerfCheck>(json!({})).unwrap_err(), ToolError::InvalidInput("app: `x; rm -rf /` is not `module.path:attribute`".into()));
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    assert_eq!(taylordash_sdk::describe::<PerfCheck>(env!("CARGO_PKG_VERSION")).name, env!("CARGO_PKG_NAME"));
}
