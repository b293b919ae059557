//! An MCP endpoint URL (`http://127.0.0.1:8080/mcp`): scheme, authority
//! and path, as the sandbox's `wasi:http` takes them.

use crate::McpError;

/// A parsed `http://` or `https://` URL with an explicit or default port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// `host[:port]` as written (the request's authority).
    pub authority: String,
    /// `host:port` with the scheme's default port filled in: what a
    /// policy's `http` grant must name.
    pub host_port: String,
    /// The path and query, `/` when the URL has none.
    pub path: String,
}

/// The longest endpoint URL accepted.
const MAX_URL: usize = 2048;

impl Endpoint {
    /// Parse `url`; no userinfo, no fragment, no whitespace.
    pub fn parse(url: &str) -> Result<Endpoint, McpError> {
        let bad = |why: &str| McpError::BadEndpoint {
            endpoint: crate::one_line(url, 200),
            why: why.to_string(),
        };
        if url.len() > MAX_URL {
            return Err(bad("longer than 2048 bytes"));
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("it contains whitespace or control characters"));
        }
        let (scheme, default_port, rest) = if let Some(rest) = url.strip_prefix("http://") {
            ("http", 80, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            ("https", 443, rest)
        } else {
            return Err(bad("not an http:// or https:// URL"));
        };
        if url.contains('#') {
            return Err(bad("a fragment (#…) has no meaning here"));
        }
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(bad("the host is missing"));
        }
        if authority.contains('@') {
            return Err(bad("credentials in the URL are not supported"));
        }
        let (host, port) = split_host_port(authority)
            .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?;
        if host.is_empty() {
            return Err(bad("the host is missing"));
        }
        let port = port.unwrap_or(default_port);
        let path = if path.is_empty() {
            "/".to_string()
        } else if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        Ok(Endpoint {
            scheme,
            authority: authority.to_string(),
            host_port: format!("{}:{port}", host.to_ascii_lowercase()),
            path,
        })
    }
}

/// `host` and the port if one is written; `None` when the port is not a
/// number in range. IPv6 literals keep their brackets.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        match rest.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if rest.is_empty() => (host, None),
            None => return None,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    match port {
        None => Some((host, None)),
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some((host, Some(n))),
            _ => None,
        },
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.path)
    }
}
