use super::*;
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;
use taylordash_sdk::exec::{self, Command};
use taylordash_sdk::testing::Harness;

/// A real `python3 -m bandit -f json -q -r app` report (bandit 1.9.4; the
/// `code` excerpts dropped) on `app/debug.py` below and a file that does not parse.
const BANDIT: &str = include_str!("testdata_bandit.json");
const CLEAN: &str = r#"{"errors": [], "generated_at": "2026-01-01T00:00:00Z",
  "metrics": {"_totals": {"loc": 3}, "app/main.py": {"loc": 3}}, "results": []}"#;

fn workspace(h: &Harness) {
    h.write_workspace("app/main.py", "app = None\n");
    h.write_workspace("app/debug.py", "import os\nimport subprocess\nimport random\n\n\ndef run(x):\n    subprocess.call(x, shell=True)\n    return random.random()\n");
    h.write_workspace("app/broken.py", "def f(:\n");
}

fn grant(h: &Harness, status: i32, stdout: &'static str, stderr: &'static str) -> Rc<RefCell<Vec<Command>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    h.grant_exec(move |cmd| {
        s.borrow_mut().push(cmd.clone());
        Ok(exec::Output { status, stdout: stdout.to_string(), stderr: stderr.to_string() })
    });
    seen
}

fn gate() -> Value {
    json!({ "gate": "security_scan", "stage": "execution", "attempt": 1, "files": [], "outputs": {} })
}

fn lines(f: &[ScanFinding]) -> Vec<String> {
    f.iter().map(|f| format!("{} {}:{} {} {} {}", f.layer, f.file, f.location, f.test_id, f.severity.as_str(), f.message)).collect()
}

#[test]
fn bandit_json_becomes_findings_and_high_severity_fails() {
    let h = Harness::new();
    workspace(&h);
    let seen = grant(&h, 1, BANDIT, "");
    let out = h.run::<SecurityScan>(gate()).unwrap();
    assert!(!out.passed);
    assert_eq!(
        lines(&out.findings),
        [
            "L5 app/broken.py: scan-error high bandit could not scan this file: syntax error while parsing AST from file",
            "L5 app/debug.py:7:5 B602 high subprocess call with shell=True identified, security issue.",
        ]
    );
    assert_eq!(
        out.findings[1],
        ScanFinding {
            file: "app/debug.py".into(),
            line: Some(7),
            location: "7:5".into(),
            test_id: "B602".into(),
            test_name: Some("subprocess_popen_with_shell_equals_true".into()),
            severity: Severity::High,
            confidence: Some("high".into()),
            cwe: Some(78),
            message: "subprocess call with shell=True identified, security issue.".into(),
            layer: "L5".into(),
            accepted_because: None,
        }
    );
    assert_eq!(
        lines(&out.below_threshold),
        [
            "L5 app/debug.py:2:1 B404 low Consider possible security implications associated with the subprocess module.",
            "L5 app/debug.py:8:12 B311 low Standard pseudo-random generators are not suitable for security/cryptographic purposes.",
        ]
    );
    assert_eq!(out.checked, ["app/broken.py", "app/debug.py"]);
    assert_eq!((out.min_severity, out.source.as_str()), (Severity::Medium, "default"));
    assert_eq!(out.summary, "security_scan: 2 finding(s) in 2 file(s)");
    assert_eq!(out.commands, [ScanRun { command: DEFAULT_COMMAND.into(), exit_code: 1, results: 4 }]);
    let cmds = seen.borrow();
    assert_eq!(cmds[0].program, "python3");
    assert_eq!(cmds[0].args, ["-m", "bandit", "-f", "json", "-q", "-r", "app"]);
    let report: ScanOutput = serde_json::from_str(&h.out_file("reports/security_scan.json")).unwrap();
    assert_eq!(report, out);
}

#[test]
fn the_threshold_decides_what_fails() {
    let h = Harness::new();
    workspace(&h);
    grant(&h, 1, BANDIT, "");
    let out = h.run::<SecurityScan>(json!({ "min_severity": "low" })).unwrap();
    assert_eq!(out.findings.len(), 4);
    assert!(out.below_threshold.is_empty());

    // Only low-severity issues and a medium threshold: passes, the issues reported.
    let h = Harness::new();
    workspace(&h);
    let low_only = BANDIT.replace("\"HIGH\"", "\"LOW\"").replace("\"errors\": [", "\"errors\": [], \"x\": [");
    let text: &'static str = Box::leak(low_only.into_boxed_str());
    grant(&h, 1, text, "");
    let out = h.run::<SecurityScan>(json!({})).unwrap();
    assert!(out.passed, "{:?}", out.findings);
    assert_eq!(out.below_threshold.len(), 3);
    assert_eq!(out.summary, "security_scan: passed: no bandit issue of medium severity or above, 3 below it (2 files checked)");
}

#[test]
fn a_clean_scan_passes_and_the_config_file_names_the_command() {
    let h = Harness::new();
    workspace(&h);
    h.write_workspace(CONFIG, r#"{"commands": ["/opt/venv/bin/bandit -f json -q -r app"], "min_severity": "high"}"#);
    let seen = grant(&h, 0, CLEAN, "");
    let out = h.run::<SecurityScan>(gate()).unwrap();
    assert!(out.passed);
    assert_eq!((out.source.as_str(), out.min_severity), ("security_scan.json", Severity::High));
    assert_eq!(seen.borrow()[0].program, "/opt/venv/bin/bandit");
    assert_eq!(out.checked, ["app/main.py"]);
}

#[test]
fn a_scanner_that_cannot_run_is_a_clear_error() {
    let h = Harness::new();
    workspace(&h);
    assert_eq!(
        h.run::<SecurityScan>(gate()).unwrap_err(),
        ToolError::Failed(
            "security_scan: cannot run the scanner `python3 -m bandit -f json -q -r app`: exec denied: the tool has no exec \
             grant (program `python3`); grant the program in the policy (plugins: { security_scan: { grants: { exec: { \
             programs: [python3] } } } }) or name another command in `security_scan.json`"
                .into()
        )
    );
    let h = Harness::new();
    workspace(&h);
    grant(&h, 1, "", "/opt/venv/bin/python3: No module named bandit\n");
    assert_eq!(
        h.run::<SecurityScan>(json!({ "commands": ["/opt/venv/bin/python3 -m bandit -f json -r app"] })).unwrap_err(),
        ToolError::Failed(
            "security_scan: the scanner `/opt/venv/bin/python3 -m bandit -f json -r app` exited 1 without a report \
             (is bandit installed for that interpreter?): /opt/venv/bin/python3: No module named bandit"
                .into()
        )
    );
    let h = Harness::new();
    workspace(&h);
    grant(&h, 2, "", "usage: bandit [-h] ...\nbandit: error: unrecognized arguments: --bad\n");
    assert!(matches!(h.run::<SecurityScan>(json!({ "commands": ["bandit --bad"] })).unwrap_err(),
        ToolError::Failed(m) if m.ends_with("exited 2 without a report (is bandit installed for that interpreter?): usage: bandit [-h] ...\nbandit: error: unrecognized arguments: --bad")));
}

#[test]
fn no_python_code_fails_closed_and_bad_input_is_invalid() {
    let h = Harness::new();
    let out = h.run::<SecurityScan>(gate()).unwrap();
    assert!(!out.passed);
    assert_eq!(lines(&out.findings), ["L5 app/: no-code high no Python code in the workspace to scan (fastapi_gen writes app/)"]);
    assert!(matches!(h.run::<SecurityScan>(json!({ "min_severity": "severe" })).unwrap_err(),
        ToolError::InvalidInput(m) if m.contains("unknown variant `severe`")));
    assert_eq!(h.run::<SecurityScan>(json!({ "commands": [] })).unwrap_err(), ToolError::InvalidInput("commands: empty (from input)".into()));
}

#[test]
fn a_reviewed_result_is_accepted_by_a_waiver_with_its_reason() {
    let h = Harness::new();
    workspace(&h);
    h.write_workspace(
        CONFIG,
        r#"{"accept": [{"test_id": "B602", "file": "app/debug.py", "reason": "x is a constant"},
                       {"test_id": "scan-error", "file": "app/broken.py", "reason": "never waived"},
                       {"test_id": "B608", "file": "app/gone.py", "reason": "stale"}]}"#,
    );
    grant(&h, 1, BANDIT, "");
    let out = h.run::<SecurityScan>(gate()).unwrap();
    assert_eq!(lines(&out.accepted), ["L5 app/debug.py:7:5 B602 high subprocess call with shell=True identified, security issue."]);
    assert_eq!(out.accepted[0].accepted_because.as_deref(), Some("x is a constant"));
    assert_eq!(lines(&out.findings), ["L5 app/broken.py: scan-error high bandit could not scan this file: syntax error while parsing AST from file"]);
    assert!(!out.passed, "a scan error is never waived");
    assert_eq!(out.unused_waivers.iter().map(|w| w.test_id.as_str()).collect::<Vec<_>>(), ["scan-error", "B608"]);

    // The input's waivers replace the file's; a waiver needs a reason.
    let out = h.run::<SecurityScan>(json!({ "accept": [] })).unwrap();
    assert_eq!(out.findings.len(), 2);
    assert_eq!(
        h.run::<SecurityScan>(json!({ "accept": [{"test_id": "B602", "file": "app/debug.py", "reason": " "}] })).unwrap_err(),
        ToolError::InvalidInput("accept[0]: test_id, file and reason must all be non-empty (from input)".into())
    );
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    assert_eq!(taylordash_sdk::describe::<SecurityScan>(env!("CARGO_PKG_VERSION")).name, env!("CARGO_PKG_NAME"));
}
