use super::*;
use serde_json::json;
use taylordash_sdk::testing::Harness;

const BACKLOG: &str = include_str!("../../../pipelines/examples/backlog.yaml");

fn run_example() -> (Harness, PytestAsyncioOutput) {
    let h = Harness::new();
    h.write_workspace("backlog.yaml", BACKLOG);
    let out = h.run::<PytestAsyncio>(json!({ "task": { "stage": "validation" } })).unwrap();
    (h, out)
}

#[test]
fn one_test_per_endpoint_and_contract() {
    let (h, out) = run_example();
    assert_eq!(out.files, ["tests/test_api.py", "tests/requirements.txt"]);
    assert_eq!(out.by_endpoint.len(), 7, "every operation has tests");
    for op in ["list_projects", "create_project", "get_project", "update_project", "delete_project", "publish_event", "get_metrics"] {
        let tests = &out.by_endpoint[op];
        assert_eq!(tests[0], format!("test_{op}"), "{op}");
    }
    assert_eq!(
        out.by_endpoint["create_project"],
        ["test_create_project", "test_create_project_requires_auth", "test_create_project_rejects_invalid_bodies", "test_create_project_conflict"]
    );
    assert_eq!(
        out.by_endpoint["publish_event"],
        ["test_publish_event", "test_publish_event_requires_trace_id", "test_publish_event_rejects_invalid_events", "test_publish_event_requires_auth"]
    );
    assert_eq!(
        out.contracts,
        [
            "test_contract_event_examples_match_their_schemas",
            "test_contract_published_events_match_their_schemas",
            "test_contract_app_serves_the_openapi_operations",
            "test_contract_hsts_on_every_response",
        ]
    );
    assert_eq!(out.tests.len(), 19);
    let text = h.out_file("tests/test_api.py");
    assert_eq!(text.matches("@pytest.mark.asyncio\nasync def test_").count(), 19);
    assert!(!text.contains("@@"));
}

#[test]
fn tests_use_the_contract_examples_and_topics() {
    let (h, _) = run_example();
    let text = h.out_file("tests/test_api.py");
    assert!(text.contains(
        "PROJECT_CREATE = {\"description\": \"The TaylorDash project example\", \"name\": \"TaylorDash core\"}\n"
    ));
    assert!(text.contains("assert created[\"id\"] == \"taylordash-core\"\n"));
    assert!(text.contains("    assert topic == f\"tracker/events/{created['id']}\"\n"));
    assert!(text.contains("    assert event[\"trace_id\"] == CALLER_TRACE_ID\n"));
    assert!(text.contains("    assert receipt[\"topic\"] == f\"tracker/events/{PROJECT_EVENT_EXAMPLE['project_id']}\"\n"));
    assert!(text.contains("EVENT_SCHEMAS = dict([[\"project_event\", \"schemas/events/project_event.schema.json\"]])\n"));
    assert!(text.contains("httpx.ASGITransport(app=app)"));
    assert!(!text.contains("password"), "no credentials in the suite");
}

#[test]
fn output_is_byte_identical_across_runs() {
    let run = || {
        let (h, out) = run_example();
        (out, h.out_file("tests/test_api.py"))
    };
    assert_eq!(run(), run());
}

#[test]
fn no_resources_still_gives_a_suite() {
    let h = Harness::new();
    let out = h
        .run::<PytestAsyncio>(json!({ "backlog": { "items": [
            { "id": "m", "title": "Prometheus metrics", "description": "on /metrics" }
        ] } }))
        .unwrap();
    assert_eq!(out.by_endpoint.keys().collect::<Vec<_>>(), ["get_metrics"]);
    let text = h.out_file("tests/test_api.py");
    assert!(text.contains("for path in (\"/metrics\", \"/no/such/path\"):"));
}

#[test]
fn a_missing_backlog_is_named() {
    let h = Harness::new();
    assert_eq!(
        h.run::<PytestAsyncio>(json!({})).unwrap_err(),
        ToolError::InvalidInput(
            "backlog: no `backlog` input and no backlog.json, backlog.yaml or backlog.yml in the workspace".into()
        )
    );
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    let info = taylordash_sdk::describe::<PytestAsyncio>(env!("CARGO_PKG_VERSION"));
    assert_eq!(info.name, env!("CARGO_PKG_NAME"));
}
