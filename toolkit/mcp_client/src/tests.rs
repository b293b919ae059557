//! The client against [`FakeServer`]: the handshake, session headers, both
//! answer formats, every failure as one line naming the endpoint; the SSE
//! grammar, endpoint URLs, Context7's resolve text and doc file names.

use http_client::NetError;
use serde_json::{Value, json};

use crate::context7::{self, Config, Match, doc_file, parse_matches};
use crate::testing::{FakeServer, text_result};
use crate::{Endpoint, MAX_BODY, McpError, Session, sse};

const URL: &str = "http://127.0.0.1:8931/mcp";

fn endpoint() -> Endpoint {
    Endpoint::parse(URL).unwrap()
}

fn echo_server() -> FakeServer {
    FakeServer::default().tool("echo", |args| text_result(&args.to_string(), false))
}

#[test]
fn sse_data_lines_make_events() {
    let text = ": comment\r\nevent: message\r\ndata: {\"a\":1}\r\n\r\nid: 2\ndata:first\ndata: second\n\nretry: 10\n\ndata: last";
    assert_eq!(
        sse::data_events(text),
        ["{\"a\":1}", "first\nsecond", "last"]
    );
    assert_eq!(sse::data_events("data: x\r\rdata\r\r"), ["x", ""]);
    assert!(sse::data_events("").is_empty());
    assert!(sse::data_events("event: ping\n\n: hi\n\n").is_empty());
}

#[test]
fn endpoints_parse_with_default_ports() {
    let e = endpoint();
    assert_eq!(
        (
            e.scheme,
            e.authority.as_str(),
            e.host_port.as_str(),
            e.path.as_str()
        ),
        ("http", "127.0.0.1:8931", "127.0.0.1:8931", "/mcp")
    );
    assert_eq!(e.to_string(), URL);
    let e = Endpoint::parse("https://Context7.com").unwrap();
    assert_eq!(
        (e.host_port.as_str(), e.path.as_str()),
        ("context7.com:443", "/")
    );
    let e = Endpoint::parse("http://[::1]:9000/mcp?x=1").unwrap();
    assert_eq!(
        (e.host_port.as_str(), e.path.as_str()),
        ("[::1]:9000", "/mcp?x=1")
    );
    assert_eq!(Endpoint::parse("http://h?q").unwrap().path, "/?q");
    for (bad, why) in [
        ("ftp://h/", "not an http"),
        ("127.0.0.1:80/mcp", "not an http"),
        ("http:///mcp", "host is missing"),
        ("http://h:0/", "port"),
        ("http://h:99999/", "port"),
        ("http://h:+80/", "port"),
        ("http://u:p@h/", "credentials"),
        ("http://h/ x", "whitespace"),
        ("http://h/#f", "fragment"),
    ] {
        let err = Endpoint::parse(bad).unwrap_err();
        assert!(
            matches!(&err, McpError::BadEndpoint { .. }) && err.to_string().contains(why),
            "{bad}: {err}"
        );
    }
}

#[test]
fn a_session_initialises_keeps_its_id_and_ends() {
    for sse in [true, false] {
        let mut server = echo_server();
        server.sse = sse;
        let mut session = Session::open(&mut server, endpoint(), ("test", "1")).unwrap();
        assert_eq!(session.session_id(), Some("fake-session-1"));
        assert_eq!(session.server_name.as_deref(), Some("fake-context7"));
        let result = session.call_tool("echo", json!({ "x": 1 })).unwrap();
        assert_eq!(result.text(), r#"{"x":1}"#);
        assert!(!result.is_error);
        session.close();
        assert_eq!(
            server.methods(),
            [
                "initialize",
                "notifications/initialized",
                "tools/call",
                "DELETE"
            ]
        );
        let init = &server.seen[0];
        assert_eq!(init.message["params"]["protocolVersion"], "2025-11-25");
        assert_eq!(
            init.header("accept"),
            Some("application/json, text/event-stream")
        );
        assert_eq!(init.header("content-type"), Some("application/json"));
        assert_eq!(init.header("mcp-session-id"), None);
        assert_eq!(init.path, "/mcp");
        for later in &server.seen[1..] {
            assert_eq!(
                later.header("mcp-session-id"),
                Some("fake-session-1"),
                "{}",
                later.method()
            );
            assert_eq!(later.header("mcp-protocol-version"), Some("2025-11-25"));
        }
        assert_eq!(
            server.seen[1].message.get("id"),
            None,
            "a notification has no id"
        );
    }
}

#[test]
fn a_stateless_server_gets_no_session_header_and_no_delete() {
    let mut server = echo_server();
    server.session_id = None;
    let mut session = Session::open(&mut server, endpoint(), ("test", "1")).unwrap();
    session.call_tool("echo", json!({})).unwrap();
    session.close();
    assert_eq!(
        server.methods(),
        ["initialize", "notifications/initialized", "tools/call"]
    );
    assert!(
        server
            .seen
            .iter()
            .all(|s| s.header("mcp-session-id").is_none())
    );
}

#[test]
fn an_older_revision_is_spoken_and_an_unknown_one_refused() {
    let mut server = echo_server();
    server.protocol = "2025-06-18".into();
    let mut session = Session::open(&mut server, endpoint(), ("test", "1")).unwrap();
    session.call_tool("echo", json!({})).unwrap();
    drop(session);
    assert_eq!(
        server.seen[2].header("mcp-protocol-version"),
        Some("2025-06-18")
    );

    let mut server = echo_server();
    server.protocol = "1999-01-01".into();
    let err = Session::open(&mut server, endpoint(), ("test", "1"))
        .err()
        .unwrap();
    assert!(matches!(err, McpError::Protocol { .. }), "{err}");
    assert!(err.to_string().contains("`1999-01-01`"), "{err}");
}

fn call(server: &mut FakeServer, tool: &str) -> McpError {
    match Session::open(server, endpoint(), ("test", "1")) {
        Ok(mut s) => s.call_tool(tool, json!({})).unwrap_err(),
        Err(e) => e,
    }
}

#[test]
fn failures_are_one_line_name_the_endpoint_and_say_whether_to_retry() {
    let mut is_error = FakeServer::default().tool("broken", |_| {
        text_result("Library /x/y not found\nat all", true)
    });
    let mut unknown = FakeServer::default();
    let status = |code: u16, body: &str| FakeServer::default().answering(code, body);
    let mut refused =
        FakeServer::default().refusing(NetError::Transient("ConnectionRefused".into()));
    let mut denied = FakeServer::default().refusing(NetError::Denied("HttpRequestDenied".into()));
    let cases: Vec<(McpError, bool, &str)> = vec![
        (
            call(&mut is_error, "broken"),
            false,
            "tool `broken` failed: Library /x/y not found at all",
        ),
        (
            call(&mut unknown, "nope"),
            false,
            "tools/call: JSON-RPC error -32602: Unknown tool: nope",
        ),
        (
            call(&mut status(503, "busy"), "x"),
            true,
            "initialize: HTTP 503 (busy)",
        ),
        (
            call(
                &mut status(
                    400,
                    r#"{"jsonrpc":"2.0","id":"server-error","error":{"code":-32600,"message":"Bad Request: Missing session ID"}}"#,
                ),
                "x",
            ),
            false,
            "initialize: HTTP 400 (Bad Request: Missing session ID)",
        ),
        (
            call(&mut refused, "x"),
            true,
            "unreachable: ConnectionRefused",
        ),
        (
            call(&mut denied, "x"),
            false,
            "grant the plugin `http: [\"127.0.0.1:8931\"]`",
        ),
    ];
    for (err, retryable, says) in cases {
        let text = err.to_string();
        assert!(text.contains(URL), "{text}");
        assert!(text.contains(says), "{text}");
        assert!(!text.contains('\n'), "{text}");
        assert_eq!(err.retryable(), retryable, "{text}");
        let tool_error: taylordash_sdk::ToolError = err.into();
        assert_eq!(
            matches!(tool_error, taylordash_sdk::ToolError::Retryable(_)),
            retryable
        );
    }
}

/// A server whose every answer is `body` with `content_type`.
struct Raw(&'static str, Vec<u8>);

impl http_client::Net for Raw {
    fn now_unix(&self) -> Result<u64, String> {
        Ok(0)
    }
    fn send(
        &mut self,
        _: &http_client::HttpRequest,
    ) -> Result<http_client::HttpResponse, NetError> {
        Ok(http_client::HttpResponse {
            status: 200,
            headers: vec![("content-type".into(), self.0.into())],
            body: self.1.clone(),
        })
    }
}

#[test]
fn whatever_the_server_sends_is_an_error_not_a_panic() {
    let huge = {
        let mut b = b"data: ".to_vec();
        b.resize(MAX_BODY + 1, b'x');
        b
    };
    let cases: Vec<(&'static str, Vec<u8>, &str)> = vec![
        ("text/event-stream", huge, "exceeds 8388608 bytes"),
        ("application/json", vec![0xff, 0xfe], "not UTF-8"),
        ("application/json", b"{not json".to_vec(), "not JSON"),
        (
            "application/json",
            b"[1, \"x\", null]".to_vec(),
            "no JSON-RPC response with id 1",
        ),
        (
            "application/json",
            br#"{"jsonrpc":"2.0","id":1,"result":7}"#.to_vec(),
            "neither a `result` object",
        ),
        (
            "application/json",
            br#"{"jsonrpc":"2.0","id":1,"error":"boom"}"#.to_vec(),
            "JSON-RPC error 0: no message",
        ),
        (
            "text/html",
            b"<html>".to_vec(),
            "unexpected Content-Type `text/html`",
        ),
        (
            "text/event-stream",
            b"data: nope\n\ndata: {\"id\":2,\"result\":{}}\n\n".to_vec(),
            "no JSON-RPC response with id 1",
        ),
    ];
    for (content_type, body, says) in cases {
        let err = Session::open(&mut Raw(content_type, body), endpoint(), ("t", "1"))
            .err()
            .unwrap();
        assert!(err.to_string().contains(says), "{says}: {err}");
        assert!(!err.retryable());
    }
    // A tool result of the wrong shape.
    let mut server =
        FakeServer::default().tool("odd", |_| json!({ "content": "text", "isError": false }));
    assert!(
        call(&mut server, "odd")
            .to_string()
            .contains("`content` is not a list")
    );
    let mut server = FakeServer::default().tool(
        "odd",
        |_| json!({ "content": [{ "type": "image" }, 5], "isError": "yes" }),
    );
    assert!(
        call(&mut server, "odd")
            .to_string()
            .contains("`isError` is not a boolean")
    );
    let mut server = FakeServer::default().tool(
        "odd",
        |_| json!({ "content": [{ "type": "image", "data": "" }] }),
    );
    let mut session = Session::open(&mut server, endpoint(), ("t", "1")).unwrap();
    assert_eq!(
        session.call_tool("odd", Value::Null).unwrap().texts,
        Vec::<String>::new()
    );
}

#[test]
fn a_batch_or_a_string_id_still_finds_the_response() {
    let init = br#"[{"jsonrpc":"2.0","method":"notifications/x"},{"jsonrpc":"2.0","id":"1","result":{"protocolVersion":"2025-11-25"}}]"#;
    let mut net = Raw("application/json; charset=utf-8", init.to_vec());
    let session = Session::open(&mut net, endpoint(), ("t", "1")).unwrap();
    assert_eq!(session.session_id(), None);
}

const RESOLVE_TEXT: &str = "Available Libraries (top matches):

Each result includes:
- Library ID: Context7-compatible identifier (format: /org/project)
- Name: Library or package name
- Description: Short summary

----------

- Title: FastAPI
- Context7-compatible library ID: /tiangolo/fastapi
- Description: FastAPI framework, high performance,
- Code Snippets: 1200
----------
- Title: No id here
- Description: skipped
----------
- Title: FastAPI Users
- Context7-compatible library ID: /fastapi-users/fastapi-users
----------
- Context7-compatible library ID: not-an-id
";

#[test]
fn resolve_text_lists_matches_best_first() {
    assert_eq!(
        parse_matches(RESOLVE_TEXT),
        [
            Match {
                id: "/tiangolo/fastapi".into(),
                title: "FastAPI".into(),
                description: Some("FastAPI framework, high performance,".into())
            },
            Match {
                id: "/fastapi-users/fastapi-users".into(),
                title: "FastAPI Users".into(),
                description: None
            },
        ]
    );
    assert!(parse_matches("No libraries found matching \"zzz\".").is_empty());
    assert_eq!(
        parse_matches("Context7-compatible library ID: /a/b")[0].title,
        "/a/b"
    );
}

#[test]
fn doc_files_are_named_for_the_id() {
    let cases = [
        ("/tiangolo/fastapi", "docs/libraries/tiangolo_fastapi.md"),
        (
            "/eclipse/paho.mqtt.python",
            "docs/libraries/eclipse_paho.mqtt.python.md",
        ),
        (
            "/vercel/next.js/v14.3.0",
            "docs/libraries/vercel_next.js_v14.3.0.md",
        ),
        ("/../../etc/passwd", "docs/libraries/etc_passwd.md"),
        ("/a b/ü", "docs/libraries/a_b.md"),
    ];
    for (id, file) in cases {
        assert_eq!(doc_file(id).unwrap(), file, "{id}");
    }
    assert!(doc_file("/./_/").is_err());
    assert!(context7::check_id("fastapi").is_err());
    assert!(context7::check_id("/").is_err());
    assert!(context7::check_id("/a /b").is_err());
    assert_eq!(context7::check_id(" /a/b ").unwrap(), "/a/b");
}

#[test]
fn the_endpoint_comes_from_the_input_else_the_config() {
    let config = Config {
        endpoint: Some("http://127.0.0.1:1/mcp".into()),
        ..Config::default()
    };
    assert_eq!(
        context7::endpoint(Some(URL), &config).unwrap().to_string(),
        URL
    );
    assert_eq!(
        context7::endpoint(None, &config).unwrap().host_port,
        "127.0.0.1:1"
    );
    let err = context7::endpoint(None, &Config::default()).unwrap_err();
    assert!(
        matches!(&err, taylordash_sdk::ToolError::InvalidInput(m) if m.contains("context7.json")),
        "{err}"
    );
    let err = context7::endpoint(Some("localhost:80"), &Config::default()).unwrap_err();
    assert!(
        matches!(&err, taylordash_sdk::ToolError::InvalidInput(m) if m.contains("not an http")),
        "{err}"
    );
    assert_eq!(context7::tokens(None, &Config::default()).unwrap(), 5000);
    assert_eq!(
        context7::tokens(
            None,
            &Config {
                tokens: Some(900),
                ..Config::default()
            }
        )
        .unwrap(),
        900
    );
    assert!(context7::tokens(Some(0), &Config::default()).is_err());
    assert!(context7::tokens(Some(100_001), &Config::default()).is_err());
}
