use super::*;
use serde_json::json;
use taylordash_sdk::testing::Harness;

const BASE: &str = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";
const HEAD: &str = "5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80";

/// `review/diff.json` for `files`: `(path, status, added line numbers)`,
/// the added lines' text taken from the workspace's head tree.
fn write_diff(h: &Harness, files: &[(&str, &str, &[usize])]) {
    let files: Vec<Value> = files
        .iter()
        .map(|(path, status, lines)| {
            let text = std::fs::read_to_string(h.workspace().join(path)).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            let added: Vec<Value> = lines.iter().map(|n| json!({ "line": n, "text": all.get(n - 1).copied().unwrap_or("") })).collect();
            json!({ "path": path, "status": status, "old_path": null, "added": added })
        })
        .collect();
    h.write_workspace("review/diff.json", serde_json::to_string_pretty(&json!({ "base": BASE, "head": HEAD, "files": files })).unwrap());
}

const MAIN_PY: &str = r#""""The items API."""
import logging

from fastapi import FastAPI

from app.routes import router

log = logging.getLogger(__name__)

app = FastAPI()
app.include_router(router)
import httpx


def client() -> httpx.Client:
    return httpx.Client(timeout=5)


def settings() -> dict:
    password = "hunter2hunter2"
    return {"password": password}


def archive(item_id: str) -> None:
    with client() as c:
        c.post(f"https://archive.example.com/{item_id}")
        log.info("archived %s", item_id)


def unused() -> None:
    pass
"#;

const ROUTES_PY: &str = r#""""Item routes."""
from fastapi import APIRouter

router = APIRouter(tags=["items"])


# Archiving is new in this change.
@router.post("/items/{id}/archive")
async def archive_item(id: str) -> dict:
    return {"id": id, "archived": True}


@router.get(
    "/items/{id}",
    summary="Get an item",
)
async def get_item(id: str) -> dict:
    return {"id": id}
"#;

const OPENAPI: &str = "openapi: 3.1.0
info:
  title: Items
  version: 1.0.0
paths:
  /items/{item_id}:
    get:
      operationId: get_item
      responses:
        200:
          description: The item.
";

const COVERAGE: &str = r#"{
  "meta": { "version": "7.6.1", "format": 3 },
  "files": {
    "app/main.py": { "executed_lines": [2, 4, 6, 8, 10, 11, 12, 15, 16, 19, 20, 21, 24, 30],
                     "missing_lines": [25, 26, 27, 31], "excluded_lines": [], "summary": {} },
    "app/routes.py": { "executed_lines": [1, 2, 4, 8, 9, 10, 13, 17, 18], "missing_lines": [] }
  },
  "totals": {}
}"#;

/// The change: `app/main.py` gains httpx, a hard-coded password and an
/// untested function; `app/routes.py` is new, with a route the contract
/// lacks. Context7 resolved httpx and its docs were fetched.
fn realistic(h: &Harness) {
    h.write_workspace("app/__init__.py", "");
    h.write_workspace("app/main.py", MAIN_PY);
    h.write_workspace("app/routes.py", ROUTES_PY);
    h.write_workspace("openapi.yaml", OPENAPI);
    h.write_workspace("reports/coverage.json", COVERAGE);
    h.write_workspace(
        "review/scope.json",
        r#"{"files": ["app/main.py", "app/routes.py"], "libraries": [{"name": "httpx", "import": "httpx", "occurrences": [{"file": "app/main.py", "line": 12}]}]}"#,
    );
    h.write_workspace(
        "research/libraries.json",
        r#"{"endpoint": "http://127.0.0.1:8931/mcp", "libraries": [{"library": "httpx", "id": "/encode/httpx", "title": "HTTPX"}]}"#,
    );
    h.write_workspace("docs/libraries/encode_httpx.md", "# HTTPX\n");
    write_diff(h, &[("app/main.py", "modified", &[12, 13, 14, 15, 16, 20, 24, 25, 26, 27]), ("app/routes.py", "added", &(1..=18).collect::<Vec<_>>())]);
}

fn gates() -> Value {
    json!({
        "security_check": {
            "passed": false,
            "findings": [
                { "file": "app/", "location": "", "message": "no `Strict-Transport-Security` (HSTS) header is set by the app" },
                { "file": "app/main.py", "location": "2:1", "message": "not on the change" },
                { "file": "./app/main.py", "location": "20:16", "message": "a hard-coded password or secret: `hunt…r2 (14 characters)`" }
            ],
            "checked": ["app/main.py"],
            "summary": "security_check: 3 finding(s) in 2 file(s)"
        },
        "contract_compliance": {
            "passed": false,
            "findings": [ { "file": "openapi.yaml", "location": "6:3 (/paths/~1items~1{item_id})", "message": "no 404 response" } ]
        }
    })
}

const REALISTIC_MD: &str = "# Review of 1a2b3c4..5d6e7f8

**Changes requested**: 1 blocking comment (security) of 4 comments on 2 changed files.

## app/main.py

- `app/main.py:12` **library** `httpx` is new to this repository: Context7 `/encode/httpx`, docs in `docs/libraries/encode_httpx.md`
- `app/main.py:20` **security** (security_check) a hard-coded password or secret: `hunt…r2 (14 characters)`
- `app/main.py:25-27` **coverage** lines 25–27 changed and not run by any test

## app/routes.py

- `app/routes.py:8` **architecture** `POST /items/{id}/archive` is not in the contract (openapi.yaml)

---
Checked: security_check, contract_compliance; coverage from reports/coverage.json; 3 gate findings outside the change not repeated.
";

#[test]
fn a_realistic_change_gets_exactly_this_review() {
    let h = Harness::new();
    realistic(&h);
    let out = h.run::<ReviewComments>(gates()).unwrap();
    assert_eq!(
        out,
        ReviewCommentsOutput {
            verdict: Verdict::ChangesRequested,
            comments: 4,
            blocking: 1,
            files: vec!["review/enhanced_review_comments.md".into()]
        }
    );
    assert_eq!(h.out_file("review/enhanced_review_comments.md"), REALISTIC_MD);
    let text = h.run_json::<ReviewComments>(&gates().to_string()).unwrap();
    assert_eq!(text, r#"{"verdict":"changes_requested","comments":4,"blocking":1,"files":["review/enhanced_review_comments.md"]}"#);
    let logs = h.logs();
    assert!(logs.contains(&(Level::Info, "app/main.py:20 security: (security_check) a hard-coded password or secret: `hunt…r2 (14 characters)`".into())), "{logs:?}");
    assert!(
        logs.contains(&(Level::Info, "1a2b3c4..5d6e7f8: changes requested: 1 blocking comment (security) of 4 comments on 2 changed files (review/enhanced_review_comments.md)".into())),
        "{logs:?}"
    );
}

#[test]
fn without_blocking_comments_the_change_is_approved() {
    let h = Harness::new();
    realistic(&h);
    // The password is gone; the gates only report elsewhere.
    let mut g = gates();
    g["security_check"]["findings"].as_array_mut().unwrap().pop();
    let out = h.run::<ReviewComments>(g).unwrap();
    assert_eq!((out.verdict, out.comments, out.blocking), (Verdict::Approve, 3, 0));
    let md = h.out_file("review/enhanced_review_comments.md");
    assert!(md.contains("\n**Approved**: 0 blocking comments of 3 comments on 2 changed files.\n"), "{md}");
    assert!(md.ends_with("\nChecked: security_check, contract_compliance; coverage from reports/coverage.json; 3 gate findings outside the change not repeated.\n"), "{md}");

    // Nothing to say at all.
    let h = Harness::new();
    h.write_workspace("README.md", "# Items\nMore words.\n");
    h.write_workspace("reports/coverage.json", r#"{"files": {}}"#);
    write_diff(&h, &[("README.md", "modified", &[2])]);
    let out = h.run::<ReviewComments>(json!({ "lint_check": { "passed": true } })).unwrap();
    assert_eq!((out.verdict, out.comments, out.blocking), (Verdict::Approve, 0, 0));
    assert_eq!(
        h.out_file("review/enhanced_review_comments.md"),
        "# Review of 1a2b3c4..5d6e7f8\n\n**Approved**: 0 blocking comments of 0 comments on 1 changed file.\n\n---\nChecked: lint_check; coverage from reports/coverage.json.\n"
    );
}

/// The review's comment lines (`- ` items) of the written document.
fn items(h: &Harness) -> Vec<String> {
    h.out_file("review/enhanced_review_comments.md").lines().filter_map(|l| l.strip_prefix("- ")).map(str::to_string).collect()
}

#[test]
fn library_comments_say_what_context7_found() {
    let h = Harness::new();
    h.write_workspace("app/feed.py", "import yaml\nimport paho.mqtt.client as mqtt\nimport httpx\n");
    write_diff(&h, &[("app/feed.py", "added", &[1, 2, 3])]);
    let scope = json!({ "files": ["app/feed.py"], "libraries": [
        { "name": "httpx", "import": "httpx", "occurrences": [{ "file": "app/feed.py", "line": 3 }] },
        { "name": "paho-mqtt", "import": "paho", "occurrences": [{ "file": "app/feed.py", "line": 2 }, { "file": "app/stale.py", "line": 9 }] },
        { "name": "pyyaml", "import": "yaml", "occurrences": [{ "file": "app/feed.py", "line": 1 }] } ] });
    h.write_workspace("review/scope.json", scope.to_string());
    // No research: nothing was looked up.
    h.run::<ReviewComments>(json!({})).unwrap();
    assert_eq!(
        items(&h),
        [
            "`app/feed.py:1` **library** `pyyaml` is new to this repository: not looked up",
            "`app/feed.py:2` **library** `paho-mqtt` is new to this repository: not looked up",
            "`app/feed.py:3` **library** `httpx` is new to this repository: not looked up",
        ]
    );
    // Resolved with docs, resolved without docs, not found.
    h.write_workspace(
        "research/libraries.json",
        r#"{"endpoint": "http://x/mcp", "libraries": [
            {"library": "httpx", "id": "/encode/httpx", "title": "HTTPX"},
            {"library": "paho-mqtt", "id": "/eclipse/paho.mqtt.python", "title": "Paho"}]}"#,
    );
    h.write_workspace("docs/libraries/encode_httpx.md", "# HTTPX\n");
    h.run::<ReviewComments>(json!({})).unwrap();
    assert_eq!(
        items(&h),
        [
            "`app/feed.py:1` **library** `pyyaml` is new to this repository: Context7 found no library for it",
            "`app/feed.py:2` **library** `paho-mqtt` is new to this repository: Context7 `/eclipse/paho.mqtt.python`, no docs fetched",
            "`app/feed.py:3` **library** `httpx` is new to this repository: Context7 `/encode/httpx`, docs in `docs/libraries/encode_httpx.md`",
        ]
    );
}

#[test]
fn without_scope_json_the_libraries_input_is_located_on_the_added_lines() {
    let h = Harness::new();
    h.write_workspace("app/feed.py", "import os\nimport yaml\nfrom httpx import Client\n");
    h.write_workspace("web/app.ts", "import axios from 'axios';\n");
    write_diff(&h, &[("app/feed.py", "modified", &[2, 3]), ("web/app.ts", "added", &[1])]);
    h.run::<ReviewComments>(json!({ "libraries": ["pyyaml", "axios"] })).unwrap();
    assert_eq!(
        items(&h),
        [
            "`app/feed.py:2` **library** `pyyaml` is new to this repository: not looked up",
            "`web/app.ts:1` **library** `axios` is new to this repository: not looked up",
        ]
    );
}

#[test]
fn gate_findings_count_only_on_the_change() {
    let h = Harness::new();
    h.write_workspace("app/a.py", "x = 1\ny = 2\nz = 3\n");
    h.write_workspace("app/new.py", "token = 'abc'\n");
    h.write_workspace("app/moved.py", "v = 1\n");
    h.write_workspace("reports/coverage.json", r#"{"files": {"app/a.py": {"executed_lines": [1, 2, 3]}, "app/new.py": {"executed_lines": [1]}, "app/moved.py": {"executed_lines": [1]}}}"#);
    write_diff(&h, &[("app/a.py", "modified", &[2, 3]), ("app/new.py", "added", &[1]), ("app/moved.py", "renamed", &[1]), ("app/old.py", "deleted", &[])]);
    let finding = |file: &str, location: &str, message: &str| json!({ "file": file, "location": location, "message": message });
    let input = json!({
        "security_scan": { "passed": false, "findings": [
            finding("app/a.py", "2", "B105 hardcoded password"),
            finding("app/a.py", "1:1", "unchanged line"),
            finding("app/new.py", "", "a whole added file"),
            finding("app/moved.py", "", "a whole renamed file"),
            finding("app/old.py", "1:1", "a deleted file"),
            finding("app/a.py", "/paths/x", "a bare pointer"),
        ] },
        "contract_compliance": { "passed": false, "findings": [
            finding("app/a.py", "3:5 (/components/schemas/Item)", "field `z`\n  is not in the contract"),
            finding("app/a.py", "3:5 (/components/schemas/Item)", "field `z`\n  is not in the contract"),
        ] },
        "lint_check": { "passed": true, "findings": [], "checked": [], "summary": "lint_check: passed" }
    });
    let out = h.run::<ReviewComments>(input).unwrap();
    assert_eq!((out.verdict, out.comments, out.blocking), (Verdict::ChangesRequested, 3, 2));
    assert_eq!(
        items(&h),
        [
            "`app/a.py:2` **security** (security_scan) B105 hardcoded password",
            "`app/a.py:3` **gate** (contract_compliance) field `z` is not in the contract",
            "`app/new.py` **security** (security_scan) a whole added file",
        ]
    );
    let md = h.out_file("review/enhanced_review_comments.md");
    assert!(md.contains("\n**Changes requested**: 2 blocking comments (security) of 3 comments on 4 changed files.\n"), "{md}");
    assert!(md.ends_with("\nChecked: security_scan, contract_compliance, lint_check; coverage from reports/coverage.json; 4 gate findings outside the change not repeated.\n"), "{md}");
}

fn architecture(h: &Harness) -> Vec<String> {
    items(h).into_iter().filter(|l| l.contains(" **architecture** ")).collect()
}

#[test]
fn routes_outside_the_contract_are_architecture_comments() {
    let h = Harness::new();
    let projects = "from fastapi import APIRouter\n\nrouter = APIRouter(\n    prefix=\"/api/v1/projects\",\n    tags=[\"projects\"],\n)\n\n\n@router.get(\n    \"\",\n)\nasync def list_projects(): ...\n\n\n@router.delete('/{project_id}')\nasync def delete_project(project_id: str): ...\n\n\n@router.post(\"/{project_id}/archive\", status_code=202)\nasync def archive(project_id: str): ...\n";
    let main = "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get(\"/healthz\")\nasync def health(): ...\n\n\n@app.options(\"/metrics\")\nasync def metrics(): ...\n";
    let events = "from fastapi import APIRouter\n\nrouter = APIRouter()\n\n\n@router.post(\"/events\")\nasync def publish(): ...\n";
    h.write_workspace("app/routers/projects.py", projects);
    h.write_workspace("app/main.py", main);
    h.write_workspace("app/routers/events.py", events);
    h.write_workspace("reports/coverage.json", r#"{"files": {}}"#);
    let contract = "openapi: 3.1.0\npaths:\n  /api/v1/projects:\n    get: {}\n    post: {}\n  /api/v1/projects/{id}:\n    delete: {}\n    parameters: []\n  /api/v1/events:\n    post: {}\n  /metrics:\n    get: {}\n";
    h.write_workspace("openapi.yaml", contract);
    write_diff(&h, &[("app/routers/projects.py", "modified", &[9, 10, 11, 15, 19]), ("app/main.py", "modified", &[6, 10]), ("app/routers/events.py", "added", &[6])]);
    h.run::<ReviewComments>(json!({})).unwrap();
    // GET "" under the prefix and DELETE /{project_id} are declared; the
    // events router is mounted elsewhere (its path ends a contract path).
    assert_eq!(
        architecture(&h),
        [
            "`app/routers/projects.py:19` **architecture** `POST /api/v1/projects/{project_id}/archive` is not in the contract (openapi.yaml)",
            "`app/main.py:6` **architecture** `GET /healthz` is not in the contract (openapi.yaml)",
            "`app/main.py:10` **architecture** `OPTIONS /metrics` is not in the contract (openapi.yaml)",
        ]
    );

    // No contract: one note per file adding routes.
    std::fs::remove_file(h.workspace().join("openapi.yaml")).unwrap();
    h.run::<ReviewComments>(json!({})).unwrap();
    assert_eq!(
        architecture(&h),
        [
            "`app/routers/projects.py` **architecture** routes added but the workspace has no openapi.yaml to check them against",
            "`app/main.py` **architecture** routes added but the workspace has no openapi.yaml to check them against",
            "`app/routers/events.py` **architecture** routes added but the workspace has no openapi.yaml to check them against",
        ]
    );

    // A contract that does not parse says so on those files.
    h.write_workspace("openapi.yaml", "paths: [unclosed\n");
    h.run::<ReviewComments>(json!({})).unwrap();
    let got = architecture(&h);
    assert_eq!(got.len(), 3, "{got:#?}");
    assert!(got[1].starts_with("`app/main.py` **architecture** routes added but openapi.yaml:"), "{got:#?}");
    assert!(got[1].ends_with(": not checked"), "{got:#?}");
}

#[test]
fn changed_lines_no_test_ran_are_coverage_comments() {
    let h = Harness::new();
    let service = "def a():\n    return 1\n\n\ndef b():\n    x = 1\n\n    # comment\n    return x\n\n\ndef c():\n    return 3\n";
    h.write_workspace("app/service.py", service);
    h.write_workspace("app/fresh.py", "# new module\n\nVALUE = 1\n\n\ndef f():\n    return VALUE\n");
    h.write_workspace("app/one.py", "\nX = 1\n");
    h.write_workspace("tests/test_service.py", "def test_a():\n    assert True\n");
    h.write_workspace("app/service_test.py", "def test_b():\n    assert True\n");
    // Absolute keys, as coverage writes them when run elsewhere.
    h.write_workspace(
        "reports/coverage.json",
        r#"{"files": {"/home/ci/work/app/service.py": {"executed_lines": [1, 2, 5, 12], "missing_lines": [6, 9, 13]},
                      "tests/test_service.py": {"executed_lines": [1], "missing_lines": [2]}}}"#,
    );
    write_diff(
        &h,
        &[
            ("app/service.py", "modified", &[5, 6, 7, 8, 9, 13]),
            ("app/fresh.py", "added", &[1, 2, 3, 4, 5, 6, 7]),
            ("app/one.py", "added", &[1, 2]),
            ("tests/test_service.py", "added", &[1, 2]),
            ("app/service_test.py", "added", &[1, 2]),
        ],
    );
    h.run::<ReviewComments>(json!({})).unwrap();
    assert_eq!(
        items(&h),
        [
            "`app/service.py:6-9` **coverage** lines 6–9 changed and not run by any test",
            "`app/service.py:13` **coverage** line 13 changed and not run by any test",
            "`app/fresh.py` **coverage** none of its 3 changed lines ran: no test imports it",
            "`app/one.py` **coverage** its changed line did not run: no test imports it",
        ]
    );
}

#[test]
fn without_a_coverage_report_the_summary_says_so() {
    let h = Harness::new();
    h.write_workspace("app/service.py", "def a():\n    return 1\n");
    write_diff(&h, &[("app/service.py", "modified", &[2])]);
    let out = h.run::<ReviewComments>(json!({})).unwrap();
    assert_eq!((out.verdict, out.comments), (Verdict::Approve, 0));
    assert_eq!(
        h.out_file("review/enhanced_review_comments.md"),
        "# Review of 1a2b3c4..5d6e7f8\n\n**Approved**: 0 blocking comments of 0 comments on 1 changed file.\n\n---\nChecked: no gate verdicts; no coverage report (reports/coverage.json): test coverage not checked.\n"
    );
    // A report that does not parse is named in the same place, and logged.
    h.write_workspace("reports/coverage.json", "{\"files\": 3}");
    h.run::<ReviewComments>(json!({})).unwrap();
    let md = h.out_file("review/enhanced_review_comments.md");
    assert!(md.contains("; coverage report unusable (reports/coverage.json: invalid type: integer `3`"), "{md}");
    assert!(md.ends_with("): test coverage not checked.\n"), "{md}");
    assert!(h.logs().iter().any(|(l, m)| *l == Level::Warn && m.starts_with("reports/coverage.json: invalid type")), "{:?}", h.logs());
}

#[test]
fn a_missing_diff_is_invalid_input_naming_taylordash_review() {
    let h = Harness::new();
    realistic(&h);
    std::fs::remove_file(h.workspace().join("review/diff.json")).unwrap();
    let err = h.run::<ReviewComments>(gates()).unwrap_err();
    assert!(
        matches!(&err, ToolError::InvalidInput(m) if m.starts_with("review/diff.json: no such file in the workspace")
            && m.contains("`taylordash review --base REV --head REV`")),
        "{err:?}"
    );
    assert!(!h.out().join("review").exists(), "nothing written on failure");
}

#[test]
fn input_keys_other_than_libraries_must_be_gate_verdicts() {
    let h = Harness::new();
    realistic(&h);
    let err = h.run::<ReviewComments>(json!({ "librarys": ["httpx"] })).unwrap_err();
    assert!(
        matches!(&err, ToolError::InvalidInput(m) if m.contains("`librarys` is neither `libraries` nor a gate's verdict")),
        "{err:?}"
    );
    let err = h.run::<ReviewComments>(json!({ "security_check": { "findings": [] } })).unwrap_err();
    assert!(matches!(&err, ToolError::InvalidInput(m) if m.contains("`security_check`") && m.contains("missing field `passed`")), "{err:?}");
    let err = h.run::<ReviewComments>(json!({ "libraries": "httpx" })).unwrap_err();
    assert!(matches!(&err, ToolError::InvalidInput(m) if m.contains("libraries")), "{err:?}");
    // The orchestrator's envelope is not input.
    h.run::<ReviewComments>(json!({ "task": { "run_id": "r", "trace_id": "t" }, "security_check": { "passed": true } })).unwrap();
}

#[test]
fn helpers() {
    for test in ["tests/test_a.py", "pkg/tests/x.py", "app/test_b.py", "app/b_test.py", "conftest.py"] {
        assert!(is_test(test), "{test}");
    }
    for not_test in ["app/testing.py", "app/contest.py", "app/latest.py"] {
        assert!(!is_test(not_test), "{not_test}");
    }
    let contract = Contract::parse(OPENAPI).unwrap();
    assert!(contract.declares("GET", "/items/{id}/", true));
    assert!(!contract.declares("POST", "/items/{id}", false));
    assert!(contract.declares("GET", "/{id}", false) && !contract.declares("GET", "/{id}", true));
    assert!(Contract::parse("a: [").unwrap_err().starts_with("openapi.yaml:"));
    assert!(is_security_gate("security_scan") && !is_security_gate("lint_check"));
}

#[test]
fn output_is_byte_identical_across_runs() {
    let run = || {
        let h = Harness::new();
        realistic(&h);
        (h.run_json::<ReviewComments>(&gates().to_string()).unwrap(), h.out_file("review/enhanced_review_comments.md"))
    };
    assert_eq!(run(), run());
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    let info = taylordash_sdk::describe::<ReviewComments>(env!("CARGO_PKG_VERSION"));
    assert_eq!(info.name, env!("CARGO_PKG_NAME"));
    let schema: Value = serde_json::from_str(&info.input_schema).unwrap();
    assert_eq!(schema["properties"]["libraries"]["type"], json!(["array", "null"]), "{schema}");
    assert_eq!(schema["additionalProperties"], json!({ "$ref": "#/$defs/GateVerdict" }), "gate verdicts by name: {schema}");
}

