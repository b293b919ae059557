use super::*;
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;
use taylordash_sdk::exec::Command;
use taylordash_sdk::testing::Harness;

const PASS: &str = "...................                                                      [100%]\n19 passed in 0.57s\n";
const FAIL: &str = "..F................\n=================================== FAILURES ===================================\n\
                        ______________________________ test_delete_project _____________________________\n\
                        E   assert 200 == 404\n=========================== short test summary info ============================\n\
                        FAILED tests/test_api.py::test_delete_project - assert 200 == 404\n\u{1b}[31m1 failed, 18 passed in 0.64s\u{1b}[0m\n";

fn grant(h: &Harness, status: i32, stdout: &'static str) -> Rc<RefCell<Vec<Command>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    h.grant_exec(move |cmd| {
        s.borrow_mut().push(cmd.clone());
        Ok(exec::Output { status, stdout: stdout.to_string(), stderr: String::new() })
    });
    seen
}

#[test]
fn runs_pytest_by_default_and_counts() {
    let h = Harness::new();
    let seen = grant(&h, 0, PASS);
    let out = h.run::<BashRunner>(json!({ "previous": { "suite": "tests/test_api.py" }, "task": {} })).unwrap();
    assert_eq!((out.passed, out.failed, out.errors, out.skipped, out.exit_code), (19, 0, 0, 0, 0));
    assert_eq!(out.source, "default");
    let cmds = seen.borrow();
    assert_eq!(cmds.len(), 1);
    assert_eq!(cmds[0].program, "python3");
    assert_eq!(cmds[0].args, ["-B", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function"]);
    assert_eq!(out.commands[0].summary.as_deref(), Some("19 passed in 0.57s"));
    let report: BashRunnerOutput = serde_json::from_str(&h.out_file("reports/bash_runner.json")).unwrap();
    assert_eq!(report, out);
    assert!(h.out_file("reports/bash_runner.log").starts_with("$ python3 -B -m pytest -q"));
}

#[test]
fn a_failing_test_fails_the_tool_and_names_the_test() {
    let h = Harness::new();
    grant(&h, 1, FAIL);
    let err = h.run::<BashRunner>(json!({})).unwrap_err();
    assert_eq!(
        err,
        ToolError::Failed(format!(
            "`{DEFAULT_COMMAND}` exited 1: 18 passed, 1 failed, 0 errors; failing: tests/test_api.py::test_delete_project"
        ))
    );
}

#[test]
fn commands_from_input_or_the_workspace_config() {
    let h = Harness::new();
    let seen = grant(&h, 0, "2 passed, 1 skipped in 0.1s\n");
    h.write_workspace(CONFIG, r#"{"commands": [{"program": "/opt/venv/bin/python", "args": ["-m", "pytest", "-q"]}]}"#);
    let out = h.run::<BashRunner>(json!({})).unwrap();
    assert_eq!(out.source, "bash_runner.json");
    assert_eq!(seen.borrow()[0].program, "/opt/venv/bin/python");
    assert_eq!((out.passed, out.skipped), (2, 1));
    let out = h.run::<BashRunner>(json!({ "commands": ["bash -c 'echo \"a b\"'", "true"] })).unwrap();
    assert_eq!(out.source, "input");
    let cmds = seen.borrow();
    assert_eq!(cmds[1].program, "bash");
    assert_eq!(cmds[1].args, ["-c", "echo \"a b\""]);
    assert_eq!(cmds[2].program, "true");
    assert_eq!(out.commands[0].command, "bash -c 'echo \"a b\"'");
}

#[test]
fn exec_denied_is_a_failure_naming_the_program() {
    let h = Harness::new();
    let err = h.run::<BashRunner>(json!({ "commands": ["python3 -m pytest"] })).unwrap_err();
    assert_eq!(
        err,
        ToolError::Failed(
            "commands[0] `python3 -m pytest`: cannot run: exec denied: the tool has no exec grant (program `python3`)".into()
        )
    );
}

#[test]
fn bad_commands_are_invalid_input() {
    let h = Harness::new();
    grant(&h, 0, "");
    assert_eq!(
        h.run::<BashRunner>(json!({ "commands": ["python3 -c 'unclosed"] })).unwrap_err(),
        ToolError::InvalidInput("commands[0]: unclosed ' in `python3 -c 'unclosed`".into())
    );
    assert_eq!(
        h.run::<BashRunner>(json!({ "commands": [] })).unwrap_err(),
        ToolError::InvalidInput("commands: empty (from input)".into())
    );
    assert_eq!(
        h.run::<BashRunner>(json!({ "commands": ["  "] })).unwrap_err(),
        ToolError::InvalidInput("commands[0]: an empty command".into())
    );
}

#[test]
fn no_tests_collected_fails() {
    let h = Harness::new();
    grant(&h, 5, "\nno tests ran in 0.01s\n");
    let err = h.run::<BashRunner>(json!({})).unwrap_err();
    assert!(matches!(err, ToolError::Failed(m) if m.ends_with("exited 5: 0 passed, 0 failed, 0 errors")));
}

#[test]
fn parses_summaries_with_rules_and_errors() {
    let r = parse("x", 1, "==== 2 failed, 10 passed, 3 skipped, 1 error in 1.2s ====\nERROR tests/t.py::test_a - fixture\n");
    assert_eq!((r.passed, r.failed, r.skipped, r.errors), (10, 2, 3, 1));
    assert_eq!(r.failures, ["tests/t.py::test_a"]);
    assert_eq!(strip_ansi("\u{1b}[32m19 passed\u{1b}[0m"), "19 passed");
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    assert_eq!(taylordash_sdk::describe::<BashRunner>(env!("CARGO_PKG_VERSION")).name, env!("CARGO_PKG_NAME"));
}
