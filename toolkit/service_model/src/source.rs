//! Reading inputs (inline values or workspace files, JSON or YAML) and
//! writing outputs, with errors that name the file and the field.

use std::path::{Component, Path};

use serde::de::DeserializeOwned;
use serde_json::Value;
use taylordash_sdk::ToolError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

pub fn format_of(path: &str) -> Option<Format> {
    let ext = Path::new(path).extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "json" => Some(Format::Json),
        "yaml" | "yml" => Some(Format::Yaml),
        _ => None,
    }
}

/// Is `path` relative and inside the workspace (no `..`, no root)?
pub fn is_inside(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Read a workspace file as text; `key` names the input in errors.
pub fn read_workspace(key: &str, path: &str) -> Result<String, ToolError> {
    if !is_inside(path) {
        return Err(ToolError::InvalidInput(format!(
            "{key}: `{path}` must be a relative path inside the workspace"
        )));
    }
    std::fs::read_to_string(taylordash_sdk::workspace_dir().join(path)).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file in the workspace".to_string(),
            std::io::ErrorKind::InvalidData => "not UTF-8 text".to_string(),
            _ => e.to_string(),
        };
        ToolError::InvalidInput(format!("{key}: cannot read `{path}`: {why}"))
    })
}

/// Does the workspace hold this file?
pub fn exists(path: &str) -> bool {
    is_inside(path) && taylordash_sdk::workspace_dir().join(path).is_file()
}

/// Decode `text` (named `name` in errors) into `T`; errors carry
/// `name:line:col: field.path: message`.
pub fn decode<T: DeserializeOwned>(name: &str, format: Format, text: &str) -> Result<T, String> {
    match format {
        Format::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let parsed = serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let (line, column) = (inner.line(), inner.column());
                let message = strip_location(&inner.to_string(), line, column);
                with_path(&format!("{name}:{line}:{column}"), &path, &message)
            })?;
            de.end().map_err(|e| {
                format!("{name}:{}:{}: trailing characters after the document", e.line(), e.column())
            })?;
            Ok(parsed)
        }
        Format::Yaml => serde_yaml_ng::from_str(text).map_err(|e| match e.location() {
            Some(loc) => {
                let (line, column) = (loc.line(), loc.column());
                format!("{name}:{line}:{column}: {}", strip_location(&e.to_string(), line, column))
            }
            None => format!("{name}: {e}"),
        }),
    }
}

/// A JSON or YAML file of the workspace as a `Value` (by extension; other
/// extensions are tried as JSON).
pub fn read_value(path: &str) -> Result<Value, String> {
    let text = read_workspace("file", path).map_err(|e| match e {
        ToolError::InvalidInput(m) | ToolError::Failed(m) | ToolError::Retryable(m) => {
            m.trim_start_matches("file: ").to_string()
        }
    })?;
    decode(path, format_of(path).unwrap_or(Format::Json), &text)
}

/// Load input `key`: an inline object, or a workspace-relative JSON/YAML file.
/// Returns the value and the name messages use for it (the path, or the key).
pub fn load<T: DeserializeOwned>(key: &str, source: &Value) -> Result<(T, String), ToolError> {
    match source {
        Value::String(path) => {
            let format = format_of(path).ok_or_else(|| {
                ToolError::InvalidInput(format!("{key}: `{path}` is neither .json nor .yaml/.yml"))
            })?;
            let text = read_workspace(key, path)?;
            let parsed = decode(path, format, &text).map_err(ToolError::InvalidInput)?;
            Ok((parsed, path.clone()))
        }
        Value::Object(_) => {
            let parsed = serde_path_to_error::deserialize(source.clone()).map_err(|e| {
                ToolError::InvalidInput(with_path(key, &e.path().to_string(), &e.inner().to_string()))
            })?;
            Ok((parsed, key.to_string()))
        }
        other => Err(ToolError::InvalidInput(format!(
            "{key}: expected a workspace-relative file path or an inline object, got {}",
            kind(other)
        ))),
    }
}

fn with_path(prefix: &str, path: &str, message: &str) -> String {
    if path == "." || path.is_empty() {
        format!("{prefix}: {message}")
    } else {
        format!("{prefix}: {path}: {message}")
    }
}

/// Drop ` at line L column C` from a parser message: the location goes in front.
fn strip_location(message: &str, line: usize, column: usize) -> String {
    message.replacen(&format!(" at line {line} column {column}"), "", 1)
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Files under `dir` of the workspace (recursively, sorted, hidden entries
/// and `__pycache__`/`site`/virtualenvs skipped) whose name ends with one of
/// `suffixes` (all files if empty). Paths are workspace-relative with `/`.
pub fn list_files(dir: &str, suffixes: &[&str]) -> Vec<String> {
    fn walk(root: &Path, rel: &str, suffixes: &[&str], out: &mut Vec<String>, depth: usize) {
        if depth > 32 {
            return;
        }
        let Ok(entries) = std::fs::read_dir(root.join(rel)) else { return };
        let mut names: Vec<(String, bool)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let is_dir = e.file_type().ok()?.is_dir();
                Some((name, is_dir))
            })
            .collect();
        names.sort();
        for (name, is_dir) in names {
            if name.starts_with('.') || (is_dir && SKIPPED_DIRS.contains(&name.as_str())) {
                continue;
            }
            let child = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            if is_dir {
                walk(root, &child, suffixes, out, depth + 1);
            } else if suffixes.is_empty() || suffixes.iter().any(|s| name.ends_with(s)) {
                out.push(child);
            }
        }
    }
    let mut out = Vec::new();
    let root = taylordash_sdk::workspace_dir();
    let start = dir.trim_end_matches('/');
    if start.is_empty() || is_inside(start) {
        walk(&root, start, suffixes, &mut out, 0);
    }
    out
}

/// Directories no tool looks into: caches, builds, virtualenvs.
pub const SKIPPED_DIRS: [&str; 7] = ["__pycache__", "node_modules", "site", "target", "venv", "env", "htmlcov"];

/// Files a tool writes into its out dir, remembered in order for its output JSON.
#[derive(Debug, Default)]
pub struct Out {
    pub files: Vec<String>,
}

impl Out {
    pub fn new() -> Out {
        Out::default()
    }

    /// Write `rel` (parents created) into the out dir.
    pub fn write(&mut self, rel: &str, contents: &str) -> Result<(), ToolError> {
        if !is_inside(rel) {
            return Err(ToolError::Failed(format!("refusing to write `{rel}` outside the out dir")));
        }
        let path = taylordash_sdk::out_dir().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| ToolError::Failed(format!("cannot create the directory of {rel} in the out dir: {e}")))?;
        }
        std::fs::write(&path, contents)
            .map_err(|e| ToolError::Failed(format!("cannot write {rel} into the out dir: {e}")))?;
        self.files.push(rel.to_string());
        Ok(())
    }
}
