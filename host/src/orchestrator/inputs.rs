//! The run's inputs: the first stage's `inputs` (the seed's `snapshot`,
//! `backlog`, `failures`) come from files named after them in the workspace
//! (any extension), or from `--input NAME=FILE`; `snapshot` may be computed
//! from the workspace itself. A missing input is an error before anything runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// Inputs computed from the workspace when no file provides them.
const COMPUTED: [&str; 1] = ["snapshot"];

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("run input `{name}` is missing: put a file named `{name}.<ext>` in {workspace} or pass `--input {name}=FILE`")]
    Missing { name: String, workspace: PathBuf },
    #[error("--input {name}={path}: {message}")]
    Unreadable { name: String, path: PathBuf, message: String },
}

/// Resolve each name: a workspace-relative path (as a JSON string) or, for
/// `--input` files outside the workspace, the parsed content inline.
pub fn resolve(
    names: &[String],
    workspace: &Path,
    given: &[(String, PathBuf)],
) -> Result<BTreeMap<String, Value>, InputError> {
    let mut out = BTreeMap::new();
    for name in names {
        if let Some((_, path)) = given.iter().find(|(n, _)| n == name) {
            out.insert(name.clone(), read_inline(name, path)?);
        } else if let Some(rel) = find_in_workspace(workspace, name) {
            out.insert(name.clone(), Value::String(rel));
        } else if COMPUTED.contains(&name.as_str()) {
            out.insert(name.clone(), snapshot(workspace));
        } else {
            return Err(InputError::Missing { name: name.clone(), workspace: workspace.to_path_buf() });
        }
    }
    Ok(out)
}

/// The pipeline's `shared_context` names that the workspace holds as files
/// (`api_contracts.yaml`), for every tool's envelope; absent ones are not an
/// error: a stage may produce them.
pub fn shared_from_workspace(names: &[String], workspace: &Path) -> BTreeMap<String, Value> {
    names.iter().filter_map(|n| find_in_workspace(workspace, n).map(|rel| (n.clone(), Value::String(rel)))).collect()
}

fn find_in_workspace(workspace: &Path, name: &str) -> Option<String> {
    let mut found: Vec<String> = std::fs::read_dir(workspace)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f == name || Path::new(f).file_stem().is_some_and(|s| s == name))
        .collect();
    found.sort();
    found.into_iter().next()
}

fn read_inline(name: &str, path: &Path) -> Result<Value, InputError> {
    let bad = |message: String| InputError::Unreadable { name: name.into(), path: path.into(), message };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let yaml = matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"));
    if yaml {
        serde_yaml_ng::from_str(&text).map_err(|e| bad(format!("not YAML: {e}")))
    } else {
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e} (line {}, column {})", e.line(), e.column())))
    }
}

/// What exists: the workspace's files (relative paths, sorted, hidden skipped).
pub fn snapshot(workspace: &Path) -> Value {
    fn walk(root: &Path, rel: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(root.join(rel)) else { return };
        for e in entries.filter_map(|e| e.ok()) {
            let name = e.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let rel = rel.join(&name);
            match e.file_type() {
                Ok(t) if t.is_dir() => walk(root, &rel, out),
                Ok(t) if t.is_file() => out.push(rel.to_string_lossy().into_owned()),
                _ => {}
            }
        }
    }
    let mut files = Vec::new();
    walk(workspace, Path::new(""), &mut files);
    files.sort();
    json!({ "files": files })
}
