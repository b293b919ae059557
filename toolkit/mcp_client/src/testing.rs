//! A stand-in MCP server for native tests: a [`Net`] that answers the
//! streamable HTTP transport as a server would (as JSON or as an event
//! stream), with tools given as closures, and records every request.
//! [`FakeServer::context7`] serves Context7's two tools over a small corpus.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use http_client::{HttpRequest, HttpResponse, Net, NetError};

use crate::context7::{DOCS_TOOL, RESOLVE_TOOL};

type Handler = Box<dyn FnMut(&Value) -> Value>;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub http_method: &'static str,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// The JSON-RPC message (`Null` for a body-less request).
    pub message: Value,
}

impl Seen {
    /// The JSON-RPC method, or the HTTP method when there is none.
    pub fn method(&self) -> &str {
        self.message
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or(self.http_method)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The server: tools by name, how it answers, what it saw.
pub struct FakeServer {
    tools: BTreeMap<String, Handler>,
    /// Answer as `text/event-stream` (with a notification before the
    /// response) instead of `application/json`.
    pub sse: bool,
    /// The session id assigned by `initialize`; `None`: stateless.
    pub session_id: Option<String>,
    /// The revision `initialize` answers with.
    pub protocol: String,
    /// Every exchange fails this way before reaching the server.
    pub refuse: Option<NetError>,
    /// Every exchange is answered with this status and body.
    pub status: Option<(u16, String)>,
    /// Every request received.
    pub seen: Vec<Seen>,
}

impl Default for FakeServer {
    fn default() -> Self {
        FakeServer {
            tools: BTreeMap::new(),
            sse: true,
            session_id: Some("fake-session-1".into()),
            protocol: crate::PROTOCOL_VERSION.into(),
            refuse: None,
            status: None,
            seen: Vec::new(),
        }
    }
}

/// A tool result with one text item.
pub fn text_result(text: &str, is_error: bool) -> Value {
    json!({ "content": [{ "type": "text", "text": text }], "isError": is_error })
}

impl FakeServer {
    /// Serve tool `name`: `handler` maps the call's `arguments` to the
    /// `tools/call` result object.
    pub fn tool(mut self, name: &str, handler: impl FnMut(&Value) -> Value + 'static) -> Self {
        self.tools.insert(name.to_string(), Box::new(handler));
        self
    }

    /// Context7's `resolve-library-id` and `get-library-docs` over
    /// `(id, title, docs)`: a name resolves to every library whose id or
    /// title contains it (case-insensitive); docs of an unknown id are an
    /// `isError` result.
    pub fn context7(corpus: &[(&str, &str, &str)]) -> Self {
        let libs: Vec<(String, String, String)> = corpus
            .iter()
            .map(|(i, t, d)| (i.to_string(), t.to_string(), d.to_string()))
            .collect();
        let for_docs = libs.clone();
        FakeServer::default()
            .tool(RESOLVE_TOOL, move |args| {
                let name = args.get("libraryName").and_then(Value::as_str).unwrap_or_default().to_lowercase();
                let blocks: Vec<String> = libs
                    .iter()
                    .filter(|(id, title, _)| !name.is_empty() && (id.to_lowercase().contains(&name) || title.to_lowercase().contains(&name)))
                    .map(|(id, title, _)| format!("- Title: {title}\n- Context7-compatible library ID: {id}\n- Description: {title} docs"))
                    .collect();
                if blocks.is_empty() {
                    return text_result(&format!("No libraries found matching \"{name}\"."), false);
                }
                let text = format!(
                    "Available Libraries (top matches):\n\nEach result includes:\n- Library ID: Context7-compatible identifier (format: /org/project)\n- Description: Short summary\n\n----------\n\n{}",
                    blocks.join("\n----------\n")
                );
                text_result(&text, false)
            })
            .tool(DOCS_TOOL, move |args| {
                let id = args.get("context7CompatibleLibraryID").and_then(Value::as_str).unwrap_or_default();
                match for_docs.iter().find(|(i, _, _)| i == id) {
                    Some((_, _, docs)) => {
                        let topic = args.get("topic").and_then(Value::as_str).unwrap_or("");
                        text_result(&format!("{docs}\n\n(topic: {topic}; tokens: {})", args["tokens"]), false)
                    }
                    None => text_result(&format!("Library {id} not found"), true),
                }
            })
    }

    /// Fail every exchange with `e` before it reaches the server.
    pub fn refusing(mut self, e: NetError) -> Self {
        self.refuse = Some(e);
        self
    }

    /// Answer every exchange with `status` and `body`.
    pub fn answering(mut self, status: u16, body: &str) -> Self {
        self.status = Some((status, body.to_string()));
        self
    }

    /// The JSON-RPC methods seen, in order (`DELETE` for a session's end).
    pub fn methods(&self) -> Vec<String> {
        self.seen.iter().map(|s| s.method().to_string()).collect()
    }

    fn answer(&self, message: Value, session: bool) -> HttpResponse {
        let mut headers = Vec::new();
        if session && let Some(id) = &self.session_id {
            headers.push(("mcp-session-id".to_string(), id.clone()));
        }
        if self.sse {
            headers.push(("content-type".into(), "text/event-stream".into()));
            let note = json!({ "jsonrpc": "2.0", "method": "notifications/message", "params": { "level": "info", "data": "working" } });
            let body = format!(
                ": keep-alive\r\n\r\nevent: message\r\ndata: {note}\r\n\r\nevent: message\r\nid: 7\r\ndata: {message}\r\n\r\n"
            );
            HttpResponse {
                status: 200,
                headers,
                body: body.into_bytes(),
            }
        } else {
            headers.push(("content-type".into(), "application/json".into()));
            HttpResponse {
                status: 200,
                headers,
                body: message.to_string().into_bytes(),
            }
        }
    }

    fn handle(&mut self, message: &Value, req: &HttpRequest) -> HttpResponse {
        let method = message
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let id = message.get("id").cloned();
        let session = req
            .headers
            .iter()
            .find(|(k, _)| k == "mcp-session-id")
            .map(|(_, v)| v.clone());
        if method != "initialize" && self.session_id.is_some() && session != self.session_id {
            return HttpResponse {
                status: 404,
                headers: Vec::new(),
                body: b"session not found".to_vec(),
            };
        }
        let Some(id) = id else {
            return HttpResponse {
                status: 202,
                headers: Vec::new(),
                body: Vec::new(),
            };
        };
        let reply = |result: Value| json!({ "jsonrpc": "2.0", "id": id, "result": result });
        match method.as_str() {
            "initialize" => {
                let result = json!({
                    "protocolVersion": self.protocol,
                    "capabilities": { "tools": {} },
                    "serverInfo": { "name": "fake-context7", "version": "0" },
                });
                self.answer(reply(result), true)
            }
            "tools/call" => {
                let name = message
                    .pointer("/params/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let args = message
                    .pointer("/params/arguments")
                    .cloned()
                    .unwrap_or(Value::Null);
                match self.tools.get_mut(&name) {
                    Some(handler) => {
                        let result = handler(&args);
                        self.answer(reply(result), false)
                    }
                    None => {
                        let error = json!({ "jsonrpc": "2.0", "id": id, "error": { "code": -32602, "message": format!("Unknown tool: {name}") } });
                        self.answer(error, false)
                    }
                }
            }
            other => {
                let error = json!({ "jsonrpc": "2.0", "id": id, "error": { "code": -32601, "message": format!("Method not found: {other}") } });
                self.answer(error, false)
            }
        }
    }
}

impl Net for FakeServer {
    fn now_unix(&self) -> Result<u64, String> {
        Ok(1_700_000_000)
    }

    fn send(&mut self, req: &HttpRequest) -> Result<HttpResponse, NetError> {
        if let Some(e) = &self.refuse {
            return Err(e.clone());
        }
        let message = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        self.seen.push(Seen {
            http_method: req.method,
            path: req.path.clone(),
            headers: req.headers.clone(),
            message: message.clone(),
        });
        if let Some((status, body)) = &self.status {
            return Ok(HttpResponse {
                status: *status,
                headers: Vec::new(),
                body: body.clone().into_bytes(),
            });
        }
        if req.method == "DELETE" {
            return Ok(HttpResponse {
                status: 200,
                headers: Vec::new(),
                body: Vec::new(),
            });
        }
        Ok(self.handle(&message, req))
    }
}
