//! Input parsing, the endpoint and names from `context7.json`, and a whole
//! call against the toolkit's stand-in MCP server.

use serde_json::{Value, json};
use taylordash_sdk::ToolError;
use taylordash_sdk::testing::Harness;

use mcp_client::context7::{Config, LibrariesFile};
use mcp_client::http_client::NetError;
use mcp_client::testing::FakeServer;

use crate::{Context7ResolveLibrary, ResolveInput, names, resolve};

const URL: &str = "http://127.0.0.1:8931/mcp";

fn corpus() -> FakeServer {
    FakeServer::context7(&[
        ("/tiangolo/fastapi", "FastAPI", "FastAPI docs"),
        (
            "/eclipse/paho.mqtt.python",
            "Eclipse Paho MQTT Python",
            "paho docs",
        ),
        (
            "/fastapi-users/fastapi-users",
            "FastAPI Users",
            "users docs",
        ),
    ])
}

fn input(v: Value) -> ResolveInput {
    serde_json::from_value(v).unwrap()
}

#[test]
fn names_come_from_the_input_else_the_config() {
    let config = Config {
        libraries: Some(vec!["minio".into()]),
        ..Config::default()
    };
    let both = input(json!({ "library": " fastapi ", "libraries": ["paho-mqtt", "fastapi"] }));
    assert_eq!(names(&both, &config).unwrap(), ["fastapi", "paho-mqtt"]);
    assert_eq!(names(&ResolveInput::default(), &config).unwrap(), ["minio"]);
    let err = names(&ResolveInput::default(), &Config::default()).unwrap_err();
    assert!(
        matches!(&err, ToolError::InvalidInput(m) if m.contains("no library to resolve")),
        "{err}"
    );
    let err = names(&input(json!({ "library": "  " })), &config).unwrap_err();
    assert!(
        matches!(&err, ToolError::InvalidInput(m) if m.contains("empty")),
        "{err}"
    );
    let many: Vec<String> = (0..33).map(|i| format!("lib{i}")).collect();
    assert!(names(&input(json!({ "libraries": many })), &config).is_err());
}

#[test]
fn unknown_input_keys_are_refused() {
    let h = Harness::new();
    let err = h
        .run::<Context7ResolveLibrary>(json!({ "libary": "fastapi" }))
        .unwrap_err();
    assert!(
        matches!(&err, ToolError::InvalidInput(m) if m.contains("unknown field `libary`")),
        "{err}"
    );
}

#[test]
fn without_an_endpoint_anywhere_the_input_is_invalid() {
    let h = Harness::new();
    let err = resolve(input(json!({ "library": "fastapi" })), &mut corpus()).unwrap_err();
    assert!(
        matches!(&err, ToolError::InvalidInput(m) if m.starts_with("no MCP endpoint") && m.contains("context7.json")),
        "{err}"
    );
    h.write_workspace(
        "context7.json",
        r#"{"endpoint": "http://127.0.0.1:1/mcp", "libraris": []}"#,
    );
    let err = resolve(input(json!({ "library": "fastapi" })), &mut corpus()).unwrap_err();
    assert!(
        matches!(&err, ToolError::InvalidInput(m) if m.contains("context7.json") && m.contains("unknown field")),
        "{err}"
    );
}

#[test]
fn names_and_endpoint_from_context7_json_resolve_and_are_written() {
    let h = Harness::new();
    h.write_workspace(
        "context7.json",
        format!(r#"{{"endpoint": "{URL}", "libraries": ["fastapi", "paho", "nosuchlib"]}}"#),
    );
    let mut server = corpus();
    let out = resolve(ResolveInput::default(), &mut server).unwrap();
    assert_eq!(out.endpoint, URL);
    let ids: Vec<(&str, &str, &str)> = out
        .libraries
        .iter()
        .map(|l| (l.library.as_str(), l.id.as_str(), l.title.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            ("fastapi", "/tiangolo/fastapi", "FastAPI"),
            (
                "paho",
                "/eclipse/paho.mqtt.python",
                "Eclipse Paho MQTT Python"
            )
        ]
    );
    assert_eq!(
        out.libraries[0].alternatives,
        ["/fastapi-users/fastapi-users"]
    );
    assert_eq!(out.unresolved, ["nosuchlib"]);
    assert_eq!(out.files, ["research/libraries.json"]);
    let file: LibrariesFile = serde_json::from_str(&h.out_file("research/libraries.json")).unwrap();
    assert_eq!(
        (file.endpoint.as_str(), file.libraries),
        (URL, out.libraries.clone())
    );
    // One session: one handshake, a call per name, the end.
    assert_eq!(
        server.methods(),
        [
            "initialize",
            "notifications/initialized",
            "tools/call",
            "tools/call",
            "tools/call",
            "DELETE"
        ]
    );
    assert_eq!(
        server.seen[2].message["params"],
        json!({ "name": "resolve-library-id", "arguments": { "libraryName": "fastapi" } })
    );
}

#[test]
fn the_input_endpoint_wins_and_nothing_resolved_is_a_failure() {
    let h = Harness::new();
    h.write_workspace("context7.json", r#"{"endpoint": "http://127.0.0.1:1/mcp"}"#);
    let err = resolve(
        input(json!({ "library": "zzz", "endpoint": URL })),
        &mut corpus(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ToolError::Failed(format!(
            "MCP server {URL}: resolve-library-id found no library for `zzz`"
        ))
    );
    assert!(
        !h.out().join("research").exists(),
        "nothing written on failure"
    );
}

#[test]
fn an_unreachable_server_is_retryable_and_named() {
    let _h = Harness::new();
    let mut server = corpus().refusing(NetError::Transient("ConnectionRefused".into()));
    let err = resolve(
        input(json!({ "library": "fastapi", "endpoint": URL })),
        &mut server,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ToolError::Retryable(format!("MCP server {URL} unreachable: ConnectionRefused"))
    );
}

#[test]
fn natively_there_is_no_network() {
    let h = Harness::new();
    let err = h
        .run::<Context7ResolveLibrary>(json!({ "library": "fastapi", "endpoint": URL }))
        .unwrap_err();
    assert!(
        matches!(&err, ToolError::Failed(m) if m.contains(URL) && m.contains("native builds have no network")),
        "{err}"
    );
}
