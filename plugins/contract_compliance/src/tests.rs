use super::*;
use serde_json::json;
use taylordash_sdk::testing::Harness;

/// The workspace the generators make from `pipelines/examples/backlog.yaml`
/// (`tests/toolset/fixtures/example`, checked against the generators by
/// `tests/toolset/check_artifacts.sh`).
fn example(h: &Harness) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/toolset/fixtures/example");
    h.copy_into_workspace(&root);
}

fn gate_input() -> Value {
    json!({ "gate": "contract_compliance", "stage": "validation", "attempt": 1, "files": ["tests/test_api.py"],
            "outputs": {}, "task": { "run_id": "r", "trace_id": "t" } })
}

fn run(h: &Harness) -> GateOutput {
    h.run::<ContractCompliance>(gate_input()).unwrap()
}

fn edit(h: &Harness, rel: &str, f: impl FnOnce(String) -> String) {
    let path = h.workspace().join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(path, f(text)).unwrap();
}

#[test]
fn the_generated_contracts_pass() {
    let h = Harness::new();
    example(&h);
    let out = run(&h);
    assert_eq!(out.findings, [], "{:#?}", out.findings);
    assert!(out.passed);
    assert_eq!(
        out.checked,
        [
            "openapi.yaml",
            "schemas/events/examples/project_created.json",
            "schemas/events/examples/project_deleted.json",
            "schemas/events/examples/project_updated.json",
            "schemas/events/project_event.schema.json",
        ]
    );
    assert_eq!(out.summary, "contract_compliance: passed: openapi.yaml valid, 1 event schema(s), 3 example(s) (5 files checked)");
    let report: GateOutput = serde_json::from_str(&h.out_file("reports/contract_compliance.json")).unwrap();
    assert_eq!(report, out);
}

/// `pipelines/examples/events/project_updated.json` is the last run's bad
/// payload: no trace_id, empty changes. The YAML example is fine.
#[test]
fn the_example_events_are_checked_against_every_schema_admitting_their_type() {
    let h = Harness::new();
    example(&h);
    h.write_workspace("contracts/project_event.schema.json", include_str!("../../../pipelines/examples/contracts/project_event.schema.json"));
    h.write_workspace("events/project_created.yaml", include_str!("../../../pipelines/examples/events/project_created.yaml"));
    h.write_workspace("events/project_updated.json", include_str!("../../../pipelines/examples/events/project_updated.json"));
    let out = run(&h);
    assert!(!out.passed);
    let got: Vec<(&str, &str, &str)> =
        out.findings.iter().map(|f| (f.file.as_str(), f.location.as_str(), f.message.as_str())).collect();
    assert_eq!(
        got,
        [
            (
                "events/project_updated.json",
                "1:1 (/)",
                "/: \"trace_id\" is a required property (schema contracts/project_event.schema.json)"
            ),
            (
                "events/project_updated.json",
                "1:1 (/)",
                "/: \"trace_id\" is a required property (schema schemas/events/project_event.schema.json)"
            ),
            (
                "events/project_updated.json",
                "6:3 (/changes)",
                "/changes: {} has less than 1 property (schema contracts/project_event.schema.json)"
            ),
            (
                "events/project_updated.json",
                "6:3 (/changes)",
                "/changes: {} has less than 1 property (schema schemas/events/project_event.schema.json)"
            ),
        ]
    );
    assert!(out.checked.contains(&"events/project_created.yaml".to_string()));
}

#[test]
fn openapi_problems_are_located() {
    let h = Harness::new();
    example(&h);
    edit(&h, "openapi.yaml", |t| {
        t.replacen("      operationId: get_project\n", "      operationId: list_projects\n", 1)
            .replacen("$ref: '#/components/schemas/ProjectUpdate'", "$ref: '#/components/schemas/ProjectPatch'", 1)
            .replacen("  /metrics:\n    get:\n", "  /metrics/{scope}:\n    get:\n", 1)
            .replacen("              name: TaylorDash core\n", "              name: 7\n", 1)
    });
    let out = run(&h);
    let msgs: Vec<String> = out.findings.iter().map(|f| format!("{} {}", f.location, f.message)).collect();
    let has = |needle: &str| msgs.iter().any(|m| m.contains(needle));
    assert!(has("GET /api/v1/projects/{project_id}: operationId `list_projects` is also used by GET /api/v1/projects"), "{msgs:#?}");
    assert!(has("`$ref` `#/components/schemas/ProjectPatch` does not resolve"), "{msgs:#?}");
    assert!(has("GET /metrics/{scope}: path parameter `scope` is not declared `in: path`"), "{msgs:#?}");
    assert!(has("GET /api/v1/projects: the example does not match its schema: /paths/~1api~1v1~1projects/get/responses/200/content/application~1json/example/0/name: 7 is not of type \"string\""), "{msgs:#?}");
    // Every location is a line and column with the pointer.
    for f in &out.findings {
        assert!(f.location.chars().next().is_some_and(|c| c.is_ascii_digit()), "{f:?}");
        assert_eq!(f.file, "openapi.yaml");
    }
}

#[test]
fn the_official_schema_catches_structural_errors() {
    let h = Harness::new();
    example(&h);
    edit(&h, "openapi.yaml", |t| t.replacen("openapi: '3.1.0'", "openapi: '3.0.3'", 1).replacen("  version: '0.1.0'\n", "", 1));
    let out = run(&h);
    let msgs: Vec<String> = out.findings.iter().map(|f| format!("{} {}", f.location, f.message)).collect();
    assert!(msgs.iter().any(|m| m.starts_with("1:1 (/openapi) OpenAPI 3.1: /openapi: \"3.0.3\" does not match")), "{msgs:#?}");
    assert!(msgs.iter().any(|m| m.starts_with("2:1 (/info) OpenAPI 3.1: /info: \"version\" is a required property")), "{msgs:#?}");
}

#[test]
fn invalid_schemas_and_unparsable_files_are_findings() {
    let h = Harness::new();
    example(&h);
    edit(&h, "schemas/events/project_event.schema.json", |t| t.replacen("\"type\": \"object\",", "\"type\": \"objekt\",", 1));
    h.write_workspace("events/broken.yaml", "type: [unclosed\n");
    h.write_workspace("events/untyped.json", "{\"event_id\": \"x\"}");
    let out = run(&h);
    let got: Vec<String> = out.findings.iter().map(|f| format!("{}:{} {}", f.file, f.location, f.message)).collect();
    assert!(got.iter().any(|m| m.starts_with("schemas/events/project_event.schema.json:4:3 (/type) not a valid JSON Schema: /type: ")), "{got:#?}");
    assert!(got.iter().any(|m| m.starts_with("events/broken.yaml:2:1 does not parse: ")), "{got:#?}");
    assert!(got.contains(&"events/untyped.json:1:1 (/) no string `type`: cannot tell which event schema applies".to_string()), "{got:#?}");
    // The invalid schema checks nothing: the examples find no schema.
    assert!(got.contains(&"schemas/events/examples/project_created.json:3:3 (/type) /type: no event schema admits type `project.created`".to_string()), "{got:#?}");
}

#[test]
fn openapi_and_event_schema_must_agree() {
    let h = Harness::new();
    example(&h);
    edit(&h, "schemas/events/project_event.schema.json", |t| t.replace("^[0-9a-f]{32}$", "^[0-9a-f]{16,32}$"));
    let out = run(&h);
    let f: Vec<&Finding> = out.findings.iter().filter(|f| f.file == "openapi.yaml").collect();
    assert_eq!(f.len(), 1, "{:#?}", out.findings);
    assert_eq!(
        f[0].message,
        "components.schemas.ProjectEvent differs from schemas/events/project_event.schema.json at /properties/trace_id/pattern"
    );
    assert!(f[0].location.ends_with("(/components/schemas/ProjectEvent/properties/trace_id/pattern)"));
}

#[test]
fn an_empty_workspace_fails_with_the_missing_contract() {
    let h = Harness::new();
    let out = run(&h);
    assert!(!out.passed);
    assert_eq!(out.findings, [Finding::new("openapi.yaml", "", "missing: the API contract (openapi_gen writes it)")]);
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    let info = taylordash_sdk::describe::<ContractCompliance>(env!("CARGO_PKG_VERSION"));
    assert_eq!(info.name, env!("CARGO_PKG_NAME"));
    let output: Value = serde_json::from_str(&info.output_schema).unwrap();
    assert!(output["properties"]["passed"].is_object());
}
