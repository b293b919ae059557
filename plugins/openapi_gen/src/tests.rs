use super::*;
use serde_json::json;
use taylordash_sdk::testing::Harness;

const BACKLOG: &str = include_str!("../../../pipelines/examples/backlog.yaml");

fn run_example() -> (Harness, OpenapiGenOutput) {
    let h = Harness::new();
    h.write_workspace("backlog.yaml", BACKLOG);
    let out = h.run::<OpenapiGen>(json!({})).unwrap();
    (h, out)
}

fn yaml(text: &str) -> Value {
    serde_yaml_ng::from_str(text).unwrap()
}

#[test]
fn writes_the_document_schemas_and_examples() {
    let (h, out) = run_example();
    assert_eq!(
        out.files,
        [
            "openapi.yaml",
            "schemas/events/project_event.schema.json",
            "schemas/events/examples/project_created.json",
            "schemas/events/examples/project_updated.json",
            "schemas/events/examples/project_deleted.json",
        ]
    );
    assert_eq!(out.operations.len(), 7);
    assert_eq!(out.operations[5], "POST /api/v1/events publish_event");
    let doc = yaml(&h.out_file("openapi.yaml"));
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "TaylorDash API");
    assert!(h.out_file("openapi.yaml").starts_with("openapi: '3.1.0'\ninfo:\n"));
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(
        paths.keys().collect::<Vec<_>>(),
        ["/api/v1/events", "/api/v1/projects", "/api/v1/projects/{project_id}", "/metrics"]
    );
    assert_eq!(doc["paths"]["/api/v1/projects/{project_id}"]["parameters"][0]["name"], "project_id");
    assert_eq!(h.logs().len(), 1);
}

#[test]
fn every_mutating_operation_requires_the_bearer_token() {
    let (h, _) = run_example();
    let doc = yaml(&h.out_file("openapi.yaml"));
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let secured = op.get("security").is_some();
            assert_eq!(secured, method != "get", "{method} {path}");
            if secured {
                assert_eq!(op["security"], json!([{ "bearerAuth": [] }]));
                assert!(op["responses"].get("401").is_some());
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 4);
    assert_eq!(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
}

#[test]
fn event_component_and_schema_file_agree_with_the_example_contract() {
    let (h, _) = run_example();
    let doc = yaml(&h.out_file("openapi.yaml"));
    let file: Value = serde_json::from_str(&h.out_file("schemas/events/project_event.schema.json")).unwrap();
    let contract: Value =
        serde_json::from_str(include_str!("../../../pipelines/examples/contracts/project_event.schema.json"))
            .unwrap();
    assert_eq!(file, contract);
    let mut component = file.clone();
    component.as_object_mut().unwrap().remove("$schema");
    assert_eq!(doc["components"]["schemas"]["ProjectEvent"], component);
    let publish = &doc["paths"]["/api/v1/events"]["post"];
    assert_eq!(
        publish["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ProjectEvent"
    );
    assert_eq!(
        publish["responses"]["202"]["content"]["application/json"]["example"]["topic"],
        "tracker/events/taylordash-core"
    );
    let example: Value = serde_json::from_str(&h.out_file("schemas/events/examples/project_created.json")).unwrap();
    assert_eq!(example["type"], "project.created");
    assert_eq!(publish["requestBody"]["content"]["application/json"]["example"], example);
}

#[test]
fn resources_have_create_update_and_stored_schemas() {
    let (h, _) = run_example();
    let doc = yaml(&h.out_file("openapi.yaml"));
    let s = &doc["components"]["schemas"];
    assert_eq!(s["ProjectCreate"]["required"], json!(["name"]));
    assert_eq!(s["ProjectCreate"]["additionalProperties"], false);
    assert_eq!(s["ProjectUpdate"]["properties"]["description"]["type"], json!(["string", "null"]));
    assert_eq!(s["Project"]["required"], json!(["id", "name", "created_at", "updated_at"]));
    let create = &doc["paths"]["/api/v1/projects"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["example"],
        json!({ "name": "TaylorDash core", "description": "The TaylorDash project example" })
    );
    assert_eq!(
        create["responses"]["201"]["content"]["application/json"]["example"]["id"],
        "taylordash-core"
    );
    assert!(doc["paths"]["/api/v1/projects/{project_id}"]["delete"]["responses"]["204"].get("content").is_none());
}

#[test]
fn output_is_byte_identical_across_runs() {
    let files = || {
        let (h, out) = run_example();
        let texts: Vec<String> = out.files.iter().map(|f| h.out_file(f)).collect();
        (out, texts)
    };
    assert_eq!(files(), files());
}

#[test]
fn accepts_the_orchestrator_envelope_and_an_inline_backlog() {
    let h = Harness::new();
    let out = h
        .run::<OpenapiGen>(json!({
            "backlog": { "items": [ { "id": "w", "title": "Widgets CRUD", "resource": "widgets" } ] },
            "previous": null,
            "feedback": { "failed_gates": [ { "gate": "contract_compliance", "report": {} } ] },
            "task": { "run_id": "r", "attempt": 2 },
            "snapshot": "snapshot.json"
        }))
        .unwrap();
    assert_eq!(out.operations.len(), 5);
    assert_eq!(out.event_schemas, ["schemas/events/widget_event.schema.json"]);
    let logs = h.logs();
    assert!(logs.iter().any(|(_, m)| m.contains("retry after failed gate(s) contract_compliance")));
    assert!(logs.iter().any(|(_, m)| m == "openapi_gen: ignoring input key(s) snapshot"));
}

#[test]
fn a_broken_backlog_names_file_and_field() {
    let h = Harness::new();
    h.write_workspace("backlog.yaml", "items:\n  - id: a\n    title: A\n  - id: b\n");
    assert_eq!(
        h.run::<OpenapiGen>(json!({})).unwrap_err(),
        ToolError::InvalidInput("backlog.yaml: items[1].title is missing".into())
    );
    assert!(std::fs::read_dir(h.out()).unwrap().next().is_none(), "nothing written");
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    let info = taylordash_sdk::describe::<OpenapiGen>(env!("CARGO_PKG_VERSION"));
    assert_eq!(info.name, env!("CARGO_PKG_NAME"));
    let input: Value = serde_json::from_str(&info.input_schema).unwrap();
    assert!(input["properties"]["backlog"].is_object());
}
