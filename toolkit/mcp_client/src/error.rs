//! [`McpError`]: why an MCP exchange failed, in one line naming the endpoint,
//! and whether trying again may help.

use taylordash_sdk::ToolError;

/// Why an MCP exchange failed. Every message is one line and names the
/// endpoint; what the server said is cut to a few hundred characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum McpError {
    /// The endpoint is not a usable URL (a configuration mistake).
    #[error("MCP endpoint `{endpoint}`: {why}")]
    BadEndpoint { endpoint: String, why: String },
    /// No connection: refused, reset, DNS, timeout.
    #[error("MCP server {endpoint} unreachable: {cause}")]
    Unreachable { endpoint: String, cause: String },
    /// The sandbox refused the request: the plugin is not granted the endpoint.
    #[error(
        "MCP server {endpoint}: the sandbox refused the request ({cause}); grant the plugin `http: [\"{host_port}\"]` in policy.yaml"
    )]
    Denied {
        endpoint: String,
        host_port: String,
        cause: String,
    },
    /// Any other transport failure (TLS, a malformed request).
    #[error("MCP server {endpoint}: {method}: {cause}")]
    Transport {
        endpoint: String,
        method: String,
        cause: String,
    },
    /// The server answered with an HTTP error status.
    #[error("MCP server {endpoint}: {method}: HTTP {status}{detail}")]
    Status {
        endpoint: String,
        method: String,
        status: u16,
        detail: String,
    },
    /// A JSON-RPC error response.
    #[error("MCP server {endpoint}: {method}: JSON-RPC error {code}: {message}")]
    Rpc {
        endpoint: String,
        method: String,
        code: i64,
        message: String,
    },
    /// `tools/call` answered with `isError: true`.
    #[error("MCP server {endpoint}: tool `{tool}` failed: {message}")]
    Tool {
        endpoint: String,
        tool: String,
        message: String,
    },
    /// The answer does not follow the protocol.
    #[error("MCP server {endpoint}: {method}: {what}")]
    Protocol {
        endpoint: String,
        method: String,
        what: String,
    },
    /// The answer is larger than [`crate::MAX_BODY`].
    #[error("MCP server {endpoint}: {method}: the response exceeds {limit} bytes")]
    TooLarge {
        endpoint: String,
        method: String,
        limit: usize,
    },
}

impl McpError {
    /// Whether the same call may succeed later: an unreachable server or a 5xx.
    pub fn retryable(&self) -> bool {
        match self {
            McpError::Unreachable { .. } => true,
            McpError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

impl From<McpError> for ToolError {
    fn from(e: McpError) -> ToolError {
        match e {
            McpError::BadEndpoint { .. } => ToolError::InvalidInput(e.to_string()),
            _ if e.retryable() => ToolError::Retryable(e.to_string()),
            _ => ToolError::Failed(e.to_string()),
        }
    }
}
