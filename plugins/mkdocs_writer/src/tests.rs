use super::*;
use serde_json::json;
use taylordash_sdk::testing::Harness;

/// The workspace the generators make from `pipelines/examples/backlog.yaml`.
fn example(h: &Harness) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/toolset/fixtures/example");
    h.copy_into_workspace(&root);
}

fn yaml(text: &str) -> Value {
    source::decode("mkdocs.yml", source::Format::Yaml, text).unwrap()
}

#[test]
fn writes_the_config_and_a_page_per_concern() {
    let h = Harness::new();
    example(&h);
    h.write_workspace("session_plan.md", "# Session plan\n\n## 1. Projects CRUD API (`projects-crud`)\n");
    h.write_workspace("docs/adr/0001-record-architecture-decisions.md", "---\nstatus: accepted\n---\n\n# Record architecture decisions\n");
    h.write_workspace("reports/bash_runner.json", r#"{"passed": 19, "failed": 0, "skipped": 0, "exit_code": 0}"#);
    let out = h.run::<MkdocsWriter>(json!({ "previous": null, "task": { "stage": "documentation" } })).unwrap();
    assert_eq!(
        out.pages,
        ["docs/index.md", "docs/plan.md", "docs/api.md", "docs/events.md", "docs/data.md", "docs/observability.md", "docs/security.md", "docs/testing.md"]
    );
    assert_eq!(out.adrs, ["docs/adr/0001-record-architecture-decisions.md"]);
    assert_eq!(out.missing, ["acceptance_criteria.md"]);
    let cfg = yaml(&h.out_file("mkdocs.yml"));
    assert_eq!(cfg["site_name"], "TaylorDash API");
    assert_eq!(cfg["strict"], true);
    assert_eq!(cfg["nav"][8]["Decisions"], json!([{ "Index": "adr/index.md" }, { "0001 Record architecture decisions": "adr/0001-record-architecture-decisions.md" }]));
    assert!(h.out_file("docs/plan.md").starts_with("# Session plan\n\n## Session plan\n\n### 1. Projects CRUD API"));
    assert!(h.out_file("docs/testing.md").contains("Last run (`bash_runner`): **19 passed, 0 failed, 0 skipped**, exit code 0."));
}

/// The backlog's `api-docs` item: every endpoint with a request and a response example.
#[test]
fn the_api_page_lists_every_endpoint_with_examples() {
    let h = Harness::new();
    example(&h);
    h.run::<MkdocsWriter>(json!({})).unwrap();
    let api = h.out_file("docs/api.md");
    for op in ["list_projects", "create_project", "get_project", "update_project", "delete_project", "publish_event", "get_metrics"] {
        assert!(api.contains(&format!("\n### {op}\n")), "{op}");
        assert!(api.contains(&format!("| [`{op}`](#{op}) |")), "{op}");
    }
    assert!(api.contains("### create_project\n\n`POST /api/v1/projects`: Create a project\n"));
    assert!(api.contains("Request body (`application/json`, [ProjectCreate](#projectcreate)):\n\n```json\n{\n  \"name\": \"TaylorDash core\",\n"));
    assert!(api.contains("Response example (201, `application/json`):\n\n```json\n{\n  \"id\": \"taylordash-core\",\n"));
    assert!(api.contains("Response example (200, `text/plain`):\n\n```text\n# HELP taylordash_http_requests_total"));
    assert!(api.contains("| `project_id` | path | string | yes | The project's id (a slug). |"));
    assert!(api.contains("\n### ProjectEvent\n"));
    let events = h.out_file("docs/events.md");
    assert!(events.contains("| [project_event](#project_event) | `tracker/events/{project_id}` | `project.created`, `project.updated`, `project.deleted` |"));
    assert!(events.contains("| `trace_id` | string | yes | pattern `^[0-9a-f]{32}$` |"));
    assert!(events.contains("Example `project.created` (`schemas/events/examples/project_created.json`):"));
    let data = h.out_file("docs/data.md");
    assert!(data.contains("### projects\n\n| Column | Definition |\n|---|---|\n| `id` | `TEXT PRIMARY KEY CHECK (id ~ '^[a-z0-9-]+$' AND char_length(id) <= 64)` |"));
    let obs = h.out_file("docs/observability.md");
    assert!(obs.contains("| `publish_event` | `POST /api/v1/events` | ≤ 0.1 s | 99.9 % | 0.001 |"));
    assert!(obs.contains("| `taylordash-slo-list_projects` | `ListProjectsLatencySLO` | alert |"));
    let sec = h.out_file("docs/security.md");
    assert!(sec.contains("`Strict-Transport-Security: max-age=63072000; includeSubDomains`"));
    assert!(sec.contains("| `DELETE /api/v1/projects/{project_id}` | bearerAuth |"));
}

#[test]
fn missing_artifacts_are_said_so() {
    let h = Harness::new();
    h.write_workspace("backlog.yaml", include_str!("../../../pipelines/examples/backlog.yaml"));
    let out = h.run::<MkdocsWriter>(json!({})).unwrap();
    assert!(out.missing.contains(&"openapi.yaml".to_string()));
    assert!(out.missing.contains(&"migrations/001_init.sql".to_string()));
    assert!(h.out_file("docs/api.md").contains("!!! warning \"Not generated\"\n    `openapi.yaml` is not in the workspace: `openapi_gen` did not run or failed.\n"));
    assert!(h.out_file("docs/index.md").contains("| `openapi.yaml` | OpenAPI 3.1 contract (**missing**) | `openapi_gen` |"));
}

#[test]
fn output_is_byte_identical_across_runs() {
    let run = || {
        let h = Harness::new();
        example(&h);
        let out = h.run::<MkdocsWriter>(json!({})).unwrap();
        out.files.iter().map(|f| h.out_file(f)).collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    assert_eq!(taylordash_sdk::describe::<MkdocsWriter>(env!("CARGO_PKG_VERSION")).name, env!("CARGO_PKG_NAME"));
}
