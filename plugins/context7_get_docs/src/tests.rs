//! Input parsing, where the ids come from (input, the envelope's
//! `previous`, `research/libraries.json`), the endpoint from
//! `context7.json`, file naming, and whole calls against the toolkit's
//! stand-in MCP server.

use serde_json::{Value, json};
use taylordash_sdk::testing::Harness;
use taylordash_sdk::{Context, Envelope, ToolError};

use mcp_client::testing::FakeServer;

use crate::{Context7GetDocs, DocsInput, get_docs, ids};

const URL: &str = "http://127.0.0.1:8931/mcp";

fn corpus() -> FakeServer {
    FakeServer::context7(&[
        (
            "/tiangolo/fastapi",
            "FastAPI",
            "# FastAPI\n\nPath operations are declared with decorators.",
        ),
        (
            "/eclipse/paho.mqtt.python",
            "Eclipse Paho MQTT Python",
            "# paho-mqtt\n\nclient.publish(topic, payload, qos=1)",
        ),
    ])
}

fn input(v: Value) -> DocsInput {
    serde_json::from_value(v).unwrap()
}

fn after(previous: Value) -> Context {
    Context {
        envelope: Envelope {
            previous: Some(previous),
            ..Envelope::default()
        },
        ..Context::default()
    }
}

#[test]
fn ids_come_from_the_input_then_previous_then_the_libraries_file() {
    let h = Harness::new();
    let previous = after(
        json!({ "endpoint": URL, "libraries": [{ "library": "fastapi", "id": "/tiangolo/fastapi", "title": "FastAPI" }] }),
    );
    let given = input(json!({ "library_id": "/a/b", "library_ids": ["/c/d", "/a/b"] }));
    assert_eq!(
        ids(&given, &previous).unwrap(),
        (vec!["/a/b".to_string(), "/c/d".to_string()], "input")
    );
    assert_eq!(
        ids(&DocsInput::default(), &previous).unwrap(),
        (vec!["/tiangolo/fastapi".to_string()], "previous")
    );
    // A previous tool that is not the resolver: the workspace's file.
    let other = after(json!({ "files": ["x"] }));
    let err = ids(&DocsInput::default(), &other).unwrap_err();
    assert!(
        matches!(&err, ToolError::InvalidInput(m) if m.starts_with("no library id")),
        "{err}"
    );
    h.write_workspace("research/libraries.json", r#"{"endpoint": "x", "libraries": [{"library": "m", "id": "/minio/minio-py", "title": "MinIO"}]}"#);
    assert_eq!(
        ids(&DocsInput::default(), &other).unwrap(),
        (
            vec!["/minio/minio-py".to_string()],
            "research/libraries.json"
        )
    );
    let err = ids(&input(json!({ "library_id": "fastapi" })), &other).unwrap_err();
    assert!(
        matches!(&err, ToolError::InvalidInput(m) if m.contains("not of the form /org/project")),
        "{err}"
    );
    h.write_workspace("research/libraries.json", "{");
    assert!(
        matches!(ids(&DocsInput::default(), &other), Err(ToolError::InvalidInput(m)) if m.starts_with("research/libraries.json:"))
    );
}

#[test]
fn unknown_input_keys_and_bad_tokens_are_refused() {
    let h = Harness::new();
    let err = h
        .run::<Context7GetDocs>(json!({ "library_id": "/a/b", "token": 5 }))
        .unwrap_err();
    assert!(
        matches!(&err, ToolError::InvalidInput(m) if m.contains("unknown field `token`")),
        "{err}"
    );
    let err = get_docs(
        input(json!({ "library_id": "/a/b", "tokens": 0, "endpoint": URL })),
        &Context::default(),
        &mut corpus(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, ToolError::InvalidInput(m) if m.starts_with("tokens:")),
        "{err}"
    );
}

#[test]
fn docs_are_written_per_library_with_the_config_endpoint_topic_and_tokens() {
    let h = Harness::new();
    h.write_workspace(
        "context7.json",
        format!(r#"{{"endpoint": "{URL}", "topic": "publish", "tokens": 1200}}"#),
    );
    let mut server = corpus();
    let cx = after(
        json!({ "libraries": [{ "id": "/tiangolo/fastapi" }, { "id": "/eclipse/paho.mqtt.python" }] }),
    );
    let out = get_docs(DocsInput::default(), &cx, &mut server).unwrap();
    assert_eq!(
        (out.endpoint.as_str(), out.ids_from.as_str()),
        (URL, "previous")
    );
    assert_eq!(
        out.files,
        [
            "docs/libraries/tiangolo_fastapi.md",
            "docs/libraries/eclipse_paho.mqtt.python.md"
        ]
    );
    let fastapi = h.out_file("docs/libraries/tiangolo_fastapi.md");
    assert!(
        fastapi.starts_with("# FastAPI\n\nPath operations")
            && fastapi.contains("(topic: publish; tokens: 1200)"),
        "{fastapi}"
    );
    assert!(
        h.out_file("docs/libraries/eclipse_paho.mqtt.python.md")
            .contains("client.publish")
    );
    assert_eq!(out.documents[0].bytes, fastapi.len() as u64);
    assert_eq!(
        (out.documents[1].topic.as_deref(), out.documents[1].tokens),
        (Some("publish"), 1200)
    );
    assert_eq!(
        server.seen[2].message["params"],
        json!({ "name": "get-library-docs", "arguments": { "context7CompatibleLibraryID": "/tiangolo/fastapi", "topic": "publish", "tokens": 1200 } })
    );
}

#[test]
fn the_input_overrides_the_config_and_a_missing_topic_is_not_sent() {
    let h = Harness::new();
    h.write_workspace(
        "context7.json",
        r#"{"endpoint": "http://127.0.0.1:1/mcp", "topic": "x"}"#,
    );
    let mut server = corpus();
    let out = get_docs(
        input(
            json!({ "library_id": "/tiangolo/fastapi", "endpoint": URL, "topic": " ", "tokens": 300 }),
        ),
        &Context::default(),
        &mut server,
    );
    let out = out.unwrap();
    assert_eq!(
        (out.endpoint.as_str(), out.documents[0].topic.as_deref()),
        (URL, None)
    );
    assert_eq!(
        server.seen[2].message["params"]["arguments"],
        json!({ "context7CompatibleLibraryID": "/tiangolo/fastapi", "tokens": 300 })
    );
}

#[test]
fn an_unknown_library_is_a_failure_naming_the_endpoint_and_writes_nothing_for_it() {
    let h = Harness::new();
    let err = get_docs(
        input(json!({ "library_id": "/no/such", "endpoint": URL })),
        &Context::default(),
        &mut corpus(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ToolError::Failed(format!(
            "MCP server {URL}: tool `get-library-docs` failed: Library /no/such not found"
        ))
    );
    assert!(!h.out().join("docs/libraries/no_such.md").exists());
}

#[test]
fn an_empty_answer_and_colliding_file_names_are_refused() {
    let _h = Harness::new();
    let mut empty = FakeServer::default().tool("get-library-docs", |_| {
        mcp_client::testing::text_result("  \n", false)
    });
    let err = get_docs(
        input(json!({ "library_id": "/a/b", "endpoint": URL })),
        &Context::default(),
        &mut empty,
    )
    .unwrap_err();
    assert!(
        matches!(&err, ToolError::Failed(m) if m.contains("returned no documentation for /a/b")),
        "{err}"
    );
    let err = get_docs(
        input(json!({ "library_ids": ["/a/b", "/a_b"], "endpoint": URL })),
        &Context::default(),
        &mut corpus(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, ToolError::InvalidInput(m) if m.contains("docs/libraries/a_b.md")),
        "{err}"
    );
}

#[test]
fn without_an_endpoint_anywhere_the_input_is_invalid() {
    let _h = Harness::new();
    let err = get_docs(
        input(json!({ "library_id": "/a/b" })),
        &Context::default(),
        &mut corpus(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, ToolError::InvalidInput(m) if m.starts_with("no MCP endpoint")),
        "{err}"
    );
}
