//! `mcp_servers.json` parsing and its messages, the input's names, and whole
//! calls against the toolkit's stand-in MCP server: the files written, the
//! arguments sent, and how each failure reads.

use serde_json::{Value, json};
use taylordash_sdk::testing::Harness;
use taylordash_sdk::{Level, ToolError};

use mcp_client::http_client::NetError;
use mcp_client::testing::{FakeServer, text_result};

use crate::config::{self, Call};
use crate::{CallInput, CallOutput, McpCall, call};

const URL: &str = "http://127.0.0.1:8931/mcp";

/// The example of the plugin's brief: two servers, three integration points.
const SERVERS: &str = r#"{
  "context7": {
    "endpoint": "http://127.0.0.1:8931/mcp",
    "calls": {
      "pre_implementation": { "tool": "resolve-library-id", "arguments": { "libraryName": "fastapi" } },
      "code_review": { "tool": "get-library-docs", "arguments": { "context7CompatibleLibraryID": "/tiangolo/fastapi", "tokens": 2000 } }
    }
  },
  "testing": { "endpoint": "http://127.0.0.1:9000/mcp", "calls": { "qa_phase": { "tool": "validate" } } }
}"#;

const RESOLVED: &str = "- Title: FastAPI\n- Context7-compatible library ID: /tiangolo/fastapi";

fn input(v: Value) -> CallInput {
    serde_json::from_value(v).unwrap()
}

fn harness() -> Harness {
    let h = Harness::new();
    h.write_workspace("mcp_servers.json", SERVERS);
    h
}

/// A server whose `resolve-library-id` insists on exactly the configured arguments.
fn context7() -> FakeServer {
    FakeServer::default().tool("resolve-library-id", |args| {
        assert_eq!(args, &json!({ "libraryName": "fastapi" }));
        text_result(RESOLVED, false)
    })
}

/// The `InvalidInput` message of calling with `config` as `mcp_servers.json`.
fn config_error(config: &str, server: &str, point: &str) -> String {
    let h = Harness::new();
    h.write_workspace("mcp_servers.json", config);
    let err = call(
        input(json!({ "server": server, "point": point })),
        &mut context7(),
    )
    .unwrap_err();
    match err {
        ToolError::InvalidInput(m) => m,
        other => panic!("not invalid input: {other}"),
    }
}

#[test]
fn the_brief_example_parses_with_arguments_defaulting_to_an_empty_object() {
    let servers = config::parse(SERVERS).unwrap();
    let (server, call) = servers.call("testing", "qa_phase").unwrap();
    assert_eq!(server.endpoint, "http://127.0.0.1:9000/mcp");
    assert_eq!(
        call,
        &Call {
            tool: "validate".into(),
            arguments: serde_json::Map::new()
        }
    );
    let (_, review) = servers.call("context7", "code_review").unwrap();
    assert_eq!(
        Value::Object(review.arguments.clone()),
        json!({ "context7CompatibleLibraryID": "/tiangolo/fastapi", "tokens": 2000 })
    );
    assert_eq!(config::parse("{}").unwrap().0.len(), 0);
}

#[test]
fn the_call_is_made_and_its_text_written_under_mcp_server_point() {
    let h = harness();
    let mut server = context7();
    let out = call(
        input(
            json!({ "server": "context7", "point": "pre_implementation", "role": "knowledge_provider" }),
        ),
        &mut server,
    )
    .unwrap();
    let text = format!("{RESOLVED}\n");
    assert_eq!(
        out,
        CallOutput {
            server: "context7".into(),
            point: "pre_implementation".into(),
            role: Some("knowledge_provider".into()),
            endpoint: URL.into(),
            tool: "resolve-library-id".into(),
            bytes: text.len() as u64,
            files: vec!["mcp/context7/pre_implementation.md".into()],
        }
    );
    assert_eq!(
        h.out_file("mcp/context7/pre_implementation.md"),
        format!(
            "<!-- mcp_call: server context7, point pre_implementation, tool resolve-library-id -->\n{text}"
        )
    );
    assert!(
        !h.out()
            .join("mcp/context7/pre_implementation.json")
            .exists()
    );
    assert_eq!(
        h.logs(),
        [(
            Level::Info,
            format!(
                "context7 at pre_implementation: resolve-library-id → mcp/context7/pre_implementation.md ({} bytes)",
                text.len()
            )
        )]
    );
    // One session: the handshake, one call, the end.
    assert_eq!(
        server.methods(),
        [
            "initialize",
            "notifications/initialized",
            "tools/call",
            "DELETE"
        ]
    );
    assert_eq!(
        server.seen[0].message["params"]["clientInfo"]["name"],
        "taylordash-mcp_call"
    );
}

#[test]
fn the_configured_arguments_are_sent_exactly_and_absent_ones_as_an_empty_object() {
    let h = harness();
    let mut docs = FakeServer::default().tool("get-library-docs", |args| {
        assert_eq!(
            args,
            &json!({ "context7CompatibleLibraryID": "/tiangolo/fastapi", "tokens": 2000 })
        );
        text_result("# FastAPI\n", false)
    });
    let out = call(
        input(json!({ "server": "context7", "point": "code_review" })),
        &mut docs,
    )
    .unwrap();
    assert_eq!((out.tool.as_str(), out.bytes), ("get-library-docs", 10));
    assert_eq!(
        docs.seen[2].message["params"],
        json!({ "name": "get-library-docs", "arguments": { "context7CompatibleLibraryID": "/tiangolo/fastapi", "tokens": 2000 } })
    );
    // Already newline-terminated: written as is.
    assert_eq!(
        h.out_file("mcp/context7/code_review.md"),
        "<!-- mcp_call: server context7, point code_review, tool get-library-docs -->\n# FastAPI\n"
    );

    let mut testing = FakeServer::default().tool("validate", |args| {
        assert_eq!(args, &json!({}));
        text_result("ok", false)
    });
    let out = call(
        input(json!({ "server": "testing", "point": "qa_phase" })),
        &mut testing,
    )
    .unwrap();
    assert_eq!(
        (out.endpoint.as_str(), out.role, out.bytes),
        ("http://127.0.0.1:9000/mcp", None, 3)
    );
    assert_eq!(
        testing.seen[2].message["params"],
        json!({ "name": "validate", "arguments": {} })
    );
}

#[test]
fn structured_content_is_written_as_pretty_json_beside_the_text() {
    let h = harness();
    let mut server = FakeServer::default().tool("validate", |_| {
        json!({
            "content": [{ "type": "text", "text": "2 checks passed" }],
            "structuredContent": { "passed": 2, "failed": [] },
            "isError": false
        })
    });
    let out = call(
        input(json!({ "server": "testing", "point": "qa_phase", "role": "validator" })),
        &mut server,
    )
    .unwrap();
    assert_eq!(
        out.files,
        ["mcp/testing/qa_phase.md", "mcp/testing/qa_phase.json"]
    );
    assert_eq!(
        h.out_file("mcp/testing/qa_phase.json"),
        "{\n  \"failed\": [],\n  \"passed\": 2\n}\n"
    );
    assert_eq!(
        h.out_file("mcp/testing/qa_phase.md"),
        "<!-- mcp_call: server testing, point qa_phase, tool validate -->\n2 checks passed\n"
    );
    // Structured content only: the Markdown file is the header alone.
    let h = harness();
    let mut bare = FakeServer::default().tool(
        "validate",
        |_| json!({ "content": [], "structuredContent": { "ok": true } }),
    );
    let out = call(
        input(json!({ "server": "testing", "point": "qa_phase" })),
        &mut bare,
    )
    .unwrap();
    assert_eq!(out.bytes, 0);
    assert_eq!(
        h.out_file("mcp/testing/qa_phase.md"),
        "<!-- mcp_call: server testing, point qa_phase, tool validate -->\n"
    );
    assert_eq!(
        h.out_file("mcp/testing/qa_phase.json"),
        "{\n  \"ok\": true\n}\n"
    );
}

#[test]
fn an_is_error_result_fails_naming_server_endpoint_tool_and_point() {
    let h = harness();
    let mut server = FakeServer::default().tool("resolve-library-id", |_| {
        text_result("Rate limited:\n  try again   in 60s", true)
    });
    let err = call(
        input(json!({ "server": "context7", "point": "pre_implementation" })),
        &mut server,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ToolError::Failed(
            "MCP server `context7` (http://127.0.0.1:8931/mcp): tool `resolve-library-id` answered an error at `pre_implementation`: Rate limited: try again in 60s".into()
        )
    );
    assert!(!h.out().join("mcp").exists(), "nothing written on failure");
    // The session is still ended.
    assert_eq!(server.methods().last().map(String::as_str), Some("DELETE"));

    let _h = harness();
    let long = "x".repeat(400);
    let mut server = FakeServer::default().tool("validate", move |_| text_result(&long, true));
    let err = call(
        input(json!({ "server": "testing", "point": "qa_phase" })),
        &mut server,
    )
    .unwrap_err();
    let ToolError::Failed(m) = err else {
        panic!("{err}")
    };
    assert!(
        m.starts_with("MCP server `testing` (http://127.0.0.1:9000/mcp): tool `validate` answered an error at `qa_phase`: xxx")
            && m.ends_with(&format!("{}…", "x".repeat(300)))
            && !m.ends_with(&format!("{}…", "x".repeat(301))),
        "{m}"
    );
}

#[test]
fn an_unreachable_or_failing_server_is_named_with_the_point_and_retryable_when_transient() {
    let _h = harness();
    let mut down = context7().refusing(NetError::Transient("ConnectionRefused".into()));
    let err = call(
        input(json!({ "server": "context7", "point": "pre_implementation" })),
        &mut down,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ToolError::Retryable(format!(
            "server `context7` at `pre_implementation`: MCP server {URL} unreachable: ConnectionRefused"
        ))
    );

    let mut busy = context7().answering(503, "overloaded");
    let err = call(
        input(json!({ "server": "context7", "point": "pre_implementation" })),
        &mut busy,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ToolError::Retryable(format!(
            "server `context7` at `pre_implementation`: MCP server {URL}: initialize: HTTP 503 (overloaded)"
        ))
    );

    let mut refused = context7().answering(400, "bad request");
    let err = call(
        input(json!({ "server": "context7", "point": "pre_implementation" })),
        &mut refused,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ToolError::Failed(format!(
            "server `context7` at `pre_implementation`: MCP server {URL}: initialize: HTTP 400 (bad request)"
        ))
    );

    // The tool is not on the server: a JSON-RPC error, not retryable.
    let mut other = FakeServer::default();
    let err = call(
        input(json!({ "server": "testing", "point": "qa_phase" })),
        &mut other,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ToolError::Failed(
            "server `testing` at `qa_phase`: MCP server http://127.0.0.1:9000/mcp: tools/call: JSON-RPC error -32602: Unknown tool: validate".into()
        )
    );

    let mut denied = context7().refusing(NetError::Denied("HttpRequestDenied".into()));
    let err = call(
        input(json!({ "server": "context7", "point": "pre_implementation" })),
        &mut denied,
    )
    .unwrap_err();
    assert!(
        matches!(&err, ToolError::Failed(m) if m.starts_with("server `context7` at `pre_implementation`: ") && m.contains("grant the plugin `http: [\"127.0.0.1:8931\"]`")),
        "{err}"
    );
}

#[test]
fn a_missing_file_server_or_point_is_invalid_input_saying_what_there_is() {
    let _h = Harness::new();
    let err = call(
        input(json!({ "server": "context7", "point": "pre_implementation" })),
        &mut context7(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ToolError::InvalidInput(
            "mcp_servers.json: not in the workspace; it names each MCP server's endpoint and the call to make at each integration point".into()
        )
    );
    let only_context7 = r#"{"context7": {"endpoint": "http://127.0.0.1:8931/mcp", "calls": {"pre_implementation": {"tool": "resolve-library-id"}, "code_review": {"tool": "get-library-docs"}}}}"#;
    assert_eq!(
        config_error(only_context7, "testing", "qa_phase"),
        "mcp_servers.json: no server `testing` (it names: context7)"
    );
    assert_eq!(
        config_error(only_context7, "context7", "qa_phase"),
        "mcp_servers.json: server `context7` has no call for integration point `qa_phase` (it has: code_review, pre_implementation)"
    );
    assert_eq!(
        config_error("{}", "testing", "qa_phase"),
        "mcp_servers.json: no server `testing` (it names: none)"
    );
    assert_eq!(
        config_error(
            r#"{"testing": {"endpoint": "http://127.0.0.1:9000/mcp"}}"#,
            "testing",
            "qa_phase"
        ),
        "mcp_servers.json: server `testing` has no call for integration point `qa_phase` (it has: none)"
    );
}

#[test]
fn malformed_config_is_invalid_input_with_the_path_and_serde_message() {
    // Unknown keys: in a server entry, in a call.
    assert_eq!(
        config_error(
            r#"{"testing": {"endpoint": "http://127.0.0.1:9000/mcp", "call": {}}}"#,
            "testing",
            "qa_phase"
        ),
        "mcp_servers.json: testing.call: unknown field `call`, expected `endpoint` or `calls` at line 1 column 60"
    );
    assert_eq!(
        config_error(
            r#"{"testing": {"endpoint": "http://127.0.0.1:9000/mcp", "calls": {"qa_phase": {"tool": "validate", "args": {}}}}}"#,
            "testing",
            "qa_phase"
        ),
        "mcp_servers.json: testing.calls.qa_phase.args: unknown field `args`, expected `tool` or `arguments` at line 1 column 103"
    );
    // Arguments that are not an object.
    assert_eq!(
        config_error(
            r#"{"testing": {"endpoint": "http://127.0.0.1:9000/mcp", "calls": {"qa_phase": {"tool": "validate", "arguments": "seconds=1"}}}}"#,
            "testing",
            "qa_phase"
        ),
        "mcp_servers.json: testing.calls.qa_phase.arguments: must be a JSON object of the tool's arguments by name, not a string at line 1 column 122"
    );
    assert_eq!(
        config_error(
            r#"{"testing": {"endpoint": "http://127.0.0.1:9000/mcp", "calls": {"qa_phase": {"tool": "validate", "arguments": [1]}}}}"#,
            "testing",
            "qa_phase"
        ),
        "mcp_servers.json: testing.calls.qa_phase.arguments: must be a JSON object of the tool's arguments by name, not a list at line 1 column 114"
    );
    // Missing keys, wrong shapes, not JSON.
    assert_eq!(
        config_error(r#"{"testing": {"calls": {}}}"#, "testing", "qa_phase"),
        "mcp_servers.json: testing: missing field `endpoint` at line 1 column 25"
    );
    assert_eq!(
        config_error(
            r#"{"testing": {"endpoint": "http://127.0.0.1:9000/mcp", "calls": {"qa_phase": {}}}}"#,
            "testing",
            "qa_phase"
        ),
        "mcp_servers.json: testing.calls.qa_phase: missing field `tool` at line 1 column 78"
    );
    assert_eq!(
        config_error("[]", "testing", "qa_phase"),
        "mcp_servers.json: invalid type: sequence, expected a map at line 1 column 0"
    );
    assert_eq!(
        config_error("{\"testing\": ", "testing", "qa_phase"),
        "mcp_servers.json: testing: EOF while parsing a value at line 1 column 12"
    );
    assert_eq!(
        config_error("{} {}", "testing", "qa_phase"),
        "mcp_servers.json: trailing characters at line 1 column 4"
    );
}

#[test]
fn bad_names_endpoints_and_tools_in_the_config_are_refused_before_any_call() {
    assert_eq!(
        config_error(
            r#"{"testing": {"endpoint": "ftp://127.0.0.1/mcp"}, "context7": {"endpoint": "http://127.0.0.1:8931/mcp"}}"#,
            "context7",
            "pre_implementation"
        ),
        "mcp_servers.json: server `testing`: MCP endpoint `ftp://127.0.0.1/mcp`: not an http:// or https:// URL"
    );
    assert_eq!(
        config_error(
            r#"{"../x": {"endpoint": "http://127.0.0.1:1/mcp"}}"#,
            "x",
            "y"
        ),
        "mcp_servers.json: server `../x` is not 1 to 64 characters of A-Z, a-z, 0-9, _ and -"
    );
    assert_eq!(
        config_error(
            r#"{"x": {"endpoint": "http://127.0.0.1:1/mcp", "calls": {"a b": {"tool": "t"}}}}"#,
            "x",
            "y"
        ),
        "mcp_servers.json: server `x`: integration point `a b` is not 1 to 64 characters of A-Z, a-z, 0-9, _ and -"
    );
    assert_eq!(
        config_error(
            r#"{"x": {"endpoint": "http://127.0.0.1:1/mcp", "calls": {"y": {"tool": "a tool -->"}}}}"#,
            "x",
            "y"
        ),
        "mcp_servers.json: server `x`, point `y`: tool `a tool -->` is not 1 to 128 characters of A-Z, a-z, 0-9, _, -, . and /"
    );
}

#[test]
fn bad_server_and_point_names_are_refused_before_the_config_is_read() {
    let _h = Harness::new(); // no mcp_servers.json: the names are checked first
    let long = "a".repeat(65);
    for (server, point, message) in [
        (
            "../etc",
            "pre_implementation",
            "server `../etc` is not 1 to 64 characters of A-Z, a-z, 0-9, _ and -",
        ),
        (
            "",
            "pre_implementation",
            "server `` is not 1 to 64 characters of A-Z, a-z, 0-9, _ and -",
        ),
        (
            "context7",
            "qa phase",
            "point `qa phase` is not 1 to 64 characters of A-Z, a-z, 0-9, _ and -",
        ),
        (
            "context7",
            "a/b",
            "point `a/b` is not 1 to 64 characters of A-Z, a-z, 0-9, _ and -",
        ),
        (
            "context7",
            "prüfung",
            "point `prüfung` is not 1 to 64 characters of A-Z, a-z, 0-9, _ and -",
        ),
    ] {
        let err = call(
            input(json!({ "server": server, "point": point })),
            &mut context7(),
        )
        .unwrap_err();
        assert_eq!(err, ToolError::InvalidInput(message.into()));
    }
    let err = call(
        input(json!({ "server": long, "point": "p" })),
        &mut context7(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ToolError::InvalidInput(format!(
            "server `{long}` is not 1 to 64 characters of A-Z, a-z, 0-9, _ and -"
        ))
    );
    // 64 characters is fine (the config then has no such server).
    let h = harness();
    let err = call(
        input(json!({ "server": "a".repeat(64), "point": "p-1_X" })),
        &mut context7(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, ToolError::InvalidInput(m) if m.starts_with("mcp_servers.json: no server `aaaa")),
        "{err}"
    );
    drop(h);
}

#[test]
fn the_input_needs_server_and_point_and_nothing_else() {
    let h = harness();
    let err = h
        .run::<McpCall>(json!({ "server": "context7" }))
        .unwrap_err();
    assert_eq!(err, ToolError::InvalidInput("missing field `point`".into()));
    let err = h
        .run::<McpCall>(json!({ "server": "context7", "point": "pre_implementation", "tool": "x" }))
        .unwrap_err();
    assert!(
        matches!(&err, ToolError::InvalidInput(m) if m.contains("unknown field `tool`")),
        "{err}"
    );
}

#[test]
fn natively_there_is_no_network_and_the_failure_names_server_and_point() {
    let h = harness();
    let err = h
        .run::<McpCall>(
            json!({ "server": "context7", "point": "pre_implementation", "role": "knowledge_provider" }),
        )
        .unwrap_err();
    assert!(
        matches!(&err, ToolError::Failed(m) if m.starts_with("server `context7` at `pre_implementation`: ") && m.contains(URL) && m.contains("native builds have no network")),
        "{err}"
    );
}
