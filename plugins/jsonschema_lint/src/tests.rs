use super::*;
use serde_json::json;
use taylordash_sdk::testing::Harness;

const PROJECT_SCHEMA: &str = r#"{
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["name", "items"],
        "additionalProperties": false,
        "properties": {
            "name": { "type": "string", "minLength": 1 },
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": { "type": "string" },
                        "qty": { "type": "integer", "minimum": 0 }
                    }
                }
            }
        }
    }"#;

fn v(pointer: &str, schema_path: &str, message: &str) -> Violation {
    Violation {
        pointer: pointer.into(),
        schema_path: schema_path.into(),
        message: message.into(),
    }
}

fn invalid(h: &Harness, input: Value) -> String {
    match h.run::<JsonschemaLint>(input) {
        Err(ToolError::InvalidInput(m)) => m,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn valid_document_passes_and_writes_the_report() {
    let h = Harness::new();
    h.write_workspace("schemas/project.json", PROJECT_SCHEMA);
    h.write_workspace(
        "project.json",
        r#"{"name": "dash", "items": [{"name": "a", "qty": 1}]}"#,
    );
    let out = h
        .run::<JsonschemaLint>(
            json!({ "document": "project.json", "schema": "schemas/project.json" }),
        )
        .unwrap();
    assert_eq!(
        out,
        LintOutput {
            valid: true,
            schema: Report {
                path: "schemas/project.json".into(),
                valid: true,
                violations: vec![]
            },
            documents: vec![Report {
                path: "project.json".into(),
                valid: true,
                violations: vec![]
            }],
            schemas: vec![],
            note: None,
        }
    );
    let written: LintOutput = serde_json::from_str(&h.out_file(REPORT)).unwrap();
    assert_eq!(written, out);
    assert_eq!(h.logs(), [(Level::Info, "project.json: valid".to_string())]);
}

#[test]
fn every_violation_is_reported_in_order() {
    let h = Harness::new();
    h.write_workspace("schema.json", PROJECT_SCHEMA);
    let items: Vec<Value> = (0..11)
        .map(|i| {
            if i == 2 || i == 10 {
                json!({ "qty": -1 })
            } else {
                json!({ "name": "x" })
            }
        })
        .collect();
    h.write_workspace(
        "bad.json",
        serde_json::to_string(&json!({ "name": "", "items": items, "extra": true })).unwrap(),
    );
    let out = h
        .run::<JsonschemaLint>(json!({ "document": "bad.json", "schema": "schema.json" }))
        .unwrap();
    assert!(!out.valid);
    assert!(out.schema.valid);
    assert_eq!(
        out.documents[0].violations,
        [
            v(
                "",
                "/additionalProperties",
                "Additional properties are not allowed ('extra' was unexpected)"
            ),
            v(
                "/items/2",
                "/properties/items/items/required",
                "\"name\" is a required property"
            ),
            v(
                "/items/2/qty",
                "/properties/items/items/properties/qty/minimum",
                "-1 is less than the minimum of 0"
            ),
            v(
                "/items/10",
                "/properties/items/items/required",
                "\"name\" is a required property"
            ),
            v(
                "/items/10/qty",
                "/properties/items/items/properties/qty/minimum",
                "-1 is less than the minimum of 0"
            ),
            v(
                "/name",
                "/properties/name/minLength",
                "\"\" is shorter than 1 character"
            ),
        ]
    );
    assert_eq!(
        h.logs(),
        [(Level::Info, "bad.json: 6 violations".to_string())]
    );
    // Not a tool error, and the same bytes every time.
    let first = h.out_file(REPORT);
    h.run::<JsonschemaLint>(json!({ "document": "bad.json", "schema": "schema.json" }))
        .unwrap();
    assert_eq!(h.out_file(REPORT), first);
}

#[test]
fn several_yaml_and_json_documents_against_an_inline_schema() {
    let h = Harness::new();
    h.write_workspace("events/a.yaml", "topic: projects/created\nqos: 1\n");
    h.write_workspace("events/b.yml", "topic: 7\nqos: 3\n");
    h.write_workspace("events/c.json", r#"{"topic": "metrics/tick", "qos": 0}"#);
    let schema = json!({
        "type": "object",
        "required": ["topic"],
        "properties": { "topic": { "type": "string" }, "qos": { "enum": [0, 1, 2] } }
    });
    let out = h
        .run::<JsonschemaLint>(json!({
            "document": "events/a.yaml",
            "documents": ["events/b.yml", "events/c.json", "events/a.yaml"],
            "schema": schema
        }))
        .unwrap();
    assert!(!out.valid);
    assert_eq!(out.schema.path, "(inline)");
    let paths: Vec<&str> = out.documents.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(paths, ["events/a.yaml", "events/b.yml", "events/c.json"]);
    assert!(out.documents[0].valid && out.documents[2].valid);
    assert_eq!(
        out.documents[1].violations,
        [
            v("/qos", "/properties/qos/enum", "3 is not one of 0, 1 or 2"),
            v(
                "/topic",
                "/properties/topic/type",
                "7 is not of type \"string\""
            ),
        ]
    );
}

#[test]
fn invalid_schema_is_a_finding_not_an_error() {
    let h = Harness::new();
    h.write_workspace("doc.json", "{}");
    let out = h
        .run::<JsonschemaLint>(json!({
            "document": "doc.json",
            "schema": { "type": "strng", "properties": { "a": { "minLength": -1 } } }
        }))
        .unwrap();
    assert!(!out.valid);
    assert!(!out.schema.valid);
    assert_eq!(
        out.schema.violations,
        [
            v(
                "/properties/a/minLength",
                "/$ref/properties/properties/$ref/additionalProperties/$ref/properties\
                     /minLength/$ref/minimum",
                "-1 is less than the minimum of 0"
            ),
            v(
                "/type",
                "/$ref/properties/type/anyOf",
                "\"strng\" is not valid under any of the schemas listed in the 'anyOf' keyword"
            ),
        ]
    );
    assert_eq!(
        out.documents,
        [Report {
            path: "doc.json".into(),
            valid: false,
            violations: vec![v("", "", "not checked: the schema (inline) is invalid")],
        }]
    );
    assert_eq!(
        h.logs(),
        [(
            Level::Warn,
            "schema (inline): 2 finding(s); documents not checked".to_string()
        )]
    );

    // A `$schema` naming no known draft cannot be fetched: also a finding.
    let out = h
        .run::<JsonschemaLint>(json!({
            "document": "doc.json",
            "schema": { "$schema": "https://example.com/my-meta", "type": "object" }
        }))
        .unwrap();
    assert!(!out.valid);
    assert_eq!(
        out.schema.violations,
        [v(
            "/$schema",
            "",
            "unknown meta-schema `https://example.com/my-meta`: only drafts 4, 6, 7, 2019-09 \
                 and 2020-12 are built in, and nothing is fetched"
        )]
    );
}

#[test]
fn refs_resolve_to_workspace_files() {
    let h = Harness::new();
    h.write_workspace(
        "schemas/common.yaml",
        "$defs:\n  id:\n    type: string\n    pattern: '^[a-z]+$'\n",
    );
    h.write_workspace(
        "schemas/project.json",
        r#"{"properties": {"id": {"$ref": "common.yaml#/$defs/id"}}}"#,
    );
    h.write_workspace("p.json", r#"{"id": "Not-Ok"}"#);
    let out = h
        .run::<JsonschemaLint>(
            json!({ "document": "p.json", "schema": "schemas/project.json" }),
        )
        .unwrap();
    assert_eq!(
        out.documents[0].violations,
        [v(
            "/id",
            "/properties/id/$ref/pattern",
            "\"Not-Ok\" does not match \"^[a-z]+$\""
        )]
    );
    // A reference outside the workspace is a schema finding.
    let out = h
        .run::<JsonschemaLint>(json!({
            "document": "p.json",
            "schema": { "$ref": "https://example.com/schema.json" }
        }))
        .unwrap();
    assert!(!out.schema.valid);
    assert_eq!(
        out.schema.violations,
        [v(
            "/$ref",
            "",
            "cannot resolve `https://example.com/schema.json`: outside the workspace, and \
                 nothing is fetched"
        )]
    );
}

#[test]
fn missing_and_unparsable_files_are_invalid_input() {
    let h = Harness::new();
    h.write_workspace("schema.json", "{}");
    assert_eq!(
        invalid(
            &h,
            json!({ "document": "nope.json", "schema": "schema.json" })
        ),
        "document: cannot read `nope.json`: no such file in the workspace"
    );
    assert_eq!(
        invalid(
            &h,
            json!({ "document": "x.json", "schema": "missing.yaml" })
        ),
        "schema: cannot read `missing.yaml`: no such file in the workspace"
    );
    h.write_workspace("ok.json", "{}");
    h.write_workspace("broken.json", "{\n  \"a\": 1,\n}\n");
    assert_eq!(
        invalid(
            &h,
            json!({ "documents": ["ok.json", "broken.json"], "schema": "schema.json" })
        ),
        "broken.json:3:1: trailing comma"
    );
    h.write_workspace("broken.yaml", "a: 1\nb: [2\n");
    assert_eq!(
        invalid(
            &h,
            json!({ "document": "broken.yaml", "schema": "schema.json" })
        ),
        "broken.yaml:3:1: did not find expected ',' or ']', while parsing a flow sequence \
             at line 2 column 4"
    );
}

#[test]
fn bad_arguments_are_invalid_input() {
    let h = Harness::new();
    assert_eq!(
        invalid(&h, json!({ "schema": {} })),
        "no document to check: give `document` or `documents`"
    );
    assert_eq!(
        invalid(&h, json!({ "document": "a.txt", "schema": {} })),
        "document: `a.txt` is neither .json nor .yaml/.yml"
    );
    assert_eq!(
        invalid(&h, json!({ "document": "/etc/passwd.json", "schema": {} })),
        "document: `/etc/passwd.json` must be a relative path inside the workspace"
    );
    assert_eq!(
        invalid(&h, json!({ "document": "a.json", "schema": 3 })),
        "schema: expected a workspace-relative path or an inline JSON Schema (object or \
             boolean), got a number"
    );
}

#[test]
fn ref_loops_are_reported_not_followed() {
    let h = Harness::new();
    h.write_workspace("doc.json", r#"{"c": {"c": {}}}"#);
    let out = h
        .run::<JsonschemaLint>(json!({
            "document": "doc.json",
            "schema": { "anyOf": [{ "$ref": "#" }], "properties": { "c": { "$ref": "#" } } }
        }))
        .unwrap();
    assert!(out.schema.valid);
    assert_eq!(
        out.documents[0].violations,
        [v(
            "",
            "/anyOf/0/$ref/anyOf/0/$ref",
            "`$ref` loop: this schema applies to the same value again"
        )]
    );
}

#[test]
fn formats_are_asserted_only_when_asked() {
    let h = Harness::new();
    h.write_workspace(
        "event.json",
        r#"{"at": "2025-02-30T10:00:00Z", "id": "not-a-uuid"}"#,
    );
    let schema = json!({
        "properties": {
            "at": { "type": "string", "format": "date-time" },
            "id": { "format": "uuid" }
        }
    });
    let out = h
        .run::<JsonschemaLint>(json!({ "document": "event.json", "schema": schema.clone() }))
        .unwrap();
    assert!(out.valid);
    let out = h
        .run::<JsonschemaLint>(json!({
            "document": "event.json",
            "schema": schema,
            "check_formats": true
        }))
        .unwrap();
    assert_eq!(
        out.documents[0].violations,
        [
            v(
                "/at",
                "/properties/at/format",
                "\"2025-02-30T10:00:00Z\" is not a \"date-time\""
            ),
            v(
                "/id",
                "/properties/id/format",
                "\"not-a-uuid\" is not a \"uuid\""
            ),
        ]
    );
}

/// The built-in validator against the `jsonschema` crate: same violations
/// (pointer, evaluation path, message) on schemas like TaylorDash's own.
#[test]
fn agrees_with_the_jsonschema_crate() {
    let cases = [
        (
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$defs": { "id": { "type": "string", "pattern": "^[a-z0-9-]+$" } },
                "type": "object",
                "required": ["id", "name", "status"],
                "additionalProperties": false,
                "properties": {
                    "id": { "$ref": "#/$defs/id" },
                    "name": { "type": "string", "minLength": 1, "maxLength": 10 },
                    "status": { "enum": ["active", "archived"] },
                    "tags": { "type": "array", "items": { "type": "string" }, "uniqueItems": true, "maxItems": 3 },
                    "budget": { "type": "number", "exclusiveMinimum": 0, "multipleOf": 0.01 },
                    "owner": { "type": ["string", "null"] }
                }
            }),
            vec![
                json!({ "id": "p-1", "name": "Dash", "status": "active" }),
                json!({ "id": "P 1", "name": "", "status": "gone", "extra": 1 }),
                json!({ "id": 7, "name": "a very long name", "tags": ["a", "a", "b", "c"], "budget": -1.005, "owner": 3 }),
                json!([1, 2]),
            ],
        ),
        (
            json!({
                "type": "object",
                "required": ["topic", "payload"],
                "properties": {
                    "topic": { "const": "projects/created" },
                    "qos": { "type": "integer", "minimum": 0, "maximum": 2 },
                    "payload": {
                        "oneOf": [
                            { "type": "object", "required": ["project_id"] },
                            { "type": "object", "required": ["event_id"] }
                        ]
                    },
                    "headers": { "type": "object", "propertyNames": { "pattern": "^[a-z_]+$" }, "minProperties": 1 }
                },
                "dependentRequired": { "trace_id": ["span_id"] },
                "if": { "properties": { "qos": { "const": 2 } }, "required": ["qos"] },
                "then": { "required": ["msg_id"] },
                "else": { "not": { "required": ["msg_id"] } }
            }),
            vec![
                json!({ "topic": "projects/created", "payload": { "project_id": 1 } }),
                json!({ "topic": "x", "qos": 3.5, "payload": { "project_id": 1, "event_id": 2 }, "trace_id": "t" }),
                json!({ "topic": "projects/created", "qos": 2, "payload": {}, "headers": { "Bad-Key": 1 } }),
                json!({ "topic": "projects/created", "qos": 1, "payload": "x", "msg_id": "m", "headers": {} }),
            ],
        ),
        (
            json!({
                "$schema": "http://json-schema.org/draft-07/schema#",
                "definitions": { "point": { "type": "array", "items": [{ "type": "number" }, { "type": "number" }], "additionalItems": false } },
                "type": "object",
                "properties": {
                    "points": { "type": "array", "items": { "$ref": "#/definitions/point" }, "minItems": 1 },
                    "labels": { "patternProperties": { "^x-": { "type": "string" } }, "additionalProperties": { "type": "integer" } }
                }
            }),
            vec![
                json!({ "points": [[1, 2], [3, 4]], "labels": { "x-a": "b", "n": 1 } }),
                json!({ "points": [], "labels": { "x-a": 1, "n": "one" } }),
                json!({ "points": [["a", 2]] }),
            ],
        ),
        (
            json!({
                "type": "array",
                "prefixItems": [{ "type": "string" }],
                "items": { "type": "integer" },
                "contains": { "const": 5 },
                "maxContains": 1
            }),
            vec![json!(["a", 5]), json!(["a", "b", 5, 5])],
        ),
        (
            json!({ "contains": { "const": 5 } }),
            vec![json!([1]), json!([5])],
        ),
    ];
    for (schema, docs) in cases {
        let h = Harness::new();
        h.write_workspace("schema.json", schema.to_string());
        let reference = jsonschema::validator_for(&schema).unwrap();
        for (i, doc) in docs.iter().enumerate() {
            h.write_workspace(&format!("doc{i}.json"), doc.to_string());
            let out = h
                .run::<JsonschemaLint>(
                    json!({ "document": format!("doc{i}.json"), "schema": "schema.json" }),
                )
                .unwrap();
            let expected = sorted(
                reference
                    .iter_errors(doc)
                    .map(|e| Violation {
                        pointer: e.instance_path().to_string(),
                        schema_path: e.evaluation_path().to_string(),
                        message: e.to_string(),
                    })
                    .collect(),
            );
            // Where the crate's message is wrong (`maxContains` reads "None
            // of ... are valid"), compare only where and which keyword.
            let comparable = |list: Vec<Violation>| -> Vec<Violation> {
                list.into_iter()
                    .map(|mut v| {
                        if v.schema_path.ends_with("Contains") {
                            v.message.clear();
                        }
                        v
                    })
                    .collect()
            };
            assert_eq!(
                comparable(out.documents[0].violations.clone()),
                comparable(expected),
                "{schema}\n{doc}"
            );
        }
    }
}

/// `pipelines/examples`: the example events against the project event schema.
#[test]
fn lints_the_pipeline_examples() {
    let h = Harness::new();
    h.write_workspace(
        "contracts/project_event.schema.json",
        include_str!("../../../pipelines/examples/contracts/project_event.schema.json"),
    );
    h.write_workspace(
        "events/project_created.yaml",
        include_str!("../../../pipelines/examples/events/project_created.yaml"),
    );
    h.write_workspace(
        "events/project_updated.json",
        include_str!("../../../pipelines/examples/events/project_updated.json"),
    );
    let input = include_str!("../../../pipelines/examples/jsonschema_lint-input.json");
    let out: LintOutput =
        serde_json::from_str(&h.run_json::<JsonschemaLint>(input).unwrap()).unwrap();
    assert!(!out.valid);
    assert!(out.schema.valid);
    assert!(out.documents[0].valid);
    assert_eq!(
        out.documents[1].violations,
        [
            v("", "/required", "\"trace_id\" is a required property"),
            v(
                "/changes",
                "/properties/changes/minProperties",
                "{} has less than 1 property"
            ),
        ]
    );
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    let info = taylordash_sdk::describe::<JsonschemaLint>(env!("CARGO_PKG_VERSION"));
    assert_eq!(info.name, env!("CARGO_PKG_NAME"));
    let input: Value = serde_json::from_str(&info.input_schema).unwrap();
    let mut names: Vec<&String> = input["properties"].as_object().unwrap().keys().collect();
    names.sort();
    assert_eq!(names, ["check_formats", "document", "documents", "schema"]);
    let output: Value = serde_json::from_str(&info.output_schema).unwrap();
    assert_eq!(output["type"], "object");
}

// -- the default mode: schemas/events and their examples

const EVENT_SCHEMA: &str =
    include_str!("../../../pipelines/examples/contracts/project_event.schema.json");
const CREATED: &str = r#"{"event_id": "7f9c2ba4-e88f-4e3a-9d2b-3c1e5f6a7b8c", "type": "project.created", "project_id": "taylordash-core", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "at": "2025-09-13T10:15:00Z"}"#;
const UPDATED_BAD: &str =
    include_str!("../../../pipelines/examples/events/project_updated.json");

/// The orchestrator's keys only, as in the flow.
fn flow_input() -> Value {
    json!({ "task": { "run_id": "r1", "stage": "execution" }, "previous": { "files": [] } })
}

#[test]
fn default_mode_checks_event_examples_against_their_schema() {
    let h = Harness::new();
    h.write_workspace("schemas/events/project_event.schema.json", EVENT_SCHEMA);
    h.write_workspace("schemas/events/examples/project_created.json", CREATED);
    let out = h.run::<JsonschemaLint>(flow_input()).unwrap();
    assert!(out.valid, "{out:?}");
    assert_eq!(out.schema.path, "schemas/events/*.schema.json");
    assert_eq!(out.schemas.len(), 1);
    assert_eq!(
        out.schemas[0].path,
        "schemas/events/project_event.schema.json"
    );
    assert!(out.schemas[0].valid);
    assert_eq!(
        out.documents,
        [Report {
            path: "schemas/events/examples/project_created.json".into(),
            valid: true,
            violations: vec![]
        }]
    );
    let written: LintOutput = serde_json::from_str(&h.out_file(REPORT)).unwrap();
    assert_eq!(written, out);
}

#[test]
fn default_mode_reports_every_violation_orphans_and_unparsable_examples() {
    let h = Harness::new();
    h.write_workspace("schemas/events/project_event.schema.json", EVENT_SCHEMA);
    h.write_workspace("schemas/events/examples/project_created.json", CREATED);
    h.write_workspace("schemas/events/examples/project_updated.json", UPDATED_BAD);
    h.write_workspace("schemas/events/examples/task_done.json", "{}");
    h.write_workspace("schemas/events/examples/project_broken.json", "{ \"a\": ");
    h.write_workspace("schemas/events/examples/notes.md", "not an example");
    let out = h.run::<JsonschemaLint>(flow_input()).unwrap();
    assert!(!out.valid);
    assert!(out.schema.valid);
    let paths: Vec<&str> = out.documents.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "schemas/events/examples/project_broken.json",
            "schemas/events/examples/project_created.json",
            "schemas/events/examples/project_updated.json",
            "schemas/events/examples/task_done.json",
        ]
    );
    let valid: Vec<bool> = out.documents.iter().map(|r| r.valid).collect();
    assert_eq!(valid, [false, true, false, false]);
    assert!(
        out.documents[0].violations[0]
            .message
            .starts_with("schemas/events/examples/project_broken.json:1:")
    );
    assert_eq!(
        out.documents[2].violations,
        [
            v("", "/required", "\"trace_id\" is a required property"),
            v(
                "/changes",
                "/properties/changes/minProperties",
                "{} has less than 1 property"
            ),
        ]
    );
    assert!(
        out.documents[3].violations[0]
            .message
            .starts_with("no event schema for this example"),
        "{:?}",
        out.documents[3]
    );
}

#[test]
fn default_mode_meta_validates_each_schema() {
    let h = Harness::new();
    h.write_workspace("schemas/events/project_event.schema.json", EVENT_SCHEMA);
    h.write_workspace(
        "schemas/events/task.schema.json",
        r#"{"type": "strng", "required": "id"}"#,
    );
    h.write_workspace("schemas/events/examples/task_done.json", "{}");
    h.write_workspace("schemas/events/examples/project_created.json", CREATED);
    let out = h.run::<JsonschemaLint>(json!({})).unwrap();
    assert!(!out.valid);
    assert!(!out.schema.valid);
    assert_eq!(out.schemas.len(), 2);
    assert!(out.schemas[0].valid);
    assert!(!out.schemas[1].valid);
    assert!(
        out.schema
            .violations
            .iter()
            .all(|v| v.message.starts_with("schemas/events/task.schema.json: "))
    );
    // task_done.json belongs to the invalid schema; project_created is still checked.
    assert_eq!(
        out.documents[0].path,
        "schemas/events/examples/project_created.json"
    );
    assert!(out.documents[0].valid);
    assert_eq!(
        out.documents[1].violations[0].message,
        "not checked: the schema schemas/events/task.schema.json is invalid"
    );
}

#[test]
fn default_mode_without_event_schemas_is_valid_and_says_so() {
    let h = Harness::new();
    h.write_workspace("openapi.yaml", "openapi: 3.1.0\n");
    let out = h.run::<JsonschemaLint>(flow_input()).unwrap();
    assert!(out.valid);
    assert!(out.documents.is_empty());
    assert!(
        out.note.as_deref().unwrap().starts_with("no event schemas"),
        "{out:?}"
    );
    let json: Value = serde_json::from_str(&h.out_file(REPORT)).unwrap();
    assert_eq!(json["documents"], json!([]));
    assert!(
        json["note"]
            .as_str()
            .unwrap()
            .contains("schemas/events/*.schema.json")
    );
}

#[test]
fn documents_without_a_schema_are_invalid_input() {
    let h = Harness::new();
    h.write_workspace("a.json", "{}");
    assert!(invalid(&h, json!({ "document": "a.json" })).starts_with("schema: missing"));
    assert_eq!(
        invalid(&h, json!({ "schema": {} })),
        "no document to check: give `document` or `documents`"
    );
}
