//! One MCP session over streamable HTTP: initialise, call tools, end.
//!
//! Every request is a `POST` of one JSON-RPC message with
//! `Accept: application/json, text/event-stream`; the answer is read as
//! JSON or as an event stream (the response is the message whose `id` is the
//! request's; notifications and requests the server interleaves are
//! skipped). After `initialize` the session id the server assigned
//! (`Mcp-Session-Id`) and the negotiated `MCP-Protocol-Version` go with every
//! request.

use serde_json::{Map, Value, json};

use http_client::{HttpRequest, HttpResponse, Net, NetError};

use crate::{Endpoint, MAX_BODY, McpError, one_line, sse};

/// The protocol revision the client asks for.
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// Revisions whose streamable HTTP transport this client speaks; a server
/// answering `initialize` with another is refused.
pub const SUPPORTED_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

/// How much of a server's text goes into an error message.
const EXCERPT: usize = 300;

/// The longest `Mcp-Session-Id` accepted.
const MAX_SESSION_ID: usize = 1024;

/// What `tools/call` returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolResult {
    /// The `text` of each `type: "text"` content item, in order.
    pub texts: Vec<String>,
    /// `isError`.
    pub is_error: bool,
    /// `structuredContent`, when the server sent it.
    pub structured: Option<Value>,
}

impl ToolResult {
    /// The text items joined by a blank line.
    pub fn text(&self) -> String {
        self.texts.join("\n\n")
    }
}

/// An initialised session with one server.
pub struct Session<'n> {
    net: &'n mut dyn Net,
    endpoint: Endpoint,
    session_id: Option<String>,
    protocol: String,
    next_id: u64,
    /// `serverInfo.name`, when given.
    pub server_name: Option<String>,
}

impl<'n> Session<'n> {
    /// Connect: `initialize` as `client` (name, version), check the
    /// negotiated revision, keep the session id, send
    /// `notifications/initialized`.
    pub fn open(
        net: &'n mut dyn Net,
        endpoint: Endpoint,
        client: (&str, &str),
    ) -> Result<Session<'n>, McpError> {
        let mut s = Session {
            net,
            endpoint,
            session_id: None,
            protocol: PROTOCOL_VERSION.to_string(),
            next_id: 1,
            server_name: None,
        };
        let params = json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": { "name": client.0, "version": client.1 },
        });
        let (result, response) = s.request_raw("initialize", params)?;
        if let Some(id) = response.header("mcp-session-id") {
            if id.is_empty()
                || id.len() > MAX_SESSION_ID
                || !id.bytes().all(|b| (0x21..=0x7e).contains(&b))
            {
                return Err(s.protocol_error(
                    "initialize",
                    "the Mcp-Session-Id header is not 1 to 1024 visible ASCII characters".into(),
                ));
            }
            s.session_id = Some(id.to_string());
        }
        let version = result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !SUPPORTED_VERSIONS.contains(&version) {
            return Err(s.protocol_error(
                "initialize",
                format!(
                    "the server speaks protocol revision `{}`, this client {}",
                    one_line(version, 40),
                    SUPPORTED_VERSIONS.join(", ")
                ),
            ));
        }
        s.protocol = version.to_string();
        s.server_name = result
            .pointer("/serverInfo/name")
            .and_then(Value::as_str)
            .map(|n| one_line(n, 100));
        s.notify("notifications/initialized")?;
        Ok(s)
    }

    /// The endpoint this session talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The server's session id, if it assigned one.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// `tools/call` of `name` with `arguments`. A result with `isError:
    /// true` is [`McpError::Tool`] carrying the tool's text.
    pub fn call_tool(&mut self, name: &str, arguments: Value) -> Result<ToolResult, McpError> {
        let method = format!("tools/call {name}");
        let (result, _) = self.request_raw(
            "tools/call",
            json!({ "name": name, "arguments": arguments }),
        )?;
        let result = tool_result(&result).map_err(|what| self.protocol_error(&method, what))?;
        if result.is_error {
            let text = result.text();
            let message = if text.trim().is_empty() {
                "no message".to_string()
            } else {
                one_line(&text, EXCERPT)
            };
            return Err(McpError::Tool {
                endpoint: self.endpoint.to_string(),
                tool: name.to_string(),
                message,
            });
        }
        Ok(result)
    }

    /// End the session (`DELETE` with the session id), best effort: a
    /// server may not support it, and the work is done either way.
    pub fn close(self) {
        let Some(id) = self.session_id.clone() else {
            return;
        };
        let req = HttpRequest {
            method: "DELETE",
            scheme: self.endpoint.scheme,
            authority: self.endpoint.authority.clone(),
            path: self.endpoint.path.clone(),
            headers: vec![
                ("mcp-session-id".into(), id),
                ("mcp-protocol-version".into(), self.protocol.clone()),
            ],
            body: Vec::new(),
        };
        let _ = self.net.send(&req);
    }

    fn headers(&self) -> Vec<(String, String)> {
        let mut h = vec![
            ("content-type".to_string(), "application/json".to_string()),
            (
                "accept".to_string(),
                "application/json, text/event-stream".to_string(),
            ),
        ];
        if let Some(id) = &self.session_id {
            h.push(("mcp-session-id".into(), id.clone()));
            h.push(("mcp-protocol-version".into(), self.protocol.clone()));
        }
        h
    }

    fn post(&mut self, method: &str, message: &Value) -> Result<HttpResponse, McpError> {
        let req = HttpRequest {
            method: "POST",
            scheme: self.endpoint.scheme,
            authority: self.endpoint.authority.clone(),
            path: self.endpoint.path.clone(),
            headers: self.headers(),
            body: message.to_string().into_bytes(),
        };
        let endpoint = self.endpoint.to_string();
        let response = self.net.send(&req).map_err(|e| match e {
            NetError::Transient(cause) => McpError::Unreachable {
                endpoint,
                cause: one_line(&cause, EXCERPT),
            },
            NetError::Denied(cause) => McpError::Denied {
                endpoint,
                host_port: self.endpoint.host_port.clone(),
                cause: one_line(&cause, EXCERPT),
            },
            NetError::Failed(cause) => McpError::Transport {
                endpoint,
                method: method.to_string(),
                cause: one_line(&cause, EXCERPT),
            },
        })?;
        if response.body.len() > MAX_BODY {
            return Err(McpError::TooLarge {
                endpoint: self.endpoint.to_string(),
                method: method.to_string(),
                limit: MAX_BODY,
            });
        }
        if response.status >= 400 {
            return Err(McpError::Status {
                endpoint: self.endpoint.to_string(),
                method: method.to_string(),
                status: response.status,
                detail: status_detail(&response),
            });
        }
        Ok(response)
    }

    /// Send a notification; the server answers 202 (any 2xx is taken).
    fn notify(&mut self, method: &str) -> Result<(), McpError> {
        let message = json!({ "jsonrpc": "2.0", "method": method });
        self.post(method, &message).map(|_| ())
    }

    /// Send request `method` and return its `result` and the HTTP response.
    fn request_raw(
        &mut self,
        method: &str,
        params: Value,
    ) -> Result<(Value, HttpResponse), McpError> {
        let id = self.next_id;
        self.next_id += 1;
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let response = self.post(method, &message)?;
        let reply =
            find_response(&response, id).map_err(|what| self.protocol_error(method, what))?;
        if let Some(error) = reply.get("error") {
            let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .map(|m| one_line(m, EXCERPT))
                .unwrap_or_else(|| "no message".into());
            return Err(McpError::Rpc {
                endpoint: self.endpoint.to_string(),
                method: method.to_string(),
                code,
                message,
            });
        }
        match reply.get("result") {
            Some(result) if result.is_object() => Ok((result.clone(), response)),
            _ => Err(self.protocol_error(
                method,
                "the response has neither a `result` object nor an `error`".into(),
            )),
        }
    }

    fn protocol_error(&self, method: &str, what: String) -> McpError {
        McpError::Protocol {
            endpoint: self.endpoint.to_string(),
            method: method.to_string(),
            what,
        }
    }
}

/// ` (…what the body says…)` for an error status: a JSON-RPC error's
/// message, else the start of the body.
fn status_detail(response: &HttpResponse) -> String {
    let text = String::from_utf8_lossy(&response.body);
    let said = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| text.into_owned());
    let said = one_line(&said, EXCERPT);
    if said.is_empty() {
        String::new()
    } else {
        format!(" ({said})")
    }
}

/// The JSON-RPC message answering request `id` in `response`'s body.
pub fn find_response(response: &HttpResponse, id: u64) -> Result<Value, String> {
    let content_type = response
        .header("content-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let text = std::str::from_utf8(&response.body)
        .map_err(|_| "the response body is not UTF-8".to_string())?;
    let messages: Vec<Value> = match media.as_str() {
        "text/event-stream" => {
            let mut out = Vec::new();
            for data in sse::data_events(text) {
                match serde_json::from_str::<Value>(&data) {
                    Ok(Value::Array(batch)) => out.extend(batch),
                    Ok(v) => out.push(v),
                    // An event that is not JSON is not a JSON-RPC message.
                    Err(_) => {}
                }
            }
            out
        }
        "application/json" => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(batch)) => batch,
            Ok(v) => vec![v],
            Err(e) => return Err(format!("the JSON response is not JSON: {e}")),
        },
        "" if response.body.is_empty() => {
            return Err(format!(
                "HTTP {} with an empty body, no response",
                response.status
            ));
        }
        other => return Err(format!("unexpected Content-Type `{}`", one_line(other, 80))),
    };
    messages
        .into_iter()
        .find(|m| is_response_to(m, id))
        .ok_or_else(|| format!("no JSON-RPC response with id {id} in the answer"))
}

fn is_response_to(message: &Value, id: u64) -> bool {
    let Some(obj) = message.as_object() else {
        return false;
    };
    let same_id = match obj.get("id") {
        Some(Value::Number(n)) => n.as_u64() == Some(id),
        Some(Value::String(s)) => s.parse::<u64>().ok() == Some(id),
        _ => false,
    };
    same_id && (obj.contains_key("result") || obj.contains_key("error"))
}

/// A `tools/call` result: `content` (text items kept), `isError`,
/// `structuredContent`.
pub fn tool_result(result: &Value) -> Result<ToolResult, String> {
    let empty = Map::new();
    let obj = result.as_object().unwrap_or(&empty);
    let content = match obj.get("content") {
        Some(Value::Array(items)) => items.as_slice(),
        Some(_) => return Err("`content` is not a list".into()),
        None => &[],
    };
    let texts = content
        .iter()
        .filter(|item| item.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|item| item.get("text").and_then(Value::as_str).map(str::to_string))
        .collect();
    let is_error = match obj.get("isError") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("`isError` is not a boolean".into()),
    };
    Ok(ToolResult {
        texts,
        is_error,
        structured: obj.get("structuredContent").cloned(),
    })
}
