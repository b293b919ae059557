use super::*;
use serde_json::json;
use taylordash_sdk::testing::Harness;

const EXAMPLE: &str = include_str!("../../../pipelines/examples/backlog.yaml");

fn example() -> ServiceModel {
    model_from_text("backlog.yaml", EXAMPLE).unwrap()
}

#[test]
fn example_backlog_gives_the_expected_service() {
    let m = example();
    assert_eq!(m.service.name, "taylordash");
    assert_eq!(m.service.api_prefix, "/api/v1");
    let kinds: Vec<(&str, ItemKind)> = m.items.iter().map(|i| (i.id.as_str(), i.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("projects-crud", ItemKind::Crud),
            ("event-schemas", ItemKind::Contracts),
            ("events-endpoint", ItemKind::EventIngest),
            ("metrics", ItemKind::Metrics),
            ("api-docs", ItemKind::Docs),
        ]
    );
    assert_eq!(m.resources.len(), 1);
    let r = &m.resources[0];
    assert_eq!((r.name.as_str(), r.singular.as_str(), r.class.as_str()), ("projects", "project", "Project"));
    assert_eq!(r.path, "/api/v1/projects");
    assert_eq!(r.example_id(&m.service), "taylordash-core");

    let ops: Vec<String> = m.endpoints.iter().map(|e| format!("{} {}", e.label(), e.operation_id)).collect();
    assert_eq!(
        ops,
        [
            "GET /api/v1/projects list_projects",
            "POST /api/v1/projects create_project",
            "GET /api/v1/projects/{project_id} get_project",
            "PATCH /api/v1/projects/{project_id} update_project",
            "DELETE /api/v1/projects/{project_id} delete_project",
            "POST /api/v1/events publish_event",
            "GET /metrics get_metrics",
        ]
    );
    let publish = &m.endpoints[5];
    assert_eq!(publish.events, ["project_event"]);
    assert_eq!(publish.success, 202);
    assert_eq!(publish.slo.latency_seconds(), "0.1");
    assert_eq!(publish.slo.error_budget(), "0.001");
    assert_eq!(publish.slo.availability_percent(), "99.9");

    assert_eq!(m.events.len(), 1);
    let e = &m.events[0];
    assert_eq!(e.topic, "tracker/events/{project_id}");
    assert_eq!(e.types, ["project.created", "project.updated", "project.deleted"]);
    assert_eq!(e.schema_file(), "schemas/events/project_event.schema.json");

    let metrics: Vec<&str> = m.metrics.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(
        metrics,
        [
            "taylordash_http_requests_total",
            "taylordash_http_request_duration_seconds",
            "taylordash_mqtt_publish_total"
        ]
    );
    assert_eq!(
        m.metrics[1].buckets(),
        ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5"]
    );
    assert!(m.notes.is_empty(), "{:?}", m.notes);
}

/// The generated event schema is the example contract of
/// `pipelines/examples/contracts`, so the example events read the same.
#[test]
fn event_schema_matches_the_example_contract() {
    let m = example();
    let contract: Value =
        serde_json::from_str(include_str!("../../../pipelines/examples/contracts/project_event.schema.json")).unwrap();
    assert_eq!(m.events[0].schema().to_json(), contract);
}

#[test]
fn examples_are_deterministic_and_complete() {
    let m = example();
    let ex = m.events[0].examples(&m);
    assert_eq!(ex.len(), 3);
    assert_eq!(ex[0].0, "project_created");
    assert_eq!(ex[0].1["project_id"], "taylordash-core");
    assert_eq!(ex[0].1["changes"], json!({"name": "TaylorDash core", "description": "The TaylorDash project example"}));
    assert_eq!(ex[1].1["changes"], json!({"name": "TaylorDash core (renamed)"}));
    assert!(ex[2].1.get("changes").is_none());
    assert_eq!(ex, m.events[0].examples(&m));
}

#[test]
fn validation_names_file_and_field() {
    let err = |text: &str| model_from_text("backlog.yaml", text).unwrap_err();
    assert_eq!(err("items:\n  - {id: a}\n"), "backlog.yaml: items[0].title is missing");
    assert_eq!(err("items:\n  - {title: A}\n"), "backlog.yaml: items[0].id is missing");
    assert_eq!(
        err("items:\n  - {id: a, title: A}\n  - {id: a, title: B}\n"),
        "backlog.yaml: items[1].id `a` duplicates items[0].id"
    );
    assert_eq!(
        err("items:\n  - {id: a, title: A, depends_on: [b]}\n"),
        "backlog.yaml: items[0].depends_on[0]: unknown item `b`"
    );
    assert_eq!(
        err("items:\n  - {id: a, title: A, depends_on: [b]}\n  - {id: b, title: B, depends_on: [a]}\n"),
        "backlog.yaml: dependency cycle a -> b -> a (each item depends on the next)"
    );
    assert_eq!(
        err("items:\n  - {id: a, title: A, resource: '9lives'}\n"),
        "backlog.yaml: items[0].resource `9lives` must be a name starting with a letter (e.g. `projects`)"
    );
    assert_eq!(
        err("items:\n  - {id: a, title: A, resource: x, fields: [{name: id}]}\n"),
        "backlog.yaml: items[0].fields[0].name `id` is reserved"
    );
    assert_eq!(
        err("items:\n  - {id: a, title: A, resource: x, fields: [{name: size, type: blob}]}\n"),
        "backlog.yaml: items[0].fields[0].type `blob` is not one of string, integer, number, boolean, date-time, date, uuid"
    );
    assert_eq!(
        err("items:\n  - {id: a, title: A, slo: {availability: 100}}\n"),
        "backlog.yaml: items[0].slo.availability must be a percentage above 0 and below 100, got 100"
    );
    assert_eq!(err("{}"), "backlog.yaml: items is missing");
    assert!(err("items:\n  - id: a\n    title: \"x\n").starts_with("backlog.yaml:4:1: "));
}

#[test]
fn custom_fields_slo_and_service() {
    let m = model_from_text(
        "b.yaml",
        "service: {name: Tracker, version: 2.0.0}\nitems:\n  - id: t\n    title: Tasks CRUD\n    resource: tasks\n    slo: {latency_p95_ms: 300, availability: 99.5}\n    fields:\n      - {name: title, type: string, required: true}\n      - {name: done, type: boolean}\n      - {name: due, type: date}\n",
    )
    .unwrap();
    assert_eq!(m.service.name, "tracker");
    assert_eq!(m.service.title, "Tracker");
    let r = &m.resources[0];
    assert_eq!(r.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["title", "done", "due"]);
    assert_eq!(r.example_id(&m.service), "tracker-core");
    assert!(m.endpoints.iter().all(|e| e.slo.latency_seconds() == "0.3" && e.slo.error_budget() == "0.005"));
    assert_eq!(m.events[0].topic, "tracker/tasks/{task_id}/events");
    assert!(m.metrics[1].buckets().contains(&"0.3".to_string()));
}

#[test]
fn publishing_without_resources_gets_a_generic_event() {
    let m = model_from_text(
        "b.yaml",
        "items:\n  - id: ingest\n    title: Ingest\n    description: POST /api/v2/ingest publishes to bus/in/{device_id}\n    resource: events\n",
    )
    .unwrap();
    assert_eq!(m.service.api_prefix, "/api/v2");
    assert_eq!(m.events.len(), 1);
    assert_eq!(m.events[0].name, "taylordash_event");
    assert_eq!(m.events[0].key_field.as_deref(), Some("device_id"));
    assert!(m.events[0].types.is_empty());
    assert_eq!(m.endpoints[0].operation_id, "publish_event");
    assert_eq!(m.endpoints[0].events, ["taylordash_event"]);
    let ex = m.events[0].examples(&m);
    assert_eq!(ex[0].1["type"], "taylordash_event.published");
}

#[test]
fn load_model_finds_the_workspace_backlog() {
    let h = Harness::new();
    assert_eq!(
        load_model(None).unwrap_err(),
        taylordash_sdk::ToolError::InvalidInput(
            "backlog: no `backlog` input and no backlog.json, backlog.yaml or backlog.yml in the workspace".into()
        )
    );
    h.write_workspace("backlog.yml", EXAMPLE);
    assert_eq!(load_model(None).unwrap().source, "backlog.yml");
    let inline = json!({ "items": [ { "id": "a", "title": "A", "resource": "widgets" } ] });
    let m = load_model(Some(&inline)).unwrap();
    assert_eq!(m.source, "backlog");
    assert_eq!(m.resources[0].name, "widgets");
    assert_eq!(
        load_model(Some(&json!("nope.yaml"))).unwrap_err(),
        taylordash_sdk::ToolError::InvalidInput("backlog: cannot read `nope.yaml`: no such file in the workspace".into())
    );
}

/// A generator that reports what it was handed.
struct Probe;

impl taylordash_sdk::Tool for Probe {
    const NAME: &'static str = "probe";
    const DESCRIPTION: &'static str = "reports its input";
    type Input = GenInput;
    type Output = Value;

    fn run(input: GenInput, cx: &taylordash_sdk::Context) -> Result<Value, taylordash_sdk::ToolError> {
        let env = cx.envelope();
        Ok(json!({
            "backlog": input.backlog,
            "previous": env.previous,
            "attempt": env.task.as_ref().map(|t| t.attempt),
            "extra": input.other.keys().collect::<Vec<_>>(),
        }))
    }
}

#[test]
fn the_envelope_reaches_the_context_and_extra_keys_stay_in_the_input() {
    let h = taylordash_sdk::testing::Harness::new();
    let out = h
        .run::<Probe>(json!({ "backlog": "backlog.yaml", "previous": {"a": 1}, "task": {"attempt": 2}, "snapshot": "s.json" }))
        .unwrap();
    assert_eq!(out, json!({ "backlog": "backlog.yaml", "previous": {"a": 1}, "attempt": 2, "extra": ["snapshot"] }));
}
