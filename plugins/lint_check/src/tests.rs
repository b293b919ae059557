use super::*;
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;
use taylordash_sdk::exec::{self, Command};
use taylordash_sdk::testing::Harness;

fn grant(h: &Harness, status: i32, stdout: &'static str, stderr: &'static str) -> Rc<RefCell<Vec<Command>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    h.grant_exec(move |cmd| {
        s.borrow_mut().push(cmd.clone());
        Ok(exec::Output { status, stdout: stdout.to_string(), stderr: stderr.to_string() })
    });
    seen
}

fn gate_input() -> Value {
    json!({ "gate": "lint_check", "stage": "execution", "attempt": 1, "files": [], "outputs": {}, "task": { "run_id": "r" } })
}

fn workspace(h: &Harness) {
    h.write_workspace("app/__init__.py", "");
    h.write_workspace("app/debug.py", "import os\nimport subprocess\n\n\ndef run(x):\n    subprocess.call(x, shell=True)\n");
    h.write_workspace("app/main.py", "app = None\n");
    h.write_workspace("openapi.yaml", "openapi: 3.1.0\ninfo: {title: t, version: '1'}\n");
    h.write_workspace("schemas/a.json", "{\"type\": \"object\"}\n");
}

fn lines(out: &LintOutput) -> Vec<String> {
    out.findings.iter().map(|f| format!("{} {}:{} [{}] {} ({})", f.layer, f.file, f.location, f.code.as_deref().unwrap_or("-"), f.message, f.tool)).collect()
}

const PYFLAKES: &str = "./app/debug.py:1:1: 'os' imported but unused\n./app/main.py:3:5: undefined name 'settings'\n";

#[test]
fn pyflakes_output_becomes_findings() {
    let h = Harness::new();
    workspace(&h);
    let seen = grant(&h, 1, PYFLAKES, "");
    let out = h.run::<LintCheck>(gate_input()).unwrap();
    assert_eq!(
        out.findings[0],
        LintFinding {
            file: "app/debug.py".into(),
            line: Some(1),
            column: Some(1),
            location: "1:1".into(),
            message: "'os' imported but unused".into(),
            code: None,
            tool: "pyflakes".into(),
            layer: "L1".into(),
        }
    );
    assert_eq!(lines(&out), ["L1 app/debug.py:1:1 [-] 'os' imported but unused (pyflakes)", "L1 app/main.py:3:5 [-] undefined name 'settings' (pyflakes)"]);
    assert!(!out.passed);
    assert_eq!(out.source, "default");
    let cmds = seen.borrow();
    assert_eq!((cmds[0].program.as_str(), cmds[0].args.clone()), ("python3", vec!["-m".to_string(), "pyflakes".into(), ".".into()]));
    assert_eq!(out.commands, [LintRun { command: DEFAULT_COMMAND.into(), exit_code: 1, format: "pyflakes".into(), findings: 2 }]);
    assert_eq!(out.checked, ["app/__init__.py", "app/debug.py", "app/main.py", "openapi.yaml", "schemas/a.json"]);
    assert_eq!(out.summary, "lint_check: 2 finding(s) in 2 file(s)");
    let report: LintOutput = serde_json::from_str(&h.out_file("reports/lint_check.json")).unwrap();
    assert_eq!(report, out);
}

#[test]
fn a_clean_workspace_passes_and_syntax_errors_on_stderr_count() {
    let h = Harness::new();
    workspace(&h);
    grant(&h, 0, "", "");
    let out = h.run::<LintCheck>(gate_input()).unwrap();
    assert!(out.passed, "{:?}", out.findings);
    assert_eq!(out.summary, "lint_check: passed: Python lints clean, YAML and JSON parse (5 files checked)");

    let h = Harness::new();
    workspace(&h);
    grant(&h, 1, "", "./app/main.py:2:9: invalid syntax\n    def (\n        ^\n/usr/lib/python3.11/ast.py:50: SyntaxWarning: ignored\n");
    let out = h.run::<LintCheck>(gate_input()).unwrap();
    assert_eq!(lines(&out), ["L1 app/main.py:2:9 [-] invalid syntax (pyflakes)"]);
}

const RUFF: &str = r#"[
  {"cell": null, "code": "F401", "end_location": {"column": 10, "row": 1}, "filename": "/tmp/.tmpAbC/app/debug.py",
   "fix": {"applicability": "safe", "edits": [], "message": "Remove unused import: `os`"},
   "location": {"column": 8, "row": 1}, "message": "`os` imported but unused", "noqa_row": 1,
   "url": "https://docs.astral.sh/ruff/rules/unused-import"},
  {"cell": null, "code": null, "end_location": {"column": 1, "row": 3}, "filename": "/tmp/.tmpAbC/app/main.py",
   "fix": null, "location": {"column": 5, "row": 2}, "message": "SyntaxError: Expected an identifier", "noqa_row": null, "url": null}
]"#;

#[test]
fn ruff_json_from_the_config_file() {
    let h = Harness::new();
    workspace(&h);
    h.write_workspace(CONFIG, r#"{"commands": ["/opt/venv/bin/ruff check --output-format json ."]}"#);
    let seen = grant(&h, 1, RUFF, "");
    let out = h.run::<LintCheck>(gate_input()).unwrap();
    assert_eq!(out.source, "lint_check.json");
    assert_eq!(seen.borrow()[0].program, "/opt/venv/bin/ruff");
    assert_eq!(
        lines(&out),
        ["L1 app/debug.py:1:8 [F401] `os` imported but unused (ruff)", "L1 app/main.py:2:5 [-] SyntaxError: Expected an identifier (ruff)"]
    );
    assert_eq!(out.commands[0].format, "ruff-json");

    // ruff's concise text output: the code is read off the message.
    let h = Harness::new();
    workspace(&h);
    grant(&h, 1, "app/debug.py:1:8: F401 [*] `os` imported but unused\nFound 1 error.\n", "");
    let out = h.run::<LintCheck>(json!({ "commands": ["ruff check ."] })).unwrap();
    assert_eq!(lines(&out), ["L1 app/debug.py:1:8 [F401] `os` imported but unused (ruff)"]);
}

#[test]
fn yaml_and_json_are_parsed_inside_the_component() {
    let h = Harness::new();
    h.write_workspace("ok.yaml", "a: 1\n---\nb: [1, 2]\n");
    h.write_workspace("conf/bad.yml", "a: 1\nb: [1, 2\n");
    h.write_workspace("dup.yaml", "a: 1\na: 2\n");
    h.write_workspace("second.yaml", "a: 1\n---\nb: : :\n");
    h.write_workspace("data/bad.json", "{\"a\": 1,\n \"b\": }\n");
    h.write_workspace("empty.json", "");
    let out = h.run::<LintCheck>(json!({})).unwrap();
    assert_eq!(out.source, "none", "no Python: no linter, no exec needed");
    let got = lines(&out);
    assert_eq!(got.len(), 5, "{got:#?}");
    assert!(got[0].starts_with("L1 conf/bad.yml:3:1 [-] invalid YAML: "), "{got:#?}");
    assert_eq!(got[1], "L1 data/bad.json:2:7 [-] invalid JSON: expected value (json)");
    assert!(got[2].starts_with("L1 dup.yaml:") && got[2].contains("duplicate entry with key \"a\""), "{got:#?}");
    assert_eq!(got[3], "L1 empty.json:1:0 [-] invalid JSON: EOF while parsing a value (json)");
    assert!(got[4].starts_with("L1 second.yaml:3:") && got[4].contains("invalid YAML (document 2): "), "{got:#?}");
    assert!(!out.passed);
}

#[test]
fn a_linter_that_cannot_run_is_a_clear_error() {
    let h = Harness::new();
    workspace(&h);
    let err = h.run::<LintCheck>(gate_input()).unwrap_err();
    assert_eq!(
        err,
        ToolError::Failed(
            "lint_check: cannot run the linter `python3 -m pyflakes .`: exec denied: the tool has no exec grant (program `python3`); \
             grant the program in the policy (plugins: { lint_check: { grants: { exec: { programs: [python3] } } } }) \
             or name another command in `lint_check.json`"
                .into()
        )
    );

    let h = Harness::new();
    workspace(&h);
    grant(&h, 1, "", "/opt/venv/bin/python3: No module named pyflakes\n");
    let err = h.run::<LintCheck>(json!({ "commands": [{"program": "/opt/venv/bin/python3", "args": ["-m", "pyflakes", "."]}] })).unwrap_err();
    assert_eq!(
        err,
        ToolError::Failed(
            "lint_check: the linter `/opt/venv/bin/python3 -m pyflakes .` exited 1 without reporting a finding \
             (is it installed for that interpreter?): /opt/venv/bin/python3: No module named pyflakes"
                .into()
        )
    );
}

#[test]
fn bad_input_is_invalid() {
    let h = Harness::new();
    workspace(&h);
    assert_eq!(h.run::<LintCheck>(json!({ "commands": [] })).unwrap_err(), ToolError::InvalidInput("commands: empty (from input)".into()));
    assert_eq!(
        h.run::<LintCheck>(json!({ "commands": ["ruff 'x"] })).unwrap_err(),
        ToolError::InvalidInput("commands[0]: unclosed ' in `ruff 'x`".into())
    );
    assert!(matches!(h.run::<LintCheck>(json!({ "comands": [] })).unwrap_err(), ToolError::InvalidInput(m) if m.contains("unknown field `comands`")));
}

#[test]
fn location_parsing() {
    assert_eq!(split_location("./a.py:12:5: msg: detail"), Some(("./a.py", 12, Some(5), "msg: detail")));
    assert_eq!(split_location("a.py:3: msg"), Some(("a.py", 3, None, "msg")));
    assert_eq!(split_location("Found 1 error."), None);
    assert_eq!(exec_kit::relativize("/tmp/x/app/routers/a.py", &["a.py".into(), "app/routers/a.py".into()]), "app/routers/a.py");
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    assert_eq!(taylordash_sdk::describe::<LintCheck>(env!("CARGO_PKG_VERSION")).name, env!("CARGO_PKG_NAME"));
}
