//! `mcp_client`: the Model Context Protocol client the context7 tools share.
//!
//! A plugin is an MCP *client* over the protocol's streamable HTTP transport
//! (revision 2025-11-25), through the sandbox's granted `wasi:http`
//! ([`http_client`]): every exchange is one `POST` of a JSON-RPC message to
//! the endpoint, answered as `application/json` or as a `text/event-stream`
//! whose `data:` lines carry the messages ([`sse`]). A [`Session`]
//! initialises (`initialize`, then `notifications/initialized`), keeps the
//! server's `Mcp-Session-Id`, calls tools (`tools/call`) and ends the session
//! (`DELETE`).
//!
//! Everything the server sends is untrusted: bodies are bounded
//! ([`MAX_BODY`]), parsed without panicking, and every failure is an
//! [`McpError`] whose one-line message names the endpoint and the cause,
//! retryable when the server could not be reached or answered 5xx.
//!
//! [`context7`] holds what is specific to the Context7 service: its tools
//! and their arguments, `context7.json` in the workspace, the text format of
//! `resolve-library-id` and where fetched docs are written.
//!
//! A library, not a plugin: it lives under `toolkit/`. Natively there is no
//! network; [`testing::FakeServer`] answers as a server would.

pub mod context7;
pub mod endpoint;
mod error;
pub mod session;
pub mod sse;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use endpoint::Endpoint;
pub use error::McpError;
pub use http_client::{self, Net};
pub use session::{PROTOCOL_VERSION, Session, ToolResult};

/// The largest response body accepted (a longer one is refused, never cut).
pub const MAX_BODY: usize = 8 << 20;

/// The sandbox's `wasi:http`, reading one byte past [`MAX_BODY`] so that an
/// oversized response is recognised and refused.
pub fn sandbox_net() -> http_client::Bounded {
    http_client::Bounded(MAX_BODY + 1)
}

/// `text` on one line, at most `max` characters: what a server said, fit
/// for an error message.
pub fn one_line(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
    let out: String = out.chars().filter(|c| !c.is_control()).collect();
    if out.chars().count() > max {
        let cut: String = out.chars().take(max).collect();
        format!("{cut}…")
    } else {
        out
    }
}

#[cfg(test)]
mod tests;
