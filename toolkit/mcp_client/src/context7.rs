//! The Context7 documentation service as the context7 tools use it: its two
//! MCP tools and their arguments, the workspace's `context7.json`, the text
//! `resolve-library-id` answers with, the resolved libraries handed from
//! `context7_resolve_library` to `context7_get_docs` (its output, and
//! `research/libraries.json`), and where fetched docs are written.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use taylordash_sdk::ToolError;

use crate::{Endpoint, one_line};

/// The workspace file naming the endpoint (and defaults for the tools).
pub const CONFIG_FILE: &str = "context7.json";
/// What `context7_resolve_library` writes and `context7_get_docs` reads.
pub const LIBRARIES_FILE: &str = "research/libraries.json";
/// Where `context7_get_docs` writes one Markdown file per library.
pub const DOCS_DIR: &str = "docs/libraries";
/// The server's tool mapping a library name to Context7 ids.
pub const RESOLVE_TOOL: &str = "resolve-library-id";
/// The server's tool returning a library's documentation.
pub const DOCS_TOOL: &str = "get-library-docs";
/// `tokens` when neither the input nor `context7.json` gives it.
pub const DEFAULT_TOKENS: u32 = 5000;
/// The most `tokens` one request may ask for.
pub const MAX_TOKENS: u32 = 100_000;
/// The most libraries one call resolves or fetches.
pub const MAX_LIBRARIES: usize = 32;
/// The longest library name or id accepted.
const MAX_NAME: usize = 200;
/// Matches kept from one `resolve-library-id` answer.
const MAX_MATCHES: usize = 50;

/// `context7.json` in the workspace: `{"endpoint": "http://127.0.0.1:8080/mcp"}`,
/// optionally with the libraries to resolve, a docs topic and a token budget
/// (each used only when the tool's input leaves it out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub libraries: Option<Vec<String>>,
    #[serde(default)]
    pub topic: Option<String>,
    #[serde(default)]
    pub tokens: Option<u32>,
}

impl Config {
    /// `context7.json` in the sandbox's workspace; empty when there is none.
    pub fn load() -> Result<Config, ToolError> {
        Config::load_from(&taylordash_sdk::workspace_dir())
    }

    /// `context7.json` in `dir`; empty when there is none.
    pub fn load_from(dir: &Path) -> Result<Config, ToolError> {
        let text = match std::fs::read(dir.join(CONFIG_FILE)) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => {
                return Err(ToolError::InvalidInput(format!(
                    "{CONFIG_FILE}: cannot read it: {e}"
                )));
            }
        };
        serde_json::from_slice(&text)
            .map_err(|e| ToolError::InvalidInput(format!("{CONFIG_FILE}: {e}")))
    }
}

/// The endpoint: the input's, else `context7.json`'s; neither is an
/// [`ToolError::InvalidInput`] saying where to put one.
pub fn endpoint(input: Option<&str>, config: &Config) -> Result<Endpoint, ToolError> {
    let url = input.or(config.endpoint.as_deref()).ok_or_else(|| {
        ToolError::InvalidInput(format!(
            "no MCP endpoint: pass `endpoint` (e.g. \"http://127.0.0.1:8080/mcp\") or put {{\"endpoint\": \"…\"}} in {CONFIG_FILE} in the workspace"
        ))
    })?;
    Ok(Endpoint::parse(url)?)
}

/// The token budget: the input's, else `context7.json`'s, else
/// [`DEFAULT_TOKENS`]; from 1 to [`MAX_TOKENS`].
pub fn tokens(input: Option<u32>, config: &Config) -> Result<u32, ToolError> {
    let tokens = input.or(config.tokens).unwrap_or(DEFAULT_TOKENS);
    if tokens == 0 || tokens > MAX_TOKENS {
        return Err(ToolError::InvalidInput(format!(
            "tokens: {tokens} is not from 1 to {MAX_TOKENS}"
        )));
    }
    Ok(tokens)
}

/// A library name to resolve: trimmed, 1 to 200 characters, no control
/// characters.
pub fn check_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("a library name is empty".into());
    }
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(format!(
            "library name `{}` is longer than {MAX_NAME} characters or has control characters",
            one_line(name, 60)
        ));
    }
    Ok(name.to_string())
}

/// A Context7-compatible library id: `/org/project[/version]`, up to 200
/// characters, no whitespace or control characters.
pub fn check_id(id: &str) -> Result<String, String> {
    let id = id.trim();
    let shown = one_line(id, 60);
    if !id.starts_with('/') || id.trim_matches('/').is_empty() {
        return Err(format!(
            "library id `{shown}` is not of the form /org/project"
        ));
    }
    if id.chars().count() > MAX_NAME || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "library id `{shown}` is longer than {MAX_NAME} characters or has whitespace"
        ));
    }
    Ok(id.to_string())
}

/// One library as `resolve-library-id` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
}

/// The libraries in `resolve-library-id`'s text, best first. Context7
/// answers with blocks such as
///
/// ```text
/// - Title: FastAPI
/// - Context7-compatible library ID: /tiangolo/fastapi
/// - Description: FastAPI framework, high performance
/// ```
///
/// separated by `----------`; a block without a valid id is skipped (as is
/// the answer's preamble), a block without a title takes its id as title.
pub fn parse_matches(text: &str) -> Vec<Match> {
    let mut out: Vec<Match> = Vec::new();
    let mut title: Option<String> = None;
    let mut id: Option<String> = None;
    let mut description: Option<String> = None;
    let mut flush =
        |title: &mut Option<String>, id: &mut Option<String>, description: &mut Option<String>| {
            if let Some(found) = id.take().and_then(|i| check_id(&i).ok())
                && out.len() < MAX_MATCHES
                && !out.iter().any(|m| m.id == found)
            {
                let title = title.take().unwrap_or_else(|| found.clone());
                out.push(Match {
                    id: found,
                    title,
                    description: description.take(),
                });
            }
            *title = None;
            *description = None;
        };
    for line in text.lines() {
        let line = line.trim();
        let field = line.strip_prefix("- ").unwrap_or(line);
        if line.starts_with("---") {
            flush(&mut title, &mut id, &mut description);
        } else if let Some(v) = field.strip_prefix("Title:") {
            // A title opens a block: what came before it is another's.
            flush(&mut title, &mut id, &mut description);
            title = Some(one_line(v, MAX_NAME));
        } else if let Some(v) = field.strip_prefix("Context7-compatible library ID:") {
            id = Some(v.trim().to_string());
        } else if let Some(v) = field.strip_prefix("Description:") {
            description = Some(one_line(v, 500)).filter(|d| !d.is_empty());
        }
    }
    flush(&mut title, &mut id, &mut description);
    out
}

/// A library name and the Context7 id it resolved to: an item of
/// `context7_resolve_library`'s output and of `research/libraries.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResolvedLibrary {
    /// The name asked for (`fastapi`).
    pub library: String,
    /// The best match's Context7-compatible id (`/tiangolo/fastapi`).
    pub id: String,
    /// The best match's title.
    pub title: String,
    /// The best match's description, when the server gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The ids of the other matches, best first (at most five).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<String>,
}

/// `research/libraries.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LibrariesFile {
    /// The endpoint the ids were resolved at.
    pub endpoint: String,
    pub libraries: Vec<ResolvedLibrary>,
}

/// The library ids in a previous `context7_resolve_library` output (or a
/// `research/libraries.json`): `libraries[].id`; empty when `value` is not
/// of that shape.
pub fn ids_in(value: &Value) -> Vec<String> {
    value
        .get("libraries")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("id").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Where the docs of library `id` are written, relative to `/out` and the
/// workspace: `docs/libraries/<id>.md`, the id's slashes turned to `_` and
/// trimmed (`/tiangolo/fastapi` → `docs/libraries/tiangolo_fastapi.md`);
/// any character but ASCII letters, digits, `.`, `-` and `_` becomes `_`,
/// leading and trailing `.` and `_` are dropped.
pub fn doc_file(id: &str) -> Result<String, String> {
    let name: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = name.trim_matches(|c| c == '_' || c == '.');
    if name.is_empty() {
        return Err(format!(
            "library id `{}` leaves no file name",
            one_line(id, 60)
        ));
    }
    Ok(format!("{DOCS_DIR}/{name}.md"))
}
