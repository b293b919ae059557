use super::*;
use serde_json::json;
use taylordash_sdk::testing::Harness;

const BACKLOG: &str = include_str!("../../../pipelines/examples/backlog.yaml");
const FAILURES: &str = include_str!("../../../pipelines/examples/failures.json");
const SNAPSHOT: &str = include_str!("../../../pipelines/examples/snapshot.json");

fn workspace() -> Harness {
    let h = Harness::new();
    h.write_workspace("backlog.yaml", BACKLOG);
    h.write_workspace("failures.json", FAILURES);
    h.write_workspace("snapshot.json", SNAPSHOT);
    h
}

fn planner_previous() -> Value {
    json!({ "session_plan": { "tasks": [
        { "order": 1, "id": "projects-crud", "action": "extend" },
        { "order": 2, "id": "event-schemas", "action": "create" },
        { "order": 3, "id": "events-endpoint", "action": "fix" },
        { "order": 4, "id": "metrics", "action": "create" },
        { "order": 5, "id": "api-docs", "action": "create" }
    ] } })
}

#[test]
fn numbers_one_record_per_decision_in_plan_order() {
    let h = workspace();
    let out = h
        .run::<AdrWriter>(json!({
            "backlog": "backlog.yaml", "failures": "failures.json", "snapshot": "snapshot.json",
            "previous": planner_previous()
        }))
        .unwrap();
    let files: Vec<&str> = out.adrs.iter().map(|a| a.file.as_str()).collect();
    assert_eq!(
        files,
        [
            "docs/adr/0001-record-architecture-decisions.md",
            "docs/adr/0002-serve-projects-through-an-async-fastapi-router-with.md",
            "docs/adr/0003-describe-every-bus-event-with-a-json-schema.md",
            "docs/adr/0004-validate-events-and-publish-them-on-tracker-events-project.md",
            "docs/adr/0005-expose-prometheus-metrics-with-a-latency-and-availability.md",
            "docs/adr/0006-document-the-service-with-mkdocs-generated-from-its.md",
        ]
    );
    let events = h.out_file(files[3]);
    assert!(events.starts_with("---\nstatus: accepted\ndecision-makers: project_manager (planning stage)\nbacklog-item: events-endpoint\n---\n\n# Validate events"));
    assert!(events.contains("task 3 of the session plan, action: fix."));
    assert!(events.contains(
        "The last run failed check `contract_compliance` on this item: POST /api/v1/events published a payload without trace_id"
    ));
    assert!(events.contains("* check `contract_compliance` passes\n"));
    assert!(events.contains("* `tests/test_api.py::test_publish_event_requires_trace_id` passes\n"));
    let crud = h.out_file(files[1]);
    assert!(crud.contains(
        "The workspace already has `backend/app/routers/projects.py`, `backend/tests/test_projects.py`: the decision extends it."
    ));
    assert!(crud.contains("## Considered Options\n\n* Async FastAPI router"));
    assert!(crud.contains("Chosen option: \"Async FastAPI router"));
    // Every record parses back with its number, title and status.
    for a in &out.adrs {
        let parsed = adr::parse(&a.file, &h.out_file(&a.file));
        assert!(parsed.problems.is_empty(), "{}: {:?}", a.file, parsed.problems);
        assert_eq!((parsed.number, parsed.title.as_str(), parsed.status.as_str()), (a.number, a.title.as_str(), "accepted"));
    }
}

#[test]
fn a_failed_item_supersedes_its_earlier_record_and_others_are_kept() {
    let h = workspace();
    h.write_workspace(
        "docs/adr/0007-publish-events.md",
        "---\nstatus: accepted\nbacklog-item: events-endpoint\n---\n\n# Publish events as received\n",
    );
    h.write_workspace(
        "docs/adr/0008-projects.md",
        "---\nstatus: accepted\nbacklog-item: projects-crud\n---\n\n# Projects router\n",
    );
    let out = h
        .run::<AdrWriter>(json!({ "failures": "failures.json", "snapshot": "snapshot.json" }))
        .unwrap();
    let written: Vec<(u32, Option<&str>, &[u32])> =
        out.adrs.iter().map(|a| (a.number, a.item.as_deref(), a.supersedes.as_slice())).collect();
    assert_eq!(
        written,
        [
            (9, Some("event-schemas"), &[][..]),
            (10, Some("events-endpoint"), &[7][..]),
            (11, Some("metrics"), &[][..]),
            (12, Some("api-docs"), &[][..]),
        ]
    );
    assert_eq!(out.skipped, ["`projects-crud`: decided in docs/adr/0008-projects.md and no check failed on it"]);
    let new = h.out_file(&out.adrs[1].file);
    assert!(new.contains("supersedes: \"0007\"\n"));
    assert!(new.contains("Supersedes [ADR-0007](0007-publish-events.md) (\"Publish events as received\")."));
    assert!(new.contains("(backlog order; the planner's plan was not given)"));
}

#[test]
fn output_is_byte_identical_across_runs() {
    let run = || {
        let h = workspace();
        let out = h
            .run::<AdrWriter>(json!({ "backlog": "backlog.yaml", "failures": "failures.json", "previous": planner_previous() }))
            .unwrap();
        out.files.iter().map(|f| h.out_file(f)).collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn bad_failures_name_the_field() {
    let h = workspace();
    let err = h
        .run::<AdrWriter>(json!({ "failures": { "failures": [ { "check": "x", "message": "m", "item": "nope" } ] } }))
        .unwrap_err();
    assert_eq!(err, ToolError::InvalidInput("failures: failures[0].item: unknown backlog item `nope`".into()));
    let err = h.run::<AdrWriter>(json!({ "failures": "missing.json" })).unwrap_err();
    assert_eq!(err, ToolError::InvalidInput("failures: cannot read `missing.json`: no such file in the workspace".into()));
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    assert_eq!(taylordash_sdk::describe::<AdrWriter>(env!("CARGO_PKG_VERSION")).name, env!("CARGO_PKG_NAME"));
}
